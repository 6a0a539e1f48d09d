//! The sync client: login, token refresh, and sessions on `/api/v1/sync`.
//!
//! A session sends `Hello` with the access token and the stored cursor,
//! stores what the server sends frame by frame (each frame in one
//! transaction, before the next frame is read), acknowledges a `Feed`
//! cursor only after storing it, and pushes local changes and the outbox
//! in device order. The live loop reconnects with exponential backoff and
//! jitter; [`FieldopsCore::sync_now`] runs one bounded session for a mobile
//! background window.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use automerge::sync::{self as am_sync, SyncDoc};
use fieldops_sync::ids::{CommandId, DocId, DocKind};
use fieldops_sync::protocol::{
    self, ClientMessage, Cursor, DocChanges, DocHeads, DocSync, ErrorCode, Hello, ServerMessage,
    SyncBatch, close,
};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::account::{self, Account, Session};
use crate::api::{FieldopsCore, Inner};
use crate::documents::{self, Loaded};
use crate::error::{CoreError, Result};
use crate::events::{CoreEvent, SyncState};
use crate::outbox;
use crate::store::{self, now_ms};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a finished one-shot sync did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Documents received or updated.
    pub documents_received: u64,
    /// Command results received.
    pub commands_answered: u64,
    /// The cursor stored at the end.
    pub cursor: u64,
    /// Photo files whose bytes reached the server (or were there already).
    pub uploads_completed: u64,
    /// Bytes sent in upload chunks (a chunk cut short counts whole).
    pub upload_bytes_sent: u64,
    /// Why the photo uploads stopped, when they did (the connection dropped
    /// mid-upload, say). The sync itself succeeded; the uploads resume from
    /// their offsets on the next sync.
    pub upload_error: Option<String>,
}

impl FieldopsCore {
    /// Signs in against `base_url` (e.g. `http://127.0.0.1:8080`). Signing
    /// in as another user than the one whose data is on the device first
    /// wipes that data.
    pub async fn login(&self, base_url: &str, email: &str, password: &str) -> Result<Account> {
        let base_url = account::normalize_base_url(base_url)?;
        if email.trim().is_empty() || password.is_empty() {
            return Err(CoreError::invalid(
                "credentials",
                "e-mail and password are required",
            ));
        }
        let inner = self.inner.clone();
        let (email, password) = (email.to_owned(), password.to_owned());
        self.runtime()
            .spawn(async move {
                let device = format!("fieldops device {}", inner.device_id);
                let session =
                    account::login(&inner.http, &base_url, &email, &password, &device).await?;
                let stored = session.clone();
                let me = documents::Me(Some(session.account.user_id));
                blocking(&inner, move |inner| {
                    inner.store.write(|tx| {
                        let previous = account::load(tx)?;
                        if previous.is_some_and(|p| p.account.user_id != stored.account.user_id) {
                            tx.execute_batch(
                                "DELETE FROM documents; DELETE FROM outbox; DELETE FROM photo_uploads;
                                 DELETE FROM meta WHERE key = 'cursor';",
                            )?;
                            inner.uploads.clear();
                        }
                        account::save(tx, &stored)?;
                        documents::reindex_all(tx, me)
                    })
                })
                .await?;
                let account = session.account.clone();
                inner.set_session(Some(session));
                inner.refresh_counts();
                Ok(account)
            })
            .await
            .map_err(|_| CoreError::Closed)?
    }

    /// Signs out: stops syncing and forgets the tokens. Local data stays
    /// until another user signs in.
    pub fn logout(&self) -> Result<()> {
        self.stop_sync();
        self.inner.store.write(|tx| account::clear(tx))?;
        self.inner.set_session(None);
        Ok(())
    }

    /// Starts the live sync loop (idempotent): connect, catch up, stay live,
    /// reconnect with backoff and jitter.
    pub fn start_sync(&self) -> Result<()> {
        if self.inner.session().is_none() {
            return Err(CoreError::NotLoggedIn);
        }
        let mut live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        let inner = self.inner.clone();
        *live = Some(self.runtime().spawn(live_loop(inner)));
        Ok(())
    }

    /// Stops the live loop (the device goes offline); local work continues.
    pub fn stop_sync(&self) {
        let handle = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            handle.abort();
            self.inner
                .events
                .update_status(|s| s.state = SyncState::Offline);
        }
    }

    /// One bounded sync: connect, catch up, push local changes and the
    /// outbox, wait for the answers, upload queued photos (then push the
    /// documents that now say `stored`), and stop within `timeout`.
    pub async fn sync_now(&self, timeout: Duration) -> Result<SyncReport> {
        if self.inner.session().is_none() {
            return Err(CoreError::NotLoggedIn);
        }
        let inner = self.inner.clone();
        self.runtime()
            .spawn(async move {
                let result = tokio::time::timeout(timeout, Box::pin(one_shot(&inner))).await;
                match result {
                    Ok(Ok(report)) => Ok(report),
                    Ok(Err(error)) => {
                        set_failure(&inner, &error);
                        Err(error)
                    }
                    Err(_) => {
                        inner.events.update_status(|s| s.state = SyncState::Idle);
                        Err(CoreError::Timeout)
                    }
                }
            })
            .await
            .map_err(|_| CoreError::Closed)?
    }
}

/// A session, the photo uploads, and a second session if the uploads
/// marked photos `stored`. Uploads that fail after a good session do not fail
/// the sync (its documents and command results are stored): the report says
/// why they stopped. A sign-in problem still fails it.
async fn one_shot(inner: &Arc<Inner>) -> Result<SyncReport> {
    let mut report = Box::pin(run_session(inner, true)).await?;
    let uploads = match crate::uploads::upload_pass(inner).await {
        Ok(uploads) => uploads,
        Err(error @ (CoreError::Unauthorized(_) | CoreError::NotLoggedIn)) => return Err(error),
        Err(error) => {
            tracing::debug!(%error, "photo uploads stopped");
            report.upload_error = Some(error.to_string());
            return Ok(report);
        }
    };
    report.uploads_completed = uploads.completed;
    report.upload_bytes_sent = uploads.bytes_sent;
    if uploads.marked > 0 {
        let again = Box::pin(run_session(inner, true)).await?;
        report.documents_received += again.documents_received;
        report.commands_answered += again.commands_answered;
        report.cursor = report.cursor.max(again.cursor);
    }
    Ok(report)
}

/// Runs a store operation on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    inner: &Arc<Inner>,
    f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
) -> Result<T> {
    let inner = inner.clone();
    tokio::task::spawn_blocking(move || f(&inner))
        .await
        .map_err(|_| CoreError::Closed)?
}

fn set_failure(inner: &Inner, error: &CoreError) {
    let state = match error {
        CoreError::Unauthorized(_) | CoreError::NotLoggedIn => SyncState::Error,
        _ => SyncState::Offline,
    };
    let text = error.to_string();
    inner.events.update_status(|s| {
        s.state = state;
        s.last_error = Some(text);
    });
}

/// The live session and, beside it, the photo upload worker.
async fn live_loop(inner: Arc<Inner>) {
    tokio::join!(sync_loop(inner.clone()), crate::uploads::upload_loop(inner));
}

async fn sync_loop(inner: Arc<Inner>) {
    let mut failures: u32 = 0;
    loop {
        match run_session(&inner, false).await {
            Ok(_) => failures = 0,
            Err(error) => {
                set_failure(&inner, &error);
                if matches!(error, CoreError::Unauthorized(_) | CoreError::NotLoggedIn) {
                    return;
                }
                failures = failures.saturating_add(1);
            }
        }
        let delay = backoff(failures, 6, Duration::from_secs(60));
        tracing::debug!(?delay, failures, "sync reconnecting");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            // A local write while offline: try again sooner.
            _ = inner.kick.notified(), if failures > 0 => {}
        }
    }
}

/// A session token, refreshed first if it expired.
pub(crate) async fn fresh_session(inner: &Arc<Inner>, force: bool) -> Result<Session> {
    let _guard = inner.refresh_lock.lock().await;
    let session = inner.session().ok_or(CoreError::NotLoggedIn)?;
    if !force && !session.access_expired() {
        return Ok(session);
    }
    let renewed = account::refresh(&inner.http, &session).await?;
    let stored = renewed.clone();
    blocking(inner, move |inner| {
        inner.store.write(|tx| account::save(tx, &stored))
    })
    .await?;
    inner.set_session(Some(renewed.clone()));
    Ok(renewed)
}

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
async fn run_session(inner: &Arc<Inner>, one_shot: bool) -> Result<SyncReport> {
    let mut refreshed = false;
    loop {
        let session = fresh_session(inner, refreshed).await?;
        match SyncConnection::open(inner, &session).await {
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
    inner: Arc<Inner>,
    ws: Ws,
    target: Cursor,
    states: HashMap<DocId, am_sync::State>,
    in_flight: HashSet<CommandId>,
    /// Documents pushed and not yet answered, with the heads pushed.
    pushed: HashMap<DocId, Vec<automerge::ChangeHash>>,
    caught_up: bool,
    report: SyncReport,
}

impl SyncConnection {
    async fn open(inner: &Arc<Inner>, session: &Session) -> Result<Self, ConnectionError> {
        let url = ws_url(&session.account.base_url);
        let config = WebSocketConfig::default()
            .read_buffer_size(protocol::limits::SOCKET_READ_BUFFER_BYTES)
            .max_message_size(Some(protocol::limits::MAX_FRAME_BYTES));
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
            .await
            .map_err(|e| CoreError::Network(e.to_string()))?;
        inner.events.update_status(|s| s.state = SyncState::Syncing);
        let (cursor, known) = blocking(inner, |inner| {
            let cursor = inner.store.cursor()?;
            let known = inner.store.read(|conn| {
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
            device_id: inner.device_id,
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
        tracing::debug!(session = %welcome.session, cursor = welcome.cursor.0, "sync session open");
        // Online again: queued photos may go now.
        inner.uploads.kick.notify_one();
        Ok(SyncConnection {
            inner: inner.clone(),
            ws,
            target: welcome.cursor,
            states: HashMap::new(),
            in_flight: HashSet::new(),
            pushed: HashMap::new(),
            caught_up: false,
            report: SyncReport {
                cursor: cursor.0,
                ..SyncReport::default()
            },
        })
    }

    async fn run(&mut self, one_shot: bool) -> Result<SyncReport> {
        if self.target.0 <= self.report.cursor {
            self.caught_up = true;
        }
        self.push().await?;
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
                _ = self.inner.kick.notified() => self.push().await?,
                _ = ping.tick() => send(&mut self.ws, &ClientMessage::Ping { nonce: now_ms() as u64 }).await?,
            }
        }
    }

    fn finish_status(&self) {
        self.inner.refresh_counts();
        self.inner.events.update_status(|s| {
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
        blocking(&self.inner, |inner| {
            inner.store.read(|conn| {
                let (pending, sending) = outbox::open_counts(conn)?;
                Ok(pending + sending == 0 && documents::with_local_changes(conn)?.is_empty())
            })
        })
        .await
    }

    /// Pushes local changes (one `Changes` frame: per document, the changes
    /// since the heads the server confirmed), then the outbox.
    async fn push(&mut self) -> Result<()> {
        let commands = blocking(&self.inner, |inner| {
            inner.store.write(|tx| {
                let commands = outbox::unanswered(tx, protocol::limits::MAX_COMMANDS)?;
                let ids: Vec<CommandId> = commands.iter().map(|c| c.id).collect();
                outbox::mark_sending(tx, &ids)?;
                Ok(commands)
            })
        })
        .await?;
        let fresh: Vec<_> = commands
            .into_iter()
            .filter(|c| !self.in_flight.contains(&c.id))
            .collect();
        if !fresh.is_empty() {
            self.in_flight.extend(fresh.iter().map(|c| c.id));
            send(&mut self.ws, &ClientMessage::Commands(fresh)).await?;
            self.inner.refresh_counts();
        }
        let skip: HashSet<DocId> = self.pushed.keys().copied().collect();
        let docs = blocking(&self.inner, move |inner| {
            inner.store.read(|conn| {
                let mut out = Vec::new();
                for id in documents::with_local_changes(conn)? {
                    if skip.contains(&id) {
                        continue;
                    }
                    if let Some(mut loaded) = documents::load(conn, id)? {
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

    async fn handle(&mut self, message: ServerMessage) -> Result<()> {
        let inner = &self.inner;
        let me = inner.me();
        match message {
            ServerMessage::Snapshots(snapshots) => {
                let ids: Vec<(DocId, DocKind)> =
                    snapshots.iter().map(|s| (s.doc_id, s.kind)).collect();
                let replaced_local = blocking(inner, move |inner| {
                    inner.store.write(|tx| {
                        let mut replaced_local = false;
                        for snapshot in &snapshots {
                            replaced_local |= documents::is_provisional(tx, snapshot.doc_id)?;
                            documents::insert_snapshot(tx, snapshot, me)?;
                        }
                        Ok(replaced_local)
                    })
                })
                .await?;
                self.report.documents_received += ids.len() as u64;
                for (doc_id, kind) in ids {
                    inner
                        .events
                        .emit(CoreEvent::DocumentChanged { doc_id, kind });
                }
                if replaced_local {
                    // An edit made before the server had the document is
                    // now a change on top of it.
                    self.push().await?;
                }
            }
            ServerMessage::SyncBatch(batch) => {
                let mut states = std::mem::take(&mut self.states);
                let (states_back, replies, changed) = blocking(inner, move |inner| {
                    let mut replies = Vec::new();
                    let mut changed = Vec::new();
                    inner.store.write(|tx| {
                        for doc in &batch.docs {
                            let (reply, did_change) = apply_sync(tx, &mut states, doc, me)?;
                            replies.extend(reply);
                            if did_change {
                                changed.push((doc.doc_id, doc.kind));
                            }
                        }
                        Ok(())
                    })?;
                    Ok((states, replies, changed))
                })
                .await?;
                self.states = states_back;
                self.report.documents_received += changed.len() as u64;
                for (doc_id, kind) in changed {
                    inner
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
                inner.refresh_counts();
            }
            ServerMessage::CommandResults(results) => {
                let answered = blocking(inner, move |inner| {
                    inner.store.write(|tx| {
                        let mut answered = Vec::new();
                        for result in &results {
                            answered.push((result.command_id, outbox::record_result(tx, result)?));
                        }
                        Ok(answered)
                    })
                })
                .await?;
                for (id, entry) in answered {
                    self.in_flight.remove(&id);
                    if let Some(entry) = entry {
                        self.report.commands_answered += 1;
                        inner.events.emit(CoreEvent::CommandAnswered(entry));
                    }
                }
                inner.refresh_counts();
                // The window of 100 may have room for more.
                self.push().await?;
            }
            ServerMessage::Feed(feed) => {
                let cursor = feed.cursor;
                blocking(inner, move |inner| {
                    inner.store.write(|tx| store::set_cursor(tx, cursor))
                })
                .await?;
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
                blocking(inner, move |inner| {
                    inner.store.write(|tx| documents::delete(tx, &ids))
                })
                .await?;
                for id in &drop.doc_ids {
                    self.states.remove(id);
                    self.pushed.remove(id);
                }
                inner.events.emit(CoreEvent::ScopeDropped {
                    doc_ids: drop.doc_ids,
                    reason: drop.reason.as_str().to_owned(),
                });
            }
            ServerMessage::WriteRejected(rejected) => {
                let (id, kind) = (rejected.doc_id, rejected.kind);
                let bytes = rejected.snapshot;
                blocking(inner, move |inner| {
                    inner
                        .store
                        .write(|tx| documents::replace(tx, id, kind, &bytes, me))
                })
                .await?;
                self.states.remove(&id);
                self.pushed.remove(&id);
                inner.events.emit(CoreEvent::WriteRejected {
                    doc_id: id,
                    violations: rejected
                        .violations
                        .iter()
                        .map(|v| format!("{}:{}", v.field, v.reason))
                        .collect(),
                });
                inner
                    .events
                    .emit(CoreEvent::DocumentChanged { doc_id: id, kind });
                inner.refresh_counts();
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
                blocking(inner, move |inner| {
                    inner.store.write(|tx| {
                        for (id, heads, pushed) in &confirmed {
                            documents::confirm(tx, *id, heads, pushed, me)?;
                        }
                        Ok(())
                    })
                })
                .await?;
                inner.refresh_counts();
                // Edits made while the push was in flight go now.
                self.push().await?;
            }
            ServerMessage::Error(e) => return Err(error_frame(e)),
            ServerMessage::Welcome(_) => {
                return Err(CoreError::Protocol("unexpected Welcome".into()));
            }
            ServerMessage::Pong { .. } => {}
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

/// The wait before retry number `failures`: half a second doubled per
/// failure (at most `max_doublings` times), jittered by ±50 % so that many
/// devices do not retry in step, and never more than `cap`.
pub(crate) fn backoff(failures: u32, max_doublings: u32, cap: Duration) -> Duration {
    let base = 0.5 * 2f64.powi(failures.min(max_doublings) as i32);
    let jitter = rand::rng().random_range(0.5..1.5);
    Duration::from_secs_f64((base * jitter).min(cap.as_secs_f64()))
}
