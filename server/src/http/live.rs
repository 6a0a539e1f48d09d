//! `GET /api/v1/events`: the live event stream for consoles, over WebSocket.
//!
//! Authenticate with `Authorization: Bearer` or, from a browser, the
//! `access_token` query parameter. With `since=<event id>` the stream starts
//! with the events recorded after it (a reconnecting console loses nothing it
//! may see). Each message is a JSON [`Event`](crate::events::Event); a
//! `{"kind":"stream.lagged"}` message tells a slow consumer to reload. The
//! stream is closed like a sync session when the account's scope changes
//! (close code 4000: reconnect) or its device session is signed out (4001:
//! sign in again).

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::extract::Query;
use crate::AppState;
use crate::auth::{Actor, authenticate};
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::sync::{ACCOUNT_EVENT, Ending};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// For browsers, which cannot set headers on a WebSocket.
    pub access_token: Option<String>,
    /// Replay events recorded after this event id first.
    pub since: Option<String>,
}

/// Upgrade to a WebSocket that carries the caller's live events.
#[utoipa::path(get, path = "/api/v1/events", tag = "live", params(EventsParams),
    responses((status = 101, description = "Switching to the event stream"), (status = 401, body = crate::error::Problem), (status = 426, body = crate::error::Problem)))]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<EventsParams>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let token = crate::auth::extract::bearer(&headers)
        .map(str::to_owned)
        .or(params.access_token)
        .ok_or(ApiError::Unauthorized("missing bearer token"))?;
    let actor = authenticate(&state, &token).await?;
    let ws = ws.map_err(|_| ApiError::UpgradeRequired)?;
    // Subscribe before answering 101: an event published right after the
    // client sees the upgrade must reach it.
    let live = state.events.subscribe();
    Ok(ws
        .read_buffer_size(fieldops_sync::protocol::limits::SOCKET_READ_BUFFER_BYTES)
        .on_upgrade(move |socket| stream(state, actor, params.since, live, socket)))
}

async fn send(socket: &mut WebSocket, event: &Event) -> bool {
    match serde_json::to_string(event) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => true,
    }
}

async fn stream(
    state: AppState,
    actor: Actor,
    since: Option<String>,
    mut live: broadcast::Receiver<Event>,
    mut socket: WebSocket,
) {
    // Subscribed before reading the log, so nothing falls between the two.
    let mut last_seen = String::new();
    if let Some(since) = since {
        match state.events.since(&since, 1000).await {
            Ok(events) => {
                for event in events.iter().filter(|e| e.readable_by(&actor)) {
                    if !send(&mut socket, event).await {
                        return;
                    }
                    last_seen.clone_from(&event.id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "event catch-up failed"),
        }
    }
    let mut ping = tokio::time::interval(Duration::from_secs(25));
    loop {
        tokio::select! {
            received = live.recv() => match received {
                // Its scope was judged at connect, and a signed-out session
                // must stop hearing anything: close as the sync session does.
                Ok(event) if event.kind == ACCOUNT_EVENT => {
                    if let Ok(ending) = Ending::deserialize(&event.data)
                        && ending.ends(&actor.user_id, &actor.session_id)
                    {
                        let frame = super::sync::close_frame(&ending);
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        return;
                    }
                }
                Ok(event) => {
                    let admitted = event.readable_by(&actor);
                    if admitted && event.id > last_seen && !send(&mut socket, &event).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    // It may have missed an account event: look again.
                    if let Some(frame) = super::sync::close_if_ended(&state, &actor).await {
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        return;
                    }
                    let lagged = Event {
                        id: String::new(),
                        kind: "stream.lagged".into(),
                        audience: None,
                        data: serde_json::json!({ "missed": missed }),
                        at: crate::db::now_ms(),
                    };
                    if !send(&mut socket, &lagged).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
