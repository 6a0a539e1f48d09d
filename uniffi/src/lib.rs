//! fieldops-ffi: the UniFFI surface over `fieldops-core`.
//!
//! Only conversions live here: one Object ([`FieldopsClient`]) wrapping the
//! core and forwarding each call, Records and Enums for data ([`types`]), a
//! callback interface for events ([`EventListener`]) and one public error
//! enum ([`FieldopsError`]) mapped from the core's errors in one place.
//! Async calls run on the tokio runtime owned by the core. UniFFI catches
//! panics at the boundary; the core itself does not panic on bad input.

mod calls;
mod error;
mod types;

use std::sync::Arc;
use std::time::Duration;

use fieldops_core::sync::billing::InvoiceStatus;
use fieldops_core::sync::docs::photo::{Owner, OwnerKind};
use fieldops_core::sync::docs::ticket::TicketStatus;
use fieldops_core::sync::docs::{Ticket, Visit};
use fieldops_core::{CoreEvent, CoreListener, FieldopsCore, Position};

pub use calls::{CallRecord, IceServerRecord};
pub use error::FieldopsError;
use error::parse_id;
pub use types::*;

uniffi::setup_scaffolding!();

type Result<T> = std::result::Result<T, FieldopsError>;

/// Receives events from the core (on a core thread; hop to the UI thread).
#[uniffi::export(with_foreign)]
pub trait EventListener: Send + Sync {
    /// Called after the change is stored.
    fn on_event(&self, event: EventRecord);
}

struct ListenerAdapter(Arc<dyn EventListener>);

impl CoreListener for ListenerAdapter {
    fn on_event(&self, event: CoreEvent) {
        self.0.on_event(event.into());
    }
}

fn position(lat: f64, lon: f64) -> Result<Position> {
    Ok(Position::new(lat, lon)?)
}

/// The app's handle on the engine: one per store file.
#[derive(Debug, uniffi::Object)]
pub struct FieldopsClient {
    inner: FieldopsCore,
}

#[uniffi::export]
impl FieldopsClient {
    /// Opens (or creates) the store at `path`.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>> {
        Ok(Arc::new(FieldopsClient {
            inner: FieldopsCore::open(path)?,
        }))
    }

    /// This installation's id.
    pub fn device_id(&self) -> String {
        self.inner.device_id().to_string()
    }

    /// Registers an event listener.
    pub fn add_listener(&self, listener: Arc<dyn EventListener>) {
        self.inner.add_listener(Arc::new(ListenerAdapter(listener)));
    }

    /// The signed-in account, if any.
    pub fn account(&self) -> Option<AccountRecord> {
        self.inner.auth().account().map(Into::into)
    }

    /// Signs in.
    pub async fn login(
        &self,
        base_url: String,
        email: String,
        password: String,
    ) -> Result<AccountRecord> {
        Ok(self
            .inner
            .auth()
            .login(&base_url, &email, &password)
            .await?
            .into())
    }

    /// Signs out.
    pub fn logout(&self) -> Result<()> {
        Ok(self.inner.auth().logout()?)
    }

    /// Starts live sync (reconnects by itself).
    pub fn start_sync(&self) -> Result<()> {
        Ok(self.inner.sync().start()?)
    }

    /// Stops live sync.
    pub fn stop_sync(&self) {
        self.inner.sync().stop()
    }

    /// One bounded sync, for background windows.
    pub async fn sync_now(&self, timeout_ms: u64) -> Result<SyncReportRecord> {
        let timeout = Duration::from_millis(timeout_ms.min(600_000));
        Ok(self.inner.sync().now(timeout).await?.into())
    }

    /// The sync status.
    pub fn sync_status(&self) -> SyncStatusRecord {
        self.inner.sync().status().into()
    }

    /// A visit.
    pub fn visit(&self, id: String) -> Result<VisitRecord> {
        let visit = self.inner.visits().get(parse_id("id", &id)?)?;
        Ok(VisitRecord::new(id, visit))
    }

    /// A ticket.
    pub fn ticket(&self, id: String) -> Result<TicketRecord> {
        let ticket = self.inner.tickets().get(parse_id("id", &id)?)?;
        Ok(TicketRecord::new(id, ticket))
    }

    /// My visits by start date, optionally of one day (`YYYY-MM-DD`).
    pub fn my_visits(&self, date: Option<String>) -> Result<Vec<ListItemRecord>> {
        let items = self.inner.visits().mine(date.as_deref())?;
        Ok(items.into_iter().map(Into::into).collect())
    }

    /// Open pool visits, nearest first when a position is given.
    pub fn pool(&self, lat: Option<f64>, lon: Option<f64>) -> Result<Vec<ListItemRecord>> {
        let from = match (lat, lon) {
            (Some(lat), Some(lon)) => Some(position(lat, lon)?),
            _ => None,
        };
        Ok(self
            .inner
            .visits()
            .pool(from)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Tickets on the device, optionally of one status code.
    pub fn my_tickets(&self, status: Option<String>) -> Result<Vec<ListItemRecord>> {
        let status = status
            .map(|s| s.parse::<TicketStatus>())
            .transpose()
            .map_err(|_| FieldopsError::InvalidInput {
                field: "status".into(),
                reason: "unknown ticket status".into(),
            })?;
        Ok(self
            .inner
            .tickets()
            .list(status)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Distance from a position to a visit's site, metres.
    pub fn distance_to_visit(&self, visit_id: String, lat: f64, lon: f64) -> Result<f64> {
        Ok(self
            .inner
            .visits()
            .distance_to(parse_id("visit_id", &visit_id)?, position(lat, lon)?)?)
    }

    /// Replaces a visit's notes.
    pub fn set_visit_notes(&self, visit_id: String, notes: String) -> Result<()> {
        Ok(self
            .inner
            .visits()
            .set_notes(parse_id("visit_id", &visit_id)?, &notes)?)
    }

    /// Ticks or unticks a checklist item.
    pub fn set_checklist_item(&self, visit_id: String, item_id: String, done: bool) -> Result<()> {
        Ok(self.inner.visits().set_checklist_item(
            parse_id("visit_id", &visit_id)?,
            parse_id("item_id", &item_id)?,
            done,
        )?)
    }

    /// Adds a checklist item; returns its id.
    pub fn add_checklist_item(&self, visit_id: String, label: String) -> Result<String> {
        let id = self
            .inner
            .visits()
            .add_checklist_item(parse_id("visit_id", &visit_id)?, &label)?;
        Ok(id.to_string())
    }

    /// Replaces a ticket's description.
    pub fn set_ticket_description(&self, ticket_id: String, description: String) -> Result<()> {
        Ok(self
            .inner
            .tickets()
            .set_description(parse_id("ticket_id", &ticket_id)?, &description)?)
    }

    /// Queues a claim.
    pub fn claim_visit(&self, visit_id: String) -> Result<CommandRecord> {
        Ok(self
            .inner
            .visits()
            .claim(parse_id("visit_id", &visit_id)?)?
            .into())
    }

    /// Queues a release (withdraw).
    pub fn release_visit(&self, visit_id: String) -> Result<CommandRecord> {
        Ok(self
            .inner
            .visits()
            .release(parse_id("visit_id", &visit_id)?)?
            .into())
    }

    /// Queues a check-in.
    pub fn check_in(
        &self,
        visit_id: String,
        lat: f64,
        lon: f64,
        accuracy_m: f64,
    ) -> Result<AttendanceRecord> {
        let id = parse_id("visit_id", &visit_id)?;
        Ok(self
            .inner
            .visits()
            .check_in(id, position(lat, lon)?, accuracy_m)?
            .into())
    }

    /// Queues a check-out.
    pub fn check_out(
        &self,
        visit_id: String,
        lat: f64,
        lon: f64,
        accuracy_m: f64,
    ) -> Result<AttendanceRecord> {
        let id = parse_id("visit_id", &visit_id)?;
        Ok(self
            .inner
            .visits()
            .check_out(id, position(lat, lon)?, accuracy_m)?
            .into())
    }

    /// Queues an extension request.
    pub fn request_extension(
        &self,
        visit_id: String,
        extra_days: u16,
        reason: String,
    ) -> Result<CommandRecord> {
        let id = parse_id("visit_id", &visit_id)?;
        Ok(self
            .inner
            .visits()
            .request_extension(id, extra_days, &reason)?
            .into())
    }

    /// Queues a rating.
    pub fn submit_rating(
        &self,
        visit_id: String,
        token: String,
        score: u8,
        comment: Option<String>,
    ) -> Result<CommandRecord> {
        let id = parse_id("visit_id", &visit_id)?;
        Ok(self
            .inner
            .visits()
            .submit_rating(id, &token, score, comment.as_deref())?
            .into())
    }

    /// Opens a ticket (customers): listed at once as pending, numbered by
    /// the server on the next sync. The command's `target_id` is the ticket.
    pub fn create_ticket(
        &self,
        subject: String,
        description: String,
        category: String,
    ) -> Result<CommandRecord> {
        Ok(self
            .inner
            .tickets()
            .create(&subject, &description, &category)?
            .into())
    }

    /// Queues closing my ticket.
    pub fn close_ticket(&self, ticket_id: String) -> Result<CommandRecord> {
        Ok(self
            .inner
            .tickets()
            .close(parse_id("ticket_id", &ticket_id)?)?
            .into())
    }

    /// Queues a chat message (no conversation id: my latest conversation,
    /// or a new one).
    pub fn send_chat_message(
        &self,
        conversation_id: Option<String>,
        body: String,
    ) -> Result<CommandRecord> {
        let conversation = conversation_id
            .map(|id| parse_id("conversation_id", &id))
            .transpose()?;
        Ok(self
            .inner
            .tickets()
            .send_chat_message(conversation, &body)?
            .into())
    }

    /// Invoices and credit notes on the device, newest first, optionally of
    /// one status code (`sent`, `payment_submitted`, `paid`).
    pub fn invoices(&self, status: Option<String>) -> Result<Vec<ListItemRecord>> {
        let status = status
            .map(|s| s.parse::<InvoiceStatus>())
            .transpose()
            .map_err(|_| FieldopsError::InvalidInput {
                field: "status".into(),
                reason: "unknown invoice status".into(),
            })?;
        Ok(self
            .inner
            .invoices()
            .list(status)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// An invoice or credit note (read-only: the server writes it).
    pub fn invoice(&self, id: String) -> Result<InvoiceRecord> {
        let invoice = self.inner.invoices().get(parse_id("id", &id)?)?;
        Ok(InvoiceRecord::new(id, invoice))
    }

    /// An invoice's payments: recorded by the server, then those still
    /// queued on this phone (and those it refused, with the reason).
    pub fn invoice_payments(&self, invoice_id: String) -> Result<Vec<PaymentViewRecord>> {
        Ok(self
            .inner
            .invoices()
            .payments(parse_id("invoice_id", &invoice_id)?)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Pays `amount` (whole rupiah) of an invoice with a photo of the
    /// transfer receipt, online or not: the receipt and the payment are
    /// queued together and the payment shows as queued until the server
    /// answers. Call it off the UI thread (the photo pipeline).
    pub fn pay_invoice(
        &self,
        invoice_id: String,
        amount: i64,
        reference: String,
        receipt: Vec<u8>,
        taken_at_ms: i64,
    ) -> Result<PaymentReceiptRecord> {
        Ok(self
            .inner
            .invoices()
            .pay(
                parse_id("invoice_id", &invoice_id)?,
                amount,
                &reference,
                &receipt,
                taken_at_ms,
            )?
            .into())
    }

    /// The journeys (intake forms) on the device that a customer may start.
    pub fn journeys(&self) -> Result<Vec<JourneyRecord>> {
        Ok(self
            .inner
            .journeys()
            .list()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Starts filling in a journey, offline or not: the form keeps its own
    /// copy of the version, and every answer, across restarts.
    pub fn start_journey(&self, journey_id: String) -> Result<FormRecord> {
        Ok(self
            .inner
            .journeys()
            .start(parse_id("journey_id", &journey_id)?)?
            .into())
    }

    /// The forms started on this device and not submitted.
    pub fn journey_forms(&self) -> Result<Vec<FormRecord>> {
        Ok(self
            .inner
            .journeys()
            .forms()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// A form as it stands.
    pub fn journey_form(&self, form_id: String) -> Result<FormRecord> {
        Ok(self
            .inner
            .journeys()
            .get(parse_id("form_id", &form_id)?)?
            .into())
    }

    /// Answers the question on screen and moves to the next one.
    pub fn answer_journey(
        &self,
        form_id: String,
        question_id: String,
        answer: AnswerRecord,
    ) -> Result<FormRecord> {
        Ok(self
            .inner
            .journeys()
            .answer(
                parse_id("form_id", &form_id)?,
                &question_id,
                answer.into_answer()?,
            )?
            .into())
    }

    /// Answers a photo question with these images (JPEG, PNG or WebP): each
    /// goes through the photo pipeline now. Call it off the UI thread.
    pub fn answer_journey_photos(
        &self,
        form_id: String,
        question_id: String,
        images: Vec<Vec<u8>>,
        taken_at_ms: i64,
    ) -> Result<FormRecord> {
        Ok(self
            .inner
            .journeys()
            .answer_photos(
                parse_id("form_id", &form_id)?,
                &question_id,
                &images,
                taken_at_ms,
            )?
            .into())
    }

    /// Skips the optional question on screen.
    pub fn skip_journey_question(
        &self,
        form_id: String,
        question_id: String,
    ) -> Result<FormRecord> {
        Ok(self
            .inner
            .journeys()
            .skip(parse_id("form_id", &form_id)?, &question_id)?
            .into())
    }

    /// Back to the question before the one on screen.
    pub fn journey_back(&self, form_id: String) -> Result<FormRecord> {
        Ok(self
            .inner
            .journeys()
            .back(parse_id("form_id", &form_id)?)?
            .into())
    }

    /// Throws a form away.
    pub fn discard_journey_form(&self, form_id: String) -> Result<()> {
        Ok(self
            .inner
            .journeys()
            .discard(parse_id("form_id", &form_id)?)?)
    }

    /// Submits a finished form, online or not: the ticket is listed at once
    /// (pending) and its photos queued; the command says if the server
    /// refuses.
    pub fn submit_journey(&self, form_id: String) -> Result<CommandRecord> {
        Ok(self
            .inner
            .journeys()
            .submit(parse_id("form_id", &form_id)?)?
            .into())
    }

    /// One outbox row.
    pub fn command(&self, command_id: String) -> Result<CommandRecord> {
        Ok(self
            .inner
            .outbox()
            .get(parse_id("command_id", &command_id)?)?
            .into())
    }

    /// The outbox, newest first.
    pub fn outbox(&self, open_only: bool) -> Result<Vec<CommandRecord>> {
        Ok(self
            .inner
            .outbox()
            .list(open_only)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Attaches a photo (JPEG, PNG or WebP bytes) to a ticket or visit: the
    /// normalised photo and its thumbnail are kept on the device, the photo
    /// document is recorded at once and the upload queued. Call it off the
    /// UI thread.
    pub fn attach_photo(
        &self,
        owner_kind: PhotoOwnerKind,
        owner_id: String,
        image: Vec<u8>,
        caption: String,
        taken_at_ms: i64,
    ) -> Result<AttachedPhotoRecord> {
        let kind = match owner_kind {
            PhotoOwnerKind::Ticket => OwnerKind::Ticket,
            PhotoOwnerKind::Visit => OwnerKind::Visit,
        };
        let owner = Owner {
            kind,
            id: parse_id("owner_id", &owner_id)?,
        };
        Ok(self
            .inner
            .photos()
            .attach(owner, &image, &caption, taken_at_ms)?
            .into())
    }

    /// A photo's metadata.
    pub fn photo(&self, id: String) -> Result<PhotoRecord> {
        let photo = self.inner.photos().get(parse_id("id", &id)?)?;
        Ok(PhotoRecord::new(id, photo))
    }

    /// The path of photo `id`'s file (or its thumbnail's), downloaded the
    /// first time when another device took the photo.
    pub async fn fetch_photo(&self, id: String, thumbnail: bool) -> Result<String> {
        let path = self
            .inner
            .photos()
            .fetch(parse_id("id", &id)?, thumbnail)
            .await?;
        Ok(path.to_string_lossy().into_owned())
    }

    /// Deletes the full-size files of photos uploaded at least
    /// `uploaded_before_secs` ago (thumbnails stay; `fetch_photo` brings an
    /// original back). Returns the bytes freed.
    pub fn free_photo_space(&self, uploaded_before_secs: u64) -> Result<u64> {
        Ok(self
            .inner
            .photos()
            .free_space(Duration::from_secs(uploaded_before_secs))?)
    }

    /// The photos of a ticket or visit (title: caption; status: upload
    /// state, or `refused` for one the server turned down, kept until
    /// dismissed).
    pub fn photos_of(&self, owner_id: String) -> Result<Vec<ListItemRecord>> {
        let items = self.inner.photos().of(parse_id("owner_id", &owner_id)?)?;
        Ok(items.into_iter().map(Into::into).collect())
    }

    /// Photo files not on the server yet (pending, uploading or refused).
    pub fn pending_photo_uploads(&self) -> Result<Vec<PhotoUploadRecord>> {
        Ok(self
            .inner
            .photos()
            .pending_uploads()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The device's versions of documents the server refused (a photo past
    /// a full ticket, notes on a visit taken away), latest first; kept until
    /// dismissed.
    pub fn refused_documents(&self) -> Result<Vec<RefusedDocumentRecord>> {
        Ok(self
            .inner
            .documents()
            .refused()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The device's version of a visit the server refused or took away
    /// (the notes as typed offline), as it was then; `NotFound` if none is
    /// kept.
    pub fn refused_visit(&self, id: String) -> Result<VisitRecord> {
        let visit = self
            .inner
            .documents()
            .refused_copy::<Visit>(parse_id("id", &id)?)?;
        Ok(VisitRecord::new(id, visit))
    }

    /// The device's version of a ticket the server refused or took away;
    /// `NotFound` if none is kept.
    pub fn refused_ticket(&self, id: String) -> Result<TicketRecord> {
        let ticket = self
            .inner
            .documents()
            .refused_copy::<Ticket>(parse_id("id", &id)?)?;
        Ok(TicketRecord::new(id, ticket))
    }

    /// Forgets the device's refused version of a document; whether there
    /// was one.
    pub fn dismiss_refused(&self, id: String) -> Result<bool> {
        Ok(self
            .inner
            .documents()
            .dismiss_refused(parse_id("id", &id)?)?)
    }

    /// The device's file of a photo or thumbnail, by hash, if present.
    pub fn photo_file(&self, sha256: String) -> Option<String> {
        self.inner
            .photos()
            .file(&sha256)
            .map(|p| p.display().to_string())
    }
}
