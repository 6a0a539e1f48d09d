//! Assignments: who holds a seat on which visit. At most one held
//! (non-released) assignment per visit and technician, by a partial unique index.

use sqlx::{AnyExecutor, FromRow};

use super::{Tx, new_id, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct AssignmentRow {
    pub id: String,
    pub visit_id: String,
    pub technician_id: String,
    pub technician_name: String,
    /// `active`, `released` or `completed`.
    pub state: String,
    pub claimed_at: i64,
    pub on_site: i64,
    pub first_check_in_at: Option<i64>,
    pub last_check_out_at: Option<i64>,
    pub released_at: Option<i64>,
    pub release_kind: Option<String>,
    pub release_reason: Option<String>,
    pub released_by: Option<String>,
    /// 0 when the technician's account was deactivated.
    pub technician_active: i64,
}

impl AssignmentRow {
    /// A seat CS must decide about: its technician is on site but their
    /// account was deactivated (the seat was not released with the others).
    pub fn needs_decision(&self) -> bool {
        self.state == "active" && self.on_site == 1 && self.technician_active == 0
    }
}

const SELECT: &str = "SELECT a.id, a.visit_id, a.technician_id, u.name AS technician_name, \
    a.state, a.claimed_at, a.on_site, a.first_check_in_at, a.last_check_out_at, a.released_at, \
    a.release_kind, a.release_reason, a.released_by, \
    CAST(CASE WHEN u.status = 'active' THEN 1 ELSE 0 END AS BIGINT) AS technician_active \
    FROM assignments a JOIN users u ON u.id = a.technician_id";

pub async fn insert(tx: &mut Tx, visit_id: &str, technician_id: &str) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO assignments (id, visit_id, technician_id, state, claimed_at) \
         VALUES ($1, $2, $3, 'active', $4)",
    )
    .bind(&id)
    .bind(visit_id)
    .bind(technician_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<AssignmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE a.id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The technician's active assignment on the visit, if any.
pub async fn active(
    ex: impl AnyExecutor<'_>,
    visit_id: &str,
    technician_id: &str,
) -> sqlx::Result<Option<AssignmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE a.visit_id = $1 AND a.technician_id = $2 AND a.state = 'active'"
    )))
    .bind(visit_id)
    .bind(technician_id)
    .fetch_optional(ex)
    .await
}

/// Whether the technician holds the visit now: an assignment not released
/// (active, or completed with the visit). One who withdrew or was returned
/// to the pool does not, as in the sync scope (`sync::project::visit`).
pub async fn holds(
    ex: impl AnyExecutor<'_>,
    visit_id: &str,
    technician_id: &str,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM assignments \
         WHERE visit_id = $1 AND technician_id = $2 AND state <> 'released'",
    )
    .bind(visit_id)
    .bind(technician_id)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

/// Every assignment of the given visits, oldest first.
pub async fn for_visits(
    ex: impl AnyExecutor<'_>,
    visit_ids: &[&str],
) -> sqlx::Result<Vec<AssignmentRow>> {
    if visit_ids.is_empty() {
        return Ok(vec![]);
    }
    let placeholders = (1..=visit_ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("{SELECT} WHERE a.visit_id IN ({placeholders}) ORDER BY a.claimed_at, a.id");
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in visit_ids {
        q = q.bind(*id);
    }
    q.fetch_all(ex).await
}

/// Another held visit of the technician whose days overlap `[start, end]`
/// (days since 1970-01-01): its id and title.
pub async fn overlapping(
    ex: impl AnyExecutor<'_>,
    technician_id: &str,
    visit_id: &str,
    start_day: i64,
    end_day: i64,
) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT v.id, v.title FROM assignments a JOIN visits v ON v.id = a.visit_id \
         WHERE a.technician_id = $1 AND a.state = 'active' AND v.id <> $2 \
           AND v.status NOT IN ({}) \
           AND v.start_day <= $4 AND v.start_day + v.planned_days - 1 >= $3 \
         LIMIT 1",
        super::visits::sql_list(&super::visits::VisitStatus::CLOSED)
    )))
    .bind(technician_id)
    .bind(visit_id)
    .bind(start_day)
    .bind(end_day)
    .fetch_optional(ex)
    .await
}

/// Ends an active assignment: `withdrawn`, `returned` or `cancelled`.
pub async fn release(
    tx: &mut Tx,
    id: &str,
    kind: &str,
    reason: Option<&str>,
    by: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE assignments SET state = 'released', on_site = 0, released_at = $2, \
             release_kind = $3, release_reason = $4, released_by = $5 \
         WHERE id = $1 AND state = 'active'",
    )
    .bind(id)
    .bind(now_ms())
    .bind(kind)
    .bind(reason)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases every active assignment of a visit (forced cancellation); their ids.
pub async fn release_all(tx: &mut Tx, visit_id: &str, by: &str) -> sqlx::Result<Vec<String>> {
    let ids: Vec<(String,)> = sqlx::query_as(
        "UPDATE assignments SET state = 'released', on_site = 0, released_at = $2, \
             release_kind = 'cancelled', released_by = $3 \
         WHERE visit_id = $1 AND state = 'active' RETURNING technician_id",
    )
    .bind(visit_id)
    .bind(now_ms())
    .bind(by)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// Records arriving (`on_site = 1`) or leaving at `at`.
pub async fn set_on_site(tx: &mut Tx, id: &str, on_site: bool, at: i64) -> sqlx::Result<()> {
    let sql = if on_site {
        "UPDATE assignments SET on_site = 1, \
             first_check_in_at = COALESCE(first_check_in_at, $2) WHERE id = $1"
    } else {
        "UPDATE assignments SET on_site = 0, last_check_out_at = $2 WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Moves every assignment of a visit in state `from` to `to`.
pub async fn set_all(tx: &mut Tx, visit_id: &str, from: &str, to: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE assignments SET state = $3 WHERE visit_id = $1 AND state = $2")
        .bind(visit_id)
        .bind(from)
        .bind(to)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// (technicians on site now, check-outs ever) of a visit's held assignments.
pub async fn site_counts(tx: &mut Tx, visit_id: &str) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(on_site), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN last_check_out_at IS NULL THEN 0 ELSE 1 END), 0) \
                     AS BIGINT) \
         FROM assignments WHERE visit_id = $1 AND state <> 'released'",
    )
    .bind(visit_id)
    .fetch_one(&mut **tx)
    .await
}

/// Whether CS returned `technician_id` from `visit_id` (an assignment
/// released as `returned`).
pub async fn returned_from(
    ex: impl AnyExecutor<'_>,
    visit_id: &str,
    technician_id: &str,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM assignments WHERE visit_id = $1 AND technician_id = $2 \
           AND state = 'released' AND release_kind = 'returned' LIMIT 1",
    )
    .bind(visit_id)
    .bind(technician_id)
    .fetch_optional(ex)
    .await?;
    Ok(found.is_some())
}

/// Every active assignment of `technician_id`, oldest first.
pub async fn active_of(
    ex: impl AnyExecutor<'_>,
    technician_id: &str,
) -> sqlx::Result<Vec<AssignmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE a.technician_id = $1 AND a.state = 'active' ORDER BY a.claimed_at, a.id"
    )))
    .bind(technician_id)
    .fetch_all(ex)
    .await
}
