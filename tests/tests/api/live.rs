//! Live events over WebSocket: delivered to who may see them, replayed after a
//! reconnect, and carried across instances on Postgres.

use fieldops_tests::{Backend, TestApp, next_json, on_both_backends, websocket};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    consoles_receive_the_events_they_may_see,
    events_cross_instances_and_replay_after_reconnect
);

async fn consoles_receive_the_events_they_may_see(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    let mut console = websocket(app.server.addr, "/api/v1/events", &cs).await;
    let mut phone = websocket(app.server.addr, "/api/v1/events", &customer).await;

    let created = app
        .post(
            "/api/v1/customers",
            &cs,
            json!({ "name": "Pak RT", "phone": "+6281355550001" }),
        )
        .await;
    let event = next_json(&mut console, 10).await;
    assert_eq!(event["kind"], "customer.created");
    assert_eq!(event["data"]["id"], created.body["id"]);
    assert!(event.get("audience").is_none(), "routing is not sent");

    let tech = app.login_as("technician").await;
    app.call(
        Method::PUT,
        "/api/v1/me/status",
        Some(&tech),
        Some(json!({ "status": "available" })),
    )
    .await;
    let presence = next_json(&mut console, 10).await;
    assert_eq!(
        (
            presence["kind"].as_str(),
            presence["data"]["presence"].as_str()
        ),
        (Some("staff.presence"), Some("available"))
    );

    // The customer saw neither: staff-only events never reach them. Send them
    // something of their own and check it is the first thing they get.
    let me = app.get("/api/v1/me", &customer).await;
    let customer_id = me.body["customer"]["id"].as_str().unwrap().to_owned();
    fieldops_server::work::publish(
        &app.server.state,
        "ticket.updated",
        fieldops_server::events::Audience::Customer { customer_id },
        json!({ "n": 1 }),
    )
    .await
    .unwrap();
    let own = next_json(&mut phone, 10).await;
    assert_eq!(own["kind"], "ticket.updated");

    let plain = app.get("/api/v1/events", &cs).await;
    assert_eq!(plain.assert_problem(426), "upgrade-required");
    app.stop().await;
}

async fn events_cross_instances_and_replay_after_reconnect(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    // On Postgres the console listens on a second instance; SQLite is one instance.
    let peer = match backend {
        Backend::Postgres => Some(app.spawn_peer().await),
        Backend::Sqlite => None,
    };
    let addr = peer.as_ref().map_or(app.server.addr, |p| p.addr);
    let mut console = websocket(addr, "/api/v1/events", &cs).await;
    let first = app
        .post(
            "/api/v1/customers",
            &cs,
            json!({ "name": "Satu", "phone": "+6281355550011" }),
        )
        .await;
    let seen = next_json(&mut console, 10).await;
    assert_eq!(seen["data"]["id"], first.body["id"]);
    // An event too big for a NOTIFY payload (8000 bytes) travels by id and
    // arrives whole all the same.
    let big = "x".repeat(20_000);
    fieldops_server::work::publish(
        &app.server.state,
        "customer.updated",
        fieldops_server::events::Audience::Staff {
            department_id: None,
        },
        json!({ "note": big }),
    )
    .await
    .unwrap();
    let bulky = next_json(&mut console, 10).await;
    assert_eq!(bulky["kind"], "customer.updated");
    assert_eq!(bulky["data"]["note"].as_str().map(str::len), Some(20_000));
    drop(console);

    // Offline for a while: two more changes happen.
    for (name, phone) in [("Dua", "+6281355550012"), ("Tiga", "+6281355550013")] {
        app.post(
            "/api/v1/customers",
            &cs,
            json!({ "name": name, "phone": phone }),
        )
        .await;
    }
    let since = bulky["id"].as_str().unwrap();
    let mut console = websocket(addr, &format!("/api/v1/events?since={since}"), &cs).await;
    let names: Vec<String> = [
        next_json(&mut console, 10).await,
        next_json(&mut console, 10).await,
    ]
    .iter()
    .map(|e| e["data"]["name"].as_str().unwrap().to_owned())
    .collect();
    assert_eq!(names, ["Dua", "Tiga"]);
    if let Some(peer) = peer {
        peer.stop().await.unwrap();
    }
    app.stop().await;
}
