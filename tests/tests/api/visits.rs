//! Visits: create, list with filters and distance, edit, cancel; schedule
//! and cancellation frozen once claimed unless an admin forces it (audited);
//! who sees which visits.

use fieldops_tests::fixtures::{demo_customer, local_date, new_visit};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    cs_create_list_edit_and_cancel_visits,
    claimed_visits_freeze_schedule_and_cancel_unless_an_admin_forces,
    technicians_and_customers_see_only_their_scope,
    no_visits_in_the_past_unless_an_admin_backfills,
);

fn titles(reply: &fieldops_tests::Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn cs_create_list_edit_and_cancel_visits(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let created = new_visit(&app, &cs, &customer, "Ganti MCB", "2030-03-01", 2, 2).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "open");
    assert_eq!(created["in_pool"], true);
    assert_eq!(created["seats_left"], 2);
    assert_eq!(created["end_date"], "2030-03-02");
    assert_eq!(created["customer_name"], "Hendra Gunawan");
    assert_eq!(created["site"]["lat"], -6.2251);

    // Filters: status, customer, pool, date range.
    let in_range = app
        .get("/api/v1/visits?from=2030-03-02&to=2030-03-31", &cs)
        .await;
    assert_eq!(titles(&in_range), ["Ganti MCB"]);
    let before = app
        .get("/api/v1/visits?to=2030-02-28&from=2030-01-01", &cs)
        .await;
    assert!(titles(&before).is_empty());
    let mine = app
        .get(
            &format!("/api/v1/visits?customer_id={customer}&limit=200"),
            &cs,
        )
        .await;
    assert_eq!(
        titles(&mine),
        [
            "Ganti MCB",
            "Perbaikan panel listrik lobi",
            "Servis AC kantor lantai 12"
        ],
        "newest first (the demo's done visit among them)"
    );
    let done = app.get("/api/v1/visits?status=done", &cs).await;
    assert_eq!(titles(&done).len(), 3, "the demo's finished visits");
    let pool = app.get("/api/v1/visits?pool=true&limit=200", &cs).await;
    assert_eq!(titles(&pool).len(), 5);

    // Near Surabaya, in the pool: the Surabaya demo visit first, then by distance.
    let near = app
        .get(
            "/api/v1/visits?near=-7.2575,112.7521&pool=true&limit=3",
            &cs,
        )
        .await;
    assert_eq!(near.status, 200, "{:?}", near.body);
    assert_eq!(near.body["items"][0]["title"], "Perbaikan mesin kasir");
    let d: Vec<f64> = near.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["distance_m"].as_f64().unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
    let close = app
        .get(
            "/api/v1/visits?near=-7.2575,112.7521&within_km=50&pool=true",
            &cs,
        )
        .await;
    assert_eq!(titles(&close), ["Perbaikan mesin kasir"]);

    // Edit before any claim: schedule and text, and the ticket it serves —
    // a real ticket of the same customer, named by id or by number.
    let path = format!("/api/v1/visits/{id}");
    let ticket = app
        .post("/api/v1/tickets", &cs, json!({ "subject": "MCB sering turun", "category": "technical", "customer_id": customer }))
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    let (ticket_id, number) = (
        ticket.body["id"].as_str().unwrap().to_owned(),
        ticket.body["number"].as_str().unwrap().to_owned(),
    );
    let nowhere = app
        .patch(&path, &cs, json!({ "ticket_id": "TKT-999999" }))
        .await;
    assert_eq!(nowhere.assert_problem(422), "validation");
    assert_eq!(nowhere.body["errors"][0]["field"], "ticket_id");
    let other_customer = fieldops_tests::fixtures::customer_ids(&app, &cs)
        .await
        .into_iter()
        .find(|(c, _)| *c != customer)
        .unwrap()
        .0;
    let theirs = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "subject": "Lain", "category": "technical", "customer_id": other_customer }),
        )
        .await;
    let wrong = app
        .patch(&path, &cs, json!({ "ticket_id": theirs.body["id"] }))
        .await;
    assert_eq!(wrong.assert_problem(422), "validation");
    assert!(
        wrong.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("another customer")
    );
    let patched = app
        .patch(&path, &cs, json!({ "scheduled_start": "2030-03-05", "title": "Ganti MCB 3 fasa", "ticket_id": number }))
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["scheduled_start"], "2030-03-05");
    assert_eq!(
        patched.body["ticket_id"],
        ticket_id.as_str(),
        "the number names the ticket"
    );
    assert_eq!(patched.body["planned_days"], 2, "untouched fields stay");
    let shown = app.get(&format!("/api/v1/tickets/{ticket_id}"), &cs).await;
    assert_eq!(
        shown.body["visits"][0]["id"],
        id.as_str(),
        "the ticket shows its visits"
    );
    assert_eq!(shown.body["visits"][0]["title"], "Ganti MCB 3 fasa");

    let cancelled = app
        .post(
            &format!("{path}/cancel"),
            &cs,
            json!({ "reason": "Pelanggan menunda" }),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["cancel_reason"], "Pelanggan menunda");
    let again = app
        .post(&format!("{path}/cancel"), &cs, json!({ "reason": "lagi" }))
        .await;
    assert_eq!(again.assert_problem(409), "cancelled");
    app.patch(&path, &cs, json!({ "title": "x" }))
        .await
        .assert_problem(409);

    let trail = fieldops_server::db::audit::trail(&app.server.state.db, "visit", &id)
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "visit.created",
            "visit.updated",
            "visit.cancelled",
            "visit.status_changed"
        ]
    );
    app.stop().await;
}

async fn claimed_visits_freeze_schedule_and_cancel_unless_an_admin_forces(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let admin = app.login_as("admin").await;
    let tech = app.login_as("technician").await;
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(&app, &cs, &customer, "Pasang CCTV", "2030-04-01", 1, 2).await;
    let path = format!("/api/v1/visits/{}", visit["id"].as_str().unwrap());
    let claim = app.post(&format!("{path}/claim"), &tech, json!({})).await;
    assert_eq!(claim.status, 200, "{:?}", claim.body);

    let moved = app
        .patch(&path, &cs, json!({ "scheduled_start": "2030-04-02" }))
        .await;
    assert_eq!(moved.assert_problem(409), "visit_claimed");
    let cancel = app
        .post(&format!("{path}/cancel"), &cs, json!({ "reason": "x" }))
        .await;
    assert_eq!(cancel.assert_problem(409), "visit_claimed");
    let cs_force = app
        .patch(
            &path,
            &cs,
            json!({ "scheduled_start": "2030-04-02", "force": true }),
        )
        .await;
    cs_force.assert_problem(403);
    let shrink = app
        .patch(&path, &cs, json!({ "technician_quota": 0 }))
        .await;
    shrink.assert_problem(422);
    // Text edits and a bigger quota stay allowed.
    let text = app
        .patch(
            &path,
            &cs,
            json!({ "description": "4 kamera", "technician_quota": 3 }),
        )
        .await;
    assert_eq!(text.status, 200, "{:?}", text.body);
    assert_eq!(
        app.get(&path, &cs).await.body["scheduled_start"],
        "2030-04-01"
    );

    let forced = app
        .patch(
            &path,
            &admin,
            json!({ "scheduled_start": "2030-04-02", "force": true }),
        )
        .await;
    assert_eq!(forced.status, 200, "{:?}", forced.body);
    assert_eq!(forced.body["scheduled_start"], "2030-04-02");

    let mut phone = fieldops_tests::websocket(app.server.addr, "/api/v1/events", &tech).await;
    let forced_cancel = app
        .post(
            &format!("{path}/cancel"),
            &admin,
            json!({ "reason": "Proyek batal", "force": true }),
        )
        .await;
    assert_eq!(forced_cancel.status, 200, "{:?}", forced_cancel.body);
    assert_eq!(forced_cancel.body["assignments"][0]["state"], "released");
    assert_eq!(
        forced_cancel.body["assignments"][0]["release_kind"],
        "cancelled"
    );
    assert_eq!(forced_cancel.body["seats_taken"], 0);
    loop {
        let event = fieldops_tests::next_json(&mut phone, 10).await;
        if event["kind"] == "assignment.released" {
            assert_eq!(event["data"]["kind"], "cancelled");
            break;
        }
    }
    let db = &app.server.state.db;
    let details: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, detail FROM audit_log WHERE entity_id = $1 AND action IN ('visit.updated', 'visit.cancelled') ORDER BY at, id",
    )
    .bind(visit["id"].as_str().unwrap())
    .fetch_all(db.pool())
    .await
    .unwrap();
    let forced: Vec<bool> = details
        .iter()
        .map(|(_, d)| serde_json::from_str::<Value>(d).unwrap()["forced"] == true)
        .collect();
    assert_eq!(forced, [false, true, true], "{details:?}");
    app.stop().await;
}

async fn technicians_and_customers_see_only_their_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech1 = app.login_as("technician").await;
    let tech2 = app.login("tech2@example.com", "tech123").await;
    let customer = app.login_as("customer").await;
    let own = demo_customer(&app, &cs).await;
    let solo = new_visit(&app, &cs, &own, "Cek UPS", "2030-05-01", 1, 1).await;
    let path = format!("/api/v1/visits/{}", solo["id"].as_str().unwrap());
    assert_eq!(
        app.get(&path, &tech2).await.status,
        200,
        "in the pool: visible"
    );
    app.post(&format!("{path}/claim"), &tech1, json!({})).await;
    // Full now: only its holder and staff see it.
    app.get(&path, &tech2).await.assert_problem(403);
    assert_eq!(app.get(&path, &tech1).await.status, 200);
    let tech2_list = app.get("/api/v1/visits?limit=200", &tech2).await;
    assert!(!titles(&tech2_list).contains(&"Cek UPS".to_owned()));
    let tech1_list = app.get("/api/v1/visits?limit=200", &tech1).await;
    assert!(titles(&tech1_list).contains(&"Cek UPS".to_owned()));
    let held = app
        .get(
            &format!(
                "/api/v1/visits?technician_id={}",
                tech1_list.body["items"][0]["assignments"][0]["technician_id"]
                    .as_str()
                    .unwrap_or_default()
            ),
            &cs,
        )
        .await;
    assert_eq!(titles(&held), ["Cek UPS"]);

    // The customer sees their own visits only.
    let list = app.get("/api/v1/visits?limit=200", &customer).await;
    assert_eq!(
        titles(&list),
        [
            "Cek UPS",
            "Perbaikan panel listrik lobi",
            "Servis AC kantor lantai 12"
        ]
    );
    assert_eq!(app.get(&path, &customer).await.status, 200);
    let others = app.get("/api/v1/visits?limit=200&pool=true", &cs).await;
    let foreign = others.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["customer_id"] != own.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get(&format!("/api/v1/visits/{foreign}"), &customer)
        .await
        .assert_problem(403);
    app.stop().await;
}

/// A visit starts today or later in the sites' calendar; an admin may
/// backfill one that already happened (`force`), CS may not.
async fn no_visits_in_the_past_unless_an_admin_backfills(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let admin = app.login_as("admin").await;
    let customer = demo_customer(&app, &cs).await;
    let body = |start: String, force: bool| {
        json!({
            "customer_id": customer, "title": "Servis AC", "force": force,
            "site": { "address": "Jl. Melati 3", "lat": -6.2251, "lon": 106.8097 },
            "scheduled_start": start, "technician_quota": 1
        })
    };
    let yesterday = local_date(-1);
    let refused = app
        .post("/api/v1/visits", &cs, body(yesterday.clone(), false))
        .await;
    refused.assert_problem(422);
    assert_eq!(refused.body["errors"][0]["field"], "scheduled_start");
    assert_eq!(refused.body["errors"].as_array().unwrap().len(), 1);
    app.post("/api/v1/visits", &cs, body(yesterday.clone(), true))
        .await
        .assert_problem(403);
    let today = app
        .post("/api/v1/visits", &cs, body(local_date(0), false))
        .await;
    assert_eq!(today.status, 201, "{:?}", today.body);
    let backfilled = app
        .post("/api/v1/visits", &admin, body(yesterday.clone(), true))
        .await;
    assert_eq!(backfilled.status, 201, "{:?}", backfilled.body);
    assert_eq!(backfilled.body["scheduled_start"], yesterday.as_str());

    // Moving a visit into the past is refused; editing a backfilled visit's
    // text is not a move.
    let today_path = format!("/api/v1/visits/{}", today.body["id"].as_str().unwrap());
    let moved = app
        .patch(&today_path, &cs, json!({ "scheduled_start": yesterday }))
        .await;
    moved.assert_problem(422);
    assert_eq!(moved.body["errors"][0]["field"], "scheduled_start");
    let past_path = format!("/api/v1/visits/{}", backfilled.body["id"].as_str().unwrap());
    let renamed = app
        .patch(&past_path, &cs, json!({ "title": "Servis AC (susulan)" }))
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    app.stop().await;
}
