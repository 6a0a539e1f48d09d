//! A local stand-in for the WhatsApp Cloud API: `POST /{phone_number_id}/messages`
//! forwards every request body to the test and answers like Meta, so tests
//! check the real wire format of what the server sends.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{Backend, TestApp};

async fn cloud_api(
    State(seen): State<mpsc::UnboundedSender<Value>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let _ = seen.send(body);
    Json(json!({ "messaging_product": "whatsapp", "messages": [{ "id": "wamid.test" }] }))
}

/// A server whose WhatsApp sender talks to the stand-in, and the requests
/// the stand-in received.
pub async fn spawn(backend: Backend) -> Option<(TestApp, mpsc::UnboundedReceiver<Value>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .route("/v21.0/{id}/messages", axum::routing::post(cloud_api))
        .with_state(tx);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn_with(backend, |c| {
        c.helpdesk_job_interval = Duration::from_millis(100);
        c.whatsapp.api_base_url = format!("http://{addr}/v21.0");
        c.whatsapp.phone_number_id = "1098765".into();
        c.whatsapp.access_token = Some("cloud-token".into());
    })
    .await?;
    Some((app, rx))
}
