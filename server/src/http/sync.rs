//! The sync endpoints: `GET /api/v1/sync` (WebSocket, binary frames of
//! [`fieldops_sync::protocol`]) and `POST /api/v1/sync/batch` for devices that
//! cannot hold a socket (one request = one batch of frames).
//!
//! The socket is bounded before it is trusted: an address may hold only so
//! many sockets that have not yet said `Hello` ([`super::sockets`]), and
//! the first frame is read under the size of the largest `Hello`
//! ([`limits::MAX_HELLO_BYTES`], a few KiB) rather than the 8 MiB a frame
//! may have once the session is open ([`super::upgrade`] says how). Every
//! refusal — a `Hello` refused, a frame over its limit, a socket over the
//! account's limit — is an `Error` frame saying why, then a close code
//! ([`fieldops_sync::protocol::close::after_error`]).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::CloseFrame;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldops_sync::protocol::{
    ClientMessage, ErrorCode, ErrorFrame, ServerMessage, Version, close, limits,
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self as ws, Message};

use super::sockets::Slot;
use super::upgrade::{
    FirstMessage, RawSocket, RawUpgrade, read_first_message, write_binary_frames,
};
use crate::AppState;
use crate::auth::Actor;
use crate::auth::throttle::ClientAddr;
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
        t!("problem-sync-signed-out")
    } else {
        t!("problem-sync-account-changed")
    };
    CloseFrame {
        code: ending.close_code(),
        reason: reason.into(),
    }
}

/// For a session that lagged behind the live feed and may have missed the
/// account event that ends it: the frame to close it with, if its account or
/// device session changed ([`crate::sync::recheck`]).
pub(crate) async fn close_if_ended(state: &AppState, actor: &Actor) -> Option<CloseFrame> {
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

/// The sync socket once its `Hello` is read.
type Socket = WebSocketStream<RawSocket>;

/// The read buffer the server gives each socket it holds. tungstenite
/// zero-fills it before its first read and keeps it for the socket's life,
/// so it is memory every quiet phone costs; devices send small frames (a
/// bigger one is read in several steps). A device, with one socket, reads
/// with a larger one ([`limits::SOCKET_READ_BUFFER_BYTES`]).
pub(super) const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Its limits: a frame of up to [`limits::MAX_FRAME_BYTES`], in one
/// WebSocket frame or several; a bigger one is refused on its header,
/// before it is read.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(limits::MAX_FRAME_BYTES))
        .max_frame_size(Some(limits::MAX_FRAME_BYTES))
}

/// Upgrade to a sync session. The first frame must be `Hello` (which carries
/// the access token); see the `fieldops-sync` crate for the protocol.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync",
    responses((status = 101, description = "Switching to the sync protocol"), (status = 426, body = crate::error::Problem),
        (status = 429, description = "Too many sockets from this address have not yet said Hello", body = crate::error::Problem)))]
pub async fn socket(
    State(state): State<AppState>,
    addr: ClientAddr,
    upgrade: RawUpgrade,
) -> ApiResult<Response> {
    let unauthenticated = state.sockets.for_unauthenticated(addr)?;
    // The session outlives this request's task: it keeps the upgrade's
    // language (`Accept-Language`; else the account's, once `Hello` proves
    // whose it is).
    let lang = crate::i18n::chosen();
    // Boxed: a future passed to an async fn is kept twice in its state
    // (rust-lang/rust#62958), and this one lives as long as the socket.
    Ok(upgrade.on_upgrade(move |io| {
        crate::i18n::speaking(lang, Box::pin(run(state, io, unauthenticated)))
    }))
}

async fn send(socket: &mut Socket, version: Option<Version>, message: &ServerMessage) -> bool {
    send_all(socket, version, std::slice::from_ref(message)).await
}

/// Sends `messages` in one write: the frames are encoded, then written and
/// flushed together (a live delivery is a `ListedSnapshots` and a `Feed` frame;
/// one write each cost a syscall and a wake-up of the device per frame).
///
/// Frames are encoded for the session's protocol `version` (large ones are
/// compressed for devices that read that); before a session exists, plain.
/// They go straight to the connection ([`write_binary_frames`]), not
/// through tungstenite's write buffer, which would keep the size of the
/// largest write (a whole catch-up) for as long as the phone stays
/// connected; each is encoded as it is copied out, so a catch-up is not
/// held as frames and as their copy at once.
///
/// Never call it once a Close was sent or received: tungstenite's flush
/// then succeeds without writing, and these frames would follow the Close.
/// Not cancel-safe: dropped part way, it may leave half a frame on the
/// wire (no caller races it against anything).
async fn send_all(
    socket: &mut Socket,
    version: Option<Version>,
    messages: &[ServerMessage],
) -> bool {
    // Whatever tungstenite holds (a pong) goes first, whole.
    if socket.flush().await.is_err() {
        return false;
    }
    let frames = messages.iter().filter_map(|message| {
        encode(version, message)
            .inspect_err(|e| tracing::error!(error = %e, "encoding a server frame"))
            .ok()
    });
    write_binary_frames(socket.get_mut(), frames).await.is_ok()
}

fn encode(
    version: Option<Version>,
    message: &ServerMessage,
) -> Result<Vec<u8>, fieldops_sync::error::EncodeError> {
    match version {
        Some(version) => message.encode_for(version),
        None => message.encode(),
    }
}

/// Ends a session the server refuses: an `Error` frame saying why, then
/// the close code that goes with it.
async fn refuse(socket: &mut Socket, frame: ErrorFrame) {
    let closing = ws::protocol::CloseFrame {
        code: close::after_error(frame.code).into(),
        reason: frame.code.as_str().into(),
    };
    if send(socket, None, &ServerMessage::Error(frame)).await {
        let _ = socket.send(Message::Close(Some(closing))).await;
    }
}

fn error(code: ErrorCode, message: String) -> ErrorFrame {
    ErrorFrame { code, message }
}

/// What came off the socket.
enum Incoming {
    Message(ClientMessage),
    /// A frame that is not a protocol message: the session goes on.
    Undecodable(ErrorFrame),
    /// The WebSocket itself failed (a frame over the limit, a frame that
    /// breaks RFC 6455): nothing more can be read.
    Broken(ErrorFrame),
    Closed,
}

/// The next client frame, decoded.
async fn receive(socket: &mut Socket) -> Incoming {
    loop {
        match socket.next().await {
            Some(Ok(Message::Binary(bytes))) => {
                return match ClientMessage::decode(&bytes) {
                    Ok(message) => Incoming::Message(message),
                    Err(e) => Incoming::Undecodable(ErrorFrame::from_decode(&e)),
                };
            }
            Some(Ok(Message::Close(_))) | None => return Incoming::Closed,
            Some(Ok(_)) => {}
            Some(Err(ws::Error::Capacity(e))) => {
                let max = limits::MAX_FRAME_BYTES;
                let why = t!(
                    "problem-sync-frame-too-large",
                    error = &e.to_string(),
                    max = max
                );
                return Incoming::Broken(error(ErrorCode::TooLarge, why));
            }
            // The client dropped the connection without a Close: gone,
            // not broken (an Error frame would go to a dead socket).
            Some(Err(ws::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                return Incoming::Closed;
            }
            Some(Err(ws::Error::Protocol(e))) => {
                return Incoming::Broken(error(ErrorCode::Malformed, e.to_string()));
            }
            // The connection is gone: nobody is left to tell.
            Some(Err(_)) => return Incoming::Closed,
        }
    }
}

/// An event-stream close frame as the sync socket's.
fn close_message(frame: CloseFrame) -> Message {
    Message::Close(Some(ws::protocol::CloseFrame {
        code: frame.code.into(),
        reason: frame.reason.as_str().into(),
    }))
}

/// Reads the `Hello` under its own size limit, then builds the socket with
/// the session's: the socket and the `Hello`, or `None` once the client has
/// been refused (or has gone).
async fn hello(mut io: RawSocket) -> Option<(Socket, ClientMessage)> {
    let max = limits::MAX_HELLO_BYTES;
    let first = tokio::time::timeout(HELLO_TIMEOUT, read_first_message(&mut io, max)).await;
    let (read, refusal) = match first {
        Ok(Ok(FirstMessage::Read(bytes))) => (bytes, None),
        Ok(Ok(FirstMessage::TooLarge { announced })) => {
            let why = t!(
                "problem-sync-hello-too-large",
                max = max,
                announced = announced
            );
            (vec![], Some(error(ErrorCode::TooLarge, why)))
        }
        Ok(Ok(FirstMessage::Malformed)) => {
            let why = t!("problem-sync-hello-malformed");
            (vec![], Some(error(ErrorCode::Malformed, why)))
        }
        Err(_) => {
            let why = t!(
                "problem-sync-hello-timeout",
                seconds = HELLO_TIMEOUT.as_secs()
            );
            (vec![], Some(error(ErrorCode::UnexpectedMessage, why)))
        }
        Ok(Ok(FirstMessage::Closed) | Err(_)) => return None,
    };
    let mut socket =
        WebSocketStream::from_partially_read(io, read, Role::Server, Some(config())).await;
    if let Some(frame) = refusal {
        refuse(&mut socket, frame).await;
        return None;
    }
    match receive(&mut socket).await {
        Incoming::Message(message) => Some((socket, message)),
        Incoming::Undecodable(frame) | Incoming::Broken(frame) => {
            refuse(&mut socket, frame).await;
            None
        }
        Incoming::Closed => None,
    }
}

async fn run(state: AppState, io: RawSocket, unauthenticated: Slot) {
    let Some((mut socket, first)) = hello(io).await else {
        return;
    };
    // Subscribe before the catch-up so no change falls between the two.
    let slices = state.live.subscribe();
    let mut session = match Session::accept(state.clone(), first).await {
        Ok(session) => session,
        Err(Refused(frame)) => return refuse(&mut socket, frame).await,
    };
    drop(unauthenticated);
    let _slot = match state.sockets.for_account(&session.actor.user_id) {
        Ok(slot) => slot,
        Err(too_many) => {
            let frame = error(ErrorCode::RateLimited, too_many.detail());
            return refuse(&mut socket, frame).await;
        }
    };
    // Subscribed before the opening, so a call that rings meanwhile reaches
    // it. A device too old for calls is not rung at all.
    let takes_calls = session.version().carries_calls();
    let calls = state.calls.relay.subscribe();
    if takes_calls {
        crate::calls::ring_again(&state, &session.actor).await;
    }
    match session.opening().await {
        Ok(opening) => {
            if !send_all(&mut socket, Some(session.version()), &opening).await {
                return;
            }
        }
        Err(Refused(frame)) => return refuse(&mut socket, frame).await,
    }
    let actor = session.actor.clone();
    // Boxed, as every rarely taken await here is: the task is as large as
    // its largest state for as long as the phone stays connected.
    if takes_calls {
        Box::pin(crate::calls::connected(&state, &actor)).await;
    }
    serve(&state, socket, session, slices, calls).await;
    if takes_calls {
        Box::pin(crate::calls::disconnected(&state, &actor)).await;
    }
}

/// The open session, until either side ends it.
async fn serve(
    state: &AppState,
    mut socket: Socket,
    mut session: Session,
    mut slices: tokio::sync::broadcast::Receiver<Live>,
    mut calls: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::calls::relay::Delivery>>,
) {
    let version = Some(session.version());
    let mut ping = tokio::time::interval(Duration::from_secs(25));
    loop {
        tokio::select! {
            incoming = receive(&mut socket) => match incoming {
                Incoming::Closed => return,
                Incoming::Broken(frame) => return refuse(&mut socket, frame).await,
                Incoming::Undecodable(frame) => {
                    // A frame we cannot read: say why and go on; the device decides.
                    if !send(&mut socket, version, &ServerMessage::Error(frame)).await {
                        return;
                    }
                }
                Incoming::Message(message) => {
                    // Boxed: the idle socket's task would otherwise be as
                    // large as the largest command's state, for its whole life.
                    let replies = Box::pin(session.handle(message)).await;
                    if !send_all(&mut socket, version, &replies).await {
                        return;
                    }
                }
            },
            live = slices.recv() => {
                let live = match live {
                    Ok(Live::Slice(slice)) => {
                        let started = std::time::Instant::now();
                        let frames = session.live(&slice);
                        state
                            .metrics
                            .sync_stage(crate::metrics::SyncStage::LiveFrames, started.elapsed());
                        frames
                    }
                    Ok(Live::Ended(ending))
                        if ending.ends(&session.actor.user_id, &session.actor.session_id) =>
                    {
                        let _ = socket.send(close_message(close_frame(&ending))).await;
                        return;
                    }
                    Ok(Live::Ended(_)) => continue,
                    // It may have missed an account event: look again.
                    Err(RecvError::Lagged(_)) => {
                        if let Some(frame) = close_if_ended(state, &session.actor).await {
                            let _ = socket.send(close_message(frame)).await;
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
                if !send_all(&mut socket, version, &messages).await {
                    return;
                }
            }
            delivery = calls.recv() => match delivery {
                Ok(delivery)
                    if delivery.to.admits(&session.actor) && session.version().carries_calls() =>
                {
                    let message = ServerMessage::Call(delivery.update.clone())
                        .for_version(session.version());
                    if !send(&mut socket, version, &message).await {
                        return;
                    }
                }
                Ok(_) => {}
                // A call message lost to a slow socket: its call times out,
                // or the device asks again.
                Err(RecvError::Lagged(n)) => tracing::warn!(lost = n, "a sync session lagged behind call messages"),
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
fn push_frame(out: &mut Vec<u8>, version: Option<Version>, message: &ServerMessage) {
    if let Ok(frame) = encode(version, message) {
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
        .ok_or_else(|| ApiError::BadRequest(t!("problem-sync-batch-not-frames")))?;
    let mut messages = Vec::with_capacity(frames.len());
    for frame in frames {
        messages.push(ClientMessage::decode(frame).map_err(|e| {
            ApiError::BadRequest(t!("problem-sync-bad-frame", error = &e.to_string()))
        })?);
    }
    let mut messages = messages.into_iter();
    let first = messages
        .next()
        .ok_or_else(|| ApiError::BadRequest(t!("problem-sync-batch-empty")))?;
    let mut out = Vec::new();
    let mut session = match Session::open(state, first).await {
        Ok((session, opening)) => {
            let version = Some(session.version());
            opening
                .iter()
                .for_each(|m| push_frame(&mut out, version, m));
            session
        }
        Err(Refused(frame)) => {
            push_frame(&mut out, None, &ServerMessage::Error(frame));
            return Ok(frames_response(StatusCode::UNAUTHORIZED, out));
        }
    };
    let version = Some(session.version());
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
            .for_each(|m| push_frame(&mut out, version, m));
    }
    if wrote {
        session
            .catch_up()
            .await?
            .iter()
            .for_each(|m| push_frame(&mut out, version, m));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the state of the future `f` returns, without calling it.
    fn future_bytes<A, B, C, F>(_: impl FnOnce(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every quiet phone costs the server its session task's state for as
    /// long as its socket stays open. An await of something big written
    /// inline (a command, a call update, a catch-up) makes that state as big
    /// as the biggest of them, for every socket: 35 KB each before they were
    /// boxed, 350 MB for 10,000 phones. The fleet bench measures the memory;
    /// this test catches the regression in the change that makes it. Most
    /// of today's 4.5 KB is the open session itself (`serve`'s state: the
    /// socket, the session, the feed's receivers, the ping timer).
    #[test]
    fn a_sync_session_task_stays_small() {
        let bytes = future_bytes(run);
        assert!(
            bytes <= SESSION_TASK_BUDGET,
            "the sync session's task state grew to {bytes} bytes (budget {SESSION_TASK_BUDGET}): \
             box the big await that was added (Box::pin(…).await)"
        );
    }

    const SESSION_TASK_BUDGET: usize = 5 * 1024;
}
