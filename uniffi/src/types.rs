//! Records and Enums of the FFI, and their conversions from core types.
//! Ids travel as canonical UUID strings; times as Unix milliseconds.

use fieldops_core::sync::docs::{Invoice, Photo, Ticket, Visit};
use fieldops_core::{
    Account, AttachedPhoto, AttendanceReceipt, CommandState, CoreEvent, ListItem, OutboxEntry,
    PaymentReceipt, PaymentState, PaymentView, PhotoUpload, RefusedDocument, SyncReport, SyncState,
    SyncStatus, UploadKind, UploadStatus,
};

/// The signed-in user.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AccountRecord {
    pub user_id: String,
    pub role: String,
    pub name: String,
    pub email: String,
    pub base_url: String,
}

impl From<Account> for AccountRecord {
    fn from(a: Account) -> Self {
        AccountRecord {
            user_id: a.user_id.to_string(),
            role: a.role.as_str().to_owned(),
            name: a.name,
            email: a.email,
            base_url: a.base_url,
        }
    }
}

/// A row of a list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ListItemRecord {
    pub id: String,
    pub title: String,
    pub status: String,
    pub sort_key: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub distance_m: Option<f64>,
    /// Created on this device, not yet confirmed by the server.
    pub pending: bool,
}

impl From<ListItem> for ListItemRecord {
    fn from(i: ListItem) -> Self {
        ListItemRecord {
            id: i.doc_id.to_string(),
            title: i.title,
            status: i.status,
            sort_key: i.sort_key,
            lat: i.position.map(|p| p.lat),
            lon: i.position.map(|p| p.lon),
            distance_m: i.distance_m,
            pending: i.pending,
        }
    }
}

/// The device's version of a document the server refused, kept until
/// dismissed.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RefusedDocumentRecord {
    pub id: String,
    /// `ticket`, `visit`, `photo`, ...
    pub kind: String,
    pub title: String,
    /// The document it belongs to (a photo's ticket or visit).
    pub parent_id: Option<String>,
    /// What the server refused, as `field:reason`.
    pub violations: Vec<String>,
    /// Created on this device and never accepted: this copy is all there is.
    pub created_here: bool,
    pub refused_at_ms: i64,
}

impl From<RefusedDocument> for RefusedDocumentRecord {
    fn from(r: RefusedDocument) -> Self {
        RefusedDocumentRecord {
            id: r.doc_id.to_string(),
            kind: r.kind.as_str().to_owned(),
            title: r.title,
            parent_id: r.parent_id.map(|p| p.to_string()),
            violations: r.violations,
            created_here: r.created_here,
            refused_at_ms: r.refused_at_ms,
        }
    }
}

/// One checklist entry.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ChecklistItemRecord {
    pub id: String,
    pub label: String,
    pub done: bool,
}

/// A visit as the app shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct VisitRecord {
    pub id: String,
    pub ticket_id: Option<String>,
    pub title: String,
    pub description: String,
    pub address: String,
    pub lat: f64,
    pub lon: f64,
    pub scheduled_start: String,
    pub planned_days: u32,
    pub status: String,
    pub technician_quota: u32,
    pub active_assignments: u32,
    pub technician_ids: Vec<String>,
    pub emergency: bool,
    pub notes: String,
    pub checklist: Vec<ChecklistItemRecord>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub access_notes: Option<String>,
}

impl VisitRecord {
    pub(crate) fn new(id: String, v: Visit) -> Self {
        let active = v.active_assignments() as u32;
        let technician_ids = v
            .assignments
            .iter()
            .filter(|a| a.state == fieldops_core::sync::docs::visit::AssignmentState::Active)
            .map(|a| a.technician_id.to_string())
            .collect();
        let private = v.customer_private;
        VisitRecord {
            id,
            ticket_id: v.ticket_id.map(|t| t.to_string()),
            title: v.title,
            description: v.description,
            address: v.site.address,
            lat: v.site.lat,
            lon: v.site.lon,
            scheduled_start: v.scheduled_start.to_string(),
            planned_days: v.planned_days,
            status: v.status.as_str().to_owned(),
            technician_quota: v.technician_quota,
            active_assignments: active,
            technician_ids,
            emergency: v.emergency,
            notes: v.notes,
            checklist: v
                .checklist
                .into_iter()
                .map(|i| ChecklistItemRecord {
                    id: i.id.to_string(),
                    label: i.label,
                    done: i.done,
                })
                .collect(),
            contact_name: private.as_ref().map(|p| p.contact_name.clone()),
            contact_phone: private.as_ref().map(|p| p.contact_phone.clone()),
            access_notes: private.map(|p| p.access_notes),
        }
    }
}

/// One public message on a ticket.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TicketMessageRecord {
    pub id: String,
    /// `customer`, `staff` or `system`.
    pub author: String,
    pub body: String,
    pub at_ms: i64,
}

/// A ticket as the app shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TicketRecord {
    pub id: String,
    /// `TKT-000000` until the server has numbered a ticket opened offline.
    pub number: String,
    pub subject: String,
    pub description: String,
    pub category: String,
    pub priority: String,
    pub status: String,
    pub updated_at_ms: i64,
    /// The public conversation, oldest first.
    pub messages: Vec<TicketMessageRecord>,
}

impl TicketRecord {
    pub(crate) fn new(id: String, t: Ticket) -> Self {
        TicketRecord {
            id,
            number: t.number.to_string(),
            subject: t.subject,
            description: t.description,
            category: t.category,
            priority: t.priority.as_str().to_owned(),
            status: t.status.as_str().to_owned(),
            updated_at_ms: t.updated_at_ms,
            messages: t
                .messages
                .into_iter()
                .map(|m| TicketMessageRecord {
                    id: m.id.to_string(),
                    author: m.author.as_str().to_owned(),
                    body: m.body,
                    at_ms: m.at_ms,
                })
                .collect(),
        }
    }
}

/// Where a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CommandStateRecord {
    Pending,
    Sending,
    Accepted,
    Rejected,
}

/// An outbox row.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CommandRecord {
    pub command_id: String,
    pub device_seq: u64,
    pub name: String,
    pub target_id: Option<String>,
    pub state: CommandStateRecord,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub created_at_ms: i64,
}

impl From<OutboxEntry> for CommandRecord {
    fn from(e: OutboxEntry) -> Self {
        CommandRecord {
            command_id: e.command_id.to_string(),
            device_seq: e.device_seq,
            name: e.name,
            target_id: e.target_id.map(|id| id.to_string()),
            state: match e.state {
                CommandState::Pending => CommandStateRecord::Pending,
                CommandState::Sending => CommandStateRecord::Sending,
                CommandState::Accepted => CommandStateRecord::Accepted,
                CommandState::Rejected => CommandStateRecord::Rejected,
            },
            reason: e.reason,
            message: e.message,
            created_at_ms: e.created_at_ms,
        }
    }
}

/// A queued check-in or check-out and the device's geofence verdict.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AttendanceRecord {
    pub command: CommandRecord,
    pub distance_m: f64,
    pub within_geofence: bool,
}

impl From<AttendanceReceipt> for AttendanceRecord {
    fn from(r: AttendanceReceipt) -> Self {
        AttendanceRecord {
            command: r.command.into(),
            distance_m: r.geofence.distance_m,
            within_geofence: r.geofence.within,
        }
    }
}

/// Whether the device talks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStateRecord {
    Idle,
    Syncing,
    Offline,
    Error,
}

/// The sync status.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncStatusRecord {
    pub state: SyncStateRecord,
    pub pending_commands: u64,
    pub sending_commands: u64,
    pub unsynced_documents: u64,
    /// Photo files (photos and thumbnails) not on the server yet.
    pub pending_uploads: u64,
    /// Photo files the server refused.
    pub failed_uploads: u64,
    pub last_synced_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

impl From<SyncStatus> for SyncStatusRecord {
    fn from(s: SyncStatus) -> Self {
        SyncStatusRecord {
            state: match s.state {
                SyncState::Idle => SyncStateRecord::Idle,
                SyncState::Syncing => SyncStateRecord::Syncing,
                SyncState::Offline => SyncStateRecord::Offline,
                SyncState::Error => SyncStateRecord::Error,
            },
            pending_commands: s.pending_commands,
            sending_commands: s.sending_commands,
            unsynced_documents: s.unsynced_documents,
            pending_uploads: s.pending_uploads,
            failed_uploads: s.failed_uploads,
            last_synced_at_ms: s.last_synced_at_ms,
            last_error: s.last_error,
        }
    }
}

/// What a one-shot sync did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncReportRecord {
    pub documents_received: u64,
    pub commands_answered: u64,
    pub cursor: u64,
    pub uploads_completed: u64,
    pub upload_bytes_sent: u64,
    /// Why the photo uploads stopped, when they did; the sync succeeded.
    pub upload_error: Option<String>,
}

impl From<SyncReport> for SyncReportRecord {
    fn from(r: SyncReport) -> Self {
        SyncReportRecord {
            documents_received: r.documents_received,
            commands_answered: r.commands_answered,
            cursor: r.cursor,
            uploads_completed: r.uploads_completed,
            upload_bytes_sent: r.upload_bytes_sent,
            upload_error: r.upload_error,
        }
    }
}

/// Something changed.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum EventRecord {
    DocumentChanged {
        id: String,
        kind: String,
    },
    CommandAnswered {
        command: CommandRecord,
    },
    ScopeDropped {
        ids: Vec<String>,
        reason: String,
    },
    WriteRejected {
        id: String,
        violations: Vec<String>,
    },
    SyncStatusChanged {
        status: SyncStatusRecord,
    },
    UploadProgress {
        photo_id: String,
        sha256: String,
        thumbnail: bool,
        bytes_sent: u64,
        bytes_total: u64,
    },
    UploadFailed {
        photo_id: String,
        sha256: String,
        reason: String,
        permanent: bool,
    },
    /// A call rings here: show the pop-up.
    IncomingCall {
        call_id: String,
        caller_name: String,
        from_staff: bool,
        ticket_id: Option<String>,
        media: String,
        expires_at_ms: i64,
    },
    /// `calling`, `ringing`, `connected` or `ended` (with the reason).
    CallChanged {
        call_id: String,
        state: String,
        reason: Option<String>,
    },
    /// The other device's `offer`, `answer` or `candidate`.
    CallSignal {
        call_id: String,
        kind: String,
        payload: String,
    },
    /// The server refused this device's signal.
    CallRefused {
        call_id: String,
        refusal: String,
        message: String,
    },
}

impl From<CoreEvent> for EventRecord {
    fn from(e: CoreEvent) -> Self {
        match e {
            CoreEvent::DocumentChanged { doc_id, kind } => EventRecord::DocumentChanged {
                id: doc_id.to_string(),
                kind: kind.as_str().to_owned(),
            },
            CoreEvent::CommandAnswered(entry) => EventRecord::CommandAnswered {
                command: entry.into(),
            },
            CoreEvent::ScopeDropped { doc_ids, reason } => EventRecord::ScopeDropped {
                ids: doc_ids.iter().map(|id| id.to_string()).collect(),
                reason,
            },
            CoreEvent::WriteRejected { doc_id, violations } => EventRecord::WriteRejected {
                id: doc_id.to_string(),
                violations,
            },
            CoreEvent::SyncStatusChanged(status) => EventRecord::SyncStatusChanged {
                status: status.into(),
            },
            CoreEvent::UploadProgress {
                photo_id,
                sha256,
                thumbnail,
                bytes_sent,
                bytes_total,
            } => EventRecord::UploadProgress {
                photo_id: photo_id.to_string(),
                sha256,
                thumbnail,
                bytes_sent,
                bytes_total,
            },
            CoreEvent::UploadFailed {
                photo_id,
                sha256,
                reason,
                permanent,
            } => EventRecord::UploadFailed {
                photo_id: photo_id.to_string(),
                sha256,
                reason,
                permanent,
            },
            CoreEvent::IncomingCall {
                call_id,
                caller_name,
                from_staff,
                ticket_id,
                media,
                expires_at_ms,
            } => EventRecord::IncomingCall {
                call_id: call_id.to_string(),
                caller_name,
                from_staff,
                ticket_id: ticket_id.map(|t| t.to_string()),
                media,
                expires_at_ms,
            },
            CoreEvent::CallChanged {
                call_id,
                state,
                reason,
            } => EventRecord::CallChanged {
                call_id: call_id.to_string(),
                state,
                reason,
            },
            CoreEvent::CallSignal {
                call_id,
                kind,
                payload,
            } => EventRecord::CallSignal {
                call_id: call_id.to_string(),
                kind,
                payload,
            },
            CoreEvent::CallRefused {
                call_id,
                refusal,
                message,
            } => EventRecord::CallRefused {
                call_id: call_id.to_string(),
                refusal,
                message,
            },
        }
    }
}

/// What a photo is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PhotoOwnerKind {
    Ticket,
    Visit,
}

/// A photo attached on this device.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AttachedPhotoRecord {
    pub photo_id: String,
    pub sha256: String,
    pub thumbnail_sha256: String,
    pub byte_size: u64,
    pub width: u32,
    pub height: u32,
    /// The normalised JPEG on the device.
    pub path: String,
    /// Its thumbnail on the device.
    pub thumbnail_path: String,
}

impl From<AttachedPhoto> for AttachedPhotoRecord {
    fn from(p: AttachedPhoto) -> Self {
        AttachedPhotoRecord {
            photo_id: p.photo_id.to_string(),
            sha256: p.sha256,
            thumbnail_sha256: p.thumbnail_sha256,
            byte_size: p.byte_size,
            width: p.width,
            height: p.height,
            path: p.path.display().to_string(),
            thumbnail_path: p.thumbnail_path.display().to_string(),
        }
    }
}

/// A photo's metadata document.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PhotoRecord {
    pub id: String,
    pub sha256: String,
    pub thumbnail_sha256: String,
    pub byte_size: u64,
    pub width: u32,
    pub height: u32,
    pub caption: String,
    /// `ticket` or `visit`.
    pub owner_kind: String,
    pub owner_id: String,
    pub author_id: String,
    pub taken_at_ms: i64,
    /// `pending` (bytes only on the device), `stored` or `rejected`.
    pub upload_state: String,
}

impl PhotoRecord {
    pub(crate) fn new(id: String, p: Photo) -> Self {
        PhotoRecord {
            id,
            sha256: p.sha256.to_string(),
            thumbnail_sha256: p.thumbnail_sha256.to_string(),
            byte_size: p.byte_size,
            width: p.width,
            height: p.height,
            caption: p.caption,
            owner_kind: p.owner.kind.as_str().to_owned(),
            owner_id: p.owner.id.to_string(),
            author_id: p.author_id.to_string(),
            taken_at_ms: p.taken_at_ms,
            upload_state: p.upload_state.as_str().to_owned(),
        }
    }
}

/// Where a queued photo file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UploadStatusRecord {
    Pending,
    Uploading,
    Done,
    Failed,
}

/// A photo file in the upload queue.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PhotoUploadRecord {
    pub sha256: String,
    pub photo_id: String,
    pub thumbnail: bool,
    pub path: String,
    pub bytes_total: u64,
    /// Bytes the server acknowledged.
    pub bytes_sent: u64,
    pub status: UploadStatusRecord,
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl From<PhotoUpload> for PhotoUploadRecord {
    fn from(u: PhotoUpload) -> Self {
        PhotoUploadRecord {
            sha256: u.sha256,
            photo_id: u.photo_doc_id.to_string(),
            thumbnail: u.kind == UploadKind::Thumbnail,
            path: u.path.display().to_string(),
            bytes_total: u.bytes_total,
            bytes_sent: u.bytes_sent,
            status: match u.status {
                UploadStatus::Pending => UploadStatusRecord::Pending,
                UploadStatus::Uploading => UploadStatusRecord::Uploading,
                UploadStatus::Done => UploadStatusRecord::Done,
                UploadStatus::Failed => UploadStatusRecord::Failed,
            },
            attempts: u.attempts,
            last_error: u.last_error,
        }
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, uniffi::Record)]
pub struct InvoiceLineRecord {
    pub id: String,
    /// `labour`, `material`, `travel` or `other`.
    pub kind: String,
    pub description: String,
    /// A decimal with at most three places (`"2.5"`).
    pub quantity: String,
    /// Whole rupiah.
    pub unit_price: i64,
    pub amount: i64,
}

/// A payment as the server recorded it in the invoice.
#[derive(Debug, Clone, uniffi::Record)]
pub struct InvoicePaymentRecord {
    pub id: String,
    pub amount: i64,
    /// `submitted`, `verified` or `rejected`.
    pub status: String,
    pub reference: String,
    pub proof_sha256: Option<String>,
    pub submitted_at_ms: i64,
    pub by_customer: bool,
    /// Why CS rejected it.
    pub reason: Option<String>,
}

/// An invoice or credit note as the customer has it (read-only).
#[derive(Debug, Clone, uniffi::Record)]
pub struct InvoiceRecord {
    pub id: String,
    /// `INV/2026/000123` or `CN/2026/000007`.
    pub number: String,
    /// `invoice` or `credit_note`.
    pub kind: String,
    /// `sent`, `payment_submitted` or `paid`.
    pub status: String,
    pub visit_ids: Vec<String>,
    /// The corrected invoice's number, for a credit note.
    pub credits: Option<String>,
    /// `IDR`: amounts are whole rupiah.
    pub currency: String,
    pub sent_at_ms: i64,
    pub lines: Vec<InvoiceLineRecord>,
    pub subtotal: i64,
    /// DPP.
    pub tax_base: i64,
    /// PPN.
    pub tax: i64,
    pub total: i64,
    /// The receipt needs stamp duty (e-meterai).
    pub stamp_duty: bool,
    pub tax_invoice_number: Option<String>,
    pub amount_due: i64,
    /// What a new payment may be at most: due, less payments being checked.
    pub payable: i64,
    pub written_off: i64,
    pub payments: Vec<InvoicePaymentRecord>,
    pub pdf_sha256: Option<String>,
}

impl InvoiceRecord {
    pub(crate) fn new(id: String, i: Invoice) -> Self {
        InvoiceRecord {
            id,
            payable: i.payable(),
            number: i.number,
            kind: i.kind.as_str().to_owned(),
            status: i.status.as_str().to_owned(),
            visit_ids: i.visit_ids.iter().map(ToString::to_string).collect(),
            credits: i.credits,
            currency: i.currency,
            sent_at_ms: i.sent_at_ms,
            lines: i
                .lines
                .into_iter()
                .map(|l| InvoiceLineRecord {
                    id: l.id.to_string(),
                    kind: l.kind.as_str().to_owned(),
                    description: l.description,
                    quantity: l.quantity.to_string(),
                    unit_price: l.unit_price,
                    amount: l.amount,
                })
                .collect(),
            subtotal: i.subtotal,
            tax_base: i.tax_base,
            tax: i.tax,
            total: i.total,
            stamp_duty: i.stamp_duty,
            tax_invoice_number: i.tax_invoice_number,
            amount_due: i.amount_due,
            written_off: i.written_off,
            payments: i
                .payments
                .into_iter()
                .map(|p| InvoicePaymentRecord {
                    id: p.id.to_string(),
                    amount: p.amount,
                    status: p.status.as_str().to_owned(),
                    reference: p.reference,
                    proof_sha256: p.proof_sha256,
                    submitted_at_ms: p.submitted_at_ms,
                    by_customer: p.by_customer,
                    reason: p.reason,
                })
                .collect(),
            pdf_sha256: i.pdf_sha256,
        }
    }
}

/// Where a payment is, as the customer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PaymentStateRecord {
    /// On the phone, waiting for the server.
    Queued,
    /// The server has it; CS will check it.
    Submitted,
    Verified,
    /// CS did not find the money, or the server refused it (see `reason`).
    Rejected,
}

/// One payment of an invoice, recorded or still queued on the phone.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PaymentViewRecord {
    pub payment_id: String,
    pub amount: i64,
    pub reference: String,
    pub state: PaymentStateRecord,
    pub reason: Option<String>,
    pub proof_sha256: Option<String>,
    /// The command carrying it, for payments made on this phone.
    pub command_id: Option<String>,
}

impl From<PaymentView> for PaymentViewRecord {
    fn from(p: PaymentView) -> Self {
        PaymentViewRecord {
            payment_id: p.payment_id.to_string(),
            amount: p.amount,
            reference: p.reference,
            state: match p.state {
                PaymentState::Queued => PaymentStateRecord::Queued,
                PaymentState::Submitted => PaymentStateRecord::Submitted,
                PaymentState::Verified => PaymentStateRecord::Verified,
                PaymentState::Rejected => PaymentStateRecord::Rejected,
            },
            reason: p.reason,
            proof_sha256: p.proof_sha256,
            command_id: p.command_id.map(|id| id.to_string()),
        }
    }
}

/// A payment queued with its receipt photo.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PaymentReceiptRecord {
    pub payment_id: String,
    pub command: CommandRecord,
    pub receipt: AttachedPhotoRecord,
}

impl From<PaymentReceipt> for PaymentReceiptRecord {
    fn from(r: PaymentReceipt) -> Self {
        PaymentReceiptRecord {
            payment_id: r.payment_id.to_string(),
            command: r.command.into(),
            receipt: r.receipt.into(),
        }
    }
}

/// A journey (intake form) the customer may start.
#[derive(Debug, Clone, uniffi::Record)]
pub struct JourneyRecord {
    pub journey_id: String,
    pub version: u32,
    /// Bahasa Indonesia and English.
    pub title_id: String,
    pub title_en: String,
}

impl From<fieldops_core::JourneyInfo> for JourneyRecord {
    fn from(j: fieldops_core::JourneyInfo) -> Self {
        JourneyRecord {
            journey_id: j.journey_id.to_string(),
            version: j.version,
            title_id: j.title_id,
            title_en: j.title_en,
        }
    }
}

/// One choice of a choice question.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ChoiceRecord {
    pub id: String,
    pub label_id: String,
    pub label_en: String,
}

/// A question, with its limits (those of its kind are set).
#[derive(Debug, Clone, uniffi::Record)]
pub struct QuestionRecord {
    pub id: String,
    pub prompt_id: String,
    pub prompt_en: String,
    pub help_id: Option<String>,
    pub help_en: Option<String>,
    pub required: bool,
    /// `single`, `multi`, `text`, `number`, `date` or `image`.
    pub kind: String,
    /// Single and multiple choice.
    pub choices: Vec<ChoiceRecord>,
    /// Multiple choice: how many may be chosen; image: how many photos.
    pub min_count: Option<u32>,
    pub max_count: Option<u32>,
    /// Text.
    pub max_chars: Option<u32>,
    pub multiline: bool,
    /// Number.
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub integer: bool,
    /// Date, `YYYY-MM-DD`.
    pub earliest: Option<String>,
    pub latest: Option<String>,
    /// Image: the largest photo, in bytes.
    pub max_bytes: Option<u64>,
}

impl From<&fieldops_core::sync::journey::Question> for QuestionRecord {
    fn from(q: &fieldops_core::sync::journey::Question) -> Self {
        use fieldops_core::sync::journey::Input;
        let mut record = QuestionRecord {
            id: q.id.to_string(),
            prompt_id: q.prompt.id.clone(),
            prompt_en: q.prompt.en.clone(),
            help_id: q.help.as_ref().map(|h| h.id.clone()),
            help_en: q.help.as_ref().map(|h| h.en.clone()),
            required: q.required,
            kind: q.input.kind().to_owned(),
            choices: q
                .input
                .choices()
                .iter()
                .map(|c| ChoiceRecord {
                    id: c.id.to_string(),
                    label_id: c.label.id.clone(),
                    label_en: c.label.en.clone(),
                })
                .collect(),
            min_count: None,
            max_count: None,
            max_chars: None,
            multiline: false,
            min_value: None,
            max_value: None,
            integer: false,
            earliest: None,
            latest: None,
            max_bytes: None,
        };
        match &q.input {
            Input::Single { .. } => {}
            Input::Multi { min, max, .. } => {
                record.min_count = min.map(u32::from);
                record.max_count = max.map(u32::from);
            }
            Input::Text {
                max_chars,
                multiline,
            } => {
                record.max_chars = Some(*max_chars);
                record.multiline = *multiline;
            }
            Input::Number { min, max, integer } => {
                record.min_value = *min;
                record.max_value = *max;
                record.integer = *integer;
            }
            Input::Date { earliest, latest } => {
                record.earliest = earliest.map(|d| d.to_string());
                record.latest = latest.map(|d| d.to_string());
            }
            Input::Image {
                max_count,
                max_bytes,
            } => {
                record.max_count = Some(u32::from(*max_count));
                record.max_bytes = Some(*max_bytes);
            }
        }
        record
    }
}

/// An answer. Photos are answered with `answer_journey_photos`; the form
/// shows them as `Images`.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum AnswerRecord {
    Choice {
        choice_id: String,
    },
    Choices {
        choice_ids: Vec<String>,
    },
    Text {
        text: String,
    },
    Number {
        value: f64,
    },
    /// `YYYY-MM-DD`.
    Date {
        date: String,
    },
    Images {
        sha256s: Vec<String>,
    },
}

impl From<&fieldops_core::sync::journey::Answer> for AnswerRecord {
    fn from(a: &fieldops_core::sync::journey::Answer) -> Self {
        use fieldops_core::sync::journey::Answer;
        match a {
            Answer::Choice(c) => AnswerRecord::Choice {
                choice_id: c.to_string(),
            },
            Answer::Choices(c) => AnswerRecord::Choices {
                choice_ids: c.iter().map(ToString::to_string).collect(),
            },
            Answer::Text(text) => AnswerRecord::Text { text: text.clone() },
            Answer::Number(value) => AnswerRecord::Number { value: *value },
            Answer::Date(date) => AnswerRecord::Date {
                date: date.to_string(),
            },
            Answer::Images(images) => AnswerRecord::Images {
                sha256s: images.iter().map(ToString::to_string).collect(),
            },
        }
    }
}

impl AnswerRecord {
    /// The core's answer; ids and dates are checked here.
    pub(crate) fn into_answer(
        self,
    ) -> std::result::Result<fieldops_core::sync::journey::Answer, crate::FieldopsError> {
        use fieldops_core::sync::journey::{Answer, Slug};
        let invalid = |reason: String| crate::FieldopsError::InvalidInput {
            field: "answer".into(),
            reason,
        };
        let slug = |s: &str| s.parse::<Slug>().map_err(|e| invalid(format!("{s:?} {e}")));
        Ok(match self {
            AnswerRecord::Choice { choice_id } => Answer::Choice(slug(&choice_id)?),
            AnswerRecord::Choices { choice_ids } => Answer::Choices(
                choice_ids
                    .iter()
                    .map(|c| slug(c))
                    .collect::<std::result::Result<_, _>>()?,
            ),
            AnswerRecord::Text { text } => Answer::Text(text),
            AnswerRecord::Number { value } => Answer::Number(value),
            AnswerRecord::Date { date } => {
                Answer::Date(date.parse().map_err(|e| invalid(format!("{e}")))?)
            }
            AnswerRecord::Images { .. } => {
                return Err(invalid(
                    "photos are answered with answer_journey_photos".into(),
                ));
            }
        })
    }
}

/// What a form shows.
// Serialised across the FFI either way: a box would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, uniffi::Enum)]
pub enum FormScreenRecord {
    /// A question, with the answer given so far.
    Question {
        question: QuestionRecord,
        answer: Option<AnswerRecord>,
    },
    /// The end: its message; submit to open the ticket.
    End {
        end_id: String,
        message_id: String,
        message_en: String,
        /// The ticket's category and priority, as the server will set them.
        category: String,
        priority: String,
        propose_visit: bool,
    },
    /// The journey leads nowhere (the server never publishes one that does).
    DeadEnd,
}

/// A form being filled in.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FormRecord {
    /// The form, and the ticket it will open.
    pub form_id: String,
    pub journey_id: String,
    pub version: u32,
    pub title_id: String,
    pub title_en: String,
    pub screen: FormScreenRecord,
    /// The questions on the path so far, by id.
    pub path: Vec<String>,
    pub can_go_back: bool,
    /// Submitted, waiting for the server (the form cannot change meanwhile).
    pub submitted: bool,
    /// Why the server refused the last submission (the answers are kept).
    pub rejection: Option<String>,
}

impl From<fieldops_core::FormView> for FormRecord {
    fn from(v: fieldops_core::FormView) -> Self {
        use fieldops_core::FormScreen;
        FormRecord {
            form_id: v.form_id.to_string(),
            journey_id: v.journey_id.to_string(),
            version: v.version,
            title_id: v.title_id,
            title_en: v.title_en,
            screen: match v.screen {
                FormScreen::Question { question, answer } => FormScreenRecord::Question {
                    question: QuestionRecord::from(&question),
                    answer: answer.as_ref().map(AnswerRecord::from),
                },
                FormScreen::End { end } => FormScreenRecord::End {
                    end_id: end.id.to_string(),
                    message_id: end.message.id,
                    message_en: end.message.en,
                    category: end.outcome.category,
                    priority: end.outcome.priority.as_str().to_owned(),
                    propose_visit: end.outcome.propose_visit,
                },
                FormScreen::DeadEnd => FormScreenRecord::DeadEnd,
            },
            path: v.path,
            can_go_back: v.can_go_back,
            submitted: v.submitted,
            rejection: v.rejection,
        }
    }
}
