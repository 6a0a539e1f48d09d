//! Freeing the phone's storage: once a photo is on the server its full-size
//! file need not stay on the device. Thumbnails stay (lists show them
//! offline); a pruned original comes back with
//! [`Photos::fetch`](super::Photos::fetch) when someone opens it. The files
//! of a refused photo the user dismissed go too.

use std::time::Duration;

use fieldops_sync::docs::Photo;
use fieldops_sync::docs::photo::UploadState;

use super::queue;
use crate::documents;
use crate::error::Result;
use crate::shared::Shared;
use crate::store::now_ms;

/// How long the device keeps a photo's full-size file after its upload
/// finished, unless [`Photos::free_space`](super::Photos::free_space) is
/// asked sooner.
pub const KEEP_UPLOADED_PHOTOS: Duration = Duration::from_secs(30 * 24 * 3600);

/// Deletes the full-size files uploaded at least `uploaded_before` ago
/// whose photos say `stored`; returns the bytes freed.
pub(crate) fn prune(shared: &Shared, uploaded_before: Duration) -> Result<u64> {
    let age_ms = i64::try_from(uploaded_before.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(age_ms);
    let candidates = shared
        .store
        .read(|conn| queue::uploaded_images_before(conn, cutoff))?;
    let mut freed = 0;
    for (sha256, id) in candidates {
        // Pruned before: its row stays `done`, its file is gone.
        if !shared.files.path(&sha256).is_file() {
            continue;
        }
        let photo = shared
            .store
            .read(|conn| documents::get_typed::<Photo>(conn, id));
        if photo.is_ok_and(|p| p.upload_state == UploadState::Stored) {
            freed += shared.files.remove(&sha256);
        }
    }
    freed += forget_refused(shared)?;
    if freed > 0 {
        tracing::info!(bytes = freed, "photo files pruned");
    }
    Ok(freed)
}

/// Removes the files of refused photos the user dismissed: the server never
/// took them and nothing on the device shows them any more. Each goes in a
/// store transaction that finds its row still set aside and forgets it: a
/// photo of the same picture attached meanwhile has queued the file again
/// (and keeps it), or is recorded after this and writes it again
/// ([`super::record`]). A crash after the removal leaves a row the next pass
/// forgets.
///
/// A file another photo on the device still names stays: one a kept
/// refused photo names (the same picture attached twice to a full ticket)
/// is set aside with that photo instead; one a photo of mine names (its
/// thumbnail, shown offline) stays without a row.
fn forget_refused(shared: &Shared) -> Result<u64> {
    shared.store.write(|tx| {
        let forgotten = queue::refused_and_forgotten(tx)?;
        if forgotten.is_empty() {
            return Ok(0);
        }
        let named = super::still_named(tx)?;
        let mut freed = 0;
        for sha256 in forgotten {
            match named.get(&sha256) {
                Some(&Some(kept)) => queue::hand_over(tx, &sha256, kept)?,
                Some(None) => queue::forget_refused(tx, &sha256)?,
                None => {
                    freed += shared.files.remove(&sha256);
                    queue::forget_refused(tx, &sha256)?;
                }
            }
        }
        Ok(freed)
    })
}
