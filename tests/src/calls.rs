//! Both ends of a call for tests: a phone speaking the sync protocol and a
//! console on the event socket, each sending call signals and waiting for
//! what the server tells its device.

use std::time::Duration;

use fieldops_sync::call::{CallId, CallMessage, CallUpdate, Callee, Media, Signal};
use fieldops_sync::protocol::{ClientMessage, ServerMessage};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::Socket;
use crate::device::Device;

/// A call signal with its sequence number.
pub fn signal(call_id: CallId, seq: u32, signal: Signal) -> CallMessage {
    CallMessage {
        call_id,
        seq,
        signal,
    }
}

/// An audio invite to a customer, about `ticket_id`.
pub fn invite_customer(customer_id: &str, ticket_id: Option<&str>) -> Signal {
    Signal::Invite {
        callee: Callee::Customer {
            customer_id: customer_id.parse().unwrap(),
        },
        ticket_id: ticket_id.map(|t| t.parse::<Uuid>().unwrap()),
        media: Media::Audio,
    }
}

/// One end of a call, phone or console.
#[allow(async_fn_in_trait)]
pub trait CallEnd {
    async fn send_call(&mut self, message: &CallMessage);
    /// The next call message for this device within `wait`, skipping
    /// everything else; `None` if none came.
    async fn call_within(&mut self, wait: Duration) -> Option<CallUpdate>;

    /// The next call message (within 10 s).
    async fn next_call(&mut self) -> CallUpdate {
        self.call_within(Duration::from_secs(10))
            .await
            .expect("timed out waiting for a call message")
    }
}

impl CallEnd for Device {
    async fn send_call(&mut self, message: &CallMessage) {
        self.send(ClientMessage::Call(message.clone())).await;
    }

    async fn call_within(&mut self, wait: Duration) -> Option<CallUpdate> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            let Message::Binary(frame) = next.expect("socket closed").unwrap() else {
                continue;
            };
            let message = ServerMessage::decode(&frame).unwrap();
            self.apply(&message);
            if let ServerMessage::Call(update) = message {
                return Some(update);
            }
        }
    }
}

impl CallEnd for Socket {
    async fn send_call(&mut self, message: &CallMessage) {
        let text = serde_json::to_string(message).unwrap();
        self.send(Message::Text(text.into())).await.unwrap();
    }

    async fn call_within(&mut self, wait: Duration) -> Option<CallUpdate> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let event = next_event_until(self, deadline).await?;
            if event["kind"] == "call.signal" {
                return Some(serde_json::from_value(event["data"].clone()).unwrap());
            }
        }
    }
}

/// The next JSON message on a console's event socket before `deadline`.
pub async fn next_event_until(
    socket: &mut Socket,
    deadline: tokio::time::Instant,
) -> Option<Value> {
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()?;
        if let Message::Text(text) = next.expect("socket closed").unwrap() {
            return Some(serde_json::from_str(&text).unwrap());
        }
    }
}

/// A request the push stand-in received: path, the headers the services
/// read, and the JSON body.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub path: String,
    pub authorization: String,
    pub push_type: Option<String>,
    pub topic: Option<String>,
    pub body: Value,
}

/// A local stand-in for FCM's HTTP v1 API and APNs (both on one loopback
/// server, as both are plain HTTPS POSTs): it answers 200 like them and
/// hands each request to the test. Returns its base URL.
pub async fn push_stand_in() -> (String, tokio::sync::mpsc::UnboundedReceiver<Pushed>) {
    use axum::extract::{OriginalUri, State};
    use axum::http::HeaderMap;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    async fn take(
        State(tx): State<tokio::sync::mpsc::UnboundedSender<Pushed>>,
        OriginalUri(uri): OriginalUri,
        headers: HeaderMap,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::Json<Value> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let _ = tx.send(Pushed {
            path: uri.path().to_owned(),
            authorization: header("authorization").unwrap_or_default(),
            push_type: header("apns-push-type"),
            topic: header("apns-topic"),
            body,
        });
        axum::Json(serde_json::json!({ "name": "projects/p/messages/1" }))
    }
    let app = axum::Router::new().fallback(take).with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), rx)
}
