//! A minimal device for sync tests: a WebSocket speaking the protocol and an
//! in-memory copy of the documents it received. Deliberately simple, so that
//! tests exercise the server, not a client's cleverness.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use automerge::{AutoCommit, ChangeHash};
use fieldops_sync::commands::{Command, CommandBody, CommandResult};
use fieldops_sync::docs::Document;
use fieldops_sync::ids::{CommandId, DeviceId, DocId, DocKind};
use fieldops_sync::listing::Listing;
use fieldops_sync::protocol::{
    ClientMessage, Cursor, DocChanges, FRAME_COMPRESSED, Hello, PROTOCOL_VERSION, ServerMessage,
    Version, limits,
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::Socket;

/// A simulated phone.
#[derive(Debug)]
pub struct Device {
    pub socket: Socket,
    pub docs: HashMap<DocId, (DocKind, AutoCommit)>,
    /// Heads the server confirmed per document.
    pub confirmed: HashMap<DocId, Vec<ChangeHash>>,
    pub cursor: u64,
    pub id: DeviceId,
    /// The protocol version its Hello announces.
    pub version: u16,
    /// Frames received compressed (`FRAME_COMPRESSED`).
    pub compressed_frames: usize,
    /// Bytes of every binary frame received.
    pub bytes_in: usize,
    pub bytes_out: usize,
}

impl Device {
    /// Connects and says Hello with `cursor`; returns the device and the
    /// messages up to the catch-up's `Feed`.
    pub async fn connect(
        addr: std::net::SocketAddr,
        token: &str,
        cursor: u64,
    ) -> (Self, Vec<ServerMessage>) {
        Self::connect_speaking(addr, token, cursor, PROTOCOL_VERSION).await
    }

    /// [`Device::connect`] for an app built for protocol `version` (an
    /// older app in the field, or one newer than the server).
    pub async fn connect_speaking(
        addr: std::net::SocketAddr,
        token: &str,
        cursor: u64,
        version: u16,
    ) -> (Self, Vec<ServerMessage>) {
        let mut device = Device {
            socket: Self::open(addr).await,
            docs: HashMap::new(),
            confirmed: HashMap::new(),
            cursor,
            id: DeviceId::new(),
            version,
            compressed_frames: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        let messages = device.hello(token).await;
        (device, messages)
    }

    async fn open(addr: std::net::SocketAddr) -> Socket {
        // The buffer a phone uses (mobile-core), not tungstenite's 128 KiB:
        // a hundred devices in one process zero-fill it on every read.
        let config = WebSocketConfig::default().read_buffer_size(limits::SOCKET_READ_BUFFER_BYTES);
        let url = format!("ws://{addr}/api/v1/sync");
        tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .unwrap()
            .0
    }

    async fn hello(&mut self, token: &str) -> Vec<ServerMessage> {
        self.send(ClientMessage::Hello(Hello {
            protocol_version: self.version,
            access_token: token.to_owned(),
            device_id: self.id,
            cursor: Cursor(self.cursor),
            known_heads: None,
        }))
        .await;
        self.until_feed().await
    }

    /// Reconnects this device (same documents, same cursor).
    pub async fn reconnect(
        &mut self,
        addr: std::net::SocketAddr,
        token: &str,
    ) -> Vec<ServerMessage> {
        self.socket = Self::open(addr).await;
        self.hello(token).await
    }

    pub async fn send(&mut self, message: ClientMessage) {
        let frame = message.encode().unwrap();
        self.send_raw(frame).await;
    }

    pub async fn send_raw(&mut self, frame: Vec<u8>) {
        self.bytes_out += frame.len();
        self.socket
            .send(Message::Binary(frame.into()))
            .await
            .unwrap();
    }

    /// The next server message, applied to the local documents.
    pub async fn recv(&mut self) -> ServerMessage {
        let (_, message) = self.recv_unapplied().await;
        self.apply(&message);
        message
    }

    /// The next server message and when its frame came off the socket, not
    /// yet applied (pass it to [`Device::apply`]). For measuring when a
    /// change reaches a device apart from the device's own work on it.
    pub async fn recv_unapplied(&mut self) -> (Instant, ServerMessage) {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("timed out waiting for the server")
                .expect("socket closed")
                .unwrap();
            if let Message::Binary(frame) = message {
                let arrived = Instant::now();
                self.bytes_in += frame.len();
                if frame.first() == Some(&FRAME_COMPRESSED) {
                    self.compressed_frames += 1;
                }
                let message = ServerMessage::decode(&frame).unwrap();
                if let Some(older) = Version::negotiate(self.version).filter(|v| !v.announced()) {
                    // What an app of that version could not read at all.
                    assert_eq!(
                        self.compressed_frames, 0,
                        "a compressed frame to a version {} app",
                        self.version
                    );
                    assert!(
                        older.admits_server(&message),
                        "{message:?} to a version {} app",
                        self.version
                    );
                    assert_eq!(
                        message.clone().for_version(older),
                        message,
                        "an Unknown code to a version {} app",
                        self.version
                    );
                }
                return (arrived, message);
            }
        }
    }

    /// Receives until the server closes the session; the close code.
    pub async fn until_closed(&mut self) -> Option<u16> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("timed out waiting for the server to close");
            match next {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
                Some(Ok(Message::Binary(frame))) => {
                    let message = ServerMessage::decode(&frame).unwrap();
                    self.apply(&message);
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Receives until (and including) the next `Feed` frame.
    pub async fn until_feed(&mut self) -> Vec<ServerMessage> {
        let mut out = Vec::new();
        loop {
            let message = self.recv().await;
            let done = matches!(message, ServerMessage::Feed(_) | ServerMessage::Error(_));
            out.push(message);
            if done {
                return out;
            }
        }
    }

    /// Applies a server message to the local documents and cursor.
    pub fn apply(&mut self, message: &ServerMessage) {
        match message {
            ServerMessage::Snapshots(_) | ServerMessage::ListedSnapshots(_) => {
                let listings: Vec<Option<&Listing>> = match message {
                    ServerMessage::ListedSnapshots(listed) => {
                        listed.iter().map(|l| l.listing.as_ref()).collect()
                    }
                    _ => vec![],
                };
                for (i, s) in message.snapshots().enumerate() {
                    let (_, doc) = match self.docs.entry(s.doc_id) {
                        Entry::Occupied(entry) => {
                            let doc = entry.into_mut();
                            doc.1.load_incremental(&s.bytes).unwrap();
                            doc
                        }
                        Entry::Vacant(entry) => {
                            let doc = AutoCommit::load(&s.bytes).unwrap();
                            // What a phone indexes the document by, unread,
                            // must be what reading it would give.
                            if let Some(listing) = listings.get(i).copied().flatten() {
                                let document = Document::hydrate(s.kind, &doc).unwrap();
                                assert_eq!(
                                    listing,
                                    &Listing::of(&document),
                                    "the listing sent with {} {}",
                                    s.kind,
                                    s.doc_id
                                );
                            }
                            entry.insert((s.kind, doc))
                        }
                    };
                    self.confirmed.insert(s.doc_id, doc.get_heads());
                }
            }
            ServerMessage::Feed(feed) => self.cursor = feed.cursor.0,
            ServerMessage::Drop(drop) => {
                for id in &drop.doc_ids {
                    self.docs.remove(id);
                    self.confirmed.remove(id);
                }
            }
            ServerMessage::WriteRejected(rejected) => {
                if rejected.snapshot.is_empty() {
                    self.docs.remove(&rejected.doc_id);
                } else {
                    let mut doc = AutoCommit::load(&rejected.snapshot).unwrap();
                    let heads = doc.get_heads();
                    self.docs.insert(rejected.doc_id, (rejected.kind, doc));
                    self.confirmed.insert(rejected.doc_id, heads);
                }
            }
            ServerMessage::Applied(applied) => {
                for a in applied {
                    let heads = a.heads.iter().map(|h| ChangeHash(*h)).collect();
                    self.confirmed.insert(a.doc_id, heads);
                }
            }
            _ => {}
        }
    }

    /// Edits a document locally (offline is fine).
    pub fn edit(&mut self, id: DocId, f: impl FnOnce(&mut AutoCommit)) {
        let (_, doc) = self.docs.get_mut(&id).expect("document on the device");
        f(doc);
    }

    /// The changes made since the server last confirmed, per document.
    pub fn pending(&mut self) -> Vec<DocChanges> {
        let mut out = Vec::new();
        for (id, (kind, doc)) in &mut self.docs {
            let confirmed = self.confirmed.get(id).cloned().unwrap_or_default();
            let changes: Vec<u8> = doc
                .get_changes(&confirmed)
                .iter()
                .flat_map(|c| c.raw_bytes().to_vec())
                .collect();
            if !changes.is_empty() {
                out.push(DocChanges {
                    doc_id: *id,
                    kind: *kind,
                    changes,
                });
            }
        }
        out
    }

    /// Sends one command and waits for its result.
    pub async fn run(&mut self, command: &Command) -> CommandResult {
        self.send(ClientMessage::Commands(vec![command.clone()]))
            .await;
        loop {
            if let ServerMessage::CommandResults(mut results) = self.recv().await {
                return results.remove(0);
            }
        }
    }

    /// Pushes pending changes; returns every message received until each
    /// pushed document was answered (Applied, WriteRejected or Drop).
    pub async fn push(&mut self) -> Vec<ServerMessage> {
        let pending = self.pending();
        let mut waiting: std::collections::HashSet<DocId> =
            pending.iter().map(|p| p.doc_id).collect();
        if pending.is_empty() {
            return Vec::new();
        }
        self.send(ClientMessage::Changes(pending)).await;
        let mut out = Vec::new();
        while !waiting.is_empty() {
            let message = self.recv().await;
            match &message {
                ServerMessage::Applied(applied) => applied.iter().for_each(|a| {
                    waiting.remove(&a.doc_id);
                }),
                ServerMessage::WriteRejected(r) => {
                    waiting.remove(&r.doc_id);
                }
                ServerMessage::Drop(d) => d.doc_ids.iter().for_each(|id| {
                    waiting.remove(id);
                }),
                _ => {}
            }
            out.push(message);
        }
        out
    }
}

/// A command as a phone's outbox makes it: position `seq`, stamped now.
pub fn command(seq: u64, body: CommandBody) -> Command {
    Command {
        id: CommandId::new(),
        device_seq: seq,
        issued_at_ms: jiff::Timestamp::now().as_millisecond(),
        body,
    }
}
