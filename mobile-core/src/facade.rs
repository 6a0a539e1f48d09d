//! The core object the apps hold ([`FieldopsCore`]): it opens the store,
//! owns the runtime, and hands out one small handle per feature.
//!
//! ```text
//! core.auth()       sign in and out, who is signed in
//! core.visits()     my visits, the pool, notes, checklist, claim, check-in, ...
//! core.tickets()    my tickets, opening and closing, description, chat
//! core.photos()     attach, read, upload queue, fetch, free space
//! core.outbox()     the commands queued on the device
//! core.documents()  what every document kind shares (generic edit, counts)
//! core.sync()       the live loop, one-shot syncs, the sync status
//! ```
//!
//! A handle borrows the core's shared state and is free to make; it has no
//! state of its own. This is the only module that knows every feature: it
//! builds the [`Shared`] state, hands it the function that counts pending
//! work across features ([`pending_work`]), and lists the handles. Nothing
//! imports it back.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};

use fieldops_sync::ids::DeviceId;
use rusqlite::Connection;

use crate::account;
use crate::auth::Auth;
use crate::calls::Calls;
use crate::documents::{self, Documents};
use crate::error::{CoreError, Result};
use crate::events::{CoreListener, Events, PendingWork};
use crate::files::PhotoFiles;
use crate::invoices::Invoices;
use crate::journeys::Journeys;
use crate::outbox::{self, Outbox};
use crate::photos::{self, Photos};
use crate::shared::Shared;
use crate::store::Store;
use crate::sync_client::SyncClient;
use crate::tickets::Tickets;
use crate::visits::Visits;

/// The core: one per store file. Owns the tokio runtime its sync client
/// and async calls run on.
#[derive(Debug)]
pub struct FieldopsCore {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for FieldopsCore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Never block: the core may be dropped on an async thread.
            runtime.shutdown_background();
        }
    }
}

/// The pending work of every feature, for the sync status: each count is
/// its feature's query.
fn pending_work(conn: &Connection) -> Result<PendingWork> {
    let (pending_commands, sending_commands) = outbox::open_counts(conn)?;
    let (pending_uploads, failed_uploads) = photos::upload_counts(conn)?;
    Ok(PendingWork {
        pending_commands,
        sending_commands,
        unsynced_documents: documents::unsynced_count(conn)?,
        pending_uploads,
        failed_uploads,
    })
}

impl FieldopsCore {
    /// Opens the store at `path` (created if missing) and the signed-in
    /// session kept in it, if any.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let store = Store::open(path)?;
        let files = PhotoFiles::open(store.path())?;
        let device_id = store.device_id()?;
        let session = store.read(account::load)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fieldops-core")
            .enable_all()
            .build()
            .map_err(|e| CoreError::Network(format!("cannot start the runtime: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let shared = Arc::new(Shared {
            store,
            events: Events::default(),
            session: RwLock::new(session),
            device_id,
            http,
            runtime: runtime.handle().clone(),
            kick: tokio::sync::Notify::new(),
            live: Mutex::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            files,
            upload_kick: tokio::sync::Notify::new(),
            call_out: Mutex::default(),
            call_kick: tokio::sync::Notify::new(),
            upload_chunk_bytes: AtomicUsize::new(photos::DEFAULT_CHUNK_BYTES),
            count_pending: pending_work,
        });
        shared.refresh_status();
        Ok(FieldopsCore {
            shared,
            runtime: Some(runtime),
        })
    }

    /// The runtime the core's async work runs on.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.shared.runtime
    }

    /// This installation's id.
    pub fn device_id(&self) -> DeviceId {
        self.shared.device_id
    }

    /// Registers a listener for [`CoreEvent`](crate::CoreEvent)s.
    pub fn add_listener(&self, listener: Arc<dyn CoreListener>) {
        self.shared.events.add(listener);
    }

    /// Signing in and out, and who is signed in.
    pub fn auth(&self) -> Auth<'_> {
        Auth::new(&self.shared)
    }

    /// Visits: reading, lists, edits, claims, check-ins, extensions, ratings.
    pub fn visits(&self) -> Visits<'_> {
        Visits::new(&self.shared)
    }

    /// Tickets: reading, my tickets, opening and closing, description, chat.
    pub fn tickets(&self) -> Tickets<'_> {
        Tickets::new(&self.shared)
    }

    /// Invoices: reading them, paying one with a receipt photo.
    pub fn invoices(&self) -> Invoices<'_> {
        Invoices::new(&self.shared)
    }

    /// Journeys: the intake forms a customer fills in offline to open a
    /// ticket.
    pub fn journeys(&self) -> Journeys<'_> {
        Journeys::new(&self.shared)
    }

    /// Calls: the incoming-call pop-up's answers, calling support, the
    /// signalling channel the app's WebRTC stack plugs into, missed calls.
    pub fn calls(&self) -> Calls<'_> {
        Calls::new(&self.shared)
    }

    /// Photos: attaching, reading, the upload queue, fetching, freeing space.
    pub fn photos(&self) -> Photos<'_> {
        Photos::new(&self.shared)
    }

    /// The commands queued on the device.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox::new(&self.shared)
    }

    /// What every document shares, whatever its kind.
    pub fn documents(&self) -> Documents<'_> {
        Documents::new(&self.shared)
    }

    /// The sync client: live loop, one-shot sync, status.
    pub fn sync(&self) -> SyncClient<'_> {
        SyncClient::new(&self.shared)
    }
}
