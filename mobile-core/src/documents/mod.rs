//! Documents in the local store: raw bytes as received, parsed on first
//! read, incremental changes appended, and the materialised index rows; the
//! [`Documents`] handle (`core.documents()`) for what is common to every
//! kind: generic edits, presence, counts.
//!
//! A catch-up stores each snapshot's bytes without parsing them. A server
//! of protocol version 6 or later sends each document's list fields beside
//! it ([`fieldops_sync::listing`]), and its index row is written from
//! them: the document is parsed only when it is opened or edited. Without
//! them the row is marked unindexed and the first list parses and indexes
//! it. Either way a large catch-up costs I/O, not Automerge.
//!
//! This module owns the `documents` table and, in [`index`], the
//! `doc_index` table. The features read the index with their own queries
//! (my visits, the pool, my tickets, a ticket's photos) through [`list`],
//! which maps the rows to [`ListItem`]s; every other statement on these
//! tables is here.

use std::sync::Arc;

use automerge::{AutoCommit, ChangeHash};
use fieldops_sync::docs::{DocumentSchema, Ticket};
use fieldops_sync::ids::{DocId, DocKind};
use fieldops_sync::listing::Listing;
use fieldops_sync::protocol::{ListedSnapshot, Snapshot};
use fieldops_sync::rules;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::model::Account;
use crate::shared::Shared;
use crate::store::{Store, id_at, now_ms};

mod index;
pub(crate) mod refused;

pub use index::ListItem;
use index::write_index_row;
pub(crate) use index::{LIST_COLUMNS, Me, list, reindex, reindex_all};
pub use refused::RefusedDocument;

/// After this many appended changes a document is compacted into a new snapshot.
const COMPACT_AFTER: i64 = 64;

/// A document loaded from the store.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) kind: DocKind,
    pub(crate) doc: AutoCommit,
    /// Heads the server is known to have; `None`: all of them.
    pub(crate) synced: Option<Vec<ChangeHash>>,
    /// The persisted Automerge sync state, if any.
    pub(crate) sync_state: Option<Vec<u8>>,
}

impl Loaded {
    /// The heads the server has: before any unsent local change.
    pub(crate) fn synced_heads(&mut self) -> Vec<ChangeHash> {
        self.synced.clone().unwrap_or_else(|| self.doc.get_heads())
    }
}

pub(crate) fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

pub(crate) fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|chunk| <[u8; 32]>::try_from(chunk).ok().map(ChangeHash))
        .collect()
}

fn parse_kind(text: &str) -> Result<DocKind> {
    text.parse()
        .map_err(|_| CoreError::StoreCorrupt("unknown document kind".into()))
}

/// The kind of a stored document, without loading it.
pub(crate) fn kind_of(conn: &Connection, id: DocId) -> Result<Option<DocKind>> {
    conn.query_row(
        "SELECT kind FROM documents WHERE doc_id = ?1",
        [id.to_string()],
        |row| row.get::<_, String>(0),
    )
    .optional()?
    .map(|k| parse_kind(&k))
    .transpose()
}

/// Loads and parses a document.
pub(crate) fn load(conn: &Connection, id: DocId) -> Result<Option<Loaded>> {
    // Cached statements here and below: a catch-up's first list loads and
    // indexes every new document, and preparing each statement per
    // document cost as much as the SQL itself.
    let row = conn
        .prepare_cached(
            "SELECT kind, snapshot, changes, synced_heads, sync_state
             FROM documents WHERE doc_id = ?1",
        )?
        .query_row([id.to_string()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                row.get::<_, Option<Vec<u8>>>(3)?,
                row.get::<_, Option<Vec<u8>>>(4)?,
            ))
        })
        .optional()?;
    let Some((kind, snapshot, changes, synced, sync_state)) = row else {
        return Ok(None);
    };
    let mut doc = AutoCommit::load(&snapshot)?;
    if !changes.is_empty() {
        doc.load_incremental(&changes)?;
    }
    Ok(Some(Loaded {
        kind: parse_kind(&kind)?,
        doc,
        synced: synced.map(|bytes| decode_heads(&bytes)),
        sync_state,
    }))
}

/// Stores a snapshot from the server. A document the device does not have
/// is stored as raw bytes, unparsed, and indexed from `listing` when the
/// server sent one (else when a list is first asked for); one it has is
/// merged and indexed from what it holds. Returns whether it replaced a
/// document created on this device (whose local edits are then changes
/// to push).
pub(crate) fn insert_snapshot(
    conn: &Connection,
    snapshot: &Snapshot,
    listing: Option<&Listing>,
    me: Me,
) -> Result<bool> {
    let id = snapshot.doc_id.to_string();
    let inserted = conn
        .prepare_cached(
            "INSERT INTO documents (doc_id, kind, snapshot, server_seq, updated_at_ms, indexed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (doc_id) DO NOTHING",
        )?
        .execute(params![
            id,
            snapshot.kind.as_str(),
            snapshot.bytes,
            snapshot.seq.0 as i64,
            now_ms(),
            i64::from(listing.is_some())
        ])?;
    if inserted == 1 {
        if let Some(listing) = listing {
            write_index_row(conn, snapshot.doc_id, snapshot.kind, listing, me)?;
        }
        return Ok(false);
    }
    if is_provisional(conn, snapshot.doc_id)? {
        replace_provisional(conn, snapshot, me)?;
        return Ok(true);
    }
    // Already here: the bytes are changes (live path) or a whole document
    // (re-sent, or a projection replaced); either way they merge.
    let Some(mut loaded) = load(conn, snapshot.doc_id)? else {
        return Ok(false);
    };
    loaded.doc.load_incremental(&snapshot.bytes)?;
    // The server has what it had confirmed before plus what it just sent.
    let server_heads = match loaded.synced.clone() {
        None => loaded.doc.get_heads(),
        Some(before) => {
            let mut server = loaded.doc.fork_at(&before)?;
            server.load_incremental(&snapshot.bytes)?;
            server.get_heads()
        }
    };
    store_changes(conn, snapshot.doc_id, &mut loaded, Some(&server_heads), me)?;
    Ok(false)
}

/// Whether a document was created on this device and not yet by the server.
fn is_provisional(conn: &Connection, id: DocId) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT provisional FROM documents WHERE doc_id = ?1",
            [id.to_string()],
            |row| row.get::<_, i64>(0),
        )
        .optional()?
        == Some(1))
}

/// Stores a document created on this device (a ticket opened offline):
/// listed at once, never pushed as changes (the server creates it from the
/// command), replaced by the server's document when that arrives.
pub(crate) fn insert_provisional(
    conn: &Connection,
    id: DocId,
    kind: DocKind,
    doc: &mut AutoCommit,
    me: Me,
) -> Result<()> {
    conn.execute(
        "INSERT INTO documents (doc_id, kind, snapshot, heads, provisional, indexed, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, 1, 0, ?5)",
        params![
            id.to_string(),
            kind.as_str(),
            doc.save(),
            encode_heads(&doc.get_heads()),
            now_ms()
        ],
    )?;
    reindex(conn, id, kind, doc, me)
}

/// The server's document replaces a provisional one. A ticket description
/// edited on the device after it was queued is kept, as a local edit on
/// top of the server's document (pushed with the next sync).
fn replace_provisional(conn: &Connection, snapshot: &Snapshot, me: Me) -> Result<()> {
    let id = snapshot.doc_id;
    let local = load(conn, id)?
        .filter(|l| l.kind == DocKind::Ticket)
        .and_then(|l| Ticket::hydrate(&l.doc).ok());
    let edited: bool = conn.query_row(
        "SELECT local_changes = 1 FROM documents WHERE doc_id = ?1",
        [id.to_string()],
        |row| row.get(0),
    )?;
    replace(conn, id, snapshot.kind, &snapshot.bytes, me)?;
    conn.execute(
        "UPDATE documents SET server_seq = ?2 WHERE doc_id = ?1",
        params![id.to_string(), snapshot.seq.0 as i64],
    )?;
    let Some(local) = local.filter(|_| edited) else {
        return Ok(());
    };
    let Some(mut loaded) = load(conn, id)? else {
        return Ok(());
    };
    let Ok(mut server) = Ticket::hydrate(&loaded.doc) else {
        return Ok(());
    };
    if server.description == local.description {
        return Ok(());
    }
    let synced = loaded.synced_heads();
    loaded.synced = Some(synced);
    server.description = local.description;
    server.reconcile(&mut loaded.doc)?;
    store_changes(conn, id, &mut loaded, None, me)
}

/// Creates an empty document row (a sync message for a document the
/// device has never seen fills it).
pub(crate) fn insert_empty(conn: &Connection, id: DocId, kind: DocKind) -> Result<()> {
    conn.execute(
        "INSERT INTO documents (doc_id, kind, snapshot, indexed, updated_at_ms)
         VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (doc_id) DO NOTHING",
        params![
            id.to_string(),
            kind.as_str(),
            AutoCommit::new().save(),
            now_ms()
        ],
    )?;
    Ok(())
}

/// Stores a document created on this device: everything in it is a local
/// change the server has not seen (synced heads: none).
pub(crate) fn insert_local(
    conn: &Connection,
    id: DocId,
    kind: DocKind,
    doc: AutoCommit,
    me: Me,
) -> Result<()> {
    conn.execute(
        "INSERT INTO documents (doc_id, kind, snapshot, synced_heads, updated_at_ms)
         VALUES (?1, ?2, ?3, x'', ?4)",
        params![
            id.to_string(),
            kind.as_str(),
            AutoCommit::new().save(),
            now_ms()
        ],
    )?;
    let mut loaded = Loaded {
        kind,
        doc,
        synced: Some(Vec::new()),
        sync_state: None,
    };
    store_changes(conn, id, &mut loaded, None, me)
}

/// Replaces a document wholesale (the server refused our changes).
pub(crate) fn replace(
    conn: &Connection,
    id: DocId,
    kind: DocKind,
    bytes: &[u8],
    me: Me,
) -> Result<()> {
    if bytes.is_empty() {
        // The server has no such document (any more).
        delete(conn, &[id])?;
        return Ok(());
    }
    let mut doc = AutoCommit::load(bytes)?;
    conn.execute(
        "INSERT INTO documents (doc_id, kind, snapshot, heads, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (doc_id) DO UPDATE SET kind = excluded.kind, snapshot = excluded.snapshot,
            changes = x'', change_count = 0, heads = excluded.heads, synced_heads = NULL,
            sync_state = NULL, local_changes = 0, provisional = 0,
            updated_at_ms = excluded.updated_at_ms",
        params![
            id.to_string(),
            kind.as_str(),
            bytes,
            encode_heads(&doc.get_heads()),
            now_ms()
        ],
    )?;
    reindex(conn, id, kind, &doc, me)
}

/// Persists what changed in `loaded.doc` since it was loaded, and its
/// index row. `server_heads`: heads the server is now known to have
/// (`None` for a local edit, which keeps the previous ones).
pub(crate) fn store_changes(
    conn: &Connection,
    id: DocId,
    loaded: &mut Loaded,
    server_heads: Option<&[ChangeHash]>,
    me: Me,
) -> Result<()> {
    let bytes = loaded.doc.save_incremental();
    let heads = loaded.doc.get_heads();
    let synced: Vec<ChangeHash> = match server_heads {
        Some(h) => h.to_vec(),
        // A local edit: the caller recorded the synced heads before editing.
        None => loaded.synced.clone().unwrap_or_else(|| heads.clone()),
    };
    let mut sorted_synced = synced.clone();
    sorted_synced.sort();
    let mut sorted_heads = heads.clone();
    sorted_heads.sort();
    let local = sorted_synced != sorted_heads;
    let synced_blob = local.then(|| encode_heads(&synced));
    loaded.synced = local.then_some(synced);
    // Appended in Rust: SQLite's `||` would turn the blobs into text.
    let mut changes: Vec<u8> = conn.query_row(
        "SELECT changes FROM documents WHERE doc_id = ?1",
        [id.to_string()],
        |row| row.get(0),
    )?;
    changes.extend_from_slice(&bytes);
    conn.execute(
        "UPDATE documents SET changes = ?2, change_count = change_count + ?3,
            heads = ?4, synced_heads = ?5, local_changes = ?6, updated_at_ms = ?7
         WHERE doc_id = ?1",
        params![
            id.to_string(),
            changes,
            i64::from(!bytes.is_empty()),
            encode_heads(&heads),
            synced_blob,
            i64::from(local),
            now_ms()
        ],
    )?;
    let count: i64 = conn.query_row(
        "SELECT change_count FROM documents WHERE doc_id = ?1",
        [id.to_string()],
        |row| row.get(0),
    )?;
    if count > COMPACT_AFTER {
        conn.execute(
            "UPDATE documents SET snapshot = ?2, changes = x'', change_count = 0 WHERE doc_id = ?1",
            params![id.to_string(), loaded.doc.save()],
        )?;
    }
    reindex(conn, id, loaded.kind, &loaded.doc, me)
}

/// The server applied pushed changes and now has `server_heads`; `pushed`
/// are the heads that were pushed (used if the server's include changes
/// this device has not received yet).
pub(crate) fn confirm(
    conn: &Connection,
    id: DocId,
    server_heads: &[ChangeHash],
    pushed: &[ChangeHash],
    me: Me,
) -> Result<()> {
    let Some(mut loaded) = load(conn, id)? else {
        return Ok(());
    };
    let known = server_heads
        .iter()
        .all(|h| loaded.doc.get_change_by_hash(h).is_some());
    let synced = if known { server_heads } else { pushed };
    if synced.is_empty() {
        return Ok(());
    }
    store_changes(conn, id, &mut loaded, Some(synced), me)
}

/// Persists the Automerge sync state of a document.
pub(crate) fn set_sync_state(conn: &Connection, id: DocId, state: &[u8]) -> Result<()> {
    conn.execute(
        "UPDATE documents SET sync_state = ?2 WHERE doc_id = ?1",
        params![id.to_string(), state],
    )?;
    Ok(())
}

/// Forgets documents (and, by cascade, their index rows).
pub(crate) fn delete(conn: &Connection, ids: &[DocId]) -> Result<usize> {
    let mut stmt = conn.prepare_cached("DELETE FROM documents WHERE doc_id = ?1")?;
    let mut n = 0;
    for id in ids {
        n += stmt.execute([id.to_string()])?;
    }
    Ok(n)
}

/// Documents with local changes not yet confirmed by the server (not those
/// the server has not created yet).
pub(crate) fn with_local_changes(conn: &Connection) -> Result<Vec<DocId>> {
    let mut stmt =
        conn.prepare("SELECT doc_id FROM documents WHERE local_changes = 1 AND provisional = 0")?;
    let ids = stmt
        .query_map([], |row| id_at(row, 0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Loads and hydrates a document of schema `S`.
pub(crate) fn get_typed<S: DocumentSchema>(conn: &Connection, id: DocId) -> Result<S> {
    let loaded = load(conn, id)?.ok_or_else(|| CoreError::not_found(S::KIND))?;
    if loaded.kind != S::KIND {
        return Err(CoreError::not_found(S::KIND));
    }
    Ok(S::hydrate(&loaded.doc)?)
}

/// Whether a stored document has unconfirmed local changes, counted.
pub(crate) fn unsynced_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM documents WHERE local_changes = 1",
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Forgets a document created on this device that the server will never
/// create (its command was refused).
pub(crate) fn delete_provisional(conn: &Connection, id: DocId) -> Result<()> {
    conn.execute(
        "DELETE FROM documents WHERE doc_id = ?1 AND provisional = 1",
        [id.to_string()],
    )?;
    Ok(())
}

/// Forgets every document (another user signed in).
pub(crate) fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM documents", [])?;
    Ok(())
}

/// A document of schema `S` from the reader connection.
pub(crate) fn get<S: DocumentSchema>(shared: &Shared, id: DocId) -> Result<S> {
    shared.store.read(|conn| get_typed::<S>(conn, id))
}

/// Applies `edit` to document `id` of kind `S` as `account`, checks the
/// result against the write rules, and stores it in one transaction
/// (nothing if it fails). No event: see [`edit`].
pub(crate) fn apply_edit<S: DocumentSchema>(
    store: &Store,
    account: &Account,
    id: DocId,
    edit: impl FnOnce(&mut S) -> Result<()>,
) -> Result<()> {
    let actor = account.actor();
    let me = Me(Some(account.user_id));
    store.write(|tx| {
        let mut loaded = load(tx, id)?
            .filter(|l| l.kind == S::KIND)
            .ok_or_else(|| CoreError::not_found(S::KIND))?;
        let synced = loaded.synced_heads();
        loaded.synced = Some(synced.clone());
        let mut value = S::hydrate(&loaded.doc)?;
        edit(&mut value)?;
        value.reconcile(&mut loaded.doc)?;
        rules::check_since(&mut loaded.doc, S::KIND, &synced, &actor)?;
        store_changes(tx, id, &mut loaded, None, me)
    })
}

/// A local edit as the signed-in user ([`apply_edit`]), then the
/// `DocumentChanged` event, the status recount and a nudge to the sync client.
pub(crate) fn edit<S: DocumentSchema>(
    shared: &Shared,
    id: DocId,
    edit: impl FnOnce(&mut S) -> Result<()>,
) -> Result<()> {
    let account = shared.require_account()?;
    apply_edit(&shared.store, &account, id, edit)?;
    shared.events.emit(CoreEvent::DocumentChanged {
        doc_id: id,
        kind: S::KIND,
    });
    shared.after_write();
    Ok(())
}

/// What is common to every document on the device, whatever its kind
/// (`core.documents()`). Each kind's own calls are on its handle:
/// [`Visits`](crate::Visits), [`Tickets`](crate::Tickets),
/// [`Photos`](crate::Photos).
#[derive(Debug, Clone, Copy)]
pub struct Documents<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> Documents<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Documents { shared }
    }

    /// Applies `edit` to a document of kind `S`, checks the result against
    /// the write rules as the signed-in user, and stores it. Nothing is
    /// stored if the edit fails or breaks a rule.
    pub fn edit<S: DocumentSchema>(
        &self,
        id: DocId,
        edit: impl FnOnce(&mut S) -> Result<()>,
    ) -> Result<()> {
        crate::documents::edit(self.shared, id, edit)
    }

    /// A document of schema `S` (a visit, a ticket, a check-in, a photo...).
    pub fn get<S: DocumentSchema>(&self, id: DocId) -> Result<S> {
        get(self.shared, id)
    }

    /// Whether a document is on the device (any kind).
    pub fn contains(&self, id: DocId) -> Result<bool> {
        Ok(self.shared.store.read(|conn| kind_of(conn, id))?.is_some())
    }

    /// Number of documents on the device.
    pub fn count(&self) -> Result<u64> {
        self.shared.store.read(|conn| {
            Ok(
                conn.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))?
                    as u64,
            )
        })
    }

    /// Unix ms of the last local write to a document (for "edited" badges).
    pub fn updated_at_ms(&self, id: DocId) -> Result<Option<i64>> {
        self.shared.store.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT updated_at_ms FROM documents WHERE doc_id = ?1",
                    params![id.to_string()],
                    |row| row.get(0),
                )
                .optional()?)
        })
    }

    /// The device's versions of documents the server refused, kept until
    /// dismissed, the latest first. Each document itself was reset to the
    /// server's version (or removed, if the server never had it:
    /// [`RefusedDocument::created_here`]).
    pub fn refused(&self) -> Result<Vec<RefusedDocument>> {
        self.shared.store.read(refused::all)
    }

    /// The device's refused version of a document of schema `S`, as it
    /// was when the server refused it.
    pub fn refused_copy<S: DocumentSchema>(&self, id: DocId) -> Result<S> {
        self.shared.store.read(|conn| refused::copy(conn, id))
    }

    /// Forgets the device's refused version of a document (the user has
    /// seen it); whether there was one.
    pub fn dismiss_refused(&self, id: DocId) -> Result<bool> {
        self.shared.store.write(|tx| refused::dismiss(tx, id))
    }

    /// Stores snapshots as a catch-up from a server of protocol version 5
    /// or older would (raw bytes, parsed on first read). For tests,
    /// benchmarks and the simulator; not for apps.
    #[doc(hidden)]
    pub fn import_snapshots(&self, snapshots: &[Snapshot]) -> Result<()> {
        let me = Me::of(self.shared);
        self.shared.store.write(|tx| {
            for snapshot in snapshots {
                insert_snapshot(tx, snapshot, None, me)?;
            }
            Ok(())
        })
    }

    /// Stores snapshots with their listings as a catch-up would (raw bytes,
    /// indexed from the listings, parsed when opened). For tests and
    /// benchmarks; not for apps.
    #[doc(hidden)]
    pub fn import_listed(&self, snapshots: &[ListedSnapshot]) -> Result<()> {
        let me = Me::of(self.shared);
        self.shared.store.write(|tx| {
            for listed in snapshots {
                insert_snapshot(tx, &listed.snapshot, listed.listing.as_ref(), me)?;
            }
            Ok(())
        })
    }
}
