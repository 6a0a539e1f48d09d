//! The offline-first API the apps call: open the store, read and list
//! documents, edit collaborative fields, queue commands.
//!
//! Every call works without a network. A write returns once it is committed
//! to the local store; it is then visible to every read, survives a kill,
//! and is pushed by the sync client when a connection allows.

use std::sync::{Arc, RwLock};

use fieldops_sync::commands::{Attendance, CommandBody};
use fieldops_sync::docs::ticket::{Priority, TicketNumber, TicketStatus};
use fieldops_sync::docs::visit::ChecklistItem;
use fieldops_sync::docs::{CheckIn, DocumentSchema, Photo, Ticket, Visit};
use fieldops_sync::ids::{
    CommandId, ConversationId, DepartmentId, DeviceId, DocId, DocKind, ItemId, MessageId,
};
use fieldops_sync::rules;
use rusqlite::{Connection, params};

use crate::account::{Account, Session};
use crate::documents::{self, Me};
use crate::error::{CoreError, Result};
use crate::events::{CoreEvent, CoreListener, Events, SyncStatus};
use crate::geo::{GeofenceCheck, Position, check_geofence};
use crate::outbox::{self, OutboxEntry};
use crate::store::{Store, id_at, now_ms};

/// Longest visit notes, in characters.
pub const MAX_NOTES_CHARS: usize = 20_000;
/// Longest ticket description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest checklist label, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// A row of a list, from the materialised index.
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    /// The document.
    pub doc_id: DocId,
    /// Title (visit title, ticket number and subject).
    pub title: String,
    /// Status code.
    pub status: String,
    /// Visit start date, or an update time for tickets.
    pub sort_key: String,
    /// Site position, for visits.
    pub position: Option<Position>,
    /// Distance from the position the list was asked for, metres.
    pub distance_m: Option<f64>,
    /// Created on this device and not yet confirmed by the server (a
    /// ticket opened offline: no number yet).
    pub pending: bool,
}

/// What queueing a check-in or check-out returns.
#[derive(Debug, Clone, PartialEq)]
pub struct AttendanceReceipt {
    /// The queued command.
    pub command: OutboxEntry,
    /// The device's geofence verdict (the server re-checks).
    pub geofence: GeofenceCheck,
}

/// Shared state of the core, used by the API and the sync client.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) events: Events,
    pub(crate) session: RwLock<Option<Session>>,
    pub(crate) device_id: DeviceId,
    pub(crate) http: reqwest::Client,
    /// Wakes the sync client after a local write.
    pub(crate) kick: tokio::sync::Notify,
    pub(crate) live: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serialises token refreshes: a refresh token works once.
    pub(crate) refresh_lock: tokio::sync::Mutex<()>,
    /// Photo files and the upload worker's settings.
    pub(crate) uploads: crate::uploads::Uploads,
}

impl Inner {
    pub(crate) fn session(&self) -> Option<Session> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_session(&self, session: Option<Session>) {
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = session;
    }

    pub(crate) fn me(&self) -> Me {
        Me(self.session().map(|s| s.account.user_id))
    }

    /// Recomputes the pending counts of the status.
    pub(crate) fn refresh_counts(&self) {
        let counts = self.store.read(|conn| {
            let (pending, sending) = outbox::open_counts(conn)?;
            let docs: i64 = conn.query_row(
                "SELECT count(*) FROM documents WHERE local_changes = 1",
                [],
                |r| r.get(0),
            )?;
            let uploads = crate::uploads::counts(conn)?;
            Ok((pending, sending, docs as u64, uploads))
        });
        if let Ok((pending, sending, docs, (uploads, failed))) = counts {
            self.events.update_status(|s| {
                s.pending_commands = pending;
                s.sending_commands = sending;
                s.unsynced_documents = docs;
                s.pending_uploads = uploads;
                s.failed_uploads = failed;
            });
        }
    }
}

/// The core: one per store file. Owns the tokio runtime its sync client
/// and async calls run on.
#[derive(Debug)]
pub struct FieldopsCore {
    pub(crate) inner: Arc<Inner>,
    pub(crate) runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for FieldopsCore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Never block: the core may be dropped on an async thread.
            runtime.shutdown_background();
        }
    }
}

impl FieldopsCore {
    /// Opens the store at `path` (created if missing) and the signed-in
    /// session kept in it, if any.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let store = Store::open(path)?;
        let uploads = crate::uploads::Uploads::open(store.path())?;
        let device_id = store.device_id()?;
        let session = store.read(crate::account::load)?;
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
        let inner = Arc::new(Inner {
            store,
            events: Events::default(),
            session: RwLock::new(session),
            device_id,
            http,
            kick: tokio::sync::Notify::new(),
            live: std::sync::Mutex::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            uploads,
        });
        inner.refresh_counts();
        Ok(FieldopsCore {
            inner,
            runtime: Some(runtime),
        })
    }

    /// The runtime the core's async work runs on.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime lives until drop"),
        }
    }

    /// This installation's id.
    pub fn device_id(&self) -> DeviceId {
        self.inner.device_id
    }

    /// Registers a listener for [`CoreEvent`]s.
    pub fn add_listener(&self, listener: Arc<dyn CoreListener>) {
        self.inner.events.add(listener);
    }

    /// The signed-in account, if any.
    pub fn account(&self) -> Option<Account> {
        self.inner.session().map(|s| s.account)
    }

    fn require_account(&self) -> Result<Account> {
        self.account().ok_or(CoreError::NotLoggedIn)
    }

    /// The current sync status.
    pub fn sync_status(&self) -> SyncStatus {
        self.inner.refresh_counts();
        self.inner.events.status()
    }

    // ---- reads -------------------------------------------------------------

    fn ensure_indexed(&self) -> Result<()> {
        let pending: bool = self.inner.store.read(|conn| {
            Ok(conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM documents WHERE indexed = 0)",
                [],
                |r| r.get(0),
            )?)
        })?;
        if pending {
            let me = self.inner.me();
            self.inner
                .store
                .write(|tx| documents::index_pending(tx, me))?;
        }
        Ok(())
    }

    fn get<S: DocumentSchema>(&self, id: DocId) -> Result<S> {
        self.inner
            .store
            .read(|conn| documents::get_typed::<S>(conn, id))
    }

    /// A visit.
    pub fn visit(&self, id: DocId) -> Result<Visit> {
        self.get(id)
    }

    /// A ticket.
    pub fn ticket(&self, id: DocId) -> Result<Ticket> {
        self.get(id)
    }

    /// A check-in record.
    pub fn check_in_record(&self, id: DocId) -> Result<CheckIn> {
        self.get(id)
    }

    /// A photo's metadata.
    pub fn photo(&self, id: DocId) -> Result<Photo> {
        self.get(id)
    }

    /// Number of documents on the device.
    pub fn document_count(&self) -> Result<u64> {
        self.inner.store.read(|conn| {
            Ok(
                conn.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))?
                    as u64,
            )
        })
    }

    fn list(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<ListItem>> {
        self.ensure_indexed()?;
        self.inner.store.read(|conn: &Connection| {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt
                .query_map(args, |row| {
                    let lat: Option<f64> = row.get(4)?;
                    let lon: Option<f64> = row.get(5)?;
                    Ok(ListItem {
                        doc_id: id_at(row, 0)?,
                        title: row.get(1)?,
                        status: row.get(2)?,
                        sort_key: row.get(3)?,
                        position: lat.zip(lon).and_then(|(a, o)| Position::new(a, o).ok()),
                        distance_m: None,
                        pending: row.get::<_, i64>(6)? == 1,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// My visits by start date; only those starting on `date` (`YYYY-MM-DD`) if given.
    pub fn my_visits(&self, date: Option<&str>) -> Result<Vec<ListItem>> {
        let sql = "SELECT doc_id, title, status, sort_key, lat, lon, provisional
                   FROM doc_index JOIN documents USING (doc_id)
                   WHERE doc_index.kind = 'visit' AND assigned_to_me = 1 AND (?1 IS NULL OR sort_key = ?1)
                   ORDER BY sort_key, title";
        if let Some(date) = date {
            date.parse::<fieldops_sync::docs::visit::IsoDate>()
                .map_err(|e| CoreError::invalid("date", e))?;
        }
        self.list(sql, &[&date])
    }

    /// Open visits I do not hold, nearest first when a position is given.
    pub fn pool(&self, from: Option<Position>) -> Result<Vec<ListItem>> {
        let sql = "SELECT doc_id, title, status, sort_key, lat, lon, provisional
                   FROM doc_index JOIN documents USING (doc_id)
                   WHERE doc_index.kind = 'visit' AND status = 'open' AND assigned_to_me = 0
                   ORDER BY sort_key, title";
        let mut items = self.list(sql, &[])?;
        if let Some(from) = from {
            for item in &mut items {
                item.distance_m = item.position.map(|p| from.distance_m(p));
            }
            items.sort_by(|a, b| {
                let d = |i: &ListItem| i.distance_m.unwrap_or(f64::MAX);
                d(a).total_cmp(&d(b))
            });
        }
        Ok(items)
    }

    /// Tickets on the device, most recently updated first, optionally of one status.
    pub fn my_tickets(&self, status: Option<TicketStatus>) -> Result<Vec<ListItem>> {
        let sql = "SELECT doc_id, title, status, sort_key, lat, lon, provisional
                   FROM doc_index JOIN documents USING (doc_id)
                   WHERE doc_index.kind = 'ticket' AND (?1 IS NULL OR status = ?1)
                   ORDER BY provisional DESC, sort_key DESC";
        self.list(sql, &[&status.map(|s| s.as_str())])
    }

    /// Distance from `from` to a visit's site, metres.
    pub fn distance_to_visit(&self, visit_id: DocId, from: Position) -> Result<f64> {
        let visit = self.visit(visit_id)?;
        Ok(from.distance_m(Position::new(visit.site.lat, visit.site.lon)?))
    }

    /// The outbox, newest first (unanswered only when `open_only`).
    pub fn outbox(&self, open_only: bool) -> Result<Vec<OutboxEntry>> {
        self.inner.store.read(|conn| outbox::list(conn, open_only))
    }

    /// One outbox row.
    pub fn command(&self, id: CommandId) -> Result<OutboxEntry> {
        self.inner
            .store
            .read(|conn| outbox::get(conn, id))?
            .ok_or(CoreError::NotFound { kind: "command" })
    }

    /// Photos attached to a ticket or visit, as the list shows them
    /// (title: caption; status: upload state).
    pub fn photos_of(&self, owner_id: DocId) -> Result<Vec<ListItem>> {
        let sql = "SELECT doc_id, title, status, sort_key, lat, lon, provisional
                   FROM doc_index JOIN documents USING (doc_id)
                   WHERE doc_index.kind = 'photo' AND parent_id = ?1 ORDER BY sort_key, doc_id";
        self.list(sql, &[&owner_id.to_string()])
    }

    // ---- collaborative edits ----------------------------------------------

    /// Applies `edit` to a document of kind `S`, checks the result against
    /// the write rules as the signed-in user, and stores it. Nothing is
    /// stored if the edit fails or breaks a rule.
    pub fn edit<S: DocumentSchema>(
        &self,
        id: DocId,
        edit: impl FnOnce(&mut S) -> Result<()>,
    ) -> Result<()> {
        let account = self.require_account()?;
        edit_document(&self.inner, &account, id, edit)?;
        self.inner.events.emit(CoreEvent::DocumentChanged {
            doc_id: id,
            kind: S::KIND,
        });
        self.after_write();
        Ok(())
    }

    fn after_write(&self) {
        self.inner.refresh_counts();
        self.inner.kick.notify_one();
    }

    /// Replaces a visit's notes.
    pub fn set_visit_notes(&self, visit_id: DocId, notes: &str) -> Result<()> {
        check_len("notes", notes, MAX_NOTES_CHARS)?;
        self.edit::<Visit>(visit_id, |v| {
            v.notes = notes.to_owned();
            Ok(())
        })
    }

    /// Ticks or unticks a checklist item.
    pub fn set_checklist_item(&self, visit_id: DocId, item_id: ItemId, done: bool) -> Result<()> {
        self.edit::<Visit>(visit_id, |v| {
            let item =
                v.checklist
                    .iter_mut()
                    .find(|i| i.id == item_id)
                    .ok_or(CoreError::NotFound {
                        kind: "checklist item",
                    })?;
            item.done = done;
            Ok(())
        })
    }

    /// Adds a checklist item; returns its id.
    pub fn add_checklist_item(&self, visit_id: DocId, label: &str) -> Result<ItemId> {
        check_len("label", label, MAX_LABEL_CHARS)?;
        if label.trim().is_empty() {
            return Err(CoreError::invalid("label", "must not be blank"));
        }
        let id = ItemId::new();
        self.edit::<Visit>(visit_id, |v| {
            v.checklist.push(ChecklistItem {
                id,
                label: label.trim().to_owned(),
                done: false,
            });
            Ok(())
        })?;
        Ok(id)
    }

    /// Replaces a ticket's description.
    pub fn set_ticket_description(&self, ticket_id: DocId, description: &str) -> Result<()> {
        check_len("description", description, MAX_DESCRIPTION_CHARS)?;
        self.edit::<Ticket>(ticket_id, |t| {
            t.description = description.to_owned();
            Ok(())
        })
    }

    // ---- commands ----------------------------------------------------------

    fn enqueue(&self, body: CommandBody) -> Result<OutboxEntry> {
        self.require_account()?;
        let entry = self.inner.store.write(|tx| outbox::enqueue(tx, body))?;
        self.after_write();
        Ok(entry)
    }

    fn require_visit(&self, visit_id: DocId) -> Result<Visit> {
        self.require_account()?;
        self.visit(visit_id)
    }

    /// Claims a pool visit.
    pub fn claim_visit(&self, visit_id: DocId) -> Result<OutboxEntry> {
        self.require_visit(visit_id)?;
        self.enqueue(CommandBody::ClaimVisit { visit_id })
    }

    /// Gives a claimed visit back.
    pub fn release_visit(&self, visit_id: DocId) -> Result<OutboxEntry> {
        self.require_visit(visit_id)?;
        self.enqueue(CommandBody::ReleaseVisit { visit_id })
    }

    fn attendance(
        &self,
        visit_id: DocId,
        at: Position,
        accuracy_m: f64,
        check_in: bool,
    ) -> Result<AttendanceReceipt> {
        let visit = self.require_visit(visit_id)?;
        let site = Position::new(visit.site.lat, visit.site.lon)?;
        let geofence = check_geofence(at, accuracy_m, site)?;
        let attendance = Attendance {
            visit_id,
            lat: at.lat,
            lon: at.lon,
            accuracy_m,
            device_time_ms: now_ms(),
        };
        let body = if check_in {
            CommandBody::CheckIn(attendance)
        } else {
            CommandBody::CheckOut(attendance)
        };
        Ok(AttendanceReceipt {
            command: self.enqueue(body)?,
            geofence,
        })
    }

    /// Checks in on site; returns the queued command and the device's geofence verdict.
    pub fn check_in(
        &self,
        visit_id: DocId,
        at: Position,
        accuracy_m: f64,
    ) -> Result<AttendanceReceipt> {
        self.attendance(visit_id, at, accuracy_m, true)
    }

    /// Checks out.
    pub fn check_out(
        &self,
        visit_id: DocId,
        at: Position,
        accuracy_m: f64,
    ) -> Result<AttendanceReceipt> {
        self.attendance(visit_id, at, accuracy_m, false)
    }

    /// Asks CS for more days.
    pub fn request_extension(
        &self,
        visit_id: DocId,
        extra_days: u16,
        reason: &str,
    ) -> Result<OutboxEntry> {
        self.require_visit(visit_id)?;
        self.enqueue(CommandBody::RequestExtension {
            visit_id,
            extra_days,
            reason: reason.to_owned(),
        })
    }

    /// Rates a done visit with the token from the rating link.
    pub fn submit_rating(
        &self,
        visit_id: DocId,
        token: &str,
        score: u8,
        comment: Option<&str>,
    ) -> Result<OutboxEntry> {
        self.enqueue(CommandBody::SubmitRating {
            visit_id,
            token: token.to_owned(),
            score,
            comment: comment.map(str::to_owned),
        })
    }

    /// Opens a ticket, online or not. The ticket is stored at once as a
    /// local document — listed by [`my_tickets`](Self::my_tickets) as
    /// `pending`, without a number, status open — and a `CreateTicket`
    /// command is queued with the ticket's id. When the server's document
    /// (with its number) arrives it replaces the local one; if the server
    /// refuses the command, the local ticket is removed and the command
    /// shows the reason. Customers only.
    pub fn create_ticket(
        &self,
        subject: &str,
        description: &str,
        category: &str,
    ) -> Result<OutboxEntry> {
        let account = self.require_account()?;
        if account.role != rules::Role::Customer {
            return Err(CoreError::invalid(
                "account",
                "only customers open tickets from the app",
            ));
        }
        let ticket_id = DocId::new();
        let (subject, description, category) = (
            subject.trim().to_owned(),
            description.trim().to_owned(),
            category.trim().to_lowercase(),
        );
        let body = CommandBody::CreateTicket {
            ticket_id,
            subject: subject.clone(),
            description: description.clone(),
            category: category.clone(),
        };
        let now = now_ms();
        let ticket = Ticket {
            number: TicketNumber::pending(),
            subject,
            description,
            category,
            priority: Priority::Normal,
            status: TicketStatus::Open,
            customer_id: account.user_id,
            // Chosen by the server; a placeholder until its document arrives.
            department_id: DepartmentId::new(),
            assignee_id: None,
            photo_ids: vec![],
            created_at_ms: now,
            updated_at_ms: now,
            messages: vec![],
        };
        let me = Me(Some(account.user_id));
        let entry = self.inner.store.write(|tx| {
            // The command first: it validates the fields.
            let entry = outbox::enqueue(tx, body)?;
            let mut doc = ticket.to_document()?;
            documents::insert_provisional(tx, ticket_id, DocKind::Ticket, &mut doc, me)?;
            Ok(entry)
        })?;
        self.inner.events.emit(CoreEvent::DocumentChanged {
            doc_id: ticket_id,
            kind: DocKind::Ticket,
        });
        self.after_write();
        Ok(entry)
    }

    /// Closes one of my tickets.
    pub fn close_ticket(&self, ticket_id: DocId) -> Result<OutboxEntry> {
        self.require_account()?;
        self.ticket(ticket_id)?;
        self.enqueue(CommandBody::CloseOwnTicket { ticket_id })
    }

    /// Sends a chat message (`None`: to my latest conversation, or a new one
    /// if I have none).
    pub fn send_chat_message(
        &self,
        conversation_id: Option<ConversationId>,
        body: &str,
    ) -> Result<OutboxEntry> {
        self.enqueue(CommandBody::SendChatMessage {
            conversation_id,
            client_message_id: MessageId::new(),
            body: body.to_owned(),
        })
    }

    /// Whether a document is on the device (any kind).
    pub fn has_document(&self, id: DocId) -> Result<bool> {
        Ok(self
            .inner
            .store
            .read(|conn| documents::kind_of(conn, id))?
            .is_some())
    }

    /// Unix ms of the last local write to a document (for "edited" badges).
    pub fn updated_at_ms(&self, id: DocId) -> Result<Option<i64>> {
        self.inner.store.read(|conn| {
            let mut stmt = conn.prepare("SELECT updated_at_ms FROM documents WHERE doc_id = ?1")?;
            let mut rows = stmt.query(params![id.to_string()])?;
            Ok(match rows.next()? {
                Some(row) => Some(row.get(0)?),
                None => None,
            })
        })
    }
}

/// Applies `edit` to document `id` of kind `S` as `account`, checks the
/// result against the write rules, and stores it (nothing if it fails).
pub(crate) fn edit_document<S: DocumentSchema>(
    inner: &Inner,
    account: &Account,
    id: DocId,
    edit: impl FnOnce(&mut S) -> Result<()>,
) -> Result<()> {
    let actor = account.actor();
    let me = Me(Some(account.user_id));
    inner.store.write(|tx| {
        let mut loaded = documents::load(tx, id)?
            .filter(|l| l.kind == S::KIND)
            .ok_or_else(|| CoreError::not_found(S::KIND))?;
        let synced = loaded.synced_heads();
        loaded.synced = Some(synced.clone());
        let mut value = S::hydrate(&loaded.doc)?;
        edit(&mut value)?;
        value.reconcile(&mut loaded.doc)?;
        rules::check_since(&mut loaded.doc, S::KIND, &synced, &actor)?;
        documents::store_changes(tx, id, &mut loaded, None, me)
    })
}

pub(crate) fn check_len(field: &'static str, text: &str, max: usize) -> Result<()> {
    if text.chars().count() > max {
        return Err(CoreError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

/// Hooks for tests, benchmarks and the simulator; not for apps.
impl FieldopsCore {
    /// Stores snapshots as a catch-up would (raw bytes, parsed on first read).
    #[doc(hidden)]
    pub fn import_snapshots(&self, snapshots: &[fieldops_sync::protocol::Snapshot]) -> Result<()> {
        let me = self.inner.me();
        self.inner.store.write(|tx| {
            for snapshot in snapshots {
                documents::insert_snapshot(tx, snapshot, me)?;
            }
            Ok(())
        })
    }

    /// Signs in without a server (tokens are placeholders and sync fails).
    #[doc(hidden)]
    pub fn sign_in_offline(&self, account: Account) -> Result<()> {
        let session = Session {
            account,
            access_token: "offline".into(),
            access_expires_at_ms: 0,
            refresh_token: "offline".into(),
        };
        let me = Me(Some(session.account.user_id));
        self.inner.store.write(|tx| {
            crate::account::save(tx, &session)?;
            documents::reindex_all(tx, me)
        })?;
        self.inner.set_session(Some(session));
        Ok(())
    }

    /// Records a server answer as the sync client would.
    #[doc(hidden)]
    pub fn record_command_result(
        &self,
        result: &fieldops_sync::commands::CommandResult,
    ) -> Result<Option<OutboxEntry>> {
        let entry = self
            .inner
            .store
            .write(|tx| outbox::record_result(tx, result))?;
        if let Some(entry) = &entry {
            self.inner
                .events
                .emit(CoreEvent::CommandAnswered(entry.clone()));
        }
        self.inner.refresh_counts();
        Ok(entry)
    }
}
