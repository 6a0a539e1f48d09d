//! Images customers send on WhatsApp, fetched from the Cloud API into the
//! photo store so that CS see them in the conversation.
//!
//! A webhook delivery names the image by a media id. `GET
//! {api_base_url}/{media_id}` with the bearer token answers where its bytes
//! are (`{"url": .., "mime_type": .., "file_size": .., "id": ..}`; the URL
//! lives five minutes), and `GET {url}` with the same token answers the
//! bytes. What cannot be fetched *now* (the network, a 429 or a 5xx) is an
//! error: the webhook answers 5xx and Meta delivers the message again. What
//! can never be kept (a refused media id, bytes over
//! `ticket_max_attachment_bytes`, bytes that are not a JPEG, PNG or WebP
//! image) is an [`Unkept`] reason: the message is still recorded, saying
//! so, and the customer is told.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;

use crate::AppState;

/// Why an image a customer sent is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unkept {
    /// Larger than `max` bytes.
    TooLarge { max: u64 },
    /// Not a JPEG, PNG or WebP image, damaged, or too many pixels.
    NotAnImage,
    /// The Cloud API refused it for good (an expired or unknown media id),
    /// or this deployment has no access token to ask with.
    Unavailable,
}

/// Where the Cloud API keeps a media file.
#[derive(Debug, Deserialize)]
struct MediaInfo {
    url: String,
    /// A number, sent as a string.
    #[serde(default)]
    file_size: Option<serde_json::Value>,
}

/// Whether `id` can be a Cloud API media id (it goes into a URL path).
fn usable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Fetches image `media_id` and stores it; its hash, or why it is not kept.
/// Errors are transient: the delivery is to be retried.
pub async fn fetch_image(
    state: &AppState,
    media_id: &str,
) -> anyhow::Result<Result<String, Unkept>> {
    let settings = &state.config.whatsapp;
    let Some(token) = settings.access_token.as_deref() else {
        tracing::warn!("a WhatsApp image arrived but no access token is configured to fetch it");
        return Ok(Err(Unkept::Unavailable));
    };
    if !usable_id(media_id) {
        tracing::info!(media_id, "WhatsApp image with an unusable media id");
        return Ok(Err(Unkept::Unavailable));
    }
    let max = state.config.ticket_max_attachment_bytes;
    let http = &state.helpdesk.http;
    let info_url = format!("{}/{media_id}", settings.api_base_url.trim_end_matches('/'));
    let info = http.get(&info_url).bearer_auth(token).send().await?;
    let Some(info) = usable(info, media_id)? else {
        return Ok(Err(Unkept::Unavailable));
    };
    let info: MediaInfo = info.json().await?;
    let announced = info.file_size.as_ref().and_then(|size| match size {
        serde_json::Value::String(s) => s.parse::<u64>().ok(),
        other => other.as_u64(),
    });
    if announced.is_some_and(|size| size > max) {
        return Ok(Err(Unkept::TooLarge { max }));
    }
    let download = http.get(&info.url).bearer_auth(token).send().await?;
    let Some(mut download) = usable(download, media_id)? else {
        return Ok(Err(Unkept::Unavailable));
    };
    let mut bytes = BytesMut::new();
    while let Some(chunk) = download.chunk().await? {
        if (bytes.len() + chunk.len()) as u64 > max {
            return Ok(Err(Unkept::TooLarge { max }));
        }
        bytes.extend_from_slice(&chunk);
    }
    let bytes: Bytes = bytes.freeze();
    match crate::photos::store_fetched_image(state, bytes).await? {
        Ok(sha256) => Ok(Ok(sha256)),
        Err(rejection) => {
            tracing::info!(media_id, %rejection, "a WhatsApp image that is not kept");
            Ok(Err(Unkept::NotAnImage))
        }
    }
}

/// A successful response; `None` when the Cloud API refuses for good;
/// an error when it may answer later (429, 5xx).
fn usable(r: reqwest::Response, media_id: &str) -> anyhow::Result<Option<reqwest::Response>> {
    let status = r.status();
    if status.is_success() {
        return Ok(Some(r));
    }
    if status.as_u16() == 429 || status.is_server_error() {
        anyhow::bail!("fetching WhatsApp media {media_id}: HTTP {status}; Meta will redeliver");
    }
    tracing::warn!(media_id, %status, "the Cloud API refused a media file");
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::usable_id;

    #[test]
    fn only_plain_media_ids_reach_a_url() {
        assert!(usable_id("1037543291543636"));
        assert!(usable_id("wamid.HBgL-abc_1"));
        assert!(!usable_id(""));
        assert!(!usable_id("../../me"));
        assert!(!usable_id("1?fields=x"));
        assert!(!usable_id(&"9".repeat(201)));
    }
}
