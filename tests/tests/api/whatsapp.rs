//! The WhatsApp webhook and outbound queue against a local stand-in for the
//! Cloud API: handshake, signature rejection, registration, redelivery,
//! chat, malformed payloads, and retried sends with the real request shape.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

on_both_backends!(
    whatsapp_registers_chats_and_replies,
    control_characters_in_a_whatsapp_text_are_dropped_not_refused,
    a_customer_who_writes_on_whatsapp_is_answered_there,
);

const SECRET: &str = "app-secret-for-tests";

#[derive(Clone)]
struct Mock {
    calls: Arc<AtomicUsize>,
    seen: mpsc::UnboundedSender<Value>,
}

/// `POST /v21.0/{phone_number_id}/messages` as the Cloud API: fails the first
/// call with 500, then checks the request and answers like Meta.
async fn cloud_api(
    State(mock): State<Mock>,
    Path(phone_number_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let n = mock.calls.fetch_add(1, Ordering::SeqCst);
    let shape_ok = phone_number_id == "1098765"
        && headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer cloud-token")
        && body["messaging_product"] == "whatsapp"
        && body["recipient_type"] == "individual"
        && body["type"] == "text"
        && body["to"]
            .as_str()
            .is_some_and(|t| t.chars().all(|c| c.is_ascii_digit()))
        && body["text"]["body"].as_str().is_some_and(|b| !b.is_empty());
    if !shape_ok {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "message": "bad request shape" } })),
        );
    }
    if n == 0 {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": { "message": "try later" } })),
        );
    }
    let _ = mock.seen.send(body.clone());
    (
        StatusCode::OK,
        Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": body["to"], "wa_id": body["to"] }],
            "messages": [{ "id": format!("wamid.out.{n}") }],
        })),
    )
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn text_payload(id: &str, from: &str, text: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "6281100000000", "phone_number_id": "1098765" },
            "contacts": [{ "profile": { "name": "Rina" }, "wa_id": from }],
            "messages": [{ "from": from, "id": id, "timestamp": "1763800000", "type": "text", "text": { "body": text } }],
        }}]}],
    })
}

async fn deliver(app: &TestApp, body: &[u8], signature: Option<&str>) -> u16 {
    let mut request = app
        .client
        .post(app.url("/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        request = request.header("x-hub-signature-256", s);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn deliver_signed(app: &TestApp, payload: &Value) -> u16 {
    let body = serde_json::to_vec(payload).unwrap();
    deliver(app, &body, Some(&sign(&body))).await
}

async fn next_sent(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("the outbound message was not sent")
        .unwrap()
}

/// A server whose WhatsApp sender talks to the local Cloud API stand-in:
/// what it sent arrives on the receiver (the stand-in fails its first call).
async fn with_cloud_api(
    backend: Backend,
) -> Option<(
    TestApp,
    mpsc::UnboundedReceiver<Value>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let (tx, sent) = mpsc::unbounded_channel();
    let mock = Mock {
        calls: Arc::new(AtomicUsize::new(0)),
        seen: tx,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock_addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .route("/v21.0/{id}/messages", axum::routing::post(cloud_api))
        .with_state(mock.clone());
    let mock_task = tokio::spawn(async move { axum::serve(listener, router).await });

    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.helpdesk_job_interval = Duration::from_millis(100);
        c.whatsapp.verify_token = Some("verify-me".into());
        c.whatsapp.app_secret = Some(SECRET.into());
        c.whatsapp.api_base_url = format!("http://{mock_addr}/v21.0");
        c.whatsapp.phone_number_id = "1098765".into();
        c.whatsapp.access_token = Some("cloud-token".into());
    })
    .await
    else {
        mock_task.abort();
        return None;
    };
    Some((app, sent, mock_task))
}

async fn whatsapp_registers_chats_and_replies(backend: Backend) {
    let Some((app, mut sent, mock_task)) = with_cloud_api(backend).await else {
        return;
    };

    // Handshake.
    let ok = app
        .call(Method::GET, "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", None, None)
        .await;
    assert_eq!(
        (ok.status.as_u16(), ok.body.clone()),
        (200, json!(1158201444))
    );
    let bad = app
        .call(
            Method::GET,
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1",
            None,
            None,
        )
        .await;
    bad.assert_problem(403);

    // Signatures are checked on the raw body before anything else.
    let registration = text_payload(
        "wamid.REG1",
        "6281355551234",
        "DAFTAR#Rina Wati#Jl. Kenanga 3#Malang",
    );
    let body = serde_json::to_vec(&registration).unwrap();
    assert_eq!(deliver(&app, &body, None).await, 401);
    assert_eq!(deliver(&app, &body, Some("sha256=00")).await, 401);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(deliver(&app, &tampered, Some(&sign(&body))).await, 401);
    assert_eq!(deliver(&app, b"not json", Some("sha256=zz")).await, 401);
    let cs = app.login_as("cs").await;
    let mut console = fieldops_tests::websocket(app.server.addr, "/api/v1/events", &cs).await;
    assert_eq!(
        app.get("/api/v1/customers?q=Rina", &cs).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Registration, delivered twice (Meta redelivers).
    assert_eq!(deliver(&app, &body, Some(&sign(&body))).await, 200);
    assert_eq!(deliver(&app, &body, Some(&sign(&body))).await, 200);
    let found = app.get("/api/v1/customers?q=Rina", &cs).await;
    let items = found.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["phone"], "+6281355551234");
    assert_eq!(items[0]["created_via"], "whatsapp");
    assert_eq!(items[0]["city"], "Malang");
    let customer_id = items[0]["id"].as_str().unwrap().to_owned();
    // The confirmation goes out through the queue: first attempt 500, retried.
    let confirmation = next_sent(&mut sent).await;
    assert_eq!(confirmation["to"], "6281355551234");
    assert!(
        confirmation["text"]["body"]
            .as_str()
            .unwrap()
            .contains("Rina Wati")
    );
    loop {
        let e = fieldops_tests::next_json(&mut console, 20).await;
        if e["kind"] == "whatsapp.sent" {
            assert_eq!(e["data"]["attempts"], 2);
            break;
        }
    }
    let outbox = fieldops_server::db::whatsapp::outbox(&app.server.state.db)
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1, "one confirmation despite the redelivery");
    assert_eq!((outbox[0].status.as_str(), outbox[0].attempts), ("sent", 2));
    assert_eq!(outbox[0].provider_id.as_deref(), Some("wamid.out.1"));

    // Registering again from the same number never silently overwrites
    // the person on record: what differs goes to CS to confirm (event and
    // audit), the sender is told so.
    let again = text_payload(
        "wamid.REG2",
        "6281355551234",
        "daftar#Rina W.#Jl. Mawar 9#Batu",
    );
    assert_eq!(deliver_signed(&app, &again).await, 200);
    let kept = app
        .get(&format!("/api/v1/customers/{customer_id}"), &cs)
        .await;
    assert_eq!(
        (kept.body["name"].as_str(), kept.body["city"].as_str()),
        (Some("Rina Wati"), Some("Malang"))
    );
    loop {
        let e = fieldops_tests::next_json(&mut console, 20).await;
        if e["kind"] == "customer.registration_differs" {
            assert_eq!(e["data"]["id"], customer_id.as_str());
            assert_eq!(
                e["data"]["differs"]["name"],
                json!({ "current": "Rina Wati", "sent": "Rina W." })
            );
            assert_eq!(e["data"]["differs"]["city"]["sent"], "Batu");
            break;
        }
    }
    let trail = fieldops_server::db::audit::trail(&app.server.state.db, "customer", &customer_id)
        .await
        .unwrap();
    assert!(
        trail
            .iter()
            .any(|(action, _)| action == "customer.registration_differs"),
        "{trail:?}"
    );
    let answer = next_sent(&mut sent).await;
    assert!(
        answer["text"]["body"]
            .as_str()
            .unwrap()
            .contains("dikonfirmasi"),
        "{answer}"
    );
    // What is blank on the record is filled from the registration.
    let made = app
        .post(
            "/api/v1/customers",
            &cs,
            json!({ "name": "Budi Hartono", "phone": "+6281355557777" }),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let budi = made.body["id"].as_str().unwrap().to_owned();
    let fill = text_payload(
        "wamid.REG3",
        "6281355557777",
        "DAFTAR#Budi Hartono#Jl. Melati 2#Kediri",
    );
    assert_eq!(deliver_signed(&app, &fill).await, 200);
    let filled = app.get(&format!("/api/v1/customers/{budi}"), &cs).await;
    assert_eq!(
        (
            filled.body["name"].as_str(),
            filled.body["address"].as_str(),
            filled.body["city"].as_str()
        ),
        (Some("Budi Hartono"), Some("Jl. Melati 2"), Some("Kediri"))
    );
    let welcome = next_sent(&mut sent).await;
    assert_eq!(welcome["to"], "6281355557777");

    // Any other text goes into the customer's conversation, once.
    let hello = text_payload("wamid.CHAT1", "6281355551234", "Halo, AC saya bocor");
    assert_eq!(deliver_signed(&app, &hello).await, 200);
    assert_eq!(deliver_signed(&app, &hello).await, 200);
    let convs = app
        .get(
            &format!("/api/v1/conversations?customer_id={customer_id}"),
            &cs,
        )
        .await;
    let conv = &convs.body["items"][0];
    assert_eq!(conv["channel"], "whatsapp");
    let conv_id = conv["id"].as_str().unwrap().to_owned();
    let msgs = app
        .get(&format!("/api/v1/conversations/{conv_id}/messages"), &cs)
        .await;
    let thread: Vec<(&str, &str)> = msgs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["sender_kind"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    // Nobody is on duty: the customer is told so, in the thread and on
    // WhatsApp, in Bahasa Indonesia (newest first).
    assert_eq!(thread.len(), 2, "{thread:?}");
    assert_eq!(thread[1], ("customer", "Halo, AC saya bocor"));
    assert_eq!(thread[0].0, "system");
    assert!(thread[0].1.contains("belum ada agen"), "{thread:?}");
    let told = next_sent(&mut sent).await;
    assert_eq!(told["text"]["body"], thread[0].1);

    // A CS reply in a WhatsApp conversation goes back out over WhatsApp.
    let r = app
        .post(
            &format!("/api/v1/conversations/{conv_id}/messages"),
            &cs,
            json!({ "body": "Teknisi datang besok" }),
        )
        .await;
    assert_eq!(r.status, 201);
    let out = next_sent(&mut sent).await;
    assert_eq!(out["text"]["body"], "Teknisi datang besok");

    // A stranger is told how to register.
    let stranger = text_payload("wamid.X1", "6281355559999", "Halo");
    assert_eq!(deliver_signed(&app, &stranger).await, 200);
    let help = next_sent(&mut sent).await;
    assert_eq!(help["to"], "6281355559999");
    assert!(help["text"]["body"].as_str().unwrap().contains("DAFTAR#"));
    // A malformed registration gets the format too.
    assert_eq!(
        deliver_signed(
            &app,
            &text_payload("wamid.X2", "6281355559999", "DAFTAR#Tanpa alamat")
        )
        .await,
        200
    );
    assert!(
        next_sent(&mut sent).await["text"]["body"]
            .as_str()
            .unwrap()
            .contains("salah")
    );

    // Malformed payloads: 4xx or acknowledged and ignored, never 500.
    let raw = |b: &[u8]| (b.to_vec(), sign(b));
    for (body, expected) in [
        (raw(b"not json"), 400),
        (raw(br#"{"entry":"nope"}"#), 400),
        (raw(br#"{"entry":[{"changes":[{"value":{"messages":[{"id":1}]}}]}]}"#), 400),
        (raw(br#"{"object":"whatsapp_business_account"}"#), 200),
        (raw(br#"{"entry":[{"changes":[{"value":{"statuses":[{"id":"wamid.S","status":"read"}]}}]}]}"#), 200),
        (raw(br#"{"entry":[{"changes":[{"value":{"messages":[{"id":"wamid.IMG","from":"6281355551234","type":"image"}]}}]}]}"#), 200),
        (raw(br#"{"entry":[{"changes":[{"value":{"messages":[{"id":"wamid.BADNUM","from":"12","type":"text","text":{"body":"x"}}]}}]}]}"#), 200),
    ] {
        assert_eq!(deliver(&app, &body.0, Some(&body.1)).await, expected, "{}", String::from_utf8_lossy(&body.0));
    }
    let msgs = app
        .get(&format!("/api/v1/conversations/{conv_id}/messages"), &cs)
        .await;
    assert_eq!(
        msgs.body["items"].as_array().unwrap().len(),
        3,
        "nothing malformed reached the chat"
    );
    app.stop().await;
    mock_task.abort();
}

/// The probe's signed text with a NUL answered 500 on Postgres every time,
/// so Meta redelivered it forever; and blank texts became empty messages.
/// Now what no text may hold is dropped, the rest reaches CS, and a text
/// with nothing left is acknowledged and left out.
async fn control_characters_in_a_whatsapp_text_are_dropped_not_refused(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.whatsapp.app_secret = Some(SECRET.into());
    })
    .await
    else {
        return;
    };
    let hendra = "6281210000001"; // the demo customer
    let nul = text_payload("wamid.nul", hendra, "AC\u{0} bocor\u{7}, tolong");
    assert_eq!(deliver_signed(&app, &nul).await, 200);
    assert_eq!(deliver_signed(&app, &nul).await, 200, "a redelivery too");
    let blank = text_payload("wamid.blank", hendra, " \u{0} \n ");
    assert_eq!(deliver_signed(&app, &blank).await, 200);

    let cs = app.login_as("cs").await;
    let conversations = app.get("/api/v1/conversations", &cs).await;
    let conversation = conversations.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "whatsapp")
        .expect("the text reached a conversation")
        .clone();
    let id = conversation["id"].as_str().unwrap();
    let messages = app
        .get(&format!("/api/v1/conversations/{id}/messages"), &cs)
        .await;
    let bodies: Vec<&str> = messages.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies[1], "AC bocor, tolong",
        "once, cleaned, and no blank message"
    );
    assert_eq!(
        bodies.len(),
        2,
        "then the word that nobody is on duty: {bodies:?}"
    );
    app.stop().await;
}

/// A customer who chats in the app and also writes on WhatsApp has one
/// conversation per channel: the WhatsApp text opens (then joins) their
/// WhatsApp conversation, and CS replies there go out over WhatsApp.
async fn a_customer_who_writes_on_whatsapp_is_answered_there(backend: Backend) {
    let Some((app, mut sent, mock_task)) = with_cloud_api(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    let me = app.get("/api/v1/me", &customer).await;
    let customer_id = me.body["customer"]["id"].as_str().unwrap().to_owned();
    let phone = me.body["customer"]["phone"]
        .as_str()
        .unwrap()
        .trim_start_matches('+')
        .to_owned();
    let in_app = app
        .post(
            "/api/v1/conversations",
            &customer,
            json!({ "message": "Dari aplikasi" }),
        )
        .await;
    assert_eq!(in_app.status, 201, "{:?}", in_app.body);
    let app_conv = in_app.body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let texted = text_payload("wamid.BOTH1", &phone, "Dari WhatsApp");
    assert_eq!(deliver_signed(&app, &texted).await, 200);
    // Nobody is on duty: the word goes back where they wrote.
    let told = next_sent(&mut sent).await;
    assert_eq!(told["to"], phone.as_str());
    assert!(
        told["text"]["body"]
            .as_str()
            .unwrap()
            .contains("belum ada agen"),
        "{told}"
    );

    let convs = app
        .get(
            &format!("/api/v1/conversations?customer_id={customer_id}"),
            &cs,
        )
        .await;
    let items = convs.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let wa_conv = items
        .iter()
        .find(|c| c["channel"] == "whatsapp")
        .expect("the WhatsApp text opened a WhatsApp conversation")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(wa_conv, app_conv);
    let bodies = |conv: String| {
        let app = &app;
        let cs = cs.clone();
        async move {
            app.get(&format!("/api/v1/conversations/{conv}/messages"), &cs)
                .await
                .body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["body"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(
        bodies(wa_conv.clone())
            .await
            .contains(&"Dari WhatsApp".to_owned())
    );
    assert!(
        !bodies(app_conv.clone())
            .await
            .contains(&"Dari WhatsApp".to_owned())
    );

    // CS answer in the WhatsApp conversation: out over WhatsApp.
    let reply = app
        .post(
            &format!("/api/v1/conversations/{wa_conv}/messages"),
            &cs,
            json!({ "body": "Baik, kami cek" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let out = next_sent(&mut sent).await;
    assert_eq!(
        (out["to"].as_str(), out["text"]["body"].as_str()),
        (Some(phone.as_str()), Some("Baik, kami cek"))
    );

    // The next text joins the same WhatsApp conversation; the app's next
    // message stays in the app.
    let again = text_payload("wamid.BOTH2", &phone, "Terima kasih");
    assert_eq!(deliver_signed(&app, &again).await, 200);
    assert!(
        bodies(wa_conv.clone())
            .await
            .contains(&"Terima kasih".to_owned())
    );
    let convs = app
        .get(
            &format!("/api/v1/conversations?customer_id={customer_id}"),
            &cs,
        )
        .await;
    assert_eq!(convs.body["items"].as_array().unwrap().len(), 2);

    // Soft-deleted, the customer is inactive on WhatsApp too: told so,
    // nothing reaches the chat, and registering again changes nothing.
    let record = format!("/api/v1/customers/{customer_id}");
    let deleted = app.call(Method::DELETE, &record, Some(&cs), None).await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let ignored = text_payload("wamid.GONE1", &phone, "Masih bisa?");
    assert_eq!(deliver_signed(&app, &ignored).await, 200);
    let told = next_sent(&mut sent).await;
    assert!(
        told["text"]["body"]
            .as_str()
            .unwrap()
            .contains("tidak aktif"),
        "{told}"
    );
    assert!(
        !bodies(wa_conv.clone())
            .await
            .contains(&"Masih bisa?".to_owned())
    );
    let rename = text_payload("wamid.GONE2", &phone, "DAFTAR#Orang Lain#Jl. Lain 1#Depok");
    assert_eq!(deliver_signed(&app, &rename).await, 200);
    assert!(
        next_sent(&mut sent).await["text"]["body"]
            .as_str()
            .unwrap()
            .contains("tidak aktif")
    );
    let still = app.get(&record, &cs).await;
    assert_eq!(still.body["status"], "inactive");
    assert_ne!(still.body["name"], "Orang Lain");
    // Restored by CS: back in the chat.
    let restored = app.post(&format!("{record}/restore"), &cs, json!({})).await;
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    let back = text_payload("wamid.BACK1", &phone, "Sudah aktif lagi");
    assert_eq!(deliver_signed(&app, &back).await, 200);
    assert!(
        bodies(wa_conv.clone())
            .await
            .contains(&"Sudah aktif lagi".to_owned())
    );
    app.stop().await;
    mock_task.abort();
}
