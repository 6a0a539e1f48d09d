//! One-time codes that prove a phone (see `crate::accounts::phone_codes`).

use sqlx::FromRow;

use super::Tx;

#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    pub id: String,
    pub phone: String,
    pub code_hash: String,
    pub expires_at: i64,
    pub attempts: i64,
    pub used_at: Option<i64>,
}

/// Records code `id` for `phone`.
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    phone: &str,
    code_hash: &str,
    requested_from: Option<&str>,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO phone_codes (id, phone, code_hash, requested_from, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(phone)
    .bind(code_hash)
    .bind(requested_from)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Codes asked for `phone` since `since`, and the oldest of them.
pub async fn recent_for_phone(
    tx: &mut Tx,
    phone: &str,
    since: i64,
) -> sqlx::Result<(i64, Option<i64>)> {
    sqlx::query_as(
        "SELECT COUNT(*), MIN(created_at) FROM phone_codes WHERE phone = $1 AND created_at >= $2",
    )
    .bind(phone)
    .bind(since)
    .fetch_one(&mut **tx)
    .await
}

/// Codes asked from client address `from` since `since`, and the oldest.
pub async fn recent_from(tx: &mut Tx, from: &str, since: i64) -> sqlx::Result<(i64, Option<i64>)> {
    sqlx::query_as(
        "SELECT COUNT(*), MIN(created_at) FROM phone_codes WHERE requested_from = $1 AND created_at >= $2",
    )
    .bind(from)
    .bind(since)
    .fetch_one(&mut **tx)
    .await
}

/// The code `id`, locked for this transaction's check.
pub async fn get(tx: &mut Tx, id: &str) -> sqlx::Result<Option<CodeRow>> {
    sqlx::query_as(
        "SELECT id, phone, code_hash, expires_at, attempts, used_at FROM phone_codes WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Counts a wrong guess at code `id`.
pub async fn count_attempt(tx: &mut Tx, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE phone_codes SET attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Spends code `id`; false if it was spent already.
pub async fn spend(tx: &mut Tx, id: &str, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE phone_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes codes that expired before `before`; returns how many.
pub async fn expire(tx: &mut Tx, before: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM phone_codes WHERE expires_at < $1")
        .bind(before)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
