//! `Idempotency-Key` on POST requests: the same key with the same body returns
//! the stored response without running the handler again; the same key with
//! another body is a 422. Keys are scoped to the caller and kept for 24 hours.
//!
//! The response is stored after the handler's transaction commits. A crash in
//! between leaves the key "in progress" (409) until it expires, which is safe
//! (no second effect) but not ideal; commands on the sync path record their
//! results in the same transaction instead.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use crate::AppState;
use crate::db::idempotency;
use crate::error::ApiError;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key is remembered.
pub const TTL_MS: i64 = 24 * 3600 * 1000;

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) => k.to_owned(),
        _ => {
            return ApiError::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
            .into_response();
        }
    };
    match run(&state, key, request, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn run(
    state: &AppState,
    key: String,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let scope = crate::auth::tokens_scope(state, request.headers());
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path());
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = format!("{:x}", hasher.finalize());

    if !idempotency::claim(&state.db, &scope, &key, &request_hash).await? {
        let stored = idempotency::get(&state.db, &scope, &key).await?;
        return match stored {
            Some(s) if s.request_hash != request_hash => Err(ApiError::Unprocessable {
                kind: "idempotency-key-reused",
                detail: "this Idempotency-Key was used with a different request".into(),
            }),
            Some(idempotency::StoredResponse {
                status: Some(status),
                content_type,
                body,
                ..
            }) => Ok(replay(status, content_type, body.unwrap_or_default())),
            _ => Err(ApiError::conflict(
                "idempotency-in-progress",
                "a request with this Idempotency-Key is still being processed",
            )),
        };
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if response.status().is_server_error() {
        idempotency::release(&state.db, &scope, &key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| anyhow::anyhow!("buffering a response: {e}"))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    idempotency::complete(
        &state.db,
        &scope,
        &key,
        parts.status.as_u16(),
        content_type,
        &body,
    )
    .await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn replay(status: i64, content_type: Option<String>, body: Vec<u8>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, Bytes::from(body)).into_response();
    let headers = response.headers_mut();
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
