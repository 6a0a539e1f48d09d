//! Sample documents for tests, here and in the crates that depend on this
//! one. Every call returns fresh ids; tests adjust the fields they care about.

use crate::docs::checkin::{CheckIn, Direction};
use crate::docs::invoice::{Invoice, InvoiceLine, InvoicePayment};
use crate::docs::photo::{Owner, OwnerKind, Photo, UploadState};
use crate::docs::staff_notes::{InternalNote, StaffNotes};
use crate::docs::ticket::{Author, Priority, Ticket, TicketMessage, TicketNumber, TicketStatus};
use crate::docs::visit::{
    Assignment, AssignmentState, ChecklistItem, CustomerPrivate, Site, Visit, VisitStatus,
};
use crate::ids::{AssignmentId, DepartmentId, DocId, ItemId, UserId};

const NOV_22_2026_MS: i64 = 1_795_305_600_000;

/// An open ticket with two photos.
pub fn sample_ticket() -> Ticket {
    Ticket {
        number: TicketNumber::from_sequence(123),
        subject: "Boiler leaking".into(),
        description: "Water under the boiler since this morning.".into(),
        category: "heating".into(),
        priority: Priority::High,
        status: TicketStatus::Open,
        customer_id: UserId::new(),
        department_id: DepartmentId::new(),
        assignee_id: None,
        photo_ids: vec![DocId::new(), DocId::new()],
        created_at_ms: NOV_22_2026_MS,
        updated_at_ms: NOV_22_2026_MS,
        messages: vec![TicketMessage {
            id: ItemId::new(),
            author: Author::Customer,
            body: "It drips onto the floor.".into(),
            at_ms: NOV_22_2026_MS,
        }],
    }
}

/// An assigned visit: one active assignment, two checklist items, private data.
pub fn sample_visit() -> Visit {
    Visit {
        ticket_id: Some(DocId::new()),
        customer_id: UserId::new(),
        department_id: Some(DepartmentId::new()),
        title: "Replace boiler valve".into(),
        description: "Pressure relief valve drips.".into(),
        site: Site {
            address: "Calle Mayor 1, Madrid".into(),
            lat: 40.4168,
            lon: -3.7038,
        },
        scheduled_start: "2026-11-24".parse().expect("valid literal"),
        planned_days: 1,
        technician_quota: 2,
        status: VisitStatus::Assigned,
        emergency: false,
        assignments: vec![Assignment {
            assignment_id: AssignmentId::new(),
            technician_id: UserId::new(),
            state: AssignmentState::Active,
        }],
        notes: String::new(),
        checklist: vec![
            ChecklistItem {
                id: ItemId::new(),
                label: "Close water supply".into(),
                done: false,
            },
            ChecklistItem {
                id: ItemId::new(),
                label: "Replace valve".into(),
                done: false,
            },
        ],
        customer_private: Some(CustomerPrivate {
            contact_name: "Ana Ruiz".into(),
            contact_phone: "+34600111222".into(),
            access_notes: "Gate code 4711, beware of the dog".into(),
        }),
    }
}

/// A check-in as the technician's device records it: no server decisions yet.
pub fn sample_check_in() -> CheckIn {
    CheckIn {
        visit_id: DocId::new(),
        technician_id: UserId::new(),
        direction: Direction::In,
        device_time_ms: NOV_22_2026_MS,
        received_at_ms: None,
        lat: 40.4169,
        lon: -3.7037,
        accuracy_m: 12.5,
        within_geofence: None,
    }
}

/// A freshly taken photo of a ticket, not uploaded yet.
pub fn sample_photo() -> Photo {
    Photo {
        sha256: "ab".repeat(32).parse().expect("valid literal"),
        byte_size: 482_133,
        width: 1600,
        height: 1200,
        thumbnail_sha256: "cd".repeat(32).parse().expect("valid literal"),
        caption: "Puddle under the boiler".into(),
        owner: Owner {
            kind: OwnerKind::Ticket,
            id: DocId::new(),
        },
        author_id: UserId::new(),
        taken_at_ms: NOV_22_2026_MS,
        upload_state: UploadState::Pending,
    }
}

/// Staff notes with one note.
pub fn sample_staff_notes() -> StaffNotes {
    StaffNotes {
        ticket_id: DocId::new(),
        department_id: DepartmentId::new(),
        notes: vec![InternalNote {
            id: ItemId::new(),
            author_id: UserId::new(),
            body: "Customer called twice; prioritise.".into(),
            at_ms: NOV_22_2026_MS,
        }],
    }
}

/// A sent invoice of two lines with PPN, and one payment waiting to be
/// checked.
pub fn sample_invoice() -> Invoice {
    use crate::billing::{InvoiceKind, InvoiceStatus, LineKind, PaymentStatus};
    Invoice {
        number: "INV/2026/000001".into(),
        kind: InvoiceKind::Invoice,
        status: InvoiceStatus::PaymentSubmitted,
        customer_id: UserId::new(),
        visit_ids: vec![DocId::new()],
        credits: None,
        currency: "IDR".into(),
        sent_at_ms: NOV_22_2026_MS,
        lines: vec![
            InvoiceLine {
                id: ItemId::new(),
                kind: LineKind::Labour,
                description: "Servis AC 1 PK".into(),
                quantity: "2".parse().unwrap_or_else(|_| unreachable!()),
                unit_price: 150_000,
                amount: 300_000,
            },
            InvoiceLine {
                id: ItemId::new(),
                kind: LineKind::Material,
                description: "Freon R32".into(),
                quantity: "0.5".parse().unwrap_or_else(|_| unreachable!()),
                unit_price: 400_000,
                amount: 200_000,
            },
        ],
        subtotal: 500_000,
        tax_base: 458_333,
        tax: 55_000,
        total: 555_000,
        stamp_duty: false,
        tax_invoice_number: None,
        amount_due: 555_000,
        written_off: 0,
        payments: vec![InvoicePayment {
            id: ItemId::new(),
            amount: 555_000,
            status: PaymentStatus::Submitted,
            reference: "BCA 0612".into(),
            proof_sha256: Some("ab".repeat(32)),
            submitted_at_ms: NOV_22_2026_MS + 60_000,
            by_customer: true,
            reason: None,
        }],
        pdf_sha256: Some("cd".repeat(32)),
    }
}

/// The demo's "Keluhan Layanan" journey: three branches, the one for a
/// broken device asking for up to five photos and ending urgent for a leak.
pub fn sample_journey() -> crate::journey::Definition {
    crate::journey::Definition::from_json(include_str!("journey/keluhan_layanan.json"))
        .unwrap_or_else(|e| unreachable!("the sample journey is valid JSON: {e}"))
}
