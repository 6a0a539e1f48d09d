//! Stored responses for `Idempotency-Key`, and the short leases that keep
//! two copies of one request from running at once (see
//! `crate::http::idempotency` for the protocol).

use super::{Tx, now_ms};

/// A key's row: who holds it (while no response is stored) and, once the
/// request has run, its response.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: Option<i64>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
    pub lease_until: Option<i64>,
}

/// What trying to take a key's lease found.
#[derive(Debug)]
pub enum Lease {
    /// Ours until the lease ends: run the request.
    Taken,
    /// Another request holds it, or it already has a response.
    Held(StoredResponse),
}

/// Takes the lease on `(scope, key)` under `token` until `until` (unix ms):
/// a new key, or one whose holder's lease ended without a response (it
/// crashed, or its client went away before it committed).
pub async fn lease(
    tx: &mut Tx,
    scope: &str,
    key: &str,
    request_hash: &str,
    token: &str,
    until: i64,
) -> sqlx::Result<Lease> {
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at, lease_token, lease_until) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, idem_key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(now)
    .bind(token)
    .bind(until)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    let taken = inserted
        || sqlx::query(
            "UPDATE idempotency_keys SET request_hash = $3, lease_token = $4, lease_until = $5 \
             WHERE scope = $1 AND idem_key = $2 AND status IS NULL \
               AND (lease_until IS NULL OR lease_until <= $6)",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(token)
        .bind(until)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1;
    let outcome = if taken {
        Lease::Taken
    } else {
        let held = sqlx::query_as(
            "SELECT request_hash, status, content_type, body, lease_until FROM idempotency_keys \
             WHERE scope = $1 AND idem_key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
        Lease::Held(held)
    };
    Ok(outcome)
}

/// Stores the response of the request holding `(scope, key)` under `token`,
/// inside the transaction of its write; false if the lease was lost (then
/// the write must roll back: another copy of the request runs, or ran).
pub async fn store(
    tx: &mut Tx,
    scope: &str,
    key: &str,
    token: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE idempotency_keys SET status = $4, content_type = $5, body = $6, \
           lease_token = NULL, lease_until = NULL \
         WHERE scope = $1 AND idem_key = $2 AND lease_token = $3 AND status IS NULL",
    )
    .bind(scope)
    .bind(key)
    .bind(token)
    .bind(i64::from(status))
    .bind(content_type)
    .bind(body.to_vec())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Frees a key whose request failed on the server's side, so that a retry
/// runs at once.
pub async fn release(tx: &mut Tx, scope: &str, key: &str, token: &str) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM idempotency_keys \
         WHERE scope = $1 AND idem_key = $2 AND lease_token = $3 AND status IS NULL",
    )
    .bind(scope)
    .bind(key)
    .bind(token)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes keys older than `max_age_ms`; returns how many.
pub async fn expire(tx: &mut Tx, max_age_ms: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now_ms() - max_age_ms)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
