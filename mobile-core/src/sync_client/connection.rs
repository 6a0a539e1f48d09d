//! One session on `/api/v1/sync` ([`SyncConnection`]): open it with `Hello`,
//! store what the server sends frame by frame, acknowledge the feed, push
//! local changes and the outbox, and tell the app what changed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use automerge::sync::{self as am_sync, SyncDoc};
use fieldops_sync::ids::{CommandId, DocId, DocKind};
use fieldops_sync::protocol::{
    self, ClientMessage, Cursor, DocChanges, DocHeads, DocSync, ErrorCode, Hello, ListedSnapshot,
    ServerMessage, SyncBatch, Version, close,
};
use futures_util::{SinkExt, StreamExt};
use rusqlite::Transaction;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::SyncReport;
use crate::account::Session;
use crate::documents::{self, Loaded, Me};
use crate::error::{CoreError, Result};
use crate::events::{CoreEvent, SyncState};
use crate::outbox;
use crate::photos;
use crate::shared::Shared;
use crate::store::{self, now_ms};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(base_url: &str) -> String {
    let rest = base_url
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| {
            base_url
                .strip_prefix("http://")
                .map(|r| format!("ws://{r}"))
        })
        .unwrap_or_else(|| base_url.to_owned());
    format!("{rest}/api/v1/sync")
}

async fn send(ws: &mut Ws, message: &ClientMessage) -> Result<()> {
    let frame = message.encode()?;
    ws.send(Message::Binary(frame.into()))
        .await
        .map_err(|e| CoreError::Network(e.to_string()))
}

/// One session; `one_shot` returns once caught up and quiet.
pub(super) async fn run_session(shared: &Arc<Shared>, one_shot: bool) -> Result<SyncReport> {
    let mut refreshed = false;
    loop {
        // Before the session is read: a sign-in of another user that wipes
        // the store after this point refuses this session's writes.
        let generation = shared.store.generation();
        let session = shared.fresh_session(refreshed).await?;
        match SyncConnection::open(shared, &session, generation).await {
            Ok(mut s) => return s.run(one_shot).await,
            Err(ConnectionError::TokenExpired) if !refreshed => refreshed = true,
            Err(ConnectionError::TokenExpired) => {
                return Err(CoreError::Unauthorized(
                    "token refused after refresh".into(),
                ));
            }
            Err(ConnectionError::Core(e)) => return Err(e),
        }
    }
}

/// Why a [`SyncConnection`] could not open or read a frame.
enum ConnectionError {
    /// The server says the access token expired: refresh it, connect again.
    TokenExpired,
    /// Anything else.
    Core(CoreError),
}

impl From<CoreError> for ConnectionError {
    fn from(e: CoreError) -> Self {
        ConnectionError::Core(e)
    }
}

/// One open WebSocket session on `/api/v1/sync`: the socket, the per-document
/// Automerge sync states, and what was pushed and not yet answered. It lives
/// from `Welcome` to the socket's close; [`run_session`] opens a new one per
/// connection. (Not the signed-in [`Session`], which holds the tokens.)
struct SyncConnection {
    shared: Arc<Shared>,
    ws: Ws,
    target: Cursor,
    /// The protocol version the server speaks in this session.
    version: Version,
    states: HashMap<DocId, am_sync::State>,
    in_flight: HashSet<CommandId>,
    /// Documents pushed and not yet answered, with the heads pushed.
    pushed: HashMap<DocId, Vec<automerge::ChangeHash>>,
    caught_up: bool,
    report: SyncReport,
    /// The store's generation when the session opened: its writes are
    /// refused once another user's sign-in wiped the store.
    generation: u64,
}

impl SyncConnection {
    async fn open(
        shared: &Arc<Shared>,
        session: &Session,
        generation: u64,
    ) -> Result<Self, ConnectionError> {
        let url = ws_url(&session.account.base_url);
        let config = WebSocketConfig::default()
            .read_buffer_size(protocol::limits::SOCKET_READ_BUFFER_BYTES)
            .max_message_size(Some(protocol::limits::MAX_FRAME_BYTES));
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
            .await
            .map_err(|e| CoreError::Network(e.to_string()))?;
        shared
            .events
            .update_status(|s| s.state = SyncState::Syncing);
        let (cursor, known) = shared
            .blocking(|shared| {
                let cursor = shared.store.cursor()?;
                let known = shared.store.read(|conn| {
                    use protocol::limits::{MAX_HEADS_PER_DOC, MAX_KNOWN_DOCS, MAX_KNOWN_HEADS};
                    // As many as the Hello's limits allow; the rest are pushed
                    // as changes anyway once the session is open.
                    let (mut heads, mut total) = (Vec::new(), 0);
                    for id in documents::with_local_changes(conn)? {
                        if heads.len() == MAX_KNOWN_DOCS || total == MAX_KNOWN_HEADS {
                            break;
                        }
                        if let Some(mut loaded) = documents::load(conn, id)? {
                            let doc_heads = loaded.doc.get_heads();
                            if doc_heads.len() > MAX_HEADS_PER_DOC
                                || total + doc_heads.len() > MAX_KNOWN_HEADS
                            {
                                continue;
                            }
                            total += doc_heads.len();
                            heads.push(DocHeads::new(id, &doc_heads));
                        }
                    }
                    Ok(heads)
                })?;
                Ok((cursor, known))
            })
            .await?;
        let hello = ClientMessage::Hello(Hello {
            protocol_version: protocol::PROTOCOL_VERSION,
            access_token: session.access_token.clone(),
            device_id: shared.device_id,
            cursor,
            known_heads: (!known.is_empty()).then_some(known),
        });
        send(&mut ws, &hello).await?;
        let welcome = loop {
            match next_message(&mut ws).await? {
                ServerMessage::Welcome(welcome) => break welcome,
                ServerMessage::Error(e) if e.code == ErrorCode::TokenExpired => {
                    return Err(ConnectionError::TokenExpired);
                }
                ServerMessage::Error(e) => return Err(error_frame(e).into()),
                ServerMessage::Pong { .. } => continue,
                _ => {
                    return Err(CoreError::Protocol("expected Welcome".into()).into());
                }
            }
        };
        // A server of version 5 or later says the session's version right
        // after the Welcome (an older one refuses this build's Hello), and
        // before anything is pushed: what it lacks is held back.
        let version = loop {
            match next_message(&mut ws).await? {
                ServerMessage::Protocol { version } => break Version::with_server(version),
                ServerMessage::Pong { .. } => continue,
                _ => {
                    return Err(
                        CoreError::Protocol("expected Protocol after Welcome".into()).into(),
                    );
                }
            }
        };
        tracing::debug!(session = %welcome.session, cursor = welcome.cursor.0, version = version.get(), "sync session open");
        // Online again: queued photos may go now.
        shared.upload_kick.notify_one();
        Ok(SyncConnection {
            shared: shared.clone(),
            ws,
            target: welcome.cursor,
            version,
            states: HashMap::new(),
            in_flight: HashSet::new(),
            pushed: HashMap::new(),
            caught_up: false,
            report: SyncReport {
                cursor: cursor.0,
                ..SyncReport::default()
            },
            generation,
        })
    }

    /// A write of this session, on the blocking pool (see
    /// [`Store::write_in`](crate::store::Store::write_in)).
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (shared, generation) = (self.shared.clone(), self.generation);
        tokio::task::spawn_blocking(move || shared.store.write_in(generation, f))
            .await
            .map_err(|_| CoreError::Closed)?
    }

    async fn run(&mut self, one_shot: bool) -> Result<SyncReport> {
        if self.target.0 <= self.report.cursor {
            self.caught_up = true;
        }
        self.push().await?;
        self.send_calls().await?;
        let mut ping = tokio::time::interval(Duration::from_secs(25));
        ping.tick().await;
        loop {
            if one_shot && self.caught_up && self.quiet().await? {
                let _ = self.ws.close(None).await;
                self.finish_status();
                return Ok(self.report.clone());
            }
            tokio::select! {
                message = next_message(&mut self.ws) => {
                    let message = message.map_err(|e| match e {
                        ConnectionError::Core(e) => e,
                        ConnectionError::TokenExpired => CoreError::Network("token expired".into()),
                    })?;
                    self.handle(message).await?;
                }
                _ = self.shared.kick.notified() => self.push().await?,
                _ = self.shared.call_kick.notified() => self.send_calls().await?,
                _ = ping.tick() => send(&mut self.ws, &ClientMessage::Ping { nonce: now_ms() as u64 }).await?,
            }
        }
    }

    fn finish_status(&self) {
        self.shared.refresh_status();
        self.shared.events.update_status(|s| {
            s.state = SyncState::Idle;
            s.last_synced_at_ms = Some(now_ms());
            s.last_error = None;
        });
    }

    /// Nothing in flight: no unanswered commands, no unconfirmed documents.
    async fn quiet(&self) -> Result<bool> {
        if !self.in_flight.is_empty() || !self.pushed.is_empty() {
            return Ok(false);
        }
        self.shared
            .blocking(|shared| {
                shared.store.read(|conn| {
                    let (pending, sending) = outbox::open_counts(conn)?;
                    Ok(pending + sending == 0 && documents::with_local_changes(conn)?.is_empty())
                })
            })
            .await
    }

    /// Pushes local changes (one `Changes` frame: per document, the changes
    /// since the heads the server confirmed), then the outbox.
    async fn push(&mut self) -> Result<()> {
        let version = self.version;
        let commands = self
            .write(move |tx| {
                let commands = outbox::unanswered(tx, protocol::limits::MAX_COMMANDS)?;
                let commands = outbox::sendable(commands, version);
                let ids: Vec<CommandId> = commands.iter().map(|c| c.id).collect();
                outbox::mark_sending(tx, &ids)?;
                Ok(commands)
            })
            .await?;
        let fresh: Vec<_> = commands
            .into_iter()
            .filter(|c| !self.in_flight.contains(&c.id))
            .collect();
        if !fresh.is_empty() {
            self.in_flight.extend(fresh.iter().map(|c| c.id));
            send(&mut self.ws, &ClientMessage::Commands(fresh)).await?;
            self.shared.refresh_status();
        }
        let skip: HashSet<DocId> = self.pushed.keys().copied().collect();
        let docs = self
            .shared
            .blocking(move |shared| {
                shared.store.read(|conn| {
                    let mut out = Vec::new();
                    for id in documents::with_local_changes(conn)? {
                        if skip.contains(&id) {
                            continue;
                        }
                        if let Some(mut loaded) = documents::load(conn, id)?
                            && version.knows_kind(loaded.kind)
                        {
                            let synced = loaded.synced_heads();
                            let changes = loaded.doc.save_after(&synced);
                            if !changes.is_empty() {
                                let heads = loaded.doc.get_heads();
                                out.push((
                                    DocChanges {
                                        doc_id: id,
                                        kind: loaded.kind,
                                        changes,
                                    },
                                    heads,
                                ));
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .await?;
        let mut frame = Vec::new();
        for (doc, heads) in docs {
            self.pushed.insert(doc.doc_id, heads);
            frame.push(doc);
        }
        for chunk in frame.chunks(protocol::limits::MAX_SYNC_DOCS) {
            send(&mut self.ws, &ClientMessage::Changes(chunk.to_vec())).await?;
        }
        Ok(())
    }

    /// Stores whole documents from the server, indexed from their listings
    /// where they came with one. (Storing a frame while the next one is
    /// read was tried and measured: no gain on two cores, see BENCHMARKS.)
    async fn store_snapshots(&mut self, snapshots: Vec<ListedSnapshot>) -> Result<()> {
        let me = Me::of(&self.shared);
        let ids: Vec<(DocId, DocKind)> = snapshots
            .iter()
            .map(|s| (s.snapshot.doc_id, s.snapshot.kind))
            .collect();
        let replaced_local = self
            .write(move |tx| {
                let mut replaced_local = false;
                for ListedSnapshot { snapshot, listing } in &snapshots {
                    replaced_local |=
                        documents::insert_snapshot(tx, snapshot, listing.as_ref(), me)?;
                }
                Ok(replaced_local)
            })
            .await?;
        self.report.documents_received += ids.len() as u64;
        for (doc_id, kind) in ids {
            self.shared
                .events
                .emit(CoreEvent::DocumentChanged { doc_id, kind });
        }
        if replaced_local {
            // An edit made before the server had the document is now a
            // change on top of it.
            self.push().await?;
        }
        Ok(())
    }

    async fn handle(&mut self, message: ServerMessage) -> Result<()> {
        let shared = &self.shared;
        let me = Me::of(shared);
        match message {
            ServerMessage::Snapshots(snapshots) => {
                self.store_snapshots(
                    snapshots
                        .into_iter()
                        .map(|snapshot| ListedSnapshot {
                            snapshot,
                            listing: None,
                        })
                        .collect(),
                )
                .await?;
            }
            ServerMessage::ListedSnapshots(listed) => self.store_snapshots(listed).await?,
            ServerMessage::SyncBatch(batch) => {
                let mut states = std::mem::take(&mut self.states);
                let (states_back, replies, changed) = self
                    .write(move |tx| {
                        let mut replies = Vec::new();
                        let mut changed = Vec::new();
                        for doc in &batch.docs {
                            let (reply, did_change) = apply_sync(tx, &mut states, doc, me)?;
                            replies.extend(reply);
                            if did_change {
                                changed.push((doc.doc_id, doc.kind));
                            }
                        }
                        Ok((states, replies, changed))
                    })
                    .await?;
                self.states = states_back;
                self.report.documents_received += changed.len() as u64;
                for (doc_id, kind) in changed {
                    shared
                        .events
                        .emit(CoreEvent::DocumentChanged { doc_id, kind });
                }
                for chunk in replies.chunks(protocol::limits::MAX_SYNC_DOCS) {
                    send(
                        &mut self.ws,
                        &ClientMessage::SyncBatch(SyncBatch {
                            docs: chunk.to_vec(),
                        }),
                    )
                    .await?;
                }
                shared.refresh_status();
            }
            ServerMessage::CommandResults(results) => {
                let answered = self
                    .write(move |tx| {
                        let mut answered = Vec::new();
                        for result in &results {
                            answered.push((result.command_id, outbox::record_result(tx, result)?));
                        }
                        Ok(answered)
                    })
                    .await?;
                for (id, entry) in answered {
                    self.in_flight.remove(&id);
                    if let Some(entry) = entry {
                        self.report.commands_answered += 1;
                        shared.events.emit(CoreEvent::CommandAnswered(entry));
                    }
                }
                shared.refresh_status();
                // The window of 100 may have room for more.
                self.push().await?;
            }
            ServerMessage::Feed(feed) => {
                let cursor = feed.cursor;
                self.write(move |tx| store::set_cursor(tx, cursor)).await?;
                send(&mut self.ws, &ClientMessage::Ack { cursor }).await?;
                self.report.cursor = self.report.cursor.max(cursor.0);
                if cursor >= self.target && !self.caught_up {
                    self.caught_up = true;
                    self.finish_status();
                } else if self.caught_up {
                    self.finish_status();
                }
            }
            ServerMessage::Drop(drop) => {
                let ids = drop.doc_ids.clone();
                // A document leaving the device with edits the server never
                // took (a visit reassigned while its notes were written
                // offline) is kept, like a refused one, until dismissed.
                let why = vec![format!("document:{}", drop.reason.as_str())];
                self.write(move |tx| {
                    for &id in &ids {
                        documents::refused::keep(tx, id, &why, true)?;
                    }
                    documents::delete(tx, &ids)
                })
                .await?;
                for id in &drop.doc_ids {
                    self.states.remove(id);
                    self.pushed.remove(id);
                }
                shared.events.emit(CoreEvent::ScopeDropped {
                    doc_ids: drop.doc_ids,
                    reason: drop.reason.as_str().to_owned(),
                });
            }
            ServerMessage::WriteRejected(rejected) => {
                let (id, kind) = (rejected.doc_id, rejected.kind);
                let bytes = rejected.snapshot;
                let violations: Vec<String> = rejected
                    .violations
                    .iter()
                    .map(|v| format!("{}:{}", v.field, v.reason))
                    .collect();
                let kept = violations.clone();
                self.write(move |tx| {
                    // The device's version is kept before the server's
                    // replaces it: nothing typed is lost.
                    documents::refused::keep(tx, id, &kept, !bytes.is_empty())?;
                    if kind == DocKind::Photo && bytes.is_empty() {
                        photos::refused_before_upload(tx, id, &kept)?;
                    }
                    documents::replace(tx, id, kind, &bytes, me)
                })
                .await?;
                self.states.remove(&id);
                self.pushed.remove(&id);
                shared.events.emit(CoreEvent::WriteRejected {
                    doc_id: id,
                    violations,
                });
                shared
                    .events
                    .emit(CoreEvent::DocumentChanged { doc_id: id, kind });
                shared.refresh_status();
            }
            ServerMessage::Applied(applied) => {
                let confirmed: Vec<(
                    DocId,
                    Vec<automerge::ChangeHash>,
                    Vec<automerge::ChangeHash>,
                )> = applied
                    .iter()
                    .map(|a| {
                        let pushed = self.pushed.remove(&a.doc_id).unwrap_or_default();
                        let heads = a.heads.iter().copied().map(automerge::ChangeHash).collect();
                        (a.doc_id, heads, pushed)
                    })
                    .collect();
                self.write(move |tx| {
                    for (id, heads, pushed) in &confirmed {
                        documents::confirm(tx, *id, heads, pushed, me)?;
                    }
                    Ok(())
                })
                .await?;
                shared.refresh_status();
                // Edits made while the push was in flight go now.
                self.push().await?;
            }
            ServerMessage::Error(e) => return Err(error_frame(e)),
            ServerMessage::Welcome(_) | ServerMessage::Protocol { .. } => {
                return Err(CoreError::Protocol("a second Welcome or Protocol".into()));
            }
            ServerMessage::Pong { .. } => {}
            ServerMessage::Call(update) => {
                self.shared
                    .blocking(move |shared| crate::calls::receive(shared, update))
                    .await?;
                self.send_calls().await?;
            }
        }
        Ok(())
    }

    /// Sends the call signals waiting for the connection.
    async fn send_calls(&mut self) -> Result<()> {
        if !self.version.carries_calls() {
            return Ok(());
        }
        for message in crate::calls::take_waiting(&self.shared) {
            send(&mut self.ws, &ClientMessage::Call(message)).await?;
        }
        Ok(())
    }
}

fn error_frame(e: protocol::ErrorFrame) -> CoreError {
    match e.code {
        ErrorCode::Unauthorized | ErrorCode::TokenExpired => CoreError::Unauthorized(e.message),
        ErrorCode::UnsupportedVersion => {
            CoreError::Unauthorized(format!("update the app: {}", e.message))
        }
        _ => CoreError::Network(format!("{}: {}", e.code, e.message)),
    }
}

async fn next_message(ws: &mut Ws) -> Result<ServerMessage, ConnectionError> {
    loop {
        let Some(frame) = ws.next().await else {
            return Err(CoreError::Network("connection closed".into()).into());
        };
        match frame.map_err(|e| CoreError::Network(e.to_string()))? {
            Message::Binary(bytes) => {
                return Ok(ServerMessage::decode(&bytes).map_err(CoreError::from)?);
            }
            // Signed out elsewhere (logout, password reset, deactivation):
            // reconnecting would only be refused.
            Message::Close(Some(frame)) if u16::from(frame.code) == close::SIGNED_OUT => {
                return Err(CoreError::Unauthorized(frame.reason.to_string()).into());
            }
            Message::Close(_) => {
                return Err(CoreError::Network("server closed the session".into()).into());
            }
            _ => continue,
        }
    }
}

/// The session's sync state for a document, seeded from the persisted one.
fn state_for<'a>(
    states: &'a mut HashMap<DocId, am_sync::State>,
    id: DocId,
    loaded: &Loaded,
) -> &'a mut am_sync::State {
    states.entry(id).or_insert_with(|| {
        loaded
            .sync_state
            .as_deref()
            .and_then(|bytes| am_sync::State::decode(bytes).ok())
            .unwrap_or_default()
    })
}

/// Applies one server sync message; returns the reply and whether the
/// document changed.
fn apply_sync(
    conn: &rusqlite::Connection,
    states: &mut HashMap<DocId, am_sync::State>,
    doc: &DocSync,
    me: documents::Me,
) -> Result<(Option<DocSync>, bool)> {
    let message = doc.sync_message()?;
    let mut loaded = match documents::load(conn, doc.doc_id)? {
        Some(loaded) => loaded,
        None => {
            documents::insert_empty(conn, doc.doc_id, doc.kind)?;
            documents::load(conn, doc.doc_id)?.ok_or(CoreError::not_found(doc.kind))?
        }
    };
    let before = loaded.doc.get_heads();
    let state = state_for(states, doc.doc_id, &loaded);
    loaded.doc.sync().receive_sync_message(state, message)?;
    // What the server has: its announced heads if we hold them all.
    let server_heads = match &state.their_heads {
        Some(heads)
            if heads
                .iter()
                .all(|h| loaded.doc.get_change_by_hash(h).is_some()) =>
        {
            heads.clone()
        }
        _ => state.shared_heads.clone(),
    };
    let reply = loaded.doc.sync().generate_sync_message(state);
    let encoded_state = state.encode();
    let changed = loaded.doc.get_heads() != before;
    documents::store_changes(conn, doc.doc_id, &mut loaded, Some(&server_heads), me)?;
    documents::set_sync_state(conn, doc.doc_id, &encoded_state)?;
    Ok((
        reply.map(|m| DocSync::new(doc.doc_id, doc.kind, m)),
        changed,
    ))
}
