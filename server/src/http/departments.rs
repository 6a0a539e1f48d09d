//! Departments (teams): staff read them, admins manage them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path, nullable};
use super::views::DepartmentView;
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::{self, audit, departments, users};
use crate::domain::{self, Validator};
use crate::error::{ApiError, ApiResult};
use crate::work::{Effects, Work};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartmentRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDepartmentRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    /// The lead receives escalations; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub lead_user_id: Option<Option<Uuid>>,
}

/// Every department, by name.
#[utoipa::path(get, path = "/api/v1/departments", tag = "departments", security(("bearer" = [])),
    responses((status = 200, body = Vec<DepartmentView>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<DepartmentView>>> {
    actor.authorize(Action::ListDepartments)?;
    let rows = departments::list(&state.db).await?;
    Ok(Json(rows.into_iter().map(DepartmentView::from).collect()))
}

/// Create a department.
#[utoipa::path(post, path = "/api/v1/departments", tag = "departments", security(("bearer" = [])),
    request_body = CreateDepartmentRequest,
    responses((status = 201, body = DepartmentView), (status = 409, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateDepartmentRequest>,
) -> ApiResult<(StatusCode, Json<DepartmentView>)> {
    actor.authorize(Action::ManageDepartments)?;
    let mut v = Validator::new();
    let name = v.check("name", domain::line(&req.name, 100));
    let description = v.check("description", domain::optional_text(&req.description, 1000));
    v.finish()?;
    let mut work = Work::begin(&state).await?;
    let tx = work.tx();
    let id = departments::insert(tx, &name, &description)
        .await
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                ApiError::duplicate("name")
            } else {
                e.into()
            }
        })?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "department.created",
        "department",
        &id,
        serde_json::json!({}),
    )
    .await?;
    let row = departments::get(&mut **tx, &id)
        .await?
        .ok_or(ApiError::NotFound("department"))?;
    let body = work
        .respond(
            Effects::none(),
            StatusCode::CREATED,
            DepartmentView::from(row),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// Rename a department, describe it or set its lead.
#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "departments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateDepartmentRequest,
    responses((status = 200, body = DepartmentView), (status = 404, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateDepartmentRequest>,
) -> ApiResult<Json<DepartmentView>> {
    actor.authorize(Action::ManageDepartments)?;
    let id = id.to_string();
    let mut v = Validator::new();
    let name = req
        .name
        .as_deref()
        .map(|n| v.check("name", domain::line(n, 100)));
    let description = req
        .description
        .as_deref()
        .map(|d| v.check("description", domain::optional_text(d, 1000)));
    v.finish()?;
    let lead = req.lead_user_id.map(|l| l.map(|u| u.to_string()));
    if let Some(Some(lead)) = &lead {
        let user = users::get(state.db.pool(), lead).await?;
        if !user.is_some_and(|u| u.role.is_staff()) {
            return Err(ApiError::field("lead_user_id", "must be a staff member"));
        }
    }
    let mut work = Work::begin(&state).await?;
    let tx = work.tx();
    let changed = departments::update(
        tx,
        &id,
        name.as_deref(),
        description.as_deref(),
        lead.as_ref().map(|l| l.as_deref()),
    )
    .await
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            ApiError::duplicate("name")
        } else {
            e.into()
        }
    })?;
    if changed == 0 {
        return Err(ApiError::NotFound("department"));
    }
    audit::record(
        tx,
        Some(&actor.user_id),
        "department.updated",
        "department",
        &id,
        serde_json::json!({}),
    )
    .await?;
    let row = departments::get(&mut **tx, &id)
        .await?
        .ok_or(ApiError::NotFound("department"))?;
    let body = work
        .respond(Effects::none(), StatusCode::OK, DepartmentView::from(row))
        .await?;
    Ok(Json(body))
}
