//! A technician who leaves a visit — withdraws, or is returned to the pool
//! by CS — loses it and the photos others took on it, over HTTP as over
//! sync: while the visit is in the pool they see it as every technician
//! does (the pool list's view), never its photos; once it leaves the pool,
//! not at all. The author of a photo keeps their own.

use fieldops_core::photo::{self, NormalisedPhoto, testing};
use fieldops_sync::docs::photo::{Owner, OwnerKind, UploadState};
use fieldops_sync::docs::{DocumentSchema as _, Photo};
use fieldops_sync::ids::{DocId, DocKind, UserId};
use fieldops_sync::protocol::ServerMessage;
use fieldops_tests::device::Device;
use fieldops_tests::photos as tus;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};

use fieldops_tests::fixtures::{demo_customer, new_visit};

on_both_backends!(technicians_who_leave_lose_the_visit_and_its_photos);

async fn user_id(app: &TestApp, token: &str) -> UserId {
    app.get("/api/v1/me", token).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `author` (holding `visit`) takes a photo on it: uploaded, and its
/// document pushed as a phone does.
async fn photo_on_visit(app: &TestApp, author: &str, visit: DocId) -> NormalisedPhoto {
    let p = photo::normalise(&testing::synthetic_jpeg(1200, 900, 41, 90)).unwrap();
    let thumb = tus::upload(app, author, &p.thumbnail, None, 1 << 20).await;
    assert_eq!(thumb.last.status, 204, "{:?}", thumb.last.body);
    let image = tus::upload(app, author, &p.image, Some(&p.thumbnail_sha256), 1 << 20).await;
    assert_eq!(image.last.status, 204, "{:?}", image.last.body);
    let doc = Photo {
        sha256: p.sha256.parse().unwrap(),
        byte_size: p.image.len() as u64,
        width: 1200,
        height: 900,
        thumbnail_sha256: p.thumbnail_sha256.parse().unwrap(),
        caption: "Panel sebelum diperbaiki".into(),
        owner: Owner {
            kind: OwnerKind::Visit,
            id: visit,
        },
        author_id: user_id(app, author).await,
        taken_at_ms: 1_767_225_600_000,
        upload_state: UploadState::Stored,
    };
    let (mut phone, _) = Device::connect(app.server.addr, author, 0).await;
    phone
        .docs
        .insert(DocId::new(), (DocKind::Photo, doc.to_document().unwrap()));
    let answers = phone.push().await;
    assert!(
        answers
            .iter()
            .any(|m| matches!(m, ServerMessage::Applied(_))),
        "{answers:?}"
    );
    p
}

/// The status of every way to a link of photo `p`: the photo and its
/// thumbnail, and the thumbnail by its own hash.
async fn link_statuses(app: &TestApp, token: &str, p: &NormalisedPhoto) -> Vec<u16> {
    let mut out = Vec::new();
    for (sha, variant) in [
        (&p.sha256, "original"),
        (&p.sha256, "thumbnail"),
        (&p.thumbnail_sha256, "original"),
    ] {
        let reply = app
            .get(
                &format!("/api/v1/blobs/{sha}/link?variant={variant}"),
                token,
            )
            .await;
        out.push(reply.status.as_u16());
    }
    out
}

/// The visit as the pool list shows it to `token`.
async fn in_pool_list(app: &TestApp, token: &str, visit: &str) -> Option<Value> {
    let pool = app.get("/api/v1/visits?pool=true&limit=200", token).await;
    assert_eq!(pool.status, 200, "{:?}", pool.body);
    pool.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == visit)
        .cloned()
}

/// The seat of `technician` on the visit (for CS's return-to-pool).
async fn assignment_of(app: &TestApp, cs: &str, path: &str, technician: UserId) -> String {
    let detail = app.get(path, cs).await;
    detail.body["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["technician_id"] == technician.to_string().as_str() && a["state"] == "active")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn technicians_who_leave_lose_the_visit_and_its_photos(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let mut techs = Vec::new();
    for n in 1..=4 {
        techs.push(app.login(&format!("tech{n}@example.com"), "tech123").await);
    }
    let [author, leaver, returned, replacement] = [&techs[0], &techs[1], &techs[2], &techs[3]];
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(&app, &cs, &customer, "Ganti panel", "2030-06-03", 2, 2).await;
    let id = visit["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/visits/{id}");
    for tech in [author, leaver] {
        let claimed = app.post(&format!("{path}/claim"), tech, json!({})).await;
        assert_eq!(claimed.status, 200, "{:?}", claimed.body);
    }
    let p = photo_on_visit(&app, author, id.parse().unwrap()).await;

    // A crew mate sees the visit and the photo the author took.
    assert_eq!(app.get(&path, leaver).await.status, 200);
    assert_eq!(link_statuses(&app, leaver, &p).await, [200, 200, 200]);

    // They withdraw: the visit is back in the pool, and they see it as the
    // pool shows it to everyone, but not the crew's photo.
    let withdrawn = app
        .post(&format!("{path}/withdraw"), leaver, json!({}))
        .await;
    assert_eq!(withdrawn.status, 200, "{:?}", withdrawn.body);
    let seen = app.get(&path, leaver).await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    assert_eq!(Some(seen.body), in_pool_list(&app, leaver, &id).await);
    assert_eq!(link_statuses(&app, leaver, &p).await, [403, 403, 403]);

    // Someone else takes the seat: out of the pool, out of their sight.
    let claimed = app
        .post(&format!("{path}/claim"), returned, json!({}))
        .await;
    assert_eq!(claimed.status, 200, "{:?}", claimed.body);
    assert_eq!(link_statuses(&app, returned, &p).await, [200, 200, 200]);
    app.get(&path, leaver).await.assert_problem(403);
    assert_eq!(link_statuses(&app, leaver, &p).await, [403, 403, 403]);

    // CS return the newcomer to the emergency pool: the same.
    let seat = assignment_of(&app, &cs, &path, user_id(&app, returned).await).await;
    let back = app
        .post(
            &format!("/api/v1/assignments/{seat}/return-to-pool"),
            &cs,
            json!({ "reason": "Tidak datang" }),
        )
        .await;
    assert_eq!(back.status, 200, "{:?}", back.body);
    let seen = app.get(&path, returned).await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    assert_eq!(seen.body["emergency"], true);
    assert_eq!(Some(seen.body), in_pool_list(&app, returned, &id).await);
    assert_eq!(link_statuses(&app, returned, &p).await, [403, 403, 403]);
    let claimed = app
        .post(&format!("{path}/claim"), replacement, json!({}))
        .await;
    assert_eq!(claimed.status, 200, "{:?}", claimed.body);
    app.get(&path, returned).await.assert_problem(403);
    assert_eq!(link_statuses(&app, returned, &p).await, [403, 403, 403]);
    // The replacement joins the crew with its photos.
    assert_eq!(link_statuses(&app, replacement, &p).await, [200, 200, 200]);

    // The author, returned in turn, keeps the photo they took, not the visit.
    let seat = assignment_of(&app, &cs, &path, user_id(&app, author).await).await;
    let back = app
        .post(
            &format!("/api/v1/assignments/{seat}/return-to-pool"),
            &cs,
            json!({ "reason": "Dipindah ke lokasi lain" }),
        )
        .await;
    assert_eq!(back.status, 200, "{:?}", back.body);
    let claimed = app.post(&format!("{path}/claim"), leaver, json!({})).await;
    assert_eq!(claimed.status, 200, "{:?}", claimed.body);
    app.get(&path, author).await.assert_problem(403);
    assert_eq!(link_statuses(&app, author, &p).await, [200, 200, 200]);
    app.stop().await;
}
