//! Freeing the phone's storage: once a photo is on the server its full-size
//! file need not stay on the device. Thumbnails stay (lists show them
//! offline); a pruned original comes back with
//! [`FieldopsCore::fetch_photo`] when someone opens it.

use std::time::Duration;

use fieldops_sync::docs::Photo;
use fieldops_sync::docs::photo::UploadState;
use fieldops_sync::ids::DocId;
use rusqlite::params;

use super::Uploads;
use crate::api::{FieldopsCore, Inner};
use crate::documents;
use crate::error::Result;
use crate::store::{id_at, now_ms};

/// How long the device keeps a photo's full-size file after its upload
/// finished, unless [`FieldopsCore::free_photo_space`] is asked sooner.
pub const KEEP_UPLOADED_PHOTOS: Duration = Duration::from_secs(30 * 24 * 3600);

impl FieldopsCore {
    /// Deletes the device's full-size files of photos that reached the server
    /// at least `uploaded_before` ago and whose documents say `stored`;
    /// thumbnails stay. Returns the bytes freed. Runs by itself after each
    /// upload pass with [`KEEP_UPLOADED_PHOTOS`]; call it sooner when the
    /// phone runs short of space.
    pub fn free_photo_space(&self, uploaded_before: Duration) -> Result<u64> {
        prune(&self.inner, uploaded_before)
    }
}

/// [`FieldopsCore::free_photo_space`] on the core's state.
pub(crate) fn prune(inner: &Inner, uploaded_before: Duration) -> Result<u64> {
    let age_ms = i64::try_from(uploaded_before.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(age_ms);
    let candidates: Vec<(String, DocId)> = inner.store.read(|conn| {
        let mut stmt = conn.prepare(
            "SELECT sha256, photo_doc_id FROM photo_uploads
             WHERE kind = 'image' AND state = 'done' AND updated_at_ms <= ?1",
        )?;
        let rows = stmt.query_map(params![cutoff], |r| Ok((r.get(0)?, id_at(r, 1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    })?;
    let mut freed = 0;
    for (sha256, id) in candidates {
        // Pruned before: its row stays `done`, its file is gone.
        if !inner.uploads.path(&sha256).is_file() {
            continue;
        }
        let photo = inner
            .store
            .read(|conn| documents::get_typed::<Photo>(conn, id));
        if photo.is_ok_and(|p| p.upload_state == UploadState::Stored) {
            freed += remove(&inner.uploads, &sha256);
        }
    }
    if freed > 0 {
        tracing::info!(bytes = freed, "uploaded photo files pruned");
    }
    Ok(freed)
}

/// Deletes the file of `sha256`; its size, or 0 if there was none.
fn remove(uploads: &Uploads, sha256: &str) -> u64 {
    let path = uploads.path(sha256);
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    match std::fs::remove_file(&path) {
        Ok(()) => size,
        Err(_) => 0,
    }
}
