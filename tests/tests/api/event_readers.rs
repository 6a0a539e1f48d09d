//! Who hears what on `/api/v1/events`: every event kind sent to staff,
//! walked against every role over real sockets, must reach exactly the
//! roles that may read the same thing over HTTP — technicians are staff,
//! but never hear a new customer's name, a WhatsApp recipient's number, a
//! chat, or where another technician checked in.

use std::collections::BTreeSet;

use fieldops_server::events::{Audience, KINDS};
use fieldops_server::work::publish;
use fieldops_tests::{Backend, ROLES, Socket, TestApp, next_json, on_both_backends, websocket};
use serde_json::json;

on_both_backends!(every_event_kind_reaches_exactly_its_roles);

/// Which roles read staff events of `kind`: the HTTP API's answer to "may
/// this role read that", written out by hand.
fn readers(kind: &str) -> &'static [&'static str] {
    match kind.split('.').next().unwrap() {
        "customer" => &["admin", "cs", "sales"],
        "whatsapp" | "chat" | "conversation" => &["admin", "cs"],
        "attendance" | "extension" => &["admin", "cs"],
        "invoice" => &["admin", "cs", "sales"],
        // Who may list customers (ratings name the visit judged).
        "rating" => &["admin", "cs", "sales"],
        // What needs an admin, and who changed the settings: admins only.
        "alert" | "settings" => &["admin"],
        // Journeys are built by admins.
        "journey" => &["admin"],
        // Who called whom: the call log's readers.
        "call" => &["admin", "cs"],
        "visit" | "assignment" | "ticket" | "staff" => &["admin", "cs", "sales", "technician"],
        other => panic!("no expectation for event family {other:?}: add it here"),
    }
}

/// Reads `socket` until the sentinel `visit.updated` addressed to the
/// account, returning the kinds seen before it.
async fn kinds_until_sentinel(socket: &mut Socket) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    loop {
        let event = next_json(socket, 10).await;
        if event["data"]["sentinel"] == true {
            return seen;
        }
        seen.insert(event["kind"].as_str().unwrap().to_owned());
    }
}

async fn every_event_kind_reaches_exactly_its_roles(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let state = &app.server.state;
    let mut consoles = Vec::new();
    for role in ROLES {
        let token = app.login_as(role).await;
        let me = app.get("/api/v1/me", &token).await;
        let user_id = me.body["user"]["id"].as_str().unwrap().to_owned();
        let socket = websocket(app.server.addr, "/api/v1/events", &token).await;
        consoles.push((role, user_id, token, socket));
    }
    let staff_kinds: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| !matches!(*k, "sync.changed" | "account.changed"))
        .collect();
    for kind in &staff_kinds {
        let everyone = Audience::Staff {
            department_id: None,
        };
        publish(state, kind, everyone, json!({ "probe": kind }))
            .await
            .unwrap();
    }
    for (_, user_id, _, _) in &consoles {
        let to = Audience::User {
            user_id: user_id.clone(),
        };
        publish(state, "visit.updated", to, json!({ "sentinel": true }))
            .await
            .unwrap();
    }
    for (role, _, _, socket) in &mut consoles {
        let seen = kinds_until_sentinel(socket).await;
        let expected: BTreeSet<String> = staff_kinds
            .iter()
            .filter(|k| readers(k).contains(role))
            .map(|k| (*k).to_owned())
            .collect();
        assert_eq!(seen, expected, "what a {role} console heard");
    }

    // The probe's findings, through the real flows: a customer created by
    // CS reaches CS and not the technician.
    let (_, _, cs, _) = &consoles[1];
    let created = app
        .post(
            "/api/v1/customers",
            cs,
            json!({ "name": "Ibu Ratna", "phone": "+6281355550009" }),
        )
        .await;
    assert_eq!(created.status, 201);
    for (_, user_id, _, _) in &consoles {
        let to = Audience::User {
            user_id: user_id.clone(),
        };
        publish(state, "visit.updated", to, json!({ "sentinel": true }))
            .await
            .unwrap();
    }
    for (role, _, _, socket) in &mut consoles {
        let seen = kinds_until_sentinel(socket).await;
        assert_eq!(
            seen.contains("customer.created"),
            readers("customer.created").contains(role),
            "{role}: {seen:?}"
        );
    }
    app.stop().await;
}
