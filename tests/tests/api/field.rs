//! The GSS field flow end to end over HTTP: claims against a quota, withdraw,
//! check-in inside and outside the geofence, the attendance report, the
//! emergency pool, extensions, completion and reopening, with live events.

use fieldops_tests::client::{At, NewVisit};
use fieldops_tests::{Backend, TestApp, next_json, on_both_backends, websocket};
use serde_json::{Value, json};

use fieldops_tests::fixtures::{demo_customer, local_date, new_visit};

on_both_backends!(
    quota_two_three_claimers_then_attendance_emergency_and_extension,
    schedule_conflicts_and_withdrawals,
    attendance_report_tells_present_late_and_absent,
    deactivating_a_technician_gives_back_the_seats_not_yet_worked,
);

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

fn at(lat: f64, lon: f64, accuracy_m: f64) -> Value {
    json!({ "device_time": now_rfc3339(), "lat": lat, "lon": lon, "accuracy_m": accuracy_m })
}

/// Waits for the next event of `kind`, skipping others.
async fn event_of(socket: &mut fieldops_tests::Socket, kind: &str) -> Value {
    loop {
        let event = next_json(socket, 10).await;
        if event["kind"] == kind {
            return event;
        }
    }
}

async fn quota_two_three_claimers_then_attendance_emergency_and_extension(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let techs = [
        app.login("tech1@example.com", "tech123").await,
        app.login("tech2@example.com", "tech123").await,
        app.login("tech3@example.com", "tech123").await,
    ];
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(
        &app,
        &cs,
        &customer,
        "Perbaikan panel",
        &local_date(0),
        2,
        2,
    )
    .await;
    let id = visit["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/visits/{id}");
    let mut console = websocket(app.server.addr, "/api/v1/events", &cs).await;

    let claim_path = format!("{path}/claim");
    let replies =
        futures_util::future::join_all(techs.iter().map(|t| app.post(&claim_path, t, json!({}))))
            .await;
    let winners: Vec<usize> = (0..3).filter(|i| replies[*i].status == 200).collect();
    assert_eq!(winners.len(), 2, "{replies:?}");
    let loser = (0..3).find(|i| !winners.contains(i)).unwrap();
    assert_eq!(replies[loser].assert_problem(409), "quota_full");
    let after = app.get(&path, &cs).await;
    assert_eq!(after.body["status"], "assigned");
    assert_eq!(after.body["in_pool"], false);
    assert_eq!(
        event_of(&mut console, "visit.claimed").await["data"]["visit_id"],
        id.as_str()
    );
    let again = app
        .post(&format!("{path}/claim"), &techs[winners[0]], json!({}))
        .await;
    assert_eq!(again.assert_problem(409), "already_claimed");

    // One winner inside the fence (10 m away), the other 3 km off: accepted, flagged.
    let (a, b) = (&techs[winners[0]], &techs[winners[1]]);
    let inside = app
        .post(&format!("{path}/check-in"), a, at(-6.22519, 106.80975, 8.0))
        .await;
    assert_eq!(inside.status, 200, "{:?}", inside.body);
    assert_eq!(inside.body["within_geofence"], true);
    assert!(inside.body["distance_m"].as_f64().unwrap() < 50.0);
    assert!(inside.body["received_at"].is_string() && inside.body["device_time"].is_string());
    let live = event_of(&mut console, "attendance.checked_in").await;
    assert_eq!(live["data"]["within_geofence"], true);
    assert_eq!(
        event_of(&mut console, "visit.status_changed").await["data"]["status"],
        "in_progress"
    );
    let outside = app
        .post(&format!("{path}/check-in"), b, at(-6.2521, 106.8097, 20.0))
        .await;
    assert_eq!(outside.status, 200, "{:?}", outside.body);
    assert_eq!(outside.body["within_geofence"], false);
    assert!(outside.body["distance_m"].as_f64().unwrap() > 2_500.0);
    assert_eq!((outside.body["fence_radius_m"].as_f64()), Some(220.0));
    let twice = app
        .post(&format!("{path}/check-in"), b, at(-6.2251, 106.8097, 5.0))
        .await;
    assert_eq!(twice.assert_problem(409), "already_checked_in");
    assert_eq!(app.get(&path, &cs).await.body["status"], "in_progress");

    // CS returns the second one to the emergency pool; they are told.
    let b_assignment = replies[winners[1]].body["assignment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut phone_b = websocket(app.server.addr, "/api/v1/events", b).await;
    // They checked in (outside the fence): on site, so not absent. CS must
    // force the return, which checks them out.
    let refused = app
        .post(
            &format!("/api/v1/assignments/{b_assignment}/return-to-pool"),
            &cs,
            json!({ "reason": "Tidak datang hari ini" }),
        )
        .await;
    assert_eq!(refused.assert_problem(409), "technician_on_site");
    let returned = app
        .post(
            &format!("/api/v1/assignments/{b_assignment}/return-to-pool"),
            &cs,
            json!({ "reason": "Tidak datang hari ini", "force": true }),
        )
        .await;
    assert_eq!(returned.status, 200, "{:?}", returned.body);
    assert_eq!(returned.body["emergency"], true);
    assert_eq!(returned.body["in_pool"], true);
    assert_eq!(returned.body["seats_taken"], 1);
    let told = event_of(&mut phone_b, "assignment.released").await;
    assert_eq!(told["data"]["reason"], "Tidak datang hari ini");
    assert_eq!(told["data"]["kind"], "returned");
    // The day's attendance keeps them, returned, with CS's check-out at the
    // site closing the hours they were there.
    let report = app
        .get(&format!("/api/v1/attendance?date={}", local_date(0)), &cs)
        .await;
    let row = report.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["assignment_id"] == b_assignment.as_str())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the returned technician is on the report: {:?}",
                report.body
            )
        });
    assert_eq!(row["returned"], true);
    assert_eq!(row["status"], "present", "they did check in");
    assert_eq!(
        row["check_out"]["within_geofence"], true,
        "checked out by CS at the site"
    );
    // The emergency seat is for someone else: the returned one may not take it.
    let again = app.post(&format!("{path}/claim"), b, json!({})).await;
    assert_eq!(again.assert_problem(409), "returned_from_visit");
    let pool = app
        .get("/api/v1/visits?pool=true&limit=200", &techs[loser])
        .await;
    assert!(
        pool.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["id"] == id.as_str() && v["emergency"] == true)
    );
    app.post(
        &format!("/api/v1/assignments/{b_assignment}/return-to-pool"),
        &cs,
        json!({ "reason": "lagi" }),
    )
    .await
    .assert_problem(409);
    app.post(&format!("{path}/check-out"), b, at(-6.2251, 106.8097, 5.0))
        .await
        .assert_problem(409);

    // The replacement (the earlier loser) claims the reopened seat.
    let replacement = app
        .post(&format!("{path}/claim"), &techs[loser], json!({}))
        .await;
    assert_eq!(replacement.status, 200, "{:?}", replacement.body);
    assert_eq!(
        replacement.body["visit"]["emergency"], false,
        "the seat is filled again"
    );

    // Extension: filed by a holder, approved by CS, seen by the technician.
    let mut phone_a = websocket(app.server.addr, "/api/v1/events", a).await;
    let asked = app
        .post(
            &format!("{path}/extensions"),
            a,
            json!({ "extra_days": 2, "reason": "Menunggu suku cadang" }),
        )
        .await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    assert_eq!(asked.body["status"], "pending");
    let dup = app
        .post(
            &format!("{path}/extensions"),
            a,
            json!({ "extra_days": 1, "reason": "lagi" }),
        )
        .await;
    assert_eq!(dup.assert_problem(409), "extension_pending");
    let pending = app.get("/api/v1/extensions?status=pending", &cs).await;
    assert_eq!(pending.body["items"].as_array().unwrap().len(), 1);
    let ext_id = asked.body["id"].as_str().unwrap();
    let approved = app
        .post(
            &format!("/api/v1/extensions/{ext_id}/approve"),
            &cs,
            json!({ "note": "OK" }),
        )
        .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(
        event_of(&mut phone_a, "extension.approved").await["data"]["extra_days"],
        2
    );
    assert_eq!(app.get(&path, &cs).await.body["planned_days"], 4);
    app.post(
        &format!("/api/v1/extensions/{ext_id}/reject"),
        &cs,
        json!({}),
    )
    .await
    .assert_problem(409);

    // Done only once everyone on site has checked out; CS can reopen.
    let early = app
        .post(
            &format!("{path}/complete"),
            a,
            json!({ "summary": "Selesai" }),
        )
        .await;
    assert_eq!(early.assert_problem(409), "still_on_site");
    let out = app
        .post(&format!("{path}/check-out"), a, at(-6.2251, 106.8097, 5.0))
        .await;
    assert_eq!(out.status, 200, "{:?}", out.body);
    assert_eq!(out.body["direction"], "out");
    let done = app
        .post(
            &format!("{path}/complete"),
            a,
            json!({ "summary": "Panel diganti, uji beban OK" }),
        )
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["status"], "done");
    assert_eq!(done.body["summary"], "Panel diganti, uji beban OK");
    let late_claim = app
        .post(&format!("{path}/claim"), &techs[loser], json!({}))
        .await;
    assert_eq!(late_claim.assert_problem(409), "visit_done");
    let reopened = app
        .post(
            &format!("{path}/reopen"),
            &cs,
            json!({ "reason": "Masih bocor" }),
        )
        .await;
    assert_eq!(reopened.status, 200, "{:?}", reopened.body);
    assert_eq!(reopened.body["status"], "in_progress");

    let trail = fieldops_server::db::audit::trail(&app.server.state.db, "visit", &id)
        .await
        .unwrap();
    let transitions = trail
        .iter()
        .filter(|(a, _)| a == "visit.status_changed")
        .count();
    // open→assigned, assigned→in_progress, in_progress→done, done→in_progress.
    assert_eq!(transitions, 4, "{trail:?}");
    app.stop().await;
}

async fn schedule_conflicts_and_withdrawals(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let customer = demo_customer(&app, &cs).await;
    let (cs, tech) = (app.api(&cs), app.api(&tech));
    let visit = async |title, start, days| {
        let new = NewVisit::new(&customer, title, start).days(days);
        cs.create_visit(&new).await.unwrap()
    };
    let first = visit("Minggu 1", "2030-06-01", 3).await;
    let overlap = visit("Tumpang", "2030-06-03", 1).await;
    let after = visit("Sesudah", "2030-06-04", 1).await;
    tech.claim(&first.id).await.unwrap();
    let clash = tech.claim(&overlap.id).await.unwrap_err();
    assert_eq!((clash.status, clash.slug()), (409, "schedule_conflict"));
    assert!(clash.problem.detail.unwrap().contains("Minggu 1"));
    tech.claim(&after.id).await.unwrap();

    // Withdrawing returns the seat; then the overlapping one is free to take.
    let withdrawn = tech.withdraw(&first.id).await.unwrap();
    assert_eq!(withdrawn.status, "open");
    assert_eq!(withdrawn.seats_taken, 0);
    assert!(!withdrawn.emergency);
    assert_eq!(
        withdrawn.assignments[0].release_kind.as_deref(),
        Some("withdrawn")
    );
    tech.claim(&overlap.id).await.unwrap();
    let not_held = tech.withdraw(&first.id).await.unwrap_err();
    assert_eq!((not_held.status, not_held.slug()), (409, "not_assigned"));

    // After checking in, withdrawing is refused.
    let on_site = At {
        lat: -6.2251,
        lon: 106.8097,
        accuracy_m: 5.0,
    };
    tech.check_in(&after.id, on_site).await.unwrap();
    let refused = tech.withdraw(&after.id).await.unwrap_err();
    assert_eq!(
        (refused.status, refused.slug()),
        (409, "already_checked_in")
    );
    app.stop().await;
}

async fn attendance_report_tells_present_late_and_absent(backend: Backend) {
    // Work starts at 00:00 with no grace: anyone without a check-in today is late.
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.attendance.workday_start_minute = 0;
        c.attendance.late_grace_minutes = 0;
    })
    .await
    else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech1 = app.login("tech1@example.com", "tech123").await;
    let tech2 = app.login("tech2@example.com", "tech123").await;
    let customer = demo_customer(&app, &cs).await;
    let today = new_visit(&app, &cs, &customer, "Hari ini", &local_date(0), 1, 2).await;
    // Yesterday's visit is a backfill, which only an admin may make.
    let admin = app.login_as("admin").await;
    let past = app
        .post("/api/v1/visits", &admin, json!({
            "customer_id": customer, "title": "Kemarin", "force": true,
            "site": { "address": "Jl. Jend. Sudirman Kav. 52-53", "lat": -6.2251, "lon": 106.8097 },
            "scheduled_start": local_date(-1), "planned_days": 1, "technician_quota": 1
        }))
        .await;
    assert_eq!(past.status, 201, "{:?}", past.body);
    let past = past.body;
    let tomorrow = new_visit(&app, &cs, &customer, "Besok", &local_date(1), 1, 1).await;
    for (v, t) in [
        (&today, &tech1),
        (&today, &tech2),
        (&past, &tech1),
        (&tomorrow, &tech2),
    ] {
        let r = app
            .post(
                &format!("/api/v1/visits/{}/claim", v["id"].as_str().unwrap()),
                t,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let checked = app
        .post(
            &format!("/api/v1/visits/{}/check-in", today["id"].as_str().unwrap()),
            &tech1,
            at(-6.2251, 106.8097, 5.0),
        )
        .await;
    assert_eq!(checked.status, 200);

    let status_of = |report: &Value, title: &str, tech: &str| -> (String, bool) {
        let e = report["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["visit_title"] == title && e["technician_name"] == tech)
            .unwrap_or_else(|| panic!("{title}/{tech} missing from {report}"));
        (
            e["status"].as_str().unwrap().to_owned(),
            e["arrived_late"] == true,
        )
    };
    let now = app
        .get(&format!("/api/v1/attendance?date={}", local_date(0)), &cs)
        .await;
    assert_eq!(now.status, 200, "{:?}", now.body);
    assert_eq!(
        status_of(&now.body, "Hari ini", "Budi Hartono"),
        ("present".into(), true)
    );
    assert_eq!(
        status_of(&now.body, "Hari ini", "Dewi Lestari"),
        ("late".into(), false)
    );
    let entry = now.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == "present")
        .unwrap();
    assert_eq!(entry["check_in"]["within_geofence"], true);
    assert_eq!(entry["outside_geofence"], false);
    // A check-in kilometres away is accepted, and the row says so.
    let far = app
        .post(
            &format!("/api/v1/visits/{}/check-in", today["id"].as_str().unwrap()),
            &tech2,
            at(-6.30, 106.90, 5.0),
        )
        .await;
    assert_eq!(far.status, 200, "{:?}", far.body);
    let now = app
        .get(&format!("/api/v1/attendance?date={}", local_date(0)), &cs)
        .await;
    let dewi = now.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["technician_name"] == "Dewi Lestari")
        .unwrap();
    assert_eq!(dewi["status"], "present");
    assert_eq!(dewi["outside_geofence"], true, "{dewi}");
    let yesterday = app
        .get(&format!("/api/v1/attendance?date={}", local_date(-1)), &cs)
        .await;
    assert_eq!(
        status_of(&yesterday.body, "Kemarin", "Budi Hartono"),
        ("absent".into(), false)
    );
    let ahead = app
        .get(&format!("/api/v1/attendance?date={}", local_date(1)), &cs)
        .await;
    assert_eq!(
        status_of(&ahead.body, "Besok", "Dewi Lestari"),
        ("expected".into(), false)
    );
    assert_eq!(ahead.body["entries"].as_array().unwrap().len(), 1);
    app.get("/api/v1/attendance?date=kemarin", &cs)
        .await
        .assert_problem(422);
    app.get("/api/v1/attendance", &tech1)
        .await
        .assert_problem(403);
    app.stop().await;
}

async fn deactivating_a_technician_gives_back_the_seats_not_yet_worked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let today = new_visit(
        &app,
        &cs,
        &customer,
        "Dikerjakan hari ini",
        &local_date(0),
        1,
        2,
    )
    .await;
    let later = new_visit(&app, &cs, &customer, "Besok pagi", &local_date(1), 1, 1).await;
    let (today, later) = (today["id"].as_str().unwrap(), later["id"].as_str().unwrap());
    let tech = app.login("tech3@example.com", "tech123").await;
    for visit in [today, later] {
        let claim = app
            .post(&format!("/api/v1/visits/{visit}/claim"), &tech, json!({}))
            .await;
        assert!(claim.status.is_success(), "{:?}", claim.body);
    }
    let on_site = app
        .post(
            &format!("/api/v1/visits/{today}/check-in"),
            &tech,
            at(-6.2251, 106.8097, 5.0),
        )
        .await;
    assert!(on_site.status.is_success(), "{:?}", on_site.body);
    let me = app.get("/api/v1/me", &tech).await;
    let tech_id = me.body["user"]["id"].as_str().unwrap().to_owned();
    let mut console = websocket(app.server.addr, "/api/v1/events", &cs).await;

    let off = app
        .post(
            &format!("/api/v1/users/{tech_id}/deactivate"),
            &admin,
            json!({}),
        )
        .await;
    assert!(off.status.is_success(), "{:?}", off.body);

    // Tomorrow's seat is back in the pool, as a return, flagged.
    let later_now = app.get(&format!("/api/v1/visits/{later}"), &cs).await;
    assert_eq!(later_now.body["seats_taken"], 0);
    assert_eq!(later_now.body["emergency"], true);
    assert_eq!(later_now.body["in_pool"], true);
    let released = later_now.body["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["technician_id"] == tech_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(released["release_kind"], "returned");
    // The reason is the server's, said in each reader's language.
    app.set_language(&cs, "en").await;
    let in_english = app.get(&format!("/api/v1/visits/{later}"), &cs).await;
    let reasons = |body: &Value| {
        body["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["release_reason"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(reasons(&in_english.body), ["account deactivated"]);
    app.set_language(&cs, "id").await;
    let in_bahasa = app.get(&format!("/api/v1/visits/{later}"), &cs).await;
    assert_eq!(reasons(&in_bahasa.body), ["akun dinonaktifkan"]);
    // Today's, where they are on site, is theirs until CS decide.
    let today_now = app.get(&format!("/api/v1/visits/{today}"), &cs).await;
    assert_eq!(today_now.body["seats_taken"], 1);
    // CS hear both live: the seat back in the pool, and the question.
    let (mut returned_event, mut decide_event) = (None, None);
    while returned_event.is_none() || decide_event.is_none() {
        let event = next_json(&mut console, 10).await;
        match event["kind"].as_str() {
            Some("visit.returned_to_pool") => returned_event = Some(event),
            Some("visit.holder_deactivated") => decide_event = Some(event),
            _ => {}
        }
    }
    let (returned_event, event) = (returned_event.unwrap(), decide_event.unwrap());
    assert_eq!(returned_event["data"]["visit_id"], later);
    assert_eq!(returned_event["data"]["emergency"], true);
    assert!(
        returned_event["data"]["reason"]
            .as_str()
            .is_some_and(|r| !r.starts_with('\u{1}')),
        "the event says the reason in words: {returned_event}"
    );
    assert_eq!(event["data"]["visit_id"], today);
    assert_eq!(event["data"]["technician_id"], tech_id.as_str());
    // The visit carries the question until CS answer it.
    assert_eq!(
        today_now.body["needs_decision"], true,
        "{:?}",
        today_now.body
    );
    assert_eq!(later_now.body["needs_decision"], false);
    let holder = today_now.body["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["technician_id"] == tech_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(holder["technician_active"], false);
    let decided = app
        .post(
            &format!(
                "/api/v1/assignments/{}/return-to-pool",
                holder["id"].as_str().unwrap()
            ),
            &cs,
            json!({ "reason": "Akun teknisi dinonaktifkan", "force": true }),
        )
        .await;
    assert_eq!(decided.status, 200, "{:?}", decided.body);
    assert_eq!(decided.body["needs_decision"], false);
    app.stop().await;
}
