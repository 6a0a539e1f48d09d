//! The request body limit (`max_body_bytes`), answered in problem+json
//! like every other refusal.
//!
//! `DefaultBodyLimit` makes axum's body extractors (`Bytes`, `String`,
//! `Json`) stop reading at the limit, but they answer with axum's own `413`
//! in `text/plain`, and only once they have read up to the limit. This
//! layer, around every route, makes both right in one place:
//!
//! - a request whose `Content-Length` is over the limit is refused before
//!   any of its body is read (a client that sent `Expect: 100-continue`
//!   never sends it at all);
//! - a body without a length (chunked) that runs over the limit is refused
//!   by the extractor as before, and its plain-text `413` is replaced by the
//!   problem.
//!
//! Tus chunks (`application/offset+octet-stream`) are the one body the
//! server does not hold in memory: the upload route streams them to the
//! store and bounds them by their upload's declared length, so they are
//! left to it. The console's image form is allowed its own, larger limit
//! ([`crate::console::form_limit`]).

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::uploads::OFFSET_OCTET_STREAM;
use crate::AppState;
use crate::error::ApiError;

/// Refuses bodies over `max_body_bytes` with a 413 problem.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let limit = crate::console::form_limit(&state.config, request.uri().path(), headers)
        .unwrap_or(state.config.max_body_bytes);
    let limit = u64::try_from(limit).unwrap_or(u64::MAX);
    let streamed = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == OFFSET_OCTET_STREAM.as_bytes());
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if !streamed && declared.is_some_and(|len| len > limit) {
        return ApiError::PayloadTooLarge.into_response();
    }
    let response = next.run(request).await;
    let problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !problem {
        return ApiError::PayloadTooLarge.into_response();
    }
    response
}
