//! fieldops-core: the offline-first engine inside the iOS and Android apps.
//!
//! Everything the apps do goes through [`FieldopsCore`]. It keeps a local
//! SQLite store ([`store`], one writer connection, WAL) holding:
//!
//! * the Automerge documents in the user's scope, stored as the server sent
//!   them (compacted snapshots, parsed on first read) plus incremental
//!   changes — see [`documents`](crate::FieldopsCore::visit);
//! * a materialised index of what the app lists: my visits by start date,
//!   the pool by distance, my tickets by status;
//! * the outbox of commands ([`outbox`]): `pending → sending → accepted |
//!   rejected`, ordered by `device_seq`, keyed by the idempotency key;
//! * the feed cursor, the signed-in account and the photo upload queue
//!   ([`uploads`](crate::FieldopsCore::attach_photo): photos attached
//!   offline, uploaded resumably by a worker when online).
//!
//! Reads and writes never wait for the network. Collaborative edits (visit
//! notes, checklist, ticket description) are Automerge changes, checked
//! first against the shared write rules ([`fieldops_sync::rules`]) so the
//! server rarely refuses them; decisions (claim, check-in, extension,
//! rating, closing a ticket, chat) are commands that show as pending until
//! the server answers. The sync client ([`FieldopsCore::start_sync`],
//! [`FieldopsCore::sync_now`]) speaks [`fieldops_sync::protocol`] on
//! `/api/v1/sync`. The app listens for [`CoreEvent`]s instead of polling.
//!
//! The crate depends on `fieldops-sync` and never on the server; the
//! `fieldops-ffi` crate exposes it to Kotlin and Swift.

mod account;
mod api;
mod client;
mod documents;
pub mod error;
mod events;
pub mod geo;
pub mod outbox;
pub mod photo;
pub mod schema;
pub mod store;
mod uploads;

pub use account::Account;
pub use api::{
    AttendanceReceipt, FieldopsCore, ListItem, MAX_DESCRIPTION_CHARS, MAX_LABEL_CHARS,
    MAX_NOTES_CHARS,
};
pub use client::SyncReport;
pub use error::{CoreError, Result};
pub use events::{CoreEvent, CoreListener, SyncState, SyncStatus};
pub use geo::{GeofenceCheck, Position};
pub use outbox::{CommandState, OutboxEntry};
pub use uploads::{
    AttachedPhoto, DEFAULT_CHUNK_BYTES, KEEP_UPLOADED_PHOTOS, MAX_CAPTION_CHARS, PhotoUpload,
    UploadKind, UploadStatus,
};

/// The shared documents, ids and commands, re-exported for callers.
pub use fieldops_sync as sync;
