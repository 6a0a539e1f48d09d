//! The authenticated caller, extracted from `Authorization: Bearer <jwt>`.
//!
//! The token's signature and expiry are checked first; then the user and the
//! device session are read from the database (or from the short-lived
//! [`CallerCache`](super::cache::CallerCache), which every account change
//! clears), so that a deactivated account, a changed role or a revoked
//! session takes effect at once, not at token expiry.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::AppState;
use crate::domain::{Actor, Status};
use crate::error::ApiError;

/// The bearer token of a request, if it has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Checks an access token and loads who it belongs to.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Actor, ApiError> {
    let claims = state
        .tokens
        .verify_access(token)
        .ok_or_else(|| ApiError::Unauthorized(t!("problem-auth-token-invalid")))?;
    // No round trip while the caller is cached, and misses that arrive
    // together share one (`auth::cache`).
    let user = state
        .callers
        .load(&state.db, &claims.sub, &claims.sid)
        .await?;
    let user = user.ok_or_else(|| ApiError::Unauthorized(t!("problem-auth-inactive")))?;
    // The token proves who this is: they learn their account is switched
    // off (a deactivated colleague, a soft-deleted customer), not merely
    // that the token stopped working.
    if user.status != Status::Active {
        return Err(ApiError::ForbiddenBecause {
            kind: "account-inactive",
            detail: t!("problem-sign-in-account-inactive"),
        });
    }
    if !user.session_live {
        return Err(ApiError::Unauthorized(t!("problem-auth-session-ended")));
    }
    // The rest of the request answers in the person's saved language,
    // unless its `Accept-Language` chose one.
    crate::i18n::prefer(user.language.as_deref().and_then(crate::i18n::Lang::parse));
    Ok(Actor {
        user_id: user.id,
        session_id: claims.sid,
        role: user.role,
        name: user.name,
        customer_id: user.customer_id,
        department_ids: user.department_ids,
    })
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::Unauthorized(t!("problem-auth-no-token")))?;
        authenticate(state, token).await
    }
}
