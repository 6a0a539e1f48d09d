//! Photos this device did not take — a crew mate's, or those an earlier
//! crew took before a replacement joined — arrive as documents; their bytes
//! are fetched on demand with [`FieldopsCore::fetch_photo`]: a signed link
//! from `GET /api/v1/blobs/{sha256}/link`, then the bytes, checked against
//! the document's hash and kept beside the device's own photo files.

use std::path::PathBuf;

use fieldops_sync::docs::photo::UploadState;
use fieldops_sync::ids::DocId;
use reqwest::StatusCode;
use serde::Deserialize;

use super::worker::{Stop, absolute, send};
use crate::api::{FieldopsCore, Inner};
use crate::client::{blocking, fresh_session};
use crate::error::{CoreError, Result};
use crate::photo;

/// The part of the server's `DownloadLink` the device needs.
#[derive(Deserialize)]
struct Link {
    url: String,
    sha256: String,
}

impl FieldopsCore {
    /// The device's file of photo `photo_id` (with `thumbnail`, of its
    /// thumbnail), fetched from the server the first time when another
    /// device took the photo. `NotFound` if the photo document is not on the
    /// device; `Network` while its bytes are not on the server yet (its
    /// `upload_state` is not `stored`) or the server cannot be reached;
    /// `Unauthorized` if this account may not see it.
    pub async fn fetch_photo(&self, photo_id: DocId, thumbnail: bool) -> Result<PathBuf> {
        let photo = self.photo(photo_id)?;
        let original = photo.sha256.to_string();
        let wanted = if thumbnail {
            photo.thumbnail_sha256.to_string()
        } else {
            original.clone()
        };
        if let Some(path) = self.photo_file(&wanted) {
            return Ok(path);
        }
        if photo.upload_state != UploadState::Stored {
            return Err(not_on_server_yet());
        }
        let inner = self.inner.clone();
        self.runtime()
            .spawn(async move { download(&inner, &original, thumbnail, wanted).await })
            .await
            .map_err(|_| CoreError::Closed)?
    }
}

async fn download(
    inner: &std::sync::Arc<Inner>,
    original: &str,
    thumbnail: bool,
    wanted: String,
) -> Result<PathBuf> {
    let variant = if thumbnail { "thumbnail" } else { "original" };
    let response = send(inner, |base, token| {
        inner
            .http
            .get(format!(
                "{base}/api/v1/blobs/{original}/link?variant={variant}"
            ))
            .bearer_auth(token)
    })
    .await
    .map_err(|stop| match stop {
        Stop::Retry(error) => error,
        Stop::Refused(code, detail) => CoreError::Network(format!("{code}: {detail}")),
    })?;
    match response.status() {
        StatusCode::OK => {}
        StatusCode::FORBIDDEN => {
            return Err(CoreError::Unauthorized(
                "this account may not see the photo".into(),
            ));
        }
        StatusCode::NOT_FOUND => return Err(not_on_server_yet()),
        status => return Err(CoreError::Network(format!("photo link: HTTP {status}"))),
    }
    let link: Link = response.json().await?;
    if link.sha256 != wanted {
        return Err(CoreError::Network("the server linked another file".into()));
    }
    let base_url = fresh_session(inner, false).await?.account.base_url;
    let bytes = inner
        .http
        .get(absolute(&base_url, &link.url))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    if photo::sha256_hex(&bytes) != wanted {
        return Err(CoreError::Network(
            "the downloaded photo does not match its hash".into(),
        ));
    }
    blocking(inner, move |inner| inner.uploads.write(&wanted, &bytes)).await
}

/// Its bytes are still on their way from the device that took it.
fn not_on_server_yet() -> CoreError {
    CoreError::Network("the photo is not on the server yet; try again later".into())
}
