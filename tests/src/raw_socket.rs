//! A misbehaving WebSocket client, for tests of the server's socket limits.
//!
//! It connects from a loopback address of the test's choosing (any of
//! 127.0.0.0/8, so an attacker and an honest phone can have different
//! addresses), writes whatever frames a test asks for — sizes it announces
//! and never sends, fragments without end — from a static buffer of zeros,
//! so that the attacker's own memory stays flat while the server's is
//! measured, and reads what the server answers at the same time: a server
//! that refuses a frame while it is still being written is heard even
//! though the write then fails.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use fieldops_sync::protocol::ServerMessage;
use futures_util::StreamExt as _;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// What the attacker writes as payload.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// WebSocket opcodes (RFC 6455 §5.2).
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;

/// The resident memory of this process (`VmRSS`), in bytes. The test
/// servers run in the test process, so this is theirs.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim();
    kib.parse::<u64>().unwrap() * 1024
}

/// How a WebSocket handshake went.
#[derive(Debug)]
pub enum Opened {
    Upgraded(RawClient),
    /// Not upgraded: the status, content type and (JSON) body.
    Refused {
        status: u16,
        content_type: String,
        body: Value,
    },
}

impl Opened {
    #[track_caller]
    pub fn upgraded(self) -> RawClient {
        match self {
            Opened::Upgraded(client) => client,
            Opened::Refused { status, body, .. } => panic!("refused: {status} {body}"),
        }
    }
}

/// An upgraded connection: frames go out on `write`, and a task reads the
/// server's messages, up to its close frame, into `read`.
#[derive(Debug)]
pub struct RawClient {
    write: OwnedWriteHalf,
    read: mpsc::UnboundedReceiver<Message>,
}

/// What the server sent, up to its close.
#[derive(Debug, Default)]
pub struct Answers {
    pub messages: Vec<Message>,
    /// Whether the server sent a close frame, and its code if it had one.
    pub closed: bool,
    pub close: Option<u16>,
}

impl Answers {
    /// The binary messages, decoded as sync frames.
    pub fn sync_frames(&self) -> Vec<ServerMessage> {
        self.messages
            .iter()
            .filter_map(|m| match m {
                Message::Binary(frame) => Some(ServerMessage::decode(frame).unwrap()),
                _ => None,
            })
            .collect()
    }
}

/// Opens `path` as a WebSocket on `addr`, connecting from `from`.
pub async fn open(addr: SocketAddr, from: IpAddr, path: &str, token: Option<&str>) -> Opened {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {}\r\n{auth}\r\n",
        generate_key()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let (status, headers) = read_head(&mut tcp).await;
    if status != 101 {
        let (content_type, body) = read_body(&mut tcp, &headers).await;
        return Opened::Refused {
            status,
            content_type,
            body,
        };
    }
    let (read, write) = tcp.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut ws = WebSocketStream::from_raw_socket(ReadOnly(read), Role::Client, None).await;
        while let Some(Ok(message)) = ws.next().await {
            let close = matches!(message, Message::Close(_));
            if tx.send(message).is_err() || close {
                break;
            }
        }
    });
    Opened::Upgraded(RawClient { write, read: rx })
}

/// An HTTP/1.1 response head, read a byte at a time so that nothing after
/// it is consumed: the status and the headers.
pub async fn read_head(read: &mut (impl AsyncRead + Unpin)) -> (u16, Vec<(String, String)>) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(read.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status.parse().unwrap(), headers)
}

/// A whole HTTP/1.1 response with a `Content-Length` body: the status, the
/// content type and the body as JSON (`Null` if it is not JSON).
pub async fn read_response(read: &mut (impl AsyncRead + Unpin)) -> (u16, String, Value) {
    let (status, headers) = read_head(read).await;
    let (content_type, body) = read_body(read, &headers).await;
    (status, content_type, body)
}

/// The body after `headers`: its content type and its JSON.
async fn read_body(
    read: &mut (impl AsyncRead + Unpin),
    headers: &[(String, String)],
) -> (String, Value) {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut body = vec![0; header("content-length").parse().unwrap_or(0)];
    read.read_exact(&mut body).await.unwrap();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (header("content-type"), body)
}

/// A client frame header announcing `len` payload bytes, masked with a zero
/// key (so the payload goes out as it is).
fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xffff => {
            out.push(0x80 | 126);
            out.extend((len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend(len.to_be_bytes());
        }
    }
    out.extend([0; 4]);
    out
}

impl RawClient {
    /// Writes a frame header announcing `announced` payload bytes, then
    /// `sent` of them (zeros). False once a write fails: the server has
    /// closed the connection.
    pub async fn frame(&mut self, fin: bool, opcode: u8, announced: u64, sent: u64) -> bool {
        if self
            .write
            .write_all(&header(fin, opcode, announced))
            .await
            .is_err()
        {
            return false;
        }
        let mut left = sent;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64) as usize;
            if self.write.write_all(&ZEROS[..n]).await.is_err() {
                return false;
            }
            left -= n as u64;
        }
        true
    }

    /// One whole binary message.
    pub async fn message(&mut self, payload: &[u8]) -> bool {
        let mut frame = header(true, BINARY, payload.len() as u64);
        frame.extend_from_slice(payload);
        self.write.write_all(&frame).await.is_ok()
    }

    /// A binary message of `total` zero bytes in fragments of `fragment`
    /// bytes, never finished: the server has to hold it all, or refuse it.
    /// False once a write fails.
    pub async fn endless_message(&mut self, fragment: u64, total: u64) -> bool {
        if !self.frame(false, BINARY, fragment, fragment).await {
            return false;
        }
        if fragment > ZEROS.len() as u64 {
            let mut sent = fragment;
            while sent < total {
                if !self.frame(false, CONTINUATION, fragment, fragment).await {
                    return false;
                }
                sent += fragment;
            }
            return true;
        }
        // Small fragments go out about 64 KiB at a time, not one by one.
        let per_batch = ZEROS.len() as u64 / fragment;
        let mut batch = Vec::new();
        for _ in 0..per_batch {
            batch.extend(header(false, CONTINUATION, fragment));
            batch.extend_from_slice(&ZEROS[..fragment as usize]);
        }
        let mut sent = fragment;
        while sent < total {
            if self.write.write_all(&batch).await.is_err() {
                return false;
            }
            sent += fragment * per_batch;
        }
        true
    }

    /// The next message from the server (`None` once the connection is
    /// gone); panics after `secs` seconds.
    pub async fn next(&mut self, secs: u64) -> Option<Message> {
        tokio::time::timeout(Duration::from_secs(secs), self.read.recv())
            .await
            .expect("timed out waiting for the server")
    }

    /// The next binary message, decoded as a sync frame.
    pub async fn next_sync(&mut self, secs: u64) -> ServerMessage {
        loop {
            match self.next(secs).await {
                Some(Message::Binary(frame)) => return ServerMessage::decode(&frame).unwrap(),
                Some(Message::Close(frame)) => panic!("closed: {frame:?}"),
                Some(_) => {}
                None => panic!("the connection is gone"),
            }
        }
    }

    /// What the server sent until it closed; panics after `secs` seconds.
    pub async fn answers(mut self, secs: u64) -> Answers {
        let mut answers = Answers::default();
        while let Some(message) = self.next(secs).await {
            if let Message::Close(frame) = message {
                answers.closed = true;
                answers.close = frame.map(|f| f.code.into());
                break;
            }
            answers.messages.push(message);
        }
        answers
    }
}

/// The read half of a connection as a stream tungstenite can own; what
/// tungstenite writes (pongs, its reply to a close) is dropped: the test
/// writes its own frames on the other half.
#[derive(Debug)]
struct ReadOnly(OwnedReadHalf);

impl AsyncRead for ReadOnly {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReadOnly {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
