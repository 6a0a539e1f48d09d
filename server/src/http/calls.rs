//! The call log over HTTP. Calls themselves are signalled over the sockets
//! (`/api/v1/sync` for phones, `/api/v1/events` for consoles; see
//! [`crate::calls`]); this module parses, calls and renders.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Query};
use crate::AppState;
use crate::auth::Actor;
use crate::calls::{self, CallView};
use crate::db::calls::LogFilter;
use crate::error::ApiResult;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Calls about this ticket.
    pub ticket_id: Option<String>,
    /// Calls with this customer.
    pub customer_id: Option<String>,
    /// Calls of this staff member.
    pub agent_id: Option<String>,
    /// The id of the last call of the previous page (newest first).
    pub before: Option<String>,
    /// At most this many (1–200, default 50).
    pub limit: Option<i64>,
}

/// The call log, newest first: who called whom, when, how long, how it
/// ended. Admins read every call, CS their departments'.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", security(("bearer" = [])), params(LogParams),
    responses((status = 200, body = Vec<CallView>), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn log(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<LogParams>,
) -> ApiResult<Json<Vec<CallView>>> {
    let filter = LogFilter {
        ticket_id: params.ticket_id,
        customer_id: params.customer_id,
        agent_id: params.agent_id,
        departments: None,
        before: params.before,
        limit: params.limit.unwrap_or(50),
    };
    Ok(Json(calls::log(&state, &actor, filter).await?))
}

/// A device's push token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PushTokenRequest {
    /// `fcm` (Android) or `apns_voip` (iOS, a PushKit VoIP token).
    pub platform: String,
    pub token: String,
}

/// Register this device's push token: calls then ring it even without a
/// live connection (one token per device session; it ends with the session).
#[utoipa::path(put, path = "/api/v1/me/push-token", tag = "calls", security(("bearer" = [])),
    request_body = PushTokenRequest,
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_push_token(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<PushTokenRequest>,
) -> ApiResult<axum::http::StatusCode> {
    calls::register_push(&state, &actor, &req.platform, &req.token).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Forget this device's push token.
#[utoipa::path(delete, path = "/api/v1/me/push-token", tag = "calls", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem)))]
pub async fn delete_push_token(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<axum::http::StatusCode> {
    calls::forget_push(&state, &actor).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
