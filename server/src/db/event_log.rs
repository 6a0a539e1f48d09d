//! The event log (`event_log`): every event a change records, kept a while
//! so that consoles can catch up (`crate::events`), and on Postgres the
//! notifications that carry them to every instance.

use super::{Db, Tx};

/// One stored event; audience and data are JSON text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub audience: String,
    pub data: String,
    pub at: i64,
}

/// Rows written by one statement (five parameters each, within every
/// backend's bind-parameter limit).
pub const ROWS_PER_STATEMENT: usize = 100;

/// The Postgres schema the pool works in (the notification channel is
/// named after it, so that schemas sharing a server do not hear each other).
pub async fn current_schema(db: &Db) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(db.pool())
        .await
}

/// The `NOTIFY` channel `<prefix>_<schema>` of this database (empty on
/// SQLite, which has none): one per schema, since notifications are per
/// database and schemas sharing a server must not hear each other.
pub async fn channel(db: &Db, prefix: &str) -> sqlx::Result<String> {
    if db.backend() == super::Backend::Sqlite {
        return Ok(String::new());
    }
    let schema: String = current_schema(db)
        .await?
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    Ok(format!("{prefix}_{schema}"))
}

/// Writes `rows` (at most [`ROWS_PER_STATEMENT`]) in one statement.
pub async fn insert(tx: &mut Tx, rows: &[EventRow]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let values = (0..rows.len())
        .map(|i| {
            let params: Vec<String> = (1..=5).map(|k| format!("${}", i * 5 + k)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO event_log (id, kind, audience, data, at) VALUES {values}");
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        insert = insert
            .bind(&row.id)
            .bind(&row.kind)
            .bind(&row.audience)
            .bind(&row.data)
            .bind(row.at);
    }
    insert.execute(&mut **tx).await?;
    Ok(())
}

/// Postgres: sends `payloads` on `channel` when `tx` commits, in order.
pub async fn notify(tx: &mut Tx, channel: &str, payloads: &[String]) -> sqlx::Result<()> {
    if payloads.is_empty() {
        return Ok(());
    }
    // In order: the rows are numbered and sorted before pg_notify runs.
    let values = (0..payloads.len())
        .map(|i| format!("({i}, ${})", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT pg_notify($1, v.payload) FROM (VALUES {values}) AS v(n, payload) ORDER BY v.n"
    );
    let mut notify = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(channel);
    for payload in payloads {
        notify = notify.bind(payload);
    }
    notify.execute(&mut **tx).await?;
    Ok(())
}

/// Events after `since` (exclusive), oldest first, at most `limit`.
pub async fn after(db: &Db, since: &str, limit: u32) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "SELECT id, kind, audience, data, at FROM event_log WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(since)
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await
}

/// Event `id`.
pub async fn get(db: &Db, id: &str) -> sqlx::Result<Option<EventRow>> {
    sqlx::query_as("SELECT id, kind, audience, data, at FROM event_log WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await
}

/// Deletes the events recorded before `before` (unix ms); returns how many.
pub async fn delete_before(db: &Db, before: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM event_log WHERE at < $1")
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
