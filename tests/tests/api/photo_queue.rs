//! Photos from a real phone (fieldops-core, its own SQLite store and photo
//! folder) through a cutting proxy to a real server: attached offline, then
//! uploaded by the device worker, cut at ~50 % of the first photo, resumed
//! after a restart of the core from the server's offset, downloaded by CS
//! through signed links, and not sent again when attached to a second ticket.
//! Also: what the server refuses of photo documents.

use std::time::Duration;

use fieldops_core::photo::testing;
use fieldops_core::sync::docs::photo::{Owner, OwnerKind, UploadState};
use fieldops_core::{CoreError, FieldopsCore, UploadStatus};
use fieldops_server::db::blobs;
use fieldops_sync::docs::{DocumentSchema as _, Photo};
use fieldops_sync::ids::{DocId, DocKind, UserId};
use fieldops_sync::protocol::ServerMessage;
use fieldops_sync::rules::ViolationReason;
use fieldops_tests::device::Device;
use fieldops_tests::photos as tus;
use fieldops_tests::proxy::CutProxy;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    photos_attached_offline_upload_resumably_and_deduplicate,
    the_server_refuses_photo_documents_it_cannot_back,
    a_photo_past_a_full_ticket_stays_on_the_phone_until_dismissed,
    a_refusal_whose_answer_was_lost_is_reported_not_retried,
);

const SYNC: Duration = Duration::from_secs(30);
const CHUNK: usize = 64 * 1024;

/// A ticket opened over HTTP, for the photo attached to a second ticket.
async fn ticket_for_photos(app: &TestApp, customer: &str, subject: &str) -> DocId {
    let reply = app
        .post(
            "/api/v1/tickets",
            customer,
            json!({ "subject": subject, "category": "technical",
                    "description": "Air menetes dari pipa di bawah wastafel" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().parse().unwrap()
}

fn ticket(id: DocId) -> Owner {
    Owner {
        kind: OwnerKind::Ticket,
        id,
    }
}

async fn open_phone(path: &std::path::Path) -> FieldopsCore {
    let phone = FieldopsCore::open(path).unwrap();
    phone.photos().set_upload_chunk_bytes(CHUNK);
    phone
}

async fn photos_attached_offline_upload_resumably_and_deduplicate(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let proxy = CutProxy::start(app.server.addr).await;
    let customer = app.login_as("customer").await;
    let cs = app.login_as("cs").await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customer.db");
    let phone = open_phone(&path).await;
    phone
        .auth()
        .login(&proxy.url(), "customer@example.com", "customer123")
        .await
        .unwrap();
    phone.sync().now(SYNC).await.unwrap();

    // Offline: a new ticket and two photos on it, visible at once, their
    // uploads queued. The outbox goes before document changes, so the ticket
    // exists on the server before its photos arrive.
    proxy.set_online(false);
    phone
        .tickets()
        .create(
            "Pipa bocor",
            "Air menetes dari pipa di bawah wastafel",
            "technical",
        )
        .unwrap();
    let opened = phone.tickets().list(None).unwrap();
    assert_eq!(opened.len(), 1);
    assert!(opened[0].pending, "opened offline, not yet numbered");
    let first_ticket = opened[0].doc_id;
    let taken = 1_767_225_600_000;
    let image_a = testing::synthetic_jpeg(2000, 1500, 11, 90);
    let image_b = testing::synthetic_jpeg(1500, 2000, 12, 90);
    let a = phone
        .photos()
        .attach(
            ticket(first_ticket),
            &image_a,
            "Pipa di bawah wastafel",
            taken,
        )
        .unwrap();
    let b = phone
        .photos()
        .attach(ticket(first_ticket), &image_b, "Lantai basah", taken + 1)
        .unwrap();
    assert_ne!(a.sha256, b.sha256);
    let doc = phone.photos().get(a.photo_id).unwrap();
    assert_eq!(doc.upload_state, UploadState::Pending);
    assert_eq!(doc.caption, "Pipa di bawah wastafel");
    assert_eq!((doc.width, doc.height), (1600, 1200));
    let listed = phone.photos().of(first_ticket).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|p| p.status == "pending"));
    assert_eq!(
        std::fs::read(&a.path).unwrap().len() as u64,
        a.byte_size,
        "the normalised photo is on the device"
    );
    assert_eq!(
        phone.photos().file(&a.thumbnail_sha256),
        Some(a.thumbnail_path.clone())
    );
    assert_eq!(
        phone.sync().status().pending_uploads,
        4,
        "two photos, two thumbnails"
    );
    assert!(matches!(
        phone.sync().now(SYNC).await,
        Err(CoreError::Network(_))
    ));

    // Online again; the connection drops half-way through the first photo.
    let thumb_a = std::fs::read(&a.thumbnail_path).unwrap().len() as u64;
    let thumb_b = std::fs::read(&b.thumbnail_path).unwrap().len() as u64;
    let half = a.byte_size / 2;
    proxy.set_online(true);
    proxy.cut_patches_at(thumb_a + half);
    // The session went through; only the uploads stopped, and the report
    // says so instead of failing the whole sync.
    let report = phone.sync().now(SYNC).await.unwrap();
    assert!(report.upload_error.is_some(), "{report:?}");
    assert_eq!(
        phone.sync().status().pending_commands,
        0,
        "commands were sent"
    );
    let acked = (half / CHUNK as u64) * CHUNK as u64;
    let row = phone
        .photos()
        .pending_uploads()
        .unwrap()
        .into_iter()
        .find(|u| u.sha256 == a.sha256)
        .unwrap();
    assert_eq!(row.status, UploadStatus::Uploading);
    assert_eq!(row.bytes_sent, acked, "the last acknowledged offset");
    let location = row.upload_url.clone().unwrap();
    assert_eq!(tus::head(&app, &customer, &location).await.unwrap(), acked);
    // The photo documents reached the server before the bytes, still pending.
    let stored = fieldops_server::sync::load(&app.server.state.db, &a.photo_id.to_string())
        .await
        .unwrap()
        .unwrap()
        .1;
    assert_eq!(
        Photo::hydrate(&stored).unwrap().upload_state,
        UploadState::Pending
    );

    // The app is killed and restarted: the queue resumes from the server's offset.
    drop(phone);
    let phone = open_phone(&path).await;
    let row = phone
        .photos()
        .pending_uploads()
        .unwrap()
        .into_iter()
        .find(|u| u.sha256 == a.sha256)
        .unwrap();
    assert_eq!(
        (row.bytes_sent, row.upload_url.as_deref()),
        (acked, Some(location.as_str()))
    );
    let before = proxy.patch_bytes();
    assert_eq!(before, thumb_a + half);
    proxy.set_online(true);
    let report = phone.sync().now(SYNC).await.unwrap();
    assert_eq!(
        report.uploads_completed, 3,
        "the rest of A, B and its thumbnail"
    );
    let all_files = thumb_a + a.byte_size + thumb_b + b.byte_size;
    let resent = proxy.patch_bytes() - all_files;
    assert_eq!(
        resent,
        half - acked,
        "only the chunk cut short travels twice"
    );
    assert!(resent < CHUNK as u64);
    for photo in [&a, &b] {
        assert_eq!(
            phone.photos().get(photo.photo_id).unwrap().upload_state,
            UploadState::Stored
        );
    }
    assert!(phone.photos().pending_uploads().unwrap().is_empty());
    let status = phone.sync().status();
    assert_eq!((status.pending_uploads, status.unsynced_documents), (0, 0));

    // The server agrees, lists them on the ticket, and CS downloads both
    // photo and thumbnail through signed links.
    let stored = fieldops_server::sync::load(&app.server.state.db, &a.photo_id.to_string())
        .await
        .unwrap()
        .unwrap()
        .1;
    assert_eq!(
        Photo::hydrate(&stored).unwrap().upload_state,
        UploadState::Stored
    );
    let detail = app
        .get(&format!("/api/v1/tickets/{first_ticket}"), &cs)
        .await;
    assert_eq!(
        detail.status, 200,
        "the ticket opened offline reached the server"
    );
    assert_eq!(detail.body["subject"], "Pipa bocor");
    assert!(detail.body["number"].as_str().unwrap().starts_with("TKT-"));
    let attachments = detail.body["attachments"].as_array().unwrap();
    assert!(attachments.contains(&json!(a.sha256)), "{attachments:?}");
    assert!(attachments.contains(&json!(b.sha256)));
    let (_, bytes) = tus::download(&app, &cs, &a.sha256, "original").await;
    assert_eq!(bytes.unwrap(), std::fs::read(&a.path).unwrap());
    let (link, bytes) = tus::download(&app, &cs, &a.sha256, "thumbnail").await;
    assert_eq!(link.body["sha256"], a.thumbnail_sha256);
    assert_eq!(bytes.unwrap(), std::fs::read(&a.thumbnail_path).unwrap());
    // The owner may too; a stranger and a technician without the ticket not.
    assert_eq!(
        tus::download(&app, &customer, &b.sha256, "thumbnail")
            .await
            .0
            .status,
        200
    );
    let stranger = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({ "name": "Siti", "email": "siti@example.com",
                         "phone": "+6281399990001", "password": "password-9" })),
        )
        .await;
    assert_eq!(stranger.status, 201, "{:?}", stranger.body);
    let stranger = stranger.body["access_token"].as_str().unwrap().to_owned();
    let tech = app.login_as("technician").await;
    for token in [&stranger, &tech] {
        tus::download(&app, token, &a.sha256, "original")
            .await
            .0
            .assert_problem(403);
    }

    // The same photo on a second ticket: a new document, no byte sent again.
    let second_ticket = ticket_for_photos(&app, &customer, "Pipa bocor lagi").await;
    let (patches, creates) = (proxy.patch_bytes(), proxy.count("POST", "/api/v1/uploads"));
    let again = phone
        .photos()
        .attach(
            ticket(second_ticket),
            &image_a,
            "Sama seperti kemarin",
            taken + 2,
        )
        .unwrap();
    assert_eq!(again.sha256, a.sha256);
    assert_ne!(again.photo_id, a.photo_id);
    let report = phone.sync().now(SYNC).await.unwrap();
    assert_eq!(report.upload_bytes_sent, 0);
    assert_eq!(proxy.patch_bytes(), patches, "0 bytes for a duplicate");
    assert_eq!(proxy.count("POST", "/api/v1/uploads"), creates);
    assert_eq!(
        phone.photos().get(again.photo_id).unwrap().upload_state,
        UploadState::Stored
    );
    let owners = blobs::owners(app.server.state.db.pool(), &a.sha256)
        .await
        .unwrap();
    assert_eq!(owners.len(), 2, "{owners:?}");
    assert!(owners.contains(&("ticket".into(), second_ticket.to_string())));

    // Short of space: the uploaded full-size files go, thumbnails stay, and
    // an original comes back from the server when opened.
    let freed = phone.photos().free_space(Duration::ZERO).unwrap();
    assert_eq!(freed, a.byte_size + b.byte_size);
    assert!(phone.photos().file(&a.sha256).is_none());
    assert!(phone.photos().file(&a.thumbnail_sha256).is_some());
    assert_eq!(phone.photos().free_space(Duration::ZERO).unwrap(), 0);
    let back = phone.photos().fetch(a.photo_id, false).await.unwrap();
    assert_eq!(
        fieldops_core::photo::sha256_hex(&std::fs::read(back).unwrap()),
        a.sha256
    );
    drop(phone);
    drop(proxy);
    app.stop().await;
}

/// Seed 004 caps a ticket's images (here at 2). A customer attaches three
/// to their ticket before the phone syncs: the server takes two and refuses
/// the third, and the phone keeps it (its caption, its files, the rule it
/// broke) listed beside the others as `refused`, across a restart, without
/// pushing it again, until the customer dismisses it.
async fn a_photo_past_a_full_ticket_stays_on_the_phone_until_dismissed(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.ticket_max_attachments = 2).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let cs = app.login_as("cs").await;
    let ticket_id = ticket_for_photos(&app, &customer, "Atap bocor").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customer.db");
    let phone = open_phone(&path).await;
    phone
        .auth()
        .login(&app.url(""), "customer@example.com", "customer123")
        .await
        .unwrap();
    phone.sync().now(SYNC).await.unwrap();

    let taken = 1_767_225_600_000;
    let attached: Vec<_> = ["Plafon", "Talang", "Dinding"]
        .iter()
        .zip(0..)
        .map(|(caption, i)| {
            let image = testing::synthetic_jpeg(900, 600, 40 + i, 90);
            phone
                .photos()
                .attach(ticket(ticket_id), &image, caption, taken + i64::from(i))
                .unwrap()
        })
        .collect();
    assert_eq!(phone.photos().of(ticket_id).unwrap().len(), 3);
    phone.sync().now(SYNC).await.unwrap();

    let server_has = app
        .get(&format!("/api/v1/tickets/{ticket_id}"), &cs)
        .await
        .body["attachments"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(server_has.len(), 2, "{server_has:?}");
    let refused = phone.documents().refused().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let kept = &refused[0];
    let photo = attached
        .iter()
        .find(|a| a.photo_id == kept.doc_id)
        .expect("the refused one is one of ours");
    assert!(
        !server_has.contains(&json!(photo.sha256)),
        "the refused photo is the one the server lacks"
    );
    assert_eq!(kept.kind, DocKind::Photo);
    assert_eq!(kept.parent_id, Some(ticket_id));
    assert!(kept.created_here);
    assert_eq!(kept.violations, vec!["owner:wrong_state".to_owned()]);
    assert!(!phone.documents().contains(kept.doc_id).unwrap());

    // Still there after a restart, listed with the others, its bytes on
    // the device, and not pushed again.
    drop(phone);
    let phone = open_phone(&path).await;
    phone.sync().now(SYNC).await.unwrap();
    let listed = phone.photos().of(ticket_id).unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let shown = listed.iter().find(|p| p.doc_id == kept.doc_id).unwrap();
    assert_eq!(shown.status, "refused");
    assert_eq!(shown.title, kept.title);
    let copy = phone.photos().get(kept.doc_id).unwrap();
    assert_eq!(copy.sha256.as_str(), photo.sha256);
    assert_eq!(copy.caption, kept.title);
    assert_eq!(phone.photos().file(&photo.sha256), Some(photo.path.clone()));
    assert_eq!(phone.sync().status().unsynced_documents, 0);
    assert_eq!(phone.documents().refused().unwrap(), refused);

    // Its files are not uploaded (nothing on the server would name them):
    // the queue shows them failed with the refusal, the server never got
    // their bytes, and the other two photos' files are all on the server.
    let queued = phone.photos().pending_uploads().unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
    for upload in &queued {
        assert_eq!(upload.photo_doc_id, kept.doc_id);
        assert_eq!(upload.status, UploadStatus::Failed);
        assert_eq!(
            upload.last_error.as_deref(),
            Some("document_refused: owner:wrong_state")
        );
        assert!(
            blobs::get(app.server.state.db.pool(), &upload.sha256)
                .await
                .unwrap()
                .is_none(),
            "the refused photo's bytes were not sent"
        );
    }
    assert_eq!(phone.sync().status().pending_uploads, 0);
    assert_eq!(phone.sync().status().failed_uploads, 2);

    // Dismissed: gone from the list and the kept versions, and its files
    // leave the phone with the next upload pass.
    assert!(phone.documents().dismiss_refused(kept.doc_id).unwrap());
    assert!(!phone.documents().dismiss_refused(kept.doc_id).unwrap());
    assert_eq!(phone.photos().of(ticket_id).unwrap().len(), 2);
    assert!(phone.documents().refused().unwrap().is_empty());
    phone.sync().now(SYNC).await.unwrap();
    assert_eq!(phone.photos().file(&photo.sha256), None);
    assert_eq!(phone.photos().file(&photo.thumbnail_sha256), None);
    assert!(phone.photos().pending_uploads().unwrap().is_empty());
    assert_eq!(phone.sync().status().failed_uploads, 0);
    for other in attached.iter().filter(|a| a.photo_id != kept.doc_id) {
        assert_eq!(phone.photos().file(&other.sha256), Some(other.path.clone()));
    }
    assert!(matches!(
        phone.photos().get(kept.doc_id),
        Err(CoreError::NotFound { .. })
    ));
    app.stop().await;
}

/// The server refuses bytes that do not match their hash, and forgets the
/// upload. When its answer to the last chunk is lost, the phone's HEAD
/// finds the upload gone, starts over, and this time hears the refusal and
/// its reason: the upload is reported failed for good, not retried forever.
async fn a_refusal_whose_answer_was_lost_is_reported_not_retried(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let proxy = CutProxy::start(app.server.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = open_phone(&dir.path().join("customer.db")).await;
    phone
        .auth()
        .login(&proxy.url(), "customer@example.com", "customer123")
        .await
        .unwrap();
    phone.sync().now(SYNC).await.unwrap();
    let bytes = testing::synthetic_jpeg(600, 400, 51, 90);
    let sha = phone.photos().queue_raw_upload(&bytes).unwrap();
    // The file changed on the device after it was queued: same size,
    // other bytes.
    let path = phone.photos().file(&sha).unwrap();
    let mut changed = bytes.clone();
    for byte in changed.iter_mut().skip(100).step_by(97) {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, &changed).unwrap();

    // The server takes the last chunk and refuses the whole, but its
    // answer never reaches the phone.
    proxy.lose_answer_at(bytes.len() as u64);
    let report = phone.sync().now(SYNC).await;
    assert!(
        report.is_err() || report.as_ref().unwrap().upload_error.is_some(),
        "{report:?}"
    );
    proxy.clear_cut();
    proxy.set_online(true);
    let report = phone.sync().now(SYNC).await.unwrap();
    let row = phone
        .photos()
        .pending_uploads()
        .unwrap()
        .into_iter()
        .find(|u| u.sha256 == sha)
        .unwrap();
    assert_eq!(row.status, UploadStatus::Failed, "{row:?} {report:?}");
    let reason = row.last_error.unwrap_or_default();
    assert!(reason.starts_with("hash-mismatch"), "{reason}");
    assert_eq!(phone.sync().status().failed_uploads, 1);
    // Not tried again.
    let patches = proxy.count("PATCH", "/api/v1/uploads");
    phone.sync().now(SYNC).await.unwrap();
    assert_eq!(proxy.count("PATCH", "/api/v1/uploads"), patches);
    app.stop().await;
}

/// A photo document as a device would make it.
fn photo_doc(author: UserId, owner: DocId, sha: &str, thumb: &str, state: UploadState) -> Photo {
    Photo {
        sha256: sha.parse().unwrap(),
        byte_size: 1000,
        width: 40,
        height: 30,
        thumbnail_sha256: thumb.parse().unwrap(),
        caption: "Retak".into(),
        owner: ticket(owner),
        author_id: author,
        taken_at_ms: 1_767_225_600_000,
        upload_state: state,
    }
}

/// Pushes a new photo document and returns the one answer about it.
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
                ServerMessage::Applied(_)
                    | ServerMessage::WriteRejected(_)
                    | ServerMessage::Drop(_)
            )
        })
        .unwrap();
    (id, answer)
}

fn refused_for(answer: &ServerMessage) -> Vec<(String, ViolationReason)> {
    match answer {
        ServerMessage::WriteRejected(r) => {
            assert!(r.snapshot.is_empty() || !r.violations.is_empty());
            r.violations
                .iter()
                .map(|v| (v.field.clone(), v.reason))
                .collect()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn the_server_refuses_photo_documents_it_cannot_back(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let me: UserId = app.get("/api/v1/me", &customer).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let own = ticket_for_photos(&app, &customer, "Dinding retak").await;
    let (mut device, _) = Device::connect(app.server.addr, &customer, 0).await;
    let photo = fieldops_core::photo::normalise(&testing::synthetic_jpeg(400, 300, 3, 90)).unwrap();

    // Claiming "stored" for bytes the server does not hold: refused, nothing kept.
    let claim = photo_doc(
        me,
        own,
        &photo.sha256,
        &photo.thumbnail_sha256,
        UploadState::Stored,
    );
    let (id, answer) = push_new(&mut device, &claim).await;
    assert_eq!(
        refused_for(&answer),
        vec![("upload_state".to_owned(), ViolationReason::BytesMissing)]
    );
    assert!(
        fieldops_server::sync::load(&app.server.state.db, &id.to_string())
            .await
            .unwrap()
            .is_none()
    );

    // Pending is fine; moving it to stored waits for the bytes (thumbnail too).
    let pending = photo_doc(
        me,
        own,
        &photo.sha256,
        &photo.thumbnail_sha256,
        UploadState::Pending,
    );
    let (id, answer) = push_new(&mut device, &pending).await;
    assert!(matches!(answer, ServerMessage::Applied(_)), "{answer:?}");
    let mark = |device: &mut Device| {
        device.edit(id, |doc| {
            let mut p = Photo::hydrate(doc).unwrap();
            p.upload_state = UploadState::Stored;
            p.reconcile(doc).unwrap();
        })
    };
    mark(&mut device);
    let answer = device.push().await;
    assert_eq!(
        refused_for(
            answer
                .iter()
                .find(|m| matches!(m, ServerMessage::WriteRejected(_)))
                .unwrap()
        ),
        vec![("upload_state".to_owned(), ViolationReason::BytesMissing)]
    );
    assert_eq!(
        tus::upload(&app, &customer, &photo.image, None, 1 << 20)
            .await
            .last
            .status,
        204
    );
    mark(&mut device);
    let answer = device.push().await;
    assert!(
        answer
            .iter()
            .any(|m| matches!(m, ServerMessage::WriteRejected(_))),
        "the thumbnail is still missing: {answer:?}"
    );
    assert_eq!(
        tus::upload(&app, &customer, &photo.thumbnail, None, 1 << 20)
            .await
            .last
            .status,
        204
    );
    mark(&mut device);
    let answer = device.push().await;
    assert!(
        answer
            .iter()
            .any(|m| matches!(m, ServerMessage::Applied(_))),
        "{answer:?}"
    );
    // The photo and its thumbnail now belong to the ticket.
    let owners = blobs::owners(app.server.state.db.pool(), &photo.thumbnail_sha256)
        .await
        .unwrap();
    assert_eq!(owners, vec![("ticket".to_owned(), own.to_string())]);

    // Someone else's ticket, or no ticket at all: not the author's to attach to.
    let cs = app.login_as("cs").await;
    let other_customer = app
        .post(
            "/api/v1/customers",
            &cs,
            json!({ "name": "Bengkel Jaya", "phone": "+6281900000077" }),
        )
        .await;
    assert_eq!(other_customer.status, 201, "{:?}", other_customer.body);
    let other_customer = other_customer.body["id"].as_str().unwrap().to_owned();
    let theirs = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "subject": "Bukan milikmu", "category": "technical", "customer_id": other_customer }),
        )
        .await;
    assert_eq!(theirs.status, 201, "{:?}", theirs.body);
    let theirs: DocId = theirs.body["id"].as_str().unwrap().parse().unwrap();
    for owner in [theirs, DocId::new()] {
        let doc = photo_doc(
            me,
            owner,
            &photo.sha256,
            &photo.thumbnail_sha256,
            UploadState::Pending,
        );
        let (_, answer) = push_new(&mut device, &doc).await;
        assert_eq!(
            refused_for(&answer),
            vec![("owner".to_owned(), ViolationReason::NotOwner)]
        );
    }
    // A photo claiming another author.
    let forged = photo_doc(
        UserId::new(),
        own,
        &photo.sha256,
        &photo.thumbnail_sha256,
        UploadState::Pending,
    );
    let (_, answer) = push_new(&mut device, &forged).await;
    assert!(
        refused_for(&answer)
            .iter()
            .all(|(_, reason)| *reason == ViolationReason::NotOwner)
    );
    app.stop().await;
}
