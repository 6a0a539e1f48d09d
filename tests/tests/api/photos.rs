//! Photos end to end: resumable uploads (tus), deduplicated storage, signed
//! downloads by scope, server thumbnails, refusals that leave nothing behind,
//! and the garbage collector.

use fieldops_core::photo::{self, testing};
use fieldops_server::db::blobs::{self, OwnerKind};
use fieldops_tests::photos::{self as tus, sha256_hex};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    upload_cut_at_half_resumes_and_duplicates_send_nothing,
    server_makes_a_thumbnail_when_the_device_sent_none,
    bad_uploads_are_refused_and_leave_nothing,
    uploads_belong_to_their_creator,
    downloads_need_scope_and_a_valid_signature,
    unreferenced_blobs_are_collected_after_the_grace_period,
    an_upload_received_whole_but_never_stored_is_finished_when_asked_about,
);

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn blob_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    files(&app.blob_dir.path().join("blobs"))
}

fn upload_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    files(&app.blob_dir.path().join("uploads"))
}

fn normalised(seed: u32) -> photo::NormalisedPhoto {
    photo::normalise(&testing::synthetic_jpeg(2400, 1800, seed, 90)).unwrap()
}

async fn upload_claiming(
    app: &TestApp,
    token: &str,
    bytes: &[u8],
    claimed: &str,
) -> (String, tus::Uploaded) {
    let created = tus::create(app, token, bytes.len(), &tus::metadata(claimed, None)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let location = created.headers["location"].to_str().unwrap().to_owned();
    let outcome = tus::resume(app, token, &location, bytes, 64 * 1024).await;
    (location, outcome)
}

async fn upload_cut_at_half_resumes_and_duplicates_send_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let cs = app.login_as("cs").await;
    let tus_options = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(tus_options.status(), 204);
    assert_eq!(tus_options.headers()["tus-version"], "1.0.0");
    assert_eq!(
        tus_options.headers()["tus-max-size"],
        (15 * 1024 * 1024).to_string()
    );

    // Two photos taken offline, normalised on the device.
    let first = normalised(1);
    let second = normalised(2);
    assert_ne!(first.sha256, second.sha256);

    // The thumbnail goes first (it is small), then the photo, cut at half.
    let thumb = tus::upload(&app, &customer, &first.thumbnail, None, 1 << 20).await;
    assert_eq!(thumb.last.status, 204, "{:?}", thumb.last.body);
    let created = tus::create(
        &app,
        &customer,
        first.image.len(),
        &tus::metadata(&first.sha256, Some(&first.thumbnail_sha256)),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.headers["tus-resumable"], "1.0.0");
    let location = created.headers["location"].to_str().unwrap().to_owned();
    // Chunks of 64 KiB; the connection drops at 50 %, in the middle of one.
    let chunk = 64 * 1024;
    let half = first.image.len() / 2;
    let sent = tus::send_until_cut(&app, &customer, &location, &first.image, chunk, half).await;
    // The server resumes at the last whole chunk before the cut.
    let resume_at = tus::head(&app, &customer, &location).await.unwrap();
    assert_eq!(resume_at, (half / chunk * chunk) as u64);
    let resumed = tus::resume(&app, &customer, &location, &first.image, chunk).await;
    assert_eq!(resumed.last.status, 204, "{:?}", resumed.last.body);
    let resent = sent + resumed.bytes_sent - first.image.len() as u64;
    assert!(resent < chunk as u64, "re-sent {resent}");
    assert_eq!(
        tus::head(&app, &customer, &location).await.unwrap(),
        first.image.len() as u64
    );
    let other = tus::upload(&app, &customer, &second.image, None, 1 << 20).await;
    assert_eq!(other.last.status, 204);

    // The server holds it, with its size and dimensions.
    let check = app
        .get(&format!("/api/v1/blobs/{}", first.sha256), &customer)
        .await;
    assert_eq!(check.status, 200);
    assert_eq!(check.body["byte_size"], first.image.len());
    assert_eq!(check.body["content_type"], "image/jpeg");
    assert_eq!(
        (check.body["width"].as_u64(), check.body["height"].as_u64()),
        (Some(1600), Some(1200))
    );

    // Attached to nothing yet, it is the uploader's alone ...
    tus::download(&app, &cs, &first.sha256, "original")
        .await
        .0
        .assert_problem(403);
    // ... until it belongs to a ticket CS may see (devices record this when
    // they push the photo's document, see photo_queue.rs).
    tus::attach_to_new_ticket(&app, &customer, &first.sha256).await;
    // CS downloads the photo and the device's thumbnail, byte for byte.
    let (link, bytes) = tus::download(&app, &cs, &first.sha256, "original").await;
    assert_eq!(bytes.unwrap(), first.image);
    assert!(
        link.body["url"]
            .as_str()
            .unwrap()
            .starts_with("/api/v1/files/")
    );
    let (link, bytes) = tus::download(&app, &cs, &first.sha256, "thumbnail").await;
    assert_eq!(link.body["sha256"], first.thumbnail_sha256);
    assert_eq!(bytes.unwrap(), first.thumbnail);
    // The uploader may download too.
    assert_eq!(
        tus::download(&app, &customer, &first.sha256, "original")
            .await
            .1
            .unwrap(),
        first.image
    );

    // The same photo on a second ticket: no byte travels again...
    let again = tus::upload(&app, &customer, &first.image, None, 1 << 20).await;
    assert_eq!(again.bytes_sent, 0);
    // ... and a client that skips the check gets a finished upload at once.
    let created = tus::create(
        &app,
        &customer,
        first.image.len(),
        &tus::metadata(&first.sha256, None),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.headers["upload-offset"],
        first.image.len().to_string().as_str()
    );
    assert_eq!(created.body["complete"], true);
    // Stored once: photo, thumbnail, second photo.
    assert_eq!(blob_files(&app).len(), 3);
    assert!(
        upload_files(&app).is_empty(),
        "chunks left: {:?}",
        upload_files(&app)
    );
    app.stop().await;
}

async fn server_makes_a_thumbnail_when_the_device_sent_none(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let tech = app.login_as("technician").await;
    // A tus client that never ran our pipeline: a portrait PNG.
    let mut png = Vec::new();
    image_png(&mut png, 500, 900);
    let up = tus::upload(&app, &tech, &png, None, 1 << 20).await;
    assert_eq!(up.last.status, 204, "{:?}", up.last.body);
    let sha = sha256_hex(&png);
    let check = app.get(&format!("/api/v1/blobs/{sha}"), &tech).await;
    assert_eq!(check.body["content_type"], "image/png");
    let (link, bytes) = tus::download(&app, &tech, &sha, "thumbnail").await;
    let thumb = bytes.unwrap();
    assert_eq!(link.body["content_type"], "image/jpeg");
    let decoded = image_dims(&thumb);
    assert_eq!(decoded.1, 320);
    assert!(decoded.0 <= 320);
    // Made once: a second request links the same bytes.
    let (again, _) = tus::download(&app, &tech, &sha, "thumbnail").await;
    assert_eq!(again.body["sha256"], link.body["sha256"]);
    assert_eq!(blob_files(&app).len(), 2);
    app.stop().await;
}

/// A PNG of a synthetic photo.
fn image_png(out: &mut Vec<u8>, width: u32, height: u32) {
    image::DynamicImage::ImageRgb8(testing::synthetic(width, height, 9))
        .write_to(&mut std::io::Cursor::new(out), image::ImageFormat::Png)
        .unwrap();
}

fn image_dims(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).unwrap();
    (img.width(), img.height())
}

async fn bad_uploads_are_refused_and_leave_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.max_upload_bytes = 2 * 1024 * 1024).await
    else {
        return;
    };
    let customer = app.login_as("customer").await;
    let good = normalised(3);

    // A wrong claimed hash: refused when the last byte arrives, upload gone.
    let wrong = sha256_hex(b"something else");
    let (location, out) = upload_claiming(&app, &customer, &good.image, &wrong).await;
    assert_eq!(out.last.assert_problem(422), "hash-mismatch");
    assert_eq!(
        tus::head(&app, &customer, &location)
            .await
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/blobs/{wrong}"), &customer)
            .await
            .status,
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/blobs/{}", good.sha256), &customer)
            .await
            .status,
        404
    );

    // A text file named photo.jpg: refused on its first bytes.
    let text = "not a photo at all, just words. ".repeat(200).into_bytes();
    let (_, out) = upload_claiming(&app, &customer, &text, &sha256_hex(&text)).await;
    assert_eq!(out.last.assert_problem(422), "not-an-image");
    assert!(out.bytes_sent <= 64 * 1024);

    // A truncated JPEG, and a PNG whose pixels are garbage.
    let jpeg = testing::synthetic_jpeg(800, 600, 4, 90);
    let truncated = &jpeg[..jpeg.len() * 6 / 10];
    let (_, out) = upload_claiming(&app, &customer, truncated, &sha256_hex(truncated)).await;
    assert_eq!(out.last.assert_problem(422), "corrupt-image");
    let mut png = Vec::new();
    image_png(&mut png, 300, 200);
    for b in &mut png[120..] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let (_, out) = upload_claiming(&app, &customer, &png, &sha256_hex(&png)).await;
    assert_eq!(out.last.assert_problem(422), "corrupt-image");

    // A PNG bomb: 10 gigapixels declared in a few hundred bytes.
    let bomb = testing::png_bomb(100_000, 100_000);
    let (_, out) = upload_claiming(&app, &customer, &bomb, &sha256_hex(&bomb)).await;
    assert_eq!(out.last.assert_problem(422), "too-many-pixels");

    // Too large for the configured limit: refused before a byte is sent.
    let created = tus::create(
        &app,
        &customer,
        2 * 1024 * 1024 + 1,
        &tus::metadata(&good.sha256, None),
    )
    .await;
    assert_eq!(created.assert_problem(413), "payload-too-large");
    // A chunk that runs past the announced length.
    let created = tus::create(&app, &customer, 10, &tus::metadata(&good.sha256, None)).await;
    let location = created.headers["location"].to_str().unwrap().to_owned();
    let reply = tus::patch(&app, &customer, &location, 0, &[0u8; 11]).await;
    reply.assert_problem(413);
    // Bad headers: no tus version, a wrong offset, a bad hash, no content type.
    let reply = app
        .client
        .post(app.url("/api/v1/uploads"))
        .bearer_auth(&customer)
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 412);
    assert_eq!(reply.headers()["tus-version"], "1.0.0");
    assert_eq!(
        tus::patch(&app, &customer, &location, 5, &[0u8; 2])
            .await
            .assert_problem(409),
        "offset-mismatch"
    );
    let bad = tus::create(&app, &customer, 10, &tus::metadata("ABC", None)).await;
    assert_eq!(bad.assert_problem(422), "validation");
    assert_eq!(bad.body["errors"][0]["field"], "Upload-Metadata.sha256");

    // Nothing of any of these was stored.
    assert!(blob_files(&app).is_empty(), "{:?}", blob_files(&app));
    assert!(upload_files(&app).is_empty(), "{:?}", upload_files(&app));
    app.stop().await;
}

async fn uploads_belong_to_their_creator(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let tech = app.login_as("technician").await;
    let admin = app.login_as("admin").await;
    let photo = normalised(5);
    let created = tus::create(
        &app,
        &customer,
        photo.image.len(),
        &tus::metadata(&photo.sha256, None),
    )
    .await;
    let location = created.headers["location"].to_str().unwrap().to_owned();
    let half = photo.image.len() / 2;
    assert_eq!(
        tus::patch(&app, &customer, &location, 0, &photo.image[..half])
            .await
            .status,
        204
    );
    for token in [&tech, &admin] {
        // HEAD answers carry no body: the status says it.
        assert_eq!(
            tus::head(&app, token, &location).await.unwrap_err().status,
            403
        );
        let reply = tus::patch(&app, token, &location, half as u64, &photo.image[half..]).await;
        reply.assert_problem(403);
        let reply = app
            .client
            .delete(app.url(&location))
            .bearer_auth(token)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 403);
    }
    assert_eq!(
        tus::head(&app, &customer, &location).await.unwrap(),
        half as u64
    );
    // Its creator may cancel it; the chunks go with it.
    let reply = app
        .client
        .delete(app.url(&location))
        .bearer_auth(&customer)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    assert_eq!(
        tus::head(&app, &customer, &location)
            .await
            .unwrap_err()
            .status,
        404
    );
    assert!(upload_files(&app).is_empty());
    app.stop().await;
}

async fn downloads_need_scope_and_a_valid_signature(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let other = app
        .call(Method::POST, "/api/v1/auth/register", None, Some(json!({
            "name": "Siti", "email": "siti@example.com", "phone": "+6281399990001", "password": "password-9"
        })))
        .await;
    assert_eq!(other.status, 201, "{:?}", other.body);
    let other = other.body["access_token"].as_str().unwrap().to_owned();
    let photo = normalised(6);
    assert_eq!(
        tus::upload(&app, &customer, &photo.image, None, 1 << 20)
            .await
            .last
            .status,
        204
    );

    // Another customer may not see them, nor learn that they exist...
    assert_eq!(
        app.get(&format!("/api/v1/blobs/{}", photo.sha256), &other)
            .await
            .status,
        404
    );
    let link = app
        .get(&format!("/api/v1/blobs/{}/link", photo.sha256), &other)
        .await;
    link.assert_problem(403);
    // ... until the uploader records them as an owner.
    let state = &app.server.state;
    let id_of = |token: String| {
        let app = &app;
        async move {
            app.get("/api/v1/me", &token).await.body["user"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let other_id = id_of(other.clone()).await;
    let customer_id = id_of(customer.clone()).await;
    let mut tx = state.db.begin_write().await.unwrap();
    blobs::add_owner(
        &mut tx,
        &photo.sha256,
        OwnerKind::User,
        &other_id,
        &customer_id,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        tus::download(&app, &other, &photo.sha256, "original")
            .await
            .1
            .unwrap(),
        photo.image
    );

    // Links are bound to their hash and expiry, and die.
    let link = app
        .get(&format!("/api/v1/blobs/{}/link", photo.sha256), &customer)
        .await;
    let url = link.body["url"].as_str().unwrap().to_owned();
    let tampered = url.replace("expires=", "expires=9");
    // Change the signature's last digit (to another digit: a fixed "0" would
    // leave one signature in sixteen unchanged).
    let last = if url.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &url[..url.len() - 1]);
    let past = jiff::Timestamp::now().as_second() - 1;
    let expired = state.links.sign(&photo.sha256, past);
    for bad in [tampered, forged, expired] {
        let reply = app.call(Method::GET, &bad, None, None).await;
        assert_eq!(reply.assert_problem(403), "forbidden", "{bad}");
    }
    let ok = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(ok.headers()["content-type"], "image/jpeg");
    assert_eq!(
        ok.headers()["etag"],
        format!("\"{}\"", photo.sha256).as_str()
    );
    app.stop().await;
}

async fn unreferenced_blobs_are_collected_after_the_grace_period(backend: Backend) {
    let Some(app) =
        TestApp::spawn_with(backend, |c| c.blob_gc_grace = std::time::Duration::ZERO).await
    else {
        return;
    };
    let tech = app.login_as("technician").await;
    let kept = normalised(7);
    let dropped = normalised(8);
    for p in [&kept, &dropped] {
        let up = tus::upload(&app, &tech, &p.image, Some(&p.thumbnail_sha256), 1 << 20).await;
        assert_eq!(up.last.status, 204);
        assert_eq!(
            tus::upload(&app, &tech, &p.thumbnail, None, 1 << 20)
                .await
                .last
                .status,
            204
        );
    }
    let state = &app.server.state;
    let tech_id = app.get("/api/v1/me", &tech).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tx = state.db.begin_write().await.unwrap();
    blobs::add_owner(&mut tx, &kept.sha256, OwnerKind::Visit, "visit-1", &tech_id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(blob_files(&app).len(), 4);

    // Photo first, its thumbnail on the next run (it was referenced by the photo).
    fieldops_server::photos::collect_garbage(state)
        .await
        .unwrap();
    fieldops_server::photos::collect_garbage(state)
        .await
        .unwrap();
    let exists = |sha: String| {
        let app = &app;
        let tech = tech.clone();
        async move { app.get(&format!("/api/v1/blobs/{sha}"), &tech).await.status == 200 }
    };
    assert!(exists(kept.sha256.clone()).await);
    assert!(exists(kept.thumbnail_sha256.clone()).await);
    assert!(!exists(dropped.sha256.clone()).await);
    assert!(!exists(dropped.thumbnail_sha256.clone()).await);
    assert_eq!(blob_files(&app).len(), 2);

    // A run cut short after marking (state left in 'deleting') is finished by
    // the next; bytes with no row at all are removed too.
    sqlx::query("UPDATE blobs SET state = 'deleting' WHERE sha256 = $1")
        .bind(&kept.thumbnail_sha256)
        .execute(state.db.pool())
        .await
        .unwrap();
    state
        .blobs
        .put_blob(&dropped.sha256, dropped.image.clone().into())
        .await
        .unwrap();
    fieldops_server::photos::collect_garbage(state)
        .await
        .unwrap();
    assert!(!exists(kept.thumbnail_sha256.clone()).await);
    assert_eq!(blob_files(&app).len(), 1);
    assert!(exists(kept.sha256.clone()).await);

    // Collected bytes can come back.
    assert_eq!(
        tus::upload(&app, &tech, &dropped.image, None, 1 << 20)
            .await
            .last
            .status,
        204
    );
    assert!(exists(dropped.sha256.clone()).await);
    app.stop().await;
}

/// The state the phone crash trials found: every byte of an upload
/// received, its offset at the length, but the verification and storing
/// never done (the request that carried the last chunk was cut while they
/// ran, which dropped the handler, or the server stopped). A client then
/// reads "done" from HEAD, and until this was fixed the bytes were never
/// stored: the photo could never be marked `stored` (`bytes_missing`,
/// forever). Now the last chunk's finishing runs to the end in a task of its
/// own, and a HEAD, or an empty PATCH at the end, finishes an upload left so.
async fn an_upload_received_whole_but_never_stored_is_finished_when_asked_about(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let state = &app.server.state;
    for (seed, ask) in [(31, Method::HEAD), (32, Method::PATCH)] {
        let photo = normalised(seed);
        let bytes = &photo.image;
        let sha256 = photo.sha256.clone();
        let created =
            tus::create(&app, &customer, bytes.len(), &tus::metadata(&sha256, None)).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let location = created.headers["location"].to_str().unwrap().to_owned();
        let id = location.rsplit('/').next().unwrap();
        // Received whole and recorded, as the last PATCH does before it
        // verifies: then nothing more, as when that request is cut.
        let part = state
            .blobs
            .put_part(id, bytes.clone().into())
            .await
            .unwrap();
        let mut work = fieldops_server::work::Work::begin(state).await.unwrap();
        let len = bytes.len() as i64;
        assert!(
            fieldops_server::db::uploads::append_part(work.tx(), id, 0, len, &part)
                .await
                .unwrap()
        );
        work.commit(fieldops_server::work::Effects::none())
            .await
            .unwrap();
        assert!(
            blobs::get(state.db.pool(), &sha256)
                .await
                .unwrap()
                .is_none()
        );

        // What a second instance reads before either finishes.
        let stale = fieldops_server::db::uploads::get(state.db.pool(), id)
            .await
            .unwrap()
            .unwrap();
        let offset = if ask == Method::HEAD {
            tus::head(&app, &customer, &location).await.unwrap()
        } else {
            let reply = tus::patch(&app, &customer, &location, bytes.len() as u64, &[]).await;
            assert_eq!(reply.status, 204, "{:?}", reply.body);
            tus::header_u64(&reply, "upload-offset")
        };
        assert_eq!(offset, bytes.len() as u64, "{ask}");
        let blob = blobs::get(state.db.pool(), &sha256).await.unwrap();
        assert_eq!(
            blob.map(|b| (b.state, b.byte_size)),
            Some(("stored".to_owned(), len)),
            "{ask}: the bytes are stored"
        );
        // Asked again: the same answer, nothing stored twice.
        assert_eq!(tus::head(&app, &customer, &location).await.unwrap(), offset);
        // That second instance finishing from what it read is done, not
        // redone: one upload, one audit row.
        fieldops_server::photos::store_verified(state, &stale, bytes.clone().into())
            .await
            .unwrap();
        let audited: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'blob.uploaded' AND entity_id = $1",
        )
        .bind(&sha256)
        .fetch_one(state.db.pool())
        .await
        .unwrap();
        assert_eq!(audited, 1, "{ask}");
    }
    app.stop().await;
}
