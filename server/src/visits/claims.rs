//! The open pool: claiming a seat (first come, first served, never past the
//! quota), withdrawing before check-in, and CS returning an assignment to
//! the emergency pool.

use fieldops_sync::commands::RejectReason;
use serde_json::json;

use super::attendance::{Direction, fence_radius};
use super::{ensure_not_closed, record_transition, visit_not_found};
use crate::auth::{Action, Actor};
use crate::config::AttendanceConfig;
use crate::db::attendance::{self, NewAttendance};
use crate::db::visits::{self, VisitRow, VisitStatus};
use crate::db::{Backend, Tx, assignments, audit, is_unique_violation, now_ms};
use crate::events::{AssignmentReleased, Happened, ReleasedBecause, Seat, SeatFreed};
use crate::service::{Applied, Notice, ServiceError, ServiceResult, allow, reject, reject_as};

/// A granted or released seat.
#[derive(Debug, Clone)]
pub struct SeatChange {
    pub visit: VisitRow,
    pub assignment_id: String,
    pub technician_id: String,
}

/// The refusal of a claim by a technician CS returned from the visit.
pub(super) fn returned_from_visit() -> ServiceError {
    reject(
        RejectReason::ReturnedFromVisit,
        crate::t!("problem-claim-returned"),
    )
}

/// Claims a seat on `visit_id` for the acting technician.
///
/// The order matters: the technician's row is locked first (so that two of
/// their own claims cannot both pass the schedule check), then the checks
/// run, then [`visits::take_seat`] is the gate that decides the race, and
/// only then is the assignment inserted (its partial unique index is the
/// last line against a double claim).
pub async fn claim(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    visit_id: &str,
) -> ServiceResult<SeatChange> {
    allow(actor, Action::ClaimVisit)?;
    visits::lock_technician(tx, backend, &actor.user_id).await?;
    let before = visits::get(&mut **tx, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    let holds = assignments::active(&mut **tx, visit_id, &actor.user_id).await?;
    refusal(&before, holds.is_some())?;
    // The emergency pool is for someone else: whom CS returned stays out.
    if assignments::returned_from(&mut **tx, visit_id, &actor.user_id).await? {
        return Err(returned_from_visit());
    }
    schedule_conflict(&mut **tx, &actor.user_id, &before).await?;
    if !visits::take_seat(tx, visit_id, before.start_day, before.planned_days).await? {
        // Lost the race, or the visit changed since it was read.
        let now = visits::get(&mut **tx, visit_id)
            .await?
            .ok_or_else(visit_not_found)?;
        ensure_not_closed(&now)?;
        if now.start_day != before.start_day || now.planned_days != before.planned_days {
            return Err(reject(
                RejectReason::Conflict,
                crate::t!("problem-claim-rescheduled"),
            ));
        }
        return Err(quota_full(&now));
    }
    let assignment_id = match assignments::insert(tx, visit_id, &actor.user_id).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(reject(
                RejectReason::AlreadyClaimed,
                crate::t!("problem-claim-already-held"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let after = visits::get(&mut **tx, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "visit.claimed",
        "visit",
        visit_id,
        json!({ "assignment_id": assignment_id, "technician_id": actor.user_id }),
    )
    .await?;
    let mut notices = Vec::with_capacity(3);
    notices.push(Notice::staff(Happened::VisitClaimed(Seat {
        visit: (&after).into(),
        assignment_id: assignment_id.clone(),
        technician_id: actor.user_id.clone(),
        technician_name: actor.name.clone(),
    })));
    notices.extend(record_transition(tx, &actor.user_id, &before, &after).await?);
    Ok(Applied {
        value: SeatChange {
            visit: after,
            assignment_id,
            technician_id: actor.user_id.clone(),
        },
        notices,
    })
}

/// Whether a claim on `visit` loses on what is known without writing: the
/// visit is closed, the claimer already `holds` a seat, or none is left.
/// [`claim`] and the [`ClaimGate`](super::gate::ClaimGate) both ask it, so
/// both give the same reason.
pub fn refusal(visit: &VisitRow, holds: bool) -> Result<(), ServiceError> {
    ensure_not_closed(visit)?;
    if holds {
        return Err(reject(
            RejectReason::AlreadyClaimed,
            crate::t!("problem-claim-already-held"),
        ));
    }
    if visit.seats_taken >= visit.technician_quota {
        return Err(quota_full(visit));
    }
    Ok(())
}

/// Refuses when the technician holds another visit on some of `visit`'s days.
async fn schedule_conflict(
    ex: impl sqlx::AnyExecutor<'_>,
    technician_id: &str,
    visit: &VisitRow,
) -> Result<(), ServiceError> {
    let overlap = assignments::overlapping(
        ex,
        technician_id,
        &visit.id,
        visit.start_day,
        visit.end_day(),
    )
    .await?;
    match overlap {
        Some((other, title)) => Err(holds_overlapping(&other, &title)),
        None => Ok(()),
    }
}

/// The `schedule_conflict` refusal: the claimer holds visit `other`, titled
/// `title`, on some of the same days.
pub(super) fn holds_overlapping(other: &str, title: &str) -> ServiceError {
    reject(
        RejectReason::ScheduleConflict,
        crate::t!(
            "problem-claim-schedule-conflict",
            title = title,
            visit = other
        ),
    )
}

pub(super) fn quota_full(v: &VisitRow) -> ServiceError {
    reject(
        RejectReason::QuotaFull,
        crate::t!("problem-claim-quota-full", quota = v.technician_quota),
    )
}

/// The acting technician gives their seat back, before checking in.
pub async fn withdraw(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    visit_id: &str,
) -> ServiceResult<SeatChange> {
    allow(actor, Action::WorkVisit)?;
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
    if held.first_check_in_at.is_some() {
        return Err(reject(
            RejectReason::AlreadyCheckedIn,
            crate::t!("problem-claim-checked-in"),
        ));
    }
    release(
        tx,
        actor,
        before,
        held.id,
        held.technician_id,
        "withdrawn",
        None,
    )
    .await
}

/// CS sends an assignment back to the pool (the technician is absent): the
/// seat reopens, the visit is marked as an emergency, the technician is told.
///
/// A technician checked in on site is not absent: returning them is refused
/// (`technician_on_site`) unless CS `force` it, and then their open
/// attendance is closed with a check-out by CS at the site, so the record
/// keeps the visit and the hours they worked.
pub async fn return_to_pool(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    rules: &AttendanceConfig,
    assignment_id: &str,
    reason: &str,
    force: bool,
) -> ServiceResult<SeatChange> {
    allow(actor, Action::ReturnToPool)?;
    let held = assignments::get(&mut **tx, assignment_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("assignment"))?;
    let before = visits::lock(tx, backend, &held.visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    ensure_not_closed(&before)?;
    if held.state != "active" {
        return Err(reject_as(
            RejectReason::Conflict,
            "assignment_not_active",
            crate::t!("problem-assignment-not-active"),
        ));
    }
    if held.on_site == 1 {
        if !force {
            return Err(reject_as(
                RejectReason::Conflict,
                "technician_on_site",
                crate::t!("problem-assignment-on-site"),
            ));
        }
        check_out_by_cs(tx, actor, rules, &before, &held, reason).await?;
    }
    release(
        tx,
        actor,
        before,
        held.id,
        held.technician_id,
        "returned",
        Some(reason),
    )
    .await
}

/// A technician's account is being switched off: the seats they hold on
/// visits they have not checked into go back to the pool as returns (the
/// reason says why; the visits become emergencies, and CS and the
/// technician hear of it as of any return), and for each visit they are on
/// site at, CS are asked to decide (`visit.holder_deactivated`): nothing is
/// released under someone who is working there.
pub async fn release_deactivated(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    technician_id: &str,
) -> Result<Vec<Notice>, ServiceError> {
    let mut notices = Vec::new();
    for held in assignments::active_of(&mut **tx, technician_id).await? {
        let Some(visit) = visits::lock(tx, backend, &held.visit_id).await? else {
            continue;
        };
        if visit.is_closed() {
            continue;
        }
        if held.on_site == 1 {
            notices.push(Notice::staff(Happened::VisitHolderDeactivated(Seat {
                visit: (&visit).into(),
                assignment_id: held.id,
                technician_id: held.technician_id,
                technician_name: held.technician_name,
            })));
            continue;
        }
        let released = release(
            tx,
            actor,
            visit,
            held.id,
            held.technician_id,
            "returned",
            Some(&crate::i18n::stored("stored-release-deactivated", &[])),
        )
        .await?;
        notices.extend(released.notices);
    }
    Ok(notices)
}

/// Closes a technician's open attendance with a check-out by CS at the
/// site (now, by the server's clock), audited with CS's reason.
async fn check_out_by_cs(
    tx: &mut Tx,
    actor: &Actor,
    rules: &AttendanceConfig,
    visit: &VisitRow,
    held: &assignments::AssignmentRow,
    reason: &str,
) -> Result<(), ServiceError> {
    let now = now_ms();
    let record = attendance::insert(
        tx,
        &NewAttendance {
            visit_id: &visit.id,
            assignment_id: &held.id,
            technician_id: &held.technician_id,
            direction: Direction::Out.as_str(),
            device_time: now,
            received_at: now,
            lat: visit.site_lat,
            lon: visit.site_lon,
            accuracy_m: 0.0,
            distance_m: 0.0,
            within_geofence: true,
            fence_radius_m: fence_radius(rules, 0.0),
            clock_skew_ms: None,
        },
    )
    .await?;
    assignments::set_on_site(tx, &held.id, false, now).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "visit.checked_out_by_cs",
        "visit",
        &visit.id,
        json!({ "attendance_id": record.id, "assignment_id": held.id, "reason": reason }),
    )
    .await?;
    Ok(())
}

async fn release(
    tx: &mut Tx,
    actor: &Actor,
    before: VisitRow,
    assignment_id: String,
    technician_id: String,
    kind: &'static str,
    reason: Option<&str>,
) -> ServiceResult<SeatChange> {
    let returned = kind == "returned";
    if !assignments::release(tx, &assignment_id, kind, reason, &actor.user_id).await? {
        return Err(reject_as(
            RejectReason::Conflict,
            "assignment_not_active",
            crate::t!("problem-assignment-not-active"),
        ));
    }
    visits::free_seat(tx, &before.id, returned).await?;
    let after = visits::get(&mut **tx, &before.id)
        .await?
        .ok_or_else(visit_not_found)?;
    let action = if returned {
        "visit.returned_to_pool"
    } else {
        "visit.withdrawn"
    };
    audit::record(
        tx,
        Some(&actor.user_id),
        action,
        "visit",
        &before.id,
        json!({ "assignment_id": assignment_id, "technician_id": technician_id, "reason": reason }),
    )
    .await?;
    let freed = SeatFreed {
        visit: (&after).into(),
        assignment_id: assignment_id.clone(),
        technician_id: technician_id.clone(),
        // A reason the server gave (a deactivation) is kept as a catalogue
        // reference; the event says it in words.
        reason: reason.map(|r| crate::i18n::read(r, crate::i18n::current())),
    };
    let mut notices = Vec::with_capacity(3);
    if returned {
        // The technician's phone drops it from "my visits" and shows why.
        let released = AssignmentReleased {
            visit: freed.visit.clone(),
            assignment_id: Some(freed.assignment_id.clone()),
            technician_id: Some(technician_id.clone()),
            reason: freed.reason.clone(),
            kind: ReleasedBecause::Returned,
        };
        notices.push(Notice::staff(Happened::VisitReturnedToPool(freed)));
        notices.push(Notice::user(
            &technician_id,
            Happened::AssignmentReleased(released),
        ));
    } else {
        notices.push(Notice::staff(Happened::VisitWithdrawn(freed)));
    }
    notices.extend(record_transition(tx, &actor.user_id, &before, &after).await?);
    debug_assert!(
        after.status != VisitStatus::Assigned || after.seats_taken >= after.technician_quota
    );
    Ok(Applied {
        value: SeatChange {
            visit: after,
            assignment_id,
            technician_id,
        },
        notices,
    })
}
