//! Stored settings (`migrations/*/0020_kpi.sql`; what they mean is
//! `crate::settings`').

use sqlx::AnyExecutor;

use super::Tx;

/// Every stored group: (name, JSON value).
pub async fn all(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("SELECT name, value FROM settings ORDER BY name")
        .fetch_all(ex)
        .await
}

/// A stamp that moves whenever any group is saved (the sum of every
/// group's last change, so two groups saved in the same millisecond by two
/// instances still move it), or `None` when none is stored.
pub async fn stamp(ex: impl AnyExecutor<'_>) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT CAST(SUM(updated_at) AS BIGINT) FROM settings")
        .fetch_one(ex)
        .await
}

/// Stores `value` as group `name`. `at` only moves forward, so instances
/// comparing stamps never miss a change made in the same millisecond.
pub async fn put(tx: &mut Tx, name: &str, value: &str, by: &str, at: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (name, value, updated_by, updated_at) VALUES ($1, $2, $3, \
           (SELECT COALESCE(MAX(updated_at) + 1, $4) FROM settings WHERE updated_at >= $4)) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, \
           updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(by)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
