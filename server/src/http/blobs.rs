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
use crate::db::{assignments, blobs, tickets, visits};
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
        Err(ApiError::field("sha256", "must be 64 lowercase hex digits"))
    }
}

/// Whether the server holds these bytes (200) or not (404). Devices ask
/// before uploading, so a photo already on the server is never sent again.
#[utoipa::path(get, path = "/api/v1/blobs/{sha256}", tag = "photos", security(("bearer" = [])),
    params(("sha256" = String, Path)),
    responses((status = 200, body = BlobView), (status = 404, body = crate::error::Problem)))]
pub async fn check(
    State(state): State<AppState>,
    actor: Actor,
    Path(sha256): Path<String>,
) -> ApiResult<Json<BlobView>> {
    actor.authorize(Action::CheckBlob)?;
    valid_sha(&sha256)?;
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

/// Whether `actor` may see a ticket or visit that photo `sha256` is attached to.
async fn sees_an_owner(state: &AppState, actor: &Actor, sha256: &str) -> ApiResult<bool> {
    for (kind, id) in blobs::owners(state.db.pool(), sha256).await? {
        let allowed = match kind.as_str() {
            "ticket" => match tickets::get(state.db.pool(), &id).await? {
                Some(t) => actor
                    .authorize(Action::ViewTicket {
                        department_id: &t.department_id,
                        customer_id: &t.customer_id,
                    })
                    .is_ok(),
                None => false,
            },
            "visit" => match visits::get(state.db.pool(), &id).await? {
                Some(v) => {
                    let holder =
                        assignments::ever_held(state.db.pool(), &v.id, &actor.user_id).await?;
                    actor
                        .authorize(Action::ViewVisit {
                            customer_id: &v.customer_id,
                            in_pool: v.in_pool(),
                            holder,
                        })
                        .is_ok()
                }
                None => false,
            },
            _ => false,
        };
        if allowed {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A signed link to a photo or its thumbnail, for those who may see it:
/// admins, the accounts that uploaded it, its recorded owners, and whoever may
/// see a ticket or visit it is attached to.
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
    let uploader_or_owner = blobs::user_may_read(&state.db, &sha256, &actor.user_id).await?;
    let sees_an_owner = !uploader_or_owner && sees_an_owner(&state, &actor, &sha256).await?;
    actor.authorize(Action::DownloadPhoto {
        uploader_or_owner,
        sees_an_owner,
    })?;
    let photo = blobs::get(state.db.pool(), &sha256)
        .await?
        .ok_or(ApiError::NotFound("blob"))?;
    let target = match params.variant.unwrap_or_default() {
        Variant::Original => photo,
        Variant::Thumbnail => {
            let thumb = photos::thumbnail_of(&state, &photo).await?;
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
    Ok(response)
}
