//! Agents' shifts for round-robin assignment: outside their shift an
//! `available` agent receives no new tickets or chats.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path};
use crate::AppState;
use crate::auth::Actor;
use crate::error::ApiResult;
use crate::helpdesk::assignment;
use crate::work::{Effects, Work};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftRequest {
    /// `HH:MM` in the SLA calendar's time zone; both `null` = any time.
    pub start: Option<String>,
    /// `HH:MM`; before `start` means the shift runs past midnight.
    pub end: Option<String>,
}

/// Set or clear a staff member's shift.
#[utoipa::path(put, path = "/api/v1/users/{id}/shift", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ShiftRequest,
    responses((status = 200, body = ShiftRequest), (status = 422, body = crate::error::Problem)))]
pub async fn set_shift(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<ShiftRequest>,
) -> ApiResult<Json<ShiftRequest>> {
    let mut work = Work::begin(&state).await?;
    assignment::set_shift(
        work.tx(),
        &actor,
        &id.to_string(),
        req.start.as_deref(),
        req.end.as_deref(),
    )
    .await?;
    work.commit(Effects::none()).await?;
    state.helpdesk.wake.notify_one();
    Ok(Json(req))
}
