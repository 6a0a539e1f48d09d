//! What the server refused, kept: when the server turns down this device's
//! changes to a document (`WriteRejected`), the document is reset to the
//! server's version, and the device's own version is kept here, with what
//! was refused, until the user dismisses it. A photo attached offline to a
//! ticket that was full by the time it synced, or notes written on a visit
//! that was reassigned meanwhile, are then still on the phone to be seen,
//! copied or attached elsewhere: nothing a user saved disappears.
//!
//! The kept copy is outside `documents`: it is never pushed, edited or
//! listed with the server's documents (a refused photo is listed beside its
//! owner's photos, marked `refused`: [`Photos::of`](crate::Photos::of)).
//! Files a refused photo names stay on the device while it is kept.

use automerge::AutoCommit;
use fieldops_sync::docs::{Document, DocumentSchema};
use fieldops_sync::ids::{DocId, DocKind};
use fieldops_sync::listing::Listing;
use rusqlite::{Connection, OptionalExtension, params};

use super::load;
use crate::error::{CoreError, Result};
use crate::store::{id_at, now_ms, opt_id_at};

/// A version of a document the server refused, kept on the device.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedDocument {
    /// The document.
    pub doc_id: DocId,
    /// Its kind.
    pub kind: DocKind,
    /// What its list would show (a photo's caption, a visit's title).
    pub title: String,
    /// The document it belongs to (a photo's ticket or visit).
    pub parent_id: Option<DocId>,
    /// What the server refused, as `field:reason`.
    pub violations: Vec<String>,
    /// The server never had the document (it was created on this device):
    /// this copy is all there is of it.
    pub created_here: bool,
    /// When the refusal arrived, Unix ms.
    pub refused_at_ms: i64,
}

/// Keeps the device's version of `id` before the server's replaces it.
/// `server_has`: whether the server sent a version of its own. Nothing is
/// kept for a document the device no longer holds.
pub(crate) fn keep(
    conn: &Connection,
    id: DocId,
    violations: &[String],
    server_has: bool,
) -> Result<()> {
    let Some(loaded) = load(conn, id)? else {
        return Ok(());
    };
    let listing = match Document::hydrate(loaded.kind, &loaded.doc) {
        Ok(document) => Listing::of(&document),
        Err(_) => Listing::unreadable(loaded.kind),
    };
    let mut doc = loaded.doc;
    conn.execute(
        "INSERT INTO refused_documents (doc_id, kind, snapshot, violations, title, sort_key,
                                        parent_id, created_here, refused_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (doc_id) DO UPDATE SET kind = excluded.kind, snapshot = excluded.snapshot,
            violations = excluded.violations, title = excluded.title,
            sort_key = excluded.sort_key, parent_id = excluded.parent_id,
            created_here = excluded.created_here, refused_at_ms = excluded.refused_at_ms",
        params![
            id.to_string(),
            loaded.kind.as_str(),
            doc.save(),
            violations.join("\n"),
            listing.title,
            listing.sort_key,
            listing.parent.map(|p| p.to_string()),
            i64::from(!server_has),
            now_ms(),
        ],
    )?;
    Ok(())
}

const COLUMNS: &str = "doc_id, kind, title, parent_id, violations, created_here, refused_at_ms";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RefusedDocument> {
    let violations: String = row.get(4)?;
    Ok(RefusedDocument {
        doc_id: id_at(row, 0)?,
        kind: id_at(row, 1)?,
        title: row.get(2)?,
        parent_id: opt_id_at(row, 3)?,
        violations: violations
            .split('\n')
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect(),
        created_here: row.get::<_, i64>(5)? == 1,
        refused_at_ms: row.get(6)?,
    })
}

/// Every kept version, the latest refusal first.
pub(crate) fn all(conn: &Connection) -> Result<Vec<RefusedDocument>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM refused_documents ORDER BY refused_at_ms DESC, doc_id"
    ))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The kept version of `id`, as schema `S`.
pub(crate) fn copy<S: DocumentSchema>(conn: &Connection, id: DocId) -> Result<S> {
    let bytes: Option<Vec<u8>> = conn
        .query_row(
            "SELECT snapshot FROM refused_documents WHERE doc_id = ?1 AND kind = ?2",
            params![id.to_string(), S::KIND.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    let bytes = bytes.ok_or_else(|| CoreError::not_found(S::KIND))?;
    Ok(S::hydrate(&AutoCommit::load(&bytes)?)?)
}

/// Forgets the kept version of `id`; whether there was one.
pub(crate) fn dismiss(conn: &Connection, id: DocId) -> Result<bool> {
    let n = conn.execute(
        "DELETE FROM refused_documents WHERE doc_id = ?1",
        [id.to_string()],
    )?;
    Ok(n > 0)
}

/// Forgets every kept version (another user signed in).
pub(crate) fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM refused_documents", [])?;
    Ok(())
}
