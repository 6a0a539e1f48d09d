//! Attendance: check-ins and check-outs with position, the geofence decision,
//! and both clocks (the phone's and the server's).

use sqlx::{AnyExecutor, FromRow};

use super::{Tx, new_id};

#[derive(Debug, Clone, FromRow)]
pub struct AttendanceRow {
    pub id: String,
    pub visit_id: String,
    pub assignment_id: String,
    pub technician_id: String,
    /// `in` or `out`.
    pub direction: String,
    pub device_time: i64,
    pub received_at: i64,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub distance_m: f64,
    pub within_geofence: i64,
    pub fence_radius_m: f64,
}

const COLUMNS: &str = "id, visit_id, assignment_id, technician_id, direction, device_time, \
    received_at, lat, lon, accuracy_m, distance_m, within_geofence, fence_radius_m";

/// A record to write; `id` is chosen by the caller.
#[derive(Debug, Clone)]
pub struct NewAttendance<'a> {
    pub visit_id: &'a str,
    pub assignment_id: &'a str,
    pub technician_id: &'a str,
    pub direction: &'a str,
    pub device_time: i64,
    pub received_at: i64,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub distance_m: f64,
    pub within_geofence: bool,
    pub fence_radius_m: f64,
    /// How far the device's clock was estimated off the server's, in ms.
    pub clock_skew_ms: Option<i64>,
}

pub async fn insert(tx: &mut Tx, a: &NewAttendance<'_>) -> sqlx::Result<AttendanceRow> {
    // Synced late from an offline phone: its day's KPI is counted again.
    super::kpi::mark_late(tx, a.device_time).await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO attendance ({COLUMNS}, clock_skew_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         RETURNING {COLUMNS}"
    )))
    .bind(new_id())
    .bind(a.visit_id)
    .bind(a.assignment_id)
    .bind(a.technician_id)
    .bind(a.direction)
    .bind(a.device_time)
    .bind(a.received_at)
    .bind(a.lat)
    .bind(a.lon)
    .bind(a.accuracy_m)
    .bind(a.distance_m)
    .bind(i64::from(a.within_geofence))
    .bind(a.fence_radius_m)
    .bind(a.clock_skew_ms)
    .fetch_one(&mut **tx)
    .await
}

/// Every record of the given assignments with a device time in `[from, to)`,
/// oldest first.
pub async fn between(
    ex: impl AnyExecutor<'_>,
    from_ms: i64,
    to_ms: i64,
) -> sqlx::Result<Vec<AttendanceRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM attendance WHERE device_time >= $1 AND device_time < $2 \
         ORDER BY device_time, id"
    )))
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(ex)
    .await
}

/// Every record of one visit, oldest first.
pub async fn for_visit(
    ex: impl AnyExecutor<'_>,
    visit_id: &str,
) -> sqlx::Result<Vec<AttendanceRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM attendance WHERE visit_id = $1 ORDER BY device_time, id"
    )))
    .bind(visit_id)
    .fetch_all(ex)
    .await
}

/// (visit, assignment, technician, technician name, visit title, start day,
/// planned days, site address) of every held assignment on a visit planned
/// for `day` (days since 1970-01-01) and not cancelled.
#[derive(Debug, Clone, FromRow)]
pub struct ExpectedRow {
    pub visit_id: String,
    pub assignment_id: String,
    pub technician_id: String,
    pub technician_name: String,
    pub title: String,
    pub site_address: String,
    pub visit_status: String,
    pub emergency: i64,
    /// 1 when CS returned this technician to the pool (absent, or forced
    /// off the site): they stay on the day's report.
    pub returned: i64,
}

/// Technicians expected on `day` (from `day_start_ms`, for `DAY_MS`): holding
/// a visit planned over it that was not done before the day began, or
/// returned from one that day (`returned`). A technician returned on a
/// later day held the seat on this one (not returned here); one returned
/// before it is no longer expected.
pub async fn expected_on(
    ex: impl AnyExecutor<'_>,
    day: i64,
    day_start_ms: i64,
) -> sqlx::Result<Vec<ExpectedRow>> {
    sqlx::query_as(
        "SELECT v.id AS visit_id, a.id AS assignment_id, a.technician_id, \
                u.name AS technician_name, v.title, v.site_address, v.status AS visit_status, \
                v.emergency, CASE WHEN a.state = 'released' AND a.released_at < $4 THEN 1 ELSE 0 END AS returned \
         FROM assignments a JOIN visits v ON v.id = a.visit_id JOIN users u ON u.id = a.technician_id \
         WHERE (a.state <> 'released' OR (a.release_kind = 'returned' AND a.released_at >= $3)) \
           AND v.status <> $2 \
           AND v.start_day + v.planned_days - 1 >= $1 AND v.start_day <= $1 \
           AND (v.completed_at IS NULL OR v.completed_at >= $3) \
         ORDER BY v.id, a.claimed_at",
    )
    .bind(day)
    .bind(super::visits::VisitStatus::Cancelled.as_str())
    .bind(day_start_ms)
    .bind(day_start_ms + DAY_MS)
    .fetch_all(ex)
    .await
}

/// A calendar day in the sites' zone (no daylight saving in Indonesia).
const DAY_MS: i64 = 86_400_000;
