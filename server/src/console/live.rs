//! `GET /events`: one Server-Sent Events stream per browser tab.
//!
//! A browser allows six HTTP/1.1 connections per site, so every live part
//! of the console shares this one stream: each event the caller may read
//! (the same [`Event::readable_by`] the API's WebSocket uses) goes out
//! named after its area — `visit`, `attendance`, `extension`, `ticket`,
//! `chat`, `presence`, … — and `console.js` turns each into an htmx
//! trigger (`live-visit`, …) on which the page's live regions re-fetch
//! themselves. Its data is `{"kind": …}`, with `"visit_id"` when it
//! concerns one visit: the dispatch board then fetches that visit's card
//! alone (`/dispatch/cards/{id}`) rather than every column. The event carries its id, so a reconnecting `EventSource`
//! sends `Last-Event-ID` and catches up from the event log.
//!
//! The stream ends when the device session behind the console signs out or
//! the account is deactivated (the same account events that close sync
//! sessions), and the browser's reconnect is then refused with 401.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use super::session::Console;
use crate::AppState;
use crate::auth::Actor;
use crate::calls::relay::Delivery;
use crate::events::Event;
use crate::sync::{ACCOUNT_EVENT, Ending};

/// The SSE name of an event: its area, the part of the kind before the dot.
fn area(kind: &str) -> &str {
    match kind.split('.').next().unwrap_or(kind) {
        "assignment" => "visit",
        "staff" => "presence",
        "conversation" => "chat",
        other => other,
    }
}

/// An event as the stream sends it: named after its area, its data the
/// kind and, when it concerns one visit, that visit's id, so the board
/// fetches that card alone.
fn sse(event: &Event) -> SseEvent {
    let mut data = serde_json::json!({ "kind": event.kind });
    if let Some(visit) = event.data.get("visit_id").and_then(|v| v.as_str()) {
        data["visit_id"] = visit.into();
    }
    SseEvent::default()
        .id(event.id.clone())
        .event(area(&event.kind))
        .data(data.to_string())
}

/// The caller's live events, as SSE.
pub(super) async fn events(
    State(state): State<AppState>,
    console: Console,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // Subscribed before reading the log, so nothing falls between the two.
    let mut live = state.events.subscribe();
    let mut calls = state.calls.relay.subscribe();
    crate::calls::ring_again(&state, &console.actor).await;
    let since = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let actor = console.actor;
    let stream = async_stream(move |tx| async move {
        crate::calls::connected(&state, &actor).await;
        follow(&state, &actor, since, &mut live, &mut calls, &tx).await;
        crate::calls::disconnected(&state, &actor).await;
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}

/// Sends the stream until the client goes, the session ends or the server
/// stops.
async fn follow(
    state: &AppState,
    actor: &Actor,
    since: Option<String>,
    live: &mut broadcast::Receiver<Event>,
    calls: &mut broadcast::Receiver<Arc<Delivery>>,
    tx: &mpsc::Sender<SseEvent>,
) {
    let mut last_seen = String::new();
    if let Some(since) = since {
        match state.events.since(&since, 1000).await {
            Ok(events) => {
                for event in events.iter().filter(|e| e.readable_by(actor)) {
                    if tx.send(sse(event)).await.is_err() {
                        return;
                    }
                    last_seen.clone_from(&event.id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "console event catch-up failed"),
        }
    }
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) if event.kind == ACCOUNT_EVENT => {
                    if let Ok(ending) = Ending::deserialize(&event.data)
                        && ending.ends(&actor.user_id, &actor.session_id)
                    {
                        let _ = tx.send(SseEvent::default().event("signed-out").data("")).await;
                        return;
                    }
                }
                Ok(event) => {
                    if event.readable_by(actor)
                        && event.id > last_seen
                        && tx.send(sse(&event)).await.is_err()
                    {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    // It may have missed an account event: look again,
                    // and have the page reload what it shows.
                    if crate::http::sync::close_if_ended(state, actor).await.is_some() {
                        let _ = tx.send(SseEvent::default().event("signed-out").data("")).await;
                        return;
                    }
                    if tx.send(SseEvent::default().event("lagged").data("")).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            delivery = calls.recv() => match delivery {
                // A call message for this tab's device: `calls.js` takes it.
                Ok(delivery) if delivery.to.admits(actor) => {
                    let data = serde_json::to_string(&delivery.update).unwrap_or_default();
                    if tx.send(SseEvent::default().event("call-signal").data(data)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => tracing::warn!(lost = n, "a console lagged behind call messages"),
                Err(RecvError::Closed) => return,
            },
            () = tx.closed() => return,
            () = state.shutdown.cancelled() => return,
        }
    }
}

/// A stream fed by a task: `produce` sends into a small channel; the stream
/// ends when it returns, and the task stops when the client goes.
fn async_stream<F, Fut>(produce: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<SseEvent>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(produce(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    })
}

#[cfg(test)]
mod tests {
    use super::area;

    #[test]
    fn events_are_named_after_their_area() {
        assert_eq!(area("visit.claimed"), "visit");
        assert_eq!(area("assignment.released"), "visit");
        assert_eq!(area("attendance.checked_in"), "attendance");
        assert_eq!(area("staff.presence"), "presence");
        assert_eq!(area("conversation.assigned"), "chat");
    }
}
