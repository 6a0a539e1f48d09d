//! Resumable photo uploads with the semantics of the tus 1.0 core protocol
//! (and its `creation` and `termination` extensions), so standard tus clients
//! can use them:
//!
//! * `OPTIONS /api/v1/uploads`: version, extensions and `Tus-Max-Size`.
//! * `POST /api/v1/uploads` with `Upload-Length` and `Upload-Metadata`
//!   (`sha256` required: the SHA-256 the bytes must have; `thumbnail_sha256`
//!   optional; `filename`/`filetype` accepted and ignored, since the type is
//!   sniffed from the bytes) → `201` with `Location`. If the server already
//!   holds those bytes and the caller may read them (their own, or a photo of
//!   what they may see) the upload is complete at once (`Upload-Offset`
//!   equals the length) and no byte needs sending; anyone else sends them.
//!   A `thumbnail_sha256` counts once the same account has uploaded both.
//! * `HEAD /api/v1/uploads/{id}` → `Upload-Offset`: where to resume.
//! * `PATCH /api/v1/uploads/{id}` with `Upload-Offset` and an
//!   `application/offset+octet-stream` body → `204` with the new offset. A
//!   chunk is kept whole or not at all: after a cut connection the client
//!   resends it from the offset `HEAD` reports, so clients send chunks of about
//!   1 MiB to bound what a cut costs. The chunk that completes the
//!   upload is answered only after the whole is verified (hash, type, pixels,
//!   a full decode) and stored; if verification fails the upload and all its
//!   chunks are deleted and the answer is a 422 problem. That finishing runs
//!   to the end even when its request is cut meanwhile, and an upload left
//!   received but unfinished (a server stopped) is finished by the next
//!   `HEAD` or empty `PATCH` at its end.
//! * `DELETE /api/v1/uploads/{id}`: cancel.
//!
//! Every request except `OPTIONS` needs `Tus-Resumable: 1.0.0` (412
//! otherwise) and a bearer token; an upload is visible only to its creator.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use fieldops_inbound::tus::{self, MetadataError};
use futures_util::StreamExt as _;
use serde::Serialize;
use tracing::Instrument as _;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::Path;
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::{blobs, uploads};
use crate::error::{ApiError, ApiResult, problem_response};
use crate::photos;
use crate::service::ServiceError;
use crate::storage::is_sha256;
use crate::work::{Effects, Work};

pub const TUS_VERSION: &str = "1.0.0";
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// The answer to `POST /api/v1/uploads` (the `Location` header says the same).
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadCreated {
    pub id: String,
    pub location: String,
    pub upload_offset: i64,
    pub upload_length: i64,
    /// True when the server already held these bytes: nothing to send.
    pub complete: bool,
}

fn tus_headers(headers: &mut HeaderMap) {
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn with_tus(mut response: Response) -> Response {
    tus_headers(response.headers_mut());
    response
}

fn int_header(value: i64) -> HeaderValue {
    HeaderValue::from(value)
}

/// A 412 answer unless the client speaks tus 1.0.0.
fn tus_mismatch(headers: &HeaderMap) -> Option<Response> {
    if headers.get("tus-resumable").and_then(|v| v.to_str().ok()) == Some(TUS_VERSION) {
        return None;
    }
    let mut response = problem_response(
        StatusCode::PRECONDITION_FAILED,
        "tus-version",
        &t!("problem-tus-title-version"),
        Some(t!("problem-tus-version-detail", version = TUS_VERSION)),
        vec![],
    );
    response
        .headers_mut()
        .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    Some(with_tus(response))
}

fn header_i64(headers: &HeaderMap, name: &'static str) -> ApiResult<i64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(tus::non_negative)
        .ok_or_else(|| ApiError::BadRequest(t!("problem-tus-header-not-integer", header = name)))
}

/// `Upload-Metadata`'s pairs (`fieldops_inbound::tus`), or the problem
/// naming the header.
fn parse_metadata(raw: &str) -> ApiResult<Vec<(String, String)>> {
    tus::metadata(raw).map_err(|e| {
        let why = match &e {
            MetadataError::TooLong { .. } => t!("problem-tus-metadata-too-long"),
            MetadataError::BadKey { key } => t!("problem-tus-metadata-bad-key", key = key),
            MetadataError::NotBase64 { key } => t!("problem-tus-metadata-not-base64", key = key),
            MetadataError::Duplicate { key } => t!("problem-tus-metadata-duplicate", key = key),
        };
        ApiError::field("Upload-Metadata", why)
    })
}

async fn load(state: &AppState, actor: &Actor, id: &Uuid) -> ApiResult<uploads::UploadRow> {
    let upload = uploads::get(state.db.pool(), &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    actor.authorize(Action::UseUpload {
        owner_id: &upload.user_id,
    })?;
    Ok(upload)
}

/// What this server supports (tus discovery).
#[utoipa::path(options, path = "/api/v1/uploads", tag = "photos",
    responses((status = 204, description = "Tus-Version, Tus-Extension and Tus-Max-Size headers")))]
pub async fn discover(State(state): State<AppState>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert(
        "tus-extension",
        HeaderValue::from_static("creation,termination"),
    );
    headers.insert(
        "tus-max-size",
        HeaderValue::from(state.config.max_upload_bytes),
    );
    response
}

/// Start an upload (tus creation).
#[utoipa::path(post, path = "/api/v1/uploads", tag = "photos", security(("bearer" = [])),
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = i64, Header, description = "Total size in bytes"),
        ("Upload-Metadata" = String, Header, description = "`sha256 <base64>` required; `thumbnail_sha256` optional"),
    ),
    responses((status = 201, body = UploadCreated), (status = 412, body = crate::error::Problem),
        (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    actor.authorize(Action::CreateUpload)?;
    if let Some(response) = tus_mismatch(&headers) {
        return Ok(response);
    }
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::BadRequest(t!("problem-tus-defer-length")));
    }
    let length = header_i64(&headers, "upload-length")?;
    if length == 0 {
        return Err(ApiError::BadRequest(t!("problem-tus-length-zero")));
    }
    if length as u64 > state.config.max_upload_bytes {
        return Ok(with_tus(ApiError::PayloadTooLarge.into_response()));
    }
    let raw_metadata = headers
        .get("upload-metadata")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let metadata = parse_metadata(&raw_metadata)?;
    let find = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let sha256 = find("sha256")
        .filter(|s| is_sha256(s))
        .ok_or_else(|| {
            ApiError::field("Upload-Metadata.sha256", t!("problem-tus-sha256-required"))
        })?
        .to_owned();
    let thumbnail_sha256 = match find("thumbnail_sha256") {
        Some(t) if is_sha256(t) => Some(t.to_owned()),
        Some(_) => {
            return Err(ApiError::field(
                "Upload-Metadata.thumbnail_sha256",
                t!("problem-request-sha256-format"),
            ));
        }
        None => None,
    };
    // Bytes the server already holds need not travel again, if the caller
    // may read them. Anyone else sends the bytes like for a new photo (which
    // proves they hold them) and learns nothing from any answer here: a wrong
    // length or wrong bytes end as every false hash does, in `hash-mismatch`
    // once the last byte arrives.
    let existing = match blobs::get(state.db.pool(), &sha256).await? {
        Some(blob) if photos::may_read(&state, &actor, &sha256).await? => Some(blob),
        _ => None,
    };
    if existing.as_ref().is_some_and(|b| b.byte_size != length) {
        return Err(ApiError::Unprocessable {
            kind: "hash-mismatch",
            detail: t!("problem-tus-length-mismatch"),
        });
    }
    let row = uploads::insert(
        &state.db,
        &uploads::NewUpload {
            user_id: &actor.user_id,
            sha256: &sha256,
            thumbnail_sha256: thumbnail_sha256.as_deref(),
            length,
            metadata: &raw_metadata,
            complete: existing.is_some(),
        },
    )
    .await?;
    let location = format!("/api/v1/uploads/{}", row.id);
    let body = UploadCreated {
        id: row.id.clone(),
        location: location.clone(),
        upload_offset: row.upload_offset,
        upload_length: row.upload_length,
        complete: row.completed_at.is_some(),
    };
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).map_err(|e| ApiError::Internal(e.into()))?,
    );
    headers.insert("upload-offset", int_header(row.upload_offset));
    Ok(response)
}

/// Where to resume (tus `HEAD`).
#[utoipa::path(head, path = "/api/v1/uploads/{id}", tag = "photos", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 200, description = "Upload-Offset and Upload-Length headers"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn offset(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    load(&state, &actor, &id).await?;
    if let Some(response) = tus_mismatch(&headers) {
        return Ok(response);
    }
    // Wait for a PATCH in flight on this upload to save what it received.
    let upload = {
        let guard = state.upload_locks.lock(&id.to_string()).await;
        let upload = load(&state, &actor, &id).await?;
        if upload.upload_offset == upload.upload_length && upload.completed_at.is_none() {
            // Every byte arrived but the upload was never verified and
            // stored (the request that sent the last chunk was cut while it
            // was, or the server stopped): finish it now, so the offset
            // this answers is one the client may trust as done.
            complete(&state, &upload.id, None, guard).await?;
            load(&state, &actor, &id).await?
        } else {
            upload
        }
    };
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    tus_headers(h);
    h.insert("upload-offset", int_header(upload.upload_offset));
    h.insert("upload-length", int_header(upload.upload_length));
    if let Ok(v) = HeaderValue::from_str(&upload.metadata) {
        h.insert("upload-metadata", v);
    }
    Ok(response)
}

/// Send the next chunk (tus `PATCH`).
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "photos", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = i64, Header, description = "Where this chunk starts")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "Upload-Offset header: the new offset"),
        (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
        (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn append(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut stream = body.into_data_stream();
    let result = append_chunk(&state, &actor, &id, &headers, &mut stream).await;
    if !result.as_ref().is_ok_and(|r| r.status().is_success()) {
        // Refused before the body was read: read what is left (bounded) so
        // the client sees this answer rather than a reset connection.
        drain(&mut stream, state.config.max_upload_bytes).await;
    }
    result
}

/// Reads and drops up to `limit` bytes of a request body, for at most 5 s.
async fn drain(stream: &mut axum::body::BodyDataStream, limit: u64) {
    let mut seen = 0;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len() as u64;
            if seen > limit {
                break;
            }
        }
    })
    .await;
}

async fn append_chunk(
    state: &AppState,
    actor: &Actor,
    id: &Uuid,
    headers: &HeaderMap,
    stream: &mut axum::body::BodyDataStream,
) -> Result<Response, ApiError> {
    let id = *id;
    load(state, actor, &id).await?;
    let guard = state.upload_locks.lock(&id.to_string()).await;
    let upload = load(state, actor, &id).await?;
    if let Some(response) = tus_mismatch(headers) {
        return Ok(response);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(OFFSET_OCTET_STREAM) {
        return Ok(with_tus(problem_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            &t!("problem-tus-title-media-type"),
            None,
            vec![],
        )));
    }
    let from = header_i64(headers, "upload-offset")?;
    if from != upload.upload_offset {
        return Err(ApiError::conflict(
            "offset-mismatch",
            t!("problem-tus-offset-mismatch", offset = upload.upload_offset),
        ));
    }
    if upload.completed_at.is_some() {
        return Ok(done(upload.upload_length));
    }
    let remaining = (upload.upload_length - from) as usize;
    let max_pixels = state.config.max_photo_pixels;
    let mut received = BytesMut::new();
    let mut prechecked = from > 0;
    while let Some(chunk) = stream.next().await {
        // A cut connection: nothing of this chunk is kept, the client resends
        // it from the last acknowledged offset (send chunks of ~1 MiB).
        let chunk = chunk.map_err(|_| ApiError::BadRequest(t!("problem-tus-chunk-incomplete")))?;
        if received.len() + chunk.len() > remaining {
            return Ok(with_tus(problem_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                &t!("problem-tus-title-too-large"),
                Some(t!("problem-tus-chunk-past-length")),
                vec![],
            )));
        }
        received.extend_from_slice(&chunk);
        if !prechecked && received.len() >= 64 {
            prechecked = true;
            if let Err(rejection) = photos::precheck(&received, max_pixels) {
                discard(state, &upload.id).await;
                return Err(ServiceError::from(rejection).into());
            }
        }
    }
    if received.is_empty() {
        if from == upload.upload_length {
            // All received, never finished (see `offset`): finish it.
            complete(state, &upload.id, None, guard).await?;
        }
        return Ok(done(from));
    }
    let received: Bytes = received.freeze();
    let len = received.len() as i64;
    let part = state.blobs.put_part(&upload.id, received).await?;
    let part = part.as_str();
    let mut work = Work::begin(state).await?;
    if !uploads::append_part(work.tx(), &upload.id, from, len, part).await? {
        drop(work);
        state.blobs.delete_part(&upload.id, part).await?;
        return Err(ApiError::conflict(
            "offset-mismatch",
            t!("problem-tus-moved-on"),
        ));
    }
    work.commit(Effects::none()).await?;
    let offset = from + len;
    if offset < upload.upload_length {
        return Ok(done(offset));
    }
    complete(state, &upload.id, Some((from, part.to_owned())), guard).await?;
    Ok(done(offset))
}

/// Finishes a fully received upload ([`finish`]) to the end even if the
/// request that asked for it is cut meanwhile: a client killed or cut
/// off while its last chunk is verified would otherwise leave every byte
/// received and nothing stored, with an offset that says "done". It runs
/// in a task of its own that holds the upload's lock (`guard`) and speaks
/// the request's language. When `last_part` (its offset and name) is
/// given and finishing fails for a passing reason (storage down, a
/// collection in progress), that chunk is taken back so the client's retry
/// of it is welcome.
async fn complete(
    state: &AppState,
    id: &str,
    last_part: Option<(i64, String)>,
    guard: tokio::sync::OwnedMutexGuard<()>,
) -> ApiResult<()> {
    let (state, id) = (state.clone(), id.to_owned());
    let lang = crate::i18n::chosen();
    let task = tokio::spawn(
        crate::i18n::speaking(lang, async move {
            let _guard = guard;
            let finished = finish(&state, &id).await;
            if let (Err(err), Some((from, part))) = (&finished, last_part)
                && !matches!(err, ApiError::Unprocessable { .. })
            {
                let mut work = Work::begin(&state).await?;
                uploads::undo_part(work.tx(), &id, from).await?;
                work.commit(Effects::none()).await?;
                state.blobs.delete_part(&id, &part).await?;
            }
            finished
        })
        .instrument(tracing::Span::current()),
    );
    task.await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("finishing an upload: {e}")))?
}

/// Assembles, verifies and stores a fully received upload.
async fn finish(state: &AppState, id: &str) -> ApiResult<()> {
    let upload = uploads::get(state.db.pool(), id)
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    // Finished meanwhile by a request on another instance (the upload
    // locks are per process): done is done.
    if upload.completed_at.is_some() {
        return Ok(());
    }
    let parts = uploads::parts(state.db.pool(), id).await?;
    let mut expected = 0;
    for (start, size, _) in &parts {
        if *start != expected {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "upload {id} has a gap at {expected}"
            )));
        }
        expected += size;
    }
    // Chunks taken away under us (that other instance finished and
    // cleaned up between our two reads) are a passing failure, never a
    // hash mismatch that would discard a finished upload.
    if expected != upload.upload_length {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "upload {id} holds {expected} of its {} bytes",
            upload.upload_length
        )));
    }
    let names: Vec<String> = parts.into_iter().map(|(_, _, name)| name).collect();
    let bytes = state
        .blobs
        .read_parts(id, &names, upload.upload_length as usize)
        .await?;
    match photos::store_verified(state, &upload, bytes).await {
        Ok(()) => Ok(()),
        Err(err @ ServiceError::Unprocessable { .. }) => {
            // Bad bytes never get better: nothing of this upload is kept.
            discard(state, id).await;
            Err(err.into())
        }
        Err(err) => Err(err.into()),
    }
}

/// Deletes an upload's chunks and row; failures are logged (the collector
/// removes anything left after a day).
async fn discard(state: &AppState, id: &str) {
    if let Err(e) = state.blobs.delete_upload(id).await {
        tracing::warn!(error = %e, upload = %id, "deleting the chunks of a refused upload");
    }
    if let Err(e) = uploads::delete(state.db.pool(), id).await {
        tracing::warn!(error = %e, upload = %id, "deleting a refused upload");
    }
}

fn done(offset: i64) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    tus_headers(response.headers_mut());
    response
        .headers_mut()
        .insert("upload-offset", int_header(offset));
    response
}

/// Cancel an upload and delete what was sent (tus termination).
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "photos", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let upload = load(&state, &actor, &id).await?;
    if let Some(response) = tus_mismatch(&headers) {
        return Ok(response);
    }
    state.blobs.delete_upload(&upload.id).await?;
    uploads::delete(state.db.pool(), &upload.id).await?;
    Ok(with_tus(StatusCode::NO_CONTENT.into_response()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The grammar is `fieldops_inbound::tus`'s (tested there); here, that
    /// a refusal names the header.
    #[test]
    fn a_refused_metadata_names_the_header() {
        assert_eq!(
            parse_metadata("sha256 YWJj").unwrap(),
            vec![("sha256".into(), "abc".into())]
        );
        let ApiError::Validation(fields) = parse_metadata("sha256 !!!").unwrap_err() else {
            panic!("a field problem");
        };
        assert_eq!(fields[0].field, "Upload-Metadata");
    }
}
