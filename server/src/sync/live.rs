//! The live feed of one instance: after each committed change, **one** read
//! of everything that changed since the previous read, shared by every sync
//! session of the instance.
//!
//! Without it each connected device answered a wake-up with its own feed
//! query (the current position, the scoped feed, the change runs of each
//! document, its drops): a CS edit seen by 100 phones cost some 400 queries
//! that all wanted nearly the same rows. Now one task reads a [`Slice`] —
//! every document whose feed position moved past the last slice, with its
//! scope keys, access list, snapshot and change runs, and every drop recorded
//! in that range — inside one read-only snapshot, and broadcasts it. Each
//! session filters it with [`Reader::sees`](super::Reader::sees), the
//! in-memory twin of the SQL scope predicate, and sends what its device may
//! read ([`Session::live`](super::session::Session::live)).
//!
//! A slice covers the positions `(from, to]` completely: positions become
//! visible in commit order (see [`store::next_seq`]) and the slice is read in
//! one snapshot, so nothing below `to` can appear later. A session whose
//! cursor is behind `from` (it connected while a slice was being read), a
//! session that lagged behind the broadcast, and every session after a slice
//! too big to share ([`Slice::docs`] is `None`) fall back to reading its own
//! feed in SQL, as on connect.
//!
//! Scope in memory is the scope the session loaded when it opened, so an
//! account whose role, departments or status change ([`super::account_changed`])
//! has its sessions closed through the same channel ([`Live::Ended`]): the
//! device reconnects as after any drop, under its new scope. A device session
//! that is signed out ([`super::signed_out`]: logout, a password change or
//! reset, deactivation) has its live session closed the same way, with a code
//! that tells the device to sign in again.
//!
//! The task wakes on the sync wake-up events of the [`EventBus`] (on Postgres
//! these arrive from every instance through LISTEN), coalesces the ones that
//! queue up while it reads, and also reads on a slow tick, so a wake-up lost
//! while the LISTEN connection was re-established delays a change but never
//! loses it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fieldops_sync::ids::{DocId, DocKind};
use fieldops_sync::listing::Listing;
use serde::Deserialize;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio_util::sync::CancellationToken;

use super::{ACCOUNT_EVENT, DocScope, Ending, SYNC_EVENT, store};
use crate::db::Db;
use crate::events::EventBus;
use crate::metrics::{Metrics, SyncStage};

/// At most this many documents in a shared slice; more, and sessions read
/// their own feeds (a bulk import is not a live edit).
const MAX_SLICE_DOCS: i64 = 256;
/// At most this many stored bytes (snapshots and runs) in a shared slice.
const MAX_SLICE_BYTES: usize = 4 * 1024 * 1024;
/// Slices a slow session may fall behind by before it reads its own feed;
/// with the byte cap, this bounds what lagging sessions keep in memory.
const BACKLOG: usize = 64;
/// A read even without a wake-up, in case one was lost.
const TICK: Duration = Duration::from_secs(5);

/// Everything that changed in the feed positions `(from, to]`.
#[derive(Debug)]
pub struct Slice {
    /// Exclusive.
    pub from: i64,
    /// Inclusive: every position up to here is covered.
    pub to: i64,
    /// The documents at a position in the range, oldest first; `None` when
    /// the range held too much to share.
    pub docs: Option<Vec<SliceDoc>>,
    /// Drops recorded in the range, for every user.
    pub drops: Vec<SliceDrop>,
}

/// A document as the feed knows it, with what any reader may need of it.
#[derive(Debug)]
pub struct SliceDoc {
    pub doc_id: DocId,
    pub kind: DocKind,
    pub seq: i64,
    pub deleted: bool,
    pub full_from_seq: i64,
    pub pool_exit_seq: i64,
    pub scope: DocScope,
    pub snapshot: Vec<u8>,
    /// Its listing, if on record (sent with the whole document).
    pub listing: Option<Listing>,
    /// `(seq, bytes)` of the change runs after the snapshot, oldest first.
    pub runs: Vec<(i64, Vec<u8>)>,
    /// Users with access beyond their role, and when each was granted it.
    pub users: Vec<String>,
    pub granted: Vec<i64>,
}

impl SliceDoc {
    /// When `user_id` was given access, if they were.
    pub fn granted_seq(&self, user_id: &str) -> Option<i64> {
        self.users
            .iter()
            .position(|u| u == user_id)
            .map(|i| self.granted[i])
    }

    /// The runs after `seq`, concatenated.
    pub fn runs_after(&self, seq: i64) -> Vec<u8> {
        self.runs
            .iter()
            .filter(|(s, _)| *s > seq)
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }
}

use crate::db::sync_store::FeedDocRow as DocRow;
pub use crate::db::sync_store::SliceDrop;

/// What the live feed tells the sessions of its instance, in order.
#[derive(Debug, Clone)]
pub enum Live {
    /// What changed in the feed.
    Slice(Arc<Slice>),
    /// Some sessions of an account end: its role, departments or status
    /// changed (sessions judge scope from what they loaded at the start, so
    /// the device reconnects under the new scope), or it was signed out.
    Ended(Arc<Ending>),
}

/// The live feed's broadcast. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveFeed {
    slices: broadcast::Sender<Live>,
}

impl LiveFeed {
    /// Starts the reading task, which stops with `shutdown`.
    pub async fn start(
        db: Db,
        events: &EventBus,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let (slices, _) = broadcast::channel(BACKLOG);
        let feed = Self { slices };
        // Subscribed before the first position is read: no wake-up falls between.
        let wakeups = events.subscribe();
        let from = store::current_seq(db.pool()).await?;
        tokio::spawn(feed.clone().run(db, wakeups, from, metrics, shutdown));
        Ok(feed)
    }

    /// Receives every slice read, and every account change, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.slices.subscribe()
    }

    /// Passes an account change on at once; whether `event` asks for a read.
    fn wants_read(&self, event: &crate::events::Event) -> bool {
        if event.kind == ACCOUNT_EVENT {
            match Ending::deserialize(&event.data) {
                Ok(ending) => {
                    let _ = self.slices.send(Live::Ended(Arc::new(ending)));
                }
                Err(e) => tracing::warn!(error = %e, "unreadable account event"),
            }
        }
        event.kind == SYNC_EVENT
    }

    async fn run(
        self,
        db: Db,
        mut wakeups: broadcast::Receiver<crate::events::Event>,
        mut from: i64,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                event = wakeups.recv() => match event {
                    Ok(event) if !self.wants_read(&event) => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => {}
            }
            // The wake-ups that queued up meanwhile are covered by this read.
            loop {
                match wakeups.try_recv() {
                    Ok(event) => {
                        self.wants_read(&event);
                    }
                    Err(TryRecvError::Lagged(_)) => {}
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
            }
            if self.slices.receiver_count() == 0 {
                // No session to serve: skip ahead. Sessions that open later
                // catch up from the database and then follow the next slice.
                match store::current_seq(db.pool()).await {
                    Ok(now) => from = now,
                    Err(e) => tracing::warn!(error = %e, "reading the feed position"),
                }
                continue;
            }
            let started = std::time::Instant::now();
            match read(&db, from).await {
                Ok(Some(slice)) => {
                    metrics.sync_stage(SyncStage::LiveRead, started.elapsed());
                    from = slice.to;
                    // Nobody listening is fine: no session is open.
                    let _ = self.slices.send(Live::Slice(Arc::new(slice)));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, from, "reading the live feed"),
            }
        }
    }
}

/// What changed after `from`, read in one snapshot; `None` when nothing did.
pub async fn read(db: &Db, from: i64) -> sqlx::Result<Option<Slice>> {
    let mut tx = store::snapshot(db).await?;
    let to = store::current_seq(&mut *tx).await?;
    if to <= from {
        return Ok(None);
    }
    let rows = store::feed_docs_after(&mut tx, from, MAX_SLICE_DOCS + 1).await?;
    let drops = store::drops_between(&mut tx, from, to).await?;
    let docs = if rows.len() as i64 > MAX_SLICE_DOCS {
        None
    } else {
        docs(&mut tx, from, rows).await?
    };
    // A read-only snapshot: nothing to keep, ending it is all.
    tx.rollback().await?;
    Ok(Some(Slice {
        from,
        to,
        docs,
        drops,
    }))
}

/// The documents of `rows` with their runs and access lists; `None` past
/// [`MAX_SLICE_BYTES`].
async fn docs(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    from: i64,
    rows: Vec<DocRow>,
) -> sqlx::Result<Option<Vec<SliceDoc>>> {
    if rows.is_empty() {
        return Ok(Some(vec![]));
    }
    let runs = store::runs_of_docs_after(tx, from).await?;
    let access = store::access_of_docs_after(tx, from).await?;
    let mut bytes = runs.iter().map(|r| r.2.len()).sum::<usize>();
    let mut runs_of: HashMap<String, Vec<(i64, Vec<u8>)>> = HashMap::new();
    for (doc_id, seq, run) in runs {
        runs_of.entry(doc_id).or_default().push((seq, run));
    }
    let mut access_of: HashMap<String, (Vec<String>, Vec<i64>)> = HashMap::new();
    for (doc_id, user_id, granted_seq) in access {
        let entry = access_of.entry(doc_id).or_default();
        entry.0.push(user_id);
        entry.1.push(granted_seq);
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        bytes += row.snapshot.len();
        if bytes > MAX_SLICE_BYTES {
            return Ok(None);
        }
        let (Ok(doc_id), Ok(kind)) = (row.id.parse::<DocId>(), row.kind.parse::<DocKind>()) else {
            continue;
        };
        let (users, granted) = access_of.remove(&row.id).unwrap_or_default();
        out.push(SliceDoc {
            doc_id,
            kind,
            seq: row.seq,
            deleted: row.deleted == 1,
            full_from_seq: row.full_from_seq,
            pool_exit_seq: row.pool_exit_seq,
            scope: DocScope {
                customer_id: row.customer_id,
                department_id: row.department_id,
                in_pool: row.in_pool == 1,
            },
            snapshot: row.snapshot,
            listing: super::read_listing(row.listing.as_deref()),
            runs: runs_of.remove(&row.id).unwrap_or_default(),
            users,
            granted,
        });
    }
    Ok(Some(out))
}
