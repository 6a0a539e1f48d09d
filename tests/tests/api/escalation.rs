//! SLA breaches: the background job marks a missed deadline, escalates once
//! (priority up, system note, audit, live event), and never again — not on a
//! second instance, not after a restart.

use fieldops_server::{AppState, Config};
use fieldops_tests::{Backend, TestApp, next_json, on_both_backends, websocket};
use serde_json::json;

on_both_backends!(breach_escalates_exactly_once_across_instances_and_restarts);

async fn breach_escalates_exactly_once_across_instances_and_restarts(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.helpdesk_job_interval = std::time::Duration::from_millis(100);
    })
    .await
    else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    let mut console = websocket(app.server.addr, "/api/v1/events", &cs).await;
    // The department lead is told even when not a member of it.
    let admin = app.login_as("admin").await;
    let tech = app.login_as("technician").await;
    let tech_id = app.get("/api/v1/me", &tech).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let depts = app.get("/api/v1/departments", &admin).await;
    let cs_dept = depts
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Customer Service")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = app
        .patch(
            &format!("/api/v1/departments/{cs_dept}"),
            &admin,
            json!({ "lead_user_id": tech_id }),
        )
        .await;
    assert_eq!(lead.status, 200, "{:?}", lead.body);
    let mut lead_socket = websocket(app.server.addr, "/api/v1/events", &tech).await;
    let t = app
        .post(
            "/api/v1/tickets",
            &customer,
            json!({ "subject": "Listrik padam", "category": "technical" }),
        )
        .await;
    let id = t.body["id"].as_str().unwrap().to_owned();
    assert_eq!(t.body["priority"], "normal");
    // A second instance on the same database runs the same job (Postgres only:
    // SQLite is one instance by design).
    let peer = match backend {
        Backend::Postgres => Some(app.spawn_peer().await),
        Backend::Sqlite => None,
    };
    // The response deadline passes.
    let db = app.server.state.db.clone();
    sqlx::query("UPDATE tickets SET response_due_at = $2 WHERE id = $1")
        .bind(&id)
        .bind(fieldops_server::db::now_ms() - 1000)
        .execute(db.pool())
        .await
        .unwrap();
    let event = loop {
        let e = next_json(&mut console, 20).await;
        if e["kind"] == "ticket.sla_breached" {
            break e;
        }
    };
    assert_eq!(event["data"]["ticket_id"], id.as_str());
    assert_eq!(event["data"]["breach"], "response");
    assert_eq!(event["data"]["priority"], "high");

    let told = loop {
        let e = next_json(&mut lead_socket, 20).await;
        if e["kind"] == "ticket.sla_breached" {
            break e;
        }
    };
    assert_eq!(told["data"]["ticket_id"], id.as_str());

    // Both instances keep ticking; a direct pass claims nothing more.
    let again = fieldops_server::helpdesk::escalation::check_breaches(
        &app.server.state,
        fieldops_server::db::now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(again, 0);
    if let Some(peer) = peer {
        peer.stop().await.unwrap();
    }

    // Restart: a fresh server over the same database.
    let url = app.db.url.clone();
    let fieldops_tests::TestApp {
        server,
        db: test_db,
        ..
    } = app;
    server.stop().await.unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: url,
        ..Config::default()
    };
    let state = AppState::build(config).await.unwrap();
    fieldops_server::helpdesk::run_jobs_once(&state).await;
    let claimed = fieldops_server::helpdesk::escalation::check_breaches(
        &state,
        fieldops_server::db::now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(claimed, 0);
    let trail = fieldops_server::db::audit::trail(&state.db, "ticket", &id)
        .await
        .unwrap();
    let breaches = trail
        .iter()
        .filter(|(a, _)| a == "ticket.sla_breached")
        .count();
    assert_eq!(breaches, 1, "{trail:?}");
    let ticket = fieldops_server::db::tickets::get(state.db.pool(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ticket.priority.as_str(), "high", "raised exactly one step");
    assert!(ticket.response_breached_at.is_some());
    assert!(ticket.resolution_breached_at.is_none());
    // The deadline not yet missed runs to the raised priority's target,
    // counted from the escalation: what the explanation says is stored.
    use fieldops_server::domain::Priority;
    use fieldops_server::helpdesk::sla::{ClockInput, deadlines};
    let as_if = |priority| {
        deadlines(
            &state.calendar(),
            &ClockInput {
                priority,
                created_at: ticket.escalated_at.unwrap(),
                pauses: &[],
                waiting_since: None,
                escalated_at: None,
            },
        )
    };
    assert_eq!(
        ticket.resolution_due_at,
        as_if(Priority::High).resolution_due_at
    );
    assert_ne!(
        ticket.resolution_due_at,
        as_if(Priority::Normal).resolution_due_at,
        "recomputed, not the opening priority's"
    );
    let view = fieldops_server::helpdesk::deadlines_of(&state.calendar(), &ticket, &[]);
    assert!(
        view.explanation.starts_with("high priority")
            && view.explanation.contains("escalated at")
            && view.explanation.contains("counted from the escalation"),
        "{}",
        view.explanation
    );
    assert_eq!(view.resolution_due_at, ticket.resolution_due_at);
    let notes = fieldops_server::db::tickets::messages(state.db.pool(), &id, true)
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].internal, 1, "the escalation note is internal");
    // Kept as a catalogue reference: each reader reads it in their language.
    use fieldops_server::i18n::{Lang, read};
    let (en, id_text) = (
        read(&notes[0].body, Lang::English),
        read(&notes[0].body, Lang::Id),
    );
    assert!(
        en.starts_with("SLA ") && en.contains("priority normal -> high"),
        "{en}"
    );
    assert!(
        id_text.starts_with("Tenggat ") && id_text.contains("prioritas normal -> tinggi"),
        "{id_text}"
    );
    let customer_view = fieldops_server::db::tickets::messages(state.db.pool(), &id, false)
        .await
        .unwrap();
    assert!(customer_view.is_empty());
    state.shutdown.cancel();
    state.db.close().await;
    test_db.drop_schema().await;
}
