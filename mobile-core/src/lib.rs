//! fieldops-core: the offline-first engine inside the iOS and Android apps.
//!
//! The apps hold one [`FieldopsCore`] per store file and reach every feature
//! through a small handle borrowed from it:
//!
//! ```no_run
//! # async fn demo() -> fieldops_core::Result<()> {
//! use std::time::Duration;
//! use fieldops_core::{FieldopsCore, Position};
//!
//! let core = FieldopsCore::open("/data/fieldops.db")?;
//! core.auth().login("https://ops.example.com", "tech1@example.com", "secret").await?;
//! core.sync().now(Duration::from_secs(20)).await?;
//! let here = Position::new(-6.2, 106.8)?;
//! if let Some(nearest) = core.visits().pool(Some(here))?.first() {
//!     let claim = core.visits().claim(nearest.doc_id)?; // queued, pending
//!     core.sync().now(Duration::from_secs(20)).await?;
//!     println!("{:?}", core.outbox().get(claim.command_id)?.state);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! | handle | module | owns |
//! |---|---|---|
//! | [`core.auth()`](Auth) | [`auth`](crate::Auth) + `account` | the `account` table, tokens, sign-in wipes |
//! | [`core.visits()`](Visits) | `visits` | visit lists; notes, checklist; claim, check-in/out, extension, rating |
//! | [`core.tickets()`](Tickets) | `tickets` | ticket list; opening offline, closing, description, chat |
//! | [`core.invoices()`](Invoices) | `invoices` | invoice list (read-only documents); paying with a receipt photo |
//! | [`core.photos()`](Photos) | `photos` | the `photo_uploads` table, the upload worker, downloads, pruning |
//! | [`core.outbox()`](Outbox) | [`outbox`] | the `outbox` table: `pending → sending → accepted \| rejected` |
//! | [`core.documents()`](Documents) | `documents` | the `documents` and `doc_index` tables |
//! | [`core.sync()`](SyncClient) | `sync_client` | no table: sessions on `/api/v1/sync`, the live loop, the status |
//!
//! The SQL of a feature is in its module and nowhere else; a feature uses
//! another's tables only through that module's functions (the sync client
//! stores documents through `documents`, answers through `outbox`).
//!
//! # Layers
//!
//! Imports go one way, from the top of this list down; a module never
//! names one of its own layer or above (`tests/layers.rs` fails if one
//! does, and if a module writes another's table). Being separate modules of
//! one crate, the compiler would accept a cycle; the test is what keeps the
//! shape, and its table of layers is the one to extend.
//!
//! 1. `facade` — [`FieldopsCore`]: opens the store, builds the shared state,
//!    hands out the handles. The only module that knows every feature.
//! 2. the features — `sync_client`, then `auth`, then `invoices`, then `photos`, then
//!    `visits` and `tickets`, then [`outbox`], then `documents`. A feature
//!    may use those below it (a claim queues through `outbox`; a sign-in
//!    wipes through `documents`, `outbox` and `photos`).
//! 3. `shared` — the state every handle borrows: the store, listeners and
//!    status, the session, the HTTP client, the runtime, the photo files, the
//!    wake-up signals. It knows no feature: the status's pending counts come
//!    from a function `facade` passes in.
//! 4. `account` (tokens and the `account` table), below the shared state
//!    that holds the session.
//! 5. [`store`] (one SQLite writer, one reader, `Store::write` the only
//!    commit), `files` (the photo files next to the store), `events`
//!    ([`CoreEvent`], [`SyncStatus`]).
//! 6. `model` ([`Account`], [`OutboxEntry`]), [`schema`], [`geo`]; then
//!    [`error`]; then [`photo`] (the image pipeline); and `fieldops-sync`.
//!
//! # What the store holds
//!
//! One SQLite file ([`store`], WAL, `synchronous = FULL`) with the Automerge
//! documents in the user's scope, stored as the server sent them (compacted
//! snapshots, parsed when opened or edited) plus incremental changes; a
//! materialised index of what the app lists (my visits by start date, the
//! pool by distance, my tickets by status), written from the listing the
//! server sends beside each document; the outbox of commands, ordered
//! by `device_seq` and keyed by the idempotency key; the feed cursor, the
//! signed-in account and the photo upload queue. A damaged id in it is
//! [`CoreError::StoreCorrupt`], never a made-up id.
//!
//! Reads and writes never wait for the network. Collaborative edits (visit
//! notes, checklist, ticket description) are Automerge changes, checked
//! first against the shared write rules ([`fieldops_sync::rules`]) so the
//! server rarely refuses them; decisions (claim, check-in, extension,
//! rating, closing a ticket, chat, paying an invoice) are commands that show as pending until
//! the server answers. The sync client speaks [`fieldops_sync::protocol`]
//! on `/api/v1/sync`. The app listens for [`CoreEvent`]s instead of polling.
//!
//! The crate depends on `fieldops-sync` and never on the server; the
//! `fieldops-ffi` crate exposes it to Kotlin and Swift.

mod account;
mod auth;
mod calls;
mod documents;
pub mod error;
mod events;
mod facade;
mod files;
pub mod geo;
mod invoices;
mod journeys;
mod model;
pub mod outbox;
pub mod photo;
mod photos;
pub mod schema;
mod shared;
pub mod store;
mod sync_client;
mod tickets;
mod visits;

pub use auth::Auth;
pub use calls::{CallInfo, CallState, Calls};
pub use documents::{Documents, ListItem, RefusedDocument};
pub use error::{CoreError, Result};
pub use events::{CoreEvent, CoreListener, SyncState, SyncStatus};
pub use facade::FieldopsCore;
pub use geo::{GeofenceCheck, Position};
pub use invoices::{Invoices, PaymentReceipt, PaymentState, PaymentView};
pub use journeys::{FormScreen, FormView, JourneyInfo, Journeys};
pub use model::{Account, CommandState, OutboxEntry};
pub use outbox::Outbox;
pub use photos::{
    AttachedPhoto, DEFAULT_CHUNK_BYTES, KEEP_UPLOADED_PHOTOS, MAX_CAPTION_CHARS, PhotoUpload,
    Photos, UploadKind, UploadStatus,
};
pub use sync_client::{SyncClient, SyncReport};
pub use tickets::{MAX_DESCRIPTION_CHARS, Tickets};
pub use visits::{AttendanceReceipt, MAX_LABEL_CHARS, MAX_NOTES_CHARS, Visits};

/// The shared documents, ids and commands, re-exported for callers.
pub use fieldops_sync as sync;
