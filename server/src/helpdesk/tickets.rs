//! Ticket decisions as service functions: open a ticket, move its status,
//! add a message or an internal note.
//!
//! They follow the shape of `crate::visits` (and share the service types of
//! [`crate::service`]): each takes the transaction of a unit of work and
//! the [`Actor`], does its checks
//! and writes — the SQL change, the audit trail and the ticket's sync
//! document ([`crate::sync::tickets::project`]) — and returns either an
//! [`Applied`] [`TicketChange`] whose notices and document wake-ups are
//! committed with the change by the unit of work, or a [`ServiceError`]. The HTTP handlers (`http::tickets`) and the sync command
//! executor (`CreateTicket`, `CloseOwnTicket`) call the same functions:
//!
//! ```text
//! let mut work = Work::begin(&state).await?;
//! let applied = helpdesk::tickets::set_status(work.tx(), &state, &actor, id, to).await?;
//! let effects = Effects::told(applied.notices).with_changed(applied.value.synced);
//! work.respond(effects, StatusCode::OK, view).await
//! ```
//!
//! On a rejection the caller rolls the transaction back.

use fieldops_sync::commands::RejectReason;
use serde_json::json;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::tickets::{self, MessageRow, NewTicket, TicketRow};
use crate::db::{Tx, audit, blobs, customers, departments, now_ms, users};
use crate::domain::{self, Priority, Role, TicketStatus};
use crate::events::{Happened, TicketAssigned, TicketFacts, TicketMessage};
use crate::service::FieldError;
use crate::service::{Applied, Notice, ServiceError, allow, forbidden, reject_as};
use crate::sync::{self, Changed};

/// What a ticket service changed.
#[derive(Debug, Clone)]
pub struct TicketChange {
    /// The ticket after the change.
    pub ticket: TicketRow,
    /// Sync documents written; wake their readers after commit.
    pub synced: Vec<Changed>,
}

pub type TicketResult<T> = Result<Applied<T>, ServiceError>;

/// A change to a ticket's fields: `None` keeps one.
#[derive(Debug, Clone, Default)]
pub struct TicketEdit {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub department_id: Option<String>,
    /// Start (`true`) or end (`false`) a wait on the customer, which
    /// pauses the SLA clock.
    pub waiting_on_customer: Option<bool>,
}

/// Edits a ticket (staff of its department); a new priority or a wait on
/// the customer recomputes the SLA deadlines.
pub async fn update(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    edit: TicketEdit,
) -> TicketResult<TicketChange> {
    let t = load(tx, id).await?;
    allow(
        actor,
        Action::EditTicket {
            department_id: &t.department_id,
        },
    )?;
    let mut v = domain::Validator::new();
    let changes = tickets::TicketChanges {
        subject: edit
            .subject
            .as_deref()
            .map(|s| v.check("subject", domain::line(s, 200))),
        description: edit
            .description
            .as_deref()
            .map(|s| v.check("description", domain::optional_text(s, 10_000))),
        category: edit
            .category
            .as_deref()
            .map(|c| v.check("category", check_category(state, c))),
        priority: edit.priority,
        department_id: match &edit.department_id {
            Some(d) => match departments::get(&mut **tx, d).await? {
                Some(d) => Some(d.id),
                None => {
                    v.add(
                        "department_id",
                        crate::t!("problem-ticket-department-unknown"),
                    );
                    None
                }
            },
            None => None,
        },
    };
    v.finish()?;
    let now = now_ms();
    tickets::update_fields(tx, &t.id, &changes).await?;
    match edit.waiting_on_customer {
        Some(true) => {
            tickets::start_wait(tx, &t.id, now).await?;
        }
        Some(false) => {
            tickets::end_wait(tx, &t.id, now).await?;
        }
        None => {}
    }
    let row = crate::helpdesk::refresh_deadlines(tx, &state.calendar(), &t.id).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "ticket.updated",
        "ticket",
        &t.id,
        json!({
            "subject": changes.subject.is_some(), "description": changes.description.is_some(),
            "category": changes.category, "priority": changes.priority,
            "department_id": changes.department_id,
            "waiting_on_customer": edit.waiting_on_customer,
        }),
    )
    .await?;
    let synced = project(tx, state, &t.id).await?;
    Ok(Applied {
        notices: notices(Happened::TicketUpdated, &row),
        value: TicketChange {
            ticket: row,
            synced,
        },
    })
}

/// Assigns or reassigns a ticket, by hand, to an active staff member of
/// its department, with the reason the assigner gives (kept in the
/// ticket's assignment history) or, without one, who chose.
pub async fn assign(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    assignee: &str,
    reason: Option<&str>,
) -> TicketResult<TicketChange> {
    let t = load(tx, id).await?;
    allow(
        actor,
        Action::AssignTicket {
            department_id: &t.department_id,
        },
    )?;
    let user = users::get(&mut **tx, assignee).await?;
    let member = users::department_ids(&mut **tx, assignee).await?;
    let ok = user.is_some_and(|u| u.role.is_staff() && u.status == domain::Status::Active)
        && member.contains(&t.department_id);
    if !ok {
        return Err(ServiceError::field(
            "assigned_to",
            crate::t!("problem-ticket-assignee-not-member"),
        ));
    }
    let reason = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(given) => domain::line(given, 500).map_err(|m| ServiceError::field("reason", m))?,
        // Read later in each reader's language.
        None => crate::i18n::stored(
            "stored-assign-manual",
            &[("name", crate::i18n::Arg::Text(&actor.name))],
        ),
    };
    tickets::set_assignee(
        tx,
        &t.id,
        assignee,
        Some(&actor.user_id),
        tickets::AssignMethod::Manual,
        &reason,
        false,
    )
    .await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "ticket.assigned",
        "ticket",
        &t.id,
        json!({ "assignee_id": assignee, "from": t.assignee_id, "method": "manual", "reason": reason }),
    )
    .await?;
    let row = load(tx, &t.id).await?;
    let synced = project(tx, state, &t.id).await?;
    Ok(Applied {
        notices: notices(
            |t| Happened::TicketAssigned(TicketAssigned::ByHand(t)),
            &row,
        ),
        value: TicketChange {
            ticket: row,
            synced,
        },
    })
}

/// Projects ticket `id` into its document inside `tx`.
async fn project(tx: &mut Tx, state: &AppState, id: &str) -> Result<Vec<Changed>, ServiceError> {
    sync::tickets::project(tx, &state.db, id)
        .await
        .map_err(ServiceError::Internal)
}

fn notices(what: fn(TicketFacts) -> Happened, t: &TicketRow) -> Vec<Notice> {
    sync::tickets::ticket_notices(what, t)
}

/// A ticket as asked for, before validation.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// The id to use (chosen by a device); `None`: a fresh one.
    pub id: Option<String>,
    pub subject: String,
    pub description: String,
    pub category: String,
    pub priority: Option<Priority>,
    /// Staff only.
    pub department_id: Option<String>,
    /// Required for staff; customers open tickets for themselves.
    pub customer_id: Option<String>,
}

/// A category code in the configured list, normalised.
pub fn check_category(state: &AppState, value: &str) -> Result<String, String> {
    let c = value.trim().to_lowercase();
    if state.config.ticket_categories.contains(&c) {
        Ok(c)
    } else {
        Err(crate::t!(
            "problem-ticket-category-unknown",
            categories = &state.config.ticket_categories.join(", ")
        ))
    }
}

/// Validates a draft for `actor` and fills in the defaults (the help-desk
/// department, the customer's own record).
pub async fn prepare(
    state: &AppState,
    actor: &Actor,
    draft: Draft,
) -> Result<NewTicket, ServiceError> {
    let customer_id = match (actor.role, &actor.customer_id, &draft.customer_id) {
        (Role::Customer, Some(own), None) => own.clone(),
        (_, _, Some(c)) => c.clone(),
        _ => {
            if actor
                .authorize(Action::CreateTicket { customer_id: "" })
                .is_err()
            {
                return Err(forbidden());
            }
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "customer_id",
                crate::t!("problem-ticket-customer-required"),
            )]));
        }
    };
    if actor
        .authorize(Action::CreateTicket {
            customer_id: &customer_id,
        })
        .is_err()
    {
        return Err(forbidden());
    }
    let mut errors = Vec::new();
    let mut check = |field: &str, r: Result<String, String>| {
        r.unwrap_or_else(|m| {
            errors.push(FieldError::new(field, m));
            String::new()
        })
    };
    let subject = check("subject", domain::line(&draft.subject, 200));
    let description = check(
        "description",
        domain::optional_text(&draft.description, 10_000),
    );
    let category = check("category", check_category(state, &draft.category));
    let id = match &draft.id {
        Some(id) => check(
            "id",
            uuid::Uuid::parse_str(id)
                .ok()
                .filter(|u| !u.is_nil())
                .map(|u| u.to_string())
                .ok_or_else(|| crate::t!("problem-ticket-id-not-uuid")),
        ),
        None => crate::db::new_id(),
    };
    let customer = customers::get(state.db.pool(), &customer_id).await?;
    match &customer {
        None => errors.push(FieldError::new(
            "customer_id",
            crate::t!("problem-ticket-customer-unknown"),
        )),
        // A deleted customer opens nothing until CS restore the record.
        Some(c) if c.status != domain::Status::Active => errors.push(FieldError::new(
            "customer_id",
            crate::t!("problem-ticket-customer-inactive"),
        )),
        Some(_) => {}
    }
    let department_id = match &draft.department_id {
        Some(d) if actor.role.is_staff() => match departments::get(state.db.pool(), d).await? {
            Some(d) => Some(d.id),
            None => {
                errors.push(FieldError::new(
                    "department_id",
                    crate::t!("problem-ticket-department-unknown"),
                ));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new(
                "department_id",
                crate::t!("problem-ticket-department-staff-only"),
            ));
            None
        }
        None => departments::by_name(&state.db, &state.config.ticket_default_department)
            .await?
            .map(|d| d.id),
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let (Some(customer), Some(department_id)) = (customer, department_id) else {
        return Err(ServiceError::Internal(anyhow::anyhow!(
            "the default ticket department {:?} does not exist",
            state.config.ticket_default_department
        )));
    };
    Ok(NewTicket {
        id,
        subject,
        description,
        category,
        priority: draft.priority.unwrap_or(Priority::Normal),
        department_id,
        customer_id: customer.id,
        customer_name: customer.name,
        created_by: Some(actor.user_id.clone()),
        created_at: now_ms(),
    })
}

/// Opens a prepared ticket: numbers it, sets its SLA deadlines, audits it
/// and creates its document. A ticket id (or document id) already in use is
/// a `conflict`. Assignment follows after commit (the help-desk job, or
/// `assignment::drain`).
pub async fn create(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    new: &NewTicket,
) -> TicketResult<TicketChange> {
    if tickets::get(&mut **tx, &new.id).await?.is_some()
        || sync::store::get(&mut **tx, &new.id).await?.is_some()
    {
        return Err(reject_as(
            RejectReason::Conflict,
            "ticket_exists",
            crate::t!("problem-ticket-exists"),
        ));
    }
    let row = tickets::create(tx, new).await?;
    let row = super::refresh_deadlines(tx, &state.calendar(), &row.id).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "ticket.created",
        "ticket",
        &row.id,
        json!({ "number": row.number, "priority": row.priority }),
    )
    .await?;
    let synced = project(tx, state, &row.id).await?;
    Ok(Applied {
        notices: notices(Happened::TicketCreated, &row),
        value: TicketChange {
            ticket: row,
            synced,
        },
    })
}

/// Attaches the image `sha256`, which the actor uploaded, to ticket `id`:
/// customers to their own tickets, staff to their departments', and a
/// technician to a ticket whose visit they hold — the phone's rules
/// ([`Action::AttachToTicket`]). A ticket holds at most
/// `ticket_max_attachments` images of at most `ticket_max_attachment_bytes`
/// each (seed 004: five of 5 MB). Attaching one it already holds changes
/// nothing; the value says whether it was added.
pub async fn attach(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    sha256: &str,
) -> TicketResult<(bool, TicketChange)> {
    // Held until commit: two attaches at once cannot both take the last place.
    tickets::lock(tx, state.db.backend(), id).await?;
    let t = attachable(tx, actor, id).await?;
    if !crate::storage::is_sha256(sha256) {
        return Err(reject_as(
            RejectReason::Invalid,
            "sha256",
            crate::t!("problem-ticket-sha256-format"),
        ));
    }
    let held = tickets::attachments(&mut **tx, &t.id).await?;
    if held.iter().any(|h| h == sha256) {
        let synced = vec![];
        return Ok(Applied {
            value: (false, TicketChange { ticket: t, synced }),
            notices: vec![],
        });
    }
    let blob = match blobs::get(&mut **tx, sha256).await? {
        Some(b) if blobs::uploaded_by(&mut **tx, sha256, &actor.user_id).await? => b,
        _ => {
            return Err(reject_as(
                RejectReason::Invalid,
                "sha256",
                crate::t!("problem-ticket-image-not-uploaded"),
            ));
        }
    };
    if !blob.content_type.starts_with("image/") {
        return Err(reject_as(
            RejectReason::Invalid,
            "sha256",
            crate::t!("problem-ticket-not-an-image"),
        ));
    }
    let max_bytes = state.config.ticket_max_attachment_bytes;
    if u64::try_from(blob.byte_size).unwrap_or(u64::MAX) > max_bytes {
        return Err(reject_as(
            RejectReason::Invalid,
            "sha256",
            crate::t!(
                "problem-ticket-image-too-large",
                size = blob.byte_size,
                max = max_bytes
            ),
        ));
    }
    check_room(&held, state.config.ticket_max_attachments)?;
    blobs::add_owner(tx, sha256, blobs::OwnerKind::Ticket, &t.id, &actor.user_id).await?;
    blobs::attach_to_ticket(tx, &t.id, sha256, &actor.user_id).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "ticket.attachment_added",
        "ticket",
        &t.id,
        json!({ "sha256": sha256, "byte_size": blob.byte_size }),
    )
    .await?;
    let row = tickets::touch(tx, &t.id).await?.unwrap_or(t);
    let synced = project(tx, state, &row.id).await?;
    Ok(Applied {
        notices: notices(Happened::TicketUpdated, &row),
        value: (
            true,
            TicketChange {
                ticket: row,
                synced,
            },
        ),
    })
}

/// Ticket `id` if `actor` may attach to it now: its customer, its
/// department's staff, a technician holding one of its visits; not closed.
async fn attachable(tx: &mut Tx, actor: &Actor, id: &str) -> Result<TicketRow, ServiceError> {
    let t = load(tx, id).await?;
    let holder = blobs::ticket_target(tx, &t.id, &actor.user_id)
        .await?
        .is_some_and(|target| target.held_by_user);
    allow(
        actor,
        Action::AttachToTicket {
            department_id: &t.department_id,
            customer_id: &t.customer_id,
            holder,
        },
    )?;
    if t.status == TicketStatus::Closed {
        return Err(reject_as(
            RejectReason::Conflict,
            "ticket-closed",
            crate::t!("problem-ticket-closed"),
        ));
    }
    Ok(t)
}

/// Refuses a new image when the ticket already holds `max`.
fn check_room(held: &[String], max: u32) -> Result<(), ServiceError> {
    if held.len() >= max as usize {
        return Err(reject_as(
            RejectReason::Conflict,
            "attachments-full",
            crate::t!("problem-ticket-attachments-full", max = max),
        ));
    }
    Ok(())
}

/// The checks of [`attach`] that need no bytes (who, which ticket, its
/// state, room for one more), read only: an adapter that receives the bytes
/// itself (the console's form) asks first, so a refused person's image is
/// never stored. [`attach`] checks all again when it writes.
pub async fn check_attachable(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<(), ServiceError> {
    let mut work = crate::work::Work::begin(state).await?;
    let t = attachable(work.tx(), actor, id).await?;
    let held = tickets::attachments(&mut **work.tx(), &t.id).await?;
    check_room(&held, state.config.ticket_max_attachments)
}

/// [`attach`] for bytes the actor has just sent whole (the console's form;
/// stored by [`crate::photos::store_sent`]): they become the actor's upload
/// in the same change, so a refusal leaves them nobody's.
pub async fn attach_sent(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    sha256: &str,
) -> TicketResult<(bool, TicketChange)> {
    crate::photos::record_uploader(tx, sha256, &actor.user_id).await?;
    attach(tx, state, actor, id, sha256).await
}

async fn load(tx: &mut Tx, id: &str) -> Result<TicketRow, ServiceError> {
    tickets::get(&mut **tx, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("ticket"))
}

/// Moves a ticket along open → in_progress → resolved → closed (resolved
/// may reopen). Customers may close or reopen their own. Asking for the
/// status it already has changes nothing and is accepted.
pub async fn set_status(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    to: TicketStatus,
) -> TicketResult<TicketChange> {
    let t = load(tx, id).await?;
    allow(
        actor,
        Action::ChangeTicketStatus {
            department_id: &t.department_id,
            customer_id: &t.customer_id,
            to,
        },
    )?;
    if t.status == to {
        return Ok(Applied {
            value: TicketChange {
                ticket: t,
                synced: vec![],
            },
            notices: vec![],
        });
    }
    if !t.status.can_become(to) {
        return Err(reject_as(
            RejectReason::Conflict,
            "invalid-transition",
            crate::t!(
                "problem-ticket-invalid-transition",
                from = t.status.as_str(),
                to = to.as_str()
            ),
        ));
    }
    let now = now_ms();
    if !tickets::set_status(tx, &t.id, t.status, to, now).await? {
        return Err(reject_as(
            RejectReason::Conflict,
            "stale",
            crate::t!("problem-ticket-stale"),
        ));
    }
    // Resolved tickets wait on the customer's confirmation; reopening resumes the clocks.
    match to {
        TicketStatus::Resolved => {
            tickets::start_wait(tx, &t.id, now).await?;
        }
        TicketStatus::Open | TicketStatus::InProgress => {
            tickets::end_wait(tx, &t.id, now).await?;
        }
        TicketStatus::Closed => {}
    }
    let row = super::refresh_deadlines(tx, &state.calendar(), &t.id).await?;
    // Asked to rate the help, when the settings say so (once per ticket).
    if to == TicketStatus::Resolved {
        crate::ratings::request_for_ticket(tx, state, &row).await?;
    }
    audit::record(
        tx,
        Some(&actor.user_id),
        "ticket.status_changed",
        "ticket",
        &t.id,
        json!({ "from": t.status, "to": to }),
    )
    .await?;
    let synced = project(tx, state, &t.id).await?;
    Ok(Applied {
        notices: notices(Happened::TicketUpdated, &row),
        value: TicketChange {
            ticket: row,
            synced,
        },
    })
}

/// Adds a message; `internal` makes it a staff-only note, which never
/// reaches the ticket document. A staff member's first public message is
/// the first response; a customer's message ends a wait on the customer.
pub async fn post_message(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    body: &str,
    internal: bool,
) -> TicketResult<(MessageRow, TicketChange)> {
    let t = load(tx, id).await?;
    allow(
        actor,
        Action::PostTicketMessage {
            department_id: &t.department_id,
            customer_id: &t.customer_id,
            internal,
        },
    )?;
    let body = domain::bounded_text(body, 10_000)
        .map_err(|m| reject_as(RejectReason::Invalid, "body", m))?;
    if t.status == TicketStatus::Closed {
        return Err(reject_as(
            RejectReason::Conflict,
            "ticket-closed",
            crate::t!("problem-ticket-closed"),
        ));
    }
    let kind = if actor.role.is_staff() {
        "staff"
    } else {
        "customer"
    };
    let m = tickets::add_message(tx, &t.id, Some(&actor.user_id), kind, &body, internal).await?;
    if kind == "customer" && tickets::end_wait(tx, &t.id, m.created_at).await? {
        super::refresh_deadlines(tx, &state.calendar(), &t.id).await?;
    }
    audit::record(
        tx,
        Some(&actor.user_id),
        "ticket.message_added",
        "ticket",
        &t.id,
        json!({ "message_id": m.id, "internal": internal }),
    )
    .await?;
    // An internal note changes nothing a customer may read; the document
    // is left alone (its update time included).
    let synced = if internal {
        vec![]
    } else {
        project(tx, state, &t.id).await?
    };
    let message = Happened::TicketMessage(TicketMessage {
        ticket_id: t.id.clone(),
        number: t.number.clone(),
        message: m.clone().into(),
    });
    let mut out = vec![Notice::department(&t.department_id, message.clone())];
    if !internal {
        out.push(Notice::customer(&t.customer_id, message));
    }
    let ticket = tickets::get(&mut **tx, &t.id).await?.unwrap_or(t);
    Ok(Applied {
        value: (m, TicketChange { ticket, synced }),
        notices: out,
    })
}
