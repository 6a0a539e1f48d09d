//! Resumable uploads and their chunks (the bytes are in the object store).

use sqlx::{AnyExecutor, FromRow};

use super::{Db, Tx, new_id, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct UploadRow {
    pub id: String,
    pub user_id: String,
    pub sha256: String,
    pub thumbnail_sha256: Option<String>,
    pub upload_length: i64,
    pub upload_offset: i64,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, sha256, thumbnail_sha256, upload_length, upload_offset, \
                       metadata, created_at, updated_at, completed_at";

#[derive(Debug, Clone)]
pub struct NewUpload<'a> {
    pub user_id: &'a str,
    pub sha256: &'a str,
    pub thumbnail_sha256: Option<&'a str>,
    pub length: i64,
    pub metadata: &'a str,
    /// Already complete (the server holds these bytes): no chunk will come.
    pub complete: bool,
}

pub async fn insert(db: &Db, upload: &NewUpload<'_>) -> sqlx::Result<UploadRow> {
    let now = now_ms();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO uploads (id, user_id, sha256, thumbnail_sha256, upload_length, \
                              upload_offset, metadata, created_at, updated_at, completed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING {COLUMNS}"
    )))
    .bind(new_id())
    .bind(upload.user_id)
    .bind(upload.sha256)
    .bind(upload.thumbnail_sha256)
    .bind(upload.length)
    .bind(if upload.complete { upload.length } else { 0 })
    .bind(upload.metadata)
    .bind(now)
    .bind(upload.complete.then_some(now))
    .fetch_one(db.pool())
    .await
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<UploadRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM uploads WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Records a chunk at `from` and moves the offset past it, if the offset is
/// still `from` (a concurrent request may have won). Returns whether it did.
pub async fn append_part(
    tx: &mut Tx,
    id: &str,
    from: i64,
    len: i64,
    part: &str,
) -> sqlx::Result<bool> {
    let moved = sqlx::query(
        "UPDATE uploads SET upload_offset = $3, updated_at = $4 \
         WHERE id = $1 AND upload_offset = $2 AND completed_at IS NULL",
    )
    .bind(id)
    .bind(from)
    .bind(from + len)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO upload_parts (upload_id, start_offset, byte_size, part) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(from)
    .bind(len)
    .bind(part)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Takes back the chunk that starts at `from` (its verification failed for a
/// passing reason), so that the client may send it again.
pub async fn undo_part(tx: &mut Tx, id: &str, from: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1 AND start_offset = $2")
        .bind(id)
        .bind(from)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE uploads SET upload_offset = $2, updated_at = $3 \
         WHERE id = $1 AND completed_at IS NULL",
    )
    .bind(id)
    .bind(from)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The recorded chunks of an upload, in order.
pub async fn parts(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Vec<(i64, i64, String)>> {
    sqlx::query_as(
        "SELECT start_offset, byte_size, part FROM upload_parts WHERE upload_id = $1 \
         ORDER BY start_offset",
    )
    .bind(id)
    .fetch_all(ex)
    .await
}

/// Marks an upload complete and forgets its chunks (their objects are deleted
/// by the caller after the commit); `false`, changing nothing, when it was
/// already complete (finished meanwhile by another instance).
pub async fn complete(tx: &mut Tx, id: &str) -> sqlx::Result<bool> {
    let completed = sqlx::query(
        "UPDATE uploads SET completed_at = $2, updated_at = $2 WHERE id = $1 AND completed_at IS NULL",
    )
    .bind(id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if completed {
        sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(completed)
}

/// Deletes an upload and its chunk records.
pub async fn delete(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Uploads untouched since `before_ms` (abandoned, or finished long ago).
pub async fn stale(db: &Db, before_ms: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT id FROM uploads WHERE updated_at < $1 ORDER BY updated_at LIMIT 500")
        .bind(before_ms)
        .fetch_all(db.pool())
        .await
}
