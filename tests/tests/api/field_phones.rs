//! Issue 5's field flow on real phones: three fieldops-core devices (their
//! own SQLite stores) against a real server. CS creates a visit with quota 2;
//! three technicians claim, one of them offline; exactly two win and the
//! third phone shows `quota_full`; check-ins inside and outside the fence;
//! CS returns one technician to the emergency pool (the notes they were
//! writing offline stay on their phone, kept as refused) and a replacement
//! claims (and receives the photos taken so far);
//! an extension filed offline is approved and seen on the phone.

use std::time::Duration;

use fieldops_core::{CommandState, FieldopsCore, Position};
use fieldops_sync::docs::Visit;
use fieldops_sync::ids::DocId;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

use fieldops_tests::fixtures::{demo_customer, local_date, new_visit};

on_both_backends!(three_phones_work_a_visit_end_to_end);

const SYNC: Duration = Duration::from_secs(20);

async fn phone(app: &TestApp, dir: &tempfile::TempDir, n: usize) -> FieldopsCore {
    let core = FieldopsCore::open(dir.path().join(format!("tech{n}.db"))).unwrap();
    core.auth()
        .login(&app.url(""), &format!("tech{n}@example.com"), "tech123")
        .await
        .unwrap();
    core.sync().now(SYNC).await.unwrap();
    core
}

fn state_of(
    core: &FieldopsCore,
    id: fieldops_sync::ids::CommandId,
) -> (CommandState, Option<String>) {
    let entry = core.outbox().get(id).unwrap();
    (entry.state, entry.reason)
}

async fn three_phones_work_a_visit_end_to_end(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let created = new_visit(
        &app,
        &cs,
        &customer,
        "Perbaikan pompa air",
        &local_date(0),
        1,
        2,
    )
    .await;
    let visit: DocId = created["id"].as_str().unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        phone(&app, &dir, 1).await,
        phone(&app, &dir, 2).await,
        phone(&app, &dir, 3).await,
    );
    for p in [&a, &b, &c] {
        assert!(
            p.visits()
                .pool(None)
                .unwrap()
                .iter()
                .any(|i| i.doc_id == visit),
            "in every pool"
        );
    }

    // C is offline and claims first on its phone; A and B claim online.
    let c_claim = c.visits().claim(visit).unwrap();
    assert_eq!(state_of(&c, c_claim.command_id).0, CommandState::Pending);
    let a_claim = a.visits().claim(visit).unwrap();
    a.sync().now(SYNC).await.unwrap();
    let b_claim = b.visits().claim(visit).unwrap();
    b.sync().now(SYNC).await.unwrap();
    assert_eq!(state_of(&a, a_claim.command_id).0, CommandState::Accepted);
    assert_eq!(state_of(&b, b_claim.command_id).0, CommandState::Accepted);
    // C comes back: decided by arrival order at the server.
    c.sync().now(SYNC).await.unwrap();
    assert_eq!(
        state_of(&c, c_claim.command_id),
        (CommandState::Rejected, Some("quota_full".into()))
    );
    a.sync().now(SYNC).await.unwrap();
    assert!(
        a.visits()
            .mine(None)
            .unwrap()
            .iter()
            .any(|i| i.doc_id == visit),
        "A's visits list it"
    );
    assert!(
        !c.documents().contains(visit).unwrap(),
        "the full visit left C's pool"
    );

    // A checks in on site, B far away: both accepted, B's flagged.
    let site = Position {
        lat: -6.2251,
        lon: 106.8097,
    };
    let a_in = a.visits().check_in(visit, site, 5.0).unwrap();
    assert!(a_in.geofence.within);
    a.sync().now(SYNC).await.unwrap();
    let b_in = b
        .visits()
        .check_in(
            visit,
            Position {
                lat: -6.30,
                lon: 106.90,
            },
            5.0,
        )
        .unwrap();
    assert!(!b_in.geofence.within, "the phone already knows");
    b.sync().now(SYNC).await.unwrap();
    assert_eq!(
        state_of(&a, a_in.command.command_id).0,
        CommandState::Accepted
    );
    assert_eq!(
        state_of(&b, b_in.command.command_id).0,
        CommandState::Accepted
    );
    let report = app
        .get(&format!("/api/v1/attendance?date={}", local_date(0)), &cs)
        .await;
    assert_eq!(report.status, 200, "{:?}", report.body);

    // A takes a "before" photo of the visit; B, who holds it too, receives it.
    let before = a
        .photos()
        .attach(
            fieldops_sync::docs::photo::Owner {
                kind: fieldops_sync::docs::photo::OwnerKind::Visit,
                id: visit,
            },
            &fieldops_core::photo::testing::synthetic_jpeg(800, 600, 7, 90),
            "Pompa sebelum diperbaiki",
            1_767_225_600_000,
        )
        .unwrap();
    a.sync().now(SYNC).await.unwrap();
    b.sync().now(SYNC).await.unwrap();
    let on_b = b.photos().get(before.photo_id).unwrap();
    assert_eq!(on_b.caption, "Pompa sebelum diperbaiki");
    assert_eq!(b.photos().of(visit).unwrap().len(), 1);
    assert!(
        !c.documents().contains(before.photo_id).unwrap(),
        "not to a technician who does not hold the visit"
    );

    // CS sends B back to the emergency pool; B's phone drops it, C claims it.
    let detail = app.get(&format!("/api/v1/visits/{visit}"), &cs).await;
    let b_id = app
        .get(
            "/api/v1/me",
            &app.login("tech2@example.com", "tech123").await,
        )
        .await
        .body["user"]["id"]
        .clone();
    let b_assignment = detail.body["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["technician_id"] == b_id)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // B writes notes offline meanwhile; they never reach the server.
    let notes = "Pompa perlu diganti, menunggu suku cadang";
    b.visits().set_notes(visit, notes).unwrap();
    let returned = app
        .post(
            &format!("/api/v1/assignments/{b_assignment}/return-to-pool"),
            &cs,
            // B checked in earlier: returning them needs CS's force.
            json!({ "reason": "Tidak datang", "force": true }),
        )
        .await;
    assert_eq!(returned.status, 200, "{:?}", returned.body);
    b.sync().now(SYNC).await.unwrap();
    assert!(
        !b.visits()
            .mine(None)
            .unwrap()
            .iter()
            .any(|i| i.doc_id == visit),
        "gone from B's visits"
    );
    // What B typed is still on B's phone, with why it did not go through.
    let kept = b.documents().refused().unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].doc_id, visit);
    assert!(!kept[0].created_here);
    assert!(
        kept[0]
            .violations
            .iter()
            .any(|v| v.starts_with("document:")),
        "{kept:?}"
    );
    assert_eq!(
        b.documents().refused_copy::<Visit>(visit).unwrap().notes,
        notes
    );
    assert!(b.documents().dismiss_refused(visit).unwrap());
    assert!(
        !b.documents().contains(before.photo_id).unwrap(),
        "and the crew's photos A took went with it"
    );
    c.sync().now(SYNC).await.unwrap();
    assert!(
        c.visits().get(visit).unwrap().emergency,
        "C sees it as an emergency in the pool"
    );
    let replacement = c.visits().claim(visit).unwrap();
    c.sync().now(SYNC).await.unwrap();
    assert_eq!(
        state_of(&c, replacement.command_id).0,
        CommandState::Accepted
    );
    // The replacement joins the crew with the visit's photos so far.
    c.sync().now(SYNC).await.unwrap();
    assert_eq!(
        c.photos().get(before.photo_id).unwrap().caption,
        "Pompa sebelum diperbaiki"
    );
    assert_eq!(c.photos().of(visit).unwrap().len(), 1);
    // Its bytes come on demand, checked against the document's hash.
    assert!(c.photos().file(&before.sha256).is_none(), "not taken on C");
    for (thumbnail, sha) in [(true, &before.thumbnail_sha256), (false, &before.sha256)] {
        let path = c.photos().fetch(before.photo_id, thumbnail).await.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&fieldops_core::photo::sha256_hex(&bytes), sha);
    }
    assert!(c.photos().file(&before.sha256).is_some(), "kept on C");

    // A asks for two more days while offline; CS approves; A's phone shows it.
    let asked = a
        .visits()
        .request_extension(visit, 2, "Suku cadang belum datang")
        .unwrap();
    a.sync().now(SYNC).await.unwrap();
    assert_eq!(state_of(&a, asked.command_id).0, CommandState::Accepted);
    let pending = app.get("/api/v1/extensions?status=pending", &cs).await;
    let ext = pending.body["items"][0]["id"].as_str().unwrap().to_owned();
    let approved = app
        .post(&format!("/api/v1/extensions/{ext}/approve"), &cs, json!({}))
        .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    a.sync().now(SYNC).await.unwrap();
    assert_eq!(a.visits().get(visit).unwrap().planned_days, 3);
    app.stop().await;
}
