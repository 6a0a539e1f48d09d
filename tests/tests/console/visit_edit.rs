//! Editing a visit from the dispatch board: CS change what the rules let
//! them change; once a technician holds the visit its schedule and site are
//! read-only for CS, a change of them is refused with the reason on the
//! page (the typed values kept), and an admin may force it.

use fieldops_tests::console::Browser;
use fieldops_tests::fixtures::{demo_customer, local_date, new_visit};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(cs_edit_a_visit_within_the_frozen_once_claimed_rules);

/// The edit form's fields as the page would send them.
fn fields<'a>(
    title: &'a str,
    start: &'a str,
    days: &'a str,
    quota: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", title),
        ("description", "Unit indoor menetes"),
        ("address", "Jl. Sudirman 1, Jakarta"),
        ("lat", "-6.2088"),
        ("lon", "106.8456"),
        ("scheduled_start", start),
        ("planned_days", days),
        ("technician_quota", quota),
        ("department_id", ""),
        ("ticket", ""),
    ]
}

async fn cs_edit_a_visit_within_the_frozen_once_claimed_rules(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin_token = app.login_as("admin").await;
    let cs_token = app.login_as("cs").await;
    let customer = demo_customer(&app, &admin_token).await;
    let today = local_date(0);
    let tomorrow = local_date(1);
    let visit = new_visit(&app, &cs_token, &customer, "Servis AC", &today, 1, 2).await;
    let id = visit["id"].as_str().unwrap().to_owned();
    let path = format!("/dispatch/visits/{id}");

    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let board = cs.get("/dispatch").await;
    assert!(
        board.html.contains(&format!("href=\"{path}\"")),
        "{}",
        board.html
    );
    let form = cs.get(&path).await;
    assert_eq!(form.status, 200, "{}", form.html);
    assert!(form.html.contains("value=\"Servis AC\""));
    assert!(!form.html.contains("readonly"), "nobody holds it yet");

    // Before anyone claims it, everything may change.
    let saved = cs
        .post(&path, &fields("Servis AC lantai 2", &tomorrow, "2", "3"))
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let after = app.get(&format!("/api/v1/visits/{id}"), &cs_token).await;
    assert_eq!(after.body["title"], "Servis AC lantai 2");
    assert_eq!(after.body["scheduled_start"], tomorrow.as_str());
    assert_eq!(after.body["planned_days"], 2);
    assert_eq!(after.body["technician_quota"], 3);
    assert_eq!(after.body["description"], "Unit indoor menetes");

    // A number that is not one is named on the page, the typed value kept.
    let typo = cs
        .post(&path, &fields("Servis AC lantai 2", &tomorrow, "2", "tiga"))
        .await;
    assert_eq!(typo.status, 422);
    assert!(typo.html.contains("value=\"tiga\""), "{}", typo.html);

    // A technician claims it: the schedule and site freeze for CS.
    let tech = app.login_as("technician").await;
    let claim = app
        .post(&format!("/api/v1/visits/{id}/claim"), &tech, json!({}))
        .await;
    assert!(claim.status.is_success(), "{:?}", claim.body);
    let form = cs.get(&path).await;
    assert!(form.html.contains("readonly"), "{}", form.html);
    assert!(form.html.contains("dikunci"), "the page says why");
    let moved = cs
        .post(&path, &fields("Servis AC lantai 2", &today, "2", "3"))
        .await;
    assert_eq!(moved.status, 422, "{}", moved.html);
    assert!(moved.html.contains("class=\"problem\""));
    assert!(
        moved.html.contains(&format!("value=\"{today}\"")),
        "the typed date is kept"
    );
    let unchanged = app.get(&format!("/api/v1/visits/{id}"), &cs_token).await;
    assert_eq!(unchanged.body["scheduled_start"], tomorrow.as_str());
    // What is not frozen still changes; the quota not below the seats taken.
    let renamed = cs
        .post(&path, &fields("Servis AC + freon", &tomorrow, "2", "2"))
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.html);
    let below = cs
        .post(&path, &fields("Servis AC + freon", &tomorrow, "2", "0"))
        .await;
    assert_eq!(below.status, 422);

    // An admin may force the move.
    let mut admin = Browser::signed_in_as(&app, "admin").await;
    let form = admin.get(&path).await;
    assert!(form.html.contains("name=\"force\""), "{}", form.html);
    let mut forced = fields("Servis AC + freon", &today, "2", "2");
    forced.push(("force", "1"));
    let forced = admin.post(&path, &forced).await;
    assert_eq!(forced.status, 303, "{}", forced.html);
    let moved = app.get(&format!("/api/v1/visits/{id}"), &cs_token).await;
    assert_eq!(moved.body["scheduled_start"], today.as_str());
    assert_eq!(moved.body["title"], "Servis AC + freon");

    // Sales read the board but edit nothing.
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    assert_eq!(sales.get(&path).await.status, 403);
    app.stop().await;
}
