//! Extension requests ("tambah hari"): a technician holding a visit asks for
//! extra days; CS approve (the visit's planned days grow) or reject.

use fieldops_sync::commands::{EXTRA_DAYS, MAX_REASON_CHARS, RejectReason};
use serde_json::json;

use super::{ensure_not_closed, visit_not_found};
use crate::auth::{Action, Actor};
use crate::db::extensions::{self, ExtensionRow};
use crate::db::{Backend, Tx, assignments, audit, visits};
use crate::events::Happened;
use crate::service::{Applied, Notice, ServiceResult, allow, reject, reject_as};

/// The longest a visit may be planned for, in days (the schema's bound).
pub const MAX_PLANNED_DAYS: i64 = 366;

fn not_found() -> super::ServiceError {
    super::ServiceError::not_found("extension request")
}

/// Files a request on the acting technician's assignment.
pub async fn request(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    visit_id: &str,
    extra_days: i64,
    reason: &str,
) -> ServiceResult<ExtensionRow> {
    allow(actor, Action::WorkVisit)?;
    if !(i64::from(*EXTRA_DAYS.start())..=i64::from(*EXTRA_DAYS.end())).contains(&extra_days) {
        return Err(reject_as(
            RejectReason::Invalid,
            "extra_days",
            crate::t!("problem-extension-days-range"),
        ));
    }
    let reason = crate::domain::bounded_text(reason, MAX_REASON_CHARS)
        .map_err(|m| reject_as(RejectReason::Invalid, "reason", m))?;
    let visit = visits::lock(tx, backend, visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    ensure_not_closed(&visit)?;
    let held = assignments::active(&mut **tx, visit_id, &actor.user_id)
        .await?
        .ok_or_else(|| {
            reject(
                RejectReason::NotAssigned,
                crate::t!("problem-visit-not-held"),
            )
        })?;
    if extensions::pending_of(tx, visit_id, &actor.user_id)
        .await?
        .is_some()
    {
        return Err(reject_as(
            RejectReason::Conflict,
            "extension_pending",
            crate::t!("problem-extension-pending"),
        ));
    }
    let id =
        extensions::insert(tx, visit_id, &held.id, &actor.user_id, extra_days, &reason).await?;
    let row = extensions::get(&mut **tx, &id)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "extension.requested",
        "visit",
        visit_id,
        json!({ "extension_id": id, "extra_days": extra_days }),
    )
    .await?;
    let notices = vec![Notice::staff(Happened::ExtensionRequested((&row).into()))];
    Ok(Applied {
        value: row,
        notices,
    })
}

/// Approves (the visit gains the days) or rejects a pending request.
pub async fn decide(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    extension_id: &str,
    approve: bool,
    note: Option<&str>,
) -> ServiceResult<ExtensionRow> {
    allow(actor, Action::DecideExtensions)?;
    let ext = extensions::get(&mut **tx, extension_id)
        .await?
        .ok_or_else(not_found)?;
    let visit = visits::lock(tx, backend, &ext.visit_id)
        .await?
        .ok_or_else(visit_not_found)?;
    if ext.status != "pending" {
        return Err(reject_as(
            RejectReason::Conflict,
            "extension_decided",
            crate::t!("problem-extension-decided", status = &ext.status),
        ));
    }
    if approve {
        ensure_not_closed(&visit)?;
        if visit.planned_days + ext.extra_days > MAX_PLANNED_DAYS {
            return Err(reject_as(
                RejectReason::Invalid,
                "extra_days",
                crate::t!("problem-extension-max-days", max = MAX_PLANNED_DAYS),
            ));
        }
        visits::extend(tx, &visit.id, ext.extra_days).await?;
    }
    let status = if approve { "approved" } else { "rejected" };
    if !extensions::decide(tx, extension_id, status, &actor.user_id, note).await? {
        return Err(reject_as(
            RejectReason::Conflict,
            "extension_decided",
            crate::t!("problem-extension-decided-meanwhile"),
        ));
    }
    let row = extensions::get(&mut **tx, extension_id)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        tx,
        Some(&actor.user_id),
        if approve {
            "extension.approved"
        } else {
            "extension.rejected"
        },
        "visit",
        &visit.id,
        json!({ "extension_id": extension_id, "extra_days": ext.extra_days }),
    )
    .await?;
    let decided = if approve {
        Happened::ExtensionApproved
    } else {
        Happened::ExtensionRejected
    };
    let mut notices = vec![
        Notice::staff(decided((&row).into())),
        Notice::user(&row.technician_id, decided((&row).into())),
    ];
    if approve && let Some(after) = visits::get(&mut **tx, &visit.id).await? {
        notices.push(Notice::staff(Happened::VisitUpdated((&after).into())));
    }
    Ok(Applied {
        value: row,
        notices,
    })
}
