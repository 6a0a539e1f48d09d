//! The sync client (`core.sync()`): the live loop, one-shot syncs for
//! background windows, and the sync status.
//!
//! A session ([`connection`]) sends `Hello` with the access token and the
//! stored cursor, stores what the server sends frame by frame (each frame in
//! one transaction, before the next frame is read), acknowledges a `Feed`
//! cursor only after storing it, and pushes local changes and the outbox in
//! device order. The live loop ([`SyncClient::start`]) reconnects with
//! exponential backoff and jitter and runs the photo upload worker beside
//! the session; [`SyncClient::now`] runs one bounded session, the photo
//! uploads, and a second session if the uploads marked photos `stored`.
//!
//! The sync client drives the other features (documents, outbox, photo
//! uploads) through their modules and has no SQL of its own; it sits above
//! them all, below only the core that hands it out.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{CoreError, Result};
use crate::events::{SyncState, SyncStatus};
use crate::photos;
use crate::shared::{Shared, backoff};

mod connection;

use connection::run_session;

/// What a finished one-shot sync did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Documents received or updated.
    pub documents_received: u64,
    /// Command results received.
    pub commands_answered: u64,
    /// The cursor stored at the end.
    pub cursor: u64,
    /// Photo files whose bytes reached the server (or were there already).
    pub uploads_completed: u64,
    /// Bytes sent in upload chunks (a chunk cut short counts whole).
    pub upload_bytes_sent: u64,
    /// Why the photo uploads stopped, when they did (the connection dropped
    /// mid-upload, say). The sync itself succeeded; the uploads resume from
    /// their offsets on the next sync.
    pub upload_error: Option<String>,
}

/// Talking to the server (`core.sync()`).
#[derive(Debug, Clone, Copy)]
pub struct SyncClient<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> SyncClient<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        SyncClient { shared }
    }

    /// The current sync status.
    pub fn status(&self) -> SyncStatus {
        self.shared.refresh_status();
        self.shared.events.status()
    }

    /// Starts the live sync loop (idempotent): connect, catch up, stay live,
    /// reconnect with backoff and jitter.
    pub fn start(&self) -> Result<()> {
        if self.shared.session().is_none() {
            return Err(CoreError::NotLoggedIn);
        }
        let mut live = self.shared.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        let shared = self.shared.clone();
        *live = Some(self.shared.runtime.spawn(live_loop(shared)));
        Ok(())
    }

    /// Stops the live loop (the device goes offline); local work continues.
    pub fn stop(&self) {
        self.shared.stop_live();
    }

    /// One bounded sync: connect, catch up, push local changes and the
    /// outbox, wait for the answers, upload queued photos (then push the
    /// documents that now say `stored`), and stop within `timeout`.
    pub async fn now(&self, timeout: Duration) -> Result<SyncReport> {
        if self.shared.session().is_none() {
            return Err(CoreError::NotLoggedIn);
        }
        let shared = self.shared.clone();
        self.shared
            .run(async move {
                let result = tokio::time::timeout(timeout, Box::pin(one_shot(&shared))).await;
                match result {
                    Ok(Ok(report)) => Ok(report),
                    Ok(Err(error)) => {
                        set_failure(&shared, &error);
                        Err(error)
                    }
                    Err(_) => {
                        shared.events.update_status(|s| s.state = SyncState::Idle);
                        Err(CoreError::Timeout)
                    }
                }
            })
            .await
    }
}

/// A session, the photo uploads, and a second session if the uploads
/// marked photos `stored`. Uploads that fail after a good session do not fail
/// the sync (its documents and command results are stored): the report says
/// why they stopped. A sign-in problem still fails it.
async fn one_shot(shared: &Arc<Shared>) -> Result<SyncReport> {
    let mut report = Box::pin(run_session(shared, true)).await?;
    let uploads = match photos::upload_pass(shared).await {
        Ok(uploads) => uploads,
        Err(error @ (CoreError::Unauthorized(_) | CoreError::NotLoggedIn)) => return Err(error),
        Err(error) => {
            tracing::debug!(%error, "photo uploads stopped");
            report.upload_error = Some(error.to_string());
            return Ok(report);
        }
    };
    report.uploads_completed = uploads.completed;
    report.upload_bytes_sent = uploads.bytes_sent;
    if uploads.marked > 0 {
        let again = Box::pin(run_session(shared, true)).await?;
        report.documents_received += again.documents_received;
        report.commands_answered += again.commands_answered;
        report.cursor = report.cursor.max(again.cursor);
    }
    Ok(report)
}

fn set_failure(shared: &Shared, error: &CoreError) {
    let state = match error {
        CoreError::Unauthorized(_) | CoreError::NotLoggedIn => SyncState::Error,
        _ => SyncState::Offline,
    };
    let text = error.to_string();
    shared.events.update_status(|s| {
        s.state = state;
        s.last_error = Some(text);
    });
}

/// The live session and, beside it, the photo upload worker.
async fn live_loop(shared: Arc<Shared>) {
    tokio::join!(sync_loop(shared.clone()), photos::upload_loop(shared));
}

async fn sync_loop(shared: Arc<Shared>) {
    let mut failures: u32 = 0;
    loop {
        match run_session(&shared, false).await {
            Ok(_) => failures = 0,
            Err(error) => {
                set_failure(&shared, &error);
                if matches!(error, CoreError::Unauthorized(_) | CoreError::NotLoggedIn) {
                    return;
                }
                failures = failures.saturating_add(1);
            }
        }
        let delay = backoff(failures, 6, Duration::from_secs(60));
        tracing::debug!(?delay, failures, "sync reconnecting");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            // A local write while offline: try again sooner.
            _ = shared.kick.notified(), if failures > 0 => {}
        }
    }
}
