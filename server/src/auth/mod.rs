//! Identity: password hashing, tokens, the authenticated-caller extractor and
//! the one policy that decides who may do what.

pub mod cache;
pub mod password;
pub mod policy;
pub mod throttle;
pub mod tokens;

pub(crate) mod extract;

pub use extract::{Actor, authenticate};
pub use policy::{Action, VisitScope};

/// Whose idempotency keys a request uses: its user when the bearer token is
/// valid, otherwise the shared anonymous scope.
pub fn tokens_scope(state: &crate::AppState, headers: &axum::http::HeaderMap) -> String {
    extract::bearer(headers)
        .and_then(|t| state.tokens.verify_access(t))
        .map_or_else(|| "anonymous".to_owned(), |c| format!("user:{}", c.sub))
}
