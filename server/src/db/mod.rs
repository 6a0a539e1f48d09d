//! Storage: one body of SQL for SQLite (embedded default) and PostgreSQL.
//!
//! # Why `sqlx::Any`
//!
//! Every query in fieldops is written once and runs on both backends through
//! `sqlx::Any`. The price is a portable column vocabulary, which the migrations
//! follow strictly:
//!
//! * ids are `TEXT` (UUIDv7, so they sort by creation time),
//! * times are `BIGINT` unix milliseconds in UTC,
//! * money is `BIGINT` minor units next to a `TEXT` currency code,
//! * enums are `TEXT` with a `CHECK`, flags are `BIGINT` 0/1 (no `BOOLEAN`: `Any`
//!   cannot decode SQLite columns declared that way),
//! * coordinates are `DOUBLE PRECISION`.
//!
//! The alternative, a storage trait with one implementation per backend (atuin's
//! shape), writes most queries twice for no gain here: the two dialects agree on
//! everything we need (`RETURNING`, `ON CONFLICT`, `$n` placeholders, expression
//! indexes). The few features that are truly backend-specific (full-text search,
//! `LISTEN/NOTIFY`) get small, named functions that branch on [`Backend`].
//!
//! # Writers
//!
//! SQLite allows one writer at a time. A deferred transaction that reads and
//! then writes can fail with `SQLITE_BUSY` without waiting, so every multi-step
//! write goes through [`Db::begin_write`], which opens `BEGIN IMMEDIATE` on
//! SQLite (taking the write lock up front) and a plain `BEGIN` on Postgres.
//!
//! On SQLite those transactions run on a pool of **one** connection, apart
//! from the readers' pool: writers queue for it in arrival order inside the
//! process instead of retrying `BEGIN IMMEDIATE` under SQLite's busy handler,
//! which sleeps between attempts (1, 2, 5, … 100 ms) and so turned a burst of
//! writers into idle waiting. The busy timeout stays for other processes.
//!
//! Postgres write transactions have their own pool too (8 connections next
//! to the readers' 16): writers that wait on a row lock hold their
//! connection meanwhile, and in one pool a burst of them starved the reads
//! that answer everyone else — the claim gate's among them.

pub mod alerts;
pub mod assignments;
pub mod attendance;
pub mod audit;
pub mod blobs;
pub mod calls;
pub mod chat;
pub mod customers;
pub mod departments;
pub mod event_log;
pub mod extensions;
pub mod idempotency;
pub mod invoices;
pub mod journeys;
pub mod kpi;
pub mod login_failures;
pub mod phone_codes;
pub mod ratings;
pub mod rotation;
pub mod secrets;
pub mod sessions;
pub mod settings;
pub mod sync_store;
pub mod ticket_queries;
pub mod tickets;
pub mod uploads;
pub mod users;
pub mod visits;
pub mod whatsapp;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Transaction};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// A Postgres connection idle for longer is pinged before it is handed out,
/// in case a server restart or an idle timeout closed it; one in steady use
/// is not (as HikariCP skips the check for connections used within the last
/// half second). A ping on every acquire doubled the round trips of each
/// short read, and under a burst reads queued for connections busy answering
/// pings. A connection that died within the window fails one query.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// The database engine behind a [`Db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A transaction on either backend.
pub type Tx = Transaction<'static, Any>;

/// The connection pool plus the backend it talks to.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    /// The connections write transactions take turns on: one on SQLite, a
    /// few on Postgres. Apart from `pool`, so that a burst of writers
    /// (which queue on row locks anyway) never leaves reads without one.
    writer: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://...`). For SQLite the
    /// file and its directory are created if missing; WAL and foreign keys are on.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL scheme (use sqlite:// or postgres://)");
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url).context("parsing the database URL")?;
        let sqlite = |connections: u32| {
            AnyPoolOptions::new()
                .max_connections(connections)
                // A burst of writers waits its turn for the writer.
                .acquire_timeout(Duration::from_secs(30))
                // A file does not hang up.
                .test_before_acquire(false)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        sqlx::raw_sql(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .execute(conn)
                        .await?;
                        Ok(())
                    })
                })
        };
        let context = "connecting to the database";
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let pool = sqlite(8).connect_with(options.clone()).await;
                let writer = sqlite(1).connect_with(options).await;
                (pool.context(context)?, writer.context(context)?)
            }
            Backend::Postgres => {
                let postgres = |connections: u32| {
                    AnyPoolOptions::new()
                        .max_connections(connections)
                        .acquire_timeout(Duration::from_secs(10))
                        .test_before_acquire(false)
                        .before_acquire(|conn, meta| {
                            Box::pin(async move {
                                if meta.idle_for > IDLE_BEFORE_PING {
                                    sqlx::Connection::ping(conn).await?;
                                }
                                Ok(true)
                            })
                        })
                };
                let pool = postgres(16).connect_with(options.clone()).await;
                // Kept open: a burst of claims after a quiet spell would
                // otherwise open them mid-burst (a backend process each).
                let writer = postgres(8).min_connections(8).connect_with(options).await;
                (pool.context(context)?, writer.context(context)?)
            }
        };
        Ok(Self {
            pool,
            writer,
            backend,
        })
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.context("running migrations")
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that will write (see the module docs).
    pub async fn begin_write(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    /// One round trip to the database: is it answering?
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// Adds `mode=rwc` so the file is created, and creates its parent directory.
fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        anyhow::bail!("an in-memory SQLite database is not supported; give a file path");
    }
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database directory {}", dir.display()))?;
    }
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Milliseconds since the Unix epoch, UTC.
/// Holds row `id` of `table` until the transaction ends (Postgres; SQLite
/// writes one transaction at a time, which holds everything already).
pub(crate) async fn hold_row(
    tx: &mut Tx,
    backend: Backend,
    table: &'static str,
    id: &str,
) -> sqlx::Result<()> {
    if backend == Backend::Postgres {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE id = $1 FOR UPDATE"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    }
    Ok(())
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// True when `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Whether `err` means the database could not be reached or dropped the
/// connection (a restart, a failover, a network cut) rather than refusing
/// the statement: the write did not happen, or did so atomically, and
/// asking again shortly is the answer. Postgres says so with SQLSTATE
/// class 08 (connection exception) and 57P01-57P03 (shutting down, not
/// yet accepting connections).
pub fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Whether `err` (any error with its causes) is [`is_connection_lost`].
pub fn lost_connection_in(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<sqlx::Error>()
            .is_some_and(is_connection_lost)
    })
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern and wraps it in `%`.
pub fn like_contains(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migrations whose SQL differs between the backends (types, full-text
    /// search, SQLite's table rebuilds); every other one is written once.
    const DIALECT_SPECIFIC: &[&str] = &[
        "0001_foundation.sql",
        "0003_helpdesk.sql",
        "0006_sync.sql",
        "0009_scoped_search.sql",
        "0013_phone_proof.sql",
        "0017_invoices.sql",
        "0018_invoice_documents.sql",
        "0020_kpi.sql",
        "0021_journeys.sql",
        "0025_chat_images.sql",
        "0026_listings.sql",
    ];

    fn migrations(backend: &str) -> std::collections::BTreeMap<String, String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(backend);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| {
                let path = entry.map(|e| e.path()).unwrap_or_default();
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                (name, std::fs::read_to_string(&path).unwrap_or_default())
            })
            .collect()
    }

    #[test]
    fn both_backends_have_one_migration_history() {
        let sqlite = migrations("sqlite");
        let postgres = migrations("postgres");
        assert_eq!(
            sqlite.keys().collect::<Vec<_>>(),
            postgres.keys().collect::<Vec<_>>(),
            "the same migrations, in the same order, on both backends"
        );
        for (name, sql) in &sqlite {
            let same = Some(sql) == postgres.get(name);
            let specific = DIALECT_SPECIFIC.contains(&name.as_str());
            assert!(
                same != specific,
                "{name}: {}",
                if specific {
                    "listed as dialect-specific but identical: take it off the list"
                } else {
                    "differs between the backends: make them one, or list it as dialect-specific"
                }
            );
        }
    }

    #[test]
    fn like_patterns_escape_metacharacters() {
        assert_eq!(like_contains("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(like_contains("Budi"), "%budi%");
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = std::env::temp_dir().join(format!("fo-url-{}", new_id()));
        let url = format!("sqlite://{}/x.db", dir.display());
        assert!(prepare_sqlite_url(&url).is_ok_and(|u| u.ends_with("?mode=rwc")));
        assert!(dir.exists());
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
    }
}
