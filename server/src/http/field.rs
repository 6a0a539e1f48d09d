//! Work on site: check-in and check-out, completion and reopening, the
//! emergency pool, extension requests and the daily attendance report.
//! Thin handlers over [`crate::visits`], which the sync executor shares.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Page, PageRequest, Path, Query};
use super::visit_views::{
    AttendanceEntryView, AttendanceReport, AttendanceView, ExtensionView, VisitView,
};
use super::visits::view;
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::{extensions as ext_db, now_ms};
use crate::domain::{self, rfc3339};
use crate::error::{ApiError, ApiResult, Problem};
use crate::visits::attendance::{self, Direction, Position};
use crate::visits::{self, claims, extensions, lifecycle, parse_day};
use crate::work::{Effects, Work};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRequest {
    /// The phone's clock at the event, RFC 3339 (e.g. `2026-11-22T08:05:00+07:00`).
    pub device_time: String,
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy radius in metres.
    pub accuracy_m: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryRequest {
    /// What was done.
    pub summary: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    pub reason: String,
    /// Return a technician who is checked in on site (refused without it):
    /// their attendance is closed with a check-out by CS.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// 1 to 30.
    pub extra_days: i64,
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttendanceParams {
    /// The day, `YYYY-MM-DD` in the sites' calendar; today when absent.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub date: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExtensionListParams {
    /// `pending`, `approved` or `rejected`.
    pub status: Option<String>,
    pub visit_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Commits a change to a visit and answers with the visit as it now is.
async fn respond_with_visit(
    mut work: Work,
    notices: Vec<crate::service::Notice>,
    visit: crate::db::visits::VisitRow,
) -> ApiResult<Json<VisitView>> {
    let body = view(&mut **work.tx(), visit).await?;
    let effects = Effects::notices(notices);
    Ok(Json(work.respond(effects, StatusCode::OK, body).await?))
}

fn reason(text: &str) -> ApiResult<String> {
    domain::bounded_text(text, 1000).map_err(|m| ApiError::field("reason", m))
}

async fn attend(
    state: &AppState,
    actor: &Actor,
    id: &Uuid,
    direction: Direction,
    req: AttendanceRequest,
) -> ApiResult<AttendanceView> {
    actor.authorize(Action::WorkVisit)?;
    let device_time: jiff::Timestamp = req
        .device_time
        .parse()
        .map_err(|_| ApiError::field("device_time", t!("problem-request-time-format")))?;
    let position = Position {
        lat: req.lat,
        lon: req.lon,
        accuracy_m: req.accuracy_m,
        device_time_ms: device_time.as_millisecond(),
        clock_skew_ms: None,
    };
    if let Err((field, message)) = position.validate(now_ms()) {
        return Err(ApiError::field(field, message));
    }
    let mut work = Work::begin(state).await?;
    let applied = attendance::attend(
        work.tx(),
        state.db.backend(),
        actor,
        &state.config.attendance,
        &id.to_string(),
        direction,
        position,
    )
    .await?;
    let body = AttendanceView::from(applied.value);
    let effects = Effects::notices(applied.notices);
    work.respond(effects, StatusCode::OK, body).await
}

/// Check in on site (holder of the assignment only). Outside the geofence is
/// accepted and flagged. The first check-in starts the visit.
#[utoipa::path(post, path = "/api/v1/visits/{id}/check-in", tag = "attendance", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AttendanceRequest,
    responses((status = 200, body = AttendanceView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn check_in(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<AttendanceRequest>,
) -> ApiResult<Json<AttendanceView>> {
    Ok(Json(attend(&state, &actor, &id, Direction::In, req).await?))
}

/// Check out from site.
#[utoipa::path(post, path = "/api/v1/visits/{id}/check-out", tag = "attendance", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AttendanceRequest,
    responses((status = 200, body = AttendanceView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn check_out(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<AttendanceRequest>,
) -> ApiResult<Json<AttendanceView>> {
    Ok(Json(
        attend(&state, &actor, &id, Direction::Out, req).await?,
    ))
}

/// Mark the visit done with a work summary (a technician holding it, or CS),
/// after check-out.
#[utoipa::path(post, path = "/api/v1/visits/{id}/complete", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SummaryRequest,
    responses((status = 200, body = VisitView), (status = 409, body = Problem)))]
pub async fn complete(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<SummaryRequest>,
) -> ApiResult<Json<VisitView>> {
    actor.authorize(Action::CompleteVisit)?;
    let summary =
        domain::bounded_text(&req.summary, 5000).map_err(|m| ApiError::field("summary", m))?;
    let mut work = Work::begin(&state).await?;
    let applied = lifecycle::complete(work.tx(), &state, &actor, &id.to_string(), &summary).await?;
    respond_with_visit(work, applied.notices, applied.value).await
}

/// Reopen a done visit.
#[utoipa::path(post, path = "/api/v1/visits/{id}/reopen", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReasonRequest,
    responses((status = 200, body = VisitView), (status = 409, body = Problem)))]
pub async fn reopen(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<ReasonRequest>,
) -> ApiResult<Json<VisitView>> {
    actor.authorize(Action::ReopenVisit)?;
    let reason = reason(&req.reason)?;
    let mut work = Work::begin(&state).await?;
    let applied = lifecycle::reopen(
        work.tx(),
        state.db.backend(),
        &actor,
        &id.to_string(),
        &reason,
    )
    .await?;
    respond_with_visit(work, applied.notices, applied.value).await
}

/// Send an (absent) technician's assignment back to the emergency pool.
#[utoipa::path(post, path = "/api/v1/assignments/{id}/return-to-pool", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReturnRequest,
    responses((status = 200, body = VisitView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn return_to_pool(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<ReturnRequest>,
) -> ApiResult<Json<VisitView>> {
    actor.authorize(Action::ReturnToPool)?;
    let reason = reason(&req.reason)?;
    let mut work = Work::begin(&state).await?;
    let applied = claims::return_to_pool(
        work.tx(),
        state.db.backend(),
        &actor,
        &state.config.attendance,
        &id.to_string(),
        &reason,
        req.force,
    )
    .await?;
    respond_with_visit(work, applied.notices, applied.value.visit).await
}

/// Ask for extra days ("tambah hari") on a visit one holds.
#[utoipa::path(post, path = "/api/v1/visits/{id}/extensions", tag = "extensions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ExtensionRequest,
    responses((status = 201, body = ExtensionView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn request_extension(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<ExtensionRequest>,
) -> ApiResult<(StatusCode, Json<ExtensionView>)> {
    actor.authorize(Action::WorkVisit)?;
    let mut work = Work::begin(&state).await?;
    let applied = extensions::request(
        work.tx(),
        state.db.backend(),
        &actor,
        &id.to_string(),
        req.extra_days,
        &req.reason,
    )
    .await?;
    let body = ExtensionView::from(applied.value);
    let effects = Effects::notices(applied.notices);
    let body = work.respond(effects, StatusCode::CREATED, body).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// Extension requests, newest first.
#[utoipa::path(get, path = "/api/v1/extensions", tag = "extensions", security(("bearer" = [])),
    params(ExtensionListParams),
    responses((status = 200, body = Page<ExtensionView>), (status = 403, body = Problem)))]
pub async fn list_extensions(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<ExtensionListParams>,
) -> ApiResult<Json<Page<ExtensionView>>> {
    actor.authorize(Action::DecideExtensions)?;
    let page = PageRequest::parse(params.limit, params.cursor.as_deref())?;
    if let Some(s) = &params.status
        && !["pending", "approved", "rejected"].contains(&s.as_str())
    {
        return Err(ApiError::field(
            "status",
            t!("problem-filter-extension-status"),
        ));
    }
    let visit_id = params.visit_id.map(|v| v.to_string());
    let rows = ext_db::list(
        state.db.pool(),
        params.status.as_deref(),
        visit_id.as_deref(),
        page.after.as_deref(),
        page.limit,
    )
    .await?;
    Ok(Json(
        Page::from_rows(rows, page.limit, |e| &e.id).map(ExtensionView::from),
    ))
}

async fn decide(
    state: &AppState,
    actor: &Actor,
    id: &Uuid,
    approve: bool,
    req: DecisionRequest,
) -> ApiResult<ExtensionView> {
    actor.authorize(Action::DecideExtensions)?;
    let note = match req.note.as_deref() {
        Some(n) => Some(domain::optional_text(n, 1000).map_err(|m| ApiError::field("note", m))?),
        None => None,
    };
    let mut work = Work::begin(state).await?;
    let applied = extensions::decide(
        work.tx(),
        state.db.backend(),
        actor,
        &id.to_string(),
        approve,
        note.as_deref().filter(|n| !n.is_empty()),
    )
    .await?;
    let body = ExtensionView::from(applied.value);
    let effects = Effects::notices(applied.notices);
    work.respond(effects, StatusCode::OK, body).await
}

/// Approve a pending request: the visit's planned days grow.
#[utoipa::path(post, path = "/api/v1/extensions/{id}/approve", tag = "extensions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = DecisionRequest,
    responses((status = 200, body = ExtensionView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve_extension(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<Json<ExtensionView>> {
    Ok(Json(decide(&state, &actor, &id, true, req).await?))
}

/// Reject a pending request.
#[utoipa::path(post, path = "/api/v1/extensions/{id}/reject", tag = "extensions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = DecisionRequest,
    responses((status = 200, body = ExtensionView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reject_extension(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<Json<ExtensionView>> {
    Ok(Json(decide(&state, &actor, &id, false, req).await?))
}

/// Who is expected on site on a day, who checked in where, who is late,
/// who is absent.
#[utoipa::path(get, path = "/api/v1/attendance", tag = "attendance", security(("bearer" = [])),
    params(AttendanceParams),
    responses((status = 200, body = AttendanceReport), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<AttendanceParams>,
) -> ApiResult<Json<AttendanceReport>> {
    actor.authorize(Action::ViewAttendance)?;
    let rules = &state.config.attendance;
    let now = now_ms();
    let day = match params.date.as_deref() {
        Some(d) => parse_day(d).map_err(|m| ApiError::field("date", m))?,
        None => rules.today(now),
    };
    let entries = attendance::report(&state.db, rules, day, now).await?;
    let late_after = day * 86_400_000 - rules.utc_offset_minutes * 60_000
        + (rules.workday_start_minute + rules.late_grace_minutes.max(0)) * 60_000;
    Ok(Json(AttendanceReport {
        date: visits::day_to_date(day),
        late_after: rfc3339(late_after),
        entries: entries.into_iter().map(AttendanceEntryView::from).collect(),
    }))
}
