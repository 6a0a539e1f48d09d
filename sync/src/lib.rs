//! fieldops-sync: the Automerge documents, write rules, commands and wire
//! protocol that the fieldops server and devices share.
//!
//! This crate is pure: no tokio, no SQL, no HTTP, no files, no FFI. The
//! engines that do I/O (`fieldops-server`, `fieldops-core`) drive it, and
//! every decision they share lives here, so the two sides cannot disagree.
//!
//! # Documents and commands
//!
//! Field work happens offline, so a device must be able to write without
//! asking anyone. There are two kinds of writes, and the split between them
//! is the core of the design.
//!
//! * **Documents** hold data that people edit and that merges: a ticket's
//!   description, a visit's notes and checklist, a photo's caption, a
//!   check-in record. Each is an [Automerge](automerge) document with a
//!   typed schema in [`docs`]: a plain struct, read with
//!   [`DocumentSchema::hydrate`](docs::DocumentSchema::hydrate) and written
//!   with [`DocumentSchema::reconcile`](docs::DocumentSchema::reconcile),
//!   which emits operations only for the fields that differ. Text that
//!   several people edit is Automerge text, so concurrent edits merge
//!   character by character. There are six kinds ([`ids::DocKind`]); the
//!   staff-only internal notes are a kind of their own, because whoever
//!   replicates a document receives all of it; an invoice is one the
//!   server alone writes (a customer pays it by a command).
//!
//! * **Commands** ([`commands`]) are decisions that need one authority:
//!   claiming the last slot of a visit, checking in against an assignment,
//!   rating a visit with a single-use token. A device queues a
//!   [`Command`](commands::Command) with an idempotency key; the server
//!   executes it at most once, in order per device, and answers with a
//!   [`CommandResult`](commands::CommandResult). The server writes the
//!   outcome into documents (the assignment appears in the visit), so every
//!   device in scope learns it by ordinary sync, not by a side channel.
//!
//! # Scope and write rules
//!
//! The server decides which documents each identity replicates: a
//! technician the open pool and the visits assigned to them, a customer
//! their own tickets, visits and photos, staff their departments. Scope is
//! the server's business; this crate only gives it the vocabulary (the
//! [`Drop`](protocol::ServerMessage::Drop) message when a scope shrinks).
//!
//! Who may change *what* is the business of [`rules`]: one table,
//! [`RULES`](rules::RULES), of which [`Role`](rules::Role) may change which
//! fields of which kind, in which state, under which ownership condition.
//! [`rules::check_change`] compares a document before and after a set of
//! changes and returns every [`Violation`](rules::Violation). The server
//! applies incoming changes to a copy with [`rules::receive_checked`] and
//! keeps the copy only if it is clean, so a refused change is never stored
//! and never forwarded; the author gets a
//! [`WriteRejected`](protocol::WriteRejected) carrying the authoritative
//! document, which it adopts in place of its own. Devices run the same
//! check first with [`rules::check_since`], so honest apps rarely see one.
//!
//! # The protocol
//!
//! A session is a sequence of binary frames ([`protocol`]), each one
//! version byte and a postcard-encoded message with hard limits on every
//! field. The flow goes like this:
//!
//! * The device sends [`Hello`](protocol::Hello) with its access token and
//!   its **cursor**: the position in the server's change feed up to which
//!   it has stored everything.
//! * The server answers [`Welcome`](protocol::Welcome) with the cursor the
//!   catch-up will reach, then sends what changed in scope since the
//!   device's cursor: whole compacted documents the device has never seen as
//!   [`ListedSnapshots`](protocol::ServerMessage::ListedSnapshots), each with
//!   its [`Listing`](listing::Listing) (the device stores the bytes as they
//!   are, writes its list row from the listing, and parses a document only
//!   when it is opened),
//!   Automerge sync messages for documents it has, in
//!   [`SyncBatch`](protocol::SyncBatch)es, and documents that left its
//!   scope as `Drop`. A [`Feed`](protocol::Feed) frame closes the catch-up:
//!   everything up to its cursor has been sent.
//! * The device pushes its own changes as [`Changes`](protocol::ClientMessage::Changes):
//!   per document, the raw Automerge changes made since the heads the server
//!   last confirmed. The server checks them against the write rules and answers
//!   [`Applied`](protocol::ServerMessage::Applied) with its new heads (the
//!   device's new confirmed heads) or `WriteRejected`: one round trip. Peers
//!   that prefer Automerge's own sync protocol may use `SyncBatch` instead, one
//!   [`sync::State`](automerge::sync::State) per document. The outbox goes as
//!   `Commands`, in `device_seq` order.
//! * Then the session is **live**: each change the server stores reaches
//!   the devices in scope as a `ListedSnapshots` frame carrying just the new change
//!   bytes (which `load_incremental` merges), followed by a `Feed` frame.
//!
//! The device stores a cursor only after it has durably stored everything
//! that preceded the `Feed` frame naming it, and tells the server with
//! [`Ack`](protocol::ClientMessage::Ack). A session cut at any point
//! therefore resumes from a cursor whose changes are all on the device:
//! nothing is lost. Whatever is sent again is harmless, because applying an
//! Automerge change twice is a no-op and commands are deduplicated by id:
//! nothing is duplicated. A device with nothing new reconnects in one round
//! trip: `Hello` with a current cursor, `Welcome` and an empty `Feed`.
//!
//! # Example
//!
//! A technician's device and the server converge on a visit's notes. The
//! Automerge sync loop is the one from [`automerge::sync`]; what this crate
//! adds is the framing and the write check on the server side.
//!
//! ```
//! use automerge::sync::{self, SyncDoc};
//! use fieldops_sync::docs::{DocumentSchema, Visit};
//! use fieldops_sync::ids::{DocId, DocKind};
//! use fieldops_sync::protocol::{ClientMessage, DocSync, ServerMessage, SyncBatch};
//! use fieldops_sync::rules::{self, Actor, Role};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The server holds a visit assigned to one technician.
//! let visit = fieldops_sync::testing::sample_visit();
//! let technician = Actor::user(Role::Technician, visit.assignments[0].technician_id);
//! let doc_id = DocId::new();
//! let mut server = visit.to_document()?;
//!
//! // The device got the visit earlier (as a snapshot) and, offline, writes notes.
//! let mut device = automerge::AutoCommit::load(&server.save())?;
//! let mut edited = Visit::hydrate(&device)?;
//! edited.notes = "Valve replaced, pressure back to 1.5 bar.".into();
//! edited.reconcile(&mut device)?;
//!
//! // Back online, both sides run the sync loop, one state per document.
//! let (mut device_state, mut server_state) = (sync::State::new(), sync::State::new());
//! loop {
//!     // Device → server, wrapped in a client frame.
//!     let outgoing = device.sync().generate_sync_message(&mut device_state);
//!     if let Some(message) = outgoing.clone() {
//!         let frame = ClientMessage::SyncBatch(SyncBatch {
//!             docs: vec![DocSync::new(doc_id, DocKind::Visit, message)],
//!         })
//!         .encode()?;
//!         // The server decodes the frame and applies the changes only if
//!         // the technician may make them.
//!         let ClientMessage::SyncBatch(batch) = ClientMessage::decode(&frame)? else {
//!             unreachable!()
//!         };
//!         for doc in batch.docs {
//!             let message = doc.sync_message()?;
//!             rules::receive_checked(&mut server, &mut server_state, doc.kind, message, &technician)?;
//!         }
//!     }
//!     // Server → device, the same way back.
//!     let incoming = server.sync().generate_sync_message(&mut server_state);
//!     if let Some(message) = incoming.clone() {
//!         let frame = ServerMessage::SyncBatch(SyncBatch {
//!             docs: vec![DocSync::new(doc_id, DocKind::Visit, message)],
//!         })
//!         .encode()?;
//!         let ServerMessage::SyncBatch(batch) = ServerMessage::decode(&frame)? else {
//!             unreachable!()
//!         };
//!         for doc in batch.docs {
//!             device.sync().receive_sync_message(&mut device_state, doc.sync_message()?)?;
//!         }
//!     }
//!     if outgoing.is_none() && incoming.is_none() {
//!         break;
//!     }
//! }
//!
//! assert_eq!(Visit::hydrate(&server)?.notes, "Valve replaced, pressure back to 1.5 bar.");
//! assert_eq!(server.get_heads(), device.get_heads());
//!
//! // Had the device also changed the visit's status, which only the
//! // server decides, the server would have refused the whole message and
//! // stored nothing.
//! let mut rogue = device.fork();
//! let mut tampered = Visit::hydrate(&rogue)?;
//! tampered.status = fieldops_sync::docs::visit::VisitStatus::Done;
//! tampered.reconcile(&mut rogue)?;
//! let violations = rules::check_change(DocKind::Visit, &server, &rogue, &technician).unwrap_err();
//! assert_eq!(violations[0].field, "status");
//! assert_eq!(violations[0].reason.as_str(), "server_owned");
//! # Ok(())
//! # }
//! ```

#[macro_use]
mod macros;

pub mod billing;
pub mod call;
pub mod commands;
pub mod docs;
pub mod error;
pub mod ids;
pub mod journey;
pub mod listing;
pub mod money;
pub mod protocol;
pub mod rules;
pub mod testing;
pub mod text;
