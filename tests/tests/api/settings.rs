//! Settings admins change while the server runs (issue 21): round-robin
//! switched off leaves tickets in the queue and switched on hands them out;
//! the SLA calendar and targets change the next deadline; rating requests
//! can be switched off or delayed; bad values name their field; only
//! admins may; every change is audited; another instance on the same
//! database follows without a restart.

use fieldops_tests::fixtures::{demo_customer, done_visit};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(admins_change_settings_that_apply_everywhere_at_once);

async fn put(app: &TestApp, token: &str, group: &str, body: Value) -> fieldops_tests::Reply {
    app.call(
        Method::PUT,
        &format!("/api/v1/settings/{group}"),
        Some(token),
        Some(body),
    )
    .await
}

async fn admins_change_settings_that_apply_everywhere_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let peer = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(app.spawn_peer().await),
    };

    let current = app.get("/api/v1/settings", &admin).await;
    assert_eq!(current.status, 200, "{:?}", current.body);
    assert_eq!(current.body["assignment"]["tickets_round_robin"], true);
    assert_eq!(current.body["sla"]["timezone"], "Asia/Jakarta");
    assert_eq!(
        current.body["ratings"]["template"],
        "fieldops_penilaian_kunjungan"
    );
    app.get("/api/v1/settings", &cs).await.assert_problem(403);
    put(
        &app,
        &cs,
        "assignment",
        json!({ "tickets_round_robin": false, "chats_round_robin": true }),
    )
    .await
    .assert_problem(403);

    // Round-robin off: Siti is available, yet a new ticket waits.
    let r = app
        .call(
            Method::PUT,
            "/api/v1/me/status",
            Some(&cs),
            Some(json!({ "status": "available" })),
        )
        .await;
    assert_eq!(r.status, 200);
    let off = put(
        &app,
        &admin,
        "assignment",
        json!({ "tickets_round_robin": false, "chats_round_robin": true }),
    )
    .await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    let hendra = demo_customer(&app, &cs).await;
    let ticket = app
        .post("/api/v1/tickets", &admin, json!({
            "subject": "Pompa mati", "category": "technical", "priority": "high", "customer_id": hendra,
        }))
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    assert!(ticket.body["assignee_id"].is_null(), "{:?}", ticket.body);
    let path = format!("/api/v1/tickets/{}", ticket.body["id"].as_str().unwrap());
    fieldops_server::helpdesk::run_jobs_once(&app.server.state).await;
    assert!(
        app.get(&path, &admin).await.body["assignee_id"].is_null(),
        "still queued"
    );
    // On again: the next pass hands it to Siti.
    let on = put(
        &app,
        &admin,
        "assignment",
        json!({ "tickets_round_robin": true, "chats_round_robin": true }),
    )
    .await;
    assert_eq!(on.status, 200);
    fieldops_server::helpdesk::run_jobs_once(&app.server.state).await;
    let assigned = app.get(&path, &admin).await.body;
    assert!(assigned["assignee_id"].is_string(), "{assigned}");

    // The SLA: a Saturday-to-Thursday week and one-hour answers for "high".
    let mut sla = current.body["sla"].clone();
    sla["working_days"] = json!([6, 7, 1, 2, 3, 4]);
    sla["targets"]["high"] = json!({ "response_minutes": 60, "resolution_minutes": 600 });
    sla["holidays"] = json!(["2026-12-25"]);
    let saved = put(&app, &admin, "sla", sla.clone()).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let after = app.get("/api/v1/settings", &admin).await.body;
    assert_eq!(after["sla"]["targets"]["high"]["response_minutes"], 60);
    // Bad values: every one named, nothing saved.
    let mut bad = sla.clone();
    bad["timezone"] = json!("Asia/Bandung");
    bad["day_start"] = json!("18:00");
    bad["holidays"] = json!(["25-12-2026"]);
    bad["targets"]["low"]["response_minutes"] = json!(0);
    let refused = put(&app, &admin, "sla", bad).await;
    assert_eq!(refused.assert_problem(422), "validation");
    let fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "timezone",
            "day_end",
            "holidays[0]",
            "targets.low.response_minutes"
        ],
        "{:?}",
        refused.body
    );
    // Urgent tickets around the clock: their first answer is due 30
    // minutes after they open, whatever the hour or the day.
    let mut nonstop = sla.clone();
    nonstop["targets"]["urgent"] =
        json!({ "response_minutes": 30, "resolution_minutes": 240, "around_the_clock": true });
    let saved = put(&app, &admin, "sla", nonstop).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let urgent = app
        .post(
            "/api/v1/tickets",
            &admin,
            json!({ "subject": "Server mati", "category": "technical", "priority": "urgent",
                    "customer_id": fieldops_tests::fixtures::demo_customer(&app, &admin).await }),
        )
        .await;
    assert_eq!(urgent.status, 201, "{:?}", urgent.body);
    let at = |key: &str| {
        urgent.body[key]
            .as_str()
            .or_else(|| urgent.body["sla"][key].as_str())
            .unwrap_or_else(|| panic!("{key}: {:?}", urgent.body))
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond()
    };
    assert_eq!(
        (at("response_due_at") - at("created_at")) / 60_000,
        30,
        "{:?}",
        urgent.body
    );
    assert_eq!(
        (at("resolution_due_at") - at("created_at")) / 3_600_000,
        4,
        "{:?}",
        urgent.body
    );
    let saved = put(&app, &admin, "sla", sla.clone()).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let unknown = put(
        &app,
        &admin,
        "assignment",
        json!({ "tickets_round_robin": true, "chats": 1 }),
    )
    .await;
    assert_eq!(unknown.assert_problem(422), "validation");
    assert_eq!(
        app.get("/api/v1/settings", &admin).await.body["sla"],
        after["sla"]
    );

    // Ratings: not asked while switched off, asked late when delayed.
    let tech = app.login_as("technician").await;
    let mut ratings = current.body["ratings"].clone();
    ratings["after_visit"] = json!(false);
    assert_eq!(
        put(&app, &admin, "ratings", ratings.clone()).await.status,
        200
    );
    let quiet = done_visit(&app, &cs, &tech, &hendra, "Servis tanpa penilaian").await;
    ratings["after_visit"] = json!(true);
    ratings["delay_minutes"] = json!(90);
    assert_eq!(
        put(&app, &admin, "ratings", ratings.clone()).await.status,
        200
    );
    let later = done_visit(&app, &cs, &tech, &hendra, "Servis dinilai nanti").await;
    let pool = app.server.state.db.pool();
    let asked = |visit: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT o.next_attempt_at, o.created_at FROM rating_requests q \
                 JOIN whatsapp_outbox o ON o.id = q.whatsapp_id WHERE q.visit_id = $1",
            )
            .bind(visit)
            .fetch_optional(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(asked(quiet).await, None, "not asked while switched off");
    let (due, made) = asked(later).await.expect("asked");
    assert!(
        (due - made - 90 * 60_000).abs() < 5_000,
        "sent 90 minutes later: {}",
        due - made
    );
    let mut bad = ratings.clone();
    bad["template"] = json!("Penilaian Kunjungan!");
    bad["delay_minutes"] = json!(20_000);
    let refused = put(&app, &admin, "ratings", bad).await;
    let fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["delay_minutes", "template"], "{:?}", refused.body);

    // Audited, with what each change replaced.
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT entity_id, detail FROM audit_log WHERE action = 'settings.changed' ORDER BY at, id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 7, "{audited:?}");
    let first: Value = serde_json::from_str(&audited[0].1).unwrap();
    assert_eq!(audited[0].0, "assignment");
    assert_eq!(first["before"]["tickets_round_robin"], true);
    assert_eq!(first["after"]["tickets_round_robin"], false);

    // Another instance follows on its next job pass, without a restart
    // (the changes are committed: one pass reads them).
    if let Some(peer) = peer {
        fieldops_server::helpdesk::run_jobs_once(&peer.state).await;
        let seen = peer.state.settings.get();
        assert_eq!(
            seen.settings.ratings.delay_minutes, 90,
            "the peer never reloaded"
        );
        assert_eq!(seen.settings.sla.working_days, [6, 7, 1, 2, 3, 4]);
        peer.stop().await.unwrap();
    }
    app.stop().await;
}
