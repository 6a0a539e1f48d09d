//! The local store's schema and its migrations, versioned with SQLite's
//! `user_version`.
//!
//! Each entry of [`MIGRATIONS`] moves the schema up one version and runs in
//! the same transaction as the version bump, so an upgrade interrupted by a
//! kill leaves the previous version intact. Never edit a released entry:
//! append a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{CoreError, Result};

/// The migrations, version 1 first.
const MIGRATIONS: &[&str] = &[
    // 1: documents, index, outbox, cursor, account, photo queue.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    -- The signed-in account (one row) and its tokens.
    CREATE TABLE account (
        id                   INTEGER PRIMARY KEY CHECK (id = 1),
        base_url             TEXT NOT NULL,
        user_id              TEXT NOT NULL,
        role                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        email                TEXT NOT NULL,
        department_ids       TEXT NOT NULL,
        access_token         TEXT NOT NULL,
        access_expires_at_ms INTEGER NOT NULL,
        refresh_token        TEXT NOT NULL
    ) STRICT;

    -- Automerge documents: the bytes as received (parsed on first read),
    -- then incremental changes appended until the next compaction.
    CREATE TABLE documents (
        doc_id        TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('ticket', 'visit', 'check_in', 'photo', 'staff_notes')),
        snapshot      BLOB NOT NULL,
        changes       BLOB NOT NULL DEFAULT x'',
        change_count  INTEGER NOT NULL DEFAULT 0,
        heads         BLOB,
        synced_heads  BLOB,
        server_seq    INTEGER NOT NULL DEFAULT 0,
        sync_state    BLOB,
        local_changes INTEGER NOT NULL DEFAULT 0 CHECK (local_changes IN (0, 1)),
        indexed       INTEGER NOT NULL DEFAULT 0 CHECK (indexed IN (0, 1)),
        updated_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX documents_unindexed ON documents (indexed) WHERE indexed = 0;
    CREATE INDEX documents_local ON documents (local_changes) WHERE local_changes = 1;

    -- What the app lists and filters by, materialised from the documents.
    CREATE TABLE doc_index (
        doc_id         TEXT PRIMARY KEY REFERENCES documents (doc_id) ON DELETE CASCADE,
        kind           TEXT NOT NULL,
        title          TEXT NOT NULL,
        status         TEXT NOT NULL,
        sort_key       TEXT NOT NULL,
        lat            REAL,
        lon            REAL,
        assigned_to_me INTEGER NOT NULL CHECK (assigned_to_me IN (0, 1)),
        parent_id      TEXT
    ) STRICT;
    CREATE INDEX doc_index_kind_status ON doc_index (kind, status, sort_key);
    CREATE INDEX doc_index_mine ON doc_index (kind, assigned_to_me, sort_key);

    -- Commands waiting for, or answered by, the server.
    CREATE TABLE outbox (
        command_id    TEXT PRIMARY KEY,
        device_seq    INTEGER NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        target_id     TEXT,
        command       BLOB NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'accepted', 'rejected')),
        reason        TEXT,
        message       TEXT,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX outbox_open ON outbox (device_seq) WHERE state IN ('pending', 'sending');

    -- Photos waiting to be uploaded (the worker comes with the photo pipeline).
    CREATE TABLE photo_uploads (
        sha256        TEXT PRIMARY KEY,
        photo_doc_id  TEXT NOT NULL,
        path          TEXT NOT NULL,
        bytes_total   INTEGER NOT NULL,
        bytes_sent    INTEGER NOT NULL DEFAULT 0,
        state         TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'done', 'failed')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    ) STRICT;
    "#,
    // 2: tickets opened on the device before the server numbered them.
    r#"
    -- 1: created here (a pending CreateTicket); never pushed as changes,
    -- replaced by the server's document when it arrives.
    ALTER TABLE documents ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0
        CHECK (provisional IN (0, 1));
    "#,
    // 3: the upload worker: one row per file (photo or thumbnail) with the
    // server's upload URL; `bytes_sent` is the offset the server acknowledged.
    r#"
    ALTER TABLE photo_uploads ADD COLUMN kind TEXT NOT NULL DEFAULT 'image'
        CHECK (kind IN ('image', 'thumbnail'));
    ALTER TABLE photo_uploads ADD COLUMN thumbnail_sha256 TEXT;
    ALTER TABLE photo_uploads ADD COLUMN upload_url TEXT;
    ALTER TABLE photo_uploads ADD COLUMN bytes_transmitted INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX photo_uploads_open ON photo_uploads (created_at_ms)
        WHERE state IN ('pending', 'uploading');
    "#,
    // 4: invoices (server-owned documents). A CHECK cannot change in
    // SQLite: the table is rebuilt. Dropping the old one would clear the
    // index (its rows cascade), so the index is kept aside and put back.
    r#"
    CREATE TEMP TABLE doc_index_kept AS SELECT * FROM doc_index;
    CREATE TABLE documents_rebuilt (
        doc_id        TEXT PRIMARY KEY,
        kind          TEXT NOT NULL
                      CHECK (kind IN ('ticket', 'visit', 'check_in', 'photo', 'staff_notes', 'invoice')),
        snapshot      BLOB NOT NULL,
        changes       BLOB NOT NULL DEFAULT x'',
        change_count  INTEGER NOT NULL DEFAULT 0,
        heads         BLOB,
        synced_heads  BLOB,
        server_seq    INTEGER NOT NULL DEFAULT 0,
        sync_state    BLOB,
        local_changes INTEGER NOT NULL DEFAULT 0 CHECK (local_changes IN (0, 1)),
        indexed       INTEGER NOT NULL DEFAULT 0 CHECK (indexed IN (0, 1)),
        updated_at_ms INTEGER NOT NULL,
        provisional   INTEGER NOT NULL DEFAULT 0 CHECK (provisional IN (0, 1))
    ) STRICT;
    INSERT INTO documents_rebuilt
    SELECT doc_id, kind, snapshot, changes, change_count, heads, synced_heads, server_seq,
           sync_state, local_changes, indexed, updated_at_ms, provisional
    FROM documents;
    DROP TABLE documents;
    ALTER TABLE documents_rebuilt RENAME TO documents;
    CREATE INDEX documents_unindexed ON documents (indexed) WHERE indexed = 0;
    CREATE INDEX documents_local ON documents (local_changes) WHERE local_changes = 1;
    INSERT INTO doc_index SELECT * FROM doc_index_kept;
    DROP TABLE doc_index_kept;
    "#,
    // 5: journeys: the journey document kind (the table rebuilt as in 4),
    // and the forms being filled in, each with its own copy of the version
    // it started on (a publish while offline never changes the questions
    // under the customer), the photos attached so far, and the submission
    // in flight.
    r#"
    CREATE TEMP TABLE doc_index_kept AS SELECT * FROM doc_index;
    CREATE TABLE documents_rebuilt (
        doc_id        TEXT PRIMARY KEY,
        kind          TEXT NOT NULL
                      CHECK (kind IN ('ticket', 'visit', 'check_in', 'photo', 'staff_notes', 'invoice',
                                      'journey')),
        snapshot      BLOB NOT NULL,
        changes       BLOB NOT NULL DEFAULT x'',
        change_count  INTEGER NOT NULL DEFAULT 0,
        heads         BLOB,
        synced_heads  BLOB,
        server_seq    INTEGER NOT NULL DEFAULT 0,
        sync_state    BLOB,
        local_changes INTEGER NOT NULL DEFAULT 0 CHECK (local_changes IN (0, 1)),
        indexed       INTEGER NOT NULL DEFAULT 0 CHECK (indexed IN (0, 1)),
        updated_at_ms INTEGER NOT NULL,
        provisional   INTEGER NOT NULL DEFAULT 0 CHECK (provisional IN (0, 1))
    ) STRICT;
    INSERT INTO documents_rebuilt
    SELECT doc_id, kind, snapshot, changes, change_count, heads, synced_heads, server_seq,
           sync_state, local_changes, indexed, updated_at_ms, provisional
    FROM documents;
    DROP TABLE documents;
    ALTER TABLE documents_rebuilt RENAME TO documents;
    CREATE INDEX documents_unindexed ON documents (indexed) WHERE indexed = 0;
    CREATE INDEX documents_local ON documents (local_changes) WHERE local_changes = 1;
    INSERT INTO doc_index SELECT * FROM doc_index_kept;
    DROP TABLE doc_index_kept;
    CREATE TABLE journey_forms (
        form_id       TEXT PRIMARY KEY,
        journey_id    TEXT NOT NULL,
        version       INTEGER NOT NULL,
        definition    TEXT NOT NULL,
        form          TEXT NOT NULL,
        photos        TEXT NOT NULL DEFAULT '{}',
        started_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        -- The submission waiting for the server's answer: the form stays
        -- until it is accepted, and comes back (with the reason) if not.
        command_id    TEXT,
        rejection     TEXT
    ) STRICT;
    "#,
    // 6: calls — the current call and the ones before it (missed calls
    // are listed), with the signal numbering kept across a restart.
    r#"
    CREATE TABLE calls (
        call_id       TEXT PRIMARY KEY,
        outgoing      INTEGER NOT NULL,
        peer_name     TEXT NOT NULL,
        from_staff    INTEGER NOT NULL,
        ticket_id     TEXT,
        media         TEXT NOT NULL,
        state         TEXT NOT NULL,
        end_reason    TEXT,
        ice_servers   TEXT NOT NULL DEFAULT '[]',
        -- This device's last sequence number, the server's last state
        -- counter and the other device's last relayed number.
        my_seq        INTEGER NOT NULL DEFAULT 0,
        version       INTEGER NOT NULL DEFAULT 0,
        relayed_seq   INTEGER NOT NULL DEFAULT 0,
        expires_at_ms INTEGER,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        seen          INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX calls_created ON calls (created_at_ms);
    "#,
    // 7: whose each document is (a listing's people, comma-separated user
    // ids), so "assigned to me" is re-derived for another user in SQL
    // instead of by reading every document. NULL: not known (indexed
    // before this version), read the document.
    r#"
    ALTER TABLE doc_index ADD COLUMN people TEXT;
    "#,
    // 8: the device's versions of documents the server refused, kept until
    // the user dismisses them (`documents/refused.rs`).
    r#"
    CREATE TABLE refused_documents (
        doc_id        TEXT PRIMARY KEY,
        kind          TEXT NOT NULL,
        snapshot      BLOB NOT NULL,
        violations    TEXT NOT NULL,
        title         TEXT NOT NULL,
        sort_key      TEXT NOT NULL,
        parent_id     TEXT,
        created_here  INTEGER NOT NULL CHECK (created_here IN (0, 1)),
        refused_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX refused_documents_parent ON refused_documents (parent_id);
    -- Lists say which rows are provisional from this, without reading
    -- the documents (documents/index.rs, LIST_COLUMNS).
    CREATE INDEX documents_provisional ON documents (doc_id) WHERE provisional = 1;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the connection settings of the writer: WAL, full sync (a commit
/// that returned is on disk), foreign keys.
pub(crate) fn configure_writer(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(CoreError::StoreCorrupt(format!(
            "journal mode {mode} instead of wal"
        )));
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )?;
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`], one transaction per step.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(CoreError::StoreTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == 0 {
        // A file that is not ours but has tables is refused, not overwritten.
        let tables: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?;
        if tables > 0 {
            return Err(CoreError::StoreCorrupt(
                "the file holds another application's database".into(),
            ));
        }
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "local store migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_stores() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(CoreError::StoreTooNew { .. })
        ));
    }

    #[test]
    fn version_four_keeps_every_document_and_takes_invoices() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        for (index, sql) in MIGRATIONS.iter().take(3).enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", index as i64 + 1)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO documents (doc_id, kind, snapshot, local_changes, indexed, updated_at_ms, provisional)
             VALUES ('t1', 'ticket', x'01', 1, 1, 5, 1);
             INSERT INTO doc_index (doc_id, kind, title, status, sort_key, assigned_to_me)
             VALUES ('t1', 'ticket', 'AC bocor', 'open', '', 1);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let kept: (String, i64, i64, i64) = conn
            .query_row(
                "SELECT kind, local_changes, indexed, provisional FROM documents WHERE doc_id = 't1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(kept, ("ticket".into(), 1, 1, 1));
        let title: String = conn
            .query_row("SELECT title FROM doc_index WHERE doc_id = 't1'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(title, "AC bocor", "the index survives the rebuild");
        conn.execute(
            "INSERT INTO documents (doc_id, kind, snapshot, updated_at_ms) VALUES ('i1', 'invoice', x'01', 6)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO doc_index (doc_id, kind, title, status, sort_key, assigned_to_me)
             VALUES ('i1', 'invoice', 'INV/2026/000001', 'sent', '', 0)",
            [],
        )
        .unwrap();
        let check: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(check, 0);
    }

    #[test]
    fn refuses_foreign_databases() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE notes (x TEXT)").unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(CoreError::StoreCorrupt(_))
        ));
    }
}
