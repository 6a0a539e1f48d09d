//! Departments (teams): staff read them, admins manage them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path, nullable};
use super::views::DepartmentView;
use crate::AppState;
use crate::accounts::departments as service;
use crate::auth::{Action, Actor};
use crate::db::departments;
use crate::error::ApiResult;
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
    let mut work = Work::begin(&state).await?;
    let row = service::create(work.tx(), &actor, &req.name, &req.description).await?;
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
    let edit = service::Edit {
        name: req.name,
        description: req.description,
        lead_user_id: req.lead_user_id.map(|l| l.map(|u| u.to_string())),
    };
    let mut work = Work::begin(&state).await?;
    let row = service::update(work.tx(), &actor, &id.to_string(), edit).await?;
    let body = work
        .respond(Effects::none(), StatusCode::OK, DepartmentView::from(row))
        .await?;
    Ok(Json(body))
}
