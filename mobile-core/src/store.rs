//! The local store: one SQLite file in WAL mode, one writer connection and
//! one reader connection.
//!
//! Every write goes through [`Store::write`], which runs a closure in one
//! `BEGIN IMMEDIATE` transaction on the only writer connection, so there is
//! never a second writer to collide with (`SQLITE_BUSY`) and a multi-step
//! write is all or nothing. With `synchronous = FULL` a transaction that
//! returned is on disk: a kill or crash at any later instant keeps it.
//! Reads use their own connection and see the last committed state.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use fieldops_sync::ids::DeviceId;
use fieldops_sync::protocol::Cursor;
use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::error::{BadStoredId, CoreError, Result};
use crate::schema;

/// The local store.
#[derive(Debug)]
pub struct Store {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    path: PathBuf,
    /// Moves on when the store's data is wiped for another user
    /// ([`Store::wiped`]); read and moved under the writer's lock.
    generation: AtomicU64,
}

fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves SQLite consistent (the open
    // transaction rolls back when dropped), so poisoning is harmless.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Turns "file is not a database" and friends into [`CoreError::StoreCorrupt`].
fn corrupt_or(error: CoreError) -> CoreError {
    if let CoreError::Sqlite(inner) = &error
        && let rusqlite::Error::SqliteFailure(e, _) = inner.as_ref()
        && matches!(
            e.code,
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
        )
    {
        return CoreError::StoreCorrupt(e.to_string());
    }
    error
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let open = || -> Result<Self> {
            let mut writer = Connection::open(&path)?;
            schema::configure_writer(&writer)?;
            schema::migrate(&mut writer)?;
            let reader = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            reader.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(Store {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                path: path.clone(),
                generation: AtomicU64::new(0),
            })
        };
        open().map_err(corrupt_or)
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one immediate transaction on the writer connection and
    /// commits it; any error rolls everything back.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// [`Store::write`], then `after` once the transaction committed, still
    /// holding the writer: no other write falls between the commit and it.
    pub(crate) fn write_then<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
        after: impl FnOnce(&T),
    ) -> Result<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        after(&value);
        Ok(value)
    }

    /// The store's generation, for [`Store::write_in`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// [`Store::write`] on behalf of work that began in `generation` (a
    /// sync session): refused if the store was wiped for another user
    /// since, so nothing of the previous user's lands in the next one's
    /// store, whatever was still in flight. The refusal is a passing
    /// [`CoreError::Network`] failure: the live loop opens a new session,
    /// as the user now signed in.
    pub(crate) fn write_in<T>(
        &self,
        generation: u64,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = lock(&self.writer);
        if self.generation.load(Ordering::Acquire) != generation {
            return Err(CoreError::Network(
                "another user signed in on this device".into(),
            ));
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Marks the store wiped for another user: later [`Store::write_in`]
    /// calls of an earlier generation are refused. Call it inside the
    /// wiping [`Store::write`] (it holds the writer's lock, so no write of
    /// the old generation can be between its check and its commit).
    pub(crate) fn wiped(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `f` on the reader connection, in one read transaction.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.reader);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let value = f(&tx)?;
        tx.finish()?;
        Ok(value)
    }

    /// This installation's device id, created on first use.
    pub fn device_id(&self) -> Result<DeviceId> {
        self.write(|tx| match meta_get(tx, "device_id")? {
            Some(text) => text
                .parse()
                .map_err(|_| CoreError::StoreCorrupt("bad device id".into())),
            None => {
                let id = DeviceId::new();
                meta_set(tx, "device_id", &id.to_string())?;
                Ok(id)
            }
        })
    }

    /// The feed cursor: everything up to it is stored here.
    pub fn cursor(&self) -> Result<Cursor> {
        self.read(|conn| {
            Ok(Cursor(
                meta_get(conn, "cursor")?
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(0),
            ))
        })
    }
}

/// Reads a `meta` value.
pub(crate) fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()?)
}

/// Writes a `meta` value.
pub(crate) fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

/// Stores the feed cursor, never moving it backwards.
pub(crate) fn set_cursor(conn: &Connection, cursor: Cursor) -> Result<()> {
    let current = meta_get(conn, "cursor")?
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0);
    if cursor.0 > current {
        meta_set(conn, "cursor", &cursor.0.to_string())?;
    }
    Ok(())
}

fn parse_id<T: FromStr>(text: &str, column: &str) -> Result<T, BadStoredId> {
    text.parse().map_err(|_| BadStoredId::new(column))
}

/// Reads the id in column `idx` of `row`; see [`BadStoredId`].
pub(crate) fn id_at<T: FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse_id(&text, row.as_ref().column_name(idx).unwrap_or("?"))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// Reads the nullable id in column `idx` of `row`; see [`BadStoredId`].
pub(crate) fn opt_id_at<T: FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(text) => parse_id(&text, row.as_ref().column_name(idx).unwrap_or("?"))
            .map(Some)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))),
    }
}

/// Forgets the feed cursor (another user's data was wiped).
pub(crate) fn clear_cursor(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key = 'cursor'", [])?;
    Ok(())
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_garbage_file_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        assert!(matches!(
            Store::open(&path),
            Err(CoreError::StoreCorrupt(_))
        ));
    }

    #[test]
    fn device_id_and_cursor_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = Store::open(&path).unwrap();
        let id = store.device_id().unwrap();
        store.write(|tx| set_cursor(tx, Cursor(42))).unwrap();
        store.write(|tx| set_cursor(tx, Cursor(7))).unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.device_id().unwrap(), id);
        assert_eq!(store.cursor().unwrap(), Cursor(42));
    }

    #[test]
    fn writes_of_an_earlier_generation_are_refused_once_the_store_was_wiped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db")).unwrap();
        let before = store.generation();
        store
            .write_in(before, |tx| set_cursor(tx, Cursor(5)))
            .unwrap();
        store
            .write(|tx| {
                clear_cursor(tx)?;
                store.wiped();
                Ok(())
            })
            .unwrap();
        assert!(matches!(
            store.write_in(before, |tx| set_cursor(tx, Cursor(9))),
            Err(CoreError::Network(_))
        ));
        assert_eq!(store.cursor().unwrap(), Cursor(0), "nothing written");
        store
            .write_in(store.generation(), |tx| set_cursor(tx, Cursor(3)))
            .unwrap();
        assert_eq!(store.cursor().unwrap(), Cursor(3));
    }
}
