//! Agents' shifts for round-robin assignment: outside their shift an
//! `available` agent receives no new tickets or chats.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path};
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::{audit, users};
use crate::error::{ApiError, ApiResult};
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

fn minutes(field: &str, v: &str) -> ApiResult<i64> {
    let t = jiff::civil::Time::strptime("%H:%M", v.trim())
        .map_err(|_| ApiError::field(field, "must be HH:MM"))?;
    Ok(i64::from(t.hour()) * 60 + i64::from(t.minute()))
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
    actor.authorize(Action::ManageShifts)?;
    let user = users::get(state.db.pool(), &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if !user.role.is_staff() {
        return Err(ApiError::field("id", "customers have no shift"));
    }
    let shift = match (&req.start, &req.end) {
        (None, None) => None,
        (Some(s), Some(e)) => {
            let (s, e) = (minutes("start", s)?, minutes("end", e)?);
            if s == e {
                return Err(ApiError::field("end", "must differ from start"));
            }
            Some((s, e))
        }
        _ => {
            return Err(ApiError::field(
                "end",
                "give both start and end, or neither",
            ));
        }
    };
    let mut work = Work::begin(&state).await?;
    let tx = work.tx();
    assignment::set_shift(tx, &user.id, shift).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "user.shift_set",
        "user",
        &user.id,
        serde_json::json!({ "start": req.start, "end": req.end }),
    )
    .await?;
    work.commit(Effects::none()).await?;
    state.helpdesk.wake.notify_one();
    Ok(Json(req))
}
