//! What an event says: one variant per kind, each with the struct it
//! carries.
//!
//! Services name what happened as a [`Happened`] value, and the bus turns
//! it into the event's `kind` and `data` once, when it records it
//! ([`Happened::kind`], [`Happened::data`]). A kind cannot be misspelt, a
//! payload cannot lose a field at one of its call sites, and which visit's
//! sync document an event concerns is a question the types answer
//! ([`Happened::visit_id`]) instead of a search of its JSON.
//!
//! The vocabulary sits here, beside the bus, rather than in each service:
//! the unit of work records these values, and it sits below the services
//! (`crate::work`). The payloads are built from storage rows
//! (`From<&VisitRow>` and the like), which the bus may know; the HTTP views
//! that answer with the same shapes embed them
//! ([`messages`](super::messages)), never the reverse.
//!
//! The JSON of each payload is the wire format consoles read on
//! `/api/v1/events` (SSE and WebSocket) and the form events keep in the
//! event log: change a field only as a new field.

use fieldops_sync::billing::{InvoiceKind, InvoiceStatus};
use serde::Serialize;
use serde_json::Value;

use super::messages::{ChatMessageView, TicketMessageView};
use crate::db::calls::CallRow;
use crate::db::customers::CustomerRow;
use crate::db::extensions::ExtensionRow;
use crate::db::invoices::InvoiceRow;
use crate::db::tickets::TicketRow;
use crate::db::visits::{VisitRow, VisitStatus};
use crate::domain::{CreatedVia, Presence, Priority, Status, TicketStatus};
use crate::sync::{Changed, Ending};

/// Declares [`Happened`] with each variant's kind, and the list of kinds.
macro_rules! happened {
    ($( $(#[$doc:meta])* $variant:ident($payload:ty) = $kind:literal, )+) => {
        /// Something that happened, as a service names it: the event's kind
        /// is the variant, its data the payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Happened {
            $( $(#[$doc])* $variant($payload), )+
        }

        impl Happened {
            /// Every kind of event, as the bus and the consoles spell it.
            pub const KINDS: &[&str] = &[$($kind),+];

            /// The kind, e.g. `visit.claimed`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Happened::$variant(_) => $kind, )+
                }
            }

            /// The payload as the event's JSON data.
            pub fn data(&self) -> serde_json::Result<Value> {
                match self {
                    $( Happened::$variant(payload) => serde_json::to_value(payload), )+
                }
            }
        }
    };
}

happened! {
    VisitCreated(VisitFacts) = "visit.created",
    VisitUpdated(VisitFacts) = "visit.updated",
    VisitStatusChanged(StatusChanged) = "visit.status_changed",
    VisitClaimed(Seat) = "visit.claimed",
    VisitWithdrawn(SeatFreed) = "visit.withdrawn",
    VisitReturnedToPool(SeatFreed) = "visit.returned_to_pool",
    /// An account deactivated while on site: its seat is left to CS.
    VisitHolderDeactivated(Seat) = "visit.holder_deactivated",
    /// To the technician whose visit it was.
    AssignmentReleased(AssignmentReleased) = "assignment.released",
    CheckedIn(Attendance) = "attendance.checked_in",
    CheckedOut(Attendance) = "attendance.checked_out",
    ExtensionRequested(ExtensionFacts) = "extension.requested",
    ExtensionApproved(ExtensionFacts) = "extension.approved",
    ExtensionRejected(ExtensionFacts) = "extension.rejected",
    TicketCreated(TicketFacts) = "ticket.created",
    TicketUpdated(TicketFacts) = "ticket.updated",
    TicketAssigned(TicketAssigned) = "ticket.assigned",
    TicketMessage(TicketMessage) = "ticket.message",
    TicketSlaBreached(SlaBreached) = "ticket.sla_breached",
    ChatMessage(ChatMessageView) = "chat.message",
    ConversationAssigned(ConversationAssigned) = "conversation.assigned",
    CustomerCreated(CustomerFacts) = "customer.created",
    CustomerUpdated(CustomerFacts) = "customer.updated",
    /// A repeated WhatsApp registration asked for changes CS must confirm.
    CustomerRegistrationDiffers(RegistrationDiffers) = "customer.registration_differs",
    CustomerDeactivated(CustomerFacts) = "customer.deactivated",
    CustomerRestored(CustomerFacts) = "customer.restored",
    /// A customer signed up in the app.
    CustomerRegistered(CustomerRegistered) = "customer.registered",
    CustomerMerged(CustomerMerged) = "customer.merged",
    WhatsappSent(WhatsappSent) = "whatsapp.sent",
    InvoiceDrafted(InvoiceFacts) = "invoice.drafted",
    InvoiceUpdated(InvoiceFacts) = "invoice.updated",
    InvoiceSubmitted(InvoiceFacts) = "invoice.submitted",
    InvoiceReturned(InvoiceFacts) = "invoice.returned",
    InvoiceApproved(InvoiceFacts) = "invoice.approved",
    InvoiceSent(InvoiceFacts) = "invoice.sent",
    InvoicePaymentSubmitted(InvoiceFacts) = "invoice.payment_submitted",
    InvoicePaymentVerified(InvoiceFacts) = "invoice.payment_verified",
    InvoicePaymentRejected(InvoiceFacts) = "invoice.payment_rejected",
    InvoiceWrittenOff(InvoiceFacts) = "invoice.written_off",
    InvoicePaid(InvoiceFacts) = "invoice.paid",
    InvoiceVoided(InvoiceFacts) = "invoice.voided",
    RatingSubmitted(RatingSubmitted) = "rating.submitted",
    AlertRaised(AlertRaised) = "alert.raised",
    AlertDismissed(AlertDismissed) = "alert.dismissed",
    SettingsChanged(SettingsChanged) = "settings.changed",
    JourneySaved(JourneyVersion) = "journey.saved",
    JourneyPublished(JourneyVersion) = "journey.published",
    JourneyRetired(JourneyVersion) = "journey.retired",
    StaffPresence(StaffPresence) = "staff.presence",
    CallUpdated(CallFacts) = "call.updated",
    /// Internal: sync documents changed; every instance's live feed wakes.
    SyncChanged(SyncChanged) = "sync.changed",
    /// Internal: an account's live sessions end (signed out, or what it may
    /// read changed).
    AccountChanged(Ending) = "account.changed",
}

impl Happened {
    /// The visit whose sync document this event reports a change of, for
    /// the unit of work to project.
    pub fn visit_id(&self) -> Option<&str> {
        use Happened::*;
        match self {
            VisitCreated(v) | VisitUpdated(v) => Some(&v.visit_id),
            VisitStatusChanged(e) => Some(&e.visit.visit_id),
            VisitClaimed(e) | VisitHolderDeactivated(e) => Some(&e.visit.visit_id),
            VisitWithdrawn(e) | VisitReturnedToPool(e) => Some(&e.visit.visit_id),
            AssignmentReleased(e) => Some(&e.visit.visit_id),
            CheckedIn(e) | CheckedOut(e) => Some(&e.visit.visit_id),
            ExtensionRequested(e) | ExtensionApproved(e) | ExtensionRejected(e) => {
                Some(&e.visit_id)
            }
            RatingSubmitted(e) => e.visit_id.as_deref(),
            // Listed, not `_`: a new kind must say whether it names a visit.
            TicketCreated(_)
            | TicketUpdated(_)
            | TicketAssigned(_)
            | TicketMessage(_)
            | TicketSlaBreached(_)
            | ChatMessage(_)
            | ConversationAssigned(_)
            | CustomerCreated(_)
            | CustomerUpdated(_)
            | CustomerRegistrationDiffers(_)
            | CustomerDeactivated(_)
            | CustomerRestored(_)
            | CustomerRegistered(_)
            | CustomerMerged(_)
            | WhatsappSent(_)
            | InvoiceDrafted(_)
            | InvoiceUpdated(_)
            | InvoiceSubmitted(_)
            | InvoiceReturned(_)
            | InvoiceApproved(_)
            | InvoiceSent(_)
            | InvoicePaymentSubmitted(_)
            | InvoicePaymentVerified(_)
            | InvoicePaymentRejected(_)
            | InvoiceWrittenOff(_)
            | InvoicePaid(_)
            | InvoiceVoided(_)
            | AlertRaised(_)
            | AlertDismissed(_)
            | SettingsChanged(_)
            | JourneySaved(_)
            | JourneyPublished(_)
            | JourneyRetired(_)
            | StaffPresence(_)
            | CallUpdated(_)
            | SyncChanged(_)
            | AccountChanged(_) => None,
        }
    }
}

/// What every visit event says about its visit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitFacts {
    pub visit_id: String,
    pub title: String,
    pub status: VisitStatus,
    pub technician_quota: i64,
    pub seats_taken: i64,
    pub emergency: bool,
    pub scheduled_start: String,
    pub planned_days: i64,
}

impl From<&VisitRow> for VisitFacts {
    fn from(v: &VisitRow) -> Self {
        Self {
            visit_id: v.id.clone(),
            title: v.title.clone(),
            status: v.status,
            technician_quota: v.technician_quota,
            seats_taken: v.seats_taken,
            emergency: v.emergency == 1,
            scheduled_start: v.scheduled_start.clone(),
            planned_days: v.planned_days,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusChanged {
    #[serde(flatten)]
    pub visit: VisitFacts,
    pub from: VisitStatus,
}

/// A technician's seat on a visit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seat {
    #[serde(flatten)]
    pub visit: VisitFacts,
    pub assignment_id: String,
    pub technician_id: String,
    pub technician_name: String,
}

/// A seat given back (withdrawn by the technician, returned by CS).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeatFreed {
    #[serde(flatten)]
    pub visit: VisitFacts,
    pub assignment_id: String,
    pub technician_id: String,
    /// Why, in words.
    pub reason: Option<String>,
}

/// Why a technician's visit left their list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleasedBecause {
    /// CS returned it to the pool.
    Returned,
    /// The visit was cancelled.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssignmentReleased {
    #[serde(flatten)]
    pub visit: VisitFacts,
    /// Set when CS returned the seat; a cancellation ends every seat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub technician_id: Option<String>,
    pub reason: Option<String>,
    pub kind: ReleasedBecause,
}

/// A check-in or check-out, with where it was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attendance {
    #[serde(flatten)]
    pub visit: VisitFacts,
    pub attendance_id: String,
    pub technician_id: String,
    pub technician_name: String,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    /// From the site, rounded to the metre.
    pub distance_m: f64,
    pub within_geofence: bool,
    /// RFC 3339: the phone's clock, and the server's on receipt.
    pub device_time: String,
    pub received_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtensionFacts {
    pub extension_id: String,
    pub visit_id: String,
    pub technician_id: String,
    pub extra_days: i64,
    pub reason: String,
    pub status: String,
    pub decision_note: Option<String>,
}

impl From<&ExtensionRow> for ExtensionFacts {
    fn from(e: &ExtensionRow) -> Self {
        Self {
            extension_id: e.id.clone(),
            visit_id: e.visit_id.clone(),
            technician_id: e.technician_id.clone(),
            extra_days: e.extra_days,
            reason: e.reason.clone(),
            status: e.status.clone(),
            decision_note: e.decision_note.clone(),
        }
    }
}

/// What every ticket event sent to its department and customer says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketFacts {
    pub id: String,
    pub number: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub assignee_id: Option<String>,
    pub department_id: String,
}

impl From<&TicketRow> for TicketFacts {
    fn from(t: &TicketRow) -> Self {
        Self {
            id: t.id.clone(),
            number: t.number.clone(),
            status: t.status,
            priority: t.priority,
            assignee_id: t.assignee_id.clone(),
            department_id: t.department_id.clone(),
        }
    }
}

/// A ticket given an assignee: by a person (the ticket as it now is), or
/// by the round-robin (to the department and the agent it picked).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TicketAssigned {
    ByHand(TicketFacts),
    RoundRobin(RoundRobin),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundRobin {
    pub ticket_id: String,
    pub number: String,
    pub assignee_id: String,
    /// Always `round_robin`.
    pub method: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketMessage {
    pub ticket_id: String,
    pub number: String,
    pub message: TicketMessageView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaBreached {
    pub ticket_id: String,
    pub number: String,
    /// `response` or `resolution`.
    pub breach: &'static str,
    /// The priority the breach raised the ticket to.
    pub priority: Priority,
    pub department_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationAssigned {
    pub conversation_id: String,
    pub customer_id: String,
    pub assignee_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerFacts {
    pub id: String,
    pub name: String,
    pub status: Status,
    /// Said when a WhatsApp registration created or updated the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_via: Option<CreatedVia>,
}

impl From<&CustomerRow> for CustomerFacts {
    fn from(c: &CustomerRow) -> Self {
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            status: c.status,
            created_via: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistrationDiffers {
    pub id: String,
    pub name: String,
    pub phone: String,
    /// Field by field: `{"name": {"current": "Rina Wati", "sent": "Rina W."}}`.
    pub differs: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerRegistered {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub phone_verified: bool,
    /// A record with the same phone or email that CS may merge.
    pub possible_duplicate_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerMerged {
    /// The record that remains.
    pub id: String,
    /// The record merged into it.
    pub from: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatsappSent {
    pub id: String,
    pub to: String,
    pub attempts: i64,
}

/// What every invoice event says about its invoice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceFacts {
    pub invoice_id: String,
    pub kind: InvoiceKind,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    pub customer_id: String,
    pub total: i64,
}

impl From<&InvoiceRow> for InvoiceFacts {
    fn from(row: &InvoiceRow) -> Self {
        Self {
            invoice_id: row.id.clone(),
            kind: row.kind,
            number: row.number.clone(),
            status: row.status,
            customer_id: row.customer_id.clone(),
            total: row.total,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatingSubmitted {
    pub visit_id: Option<String>,
    pub ticket_id: Option<String>,
    pub score: i64,
    /// `link` (the signed page) or `app`.
    pub via: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRaised {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertDismissed {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsChanged {
    /// The settings group: `sla`, `assignment`, `ratings`.
    pub group: &'static str,
}

/// A journey and the version the event is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JourneyVersion {
    pub id: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffPresence {
    pub user_id: String,
    pub name: String,
    pub presence: Presence,
}

/// A call as the consoles' timelines show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallFacts {
    pub id: String,
    pub state: String,
    pub end_reason: Option<String>,
    pub direction: String,
    pub customer_id: String,
    pub ticket_id: Option<String>,
    pub agent_id: Option<String>,
}

impl From<&CallRow> for CallFacts {
    fn from(call: &CallRow) -> Self {
        Self {
            id: call.id.to_string(),
            state: call.state.clone(),
            end_reason: call.end_reason.clone(),
            direction: call.direction.clone(),
            customer_id: call.customer_id.clone(),
            ticket_id: call.ticket_id.clone(),
            agent_id: call.agent_id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncChanged {
    pub changed: Vec<Changed>,
}

/// Each kind's JSON is pinned in `wire_tests.rs`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_listed_once_each() {
        let mut kinds = Happened::KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), Happened::KINDS.len());
    }
}
