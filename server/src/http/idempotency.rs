//! `Idempotency-Key` on POST requests: a retry with the same key and body
//! gets the stored response (`Idempotent-Replayed: true`) without running
//! the request again; the same key with another body is a 422. Keys belong
//! to the signed-in account and are kept for 24 hours.
//!
//! # Exactly once, even across a crash
//!
//! A request first takes a **lease** on its key: a row with a random token
//! that is its own for a few seconds (`idempotency_lease_ms`, 5 s). The write the request makes stores the
//! response under the key **in its own transaction**, and only while the
//! token still holds the lease (`crate::work`). So:
//!
//! * killed or cut off before its commit: nothing was written; the lease
//!   runs out within seconds and a retry runs the request afresh;
//! * killed after its commit: the response is stored; a retry replays it;
//! * a retry while the first copy still runs: 409 with `Retry-After` until
//!   the lease ends; if the first copy then commits, its response is
//!   replayed; if a slow first copy outlives its lease, the retry takes the
//!   key over and the first copy's commit is refused and rolled back.
//!
//! Requests refused before writing anything (4xx) store their answer after
//! the handler returns, under the same lease; a server error frees the key.
//!
//! # Who may use a key
//!
//! Only a caller with a valid session: the key is scoped to the account, and
//! a replay authenticates the caller again, so a session that has since
//! ended gets 401, not the stored response. Anonymous requests and the
//! authentication endpoints (which mint secrets that must never be stored)
//! ignore the header.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use crate::AppState;
use crate::db::{idempotency, now_ms};
use crate::error::ApiError;
use crate::work;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key is remembered.
pub const TTL_MS: i64 = 24 * 3600 * 1000;

/// Routes that never take an idempotency key: their responses carry
/// secrets (tokens, a temporary password), which must not be stored.
fn unkeyed(path: &str) -> bool {
    path.starts_with("/api/v1/auth/") || path.ends_with("/reset-password")
}

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || unkeyed(request.uri().path()) {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) => k.to_owned(),
        _ => {
            return ApiError::field("Idempotency-Key", t!("problem-idempotency-key-format"))
                .into_response();
        }
    };
    // Only a signed-in caller's key counts, and a replay checks the caller
    // again; otherwise the handler answers (401 where it needs a caller).
    let token = crate::auth::extract::bearer(request.headers()).map(str::to_owned);
    let actor = match token {
        Some(token) => crate::auth::authenticate(&state, &token).await.ok(),
        None => None,
    };
    let Some(actor) = actor else {
        return next.run(request).await;
    };
    let scope = format!("user:{}", actor.user_id);
    match run(&state, scope, key, request, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn run(
    state: &AppState,
    scope: String,
    key: String,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let request_hash = request_hash(&parts.method, parts.uri.path(), &bytes);

    let lease_ms = i64::try_from(state.config.idempotency_lease.as_millis()).unwrap_or(i64::MAX);
    let held = match work::lease_key(state, scope, key, &request_hash, lease_ms).await? {
        Ok(held) => held,
        Err(stored) => return answer_held(stored, &request_hash),
    };
    let response = work::with_key(
        held.clone(),
        next.run(Request::from_parts(parts, Body::from(bytes))),
    )
    .await;
    if held.stored() {
        return Ok(response);
    }
    if response.status().is_server_error() {
        work::release_key(state, &held).await?;
        return Ok(response);
    }
    // Refused before any write (or a write with nothing to remember): store
    // the answer so that a retry gets the same one.
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| anyhow::anyhow!("buffering a response: {e}"))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    work::store_answer(state, &held, parts.status, content_type, &body).await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// The answer to a retry whose key is taken: the stored response, or why not.
fn answer_held(
    held: idempotency::StoredResponse,
    request_hash: &str,
) -> Result<Response, ApiError> {
    if held.request_hash != request_hash {
        return Err(ApiError::Unprocessable {
            kind: "idempotency-key-reused",
            detail: t!("problem-idempotency-key-reused"),
        });
    }
    match held.status {
        Some(status) => Ok(replay(
            status,
            held.content_type,
            held.body.unwrap_or_default(),
        )),
        None => {
            let wait_ms = held.lease_until.unwrap_or(0) - now_ms();
            let retry_after_secs = u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1);
            let mut response = ApiError::conflict(
                "idempotency-in-progress",
                t!("problem-idempotency-in-progress"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(response)
        }
    }
}

fn request_hash(method: &Method, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str());
    hasher.update([0]);
    hasher.update(path);
    hasher.update([0]);
    hasher.update(body);
    format!("{:x}", hasher.finalize())
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
