//! Tickets on a customer's phone (issue 7): a real fieldops-core device
//! opens a ticket and writes a chat message offline, comes online and finds
//! both on the server exactly once; staff replies and status changes reach
//! the phone through the ticket document while internal notes never do; the
//! customer closes the ticket with a sync command; replayed commands change
//! nothing.

use fieldops_core::CommandState;
use fieldops_sync::commands::{CommandBody, CommandOutcome, RejectReason};
use fieldops_sync::docs::ticket::{Author, Ticket, TicketStatus};
use fieldops_sync::docs::{DocumentSchema, StaffNotes};
use fieldops_sync::ids::{DocId, DocKind, MessageId};
use fieldops_sync::protocol::ServerMessage;
use fieldops_tests::device::{Device, command};
use fieldops_tests::phones::{customer_phone, sync_until};
use fieldops_tests::{Backend, Reply, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_customer_phone_opens_and_follows_a_ticket_offline,
    replayed_ticket_and_chat_commands_apply_once,
    a_ticket_moved_to_another_department_leaves_the_old_ones_devices,
);

const NOTE: &str = "Catatan internal: pelanggan pernah komplain soal tagihan";
const REPLY: &str = "Teknisi kami datang besok pagi";

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> Reply {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn a_customer_phone_opens_and_follows_a_ticket_offline(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login("customer@example.com", "customer123").await;
    let dir = tempfile::tempdir().unwrap();
    let phone = customer_phone(&app, &dir).await;

    // Offline: the ticket is listed at once, pending, and a chat message is
    // queued; the description is edited before the server ever saw it.
    let created = phone
        .tickets()
        .create("AC tidak dingin", "Unit di kamar tidur.", "technical")
        .unwrap();
    assert_eq!(created.state, CommandState::Pending);
    let ticket_id = created.target_id.unwrap();
    let listed = phone.tickets().list(None).unwrap();
    let item = listed.iter().find(|i| i.doc_id == ticket_id).unwrap();
    assert!(item.pending);
    assert_eq!(
        (item.title.as_str(), item.status.as_str()),
        ("AC tidak dingin", "open")
    );
    assert!(phone.tickets().get(ticket_id).unwrap().number.is_pending());
    phone
        .tickets()
        .set_description(ticket_id, "Unit di kamar tidur, airnya menetes.")
        .unwrap();
    let chat = phone
        .tickets()
        .send_chat_message(None, "Halo, saya baru membuka tiket AC")
        .unwrap();

    // Online: numbered by the server; the offline edit survives.
    sync_until(&phone, |p| {
        p.tickets()
            .get(ticket_id)
            .is_ok_and(|t| !t.number.is_pending())
            && p.outbox()
                .get(chat.command_id)
                .is_ok_and(|c| !c.state.is_open())
            && p.sync().status().unsynced_documents == 0
    })
    .await;
    assert_eq!(
        phone.outbox().get(created.command_id).unwrap().state,
        CommandState::Accepted
    );
    assert_eq!(
        phone.outbox().get(chat.command_id).unwrap().state,
        CommandState::Accepted
    );
    let on_phone = phone.tickets().get(ticket_id).unwrap();
    let detail = app.get(&format!("/api/v1/tickets/{ticket_id}"), &cs).await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    assert_eq!(detail.body["number"], on_phone.number.as_str());
    assert!(detail.body["number"].as_str().unwrap().starts_with("TKT-0"));
    assert_eq!(
        detail.body["description"],
        "Unit di kamar tidur, airnya menetes."
    );
    assert_eq!(on_phone.description, "Unit di kamar tidur, airnya menetes.");
    let item = phone
        .tickets()
        .list(Some(TicketStatus::Open))
        .unwrap()
        .into_iter()
        .find(|i| i.doc_id == ticket_id)
        .unwrap();
    assert!(!item.pending);
    assert!(item.title.starts_with(on_phone.number.as_str()));
    let listed = app.get("/api/v1/tickets?search=AC", &cs).await;
    assert_eq!(listed.body["stats"]["total"], 1, "{:?}", listed.body);

    // The chat message is in the customer's conversation exactly once.
    let conversations = app.get("/api/v1/conversations", &customer).await;
    let items = conversations.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{:?}", conversations.body);
    let conversation = items[0]["id"].as_str().unwrap();
    let messages = app
        .get(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &customer,
        )
        .await;
    let from = |kind: &str| -> Vec<String> {
        messages.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["sender_kind"] == kind)
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(from("customer"), ["Halo, saya baru membuka tiket AC"]);
    // Nobody was on duty: the customer was told so.
    assert_eq!(from("system").len(), 1);

    // A description edit on the phone reaches SQL (and HTTP).
    phone
        .tickets()
        .set_description(ticket_id, "Sudah dicoba dimatikan, tetap menetes.")
        .unwrap();
    sync_until(&phone, |p| p.sync().status().unsynced_documents == 0).await;
    let detail = app.get(&format!("/api/v1/tickets/{ticket_id}"), &cs).await;
    assert_eq!(
        detail.body["description"],
        "Sudah dicoba dimatikan, tetap menetes."
    );

    // CS writes an internal note and a public reply, and starts work.
    let path = format!("/api/v1/tickets/{ticket_id}/messages");
    let note = app
        .post(&path, &cs, json!({ "body": NOTE, "internal": true }))
        .await;
    assert_eq!(note.status, 201, "{:?}", note.body);
    let reply = app.post(&path, &cs, json!({ "body": REPLY })).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let started = put(
        &app,
        &format!("/api/v1/tickets/{ticket_id}/status"),
        &cs,
        json!({ "status": "in_progress" }),
    )
    .await;
    assert_eq!(started.status, 200, "{:?}", started.body);

    sync_until(&phone, |p| {
        p.tickets()
            .get(ticket_id)
            .is_ok_and(|t| t.status == TicketStatus::InProgress && t.messages.len() == 1)
    })
    .await;
    let on_phone = phone.tickets().get(ticket_id).unwrap();
    assert_eq!(on_phone.messages[0].body, REPLY);
    assert_eq!(on_phone.messages[0].author, Author::Staff);
    // Everything the customer's feed carries (the document with its whole
    // history, saved uncompressed so text is searchable) never holds the note.
    let (device, _) = Device::connect(app.server.addr, &customer, 0).await;
    let (kind, doc) = &device.docs[&ticket_id];
    assert_eq!(*kind, DocKind::Ticket);
    let mut doc = doc.clone();
    let bytes = doc.save_nocompress();
    assert!(contains(&bytes, REPLY), "the bytes are searchable text");
    assert!(!contains(&bytes, NOTE), "the internal note never travels");
    assert!(
        device
            .docs
            .values()
            .all(|(kind, _)| *kind != DocKind::StaffNotes)
    );
    assert_eq!(
        Ticket::hydrate(&doc).unwrap().status,
        TicketStatus::InProgress
    );
    assert!(StaffNotes::hydrate(&doc).is_err());
    // Staff still read the note over HTTP.
    let detail = app.get(&format!("/api/v1/tickets/{ticket_id}"), &cs).await;
    assert!(
        detail.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == NOTE)
    );
    let detail = app
        .get(&format!("/api/v1/tickets/{ticket_id}"), &customer)
        .await;
    assert!(
        !detail.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == NOTE)
    );

    // Staff may not change SQL-owned fields through the document.
    let cs_token = app.login("cs@example.com", "cs123").await;
    let (mut staff, _) = Device::connect(app.server.addr, &cs_token, 0).await;
    staff.edit(ticket_id, |doc| {
        let mut t = Ticket::hydrate(doc).unwrap();
        t.subject = "Renamed over sync".into();
        t.reconcile(doc).unwrap();
    });
    let answers = staff.push().await;
    assert!(
        answers
            .iter()
            .any(|m| matches!(m, ServerMessage::WriteRejected(r) if r.doc_id == ticket_id)),
        "{answers:?}"
    );
    let detail = app.get(&format!("/api/v1/tickets/{ticket_id}"), &cs).await;
    assert_eq!(detail.body["subject"], "AC tidak dingin");

    // The customer closes it from the phone.
    let close = phone.tickets().close(ticket_id).unwrap();
    sync_until(&phone, |p| {
        p.tickets()
            .get(ticket_id)
            .is_ok_and(|t| t.status == TicketStatus::Closed)
    })
    .await;
    assert_eq!(
        phone.outbox().get(close.command_id).unwrap().state,
        CommandState::Accepted
    );
    let detail = app.get(&format!("/api/v1/tickets/{ticket_id}"), &cs).await;
    assert_eq!(detail.body["status"], "closed");
    app.stop().await;
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap()
}

async fn replayed_ticket_and_chat_commands_apply_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login("customer@example.com", "customer123").await;
    let (mut device, _) = Device::connect(app.server.addr, &customer, 0).await;
    let ticket_id = DocId::new();
    let open = command(
        1,
        CommandBody::CreateTicket {
            ticket_id,
            subject: "Tagihan dobel".into(),
            description: String::new(),
            category: "billing".into(),
        },
    );
    let first = device.run(&open).await;
    assert_eq!(
        first.outcome,
        CommandOutcome::Accepted {
            effects: vec![ticket_id]
        }
    );
    let numbered = count(&app, "SELECT MAX(seq) FROM tickets").await;
    // The same command again (its answer was lost): the stored answer.
    assert_eq!(device.run(&open).await, first);
    // Another command reusing the id: refused, nothing written.
    let again = command(
        2,
        CommandBody::CreateTicket {
            ticket_id,
            subject: "Tagihan dobel".into(),
            description: String::new(),
            category: "billing".into(),
        },
    );
    let refused = device.run(&again).await;
    assert!(matches!(
        refused.outcome,
        CommandOutcome::Rejected {
            reason: RejectReason::Conflict,
            ..
        }
    ));
    let tickets_sql = format!("SELECT COUNT(*) FROM tickets WHERE id = '{ticket_id}'");
    assert_eq!(count(&app, &tickets_sql).await, 1);
    assert_eq!(
        count(&app, "SELECT MAX(seq) FROM tickets").await,
        numbered,
        "no number was used up"
    );
    let bad = command(
        3,
        CommandBody::CreateTicket {
            ticket_id: DocId::new(),
            subject: "Kategori salah".into(),
            description: String::new(),
            category: "nonsense".into(),
        },
    );
    let CommandOutcome::Rejected { reason, message } = device.run(&bad).await.outcome else {
        panic!("an unknown category is refused");
    };
    assert_eq!(reason, RejectReason::Invalid);
    assert!(message.contains("category"), "{message}");

    // A chat message sent twice (two commands, one client message id) is
    // stored once; a replayed command is answered from the store.
    let conversations = count(&app, "SELECT COUNT(*) FROM conversations").await;
    let message_id = MessageId::new();
    let say = |seq| {
        command(
            seq,
            CommandBody::SendChatMessage {
                conversation_id: None,
                client_message_id: message_id,
                body: "Mohon dicek tagihan bulan ini".into(),
            },
        )
    };
    let (a, b) = (say(4), say(5));
    assert!(device.run(&a).await.is_accepted());
    assert!(device.run(&b).await.is_accepted());
    assert!(device.run(&a).await.is_accepted());
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM chat_messages WHERE body = 'Mohon dicek tagihan bulan ini'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM conversations").await,
        conversations + 1
    );

    // Closing twice: one status change in the audit trail.
    let close = command(6, CommandBody::CloseOwnTicket { ticket_id });
    assert!(device.run(&close).await.is_accepted());
    assert!(device.run(&close).await.is_accepted());
    let close_again = command(7, CommandBody::CloseOwnTicket { ticket_id });
    assert!(device.run(&close_again).await.is_accepted());
    let audit = format!(
        "SELECT COUNT(*) FROM audit_log WHERE entity_id = '{ticket_id}' \
         AND action = 'ticket.status_changed'"
    );
    assert_eq!(count(&app, &audit).await, 1);
    let detail = app
        .get(&format!("/api/v1/tickets/{ticket_id}"), &customer)
        .await;
    assert_eq!(detail.body["status"], "closed");

    // Someone else's ticket cannot be closed.
    let cs = app.login_as("cs").await;
    let other = app
        .post(
            "/api/v1/customers",
            &cs,
            json!({ "name": "Siti Rahma", "phone": "0813-1111-2222", "address": "Jl. Melati 3", "city": "Bandung" }),
        )
        .await;
    assert_eq!(other.status, 201, "{:?}", other.body);
    let theirs = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "subject": "Lain", "category": "general", "customer_id": other.body["id"] }),
        )
        .await;
    assert_eq!(theirs.status, 201, "{:?}", theirs.body);
    let foreign: DocId = theirs.body["id"].as_str().unwrap().parse().unwrap();
    let refused = device
        .run(&command(
            8,
            CommandBody::CloseOwnTicket { ticket_id: foreign },
        ))
        .await;
    assert!(matches!(
        refused.outcome,
        CommandOutcome::Rejected {
            reason: RejectReason::Forbidden,
            ..
        }
    ));
    app.stop().await;
}

async fn a_ticket_moved_to_another_department_leaves_the_old_ones_devices(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let customer = app.login("customer@example.com", "customer123").await;
    let created = app
        .post(
            "/api/v1/tickets",
            &customer,
            json!({ "subject": "Lampu teras mati", "category": "technical" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id: DocId = created.body["id"].as_str().unwrap().parse().unwrap();
    let (mut device, _) = Device::connect(app.server.addr, &cs, 0).await;
    assert!(device.docs.contains_key(&id), "the CS department reads it");

    let sales = fieldops_tests::fixtures::department_id(&app, &admin, "Sales").await;
    let moved = app
        .patch(
            &format!("/api/v1/tickets/{id}"),
            &admin,
            json!({ "department_id": sales }),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let messages = device.until_feed().await;
    assert!(
        messages
            .iter()
            .any(|m| matches!(m, ServerMessage::Drop(d) if d.doc_ids.contains(&id))),
        "{messages:?}"
    );
    assert!(!device.docs.contains_key(&id), "dropped from the device");
    // The customer still reads it; a fresh CS device no longer receives it.
    let (fresh, _) = Device::connect(app.server.addr, &cs, 0).await;
    assert!(!fresh.docs.contains_key(&id));
    let (own, _) = Device::connect(app.server.addr, &customer, 0).await;
    assert!(own.docs.contains_key(&id));
    app.stop().await;
}
