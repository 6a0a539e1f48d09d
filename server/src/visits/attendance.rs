//! Attendance: check-in and check-out against an assignment, judged against
//! the site's geofence, and the daily report CS watch (present, late, absent).

use fieldops_sync::commands::RejectReason;
use serde_json::json;

use super::{distance_m, ensure_not_closed, record_transition, visit_not_found};
use crate::auth::{Action, Actor};
use crate::config::AttendanceConfig;
use crate::db::attendance::{self, AttendanceRow, NewAttendance};
use crate::db::visits::{self, VisitStatus};
use crate::db::{Backend, Db, Tx, assignments, audit, now_ms};
use crate::events::{Attendance, Happened};
use crate::service::{Applied, Notice, ServiceResult, allow, reject, reject_as};

/// Arriving or leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// What the phone reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy radius in metres.
    pub accuracy_m: f64,
    /// The phone's clock at the event, unix ms.
    pub device_time_ms: i64,
    /// How far the phone's clock runs off the server's, in ms, when the
    /// adapter has estimated it (a sync session does); kept for audits.
    pub clock_skew_ms: Option<i64>,
}

/// Device times further ahead of the server than this are refused.
const MAX_CLOCK_AHEAD_MS: i64 = 24 * 3600 * 1000;
/// Accuracy radii beyond this are not positions.
const MAX_ACCURACY_M: f64 = 100_000.0;
/// 2000-01-01T00:00:00Z.
const EARLIEST_DEVICE_TIME_MS: i64 = 946_684_800_000;

impl Position {
    /// Range checks; the field name and the problem (in the request's
    /// language).
    pub fn validate(&self, now_ms: i64) -> Result<(), (&'static str, String)> {
        if !(self.lat.is_finite() && (-90.0..=90.0).contains(&self.lat)) {
            return Err(("lat", crate::t!("problem-attendance-lat-range")));
        }
        if !(self.lon.is_finite() && (-180.0..=180.0).contains(&self.lon)) {
            return Err(("lon", crate::t!("problem-attendance-lon-range")));
        }
        if !(self.accuracy_m.is_finite() && (0.0..=MAX_ACCURACY_M).contains(&self.accuracy_m)) {
            return Err(("accuracy_m", crate::t!("problem-attendance-accuracy-range")));
        }
        if self.device_time_ms < EARLIEST_DEVICE_TIME_MS
            || self.device_time_ms > now_ms + MAX_CLOCK_AHEAD_MS
        {
            return Err(("device_time", crate::t!("problem-attendance-device-time")));
        }
        Ok(())
    }
}

/// The radius a position must fall in: the configured radius widened by the
/// reported accuracy, but never past the configured maximum.
pub fn fence_radius(rules: &AttendanceConfig, accuracy_m: f64) -> f64 {
    let max = rules.geofence_max_radius_m.max(rules.geofence_radius_m);
    (rules.geofence_radius_m + accuracy_m.max(0.0)).min(max)
}

/// Records a check-in or check-out by the technician holding the visit.
/// Positions outside the fence are accepted and flagged. The first
/// check-in moves the visit to `in_progress`.
pub async fn attend(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    rules: &AttendanceConfig,
    visit_id: &str,
    direction: Direction,
    at: Position,
) -> ServiceResult<AttendanceRow> {
    allow(actor, Action::WorkVisit)?;
    let received_at = now_ms();
    if let Err((field, problem)) = at.validate(received_at) {
        return Err(reject_as(
            RejectReason::Invalid,
            field,
            format!("{field} {problem}"),
        ));
    }
    let before = visits::lock(tx, backend, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    ensure_not_closed(&before)?;
    let held = assignments::active(&mut **tx, visit_id, &actor.user_id)
        .await?
        .ok_or_else(|| {
            reject(
                RejectReason::NotAssigned,
                crate::t!("problem-visit-not-held"),
            )
        })?;
    match (direction, held.on_site == 1) {
        (Direction::In, true) => {
            return Err(reject(
                RejectReason::AlreadyCheckedIn,
                crate::t!("problem-attendance-already-checked-in"),
            ));
        }
        (Direction::Out, false) => {
            return Err(reject(
                RejectReason::NotCheckedIn,
                crate::t!("problem-attendance-not-checked-in"),
            ));
        }
        _ => {}
    }
    let distance = distance_m((at.lat, at.lon), (before.site_lat, before.site_lon));
    let radius = fence_radius(rules, at.accuracy_m);
    let record = attendance::insert(
        tx,
        &NewAttendance {
            visit_id,
            assignment_id: &held.id,
            technician_id: &actor.user_id,
            direction: direction.as_str(),
            device_time: at.device_time_ms,
            received_at,
            lat: at.lat,
            lon: at.lon,
            accuracy_m: at.accuracy_m,
            distance_m: distance,
            within_geofence: distance <= radius,
            fence_radius_m: radius,
            clock_skew_ms: at.clock_skew_ms,
        },
    )
    .await?;
    assignments::set_on_site(tx, &held.id, direction == Direction::In, at.device_time_ms).await?;
    if direction == Direction::In {
        visits::transition(
            tx,
            visit_id,
            &[VisitStatus::Open, VisitStatus::Assigned],
            VisitStatus::InProgress,
        )
        .await?;
    }
    let after = visits::get(&mut **tx, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    let (action, happened): (_, fn(Attendance) -> Happened) = match direction {
        Direction::In => ("visit.checked_in", Happened::CheckedIn),
        Direction::Out => ("visit.checked_out", Happened::CheckedOut),
    };
    audit::record(
        tx,
        Some(&actor.user_id),
        action,
        "visit",
        visit_id,
        json!({
            "attendance_id": record.id, "assignment_id": held.id,
            "distance_m": distance.round(), "within_geofence": distance <= radius,
        }),
    )
    .await?;
    let mut notices = vec![Notice::staff(happened(Attendance {
        visit: (&after).into(),
        attendance_id: record.id.clone(),
        technician_id: actor.user_id.clone(),
        technician_name: actor.name.clone(),
        lat: at.lat,
        lon: at.lon,
        accuracy_m: at.accuracy_m,
        distance_m: distance.round(),
        within_geofence: distance <= radius,
        device_time: crate::domain::rfc3339(at.device_time_ms),
        received_at: crate::domain::rfc3339(received_at),
    }))];
    notices.extend(record_transition(tx, &actor.user_id, &before, &after).await?);
    Ok(Applied {
        value: record,
        notices,
    })
}

/// Where one expected technician stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStatus {
    /// No check-in yet, and the start plus grace has not passed.
    Expected,
    /// No check-in, the start plus grace has passed, the day is not over.
    Late,
    /// No check-in and the day is over.
    Absent,
    /// Checked in (see `arrived_late`); `checked_out_at` once they left.
    Present,
}

impl DayStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DayStatus::Expected => "expected",
            DayStatus::Late => "late",
            DayStatus::Absent => "absent",
            DayStatus::Present => "present",
        }
    }
}

/// One row of the attendance report.
#[derive(Debug, Clone)]
pub struct DayEntry {
    pub expected: attendance::ExpectedRow,
    pub status: DayStatus,
    /// The first check-in of the day came after the start plus grace.
    pub arrived_late: bool,
    pub check_in: Option<AttendanceRow>,
    pub check_out: Option<AttendanceRow>,
    /// Some check-in or check-out of the day was outside the geofence.
    pub outside_geofence: bool,
}

/// The attendance report of `day` (days since 1970-01-01, in the sites'
/// local calendar) as seen at `now_ms`: every technician holding a visit
/// planned for that day, with their first check-in and last check-out of the
/// day (by the phone's clock, which is what offline records carry).
pub async fn report(
    db: &Db,
    rules: &AttendanceConfig,
    day: i64,
    now_ms: i64,
) -> sqlx::Result<Vec<DayEntry>> {
    let offset_ms = rules.utc_offset_minutes * 60_000;
    let day_start = day * 86_400_000 - offset_ms;
    let day_end = day_start + 86_400_000;
    let deadline =
        day_start + (rules.workday_start_minute + rules.late_grace_minutes.max(0)) * 60_000;
    let expected = attendance::expected_on(db.pool(), day, day_start).await?;
    let records = attendance::between(db.pool(), day_start, day_end).await?;
    Ok(expected
        .into_iter()
        .map(|e| {
            let mut mine = records
                .iter()
                .filter(|r| r.assignment_id == e.assignment_id);
            let outside_geofence = mine.clone().any(|r| r.within_geofence == 0);
            let check_in = mine.clone().find(|r| r.direction == "in").cloned();
            let check_out = mine.rfind(|r| r.direction == "out").cloned();
            let status = match &check_in {
                Some(_) => DayStatus::Present,
                // Returned to the pool by CS: absent, whatever the hour.
                None if e.returned == 1 => DayStatus::Absent,
                None if now_ms >= day_end => DayStatus::Absent,
                None if now_ms >= deadline => DayStatus::Late,
                None => DayStatus::Expected,
            };
            let arrived_late = check_in.as_ref().is_some_and(|r| r.device_time > deadline);
            DayEntry {
                expected: e,
                status,
                arrived_late,
                check_in,
                check_out,
                outside_geofence,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_widens_with_accuracy_up_to_the_cap() {
        let rules = AttendanceConfig::default();
        assert!((fence_radius(&rules, 0.0) - 200.0).abs() < f64::EPSILON);
        assert!((fence_radius(&rules, 50.0) - 250.0).abs() < f64::EPSILON);
        assert!((fence_radius(&rules, 5_000.0) - 1_000.0).abs() < f64::EPSILON);
    }

    #[test]
    fn positions_are_range_checked() {
        let now = 1_800_000_000_000;
        let ok = Position {
            lat: -6.2,
            lon: 106.8,
            accuracy_m: 10.0,
            device_time_ms: now,
            clock_skew_ms: None,
        };
        assert!(ok.validate(now).is_ok());
        let field = |p: Position| p.validate(now).err().map(|e| e.0);
        assert_eq!(field(Position { lat: 91.0, ..ok }), Some("lat"));
        assert_eq!(field(Position { lon: -181.0, ..ok }), Some("lon"));
        assert_eq!(
            field(Position {
                accuracy_m: -1.0,
                ..ok
            }),
            Some("accuracy_m")
        );
        assert_eq!(
            field(Position {
                device_time_ms: now + 2 * MAX_CLOCK_AHEAD_MS,
                ..ok
            }),
            Some("device_time")
        );
    }
}
