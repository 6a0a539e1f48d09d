//! What the server refused, kept: when the server turns down this device's
//! changes to a document (`WriteRejected`), the document is reset to the
//! server's version, and the device's own version is kept here, with what
//! was refused, until the user dismisses it; likewise when a document with
//! edits the server never took leaves the device (`Drop`). A photo
//! attached offline to a ticket that was full by the time it synced, or
//! notes written on a visit that was reassigned meanwhile, are then still
//! on the phone to be seen, copied or attached elsewhere: nothing a user
//! saved disappears.
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

/// Keeps the device's version of `id` before the server's replaces it (or
/// the document leaves the device), if it holds edits the server does not
/// have. `server_has`: whether the server has a version of its own. A
/// version kept before and not yet dismissed is merged into this one, with
/// both refusals' reasons: a second refusal never loses the first's edits.
pub(crate) fn keep(
    conn: &Connection,
    id: DocId,
    violations: &[String],
    server_has: bool,
) -> Result<()> {
    let unsent: bool = conn
        .query_row(
            "SELECT local_changes = 1 OR provisional = 1 FROM documents WHERE doc_id = ?1",
            [id.to_string()],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(false);
    if !unsent {
        return Ok(());
    }
    let Some(loaded) = load(conn, id)? else {
        return Ok(());
    };
    let mut doc = loaded.doc;
    let mut violations = violations.to_vec();
    let earlier: Option<(Vec<u8>, String)> = conn
        .query_row(
            "SELECT snapshot, violations FROM refused_documents WHERE doc_id = ?1 AND kind = ?2",
            params![id.to_string(), loaded.kind.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((bytes, reasons)) = earlier {
        doc.merge(&mut AutoCommit::load(&bytes)?)?;
        for reason in split_reasons(&reasons) {
            if !violations.iter().any(|v| v == reason) {
                violations.push(reason.to_owned());
            }
        }
    }
    let listing = match Document::hydrate(loaded.kind, &doc) {
        Ok(document) => Listing::of(&document),
        Err(_) => Listing::unreadable(loaded.kind),
    };
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

/// The `field:reason`s kept in one column, a line each.
fn split_reasons(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter(|r| !r.is_empty())
}

const COLUMNS: &str = "doc_id, kind, title, parent_id, violations, created_here, refused_at_ms";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RefusedDocument> {
    let violations: String = row.get(4)?;
    Ok(RefusedDocument {
        doc_id: id_at(row, 0)?,
        kind: id_at(row, 1)?,
        title: row.get(2)?,
        parent_id: opt_id_at(row, 3)?,
        violations: split_reasons(&violations).map(str::to_owned).collect(),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use fieldops_sync::docs::Visit;
    use fieldops_sync::testing::sample_visit;

    use super::*;
    use crate::store::Store;

    /// Stores `doc` as the device's version of `id`, with unsent edits.
    fn store_local(conn: &Connection, id: DocId, doc: &mut AutoCommit) {
        conn.execute(
            "INSERT INTO documents (doc_id, kind, snapshot, local_changes, updated_at_ms)
             VALUES (?1, 'visit', ?2, 1, 0)
             ON CONFLICT (doc_id) DO UPDATE SET snapshot = excluded.snapshot, changes = x'',
                local_changes = 1",
            params![id.to_string(), doc.save()],
        )
        .unwrap();
    }

    #[test]
    fn a_second_refusal_keeps_the_first_ones_edits_and_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db")).unwrap();
        let id = DocId::new();
        let mut server = sample_visit().to_document().unwrap();

        // Refused once: notes written offline.
        let mut first = server.fork();
        let mut visit = Visit::hydrate(&first).unwrap();
        visit.notes = "Panel diganti".into();
        visit.reconcile(&mut first).unwrap();
        store
            .write(|tx| {
                store_local(tx, id, &mut first);
                keep(tx, id, &["notes:forbidden".into()], true)
            })
            .unwrap();

        // Reset to the server's version, edited again, refused again.
        let mut second = server.fork();
        let mut visit = Visit::hydrate(&second).unwrap();
        visit.title = "Ganti panel".into();
        visit.reconcile(&mut second).unwrap();
        store
            .write(|tx| {
                store_local(tx, id, &mut second);
                keep(tx, id, &["document:out_of_scope".into()], true)
            })
            .unwrap();

        let kept = store.read(all).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            kept[0].violations,
            ["document:out_of_scope", "notes:forbidden"]
        );
        let copy: Visit = store.read(|conn| copy(conn, id)).unwrap();
        assert_eq!(
            (copy.notes.as_str(), copy.title.as_str()),
            ("Panel diganti", "Ganti panel")
        );

        // A document without unsent edits has nothing to keep.
        let other = DocId::new();
        store
            .write(|tx| {
                store_local(tx, other, &mut server);
                tx.execute(
                    "UPDATE documents SET local_changes = 0 WHERE doc_id = ?1",
                    [other.to_string()],
                )?;
                keep(tx, other, &["notes:forbidden".into()], true)
            })
            .unwrap();
        assert_eq!(store.read(all).unwrap().len(), 1);
        assert!(store.write(|tx| dismiss(tx, id)).unwrap());
        assert!(store.read(all).unwrap().is_empty());
    }
}
