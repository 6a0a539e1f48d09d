//! Photos this device did not take — a crew mate's, or those an earlier
//! crew took before a replacement joined — arrive as documents; their bytes
//! are fetched on demand with [`Photos::fetch`](super::Photos::fetch): a signed link
//! from `GET /api/v1/blobs/{sha256}/link`, then the bytes, checked against
//! the document's hash and kept beside the device's own photo files.

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::StatusCode;
use serde::Deserialize;

use super::worker::{Stop, absolute, send};
use crate::error::{CoreError, Result};
use crate::photo;
use crate::shared::Shared;

/// The part of the server's `DownloadLink` the device needs.
#[derive(Deserialize)]
struct Link {
    url: String,
    sha256: String,
}

/// Fetches the file `wanted` (the photo `original` or its thumbnail) and
/// keeps it beside the device's own photo files.
pub(super) async fn download(
    shared: &Arc<Shared>,
    original: &str,
    thumbnail: bool,
    wanted: String,
) -> Result<PathBuf> {
    let variant = if thumbnail { "thumbnail" } else { "original" };
    let response = send(shared, |base, token| {
        shared
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
        // Only an upload's row is ever set aside.
        Stop::SetAside => CoreError::Network("the download was stopped".into()),
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
    let base_url = shared.fresh_session(false).await?.account.base_url;
    let bytes = shared
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
    shared
        .blocking(move |shared| shared.files.write(&wanted, &bytes))
        .await
}

/// Its bytes are still on their way from the device that took it.
pub(super) fn not_on_server_yet() -> CoreError {
    CoreError::Network("the photo is not on the server yet; try again later".into())
}
