//! Settings over HTTP (admins): read them all, replace one group. The
//! rules are [`crate::settings`]'; this module parses, calls and renders.

use axum::extract::State;
use axum::http::StatusCode;

use super::extract::Json;
use crate::AppState;
use crate::auth::Actor;
use crate::error::ApiResult;
use crate::helpdesk::sla::SlaSettings;
use crate::settings::{self, AssignmentSettings, Group, RatingSettings, Settings};
use crate::work::{Effects, Work};

/// Every setting in force: the configuration file's defaults, overlaid
/// with what admins saved.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = Settings), (status = 403, body = crate::error::Problem)))]
pub async fn get(State(state): State<AppState>, actor: Actor) -> ApiResult<Json<Settings>> {
    Ok(Json(settings::current(&state, &actor)?))
}

async fn put<G: Group>(state: &AppState, actor: &Actor, value: G) -> ApiResult<Json<G>> {
    let mut work = Work::begin(state).await?;
    let applied = settings::update(work.tx(), state, actor, value).await?;
    let body = work
        .respond(
            Effects::told(applied.notices),
            StatusCode::OK,
            applied.value,
        )
        .await?;
    settings::applied(state).await?;
    Ok(Json(body))
}

/// Replace the SLA calendar (time zone, working days, hours, holidays) and
/// the targets per priority. New deadlines follow at once; a ticket's
/// stored deadlines move at its next change.
#[utoipa::path(put, path = "/api/v1/settings/sla", tag = "settings", security(("bearer" = [])),
    request_body = SlaSettings,
    responses((status = 200, body = SlaSettings), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn put_sla(
    State(state): State<AppState>,
    actor: Actor,
    Json(value): Json<SlaSettings>,
) -> ApiResult<Json<SlaSettings>> {
    put(&state, &actor, value).await
}

/// Switch round-robin for tickets and for chats on or off.
#[utoipa::path(put, path = "/api/v1/settings/assignment", tag = "settings", security(("bearer" = [])),
    request_body = AssignmentSettings,
    responses((status = 200, body = AssignmentSettings), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn put_assignment(
    State(state): State<AppState>,
    actor: Actor,
    Json(value): Json<AssignmentSettings>,
) -> ApiResult<Json<AssignmentSettings>> {
    put(&state, &actor, value).await
}

/// When customers are asked to rate, and with which WhatsApp template.
#[utoipa::path(put, path = "/api/v1/settings/ratings", tag = "settings", security(("bearer" = [])),
    request_body = RatingSettings,
    responses((status = 200, body = RatingSettings), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn put_ratings(
    State(state): State<AppState>,
    actor: Actor,
    Json(value): Json<RatingSettings>,
) -> ApiResult<Json<RatingSettings>> {
    put(&state, &actor, value).await
}
