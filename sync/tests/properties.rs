//! Property tests: allowed edits pass, server-owned edits never do, and
//! replicas converge whatever the order, loss or duplication of messages.
#![allow(clippy::unwrap_used)]

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use fieldops_sync::docs::photo::UploadState;
use fieldops_sync::docs::ticket::{TicketNumber, TicketStatus};
use fieldops_sync::docs::visit::{Assignment, AssignmentState, ChecklistItem, VisitStatus};
use fieldops_sync::docs::{DocumentSchema, SCHEMA_VERSION_KEY, Ticket, Visit};
use fieldops_sync::ids::{AssignmentId, DocId, DocKind, ItemId, UserId};
use fieldops_sync::protocol::{ClientMessage, DocSync, ServerMessage, SyncBatch};
use fieldops_sync::rules::{Actor, Role, ViolationReason, check_change, receive_checked};
use fieldops_sync::testing::{sample_check_in, sample_photo, sample_ticket, sample_visit};
use proptest::prelude::*;

/// An edit a technician may make to a visit they hold.
#[derive(Debug, Clone)]
enum VisitEdit {
    Splice {
        at: usize,
        delete: usize,
        insert: String,
    },
    Toggle(usize),
    AddItem(String),
    RemoveItem(usize),
}

fn visit_edit() -> impl Strategy<Value = VisitEdit> {
    prop_oneof![
        4 => (any::<usize>(), 0..6usize, "[a-zé ñ]{0,8}")
            .prop_map(|(at, delete, insert)| VisitEdit::Splice { at, delete, insert }),
        2 => any::<usize>().prop_map(VisitEdit::Toggle),
        1 => "[a-z]{1,12}".prop_map(VisitEdit::AddItem),
        1 => any::<usize>().prop_map(VisitEdit::RemoveItem),
    ]
}

fn splice(text: &str, at: usize, delete: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + delete).min(chars.len());
    chars[..at]
        .iter()
        .chain(insert.chars().collect::<Vec<_>>().iter())
        .chain(&chars[end..])
        .collect()
}

fn apply(visit: &mut Visit, edit: &VisitEdit) {
    match edit {
        VisitEdit::Splice { at, delete, insert } => {
            visit.notes = splice(&visit.notes, *at, *delete, insert)
        }
        VisitEdit::Toggle(i) if !visit.checklist.is_empty() => {
            let len = visit.checklist.len();
            visit.checklist[i % len].done ^= true;
        }
        VisitEdit::AddItem(label) => {
            visit.checklist.push(ChecklistItem {
                id: ItemId::new(),
                label: label.clone(),
                done: false,
            });
        }
        VisitEdit::RemoveItem(i) if !visit.checklist.is_empty() => {
            let len = visit.checklist.len();
            visit.checklist.remove(i % len);
        }
        VisitEdit::Toggle(_) | VisitEdit::RemoveItem(_) => {}
    }
}

/// Applies `edits` on the replica `doc`, one reconcile (one change) each.
fn edit_replica(doc: &mut AutoCommit, edits: &[VisitEdit]) {
    for edit in edits {
        let mut visit = Visit::hydrate(doc).unwrap();
        apply(&mut visit, edit);
        visit.reconcile(doc).unwrap();
        doc.commit();
    }
}

/// An edit that only the server may make.
#[derive(Debug, Clone)]
enum ServerEdit {
    TicketStatus(TicketStatus),
    TicketNumber(u32),
    TicketCustomer,
    VisitStatus(VisitStatus),
    VisitQuota(u32),
    VisitEmergency,
    AssignmentState(AssignmentState),
    AddAssignment,
    Geofence(bool),
    UploadState(UploadState),
    /// Roll the ticket back to schema version 1.
    SchemaVersion,
    /// Any invoice field: the amount due, a payment's status, a line's price.
    InvoiceDue(i64),
    InvoicePaymentVerified,
    InvoiceLinePrice(i64),
}

fn server_edit() -> impl Strategy<Value = ServerEdit> {
    prop_oneof![
        proptest::sample::select(TicketStatus::ALL).prop_map(ServerEdit::TicketStatus),
        any::<u32>().prop_map(ServerEdit::TicketNumber),
        Just(ServerEdit::TicketCustomer),
        proptest::sample::select(VisitStatus::ALL).prop_map(ServerEdit::VisitStatus),
        (0..50u32).prop_map(ServerEdit::VisitQuota),
        Just(ServerEdit::VisitEmergency),
        proptest::sample::select(AssignmentState::ALL).prop_map(ServerEdit::AssignmentState),
        Just(ServerEdit::AddAssignment),
        any::<bool>().prop_map(ServerEdit::Geofence),
        // The author may mark a photo `stored` (the server then checks the
        // bytes, see tests/rules.rs); rejecting it is the server's alone.
        Just(ServerEdit::UploadState(UploadState::Rejected)),
        Just(ServerEdit::SchemaVersion),
        (0..1_000_000i64).prop_map(ServerEdit::InvoiceDue),
        Just(ServerEdit::InvoicePaymentVerified),
        (0..1_000_000i64).prop_map(ServerEdit::InvoiceLinePrice),
    ]
}

/// Documents that all belong to `user`, so that only the server-owned
/// nature of a field can be the reason for a refusal.
struct Owned {
    ticket: Ticket,
    visit: Visit,
    docs: Vec<(DocKind, AutoCommit)>,
}

fn owned_by(user: UserId) -> Owned {
    let ticket = Ticket {
        customer_id: user,
        ..sample_ticket()
    };
    let mut visit = sample_visit();
    visit.assignments[0].technician_id = user;
    let check_in = fieldops_sync::docs::CheckIn {
        technician_id: user,
        ..sample_check_in()
    };
    let photo = fieldops_sync::docs::Photo {
        author_id: user,
        ..sample_photo()
    };
    let notes = fieldops_sync::testing::sample_staff_notes();
    let docs = vec![
        (DocKind::Ticket, ticket.to_document().unwrap()),
        (DocKind::Visit, visit.to_document().unwrap()),
        (DocKind::CheckIn, check_in.to_document().unwrap()),
        (DocKind::Photo, photo.to_document().unwrap()),
        (DocKind::StaffNotes, notes.to_document().unwrap()),
        (
            DocKind::Invoice,
            fieldops_sync::testing::sample_invoice()
                .to_document()
                .unwrap(),
        ),
    ];
    Owned {
        ticket,
        visit,
        docs,
    }
}

/// Makes `edit` on a fork of the right document; returns (kind, before,
/// after, field) or `None` when the edit changes nothing.
fn make(
    owned: &mut Owned,
    edit: &ServerEdit,
) -> Option<(DocKind, AutoCommit, AutoCommit, &'static str)> {
    let kind = match edit {
        ServerEdit::TicketStatus(_)
        | ServerEdit::TicketNumber(_)
        | ServerEdit::TicketCustomer
        | ServerEdit::SchemaVersion => DocKind::Ticket,
        ServerEdit::Geofence(_) => DocKind::CheckIn,
        ServerEdit::UploadState(_) => DocKind::Photo,
        ServerEdit::InvoiceDue(_)
        | ServerEdit::InvoicePaymentVerified
        | ServerEdit::InvoiceLinePrice(_) => DocKind::Invoice,
        _ => DocKind::Visit,
    };
    let before = &mut owned.docs.iter_mut().find(|(k, _)| *k == kind)?.1;
    let mut after = before.fork();
    let mut ticket = owned.ticket.clone();
    let mut visit = owned.visit.clone();
    let mut invoice = fieldops_sync::docs::Invoice::hydrate(&after).ok();
    let field = match edit {
        ServerEdit::TicketStatus(status) => {
            ticket.status = *status;
            "status"
        }
        ServerEdit::TicketNumber(n) => {
            ticket.number = TicketNumber::from_sequence(u64::from(*n));
            "number"
        }
        ServerEdit::TicketCustomer => {
            ticket.customer_id = UserId::new();
            "customer_id"
        }
        ServerEdit::VisitStatus(status) => {
            visit.status = *status;
            "status"
        }
        ServerEdit::VisitQuota(quota) => {
            visit.technician_quota = *quota;
            "technician_quota"
        }
        ServerEdit::VisitEmergency => {
            visit.emergency ^= true;
            "emergency"
        }
        ServerEdit::AssignmentState(state) => {
            visit.assignments[0].state = *state;
            "assignments"
        }
        ServerEdit::AddAssignment => {
            let technician_id = UserId::new();
            let assignment_id = AssignmentId::new();
            visit.assignments.push(Assignment {
                assignment_id,
                technician_id,
                state: AssignmentState::Active,
            });
            "assignments"
        }
        ServerEdit::Geofence(inside) => {
            after.put(ROOT, "within_geofence", *inside).unwrap();
            "within_geofence"
        }
        ServerEdit::UploadState(state) => {
            after.put(ROOT, "upload_state", state.as_str()).unwrap();
            "upload_state"
        }
        ServerEdit::SchemaVersion => {
            after.put(ROOT, SCHEMA_VERSION_KEY, 1).unwrap();
            "schema_version"
        }
        ServerEdit::InvoiceDue(due) => {
            invoice.as_mut()?.amount_due = *due;
            "amount_due"
        }
        ServerEdit::InvoicePaymentVerified => {
            invoice.as_mut()?.payments[0].status = fieldops_sync::billing::PaymentStatus::Verified;
            "payments"
        }
        ServerEdit::InvoiceLinePrice(price) => {
            invoice.as_mut()?.lines[0].unit_price = *price;
            "lines"
        }
    };
    if let (DocKind::Invoice, Some(invoice)) = (kind, &invoice) {
        invoice.reconcile(&mut after).unwrap();
    }
    match kind {
        DocKind::Ticket if !matches!(edit, ServerEdit::SchemaVersion) => {
            ticket.reconcile(&mut after).unwrap()
        }
        DocKind::Visit => visit.reconcile(&mut after).unwrap(),
        _ => {}
    }
    if after.get_heads() == before.get_heads() {
        return None;
    }
    Some((kind, before.clone(), after, field))
}

fn any_role() -> impl Strategy<Value = Role> {
    proptest::sample::select(vec![
        Role::Admin,
        Role::Cs,
        Role::Sales,
        Role::Technician,
        Role::Customer,
    ])
}

/// Fields no role but the server may ever write, whatever the state.
const ONLY_SERVER: &[&str] = &[
    "status",
    "number",
    "customer_id",
    "technician_quota",
    "emergency",
    "assignments",
    "schema_version",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn assignees_may_make_any_notes_and_checklist_edit(edits in prop::collection::vec(visit_edit(), 1..12)) {
        let visit = sample_visit();
        let assignee = Actor::user(Role::Technician, visit.assignments[0].technician_id);
        let mut before = visit.to_document().unwrap();
        let mut after = before.fork();
        edit_replica(&mut after, &edits);
        prop_assert_eq!(check_change(DocKind::Visit, &before, &after, &assignee), Ok(()));
    }

    #[test]
    fn customers_may_rewrite_their_open_ticket_description(at in any::<usize>(), delete in 0..40usize, insert in "\\PC{0,30}") {
        let ticket = sample_ticket();
        let owner = Actor::user(Role::Customer, ticket.customer_id);
        let mut before = ticket.to_document().unwrap();
        let mut after = before.fork();
        let edited = Ticket { description: splice(&ticket.description, at, delete, &insert), ..ticket };
        edited.reconcile(&mut after).unwrap();
        prop_assert_eq!(check_change(DocKind::Ticket, &before, &after, &owner), Ok(()));
    }

    #[test]
    fn server_owned_edits_are_refused_to_everyone_but_the_server(edit in server_edit(), role in any_role()) {
        let user = UserId::new();
        let mut owned = owned_by(user);
        let actor = Actor::staff(role, user, vec![owned.ticket.department_id, owned.visit.department_id.unwrap()]);
        let Some((kind, before, after, field)) = make(&mut owned, &edit) else {
            return Err(TestCaseError::reject("edit changes nothing"));
        };
        let violations = check_change(kind, &before, &after, &actor).unwrap_err();
        let hit = violations.iter().find(|v| v.field == field);
        prop_assert!(hit.is_some(), "{field} not refused: {violations:?}");
        if ONLY_SERVER.contains(&field) {
            prop_assert_eq!(hit.map(|v| v.reason), Some(ViolationReason::ServerOwned));
        }
        prop_assert_eq!(check_change(kind, &before, &after, &Actor::server()), Ok(()));
    }

    #[test]
    fn concurrent_edits_converge_in_any_merge_order(
        a in prop::collection::vec(visit_edit(), 0..8),
        b in prop::collection::vec(visit_edit(), 0..8),
        c in prop::collection::vec(visit_edit(), 0..8),
    ) {
        let mut origin = sample_visit().to_document().unwrap();
        let mut replicas = [origin.fork(), origin.fork(), origin.fork()];
        for (replica, edits) in replicas.iter_mut().zip([&a, &b, &c]) {
            edit_replica(replica, edits);
        }
        let [mut r0, mut r1, mut r2] = replicas;
        // r0 ← r1 ← r2 on one side, r2 ← r0 ← r1 on the other.
        let (mut x0, mut x1, mut x2) = (r0.clone(), r1.clone(), r2.clone());
        r0.merge(&mut r1).unwrap();
        r0.merge(&mut r2).unwrap();
        x2.merge(&mut x0).unwrap();
        x2.merge(&mut x1).unwrap();
        prop_assert_eq!(r0.get_heads().len(), x2.get_heads().len());
        let mut heads_a = r0.get_heads();
        let mut heads_b = x2.get_heads();
        heads_a.sort();
        heads_b.sort();
        prop_assert_eq!(heads_a, heads_b);
        prop_assert_eq!(Visit::hydrate(&r0).unwrap(), Visit::hydrate(&x2).unwrap());
    }

    #[test]
    fn sync_converges_despite_lost_and_duplicated_messages(
        rounds in prop::collection::vec(
            (prop::collection::vec(visit_edit(), 0..4), prop::collection::vec(visit_edit(), 0..3),
             prop::collection::vec(0..3u8, 8)),
            1..5,
        ),
    ) {
        let visit = sample_visit();
        let assignee = Actor::user(Role::Technician, visit.assignments[0].technician_id);
        let doc_id = DocId::new();
        let mut server = visit.to_document().unwrap();
        let mut device = AutoCommit::load(&server.save()).unwrap();

        // Each round: both sides edit offline, then a session (fresh sync
        // states, as after a reconnect) in which every message may be
        // delivered (0), lost (1) or delivered twice (2).
        for (device_edits, server_edits, fates) in &rounds {
            edit_replica(&mut device, device_edits);
            edit_replica(&mut server, server_edits);
            session(&mut device, &mut server, doc_id, &assignee, fates);
        }
        // A final session over a reliable network.
        session(&mut device, &mut server, doc_id, &assignee, &[]);
        prop_assert_eq!(server.get_heads(), device.get_heads());
        prop_assert_eq!(Visit::hydrate(&server).unwrap(), Visit::hydrate(&device).unwrap());
    }
}

/// One sync session through encoded protocol frames; `fates` decide what
/// the network does with each message (missing entries: delivered once).
fn session(
    device: &mut AutoCommit,
    server: &mut AutoCommit,
    doc_id: DocId,
    actor: &Actor,
    fates: &[u8],
) {
    let (mut device_state, mut server_state) = (sync::State::new(), sync::State::new());
    let mut fates = fates.iter().copied();
    for _ in 0..32 {
        let up = device.sync().generate_sync_message(&mut device_state);
        if let Some(message) = up.clone() {
            let frame = ClientMessage::SyncBatch(SyncBatch {
                docs: vec![DocSync::new(doc_id, DocKind::Visit, message)],
            })
            .encode()
            .unwrap();
            let copies = match fates.next().unwrap_or(0) {
                1 => 0,
                2 => 2,
                _ => 1,
            };
            for _ in 0..copies {
                let ClientMessage::SyncBatch(batch) = ClientMessage::decode(&frame).unwrap() else {
                    unreachable!()
                };
                let message = batch.docs[0].sync_message().unwrap();
                receive_checked(server, &mut server_state, DocKind::Visit, message, actor).unwrap();
            }
        }
        let down = server.sync().generate_sync_message(&mut server_state);
        if let Some(message) = down.clone() {
            let frame = ServerMessage::SyncBatch(SyncBatch {
                docs: vec![DocSync::new(doc_id, DocKind::Visit, message)],
            })
            .encode()
            .unwrap();
            let copies = match fates.next().unwrap_or(0) {
                1 => 0,
                2 => 2,
                _ => 1,
            };
            for _ in 0..copies {
                let ServerMessage::SyncBatch(batch) = ServerMessage::decode(&frame).unwrap() else {
                    unreachable!()
                };
                device
                    .sync()
                    .receive_sync_message(&mut device_state, batch.docs[0].sync_message().unwrap())
                    .unwrap();
            }
        }
        if up.is_none() && down.is_none() {
            return;
        }
    }
}
