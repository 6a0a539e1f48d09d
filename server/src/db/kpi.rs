//! The KPI rollup and its sources (`migrations/*/0020_kpi.sql`; what the
//! numbers mean is `crate::kpi`'s). Every source query reads one range of
//! server time `[from, until)` through an index on the instant it counts.

use sqlx::{AnyExecutor, FromRow};

use super::{Tx, now_ms};

/// One rollup cell: `value` of `metric` for a subject on a day.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Cell {
    pub subject: String,
    pub subject_id: String,
    pub day: i64,
    pub metric: String,
    pub value: i64,
}

/// The last day the rollup holds, if it was ever started.
pub async fn through_day(ex: impl AnyExecutor<'_>) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT through_day FROM kpi_rollup WHERE id = 1")
        .fetch_optional(ex)
        .await
}

/// Starts the rollup just before `day` (no-op when another instance did).
pub async fn start(tx: &mut Tx, day: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO kpi_rollup (id, through_day, updated_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(day - 1)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves the rollup on to `day` if it stands on the day before; false when
/// another instance got there first (the caller rolls back).
pub async fn advance(tx: &mut Tx, day: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE kpi_rollup SET through_day = $1, updated_at = $2 WHERE through_day = $3",
    )
    .bind(day)
    .bind(now_ms())
    .bind(day - 1)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Facts older than this are marked late when they change.
const LATE_AFTER_MS: i64 = 10 * 60_000;

/// Records that a fact of instant `at` changed, when `at` is old enough
/// for its day to be rolled up already (see [`late`]).
pub async fn mark_late(tx: &mut Tx, at: i64) -> sqlx::Result<()> {
    if at >= now_ms() - LATE_AFTER_MS {
        return Ok(());
    }
    sqlx::query("INSERT INTO kpi_late (id, at) VALUES ($1, $2)")
        .bind(super::new_id())
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The same for instants read from the database by `select_at` (a query
/// of one column, binding `$1`), e.g. a resolution about to be undone.
pub async fn mark_late_from(tx: &mut Tx, select_at: &str, bind: &str) -> sqlx::Result<()> {
    let at: Option<Option<i64>> = sqlx::query_scalar(sqlx::AssertSqlSafe(select_at.to_owned()))
        .bind(bind)
        .fetch_optional(&mut **tx)
        .await?;
    match at.flatten() {
        Some(at) => mark_late(tx, at).await,
        None => Ok(()),
    }
}

/// The late marks: (id, instant).
pub async fn late(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT id, at FROM kpi_late ORDER BY at LIMIT 1000")
        .fetch_all(ex)
        .await
}

/// Takes the late marks `ids` for this transaction; how many it got
/// (another instance may have taken them first).
pub async fn take_late(tx: &mut Tx, ids: &[String]) -> sqlx::Result<u64> {
    let mut taken = 0;
    for id in ids {
        taken += sqlx::query("DELETE FROM kpi_late WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    Ok(taken)
}

/// Forgets the rollup: the next pass counts every day again.
pub async fn restart(tx: &mut Tx) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM kpi_daily")
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM kpi_rollup")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The demo's history (`seed::demo_history`): visit `visit_id`, just made
/// and done, was done at `done_at`, claimed the day before, and asked to
/// rate then.
pub async fn backdate_done_visit(tx: &mut Tx, visit_id: &str, done_at: i64) -> sqlx::Result<()> {
    for sql in [
        "UPDATE visits SET completed_at = $2, created_at = $2 - 86400000, updated_at = $2 WHERE id = $1",
        "UPDATE assignments SET state = 'completed', claimed_at = $2 - 86400000 WHERE visit_id = $1",
        "UPDATE rating_requests SET created_at = $2 WHERE visit_id = $1",
    ] {
        sqlx::query(sql)
            .bind(visit_id)
            .bind(done_at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The demo's history: the rating of `visit_id` was given at `rated_at`.
pub async fn backdate_rating(tx: &mut Tx, visit_id: &str, rated_at: i64) -> sqlx::Result<()> {
    for sql in [
        "UPDATE ratings SET created_at = $2 WHERE visit_id = $1",
        "UPDATE rating_requests SET used_at = $2 WHERE visit_id = $1",
    ] {
        sqlx::query(sql)
            .bind(visit_id)
            .bind(rated_at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Replaces the cells of `day`.
pub async fn write_day(tx: &mut Tx, day: i64, cells: &[Cell]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM kpi_daily WHERE day = $1")
        .bind(day)
        .execute(&mut **tx)
        .await?;
    for c in cells {
        sqlx::query(
            "INSERT INTO kpi_daily (subject, subject_id, day, metric, value) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.subject)
        .bind(&c.subject_id)
        .bind(c.day)
        .bind(&c.metric)
        .bind(c.value)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Sums per subject over days `[from_day, to_day]` for one kind of subject.
pub async fn sums(
    ex: impl AnyExecutor<'_>,
    subject: &str,
    from_day: i64,
    to_day: i64,
) -> sqlx::Result<Vec<Cell>> {
    sqlx::query_as(
        "SELECT subject, subject_id, 0 AS day, metric, CAST(SUM(value) AS BIGINT) AS value \
         FROM kpi_daily WHERE subject = $1 AND day >= $2 AND day <= $3 \
         GROUP BY subject, subject_id, metric",
    )
    .bind(subject)
    .bind(from_day)
    .bind(to_day)
    .fetch_all(ex)
    .await
}

/// One subject's cells day by day over `[from_day, to_day]`.
pub async fn days_of(
    ex: impl AnyExecutor<'_>,
    subject: &str,
    subject_id: &str,
    from_day: i64,
    to_day: i64,
) -> sqlx::Result<Vec<Cell>> {
    sqlx::query_as(
        "SELECT subject, subject_id, day, metric, value FROM kpi_daily \
         WHERE subject = $1 AND subject_id = $2 AND day >= $3 AND day <= $4",
    )
    .bind(subject)
    .bind(subject_id)
    .bind(from_day)
    .bind(to_day)
    .fetch_all(ex)
    .await
}

/// The earliest instant any source holds, to start the rollup from.
pub async fn earliest(ex: impl AnyExecutor<'_>) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT MIN(m) FROM (SELECT MIN(created_at) AS m FROM tickets \
         UNION ALL SELECT MIN(created_at) FROM visits \
         UNION ALL SELECT MIN(created_at) FROM rating_requests) AS firsts",
    )
    .fetch_one(ex)
    .await
}

/// A rating request made in the range, with whom it counts for (a
/// ticket's has no technicians).
#[derive(Debug, Clone, FromRow)]
pub struct RequestSource {
    pub at: i64,
    pub request_id: String,
    pub cs_agent_id: Option<String>,
    pub department_id: Option<String>,
}

pub async fn requests(
    ex: impl AnyExecutor<'_>,
    from: i64,
    until: i64,
) -> sqlx::Result<Vec<RequestSource>> {
    sqlx::query_as(
        "SELECT q.created_at AS at, q.id AS request_id, q.cs_agent_id, \
                COALESCE(v.department_id, k.department_id) AS department_id \
         FROM rating_requests q LEFT JOIN visits v ON v.id = q.visit_id \
         LEFT JOIN tickets k ON k.id = q.ticket_id \
         WHERE q.created_at >= $1 AND q.created_at < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_all(ex)
    .await
}

/// A rating given in the range, with whom its request counts for.
#[derive(Debug, Clone, FromRow)]
pub struct RatingSource {
    pub at: i64,
    pub request_id: String,
    pub score: i64,
    pub cs_agent_id: Option<String>,
    pub department_id: Option<String>,
}

pub async fn ratings(
    ex: impl AnyExecutor<'_>,
    from: i64,
    until: i64,
) -> sqlx::Result<Vec<RatingSource>> {
    sqlx::query_as(
        "SELECT r.created_at AS at, r.request_id, r.score, q.cs_agent_id, \
                COALESCE(v.department_id, k.department_id) AS department_id \
         FROM ratings r JOIN rating_requests q ON q.id = r.request_id \
         LEFT JOIN visits v ON v.id = r.visit_id LEFT JOIN tickets k ON k.id = r.ticket_id \
         WHERE r.created_at >= $1 AND r.created_at < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_all(ex)
    .await
}

/// (request, technician) for every request made, or rated, in the range.
pub async fn request_technicians(
    ex: impl AnyExecutor<'_>,
    from: i64,
    until: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        // A union of two indexed joins: an `IN (… UNION …)` made Postgres
        // hash the whole table.
        "SELECT t.request_id, t.technician_id FROM rating_request_technicians t \
           JOIN rating_requests q ON q.id = t.request_id \
         WHERE q.created_at >= $1 AND q.created_at < $2 \
         UNION SELECT t.request_id, t.technician_id FROM rating_request_technicians t \
           JOIN ratings r ON r.request_id = t.request_id \
         WHERE r.created_at >= $1 AND r.created_at < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_all(ex)
    .await
}

/// A ticket with the instants the help-desk KPIs count.
#[derive(Debug, Clone, FromRow)]
pub struct TicketSource {
    pub id: String,
    pub department_id: String,
    pub assignee_id: Option<String>,
    pub created_at: i64,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub reopened_at: Option<i64>,
    /// 1 when the first response came after its deadline.
    pub response_breached: i64,
    /// 1 when the resolution came after its deadline.
    pub resolution_breached: i64,
}

/// Tickets created, first answered, resolved or reopened in the range.
pub async fn tickets(
    ex: impl AnyExecutor<'_>,
    from: i64,
    until: i64,
) -> sqlx::Result<Vec<TicketSource>> {
    // Four index range scans; UNION drops a ticket met twice (its rows
    // are the same).
    let select = "SELECT id, department_id, assignee_id, created_at, first_response_at, resolved_at, \
                reopened_at, \
                CASE WHEN response_breached_at IS NULL THEN 0 ELSE 1 END AS response_breached, \
                CASE WHEN resolution_breached_at IS NULL THEN 0 ELSE 1 END AS resolution_breached \
         FROM tickets WHERE";
    let sql = [
        "created_at",
        "first_response_at",
        "resolved_at",
        "reopened_at",
    ]
    .map(|at| format!("{select} {at} >= $1 AND {at} < $2"))
    .join(" UNION ");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(until)
        .fetch_all(ex)
        .await
}

/// A visit's completion, per technician who completed it.
#[derive(Debug, Clone, FromRow)]
pub struct DoneSource {
    pub visit_id: String,
    pub department_id: Option<String>,
    pub technician_id: String,
    pub completed_at: i64,
    /// The visit's last planned day (days since 1970-01-01).
    pub last_planned_day: i64,
}

pub async fn visits_done(
    ex: impl AnyExecutor<'_>,
    from: i64,
    until: i64,
) -> sqlx::Result<Vec<DoneSource>> {
    sqlx::query_as(
        "SELECT v.id AS visit_id, v.department_id, a.technician_id, v.completed_at, \
                v.start_day + v.planned_days - 1 AS last_planned_day \
         FROM visits v JOIN assignments a ON a.visit_id = v.id AND a.state = 'completed' \
         WHERE v.completed_at >= $1 AND v.completed_at < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_all(ex)
    .await
}

/// An extension request asked, or approved, in the range.
#[derive(Debug, Clone, FromRow)]
pub struct ExtensionSource {
    pub technician_id: String,
    pub created_at: i64,
    /// When it was approved, if it was.
    pub approved_at: Option<i64>,
}

pub async fn extensions(
    ex: impl AnyExecutor<'_>,
    from: i64,
    until: i64,
) -> sqlx::Result<Vec<ExtensionSource>> {
    sqlx::query_as(
        "SELECT technician_id, created_at, \
                CASE WHEN status = 'approved' THEN decided_at END AS approved_at \
         FROM extension_requests \
         WHERE (created_at >= $1 AND created_at < $2) OR (decided_at >= $1 AND decided_at < $2)",
    )
    .bind(from)
    .bind(until)
    .fetch_all(ex)
    .await
}

/// The departments each staff member belongs to: (user, department).
pub async fn memberships(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("SELECT user_id, department_id FROM department_members")
        .fetch_all(ex)
        .await
}

/// The departments `user_id` leads.
pub async fn led_by(ex: impl AnyExecutor<'_>, user_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT id FROM departments WHERE lead_user_id = $1")
        .bind(user_id)
        .fetch_all(ex)
        .await
}

/// Names of users and departments, by id: what a KPI row is labelled.
pub async fn names(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT id, name FROM users WHERE role <> 'customer' UNION ALL SELECT id, name FROM departments",
    )
    .fetch_all(ex)
    .await
}

/// The real-time counts of the dashboard.
#[derive(Debug, Clone, Default, FromRow)]
pub struct LiveCounts {
    /// Tickets open or in progress.
    pub active_tickets: i64,
    /// Open tickets nobody has.
    pub queue: i64,
    pub agents_available: i64,
    pub agents_busy: i64,
    pub agents_away: i64,
    /// Technicians checked in and not yet out.
    pub on_site: i64,
    /// Visits open for claims.
    pub pool: i64,
}

pub async fn live(ex: impl AnyExecutor<'_>) -> sqlx::Result<LiveCounts> {
    sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM tickets WHERE status IN ('open', 'in_progress')) AS active_tickets, \
           (SELECT COUNT(*) FROM tickets WHERE status = 'open' AND assignee_id IS NULL) AS queue, \
           (SELECT COUNT(*) FROM users WHERE role IN ('admin', 'cs') AND status = 'active' \
              AND presence = 'available') AS agents_available, \
           (SELECT COUNT(*) FROM users WHERE role IN ('admin', 'cs') AND status = 'active' \
              AND presence = 'busy') AS agents_busy, \
           (SELECT COUNT(*) FROM users WHERE role IN ('admin', 'cs') AND status = 'active' \
              AND presence = 'away') AS agents_away, \
           (SELECT COUNT(DISTINCT technician_id) FROM assignments WHERE on_site = 1) AS on_site, \
           (SELECT COUNT(*) FROM visits WHERE status = 'open') AS pool",
    )
    .fetch_one(ex)
    .await
}

/// A call as the KPIs count it.
#[derive(Debug, Clone, FromRow)]
pub struct CallSource {
    pub agent_id: String,
    pub department_id: Option<String>,
    /// 1 when the agent placed it.
    pub outbound: i64,
    pub created_at: i64,
    pub answered_at: Option<i64>,
}

/// Calls with an agent placed or answered in the range.
pub async fn calls(
    ex: impl AnyExecutor<'_>,
    from: i64,
    until: i64,
) -> sqlx::Result<Vec<CallSource>> {
    sqlx::query_as(
        "SELECT agent_id, department_id, CASE WHEN direction = 'outbound' THEN 1 ELSE 0 END AS outbound, created_at, answered_at \
         FROM calls WHERE agent_id IS NOT NULL AND ((created_at >= $1 AND created_at < $2) \
         OR (answered_at >= $1 AND answered_at < $2))",
    )
    .bind(from)
    .bind(until)
    .fetch_all(ex)
    .await
}
