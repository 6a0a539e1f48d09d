//! Invoices on the customer's phone (issue 20): a real fieldops-core device
//! receives the sent invoice as a read-only document, pays part of it
//! offline with a receipt photo, syncs, follows CS's verification to
//! `paid`, and receives the credit note that corrects it; the receipt
//! reaches CS whichever of the command and the upload arrives first. Over raw sync, payments the customer may not make are
//! refused with typed reasons and write nothing, a replay applies once, and
//! nobody but the server writes an invoice document.

use automerge::ROOT;
use automerge::transaction::Transactable;
use fieldops_core::photo::testing;
use fieldops_core::{CommandState, CoreError, PaymentState};
use fieldops_sync::billing::{InvoiceStatus, PaymentStatus};
use fieldops_sync::commands::{CommandBody, CommandOutcome, CommandResult, RejectReason};
use fieldops_sync::ids::{DocId, DocKind, ItemId};
use fieldops_sync::protocol::ServerMessage;
use fieldops_tests::device::{Device, command};
use fieldops_tests::fixtures::{demo_customer, done_visit, sent_invoice, two_lines};
use fieldops_tests::phones::{customer_phone, sync_until};
use fieldops_tests::photos as tus;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    a_customer_pays_an_invoice_from_the_phone_offline,
    payments_over_sync_are_checked_and_apply_once,
);

fn id_of(path: &str) -> DocId {
    path.rsplit('/').next().unwrap().parse().unwrap()
}

async fn a_customer_pays_an_invoice_from_the_phone_offline(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let sales = app.login_as("sales").await;
    let dir = tempfile::tempdir().unwrap();
    let phone = customer_phone(&app, &dir).await;
    assert!(phone.invoices().list(None).unwrap().is_empty());

    // A draft is not the customer's yet; the sent invoice arrives by sync.
    let path = sent_invoice(&app, "Servis panel listrik").await;
    let invoice_id = id_of(&path);
    sync_until(&phone, |p| p.invoices().get(invoice_id).is_ok()).await;
    let invoice = phone.invoices().get(invoice_id).unwrap();
    let number = app.get(&path, &cs).await.body["number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(invoice.number, number);
    assert_eq!(invoice.status, InvoiceStatus::Sent);
    assert_eq!(
        (invoice.subtotal, invoice.tax, invoice.total),
        (725_000, 79_750, 804_750)
    );
    assert_eq!(invoice.amount_due, 804_750);
    assert_eq!(invoice.lines.len(), 2);
    assert_eq!(invoice.lines[0].quantity.to_string(), "2.5");
    assert!(invoice.pdf_sha256.is_some());
    let listed = phone.invoices().list(Some(InvoiceStatus::Sent)).unwrap();
    assert_eq!(listed[0].title, number);

    // Offline: more than is due is refused on the phone, naming the field;
    // a payment with a receipt photo is queued and shown as queued.
    let receipt = testing::synthetic_jpeg(1200, 900, 5, 85);
    let too_much = phone
        .invoices()
        .pay(invoice_id, 804_751, "", &receipt, 0)
        .unwrap_err();
    assert!(
        matches!(
            too_much,
            CoreError::InvalidInput {
                field: "amount",
                ..
            }
        ),
        "{too_much:?}"
    );
    let paid = phone
        .invoices()
        .pay(invoice_id, 500_000, "BCA 0612", &receipt, 0)
        .unwrap();
    assert_eq!(paid.command.state, CommandState::Pending);
    let views = phone.invoices().payments(invoice_id).unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].state, PaymentState::Queued);
    assert_eq!(views[0].payment_id, paid.payment_id);
    assert_eq!(
        views[0].proof_sha256.as_deref(),
        Some(paid.receipt.sha256.as_str())
    );
    // What is queued counts: only Rp304.750 more may be claimed.
    let over = phone
        .invoices()
        .pay(invoice_id, 304_751, "", &receipt, 0)
        .unwrap_err();
    assert!(matches!(
        over,
        CoreError::InvalidInput {
            field: "amount",
            ..
        }
    ));
    let receipts = phone.photos().of(invoice_id).unwrap();
    assert_eq!(receipts.len(), 1, "the refused attempts left no photo");

    // Online: the payment reaches the server once, with the receipt CS may see.
    sync_until(&phone, |p| {
        p.invoices()
            .get(invoice_id)
            .is_ok_and(|i| i.status == InvoiceStatus::PaymentSubmitted)
            && p.photos().pending_uploads().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        phone.outbox().get(paid.command.command_id).unwrap().state,
        CommandState::Accepted
    );
    let on_phone = phone.invoices().get(invoice_id).unwrap();
    assert_eq!(on_phone.payments.len(), 1);
    let payment = &on_phone.payments[0];
    assert_eq!(payment.id, paid.payment_id);
    assert_eq!(payment.status, PaymentStatus::Submitted);
    assert!(payment.by_customer);
    assert_eq!(payment.reference, "BCA 0612");
    let views = phone.invoices().payments(invoice_id).unwrap();
    assert_eq!(views.len(), 1, "{views:?}");
    assert_eq!(views[0].state, PaymentState::Submitted);
    let detail = app.get(&path, &cs).await;
    assert_eq!(detail.body["status"], "payment_submitted");
    assert_eq!(
        detail.body["payments"][0]["id"],
        paid.payment_id.to_string()
    );
    assert_eq!(
        detail.body["payments"][0]["proof_sha256"],
        paid.receipt.sha256.as_str()
    );
    assert_eq!(detail.body["payments"][0]["proof_received"], true);
    let (link, bytes) = tus::download(&app, &sales, &paid.receipt.sha256, "original").await;
    assert_eq!(link.status, 200, "{:?}", link.body);
    assert_eq!(bytes.unwrap().len() as u64, paid.receipt.byte_size);

    // CS verifies it; the phone learns it by sync.
    let check = |payment: String| {
        let path = path.clone();
        let cs = cs.clone();
        let app = &app;
        async move {
            let reply = app
                .post(
                    &format!("{path}/payments/{payment}/check"),
                    &cs,
                    json!({ "verified": true }),
                )
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
        }
    };
    check(paid.payment_id.to_string()).await;
    sync_until(&phone, |p| {
        p.invoices()
            .get(invoice_id)
            .is_ok_and(|i| i.amount_due == 304_750 && i.status == InvoiceStatus::Sent)
    })
    .await;
    assert_eq!(
        phone.invoices().payments(invoice_id).unwrap()[0].state,
        PaymentState::Verified
    );

    // The rest, online this time: paid.
    let rest = phone
        .invoices()
        .pay(
            invoice_id,
            304_750,
            "",
            &testing::synthetic_jpeg(900, 1200, 6, 85),
            0,
        )
        .unwrap();
    sync_until(&phone, |p| {
        p.invoices()
            .get(invoice_id)
            .is_ok_and(|i| i.payments.len() == 2)
    })
    .await;
    check(rest.payment_id.to_string()).await;
    sync_until(&phone, |p| {
        p.invoices()
            .get(invoice_id)
            .is_ok_and(|i| i.status == InvoiceStatus::Paid && i.amount_due == 0)
    })
    .await;
    let closed = phone
        .invoices()
        .pay(invoice_id, 1, "", &receipt, 0)
        .unwrap_err();
    assert!(matches!(
        closed,
        CoreError::InvalidInput {
            field: "invoice_id",
            ..
        }
    ));

    // A credit note reverses part of it: both reach the phone, the
    // invoice now owing the customer.
    let credit = app
        .post(&format!("{path}/credit-notes"), &cs, json!({
            "reason": "MCB dikembalikan",
            "lines": [{ "kind": "material", "description": "Retur MCB", "quantity": 1, "unit_price": 300000 }],
        }))
        .await;
    assert_eq!(credit.status, 201, "{:?}", credit.body);
    let cn = format!("/api/v1/invoices/{}", credit.body["id"].as_str().unwrap());
    for (step, token) in [("submit", &cs), ("approve", &sales), ("send", &cs)] {
        let reply = app.post(&format!("{cn}/{step}"), token, json!({})).await;
        assert_eq!(reply.status, 200, "{step}: {:?}", reply.body);
    }
    let cn_id = id_of(&cn);
    sync_until(&phone, |p| {
        p.invoices().get(cn_id).is_ok()
            && p.invoices()
                .get(invoice_id)
                .is_ok_and(|i| i.amount_due == -333_000)
    })
    .await;
    let note = phone.invoices().get(cn_id).unwrap();
    assert_eq!(note.kind, fieldops_sync::billing::InvoiceKind::CreditNote);
    assert_eq!(note.credits.as_deref(), Some(number.as_str()));
    assert_eq!(note.total, 333_000);
    assert!(note.number.starts_with("CN/"));
    assert_eq!(phone.invoices().list(None).unwrap().len(), 2);
    let refund = phone.invoices().pay(cn_id, 1, "", &receipt, 0).unwrap_err();
    assert!(matches!(
        refund,
        CoreError::InvalidInput {
            field: "invoice_id",
            ..
        }
    ));
    app.stop().await;
}

fn reason(result: &CommandResult) -> Option<RejectReason> {
    match &result.outcome {
        CommandOutcome::Rejected { reason, .. } => Some(*reason),
        CommandOutcome::Accepted { .. } => None,
    }
}

async fn payments(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM invoice_payments")
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap()
}

async fn payments_over_sync_are_checked_and_apply_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let customer = app.login("customer@example.com", "customer123").await;
    let path = sent_invoice(&app, "Servis pompa air").await;
    let invoice_id = id_of(&path);
    // A draft of the same customer: not theirs to see, let alone pay.
    let hendra = demo_customer(&app, &cs).await;
    let visit = done_visit(&app, &cs, &tech, &hendra, "Servis AC").await;
    let draft = app
        .post(
            "/api/v1/invoices",
            &cs,
            json!({ "visit_ids": [visit], "lines": two_lines() }),
        )
        .await;
    let draft_id: DocId = draft.body["id"].as_str().unwrap().parse().unwrap();

    let (mut device, _) = Device::connect(app.server.addr, &customer, 0).await;
    assert_eq!(device.docs[&invoice_id].0, DocKind::Invoice);
    assert!(!device.docs.contains_key(&draft_id));
    let (technician, _) = Device::connect(app.server.addr, &tech, 0).await;
    assert!(
        technician
            .docs
            .values()
            .all(|(kind, _)| *kind != DocKind::Invoice),
        "technicians never hold invoices"
    );

    let hash = "ab".repeat(32);
    let pay = |invoice_id, amount, proof: Option<String>| CommandBody::SubmitPayment {
        invoice_id,
        payment_id: ItemId::new(),
        amount,
        reference: String::new(),
        proof_sha256: proof,
    };
    let cases = [
        (
            pay(draft_id, 1_000, Some(hash.clone())),
            RejectReason::NotFound,
        ),
        (
            pay(DocId::new(), 1_000, Some(hash.clone())),
            RejectReason::NotFound,
        ),
        (pay(invoice_id, 1_000, None), RejectReason::Invalid),
        (
            pay(invoice_id, 804_751, Some(hash.clone())),
            RejectReason::Invalid,
        ),
        (
            pay(invoice_id, 0, Some(hash.clone())),
            RejectReason::Invalid,
        ),
        (
            pay(invoice_id, 1_000, Some("AB".repeat(32))),
            RejectReason::Invalid,
        ),
    ];
    for (seq, (body, expected)) in (1..).zip(cases) {
        let result = device.run(&command(seq, body.clone())).await;
        assert_eq!(reason(&result), Some(expected), "{body:?}: {result:?}");
    }
    assert_eq!(payments(&app).await, 0, "refusals write nothing");

    // Accepted once; the replay answers the same and records nothing more.
    let good = command(10, pay(invoice_id, 250_000, Some(hash.clone())));
    let first = device.run(&good).await;
    assert_eq!(
        first.outcome,
        CommandOutcome::Accepted {
            effects: vec![invoice_id]
        }
    );
    assert_eq!(device.run(&good).await, first);
    assert_eq!(payments(&app).await, 1);
    // Its receipt never arrived: CS sees the payment and the hash it names,
    // and nobody reads bytes through it (see the console test).
    let detail = app.get(&path, &cs).await;
    assert_eq!(detail.body["status"], "payment_submitted");
    assert_eq!(detail.body["payments"][0]["proof_sha256"], hash.as_str());
    assert_eq!(detail.body["payments"][0]["proof_received"], false);
    // Nobody but the server writes the invoice document.
    device.edit(invoice_id, |doc| {
        doc.put(ROOT, "amount_due", 0).unwrap();
    });
    let answers = device.push().await;
    assert!(
        answers
            .iter()
            .any(|m| matches!(m, ServerMessage::WriteRejected(r) if r.doc_id == invoice_id)),
        "{answers:?}"
    );
    let stored = app.get(&path, &cs).await;
    assert_eq!(stored.body["amount_due"], 804_750);
    app.stop().await;
}
