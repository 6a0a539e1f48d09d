//! The server side of the sync engine: the document store, scoped feeds, the
//! write check on incoming changes, command execution and the sessions that
//! speak [`fieldops_sync::protocol`].
//!
//! # Storage
//!
//! Each document is a row of `sync_documents` (kind, scope keys, a compacted
//! Automerge snapshot, heads) plus the change runs stored since the snapshot
//! (`sync_changes`), each at its **feed position** (`seq`). Positions come from
//! one counter row updated inside the writing transaction, so they become
//! visible in commit order on both backends: a reader that has seen position
//! *n* has seen everything below it. After [`store::COMPACT_AFTER`] runs the
//! document is folded into a new snapshot, which keeps storage bounded.
//!
//! # Scope
//!
//! A [`Reader`] reads: admins everything; CS and sales the documents of their
//! departments (and those of none); customers their own documents but never
//! staff notes; technicians the pool (projections with no customer-private
//! fields) and the documents they were given access to (their assigned
//! visits, their check-ins and photos). Scope is evaluated in SQL for the feed
//! and in memory ([`Reader::sees`]) for live wake-ups; a test keeps the two in
//! step. When a document leaves a user's scope a drop is recorded, and their
//! devices are told to forget it.
//!
//! # What travels
//!
//! For each document in scope that changed after the device's cursor, the
//! session sends either the whole document (snapshot plus runs) or, when the
//! device already has everything up to its cursor, just the runs after it.
//! Both are bytes that `load_incremental` merges. A live edit therefore costs
//! the bytes of its own change, not of the document.
//!
//! # Writes
//!
//! Devices push raw changes ([`fieldops_sync::protocol::DocChanges`]); the
//! server applies them with [`fieldops_sync::rules::apply_checked`], so a change
//! that breaks a write rule is never stored or forwarded. The server's own
//! decisions (claims, approvals) are written with [`write_as_server`] in the
//! same transaction as the SQL change they reflect. Photo documents are the
//! one kind devices create: see [`photos`].
//!
//! Document ids are the ids of what they mirror: a visit's document id is the
//! visit's id, a ticket's the ticket's.

pub mod commands;
pub mod invoices;
pub mod live;
pub mod photos;
pub mod project;
pub mod session;
pub mod tickets;

use automerge::AutoCommit;
use fieldops_sync::docs::Document;
use fieldops_sync::ids::DocKind;
use fieldops_sync::listing::Listing;
use fieldops_sync::protocol::{DropReason, close};
use fieldops_sync::rules::{self, Actor as RuleActor, WriteError};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Actor;
pub use crate::db::sync_store as store;
use crate::db::{Db, Tx};
use crate::events::{Happened, Notice, SyncChanged};
pub use crate::scope::{DocScope, Reader};

/// A UUID the server stored, for a document: a stored id that is not one
/// is an error (the projection fails loudly), never a nil id put in a
/// document.
pub fn stored_uuid(id: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(id).map_err(|_| anyhow::anyhow!("stored id {id:?} is not a UUID"))
}

/// A stored change: the document and the feed position it moved to. Every
/// write returns these, and the unit of work (`crate::work`) ends the transaction,
/// records one wake-up for them; the instance's [`live`] feed then reads
/// what changed, so the wake-up itself needs to say no more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub doc_id: String,
    pub seq: i64,
}

/// Hex of a document's heads, comma-separated.
pub fn heads_text(doc: &mut AutoCommit) -> String {
    doc.get_heads()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A document's listing as kept beside it (postcard bytes), computed from
/// the state being stored: `None` when it cannot be read or would not fit
/// the protocol's limits (devices then read the document to list it).
fn listing_of(kind: DocKind, doc: &AutoCommit) -> Option<Vec<u8>> {
    let listing = match Document::hydrate(kind, doc) {
        Ok(document) => Listing::of(&document),
        Err(error) => {
            tracing::warn!(kind = kind.as_str(), %error, "stored a document it cannot list");
            return None;
        }
    };
    listing.check_limits().ok()?;
    Some(listing.to_bytes())
}

/// A listing kept beside a document, read back; `None` when there is none,
/// or one this build cannot read or send (kept by another build): the
/// device then reads the document itself.
pub fn read_listing(bytes: Option<&[u8]>) -> Option<Listing> {
    Listing::from_bytes(bytes?).filter(|listing| listing.check_limits().is_ok())
}

/// Loads a stored document: snapshot plus runs.
pub async fn load(db: &Db, id: &str) -> anyhow::Result<Option<(store::DocRow, AutoCommit)>> {
    let Some(row) = store::get(db.pool(), id).await? else {
        return Ok(None);
    };
    let runs = store::changes_after(db.pool(), id, 0).await?;
    let doc = assemble(&row.snapshot, &runs)?;
    Ok(Some((row, doc)))
}

/// A document from its stored snapshot and the change runs stored since.
fn assemble(snapshot: &[u8], runs: &[u8]) -> Result<AutoCommit, automerge::AutomergeError> {
    let mut doc = AutoCommit::load(snapshot)?;
    if !runs.is_empty() {
        doc.load_incremental(runs)?;
    }
    Ok(doc)
}

/// Why a write was not stored.
#[derive(Debug, thiserror::Error)]
pub enum DocWriteError {
    #[error("no such document")]
    NotFound,
    #[error("the document is of another kind")]
    WrongKind,
    #[error(transparent)]
    Rejected(#[from] WriteError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl DocWriteError {
    /// This error as the failure of a larger write described by `what`,
    /// keeping a storage failure's own cause in the chain (so a lost
    /// database connection still reads as one: `db::lost_connection_in`).
    pub fn context(self, what: String) -> anyhow::Error {
        match self {
            DocWriteError::Storage(e) => e.context(what),
            other => anyhow::Error::new(other).context(what),
        }
    }
}

impl From<sqlx::Error> for DocWriteError {
    fn from(e: sqlx::Error) -> Self {
        DocWriteError::Storage(e.into())
    }
}

/// The outcome of a stored write; the unit of work commits it with `changed`.
#[derive(Debug)]
pub struct Stored {
    /// `None` when the write changed nothing (e.g. changes already stored).
    pub changed: Option<Changed>,
    /// The document as stored.
    pub doc: AutoCommit,
    /// Its feed position.
    pub seq: i64,
}

/// Creates a document written by the server.
pub async fn create(
    tx: &mut Tx,
    id: &str,
    kind: DocKind,
    scope: DocScope,
    doc: &mut AutoCommit,
    users: &[String],
) -> anyhow::Result<Changed> {
    let seq = store::next_seq(tx).await?;
    store::insert(
        tx,
        store::NewDoc {
            id,
            kind: kind.as_str(),
            snapshot: &doc.save(),
            heads: &heads_text(doc),
            listing: listing_of(kind, doc).as_deref(),
        },
        &scope,
        seq,
    )
    .await?;
    for user in users {
        store::grant(tx, id, user, seq).await?;
    }
    Ok(Changed {
        doc_id: id.to_owned(),
        seq,
    })
}

/// Deletes document `id` (written by the server) inside `tx`: its readers'
/// devices drop it on their next feed.
pub async fn tombstone(tx: &mut Tx, id: &str) -> anyhow::Result<Changed> {
    let seq = store::next_seq(tx).await?;
    store::tombstone(tx, id, seq).await?;
    Ok(Changed {
        doc_id: id.to_owned(),
        seq,
    })
}

/// Applies `changes` from `actor` to document `id` inside `tx`, if the write
/// rules allow them. Nothing is stored otherwise.
/// The time spent in the rules and in the rest of the write is recorded in
/// `metrics` ([`SyncStage`](crate::metrics::SyncStage)).
pub async fn apply_changes(
    tx: &mut Tx,
    db: &Db,
    id: &str,
    kind: DocKind,
    changes: &[u8],
    actor: &RuleActor,
    metrics: &crate::metrics::Metrics,
) -> Result<Stored, DocWriteError> {
    use crate::metrics::SyncStage;
    let started = std::time::Instant::now();
    let mut rules_took = std::time::Duration::ZERO;
    let stored = update(tx, db, id, kind, |doc| {
        let checking = std::time::Instant::now();
        let checked = rules::apply_checked(doc, kind, changes, actor);
        rules_took = checking.elapsed();
        checked.map_err(DocWriteError::from)
    })
    .await;
    metrics.sync_stage(SyncStage::Rules, rules_took);
    metrics.sync_stage(
        SyncStage::LoadAndStore,
        started.elapsed().saturating_sub(rules_took),
    );
    stored
}

/// Writes the server's own decision into document `id` inside `tx`.
pub async fn write_as_server(
    tx: &mut Tx,
    db: &Db,
    id: &str,
    kind: DocKind,
    edit: impl FnOnce(&mut AutoCommit) -> anyhow::Result<()>,
) -> Result<Stored, DocWriteError> {
    update(tx, db, id, kind, |doc| {
        edit(doc).map_err(DocWriteError::Storage)
    })
    .await
}

/// Loads document `id` for writing, lets `edit` change it and stores the
/// changes it made at a new feed position.
pub async fn update(
    tx: &mut Tx,
    db: &Db,
    id: &str,
    kind: DocKind,
    edit: impl FnOnce(&mut AutoCommit) -> Result<(), DocWriteError>,
) -> Result<Stored, DocWriteError> {
    let row = store::lock(tx, db.backend(), id)
        .await?
        .ok_or(DocWriteError::NotFound)?;
    update_locked(tx, row, kind, &mut FeedPosition::default(), edit).await
}

/// [`update`] of a document row the caller has already locked
/// ([`store::lock`]), storing the changes at `position`.
pub async fn update_locked(
    tx: &mut Tx,
    row: store::DocRow,
    kind: DocKind,
    position: &mut FeedPosition,
    edit: impl FnOnce(&mut AutoCommit) -> Result<(), DocWriteError>,
) -> Result<Stored, DocWriteError> {
    if row.deleted != 0 {
        return Err(DocWriteError::NotFound);
    }
    if row.kind != kind.as_str() {
        return Err(DocWriteError::WrongKind);
    }
    let id = row.id.as_str();
    let runs = store::changes_after(&mut **tx, id, 0).await?;
    let mut doc = assemble(&row.snapshot, &runs).map_err(anyhow::Error::from)?;
    let before = doc.get_heads();
    edit(&mut doc)?;
    let heads = doc.get_heads();
    if heads == before {
        return Ok(Stored {
            changed: None,
            doc,
            seq: row.seq,
        });
    }
    let new_changes: Vec<u8> = doc
        .get_changes(&before)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let seq = position.get(tx).await?;
    store::append(
        tx,
        id,
        &new_changes,
        listing_of(kind, &doc).as_deref(),
        &heads_text(&mut doc),
        seq,
    )
    .await?;
    if row.change_count + 1 >= store::COMPACT_AFTER {
        store::compact(tx, id, &doc.save(), seq).await?;
    }
    let changed = Changed {
        doc_id: id.to_owned(),
        seq,
    };
    Ok(Stored {
        changed: Some(changed),
        doc,
        seq,
    })
}

/// One feed position shared by the document writes of one transaction,
/// taken on first use. Positions become visible in commit order and a
/// transaction's writes become visible together, so one position serves
/// them as well as several would, and each [`store::next_seq`] is a
/// statement on the row every writer queues for (on Postgres, held until
/// commit). A document may take at most one change run per position
/// (`sync_changes` is keyed by document and position).
#[derive(Debug, Default)]
pub struct FeedPosition(Option<i64>);

impl FeedPosition {
    /// The position, taken from the feed counter the first time.
    pub async fn get(&mut self, tx: &mut Tx) -> sqlx::Result<i64> {
        if let Some(seq) = self.0 {
            return Ok(seq);
        }
        let seq = store::next_seq(tx).await?;
        self.0 = Some(seq);
        Ok(seq)
    }
}

/// Lets `user_id` read document `id` (e.g. a technician's assigned visit)
/// at `position`. Their devices receive the whole document with the next feed.
pub async fn grant_access(
    tx: &mut Tx,
    id: &str,
    user_id: &str,
    position: &mut FeedPosition,
) -> anyhow::Result<Changed> {
    let seq = position.get(tx).await?;
    store::grant(tx, id, user_id, seq).await?;
    Ok(changed_at(tx, id, seq).await?)
}

/// Takes document `id` away from `user_id` at `position`; their devices are
/// told to drop it with `reason`. `None` if they had no access.
pub async fn revoke_access(
    tx: &mut Tx,
    id: &str,
    user_id: &str,
    reason: DropReason,
    position: &mut FeedPosition,
) -> anyhow::Result<Option<Changed>> {
    if !store::revoke(tx, id, user_id).await? {
        return Ok(None);
    }
    let seq = position.get(tx).await?;
    store::record_drop(tx, user_id, id, seq, reason.as_str()).await?;
    Ok(Some(changed_at(tx, id, seq).await?))
}

/// Hands every document of customer `from` to customer `into` at
/// `position`, re-sent whole to their readers (a merge of two records).
pub async fn move_customer_documents(
    tx: &mut Tx,
    from: &str,
    into: &str,
    position: &mut FeedPosition,
) -> anyhow::Result<Vec<Changed>> {
    let seq = position.get(tx).await?;
    let ids = store::rescope_customer(tx, from, into, seq).await?;
    Ok(ids
        .into_iter()
        .map(|doc_id| Changed { doc_id, seq })
        .collect())
}

/// Moves document `id` to feed position `seq` (its readers changed).
async fn changed_at(tx: &mut Tx, id: &str, seq: i64) -> sqlx::Result<Changed> {
    store::touch(tx, id, seq).await?;
    Ok(Changed {
        doc_id: id.to_owned(),
        seq,
    })
}

/// The event that wakes the live feed of every instance for `changed`, to
/// record in the transaction that changed it; `None` when nothing did.
pub fn wake_up(changed: &[Changed]) -> Option<Notice> {
    if changed.is_empty() {
        return None;
    }
    Some(Notice::internal(Happened::SyncChanged(SyncChanged {
        changed: changed.to_vec(),
    })))
}

/// The event that ends an account's sync sessions because what it may read
/// changed (role, departments, status); record it in the transaction that
/// changed the account. Its devices reconnect under the new scope.
pub fn account_changed(user_id: &str) -> Notice {
    ending(Ending {
        user_id: user_id.to_owned(),
        ..Ending::default()
    })
}

/// Which of an account's device sessions a sign-out ended.
#[derive(Debug, Clone, Copy)]
pub enum SignedOut<'a> {
    /// Every session (deactivation, a password reset).
    All,
    /// This one (logout, a reused refresh token).
    Only(&'a str),
    /// Every session but this one (the one that changed the password).
    AllBut(&'a str),
}

/// The event that closes the live sync sessions of device sessions that
/// were just revoked; record it in the transaction that revoked them. Their
/// devices must sign in again.
pub fn signed_out(user_id: &str, which: SignedOut<'_>) -> Notice {
    let (session_id, keep_session_id) = match which {
        SignedOut::All => (None, None),
        SignedOut::Only(id) => (Some(id.to_owned()), None),
        SignedOut::AllBut(id) => (None, Some(id.to_owned())),
    };
    ending(Ending {
        user_id: user_id.to_owned(),
        signed_out: true,
        session_id,
        keep_session_id,
    })
}

fn ending(ending: Ending) -> Notice {
    Notice::internal(Happened::AccountChanged(ending))
}

/// What an [`ACCOUNT_EVENT`] says: which live sync sessions of an account end,
/// and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    pub user_id: String,
    /// The device sessions were revoked (sign in again); otherwise the
    /// account's scope changed (reconnect).
    #[serde(default)]
    pub signed_out: bool,
    /// Only this device session ends.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Every device session but this one ends.
    #[serde(default)]
    pub keep_session_id: Option<String>,
}

impl Ending {
    /// Whether the live session of device session `session_id` of
    /// `user_id` ends.
    pub fn ends(&self, user_id: &str, session_id: &str) -> bool {
        self.user_id == user_id
            && self
                .session_id
                .as_deref()
                .is_none_or(|only| only == session_id)
            && self.keep_session_id.as_deref() != Some(session_id)
    }

    /// The close code the session ends with.
    pub fn close_code(&self) -> u16 {
        if self.signed_out {
            close::SIGNED_OUT
        } else {
            close::ACCOUNT_CHANGED
        }
    }
}

/// Reads `actor`'s account and device session again: the [`Ending`] a live
/// session opened as `actor` must close with, if it was signed out or its
/// scope changed since. For sessions that lagged behind the live feed, which
/// may have missed the account event itself.
pub async fn recheck(state: &AppState, actor: &Actor) -> sqlx::Result<Option<Ending>> {
    let now = crate::db::users::caller(state.db.pool(), &actor.user_id, &actor.session_id).await?;
    let ending = |signed_out| Ending {
        user_id: actor.user_id.clone(),
        signed_out,
        session_id: Some(actor.session_id.clone()),
        keep_session_id: None,
    };
    Ok(match now {
        Some(u) if u.status == crate::domain::Status::Active && u.session_live => {
            let same = u.role == actor.role && u.department_ids == actor.department_ids;
            (!same).then(|| ending(false))
        }
        _ => Some(ending(true)),
    })
}

/// The event kind of [`account_changed`] and [`signed_out`] on the bus.
pub const ACCOUNT_EVENT: &str = "account.changed";

/// The event kind of sync wake-ups on the bus.
pub const SYNC_EVENT: &str = "sync.changed";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn reader(role: Role) -> Reader {
        Reader {
            role,
            user_id: "u1".into(),
            customer_id: Some("c1".into()),
            departments: vec!["d1".into()],
        }
    }

    #[test]
    fn an_ending_names_the_sessions_it_closes() {
        let decode = |notice: Notice| {
            assert_eq!(notice.what.kind(), ACCOUNT_EVENT);
            match notice.what {
                Happened::AccountChanged(ending) => ending,
                other => panic!("not an account event: {other:?}"),
            }
        };
        let changed = decode(account_changed("u1"));
        assert!(changed.ends("u1", "s1") && changed.ends("u1", "s2"));
        assert!(!changed.ends("u2", "s1"));
        assert_eq!(changed.close_code(), close::ACCOUNT_CHANGED);
        let all = decode(signed_out("u1", SignedOut::All));
        assert!(all.ends("u1", "s1") && all.ends("u1", "s2"));
        assert_eq!(all.close_code(), close::SIGNED_OUT);
        let one = decode(signed_out("u1", SignedOut::Only("s1")));
        assert!(one.ends("u1", "s1") && !one.ends("u1", "s2"));
        let but = decode(signed_out("u1", SignedOut::AllBut("s1")));
        assert!(!but.ends("u1", "s1") && but.ends("u1", "s2"));
        assert!(!but.ends("u2", "s2"));
    }

    #[test]
    fn a_wake_up_is_the_kind_the_live_feed_listens_for() {
        assert!(wake_up(&[]).is_none());
        let changed = Changed {
            doc_id: "d1".into(),
            seq: 7,
        };
        let notice = wake_up(std::slice::from_ref(&changed)).unwrap();
        assert_eq!(notice.what.kind(), SYNC_EVENT);
        assert_eq!(
            notice.what.data().unwrap(),
            serde_json::json!({ "changed": [changed] })
        );
    }

    #[test]
    fn scope_in_memory() {
        let own = DocScope {
            customer_id: Some("c1".into()),
            department_id: Some("d2".into()),
            in_pool: false,
        };
        let pool = DocScope {
            in_pool: true,
            department_id: Some("d1".into()),
            ..Default::default()
        };
        assert!(reader(Role::Customer).sees(DocKind::Ticket, &own, &[]));
        assert!(!reader(Role::Customer).sees(DocKind::StaffNotes, &own, &[]));
        assert!(
            !reader(Role::Cs).sees(DocKind::Ticket, &own, &[]),
            "other department"
        );
        assert!(reader(Role::Cs).sees(DocKind::Visit, &pool, &[]));
        assert!(reader(Role::Technician).sees(DocKind::Visit, &pool, &[]));
        assert!(!reader(Role::Technician).sees(DocKind::Visit, &own, &[]));
        assert!(reader(Role::Technician).sees(DocKind::Visit, &own, &["u1".into()]));
        assert!(reader(Role::Admin).sees(DocKind::StaffNotes, &own, &[]));
    }
}
