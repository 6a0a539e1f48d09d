//! The JSON of every event, pinned.
//!
//! Consoles, the event log and whatever an integrator wrote against
//! `/api/v1/events` read these shapes: each kind's payload, built here from
//! fixed values, must serialise to the line recorded for it in
//! `server/tests/golden/events.txt`. A field may be added, never removed or
//! changed; a kind may be added, never removed. The codes of the enums
//! events carry (statuses, priorities, presence) are recorded the same way,
//! one line per variant: a code may be added, never renamed or removed.
//! Record additions with
//! `FIELDOPS_BLESS=1 cargo test -p fieldops-server --lib events::wire_tests`
//! and review the diff: only added fields and lines are compatible.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use fieldops_sync::billing::{InvoiceKind, InvoiceStatus};
use serde_json::{Value, json};

use super::Happened;
use super::happened::*;
use super::messages::{ChatMessageView, TicketMessageView};
use crate::db::visits::VisitStatus;
use crate::domain::{CreatedVia, Presence, Priority, Status, TicketStatus};
use crate::sync::{Changed, Ending};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/events.txt");

fn visit() -> VisitFacts {
    VisitFacts {
        visit_id: "visit-1".into(),
        title: "AC tidak dingin".into(),
        status: VisitStatus::Assigned,
        technician_quota: 2,
        seats_taken: 1,
        emergency: false,
        scheduled_start: "2026-12-07T08:00:00+07:00".into(),
        planned_days: 1,
    }
}

fn seat() -> Seat {
    Seat {
        visit: visit(),
        assignment_id: "assignment-1".into(),
        technician_id: "user-tech".into(),
        technician_name: "Budi Santoso".into(),
    }
}

fn seat_freed() -> SeatFreed {
    SeatFreed {
        visit: VisitFacts {
            status: VisitStatus::Open,
            seats_taken: 0,
            ..visit()
        },
        assignment_id: "assignment-1".into(),
        technician_id: "user-tech".into(),
        reason: Some("Motor mogok".into()),
    }
}

fn attendance(within_geofence: bool) -> Attendance {
    Attendance {
        visit: VisitFacts {
            status: VisitStatus::InProgress,
            ..visit()
        },
        attendance_id: "attendance-1".into(),
        technician_id: "user-tech".into(),
        technician_name: "Budi Santoso".into(),
        lat: -6.2,
        lon: 106.8167,
        accuracy_m: 12.5,
        distance_m: 48.0,
        within_geofence,
        device_time: "2026-12-07T08:03:00+07:00".into(),
        received_at: "2026-12-07T01:03:02Z".into(),
    }
}

fn extension(status: &str, decision_note: Option<&str>) -> ExtensionFacts {
    ExtensionFacts {
        extension_id: "extension-1".into(),
        visit_id: "visit-1".into(),
        technician_id: "user-tech".into(),
        extra_days: 2,
        reason: "Suku cadang belum datang".into(),
        status: status.into(),
        decision_note: decision_note.map(str::to_owned),
    }
}

fn ticket() -> TicketFacts {
    TicketFacts {
        id: "ticket-1".into(),
        number: "TKT-000001".into(),
        status: TicketStatus::InProgress,
        priority: Priority::High,
        assignee_id: Some("user-cs".into()),
        department_id: "department-1".into(),
    }
}

fn customer(status: Status, created_via: Option<CreatedVia>) -> CustomerFacts {
    CustomerFacts {
        id: "customer-1".into(),
        name: "Rina Wati".into(),
        status,
        created_via,
    }
}

fn invoice(status: InvoiceStatus) -> InvoiceFacts {
    InvoiceFacts {
        invoice_id: "invoice-1".into(),
        kind: InvoiceKind::Invoice,
        number: (status != InvoiceStatus::Draft).then(|| "INV-2026-000001".into()),
        status,
        customer_id: "customer-1".into(),
        total: 1_250_000,
    }
}

fn journey(version: i64) -> JourneyVersion {
    JourneyVersion {
        id: "journey-1".into(),
        version,
    }
}

/// One or more samples of every kind, by name (the kind, and a variant
/// of its shape after `#`).
fn samples() -> Vec<(&'static str, Happened)> {
    use Happened::*;
    let mut differs = serde_json::Map::new();
    differs.insert(
        "name".into(),
        json!({ "current": "Rina Wati", "sent": "Rina W." }),
    );
    vec![
        (
            "visit.created",
            VisitCreated(VisitFacts {
                status: VisitStatus::Open,
                seats_taken: 0,
                ..visit()
            }),
        ),
        ("visit.updated", VisitUpdated(visit())),
        (
            "visit.status_changed",
            VisitStatusChanged(StatusChanged {
                visit: visit(),
                from: VisitStatus::Open,
            }),
        ),
        ("visit.claimed", VisitClaimed(seat())),
        ("visit.withdrawn", VisitWithdrawn(seat_freed())),
        ("visit.returned_to_pool", VisitReturnedToPool(seat_freed())),
        ("visit.holder_deactivated", VisitHolderDeactivated(seat())),
        (
            "assignment.released#returned",
            AssignmentReleased(super::happened::AssignmentReleased {
                visit: seat_freed().visit,
                assignment_id: Some("assignment-1".into()),
                technician_id: Some("user-tech".into()),
                reason: Some("Dialihkan ke tim lain".into()),
                kind: ReleasedBecause::Returned,
            }),
        ),
        (
            "assignment.released#cancelled",
            AssignmentReleased(super::happened::AssignmentReleased {
                visit: VisitFacts {
                    status: VisitStatus::Cancelled,
                    ..visit()
                },
                assignment_id: None,
                technician_id: None,
                reason: Some("Pelanggan pindah".into()),
                kind: ReleasedBecause::Cancelled,
            }),
        ),
        ("attendance.checked_in", CheckedIn(attendance(true))),
        (
            "attendance.checked_out#outside",
            CheckedOut(attendance(false)),
        ),
        (
            "extension.requested",
            ExtensionRequested(extension("pending", None)),
        ),
        (
            "extension.approved",
            ExtensionApproved(extension("approved", Some("OK"))),
        ),
        (
            "extension.rejected",
            ExtensionRejected(extension("rejected", Some("Selesaikan hari ini"))),
        ),
        (
            "ticket.created",
            TicketCreated(TicketFacts {
                status: TicketStatus::Open,
                assignee_id: None,
                ..ticket()
            }),
        ),
        ("ticket.updated", TicketUpdated(ticket())),
        (
            "ticket.assigned#by_hand",
            TicketAssigned(super::happened::TicketAssigned::ByHand(ticket())),
        ),
        (
            "ticket.assigned#round_robin",
            TicketAssigned(super::happened::TicketAssigned::RoundRobin(RoundRobin {
                ticket_id: "ticket-1".into(),
                number: "TKT-000001".into(),
                assignee_id: "user-cs".into(),
                method: "round_robin",
            })),
        ),
        (
            "ticket.message",
            TicketMessage(super::happened::TicketMessage {
                ticket_id: "ticket-1".into(),
                number: "TKT-000001".into(),
                message: TicketMessageView {
                    id: "message-1".into(),
                    author_id: Some("user-cs".into()),
                    author_kind: "staff".into(),
                    body: "Teknisi datang besok pagi.".into(),
                    internal: false,
                    created_at: "2026-12-07T01:10:00Z".into(),
                },
            }),
        ),
        (
            "ticket.sla_breached",
            TicketSlaBreached(SlaBreached {
                ticket_id: "ticket-1".into(),
                number: "TKT-000001".into(),
                breach: "response",
                priority: Priority::Urgent,
                department_id: "department-1".into(),
            }),
        ),
        (
            "chat.message",
            ChatMessage(ChatMessageView {
                id: "chat-1".into(),
                conversation_id: "conversation-1".into(),
                sender_id: Some("customer-1".into()),
                sender_kind: "customer".into(),
                body: "AC saya bocor".into(),
                client_id: Some("client-1".into()),
                created_at: "2026-12-07T01:00:00Z".into(),
                attachment_sha256: None,
            }),
        ),
        (
            "chat.message#attachment",
            ChatMessage(ChatMessageView {
                id: "chat-2".into(),
                conversation_id: "conversation-1".into(),
                sender_id: Some("customer-1".into()),
                sender_kind: "customer".into(),
                body: String::new(),
                client_id: None,
                created_at: "2026-12-07T01:01:00Z".into(),
                attachment_sha256: Some(
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                ),
            }),
        ),
        (
            "conversation.assigned",
            ConversationAssigned(super::happened::ConversationAssigned {
                conversation_id: "conversation-1".into(),
                customer_id: "customer-1".into(),
                assignee_id: "user-cs".into(),
            }),
        ),
        (
            "customer.created",
            CustomerCreated(customer(Status::Active, None)),
        ),
        (
            "customer.created#whatsapp",
            CustomerCreated(customer(Status::Active, Some(CreatedVia::Whatsapp))),
        ),
        (
            "customer.updated",
            CustomerUpdated(customer(Status::Active, None)),
        ),
        (
            "customer.registration_differs",
            CustomerRegistrationDiffers(RegistrationDiffers {
                id: "customer-1".into(),
                name: "Rina Wati".into(),
                phone: "+6281234567890".into(),
                differs,
            }),
        ),
        (
            "customer.deactivated",
            CustomerDeactivated(customer(Status::Inactive, None)),
        ),
        (
            "customer.restored",
            CustomerRestored(customer(Status::Active, None)),
        ),
        (
            "customer.registered",
            CustomerRegistered(super::happened::CustomerRegistered {
                id: "customer-2".into(),
                name: "Rina Wati".into(),
                status: Status::Active,
                phone_verified: true,
                possible_duplicate_of: Some("customer-1".into()),
            }),
        ),
        (
            "customer.merged",
            CustomerMerged(super::happened::CustomerMerged {
                id: "customer-1".into(),
                from: "customer-2".into(),
                name: "Rina Wati".into(),
            }),
        ),
        (
            "whatsapp.sent",
            WhatsappSent(super::happened::WhatsappSent {
                id: "outbox-1".into(),
                to: "+6281234567890".into(),
                attempts: 1,
            }),
        ),
        (
            "invoice.drafted",
            InvoiceDrafted(invoice(InvoiceStatus::Draft)),
        ),
        (
            "invoice.updated",
            InvoiceUpdated(invoice(InvoiceStatus::Draft)),
        ),
        (
            "invoice.submitted",
            InvoiceSubmitted(invoice(InvoiceStatus::PendingApproval)),
        ),
        (
            "invoice.returned",
            InvoiceReturned(invoice(InvoiceStatus::Draft)),
        ),
        (
            "invoice.approved",
            InvoiceApproved(invoice(InvoiceStatus::Approved)),
        ),
        ("invoice.sent", InvoiceSent(invoice(InvoiceStatus::Sent))),
        (
            "invoice.payment_submitted",
            InvoicePaymentSubmitted(invoice(InvoiceStatus::PaymentSubmitted)),
        ),
        (
            "invoice.payment_verified",
            InvoicePaymentVerified(invoice(InvoiceStatus::Paid)),
        ),
        (
            "invoice.payment_rejected",
            InvoicePaymentRejected(invoice(InvoiceStatus::Sent)),
        ),
        (
            "invoice.written_off",
            InvoiceWrittenOff(invoice(InvoiceStatus::Paid)),
        ),
        ("invoice.paid", InvoicePaid(invoice(InvoiceStatus::Paid))),
        (
            "invoice.voided#credit_note",
            InvoiceVoided(InvoiceFacts {
                kind: InvoiceKind::CreditNote,
                total: -250_000,
                ..invoice(InvoiceStatus::Void)
            }),
        ),
        (
            "rating.submitted#visit",
            RatingSubmitted(super::happened::RatingSubmitted {
                visit_id: Some("visit-1".into()),
                ticket_id: None,
                score: 5,
                via: "link",
            }),
        ),
        (
            "rating.submitted#ticket",
            RatingSubmitted(super::happened::RatingSubmitted {
                visit_id: None,
                ticket_id: Some("ticket-1".into()),
                score: 3,
                via: "app",
            }),
        ),
        (
            "alert.raised",
            AlertRaised(super::happened::AlertRaised {
                id: "alert-1".into(),
                kind: "low_rating".into(),
                subject: "visit-1".into(),
                detail: "Rating 1 dari Rina Wati".into(),
            }),
        ),
        (
            "alert.dismissed",
            AlertDismissed(super::happened::AlertDismissed {
                id: "alert-1".into(),
            }),
        ),
        (
            "settings.changed",
            SettingsChanged(super::happened::SettingsChanged { group: "sla" }),
        ),
        ("journey.saved", JourneySaved(journey(3))),
        ("journey.published", JourneyPublished(journey(3))),
        ("journey.retired", JourneyRetired(journey(2))),
        (
            "staff.presence",
            StaffPresence(super::happened::StaffPresence {
                user_id: "user-cs".into(),
                name: "Sari".into(),
                presence: Presence::Available,
            }),
        ),
        (
            "call.updated",
            CallUpdated(CallFacts {
                id: "call-1".into(),
                state: "ended".into(),
                end_reason: Some("hung_up".into()),
                direction: "inbound".into(),
                customer_id: "customer-1".into(),
                ticket_id: Some("ticket-1".into()),
                agent_id: Some("user-cs".into()),
            }),
        ),
        (
            "sync.changed",
            SyncChanged(super::happened::SyncChanged {
                changed: vec![Changed {
                    doc_id: "doc-1".into(),
                    seq: 42,
                }],
            }),
        ),
        (
            "account.changed#signed_out",
            AccountChanged(Ending {
                user_id: "user-tech".into(),
                signed_out: true,
                session_id: Some("session-1".into()),
                keep_session_id: None,
            }),
        ),
        (
            "account.changed#other_devices_signed_out",
            AccountChanged(Ending {
                user_id: "user-tech".into(),
                signed_out: true,
                session_id: None,
                keep_session_id: Some("session-1".into()),
            }),
        ),
        (
            "account.changed#scope",
            AccountChanged(Ending {
                user_id: "user-tech".into(),
                ..Ending::default()
            }),
        ),
    ]
}

/// Every code of the enums events carry, by Rust name: consoles switch on
/// these strings, so a code may be added, never renamed or removed.
fn codes() -> Vec<(String, Value)> {
    fn each<T: serde::Serialize + std::fmt::Debug>(
        name: &str,
        all: &[T],
        out: &mut Vec<(String, Value)>,
    ) {
        out.extend(
            all.iter()
                .map(|v| (format!("{name}::{v:?}"), serde_json::to_value(v).unwrap())),
        );
    }
    let mut out = Vec::new();
    each("VisitStatus", VisitStatus::ALL, &mut out);
    each("TicketStatus", TicketStatus::ALL, &mut out);
    each("Priority", Priority::ALL, &mut out);
    each("Presence", Presence::ALL, &mut out);
    each("Status", Status::ALL, &mut out);
    each("CreatedVia", CreatedVia::ALL, &mut out);
    each("InvoiceStatus", InvoiceStatus::ALL, &mut out);
    each("InvoiceKind", InvoiceKind::ALL, &mut out);
    out
}

/// What the golden file records: every sample's JSON, then every code.
fn lines() -> Vec<(String, Value)> {
    samples()
        .into_iter()
        .map(|(name, happened)| {
            assert_eq!(
                name.split('#').next(),
                Some(happened.kind()),
                "{name} is a sample of {}",
                happened.kind()
            );
            (name.to_owned(), happened.data().unwrap())
        })
        .chain(codes())
        .collect()
}

fn recorded() -> BTreeMap<String, Value> {
    // A missing file is recorded from scratch when blessing, and a failure
    // otherwise: a test that compares against nothing proves nothing.
    let text = match std::fs::read_to_string(GOLDEN) {
        Ok(text) => text,
        Err(_) if std::env::var_os("FIELDOPS_BLESS").is_some() => String::new(),
        Err(e) => panic!("{GOLDEN}: {e}; record it with FIELDOPS_BLESS=1"),
    };
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, json) = l.split_once(' ').unwrap();
            (name.to_owned(), serde_json::from_str(json).unwrap())
        })
        .collect()
}

/// Whether `now` still says everything `before` said: the same fields with
/// the same values, perhaps more fields.
fn keeps(before: &Value, now: &Value) -> bool {
    match (before, now) {
        (Value::Object(before), Value::Object(now)) => before
            .iter()
            .all(|(field, value)| now.get(field).is_some_and(|v| keeps(value, v))),
        (Value::Array(before), Value::Array(now)) => {
            before.len() == now.len() && before.iter().zip(now).all(|(b, n)| keeps(b, n))
        }
        _ => before == now,
    }
}

#[test]
fn every_kind_has_a_sample() {
    let sampled: Vec<&str> = samples().iter().map(|(_, h)| h.kind()).collect();
    for kind in Happened::KINDS {
        assert!(sampled.contains(kind), "{kind} has no sample here");
    }
}

/// The visit the unit of work re-projects is the one the event's JSON
/// names, for every kind that names one.
#[test]
fn the_visit_to_project_is_the_one_the_event_names() {
    for (name, happened) in samples() {
        let data = happened.data().unwrap();
        assert_eq!(
            happened.visit_id(),
            data.get("visit_id").and_then(Value::as_str),
            "{name}"
        );
    }
}

#[test]
fn every_event_says_what_it_was_recorded_saying() {
    let now = lines();
    let recorded = recorded();
    for (name, json) in &now {
        if let Some(before) = recorded.get(name) {
            assert!(
                keeps(before, json),
                "{name}: a field consoles read was removed or changed\n  recorded {before}\n  now      {json}"
            );
        }
    }
    for name in recorded.keys() {
        assert!(
            now.iter().any(|(n, _)| n == name),
            "{name} is recorded but no longer built: consoles may still read it"
        );
    }
    if std::env::var_os("FIELDOPS_BLESS").is_some() {
        let mut out = String::from(
            "# Every event's JSON and every code events carry, pinned (server/src/events/wire_tests.rs): name, then the JSON.\n",
        );
        for (name, json) in &now {
            out.push_str(&format!("{name} {json}\n"));
        }
        std::fs::write(GOLDEN, out).unwrap();
        return;
    }
    let unrecorded: Vec<&str> = now
        .iter()
        .filter(|(name, json)| recorded.get(name) != Some(json))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        unrecorded.is_empty(),
        "new kinds or fields, not yet recorded: {unrecorded:?}; record them with FIELDOPS_BLESS=1"
    );
}
