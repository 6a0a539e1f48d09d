//! A WebSocket upgrade that hands over the raw connection, a reader for a
//! first message under a smaller size limit than the rest, and a writer of
//! binary frames that leaves no buffer behind.
//!
//! Why not axum's `WebSocketUpgrade`: tungstenite fixes a socket's size
//! limits when the stream is built and offers no way to change them later
//! (`tokio_tungstenite::WebSocketStream` has no `set_config`, and axum's
//! `WebSocket` does not expose the stream). The sync socket needs two
//! limits: its first frame, the `Hello`, arrives before anyone is known and
//! must be small; once the `Hello` is accepted, frames of up to 8 MiB are
//! legitimate. Lowering the one limit would break large sync frames; keeping
//! it let anyone, signed in or not, make the server buffer 8 MiB per socket.
//!
//! So the sync socket takes the connection raw, reads the WebSocket frames
//! up to the end of the first message itself — parsing only their headers,
//! refusing as soon as a header announces more than the first message may
//! hold — and then builds the tungstenite stream with the full limits over
//! the bytes already read (`WebSocketStream::from_partially_read`), so
//! tungstenite decodes the first message as usual.

use std::io::Cursor;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use axum::response::Response;
use bytes::BufMut as _;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use crate::error::ApiError;

/// The upgraded connection, before any WebSocket framing.
pub type RawSocket = TokioIo<Upgraded>;

/// A valid HTTP/1.1 WebSocket upgrade request (RFC 6455 §4.2.1); anything
/// else is refused with 426, as axum's extractor would be.
#[derive(Debug)]
pub struct RawUpgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

fn header_is(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

fn header_lists(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

impl<S: Send + Sync> FromRequestParts<S> for RawUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let headers = &parts.headers;
        let valid = parts.method == Method::GET
            && parts.version == Version::HTTP_11
            && header_lists(headers, header::CONNECTION, "upgrade")
            && header_is(headers, header::UPGRADE, "websocket")
            && header_is(headers, header::SEC_WEBSOCKET_VERSION, "13");
        let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
        let on_upgrade = parts.extensions.remove::<OnUpgrade>();
        match (valid, key, on_upgrade) {
            (true, Some(key), Some(on_upgrade)) => Ok(Self { key, on_upgrade }),
            _ => Err(ApiError::UpgradeRequired),
        }
    }
}

impl RawUpgrade {
    /// Answers `101 Switching Protocols` and runs `session` on the
    /// connection once the client has it.
    pub fn on_upgrade<F, Fut>(self, session: F) -> Response
    where
        F: FnOnce(RawSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => session(TokioIo::new(upgraded)).await,
                Err(e) => tracing::debug!(error = %e, "a WebSocket upgrade failed"),
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::try_from(derive_accept_key(self.key.as_bytes())) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// The WebSocket frames before the first message, at most: room for a few
/// pings, never a stream of them.
const MAX_FRAMES: usize = 8;
/// The longest frame header (RFC 6455 §5.2).
const MAX_HEADER_BYTES: usize = 14;
/// A control frame's payload, at most (RFC 6455 §5.5).
const MAX_CONTROL_BYTES: u64 = 125;
/// Bytes read at a time.
const READ_CHUNK: usize = 16 * 1024;

/// How reading the first message went.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstMessage {
    /// Every byte read, up to the end of the first message (and any control
    /// frames before it): hand them to the stream.
    Read(Vec<u8>),
    /// A frame header announced more payload than the first message may hold.
    TooLarge {
        /// The payload announced so far, in bytes.
        announced: u64,
    },
    /// The first message is not binary, or the bytes are not WebSocket frames.
    Malformed,
    /// The client closed the connection (or sent a close frame) first.
    Closed,
}

/// Reads the WebSocket frames of `io` up to the end of the first data
/// message, refusing it as soon as its frames announce more than
/// `max_payload` bytes: at most `max_payload` plus a few frame headers and
/// pings are ever buffered, however large a frame the client announces.
pub async fn read_first_message(
    io: &mut (impl AsyncRead + Unpin),
    max_payload: usize,
) -> std::io::Result<FirstMessage> {
    let mut buf = Vec::new();
    // Where the next frame header starts.
    let mut at = 0;
    let mut payload = 0u64;
    let mut started = false;
    for _ in 0..MAX_FRAMES {
        let (header, len) = loop {
            let mut cursor = Cursor::new(&buf[at..]);
            match FrameHeader::parse(&mut cursor) {
                Ok(Some(parsed)) => {
                    at += usize::try_from(cursor.position()).unwrap_or(usize::MAX);
                    break parsed;
                }
                Ok(None) => {
                    if read_some(io, &mut buf, at + MAX_HEADER_BYTES).await? == 0 {
                        return Ok(FirstMessage::Closed);
                    }
                }
                Err(_) => return Ok(FirstMessage::Malformed),
            }
        };
        let data = match header.opcode {
            OpCode::Control(Control::Close) => return Ok(FirstMessage::Closed),
            OpCode::Control(Control::Reserved(_)) => return Ok(FirstMessage::Malformed),
            OpCode::Control(_) if len > MAX_CONTROL_BYTES || !header.is_final => {
                return Ok(FirstMessage::Malformed);
            }
            OpCode::Control(_) => false,
            OpCode::Data(Data::Binary) if !started => true,
            OpCode::Data(Data::Continue) if started => true,
            OpCode::Data(_) => return Ok(FirstMessage::Malformed),
        };
        if data {
            started = true;
            payload = payload.saturating_add(len);
            if payload > max_payload as u64 {
                return Ok(FirstMessage::TooLarge { announced: payload });
            }
        }
        // Bounded above: a control payload or what is left of `max_payload`.
        let end = at + usize::try_from(len).unwrap_or(usize::MAX);
        while buf.len() < end {
            if read_some(io, &mut buf, end).await? == 0 {
                return Ok(FirstMessage::Closed);
            }
        }
        at = end;
        if data && header.is_final {
            return Ok(FirstMessage::Read(buf));
        }
    }
    Ok(FirstMessage::Malformed)
}

/// Reads more of `io` into `buf`, never past `up_to` bytes in all.
async fn read_some(
    io: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    up_to: usize,
) -> std::io::Result<usize> {
    let want = up_to.saturating_sub(buf.len()).clamp(1, READ_CHUNK);
    io.read_buf(&mut buf.limit(want)).await
}

/// Writes `payloads` to `io` as unmasked binary WebSocket frames (a
/// server's, RFC 6455 §5.2), in one write, and flushes. Each payload is
/// dropped once copied: with a lazy iterator (encoding as it goes), what
/// is held is the output growing and the payload being copied.
///
/// Why not through tungstenite: its stream copies every frame into a write
/// buffer that keeps its largest size for the life of the socket (a
/// session's opening catch-up, tens or hundreds of KiB, held by every idle
/// phone). Frames written here leave nothing behind. Call it only while
/// tungstenite's own buffer is empty (after a flush), so no frame is split.
pub async fn write_binary_frames(
    io: &mut (impl AsyncWrite + Unpin),
    payloads: impl IntoIterator<Item = Vec<u8>>,
) -> std::io::Result<()> {
    let mut out = Vec::new();
    for payload in payloads {
        out.reserve(MAX_HEADER_BYTES + payload.len());
        let header = FrameHeader {
            is_final: true,
            opcode: OpCode::Data(Data::Binary),
            ..FrameHeader::default()
        };
        header
            .format(payload.len() as u64, &mut out)
            .map_err(std::io::Error::other)?;
        out.extend_from_slice(&payload);
    }
    io.write_all(&out).await?;
    io.flush().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A client frame: FIN bit, opcode, masked with a zero key.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= usize::from(u16::MAX) => {
                out.push(0x80 | 126);
                out.extend((n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend((n as u64).to_be_bytes());
            }
        }
        out.extend([0; 4]);
        out.extend(payload);
        out
    }

    async fn first(bytes: &[u8], max: usize) -> FirstMessage {
        read_first_message(&mut &bytes[..], max).await.unwrap()
    }

    #[tokio::test]
    async fn reads_exactly_the_first_message_with_its_pings() {
        let hello = frame(true, 2, &[7; 300]);
        assert_eq!(first(&hello, 300).await, FirstMessage::Read(hello.clone()));

        let ping = frame(true, 9, b"hi");
        let fragmented = [
            ping.clone(),
            frame(false, 2, &[1; 100]),
            frame(true, 0, &[2; 100]),
        ]
        .concat();
        let next = frame(true, 2, &[3; 5000]);
        let read = first(&[fragmented.clone(), next].concat(), 200).await;
        // The first message and at most a header's worth of what follows.
        let FirstMessage::Read(bytes) = read else {
            panic!("{read:?}")
        };
        assert!(bytes.starts_with(&fragmented));
        assert!(bytes.len() < fragmented.len() + MAX_HEADER_BYTES);
    }

    #[tokio::test]
    async fn refuses_on_the_header_of_a_frame_too_large() {
        // Only the header is there: nothing of the 8 MiB needs to arrive.
        let header = &frame(true, 2, &vec![0; 8 << 20])[..14];
        assert_eq!(
            first(header, 1000).await,
            FirstMessage::TooLarge { announced: 8 << 20 }
        );
        // Fragments count together.
        let fragments = [frame(false, 2, &[0; 600]), frame(true, 0, &[0; 600])].concat();
        assert_eq!(
            first(&fragments, 1000).await,
            FirstMessage::TooLarge { announced: 1200 }
        );
    }

    #[tokio::test]
    async fn refuses_what_is_not_a_first_binary_message() {
        assert_eq!(
            first(&frame(true, 1, b"hi"), 100).await,
            FirstMessage::Malformed
        );
        assert_eq!(
            first(&frame(true, 0, b"hi"), 100).await,
            FirstMessage::Malformed
        );
        let pings = frame(true, 9, b"").repeat(MAX_FRAMES + 1);
        assert_eq!(first(&pings, 100).await, FirstMessage::Malformed);
        assert_eq!(first(&frame(true, 8, b""), 100).await, FirstMessage::Closed);
        assert_eq!(
            first(&frame(true, 2, b"hi")[..4], 100).await,
            FirstMessage::Closed
        );
    }

    /// What the writer sends, a client reads as the same messages, at every
    /// length the frame header encodes differently (7-bit, 16-bit, 64-bit).
    #[tokio::test]
    async fn written_frames_read_back_as_the_same_messages() {
        use futures_util::StreamExt as _;
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::protocol::Role;

        let payloads: Vec<Vec<u8>> = [0usize, 1, 125, 126, 65_535, 65_536, 200_000]
            .iter()
            .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
            .collect();
        let (mut server, client) = tokio::io::duplex(1 << 20);
        let written = payloads.clone();
        let writer = tokio::spawn(async move {
            write_binary_frames(&mut server, written[..3].to_vec())
                .await
                .unwrap();
            write_binary_frames(&mut server, written[3..].to_vec())
                .await
                .unwrap();
            server
        });
        let mut client =
            tokio_tungstenite::WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        for sent in &payloads {
            match client.next().await {
                Some(Ok(Message::Binary(read))) => assert_eq!(&read[..], &sent[..]),
                other => panic!(
                    "expected a binary message of {} bytes, got {other:?}",
                    sent.len()
                ),
            }
        }
        drop(writer.await.unwrap());
        assert!(client.next().await.is_none_or(|m| m.is_err()));
    }
}
