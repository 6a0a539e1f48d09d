//! The state every feature handle works on: the store, the listeners and
//! status, the signed-in session, the HTTP client, the runtime, the photo
//! files, and the signals that wake the sync and upload workers.
//!
//! [`FieldopsCore`](crate::FieldopsCore) owns one [`Shared`] behind an
//! `Arc`; each handle (`core.visits()`, `core.photos()`, ...) borrows it,
//! and background tasks (the live sync loop, the upload worker) hold a
//! clone. Nothing here knows a feature: the counts of pending work shown in
//! [`SyncStatus`](crate::SyncStatus) come from a function the core passes
//! in at open ([`Shared::count_pending`]), which asks each feature's module
//! for its own count. So features import this module, and it imports none of
//! them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use fieldops_sync::ids::{DeviceId, UserId};
use rand::Rng as _;
use rusqlite::Connection;

use crate::account::{self, Session};
use crate::error::{CoreError, Result};
use crate::events::{Events, PendingWork, SyncState};
use crate::files::PhotoFiles;
use crate::model::Account;
use crate::store::Store;

/// Counts the work not yet on the server (one read transaction).
pub(crate) type CountPending = fn(&Connection) -> Result<PendingWork>;

/// Shared state of the core; see the module doc.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) events: Events,
    pub(crate) session: RwLock<Option<Session>>,
    pub(crate) device_id: DeviceId,
    pub(crate) http: reqwest::Client,
    /// The core's runtime, for async calls and background tasks.
    pub(crate) runtime: tokio::runtime::Handle,
    /// Wakes the sync client after a local write.
    pub(crate) kick: tokio::sync::Notify,
    /// The live sync loop, while it runs.
    pub(crate) live: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serialises token refreshes: a refresh token works once.
    pub(crate) refresh_lock: tokio::sync::Mutex<()>,
    /// The photo files next to the store.
    pub(crate) files: PhotoFiles,
    /// Wakes the photo upload worker.
    pub(crate) upload_kick: tokio::sync::Notify,
    /// Call signals waiting for the live connection, and its wake-up.
    pub(crate) call_out: Mutex<std::collections::VecDeque<(i64, fieldops_sync::call::CallMessage)>>,
    pub(crate) call_kick: tokio::sync::Notify,
    /// Bytes per upload `PATCH`.
    pub(crate) upload_chunk_bytes: AtomicUsize,
    /// Counts the pending work for the status.
    pub(crate) count_pending: CountPending,
}

impl Shared {
    /// The signed-in session with its tokens, if any.
    pub(crate) fn session(&self) -> Option<Session> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_session(&self, session: Option<Session>) {
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = session;
    }

    /// Replaces the session with `renewed` (refreshed tokens) only if the
    /// same user's session is still the one in use, in one step: a sign-in
    /// that switched users meanwhile is never switched back.
    fn renew_session(&self, renewed: Session) -> bool {
        let mut current = self.session.write().unwrap_or_else(|e| e.into_inner());
        let same = current
            .as_ref()
            .is_some_and(|c| c.account.user_id == renewed.account.user_id);
        if same {
            *current = Some(renewed);
        }
        same
    }

    /// The signed-in account, if any.
    pub(crate) fn account(&self) -> Option<Account> {
        self.session().map(|s| s.account)
    }

    /// The signed-in account, or [`CoreError::NotLoggedIn`].
    pub(crate) fn require_account(&self) -> Result<Account> {
        self.account().ok_or(CoreError::NotLoggedIn)
    }

    /// The signed-in user, if any.
    pub(crate) fn user_id(&self) -> Option<UserId> {
        self.session().map(|s| s.account.user_id)
    }

    pub(crate) fn upload_chunk_bytes(&self) -> usize {
        self.upload_chunk_bytes.load(Ordering::Relaxed)
    }

    /// Recounts the pending work of the status (emitting it if it changed).
    pub(crate) fn refresh_status(&self) {
        if let Ok(work) = self.store.read(self.count_pending) {
            self.events.update_status(|s| s.set_pending(work));
        }
    }

    /// After a local write: recount, and wake the sync client.
    pub(crate) fn after_write(&self) {
        self.refresh_status();
        self.kick.notify_one();
    }

    /// Stops the live sync loop if it runs (the device goes offline).
    pub(crate) fn stop_live(&self) {
        let handle = self.live.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            handle.abort();
            self.events.update_status(|s| s.state = SyncState::Offline);
        }
    }

    /// Runs `task` on the core's runtime and waits for it (so an async call
    /// works from any executor the app uses).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        task: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.runtime
            .spawn(task)
            .await
            .map_err(|_| CoreError::Closed)?
    }

    /// Runs a store operation on the blocking pool.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Shared) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || f(&shared))
            .await
            .map_err(|_| CoreError::Closed)?
    }

    /// A session whose access token is valid, refreshed first if it expired
    /// (or if `force`: the server refused it).
    pub(crate) async fn fresh_session(self: &Arc<Self>, force: bool) -> Result<Session> {
        let _guard = self.refresh_lock.lock().await;
        let session = self.session().ok_or(CoreError::NotLoggedIn)?;
        if !force && !session.access_expired() {
            return Ok(session);
        }
        let renewed = account::refresh(&self.http, &session).await?;
        let stored = renewed.clone();
        self.blocking(move |shared| {
            shared.store.write(|tx| {
                // Signed out, or in as someone else, while the refresh was
                // on the network: their account stays as it is. A sign-in
                // switches the session in memory before its wipe reaches
                // the store, so both must still be this user's.
                let current = account::load(tx)?;
                if current.is_none_or(|c| c.account.user_id != stored.account.user_id) {
                    return Err(CoreError::NotLoggedIn);
                }
                if !shared.renew_session(stored.clone()) {
                    return Err(CoreError::NotLoggedIn);
                }
                account::save(tx, &stored)
            })
        })
        .await?;
        Ok(renewed)
    }
}

/// The wait before retry number `failures`: half a second doubled per
/// failure (at most `max_doublings` times), jittered by ±50 % so that many
/// devices do not retry in step, and never more than `cap`.
pub(crate) fn backoff(failures: u32, max_doublings: u32, cap: Duration) -> Duration {
    let base = 0.5 * 2f64.powi(failures.min(max_doublings) as i32);
    let jitter = rand::rng().random_range(0.5..1.5);
    Duration::from_secs_f64((base * jitter).min(cap.as_secs_f64()))
}
