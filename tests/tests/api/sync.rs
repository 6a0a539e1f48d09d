//! The sync engine end to end: real devices (WebSocket clients speaking the
//! protocol) against a real server, on SQLite and Postgres.

use std::collections::HashMap;

use automerge::AutoCommit;
use fieldops_server::sync::{self, DocScope, store};
use fieldops_server::work::{Effects, Work};
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::visit::{Assignment, AssignmentState, Visit, VisitStatus};
use fieldops_sync::ids::{AssignmentId, DocId, DocKind, UserId};
use fieldops_sync::listing::Listing;
use fieldops_sync::protocol::{ClientMessage, DropReason, ErrorCode, ServerMessage};
use fieldops_sync::testing;
use fieldops_tests::device::Device;
use fieldops_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(
    offline_edits_converge_on_every_device,
    rule_breaking_and_foreign_writes_are_refused_and_never_stored,
    customers_receive_only_their_own_documents,
    a_reconnect_with_nothing_new_is_one_round_trip,
    malformed_frames_get_protocol_errors,
    a_long_offline_device_catches_up_across_compaction,
    duplicated_pushes_change_nothing,
    commands_run_once_and_in_order,
    a_shrinking_scope_drops_the_document,
    sync_works_over_plain_http,
    a_large_catch_up_is_compressed_for_apps_that_read_it,
    whole_documents_travel_with_their_listing,
);

struct World {
    app: TestApp,
    tech1: (String, String),
    tech2: (String, String),
    admin: String,
    customer: String,
    visit: DocId,
    ticket: DocId,
    notes: DocId,
    other_ticket: DocId,
}

async fn user_of(app: &TestApp, token: &str) -> serde_json::Value {
    app.get("/api/v1/me", token).await.body
}

/// A visit assigned to tech1 and tech2, the demo customer's ticket with staff
/// notes, and another customer's ticket.
async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::spawn(backend).await?;
    let t1 = app.login("tech1@example.com", "tech123").await;
    let t2 = app.login("tech2@example.com", "tech123").await;
    let admin = app.login_as("admin").await;
    let customer = app.login_as("customer").await;
    let t1_id = user_of(&app, &t1).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t2_id = user_of(&app, &t2).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = user_of(&app, &customer).await;
    let customer_id = me["customer"]["id"].as_str().unwrap().to_owned();
    let customer_user: UserId = me["user"]["id"].as_str().unwrap().parse().unwrap();

    let mut visit = testing::sample_visit();
    visit.assignments = [&t1_id, &t2_id]
        .iter()
        .map(|t| Assignment {
            assignment_id: AssignmentId::new(),
            technician_id: t.parse().unwrap(),
            state: AssignmentState::Active,
        })
        .collect();
    visit.customer_id = customer_user;
    let mut ticket = testing::sample_ticket();
    ticket.customer_id = customer_user;
    let notes = testing::sample_staff_notes();
    let other = testing::sample_ticket();

    let (visit_id, ticket_id, notes_id, other_id) =
        (DocId::new(), DocId::new(), DocId::new(), DocId::new());
    let db = &app.server.state.db;
    let mut tx = db.begin_write().await.unwrap();
    let own = DocScope {
        customer_id: Some(customer_id.clone()),
        department_id: None,
        in_pool: false,
    };
    let docs: [(DocId, DocKind, AutoCommit, DocScope, Vec<String>); 4] = [
        (
            visit_id,
            DocKind::Visit,
            visit.to_document().unwrap(),
            own.clone(),
            vec![t1_id.clone(), t2_id.clone()],
        ),
        (
            ticket_id,
            DocKind::Ticket,
            ticket.to_document().unwrap(),
            own.clone(),
            vec![],
        ),
        (
            notes_id,
            DocKind::StaffNotes,
            notes.to_document().unwrap(),
            own.clone(),
            vec![],
        ),
        (
            other_id,
            DocKind::Ticket,
            other.to_document().unwrap(),
            DocScope {
                customer_id: Some("someone-else".into()),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (id, kind, mut doc, scope, users) in docs {
        sync::create(&mut tx, &id.to_string(), kind, scope, &mut doc, &users)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    Some(World {
        app,
        tech1: (t1, t1_id),
        tech2: (t2, t2_id),
        admin,
        customer,
        visit: visit_id,
        ticket: ticket_id,
        notes: notes_id,
        other_ticket: other_id,
    })
}

fn visit_of(device: &Device, id: DocId) -> Visit {
    Visit::hydrate(&device.docs[&id].1).unwrap()
}

async fn server_visit(w: &World) -> (Visit, AutoCommit) {
    let (_, doc) = sync::load(&w.app.server.state.db, &w.visit.to_string())
        .await
        .unwrap()
        .unwrap();
    (Visit::hydrate(&doc).unwrap(), doc)
}

async fn offline_edits_converge_on_every_device(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let addr = w.app.server.addr;
    let (mut a, _) = Device::connect(addr, &w.tech1.0, 0).await;
    let (mut b, _) = Device::connect(addr, &w.tech2.0, 0).await;
    let (mut console, _) = Device::connect(addr, &w.admin, 0).await;
    assert!(a.docs.contains_key(&w.visit) && b.docs.contains_key(&w.visit));

    // Both technicians edit the same visit "offline", concurrently.
    a.edit(w.visit, |doc| {
        let mut v = Visit::hydrate(doc).unwrap();
        v.notes = "Valve replaced.".into();
        v.reconcile(doc).unwrap();
    });
    b.edit(w.visit, |doc| {
        let mut v = Visit::hydrate(doc).unwrap();
        v.notes = "Pressure 1.5 bar.".into();
        v.checklist[0].done = true;
        v.reconcile(doc).unwrap();
    });
    let answers = a.push().await;
    assert!(
        matches!(answers[0], ServerMessage::Applied(_)),
        "{answers:?}"
    );
    let answers = b.push().await;
    assert!(
        answers
            .iter()
            .any(|m| matches!(m, ServerMessage::Applied(_))),
        "{answers:?}"
    );

    // Live: every device receives the other edits.
    for device in [&mut a, &mut b, &mut console] {
        while !visit_of(device, w.visit).checklist[0].done
            || !visit_of(device, w.visit).notes.contains("Valve")
        {
            device.until_feed().await;
        }
    }
    let (server, _) = server_visit(&w).await;
    for device in [&a, &b, &console] {
        assert_eq!(visit_of(device, w.visit), server, "converged");
    }
    assert!(
        server.notes.contains("Valve replaced.") && server.notes.contains("Pressure 1.5 bar."),
        "{}",
        server.notes
    );
    // The server timed each stage of those writes on their way (`/metrics`).
    let metrics = w
        .app
        .call(reqwest::Method::GET, "/metrics", None, None)
        .await;
    let text = metrics.body.as_str().unwrap();
    for stage in [
        "scope",
        "begin",
        "load_and_store",
        "rules",
        "commit",
        "live_read",
        "live_frames",
    ] {
        assert!(
            text.contains(&format!(
                "fieldops_sync_write_stage_seconds_count{{stage=\"{stage}\"}}"
            )),
            "{stage}: {text}"
        );
    }
    w.app.stop().await;
}

async fn rule_breaking_and_foreign_writes_are_refused_and_never_stored(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let addr = w.app.server.addr;
    let (mut a, _) = Device::connect(addr, &w.tech1.0, 0).await;
    let seq_before = store::current_seq(w.app.server.state.db.pool())
        .await
        .unwrap();
    let (_, mut before) = server_visit(&w).await;

    a.edit(w.visit, |doc| {
        let mut v = Visit::hydrate(doc).unwrap();
        v.status = VisitStatus::Done;
        v.technician_quota = 9;
        v.notes = "sneaky".into();
        v.reconcile(doc).unwrap();
    });
    let answers = a.push().await;
    let ServerMessage::WriteRejected(rejected) = &answers[0] else {
        panic!("{answers:?}")
    };
    let fields: Vec<&str> = rejected
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert!(
        fields.contains(&"status") && fields.contains(&"technician_quota"),
        "{fields:?}"
    );
    assert!(
        rejected
            .violations
            .iter()
            .all(|v| v.reason.as_str() == "server_owned")
    );
    // The device converged back to the authoritative document.
    assert_eq!(visit_of(&a, w.visit).status, VisitStatus::Assigned);
    assert!(
        visit_of(&a, w.visit).notes.is_empty(),
        "the whole change was refused"
    );
    let (_, mut after) = server_visit(&w).await;
    assert_eq!(before.get_heads(), after.get_heads(), "nothing stored");
    assert_eq!(
        store::current_seq(w.app.server.state.db.pool())
            .await
            .unwrap(),
        seq_before,
        "nothing fed"
    );

    // Another customer's ticket, which tech1 cannot read: dropped, nothing stored.
    let mut forged = testing::sample_ticket().to_document().unwrap();
    forged.set_actor(automerge::ActorId::random());
    let mut edited = fieldops_sync::docs::Ticket::hydrate(&forged).unwrap();
    edited.subject = "pwned".into();
    edited.reconcile(&mut forged).unwrap();
    a.send(ClientMessage::Changes(vec![
        fieldops_sync::protocol::DocChanges {
            doc_id: w.other_ticket,
            kind: DocKind::Ticket,
            changes: forged.save(),
        },
    ]))
    .await;
    let ServerMessage::Drop(dropped) = a.recv().await else {
        panic!("expected a drop")
    };
    assert_eq!(
        (dropped.doc_ids.as_slice(), dropped.reason),
        ([w.other_ticket].as_slice(), DropReason::OutOfScope)
    );
    let (_, other) = sync::load(&w.app.server.state.db, &w.other_ticket.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        fieldops_sync::docs::Ticket::hydrate(&other)
            .unwrap()
            .subject,
        "pwned"
    );
    w.app.stop().await;
}

async fn customers_receive_only_their_own_documents(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    // Besides this world, the demo data has open visits at the demo
    // customer's sites: the customer and every technician see those too.
    let demo_visits = |device: &Device| {
        device
            .docs
            .iter()
            .filter(|(id, (kind, _))| **id != w.visit && *kind == DocKind::Visit)
            .count()
    };
    let (device, _) = Device::connect(w.app.server.addr, &w.customer, 0).await;
    assert!(device.docs.contains_key(&w.visit) && device.docs.contains_key(&w.ticket));
    assert!(!device.docs.contains_key(&w.notes), "no staff notes");
    assert!(
        !device.docs.contains_key(&w.other_ticket),
        "no other customer's ticket"
    );
    assert_eq!(device.docs.len(), 2 + demo_visits(&device));
    let (tech, _) = Device::connect(w.app.server.addr, &w.tech1.0, 0).await;
    assert!(tech.docs.contains_key(&w.visit));
    assert!(!tech.docs.contains_key(&w.ticket) && !tech.docs.contains_key(&w.notes));
    assert_eq!(tech.docs.len(), 1 + demo_visits(&tech));
    w.app.stop().await;
}

async fn a_reconnect_with_nothing_new_is_one_round_trip(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let (mut device, _) = Device::connect(w.app.server.addr, &w.tech1.0, 0).await;
    device.bytes_in = 0;
    device.bytes_out = 0;
    let messages = device.reconnect(w.app.server.addr, &w.tech1.0).await;
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(matches!(messages[0], ServerMessage::Welcome(_)));
    assert_eq!(
        messages[1],
        ServerMessage::Protocol {
            version: fieldops_sync::protocol::PROTOCOL_VERSION
        }
    );
    let ServerMessage::Feed(feed) = &messages[2] else {
        panic!("{messages:?}")
    };
    assert!(feed.changed.is_empty());
    assert!(
        device.bytes_in + device.bytes_out < 2048,
        "{} + {} bytes",
        device.bytes_in,
        device.bytes_out
    );
    w.app.stop().await;
}

async fn malformed_frames_get_protocol_errors(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let (mut device, _) = Device::connect(w.app.server.addr, &w.tech1.0, 0).await;
    for garbage in [
        vec![],
        vec![1],
        vec![9, 9, 9],
        vec![1, 200, 200, 200, 200, 200],
        vec![0xff; 4096],
    ] {
        device.send_raw(garbage).await;
        let ServerMessage::Error(e) = device.recv().await else {
            panic!("expected an error frame")
        };
        assert!(
            matches!(
                e.code,
                ErrorCode::Malformed | ErrorCode::UnsupportedVersion | ErrorCode::TooLarge
            ),
            "{e:?}"
        );
    }
    device.send(ClientMessage::Ping { nonce: 7 }).await;
    assert_eq!(
        device.recv().await,
        ServerMessage::Pong { nonce: 7 },
        "the session survived"
    );

    // A session must open with a valid Hello.
    let (mut bad, first) = Device::connect(w.app.server.addr, "not-a-token", 0).await;
    let ServerMessage::Error(e) = &first[0] else {
        panic!("{first:?}")
    };
    assert_eq!(e.code, ErrorCode::Unauthorized);
    drop(bad.socket.close(None).await);
    w.app.stop().await;
}

async fn a_long_offline_device_catches_up_across_compaction(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let addr = w.app.server.addr;
    let (mut device, _) = Device::connect(addr, &w.tech1.0, 0).await;
    let db = &w.app.server.state.db;
    // While the device is away, 100 server-side edits (compaction runs every 64).
    for i in 0..100 {
        let mut tx = db.begin_write().await.unwrap();
        let stored =
            sync::write_as_server(&mut tx, db, &w.visit.to_string(), DocKind::Visit, |doc| {
                let mut v = Visit::hydrate(doc)?;
                v.notes.push_str(&format!("{i} "));
                v.reconcile(doc)?;
                Ok(())
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(stored.changed.is_some());
    }
    let row = store::get(db.pool(), &w.visit.to_string())
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.change_count < store::COMPACT_AFTER,
        "compacted: {} runs",
        row.change_count
    );
    device.reconnect(addr, &w.tech1.0).await;
    let (server, _) = server_visit(&w).await;
    assert_eq!(visit_of(&device, w.visit), server);
    assert!(server.notes.starts_with("0 1 2 ") && server.notes.ends_with("99 "));
    w.app.stop().await;
}

async fn duplicated_pushes_change_nothing(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let (mut device, _) = Device::connect(w.app.server.addr, &w.tech1.0, 0).await;
    device.edit(w.visit, |doc| {
        let mut v = Visit::hydrate(doc).unwrap();
        v.notes = "once".into();
        v.reconcile(doc).unwrap();
    });
    let pending = device.pending();
    device.push().await;
    let seq = store::current_seq(w.app.server.state.db.pool())
        .await
        .unwrap();
    // The same changes again, as a network retry would send them.
    device.send(ClientMessage::Changes(pending)).await;
    let applied = loop {
        // The live echo of the first push may come first.
        if let ServerMessage::Applied(applied) = device.recv().await {
            break applied;
        }
    };
    assert_eq!(applied[0].seq.0 as i64, seq, "no new feed position");
    assert_eq!(
        store::current_seq(w.app.server.state.db.pool())
            .await
            .unwrap(),
        seq
    );
    assert_eq!(server_visit(&w).await.0.notes, "once");
    w.app.stop().await;
}

async fn commands_run_once_and_in_order(backend: Backend) {
    use fieldops_sync::commands::{Command, CommandBody, CommandOutcome, RejectReason};
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    // The technician reads Bahasa Indonesia: refusals come in it.
    w.app.set_language(&w.tech1.0, "id").await;
    let (mut device, _) = Device::connect(w.app.server.addr, &w.tech1.0, 0).await;
    let command = |seq: u64| Command {
        id: fieldops_sync::ids::CommandId::new(),
        device_seq: seq,
        issued_at_ms: 0,
        body: CommandBody::RequestExtension {
            visit_id: w.visit,
            extra_days: 2,
            reason: "rain".into(),
        },
    };
    let (first, late) = (command(5), command(3));
    let invalid = Command {
        body: CommandBody::RequestExtension {
            visit_id: w.visit,
            extra_days: 0,
            reason: String::new(),
        },
        ..command(9)
    };
    device
        .send(ClientMessage::Commands(vec![
            first.clone(),
            first.clone(),
            late.clone(),
            invalid.clone(),
        ]))
        .await;
    let ServerMessage::CommandResults(results) = device.recv().await else {
        panic!()
    };
    assert_eq!(results.len(), 4);
    assert_eq!(results[0], results[1], "a replay gets the stored answer");
    let reason = |i: usize| match &results[i].outcome {
        CommandOutcome::Rejected { reason, .. } => *reason,
        CommandOutcome::Accepted { .. } => panic!("accepted"),
    };
    assert_eq!(reason(2), RejectReason::OutOfOrder);
    assert_eq!(reason(3), RejectReason::Invalid);
    let CommandOutcome::Rejected { message, .. } = &results[3].outcome else {
        unreachable!()
    };
    assert_eq!(message, "`extra_days` harus 1 sampai 30 hari");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sync_commands")
        .fetch_one(w.app.server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(count, 3, "each command recorded once");
    w.app.stop().await;
}

async fn a_shrinking_scope_drops_the_document(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let (mut device, _) = Device::connect(w.app.server.addr, &w.tech2.0, 0).await;
    assert!(device.docs.contains_key(&w.visit));
    let state = &w.app.server.state;
    let mut work = Work::begin(state).await.unwrap();
    let changed = sync::revoke_access(
        work.tx(),
        &w.visit.to_string(),
        &w.tech2.1,
        DropReason::OutOfScope,
        &mut Default::default(),
    )
    .await
    .unwrap()
    .unwrap();
    work.commit(Effects::none().with_changed([changed]))
        .await
        .unwrap();
    let messages = device.until_feed().await;
    assert!(
        messages
            .iter()
            .any(|m| matches!(m, ServerMessage::Drop(d) if d.doc_ids == [w.visit])),
        "{messages:?}"
    );
    assert!(!device.docs.contains_key(&w.visit));
    // And it stays out on a fresh device.
    let (fresh, _) = Device::connect(w.app.server.addr, &w.tech2.0, 0).await;
    assert!(!fresh.docs.contains_key(&w.visit));
    w.app.stop().await;
}

async fn sync_works_over_plain_http(backend: Backend) {
    use fieldops_sync::protocol::{Cursor, Hello, PROTOCOL_VERSION};
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let (mut device, _) = Device::connect(w.app.server.addr, &w.tech1.0, 0).await;
    device.edit(w.visit, |doc| {
        let mut v = Visit::hydrate(doc).unwrap();
        v.notes = "over http".into();
        v.reconcile(doc).unwrap();
    });
    let mut body = Vec::new();
    for message in [
        ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            access_token: w.tech1.0.clone(),
            device_id: device.id,
            cursor: Cursor(device.cursor),
            known_heads: None,
        }),
        ClientMessage::Changes(device.pending()),
    ] {
        let frame = message.encode().unwrap();
        body.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        body.extend_from_slice(&frame);
    }
    let response = w
        .app
        .client
        .post(w.app.url("/api/v1/sync/batch"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let mut rest = &bytes[..];
    let mut kinds = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        kinds.push(ServerMessage::decode(&rest[4..4 + len]).unwrap());
        rest = &rest[4 + len..];
    }
    assert!(matches!(kinds[0], ServerMessage::Welcome(_)));
    assert!(
        kinds.iter().any(|m| matches!(m, ServerMessage::Applied(_))),
        "{kinds:?}"
    );
    assert!(matches!(kinds.last(), Some(ServerMessage::Feed(_))));
    assert_eq!(server_visit(&w).await.0.notes, "over http");
    let bad = w
        .app
        .client
        .post(w.app.url("/api/v1/sync/batch"))
        .body(vec![0, 0, 0, 9, 1])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    w.app.stop().await;
}

/// A fresh phone's catch-up of many documents travels compressed (about a
/// third of the bytes) to an app of protocol 5 or later and plain to an
/// older one; both end up with the same documents.
async fn a_large_catch_up_is_compressed_for_apps_that_read_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    fieldops_tests::fixtures::seed_ticket_documents(&app.server.state.db, 300).await;
    let admin = app.login_as("admin").await;
    let (new, _) = Device::connect(app.server.addr, &admin, 0).await;
    let (old, _) = Device::connect_speaking(app.server.addr, &admin, 0, 4).await;
    assert!(new.docs.len() >= 300, "{} documents", new.docs.len());
    let ids = |d: &Device| {
        let mut ids: Vec<DocId> = d.docs.keys().copied().collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&new), ids(&old));
    assert!(new.compressed_frames > 0);
    assert_eq!(
        old.compressed_frames, 0,
        "a version 4 app reads no compressed frame"
    );
    assert!(
        new.bytes_in * 2 < old.bytes_in,
        "{} bytes compressed, {} plain",
        new.bytes_in,
        old.bytes_in
    );
    app.stop().await;
}

/// The listings of `messages`' whole documents, by document; `None` for a
/// document sent without one. Panics on a plain `Snapshots` frame.
fn listings(messages: &[ServerMessage]) -> HashMap<DocId, Option<Listing>> {
    let mut out = HashMap::new();
    for message in messages {
        match message {
            ServerMessage::ListedSnapshots(listed) => {
                for l in listed {
                    out.insert(l.snapshot.doc_id, l.listing.clone());
                }
            }
            ServerMessage::Snapshots(_) => panic!("a plain Snapshots frame: {message:?}"),
            _ => {}
        }
    }
    out
}

/// An app of protocol 6 gets each whole document with its list fields,
/// computed from the state it is sent at (the test device checks every
/// listing it receives against the document it came with), so a phone
/// indexes a catch-up without reading it; an older app gets plain
/// snapshots, and a document the server has no current listing for
/// travels without one.
async fn whole_documents_travel_with_their_listing(backend: Backend) {
    let Some(w) = Box::pin(world(backend)).await else {
        return;
    };
    let addr = w.app.server.addr;
    let db = &w.app.server.state.db;
    let (_, caught_up) = Device::connect(addr, &w.tech1.0, 0).await;
    let listed = listings(&caught_up);
    let visit = listed[&w.visit].as_ref().expect("the visit's listing");
    assert!(visit.names(w.tech1.1.parse().unwrap()));
    assert_eq!(visit.title, testing::sample_visit().title);

    // Renamed by the server: a fresh phone sees the new title in its list.
    let mut tx = db.begin_write().await.unwrap();
    sync::write_as_server(&mut tx, db, &w.visit.to_string(), DocKind::Visit, |doc| {
        let mut v = Visit::hydrate(doc)?;
        v.title = "Ganti katup boiler".into();
        v.reconcile(doc)?;
        Ok(())
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A document stored before the server kept listings.
    sqlx::query("UPDATE sync_documents SET listing = NULL WHERE id = $1")
        .bind(w.ticket.to_string())
        .execute(db.pool())
        .await
        .unwrap();

    let (_, caught_up) = Device::connect(addr, &w.customer, 0).await;
    let listed = listings(&caught_up);
    assert_eq!(
        listed[&w.visit].as_ref().map(|l| l.title.as_str()),
        Some("Ganti katup boiler")
    );
    assert_eq!(listed[&w.ticket], None, "no listing on record");

    // Written since by a build that does not keep listings (a rolling
    // update): the listing on record no longer describes the document,
    // so it is not sent.
    sqlx::query("UPDATE sync_documents SET listing_heads = 'an older state' WHERE id = $1")
        .bind(w.visit.to_string())
        .execute(db.pool())
        .await
        .unwrap();
    let (_, caught_up) = Device::connect(addr, &w.customer, 0).await;
    assert_eq!(listings(&caught_up)[&w.visit], None, "a stale listing");

    let (old, caught_up) = Device::connect_speaking(addr, &w.customer, 0, 5).await;
    assert!(
        !caught_up
            .iter()
            .any(|m| matches!(m, ServerMessage::ListedSnapshots(_))),
        "{caught_up:?}"
    );
    assert!(old.docs.contains_key(&w.visit) && old.docs.contains_key(&w.ticket));
    w.app.stop().await;
}
