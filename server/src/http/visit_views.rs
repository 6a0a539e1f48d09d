//! The JSON shapes of visits, assignments, attendance records and extension
//! requests, built from rows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::assignments::AssignmentRow;
use crate::db::attendance::AttendanceRow;
use crate::db::extensions::ExtensionRow;
use crate::db::visits::VisitRow;
use crate::domain::rfc3339;
use crate::visits::attendance::DayEntry;
use crate::visits::day_to_date;

pub use crate::domain::Site;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssignmentView {
    pub id: String,
    pub technician_id: String,
    pub technician_name: String,
    /// `active`, `released` or `completed`.
    pub state: String,
    pub claimed_at: String,
    /// Checked in and not yet out.
    pub on_site: bool,
    pub first_check_in_at: Option<String>,
    pub last_check_out_at: Option<String>,
    pub released_at: Option<String>,
    /// `withdrawn`, `returned` (to the emergency pool) or `cancelled`.
    pub release_kind: Option<String>,
    pub release_reason: Option<String>,
    /// The technician's account is deactivated.
    pub technician_active: bool,
}

impl From<AssignmentRow> for AssignmentView {
    fn from(a: AssignmentRow) -> Self {
        Self {
            technician_active: a.technician_active != 0,
            id: a.id,
            technician_id: a.technician_id,
            technician_name: a.technician_name,
            state: a.state,
            claimed_at: rfc3339(a.claimed_at),
            on_site: a.on_site == 1,
            first_check_in_at: a.first_check_in_at.map(rfc3339),
            last_check_out_at: a.last_check_out_at.map(rfc3339),
            released_at: a.released_at.map(rfc3339),
            release_kind: a.release_kind,
            release_reason: a
                .release_reason
                .map(|r| crate::i18n::read(&r, crate::i18n::current())),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VisitView {
    pub id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub ticket_id: Option<String>,
    pub department_id: Option<String>,
    pub title: String,
    pub description: String,
    pub site: Site,
    /// First day, `YYYY-MM-DD`.
    pub scheduled_start: String,
    /// Last planned day, `YYYY-MM-DD`.
    pub end_date: String,
    pub planned_days: i64,
    pub technician_quota: i64,
    pub seats_taken: i64,
    pub seats_left: i64,
    /// `open`, `assigned`, `in_progress`, `done` or `cancelled`.
    pub status: String,
    /// Open for claims right now.
    pub in_pool: bool,
    /// A seat was returned to the pool by CS (an absent technician).
    pub emergency: bool,
    /// CS must decide: a technician on site here was deactivated (return
    /// them with `force` and a reason, or finish the visit). Set with the
    /// `visit.holder_deactivated` event; clears once that seat is released
    /// or completed.
    pub needs_decision: bool,
    pub summary: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    pub cancelled_at: Option<String>,
    /// Every claim, including released ones, oldest first.
    pub assignments: Vec<AssignmentView>,
    /// Metres from the `near` point of a list query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

impl VisitView {
    pub fn new(v: VisitRow, assignments: Vec<AssignmentRow>, distance_m: Option<f64>) -> Self {
        Self {
            needs_decision: assignments.iter().any(AssignmentRow::needs_decision),
            in_pool: v.in_pool(),
            end_date: day_to_date(v.end_day()),
            seats_left: (v.technician_quota - v.seats_taken).max(0),
            id: v.id,
            customer_id: v.customer_id,
            customer_name: v.customer_name,
            ticket_id: v.ticket_id,
            department_id: v.department_id,
            title: v.title,
            description: v.description,
            site: Site {
                address: v.site_address,
                lat: v.site_lat,
                lon: v.site_lon,
            },
            scheduled_start: v.scheduled_start,
            planned_days: v.planned_days,
            technician_quota: v.technician_quota,
            seats_taken: v.seats_taken,
            status: v.status.as_str().to_owned(),
            emergency: v.emergency == 1,
            summary: v.summary,
            cancel_reason: v.cancel_reason,
            created_at: rfc3339(v.created_at),
            updated_at: rfc3339(v.updated_at),
            completed_at: v.completed_at.map(rfc3339),
            cancelled_at: v.cancelled_at.map(rfc3339),
            assignments: assignments.into_iter().map(Into::into).collect(),
            distance_m: distance_m.map(f64::round),
        }
    }
}

/// A granted claim.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClaimView {
    pub assignment_id: String,
    pub visit: VisitView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttendanceView {
    pub id: String,
    pub visit_id: String,
    pub assignment_id: String,
    pub technician_id: String,
    /// `in` or `out`.
    pub direction: String,
    /// The phone's clock.
    pub device_time: String,
    /// The server's clock when the record arrived.
    pub received_at: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    /// Metres to the site, rounded.
    pub distance_m: f64,
    /// Inside the fence; records outside are kept and flagged for CS.
    pub within_geofence: bool,
    /// The radius used: the configured one widened by the accuracy, capped.
    pub fence_radius_m: f64,
}

impl From<AttendanceRow> for AttendanceView {
    fn from(a: AttendanceRow) -> Self {
        Self {
            id: a.id,
            visit_id: a.visit_id,
            assignment_id: a.assignment_id,
            technician_id: a.technician_id,
            direction: a.direction,
            device_time: rfc3339(a.device_time),
            received_at: rfc3339(a.received_at),
            lat: a.lat,
            lon: a.lon,
            accuracy_m: a.accuracy_m,
            distance_m: a.distance_m.round(),
            within_geofence: a.within_geofence == 1,
            fence_radius_m: a.fence_radius_m,
        }
    }
}

/// One technician expected on site on the report's day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttendanceEntryView {
    pub visit_id: String,
    pub visit_title: String,
    pub site_address: String,
    pub visit_status: String,
    pub emergency: bool,
    pub assignment_id: String,
    pub technician_id: String,
    pub technician_name: String,
    /// `expected`, `late` (no check-in by start + grace), `absent` (none all
    /// day) or `present`.
    pub status: String,
    /// Present, but the first check-in came after start + grace.
    pub arrived_late: bool,
    pub check_in: Option<AttendanceView>,
    pub check_out: Option<AttendanceView>,
    /// CS returned them to the pool for this visit (absent, or checked out
    /// by CS): they no longer hold it.
    pub returned: bool,
    /// A check-in or check-out of the day was outside the geofence (the
    /// records say how far): for CS to follow up.
    pub outside_geofence: bool,
}

impl From<DayEntry> for AttendanceEntryView {
    fn from(e: DayEntry) -> Self {
        Self {
            visit_id: e.expected.visit_id,
            visit_title: e.expected.title,
            site_address: e.expected.site_address,
            visit_status: e.expected.visit_status,
            emergency: e.expected.emergency == 1,
            returned: e.expected.returned == 1,
            assignment_id: e.expected.assignment_id,
            technician_id: e.expected.technician_id,
            technician_name: e.expected.technician_name,
            status: e.status.as_str().to_owned(),
            arrived_late: e.arrived_late,
            check_in: e.check_in.map(Into::into),
            check_out: e.check_out.map(Into::into),
            outside_geofence: e.outside_geofence,
        }
    }
}

/// The attendance of one day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttendanceReport {
    pub date: String,
    /// Start of work plus grace, after which a missing check-in is late.
    pub late_after: String,
    pub entries: Vec<AttendanceEntryView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExtensionView {
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
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    pub created_at: String,
}

impl From<ExtensionRow> for ExtensionView {
    fn from(e: ExtensionRow) -> Self {
        Self {
            id: e.id,
            visit_id: e.visit_id,
            visit_title: e.visit_title,
            assignment_id: e.assignment_id,
            technician_id: e.technician_id,
            technician_name: e.technician_name,
            extra_days: e.extra_days,
            reason: e.reason,
            status: e.status,
            decided_by: e.decided_by,
            decided_at: e.decided_at.map(rfc3339),
            decision_note: e.decision_note,
            created_at: rfc3339(e.created_at),
        }
    }
}
