//! Content-addressed blobs (photo bytes), who uploaded them, what they belong
//! to, and the bookkeeping of the garbage collector.
//!
//! Knowing a hash proves nothing: hashes travel in documents, links and logs.
//! What proves possession is an upload whose bytes hashed to it
//! (`blob_uploaders`). So every fact recorded here on someone's word counts
//! only once that account has uploaded the bytes it names: an ownership
//! (`photo_owners.attached_by`) and a photo's thumbnail ([`link_thumbnail`]).

use sqlx::{AnyExecutor, FromRow};

use super::{Db, Tx, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct BlobRow {
    pub sha256: String,
    pub byte_size: i64,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    pub thumbnail_sha256: Option<String>,
    pub state: String,
    pub created_at: i64,
}

const COLUMNS: &str =
    "sha256, byte_size, content_type, width, height, thumbnail_sha256, state, created_at";

/// A verified image about to be stored.
#[derive(Debug, Clone)]
pub struct NewBlob<'a> {
    pub sha256: &'a str,
    pub byte_size: i64,
    pub content_type: &'a str,
    pub width: i64,
    pub height: i64,
}

/// What [`claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The caller must write the bytes, then call [`mark_stored`].
    Store,
    /// The bytes are already stored: nothing to write.
    AlreadyStored,
    /// The collector is deleting this content right now: retry shortly.
    BeingDeleted,
}

/// Claims the right to store `blob` (or finds it already stored). A row left
/// in `storing` by a crash is claimed again: the bytes are simply rewritten.
pub async fn claim(tx: &mut Tx, blob: &NewBlob<'_>) -> sqlx::Result<Claim> {
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO blobs (sha256, byte_size, content_type, width, height, \
                            state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'storing', $6, $6) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(blob.sha256)
    .bind(blob.byte_size)
    .bind(blob.content_type)
    .bind(blob.width)
    .bind(blob.height)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Store);
    }
    let state: String = sqlx::query_scalar("SELECT state FROM blobs WHERE sha256 = $1")
        .bind(blob.sha256)
        .fetch_one(&mut **tx)
        .await?;
    // A new upload makes the blob young again for the collector.
    sqlx::query(
        "UPDATE blobs SET unreferenced_since = NULL, updated_at = $2 \
         WHERE sha256 = $1 AND state <> 'deleting'",
    )
    .bind(blob.sha256)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(match state.as_str() {
        "stored" => Claim::AlreadyStored,
        "deleting" => Claim::BeingDeleted,
        _ => Claim::Store,
    })
}

/// Records that the bytes of a claimed blob are in the object store.
pub async fn mark_stored(ex: impl AnyExecutor<'_>, sha256: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE blobs SET state = 'stored', updated_at = $2 WHERE sha256 = $1")
        .bind(sha256)
        .bind(now_ms())
        .execute(ex)
        .await?;
    Ok(())
}

/// A stored blob.
pub async fn get(ex: impl AnyExecutor<'_>, sha256: &str) -> sqlx::Result<Option<BlobRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM blobs WHERE sha256 = $1 AND state = 'stored'"
    )))
    .bind(sha256)
    .fetch_optional(ex)
    .await
}

/// Points a photo at the thumbnail the server made of it.
pub async fn set_thumbnail(db: &Db, sha256: &str, thumbnail_sha256: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE blobs SET thumbnail_sha256 = $2, updated_at = $3 WHERE sha256 = $1")
        .bind(sha256)
        .bind(thumbnail_sha256)
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Points photo `sha256` at `thumbnail_sha256` on the word of `user_id`, if
/// that account uploaded both (so it holds both and shows readers of the photo
/// nothing it could not show them itself), both are stored and the photo has
/// no thumbnail yet. Returns whether it did. A claim nobody backs is never
/// linked; the server then makes the thumbnail itself.
pub async fn link_thumbnail(
    tx: &mut Tx,
    sha256: &str,
    thumbnail_sha256: &str,
    user_id: &str,
) -> sqlx::Result<bool> {
    if sha256 == thumbnail_sha256 {
        return Ok(false);
    }
    let done = sqlx::query(
        "UPDATE blobs SET thumbnail_sha256 = $2, updated_at = $4 \
         WHERE sha256 = $1 AND thumbnail_sha256 IS NULL AND state = 'stored' \
           AND content_type LIKE 'image/%' \
           AND EXISTS (SELECT 1 FROM blob_uploaders p WHERE p.sha256 = $1 AND p.user_id = $3) \
           AND EXISTS (SELECT 1 FROM blob_uploaders t JOIN blobs tb ON tb.sha256 = t.sha256 \
                       WHERE t.sha256 = $2 AND t.user_id = $3 AND tb.state = 'stored' \
                         AND tb.content_type LIKE 'image/%')",
    )
    .bind(sha256)
    .bind(thumbnail_sha256)
    .bind(user_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that `user_id` uploaded these bytes (idempotent).
pub async fn add_uploader(tx: &mut Tx, sha256: &str, user_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO blob_uploaders (sha256, user_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (sha256, user_id) DO NOTHING",
    )
    .bind(sha256)
    .bind(user_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The kinds of thing a photo can belong to (`photo_owners.owner_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    User,
    Ticket,
    Visit,
    CheckIn,
    /// A proof of payment.
    Invoice,
    /// An image a customer sent on WhatsApp, fetched by the server.
    Conversation,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::User => "user",
            OwnerKind::Ticket => "ticket",
            OwnerKind::Visit => "visit",
            OwnerKind::CheckIn => "check_in",
            OwnerKind::Invoice => "invoice",
            OwnerKind::Conversation => "conversation",
        }
    }
}

/// Records that a photo belongs to `(kind, id)` on the word of `attached_by`;
/// keeps it from collection. It lets whoever may see the owner read the
/// photo only once `attached_by` has uploaded its bytes (see [`owners`]).
pub async fn add_owner(
    tx: &mut Tx,
    sha256: &str,
    kind: OwnerKind,
    owner_id: &str,
    attached_by: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO photo_owners (sha256, owner_kind, owner_id, created_at, attached_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256, owner_kind, owner_id) DO NOTHING",
    )
    .bind(sha256)
    .bind(kind.as_str())
    .bind(owner_id)
    .bind(now_ms())
    .bind(attached_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records that conversation `id` holds image `sha256`, which the server
/// fetched itself (from WhatsApp): no account uploaded it, so the ownership
/// has no uploader, which counts for a conversation only (see [`owners`]).
pub async fn add_fetched_to_conversation(tx: &mut Tx, sha256: &str, id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO photo_owners (sha256, owner_kind, owner_id, created_at, attached_by) \
         VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (sha256, owner_kind, owner_id) DO NOTHING",
    )
    .bind(sha256)
    .bind(OwnerKind::Conversation.as_str())
    .bind(id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes an ownership; the blob is collected after the grace period if
/// nothing else refers to it.
pub async fn remove_owner(
    tx: &mut Tx,
    sha256: &str,
    kind: OwnerKind,
    owner_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM photo_owners WHERE sha256 = $1 AND owner_kind = $2 AND owner_id = $3")
        .bind(sha256)
        .bind(kind.as_str())
        .bind(owner_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The condition "ownership row `o` counts": the account that attached the
/// photo uploaded its bytes.
const BACKED: &str = "EXISTS (SELECT 1 FROM blob_uploaders bu \
                       WHERE bu.sha256 = o.sha256 AND bu.user_id = o.attached_by)";

/// Whether `user_id` uploaded the bytes, or owns the photo (a `user`
/// ownership attached by an uploader).
pub async fn user_may_read(db: &Db, sha256: &str, user_id: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM blobs b WHERE b.sha256 = $1 AND ( \
             EXISTS (SELECT 1 FROM blob_uploaders u WHERE u.sha256 = b.sha256 AND u.user_id = $2) \
          OR EXISTS (SELECT 1 FROM photo_owners o WHERE o.sha256 = b.sha256 \
                         AND o.owner_kind = 'user' AND o.owner_id = $2 AND {BACKED}))"
    )))
    .bind(sha256)
    .bind(user_id)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}

/// The condition "something refers to blob `b`": an owner, a live photo
/// whose thumbnail it is, or an unfinished upload of it.
const REFERENCED: &str = "( \
       EXISTS (SELECT 1 FROM photo_owners o WHERE o.sha256 = b.sha256) \
    OR EXISTS (SELECT 1 FROM blobs p WHERE p.thumbnail_sha256 = b.sha256 \
                   AND p.state <> 'deleting' AND p.sha256 <> b.sha256 \
                   AND (p.unreferenced_since IS NULL \
                        OR EXISTS (SELECT 1 FROM photo_owners po WHERE po.sha256 = p.sha256))) \
    OR EXISTS (SELECT 1 FROM uploads u WHERE u.sha256 = b.sha256 AND u.completed_at IS NULL))";

/// Collector pass 1: stamps blobs that lost their last reference, clears the
/// stamp of blobs referred to again; stamps read `now_ms`. Returns how many
/// were newly stamped.
pub async fn mark_unreferenced(db: &Db, now_ms: i64) -> sqlx::Result<u64> {
    let now = now_ms;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE blobs SET unreferenced_since = NULL \
         WHERE unreferenced_since IS NOT NULL AND state = 'stored' \
           AND sha256 IN (SELECT b.sha256 FROM blobs b WHERE {REFERENCED})"
    )))
    .execute(db.pool())
    .await?;
    let stamped = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE blobs SET unreferenced_since = $1 \
         WHERE unreferenced_since IS NULL AND state = 'stored' \
           AND sha256 IN (SELECT b.sha256 FROM blobs b WHERE NOT {REFERENCED})"
    )))
    .bind(now)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(stamped)
}

/// Collector pass 2: moves to `deleting` every blob unreferenced since
/// `cutoff_ms` or earlier and still unreferenced, and every `storing` row older than
/// `stale_storing_ms` (a crash between claim and write). Returns their hashes.
pub async fn start_deleting(
    tx: &mut Tx,
    cutoff_ms: i64,
    stale_storing_ms: i64,
) -> sqlx::Result<Vec<String>> {
    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE blobs SET state = 'deleting', updated_at = $3 \
         WHERE (state = 'stored' AND unreferenced_since <= $1 \
                AND sha256 IN (SELECT b.sha256 FROM blobs b WHERE NOT {REFERENCED})) \
            OR (state = 'storing' AND updated_at < $2) \
         RETURNING sha256"
    )))
    .bind(cutoff_ms)
    .bind(stale_storing_ms)
    .bind(now_ms())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows)
}

/// Every blob in `deleting` (including those a crash left behind).
pub async fn deleting(db: &Db) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT sha256 FROM blobs WHERE state = 'deleting'")
        .fetch_all(db.pool())
        .await
}

/// Collector pass 3, after the bytes are gone: forgets the blob.
pub async fn finish_deleting(db: &Db, sha256: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM blobs WHERE sha256 = $1 AND state = 'deleting'")
        .bind(sha256)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Whether a row exists for `sha256`, in any state.
pub async fn known(db: &Db, sha256: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs WHERE sha256 = $1")
        .bind(sha256)
        .fetch_one(db.pool())
        .await?;
    Ok(n > 0)
}

/// Lists photo `sha256` among a ticket's attachments (idempotent).
pub async fn attach_to_ticket(
    tx: &mut Tx,
    ticket_id: &str,
    sha256: &str,
    added_by: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO ticket_attachments (ticket_id, photo_hash, added_by, added_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (ticket_id, photo_hash) DO NOTHING",
    )
    .bind(ticket_id)
    .bind(sha256)
    .bind(added_by)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether `user_id` uploaded the stored bytes `sha256` (proved it holds them).
pub async fn uploaded_by(
    ex: impl AnyExecutor<'_>,
    sha256: &str,
    user_id: &str,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM blob_uploaders u JOIN blobs b ON b.sha256 = u.sha256 \
         WHERE u.sha256 = $1 AND u.user_id = $2 AND b.state = 'stored'",
    )
    .bind(sha256)
    .bind(user_id)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

/// The photos `user_id` uploaded claiming `thumbnail_sha256` as their
/// thumbnail (for a thumbnail that arrives after its photo).
pub async fn claimed_by_uploads(
    tx: &mut Tx,
    thumbnail_sha256: &str,
    user_id: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT sha256 FROM uploads \
         WHERE user_id = $1 AND thumbnail_sha256 = $2 AND completed_at IS NOT NULL",
    )
    .bind(user_id)
    .bind(thumbnail_sha256)
    .fetch_all(&mut **tx)
    .await
}

/// The stored photos whose thumbnail `sha256` is (at most a few: thumbnails
/// are made per photo).
pub async fn photos_with_thumbnail(
    ex: impl AnyExecutor<'_>,
    sha256: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT sha256 FROM blobs WHERE thumbnail_sha256 = $1 AND state = 'stored' \
         ORDER BY sha256 LIMIT 16",
    )
    .bind(sha256)
    .fetch_all(ex)
    .await
}

/// The tickets, visits, check-ins and invoices a photo (or thumbnail, or
/// receipt) belongs to, on the word of an account that uploaded its bytes,
/// and the conversations whose images the server fetched itself (no
/// uploader, [`add_fetched_to_conversation`]). Ownerships nobody backs (a document naming a hash its author never
/// uploaded) are left out: they show the photo to no one; so are files that
/// are not images named as the photo of anything but an invoice (a PDF is a
/// receipt, never a ticket's photo).
pub async fn owners(ex: impl AnyExecutor<'_>, sha256: &str) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT o.owner_kind, o.owner_id FROM photo_owners o \
         WHERE o.sha256 = $1 AND o.owner_kind <> 'user' \
           AND ({BACKED} OR (o.owner_kind = 'conversation' AND o.attached_by IS NULL)) \
           AND (o.owner_kind = 'invoice' OR NOT EXISTS \
                (SELECT 1 FROM blobs b WHERE b.sha256 = o.sha256 AND b.content_type NOT LIKE 'image/%')) \
         ORDER BY o.owner_kind, o.owner_id"
    )))
    .bind(sha256)
    .fetch_all(ex)
    .await
}

/// What a photo would be attached to (a ticket or a visit), as the attach
/// rules need it.
#[derive(Debug, Clone)]
pub struct PhotoTarget {
    pub customer_id: String,
    pub department_id: Option<String>,
    pub status: String,
    /// The attaching account holds the visit (or a visit of the ticket).
    pub held_by_user: bool,
}

#[derive(FromRow)]
struct TargetRow {
    customer_id: String,
    department_id: Option<String>,
    status: String,
}

/// Ticket `id` as a photo target for `user_id`: a technician holding one
/// of the ticket's visits may add to it.
pub async fn ticket_target(
    tx: &mut Tx,
    id: &str,
    user_id: &str,
) -> sqlx::Result<Option<PhotoTarget>> {
    let row: Option<TargetRow> =
        sqlx::query_as("SELECT customer_id, department_id, status FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM assignments a JOIN visits v ON v.id = a.visit_id \
         WHERE v.ticket_id = $1 AND a.technician_id = $2 AND a.state <> 'released'",
    )
    .bind(id)
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.map(|r| r.target(held > 0)))
}

/// Visit `id` as a photo target for `user_id`.
pub async fn visit_target(
    tx: &mut Tx,
    id: &str,
    user_id: &str,
) -> sqlx::Result<Option<PhotoTarget>> {
    let row: Option<TargetRow> =
        sqlx::query_as("SELECT customer_id, department_id, status FROM visits WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM assignments \
         WHERE visit_id = $1 AND technician_id = $2 AND state <> 'released'",
    )
    .bind(id)
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.map(|r| r.target(held > 0)))
}

impl TargetRow {
    fn target(self, held_by_user: bool) -> PhotoTarget {
        PhotoTarget {
            customer_id: self.customer_id,
            department_id: self.department_id,
            status: self.status,
            held_by_user,
        }
    }
}
