//! The materialised index: one row per document with what the lists show
//! and filter by (`doc_index`), written from each document's
//! [`Listing`] — the one the server sent beside it, or the one computed
//! here whenever the document changes — and the list queries the features
//! run over it ([`list`]).

use automerge::AutoCommit;
use fieldops_sync::docs::Document;
use fieldops_sync::ids::{DocId, DocKind, UserId};
use fieldops_sync::listing::Listing;
use rusqlite::{Connection, params};

use super::load;
use crate::error::Result;
use crate::geo::Position;
use crate::shared::Shared;
use crate::store::id_at;

/// Who "me" is, for the `assigned_to_me` column.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Me(pub(crate) Option<UserId>);

impl Me {
    /// The signed-in user of the core.
    pub(crate) fn of(shared: &Shared) -> Me {
        Me(shared.user_id())
    }
}

/// Writes the index row of one document.
pub(crate) fn reindex(
    conn: &Connection,
    id: DocId,
    kind: DocKind,
    doc: &AutoCommit,
    me: Me,
) -> Result<()> {
    let listing = match Document::hydrate(kind, doc) {
        Ok(document) => Listing::of(&document),
        Err(error) => {
            // A document from a newer schema, or broken: keep it, list it
            // under its kind with an "unreadable" status.
            tracing::warn!(%id, %error, "document not indexable");
            Listing::unreadable(kind)
        }
    };
    write_index_row(conn, id, kind, &listing, me)?;
    conn.prepare_cached("UPDATE documents SET indexed = 1 WHERE doc_id = ?1")?
        .execute([id.to_string()])?;
    Ok(())
}

/// Writes a document's index row from its listing (the caller marks the
/// document indexed).
pub(super) fn write_index_row(
    conn: &Connection,
    id: DocId,
    kind: DocKind,
    listing: &Listing,
    me: Me,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO doc_index (doc_id, kind, title, status, sort_key, lat, lon, assigned_to_me,
                               parent_id, people)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (doc_id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
            status = excluded.status, sort_key = excluded.sort_key, lat = excluded.lat,
            lon = excluded.lon, assigned_to_me = excluded.assigned_to_me,
            parent_id = excluded.parent_id, people = excluded.people",
    )?
    .execute(params![
        id.to_string(),
        kind.as_str(),
        listing.title,
        listing.status,
        listing.sort_key,
        listing.place.map(|p| p.lat),
        listing.place.map(|p| p.lon),
        i64::from(me.0.is_some_and(|me| listing.names(me))),
        listing.parent.map(|p| p.to_string()),
        listing
            .people
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    ])?;
    Ok(())
}

/// Parses and indexes every document stored unparsed; returns how many.
pub(crate) fn index_pending(conn: &Connection, me: Me) -> Result<usize> {
    let ids: Vec<DocId> = conn
        .prepare("SELECT doc_id FROM documents WHERE indexed = 0")?
        .query_map([], |row| id_at(row, 0))?
        .collect::<rusqlite::Result<_>>()?;
    for &doc_id in &ids {
        if let Some(loaded) = load(conn, doc_id)? {
            reindex(conn, doc_id, loaded.kind, &loaded.doc, me)?;
        }
    }
    Ok(ids.len())
}

/// Re-derives `assigned_to_me` for every document (at sign-in: the user
/// may have changed): in SQL from the rows' people, reading only the
/// documents whose row does not say (indexed by an older build).
pub(crate) fn reindex_all(conn: &Connection, me: Me) -> Result<()> {
    let user_id = me.0.map(|id| id.to_string());
    conn.execute(
        "UPDATE doc_index SET assigned_to_me = (?1 IS NOT NULL AND instr(people, ?1) > 0)
         WHERE people IS NOT NULL",
        [&user_id],
    )?;
    conn.execute(
        "UPDATE documents SET indexed = 0
         WHERE doc_id IN (SELECT doc_id FROM doc_index WHERE people IS NULL)",
        [],
    )?;
    index_pending(conn, me).map(|_| ())
}

/// Parses and indexes what a catch-up stored unparsed, before a list.
fn ensure_indexed(shared: &Shared) -> Result<()> {
    let pending: bool = shared.store.read(|conn| {
        Ok(conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM documents WHERE indexed = 0)",
            [],
            |r| r.get(0),
        )?)
    })?;
    if pending {
        let me = Me::of(shared);
        shared.store.write(|tx| index_pending(tx, me))?;
    }
    Ok(())
}

/// A row of a list, from the materialised index.
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    /// The document.
    pub doc_id: DocId,
    /// Title (visit title, ticket number and subject).
    pub title: String,
    /// Status code.
    pub status: String,
    /// Visit start date, or an update time for tickets.
    pub sort_key: String,
    /// Site position, for visits.
    pub position: Option<Position>,
    /// Distance from the position the list was asked for, metres.
    pub distance_m: Option<f64>,
    /// Created on this device and not yet confirmed by the server (a
    /// ticket opened offline: no number yet).
    pub pending: bool,
}

/// The columns a list query selects, in this order, for [`list`].
/// Whether the document is provisional is read from the small partial
/// index of provisional documents, not from their rows: a list of 50,000
/// then reads the index table alone instead of every document's bytes.
pub(crate) const LIST_COLUMNS: &str = "doc_id, title, status, sort_key, lat, lon, \
     doc_id IN (SELECT doc_id FROM documents WHERE provisional = 1) AS provisional";

/// Runs a feature's list query over `doc_index` (selecting
/// [`LIST_COLUMNS`]), after indexing what is unindexed.
pub(crate) fn list(
    shared: &Shared,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ListItem>> {
    ensure_indexed(shared)?;
    shared.store.read(|conn| {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map(args, |row| {
                let lat: Option<f64> = row.get(4)?;
                let lon: Option<f64> = row.get(5)?;
                Ok(ListItem {
                    doc_id: id_at(row, 0)?,
                    title: row.get(1)?,
                    status: row.get(2)?,
                    sort_key: row.get(3)?,
                    position: lat.zip(lon).and_then(|(a, o)| Position::new(a, o).ok()),
                    distance_m: None,
                    pending: row.get::<_, i64>(6)? == 1,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    })
}
