//! Sign-in attempts per throttle key, and when the key may try next (see
//! `crate::auth::throttle`).

use super::{Db, now_ms};

/// A key's attempts as they count now.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Failures not yet forgotten.
    pub failures: i64,
    /// The earliest next attempt (unix ms).
    pub next_at: i64,
    /// The row as read, for the conditional update that counts the next one.
    row: (i64, i64),
}

#[derive(sqlx::FromRow)]
struct Row {
    failures: i64,
    last_at: i64,
    next_at: i64,
}

/// The attempts of `key`; those of a key quiet since before `forget_before`
/// (ms) count as none.
pub async fn get(db: &Db, key: &str, forget_before: i64) -> sqlx::Result<Option<Seen>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT failures, last_at, next_at FROM login_failures WHERE throttle_key = $1",
    )
    .bind(key)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|r| {
        let forgotten = r.last_at < forget_before;
        Seen {
            failures: if forgotten { 0 } else { r.failures },
            next_at: if forgotten { 0 } else { r.next_at },
            row: (r.failures, r.last_at),
        }
    }))
}

/// Counts one attempt of `key` at `now` (ms) — as one more than `seen` —
/// and makes it wait until `next_at`. False when another attempt was
/// counted since `seen` was read (nothing is written then), so parallel
/// guesses cannot all slip in under one count.
pub async fn count(
    db: &Db,
    key: &str,
    seen: Option<&Seen>,
    now: i64,
    next_at: i64,
) -> sqlx::Result<bool> {
    let done = match seen {
        None => {
            sqlx::query(
                "INSERT INTO login_failures (throttle_key, failures, last_at, next_at) \
                 VALUES ($1, 1, $2, $3) ON CONFLICT (throttle_key) DO NOTHING",
            )
            .bind(key)
            .bind(now)
            .bind(next_at)
            .execute(db.pool())
            .await?
        }
        Some(seen) => {
            sqlx::query(
                "UPDATE login_failures SET failures = $2, last_at = $3, next_at = $4 \
                 WHERE throttle_key = $1 AND failures = $5 AND last_at = $6",
            )
            .bind(key)
            .bind(seen.failures + 1)
            .bind(now)
            .bind(next_at)
            .bind(seen.row.0)
            .bind(seen.row.1)
            .execute(db.pool())
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
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
