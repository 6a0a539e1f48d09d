//! Registration with a phone that belongs to someone: the probe's account
//! takeover, the honest path with a one-time code sent over WhatsApp (a
//! local stand-in for the Cloud API checks the template message's real
//! wire format), the code's limits, and CS merging the duplicate record an
//! unproved registration leaves.

use std::time::Duration;

use fieldops_sync::ids::DocId;
use fieldops_tests::device::Device;
use fieldops_tests::{Backend, Reply, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

on_both_backends!(
    registering_with_someone_elses_phone_takes_nothing_of_theirs,
    a_proved_phone_takes_over_its_customer_record,
    codes_are_short_lived_few_and_spent_once,
    cs_merge_a_duplicate_into_the_real_record,
);

async fn register(app: &TestApp, body: Value) -> Reply {
    app.call(Method::POST, "/api/v1/auth/register", None, Some(body))
        .await
}

async fn ask_code(app: &TestApp, phone: &str) -> Reply {
    app.call(
        Method::POST,
        "/api/v1/auth/phone-codes",
        None,
        Some(json!({ "phone": phone })),
    )
    .await
}

/// The code in the next template message to `to` (digits only).
async fn code_sent_to(sent: &mut mpsc::UnboundedReceiver<Value>, to: &str) -> String {
    let message = tokio::time::timeout(Duration::from_secs(20), sent.recv())
        .await
        .expect("no WhatsApp message was sent")
        .unwrap();
    assert_eq!(message["to"], to);
    assert_eq!(
        message["type"], "template",
        "a template: outside the 24-hour window too"
    );
    let template = &message["template"];
    assert_eq!(template["name"], "fieldops_kode_verifikasi");
    assert_eq!(template["language"]["code"], "id");
    let body = &template["components"][0];
    assert_eq!(body["type"], "body");
    let code = body["parameters"][0]["text"].as_str().unwrap().to_owned();
    let button = &template["components"][1];
    assert_eq!(
        (button["type"].as_str(), button["sub_type"].as_str()),
        (Some("button"), Some("url"))
    );
    assert_eq!(
        button["parameters"][0]["text"],
        code.as_str(),
        "copy-code button"
    );
    assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()));
    code
}

/// A customer CS made, with a ticket (and so a ticket document).
async fn victim(app: &TestApp, cs: &str, phone: &str) -> (String, String) {
    let customer = app
        .post(
            "/api/v1/customers",
            cs,
            json!({ "name": "Pak Joko", "phone": phone, "address": "Jl. Kenanga 7, Bogor" }),
        )
        .await;
    assert_eq!(customer.status, 201);
    let id = customer.body["id"].as_str().unwrap().to_owned();
    let ticket = app
        .post(
            "/api/v1/tickets",
            cs,
            json!({ "customer_id": id, "subject": "Pompa air rusak",
                    "description": "Rumah Pak Joko", "category": "technical" }),
        )
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    (id, ticket.body["id"].as_str().unwrap().to_owned())
}

async fn registering_with_someone_elses_phone_takes_nothing_of_theirs(backend: Backend) {
    let Some((app, _sent)) = fieldops_tests::whatsapp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let (joko, ticket) = victim(&app, &cs, "+6281555550000").await;
    let mut staff = fieldops_tests::websocket(app.server.addr, "/api/v1/events", &cs).await;

    // The probe's attack: register with the victim's number, no proof.
    let reply = register(
        &app,
        json!({ "name": "Joko", "email": "penyusup@example.com", "phone": "081555550000",
                "password": "rahasia123" }),
    )
    .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let token = reply.body["access_token"].as_str().unwrap();
    assert_ne!(
        reply.body["user"]["customer_id"],
        joko.as_str(),
        "not linked"
    );
    let me = app.get("/api/v1/me", token).await;
    assert_eq!(me.body["customer"]["phone_verified"], false);
    assert_eq!(
        me.body["customer"]["address"], "",
        "not the victim's address"
    );
    // Nothing of the victim over HTTP...
    let tickets = app.get("/api/v1/tickets", token).await;
    assert_eq!(tickets.body["items"].as_array().unwrap().len(), 0);
    app.get(&format!("/api/v1/tickets/{ticket}"), token)
        .await
        .assert_problem(403);
    app.get(&format!("/api/v1/customers/{joko}"), token)
        .await
        .assert_problem(403);
    let visits = app.get("/api/v1/visits", token).await;
    assert_eq!(visits.body["items"].as_array().unwrap().len(), 0);
    let chats = app.get("/api/v1/conversations", token).await;
    assert_eq!(chats.body["items"].as_array().unwrap().len(), 0);
    // ...and nothing over sync.
    let (mut phone, messages) = Device::connect(app.server.addr, token, 0).await;
    for message in &messages {
        phone.apply(message);
    }
    assert!(
        phone.docs.is_empty(),
        "documents of another customer: {:?}",
        phone.docs.keys()
    );
    // CS hear of a new record that may duplicate Pak Joko's.
    let event = loop {
        let event = fieldops_tests::next_json(&mut staff, 10).await;
        if event["kind"] == "customer.registered" {
            break event;
        }
    };
    assert_eq!(event["data"]["possible_duplicate_of"], joko.as_str());
    assert_eq!(event["data"]["phone_verified"], false);

    // A phone whose record already has an app account cannot get another.
    let taken = register(
        &app,
        json!({ "name": "X", "email": "x@example.com", "phone": "+6281210000001",
                "password": "rahasia123" }),
    )
    .await;
    assert_eq!(taken.assert_problem(409), "duplicate");
    assert_eq!(taken.body["errors"][0]["field"], "phone");
    app.stop().await;
}

async fn a_proved_phone_takes_over_its_customer_record(backend: Backend) {
    let Some((app, mut sent)) = fieldops_tests::whatsapp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let (joko, ticket) = victim(&app, &cs, "+6281555550001").await;

    let asked = ask_code(&app, "0815-5555-0001").await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    assert_eq!(asked.body["expires_in"], 600);
    let code_id = asked.body["code_id"].clone();
    let code = code_sent_to(&mut sent, "6281555550001").await;
    let body = json!({ "name": "Joko", "email": "joko@example.com", "phone": "081555550001",
                       "password": "rahasia123",
                       "phone_code": { "code_id": code_id, "code": code } });
    let reply = register(&app, body.clone()).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["user"]["customer_id"], joko.as_str(), "linked");
    let token = reply.body["access_token"].as_str().unwrap();
    let mine = app.get(&format!("/api/v1/tickets/{ticket}"), token).await;
    assert_eq!(mine.status, 200, "their own history");
    let (mut phone, messages) = Device::connect(app.server.addr, token, 0).await;
    for message in &messages {
        phone.apply(message);
    }
    assert!(!phone.docs.is_empty(), "their ticket syncs to their phone");

    // The code is spent; the queue no longer holds it.
    let mut again = body;
    again["email"] = json!("joko2@example.com");
    let reused = register(&app, again).await;
    assert_eq!(reused.assert_problem(422), "validation");
    assert_eq!(reused.body["errors"][0]["field"], "phone_code");
    let outbox = fieldops_server::db::whatsapp::outbox(&app.server.state.db)
        .await
        .unwrap();
    assert!(outbox.iter().all(|m| !m.body.contains(code.as_str())));
    assert!(outbox.iter().all(|m| m.template.is_none()));
    app.stop().await;
}

async fn codes_are_short_lived_few_and_spent_once(backend: Backend) {
    let Some((app, mut sent)) = fieldops_tests::whatsapp::spawn(backend).await else {
        return;
    };
    // Five wrong guesses kill a code: the right one then fails too.
    let asked = ask_code(&app, "+6281555550002").await;
    let code_id = asked.body["code_id"].clone();
    let code = code_sent_to(&mut sent, "6281555550002").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let attempt = |email: String, code: String| {
        let app = &app;
        let code_id = code_id.clone();
        async move {
            register(
                app,
                json!({ "name": "Tebak", "email": email, "phone": "+6281555550002",
                        "password": "rahasia123",
                        "phone_code": { "code_id": code_id, "code": code } }),
            )
            .await
        }
    };
    for i in 0..5 {
        let guess = attempt(format!("tebak{i}@example.com"), wrong.to_owned()).await;
        assert_eq!(guess.body["errors"][0]["field"], "phone_code");
    }
    let late = attempt("tebak@example.com".into(), code.clone()).await;
    assert_eq!(
        late.body["errors"][0]["field"], "phone_code",
        "dead after 5"
    );

    // An expired code fails.
    let asked = ask_code(&app, "+6281555550002").await;
    let expired_id = asked.body["code_id"].as_str().unwrap().to_owned();
    let expired_code = code_sent_to(&mut sent, "6281555550002").await;
    sqlx::query("UPDATE phone_codes SET expires_at = 0 WHERE id = $1")
        .bind(&expired_id)
        .execute(app.server.state.db.pool())
        .await
        .unwrap();
    let reply = register(
        &app,
        json!({ "name": "Lama", "email": "lama@example.com", "phone": "+6281555550002",
                "password": "rahasia123",
                "phone_code": { "code_id": expired_id, "code": expired_code } }),
    )
    .await;
    assert_eq!(reply.body["errors"][0]["field"], "phone_code");

    // Three codes an hour per phone: the fourth is refused.
    assert_eq!(ask_code(&app, "+6281555550002").await.status, 202);
    let flood = ask_code(&app, "+6281555550002").await;
    assert_eq!(flood.assert_problem(429), "too-many-requests");
    assert!(flood.headers.contains_key("retry-after"));
    // Ten an hour from one address, whatever the numbers.
    for i in 0..7 {
        let asked = ask_code(&app, &format!("+62815555501{i:02}")).await;
        assert_eq!(asked.status, 202, "{i}: {:?}", asked.body);
    }
    let walk = ask_code(&app, "+6281555550199").await;
    assert_eq!(walk.assert_problem(429), "too-many-requests");
    // A malformed number is named.
    let bad = ask_code(&app, "12").await;
    assert_eq!(bad.body["errors"][0]["field"], "phone");
    app.stop().await;
}

async fn cs_merge_a_duplicate_into_the_real_record(backend: Backend) {
    let Some((app, _sent)) = fieldops_tests::whatsapp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let (joko, ticket) = victim(&app, &cs, "+6281555550003").await;
    // Joko registers without the code (his phone was off) and opens a ticket.
    let reply = register(
        &app,
        json!({ "name": "Joko", "email": "joko3@example.com", "phone": "+6281555550003",
                "password": "rahasia123" }),
    )
    .await;
    let token = reply.body["access_token"].as_str().unwrap().to_owned();
    let duplicate = reply.body["user"]["customer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = app
        .post(
            "/api/v1/tickets",
            &token,
            json!({ "subject": "Tagihan", "description": "", "category": "billing" }),
        )
        .await;
    assert_eq!(own.status, 201, "{:?}", own.body);
    let (mut phone, messages) = Device::connect(app.server.addr, &token, 0).await;
    for message in &messages {
        phone.apply(message);
    }
    let cursor = phone.cursor;

    // Only staff who manage customers merge.
    let sales = app.login_as("sales").await;
    let path = format!("/api/v1/customers/{duplicate}/merge");
    app.post(&path, &sales, json!({ "into": joko }))
        .await
        .assert_problem(403);
    let merged = app.post(&path, &cs, json!({ "into": joko })).await;
    assert_eq!(merged.status, 200, "{:?}", merged.body);
    assert_eq!(merged.body["id"], joko.as_str());
    let old = app
        .get(&format!("/api/v1/customers/{duplicate}"), &cs)
        .await;
    assert_eq!(old.body["status"], "inactive");
    assert_eq!(old.body["merged_into"], joko.as_str());

    // The account now reads both histories, over HTTP and on its phone
    // (which resumes from where it was).
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.body["customer"]["id"], joko.as_str());
    let tickets = app.get("/api/v1/tickets", &token).await;
    let ids: Vec<&str> = tickets.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&ticket.as_str()) && ids.contains(&own.body["id"].as_str().unwrap()));
    let (mut phone, messages) = Device::connect(app.server.addr, &token, cursor).await;
    for message in &messages {
        phone.apply(message);
    }
    let ticket_doc: DocId = ticket.parse().unwrap(); // a ticket's document has its id
    assert!(
        phone.docs.contains_key(&ticket_doc),
        "the merged ticket reached the phone"
    );
    // Merging again, or into itself, is refused.
    app.post(&path, &cs, json!({ "into": joko }))
        .await
        .assert_problem(409);
    app.post(
        &format!("/api/v1/customers/{joko}/merge"),
        &cs,
        json!({ "into": joko }),
    )
    .await
    .assert_problem(422);
    app.stop().await;
}
