//! Invoices end to end over HTTP (seed 003, FIN): a done visit is drafted,
//! returned by sales, approved and numbered, sent over WhatsApp, paid in
//! two parts with receipt photos the customer uploaded, and corrected by a
//! credit note; numbers stay gapless when approvals race and when one
//! rolls back; bad input and the wrong roles write nothing.

use fieldops_core::photo::{self, testing};
use fieldops_server::db::whatsapp;
use fieldops_server::invoices;
use fieldops_server::work::Work;
use fieldops_tests::fixtures::{
    customer_ids, demo_customer, done_visit, local_date, new_visit, sent_invoice, two_lines,
};
use fieldops_tests::photos::{self as tus, sha256_hex};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    an_invoice_goes_from_a_done_visit_to_paid_and_is_corrected_by_a_credit_note,
    approvals_racing_on_one_series_take_every_number_once,
    bad_input_and_wrong_roles_write_nothing,
    payments_write_offs_and_voids_keep_the_sums_right,
    the_whatsapp_message_links_the_pdf,
    a_pdf_receipt_is_proof_and_other_files_are_refused,
    drafts_racing_for_one_visit_make_one_invoice,
);

async fn invoice_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM invoices")
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap()
}

/// The receipt photo a customer uploads before paying.
async fn uploaded_receipt(app: &TestApp, token: &str, seed: u32) -> String {
    let receipt = photo::normalise(&testing::synthetic_jpeg(800, 600, seed, 85)).unwrap();
    let sent = tus::upload(app, token, &receipt.image, None, 1 << 20).await;
    assert!(sent.last.status.is_success(), "{:?}", sent.last.body);
    sha256_hex(&receipt.image)
}

/// Downloads the invoice's PDF as `token` and returns its text (pdftotext),
/// after checking it renders to a PNG of a sane size (pdftoppm). `None`
/// when poppler-utils is missing outside CI.
async fn pdf_text(app: &TestApp, token: &str, invoice: &str) -> Option<String> {
    let link = app.get(&format!("{invoice}/pdf"), token).await;
    assert_eq!(link.status, 200, "{:?}", link.body);
    assert_eq!(link.body["content_type"], "application/pdf");
    let url = link.body["url"].as_str().unwrap();
    let bytes = app
        .client
        .get(app.url(url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let poppler = std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok();
    if !poppler {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI=true but no pdftotext: install poppler-utils"
        );
        eprintln!("poppler-utils missing: the PDF's text and rendering are not checked");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("invoice.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let page = dir.path().join("page");
    let rendered = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "72", "-singlefile"])
        .arg(&file)
        .arg(&page)
        .status()
        .unwrap();
    assert!(rendered.success());
    let png = std::fs::read(dir.path().join("page.png")).unwrap();
    let image = image::load_from_memory(&png).unwrap();
    // A4 at 72 dpi: 595.3 × 841.9 points.
    let (w, h) = (image.width(), image.height());
    assert!(
        (594..=596).contains(&w) && (841..=843).contains(&h),
        "{w} × {h}"
    );
    assert!(png.len() > 10_000, "an empty page? {} bytes", png.len());
    let text = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&file)
        .arg("-")
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&text.stdout).into_owned())
}

async fn an_invoice_goes_from_a_done_visit_to_paid_and_is_corrected_by_a_credit_note(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let sales = app.login_as("sales").await;
    let admin = app.login_as("admin").await;
    let tech = app.login_as("technician").await;
    let customer = app.login_as("customer").await;
    let hendra = demo_customer(&app, &cs).await;
    let visit = done_visit(&app, &cs, &tech, &hendra, "Panel listrik").await;

    // CS drafts with two lines; the server prices them and adds PPN:
    // 2,5 × 150.000 + 350.000 = 725.000; PPN 11 % (12 % of 11/12) = 79.750.
    let draft = app
        .post(
            "/api/v1/invoices",
            &cs,
            json!({ "visit_ids": [visit], "lines": two_lines() }),
        )
        .await;
    assert_eq!(draft.status, 201, "{:?}", draft.body);
    let id = draft.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/invoices/{id}");
    assert_eq!(draft.body["status"], "draft");
    assert_eq!(
        draft.body["number"],
        Value::Null,
        "numbered only at approval"
    );
    assert_eq!(draft.body["lines"][0]["quantity"], "2.5");
    assert_eq!(draft.body["lines"][0]["amount"], 375_000);
    assert_eq!(draft.body["subtotal"], 725_000);
    assert_eq!(draft.body["tax_base"], 664_583);
    assert_eq!(draft.body["tax"], 79_750);
    assert_eq!(draft.body["total"], 804_750);
    assert_eq!(draft.body["visit_ids"], json!([visit]));
    // The customer does not see a draft; the visit is not invoiced twice.
    app.get(&path, &customer).await.assert_problem(404);
    let twice = app
        .post(
            "/api/v1/invoices",
            &cs,
            json!({ "visit_ids": [visit], "lines": two_lines() }),
        )
        .await;
    assert_eq!(twice.assert_problem(422), "validation");
    assert!(
        twice.body["errors"][0]["field"] == "visit_ids[0]",
        "{:?}",
        twice.body
    );

    // Submitted; sales return it with a comment; CS edits and resubmits.
    let submitted = app.post(&format!("{path}/submit"), &cs, json!({})).await;
    assert_eq!(submitted.body["status"], "pending_approval");
    app.patch(&path, &cs, json!({ "notes": "x" }))
        .await
        .assert_problem(409);
    let returned = app
        .post(
            &format!("{path}/return"),
            &sales,
            json!({ "comment": "Harga MCB terlalu tinggi" }),
        )
        .await;
    assert_eq!(returned.status, 200, "{:?}", returned.body);
    assert_eq!(returned.body["status"], "draft");
    assert_eq!(returned.body["return_comment"], "Harga MCB terlalu tinggi");
    let stale = app
        .patch(&path, &cs, json!({ "notes": "x", "version": 1 }))
        .await;
    assert_eq!(stale.assert_problem(409), "version_mismatch");
    let mut lines = two_lines();
    lines[1]["unit_price"] = json!(300_000);
    let edited = app
        .patch(
            &path,
            &cs,
            json!({ "lines": lines, "version": returned.body["version"] }),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(edited.body["subtotal"], 675_000);
    assert_eq!(edited.body["tax"], 74_250);
    assert_eq!(edited.body["total"], 749_250);
    app.post(&format!("{path}/submit"), &cs, json!({})).await;

    // CS may not approve; sales approve and the number is the first of the year.
    app.post(&format!("{path}/approve"), &cs, json!({}))
        .await
        .assert_problem(403);
    let approved = app
        .post(&format!("{path}/approve"), &sales, json!({}))
        .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    let year = &local_date(0)[..4];
    let number = format!("INV/{year}/000001");
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["number"], number.as_str());
    assert_eq!(approved.body["issued_on"], local_date(0).as_str());
    assert_eq!(approved.body["return_comment"], Value::Null);
    // Found by its number as people type it, or its sequence alone.
    for search in [format!("inv/{year}/1"), "1".to_owned()] {
        let found = app
            .get(
                &format!("/api/v1/invoices?search={}", search.replace('/', "%2F")),
                &sales,
            )
            .await;
        assert_eq!(found.body["items"][0]["id"], id.as_str(), "{search}");
    }
    let locked = app.patch(&path, &cs, json!({ "lines": two_lines() })).await;
    assert_eq!(locked.assert_problem(409), "invoice_locked");

    // Sent: the customer sees it and is told over WhatsApp, in Bahasa Indonesia.
    let sent = app.post(&format!("{path}/send"), &cs, json!({})).await;
    assert_eq!(sent.body["status"], "sent");
    let outbox = whatsapp::outbox(&app.server.state.db).await.unwrap();
    let message = outbox.iter().find(|m| m.body.contains(&number)).unwrap();
    assert_eq!(message.to_phone, "+6281210000001");
    assert!(message.body.contains("Rp749.250"), "{}", message.body);
    assert!(message.body.starts_with("Halo Hendra"), "{}", message.body);
    // The PDF was made once, at sending; the customer downloads it.
    let text = pdf_text(&app, &customer, &path).await;
    if let Some(text) = text {
        for printed in [
            number.as_str(),
            "Rp749.250",
            "Rp74.250",
            "PPN 12%",
            "Hendra Gunawan",
            "tujuh ratus empat puluh sembilan ribu dua ratus lima puluh rupiah",
        ] {
            assert!(text.contains(printed), "{printed} not in the PDF:\n{text}");
        }
    }
    let mine = app.get("/api/v1/invoices", &customer).await;
    assert_eq!(mine.body["items"][0]["number"], number.as_str());
    let seen = app.get(&path, &customer).await;
    assert_eq!(seen.status, 200);
    assert_eq!(
        seen.body["drafted_by"],
        Value::Null,
        "staff details stay inside"
    );
    app.post(
        &format!("{path}/void"),
        &admin,
        json!({ "reason": "salah" }),
    )
    .await
    .assert_problem(409);

    // The customer pays half with a receipt photo; CS verifies it.
    let receipt = uploaded_receipt(&app, &customer, 1).await;
    let too_much = app
        .post(
            &format!("{path}/payments"),
            &customer,
            json!({ "amount": 749_251, "proof_sha256": receipt }),
        )
        .await;
    assert_eq!(too_much.assert_problem(422), "validation");
    let no_proof = app
        .post(
            &format!("{path}/payments"),
            &customer,
            json!({ "amount": 400_000 }),
        )
        .await;
    assert_eq!(no_proof.assert_problem(422), "validation");
    let paid_half = app
        .post(
            &format!("{path}/payments"),
            &customer,
            json!({ "amount": 400_000, "proof_sha256": receipt, "reference": "BCA 123" }),
        )
        .await;
    assert_eq!(paid_half.status, 201, "{:?}", paid_half.body);
    assert_eq!(paid_half.body["status"], "payment_submitted");
    let payment = paid_half.body["payments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        paid_half.body["payments"][0]["submitted_by"],
        Value::Null,
        "a customer sees no staff or account ids"
    );
    // Sales, who may see the invoice, may see its receipt.
    let (link, bytes) = tus::download(&app, &sales, &receipt, "original").await;
    assert_eq!(link.status, 200, "{:?}", link.body);
    assert!(bytes.is_some());
    let verified = app
        .post(
            &format!("{path}/payments/{payment}/check"),
            &cs,
            json!({ "verified": true }),
        )
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(verified.body["status"], "sent");
    assert_eq!(verified.body["amount_due"], 349_250);
    app.post(
        &format!("{path}/payments/{payment}/check"),
        &cs,
        json!({ "verified": true }),
    )
    .await
    .assert_problem(409);

    // The rest, with a second receipt: paid.
    let second = uploaded_receipt(&app, &customer, 2).await;
    let rest = app
        .post(
            &format!("{path}/payments"),
            &customer,
            json!({ "amount": 349_250, "proof_sha256": second }),
        )
        .await;
    let payment = rest.body["payments"][1]["id"].as_str().unwrap().to_owned();
    let paid = app
        .post(
            &format!("{path}/payments/{payment}/check"),
            &cs,
            json!({ "verified": true }),
        )
        .await;
    assert_eq!(paid.body["status"], "paid");
    assert_eq!(paid.body["amount_due"], 0);
    assert!(paid.body["paid_at"].is_string());

    // A credit note corrects part of it: its own series, approved and sent.
    let credit = app
        .post(&format!("{path}/credit-notes"), &cs, json!({
            "reason": "MCB dikembalikan",
            "lines": [{ "kind": "material", "description": "Retur MCB", "quantity": 1, "unit_price": 300000 }],
        }))
        .await;
    assert_eq!(credit.status, 201, "{:?}", credit.body);
    assert_eq!(credit.body["kind"], "credit_note");
    assert_eq!(credit.body["credits_id"], id.as_str());
    let cn = format!("/api/v1/invoices/{}", credit.body["id"].as_str().unwrap());
    app.post(&format!("{cn}/submit"), &cs, json!({})).await;
    let cn_approved = app.post(&format!("{cn}/approve"), &sales, json!({})).await;
    assert_eq!(
        cn_approved.body["number"],
        format!("CN/{year}/000001").as_str()
    );
    app.post(&format!("{cn}/send"), &cs, json!({})).await;
    if let Some(text) = pdf_text(&app, &customer, &cn).await {
        assert!(
            text.contains("NOTA KREDIT") && text.contains(&number),
            "{text}"
        );
    }
    let corrected = app.get(&path, &cs).await;
    assert_eq!(corrected.body["credit_notes"][0]["total"], 333_000);
    assert_eq!(
        corrected.body["amount_due"], -333_000,
        "owed back to the customer"
    );
    // No credit beyond the invoice.
    let beyond = app
        .post(&format!("{path}/credit-notes"), &cs, json!({
            "reason": "lagi",
            "lines": [{ "kind": "other", "description": "Semua", "quantity": 1, "unit_price": 700000 }],
        }))
        .await;
    assert_eq!(beyond.assert_problem(422), "validation");

    // The audit trail has every step.
    let steps: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE entity_id = $1 ORDER BY at, id")
            .bind(&id)
            .fetch_all(app.server.state.db.pool())
            .await
            .unwrap();
    for step in [
        "invoice.drafted",
        "invoice.returned",
        "invoice.approved",
        "invoice.sent",
        "invoice.payment_verified",
        "invoice.paid",
    ] {
        assert!(
            steps.iter().any(|s| s == step),
            "{step} missing from {steps:?}"
        );
    }
    app.stop().await;
}

async fn approvals_racing_on_one_series_take_every_number_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let sales = app.login_as("sales").await;
    let admin = app.login_as("admin").await;
    let hendra = demo_customer(&app, &cs).await;
    let db = &app.server.state.db;
    const N: usize = 200;

    // Setup shortcut: the visits are made over HTTP and marked done in the
    // database (the field flow has its own tests); everything after is the API.
    let mut ids = Vec::with_capacity(N);
    for n in 0..N {
        let visit = new_visit(
            &app,
            &cs,
            &hendra,
            &format!("Servis {n}"),
            &local_date(1),
            1,
            1,
        )
        .await;
        let visit = visit["id"].as_str().unwrap().to_owned();
        sqlx::query("UPDATE visits SET status = 'done' WHERE id = $1")
            .bind(&visit)
            .execute(db.pool())
            .await
            .unwrap();
        let draft = app
            .post(
                "/api/v1/invoices",
                &cs,
                json!({ "visit_ids": [visit], "lines": two_lines() }),
            )
            .await;
        assert_eq!(draft.status, 201, "{:?}", draft.body);
        let id = draft.body["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/invoices/{id}/submit"), &cs, json!({}))
            .await;
        ids.push(id);
    }

    // A crash in the middle: an approval whose transaction never commits
    // gives its number back.
    let sales_actor = fieldops_server::auth::Actor {
        user_id: app.token_for("sales@example.com").await.0,
        session_id: "crash".into(),
        role: fieldops_server::domain::Role::Sales,
        name: "Sales".into(),
        customer_id: None,
        department_ids: vec![],
    };
    let mut work = Work::begin(&app.server.state).await.unwrap();
    let lost = invoices::approve(work.tx(), &app.server.state, &sales_actor, &ids[0])
        .await
        .unwrap();
    assert!(lost.value.number.unwrap().ends_with("/000001"));
    drop(work);

    // Every approval at once, from two approvers.
    let approvals = ids.iter().enumerate().map(|(n, id)| {
        let app = &app;
        let token = if n % 2 == 0 { &sales } else { &admin };
        async move {
            app.post(&format!("/api/v1/invoices/{id}/approve"), token, json!({}))
                .await
        }
    });
    let replies = futures_util::future::join_all(approvals).await;
    let mut sequences: Vec<i64> = Vec::with_capacity(N);
    for reply in &replies {
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let number = reply.body["number"].as_str().unwrap();
        sequences.push(number.rsplit('/').next().unwrap().parse().unwrap());
    }
    sequences.sort_unstable();
    assert_eq!(
        sequences,
        (1..=N as i64).collect::<Vec<_>>(),
        "gapless, no duplicates"
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT number) FROM invoices WHERE number IS NOT NULL")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(stored, N as i64);
    app.stop().await;
}

async fn bad_input_and_wrong_roles_write_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let sales = app.login_as("sales").await;
    let tech = app.login_as("technician").await;
    let customer = app.login_as("customer").await;
    let before = invoice_count(&app).await;
    let customers = customer_ids(&app, &cs).await;
    let hendra = demo_customer(&app, &cs).await;
    let other = customers
        .iter()
        .find(|(id, _)| *id != hendra)
        .unwrap()
        .0
        .clone();
    let done = done_visit(&app, &cs, &tech, &hendra, "Selesai").await;
    let open = new_visit(&app, &cs, &hendra, "Belum", &local_date(2), 1, 1).await;
    let open = open["id"].as_str().unwrap().to_owned();
    let theirs = new_visit(&app, &cs, &other, "Milik orang lain", &local_date(2), 1, 1).await;
    let theirs = theirs["id"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE visits SET status = 'done' WHERE id = $1")
        .bind(&theirs)
        .execute(app.server.state.db.pool())
        .await
        .unwrap();
    let line = |quantity: Value, price: Value| json!([{ "kind": "labour", "description": "Kerja", "quantity": quantity, "unit_price": price }]);
    let unknown = "0190b4d2-0000-7000-8000-000000000000";
    let cases = [
        (
            json!({ "visit_ids": [done], "lines": line(json!(-1), json!(1000)) }),
            "lines[0].quantity",
        ),
        (
            json!({ "visit_ids": [done], "lines": line(json!(0), json!(1000)) }),
            "lines[0].quantity",
        ),
        (
            json!({ "visit_ids": [done], "lines": line(json!("1.2345"), json!(1000)) }),
            "lines[0].quantity",
        ),
        (
            json!({ "visit_ids": [done], "lines": line(json!("abc"), json!(1000)) }),
            "lines[0].quantity",
        ),
        (
            json!({ "visit_ids": [done], "lines": line(json!(1), json!(-5)) }),
            "lines[0].unit_price",
        ),
        (
            json!({ "visit_ids": [done], "lines": line(json!(1), json!(1_000_000_000_001_i64)) }),
            "lines[0].unit_price",
        ),
        (
            json!({ "visit_ids": [done], "lines": line(json!(1_000_000), json!(1_000_000_000_000_i64)) }),
            "lines[0].amount",
        ),
        (
            json!({ "visit_ids": [unknown], "lines": line(json!(1), json!(1000)) }),
            "visit_ids[0]",
        ),
        (
            json!({ "visit_ids": [open], "lines": line(json!(1), json!(1000)) }),
            "visit_ids[0]",
        ),
        (
            json!({ "visit_ids": [], "lines": line(json!(1), json!(1000)) }),
            "visit_ids",
        ),
        (
            json!({ "visit_ids": [done, theirs], "lines": line(json!(1), json!(1000)) }),
            "visit_ids[1]",
        ),
        (
            json!({ "visit_ids": [done], "lines": line(json!(1), json!(1000)), "tax_invoice_number": "123" }),
            "tax_invoice_number",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post("/api/v1/invoices", &cs, body.clone()).await;
        assert_eq!(reply.assert_problem(422), "validation", "{body}");
        let fields: Vec<&str> = reply.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?} lacks {field}");
    }
    // Many big lines: the total overflows, refused.
    let huge: Vec<Value> = (0..100)
        .map(|_| json!({ "kind": "material", "description": "Trafo", "quantity": 999_999, "unit_price": 1_000_000_000_000_i64 }))
        .collect();
    let reply = app
        .post(
            "/api/v1/invoices",
            &cs,
            json!({ "visit_ids": [done], "lines": huge }),
        )
        .await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    // Wrong roles.
    let ok = json!({ "visit_ids": [done], "lines": line(json!(1), json!(1000)) });
    app.post("/api/v1/invoices", &sales, ok.clone())
        .await
        .assert_problem(403);
    app.post("/api/v1/invoices", &tech, ok.clone())
        .await
        .assert_problem(403);
    app.post("/api/v1/invoices", &customer, ok.clone())
        .await
        .assert_problem(403);
    app.get("/api/v1/invoices", &tech).await.assert_problem(403);
    assert_eq!(invoice_count(&app).await, before, "nothing was written");

    // The drafter never approves their own invoice, even as an admin.
    let admin = app.login_as("admin").await;
    let own = app.post("/api/v1/invoices", &admin, ok.clone()).await;
    assert_eq!(own.status, 201, "{:?}", own.body);
    let own = format!("/api/v1/invoices/{}", own.body["id"].as_str().unwrap());
    app.post(&format!("{own}/submit"), &admin, json!({})).await;
    let refused = app.post(&format!("{own}/approve"), &admin, json!({})).await;
    assert_eq!(refused.assert_problem(403), "approver_is_drafter");
    app.post(&format!("{own}/send"), &cs, json!({}))
        .await
        .assert_problem(409);
    // A payment on an invoice that was not sent, and a proof nobody uploaded.
    let fake = "a".repeat(64);
    let early = app
        .post(
            &format!("{own}/payments"),
            &cs,
            json!({ "amount": 10, "proof_sha256": fake }),
        )
        .await;
    assert_eq!(early.assert_problem(409), "invoice_status");
    let counters: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invoice_counters")
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(counters, 0, "no number was taken by a refused approval");
    // Voided by an admin, the visit may be invoiced again.
    let voided = app
        .post(
            &format!("{own}/void"),
            &admin,
            json!({ "reason": "Salah harga" }),
        )
        .await;
    assert_eq!(voided.body["status"], "void");
    let again = app.post("/api/v1/invoices", &cs, ok).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    app.stop().await;
}

async fn payments_write_offs_and_voids_keep_the_sums_right(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let sales = app.login_as("sales").await;
    let admin = app.login_as("admin").await;
    let tech = app.login_as("technician").await;
    let customer = app.login_as("customer").await;
    let path = sent_invoice(&app, "Servis genset").await;

    // Another customer neither sees the invoice nor pays it, nor passes
    // their own receipt off as this one's.
    let other = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({
                "name": "Rina Kusuma", "email": "rina@example.com", "phone": "+6281299990001",
                "password": "rahasia-123",
            })),
        )
        .await;
    assert_eq!(other.status, 201, "{:?}", other.body);
    let other = app.login("rina@example.com", "rahasia-123").await;
    app.get(&path, &other).await.assert_problem(404);
    let theirs = uploaded_receipt(&app, &other, 7).await;
    app.post(
        &format!("{path}/payments"),
        &other,
        json!({ "amount": 1000, "proof_sha256": theirs }),
    )
    .await
    .assert_problem(404);
    assert!(
        app.get("/api/v1/invoices", &other).await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let stolen = app
        .post(
            &format!("{path}/payments"),
            &customer,
            json!({ "amount": 1000, "proof_sha256": theirs }),
        )
        .await;
    assert_eq!(stolen.assert_problem(422), "validation");
    assert_eq!(stolen.body["errors"][0]["field"], "proof_sha256");

    // Proofs never add up to more than is due: 800.000 waits, so only
    // 4.750 more may be claimed.
    let receipt = uploaded_receipt(&app, &customer, 8).await;
    let first = app
        .post(
            &format!("{path}/payments"),
            &customer,
            json!({ "amount": 800_000, "proof_sha256": receipt }),
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = app
        .post(
            &format!("{path}/payments"),
            &customer,
            json!({ "amount": 800_000, "proof_sha256": receipt }),
        )
        .await;
    assert_eq!(again.assert_problem(422), "validation");
    // No write-off while a payment waits to be checked.
    let early = app
        .post(
            &format!("{path}/write-off"),
            &sales,
            json!({ "reason": "Diskon" }),
        )
        .await;
    assert_eq!(early.assert_problem(409), "payments_unchecked");
    let payment = first.body["payments"][0]["id"].as_str().unwrap();
    let rejected = app
        .post(
            &format!("{path}/payments/{payment}/check"),
            &cs,
            json!({ "verified": false, "reason": "Dana belum masuk" }),
        )
        .await;
    assert_eq!(rejected.body["status"], "sent");
    assert_eq!(
        rejected.body["payments"][0]["reject_reason"],
        "Dana belum masuk"
    );
    // CS record 800.000 seen on the bank statement; sales write off 4.750.
    let seen = app
        .post(
            &format!("{path}/payments"),
            &cs,
            json!({ "amount": 800_000, "reference": "BCA 7781" }),
        )
        .await;
    let payment = seen.body["payments"][1]["id"].as_str().unwrap();
    app.post(
        &format!("{path}/payments/{payment}/check"),
        &cs,
        json!({ "verified": true }),
    )
    .await;
    app.post(&format!("{path}/write-off"), &cs, json!({ "reason": "x" }))
        .await
        .assert_problem(403);
    let written = app
        .post(
            &format!("{path}/write-off"),
            &sales,
            json!({ "reason": "Selisih transfer" }),
        )
        .await;
    assert_eq!(written.status, 200, "{:?}", written.body);
    assert_eq!(written.body["status"], "paid");
    assert_eq!(written.body["written_off"], 4_750);
    assert_eq!(written.body["amount_due"], 0);
    // A credit note may give back what was paid, not what was written off.
    let too_much = app
        .post(&format!("{path}/credit-notes"), &cs, json!({
            "reason": "Retur", "lines": [{ "kind": "other", "description": "Semua", "quantity": 1, "unit_price": 725_000 }],
        }))
        .await;
    assert_eq!(too_much.assert_problem(422), "validation");

    // A voided numbered invoice keeps its number, and its visit is free.
    let hendra = demo_customer(&app, &cs).await;
    let visit = done_visit(&app, &cs, &tech, &hendra, "Cek kabel").await;
    let draft = app
        .post(
            "/api/v1/invoices",
            &cs,
            json!({ "visit_ids": [visit], "lines": two_lines() }),
        )
        .await;
    let second = format!("/api/v1/invoices/{}", draft.body["id"].as_str().unwrap());
    // An invoiced visit is not reopened.
    let reopen = app
        .post(
            &format!("/api/v1/visits/{visit}/reopen"),
            &cs,
            json!({ "reason": "Belum beres" }),
        )
        .await;
    assert_eq!(reopen.assert_problem(409), "visit_invoiced");
    app.post(&format!("{second}/submit"), &cs, json!({})).await;
    let numbered = app
        .post(&format!("{second}/approve"), &sales, json!({}))
        .await;
    let number = numbered.body["number"].as_str().unwrap().to_owned();
    let voided = app
        .post(
            &format!("{second}/void"),
            &admin,
            json!({ "reason": "Harga salah" }),
        )
        .await;
    assert_eq!(voided.body["status"], "void");
    assert_eq!(voided.body["number"], number.as_str());
    assert_eq!(voided.body["void_reason"], "Harga salah");
    let again = app
        .post(
            "/api/v1/invoices",
            &cs,
            json!({ "visit_ids": [visit], "lines": two_lines() }),
        )
        .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    app.stop().await;
}

async fn the_whatsapp_message_links_the_pdf(backend: Backend) {
    let base = "https://fieldops.example.co.id";
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.public_url = Some(base.to_owned());
    })
    .await
    else {
        return;
    };
    let path = sent_invoice(&app, "Servis pompa").await;
    let number = app.get(&path, &app.login_as("cs").await).await.body["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let outbox = whatsapp::outbox(&app.server.state.db).await.unwrap();
    let message = outbox.iter().find(|m| m.body.contains(&number)).unwrap();
    let at = message.body.find(base).expect("a link in the message");
    let link = message.body[at + base.len()..]
        .split_whitespace()
        .next()
        .unwrap();
    assert!(link.starts_with("/api/v1/files/"), "{}", message.body);
    // Whoever holds the message downloads the PDF, without signing in.
    let response = app.client.get(app.url(link)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF-"));
    app.stop().await;
}

/// A bank's PDF statement is as good a receipt as a photo: uploaded,
/// attached to a payment, readable by staff through the invoice, shown by
/// the console as a link. A file that is neither an image nor a PDF, or a
/// PDF cut short, is refused on upload with a clear problem.
async fn a_pdf_receipt_is_proof_and_other_files_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let sales = app.login_as("sales").await;
    let path = sent_invoice(&app, "Servis lift").await;
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend(b"1 0 obj << /Type /Catalog >> endobj\n".repeat(40));
    pdf.extend(b"trailer << /Root 1 0 R >>\n%%EOF\n");
    let sent = tus::upload(&app, &customer, &pdf, None, 1 << 20).await;
    assert!(sent.last.status.is_success(), "{:?}", sent.last.body);
    let hash = sha256_hex(&pdf);
    let paid = app
        .post(
            &format!("{path}/payments"),
            &customer,
            json!({ "amount": 100_000, "proof_sha256": hash, "reference": "Mutasi BCA" }),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let (link, bytes) = tus::download(&app, &sales, &hash, "original").await;
    assert_eq!(link.status, 200, "{:?}", link.body);
    assert_eq!(link.body["content_type"], "application/pdf");
    assert_eq!(bytes.unwrap(), pdf);
    // A PDF has no thumbnail: a clear refusal, not a server error.
    let thumb = app
        .get(
            &format!("/api/v1/blobs/{hash}/link?variant=thumbnail"),
            &sales,
        )
        .await;
    assert_eq!(thumb.assert_problem(422), "not-an-image");

    let words = "Bukti transfer: Rp100.000 ke rekening BCA. "
        .repeat(100)
        .into_bytes();
    let refused = tus::upload(&app, &customer, &words, None, 1 << 20).await;
    assert_eq!(refused.last.assert_problem(422), "not-an-image");
    let cut = pdf[..pdf.len() - 10].to_vec();
    let refused = tus::upload(&app, &customer, &cut, None, 1 << 20).await;
    assert_eq!(refused.last.assert_problem(422), "corrupt-pdf");
    for bytes in [&words, &cut] {
        let reply = app
            .post(
                &format!("{path}/payments"),
                &customer,
                json!({ "amount": 1_000, "proof_sha256": sha256_hex(bytes) }),
            )
            .await;
        assert_eq!(reply.assert_problem(422), "validation");
        assert_eq!(reply.body["errors"][0]["field"], "proof_sha256");
    }
    app.stop().await;
}

/// Two CS agents draft an invoice for the same done visit at the same
/// instant: one draft is made, the other is told the visit is invoiced
/// (whether it lost at the check or at the unique index), and nothing of it
/// is left behind.
async fn drafts_racing_for_one_visit_make_one_invoice(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let admin = app.login_as("admin").await;
    let tech = app.login_as("technician").await;
    let hendra = demo_customer(&app, &cs).await;
    let before = invoice_count(&app).await;
    for round in 0..5 {
        let visit = done_visit(&app, &cs, &tech, &hendra, &format!("Servis pompa {round}")).await;
        let body = json!({ "visit_ids": [visit], "lines": two_lines() });
        let (a, b) = tokio::join!(
            app.post("/api/v1/invoices", &cs, body.clone()),
            app.post("/api/v1/invoices", &admin, body.clone()),
        );
        let (winner, loser) = if a.status == 201 { (&a, &b) } else { (&b, &a) };
        assert_eq!(winner.status, 201, "{:?}", winner.body);
        assert_eq!(loser.assert_problem(422), "validation");
        let field = loser.body["errors"][0]["field"].as_str().unwrap();
        assert!(field.starts_with("visit_ids"), "{:?}", loser.body);
    }
    assert_eq!(invoice_count(&app).await, before + 5);
    app.stop().await;
}
