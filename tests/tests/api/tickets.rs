//! Tickets: numbering, every list filter and the stats block, cursor paging,
//! department scoping, customers seeing only their own, internal notes hidden
//! from customers, status rules, the audit trail and the period stats.

use fieldops_tests::fixtures::{customer_ids, department_id};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    tickets_are_numbered_and_filtered,
    departments_and_ownership_scope_tickets,
    internal_notes_status_rules_and_audit_trail,
    period_stats_average_response_and_resolution,
);

fn numbers(reply: &Value) -> Vec<String> {
    reply["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_owned())
        .collect()
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> fieldops_tests::Reply {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

async fn tickets_are_numbered_and_filtered(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let admin = app.login_as("admin").await;
    let customers = customer_ids(&app, &cs).await;
    let (budi, hotel) = (&customers[1].0, &customers[2].0); // CV Karya Mandiri, Hotel Bali Permai
    let specs = [
        ("Printer macet di lantai 2", "technical", "urgent", budi),
        ("Tagihan bulan Oktober salah", "billing", "normal", budi),
        ("Tidak bisa login aplikasi", "account", "high", hotel),
        ("Request fitur ekspor PDF", "feature_request", "low", hotel),
        ("Printer tidak terdeteksi", "technical", "normal", hotel),
    ];
    let mut ids = Vec::new();
    for (subject, category, priority, customer) in specs {
        let r = app
            .post("/api/v1/tickets", &cs, json!({
                "subject": subject, "category": category, "priority": priority, "customer_id": customer,
            }))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let first = app.get(&format!("/api/v1/tickets/{}", ids[0]), &cs).await;
    assert_eq!(first.body["number"], "TKT-000001");
    assert_eq!(first.body["status"], "open");
    assert!(first.body["sla"]["response_due_at"].is_string());
    assert!(
        first.body["sla"]["explanation"]
            .as_str()
            .unwrap()
            .contains("urgent priority")
    );

    let all = app.get("/api/v1/tickets", &cs).await;
    assert_eq!(
        numbers(&all.body),
        [
            "TKT-000005",
            "TKT-000004",
            "TKT-000003",
            "TKT-000002",
            "TKT-000001"
        ]
    );
    assert_eq!(
        all.body["stats"],
        json!({ "total": 5, "open": 5, "in_progress": 0, "resolved": 0, "urgent": 1 })
    );

    // Move some along so that status and assignee filters have something to tell apart.
    let cs_id = app.get("/api/v1/me", &cs).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = put(
        &app,
        &format!("/api/v1/tickets/{}/status", ids[1]),
        &cs,
        json!({ "status": "in_progress" }),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    put(
        &app,
        &format!("/api/v1/tickets/{}/status", ids[2]),
        &cs,
        json!({ "status": "resolved" }),
    )
    .await;
    let r = put(
        &app,
        &format!("/api/v1/tickets/{}/assign", ids[1]),
        &cs,
        json!({ "assigned_to": cs_id }),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["assignee_id"], cs_id.as_str());

    let cases: &[(&str, &[&str])] = &[
        ("status=open", &["TKT-000005", "TKT-000004", "TKT-000001"]),
        ("status=in_progress", &["TKT-000002"]),
        ("status=resolved", &["TKT-000003"]),
        ("category=technical", &["TKT-000005", "TKT-000001"]),
        ("priority=urgent", &["TKT-000001"]),
        ("priority=low", &["TKT-000004"]),
        ("assigned_to=me", &["TKT-000002"]),
        (
            "assigned_to=unassigned",
            &["TKT-000005", "TKT-000004", "TKT-000003", "TKT-000001"],
        ),
        ("search=printer", &["TKT-000005", "TKT-000001"]),
        ("search=print", &["TKT-000005", "TKT-000001"]),
        ("search=TKT-000003", &["TKT-000003"]),
        ("search=4", &["TKT-000004"]),
        (
            "search=hotel%20bali",
            &["TKT-000005", "TKT-000004", "TKT-000003"],
        ),
        (
            "search=printer&category=technical&priority=normal",
            &["TKT-000005"],
        ),
        ("search=zzz", &[]),
    ];
    for (query, expected) in cases {
        let r = app.get(&format!("/api/v1/tickets?{query}"), &cs).await;
        assert_eq!(r.status, 200, "{query}: {:?}", r.body);
        assert_eq!(numbers(&r.body), *expected, "{query}");
        assert_eq!(r.body["stats"]["total"], expected.len(), "{query}");
    }
    let assigned = app
        .get(&format!("/api/v1/tickets?assigned_to={cs_id}"), &cs)
        .await;
    assert_eq!(numbers(&assigned.body), ["TKT-000002"]);
    let by_customer = app
        .get(&format!("/api/v1/tickets?customer_id={budi}"), &cs)
        .await;
    assert_eq!(numbers(&by_customer.body), ["TKT-000002", "TKT-000001"]);
    // Renaming the customer keeps the name search true.
    let renamed = app
        .patch(
            &format!("/api/v1/customers/{budi}"),
            &cs,
            json!({ "name": "CV Karya Sentosa" }),
        )
        .await;
    assert_eq!(renamed.status, 200);
    let r = app.get("/api/v1/tickets?search=sentosa%20karya", &cs).await;
    assert_eq!(numbers(&r.body), ["TKT-000002", "TKT-000001"]);
    let stats = app.get("/api/v1/tickets?search=printer", &cs).await.body["stats"].clone();
    assert_eq!(
        stats,
        json!({ "total": 2, "open": 2, "in_progress": 0, "resolved": 0, "urgent": 1 })
    );

    let dept = department_id(&app, &admin, "Customer Service").await;
    let sales_dept = department_id(&app, &admin, "Sales").await;
    assert_eq!(
        numbers(
            &app.get(&format!("/api/v1/tickets?department_id={dept}"), &admin)
                .await
                .body
        )
        .len(),
        5
    );
    assert_eq!(
        numbers(
            &app.get(
                &format!("/api/v1/tickets?department_id={sales_dept}"),
                &admin
            )
            .await
            .body
        )
        .len(),
        0
    );
    // A search within one department (admin, department filter), in the
    // wrong one, and across all of them (admin, no filter).
    for (query, expected) in [
        (format!("search=printer&department_id={dept}"), 2),
        (format!("search=printer&department_id={sales_dept}"), 0),
        ("search=printer".to_owned(), 2),
    ] {
        let r = app.get(&format!("/api/v1/tickets?{query}"), &admin).await;
        assert_eq!(numbers(&r.body).len(), expected, "{query}");
        assert_eq!(r.body["stats"]["total"], expected, "{query}");
    }

    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Jakarta").unwrap())
        .date();
    let r = app.get(&format!("/api/v1/tickets?date={today}"), &cs).await;
    assert_eq!(numbers(&r.body).len(), 5);
    let r = app.get("/api/v1/tickets?date=2020-01-01", &cs).await;
    assert_eq!(numbers(&r.body).len(), 0);

    // Cursor paging walks every ticket once; the stats cover all pages.
    let page1 = app.get("/api/v1/tickets?limit=2", &cs).await;
    assert_eq!(numbers(&page1.body), ["TKT-000005", "TKT-000004"]);
    assert_eq!(page1.body["stats"]["total"], 5);
    let cursor = page1.body["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(&format!("/api/v1/tickets?limit=2&cursor={cursor}"), &cs)
        .await;
    assert_eq!(numbers(&page2.body), ["TKT-000003", "TKT-000002"]);
    let cursor = page2.body["next_cursor"].as_str().unwrap();
    let page3 = app
        .get(&format!("/api/v1/tickets?limit=2&cursor={cursor}"), &cs)
        .await;
    assert_eq!(numbers(&page3.body), ["TKT-000001"]);
    assert!(page3.body["next_cursor"].is_null());

    // Bad filters are 4xx, never 500.
    for bad in [
        "status=lost",
        "priority=meh",
        "assigned_to=bob",
        "date=yesterday",
        "limit=0",
        "cursor=zzz",
    ] {
        let r = app.get(&format!("/api/v1/tickets?{bad}"), &cs).await;
        assert!(
            matches!(r.status.as_u16(), 400 | 422),
            "{bad}: {}",
            r.status
        );
    }
    let r = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "subject": "", "category": "nope", "customer_id": budi }),
        )
        .await;
    assert_eq!(r.assert_problem(422), "validation");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["subject", "category"]);
    app.stop().await;
}

async fn departments_and_ownership_scope_tickets(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let admin = app.login_as("admin").await;
    let customer = app.login_as("customer").await;
    let sales = app.login_as("sales").await;
    let tech = app.login_as("technician").await;
    let customers = customer_ids(&app, &cs).await;
    let other = &customers[2].0;

    // The customer opens their own ticket (department: the configured default).
    let mine = app
        .post(
            "/api/v1/tickets",
            &customer,
            json!({ "subject": "AC bocor", "category": "technical" }),
        )
        .await;
    assert_eq!(mine.status, 201, "{:?}", mine.body);
    let mine_id = mine.body["id"].as_str().unwrap().to_owned();
    // They may not open one for someone else, nor pick a department.
    app.post(
        "/api/v1/tickets",
        &customer,
        json!({ "subject": "x", "category": "other", "customer_id": other }),
    )
    .await
    .assert_problem(403);
    // A ticket of another customer, in the Field Service department.
    let field = department_id(&app, &admin, "Field Service").await;
    let theirs = app
        .post("/api/v1/tickets", &admin, json!({
            "subject": "Genset mati", "category": "technical", "customer_id": other, "department_id": field,
        }))
        .await;
    assert_eq!(theirs.status, 201, "{:?}", theirs.body);
    let theirs_id = theirs.body["id"].as_str().unwrap().to_owned();

    let count = |r: &fieldops_tests::Reply| r.body["items"].as_array().unwrap().len();
    assert_eq!(count(&app.get("/api/v1/tickets", &admin).await), 2);
    assert_eq!(count(&app.get("/api/v1/tickets", &customer).await), 1);
    assert_eq!(
        count(&app.get("/api/v1/tickets", &cs).await),
        1,
        "CS sees its department only"
    );
    assert_eq!(
        count(&app.get("/api/v1/tickets", &tech).await),
        1,
        "technicians see Field Service"
    );
    assert_eq!(count(&app.get("/api/v1/tickets", &sales).await), 0);

    app.get(&format!("/api/v1/tickets/{theirs_id}"), &customer)
        .await
        .assert_problem(403);
    app.get(&format!("/api/v1/tickets/{theirs_id}"), &cs)
        .await
        .assert_problem(403);
    app.get(&format!("/api/v1/tickets/{mine_id}"), &sales)
        .await
        .assert_problem(403);
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{mine_id}"), &customer)
            .await
            .status,
        200
    );
    // Customers cannot edit, assign or resolve; they may close their own.
    app.patch(
        &format!("/api/v1/tickets/{mine_id}"),
        &customer,
        json!({ "priority": "urgent" }),
    )
    .await
    .assert_problem(403);
    put(
        &app,
        &format!("/api/v1/tickets/{mine_id}/status"),
        &customer,
        json!({ "status": "resolved" }),
    )
    .await
    .assert_problem(403);
    let closed = put(
        &app,
        &format!("/api/v1/tickets/{mine_id}/status"),
        &customer,
        json!({ "status": "closed" }),
    )
    .await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(closed.body["status"], "closed");
    put(
        &app,
        &format!("/api/v1/tickets/{theirs_id}/status"),
        &customer,
        json!({ "status": "closed" }),
    )
    .await
    .assert_problem(403);
    let missing = uuid::Uuid::now_v7();
    app.get(&format!("/api/v1/tickets/{missing}"), &admin)
        .await
        .assert_problem(404);
    app.stop().await;
}

async fn internal_notes_status_rules_and_audit_trail(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    let t = app
        .post("/api/v1/tickets", &customer, json!({ "subject": "Modem mati", "category": "technical", "description": "Sejak pagi" }))
        .await;
    let id = t.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tickets/{id}");
    assert!(t.body["first_response_at"].is_null());

    let note = app
        .post(
            &format!("{path}/messages"),
            &cs,
            json!({ "body": "Pelanggan VIP, cek kontrak", "internal": true }),
        )
        .await;
    assert_eq!(note.status, 201, "{:?}", note.body);
    let reply = app
        .post(
            &format!("{path}/messages"),
            &cs,
            json!({ "body": "Kami cek sekarang" }),
        )
        .await;
    assert_eq!(reply.status, 201);
    app.post(
        &format!("{path}/messages"),
        &customer,
        json!({ "body": "Terima kasih" }),
    )
    .await;
    app.post(
        &format!("{path}/messages"),
        &customer,
        json!({ "body": "secret", "internal": true }),
    )
    .await
    .assert_problem(403);

    let staff_view = app.get(&path, &cs).await;
    let bodies = |r: &fieldops_tests::Reply| -> Vec<String> {
        r.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        bodies(&staff_view),
        [
            "Pelanggan VIP, cek kontrak",
            "Kami cek sekarang",
            "Terima kasih"
        ]
    );
    assert!(
        staff_view.body["first_response_at"].is_string(),
        "the public reply is the first response"
    );
    assert!(staff_view.body["history"].is_array());
    let customer_view = app.get(&path, &customer).await;
    assert_eq!(
        bodies(&customer_view),
        ["Kami cek sekarang", "Terima kasih"]
    );
    assert!(
        customer_view.body.get("history").is_none(),
        "the audit trail is staff-only"
    );
    assert!(!customer_view.body.to_string().contains("VIP"));

    // Waiting on the customer pauses the clocks; their answer resumes them.
    let waiting = app
        .patch(
            &path,
            &cs,
            json!({ "waiting_on_customer": true, "priority": "high" }),
        )
        .await;
    assert_eq!(waiting.status, 200, "{:?}", waiting.body);
    assert_eq!(waiting.body["sla"]["paused"], true);
    assert!(waiting.body["sla"]["resolution_due_at"].is_null());
    app.post(
        &format!("{path}/messages"),
        &customer,
        json!({ "body": "Sudah saya restart" }),
    )
    .await;
    let resumed = app.get(&path, &cs).await;
    assert_eq!(resumed.body["sla"]["paused"], false);
    assert!(resumed.body["sla"]["resolution_due_at"].is_string());
    assert!(
        resumed.body["sla"]["explanation"]
            .as_str()
            .unwrap()
            .contains("paused 1 time"),
        "{}",
        resumed.body["sla"]
    );

    // Status rules: resolved may reopen; closed is final.
    for (to, code) in [
        ("resolved", 200),
        ("open", 200),
        ("closed", 200),
        ("open", 409),
        ("in_progress", 409),
    ] {
        let r = put(
            &app,
            &format!("{path}/status"),
            &cs,
            json!({ "status": to }),
        )
        .await;
        assert_eq!(r.status.as_u16(), code, "{to}: {:?}", r.body);
        if code == 409 {
            assert_eq!(r.problem(), "invalid-transition");
        }
    }
    app.post(&format!("{path}/messages"), &cs, json!({ "body": "late" }))
        .await
        .assert_problem(409);
    app.patch(&path, &cs, json!({ "priority": "extreme" }))
        .await
        .assert_problem(422);

    let trail = fieldops_server::db::audit::trail(&app.server.state.db, "ticket", &id)
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "ticket.created",
            "ticket.message_added",
            "ticket.message_added",
            "ticket.message_added",
            "ticket.updated",
            "ticket.message_added",
            "ticket.status_changed",
            "ticket.status_changed",
            "ticket.status_changed",
        ]
    );
    app.stop().await;
}

async fn period_stats_average_response_and_resolution(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customers = customer_ids(&app, &cs).await;
    let cs_id = app.get("/api/v1/me", &cs).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = app
            .post("/api/v1/tickets", &cs, json!({ "subject": format!("T{i}"), "category": "general", "customer_id": customers[0].0 }))
            .await;
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    // Pin the times so the averages are exact: responses after 60 s and 120 s,
    // one resolution after 600 s.
    let db = &app.server.state.db;
    for (id, created, responded, resolved) in [
        (
            &ids[0],
            1_000_000_i64,
            Some(1_060_000_i64),
            Some(1_600_000_i64),
        ),
        (&ids[1], 1_000_000, Some(1_120_000), None),
        (&ids[2], 1_000_000, None, None),
    ] {
        let now = fieldops_server::db::now_ms();
        sqlx::query("UPDATE tickets SET created_at = $2 + $5, first_response_at = $3 + $5, resolved_at = $4 + $5, assignee_id = $6 WHERE id = $1")
            .bind(id).bind(created).bind(responded).bind(resolved).bind(now - 2_000_000).bind(&cs_id)
            .execute(db.pool()).await.unwrap();
    }
    let r = app.get("/api/v1/tickets/stats", &cs).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["tickets"], 3);
    assert_eq!(r.body["responded"], 2);
    assert_eq!(r.body["avg_first_response_secs"], 90.0);
    assert_eq!(r.body["resolved"], 1);
    assert_eq!(r.body["avg_resolution_secs"], 600.0);
    // SLA compliance: the third ticket missed its response deadline; the
    // second's resolution clock still runs, so it counts in neither.
    sqlx::query("UPDATE tickets SET response_breached_at = $2 WHERE id = $1")
        .bind(&ids[2])
        .bind(fieldops_server::db::now_ms())
        .execute(db.pool())
        .await
        .unwrap();
    let r = app.get("/api/v1/tickets/stats", &cs).await;
    let compliance = json!({
        "response_met": 2, "response_decided": 3, "response_rate": 2.0 / 3.0,
        "resolution_met": 1, "resolution_decided": 1, "resolution_rate": 1.0,
    });
    assert_eq!(r.body["sla"], compliance);
    assert_eq!(
        r.body["agents"],
        json!([{ "user_id": cs_id, "name": "Siti Rahmawati", "assigned": 3, "resolved": 1,
                 "sla": compliance }])
    );
    let empty = app
        .get("/api/v1/tickets/stats?from=2020-01-01&to=2020-01-31", &cs)
        .await;
    assert_eq!(empty.body["tickets"], 0);
    assert!(empty.body["avg_first_response_secs"].is_null());
    assert!(empty.body["sla"]["response_rate"].is_null());
    app.get("/api/v1/tickets/stats?from=2020-02-01&to=2020-01-01", &cs)
        .await
        .assert_problem(422);
    app.get("/api/v1/tickets/stats", &app.login_as("customer").await)
        .await
        .assert_problem(403);
    app.stop().await;
}
