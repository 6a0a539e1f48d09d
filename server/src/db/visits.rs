//! Visits and their assignments (claims). The quota is enforced here, by
//! [`take_seat`]: one conditional `UPDATE` that only succeeds while
//! `seats_taken < technician_quota`. Under Postgres READ COMMITTED a
//! concurrent claimer blocks on the row and re-checks the condition against
//! the committed row before updating, so no interleaving passes the quota;
//! SQLite serialises writers with `BEGIN IMMEDIATE`.

use sqlx::{AnyExecutor, FromRow};

use super::{Backend, Tx, new_id, now_ms};

pub use fieldops_sync::docs::visit::VisitStatus;

/// `'open', 'in_progress'`: statuses as an SQL list, from the one state
/// machine ([`VisitStatus`]); the codes are the enum's own constants.
pub fn sql_list(statuses: &[VisitStatus]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, FromRow)]
pub struct VisitRow {
    pub id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub ticket_id: Option<String>,
    pub department_id: Option<String>,
    pub title: String,
    pub description: String,
    pub site_address: String,
    pub site_lat: f64,
    pub site_lon: f64,
    pub scheduled_start: String,
    pub start_day: i64,
    pub planned_days: i64,
    pub technician_quota: i64,
    pub seats_taken: i64,
    #[sqlx(try_from = "String")]
    pub status: VisitStatus,
    pub emergency: i64,
    pub summary: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

impl VisitRow {
    /// The last planned day, as days since 1970-01-01.
    pub fn end_day(&self) -> i64 {
        self.start_day + self.planned_days - 1
    }

    pub fn is_closed(&self) -> bool {
        self.status.is_closed()
    }

    /// Open for claims: a status that takes claims and a seat left.
    pub fn in_pool(&self) -> bool {
        self.status.accepts_claims() && self.seats_taken < self.technician_quota
    }
}

const SELECT: &str = "SELECT v.id, v.customer_id, c.name AS customer_name, v.ticket_id, \
    v.department_id, v.title, v.description, v.site_address, v.site_lat, v.site_lon, \
    v.scheduled_start, v.start_day, v.planned_days, v.technician_quota, v.seats_taken, v.status, \
    v.emergency, v.summary, v.cancel_reason, v.created_by, v.created_at, v.updated_at, \
    v.completed_at, v.cancelled_at FROM visits v JOIN customers c ON c.id = v.customer_id";

/// The editable fields of a visit, validated.
#[derive(Debug, Clone, Default)]
pub struct VisitFields {
    pub customer_id: String,
    pub ticket_id: Option<String>,
    pub department_id: Option<String>,
    pub title: String,
    pub description: String,
    pub site_address: String,
    pub site_lat: f64,
    pub site_lon: f64,
    pub scheduled_start: String,
    pub start_day: i64,
    pub planned_days: i64,
    pub technician_quota: i64,
}

/// Filters of the visit list; all optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct VisitFilter {
    pub status: Option<VisitStatus>,
    pub customer_id: Option<String>,
    /// Visits this technician holds (or held to completion).
    pub technician_id: Option<String>,
    /// Only visits open for claims.
    pub pool_only: bool,
    /// Visits whose planned days overlap `[from_day, to_day]`.
    pub from_day: Option<i64>,
    pub to_day: Option<i64>,
    /// A technician's scope: the pool plus what they hold.
    pub pool_or_held_by: Option<String>,
    /// A lat/lon box (min_lat, max_lat, min_lon, max_lon) around a point.
    pub bbox: Option<(f64, f64, f64, f64)>,
}

pub async fn insert(tx: &mut Tx, f: &VisitFields, created_by: &str) -> sqlx::Result<String> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO visits (id, customer_id, ticket_id, department_id, title, description, \
             site_address, site_lat, site_lon, scheduled_start, start_day, planned_days, \
             technician_quota, seats_taken, status, emergency, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $16, 0, $14, $15, $15)",
    )
    .bind(&id)
    .bind(&f.customer_id)
    .bind(&f.ticket_id)
    .bind(&f.department_id)
    .bind(&f.title)
    .bind(&f.description)
    .bind(&f.site_address)
    .bind(f.site_lat)
    .bind(f.site_lon)
    .bind(&f.scheduled_start)
    .bind(f.start_day)
    .bind(f.planned_days)
    .bind(f.technician_quota)
    .bind(created_by)
    .bind(now)
    .bind(VisitStatus::Open.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<VisitRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE v.id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// What the claim gate reads of a visit: the visit, the technicians holding
/// a seat on it, and which of the claimers hold another visit on some of its
/// days.
#[derive(Debug)]
pub struct ClaimView {
    pub visit: VisitRow,
    pub holders: Vec<String>,
    /// (claimer, other visit's id, its title), at most one per claimer.
    pub overlaps: Vec<(String, String, String)>,
    /// The claimers CS returned from the visit (they may not claim it again).
    pub returned: Vec<String>,
}

/// Claimers checked per statement: well under every backend's limit on
/// bound parameters.
const CLAIMERS_PER_STATEMENT: usize = 1000;

/// Reads [`ClaimView`] of visit `id` for `claimers`, in one statement (so
/// that it all comes from one snapshot) unless there are more claimers than
/// one statement takes; the rest are checked in further statements.
pub async fn claim_view(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    claimers: &[String],
) -> sqlx::Result<Option<ClaimView>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        visit: VisitRow,
        claimer: Option<String>,
        other_id: Option<String>,
        other_title: Option<String>,
    }
    let mut chunks = claimers.chunks(CLAIMERS_PER_STATEMENT);
    let first = chunks.next().unwrap_or_default();
    let overlaps = if first.is_empty() {
        String::new()
    } else {
        format!("UNION ALL {}", overlaps_of(first.len()))
    };
    // A holder is a row without another visit.
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM ({SELECT} WHERE v.id = $1) v LEFT JOIN ( \
           SELECT technician_id AS claimer, CAST(NULL AS TEXT) AS other_id, \
                  CAST(NULL AS TEXT) AS other_title \
           FROM assignments WHERE visit_id = $1 AND state = 'active' \
           {overlaps}) x ON 1 = 1"
    )))
    .bind(id);
    for claimer in first {
        q = q.bind(claimer);
    }
    let rows: Vec<Row> = q.fetch_all(&mut *conn).await?;
    let Some(visit) = rows.first().map(|r| r.visit.clone()) else {
        return Ok(None);
    };
    let mut view = ClaimView {
        visit,
        holders: Vec::new(),
        overlaps: Vec::new(),
        returned: Vec::new(),
    };
    for row in rows {
        match (row.claimer, row.other_id, row.other_title) {
            (Some(holder), None, _) => view.holders.push(holder),
            (Some(claimer), Some(other), title) => {
                view.overlaps
                    .push((claimer, other, title.unwrap_or_default()));
            }
            (None, _, _) => {}
        }
    }
    for chunk in chunks {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(overlaps_of(chunk.len()))).bind(id);
        for claimer in chunk {
            q = q.bind(claimer);
        }
        view.overlaps.extend(
            q.fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|(c, o, t): (String, String, Option<String>)| (c, o, t.unwrap_or_default())),
        );
    }
    view.overlaps.sort_unstable();
    view.overlaps.dedup_by(|a, b| a.0 == b.0);
    // A return is for good, so a separate read of it is never wrong for
    // long (and the claim's own transaction checks it again).
    if !claimers.is_empty() {
        let returned: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT technician_id FROM assignments \
             WHERE visit_id = $1 AND state = 'released' AND release_kind = 'returned'",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        view.returned = returned
            .into_iter()
            .filter(|t| claimers.contains(t))
            .collect();
    }
    Ok(Some(view))
}

/// The held visits of the `n` technicians bound from `$2` on whose days
/// overlap visit `$1`'s (as in [`super::assignments::overlapping`]).
fn overlaps_of(n: usize) -> String {
    let params = (2..n + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT a.technician_id AS claimer, o.id AS other_id, o.title AS other_title \
         FROM visits t \
         JOIN assignments a ON a.technician_id IN ({params}) AND a.state = 'active' \
         JOIN visits o ON o.id = a.visit_id \
         WHERE t.id = $1 AND o.id <> t.id AND o.status NOT IN ({closed}) \
           AND o.start_day <= t.start_day + t.planned_days - 1 \
           AND o.start_day + o.planned_days - 1 >= t.start_day",
        closed = sql_list(&VisitStatus::CLOSED),
    )
}

/// A visit of `customer_id` titled `title` (the demo data's idempotency key).
pub async fn find_by_title(
    ex: impl AnyExecutor<'_>,
    customer_id: &str,
    title: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT id FROM visits WHERE customer_id = $1 AND title = $2")
        .bind(customer_id)
        .bind(title)
        .fetch_optional(ex)
        .await
}

/// Reads the visit and, on Postgres, locks its row until the transaction
/// ends, so that a read-check-write sequence sees no concurrent change.
pub async fn lock(tx: &mut Tx, backend: Backend, id: &str) -> sqlx::Result<Option<VisitRow>> {
    if backend == Backend::Postgres {
        let locked: Option<(String,)> =
            sqlx::query_as("SELECT id FROM visits WHERE id = $1 FOR NO KEY UPDATE")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        if locked.is_none() {
            return Ok(None);
        }
    }
    get(&mut **tx, id).await
}

/// Serialises one technician's claims (the schedule-conflict check reads
/// other visits). SQLite's `BEGIN IMMEDIATE` already does.
pub async fn lock_technician(tx: &mut Tx, backend: Backend, user_id: &str) -> sqlx::Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The list filters; `{claimable}` is [`VisitStatus::CLAIMABLE`].
static FILTER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "($1 IS NULL OR v.status = $1) \
    AND ($2 IS NULL OR v.customer_id = $2) \
    AND ($3 IS NULL OR EXISTS (SELECT 1 FROM assignments a WHERE a.visit_id = v.id \
         AND a.technician_id = $3 AND a.state <> 'released')) \
    AND ($4 = 0 OR (v.status IN ({claimable}) AND v.seats_taken < v.technician_quota)) \
    AND ($5 IS NULL OR v.start_day + v.planned_days - 1 >= $5) \
    AND ($6 IS NULL OR v.start_day <= $6) \
    AND ($7 IS NULL OR (v.status IN ({claimable}) AND v.seats_taken < v.technician_quota) \
         OR EXISTS (SELECT 1 FROM assignments a WHERE a.visit_id = v.id \
                    AND a.technician_id = $7 AND a.state <> 'released')) \
    AND ($8 = 0 OR (v.site_lat BETWEEN $9 AND $10 AND v.site_lon BETWEEN $11 AND $12))",
        claimable = sql_list(&VisitStatus::CLAIMABLE),
    )
});

fn bind_filter<'q>(
    q: sqlx::query::QueryAs<'q, sqlx::Any, VisitRow, sqlx::any::AnyArguments>,
    f: &'q VisitFilter,
) -> sqlx::query::QueryAs<'q, sqlx::Any, VisitRow, sqlx::any::AnyArguments> {
    q.bind(f.status.map(VisitStatus::as_str))
        .bind(f.customer_id.as_deref())
        .bind(f.technician_id.as_deref())
        .bind(i64::from(f.pool_only))
        .bind(f.from_day)
        .bind(f.to_day)
        .bind(f.pool_or_held_by.as_deref())
        // Always real numbers, never NULL: sqlx 0.9's Any driver declares a
        // NULL f64 as float4 on Postgres, and the cached statement then
        // refuses a real f64 on the same connection.
        .bind(i64::from(f.bbox.is_some()))
        .bind(f.bbox.map_or(0.0, |b| b.0))
        .bind(f.bbox.map_or(0.0, |b| b.1))
        .bind(f.bbox.map_or(0.0, |b| b.2))
        .bind(f.bbox.map_or(0.0, |b| b.3))
}

/// Newest first, keyset-paged by id; fetches `limit + 1` rows.
pub async fn list(
    ex: impl AnyExecutor<'_>,
    filter: &VisitFilter,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<VisitRow>> {
    let sql = format!(
        "{SELECT} WHERE {} AND ($13 IS NULL OR v.id < $13) ORDER BY v.id DESC LIMIT $14",
        *FILTER
    );
    bind_filter(sqlx::query_as(sqlx::AssertSqlSafe(sql)), filter)
        .bind(after)
        .bind(i64::from(limit) + 1)
        .fetch_all(ex)
        .await
}

/// Visit `id` when it matches `filter` (a reader's scope, say); `None` when
/// it does not or does not exist.
pub async fn get_matching(
    ex: impl AnyExecutor<'_>,
    filter: &VisitFilter,
    id: &str,
) -> sqlx::Result<Option<VisitRow>> {
    let sql = format!("{SELECT} WHERE {} AND v.id = $13", *FILTER);
    bind_filter(sqlx::query_as(sqlx::AssertSqlSafe(sql)), filter)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Up to `cap` matching visits, soonest first, for sorting by distance in Rust.
pub async fn candidates(
    ex: impl AnyExecutor<'_>,
    filter: &VisitFilter,
    cap: u32,
) -> sqlx::Result<Vec<VisitRow>> {
    let sql = format!(
        "{SELECT} WHERE {} ORDER BY v.start_day, v.id LIMIT $13",
        *FILTER
    );
    bind_filter(sqlx::query_as(sqlx::AssertSqlSafe(sql)), filter)
        .bind(i64::from(cap))
        .fetch_all(ex)
        .await
}

/// Writes every editable field and `status` (the caller holds the row's
/// lock and computed it: a new quota can fill or free the last seat).
pub async fn update(
    tx: &mut Tx,
    id: &str,
    f: &VisitFields,
    status: VisitStatus,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE visits SET ticket_id = $2, department_id = $3, title = $4, description = $5, \
             site_address = $6, site_lat = $7, site_lon = $8, scheduled_start = $9, \
             start_day = $10, planned_days = $11, technician_quota = $12, status = $13, \
             updated_at = $14 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(&f.ticket_id)
    .bind(&f.department_id)
    .bind(&f.title)
    .bind(&f.description)
    .bind(&f.site_address)
    .bind(f.site_lat)
    .bind(f.site_lon)
    .bind(&f.scheduled_start)
    .bind(f.start_day)
    .bind(f.planned_days)
    .bind(f.technician_quota)
    .bind(status.as_str())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The claim gate: takes one seat if one is left, the visit takes claims
/// ([`VisitStatus::accepts_claims`]) and its schedule is still the one the
/// caller checked. `false`: nothing written. The seat is taken by one
/// conditional `UPDATE` (the quota's guard); what the seats then mean for
/// the status ([`VisitStatus::with_seats`]) is written on the row that
/// `UPDATE` has just locked, and filling the last seat ends an emergency.
pub async fn take_seat(
    tx: &mut Tx,
    id: &str,
    start_day: i64,
    planned_days: i64,
) -> sqlx::Result<bool> {
    let sql = format!(
        "UPDATE visits SET seats_taken = seats_taken + 1, updated_at = $4 \
         WHERE id = $1 AND seats_taken < technician_quota \
           AND status IN ({}) AND start_day = $2 AND planned_days = $3 \
         RETURNING seats_taken, technician_quota, status",
        sql_list(&VisitStatus::CLAIMABLE)
    );
    let taken: Option<(i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(start_day)
        .bind(planned_days)
        .bind(now_ms())
        .fetch_optional(&mut **tx)
        .await?;
    let Some((seats, quota, status)) = taken else {
        return Ok(false);
    };
    if seats >= quota {
        let status = VisitStatus::try_from(status).map_err(|e| sqlx::Error::Decode(e.into()))?;
        sqlx::query("UPDATE visits SET status = $2, emergency = 0 WHERE id = $1")
            .bind(id)
            .bind(status.with_seats(seats, quota).as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(true)
}

/// Gives a seat back: the status follows the seats (an `assigned` visit
/// opens again); `emergency` marks it for the emergency pool.
pub async fn free_seat(tx: &mut Tx, id: &str, emergency: bool) -> sqlx::Result<()> {
    let freed: Option<(i64, i64, String)> = sqlx::query_as(
        "UPDATE visits SET seats_taken = seats_taken - 1, \
             emergency = CASE WHEN $2 = 1 THEN 1 ELSE emergency END, updated_at = $3 \
         WHERE id = $1 AND seats_taken > 0 \
         RETURNING seats_taken, technician_quota, status",
    )
    .bind(id)
    .bind(i64::from(emergency))
    .bind(now_ms())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((seats, quota, status)) = freed {
        let status = VisitStatus::try_from(status).map_err(|e| sqlx::Error::Decode(e.into()))?;
        let next = status.with_seats(seats, quota);
        if next != status {
            sqlx::query("UPDATE visits SET status = $2 WHERE id = $1")
                .bind(id)
                .bind(next.as_str())
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Moves the visit from one of `from` to `to` (moves the state machine
/// allows, [`VisitStatus::can_become`]); `false` when it was elsewhere.
/// Done stamps `completed_at` (reopening clears it), cancelled
/// `cancelled_at`.
pub async fn transition(
    tx: &mut Tx,
    id: &str,
    from: &[VisitStatus],
    to: VisitStatus,
) -> sqlx::Result<bool> {
    debug_assert!(from.iter().all(|f| f.can_become(to)), "{from:?} → {to:?}");
    if to == VisitStatus::InProgress && from.contains(&VisitStatus::Done) {
        // A completion about to be undone: its day's KPI is counted again.
        super::kpi::mark_late_from(tx, "SELECT completed_at FROM visits WHERE id = $1", id).await?;
    }
    let stamp = match to {
        VisitStatus::Done => "completed_at = $3,",
        VisitStatus::InProgress => "completed_at = NULL,",
        VisitStatus::Cancelled => "cancelled_at = $3,",
        VisitStatus::Open | VisitStatus::Assigned => "",
    };
    let sql = format!(
        "UPDATE visits SET {stamp} status = $2, updated_at = $3 \
         WHERE id = $1 AND status IN ({})",
        sql_list(from)
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(to.as_str())
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_summary(tx: &mut Tx, id: &str, summary: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("UPDATE visits SET summary = $2 WHERE id = $1")
        .bind(id)
        .bind(summary)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn record_cancellation(tx: &mut Tx, id: &str, reason: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE visits SET cancel_reason = $2, seats_taken = 0 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Adds approved extra days.
pub async fn extend(tx: &mut Tx, id: &str, extra_days: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE visits SET planned_days = planned_days + $2, updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(extra_days)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The visits serving ticket `ticket_id`, soonest first.
pub async fn for_ticket(ex: impl AnyExecutor<'_>, ticket_id: &str) -> sqlx::Result<Vec<VisitRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE v.ticket_id = $1 ORDER BY v.start_day, v.id"
    )))
    .bind(ticket_id)
    .fetch_all(ex)
    .await
}
