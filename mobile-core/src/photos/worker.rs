//! The upload worker: sends the queued files with tus and marks photos
//! `stored` once their bytes are on the server.
//!
//! [`upload_pass`] runs when the device is online: inside
//! [`SyncClient::now`](crate::SyncClient::now) after the sync session, and as a task beside
//! the live session of [`SyncClient::start`](crate::SyncClient::start) (woken by attaching, by
//! reconnecting, and by a backoff timer after failures). For each row, oldest
//! first and the thumbnail before its photo, it asks the server whether it
//! holds the hash (then nothing is sent), otherwise creates a tus upload and
//! sends `PATCH` chunks (1 MiB). A 422/413 is a permanent refusal: the row
//! becomes `failed` and the app hears [`CoreEvent::UploadFailed`]; network
//! errors end the pass and are retried. When both files of a pending photo
//! are on the server, the worker marks its document `stored` — a local edit
//! pushed by the next sync, which the server accepts only for bytes it holds.
//! Progress is reported as [`CoreEvent::UploadProgress`] and in the sync
//! status (`pending_uploads`, `failed_uploads`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fieldops_sync::docs::Photo;
use fieldops_sync::docs::photo::UploadState;
use fieldops_sync::ids::{DocId, DocKind};
use reqwest::{Method, StatusCode};

use super::{PhotoUpload, TUS_VERSION, UploadKind, pending_of_mine, queue};
use crate::documents;
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::files::io_error;
use crate::shared::{Shared, backoff};

/// What one [`upload_pass`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PassReport {
    /// Files now on the server.
    pub(crate) completed: u64,
    /// Bytes sent in `PATCH` bodies (including chunks cut short).
    pub(crate) bytes_sent: u64,
    /// Photo documents marked `stored`.
    pub(crate) marked: u64,
}

/// Why one file's upload stopped.
pub(super) enum Stop {
    /// The server refused the bytes for good (`problem type`, detail).
    Refused(String, String),
    /// Retry later.
    Retry(CoreError),
    /// The file was set aside while it was being sent (the server refused
    /// its photo): it is not uploaded.
    SetAside,
}

impl From<CoreError> for Stop {
    fn from(e: CoreError) -> Self {
        Stop::Retry(e)
    }
}

impl From<reqwest::Error> for Stop {
    fn from(e: reqwest::Error) -> Self {
        Stop::Retry(e.into())
    }
}

/// Uploads every queued file, then marks the photos whose files are all on
/// the server. Stops at the first error worth retrying.
pub(crate) async fn upload_pass(shared: &Arc<Shared>) -> Result<PassReport> {
    let mut report = PassReport::default();
    loop {
        let next = shared
            .blocking(|shared| {
                shared
                    .store
                    .read(|conn| queue::next_open(conn, &shared.files))
            })
            .await?;
        let Some(row) = next else { break };
        match upload_one(shared, &row, &mut report).await {
            Ok(()) => {
                report.completed += 1;
                let sha = row.sha256.clone();
                shared
                    .blocking(move |shared| shared.store.write(|tx| queue::mark_done(tx, &sha)))
                    .await?;
                shared.events.emit(CoreEvent::UploadProgress {
                    photo_id: row.photo_doc_id,
                    sha256: row.sha256.clone(),
                    thumbnail: row.kind == UploadKind::Thumbnail,
                    bytes_sent: row.bytes_total,
                    bytes_total: row.bytes_total,
                });
                shared.refresh_status();
            }
            Err(Stop::Refused(code, detail)) => {
                tracing::warn!(sha256 = %row.sha256, %code, "the server refused a photo");
                let reason = format!("{code}: {detail}");
                let (sha, stored_reason) = (row.sha256.clone(), reason.clone());
                shared
                    .blocking(move |shared| {
                        shared
                            .store
                            .write(|tx| queue::mark_failed(tx, &sha, &stored_reason))
                    })
                    .await?;
                shared.events.emit(CoreEvent::UploadFailed {
                    photo_id: row.photo_doc_id,
                    sha256: row.sha256.clone(),
                    reason,
                    permanent: true,
                });
                shared.refresh_status();
            }
            Err(Stop::SetAside) => {
                tracing::info!(sha256 = %row.sha256, "upload stopped: its photo was refused");
                shared.refresh_status();
            }
            Err(Stop::Retry(error)) => {
                let (sha, text) = (row.sha256.clone(), error.to_string());
                shared
                    .blocking(move |shared| {
                        shared.store.write(|tx| queue::note_retry(tx, &sha, &text))
                    })
                    .await?;
                shared.events.emit(CoreEvent::UploadFailed {
                    photo_id: row.photo_doc_id,
                    sha256: row.sha256.clone(),
                    reason: error.to_string(),
                    permanent: false,
                });
                shared.refresh_status();
                return Err(error);
            }
        }
    }
    report.marked = mark_uploaded(shared).await?;
    // Full-size files uploaded long ago make room (thumbnails stay).
    let pruned = shared.blocking(|shared| super::prune::prune(shared, super::KEEP_UPLOADED_PHOTOS));
    if let Err(error) = pruned.await {
        tracing::warn!(%error, "pruning uploaded photo files");
    }
    Ok(report)
}

/// The server's absolute URL for `location` (a path or a full URL).
pub(super) fn absolute(base_url: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        format!("{base_url}{location}")
    }
}

/// Sends a request built by `build` (given the base URL and a token) with a
/// fresh access token, refreshing it once if the server says it expired.
pub(super) async fn send(
    shared: &Arc<Shared>,
    build: impl Fn(&str, &str) -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, Stop> {
    let mut force = false;
    loop {
        let session = shared.fresh_session(force).await?;
        let response = build(&session.account.base_url, &session.access_token)
            .send()
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED && !force {
            force = true;
            continue;
        }
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(Stop::Retry(CoreError::Unauthorized(
                "the server refused the session".into(),
            )));
        }
        return Ok(response);
    }
}

fn tus(shared: &Shared, method: Method, url: &str, token: &str) -> reqwest::RequestBuilder {
    shared
        .http
        .request(method, url)
        .bearer_auth(token)
        .header("tus-resumable", TUS_VERSION)
}

fn offset_header(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get("upload-offset")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The problem `type` slug of a refusal.
async fn refusal(response: reqwest::Response) -> Stop {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["type"]
        .as_str()
        .map(|t| t.trim_start_matches("urn:fieldops:problem:").to_owned())
        .unwrap_or_else(|| status.as_u16().to_string());
    let detail = body["detail"]
        .as_str()
        .or(body["title"].as_str())
        .unwrap_or_default()
        .to_owned();
    Stop::Refused(code, detail)
}

fn unexpected(what: &str, status: StatusCode) -> Stop {
    Stop::Retry(CoreError::Network(format!(
        "{what}: HTTP {}",
        status.as_u16()
    )))
}

/// Persists the server's upload URL and acknowledged offset of a file;
/// [`Stop::SetAside`] if it was set aside meanwhile.
async fn save_progress(
    shared: &Arc<Shared>,
    sha256: &str,
    url: Option<String>,
    offset: u64,
    transmitted: u64,
) -> std::result::Result<(), Stop> {
    let sha = sha256.to_owned();
    let open = shared
        .blocking(move |shared| {
            shared
                .store
                .write(|tx| queue::save_progress(tx, &sha, url.as_deref(), offset, transmitted))
        })
        .await?;
    if open { Ok(()) } else { Err(Stop::SetAside) }
}

/// Uploads one file to the end (or stops).
async fn upload_one(
    shared: &Arc<Shared>,
    row: &PhotoUpload,
    report: &mut PassReport,
) -> Result<(), Stop> {
    let sha = row.sha256.as_str();
    let total = row.bytes_total;
    let mut url = row.upload_url.clone();
    let mut conflicts = 0;
    loop {
        let location = match &url {
            Some(location) => location.clone(),
            None => {
                // Do you have it? Then nothing travels.
                let response = send(shared, |base, token| {
                    shared
                        .http
                        .get(format!("{base}/api/v1/blobs/{sha}"))
                        .bearer_auth(token)
                })
                .await?;
                match response.status() {
                    StatusCode::OK => return Ok(()),
                    StatusCode::NOT_FOUND => {}
                    other => return Err(unexpected("checking a photo", other)),
                }
                let thumbnail = {
                    let sha = sha.to_owned();
                    shared
                        .blocking(move |shared| {
                            shared.store.read(|conn| queue::thumbnail_of(conn, &sha))
                        })
                        .await?
                };
                let mut metadata = format!("sha256 {}", STANDARD.encode(sha));
                if let Some(t) = &thumbnail {
                    metadata.push_str(&format!(",thumbnail_sha256 {}", STANDARD.encode(t)));
                }
                let response = send(shared, |base, token| {
                    tus(
                        shared,
                        Method::POST,
                        &format!("{base}/api/v1/uploads"),
                        token,
                    )
                    .header("upload-length", total.to_string())
                    .header("upload-metadata", &metadata)
                })
                .await?;
                match response.status() {
                    StatusCode::CREATED => {}
                    StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNPROCESSABLE_ENTITY => {
                        return Err(refusal(response).await);
                    }
                    other => return Err(unexpected("starting an upload", other)),
                }
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        Stop::Retry(CoreError::Protocol("upload without a Location".into()))
                    })?
                    .to_owned();
                save_progress(shared, sha, Some(location.clone()), 0, 0).await?;
                url = Some(location.clone());
                location
            }
        };
        // Where the server is: a cut connection or a restart resumes here.
        let response = send(shared, |base, token| {
            tus(shared, Method::HEAD, &absolute(base, &location), token)
        })
        .await?;
        let mut offset = match response.status() {
            StatusCode::OK => offset_header(&response).ok_or_else(|| {
                Stop::Retry(CoreError::Protocol("HEAD without Upload-Offset".into()))
            })?,
            // Expired, collected, or not ours (another account): start over.
            StatusCode::NOT_FOUND | StatusCode::GONE | StatusCode::FORBIDDEN => {
                save_progress(shared, sha, None, 0, 0).await?;
                url = None;
                continue;
            }
            other => return Err(unexpected("resuming an upload", other)),
        };
        save_progress(shared, sha, Some(location.clone()), offset, 0).await?;
        if offset >= total {
            return Ok(());
        }
        let path = shared.files.path(sha);
        let bytes = tokio::fs::read(&path).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Stop::Refused("file-missing".into(), "the photo file is gone".into())
            } else {
                Stop::Retry(io_error("reading the photo", &e))
            }
        })?;
        if bytes.len() as u64 != total {
            return Err(Stop::Refused(
                "file-changed".into(),
                "the photo file has another size".into(),
            ));
        }
        let chunk = shared.upload_chunk_bytes() as u64;
        while offset < total {
            let end = (offset + chunk).min(total);
            let body = &bytes[offset as usize..end as usize];
            let len = body.len() as u64;
            report.bytes_sent += len;
            let sent = send(shared, |base, token| {
                tus(shared, Method::PATCH, &absolute(base, &location), token)
                    .header("upload-offset", offset.to_string())
                    .header("content-type", "application/offset+octet-stream")
                    .body(body.to_vec())
            })
            .await;
            let response = match sent {
                Ok(response) => response,
                Err(stop) => {
                    // The chunk may or may not have arrived: HEAD will say.
                    save_progress(shared, sha, Some(location.clone()), offset, len).await?;
                    return Err(stop);
                }
            };
            match response.status() {
                StatusCode::NO_CONTENT => {
                    offset = offset_header(&response).unwrap_or(end);
                    save_progress(shared, sha, Some(location.clone()), offset, len).await?;
                    shared.events.emit(CoreEvent::UploadProgress {
                        photo_id: row.photo_doc_id,
                        sha256: row.sha256.clone(),
                        thumbnail: row.kind == UploadKind::Thumbnail,
                        bytes_sent: offset,
                        bytes_total: total,
                    });
                }
                StatusCode::CONFLICT if conflicts < 3 => {
                    conflicts += 1;
                    break; // ask HEAD again
                }
                StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => {
                    save_progress(shared, sha, None, 0, len).await?;
                    url = None;
                    break;
                }
                StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::UNPROCESSABLE_ENTITY
                | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                    return Err(refusal(response).await);
                }
                other => {
                    save_progress(shared, sha, Some(location.clone()), offset, len).await?;
                    return Err(unexpected("sending a chunk", other));
                }
            }
        }
        if offset >= total {
            return Ok(());
        }
    }
}

/// Marks `stored` every pending photo of mine whose files are all on the
/// server; returns how many.
async fn mark_uploaded(shared: &Arc<Shared>) -> Result<u64> {
    let marked = shared
        .blocking(|shared| {
            let Some(account) = shared.account() else {
                return Ok(Vec::new());
            };
            let candidates: Vec<DocId> = shared.store.read(pending_of_mine)?;
            let mut marked = Vec::new();
            for id in candidates {
                let done = shared.store.read(|conn| {
                    let photo = documents::get_typed::<Photo>(conn, id)?;
                    let mut all = true;
                    for sha in [photo.sha256.as_str(), photo.thumbnail_sha256.as_str()] {
                        all &= queue::state_of(conn, sha)?.as_deref() == Some("done");
                    }
                    Ok(all && photo.upload_state == UploadState::Pending)
                })?;
                if !done {
                    continue;
                }
                let edited = documents::apply_edit::<Photo>(&shared.store, &account, id, |p| {
                    p.upload_state = UploadState::Stored;
                    Ok(())
                });
                match edited {
                    Ok(()) => marked.push(id),
                    Err(e) => tracing::warn!(%id, error = %e, "marking a photo uploaded"),
                }
            }
            Ok(marked)
        })
        .await?;
    for id in &marked {
        shared.events.emit(CoreEvent::DocumentChanged {
            doc_id: *id,
            kind: DocKind::Photo,
        });
    }
    if !marked.is_empty() {
        shared.after_write();
    }
    Ok(marked.len() as u64)
}

/// The worker beside the live session: a pass whenever there may be work
/// (a photo attached, a reconnection), retried with backoff and jitter.
pub(crate) async fn upload_loop(shared: Arc<Shared>) {
    let mut failures: u32 = 0;
    loop {
        match upload_pass(&shared).await {
            Ok(_) => failures = 0,
            Err(CoreError::Unauthorized(_) | CoreError::NotLoggedIn) => return,
            Err(error) => {
                tracing::debug!(%error, "photo upload pass failed");
                failures = failures.saturating_add(1);
            }
        }
        let wait = if failures == 0 {
            Duration::from_secs(600)
        } else {
            backoff(failures, 7, Duration::from_secs(120))
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.upload_kick.notified() => {}
        }
    }
}
