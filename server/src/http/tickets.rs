//! Tickets: list with search, filters, cursor and a stats block; create, read,
//! edit, status, assignment, messages and internal notes; period stats.
//!
//! Staff see the tickets of their departments (admins all); customers see and
//! open their own and may close or reopen them. Every change is in the audit
//! trail and is published live to the department and the customer.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::AppendHeaders;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Page, PageRequest, Path, Query};
use super::ticket_views::*;
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::tickets::{self, TicketFilter, TicketRow};
use crate::domain::{Priority, TicketStatus, Validator};
use crate::error::{ApiError, ApiResult};
use crate::helpdesk::tickets::{self as service};
use crate::helpdesk::{self, assignment};
use crate::service::Applied;
use crate::work::{Effects, Work};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketListParams {
    /// Ticket number (`TKT-000123` or `123`), words of the subject, or the customer's name.
    #[param(max_length = 100)]
    pub search: Option<String>,
    pub status: Option<TicketStatus>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    /// A user id, `me`, or `unassigned`.
    pub assigned_to: Option<String>,
    pub department_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// `YYYY-MM-DD`: tickets created that day (SLA calendar time zone).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub date: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    pub subject: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    /// Default `normal`.
    pub priority: Option<Priority>,
    /// Staff only; default the configured help-desk department.
    pub department_id: Option<Uuid>,
    /// Required for staff; customers open tickets for themselves.
    pub customer_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicketRequest {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub department_id: Option<Uuid>,
    /// `true` pauses the SLA clocks until the customer answers or this is set `false`.
    pub waiting_on_customer: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: TicketStatus,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// A staff member of the ticket's department.
    pub assigned_to: Uuid,
    /// Why this person (at most 500 characters); kept in the ticket's
    /// assignment history. Without one: "manual: chosen by <assigner>".
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub body: String,
    /// An internal note, visible to staff only.
    #[serde(default)]
    pub internal: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachRequest {
    /// The image's SHA-256 (64 lowercase hex digits), as uploaded by the
    /// caller (`POST /api/v1/uploads`).
    pub sha256: String,
}

/// Start and end (exclusive) of a calendar day in the SLA time zone.
pub(super) fn day_range(state: &AppState, field: &str, value: &str) -> ApiResult<(i64, i64)> {
    let date = value
        .parse::<jiff::civil::Date>()
        .map_err(|_| ApiError::field(field, t!("problem-filter-date-format")))?;
    state
        .calendar()
        .day_bounds(date)
        .ok_or_else(|| ApiError::field(field, t!("problem-filter-date-out-of-range")))
}

async fn load(state: &AppState, id: &Uuid) -> ApiResult<TicketRow> {
    tickets::get(state.db.pool(), &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("ticket"))
}

pub(crate) fn view(state: &AppState, t: TicketRow, pauses: &[(i64, i64)]) -> TicketView {
    let d = helpdesk::deadlines_of(&state.calendar(), &t, pauses);
    TicketView::new(t, Some(&d))
}

/// Commits a ticket change and answers with the ticket as it now is.
async fn respond_with_ticket(
    state: &AppState,
    mut work: Work,
    applied: Applied<service::TicketChange>,
) -> ApiResult<Json<TicketView>> {
    let row = applied.value.ticket;
    let pauses = tickets::pauses(&mut **work.tx(), &row.id).await?;
    let effects = Effects::told(applied.notices).with_changed(applied.value.synced);
    let body = view(state, row, &pauses);
    Ok(Json(work.respond(effects, StatusCode::OK, body).await?))
}

/// List tickets with search, filters and cursor paging, plus counts over all matches.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", security(("bearer" = [])),
    params(TicketListParams),
    responses((status = 200, body = TicketPage), (status = 422, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<TicketListParams>,
) -> ApiResult<Json<TicketPage>> {
    actor.authorize(Action::ListTickets)?;
    let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
    let mut v = Validator::new();
    let search = p.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 100) {
        v.add("search", t!("problem-filter-text-too-long", max = 100));
    }
    let assignee = match p.assigned_to.as_deref() {
        None | Some("") => None,
        Some("unassigned") => Some(None),
        Some("me") => Some(Some(actor.user_id.clone())),
        Some(id) => match Uuid::parse_str(id) {
            Ok(u) => Some(Some(u.to_string())),
            Err(_) => {
                v.add("assigned_to", t!("problem-filter-assigned-to"));
                None
            }
        },
    };
    let created = match p.date.as_deref() {
        Some(d) => Some(day_range(&state, "date", d)?),
        None => None,
    };
    v.finish()?;
    let filter = TicketFilter {
        search: search.map(str::to_owned),
        status: p.status,
        category: p.category.map(|c| c.trim().to_lowercase()),
        priority: p.priority,
        assignee,
        department_id: p.department_id.map(|d| d.to_string()),
        customer_id: p.customer_id.map(|c| c.to_string()),
        created,
    };
    let scope = actor.ticket_scope();
    let (rows, stats) = tickets::page(
        &state.db,
        &scope,
        &filter,
        page.after.as_deref(),
        page.limit,
    )
    .await?;
    let page = Page::from_rows(rows, page.limit, |t| &t.id);
    Ok(Json(TicketPage {
        items: page
            .items
            .into_iter()
            .map(|t| TicketView::new(t, None))
            .collect(),
        next_cursor: page.next_cursor,
        stats: stats.into(),
    }))
}

/// Open a ticket. It is numbered, gets SLA deadlines and joins the round-robin queue.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", security(("bearer" = [])),
    request_body = CreateTicketRequest,
    responses((status = 201, body = TicketView), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateTicketRequest>,
) -> ApiResult<(
    StatusCode,
    AppendHeaders<[(header::HeaderName, String); 1]>,
    Json<TicketView>,
)> {
    let draft = service::Draft {
        id: None,
        subject: req.subject,
        description: req.description,
        category: req.category,
        priority: req.priority,
        department_id: req.department_id.map(|d| d.to_string()),
        customer_id: req.customer_id.map(|c| c.to_string()),
    };
    let new = service::prepare(&state, &actor, draft).await?;
    let mut work = Work::begin(&state).await?;
    let applied = service::create(work.tx(), &state, &actor, &new).await?;
    let row = applied.value.ticket;
    // Round-robin hands the new ticket out in the same change, so that the
    // answer (stored for a retry) says who has it.
    let assigned = assignment::assign_queued(work.tx(), &state).await?;
    let row = tickets::get(&mut **work.tx(), &row.id)
        .await?
        .unwrap_or(row);
    let location = format!("/api/v1/tickets/{}", row.id);
    let effects = Effects::told(applied.notices)
        .with_changed(applied.value.synced)
        .and(assigned);
    let body = work
        .respond(effects, StatusCode::CREATED, view(&state, row, &[]))
        .await?;
    // Conversations that waited for an agent, and anything left.
    if let Err(e) = assignment::drain(&state).await {
        tracing::warn!(error = ?e, "assigning after ticket creation; the job retries");
    }
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(header::LOCATION, location)]),
        Json(body),
    ))
}

/// One ticket with its messages (internal notes for staff only), SLA and history.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TicketDetail), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<TicketDetail>> {
    let t = load(&state, &id).await?;
    actor.authorize(Action::ViewTicket {
        department_id: &t.department_id,
        customer_id: &t.customer_id,
    })?;
    let staff = actor.authorize(Action::ViewTicketInternals).is_ok();
    let messages = tickets::messages(state.db.pool(), &t.id, staff).await?;
    let attachments = tickets::attachments(state.db.pool(), &t.id).await?;
    let pauses = tickets::pauses(state.db.pool(), &t.id).await?;
    let (history, assignments) = if staff {
        (
            Some(
                tickets::history(&state.db, &t.id)
                    .await?
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            ),
            Some(
                tickets::assignments(&state.db, &t.id)
                    .await?
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            ),
        )
    } else {
        (None, None)
    };
    let visits = crate::db::visits::for_ticket(state.db.pool(), &t.id)
        .await?
        .into_iter()
        .map(|v| TicketVisitView {
            status: v.status.as_str().to_owned(),
            id: v.id,
            title: v.title,
            scheduled_start: v.scheduled_start,
            planned_days: v.planned_days,
        })
        .collect();
    Ok(Json(TicketDetail {
        visits,
        ticket: view(&state, t, &pauses),
        messages: messages.into_iter().map(Into::into).collect(),
        attachments,
        history,
        assignments,
    }))
}

/// Edit a ticket; changing the priority recomputes the SLA deadlines.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateTicketRequest,
    responses((status = 200, body = TicketView), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateTicketRequest>,
) -> ApiResult<Json<TicketView>> {
    let edit = service::TicketEdit {
        subject: req.subject,
        description: req.description,
        category: req.category,
        priority: req.priority,
        department_id: req.department_id.map(|d| d.to_string()),
        waiting_on_customer: req.waiting_on_customer,
    };
    let mut work = Work::begin(&state).await?;
    let applied = service::update(work.tx(), &state, &actor, &id.to_string(), edit).await?;
    respond_with_ticket(&state, work, applied).await
}

/// Move a ticket along open → in_progress → resolved → closed (resolved may reopen).
#[utoipa::path(put, path = "/api/v1/tickets/{id}/status", tag = "tickets", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = StatusRequest,
    responses((status = 200, body = TicketView), (status = 409, body = crate::error::Problem)))]
pub async fn set_status(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<StatusRequest>,
) -> ApiResult<Json<TicketView>> {
    let mut work = Work::begin(&state).await?;
    let applied =
        service::set_status(work.tx(), &state, &actor, &id.to_string(), req.status).await?;
    let row = applied.value.ticket;
    let pauses = tickets::pauses(&mut **work.tx(), &row.id).await?;
    let reopened_unassigned = row.status == TicketStatus::Open && row.assignee_id.is_none();
    let effects = Effects::told(applied.notices).with_changed(applied.value.synced);
    let body = work
        .respond(effects, StatusCode::OK, view(&state, row, &pauses))
        .await?;
    if reopened_unassigned {
        let _ = assignment::drain(&state).await;
    }
    Ok(Json(body))
}

/// Assign or reassign a ticket to a staff member of its department.
#[utoipa::path(put, path = "/api/v1/tickets/{id}/assign", tag = "tickets", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AssignRequest,
    responses((status = 200, body = TicketView), (status = 422, body = crate::error::Problem)))]
pub async fn assign(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<AssignRequest>,
) -> ApiResult<Json<TicketView>> {
    let assignee = req.assigned_to.to_string();
    let mut work = Work::begin(&state).await?;
    let applied = service::assign(
        work.tx(),
        &state,
        &actor,
        &id.to_string(),
        &assignee,
        req.reason.as_deref(),
    )
    .await?;
    respond_with_ticket(&state, work, applied).await
}

/// Add a message; `internal: true` makes it a staff-only note. A staff
/// member's first public message is the first response; a customer's message
/// ends a wait on the customer.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/messages", tag = "tickets", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = MessageRequest,
    responses((status = 201, body = TicketMessageView), (status = 422, body = crate::error::Problem)))]
pub async fn post_message(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<MessageRequest>,
) -> ApiResult<(StatusCode, Json<TicketMessageView>)> {
    let mut work = Work::begin(&state).await?;
    let applied = service::post_message(
        work.tx(),
        &state,
        &actor,
        &id.to_string(),
        &req.body,
        req.internal,
    )
    .await?;
    let (m, change) = applied.value;
    let effects = Effects::told(applied.notices).with_changed(change.synced);
    let body = TicketMessageView::from(m);
    let body = work.respond(effects, StatusCode::CREATED, body).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// Attach an image the caller uploaded (`POST /api/v1/uploads`) to a ticket:
/// customers to their own, staff to their departments', a technician to a
/// ticket whose visit they hold. A ticket takes `ticket_max_attachments`
/// images (5) of at most `ticket_max_attachment_bytes` (5 MB) each. 201 with
/// the attachment; 200 if the ticket already holds it.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/attachments", tag = "tickets", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AttachRequest,
    responses((status = 201, body = AttachmentView), (status = 200, body = AttachmentView),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn attach(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<AttachRequest>,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    let mut work = Work::begin(&state).await?;
    let applied = service::attach(work.tx(), &state, &actor, &id.to_string(), &req.sha256).await?;
    let (added, change) = applied.value;
    let row = tickets::attachment_rows(&mut **work.tx(), &change.ticket.id)
        .await?
        .into_iter()
        .find(|a| a.sha256 == req.sha256)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("attachment not read back")))?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let effects = Effects::told(applied.notices).with_changed(change.synced);
    let body = work
        .respond(effects, status, AttachmentView::from(row))
        .await?;
    Ok((status, Json(body)))
}

/// The images attached to a ticket, oldest first, with who added them;
/// download them through `GET /api/v1/blobs/{sha256}/link`.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments", tag = "tickets", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [AttachmentView]), (status = 404, body = crate::error::Problem)))]
pub async fn attachments(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<AttachmentView>>> {
    let t = load(&state, &id).await?;
    actor.authorize(Action::ViewTicket {
        department_id: &t.department_id,
        customer_id: &t.customer_id,
    })?;
    let rows = tickets::attachment_rows(state.db.pool(), &t.id).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}
