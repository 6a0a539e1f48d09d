//! What the core tells the app: a listener interface and the sync status.
//!
//! The app registers a [`CoreListener`]; the core calls it after the change
//! is committed, from a core thread, so a UI can refresh without polling.
//! Listeners must return quickly and must not call back into the core while
//! holding their own locks.

use std::sync::{Arc, Mutex, RwLock};

use fieldops_sync::call::CallId;
use fieldops_sync::ids::{DocId, DocKind};

use crate::model::OutboxEntry;

/// Whether the device is talking to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Connected and up to date, or not asked to sync.
    Idle,
    /// Exchanging data.
    Syncing,
    /// No connection; retrying with backoff.
    Offline,
    /// A failure that retrying will not fix (signed out, app too old).
    Error,
}

/// The observable sync status.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncStatus {
    /// Current state.
    pub state: SyncState,
    /// Commands not sent yet.
    pub pending_commands: u64,
    /// Commands sent and not answered yet.
    pub sending_commands: u64,
    /// Documents with local changes the server has not confirmed.
    pub unsynced_documents: u64,
    /// Photo files (photos and thumbnails) whose bytes are not on the server yet.
    pub pending_uploads: u64,
    /// Photo files the server refused (see [`Photos::pending_uploads`](crate::Photos::pending_uploads)).
    pub failed_uploads: u64,
    /// When the device last finished a catch-up, Unix ms.
    pub last_synced_at_ms: Option<i64>,
    /// The last error, for display; no personal data.
    pub last_error: Option<String>,
}

impl Default for SyncStatus {
    fn default() -> Self {
        SyncStatus {
            state: SyncState::Idle,
            pending_commands: 0,
            sending_commands: 0,
            unsynced_documents: 0,
            pending_uploads: 0,
            failed_uploads: 0,
            last_synced_at_ms: None,
            last_error: None,
        }
    }
}

/// The work not yet on the server, as counted for [`SyncStatus`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PendingWork {
    /// Commands not sent yet.
    pub(crate) pending_commands: u64,
    /// Commands sent and not answered yet.
    pub(crate) sending_commands: u64,
    /// Documents with unconfirmed local changes.
    pub(crate) unsynced_documents: u64,
    /// Photo files not on the server yet.
    pub(crate) pending_uploads: u64,
    /// Photo files the server refused.
    pub(crate) failed_uploads: u64,
}

impl SyncStatus {
    pub(crate) fn set_pending(&mut self, work: PendingWork) {
        self.pending_commands = work.pending_commands;
        self.sending_commands = work.sending_commands;
        self.unsynced_documents = work.unsynced_documents;
        self.pending_uploads = work.pending_uploads;
        self.failed_uploads = work.failed_uploads;
    }
}

/// Something the app may want to show.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreEvent {
    /// A document was written (locally or by sync).
    DocumentChanged {
        /// The document.
        doc_id: DocId,
        /// Its kind.
        kind: DocKind,
    },
    /// The server answered a command.
    CommandAnswered(OutboxEntry),
    /// Documents left the device's scope and were removed.
    ScopeDropped {
        /// The documents.
        doc_ids: Vec<DocId>,
        /// Why, as a stable code (`out_of_scope`, `deleted`, `replaced`).
        reason: String,
    },
    /// The server refused local changes to a document; it was reset to the
    /// server's version (or removed, if the server never had it). The
    /// device's version is kept until the user dismisses it:
    /// [`Documents::refused`](crate::Documents::refused) (so is a dropped
    /// document's that held unsent edits).
    WriteRejected {
        /// The document.
        doc_id: DocId,
        /// The fields refused, as `field:reason`.
        violations: Vec<String>,
    },
    /// The sync status changed.
    SyncStatusChanged(SyncStatus),
    /// Bytes of a photo file reached the server: after each acknowledged
    /// chunk, and once at the end (`bytes_sent == bytes_total`, also when the
    /// server already had them and nothing was sent).
    UploadProgress {
        /// The photo document.
        photo_id: DocId,
        /// The file's hash.
        sha256: String,
        /// The thumbnail rather than the photo.
        thumbnail: bool,
        /// Bytes the server acknowledged.
        bytes_sent: u64,
        /// The file's size.
        bytes_total: u64,
    },
    /// A photo upload failed. `permanent`: the server refused the bytes and
    /// they are not retried; otherwise the worker retries with backoff.
    UploadFailed {
        /// The photo document.
        photo_id: DocId,
        /// The file's hash.
        sha256: String,
        /// A stable code and a short text, e.g. `corrupt-image: ...`.
        reason: String,
        /// Whether it will not be retried.
        permanent: bool,
    },
    /// A call rings on this device: show the pop-up (accept or decline).
    /// The core has told the server the device rings.
    IncomingCall {
        /// The call.
        call_id: CallId,
        /// Who calls.
        caller_name: String,
        /// Whether a staff member calls (a customer's support call is not).
        from_staff: bool,
        /// The ticket it is about.
        ticket_id: Option<DocId>,
        /// `audio` or `video`.
        media: String,
        /// Unix ms after which it is missed.
        expires_at_ms: i64,
    },
    /// A call's state changed: `calling` (placed, not yet ringing),
    /// `ringing`, `connected` (start the media: the caller makes the offer)
    /// or `ended` with its reason (`declined`, `cancelled`, `missed`,
    /// `busy`, `failed`, `hangup`, `answered_elsewhere`, or `refused:<code>`
    /// when the server refused the call).
    CallChanged {
        /// The call.
        call_id: CallId,
        /// The new state.
        state: String,
        /// Why it ended.
        reason: Option<String>,
    },
    /// The other device's WebRTC signal, for the app's peer connection:
    /// `offer` or `answer` (an SDP) or `candidate` (`RTCIceCandidateInit`
    /// as JSON).
    CallSignal {
        /// The call.
        call_id: CallId,
        /// `offer`, `answer` or `candidate`.
        kind: String,
        /// The SDP or the candidate.
        payload: String,
    },
    /// The server refused a signal of this device (nothing was relayed).
    CallRefused {
        /// The call.
        call_id: CallId,
        /// A stable code (`forbidden`, `no_agent`, `unknown_call`, ...).
        refusal: String,
        /// For a person.
        message: String,
    },
}

/// Receives [`CoreEvent`]s.
pub trait CoreListener: Send + Sync {
    /// Called after the change is durably stored.
    fn on_event(&self, event: CoreEvent);
}

/// The registered listeners and the current status.
#[derive(Default)]
pub(crate) struct Events {
    listeners: RwLock<Vec<Arc<dyn CoreListener>>>,
    status: Mutex<SyncStatus>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    pub(crate) fn add(&self, listener: Arc<dyn CoreListener>) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
    }

    pub(crate) fn emit(&self, event: CoreEvent) {
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for listener in listeners {
            // A panicking listener must not take the sync task down.
            let event = event.clone();
            let _ =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listener.on_event(event)));
        }
    }

    pub(crate) fn status(&self) -> SyncStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Updates the status and emits it if it changed.
    pub(crate) fn update_status(&self, f: impl FnOnce(&mut SyncStatus)) {
        let changed = {
            let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
            let before = status.clone();
            f(&mut status);
            (*status != before).then(|| status.clone())
        };
        if let Some(status) = changed {
            self.emit(CoreEvent::SyncStatusChanged(status));
        }
    }
}
