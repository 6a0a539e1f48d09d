//! Device sessions and their refresh tokens (stored as SHA-256 hashes only).

use sqlx::{AnyExecutor, FromRow};

use super::{Tx, new_id, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    pub session_id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn create(tx: &mut Tx, user_id: &str, device_name: &str) -> sqlx::Result<String> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO device_sessions (id, user_id, device_name, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(device_name)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn add_refresh_token(
    tx: &mut Tx,
    session_id: &str,
    token_hash: &str,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(session_id)
    .bind(now_ms())
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn find_refresh(tx: &mut Tx, token_hash: &str) -> sqlx::Result<Option<RefreshRow>> {
    sqlx::query_as(
        "SELECT t.session_id, s.user_id, t.expires_at, t.used_at, s.revoked_at \
         FROM refresh_tokens t JOIN device_sessions s ON s.id = t.session_id \
         WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&mut **tx)
    .await
}

/// Marks a refresh token used; false if another request used it first.
pub async fn use_refresh(tx: &mut Tx, token_hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind(token_hash)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn touch(tx: &mut Tx, session_id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE device_sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(session_id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Keeps a sync session's estimate of its device's clock skew (ms).
pub async fn set_clock_skew(
    ex: impl AnyExecutor<'_>,
    session_id: &str,
    skew_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE device_sessions SET clock_skew_ms = $2 WHERE id = $1")
        .bind(session_id)
        .bind(skew_ms)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn revoke(ex: impl AnyExecutor<'_>, session_id: &str, reason: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE device_sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL")
        .bind(session_id)
        .bind(now_ms())
        .bind(reason)
        .execute(ex)
        .await?;
    Ok(())
}

/// Revokes every session of a user but `keep` (deactivation, password change).
pub async fn revoke_all(
    tx: &mut Tx,
    user_id: &str,
    keep: Option<&str>,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE device_sessions SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4)",
    )
    .bind(user_id)
    .bind(now_ms())
    .bind(reason)
    .bind(keep)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
