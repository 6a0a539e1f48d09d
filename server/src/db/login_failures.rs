//! Sign-in attempts that did not succeed, per throttle key in a fixed window (see
//! `crate::auth::throttle`).

use super::{Db, now_ms};

/// Counts one sign-in attempt of `key` — in the window still open at `now`
/// (ms), or in a new one — and returns the window's count and start. Counted
/// before the password is checked, so parallel guesses cannot all slip in
/// under the limit; a success takes its attempt back.
pub async fn attempt(db: &Db, key: &str, window_ms: i64, now: i64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "INSERT INTO login_failures (throttle_key, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
           failures = CASE WHEN login_failures.window_start > $3 \
                           THEN login_failures.failures + 1 ELSE 1 END, \
           window_start = CASE WHEN login_failures.window_start > $3 \
                               THEN login_failures.window_start ELSE $2 END \
         RETURNING failures, window_start",
    )
    .bind(key)
    .bind(now)
    .bind(now - window_ms)
    .fetch_one(db.pool())
    .await
}

/// Takes back one attempt of `key` (it succeeded).
pub async fn forgive_one(db: &Db, key: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE login_failures SET failures = failures - 1 WHERE throttle_key = $1 AND failures > 0",
    )
    .bind(key)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets the failures of `key` (a successful sign-in).
pub async fn clear(db: &Db, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
        .bind(key)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes windows that closed more than `window_ms` ago; returns how many.
pub async fn expire(db: &Db, window_ms: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM login_failures WHERE window_start < $1")
        .bind(now_ms() - window_ms)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
