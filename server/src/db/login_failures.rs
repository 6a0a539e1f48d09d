//! Sign-in attempts per throttle key, and when the key may try next (see
//! `crate::auth::throttle`).

use super::{Db, Tx, now_ms};

/// A key's attempts as they count now.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Failures not yet forgotten.
    pub failures: i64,
    /// The earliest next attempt (unix ms).
    pub next_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    failures: i64,
    last_at: i64,
    next_at: i64,
}

/// The attempts of `key`, its row locked until `tx` ends (created, with
/// none, if it has none: a rolled-back attempt leaves nothing behind). A
/// key quiet since before `forget_before` (ms) counts as having none.
pub async fn lock(tx: &mut Tx, key: &str, now: i64, forget_before: i64) -> sqlx::Result<Seen> {
    // An upsert that changes nothing is how both dialects lock a row that
    // may not exist yet (SQLite's write transaction holds the whole file).
    let row: Row = sqlx::query_as(
        "INSERT INTO login_failures (throttle_key, failures, last_at, next_at) \
         VALUES ($1, 0, $2, 0) \
         ON CONFLICT (throttle_key) DO UPDATE SET failures = login_failures.failures \
         RETURNING failures, last_at, next_at",
    )
    .bind(key)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let forgotten = row.last_at < forget_before;
    Ok(Seen {
        failures: if forgotten { 0 } else { row.failures },
        next_at: if forgotten { 0 } else { row.next_at },
    })
}

/// Sets `key`'s count to `failures`, its last attempt to `now` (ms) and
/// its earliest next attempt to `next_at`; the row is [`lock`]ed.
pub async fn count(
    tx: &mut Tx,
    key: &str,
    failures: i64,
    now: i64,
    next_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE login_failures SET failures = $2, last_at = $3, next_at = $4 \
         WHERE throttle_key = $1",
    )
    .bind(key)
    .bind(failures)
    .bind(now)
    .bind(next_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes back one attempt of `key` (it succeeded), and its wait.
pub async fn forgive_one(db: &Db, key: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE login_failures SET failures = failures - 1, next_at = 0 \
         WHERE throttle_key = $1 AND failures > 0",
    )
    .bind(key)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets the attempts of `key` (a successful sign-in).
pub async fn clear(db: &Db, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
        .bind(key)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes keys quiet for longer than `forget_ms` whose wait is over;
/// returns how many.
pub async fn expire(db: &Db, forget_ms: i64) -> sqlx::Result<u64> {
    let now = now_ms();
    let done = sqlx::query("DELETE FROM login_failures WHERE last_at < $1 AND next_at < $2")
        .bind(now - forget_ms)
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
