//! Round-robin assignment: fair over 1,000 tickets and 5 agents while agents
//! go offline and come back; urgent first; queued work handed out when someone
//! becomes available; shifts respected; every choice recorded with a reason.

use std::collections::BTreeMap;

use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    round_robin_is_fair_over_a_thousand_tickets,
    queued_tickets_go_to_the_next_available_agent_urgent_first,
);

/// A department with `n` CS agents; returns (department id, [(user id, token)]).
async fn team(app: &TestApp, admin: &str, name: &str, n: usize) -> (String, Vec<(String, String)>) {
    let dept = app
        .post("/api/v1/departments", admin, json!({ "name": name }))
        .await;
    let dept = dept.body["id"].as_str().unwrap().to_owned();
    let mut agents = Vec::new();
    for i in 0..n {
        let email = format!(
            "agent{i}@{}.example.com",
            name.to_lowercase().replace(' ', "-")
        );
        let created = app
            .post(
                "/api/v1/users",
                admin,
                json!({
                    "email": email, "name": format!("Agent {i}"), "role": "cs",
                    "password": "password-1", "department_ids": [dept],
                }),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let token = app.login(&email, "password-1").await;
        agents.push((created.body["id"].as_str().unwrap().to_owned(), token));
    }
    (dept, agents)
}

async fn open_ticket(
    app: &TestApp,
    token: &str,
    dept: &str,
    customer: &str,
    priority: &str,
) -> serde_json::Value {
    let r = app
        .post(
            "/api/v1/tickets",
            token,
            json!({
                "subject": "Gangguan", "category": "technical", "priority": priority,
                "department_id": dept, "customer_id": customer,
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

async fn round_robin_is_fair_over_a_thousand_tickets(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let customer = fieldops_tests::fixtures::customer_ids(&app, &admin).await[0]
        .0
        .clone();
    let (dept, agents) = team(&app, &admin, "Round Robin", 5).await;
    for (_, token) in &agents {
        app.set_presence(token, "available").await;
    }
    // Phases: all five; agent 3 offline; agent 3 back and agent 0 busy; all five.
    let phases: [(usize, &[usize]); 4] = [
        (250, &[0, 1, 2, 3, 4]),
        (250, &[0, 1, 2, 4]),
        (250, &[1, 2, 3, 4]),
        (250, &[0, 1, 2, 3, 4]),
    ];
    let mut total: BTreeMap<String, usize> = BTreeMap::new();
    for (n, present) in phases {
        for (i, (_, token)) in agents.iter().enumerate() {
            app.set_presence(
                token,
                if present.contains(&i) {
                    "available"
                } else if i == 0 {
                    "busy"
                } else {
                    "offline"
                },
            )
            .await;
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for k in 0..n {
            let priority = ["low", "normal", "high", "urgent"][k % 4];
            let t = open_ticket(&app, &admin, &dept, &customer, priority).await;
            let assignee = t["assignee_id"]
                .as_str()
                .expect("assigned at once")
                .to_owned();
            *counts.entry(assignee.clone()).or_default() += 1;
            *total.entry(assignee).or_default() += 1;
        }
        let expected: Vec<&String> = present.iter().map(|i| &agents[*i].0).collect();
        assert_eq!(
            counts.keys().collect::<Vec<_>>().len(),
            expected.len(),
            "only present agents get work"
        );
        for a in &expected {
            assert!(counts.contains_key(*a), "every present agent gets work");
        }
        let (min, max) = (
            counts.values().min().unwrap(),
            counts.values().max().unwrap(),
        );
        assert!(max - min <= 1, "phase of {n}: {counts:?}");
    }
    assert_eq!(total.values().sum::<usize>(), 1000);
    let (min, max) = (total.values().min().unwrap(), total.values().max().unwrap());
    assert!(max - min <= 65, "over all phases: {total:?}");

    // The reason is recorded on the ticket.
    let list = app
        .get(
            &format!("/api/v1/tickets?department_id={dept}&limit=1"),
            &admin,
        )
        .await;
    let id = list.body["items"][0]["id"].as_str().unwrap();
    let detail = app.get(&format!("/api/v1/tickets/{id}"), &admin).await;
    let a = &detail.body["assignments"][0];
    assert_eq!(a["method"], "round_robin");
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("least recently assigned"),
        "{a}"
    );
    // The reason is read in the reader's language.
    let in_bahasa = app
        .client
        .get(app.url(&format!("/api/v1/tickets/{id}")))
        .bearer_auth(&admin)
        .header("accept-language", "id")
        .send()
        .await
        .unwrap();
    let in_bahasa = TestApp::read(in_bahasa).await;
    let reason = in_bahasa.body["assignments"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("bergiliran: ") && reason.contains("paling lama tidak mendapat tugas"),
        "{reason}"
    );
    app.stop().await;
}

async fn queued_tickets_go_to_the_next_available_agent_urgent_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let customer = fieldops_tests::fixtures::customer_ids(&app, &admin).await[0]
        .0
        .clone();
    let (dept, agents) = team(&app, &admin, "Night Desk", 2).await;
    // Nobody is available: tickets queue up.
    let low = open_ticket(&app, &admin, &dept, &customer, "low").await;
    let urgent = open_ticket(&app, &admin, &dept, &customer, "urgent").await;
    assert!(low["assignee_id"].is_null() && urgent["assignee_id"].is_null());
    let queued = app
        .get(
            &format!("/api/v1/tickets?department_id={dept}&assigned_to=unassigned"),
            &admin,
        )
        .await;
    assert_eq!(queued.body["stats"]["total"], 2);

    // Agent 0 is available but outside their shift: still nothing.
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Asia/Jakarta").unwrap());
    let later = |h: i8| format!("{:02}:00", (now.hour() + h).rem_euclid(24));
    let shift = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{}/shift", agents[0].0),
            Some(&admin),
            Some(json!({ "start": later(2), "end": later(4) })),
        )
        .await;
    assert_eq!(shift.status, 200, "{:?}", shift.body);
    app.set_presence(&agents[0].1, "available").await;
    let queued = app
        .get(
            &format!("/api/v1/tickets?department_id={dept}&assigned_to=unassigned"),
            &admin,
        )
        .await;
    assert_eq!(
        queued.body["stats"]["total"], 2,
        "outside the shift nobody is eligible"
    );

    // Agent 1 becomes available: both queued tickets go to them, urgent first.
    app.set_presence(&agents[1].1, "available").await;
    let mine = app
        .get("/api/v1/tickets?assigned_to=me", &agents[1].1)
        .await;
    assert_eq!(mine.body["stats"]["total"], 2, "{:?}", mine.body);
    let detail = |id: String| {
        let app = &app;
        let admin = admin.clone();
        async move { app.get(&format!("/api/v1/tickets/{id}"), &admin).await.body }
    };
    let u = detail(urgent["id"].as_str().unwrap().to_owned()).await;
    let l = detail(low["id"].as_str().unwrap().to_owned()).await;
    let at = |t: &serde_json::Value| {
        t["assignments"][0]["at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    assert!(at(&u) <= at(&l), "urgent first");

    // Offline agents stop receiving.
    app.set_presence(&agents[1].1, "offline").await;
    let t = open_ticket(&app, &admin, &dept, &customer, "high").await;
    assert!(t["assignee_id"].is_null());
    // Clearing the shift makes agent 0 eligible at once (the job is woken).
    let cleared = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{}/shift", agents[0].0),
            Some(&admin),
            Some(json!({ "start": null, "end": null })),
        )
        .await;
    assert_eq!(cleared.status, 200);
    app.set_presence(&agents[0].1, "available").await;
    let t = app
        .get(
            &format!("/api/v1/tickets/{}", t["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(t.body["assignee_id"], agents[0].0.as_str());
    // Manual reassignment by CS/admin is recorded too.
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/tickets/{}/assign", t.body["id"].as_str().unwrap()),
            Some(&admin),
            Some(json!({ "assigned_to": agents[1].0 })),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = app
        .get(
            &format!("/api/v1/tickets/{}", t.body["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    let methods: Vec<&str> = t.body["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["round_robin", "manual"]);
    // The ticket says who handles it by name, not only by id.
    assert_eq!(t.body["assignee_id"], agents[1].0.as_str());
    assert_eq!(t.body["assignee_name"], "Agent 1");
    let record = app
        .get(&format!("/api/v1/customers/{customer}"), &admin)
        .await;
    assert_eq!(t.body["customer_name"], record.body["name"]);
    assert!(
        t.body["customer_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    app.call(
        Method::PUT,
        &format!("/api/v1/users/{}/shift", agents[0].0),
        Some(&admin),
        Some(json!({ "start": "25:00", "end": "01:00" })),
    )
    .await
    .assert_problem(422);
    app.stop().await;
}
