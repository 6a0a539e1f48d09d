//! A local stand-in for the WhatsApp Cloud API: `POST /{phone_number_id}/messages`
//! forwards every request body to the test and answers like Meta (each
//! message gets its own `wamid`), so tests check the real wire format of
//! what the server sends; `GET /{media_id}` and the download URL it names
//! serve the media a test put there ([`Media`]), with Meta's bearer check;
//! [`deliver_signed`] plays Meta's webhook.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{Backend, TestApp};

/// The app secret the stand-in's webhook deliveries are signed with.
pub const APP_SECRET: &str = "stand-in-app-secret";
/// The access token the server is configured with.
pub const ACCESS_TOKEN: &str = "cloud-token";

#[derive(Clone)]
struct Stand {
    seen: mpsc::UnboundedSender<Value>,
    sent: Arc<AtomicU64>,
    media: Media,
    /// `http://127.0.0.1:<port>`.
    base: String,
}

/// Media files the stand-in serves, by media id; what a test puts here a
/// webhook delivery may name.
#[derive(Debug, Clone, Default)]
pub struct Media(Arc<Mutex<HashMap<String, Served>>>);

#[derive(Debug)]
struct Served {
    mime: String,
    bytes: Vec<u8>,
    /// Answers 503 this many times before serving.
    failures: u32,
    downloads: u32,
}

impl Media {
    /// Serves `bytes` as media `id`.
    pub fn put(&self, id: &str, mime: &str, bytes: Vec<u8>) {
        let served = Served {
            mime: mime.into(),
            bytes,
            failures: 0,
            downloads: 0,
        };
        self.0.lock().unwrap().insert(id.into(), served);
    }

    /// Media `id` answers 503 (Meta busy) the next `times` times it is asked for.
    pub fn fail(&self, id: &str, times: u32) {
        if let Some(m) = self.0.lock().unwrap().get_mut(id) {
            m.failures = times;
        }
    }

    /// How often the bytes of media `id` were downloaded.
    pub fn downloads(&self, id: &str) -> u32 {
        self.0.lock().unwrap().get(id).map_or(0, |m| m.downloads)
    }
}

fn bearer_ok(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {ACCESS_TOKEN}"))
}

fn meta_error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "error": { "message": message, "type": "OAuthException", "code": 100 } });
    (status, Json(body)).into_response()
}

/// `GET /{media_id}`: where the bytes are, as Meta answers it.
async fn media_info(
    State(stand): State<Stand>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !bearer_ok(&headers) {
        return meta_error(StatusCode::UNAUTHORIZED, "Invalid OAuth access token");
    }
    let mut media = stand.media.0.lock().unwrap();
    let Some(m) = media.get_mut(&id) else {
        return meta_error(StatusCode::BAD_REQUEST, "Unsupported get request");
    };
    if m.failures > 0 {
        m.failures -= 1;
        return meta_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service temporarily unavailable",
        );
    }
    Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/media-download/{id}", stand.base),
        "mime_type": m.mime,
        "sha256": crate::photos::sha256_hex(&m.bytes),
        "file_size": m.bytes.len().to_string(),
        "id": id,
    }))
    .into_response()
}

/// The download URL `media_info` names.
async fn media_bytes(
    State(stand): State<Stand>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !bearer_ok(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut media = stand.media.0.lock().unwrap();
    let Some(m) = media.get_mut(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    m.downloads += 1;
    ([(header::CONTENT_TYPE, m.mime.clone())], m.bytes.clone()).into_response()
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

/// A webhook delivery of one text message `body` from `from`, as the Cloud
/// API sends it to the business number the stand-in plays.
pub fn text_message(from: &str, message_id: &str, body: &str) -> Value {
    change(
        "messages",
        json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "6281100000000", "phone_number_id": "1098765" },
            "contacts": [{ "profile": { "name": "Pelanggan" }, "wa_id": from }],
            "messages": [{
                "from": from, "id": message_id, "timestamp": "1763800000",
                "type": "text", "text": { "body": body },
            }],
        }),
    )
}

/// Reads `count` messages the stand-in was asked to send, then waits `quiet`
/// (longer than the senders' job interval) to show no second send comes:
/// every recipient once. Their numbers, in the order they were sent.
pub async fn each_sent_once(
    sent: &mut mpsc::UnboundedReceiver<Value>,
    count: usize,
    quiet: Duration,
) -> Vec<String> {
    let mut to = Vec::with_capacity(count);
    while to.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), sent.recv())
            .await
            .expect("a confirmation")
            .unwrap();
        to.push(message["to"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(quiet).await;
    assert!(sent.try_recv().is_err(), "a message was sent twice");
    let distinct: std::collections::HashSet<&String> = to.iter().collect();
    assert_eq!(distinct.len(), count, "{to:?}");
    to
}

/// The stand-in for the Cloud API on a loopback port: its Graph API base
/// (`http://127.0.0.1:<port>/v21.0`), the requests it receives, and the
/// media it serves.
pub async fn stand_in() -> (String, mpsc::UnboundedReceiver<Value>, Media) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let media = Media::default();
    let router = axum::Router::new()
        .route("/v21.0/{id}/messages", axum::routing::post(cloud_api))
        .route("/v21.0/{id}", axum::routing::get(media_info))
        .route("/media-download/{id}", axum::routing::get(media_bytes))
        .with_state(Stand {
            seen: tx,
            sent: Arc::default(),
            media: media.clone(),
            base: format!("http://{addr}"),
        });
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/v21.0"), rx, media)
}

/// A server whose WhatsApp sender talks to the stand-in, and the requests
/// the stand-in received.
pub async fn spawn(backend: Backend) -> Option<(TestApp, mpsc::UnboundedReceiver<Value>)> {
    let (app, rx, _) = spawn_with_media(backend).await?;
    Some((app, rx))
}

/// [`spawn`], and the media the stand-in serves.
pub async fn spawn_with_media(
    backend: Backend,
) -> Option<(TestApp, mpsc::UnboundedReceiver<Value>, Media)> {
    let (api_base_url, rx, media) = stand_in().await;
    let app = TestApp::spawn_with(backend, |c| {
        c.helpdesk_job_interval = Duration::from_millis(100);
        c.whatsapp.api_base_url = api_base_url;
        c.whatsapp.phone_number_id = "1098765".into();
        c.whatsapp.access_token = Some(ACCESS_TOKEN.into());
        c.whatsapp.app_secret = Some(APP_SECRET.into());
    })
    .await?;
    Some((app, rx, media))
}
