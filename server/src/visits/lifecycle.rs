//! A visit's life outside the pool: creation, edits, cancellation (only
//! before any claim, unless an admin forces it), completion and reopening.

use fieldops_sync::commands::RejectReason;
use serde_json::json;

use super::{ensure_not_closed, parse_day, record_transition, visit_not_found};
use crate::auth::{Action, Actor};
use crate::config::AttendanceConfig;
use crate::db::visits::{self, VisitFields, VisitRow, VisitStatus};
use crate::db::{Backend, Tx, assignments, audit, customers, departments, now_ms, tickets};
use crate::domain::{self, GeoPoint, Site, Status, Validator};
use crate::events::{AssignmentReleased, Happened, ReleasedBecause};
use crate::service::{Applied, Notice, ServiceError, ServiceResult, allow, reject, reject_as};

/// A visit as asked for; [`create`] and [`update`] validate it and check
/// what it names.
#[derive(Debug, Clone)]
pub struct VisitInput {
    pub customer_id: String,
    /// The ticket this visit serves, if any.
    pub ticket_id: Option<String>,
    pub department_id: Option<String>,
    pub title: String,
    pub description: String,
    pub site: Site,
    /// First day, `YYYY-MM-DD`.
    pub scheduled_start: String,
    pub planned_days: i64,
    pub technician_quota: i64,
}

/// A change to a visit: `None` keeps a field, `Some(None)` clears the
/// ticket or the department.
#[derive(Debug, Clone, Default)]
pub struct VisitEdit {
    pub ticket_id: Option<Option<String>>,
    pub department_id: Option<Option<String>>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub site: Option<Site>,
    pub scheduled_start: Option<String>,
    pub planned_days: Option<i64>,
    pub technician_quota: Option<i64>,
}

impl VisitEdit {
    /// `visit` with this edit over it.
    fn over(self, visit: &VisitRow) -> VisitInput {
        VisitInput {
            customer_id: visit.customer_id.clone(),
            ticket_id: self.ticket_id.unwrap_or_else(|| visit.ticket_id.clone()),
            department_id: self
                .department_id
                .unwrap_or_else(|| visit.department_id.clone()),
            title: self.title.unwrap_or_else(|| visit.title.clone()),
            description: self
                .description
                .unwrap_or_else(|| visit.description.clone()),
            site: self.site.unwrap_or_else(|| Site {
                address: visit.site_address.clone(),
                lat: visit.site_lat,
                lon: visit.site_lon,
            }),
            scheduled_start: self
                .scheduled_start
                .unwrap_or_else(|| visit.scheduled_start.clone()),
            planned_days: self.planned_days.unwrap_or(visit.planned_days),
            technician_quota: self.technician_quota.unwrap_or(visit.technician_quota),
        }
    }
}

/// The ticket a visit names: by id, or by its number (`TKT-000123`).
async fn ticket_of(tx: &mut Tx, reference: &str) -> sqlx::Result<Option<tickets::TicketRow>> {
    if uuid::Uuid::parse_str(reference).is_ok() {
        return tickets::get(&mut **tx, reference).await;
    }
    match domain::parse_ticket_number(reference) {
        Some(seq) => tickets::by_seq(&mut **tx, seq).await,
        None => Ok(None),
    }
}

/// Validates a full set of fields, collecting every problem, and checks
/// that the customer (active) and the department exist.
/// `earliest` is the first day the visit may start on (today, unless an
/// admin backfills); `None`, any day.
async fn check(
    tx: &mut Tx,
    input: &VisitInput,
    earliest: Option<i64>,
) -> Result<VisitFields, ServiceError> {
    let mut v = Validator::new();
    let title = v.check("title", domain::line(&input.title, 200));
    let description = v.check(
        "description",
        domain::optional_text(&input.description, 5000),
    );
    let ticket_id = match input.ticket_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(reference) => match ticket_of(tx, reference).await? {
            None => {
                v.add("ticket_id", crate::t!("problem-visit-ticket-unknown"));
                None
            }
            Some(t) if t.customer_id != input.customer_id => {
                v.add(
                    "ticket_id",
                    crate::t!("problem-visit-ticket-other-customer"),
                );
                None
            }
            Some(t) => Some(t.id),
        },
    };
    let site_address = v.check(
        "site.address",
        domain::bounded_text(&input.site.address, 500),
    );
    let point = GeoPoint {
        lat: input.site.lat,
        lon: input.site.lon,
    };
    if let Err(m) = point.validate() {
        v.add("site", m);
    }
    let start = parse_day(&input.scheduled_start);
    let past = matches!((&start, earliest), (Ok(day), Some(earliest)) if *day < earliest);
    let start_day = v.check("scheduled_start", start);
    if past {
        v.add("scheduled_start", crate::t!("problem-visit-start-past"));
    }
    if !(1..=super::extensions::MAX_PLANNED_DAYS).contains(&input.planned_days) {
        v.add(
            "planned_days",
            crate::t!("problem-visit-planned-days-range"),
        );
    }
    if !(1..=100).contains(&input.technician_quota) {
        v.add("technician_quota", crate::t!("problem-visit-quota-range"));
    }
    match customers::get(&mut **tx, &input.customer_id).await? {
        None => v.add("customer_id", crate::t!("problem-visit-customer-unknown")),
        Some(c) if c.status != Status::Active => {
            v.add("customer_id", crate::t!("problem-visit-customer-inactive"));
        }
        Some(_) => {}
    }
    if let Some(d) = &input.department_id
        && departments::get(&mut **tx, d).await?.is_none()
    {
        v.add(
            "department_id",
            crate::t!("problem-visit-department-unknown"),
        );
    }
    v.finish()?;
    Ok(VisitFields {
        customer_id: input.customer_id.clone(),
        ticket_id,
        department_id: input.department_id.clone(),
        title,
        description,
        site_address,
        site_lat: point.lat,
        site_lon: point.lon,
        scheduled_start: input.scheduled_start.clone(),
        start_day,
        planned_days: input.planned_days,
        technician_quota: input.technician_quota,
    })
}

/// Creates a visit in the pool, for an active customer.
///
/// A visit starts today or later in the sites' calendar; an admin backfills
/// one that already happened with `backfill`.
pub async fn create(
    tx: &mut Tx,
    actor: &Actor,
    rules: &AttendanceConfig,
    input: &VisitInput,
    backfill: bool,
) -> ServiceResult<VisitRow> {
    allow(actor, Action::ManageVisits)?;
    if backfill {
        allow(actor, Action::ForceVisitChange)?;
    }
    let earliest = (!backfill).then(|| rules.today(now_ms()));
    let fields = &check(tx, input, earliest).await?;
    let id = visits::insert(tx, fields, &actor.user_id).await?;
    let row = visits::get(&mut **tx, &id)
        .await?
        .ok_or_else(visit_not_found)?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "visit.created",
        "visit",
        &id,
        json!({ "technician_quota": fields.technician_quota, "ticket_id": fields.ticket_id }),
    )
    .await?;
    let notices = vec![Notice::staff(Happened::VisitCreated((&row).into()))];
    Ok(Applied {
        value: row,
        notices,
    })
}

fn schedule_changed(v: &VisitRow, f: &VisitFields) -> bool {
    v.start_day != f.start_day
        || v.planned_days != f.planned_days
        || v.site_address != f.site_address
        || v.site_lat.to_bits() != f.site_lat.to_bits()
        || v.site_lon.to_bits() != f.site_lon.to_bits()
}

/// The `visit_claimed` refusal, saying what needs an admin's force.
fn claimed(message: String) -> super::ServiceError {
    reject_as(RejectReason::Conflict, "visit_claimed", message)
}

/// Writes `edit` over the visit. Schedule and site are frozen once a
/// technician holds it, unless an admin forces the change (audited); a
/// new start date is today or later, unless an admin forces it.
pub async fn update(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    rules: &AttendanceConfig,
    visit_id: &str,
    edit: VisitEdit,
    force: bool,
) -> ServiceResult<VisitRow> {
    allow(actor, Action::ManageVisits)?;
    let before = visits::lock(tx, backend, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    let moved = edit
        .scheduled_start
        .as_ref()
        .is_some_and(|s| *s != before.scheduled_start);
    let earliest = (moved && !force).then(|| rules.today(now_ms()));
    let fields = &check(tx, &edit.over(&before), earliest).await?;
    if force {
        allow(actor, Action::ForceVisitChange)?;
    }
    ensure_not_closed(&before)?;
    let reschedule = schedule_changed(&before, fields);
    if reschedule && before.seats_taken > 0 && !force {
        return Err(claimed(crate::t!(
            "problem-visit-claimed-reschedule",
            count = before.seats_taken
        )));
    }
    if fields.technician_quota < before.seats_taken {
        return Err(reject_as(
            RejectReason::Conflict,
            "quota_below_claims",
            crate::t!(
                "problem-visit-quota-below-claims",
                count = before.seats_taken
            ),
        ));
    }
    let status = before
        .status
        .with_seats(before.seats_taken, fields.technician_quota);
    visits::update(tx, visit_id, fields, status).await?;
    let after = visits::get(&mut **tx, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "visit.updated",
        "visit",
        visit_id,
        json!({ "rescheduled": reschedule, "forced": force && reschedule && before.seats_taken > 0 }),
    )
    .await?;
    let mut notices = vec![Notice::staff(Happened::VisitUpdated((&after).into()))];
    notices.extend(record_transition(tx, &actor.user_id, &before, &after).await?);
    Ok(Applied {
        value: after,
        notices,
    })
}

/// Cancels a visit nobody holds; an admin may force it, which releases the
/// holders (each is told) and is audited as forced.
pub async fn cancel(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    visit_id: &str,
    reason: &str,
    force: bool,
) -> ServiceResult<VisitRow> {
    allow(actor, Action::ManageVisits)?;
    if force {
        allow(actor, Action::ForceVisitChange)?;
    }
    let before = visits::lock(tx, backend, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    ensure_not_closed(&before)?;
    if before.seats_taken > 0 && !force {
        return Err(claimed(crate::t!(
            "problem-visit-claimed-cancel",
            count = before.seats_taken
        )));
    }
    let released = assignments::release_all(tx, visit_id, &actor.user_id).await?;
    visits::record_cancellation(tx, visit_id, reason).await?;
    visits::transition(
        tx,
        visit_id,
        &[
            VisitStatus::Open,
            VisitStatus::Assigned,
            VisitStatus::InProgress,
        ],
        VisitStatus::Cancelled,
    )
    .await?;
    let after = visits::get(&mut **tx, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "visit.cancelled",
        "visit",
        visit_id,
        json!({ "reason": reason, "forced": !released.is_empty(), "released": released }),
    )
    .await?;
    let mut notices: Vec<Notice> = record_transition(tx, &actor.user_id, &before, &after)
        .await?
        .into_iter()
        .collect();
    for technician in &released {
        let released = AssignmentReleased {
            visit: (&after).into(),
            assignment_id: None,
            technician_id: None,
            reason: Some(reason.to_owned()),
            kind: ReleasedBecause::Cancelled,
        };
        notices.push(Notice::user(
            technician,
            Happened::AssignmentReleased(released),
        ));
    }
    Ok(Applied {
        value: after,
        notices,
    })
}

/// Marks the visit done with a work summary: by a technician holding it or
/// by CS, once somebody has checked out and nobody is still on site. The
/// customer is asked for a rating ([`crate::ratings::request_for_visit`]).
pub async fn complete(
    tx: &mut Tx,
    state: &crate::AppState,
    actor: &Actor,
    visit_id: &str,
    summary: &str,
) -> ServiceResult<VisitRow> {
    allow(actor, Action::CompleteVisit)?;
    let before = visits::lock(tx, state.db.backend(), visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    ensure_not_closed(&before)?;
    if actor.is(crate::domain::Role::Technician)
        && assignments::active(&mut **tx, visit_id, &actor.user_id)
            .await?
            .is_none()
    {
        return Err(reject(
            RejectReason::NotAssigned,
            crate::t!("problem-visit-not-held"),
        ));
    }
    let (on_site, checked_out) = assignments::site_counts(tx, visit_id).await?;
    if on_site > 0 {
        return Err(reject_as(
            RejectReason::Conflict,
            "still_on_site",
            crate::t!("problem-visit-still-on-site", count = on_site),
        ));
    }
    if before.status != VisitStatus::InProgress || checked_out == 0 {
        return Err(reject(
            RejectReason::NotCheckedIn,
            crate::t!("problem-visit-never-attended"),
        ));
    }
    visits::transition(tx, visit_id, &[VisitStatus::InProgress], VisitStatus::Done).await?;
    visits::set_summary(tx, visit_id, Some(summary)).await?;
    assignments::set_all(tx, visit_id, "active", "completed").await?;
    let after = visits::get(&mut **tx, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "visit.completed",
        "visit",
        visit_id,
        json!({}),
    )
    .await?;
    crate::ratings::request_for_visit(tx, state, &after).await?;
    let notices = record_transition(tx, &actor.user_id, &before, &after)
        .await?
        .into_iter()
        .collect();
    Ok(Applied {
        value: after,
        notices,
    })
}

/// CS reopen a done visit: back to `in_progress`, its technicians hold it again.
pub async fn reopen(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    visit_id: &str,
    reason: &str,
) -> ServiceResult<VisitRow> {
    allow(actor, Action::ReopenVisit)?;
    let before = visits::lock(tx, backend, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    if before.status != VisitStatus::Done {
        return Err(reject_as(
            RejectReason::Conflict,
            "visit_not_done",
            crate::t!("problem-visit-not-done"),
        ));
    }
    if crate::db::invoices::invoice_of_visit(&mut **tx, visit_id)
        .await?
        .is_some()
    {
        return Err(reject_as(
            RejectReason::Conflict,
            "visit_invoiced",
            crate::t!("problem-visit-invoiced"),
        ));
    }
    visits::transition(tx, visit_id, &[VisitStatus::Done], VisitStatus::InProgress).await?;
    assignments::set_all(tx, visit_id, "completed", "active").await?;
    let after = visits::get(&mut **tx, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "visit.reopened",
        "visit",
        visit_id,
        json!({ "reason": reason }),
    )
    .await?;
    let notices = record_transition(tx, &actor.user_id, &before, &after)
        .await?
        .into_iter()
        .collect();
    Ok(Applied {
        value: after,
        notices,
    })
}
