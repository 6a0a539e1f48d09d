//! The offline-first API without a server: local edits, rule pre-checks,
//! the outbox's states, lists from the index, geo, and bad input.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use fieldops_core::sync::commands::{CommandResult, RejectReason};
use fieldops_core::sync::docs::Document;
use fieldops_core::sync::docs::DocumentSchema;
use fieldops_core::sync::docs::visit::VisitStatus;
use fieldops_core::sync::ids::{DocId, DocKind, UserId};
use fieldops_core::sync::listing::Listing;
use fieldops_core::sync::protocol::{Cursor, ListedSnapshot, Snapshot};
use fieldops_core::sync::rules::Role;
use fieldops_core::sync::testing::{sample_ticket, sample_visit};
use fieldops_core::{
    Account, CommandState, CoreError, CoreEvent, CoreListener, FieldopsCore, Position,
};

fn account(user_id: UserId, role: Role) -> Account {
    Account {
        base_url: "http://127.0.0.1:9".into(),
        user_id,
        role,
        name: "Tech".into(),
        email: "tech1@example.com".into(),
        department_ids: vec![],
    }
}

fn snapshot(doc_id: DocId, kind: DocKind, bytes: Vec<u8>) -> Snapshot {
    Snapshot {
        doc_id,
        kind,
        seq: Cursor(1),
        bytes,
    }
}

/// A core with one visit assigned to `me` and one open pool visit.
fn setup(dir: &tempfile::TempDir) -> (FieldopsCore, UserId, DocId, DocId) {
    let core = FieldopsCore::open(dir.path().join("store.db")).unwrap();
    let mine = sample_visit();
    let me = mine.assignments[0].technician_id;
    let mut pool = sample_visit();
    pool.status = VisitStatus::Open;
    pool.assignments.clear();
    pool.customer_private = None;
    pool.site.lat = 40.5;
    let (mine_id, pool_id) = (DocId::new(), DocId::new());
    core.documents()
        .import_snapshots(&[
            snapshot(mine_id, DocKind::Visit, mine.to_document().unwrap().save()),
            snapshot(pool_id, DocKind::Visit, pool.to_document().unwrap().save()),
        ])
        .unwrap();
    core.auth()
        .sign_in_offline(account(me, Role::Technician))
        .unwrap();
    (core, me, mine_id, pool_id)
}

#[derive(Default)]
struct Recorder(Mutex<Vec<CoreEvent>>);

impl CoreListener for Recorder {
    fn on_event(&self, event: CoreEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[test]
fn edits_are_visible_at_once_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _, mine, _) = setup(&dir);
    let events = Arc::new(Recorder::default());
    core.add_listener(events.clone());

    core.visits().set_notes(mine, "Valve replaced.").unwrap();
    let item = core
        .visits()
        .add_checklist_item(mine, "Photo of meter")
        .unwrap();
    core.visits().set_checklist_item(mine, item, true).unwrap();
    assert_eq!(core.visits().get(mine).unwrap().notes, "Valve replaced.");
    assert!(
        events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, CoreEvent::DocumentChanged { doc_id, .. } if *doc_id == mine))
    );
    assert_eq!(core.sync().status().unsynced_documents, 1);
    drop(core);

    let core = FieldopsCore::open(dir.path().join("store.db")).unwrap();
    let visit = core.visits().get(mine).unwrap();
    assert_eq!(visit.notes, "Valve replaced.");
    assert!(visit.checklist.iter().any(|i| i.id == item && i.done));
    assert!(core.auth().account().is_some(), "the session is kept");
}

#[test]
fn edits_breaking_the_rules_are_refused_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _, _, pool) = setup(&dir);
    // Not assigned to the pool visit: its notes are not mine to write.
    let err = core.visits().set_notes(pool, "hello").unwrap_err();
    let CoreError::Forbidden(violations) = err else {
        panic!("expected a rule violation, got {err:?}");
    };
    assert_eq!(violations[0].field, "notes");
    assert_eq!(core.visits().get(pool).unwrap().notes, "");
    // Server-owned fields through the generic edit are refused too.
    let err = core
        .documents()
        .edit::<fieldops_core::sync::docs::Visit>(pool, |v| {
            v.status = VisitStatus::Done;
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, CoreError::Forbidden(_)));
    assert_eq!(core.sync().status().unsynced_documents, 0);
}

#[test]
fn lists_come_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _, mine, pool) = setup(&dir);
    let visits = core.visits().mine(None).unwrap();
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].doc_id, mine);
    assert_eq!(core.visits().mine(Some("2026-11-24")).unwrap().len(), 1);
    assert_eq!(core.visits().mine(Some("2026-11-25")).unwrap().len(), 0);
    let near_pool = Position::new(40.5, -3.7038).unwrap();
    let listed = core.visits().pool(Some(near_pool)).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].doc_id, pool);
    assert!(listed[0].distance_m.unwrap() < 1.0);
    let far = core.visits().distance_to(mine, near_pool).unwrap();
    assert!((9_000.0..9_500.0).contains(&far), "{far}");
    assert!(core.tickets().list(None).unwrap().is_empty());
}

#[test]
fn commands_are_pending_until_answered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _, mine, pool) = setup(&dir);
    let claim = core.visits().claim(pool).unwrap();
    assert_eq!(claim.state, CommandState::Pending);
    let site = core.visits().get(mine).unwrap().site;
    let receipt = core
        .visits()
        .check_in(mine, Position::new(site.lat, site.lon).unwrap(), 10.0)
        .unwrap();
    assert!(receipt.geofence.within);
    assert!(receipt.command.device_seq > claim.device_seq);
    let far = core
        .visits()
        .check_out(
            mine,
            Position::new(site.lat + 0.01, site.lon).unwrap(),
            10.0,
        )
        .unwrap();
    assert!(!far.geofence.within, "the device warns, the server decides");
    assert_eq!(core.sync().status().pending_commands, 3);

    let rejected = CommandResult::rejected(claim.command_id, RejectReason::QuotaFull, "full");
    let entry = core.outbox().record_result(&rejected).unwrap().unwrap();
    assert_eq!(entry.state, CommandState::Rejected);
    assert_eq!(entry.reason.as_deref(), Some("quota_full"));
    // A replayed or contradictory late answer changes nothing.
    let late = CommandResult::accepted(claim.command_id, vec![]);
    assert!(core.outbox().record_result(&late).unwrap().is_none());
    assert_eq!(
        core.outbox().get(claim.command_id).unwrap().state,
        CommandState::Rejected
    );
    assert_eq!(core.outbox().list(true).unwrap().len(), 2);
}

#[test]
fn bad_input_gets_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let core = FieldopsCore::open(dir.path().join("store.db")).unwrap();
    // Before login.
    assert!(matches!(
        core.visits().claim(DocId::new()),
        Err(CoreError::NotLoggedIn)
    ));
    assert!(matches!(core.sync().start(), Err(CoreError::NotLoggedIn)));
    let (core, _, mine, _) = {
        drop(core);
        setup(&tempfile::tempdir_in(dir.path()).unwrap())
    };
    assert!(matches!(
        core.visits().claim(DocId::new()),
        Err(CoreError::NotFound { .. })
    ));
    assert!(matches!(
        core.tickets().get(mine),
        Err(CoreError::NotFound { .. })
    ));
    assert!(Position::new(95.0, 0.0).is_err());
    assert!(matches!(
        core.visits()
            .check_in(mine, Position::new(0.0, 0.0).unwrap(), f64::NAN),
        Err(CoreError::InvalidInput {
            field: "accuracy_m",
            ..
        })
    ));
    assert!(matches!(
        core.visits().request_extension(mine, 0, "parts"),
        Err(CoreError::InvalidInput {
            field: "extra_days",
            ..
        })
    ));
    assert!(matches!(
        core.visits().submit_rating(mine, "tok", 9, None),
        Err(CoreError::InvalidInput { field: "score", .. })
    ));
    assert!(matches!(
        core.visits().mine(Some("tomorrow")),
        Err(CoreError::InvalidInput { field: "date", .. })
    ));
    assert!(matches!(
        core.visits()
            .set_notes(mine, &"x".repeat(fieldops_core::MAX_NOTES_CHARS + 1)),
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(
        core.outbox().list(false).unwrap().is_empty(),
        "nothing was queued"
    );
}

#[test]
fn a_ticket_description_edit_follows_the_customer_rules() {
    let dir = tempfile::tempdir().unwrap();
    let core = FieldopsCore::open(dir.path().join("store.db")).unwrap();
    let ticket = sample_ticket();
    let id = DocId::new();
    core.documents()
        .import_snapshots(&[snapshot(
            id,
            DocKind::Ticket,
            ticket.to_document().unwrap().save(),
        )])
        .unwrap();
    core.auth()
        .sign_in_offline(account(ticket.customer_id, Role::Customer))
        .unwrap();
    core.tickets()
        .set_description(id, "Leaking worse now.")
        .unwrap();
    assert_eq!(
        core.tickets().get(id).unwrap().description,
        "Leaking worse now."
    );
    assert_eq!(core.tickets().list(None).unwrap().len(), 1);
    core.tickets().close(id).unwrap();
    let other = FieldopsCore::open(dir.path().join("other.db")).unwrap();
    other
        .documents()
        .import_snapshots(&[snapshot(
            id,
            DocKind::Ticket,
            ticket.to_document().unwrap().save(),
        )])
        .unwrap();
    other
        .auth()
        .sign_in_offline(account(UserId::new(), Role::Customer))
        .unwrap();
    assert!(matches!(
        other.tickets().set_description(id, "not mine"),
        Err(CoreError::Forbidden(_))
    ));
}

/// A catch-up from a server of protocol 6 brings each document's list
/// fields: the lists answer from them without reading a document, and a
/// document is read (and its row re-derived) once it is edited.
#[test]
fn documents_that_come_with_their_listing_are_listed_from_it_until_edited() {
    let dir = tempfile::tempdir().unwrap();
    let core = FieldopsCore::open(dir.path().join("store.db")).unwrap();
    let me = UserId::new();
    core.auth()
        .sign_in_offline(account(me, Role::Technician))
        .unwrap();
    let mut held = sample_visit();
    held.assignments[0].technician_id = me;
    let ticket = sample_ticket();
    let mut open = sample_visit();
    open.status = VisitStatus::Open;
    open.assignments.clear();
    open.title = "Read, not listed".into();
    let (held_id, ticket_id, unlisted_id) = (DocId::new(), DocId::new(), DocId::new());
    let listed = |doc_id, kind, bytes, listing| ListedSnapshot {
        snapshot: snapshot(doc_id, kind, bytes),
        listing,
    };
    // The listings' titles say what their documents do not: if a list
    // shows them, it was written from the listing, unread.
    let mut ticket_listing = Listing::of(&Document::Ticket(ticket.clone()));
    ticket_listing.title = "As the server listed it".into();
    let mut held_listing = Listing::of(&Document::Visit(held.clone()));
    held_listing.title = "Listed, not read".into();
    core.documents()
        .import_listed(&[
            listed(
                held_id,
                DocKind::Visit,
                held.to_document().unwrap().save(),
                Some(held_listing),
            ),
            listed(
                ticket_id,
                DocKind::Ticket,
                ticket.to_document().unwrap().save(),
                Some(ticket_listing),
            ),
            // From a document stored before the server kept listings.
            listed(
                unlisted_id,
                DocKind::Visit,
                open.to_document().unwrap().save(),
                None,
            ),
        ])
        .unwrap();

    let mine = core.visits().mine(None).unwrap();
    assert_eq!(
        mine.iter().map(|i| i.doc_id).collect::<Vec<_>>(),
        [held_id],
        "assigned to me, from the listing's people"
    );
    assert_eq!(mine[0].title, "Listed, not read");
    assert_eq!(
        mine[0].position,
        Some(Position::new(held.site.lat, held.site.lon).unwrap())
    );
    let tickets = core.tickets().list(None).unwrap();
    assert_eq!(tickets[0].title, "As the server listed it");
    let pool = core.visits().pool(None).unwrap();
    assert_eq!(
        pool.iter()
            .map(|i| (i.doc_id, i.title.as_str()))
            .collect::<Vec<_>>(),
        [(unlisted_id, "Read, not listed")],
        "a document without a listing is read and indexed when listed"
    );
    assert_eq!(core.documents().count().unwrap(), 3);

    // Someone else signs in on this device, then the technician again:
    // "mine" follows the user, from the rows, without reading a document.
    core.auth()
        .sign_in_offline(account(UserId::new(), Role::Technician))
        .unwrap();
    assert!(core.visits().mine(None).unwrap().is_empty());
    core.auth()
        .sign_in_offline(account(me, Role::Technician))
        .unwrap();
    let mine = core.visits().mine(None).unwrap();
    assert_eq!(
        mine.iter()
            .map(|i| (i.doc_id, i.title.as_str()))
            .collect::<Vec<_>>(),
        [(held_id, "Listed, not read")]
    );
    // A row from a build that did not keep the people: that document is
    // read at the next sign-in.
    rusqlite::Connection::open(dir.path().join("store.db"))
        .unwrap()
        .execute(
            "UPDATE doc_index SET people = NULL WHERE doc_id = ?1",
            [held_id.to_string()],
        )
        .unwrap();
    core.auth()
        .sign_in_offline(account(me, Role::Technician))
        .unwrap();
    assert_eq!(core.visits().mine(None).unwrap()[0].title, held.title);

    core.visits().set_notes(held_id, "Valve replaced.").unwrap();
    assert_eq!(
        core.visits().mine(None).unwrap()[0].title,
        held.title,
        "an edited document's row comes from the document"
    );
}
