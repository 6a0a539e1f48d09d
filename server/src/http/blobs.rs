//! Stored photo bytes: "do you have hash X", signed download links, and the
//! download itself (from the local store, or by redirect to a presigned S3 URL).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::blobs;
use crate::error::{ApiError, ApiResult};
use crate::photos;
use crate::storage::is_sha256;

/// A stored blob.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlobView {
    pub sha256: String,
    pub byte_size: i64,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
}

impl From<blobs::BlobRow> for BlobView {
    fn from(b: blobs::BlobRow) -> Self {
        Self {
            sha256: b.sha256,
            byte_size: b.byte_size,
            content_type: b.content_type,
            width: b.width,
            height: b.height,
        }
    }
}

fn valid_sha(sha256: &str) -> ApiResult<()> {
    if is_sha256(sha256) {
        Ok(())
    } else {
        Err(ApiError::field(
            "sha256",
            t!("problem-request-sha256-format"),
        ))
    }
}

/// Whether the server holds these bytes (200) or not (404), for bytes the
/// caller may read ([`photos::may_read`]: their own uploads, photos of what
/// they may see). Devices ask before uploading, so their own photo, or the
/// same photo on a second ticket, is never sent again. Bytes the caller may
/// not read answer 404 as if unknown: a hash is no proof of anything, and
/// this answer must not tell a stranger that a photo exists, or its size.
#[utoipa::path(get, path = "/api/v1/blobs/{sha256}", tag = "photos", security(("bearer" = [])),
    params(("sha256" = String, Path, pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, body = BlobView), (status = 404, body = crate::error::Problem)))]
pub async fn check(
    State(state): State<AppState>,
    actor: Actor,
    Path(sha256): Path<String>,
) -> ApiResult<Json<BlobView>> {
    actor.authorize(Action::CheckBlob)?;
    valid_sha(&sha256)?;
    if !photos::may_read(&state, &actor, &sha256).await? {
        return Err(ApiError::NotFound("blob"));
    }
    let blob = blobs::get(state.db.pool(), &sha256)
        .await?
        .ok_or(ApiError::NotFound("blob"))?;
    Ok(Json(blob.into()))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    #[default]
    Original,
    Thumbnail,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkParams {
    /// `original` (default) or `thumbnail` (made by the server if the device
    /// sent none).
    #[param(inline)]
    pub variant: Option<Variant>,
}

/// A signed, expiring download link.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLink {
    /// Path (on this server) that downloads the bytes without a token until
    /// `expires_at`.
    pub url: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// The bytes the link downloads (the thumbnail's own hash for `thumbnail`).
    pub sha256: String,
    pub content_type: String,
    pub byte_size: i64,
}

/// A signed link to a photo or its thumbnail, for those who may read it
/// ([`photos::may_read`]): admins, the accounts that uploaded it, and whoever
/// may see a ticket or visit an uploader attached it to. Others get 403
/// whether or not the bytes exist; unknown hashes 404 for those who may.
/// The link is signed only for a hash the caller was authorized for: the
/// thumbnail is one only its photo's uploader could claim, or the server's.
#[utoipa::path(get, path = "/api/v1/blobs/{sha256}/link", tag = "photos", security(("bearer" = [])),
    params(("sha256" = String, Path), LinkParams),
    responses((status = 200, body = DownloadLink), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn link(
    State(state): State<AppState>,
    actor: Actor,
    Path(sha256): Path<String>,
    Query(params): Query<LinkParams>,
) -> ApiResult<Json<DownloadLink>> {
    valid_sha(&sha256)?;
    authorize_read(&state, &actor, &sha256).await?;
    let photo = blobs::get(state.db.pool(), &sha256)
        .await?
        .ok_or(ApiError::NotFound("blob"))?;
    let target = match params.variant.unwrap_or_default() {
        Variant::Original => photo,
        Variant::Thumbnail => {
            let thumb = photos::thumbnail_of(&state, &photo).await?;
            authorize_read(&state, &actor, &thumb).await?;
            blobs::get(state.db.pool(), &thumb)
                .await?
                .ok_or(ApiError::NotFound("thumbnail"))?
        }
    };
    let ttl = state.config.download_url_ttl.as_secs() as i64;
    let expires = jiff::Timestamp::now().as_second() + ttl;
    Ok(Json(DownloadLink {
        url: state.links.sign(&target.sha256, expires),
        expires_at: expires * 1000,
        sha256: target.sha256,
        content_type: target.content_type,
        byte_size: target.byte_size,
    }))
}

/// 403 unless `actor` may read `sha256`.
async fn authorize_read(state: &AppState, actor: &Actor, sha256: &str) -> ApiResult<()> {
    if photos::may_read(state, actor, sha256).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileParams {
    /// Unix seconds after which the link is dead.
    pub expires: i64,
    /// The server's signature of the hash and the expiry.
    pub sig: String,
}

/// Download by signed link (no token needed; the signature is the permission).
#[utoipa::path(get, path = "/api/v1/files/{sha256}", tag = "photos",
    params(("sha256" = String, Path), FileParams),
    responses((status = 200, description = "The bytes", content_type = "image/jpeg"),
        (status = 302, description = "Redirect to a presigned object-store URL"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    Query(params): Query<FileParams>,
) -> Result<Response, ApiError> {
    valid_sha(&sha256)?;
    let now = jiff::Timestamp::now().as_second();
    if !state
        .links
        .verify(&sha256, params.expires, &params.sig, now)
    {
        return Err(ApiError::Forbidden);
    }
    let blob = blobs::get(state.db.pool(), &sha256)
        .await?
        .ok_or(ApiError::NotFound("blob"))?;
    let remaining = (params.expires - now).max(1) as u64;
    if state.blobs.is_s3() {
        let ttl = std::time::Duration::from_secs(remaining.min(300));
        let url = state
            .blobs
            .presigned_get(&sha256, ttl)
            .await?
            .ok_or(ApiError::NotFound("blob"))?;
        let mut response = StatusCode::FOUND.into_response();
        response.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&url).map_err(|e| ApiError::Internal(e.into()))?,
        );
        return Ok(response);
    }
    let bytes = state
        .blobs
        .get_blob(&sha256)
        .await?
        .ok_or(ApiError::NotFound("blob bytes"))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&blob.content_type).map_err(|e| ApiError::Internal(e.into()))?,
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("private, max-age={remaining}, immutable"))
            .map_err(|e| ApiError::Internal(e.into()))?,
    );
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{sha256}\""))
            .map_err(|e| ApiError::Internal(e.into()))?,
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if !blob.content_type.starts_with("image/") {
        // A PDF (a receipt, an invoice) is saved, never opened on this
        // origin: one a customer uploaded could carry anything.
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{sha256}.pdf\""))
                .map_err(|e| ApiError::Internal(e.into()))?,
        );
    }
    Ok(response)
}
