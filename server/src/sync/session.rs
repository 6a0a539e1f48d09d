//! One device's sync session, independent of its transport: the WebSocket
//! loop and the plain-HTTP batch endpoint both feed it client messages and
//! send what it returns.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use automerge::sync::{self as am_sync, SyncDoc as _};
use fieldops_sync::docs::DocumentSchema as _;
use fieldops_sync::ids::{DeviceId, DocId, DocKind};
use fieldops_sync::listing::Listing;
use fieldops_sync::protocol::{
    Applied, ClientMessage, Cursor, DocChanges, DocSync, DropDocs, DropReason, ErrorCode,
    ErrorFrame, Feed, ListedSnapshot, ServerMessage, Snapshot, SyncBatch, Version, Welcome,
    WriteRejected, limits,
};
use fieldops_sync::rules::{Violation, ViolationReason, WriteError};

use super::live::Slice;
use super::{DocWriteError, Reader, commands, photos, store};
use crate::AppState;
use crate::auth::{Actor, authenticate};
use crate::domain::Role;
use crate::error::ApiError;
use crate::metrics::SyncStage;
use crate::work::{Effects, Work};

/// Documents per catch-up query.
const PAGE: i64 = 2000;
/// Bytes per `ListedSnapshots` (or `Snapshots`) frame, well under the frame limit.
const FRAME_BUDGET: usize = 4 * 1024 * 1024;

/// An authenticated session.
#[derive(Debug)]
pub struct Session {
    state: AppState,
    pub actor: Actor,
    reader: Reader,
    device_id: DeviceId,
    /// The protocol version the session speaks: nothing the device's
    /// version lacks is sent to it.
    version: Version,
    /// Everything in scope up to here has been sent.
    pub cursor: i64,
    /// Automerge sync states for peers that use `SyncBatch`.
    sync_states: HashMap<DocId, am_sync::State>,
    /// Estimated server clock minus device clock, in milliseconds: the
    /// smallest (server receipt - device issue time) over the commands of
    /// this session, i.e. the clock offset plus the quickest command's
    /// network delay. Commands queued offline only raise the candidate, so
    /// they do not spoil the estimate.
    pub clock_skew_ms: Option<i64>,
}

/// Why a session could not start.
#[derive(Debug)]
pub struct Refused(pub ErrorFrame);

fn error(code: ErrorCode, message: &str) -> ErrorFrame {
    ErrorFrame {
        code,
        message: message.to_owned(),
    }
}

impl Session {
    /// Checks the `Hello` and opens the session; returns it with the
    /// `Welcome` and the catch-up to send.
    pub async fn open(
        state: AppState,
        first: ClientMessage,
    ) -> Result<(Self, Vec<ServerMessage>), Refused> {
        let mut session = Self::accept(state, first).await?;
        let opening = session.opening().await?;
        Ok((session, opening))
    }

    /// Checks the `Hello`: the session of the account it authenticates,
    /// nothing read or sent yet (a caller may still refuse it, say for
    /// holding too many sockets, before [`Session::opening`] costs a
    /// catch-up).
    pub async fn accept(state: AppState, first: ClientMessage) -> Result<Self, Refused> {
        let ClientMessage::Hello(hello) = first else {
            return Err(Refused(error(
                ErrorCode::UnexpectedMessage,
                &crate::t!("problem-sync-session-hello-first"),
            )));
        };
        let Some(version) = Version::negotiate(hello.protocol_version) else {
            return Err(Refused(error(
                ErrorCode::UnsupportedVersion,
                &crate::t!("problem-sync-session-version"),
            )));
        };
        let actor = match authenticate(&state, &hello.access_token).await {
            Ok(actor) => actor,
            Err(ApiError::Unauthorized(_)) if state.tokens.is_expired(&hello.access_token) => {
                return Err(Refused(error(
                    ErrorCode::TokenExpired,
                    &crate::t!("problem-sync-session-token-expired"),
                )));
            }
            Err(ApiError::Unauthorized(why) | ApiError::ForbiddenBecause { detail: why, .. }) => {
                return Err(Refused(error(ErrorCode::Unauthorized, &why)));
            }
            Err(e) => {
                tracing::error!(error = ?e, "authenticating a sync session");
                return Err(Refused(error(
                    ErrorCode::Internal,
                    &crate::t!("problem-sync-session-retry"),
                )));
            }
        };
        let reader = Reader::from(&actor);
        Ok(Session {
            state,
            actor,
            reader,
            device_id: hello.device_id,
            version,
            cursor: i64::try_from(hello.cursor.0).unwrap_or(i64::MAX),
            sync_states: HashMap::new(),
            clock_skew_ms: None,
        })
    }

    /// The `Welcome` and the catch-up that open an accepted session.
    pub async fn opening(&mut self) -> Result<Vec<ServerMessage>, Refused> {
        let current = store::current_seq(self.state.db.pool())
            .await
            .map_err(internal)?;
        let mut out = vec![ServerMessage::Welcome(Welcome {
            session: uuid::Uuid::now_v7(),
            server_time_ms: crate::db::now_ms(),
            cursor: Cursor(u64::try_from(current).unwrap_or_default()),
        })];
        if self.version.announced() {
            out.push(ServerMessage::Protocol {
                version: self.version.get(),
            });
        }
        out.extend(self.catch_up().await.map_err(internal)?);
        Ok(out)
    }

    /// The protocol version the session speaks.
    pub fn version(&self) -> Version {
        self.version
    }

    /// `out` as the session's version reads it ([`ServerMessage::for_version`]),
    /// without what that version cannot decode at all. The frames
    /// are built for the version (documents of kinds it lacks are left
    /// out of the feed), so this drops nothing unless that failed.
    fn admitted(&self, out: Vec<ServerMessage>) -> Vec<ServerMessage> {
        let mut out: Vec<ServerMessage> = out
            .into_iter()
            .map(|message| message.for_version(self.version))
            .collect();
        out.retain(|message| {
            let admitted = self.version.admits_server(message);
            if !admitted {
                tracing::error!(
                    version = self.version.get(),
                    ?message,
                    "a frame the device's protocol version cannot read was not sent"
                );
            }
            admitted
        });
        out
    }

    /// Everything in scope after the cursor, read from the database:
    /// document bytes, drops, then a `Feed` frame naming the new cursor.
    pub async fn catch_up(&mut self) -> anyhow::Result<Vec<ServerMessage>> {
        let since = self.cursor;
        let mut frames = FeedFrames::new(self.version);
        let mut reached = since;
        // Every read below sees one moment, so a document's row, its runs
        // and the drops agree (a compaction committing half-way cannot
        // pair an old snapshot with none of its runs).
        let mut tx = store::snapshot(&self.state.db).await?;
        // Read first: every position up to it is committed in the snapshot,
        // so the feed query sees all of them.
        let settled = store::current_seq(&mut *tx).await?;
        loop {
            let rows = store::feed(&mut *tx, &self.reader, reached, PAGE).await?;
            let full_page = rows.len() as i64 == PAGE;
            for mut row in rows {
                reached = reached.max(row.seq);
                let (Ok(doc_id), Ok(kind)) = (row.id.parse::<DocId>(), row.kind.parse::<DocKind>())
                else {
                    continue;
                };
                if !self.version.knows_kind(kind) {
                    continue;
                }
                let send = self.what_to_send(
                    row.deleted == 1,
                    row.in_pool == 1,
                    row.full_from_seq,
                    row.granted_seq,
                );
                // The runs are read up to the row's position, so the bytes
                // are the state its listing describes.
                let stored = row.listing.take();
                let listing = || super::read_listing(stored.as_deref());
                let (bytes, listing) = match send {
                    Delivery::Deleted => {
                        frames.deleted.push(doc_id);
                        continue;
                    }
                    Delivery::LeftPool => {
                        frames.left_pool.push(doc_id);
                        continue;
                    }
                    Delivery::RunsAfterCursor => {
                        let runs = store::changes_between(&mut *tx, &row.id, since, row.seq);
                        (runs.await?, None)
                    }
                    Delivery::Whole if row.change_count > 0 => (
                        [
                            row.snapshot.as_slice(),
                            &store::changes_between(&mut *tx, &row.id, 0, row.seq).await?,
                        ]
                        .concat(),
                        listing(),
                    ),
                    Delivery::Whole => (row.snapshot, listing()),
                };
                frames.document(doc_id, kind, row.seq, bytes, listing);
            }
            if !full_page {
                break;
            }
        }
        for (id, seq, reason) in store::drops(&mut *tx, &self.reader.user_id, since).await? {
            reached = reached.max(seq);
            frames.dropped(&id, &reason);
        }
        // Read only: nothing to keep.
        tx.rollback().await?;
        self.cursor = reached.max(settled).max(since);
        Ok(self.admitted(frames.finish(self.cursor)))
    }

    /// What a shared [`Slice`] of the live feed brings this session's
    /// device: the frames [`Session::catch_up`] would send for it, built
    /// from memory. `None` when the slice cannot stand in for the database
    /// (the session's cursor is behind it, or it was too big to share):
    /// catch up instead. A slice with nothing for this reader sends nothing
    /// and only moves the session's cursor.
    pub fn live(&mut self, slice: &Slice) -> Option<Vec<ServerMessage>> {
        let since = self.cursor;
        if since >= slice.to {
            return Some(vec![]);
        }
        if since < slice.from {
            return None;
        }
        let docs = slice.docs.as_ref()?;
        let me = &self.reader.user_id;
        let mut frames = FeedFrames::new(self.version);
        for doc in docs.iter().filter(|d| d.seq > since) {
            // The feed query's predicate, in memory.
            let pool_exit =
                self.reader.role == Role::Technician && since > 0 && doc.pool_exit_seq > since;
            if !pool_exit && !self.reader.sees(doc.kind, &doc.scope, &doc.users) {
                continue;
            }
            if !self.version.knows_kind(doc.kind) {
                continue;
            }
            let send = self.what_to_send(
                doc.deleted,
                doc.scope.in_pool,
                doc.full_from_seq,
                doc.granted_seq(me),
            );
            let (bytes, listing) = match send {
                Delivery::Deleted => {
                    frames.deleted.push(doc.doc_id);
                    continue;
                }
                Delivery::LeftPool => {
                    frames.left_pool.push(doc.doc_id);
                    continue;
                }
                Delivery::RunsAfterCursor => (doc.runs_after(since), None),
                Delivery::Whole => (
                    [doc.snapshot.as_slice(), &doc.runs_after(0)].concat(),
                    doc.listing.clone(),
                ),
            };
            frames.document(doc.doc_id, doc.kind, doc.seq, bytes, listing);
        }
        for drop in slice
            .drops
            .iter()
            .filter(|d| &d.user_id == me && d.seq > since)
        {
            frames.dropped(&drop.doc_id, &drop.reason);
        }
        self.cursor = slice.to;
        Some(if frames.is_empty() {
            vec![]
        } else {
            self.admitted(frames.finish(self.cursor))
        })
    }

    /// How a document in this session's feed reaches the device.
    fn what_to_send(
        &self,
        deleted: bool,
        in_pool: bool,
        full_from_seq: i64,
        granted_seq: Option<i64>,
    ) -> Delivery {
        if deleted {
            return Delivery::Deleted;
        }
        // In a technician's feed without pool or access: it left the pool.
        if self.reader.role == Role::Technician && !in_pool && granted_seq.is_none() {
            return Delivery::LeftPool;
        }
        // The device has the document up to the cursor unless it was
        // created, compacted, re-scoped or granted after that.
        let since = self.cursor;
        if full_from_seq <= since && granted_seq.is_none_or(|g| g <= since) {
            Delivery::RunsAfterCursor
        } else {
            Delivery::Whole
        }
    }

    /// Answers one client message.
    pub async fn handle(&mut self, message: ClientMessage) -> Vec<ServerMessage> {
        let result = match message {
            ClientMessage::Hello(_) => Ok(vec![ServerMessage::Error(error(
                ErrorCode::UnexpectedMessage,
                &crate::t!("problem-sync-session-already-open"),
            ))]),
            ClientMessage::Changes(docs) => Box::pin(self.changes(docs)).await,
            ClientMessage::SyncBatch(batch) => Box::pin(self.sync_batch(batch)).await,
            ClientMessage::Commands(list) => {
                self.estimate_skew(&list).await;
                commands::execute(
                    &self.state,
                    &self.actor,
                    &self.device_id.to_string(),
                    list,
                    self.clock_skew_ms,
                )
                .await
                .map(|results| vec![ServerMessage::CommandResults(results)])
            }
            ClientMessage::Ack { .. } => Ok(vec![]),
            ClientMessage::Ping { nonce } => Ok(vec![ServerMessage::Pong { nonce }]),
            // In the session's language (its upgrade's, else the account's).
            ClientMessage::Call(message) => Ok(
                match crate::calls::signal(&self.state, &self.actor, message.clone()).await {
                    Ok(()) => vec![],
                    Err(refused) => vec![ServerMessage::Call(
                        refused.update(&message, crate::i18n::current()),
                    )],
                },
            ),
        };
        let out = result.unwrap_or_else(|e| {
            tracing::error!(error = ?e, "sync session");
            vec![ServerMessage::Error(error(
                ErrorCode::Internal,
                &crate::t!("problem-sync-session-failed"),
            ))]
        });
        self.admitted(out)
    }

    /// Updates [`Session::clock_skew_ms`] from a batch of commands and keeps
    /// it with the device session.
    async fn estimate_skew(&mut self, list: &[fieldops_sync::commands::Command]) {
        let now = crate::db::now_ms();
        let Some(candidate) = list.iter().map(|c| now - c.issued_at_ms).min() else {
            return;
        };
        if self.clock_skew_ms.is_some_and(|s| s <= candidate) {
            return;
        }
        self.clock_skew_ms = Some(candidate);
        let stored = crate::db::sessions::set_clock_skew(
            self.state.db.pool(),
            &self.actor.session_id,
            candidate,
        )
        .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "storing a clock skew estimate");
        }
    }

    async fn changes(&mut self, docs: Vec<DocChanges>) -> anyhow::Result<Vec<ServerMessage>> {
        let Some(rule_actor) = self.reader.rule_actor() else {
            anyhow::bail!("actor without a valid user id");
        };
        let mut applied = Vec::new();
        let mut out = Vec::new();
        let mut out_of_scope = Vec::new();
        for doc in docs {
            let id = doc.doc_id.to_string();
            let mut work;
            let metrics = &self.state.metrics;
            let started = Instant::now();
            let in_scope = store::in_scope(self.state.db.pool(), &self.reader, &id).await?;
            metrics.sync_stage(SyncStage::Scope, started.elapsed());
            let result = if in_scope {
                let started = Instant::now();
                work = Work::begin(&self.state).await?;
                metrics.sync_stage(SyncStage::Begin, started.elapsed());
                if doc.kind == DocKind::Photo {
                    photos::apply_device_changes(
                        work.tx(),
                        &self.state.db,
                        &id,
                        &doc.changes,
                        &rule_actor,
                    )
                    .await
                } else {
                    if doc.kind == DocKind::Ticket {
                        super::tickets::lock_row(work.tx(), self.state.db.backend(), &id).await?;
                    }
                    super::apply_changes(
                        work.tx(),
                        &self.state.db,
                        &id,
                        doc.kind,
                        &doc.changes,
                        &rule_actor,
                        metrics,
                    )
                    .await
                }
            } else if doc.kind == DocKind::Photo
                && store::get(self.state.db.pool(), &id).await?.is_none()
            {
                // A photo taken on the device: its first push creates it.
                work = Work::begin(&self.state).await?;
                photos::create_from_device(
                    work.tx(),
                    &self.actor,
                    &rule_actor,
                    &id,
                    &doc.changes,
                    self.state.db.backend(),
                    self.state.config.ticket_max_attachments,
                )
                .await
            } else {
                out_of_scope.push(doc.doc_id);
                continue;
            };
            match result {
                Ok(mut stored) => {
                    let notices = match self
                        .follow_write(work.tx(), doc.kind, &id, &stored.doc)
                        .await?
                    {
                        Ok(notices) => notices,
                        Err(why) => {
                            drop(work);
                            out.push(self.rejected(doc.doc_id, doc.kind, why).await?);
                            continue;
                        }
                    };
                    let changed = std::mem::take(&mut stored.changed);
                    let started = Instant::now();
                    work.commit(Effects::told(notices).with_changed(changed))
                        .await?;
                    metrics.sync_stage(SyncStage::Commit, started.elapsed());
                    let heads = stored.doc.get_heads().iter().map(|h| h.0).collect();
                    applied.push(Applied {
                        doc_id: doc.doc_id,
                        seq: Cursor(stored.seq as u64),
                        heads,
                    });
                }
                Err(DocWriteError::Rejected(why)) => {
                    drop(work);
                    out.push(self.rejected(doc.doc_id, doc.kind, why).await?);
                }
                Err(DocWriteError::NotFound | DocWriteError::WrongKind) => {
                    out_of_scope.push(doc.doc_id)
                }
                Err(DocWriteError::Storage(e)) => return Err(e),
            }
        }
        if !applied.is_empty() {
            out.insert(0, ServerMessage::Applied(applied));
        }
        if !out_of_scope.is_empty() {
            out.push(ServerMessage::Drop(DropDocs {
                doc_ids: out_of_scope,
                reason: DropReason::OutOfScope,
            }));
        }
        Ok(out)
    }

    /// What the server adds to a device's accepted write before commit: a
    /// ticket's description is mirrored into SQL, and a change to a field SQL
    /// owns is refused (see [`super::tickets`]).
    async fn follow_write(
        &self,
        tx: &mut crate::db::Tx,
        kind: DocKind,
        id: &str,
        doc: &automerge::AutoCommit,
    ) -> anyhow::Result<Result<Vec<crate::service::Notice>, WriteError>> {
        if kind != DocKind::Ticket {
            return Ok(Ok(vec![]));
        }
        super::tickets::after_device_write(tx, &self.actor, id, doc).await
    }

    /// The refusal, with the authoritative document to converge back to.
    async fn rejected(
        &self,
        doc_id: DocId,
        kind: DocKind,
        why: WriteError,
    ) -> anyhow::Result<ServerMessage> {
        let mut violations = match why {
            WriteError::Violations(v) => v,
            WriteError::Apply(_) => vec![Violation {
                field: String::new(),
                reason: ViolationReason::Malformed,
            }],
        };
        violations.truncate(limits::MAX_VIOLATIONS);
        let snapshot = match super::load(&self.state.db, &doc_id.to_string()).await? {
            Some((_, mut doc)) => doc.save(),
            None => Vec::new(),
        };
        Ok(ServerMessage::WriteRejected(WriteRejected {
            doc_id,
            kind,
            violations,
            snapshot,
        }))
    }

    async fn sync_batch(&mut self, batch: SyncBatch) -> anyhow::Result<Vec<ServerMessage>> {
        let Some(rule_actor) = self.reader.rule_actor() else {
            anyhow::bail!("actor without a valid user id");
        };
        let mut replies = Vec::new();
        let mut out = Vec::new();
        let mut out_of_scope = Vec::new();
        for item in batch.docs {
            let id = item.doc_id.to_string();
            if !store::in_scope(self.state.db.pool(), &self.reader, &id).await? {
                out_of_scope.push(item.doc_id);
                continue;
            }
            let Ok(message) = item.sync_message() else {
                let why = WriteError::Violations(vec![Violation {
                    field: String::new(),
                    reason: ViolationReason::Malformed,
                }]);
                out.push(self.rejected(item.doc_id, item.kind, why).await?);
                continue;
            };
            // Taken out of the map while the write runs, put back after.
            let mut state = self.sync_states.remove(&item.doc_id).unwrap_or_default();
            let mut work = Work::begin(&self.state).await?;
            let kind = item.kind;
            if kind == DocKind::Ticket {
                super::tickets::lock_row(work.tx(), self.state.db.backend(), &id).await?;
            }
            let mut before = None;
            let mut result = super::update(work.tx(), &self.state.db, &id, kind, |doc| {
                if kind == DocKind::Photo {
                    before = fieldops_sync::docs::Photo::hydrate(doc).ok();
                }
                fieldops_sync::rules::receive_checked(doc, &mut state, kind, message, &rule_actor)
                    .map_err(DocWriteError::from)
            })
            .await;
            if kind == DocKind::Photo
                && let Ok(stored) = &result
                && stored.changed.is_some()
                && let Err(e) = photos::check_stored(work.tx(), before.as_ref(), &stored.doc).await
            {
                result = Err(e);
            }
            match result {
                Ok(mut stored) => match self.follow_write(work.tx(), kind, &id, &stored.doc).await?
                {
                    Ok(notices) => {
                        let changed = std::mem::take(&mut stored.changed);
                        work.commit(Effects::told(notices).with_changed(changed))
                            .await?;
                        if let Some(reply) = stored.doc.sync().generate_sync_message(&mut state) {
                            replies.push(DocSync::new(item.doc_id, kind, reply));
                        }
                    }
                    Err(why) => {
                        drop(work);
                        // Forget what the refused message taught the sync state.
                        state = am_sync::State::new();
                        out.push(self.rejected(item.doc_id, kind, why).await?);
                    }
                },
                Err(DocWriteError::Rejected(why)) => {
                    drop(work);
                    state = am_sync::State::new();
                    out.push(self.rejected(item.doc_id, kind, why).await?);
                }
                Err(DocWriteError::NotFound | DocWriteError::WrongKind) => {
                    out_of_scope.push(item.doc_id)
                }
                Err(DocWriteError::Storage(e)) => return Err(e),
            }
            self.sync_states.insert(item.doc_id, state);
        }
        if !replies.is_empty() {
            out.insert(0, ServerMessage::SyncBatch(SyncBatch { docs: replies }));
        }
        if !out_of_scope.is_empty() {
            out.push(ServerMessage::Drop(DropDocs {
                doc_ids: out_of_scope,
                reason: DropReason::OutOfScope,
            }));
        }
        Ok(out)
    }
}

/// How one document of a feed travels.
enum Delivery {
    /// Tell the device to drop it: deleted.
    Deleted,
    /// Tell the technician's device to drop it: it left the pool.
    LeftPool,
    /// The change runs after the session's cursor.
    RunsAfterCursor,
    /// Snapshot and every run.
    Whole,
}

/// The frames of one feed step: documents in frames under the size budget,
/// then drops by reason, then the `Feed` frame naming the new cursor.
#[derive(Default)]
struct FeedFrames {
    /// Whether the device reads listings ([`Version::reads_listings`]).
    listed: bool,
    out: Vec<ServerMessage>,
    frame: Vec<ListedSnapshot>,
    frame_bytes: usize,
    changed: Vec<DocId>,
    deleted: Vec<DocId>,
    left_pool: Vec<DocId>,
    by_reason: BTreeMap<String, Vec<DocId>>,
}

impl FeedFrames {
    fn new(version: Version) -> Self {
        FeedFrames {
            listed: version.reads_listings(),
            ..FeedFrames::default()
        }
    }

    /// Document bytes for the device; `listing` with a whole document.
    fn document(
        &mut self,
        doc_id: DocId,
        kind: DocKind,
        seq: i64,
        bytes: Vec<u8>,
        listing: Option<Listing>,
    ) {
        if bytes.is_empty() {
            return;
        }
        let listing = listing.filter(|_| self.listed);
        let size = bytes.len() + listing.as_ref().map_or(0, Listing::wire_len);
        if self.frame_bytes + size > FRAME_BUDGET || self.frame.len() == limits::MAX_SNAPSHOTS {
            self.flush();
        }
        self.frame_bytes += size;
        self.changed.push(doc_id);
        self.frame.push(ListedSnapshot {
            snapshot: Snapshot {
                doc_id,
                kind,
                seq: Cursor(u64::try_from(seq).unwrap_or_default()),
                bytes,
            },
            listing,
        });
    }

    /// Ends the frame of documents being filled.
    fn flush(&mut self) {
        let frame = std::mem::take(&mut self.frame);
        self.frame_bytes = 0;
        if frame.is_empty() {
            return;
        }
        self.out.push(if self.listed {
            ServerMessage::ListedSnapshots(frame)
        } else {
            ServerMessage::Snapshots(frame.into_iter().map(|l| l.snapshot).collect())
        });
    }

    fn dropped(&mut self, doc_id: &str, reason: &str) {
        if let Ok(id) = doc_id.parse() {
            self.by_reason
                .entry(reason.to_owned())
                .or_default()
                .push(id);
        }
    }

    fn is_empty(&self) -> bool {
        self.out.is_empty()
            && self.frame.is_empty()
            && self.deleted.is_empty()
            && self.left_pool.is_empty()
            && self.by_reason.is_empty()
    }

    fn finish(mut self, cursor: i64) -> Vec<ServerMessage> {
        self.flush();
        if !self.deleted.is_empty() {
            self.out.push(ServerMessage::Drop(DropDocs {
                doc_ids: self.deleted,
                reason: DropReason::Deleted,
            }));
        }
        let recorded = self
            .by_reason
            .into_iter()
            .map(|(reason, ids)| (reason.parse().unwrap_or(DropReason::OutOfScope), ids));
        for (reason, doc_ids) in
            std::iter::once((DropReason::OutOfScope, self.left_pool)).chain(recorded)
        {
            for chunk in doc_ids.chunks(limits::MAX_FEED_DOCS) {
                self.out.push(ServerMessage::Drop(DropDocs {
                    doc_ids: chunk.to_vec(),
                    reason,
                }));
            }
        }
        self.changed.truncate(limits::MAX_FEED_DOCS);
        self.out.push(ServerMessage::Feed(Feed {
            cursor: Cursor(u64::try_from(cursor).unwrap_or_default()),
            changed: self.changed,
        }));
        self.out
    }
}

fn internal(e: impl std::fmt::Debug) -> Refused {
    tracing::error!(error = ?e, "opening a sync session");
    Refused(error(
        ErrorCode::Internal,
        &crate::t!("problem-sync-session-retry"),
    ))
}
