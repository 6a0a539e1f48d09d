//! Visits: CS create and edit them, technicians see the pool and claim seats.
//! Thin handlers over [`crate::visits`], which the sync executor shares.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::AppendHeaders;
use serde::Deserialize;
use sqlx::AnyExecutor;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Page, PageRequest, Path, Query, nullable};
use super::visit_views::{ClaimView, Site, VisitView};
use crate::AppState;
use crate::auth::{Action, Actor, VisitScope};
use crate::db::assignments;
use crate::db::visits::{self as visit_db, VisitFilter, VisitRow, VisitStatus};
use crate::domain::{self, GeoPoint, Validator};
use crate::error::{ApiError, ApiResult, Problem};
use crate::visits::{self, claims, lifecycle, parse_day};
use crate::work::{Effects, Work};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitListParams {
    /// `open`, `assigned`, `in_progress`, `done` or `cancelled`.
    pub status: Option<String>,
    pub customer_id: Option<Uuid>,
    /// Visits this technician holds.
    pub technician_id: Option<Uuid>,
    /// Only visits open for claims.
    pub pool: Option<bool>,
    /// Visits planned on or after this day (`YYYY-MM-DD`).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: Option<String>,
    /// Visits planned on or before this day (`YYYY-MM-DD`).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: Option<String>,
    /// `lat,lon`: sort by distance from here (then by date), no paging.
    pub near: Option<String>,
    /// With `near`: only visits within this many kilometres.
    pub within_km: Option<f64>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVisitRequest {
    pub customer_id: Uuid,
    /// The ticket this visit serves, if any.
    pub ticket_id: Option<String>,
    pub department_id: Option<Uuid>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub site: Site,
    /// First day, `YYYY-MM-DD`.
    pub scheduled_start: String,
    /// 1 to 366 (default 1).
    pub planned_days: Option<i64>,
    /// Technicians needed, 1 to 100.
    pub technician_quota: i64,
    /// Admins only: backfill a visit whose start is already past (a
    /// `scheduled_start` before today is refused otherwise).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVisitRequest {
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub ticket_id: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub department_id: Option<Option<Uuid>>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub site: Option<Site>,
    pub scheduled_start: Option<String>,
    pub planned_days: Option<i64>,
    pub technician_quota: Option<i64>,
    /// Admins only: change the schedule or site of a visit technicians hold.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelVisitRequest {
    pub reason: String,
    /// Admins only: cancel although technicians hold it (they are released).
    #[serde(default)]
    pub force: bool,
}

/// The view of a visit with its assignments.
/// A visit as the API shows it; `ex` is the pool, or the transaction that
/// changed the visit (a response is rendered before its change commits).
pub(crate) async fn view(ex: impl AnyExecutor<'_>, row: VisitRow) -> ApiResult<VisitView> {
    let assignments = assignments::for_visits(ex, &[row.id.as_str()]).await?;
    Ok(VisitView::new(row, assignments, None))
}

async fn load(state: &AppState, id: &Uuid) -> ApiResult<VisitRow> {
    visit_db::get(state.db.pool(), &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("visit"))
}

fn parse_near(near: &str) -> Option<(f64, f64)> {
    let (lat, lon) = near.split_once(',')?;
    let p = GeoPoint {
        lat: lat.trim().parse().ok()?,
        lon: lon.trim().parse().ok()?,
    };
    p.validate().ok().map(|p| (p.lat, p.lon))
}

/// List visits with filters; technicians see the pool and what they hold,
/// customers their own visits. With `near`, nearest first (then soonest).
#[utoipa::path(get, path = "/api/v1/visits", tag = "visits", security(("bearer" = [])), params(VisitListParams),
    responses((status = 200, body = Page<VisitView>), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<VisitListParams>,
) -> ApiResult<Json<Page<VisitView>>> {
    actor.authorize(Action::ListVisits)?;
    let page = PageRequest::parse(params.limit, params.cursor.as_deref())?;
    let mut v = Validator::new();
    let status = match params.status.as_deref() {
        None => None,
        Some(s) => match s.parse::<VisitStatus>() {
            Ok(status) => Some(status),
            Err(_) => {
                v.add("status", t!("problem-filter-visit-status"));
                None
            }
        },
    };
    let from_day = params
        .from
        .as_deref()
        .map(|d| v.check("from", parse_day(d)));
    let to_day = params.to.as_deref().map(|d| v.check("to", parse_day(d)));
    let near = params.near.as_deref().map(|n| {
        v.check(
            "near",
            parse_near(n)
                .map(Some)
                .ok_or_else(|| t!("problem-filter-near")),
        )
    });
    if params
        .within_km
        .is_some_and(|k| !(k.is_finite() && k > 0.0 && k <= 20_000.0))
    {
        v.add("within_km", t!("problem-filter-within-km"));
    }
    v.finish()?;
    let near = near.flatten();
    let mut filter = VisitFilter {
        status,
        customer_id: params.customer_id.map(|c| c.to_string()),
        technician_id: params.technician_id.map(|t| t.to_string()),
        pool_only: params.pool.unwrap_or(false),
        from_day,
        to_day,
        ..VisitFilter::default()
    };
    match actor.visit_scope() {
        VisitScope::All => {}
        VisitScope::PoolOrHeldBy(user) => filter.pool_or_held_by = Some(user),
        VisitScope::Customer(own) => {
            if filter.customer_id.as_ref().is_some_and(|c| *c != own) {
                return Ok(Json(Page::from_rows(
                    vec![],
                    page.limit,
                    |v: &VisitView| &v.id,
                )));
            }
            filter.customer_id = Some(own);
        }
        VisitScope::Nothing => {
            return Ok(Json(Page::from_rows(
                vec![],
                page.limit,
                |v: &VisitView| &v.id,
            )));
        }
    }
    let (rows, distances, next_cursor) = match near {
        Some(point) => {
            let rows = visits::nearest(
                &state.db,
                filter,
                point,
                params.within_km,
                page.limit as usize,
            )
            .await?;
            let (d, r): (Vec<_>, Vec<_>) = rows.into_iter().map(|(d, r)| (Some(d), r)).unzip();
            (r, d, None)
        }
        None => {
            let rows =
                visit_db::list(state.db.pool(), &filter, page.after.as_deref(), page.limit).await?;
            let paged = Page::from_rows(rows, page.limit, |v| &v.id);
            let d = vec![None; paged.items.len()];
            (paged.items, d, paged.next_cursor)
        }
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut all = assignments::for_visits(state.db.pool(), &ids).await?;
    let items = rows
        .into_iter()
        .zip(distances)
        .map(|(row, d)| {
            let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|a| a.visit_id == row.id);
            all = rest;
            VisitView::new(row, mine, d)
        })
        .collect();
    Ok(Json(Page { items, next_cursor }))
}

/// Create a visit in the pool.
#[utoipa::path(post, path = "/api/v1/visits", tag = "visits", security(("bearer" = [])),
    request_body = CreateVisitRequest,
    responses((status = 201, body = VisitView), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateVisitRequest>,
) -> ApiResult<(
    StatusCode,
    AppendHeaders<[(header::HeaderName, String); 1]>,
    Json<VisitView>,
)> {
    let input = lifecycle::VisitInput {
        customer_id: req.customer_id.to_string(),
        ticket_id: req.ticket_id,
        department_id: req.department_id.map(|d| d.to_string()),
        title: req.title,
        description: req.description,
        site: req.site,
        scheduled_start: req.scheduled_start,
        planned_days: req.planned_days.unwrap_or(1),
        technician_quota: req.technician_quota,
    };
    let mut work = Work::begin(&state).await?;
    let rules = &state.config.attendance;
    let applied = lifecycle::create(work.tx(), &actor, rules, &input, req.force).await?;
    let location = format!("/api/v1/visits/{}", applied.value.id);
    let body = view(&mut **work.tx(), applied.value).await?;
    let body = work
        .respond(Effects::notices(applied.notices), StatusCode::CREATED, body)
        .await?;
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(header::LOCATION, location)]),
        Json(body),
    ))
}

/// One visit with its assignments: for staff, its customer, the technicians
/// who hold it now, and, while it is in the pool, every technician (the view
/// the pool list gives). One who withdrew or was returned is refused once the
/// visit leaves the pool.
#[utoipa::path(get, path = "/api/v1/visits/{id}", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<VisitView>> {
    let row = load(&state, &id).await?;
    let holder = assignments::holds(state.db.pool(), &row.id, &actor.user_id).await?;
    actor.authorize(Action::ViewVisit {
        customer_id: &row.customer_id,
        in_pool: row.in_pool(),
        holder,
    })?;
    Ok(Json(view(state.db.pool(), row).await?))
}

/// Edit a visit. Schedule and site are frozen once claimed (409
/// `visit_claimed`) unless an admin sends `force: true` (audited).
#[utoipa::path(patch, path = "/api/v1/visits/{id}", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateVisitRequest,
    responses((status = 200, body = VisitView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateVisitRequest>,
) -> ApiResult<Json<VisitView>> {
    let edit = lifecycle::VisitEdit {
        ticket_id: req.ticket_id,
        department_id: req.department_id.map(|d| d.map(|d| d.to_string())),
        title: req.title,
        description: req.description,
        site: req.site,
        scheduled_start: req.scheduled_start,
        planned_days: req.planned_days,
        technician_quota: req.technician_quota,
    };
    let mut work = Work::begin(&state).await?;
    let applied = lifecycle::update(
        work.tx(),
        state.db.backend(),
        &actor,
        &state.config.attendance,
        &id.to_string(),
        edit,
        req.force,
    )
    .await?;
    let body = view(&mut **work.tx(), applied.value).await?;
    let effects = Effects::notices(applied.notices);
    Ok(Json(work.respond(effects, StatusCode::OK, body).await?))
}

/// Cancel a visit nobody has claimed (409 `visit_claimed` otherwise, unless
/// an admin forces it).
#[utoipa::path(post, path = "/api/v1/visits/{id}/cancel", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CancelVisitRequest,
    responses((status = 200, body = VisitView), (status = 409, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<CancelVisitRequest>,
) -> ApiResult<Json<VisitView>> {
    actor.authorize(Action::ManageVisits)?;
    let reason =
        domain::bounded_text(&req.reason, 1000).map_err(|m| ApiError::field("reason", m))?;
    let mut work = Work::begin(&state).await?;
    let applied = lifecycle::cancel(
        work.tx(),
        state.db.backend(),
        &actor,
        &id.to_string(),
        &reason,
        req.force,
    )
    .await?;
    let body = view(&mut **work.tx(), applied.value).await?;
    let effects = Effects::notices(applied.notices);
    Ok(Json(work.respond(effects, StatusCode::OK, body).await?))
}

/// Claim a seat (first come, first served). 409 with `quota_full`,
/// `already_claimed`, `schedule_conflict` or `cancelled` when refused.
#[utoipa::path(post, path = "/api/v1/visits/{id}/claim", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ClaimView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn claim(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ClaimView>> {
    actor.authorize(Action::ClaimVisit)?;
    let visit_id = id.to_string();
    // Losers are told here, before the writer (`visits::gate`).
    let admitted = state.claim_gate.pass(&state.db, &actor, &visit_id).await?;
    let mut work = Work::begin(&state).await?;
    let applied = claims::claim(work.tx(), state.db.backend(), &actor, &visit_id).await?;
    let seat = applied.value;
    let body = ClaimView {
        assignment_id: seat.assignment_id,
        visit: view(&mut **work.tx(), seat.visit).await?,
    };
    let effects = Effects::notices(applied.notices);
    let body = work.respond(effects, StatusCode::OK, body).await?;
    drop(admitted);
    Ok(Json(body))
}

/// Give a claimed seat back before checking in.
#[utoipa::path(post, path = "/api/v1/visits/{id}/withdraw", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitView), (status = 409, body = Problem)))]
pub async fn withdraw(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<VisitView>> {
    actor.authorize(Action::WorkVisit)?;
    let mut work = Work::begin(&state).await?;
    let applied = claims::withdraw(work.tx(), state.db.backend(), &actor, &id.to_string()).await?;
    let body = view(&mut **work.tx(), applied.value.visit).await?;
    let effects = Effects::notices(applied.notices);
    Ok(Json(work.respond(effects, StatusCode::OK, body).await?))
}
