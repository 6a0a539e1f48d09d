//! A local stand-in for the WhatsApp Cloud API: `POST /{phone_number_id}/messages`
//! forwards every request body to the test and answers like Meta (each
//! message gets its own `wamid`), so tests check the real wire format of
//! what the server sends; [`deliver_signed`] plays Meta's webhook.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{Backend, TestApp};

/// The app secret the stand-in's webhook deliveries are signed with.
pub const APP_SECRET: &str = "stand-in-app-secret";

#[derive(Clone)]
struct Stand {
    seen: mpsc::UnboundedSender<Value>,
    sent: Arc<AtomicU64>,
}

async fn cloud_api(State(stand): State<Stand>, Json(mut body): Json<Value>) -> Json<Value> {
    let n = stand.sent.fetch_add(1, Ordering::Relaxed);
    let id = format!("wamid.test.{n}");
    // The test sees the id Meta gave the message, beside what was sent.
    body["_wamid"] = json!(id);
    let _ = stand.seen.send(body);
    Json(json!({ "messaging_product": "whatsapp", "messages": [{ "id": id }] }))
}

/// `X-Hub-Signature-256` of `body` under [`APP_SECRET`].
pub fn sign(body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers `payload` to the server's webhook as Meta would; the status.
pub async fn deliver_signed(app: &TestApp, payload: &Value) -> u16 {
    let body = serde_json::to_vec(payload).unwrap();
    app.client
        .post(app.url("/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(&body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A webhook payload of one change (`field`, `value`), as Meta wraps it.
pub fn change(field: &str, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": field, "value": value }] }],
    })
}

/// A server whose WhatsApp sender talks to the stand-in, and the requests
/// the stand-in received.
pub async fn spawn(backend: Backend) -> Option<(TestApp, mpsc::UnboundedReceiver<Value>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .route("/v21.0/{id}/messages", axum::routing::post(cloud_api))
        .with_state(Stand {
            seen: tx,
            sent: Arc::default(),
        });
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn_with(backend, |c| {
        c.helpdesk_job_interval = Duration::from_millis(100);
        c.whatsapp.api_base_url = format!("http://{addr}/v21.0");
        c.whatsapp.phone_number_id = "1098765".into();
        c.whatsapp.access_token = Some("cloud-token".into());
        c.whatsapp.app_secret = Some(APP_SECRET.into());
    })
    .await?;
    Some((app, rx))
}
