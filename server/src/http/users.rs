//! User management: admins manage everyone, CS enrol and look after technicians.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Page, PageRequest, Path, Query, nullable};
use super::views::UserView;
use crate::AppState;
use crate::accounts::staff;
use crate::auth::{Action, Actor};
use crate::db::users;
use crate::domain::{Role, Status};
use crate::error::{ApiError, ApiResult};
use crate::work::{Effects, Work};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    pub role: Option<Role>,
    pub status: Option<Status>,
    pub department_id: Option<Uuid>,
    /// Matches name or e-mail.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    /// Staff roles only; customers register themselves or are created as customers.
    pub role: Role,
    pub password: String,
    #[serde(default)]
    pub department_ids: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    pub role: Option<Role>,
    pub department_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The new password; if absent (send `{}`) a temporary one is generated and returned once.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetPasswordResponse {
    /// Present when the server generated the password.
    pub temporary_password: Option<String>,
}

async fn load(state: &AppState, id: &Uuid) -> ApiResult<users::UserRow> {
    users::get(state.db.pool(), &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("user"))
}

/// A user as the API shows it, read from the pool or the changing transaction.
async fn view(ex: impl sqlx::AnyExecutor<'_>, row: users::UserRow) -> ApiResult<UserView> {
    let department_ids = users::department_ids(ex, &row.id).await?;
    Ok(UserView::new(row, department_ids))
}

/// List users, newest first.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(UserListParams),
    responses((status = 200, body = Page<UserView>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<UserListParams>,
) -> ApiResult<Json<Page<UserView>>> {
    actor.authorize(Action::ListUsers)?;
    let page = PageRequest::parse(params.limit, params.cursor.as_deref())?;
    let search = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::field(
            "q",
            t!("problem-filter-text-too-long", max = 100),
        ));
    }
    let filter = users::UserFilter {
        role: params.role,
        status: params.status,
        department_id: params.department_id.map(|d| d.to_string()),
        search: search.map(str::to_owned),
    };
    let rows = users::list(&state.db, &filter, page.after.as_deref(), page.limit).await?;
    let page = Page::from_rows(rows, page.limit, |u| &u.id);
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        items.push(view(state.db.pool(), row).await?);
    }
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Create a staff account.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let enrolment = staff::Enrolment {
        email: req.email,
        name: req.name,
        phone: req.phone,
        role: req.role,
        password: req.password,
        department_ids: req.department_ids.iter().map(Uuid::to_string).collect(),
    };
    let new = staff::prepare(&state, &actor, enrolment).await?;
    let mut work = Work::begin(&state).await?;
    let row = staff::create(work.tx(), Some(&actor.user_id), new.clone()).await?;
    let body = UserView::new(row, new.department_ids);
    let body = work
        .respond(Effects::none(), StatusCode::CREATED, body)
        .await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    actor.authorize(Action::ViewUser {
        user_id: &id.to_string(),
    })?;
    let row = load(&state, &id).await?;
    Ok(Json(view(state.db.pool(), row).await?))
}

/// Change a user's name, phone, role or departments.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = UserView), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserView>> {
    let edit = staff::Edit {
        name: req.name,
        phone: req.phone,
        role: req.role,
        department_ids: req
            .department_ids
            .map(|ids| ids.iter().map(Uuid::to_string).collect()),
    };
    let mut work = Work::begin(&state).await?;
    let (row, effects) = staff::update(work.tx(), &state, &actor, &id.to_string(), edit).await?;
    let body = view(&mut **work.tx(), row).await?;
    let body = work.respond(effects, StatusCode::OK, body).await?;
    Ok(Json(body))
}

async fn set_status(
    state: &AppState,
    actor: &Actor,
    id: &Uuid,
    status: Status,
) -> ApiResult<UserView> {
    let mut work = Work::begin(state).await?;
    let (row, effects) = staff::set_status(
        work.tx(),
        state.db.backend(),
        actor,
        &id.to_string(),
        status,
    )
    .await?;
    let body = view(&mut **work.tx(), row).await?;
    work.respond(effects, StatusCode::OK, body).await
}

/// Deactivate an account: it can no longer log in and its sessions end. Nothing is erased.
#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 409, body = crate::error::Problem)))]
pub async fn deactivate(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        set_status(&state, &actor, &id, Status::Inactive).await?,
    ))
}

/// Reactivate a deactivated account.
#[utoipa::path(post, path = "/api/v1/users/{id}/activate", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView)))]
pub async fn activate(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(set_status(&state, &actor, &id, Status::Active).await?))
}

/// Reset another user's password; their sessions end. One's own password
/// changes at `POST /me/password` (409 `own-password` here).
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ResetPasswordRequest,
    responses((status = 200, body = ResetPasswordResponse), (status = 409, body = crate::error::Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<ResetPasswordRequest>,
) -> ApiResult<Json<ResetPasswordResponse>> {
    let temporary_password =
        staff::reset_password(&state, &actor, &id.to_string(), req.password).await?;
    Ok(Json(ResetPasswordResponse { temporary_password }))
}
