//! Extension requests ("tambah hari"): a technician asks for extra days, CS
//! approves or rejects. One pending request per visit and technician.

use sqlx::{AnyExecutor, FromRow};

use super::{Tx, new_id, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct ExtensionRow {
    pub id: String,
    pub visit_id: String,
    pub visit_title: String,
    pub assignment_id: String,
    pub technician_id: String,
    pub technician_name: String,
    pub extra_days: i64,
    pub reason: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_note: Option<String>,
    pub created_at: i64,
}

const SELECT: &str = "SELECT e.id, e.visit_id, v.title AS visit_title, e.assignment_id, \
    e.technician_id, u.name AS technician_name, e.extra_days, e.reason, e.status, e.decided_by, \
    e.decided_at, e.decision_note, e.created_at \
    FROM extension_requests e JOIN visits v ON v.id = e.visit_id \
    JOIN users u ON u.id = e.technician_id";

pub async fn insert(
    tx: &mut Tx,
    visit_id: &str,
    assignment_id: &str,
    technician_id: &str,
    extra_days: i64,
    reason: &str,
) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO extension_requests (id, visit_id, assignment_id, technician_id, extra_days, \
             reason, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
    )
    .bind(&id)
    .bind(visit_id)
    .bind(assignment_id)
    .bind(technician_id)
    .bind(extra_days)
    .bind(reason)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<ExtensionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE e.id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The pending request of a technician on a visit.
pub async fn pending_of(
    tx: &mut Tx,
    visit_id: &str,
    technician_id: &str,
) -> sqlx::Result<Option<ExtensionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE e.visit_id = $1 AND e.technician_id = $2 AND e.status = 'pending'"
    )))
    .bind(visit_id)
    .bind(technician_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Newest first, keyset-paged by id; `limit + 1` rows.
pub async fn list(
    ex: impl AnyExecutor<'_>,
    status: Option<&str>,
    visit_id: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<ExtensionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($1 IS NULL OR e.status = $1) AND ($2 IS NULL OR e.visit_id = $2) \
           AND ($3 IS NULL OR e.id < $3) ORDER BY e.id DESC LIMIT $4"
    )))
    .bind(status)
    .bind(visit_id)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(ex)
    .await
}

/// Decides a pending request; `false` when it was no longer pending.
pub async fn decide(
    tx: &mut Tx,
    id: &str,
    status: &str,
    by: &str,
    note: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE extension_requests SET status = $2, decided_by = $3, decided_at = $4, \
             decision_note = $5 WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(status)
    .bind(by)
    .bind(now_ms())
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
