//! Journeys (issue 23): an admin builds, checks, publishes, edits and
//! retires an intake form; a customer fills it in over HTTP and from a
//! phone's sync session; the ticket opens with the category, priority and
//! department of the end reached and carries the answers; tampered,
//! incomplete and stale submissions are refused with the question named.

use fieldops_core::photo::testing::synthetic_jpeg;
use fieldops_sync::commands::{CommandBody, CommandOutcome, RejectReason};
use fieldops_sync::ids::{DocId, DocKind};
use fieldops_sync::journey::Answers;
use fieldops_sync::protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
use fieldops_sync::testing::sample_journey;
use fieldops_tests::device::{Device, command};
use fieldops_tests::fixtures::department_id;
use fieldops_tests::photos::{sha256_hex, upload};
use fieldops_tests::{Backend, Reply, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    admins_build_publish_edit_and_retire_a_journey,
    a_customer_submits_and_the_ticket_is_routed_by_the_end_reached,
    a_phone_receives_journeys_and_submits_one_offline_by_command,
    a_customer_phone_walks_a_journey_offline_with_photos,
    an_older_app_is_served_without_what_its_version_lacks,
);

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    app.call(method, path, Some(token), body).await
}

/// The demo journey, its device ends routed to `field`.
fn definition(field: &str) -> Value {
    let mut def = serde_json::to_value(sample_journey()).unwrap();
    for node in def["nodes"].as_array_mut().unwrap() {
        if node["type"] == "end" && node["outcome"]["category"] == "technical" {
            node["outcome"]["department_id"] = json!(field);
        }
    }
    def
}

fn field_names(reply: &Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {:?}", reply.body))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates and publishes the demo journey; returns its id.
async fn published(app: &TestApp, admin: &str, field: &str) -> String {
    let created = call(
        app,
        Method::POST,
        "/api/v1/journeys",
        admin,
        Some(json!({ "definition": definition(field) })),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["journey_id"].as_str().unwrap().to_owned();
    let done = call(
        app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/publish"),
        admin,
        None,
    )
    .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    id
}

async fn admins_build_publish_edit_and_retire_a_journey(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let customer = app.login("customer@example.com", "customer123").await;
    let field = department_id(&app, &admin, "Field Service").await;

    // Only admins build journeys.
    call(
        &app,
        Method::POST,
        "/api/v1/journeys",
        &cs,
        Some(json!({ "definition": definition(&field) })),
    )
    .await
    .assert_problem(403);
    app.get("/api/v1/journeys", &customer)
        .await
        .assert_problem(403);

    // A draft may be broken; publishing names every offending node.
    let mut broken = definition(&field);
    broken["nodes"][0]["rules"][1]["goto"] = json!("tagihan_lama");
    broken["nodes"][5]["next"] = json!("perangkat");
    broken["nodes"][7]["outcome"]["category"] = json!("astrologi");
    let created = call(
        &app,
        Method::POST,
        "/api/v1/journeys",
        &admin,
        Some(json!({ "definition": broken.clone() })),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["status"], "draft");
    assert_eq!(created.body["version"], 1);
    let id = created.body["journey_id"].as_str().unwrap().to_owned();
    let refused = call(
        &app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/publish"),
        &admin,
        None,
    )
    .await;
    refused.assert_problem(422);
    let fields = field_names(&refused);
    assert!(
        fields.contains(&"nodes.jenis.rules[1].goto".to_owned()),
        "{fields:?}"
    );
    assert!(fields.contains(&"nodes.foto.next".to_owned()), "{fields:?}");
    let checked = call(
        &app,
        Method::POST,
        "/api/v1/journeys/check",
        &admin,
        Some(json!({ "definition": broken })),
    )
    .await;
    assert_eq!(field_names(&checked), fields, "check and publish agree");
    // The server's own check (categories it knows) once the shape is right.
    let mut unknown_category = definition(&field);
    unknown_category["nodes"][7]["outcome"]["category"] = json!("astrologi");
    let checked = call(
        &app,
        Method::POST,
        "/api/v1/journeys/check",
        &admin,
        Some(json!({ "definition": unknown_category })),
    )
    .await;
    assert_eq!(
        field_names(&checked),
        ["nodes.selesai_tagihan.outcome.category"]
    );
    // Not JSON of a definition at all: 422 naming the body, nothing saved.
    let garbage = call(
        &app,
        Method::POST,
        "/api/v1/journeys",
        &admin,
        Some(json!({ "definition": { "nodes": 3 } })),
    )
    .await;
    garbage.assert_problem(422);

    // Fixed and published: customers get it.
    let saved = call(
        &app,
        Method::PUT,
        &format!("/api/v1/journeys/{id}/draft"),
        &admin,
        Some(json!({ "definition": definition(&field) })),
    )
    .await;
    assert_eq!(
        (saved.status.as_u16(), saved.body["version"].clone()),
        (200, json!(1))
    );
    let done = call(
        &app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/publish"),
        &admin,
        None,
    )
    .await;
    assert_eq!(done.body["status"], "published", "{:?}", done.body);
    let offered = app.get("/api/v1/journeys/published", &customer).await;
    assert_eq!(
        offered.body.as_array().unwrap().len(),
        1,
        "{:?}",
        offered.body
    );
    assert_eq!(
        offered.body[0]["definition"]["title"]["id"],
        "Keluhan Layanan"
    );

    // Editing a published journey makes version 2; version 1 stays as it was.
    let mut edited = definition(&field);
    edited["title"]["en"] = json!("Service complaints");
    let saved = call(
        &app,
        Method::PUT,
        &format!("/api/v1/journeys/{id}/draft"),
        &admin,
        Some(json!({ "definition": edited })),
    )
    .await;
    assert_eq!(
        (saved.body["version"].clone(), saved.body["status"].clone()),
        (json!(2), json!("draft"))
    );
    let offered = app.get("/api/v1/journeys/published", &customer).await;
    assert_eq!(
        offered.body[0]["definition"]["title"]["en"],
        "Service complaint"
    );
    call(
        &app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/publish"),
        &admin,
        None,
    )
    .await;
    let detail = app.get(&format!("/api/v1/journeys/{id}"), &admin).await;
    let statuses: Vec<_> = detail.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [(2, "published".to_owned()), (1, "retired".to_owned())]
    );
    let list = app.get("/api/v1/journeys", &admin).await;
    assert_eq!(list.body[0]["published_version"], 2);
    assert_eq!(list.body[0]["title_en"], "Service complaints");

    // Publishing twice: nothing left to publish.
    call(
        &app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/publish"),
        &admin,
        None,
    )
    .await
    .assert_problem(409);
    // Retired: no longer offered.
    let retired = call(
        &app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/retire"),
        &admin,
        None,
    )
    .await;
    assert_eq!(retired.body["status"], "retired", "{:?}", retired.body);
    let offered = app.get("/api/v1/journeys/published", &customer).await;
    assert_eq!(offered.body, json!([]));
    call(
        &app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/retire"),
        &admin,
        None,
    )
    .await
    .assert_problem(409);
    app.stop().await;
}

fn leak_answers() -> Value {
    json!({
        "jenis": { "choice": "perangkat_rusak" },
        "perangkat": { "choice": "ac" },
        "kerusakan": { "choices": ["bocor"] },
    })
}

async fn submit(
    app: &TestApp,
    token: &str,
    id: &str,
    version: i64,
    started: i64,
    answers: Value,
) -> Reply {
    call(
        app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/submissions"),
        token,
        Some(json!({ "version": version, "started_at_ms": started, "answers": answers })),
    )
    .await
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

async fn a_customer_submits_and_the_ticket_is_routed_by_the_end_reached(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let customer = app.login("customer@example.com", "customer123").await;
    let field = department_id(&app, &admin, "Field Service").await;
    let id = published(&app, &admin, &field).await;
    let started = now_ms();

    // The leak branch: urgent, technical, to Field Service.
    let made = submit(&app, &customer, &id, 1, started, leak_answers()).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert_eq!(made.body["priority"], "urgent");
    assert_eq!(made.body["category"], "technical");
    assert_eq!(made.body["department_id"], field.as_str());
    assert_eq!(made.body["subject"], "Keluhan Layanan: Perangkat rusak");
    let ticket = made.body["id"].as_str().unwrap().to_owned();

    // Staff read the answers with the questions of version 1.
    let answers = app
        .get(&format!("/api/v1/tickets/{ticket}/journey"), &admin)
        .await;
    assert_eq!(answers.status, 200, "{:?}", answers.body);
    assert_eq!(answers.body["end_id"], "selesai_darurat");
    assert_eq!(answers.body["propose_visit"], true);
    let words: Vec<_> = answers.body["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["answer_en"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(words, ["A broken device", "Air conditioner", "Leaking"]);
    // The customer sees their own; CS outside Field Service does not.
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{ticket}/journey"), &customer)
            .await
            .status,
        200
    );
    app.get(&format!("/api/v1/tickets/{ticket}/journey"), &cs)
        .await
        .assert_problem(403);
    // A ticket opened without a journey has none.
    let plain = call(
        &app,
        Method::POST,
        "/api/v1/tickets",
        &customer,
        Some(json!({"subject": "Halo", "description": "", "category": "general"})),
    )
    .await;
    let plain = plain.body["id"].as_str().unwrap().to_owned();
    app.get(&format!("/api/v1/tickets/{plain}/journey"), &admin)
        .await
        .assert_problem(404);

    // Billing: the default (help-desk) department, normal priority.
    let billing = submit(
        &app,
        &customer,
        &id,
        1,
        started,
        json!({
            "jenis": { "choice": "tagihan" },
            "tagihan": { "text": "INV/2026/000123 ditagih dua kali" },
        }),
    )
    .await;
    assert_eq!(billing.status, 201, "{:?}", billing.body);
    assert_eq!(
        (
            billing.body["category"].clone(),
            billing.body["priority"].clone()
        ),
        (json!("billing"), json!("normal"))
    );
    assert_ne!(billing.body["department_id"], field.as_str());

    // Tampered: an answer to a question the billing path hides.
    let mut tampered = json!({ "jenis": { "choice": "tagihan" }, "tagihan": { "text": "x" } });
    tampered["foto"] = json!({ "images": [sha256_hex(b"x")] });
    let refused = submit(&app, &customer, &id, 1, started, tampered).await;
    refused.assert_problem(422);
    assert_eq!(field_names(&refused), ["answers.foto"]);
    // Incomplete, unknown choices, a photo never uploaded: each named.
    let refused = submit(
        &app,
        &customer,
        &id,
        1,
        started,
        json!({ "jenis": { "choice": "perangkat_rusak" } }),
    )
    .await;
    assert_eq!(field_names(&refused), ["answers.perangkat"]);
    let refused = submit(
        &app,
        &customer,
        &id,
        1,
        started,
        json!({ "jenis": { "choice": "pencurian" } }),
    )
    .await;
    assert_eq!(field_names(&refused), ["answers.jenis"]);
    let mut with_photo = leak_answers();
    with_photo["foto"] = json!({ "images": [sha256_hex(b"never sent")] });
    let refused = submit(&app, &customer, &id, 1, started, with_photo.clone()).await;
    assert_eq!(field_names(&refused), ["answers.foto"]);
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not uploaded")
    );
    // Uploaded first, the photo is accepted and shows as received.
    let jpeg = synthetic_jpeg(64, 48, 3, 80);
    let sent = upload(&app, &customer, &jpeg, None, 1 << 20).await;
    assert!(sent.last.status.is_success(), "{:?}", sent.last.body);
    with_photo["foto"] = json!({ "images": [sha256_hex(&jpeg)] });
    let made = submit(&app, &customer, &id, 1, started, with_photo).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let shown = app
        .get(
            &format!(
                "/api/v1/tickets/{}/journey",
                made.body["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    assert_eq!(
        shown.body["answers"][3]["photos"][0]["received"], true,
        "{:?}",
        shown.body
    );
    // The ticket owns the photo: CS of its department may open it.
    let made_user = app
        .post(
            "/api/v1/users",
            &admin,
            json!({ "email": "dewi@example.com", "name": "Dewi", "role": "cs",
                    "password": "password-1", "department_ids": [field] }),
        )
        .await;
    assert_eq!(made_user.status, 201, "{:?}", made_user.body);
    let field_cs = app.login("dewi@example.com", "password-1").await;
    let (link, bytes) =
        fieldops_tests::photos::download(&app, &field_cs, &sha256_hex(&jpeg), "original").await;
    assert_eq!(link.status, 200, "{:?}", link.body);
    assert_eq!(bytes.unwrap(), jpeg);

    // Round-robin hands the next one out within the end's department: to
    // Dewi, available in Field Service (not to an agent of the help desk).
    let status = app
        .call(
            Method::PUT,
            "/api/v1/me/status",
            Some(&field_cs),
            Some(json!({ "status": "available" })),
        )
        .await;
    assert!(status.status.is_success(), "{:?}", status.body);
    let dewi = made_user.body["id"].clone();
    let routed = submit(&app, &customer, &id, 1, now_ms(), leak_answers()).await;
    assert_eq!(routed.status, 201, "{:?}", routed.body);
    assert_eq!(routed.body["assignee_id"], dewi, "{:?}", routed.body);
    // Staff do not fill in journeys; a version that never existed is 404.
    submit(&app, &cs, &id, 1, started, leak_answers())
        .await
        .assert_problem(403);
    submit(&app, &customer, &id, 9, started, leak_answers())
        .await
        .assert_problem(404);
    // A start in the future is refused.
    let refused = submit(
        &app,
        &customer,
        &id,
        1,
        now_ms() + 3_600_000,
        leak_answers(),
    )
    .await;
    assert_eq!(field_names(&refused), ["started_at_ms"]);

    // Retired: a form started while it was published is still accepted;
    // one started after is not.
    call(
        &app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/retire"),
        &admin,
        None,
    )
    .await;
    let late = submit(&app, &customer, &id, 1, started, leak_answers()).await;
    assert_eq!(late.status, 201, "{:?}", late.body);
    submit(&app, &customer, &id, 1, now_ms(), leak_answers())
        .await
        .assert_problem(409);

    // Nothing half-written: only the accepted submissions opened tickets.
    let mine = app.get("/api/v1/tickets?limit=100", &customer).await;
    let count = mine.body["items"].as_array().unwrap().len();
    assert_eq!(count, 6, "{:?}", mine.body);
    app.stop().await;
}

async fn a_phone_receives_journeys_and_submits_one_offline_by_command(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let customer = app.login("customer@example.com", "customer123").await;
    let tech = app.login_as("technician").await;
    let field = department_id(&app, &admin, "Field Service").await;
    let id = published(&app, &admin, &field).await;

    // The customer's device replicates the published version; a
    // technician's does not.
    let (mut phone, caught_up) = Device::connect(app.server.addr, &customer, 0).await;
    let journey_docs: Vec<DocId> = caught_up
        .iter()
        .flat_map(|m| m.snapshots())
        .filter(|d| d.kind == DocKind::Journey)
        .map(|d| d.doc_id)
        .collect();
    assert_eq!(journey_docs.len(), 1, "{caught_up:?}");
    let (_, tech_feed) = Device::connect(app.server.addr, &tech, 0).await;
    assert!(
        !tech_feed
            .iter()
            .flat_map(|m| m.snapshots())
            .any(|d| d.kind == DocKind::Journey)
    );

    // Submitted by command, as the phone's outbox sends it.
    let ticket_id = DocId::new();
    let answers: Answers = serde_json::from_value(leak_answers()).unwrap();
    let body = CommandBody::SubmitJourney {
        ticket_id,
        journey_id: id.parse().unwrap(),
        version: 1,
        started_at_ms: now_ms() - 1_000,
        answers: answers.clone(),
    };
    let submitted = command(1, body);
    let result = phone.run(&submitted).await;
    assert!(
        matches!(result.outcome, CommandOutcome::Accepted { .. }),
        "{result:?}"
    );
    let ticket = app
        .get(&format!("/api/v1/tickets/{ticket_id}"), &admin)
        .await;
    assert_eq!(ticket.body["priority"], "urgent", "{:?}", ticket.body);
    // Replayed: the same answer, one ticket.
    let again = phone.run(&submitted).await;
    assert_eq!(again, result);
    // A tampered command is refused with the question named.
    let mut hidden = answers;
    hidden.insert(
        "tagihan".parse().unwrap(),
        fieldops_sync::journey::Answer::Text("x".into()),
    );
    let refused = phone
        .run(&command(
            2,
            CommandBody::SubmitJourney {
                ticket_id: DocId::new(),
                journey_id: id.parse().unwrap(),
                version: 1,
                started_at_ms: now_ms(),
                answers: hidden,
            },
        ))
        .await;
    match refused.outcome {
        CommandOutcome::Rejected { reason, message } => {
            assert_eq!(reason, RejectReason::Invalid);
            assert!(message.contains("answers.tagihan"), "{message}");
        }
        other => panic!("accepted a tampered submission: {other:?}"),
    }

    // Retired: the phone is told to drop the document.
    call(
        &app,
        Method::POST,
        &format!("/api/v1/journeys/{id}/retire"),
        &admin,
        None,
    )
    .await;
    let (_, after) = Device::connect(app.server.addr, &customer, phone.cursor).await;
    assert!(
        after
            .iter()
            .any(|m| matches!(m, ServerMessage::Drop(d) if d.doc_ids.contains(&journey_docs[0]))),
        "{after:?}"
    );
    app.stop().await;
}

async fn a_customer_phone_walks_a_journey_offline_with_photos(backend: Backend) {
    use fieldops_core::FormScreen;
    use fieldops_sync::journey::{Answer, Slug};
    use fieldops_tests::phones::{customer_phone, sync_until};

    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let field = department_id(&app, &admin, "Field Service").await;
    published(&app, &admin, &field).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = customer_phone(&app, &dir).await;
    let offered = phone.journeys().list().unwrap();
    assert_eq!(offered.len(), 1, "{offered:?}");
    assert_eq!(offered[0].title_id, "Keluhan Layanan");
    let slug = |s: &str| s.parse::<Slug>().unwrap();
    let on_screen = |view: &fieldops_core::FormView| match &view.screen {
        FormScreen::Question { question, .. } => question.id.to_string(),
        FormScreen::End { end } => format!("end:{}", end.id),
        FormScreen::DeadEnd => "dead end".to_owned(),
    };

    // Offline from here: no sync until the form is submitted.
    let form = phone.journeys().start(offered[0].journey_id).unwrap();
    assert_eq!(on_screen(&form), "jenis");
    assert!(!form.can_go_back);
    let form_id = form.form_id;
    let j = phone.journeys();
    // A choice the question does not offer is refused, naming it.
    let wrong = j
        .answer(form_id, "jenis", Answer::Choice(slug("pencurian")))
        .unwrap_err();
    assert!(wrong.to_string().contains("pencurian"), "{wrong}");
    let view = j
        .answer(form_id, "jenis", Answer::Choice(slug("perangkat_rusak")))
        .unwrap();
    assert_eq!(on_screen(&view), "perangkat");
    let view = j
        .answer(form_id, "perangkat", Answer::Choice(slug("ac")))
        .unwrap();
    assert_eq!(on_screen(&view), "kerusakan");
    let view = j
        .answer(form_id, "kerusakan", Answer::Choices(vec![slug("bocor")]))
        .unwrap();
    assert_eq!(on_screen(&view), "foto");
    let photos = [
        synthetic_jpeg(320, 240, 1, 85),
        synthetic_jpeg(320, 240, 2, 85),
    ];
    let view = j.answer_photos(form_id, "foto", &photos, now_ms()).unwrap();
    assert_eq!(on_screen(&view), "end:selesai_darurat");
    // Back to the photos: still answered; the form survives a reopened core.
    let view = j.back(form_id).unwrap();
    assert!(
        matches!(&view.screen, FormScreen::Question { answer: Some(Answer::Images(i)), .. } if i.len() == 2)
    );
    drop(phone);
    let phone = fieldops_core::FieldopsCore::open(dir.path().join("customer.db")).unwrap();
    let forms = phone.journeys().forms().unwrap();
    assert_eq!(forms.len(), 1);
    assert_eq!(on_screen(&forms[0]), "foto");
    let view = phone
        .journeys()
        .answer_photos(form_id, "foto", &photos, now_ms())
        .unwrap();
    assert_eq!(view.path, ["jenis", "perangkat", "kerusakan", "foto"]);
    let queued = phone.journeys().submit(form_id).unwrap();
    assert_eq!(queued.target_id, Some(form_id));
    // The form stays, locked, until the server accepts it.
    let waiting = phone.journeys().forms().unwrap();
    assert!(waiting.len() == 1 && waiting[0].submitted, "{waiting:?}");
    assert!(
        phone.journeys().back(form_id).is_err(),
        "locked while submitted"
    );
    let listed = phone.tickets().list(None).unwrap();
    assert!(
        listed.iter().any(|t| t.doc_id == form_id && t.pending),
        "{listed:?}"
    );

    // Online: the ticket arrives numbered, routed by the end, with its photos.
    sync_until(&phone, |p| {
        p.tickets()
            .get(form_id)
            .is_ok_and(|t| !t.number.is_pending())
            && p.photos().pending_uploads().unwrap().is_empty()
    })
    .await;
    let ticket = app.get(&format!("/api/v1/tickets/{form_id}"), &admin).await;
    assert_eq!(ticket.body["priority"], "urgent", "{:?}", ticket.body);
    assert_eq!(ticket.body["department_id"], field.as_str());
    assert!(
        phone.journeys().forms().unwrap().is_empty(),
        "accepted: gone"
    );
    let answers = app
        .get(&format!("/api/v1/tickets/{form_id}/journey"), &admin)
        .await;
    let received: Vec<_> = answers.body["answers"][3]["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["received"].as_bool().unwrap())
        .collect();
    assert_eq!(received, [true, true], "{:?}", answers.body);

    // Refused: retired while the phone did not know, the form comes back
    // with every answer and the reason; nothing the customer did is lost.
    let journey = phone.journeys().list().unwrap()[0].journey_id;
    let id = journey.to_string();
    app.post(&format!("/api/v1/journeys/{id}/retire"), &admin, json!({}))
        .await;
    let form = phone.journeys().start(journey).unwrap().form_id;
    let j = phone.journeys();
    j.answer(form, "jenis", Answer::Choice(slug("lainnya")))
        .unwrap();
    let view = j
        .answer(form, "keluhan", Answer::Text("Lampu teras mati".into()))
        .unwrap();
    assert_eq!(on_screen(&view), "end:selesai_umum");
    let queued = j.submit(form).unwrap();
    sync_until(&phone, |p| {
        p.outbox()
            .get(queued.command_id)
            .is_ok_and(|c| !c.state.is_open())
    })
    .await;
    let back = phone.journeys().forms().unwrap();
    assert_eq!(back.len(), 1, "{back:?}");
    assert!(!back[0].submitted);
    assert!(
        back[0]
            .rejection
            .as_deref()
            .unwrap_or_default()
            .contains("retired"),
        "{back:?}"
    );
    assert_eq!(back[0].path, ["jenis", "keluhan"]);
    assert!(
        phone.tickets().get(form).is_err(),
        "the provisional ticket went"
    );
    app.stop().await;
}

fn journey_kinds(messages: &[ServerMessage]) -> usize {
    messages
        .iter()
        .flat_map(|m| m.snapshots())
        .filter(|d| d.kind == DocKind::Journey)
        .count()
}

/// Protocol negotiation (issue 25): journeys came with protocol 3, so an
/// app of version 2 still in the field syncs everything else and is never
/// sent a journey document (it could not read the frame), at catch-up or
/// live; an app newer than the server is served at the server's version
/// and told so.
async fn an_older_app_is_served_without_what_its_version_lacks(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let customer = app.login("customer@example.com", "customer123").await;
    let field = department_id(&app, &admin, "Field Service").await;
    published(&app, &admin, &field).await;
    let addr = app.server.addr;

    let (mut old, caught_up) = Device::connect_speaking(addr, &customer, 0, 2).await;
    assert!(matches!(caught_up[0], ServerMessage::Welcome(_)));
    assert_eq!(journey_kinds(&caught_up), 0, "{caught_up:?}");
    assert!(
        !caught_up
            .iter()
            .any(|m| matches!(m, ServerMessage::Protocol { .. })),
        "a version 2 app cannot read the Protocol frame"
    );
    let (_, v3) = Device::connect_speaking(addr, &customer, 0, 3).await;
    assert_eq!(journey_kinds(&v3), 1, "{v3:?}");
    let (mut newer, caught_up) =
        Device::connect_speaking(addr, &customer, 0, PROTOCOL_VERSION + 1).await;
    assert_eq!(
        caught_up[1],
        ServerMessage::Protocol {
            version: PROTOCOL_VERSION
        }
    );
    assert_eq!(journey_kinds(&caught_up), 1);

    // Live: a second journey is published while both are connected; the
    // newer app gets it, the old one's session skips it, and then the old
    // app's own ticket reaches it as usual (deliveries keep commit order,
    // so a journey frame would have come first).
    published(&app, &admin, &field).await;
    loop {
        let message = newer.recv().await;
        if journey_kinds(std::slice::from_ref(&message)) > 0 {
            break;
        }
    }
    let ticket_id = DocId::new();
    old.send(ClientMessage::Commands(vec![command(
        1,
        CommandBody::CreateTicket {
            ticket_id,
            subject: "Printer offline".into(),
            description: "It blinks red".into(),
            category: "technical".into(),
        },
    )]))
    .await;
    let mut seen: Vec<ServerMessage> = Vec::new();
    while !seen
        .iter()
        .flat_map(|m| m.snapshots())
        .any(|d| d.doc_id == ticket_id)
    {
        seen.push(old.recv().await);
    }
    assert_eq!(journey_kinds(&seen), 0, "{seen:?}");
    assert!(
        seen.iter()
            .any(|m| matches!(m, ServerMessage::CommandResults(r)
            if matches!(r[0].outcome, CommandOutcome::Accepted { .. }))),
        "{seen:?}"
    );
    app.stop().await;
}
