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
//!
//! **Calls** travel on the same socket: a console sends each call signal
//! as a JSON text message ([`CallMessage`], see [`crate::calls`]) and hears
//! call messages for its device as `{"kind":"call.signal","data":`
//! [`CallUpdate`](fieldops_sync::call::CallUpdate)`}` (not logged, so never
//! replayed); a refusal names the field in the language of the upgrade's
//! `Accept-Language`. A text that is not a call message is answered with
//! `{"kind":"call.malformed"}`. Nothing else a console sends is read, so a
//! message may hold [`MAX_CONSOLE_MESSAGE_BYTES`] (a call signal with the
//! largest description), not the 64 MiB tungstenite would otherwise buffer
//! per socket; a bigger one is refused on its frame header, or as soon as
//! its fragments pass the bound, with close code 1009. An account may hold only so many sockets
//! ([`super::sockets`]); past that the upgrade is refused with 429.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::extract::Query;
use crate::AppState;
use crate::auth::{Actor, authenticate};
use crate::calls::relay::Delivery;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::i18n::Lang;
use crate::sync::{ACCOUNT_EVENT, Ending};
use fieldops_sync::call::CallMessage;

/// The largest message (and WebSocket frame) a console may send: a call
/// signal whose description is at its limit, escaped as JSON.
pub const MAX_CONSOLE_MESSAGE_BYTES: usize = 3 * fieldops_sync::call::MAX_SDP_BYTES;

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
    responses((status = 101, description = "Switching to the event stream"), (status = 401, body = crate::error::Problem), (status = 426, body = crate::error::Problem),
        (status = 429, description = "The account holds too many open sockets", body = crate::error::Problem)))]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<EventsParams>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let token = crate::auth::extract::bearer(&headers)
        .map(str::to_owned)
        .or(params.access_token)
        .ok_or_else(|| ApiError::Unauthorized(t!("problem-auth-no-token")))?;
    let actor = authenticate(&state, &token).await?;
    let ws = ws.map_err(|_| ApiError::UpgradeRequired)?;
    let slot = state.sockets.for_account(&actor.user_id)?;
    // Subscribe before answering 101: an event published right after the
    // client sees the upgrade must reach it.
    let live = state.events.subscribe();
    let calls = state.calls.relay.subscribe();
    crate::calls::ring_again(&state, &actor).await;
    let spoken = crate::i18n::chosen();
    // Call refusals speak what every other answer on this socket speaks.
    let lang = crate::i18n::current();
    Ok(ws
        .read_buffer_size(super::sync::READ_BUFFER_BYTES)
        .max_message_size(MAX_CONSOLE_MESSAGE_BYTES)
        .max_frame_size(MAX_CONSOLE_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            // The socket outlives the request's task: it keeps the request's
            // language (`Accept-Language`, else the account's) for the
            // reasons of its close frames.
            // Boxed: a future passed to an async fn is kept twice in its
            // state (rust-lang/rust#62958); inside, the rarely taken awaits
            // are boxed too, so an open console costs its state, not theirs.
            crate::i18n::speaking(
                spoken,
                Box::pin(async move {
                    Box::pin(crate::calls::connected(&state, &actor)).await;
                    let listening = Listening { live, calls, lang };
                    stream(&state, &actor, params.since, listening, socket).await;
                    Box::pin(crate::calls::disconnected(&state, &actor)).await;
                    drop(slot);
                }),
            )
        }))
}

/// The close frame for a socket whose read failed: 1009 for a message over
/// [`MAX_CONSOLE_MESSAGE_BYTES`], 1002 for frames that break RFC 6455.
/// `None` when the connection itself is gone.
fn refusal(error: axum::Error) -> Option<CloseFrame> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let (code, reason) = match error.into_inner().downcast_ref::<WsError>()? {
        WsError::Capacity(_) => (
            1009,
            t!(
                "problem-socket-message-too-large",
                max = MAX_CONSOLE_MESSAGE_BYTES
            ),
        ),
        WsError::Protocol(_) => (1002, t!("problem-socket-not-a-frame")),
        _ => return None,
    };
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

async fn send(socket: &mut WebSocket, event: &Event) -> bool {
    match serde_json::to_string(event) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => true,
    }
}

/// What a console's socket listens to, and the language it is answered in.
struct Listening {
    live: broadcast::Receiver<Event>,
    calls: broadcast::Receiver<Arc<Delivery>>,
    lang: Lang,
}

/// A message for the console that is not a logged event.
fn unlogged(kind: &str, data: serde_json::Value) -> Event {
    Event {
        id: String::new(),
        kind: kind.into(),
        audience: None,
        data,
        at: crate::db::now_ms(),
    }
}

/// A call signal from the console: handled, and a refusal (or a word that
/// it was no call message) sent back. False when the socket is gone.
async fn call_signal(
    state: &AppState,
    actor: &Actor,
    lang: Lang,
    text: &str,
    socket: &mut WebSocket,
) -> bool {
    let message = match serde_json::from_str::<CallMessage>(text) {
        Ok(message) => message,
        Err(e) => {
            let data = serde_json::json!({ "message": lang.text("call-refused-malformed"), "detail": e.to_string() });
            return send(socket, &unlogged("call.malformed", data)).await;
        }
    };
    match crate::calls::signal(state, actor, message.clone()).await {
        Ok(()) => true,
        Err(refused) => {
            let update = refused.update(&message, lang);
            let data = serde_json::to_value(update).unwrap_or_default();
            send(socket, &unlogged("call.signal", data)).await
        }
    }
}

async fn stream(
    state: &AppState,
    actor: &Actor,
    since: Option<String>,
    listening: Listening,
    mut socket: WebSocket,
) {
    let Listening {
        mut live,
        mut calls,
        lang,
    } = listening;
    // Subscribed before reading the log, so nothing falls between the two.
    let mut last_seen = String::new();
    if let Some(since) = since {
        match state.events.since(&since, 1000).await {
            Ok(events) => {
                for event in events.iter().filter(|e| e.readable_by(actor)) {
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
                    let admitted = event.readable_by(actor);
                    if admitted && event.id > last_seen && !send(&mut socket, &event).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    // It may have missed an account event: look again.
                    if let Some(frame) = super::sync::close_if_ended(state, actor).await {
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        return;
                    }
                    let lagged = unlogged("stream.lagged", serde_json::json!({ "missed": missed }));
                    if !send(&mut socket, &lagged).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None => return,
                Some(Err(e)) => {
                    if let Some(frame) = refusal(e) {
                        let _ = socket.send(Message::Close(Some(frame))).await;
                    }
                    return;
                }
                Some(Ok(Message::Text(text))) => {
                    // Boxed: a console's task would otherwise keep a call
                    // signal's state for as long as the console is open.
                    if !Box::pin(call_signal(state, actor, lang, &text, &mut socket)).await {
                        return;
                    }
                }
                Some(Ok(_)) => {}
            },
            delivery = calls.recv() => match delivery {
                Ok(delivery) if delivery.to.admits(actor) => {
                    let data = serde_json::to_value(&delivery.update).unwrap_or_default();
                    if !send(&mut socket, &unlogged("call.signal", data)).await {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => tracing::warn!(lost = n, "a console lagged behind call messages"),
                Err(RecvError::Closed) => return,
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the state of the future `f` returns, without calling it.
    fn future_bytes<'a, F>(
        _: impl FnOnce(&'a AppState, &'a Actor, Option<String>, Listening, WebSocket) -> F,
    ) -> usize {
        std::mem::size_of::<F>()
    }

    /// An open console costs the server its event stream's state for as
    /// long as the page stays open (see the sync session's twin test;
    /// 1.7 KB today).
    #[test]
    fn a_console_event_stream_stays_small() {
        let bytes = future_bytes(stream);
        assert!(
            bytes <= STREAM_BUDGET,
            "the console event stream's state grew to {bytes} bytes (budget {STREAM_BUDGET}): \
             box the big await that was added (Box::pin(…).await)"
        );
    }

    const STREAM_BUDGET: usize = 2560;
}
