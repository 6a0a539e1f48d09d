//! The `photo_uploads` table: one row per file (photo or thumbnail), keyed
//! by its hash, `pending → uploading → done | failed`. Every statement on
//! the table is here; the worker and the pruner call these.

use fieldops_sync::ids::DocId;
use rusqlite::{Connection, OptionalExtension, params};

use super::{PhotoUpload, UploadKind, UploadStatus};
use crate::error::Result;
use crate::files::PhotoFiles;
use crate::store::{id_at, now_ms};

const COLUMNS: &str = "sha256, photo_doc_id, kind, path, bytes_total, bytes_sent, state, \
                       upload_url, attempts, last_error";

fn row_to_upload(files: &PhotoFiles, row: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoUpload> {
    let kind: String = row.get(2)?;
    let name: String = row.get(3)?;
    let state: String = row.get(6)?;
    Ok(PhotoUpload {
        sha256: row.get(0)?,
        photo_doc_id: id_at(row, 1)?,
        kind: if kind == "thumbnail" {
            UploadKind::Thumbnail
        } else {
            UploadKind::Image
        },
        path: files.join(&name),
        bytes_total: row.get::<_, i64>(4)? as u64,
        bytes_sent: row.get::<_, i64>(5)? as u64,
        status: UploadStatus::parse(&state),
        upload_url: row.get(7)?,
        attempts: row.get::<_, i64>(8)? as u32,
        last_error: row.get(9)?,
    })
}

/// Files whose bytes are not on the server yet, oldest first (the
/// thumbnail before its photo), including refused ones.
pub(super) fn unfinished(conn: &Connection, files: &PhotoFiles) -> Result<Vec<PhotoUpload>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM photo_uploads WHERE state <> 'done'
         ORDER BY created_at_ms, CASE kind WHEN 'thumbnail' THEN 0 ELSE 1 END, sha256"
    ))?;
    let rows = stmt
        .query_map([], |row| row_to_upload(files, row))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The next file to upload.
pub(super) fn next_open(conn: &Connection, files: &PhotoFiles) -> Result<Option<PhotoUpload>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM photo_uploads WHERE state IN ('pending', 'uploading')
                 ORDER BY created_at_ms, CASE kind WHEN 'thumbnail' THEN 0 ELSE 1 END, sha256
                 LIMIT 1"
            ),
            [],
            |row| row_to_upload(files, row),
        )
        .optional()?)
}

/// `(pending or uploading, failed)` files.
pub(super) fn counts(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(state IN ('pending', 'uploading')), 0), COALESCE(SUM(state = 'failed'), 0)
         FROM photo_uploads",
        [],
        |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
    )?)
}

/// Queues a file (once per hash; a finished or refused one is queued again,
/// which costs a "have hash" question when the server already holds it).
pub(super) fn queue(
    conn: &Connection,
    sha256: &str,
    photo_doc_id: DocId,
    kind: UploadKind,
    bytes_total: usize,
    thumbnail_sha256: Option<&str>,
) -> Result<()> {
    let now = now_ms();
    conn.execute(
        "INSERT INTO photo_uploads (sha256, photo_doc_id, kind, path, bytes_total, thumbnail_sha256,
                                    state, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)
         ON CONFLICT (sha256) DO UPDATE SET photo_doc_id = excluded.photo_doc_id,
            state = 'pending', upload_url = NULL, bytes_sent = 0, attempts = 0,
            last_error = NULL, created_at_ms = excluded.created_at_ms,
            updated_at_ms = excluded.updated_at_ms
         WHERE photo_uploads.state IN ('done', 'failed')",
        params![
            sha256,
            photo_doc_id.to_string(),
            kind.as_str(),
            PhotoFiles::file_name(sha256),
            bytes_total as i64,
            thumbnail_sha256,
            now
        ],
    )?;
    Ok(())
}

/// The thumbnail's hash of a photo file, if it has one.
pub(super) fn thumbnail_of(conn: &Connection, sha256: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT thumbnail_sha256 FROM photo_uploads WHERE sha256 = ?1",
            [sha256],
            |row| row.get(0),
        )
        .optional()?
        .flatten())
}

/// The state of a file's row (`pending`, `uploading`, `done`, `failed`), if queued.
pub(super) fn state_of(conn: &Connection, sha256: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT state FROM photo_uploads WHERE sha256 = ?1",
            [sha256],
            |row| row.get(0),
        )
        .optional()?)
}

// The worker's updates below touch a row only while it is open (pending or
// uploading): one set aside meanwhile with its refused photo
// ([`set_aside`]) stays so, whatever the upload in flight does.

/// The server holds the file's bytes.
pub(super) fn mark_done(conn: &Connection, sha256: &str) -> Result<()> {
    conn.execute(
        "UPDATE photo_uploads SET state = 'done', bytes_sent = bytes_total,
            last_error = NULL, updated_at_ms = ?2
         WHERE sha256 = ?1 AND state IN ('pending', 'uploading')",
        params![sha256, now_ms()],
    )?;
    Ok(())
}

/// The server refused the bytes for good.
pub(super) fn mark_failed(conn: &Connection, sha256: &str, reason: &str) -> Result<()> {
    conn.execute(
        "UPDATE photo_uploads SET state = 'failed', upload_url = NULL,
            attempts = attempts + 1, last_error = ?2, updated_at_ms = ?3
         WHERE sha256 = ?1 AND state IN ('pending', 'uploading')",
        params![sha256, reason, now_ms()],
    )?;
    Ok(())
}

/// The file is not to be uploaded: its photo was refused
/// (`reason` starts with [`DOCUMENT_REFUSED`]).
pub(super) fn set_aside(conn: &Connection, sha256: &str, reason: &str) -> Result<()> {
    conn.execute(
        "UPDATE photo_uploads SET state = 'failed', upload_url = NULL, last_error = ?2,
            updated_at_ms = ?3
         WHERE sha256 = ?1",
        params![sha256, reason, now_ms()],
    )?;
    Ok(())
}

/// Files queued for photo `id` and not on the server yet.
pub(super) fn open_of(conn: &Connection, id: DocId) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT sha256 FROM photo_uploads WHERE photo_doc_id = ?1 AND state <> 'done'")?;
    let rows = stmt.query_map([id.to_string()], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Another photo waiting for its upload names the same file: it owns the
/// row from now on.
pub(super) fn hand_over(conn: &Connection, sha256: &str, to: DocId) -> Result<()> {
    conn.execute(
        "UPDATE photo_uploads SET photo_doc_id = ?2, updated_at_ms = ?3 WHERE sha256 = ?1",
        params![sha256, to.to_string(), now_ms()],
    )?;
    Ok(())
}

/// What a file's `last_error` starts with when it is not uploaded because
/// the server refused its photo's document.
pub(super) const DOCUMENT_REFUSED: &str = "document_refused";

/// Files set aside with their refused photo, whose photo is on the device
/// no more, not even as a kept refusal (the user dismissed it): nothing will
/// upload or show them.
pub(super) fn refused_and_forgotten(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT sha256 FROM photo_uploads
         WHERE state = 'failed' AND last_error LIKE ?1 || ':%'
           AND photo_doc_id NOT IN (SELECT doc_id FROM documents)
           AND photo_doc_id NOT IN (SELECT doc_id FROM refused_documents)",
    )?;
    let rows = stmt.query_map([DOCUMENT_REFUSED], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Forgets a set-aside file's row (its file was removed), unless the same
/// bytes were queued again meanwhile.
pub(super) fn forget_refused(conn: &Connection, sha256: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM photo_uploads WHERE sha256 = ?1 AND state = 'failed'",
        [sha256],
    )?;
    Ok(())
}

/// An attempt failed and will be retried.
pub(super) fn note_retry(conn: &Connection, sha256: &str, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE photo_uploads SET attempts = attempts + 1, last_error = ?2,
            updated_at_ms = ?3 WHERE sha256 = ?1 AND state IN ('pending', 'uploading')",
        params![sha256, error, now_ms()],
    )?;
    Ok(())
}

/// Persists the server's upload URL and acknowledged offset of a file
/// (`url: None`: start over), and the bytes `transmitted` since; whether
/// the row is still open.
pub(super) fn save_progress(
    conn: &Connection,
    sha256: &str,
    url: Option<&str>,
    offset: u64,
    transmitted: u64,
) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE photo_uploads SET upload_url = ?2, bytes_sent = ?3,
            bytes_transmitted = bytes_transmitted + ?4,
            state = CASE WHEN ?2 IS NULL THEN 'pending' ELSE 'uploading' END,
            updated_at_ms = ?5
         WHERE sha256 = ?1 AND state IN ('pending', 'uploading')",
        params![sha256, url, offset as i64, transmitted as i64, now_ms()],
    )?;
    Ok(changed > 0)
}

/// Full-size files uploaded at or before `cutoff_ms`, with their photo.
pub(super) fn uploaded_images_before(
    conn: &Connection,
    cutoff_ms: i64,
) -> Result<Vec<(String, DocId)>> {
    let mut stmt = conn.prepare(
        "SELECT sha256, photo_doc_id FROM photo_uploads
         WHERE kind = 'image' AND state = 'done' AND updated_at_ms <= ?1",
    )?;
    let rows = stmt.query_map(params![cutoff_ms], |r| Ok((r.get(0)?, id_at(r, 1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Forgets the whole queue (another user signed in).
pub(super) fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM photo_uploads", [])?;
    Ok(())
}
