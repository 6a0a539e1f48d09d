//! Stored responses for `Idempotency-Key`.

use super::{Db, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: Option<i64>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// Claims `(scope, key)` for a new request; false if it is already taken.
pub async fn claim(db: &Db, scope: &str, key: &str, request_hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope, idem_key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(db: &Db, scope: &str, key: &str) -> sqlx::Result<Option<StoredResponse>> {
    sqlx::query_as(
        "SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE scope = $1 AND idem_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(db.pool())
    .await
}

pub async fn complete(
    db: &Db,
    scope: &str,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> sqlx::Result<()> {
    sqlx::query("UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE scope = $1 AND idem_key = $2")
        .bind(scope)
        .bind(key)
        .bind(i64::from(status))
        .bind(content_type)
        .bind(body.to_vec())
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Forgets a key whose request failed, so that it can be retried.
pub async fn release(db: &Db, scope: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2")
        .bind(scope)
        .bind(key)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes keys older than `max_age_ms`; returns how many.
pub async fn expire(db: &Db, max_age_ms: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now_ms() - max_age_ms)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
