//! The caller's own account: profile, presence and password.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Json;
use super::views::{CustomerView, UserView};
use crate::AppState;
use crate::auth::{Actor, password};
use crate::db::{customers, sessions, users};
use crate::domain::{self, Presence};
use crate::error::{ApiError, ApiResult};
use crate::work::{Effects, Work};

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub user: UserView,
    /// The customer record, for customer accounts.
    pub customer: Option<CustomerView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    pub status: Presence,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageRequest {
    /// `id` (Bahasa Indonesia) or `en`; `null` follows the device again.
    /// Required: an empty body changes nothing by accident.
    #[schema(value_type = Option<String>)]
    pub language: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = crate::error::Problem)))]
pub async fn get_me(State(state): State<AppState>, actor: Actor) -> ApiResult<Json<MeView>> {
    let user = users::get(state.db.pool(), &actor.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let customer = match &actor.customer_id {
        Some(id) => customers::get(state.db.pool(), id)
            .await?
            .map(CustomerView::from),
        None => None,
    };
    Ok(Json(MeView {
        user: UserView::new(user, actor.department_ids),
        customer,
    }))
}

/// Set the caller's presence; only `available` staff receive chats, calls and tickets.
#[utoipa::path(put, path = "/api/v1/me/status", tag = "me", security(("bearer" = [])),
    request_body = PresenceRequest,
    responses((status = 200, body = UserView), (status = 403, body = crate::error::Problem)))]
pub async fn set_status(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<PresenceRequest>,
) -> ApiResult<Json<UserView>> {
    let user = crate::accounts::staff::set_presence(&state, &actor, req.status).await?;
    Ok(Json(UserView::new(user, actor.department_ids)))
}

/// Set the caller's language (`id` or `en`): the console speaks it on
/// every device they sign in from, whatever the browser asks for.
#[utoipa::path(put, path = "/api/v1/me/language", tag = "me", security(("bearer" = [])),
    request_body = LanguageRequest,
    responses((status = 200, body = UserView), (status = 422, body = crate::error::Problem)))]
pub async fn set_language(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<LanguageRequest>,
) -> ApiResult<Json<UserView>> {
    let lang = match &req.language {
        serde_json::Value::Null => None,
        serde_json::Value::String(code) => Some(
            crate::i18n::Lang::parse(code)
                .ok_or_else(|| ApiError::field("language", t!("problem-request-language")))?,
        ),
        _ => {
            return Err(ApiError::field("language", t!("problem-request-language")));
        }
    };
    crate::accounts::preferences::set_language(&state, &actor, lang).await?;
    let user = users::get(state.db.pool(), &actor.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(UserView::new(user, actor.department_ids)))
}

/// Change the caller's password; every other session of the account ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 204), (status = 422, body = crate::error::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let new_password =
        domain::new_password(&req.new_password).map_err(|m| ApiError::field("new_password", m))?;
    let user = users::get(state.db.pool(), &actor.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if !password::verify(req.current_password, Some(user.password_hash)).await {
        return Err(ApiError::field(
            "current_password",
            t!("problem-request-password-wrong"),
        ));
    }
    let hash = password::hash(new_password).await?;
    let mut work = Work::begin(&state).await?;
    let tx = work.tx();
    users::set_password_hash(tx, &actor.user_id, &hash).await?;
    sessions::revoke_all(
        tx,
        &actor.user_id,
        Some(&actor.session_id),
        "password changed",
    )
    .await?;
    let ended = crate::sync::signed_out(
        &actor.user_id,
        crate::sync::SignedOut::AllBut(&actor.session_id),
    );
    crate::db::audit::record(
        tx,
        Some(&actor.user_id),
        "user.password_changed",
        "user",
        &actor.user_id,
        serde_json::json!({}),
    )
    .await?;
    work.respond_empty(Effects::told(vec![ended]), StatusCode::NO_CONTENT)
        .await
}
