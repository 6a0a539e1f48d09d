//! What needs an admin (`migrations/*/0020_kpi.sql`; the rules are
//! `crate::alerts`').

use sqlx::{AnyExecutor, FromRow};

use super::{Tx, new_id, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct AlertRow {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub detail: String,
    pub created_at: i64,
    pub dismissed_at: Option<i64>,
    pub dismissed_by: Option<String>,
}

const COLUMNS: &str = "id, kind, subject, detail, created_at, dismissed_at, dismissed_by";

/// A new open alert, unless one of the same kind and subject is open.
pub async fn raise(
    tx: &mut Tx,
    kind: &str,
    subject: &str,
    detail: &str,
) -> sqlx::Result<Option<AlertRow>> {
    // One open alert per kind and subject (a partial unique index): a
    // second, however concurrent, inserts nothing.
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO admin_alerts (id, kind, subject, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    )))
    .bind(new_id())
    .bind(kind)
    .bind(subject)
    .bind(detail)
    .bind(now_ms())
    .fetch_optional(&mut **tx)
    .await
}

/// Open alerts, newest first.
pub async fn open(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<AlertRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM admin_alerts WHERE dismissed_at IS NULL \
         ORDER BY created_at DESC, id LIMIT 200"
    )))
    .fetch_all(ex)
    .await
}

/// Dismisses an open alert; `None` when there is no such open alert.
pub async fn dismiss(tx: &mut Tx, id: &str, by: &str) -> sqlx::Result<Option<AlertRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE admin_alerts SET dismissed_at = $2, dismissed_by = $3 \
         WHERE id = $1 AND dismissed_at IS NULL RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(now_ms())
    .bind(by)
    .fetch_optional(&mut **tx)
    .await
}
