//! The write-rule table, exercised role by role, and the checked-apply helpers.
#![allow(clippy::unwrap_used)]

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use fieldops_sync::docs::photo::UploadState;
use fieldops_sync::docs::staff_notes::InternalNote;
use fieldops_sync::docs::ticket::TicketStatus;
use fieldops_sync::docs::visit::VisitStatus;
use fieldops_sync::docs::{CheckIn, Document, DocumentSchema, Photo, Ticket, Visit};
use fieldops_sync::ids::{DepartmentId, DocId, DocKind, ItemId, UserId};
use fieldops_sync::rules::{
    self, Actor, Role, Violation, ViolationReason as R, WriteError, apply_checked, check_change,
    receive_checked,
};
use fieldops_sync::testing::{
    sample_check_in, sample_photo, sample_staff_notes, sample_ticket, sample_visit,
};

/// Applies `edit` to a fork of the document and checks it as `actor`.
fn edit<S: DocumentSchema + Clone>(
    value: &S,
    actor: &Actor,
    edit: impl FnOnce(&mut S),
) -> Result<(), Vec<(String, R)>> {
    let mut before = value.to_document().unwrap();
    let mut after = before.fork();
    let mut changed = value.clone();
    edit(&mut changed);
    changed.reconcile(&mut after).unwrap();
    check_change(S::KIND, &before, &after, actor).map_err(pairs)
}

/// Checks the creation of `value` as `actor`.
fn create<S: DocumentSchema>(value: &S, actor: &Actor) -> Result<(), Vec<(String, R)>> {
    check_change(
        S::KIND,
        &AutoCommit::new(),
        &value.to_document().unwrap(),
        actor,
    )
    .map_err(pairs)
}

fn pairs(violations: Vec<Violation>) -> Vec<(String, R)> {
    violations
        .into_iter()
        .map(|v| (v.field, v.reason))
        .collect()
}

fn refused(field: &str, reason: R) -> Result<(), Vec<(String, R)>> {
    Err(vec![(field.to_owned(), reason)])
}

fn customer_of(ticket: &Ticket) -> Actor {
    Actor::user(Role::Customer, ticket.customer_id)
}

fn assignee_of(visit: &Visit) -> Actor {
    Actor::user(Role::Technician, visit.assignments[0].technician_id)
}

#[test]
fn customers_edit_description_and_photos_of_their_own_open_ticket_only() {
    let ticket = sample_ticket();
    let owner = customer_of(&ticket);
    assert_eq!(
        edit(&ticket, &owner, |t| t
            .description
            .push_str(" It smells of gas.")),
        Ok(())
    );
    assert_eq!(
        edit(&ticket, &owner, |t| t.photo_ids.push(DocId::new())),
        Ok(())
    );

    let stranger = Actor::user(Role::Customer, UserId::new());
    assert_eq!(
        edit(&ticket, &stranger, |t| t.description.clear()),
        refused("description", R::NotOwner)
    );

    let in_progress = Ticket {
        status: TicketStatus::InProgress,
        ..ticket.clone()
    };
    assert_eq!(
        edit(&in_progress, &owner, |t| t.description.clear()),
        refused("description", R::WrongState)
    );
}

#[test]
fn every_violation_is_reported_at_once() {
    let ticket = sample_ticket();
    let mut before = ticket.to_document().unwrap();
    let mut after = before.fork();
    let mut changed = ticket.clone();
    changed.status = TicketStatus::Closed;
    changed.subject = "Free boiler please".into();
    changed.description = "edited".into();
    changed.reconcile(&mut after).unwrap();
    after.put(ROOT, "internal_notes", "smuggled").unwrap();

    let mut found =
        pairs(check_change(DocKind::Ticket, &before, &after, &customer_of(&ticket)).unwrap_err());
    found.sort();
    assert_eq!(
        found,
        [
            ("internal_notes".to_owned(), R::UnknownField),
            ("status".to_owned(), R::ServerOwned),
            ("subject".to_owned(), R::Forbidden),
        ]
    );
}

#[test]
fn technicians_write_notes_and_checklist_of_visits_they_hold() {
    let visit = sample_visit();
    let assignee = assignee_of(&visit);
    assert_eq!(
        edit(&visit, &assignee, |v| v.notes =
            "Arrived, gate code worked".into()),
        Ok(())
    );
    assert_eq!(
        edit(&visit, &assignee, |v| v.checklist[1].done = true),
        Ok(())
    );

    let other = Actor::user(Role::Technician, UserId::new());
    assert_eq!(
        edit(&visit, &other, |v| v.notes = "hi".into()),
        refused("notes", R::NotAssigned)
    );

    let done = Visit {
        status: VisitStatus::Done,
        ..visit.clone()
    };
    assert_eq!(
        edit(&done, &assignee, |v| v.notes = "late".into()),
        refused("notes", R::WrongState)
    );

    assert_eq!(
        edit(&visit, &assignee, |v| v.technician_quota += 1),
        refused("technician_quota", R::ServerOwned)
    );
    assert_eq!(
        edit(&visit, &assignee, |v| v.site.lat += 0.5),
        refused("site", R::Forbidden)
    );
}

#[test]
fn nested_writes_are_attributed_to_their_root_field() {
    let visit = sample_visit();
    let mut before = visit.to_document().unwrap();
    let mut after = before.fork();
    let (_, site) = automerge::ReadDoc::get(&after, ROOT, "site")
        .unwrap()
        .unwrap();
    after.put(&site, "note", "junk").unwrap();
    assert_eq!(
        pairs(check_change(DocKind::Visit, &before, &after, &assignee_of(&visit)).unwrap_err()),
        [("site".to_owned(), R::Forbidden)]
    );
}

#[test]
fn replacing_a_text_object_with_an_identical_copy_is_a_change() {
    use automerge::ObjType;
    let mut visit = sample_visit();
    visit.notes = "Bring the 22 mm valve".into();
    let mut before = visit.to_document().unwrap();
    let mut after = before.fork();
    // Same text, new object: concurrent edits of the original would be lost.
    let notes = after.put_object(ROOT, "notes", ObjType::Text).unwrap();
    after.splice_text(&notes, 0, 0, &visit.notes).unwrap();
    assert_eq!(Visit::hydrate(&after).unwrap(), visit);
    let stranger = Actor::user(Role::Technician, UserId::new());
    assert_eq!(
        pairs(check_change(DocKind::Visit, &before, &after, &stranger).unwrap_err()),
        [("notes".to_owned(), R::NotAssigned)]
    );
}

#[test]
fn technicians_create_their_own_check_ins_and_never_edit_them() {
    let record = sample_check_in();
    let me = Actor::user(Role::Technician, record.technician_id);
    assert_eq!(create(&record, &me), Ok(()));

    let someone_else = Actor::user(Role::Technician, UserId::new());
    let result = create(&record, &someone_else).unwrap_err();
    assert!(
        result.iter().all(|(_, reason)| *reason == R::NotOwner),
        "{result:?}"
    );

    let decided = CheckIn {
        within_geofence: Some(true),
        ..record.clone()
    };
    assert!(
        create(&decided, &me)
            .unwrap_err()
            .iter()
            .all(|(_, reason)| *reason == R::ServerOwned)
    );

    assert_eq!(
        edit(&record, &me, |r| r.lat += 0.001),
        refused("lat", R::Immutable)
    );
    assert_eq!(
        edit(&record, &Actor::server(), |r| r.within_geofence =
            Some(false)),
        Ok(())
    );
}

#[test]
fn photos_are_created_pending_and_captioned_by_their_author() {
    let photo = sample_photo();
    let author = Actor::user(Role::Customer, photo.author_id);
    assert_eq!(create(&photo, &author), Ok(()));
    assert_eq!(
        edit(&photo, &author, |p| p.caption.insert_str(0, "Kitchen: ")),
        Ok(())
    );
    // Authors mark their photo uploaded (the server checks it holds the
    // bytes); nobody but the server rejects it or moves it back.
    assert_eq!(
        edit(&photo, &author, |p| p.upload_state = UploadState::Stored),
        Ok(())
    );
    assert_eq!(
        edit(&photo, &author, |p| p.upload_state = UploadState::Rejected),
        refused("upload_state", R::ServerOwned)
    );
    let stored = Photo {
        upload_state: UploadState::Stored,
        ..photo.clone()
    };
    assert_eq!(
        edit(&stored, &author, |p| p.upload_state = UploadState::Pending),
        refused("upload_state", R::ServerOwned)
    );
    assert_eq!(
        edit(&photo, &Actor::user(Role::Technician, UserId::new()), |p| {
            p.upload_state = UploadState::Stored
        }),
        refused("upload_state", R::NotOwner)
    );
    let stranger = Actor::user(Role::Technician, UserId::new());
    assert_eq!(
        edit(&photo, &stranger, |p| p.caption.clear()),
        refused("caption", R::NotOwner)
    );
    // Created already uploaded (bytes sent before the document): allowed.
    assert_eq!(create(&stored, &author), Ok(()));
    let rejected = Photo {
        upload_state: UploadState::Rejected,
        ..photo
    };
    assert_eq!(create(&rejected, &author).unwrap_err()[0].1, R::ServerOwned);
}

#[test]
fn staff_notes_are_append_only_and_department_bound() {
    let notes = sample_staff_notes();
    let agent = UserId::new();
    let cs = Actor::staff(Role::Cs, agent, vec![notes.department_id]);
    let note = InternalNote {
        id: ItemId::new(),
        author_id: agent,
        body: "Called back".into(),
        at_ms: 1,
    };

    assert_eq!(edit(&notes, &cs, |n| n.notes.push(note.clone())), Ok(()));
    assert_eq!(
        edit(&notes, &cs, |n| n.notes[0].body = "rewritten".into()),
        refused("notes", R::AppendOnly)
    );
    assert_eq!(
        edit(&notes, &cs, |n| n.notes.clear()),
        refused("notes", R::AppendOnly)
    );
    let forged = InternalNote {
        author_id: UserId::new(),
        ..note.clone()
    };
    assert_eq!(
        edit(&notes, &cs, |n| n.notes.push(forged)),
        refused("notes", R::AppendOnly)
    );

    let elsewhere = Actor::staff(Role::Cs, agent, vec![DepartmentId::new()]);
    assert_eq!(
        edit(&notes, &elsewhere, |n| n.notes.push(note.clone())),
        refused("notes", R::NotInDepartment)
    );
    let admin = Actor::staff(Role::Admin, agent, vec![]);
    assert_eq!(edit(&notes, &admin, |n| n.notes.push(note.clone())), Ok(()));
    let customer = Actor::user(Role::Customer, agent);
    assert_eq!(
        edit(&notes, &customer, |n| n.notes.push(note)),
        refused("notes", R::Forbidden)
    );
}

#[test]
fn staff_edit_tickets_of_their_departments_admins_everywhere() {
    let ticket = sample_ticket();
    let cs = Actor::staff(Role::Cs, UserId::new(), vec![ticket.department_id]);
    let assignee = cs.user_id;
    assert_eq!(edit(&ticket, &cs, |t| t.assignee_id = assignee), Ok(()));
    let outsider = Actor::staff(Role::Cs, UserId::new(), vec![DepartmentId::new()]);
    assert_eq!(
        edit(&ticket, &outsider, |t| t.subject.push('!')),
        refused("subject", R::NotInDepartment)
    );
    let admin = Actor::staff(Role::Admin, UserId::new(), vec![]);
    assert_eq!(edit(&ticket, &admin, |t| t.subject.push('!')), Ok(()));
    assert_eq!(
        edit(&ticket, &admin, |t| t.status = TicketStatus::Closed),
        refused("status", R::ServerOwned)
    );
    let sales = Actor::staff(Role::Sales, UserId::new(), vec![ticket.department_id]);
    assert_eq!(
        edit(&ticket, &sales, |t| t.subject.push('!')),
        refused("subject", R::Forbidden)
    );
}

#[test]
fn documents_cannot_change_kind_or_break_their_schema() {
    let ticket = sample_ticket();
    let owner = customer_of(&ticket);
    let mut before = ticket.to_document().unwrap();
    let mut after = before.fork();
    after.put(ROOT, "description", 42).unwrap();
    assert_eq!(
        pairs(check_change(DocKind::Ticket, &before, &after, &owner).unwrap_err()),
        [("description".to_owned(), R::Malformed)]
    );
    let mut as_visit = before.fork();
    as_visit.put(ROOT, "subject", "x").unwrap();
    assert_eq!(
        pairs(check_change(DocKind::Visit, &before, &as_visit, &Actor::server()).unwrap_err()),
        [("kind".to_owned(), R::KindMismatch)]
    );
}

#[test]
fn apply_checked_stores_nothing_from_a_refused_batch() {
    let visit = sample_visit();
    let assignee = assignee_of(&visit);
    let mut server = visit.to_document().unwrap();
    let mut device = server.fork();
    let synced = device.get_heads();

    let mut local = visit.clone();
    local.notes = "Replaced the valve".into();
    local.status = VisitStatus::Done;
    local.reconcile(&mut device).unwrap();
    assert!(matches!(
        rules::check_since(&mut device, DocKind::Visit, &synced, &assignee),
        Err(WriteError::Violations(v)) if v.len() == 1 && v[0].field == "status"
    ));

    let heads = server.get_heads();
    let changes = device.save_after(&synced);
    let error = apply_checked(&mut server, DocKind::Visit, &changes, &assignee).unwrap_err();
    assert!(matches!(error, WriteError::Violations(_)));
    assert_eq!(
        server.get_heads(),
        heads,
        "nothing of the refused batch is stored"
    );
    assert_eq!(Visit::hydrate(&server).unwrap(), visit);

    // Bytes that hold no change apply nothing, like Automerge's `load_incremental`.
    let garbage = apply_checked(&mut server, DocKind::Visit, b"not automerge", &assignee);
    assert!(matches!(garbage, Ok(()) | Err(WriteError::Apply(_))));
    assert_eq!(server.get_heads(), heads);
}

#[test]
fn receive_checked_accepts_allowed_sync_and_keeps_state_on_refusal() {
    let visit = sample_visit();
    let assignee = assignee_of(&visit);
    let mut server = visit.to_document().unwrap();
    let mut device = server.fork();
    let mut local = visit.clone();
    local.notes = "On my way".into();
    local.reconcile(&mut device).unwrap();

    let (mut device_state, mut server_state) = (sync::State::new(), sync::State::new());
    for _ in 0..4 {
        if let Some(message) = device.sync().generate_sync_message(&mut device_state) {
            receive_checked(
                &mut server,
                &mut server_state,
                DocKind::Visit,
                message,
                &assignee,
            )
            .unwrap();
        }
        if let Some(message) = server.sync().generate_sync_message(&mut server_state) {
            device
                .sync()
                .receive_sync_message(&mut device_state, message)
                .unwrap();
        }
    }
    assert_eq!(Visit::hydrate(&server).unwrap().notes, "On my way");

    local.emergency = true;
    local.reconcile(&mut device).unwrap();
    let message = device
        .sync()
        .generate_sync_message(&mut device_state)
        .unwrap();
    let heads = server.get_heads();
    let error = receive_checked(
        &mut server,
        &mut server_state,
        DocKind::Visit,
        message,
        &assignee,
    )
    .unwrap_err();
    assert!(
        matches!(error, WriteError::Violations(v) if v == [Violation {
            field: "emergency".into(),
            reason: R::ServerOwned,
        }])
    );
    assert_eq!(server.get_heads(), heads);
}

#[test]
fn unchanged_documents_pass_for_anyone() {
    let ticket = sample_ticket();
    let doc = ticket.to_document().unwrap();
    let stranger = Actor::user(Role::Customer, UserId::new());
    assert_eq!(check_change(DocKind::Ticket, &doc, &doc, &stranger), Ok(()));
    let document = Document::hydrate(DocKind::Ticket, &doc).unwrap();
    assert_eq!(document, Document::Ticket(ticket));
}
