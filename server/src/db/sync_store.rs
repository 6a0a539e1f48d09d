//! The SQL half of the document store: documents, change runs, access, drops,
//! the feed counter and the command log. Written once for both backends.

use sqlx::{AnyExecutor, FromRow};

use super::{Backend, Tx, now_ms};
use crate::scope::{DocScope, Reader};

/// How many change runs a document keeps before they are folded into its snapshot.
pub const COMPACT_AFTER: i64 = 64;

/// Takes the next feed position. Serialises writers on one row until commit,
/// so positions become visible in order.
pub async fn next_seq(tx: &mut Tx) -> sqlx::Result<i64> {
    sqlx::query_scalar("UPDATE sync_counter SET value = value + 1 WHERE id = 1 RETURNING value")
        .fetch_one(&mut **tx)
        .await
}

/// The newest feed position.
pub async fn current_seq(ex: impl AnyExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT value FROM sync_counter WHERE id = 1")
        .fetch_one(ex)
        .await
}

#[derive(Debug, Clone, FromRow)]
pub struct DocRow {
    pub id: String,
    pub kind: String,
    pub customer_id: Option<String>,
    pub department_id: Option<String>,
    pub in_pool: i64,
    pub deleted: i64,
    pub snapshot: Vec<u8>,
    pub seq: i64,
    pub full_from_seq: i64,
    pub change_count: i64,
}

const DOC_COLUMNS: &str = "id, kind, customer_id, department_id, in_pool, deleted, snapshot, seq, full_from_seq, change_count";

/// Loads a document for writing; on Postgres the row stays locked until commit.
pub async fn lock(tx: &mut Tx, backend: Backend, id: &str) -> sqlx::Result<Option<DocRow>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "", // BEGIN IMMEDIATE already holds the write lock
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DOC_COLUMNS} FROM sync_documents WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<DocRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DOC_COLUMNS} FROM sync_documents WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The change runs at feed positions in `(after_seq, upto_seq]`, oldest
/// first, concatenated: what a feed row read at `upto_seq` holds after
/// `after_seq`, leaving out runs a write stored since (they reach the
/// reader with their own feed position).
pub async fn changes_between(
    ex: impl AnyExecutor<'_>,
    id: &str,
    after_seq: i64,
    upto_seq: i64,
) -> sqlx::Result<Vec<u8>> {
    let runs: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT bytes FROM sync_changes WHERE doc_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
    )
    .bind(id)
    .bind(after_seq)
    .bind(upto_seq)
    .fetch_all(ex)
    .await?;
    Ok(runs.concat())
}

/// The change runs stored after the snapshot, oldest first, concatenated.
pub async fn changes_after(
    ex: impl AnyExecutor<'_>,
    id: &str,
    after_seq: i64,
) -> sqlx::Result<Vec<u8>> {
    changes_between(ex, id, after_seq, i64::MAX).await
}

/// A new document's stored form.
#[derive(Debug, Clone, Copy)]
pub struct NewDoc<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    /// Its `save()` bytes.
    pub snapshot: &'a [u8],
    /// Its heads, as [`crate::sync::heads_text`] writes them.
    pub heads: &'a str,
    /// Its listing ([`fieldops_sync::listing::Listing::to_bytes`]),
    /// computed from the state stored.
    pub listing: Option<&'a [u8]>,
}

/// Stores a new document at `seq`, readable by `scope`.
pub async fn insert(tx: &mut Tx, doc: NewDoc<'_>, scope: &DocScope, seq: i64) -> sqlx::Result<()> {
    let NewDoc {
        id,
        kind,
        snapshot,
        heads,
        listing,
    } = doc;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sync_documents (id, kind, customer_id, department_id, in_pool, snapshot, heads, seq, \
                                     full_from_seq, created_at, updated_at, listing, listing_heads) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $9, $10, $11)",
    )
    .bind(id)
    .bind(kind)
    .bind(&scope.customer_id)
    .bind(&scope.department_id)
    .bind(i64::from(scope.in_pool))
    .bind(snapshot)
    .bind(heads)
    .bind(seq)
    .bind(now)
    .bind(listing)
    .bind(listing.map(|_| heads))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a run of changes at `seq`, and the document's listing after it.
pub async fn append(
    tx: &mut Tx,
    id: &str,
    bytes: &[u8],
    listing: Option<&[u8]>,
    heads: &str,
    seq: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sync_changes (doc_id, seq, bytes) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(seq)
        .bind(bytes)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE sync_documents SET heads = $2, seq = $3, change_count = change_count + 1, updated_at = $4, \
                listing = $5, listing_heads = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(heads)
    .bind(seq)
    .bind(now_ms())
    .bind(listing)
    .bind(listing.map(|_| heads))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Folds the change runs into a new snapshot. Readers behind `seq` then get
/// the whole document, which Automerge merges without loss.
pub async fn compact(tx: &mut Tx, id: &str, snapshot: &[u8], seq: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sync_changes WHERE doc_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE sync_documents SET snapshot = $2, change_count = 0, full_from_seq = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(snapshot)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Changes a document's scope keys at `seq`: every reader re-receives it whole
/// (and readers who lose it get a drop from [`record_drop`] by the caller).
pub async fn set_scope(tx: &mut Tx, id: &str, scope: &DocScope, seq: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sync_documents SET customer_id = $2, department_id = $3, in_pool = $4, seq = $5, \
                                   full_from_seq = $5, updated_at = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(&scope.customer_id)
    .bind(&scope.department_id)
    .bind(i64::from(scope.in_pool))
    .bind(seq)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks a document deleted at `seq`; readers in scope are told to drop it.
pub async fn tombstone(tx: &mut Tx, id: &str, seq: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sync_documents SET deleted = 1, seq = $2, full_from_seq = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(seq)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM sync_changes WHERE doc_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Moves a document to feed position `seq` without changing it (access changed).
pub async fn touch(tx: &mut Tx, id: &str, seq: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sync_documents SET seq = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(seq)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Gives every document of customer `from` or `into` to `into` at `seq`,
/// whole for every reader (a merge of customer records); returns their ids.
pub async fn rescope_customer(
    tx: &mut Tx,
    from: &str,
    into: &str,
    seq: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "UPDATE sync_documents SET customer_id = $2, seq = $3, full_from_seq = $3, updated_at = $4 \
         WHERE customer_id = $1 OR customer_id = $2 RETURNING id",
    )
    .bind(from)
    .bind(into)
    .bind(seq)
    .bind(now_ms())
    .fetch_all(&mut **tx)
    .await
}

/// Records that document `id` left the technician pool at `seq`.
pub async fn mark_pool_exit(tx: &mut Tx, id: &str, seq: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sync_documents SET pool_exit_seq = $2 WHERE id = $1")
        .bind(id)
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn grant(tx: &mut Tx, id: &str, user_id: &str, seq: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sync_doc_access (doc_id, user_id, granted_seq) VALUES ($1, $2, $3) \
         ON CONFLICT (doc_id, user_id) DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records that document `id` belongs to `parent_id` (a photo's ticket or
/// visit) and was made by `author_id`.
pub async fn set_parent(
    tx: &mut Tx,
    id: &str,
    parent_id: &str,
    author_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE sync_documents SET parent_id = $2, author_id = $3 WHERE id = $1")
        .bind(id)
        .bind(parent_id)
        .bind(author_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The photo documents of `parent_id` that `user_id` reads by access but
/// did not take.
pub async fn photos_shared_with(
    ex: impl AnyExecutor<'_>,
    parent_id: &str,
    user_id: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT d.id FROM sync_documents d \
         JOIN sync_doc_access a ON a.doc_id = d.id AND a.user_id = $2 \
         WHERE d.parent_id = $1 AND d.kind = 'photo' AND d.deleted = 0 \
           AND (d.author_id IS NULL OR d.author_id <> $2) \
         ORDER BY d.id",
    )
    .bind(parent_id)
    .bind(user_id)
    .fetch_all(ex)
    .await
}

/// The live photo documents of `parent_id` that `user_id` may not read by
/// access yet.
pub async fn photos_not_shared_with(
    ex: impl AnyExecutor<'_>,
    parent_id: &str,
    user_id: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT d.id FROM sync_documents d \
         WHERE d.parent_id = $1 AND d.kind = 'photo' AND d.deleted = 0 \
           AND NOT EXISTS (SELECT 1 FROM sync_doc_access a WHERE a.doc_id = d.id AND a.user_id = $2) \
         ORDER BY d.id",
    )
    .bind(parent_id)
    .bind(user_id)
    .fetch_all(ex)
    .await
}

/// Removes a user's access; true if they had it.
pub async fn revoke(tx: &mut Tx, id: &str, user_id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM sync_doc_access WHERE doc_id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn access_users(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT user_id FROM sync_doc_access WHERE doc_id = $1 ORDER BY user_id")
        .bind(id)
        .fetch_all(ex)
        .await
}

pub async fn record_drop(
    tx: &mut Tx,
    user_id: &str,
    id: &str,
    seq: i64,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sync_drops (user_id, doc_id, seq, reason) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(id)
        .bind(seq)
        .bind(reason)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A document's listing (of `d`, `sync_documents`) as a column `listing`,
/// only while it describes the document's current state: NULL when none is
/// on record or a write since did not keep it.
const CURRENT_LISTING: &str = "CASE WHEN d.listing_heads = d.heads THEN d.listing END AS listing";

/// One document in a reader's feed.
#[derive(Debug, Clone, FromRow)]
pub struct FeedRow {
    pub id: String,
    pub kind: String,
    pub seq: i64,
    pub deleted: i64,
    pub full_from_seq: i64,
    pub change_count: i64,
    pub in_pool: i64,
    pub snapshot: Vec<u8>,
    /// The document's listing ([`fieldops_sync::listing::Listing::to_bytes`]),
    /// if one describes its current state ([`CURRENT_LISTING`]).
    pub listing: Option<Vec<u8>>,
    /// When this reader's access was granted, for documents read by access.
    pub granted_seq: Option<i64>,
}

/// The scope predicate, over `d` (documents) with `$2` role, `$3` user id,
/// `$4` customer id. Mirrors [`Reader::sees`]; a test keeps them in step.
const IN_SCOPE: &str = "( \
     $2 = 'admin' \
  OR ($2 IN ('cs', 'sales') AND (d.department_id IS NULL OR EXISTS ( \
        SELECT 1 FROM department_members m WHERE m.user_id = $3 AND m.department_id = d.department_id))) \
  OR ($2 = 'customer' AND d.customer_id = $4 AND d.kind <> 'staff_notes') \
  OR ($2 = 'customer' AND d.kind = 'journey') \
  OR ($2 = 'technician' AND d.kind <> 'staff_notes' AND d.in_pool = 1) \
  OR a.user_id IS NOT NULL )";

/// Records a drop for every live document `now` may read but `next` may not
/// (the same account, whose role or departments are about to change), so its
/// devices delete them on their next feed instead of keeping them offline.
/// Run it before the change, in the same transaction: the current scope is
/// read from the current department membership. One statement however many
/// documents; returns how many drops it recorded.
pub async fn drop_lost_scope(
    tx: &mut Tx,
    now: &Reader,
    next: &Reader,
    seq: i64,
) -> sqlx::Result<u64> {
    debug_assert_eq!(now.user_id, next.user_id);
    let departments = if next.departments.is_empty() {
        "1 = 0".to_owned()
    } else {
        let params: Vec<String> = (0..next.departments.len())
            .map(|i| format!("${}", i + 6))
            .collect();
        format!("d.department_id IN ({})", params.join(", "))
    };
    // Every branch is true or false, never NULL, so NOT (...) keeps exactly
    // the documents `next` cannot read.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO sync_drops (user_id, doc_id, seq, reason) \
         SELECT $3, d.id, $1, 'out_of_scope' FROM sync_documents d \
         LEFT JOIN sync_doc_access a ON a.doc_id = d.id AND a.user_id = $3 \
         WHERE d.deleted = 0 AND {IN_SCOPE} AND NOT ( \
              $5 = 'admin' \
           OR ($5 IN ('cs', 'sales') AND (d.department_id IS NULL OR {departments})) \
           OR ($5 = 'customer' AND d.customer_id IS NOT NULL AND d.customer_id = COALESCE($4, '') \
               AND d.kind <> 'staff_notes') \
           OR ($5 = 'customer' AND d.kind = 'journey') \
           OR ($5 = 'technician' AND d.kind <> 'staff_notes' AND d.in_pool = 1) \
           OR a.user_id IS NOT NULL )"
    )))
    .bind(seq)
    .bind(now.role.as_str())
    .bind(&now.user_id)
    .bind(&now.customer_id)
    .bind(next.role.as_str());
    for department in &next.departments {
        query = query.bind(department);
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

/// Documents in `reader`'s scope that changed after `cursor`, oldest first,
/// and, for technicians, the documents that left the pool since (so their
/// devices drop them; a device with cursor 0 has nothing to drop).
pub async fn feed(
    ex: impl AnyExecutor<'_>,
    reader: &Reader,
    cursor: i64,
    limit: i64,
) -> sqlx::Result<Vec<FeedRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.kind, d.seq, d.deleted, d.full_from_seq, d.change_count, d.in_pool, d.snapshot, \
                {CURRENT_LISTING}, a.granted_seq \
         FROM sync_documents d \
         LEFT JOIN sync_doc_access a ON a.doc_id = d.id AND a.user_id = $3 \
         WHERE d.seq > $1 AND ({IN_SCOPE} \
           OR ($2 = 'technician' AND $1 > 0 AND d.pool_exit_seq > $1)) \
         ORDER BY d.seq LIMIT $5"
    )))
    .bind(cursor)
    .bind(reader.role.as_str())
    .bind(&reader.user_id)
    .bind(&reader.customer_id)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Whether `reader` may read document `id` (which must exist and not be deleted).
pub async fn in_scope(ex: impl AnyExecutor<'_>, reader: &Reader, id: &str) -> sqlx::Result<bool> {
    let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT d.id FROM sync_documents d \
         LEFT JOIN sync_doc_access a ON a.doc_id = d.id AND a.user_id = $3 \
         WHERE d.id = $1 AND d.deleted = 0 AND {IN_SCOPE}"
    )))
    .bind(id)
    .bind(reader.role.as_str())
    .bind(&reader.user_id)
    .bind(&reader.customer_id)
    .fetch_optional(ex)
    .await?;
    Ok(found.is_some())
}

/// `(doc_id, seq, reason)` of the drops for `user_id` after `cursor`.
pub async fn drops(
    ex: impl AnyExecutor<'_>,
    user_id: &str,
    cursor: i64,
) -> sqlx::Result<Vec<(String, i64, String)>> {
    sqlx::query_as(
        "SELECT doc_id, seq, reason FROM sync_drops WHERE user_id = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(user_id)
    .bind(cursor)
    .fetch_all(ex)
    .await
}

/// A stored command result.
pub async fn command_result(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT result FROM sync_commands WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The highest `device_seq` executed for a device.
pub async fn last_device_seq(
    ex: impl AnyExecutor<'_>,
    device_id: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(device_seq) FROM sync_commands WHERE device_id = $1")
        .bind(device_id)
        .fetch_one(ex)
        .await
}

#[allow(clippy::too_many_arguments)]
pub async fn record_command(
    tx: &mut Tx,
    id: &str,
    user_id: &str,
    device_id: &str,
    device_seq: i64,
    name: &str,
    accepted: bool,
    result: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sync_commands (id, user_id, device_id, device_seq, name, accepted, result, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(user_id)
    .bind(device_id)
    .bind(device_seq)
    .bind(name)
    .bind(i64::from(accepted))
    .bind(result)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// The live feed's reads (`crate::sync::live`): one snapshot per slice.

/// A document dropped from an account's scope, as the live feed reads it.
#[derive(Debug, FromRow)]
pub struct SliceDrop {
    pub user_id: String,
    pub doc_id: String,
    pub seq: i64,
    pub reason: String,
}

/// A changed document as the live feed reads it.
#[derive(Debug, FromRow)]
pub struct FeedDocRow {
    pub id: String,
    pub kind: String,
    pub customer_id: Option<String>,
    pub department_id: Option<String>,
    pub in_pool: i64,
    pub deleted: i64,
    pub snapshot: Vec<u8>,
    /// As in [`FeedRow::listing`].
    pub listing: Option<Vec<u8>>,
    pub seq: i64,
    pub full_from_seq: i64,
    pub pool_exit_seq: i64,
}

/// A read-only snapshot of the store: every read in it sees one moment.
pub async fn snapshot(db: &super::Db) -> sqlx::Result<Tx> {
    let begin = match db.backend() {
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        // A deferred read transaction on a WAL database is one snapshot.
        Backend::Sqlite => "BEGIN",
    };
    db.pool().begin_with(begin).await
}

/// Documents changed after feed position `from`, in order, at most `limit`.
pub async fn feed_docs_after(tx: &mut Tx, from: i64, limit: i64) -> sqlx::Result<Vec<FeedDocRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.kind, d.customer_id, d.department_id, d.in_pool, d.deleted, d.snapshot, \
                {CURRENT_LISTING}, d.seq, d.full_from_seq, d.pool_exit_seq \
         FROM sync_documents d WHERE d.seq > $1 ORDER BY d.seq LIMIT $2"
    )))
    .bind(from)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Scope drops recorded in `(from, to]`, in order.
pub async fn drops_between(tx: &mut Tx, from: i64, to: i64) -> sqlx::Result<Vec<SliceDrop>> {
    sqlx::query_as(
        "SELECT user_id, doc_id, seq, reason FROM sync_drops \
         WHERE seq > $1 AND seq <= $2 ORDER BY seq",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await
}

/// `(doc_id, seq, bytes)` of every change run of the documents changed
/// after `from`, in order.
pub async fn runs_of_docs_after(
    tx: &mut Tx,
    from: i64,
) -> sqlx::Result<Vec<(String, i64, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT c.doc_id, c.seq, c.bytes FROM sync_changes c \
         JOIN sync_documents d ON d.id = c.doc_id WHERE d.seq > $1 ORDER BY c.seq",
    )
    .bind(from)
    .fetch_all(&mut **tx)
    .await
}

/// `(doc_id, user_id, granted_seq)` of the access grants of the documents
/// changed after `from`.
pub async fn access_of_docs_after(
    tx: &mut Tx,
    from: i64,
) -> sqlx::Result<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT a.doc_id, a.user_id, a.granted_seq FROM sync_doc_access a \
         JOIN sync_documents d ON d.id = a.doc_id WHERE d.seq > $1 ORDER BY a.user_id",
    )
    .bind(from)
    .fetch_all(&mut **tx)
    .await
}
