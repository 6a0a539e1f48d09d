//! Images on a ticket over HTTP (seed 004: "up to 5 images per ticket, 5MB
//! each", here settings): the customer and the department's staff attach
//! images they uploaded themselves; strangers, hashes the caller never
//! uploaded, too-large images, a full ticket and a closed one are refused
//! with the field or the rule named; the phone's photo documents obey the
//! same count.

use fieldops_core::photo::{self, NormalisedPhoto, testing};
use fieldops_sync::docs::photo::{Owner, OwnerKind, UploadState};
use fieldops_sync::docs::{DocumentSchema as _, Photo};
use fieldops_sync::ids::{DocId, DocKind, UserId};
use fieldops_sync::protocol::ServerMessage;
use fieldops_sync::rules::ViolationReason;
use fieldops_tests::device::Device;
use fieldops_tests::photos::{self as tus, sha256_hex};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(customers_and_staff_attach_their_uploads_within_the_limits);

fn normalised(seed: u32) -> NormalisedPhoto {
    photo::normalise(&testing::synthetic_jpeg(1200, 900, seed, 90)).unwrap()
}

async fn upload(app: &TestApp, token: &str, bytes: &[u8]) -> String {
    let sent = tus::upload(app, token, bytes, None, 1 << 20).await;
    assert!(
        matches!(sent.last.status.as_u16(), 200 | 204),
        "{:?}",
        sent.last.body
    );
    sha256_hex(bytes)
}

async fn open_ticket(app: &TestApp, customer: &str, subject: &str) -> String {
    let reply = app
        .post(
            "/api/v1/tickets",
            customer,
            json!({ "subject": subject, "category": "technical" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn attach(app: &TestApp, token: &str, ticket: &str, sha256: &str) -> fieldops_tests::Reply {
    app.post(
        &format!("/api/v1/tickets/{ticket}/attachments"),
        token,
        json!({ "sha256": sha256 }),
    )
    .await
}

fn field_of(body: &Value) -> &str {
    body["errors"][0]["field"].as_str().unwrap_or_default()
}

async fn customers_and_staff_attach_their_uploads_within_the_limits(backend: Backend) {
    let (first, second, third) = (normalised(31), normalised(32), normalised(33));
    // An image larger than the limit, which every normalised one is under.
    let big = testing::synthetic_jpeg(2400, 1800, 34, 98);
    let limit = [&first, &second, &third]
        .iter()
        .map(|p| p.image.len())
        .max()
        .unwrap();
    assert!(big.len() > limit, "the large image must exceed the limit");
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.ticket_max_attachments = 2;
        c.ticket_max_attachment_bytes = limit as u64;
    })
    .await
    else {
        return;
    };
    let customer = app.login_as("customer").await;
    let cs = app.login_as("cs").await;
    let ticket = open_ticket(&app, &customer, "Pompa bocor").await;

    // The customer attaches their own upload: 201, then 200 for the same again.
    let sha = upload(&app, &customer, &first.image).await;
    let added = attach(&app, &customer, &ticket, &sha).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.body["sha256"], sha);
    assert_eq!(added.body["stored"], true);
    assert_eq!(added.body["content_type"], "image/jpeg");
    assert_eq!(added.body["added_by_name"], "Hendra Gunawan");
    let again = attach(&app, &customer, &ticket, &sha).await;
    assert_eq!(again.status, 200, "{:?}", again.body);

    // Staff of the department see it on the ticket and may open its thumbnail.
    let detail = app.get(&format!("/api/v1/tickets/{ticket}"), &cs).await;
    assert_eq!(detail.body["attachments"], json!([sha]));
    let link = app
        .get(&format!("/api/v1/blobs/{sha}/link?variant=thumbnail"), &cs)
        .await;
    assert_eq!(link.status, 200, "{:?}", link.body);
    let file = app
        .client
        .get(app.url(link.body["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);

    // A hash the caller did not upload names the field, whoever uploaded it.
    let unknown = sha256_hex(b"nobody uploaded this");
    for (token, hash) in [(&cs, &sha), (&cs, &unknown), (&customer, &unknown)] {
        let other = open_ticket(&app, &customer, "Lagi").await;
        let refused = attach(&app, token, &other, hash).await;
        assert_eq!(refused.status, 422, "{:?}", refused.body);
        assert_eq!(field_of(&refused.body), "sha256");
    }
    let malformed = attach(&app, &customer, &ticket, "abc").await;
    assert_eq!(malformed.status, 422);
    assert_eq!(field_of(&malformed.body), "sha256");

    // CS attach their own upload: the ticket is now full (limit 2).
    let cs_sha = upload(&app, &cs, &second.image).await;
    let by_cs = attach(&app, &cs, &ticket, &cs_sha).await;
    assert_eq!(by_cs.status, 201, "{:?}", by_cs.body);
    assert_ne!(by_cs.body["added_by_name"], "Hendra Gunawan");
    let third_sha = upload(&app, &customer, &third.image).await;
    let full = attach(&app, &customer, &ticket, &third_sha).await;
    assert_eq!(full.assert_problem(409), "attachments-full");
    let listed = app
        .get(&format!("/api/v1/tickets/{ticket}/attachments"), &customer)
        .await;
    assert_eq!(listed.status, 200);
    let hashes: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(hashes, [sha.as_str(), cs_sha.as_str()]);

    // Too large, on another ticket: refused, the field named.
    let roomy = open_ticket(&app, &customer, "Foto besar").await;
    let big_sha = upload(&app, &customer, &big).await;
    let too_big = attach(&app, &customer, &roomy, &big_sha).await;
    assert_eq!(too_big.status, 422, "{:?}", too_big.body);
    assert_eq!(field_of(&too_big.body), "sha256");

    // A stranger may not attach to someone else's ticket, even their own upload.
    let stranger = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({ "name": "Siti", "email": "siti@example.com",
                         "phone": "+6281399990002", "password": "password-9" })),
        )
        .await;
    assert_eq!(stranger.status, 201, "{:?}", stranger.body);
    let stranger = stranger.body["access_token"].as_str().unwrap().to_owned();
    let own = upload(&app, &stranger, &third.image).await;
    attach(&app, &stranger, &roomy, &own)
        .await
        .assert_problem(403);

    // A closed ticket takes nothing more.
    let closed = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/tickets/{roomy}/status"),
            Some(&customer),
            Some(json!({ "status": "closed" })),
        )
        .await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    let late = attach(&app, &customer, &roomy, &third_sha).await;
    assert_eq!(late.assert_problem(409), "ticket-closed");

    // Nothing refused was attached.
    let roomy_detail = app.get(&format!("/api/v1/tickets/{roomy}"), &cs).await;
    assert_eq!(roomy_detail.body["attachments"], json!([]));

    // The phone's photo documents count against the same limit.
    let me: UserId = app.get("/api/v1/me", &customer).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let fourth = normalised(35);
    let doc = Photo {
        sha256: fourth.sha256.parse().unwrap(),
        byte_size: fourth.image.len() as u64,
        width: 40,
        height: 30,
        thumbnail_sha256: fourth.thumbnail_sha256.parse().unwrap(),
        caption: "Dari ponsel".into(),
        owner: Owner {
            kind: OwnerKind::Ticket,
            id: ticket.parse().unwrap(),
        },
        author_id: me,
        taken_at_ms: 1_767_225_600_000,
        upload_state: UploadState::Pending,
    };
    let (mut phone, _) = Device::connect(app.server.addr, &customer, 0).await;
    phone
        .docs
        .insert(DocId::new(), (DocKind::Photo, doc.to_document().unwrap()));
    let answer = phone
        .push()
        .await
        .into_iter()
        .find(|m| {
            matches!(
                m,
                ServerMessage::Applied(_) | ServerMessage::WriteRejected(_)
            )
        })
        .unwrap();
    let ServerMessage::WriteRejected(rejected) = answer else {
        panic!("a full ticket took a phone's photo: {answer:?}");
    };
    let violations = format!("{rejected:?}");
    assert!(
        violations.contains(&format!("{:?}", ViolationReason::WrongState)),
        "{violations}"
    );
}
