//! Live chat: routing to available staff, client-id dedupe, unread counts and
//! mark-read, paging, search, live delivery and who may read what.

use fieldops_tests::{Backend, TestApp, next_json, on_both_backends, websocket};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    chat_routes_dedupes_counts_unread_and_goes_live,
    offline_staff_hear_nothing_and_the_customer_is_told
);

async fn next_chat(socket: &mut fieldops_tests::Socket) -> Value {
    loop {
        let e = next_json(socket, 10).await;
        if e["kind"] == "chat.message" {
            return e["data"].clone();
        }
    }
}

async fn chat_routes_dedupes_counts_unread_and_goes_live(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    let cs_id = app.get("/api/v1/me", &cs).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Nobody available: the conversation waits unassigned.
    let first = app
        .post(
            "/api/v1/conversations",
            &customer,
            json!({ "message": "Halo?" }),
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert!(first.body["conversation"]["assignee_id"].is_null());

    app.call(
        Method::PUT,
        "/api/v1/me/status",
        Some(&cs),
        Some(json!({ "status": "available" })),
    )
    .await;
    let waiting = app.get("/api/v1/conversations", &cs).await;
    assert_eq!(
        waiting.body["items"][0]["assignee_id"],
        cs_id.as_str(),
        "queued conversations are routed when someone is available"
    );
    let mut console = websocket(app.server.addr, "/api/v1/events", &cs).await;
    let mut phone = websocket(app.server.addr, "/api/v1/events", &customer).await;

    let started = app
        .post(
            "/api/v1/conversations",
            &customer,
            json!({ "message": "Printer rusak", "client_id": "m-1" }),
        )
        .await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    let conv = started.body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        started.body["conversation"]["assignee_id"],
        cs_id.as_str(),
        "routed to the available agent"
    );
    // The notice of the earlier routing ("… now handles your conversation")
    // may reach the console just after it subscribed: it is not what this
    // checks.
    let live = loop {
        let message = next_chat(&mut console).await;
        if message["sender_kind"] != "system" {
            break message;
        }
    };
    assert_eq!(live["body"], "Printer rusak");

    // The same first message again (an outbox replay) opens nothing new.
    let replay = app
        .post(
            "/api/v1/conversations",
            &customer,
            json!({ "message": "Printer rusak", "client_id": "m-1" }),
        )
        .await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.body["conversation"]["id"], conv.as_str());
    assert_eq!(replay.body["message"]["id"], started.body["message"]["id"]);

    let path = format!("/api/v1/conversations/{conv}");
    for (i, text) in ["Model HP 1020", "Lampu oranye berkedip"]
        .iter()
        .enumerate()
    {
        let r = app
            .post(
                &format!("{path}/messages"),
                &customer,
                json!({ "body": text, "client_id": format!("m-{}", i + 2) }),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let dup = app
        .post(
            &format!("{path}/messages"),
            &customer,
            json!({ "body": "Model HP 1020", "client_id": "m-2" }),
        )
        .await;
    assert_eq!(
        dup.status, 200,
        "a retry with the same client id is stored once"
    );

    let list = app.get("/api/v1/conversations", &cs).await;
    let row = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == conv.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["unread_count"], 3);
    assert_eq!(row["last_message"], "Lampu oranye berkedip");
    assert_eq!(
        list.body["items"][0]["id"],
        conv.as_str(),
        "most recent activity first"
    );
    let mine = app.get("/api/v1/conversations", &customer).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        mine.body["items"][0]["unread_count"], 0,
        "own messages are not unread"
    );

    let read = app.post(&format!("{path}/read"), &cs, json!({})).await;
    assert_eq!(read.body["unread_count"], 0);
    let reply = app
        .post(
            &format!("{path}/messages"),
            &cs,
            json!({ "body": "Kami kirim teknisi" }),
        )
        .await;
    assert_eq!(reply.status, 201);
    let live = loop {
        let m = next_chat(&mut phone).await;
        if m["body"] == "Kami kirim teknisi" {
            break m;
        }
    };
    assert_eq!(live["sender_kind"], "staff");
    let mine = app.get("/api/v1/conversations", &customer).await;
    assert_eq!(mine.body["items"][0]["unread_count"], 1);
    let cs_row = app
        .get(
            &format!(
                "/api/v1/conversations?customer_id={}",
                started.body["conversation"]["customer_id"]
                    .as_str()
                    .unwrap()
            ),
            &cs,
        )
        .await;
    assert_eq!(
        cs_row.body["items"][0]["unread_count"], 0,
        "staff's own reply is not unread"
    );
    app.post(&format!("{path}/read"), &customer, json!({}))
        .await;
    assert_eq!(
        app.get("/api/v1/conversations", &customer).await.body["items"][0]["unread_count"],
        0
    );

    // Messages page newest first.
    let page1 = app
        .get(&format!("{path}/messages?limit=2"), &customer)
        .await;
    let bodies = |r: &fieldops_tests::Reply| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        bodies(&page1),
        ["Kami kirim teknisi", "Lampu oranye berkedip"]
    );
    let cursor = page1.body["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(
            &format!("{path}/messages?limit=2&cursor={cursor}"),
            &customer,
        )
        .await;
    assert_eq!(bodies(&page2), ["Model HP 1020", "Printer rusak"]);
    assert!(page2.body["next_cursor"].is_null());

    // Search by content and by customer name.
    let found = app.get("/api/v1/conversations?q=oranye", &cs).await;
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
    let by_name = app.get("/api/v1/conversations?q=hendra", &cs).await;
    assert_eq!(by_name.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("/api/v1/conversations?q=nothing-here", &cs)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Others may not read it.
    app.get("/api/v1/conversations", &app.login_as("sales").await)
        .await
        .assert_problem(403);
    let other = app.post("/api/v1/auth/register", "", json!({
        "email": "lain@example.com", "password": "password-9", "name": "Orang Lain", "phone": "+6281377778888",
    })).await;
    assert!(other.status.is_success(), "{:?}", other.body);
    let stranger = app.login("lain@example.com", "password-9").await;
    app.get(&format!("{path}/messages"), &stranger)
        .await
        .assert_problem(403);
    app.post(
        &format!("{path}/messages"),
        &stranger,
        json!({ "body": "hi" }),
    )
    .await
    .assert_problem(403);
    app.post(
        &format!("{path}/messages"),
        &customer,
        json!({ "body": "   " }),
    )
    .await
    .assert_problem(422);
    app.post(
        &format!("{path}/messages"),
        &customer,
        json!({ "body": "x", "client_id": "a b" }),
    )
    .await
    .assert_problem(422);
    app.stop().await;
}

/// The next event of one of `kinds`, skipping others.
async fn next_of(socket: &mut fieldops_tests::Socket, kinds: &[&str]) -> Value {
    loop {
        let e = next_json(socket, 10).await;
        if kinds.iter().any(|k| e["kind"] == *k) {
            return e;
        }
    }
}

/// Seeds 000/001: "when they are off they will no longer receive calls or
/// messages". Staff whose presence is `offline` get no live chat message;
/// the customer is told, in their language, that nobody is available, and
/// later who picked the conversation up.
async fn offline_staff_hear_nothing_and_the_customer_is_told(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let admin = app.login_as("admin").await;
    let customer = app.login_as("customer").await;
    let cs_name = app.get("/api/v1/me", &cs).await.body["user"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    // Everyone starts offline.
    let mut console = websocket(app.server.addr, "/api/v1/events", &cs).await;
    let mut phone = websocket(app.server.addr, "/api/v1/events", &customer).await;

    let opened = app
        .post(
            "/api/v1/conversations",
            &customer,
            json!({ "message": "AC mati total" }),
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    assert!(opened.body["conversation"]["assignee_id"].is_null());
    let conv = opened.body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The customer hears their own message, then the system's word.
    assert_eq!(next_chat(&mut phone).await["body"], "AC mati total");
    let told = next_chat(&mut phone).await;
    assert_eq!(told["sender_kind"], "system");
    assert!(
        told["body"]
            .as_str()
            .unwrap()
            .contains("belum ada agen yang tersedia"),
        "in Bahasa Indonesia, the customer's default: {told}"
    );

    // Offline CS heard nothing: the next thing on their socket is the
    // admin's presence change, which was published after the message.
    app.set_presence(&admin, "busy").await;
    let first = next_of(&mut console, &["chat.message", "staff.presence"]).await;
    assert_eq!(first["kind"], "staff.presence", "{first}");

    // CS comes on duty: the waiting conversation is theirs, and the
    // customer is told who took it.
    app.set_presence(&cs, "available").await;
    let picked = next_chat(&mut phone).await;
    assert_eq!(picked["sender_kind"], "system");
    let picked_body = picked["body"].as_str().unwrap();
    assert!(
        picked_body.contains(&cs_name) && picked_body.contains("sekarang menangani"),
        "{picked_body}"
    );
    let thread = app
        .get(&format!("/api/v1/conversations/{conv}/messages"), &cs)
        .await;
    let kinds: Vec<_> = thread.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sender_kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "system").count(),
        2,
        "{:?}",
        thread.body
    );

    // On duty, CS hear the customer live.
    let path = format!("/api/v1/conversations/{conv}/messages");
    app.post(&path, &customer, json!({ "body": "Masih mati" }))
        .await;
    // (The word to the customer that CS took it came first.)
    loop {
        let heard = next_of(&mut console, &["chat.message"]).await;
        if heard["data"]["body"] == "Masih mati" {
            break;
        }
        assert_eq!(heard["data"]["sender_kind"], "system", "{heard}");
    }

    // Offline again: nothing, though the inbox still shows it on purpose.
    app.set_presence(&cs, "offline").await;
    app.post(&path, &customer, json!({ "body": "Halo? Ada orang?" }))
        .await;
    app.set_presence(&admin, "away").await;
    loop {
        let e = next_of(&mut console, &["chat.message", "staff.presence"]).await;
        assert_ne!(e["kind"], "chat.message", "offline staff get no chat: {e}");
        if e["data"]["presence"] == "away" {
            break;
        }
    }
    let inbox = app.get(&path, &cs).await;
    assert!(
        inbox.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == "Halo? Ada orang?"),
        "{:?}",
        inbox.body
    );
    app.stop().await;
}
