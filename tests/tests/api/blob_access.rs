//! Who may read a photo's bytes, attacked as an outside probe did: a
//! stranger who knows only a photo's SHA-256 (from a document, a link, a
//! log) must get neither its bytes nor the fact that it exists, whether they
//! ask for it, name it as their own upload's thumbnail, start an upload of
//! it, or name it in a photo document of their own. The honest paths stay
//! open: one's own thumbnail, a duplicate upload that sends nothing, the same
//! photo on a customer's second ticket, staff who may see the ticket, and a
//! stranger who really holds the bytes (and proves it by sending them).

use fieldops_core::photo::{self, NormalisedPhoto, testing};
use fieldops_server::db::blobs;
use fieldops_sync::docs::photo::{Owner, OwnerKind, UploadState};
use fieldops_sync::docs::{DocumentSchema as _, Photo};
use fieldops_sync::ids::{DocId, DocKind, UserId};
use fieldops_sync::protocol::ServerMessage;
use fieldops_sync::rules::ViolationReason;
use fieldops_tests::device::Device;
use fieldops_tests::photos::{self as tus, sha256_hex};
use fieldops_tests::{Backend, Reply, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    a_known_hash_opens_no_strangers_photo,
    owners_duplicates_and_staff_keep_their_photos,
);

fn normalised(seed: u32) -> NormalisedPhoto {
    photo::normalise(&testing::synthetic_jpeg(1200, 900, seed, 90)).unwrap()
}

/// A customer who registered themselves: `(token, user id)`.
async fn register(app: &TestApp, name: &str, email: &str, phone: &str) -> (String, UserId) {
    let reply = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({ "name": name, "email": email, "phone": phone, "password": "password-9" })),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let token = reply.body["access_token"].as_str().unwrap().to_owned();
    (token.clone(), me(app, &token).await)
}

async fn me(app: &TestApp, token: &str) -> UserId {
    app.get("/api/v1/me", token).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn open_ticket(app: &TestApp, customer: &str, subject: &str) -> DocId {
    let reply = app
        .post(
            "/api/v1/tickets",
            customer,
            json!({ "subject": subject, "category": "technical" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().parse().unwrap()
}

/// Uploads a device photo as a phone does: thumbnail first, then the photo
/// naming it.
async fn upload_photo(app: &TestApp, token: &str, p: &NormalisedPhoto) {
    let thumb = tus::upload(app, token, &p.thumbnail, None, 1 << 20).await;
    assert_eq!(thumb.last.status, 204, "{:?}", thumb.last.body);
    let image = tus::upload(app, token, &p.image, Some(&p.thumbnail_sha256), 1 << 20).await;
    assert_eq!(image.last.status, 204, "{:?}", image.last.body);
}

/// A photo document of a ticket, as a device makes it.
fn photo_doc(author: UserId, ticket: DocId, sha: &str, thumb: &str, state: UploadState) -> Photo {
    Photo {
        sha256: sha.parse().unwrap(),
        byte_size: 1000,
        width: 40,
        height: 30,
        thumbnail_sha256: thumb.parse().unwrap(),
        caption: "Retak".into(),
        owner: Owner {
            kind: OwnerKind::Ticket,
            id: ticket,
        },
        author_id: author,
        taken_at_ms: 1_767_225_600_000,
        upload_state: state,
    }
}

/// Pushes a new photo document; returns its id and the server's answer.
async fn push_new(device: &mut Device, photo: &Photo) -> (DocId, ServerMessage) {
    let id = DocId::new();
    device
        .docs
        .insert(id, (DocKind::Photo, photo.to_document().unwrap()));
    let answer = device
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
    (id, answer)
}

/// Pushes a move of photo document `id` to `stored`; the server's answer.
async fn mark_stored(device: &mut Device, id: DocId) -> ServerMessage {
    device.edit(id, |doc| {
        let mut p = Photo::hydrate(doc).unwrap();
        p.upload_state = UploadState::Stored;
        p.reconcile(doc).unwrap();
    });
    device
        .push()
        .await
        .into_iter()
        .find(|m| {
            matches!(
                m,
                ServerMessage::Applied(_) | ServerMessage::WriteRejected(_)
            )
        })
        .unwrap()
}

/// What a caller is told about a hash: status, problem type and body.
fn told(reply: &Reply) -> (u16, String, serde_json::Value) {
    (
        reply.status.as_u16(),
        reply.problem().to_owned(),
        reply.body.clone(),
    )
}

async fn a_known_hash_opens_no_strangers_photo(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // The victim: a customer's photo on their ticket, uploaded and stored.
    let victim = app.login_as("customer").await;
    let victim_id = me(&app, &victim).await;
    let secret = normalised(21);
    let victim_ticket = open_ticket(&app, &victim, "Meteran rusak").await;
    upload_photo(&app, &victim, &secret).await;
    let (mut victim_phone, _) = Device::connect(app.server.addr, &victim, 0).await;
    let doc = photo_doc(
        victim_id,
        victim_ticket,
        &secret.sha256,
        &secret.thumbnail_sha256,
        UploadState::Stored,
    );
    let (_, answer) = push_new(&mut victim_phone, &doc).await;
    assert!(matches!(answer, ServerMessage::Applied(_)), "{answer:?}");

    // The attacker: another customer who knows only the two hashes.
    let (attacker, attacker_id) =
        register(&app, "Siti", "siti@example.com", "+6281399990001").await;
    let unknown = sha256_hex(b"no photo has this hash");

    // 1. "Do you have it?" and a link: the same answers as for a hash nobody has.
    for sha in [&secret.sha256, &secret.thumbnail_sha256] {
        let asked = app.get(&format!("/api/v1/blobs/{sha}"), &attacker).await;
        let nobody = app
            .get(&format!("/api/v1/blobs/{unknown}"), &attacker)
            .await;
        assert_eq!(asked.assert_problem(404), "not-found");
        assert_eq!(
            told(&asked),
            told(&nobody),
            "a stranger learns nothing of {sha}"
        );
        for variant in ["original", "thumbnail"] {
            let link = app
                .get(
                    &format!("/api/v1/blobs/{sha}/link?variant={variant}"),
                    &attacker,
                )
                .await;
            let nobody = app
                .get(
                    &format!("/api/v1/blobs/{unknown}/link?variant={variant}"),
                    &attacker,
                )
                .await;
            link.assert_problem(403);
            assert_eq!(told(&link), told(&nobody));
        }
    }

    // 2. The victim's photo named as the thumbnail of the attacker's own
    // upload: the upload goes through, the claim is never believed, and the
    // thumbnail link gives the attacker a thumbnail of their own photo.
    for (seed, named) in [(22, &secret.sha256), (23, &secret.thumbnail_sha256)] {
        let own = normalised(seed);
        let up = tus::upload(&app, &attacker, &own.image, Some(named), 1 << 20).await;
        assert_eq!(up.last.status, 204, "{:?}", up.last.body);
        let (link, bytes) = tus::download(&app, &attacker, &own.sha256, "thumbnail").await;
        assert_eq!(link.status, 200, "{:?}", link.body);
        let bytes = bytes.unwrap();
        assert_ne!(link.body["sha256"], named.as_str());
        assert_ne!(bytes, secret.image);
        assert_ne!(bytes, secret.thumbnail);
        assert_eq!(sha256_hex(&bytes), link.body["sha256"].as_str().unwrap());
        let thumb = image::load_from_memory(&bytes).unwrap();
        assert!(thumb.width() <= 320 && thumb.height() <= 320);
        // ... and the victim's hash stays closed to them.
        tus::download(&app, &attacker, named, "original")
            .await
            .0
            .assert_problem(403);
    }

    // 3. An upload of the victim's hash: no shortcut and no "another length"
    // refusal; both end as an upload of any unknown hash does.
    for length in [secret.image.len(), secret.image.len() + 1] {
        let claimed = tus::create(
            &app,
            &attacker,
            length,
            &tus::metadata(&secret.sha256, None),
        )
        .await;
        let nobody = tus::create(&app, &attacker, length, &tus::metadata(&unknown, None)).await;
        for reply in [&claimed, &nobody] {
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            assert_eq!(reply.headers["upload-offset"], "0");
            assert_eq!(reply.body["complete"], false);
        }
    }
    // Bytes of another photo under the victim's hash: the hash check refuses
    // them, exactly as it refuses them under a hash nobody has.
    let other = normalised(24);
    let mut answers = Vec::new();
    for claimed in [&secret.sha256, &unknown] {
        let created = tus::create(
            &app,
            &attacker,
            other.image.len(),
            &tus::metadata(claimed, None),
        )
        .await;
        let location = created.headers["location"].to_str().unwrap().to_owned();
        let out = tus::resume(&app, &attacker, &location, &other.image, 1 << 20).await;
        assert_eq!(out.last.assert_problem(422), "hash-mismatch");
        answers.push(out.last.body["detail"].clone());
    }
    assert_eq!(answers[0], answers[1]);

    // 4. A photo document of the attacker's own ticket naming the victim's
    // hashes: stored as a pending document, but it shows the photo to
    // nobody, and it may not claim the bytes are stored.
    let own_ticket = open_ticket(&app, &attacker, "Foto orang lain").await;
    let (mut phone, _) = Device::connect(app.server.addr, &attacker, 0).await;
    let forged = photo_doc(
        attacker_id,
        own_ticket,
        &secret.sha256,
        &secret.thumbnail_sha256,
        UploadState::Pending,
    );
    let (id, answer) = push_new(&mut phone, &forged).await;
    assert!(matches!(answer, ServerMessage::Applied(_)), "{answer:?}");
    match mark_stored(&mut phone, id).await {
        ServerMessage::WriteRejected(r) => assert_eq!(
            r.violations
                .iter()
                .map(|v| (v.field.as_str(), v.reason))
                .collect::<Vec<_>>(),
            vec![("upload_state", ViolationReason::BytesMissing)]
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Born "stored" it is refused outright.
    let born_stored = photo_doc(
        attacker_id,
        own_ticket,
        &secret.sha256,
        &secret.thumbnail_sha256,
        UploadState::Stored,
    );
    let (_, answer) = push_new(&mut phone, &born_stored).await;
    assert!(
        matches!(answer, ServerMessage::WriteRejected(_)),
        "{answer:?}"
    );
    for sha in [&secret.sha256, &secret.thumbnail_sha256] {
        for variant in ["original", "thumbnail"] {
            tus::download(&app, &attacker, sha, variant)
                .await
                .0
                .assert_problem(403);
        }
        assert_eq!(
            app.get(&format!("/api/v1/blobs/{sha}"), &attacker)
                .await
                .status,
            404
        );
        // Only the victim's ticket opens them to its readers.
        assert_eq!(
            blobs::owners(app.server.state.db.pool(), sha)
                .await
                .unwrap(),
            vec![("ticket".to_owned(), victim_ticket.to_string())],
        );
    }
    // The victim's own thumbnail is what the victim's photo links to.
    let (link, bytes) = tus::download(&app, &victim, &secret.sha256, "thumbnail").await;
    assert_eq!(link.body["sha256"], secret.thumbnail_sha256);
    assert_eq!(bytes.unwrap(), secret.thumbnail);
    drop(phone);
    drop(victim_phone);
    app.stop().await;
}

async fn owners_duplicates_and_staff_keep_their_photos(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let customer_id = me(&app, &customer).await;
    let cs = app.login_as("cs").await;
    let p = normalised(31);
    let first = open_ticket(&app, &customer, "Pipa bocor").await;
    let (mut phone, _) = Device::connect(app.server.addr, &customer, 0).await;
    let doc = photo_doc(
        customer_id,
        first,
        &p.sha256,
        &p.thumbnail_sha256,
        UploadState::Pending,
    );
    let (id, answer) = push_new(&mut phone, &doc).await;
    assert!(matches!(answer, ServerMessage::Applied(_)), "{answer:?}");

    // The photo goes before its thumbnail here (a plain tus client): the
    // thumbnail counts once the same account has sent both.
    let image = tus::upload(
        &app,
        &customer,
        &p.image,
        Some(&p.thumbnail_sha256),
        1 << 20,
    )
    .await;
    assert_eq!(image.last.status, 204, "{:?}", image.last.body);
    let thumb = tus::upload(&app, &customer, &p.thumbnail, None, 1 << 20).await;
    assert_eq!(thumb.last.status, 204, "{:?}", thumb.last.body);
    assert!(matches!(
        mark_stored(&mut phone, id).await,
        ServerMessage::Applied(_)
    ));

    // The owner: "do you have it?" tells size and dimensions, the thumbnail
    // link gives the device's thumbnail.
    let check = app
        .get(&format!("/api/v1/blobs/{}", p.sha256), &customer)
        .await;
    assert_eq!(check.status, 200, "{:?}", check.body);
    assert_eq!(check.body["byte_size"], p.image.len());
    let (link, bytes) = tus::download(&app, &customer, &p.sha256, "thumbnail").await;
    assert_eq!(link.body["sha256"], p.thumbnail_sha256);
    assert_eq!(bytes.unwrap(), p.thumbnail);

    // A duplicate upload by the owner sends nothing, with or without asking.
    let again = tus::upload(&app, &customer, &p.image, None, 1 << 20).await;
    assert_eq!(again.bytes_sent, 0);
    let created = tus::create(
        &app,
        &customer,
        p.image.len(),
        &tus::metadata(&p.sha256, None),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["complete"], true);
    // For the owner, another length is plainly the wrong bytes.
    let longer = tus::create(
        &app,
        &customer,
        p.image.len() + 1,
        &tus::metadata(&p.sha256, None),
    )
    .await;
    assert_eq!(longer.assert_problem(422), "hash-mismatch");

    // The same photo on the customer's second ticket: stored at once, and
    // staff who may see that ticket read it.
    let second = open_ticket(&app, &customer, "Pipa bocor lagi").await;
    let doc = photo_doc(
        customer_id,
        second,
        &p.sha256,
        &p.thumbnail_sha256,
        UploadState::Stored,
    );
    let (_, answer) = push_new(&mut phone, &doc).await;
    assert!(matches!(answer, ServerMessage::Applied(_)), "{answer:?}");
    let owners = blobs::owners(app.server.state.db.pool(), &p.sha256)
        .await
        .unwrap();
    assert!(
        owners.contains(&("ticket".to_owned(), second.to_string())),
        "{owners:?}"
    );
    let (_, bytes) = tus::download(&app, &cs, &p.sha256, "original").await;
    assert_eq!(bytes.unwrap(), p.image);
    let (link, bytes) = tus::download(&app, &cs, &p.sha256, "thumbnail").await;
    assert_eq!(link.body["sha256"], p.thumbnail_sha256);
    assert_eq!(bytes.unwrap(), p.thumbnail);
    assert_eq!(
        app.get(&format!("/api/v1/blobs/{}", p.thumbnail_sha256), &cs)
            .await
            .status,
        200
    );

    // A stranger who really holds the bytes sends them all (that is the
    // proof), and may read them from then on.
    let (holder, _) = register(&app, "Budi", "budi@example.com", "+6281399990002").await;
    assert_eq!(
        app.get(&format!("/api/v1/blobs/{}", p.sha256), &holder)
            .await
            .status,
        404
    );
    let sent = tus::upload(&app, &holder, &p.image, None, 1 << 20).await;
    assert_eq!(sent.last.status, 204, "{:?}", sent.last.body);
    assert_eq!(sent.bytes_sent, p.image.len() as u64);
    assert_eq!(
        app.get(&format!("/api/v1/blobs/{}", p.sha256), &holder)
            .await
            .status,
        200
    );
    drop(phone);
    app.stop().await;
}
