//! The sync endpoints: `GET /api/v1/sync` (WebSocket, binary frames of
//! [`fieldops_sync::protocol`]) and `POST /api/v1/sync/batch` for devices that
//! cannot hold a socket (one request = one batch of frames).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldops_sync::protocol::{ClientMessage, ErrorFrame, ServerMessage, limits};
use futures_util::SinkExt as _;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::sync::Ending;
use crate::sync::live::Live;
use crate::sync::session::{Refused, Session};

pub use fieldops_sync::protocol::close::{ACCOUNT_CHANGED, SIGNED_OUT};

/// How a session that `ending` ends is closed. After a scope change the
/// device reconnects as after any drop and its new session loads the new
/// scope; after a sign-out it is refused until it signs in again.
pub(super) fn close_frame(ending: &Ending) -> CloseFrame {
    let reason = if ending.signed_out {
        "signed out; sign in again"
    } else {
        "the account changed; reconnect"
    };
    CloseFrame {
        code: ending.close_code(),
        reason: reason.into(),
    }
}

/// For a session that lagged behind the live feed and may have missed the
/// account event that ends it: the frame to close it with, if its account or
/// device session changed ([`crate::sync::recheck`]).
pub(super) async fn close_if_ended(state: &AppState, actor: &Actor) -> Option<CloseFrame> {
    match crate::sync::recheck(state, actor).await {
        Ok(ending) => ending.as_ref().map(close_frame),
        Err(e) => {
            tracing::warn!(error = %e, "rechecking a lagged session");
            None
        }
    }
}

/// How long a device has to say Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(15);

/// Upgrade to a sync session. The first frame must be `Hello` (which carries
/// the access token); see the `fieldops-sync` crate for the protocol.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync",
    responses((status = 101, description = "Switching to the sync protocol"), (status = 426, body = crate::error::Problem)))]
pub async fn socket(
    State(state): State<AppState>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let ws = ws.map_err(|_| ApiError::UpgradeRequired)?;
    Ok(ws
        .max_message_size(limits::MAX_FRAME_BYTES)
        .read_buffer_size(limits::SOCKET_READ_BUFFER_BYTES)
        .on_upgrade(move |socket| run(state, socket)))
}

async fn send(socket: &mut WebSocket, message: &ServerMessage) -> bool {
    send_all(socket, std::slice::from_ref(message)).await
}

/// Sends `messages` in one write: the frames are queued, then flushed
/// together (a live delivery is a `Snapshots` and a `Feed` frame; one
/// write each cost a syscall and a wake-up of the device per frame).
async fn send_all(socket: &mut WebSocket, messages: &[ServerMessage]) -> bool {
    for message in messages {
        match message.encode() {
            Ok(frame) => {
                if socket.feed(Message::Binary(frame.into())).await.is_err() {
                    return false;
                }
            }
            Err(e) => tracing::error!(error = %e, "encoding a server frame"),
        }
    }
    socket.flush().await.is_ok()
}

/// The next client frame, decoded; `None` when the socket closed.
async fn receive(socket: &mut WebSocket) -> Option<Result<ClientMessage, ErrorFrame>> {
    loop {
        match socket.recv().await? {
            Ok(Message::Binary(bytes)) => {
                return Some(
                    ClientMessage::decode(&bytes).map_err(|e| ErrorFrame::from_decode(&e)),
                );
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn run(state: AppState, mut socket: WebSocket) {
    // Subscribe before the catch-up so no change falls between the two.
    let mut slices = state.live.subscribe();
    let first = match tokio::time::timeout(HELLO_TIMEOUT, receive(&mut socket)).await {
        Ok(Some(Ok(message))) => message,
        Ok(Some(Err(frame))) => {
            send(&mut socket, &ServerMessage::Error(frame)).await;
            return;
        }
        Ok(None) | Err(_) => return,
    };
    let mut session = match Session::open(state.clone(), first).await {
        Ok((session, opening)) => {
            if !send_all(&mut socket, &opening).await {
                return;
            }
            session
        }
        Err(Refused(frame)) => {
            send(&mut socket, &ServerMessage::Error(frame)).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let mut ping = tokio::time::interval(Duration::from_secs(25));
    loop {
        tokio::select! {
            incoming = receive(&mut socket) => match incoming {
                None => return,
                Some(Err(frame)) => {
                    // A frame we cannot read: say why and go on; the device decides.
                    if !send(&mut socket, &ServerMessage::Error(frame)).await {
                        return;
                    }
                }
                Some(Ok(message)) => {
                    let replies = session.handle(message).await;
                    if !send_all(&mut socket, &replies).await {
                        return;
                    }
                }
            },
            live = slices.recv() => {
                let live = match live {
                    Ok(Live::Slice(slice)) => session.live(&slice),
                    Ok(Live::Ended(ending))
                        if ending.ends(&session.actor.user_id, &session.actor.session_id) =>
                    {
                        let _ = socket.send(Message::Close(Some(close_frame(&ending)))).await;
                        return;
                    }
                    Ok(Live::Ended(_)) => continue,
                    // It may have missed an account event: look again.
                    Err(RecvError::Lagged(_)) => {
                        if let Some(frame) = close_if_ended(&state, &session.actor).await {
                            let _ = socket.send(Message::Close(Some(frame))).await;
                            return;
                        }
                        None
                    }
                    Err(RecvError::Closed) => return,
                };
                let messages = match live {
                    Some(messages) => messages,
                    None => match session.catch_up().await {
                        Ok(messages) => messages,
                        Err(e) => {
                            tracing::warn!(error = ?e, "live catch-up failed");
                            continue;
                        }
                    },
                };
                if !send_all(&mut socket, &messages).await {
                    return;
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Splits a batch body into frames: each a 4-byte big-endian length, then the frame.
fn split_frames(mut body: &[u8]) -> Option<Vec<&[u8]>> {
    let mut frames = Vec::new();
    while !body.is_empty() {
        let (len, rest) = body.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > rest.len() {
            return None;
        }
        let (frame, rest) = rest.split_at(len);
        frames.push(frame);
        body = rest;
    }
    Some(frames)
}

/// Appends `message` as a length-prefixed frame.
fn push_frame(out: &mut Vec<u8>, message: &ServerMessage) {
    if let Ok(frame) = message.encode() {
        out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        out.extend_from_slice(&frame);
    }
}

/// One sync batch over plain HTTP: the body is length-prefixed client frames
/// (4-byte big-endian length, then the frame), starting with `Hello`; the
/// answer is the server frames in the same framing, ending with the `Feed`
/// of a final catch-up.
#[utoipa::path(post, path = "/api/v1/sync/batch", tag = "sync",
    request_body(content = Vec<u8>, content_type = "application/vnd.fieldops.frames"),
    responses((status = 200, content_type = "application/vnd.fieldops.frames", body = Vec<u8>), (status = 400, body = crate::error::Problem)))]
pub async fn batch(State(state): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let frames = split_frames(&body)
        .ok_or_else(|| ApiError::BadRequest("the body is not length-prefixed frames".into()))?;
    let mut messages = Vec::with_capacity(frames.len());
    for frame in frames {
        messages.push(
            ClientMessage::decode(frame)
                .map_err(|e| ApiError::BadRequest(format!("bad frame: {e}")))?,
        );
    }
    let mut messages = messages.into_iter();
    let first = messages
        .next()
        .ok_or_else(|| ApiError::BadRequest("the batch is empty".into()))?;
    let mut out = Vec::new();
    let mut session = match Session::open(state, first).await {
        Ok((session, opening)) => {
            opening.iter().for_each(|m| push_frame(&mut out, m));
            session
        }
        Err(Refused(frame)) => {
            push_frame(&mut out, &ServerMessage::Error(frame));
            return Ok(frames_response(StatusCode::UNAUTHORIZED, out));
        }
    };
    let mut wrote = false;
    for message in messages {
        wrote |= matches!(
            message,
            ClientMessage::Changes(_) | ClientMessage::SyncBatch(_) | ClientMessage::Commands(_)
        );
        session
            .handle(message)
            .await
            .iter()
            .for_each(|m| push_frame(&mut out, m));
    }
    if wrote {
        session
            .catch_up()
            .await?
            .iter()
            .for_each(|m| push_frame(&mut out, m));
    }
    Ok(frames_response(StatusCode::OK, out))
}

fn frames_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/vnd.fieldops.frames")],
        body,
    )
        .into_response()
}
