//! The field service functions called directly, as the sync command executor
//! does: a unit of work's transaction and an actor in, a typed outcome out.

use fieldops_server::auth::Actor;
use fieldops_server::db::visits::VisitStatus;
use fieldops_server::domain::Role;
use fieldops_server::service::ServiceError;
use fieldops_server::visits::gate::ClaimGate;
use fieldops_server::visits::{attendance, claims, extensions};
use fieldops_server::work::{Effects, Work};
use fieldops_sync::commands::RejectReason;
use fieldops_tests::{Backend, TestApp, on_both_backends};

use fieldops_tests::fixtures::{demo_customer, new_visit};

on_both_backends!(
    services_return_typed_outcomes_and_notices,
    claim_gate_counts_claims_in_flight_once,
    claim_gate_shares_reads_among_claims_that_arrive_together,
    claim_gate_counts_only_claims_that_can_still_win,
    the_gate_read_finds_overlaps_among_thousands_of_claimers,
    distance_filters_reuse_one_connection
);

fn technician(user_id: &str) -> Actor {
    Actor {
        user_id: user_id.to_owned(),
        session_id: "device".into(),
        role: Role::Technician,
        name: "Teknisi".into(),
        customer_id: None,
        department_ids: vec![],
    }
}

/// The four demo technicians, as actors.
async fn demo_technicians(app: &TestApp) -> Vec<Actor> {
    let mut techs = Vec::new();
    for n in 1..=4 {
        techs.push(technician(
            &app.token_for(&format!("tech{n}@example.com")).await.0,
        ));
    }
    techs
}

fn reason<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> RejectReason {
    match result {
        Err(ServiceError::Rejected(r)) => r.reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn services_return_typed_outcomes_and_notices(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(&app, &cs, &customer, "Langsung", "2030-08-01", 1, 1).await;
    let visit_id = visit["id"].as_str().unwrap();
    let (t1, _) = app.token_for("tech1@example.com").await;
    let (t2, _) = app.token_for("tech2@example.com").await;
    let db = &app.server.state.db;

    let mut work = Work::begin(&app.server.state).await.unwrap();
    let won = claims::claim(work.tx(), db.backend(), &technician(&t1), visit_id)
        .await
        .unwrap();
    work.commit(Effects::none()).await.unwrap();
    assert_eq!(won.value.visit.status, VisitStatus::Assigned);
    let kinds: Vec<&str> = won.notices.iter().map(|n| n.what.kind()).collect();
    assert_eq!(kinds, ["visit.claimed", "visit.status_changed"]);

    for (who, expected) in [
        (&t2, RejectReason::QuotaFull),
        (&t1, RejectReason::AlreadyClaimed),
    ] {
        let mut work = Work::begin(&app.server.state).await.unwrap();
        let outcome = claims::claim(work.tx(), db.backend(), &technician(who), visit_id).await;
        assert_eq!(reason(outcome), expected);
    }
    let mut work = Work::begin(&app.server.state).await.unwrap();
    let unknown = claims::claim(
        work.tx(),
        db.backend(),
        &technician(&t2),
        &fieldops_server::db::new_id(),
    )
    .await;
    assert_eq!(reason(unknown), RejectReason::NotFound);
    drop(work);

    let mut work = Work::begin(&app.server.state).await.unwrap();
    let out = attendance::attend(
        work.tx(),
        db.backend(),
        &technician(&t1),
        &app.server.state.config.attendance,
        visit_id,
        attendance::Direction::Out,
        attendance::Position {
            lat: -6.2251,
            lon: 106.8097,
            accuracy_m: 3.0,
            device_time_ms: fieldops_server::db::now_ms(),
            clock_skew_ms: None,
        },
    )
    .await;
    assert_eq!(reason(out), RejectReason::NotCheckedIn);
    drop(work);

    let mut work = Work::begin(&app.server.state).await.unwrap();
    let absurd = extensions::request(
        work.tx(),
        db.backend(),
        &technician(&t1),
        visit_id,
        400,
        "lama",
    )
    .await;
    assert_eq!(reason(absurd), RejectReason::Invalid);
    let by_tech =
        extensions::decide(work.tx(), db.backend(), &technician(&t1), "x", true, None).await;
    assert_eq!(reason(by_tech), RejectReason::Forbidden);
    // Rejections are rolled back by dropping the transaction.
    drop(work);
    app.stop().await;
}

/// The claim gate refuses what in-flight claims and holders already fill,
/// counts a claim that committed while still in flight once, admits a
/// second claim of the same technician without a second seat, refuses a
/// schedule conflict without holding a seat, and keeps nothing once the
/// claims end. The database still decides the admitted.
async fn claim_gate_counts_claims_in_flight_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(&app, &cs, &customer, "Gerbang", "2030-08-02", 1, 2).await;
    let visit_id = visit["id"].as_str().unwrap();
    let techs = demo_technicians(&app).await;
    let db = &app.server.state.db;
    let gate = ClaimGate::default();

    let mut a = gate.admit(db, &techs[0], visit_id).await.unwrap();
    let mut b = gate.admit(db, &techs[1], visit_id).await.unwrap();
    // Admitted claims on one visit take turns at the database.
    a.take_turn().await;
    let wait = std::time::Duration::from_millis(50);
    assert!(
        tokio::time::timeout(wait, b.take_turn()).await.is_err(),
        "b waits for a"
    );
    assert_eq!(
        reason(gate.admit(db, &techs[2], visit_id).await),
        RejectReason::QuotaFull,
        "two in flight fill a quota of two"
    );
    let a_again = gate.admit(db, &techs[0], visit_id).await.unwrap();
    assert_eq!(gate.in_flight(visit_id), 3, "admitted, but no second seat");
    drop((b, a_again));
    let mut other = gate.admit(db, &techs[1], visit_id).await.unwrap();
    assert!(tokio::time::timeout(wait, other.take_turn()).await.is_err());
    drop(other);

    // `a` commits; its request has not ended: it is one seat, not two.
    let mut work = Work::begin(&app.server.state).await.unwrap();
    claims::claim(work.tx(), db.backend(), &techs[0], visit_id)
        .await
        .unwrap();
    work.commit(Effects::none()).await.unwrap();
    let c = gate.admit(db, &techs[2], visit_id).await.unwrap();
    assert_eq!(
        reason(gate.admit(db, &techs[3], visit_id).await),
        RejectReason::QuotaFull
    );
    assert_eq!(
        reason(gate.admit(db, &techs[0], visit_id).await),
        RejectReason::AlreadyClaimed,
        "a holder is told from the read"
    );
    drop((a, c));
    assert_eq!(gate.in_flight(visit_id), 0, "nothing kept once they end");

    // A holder of a visit on the same day is refused and holds no seat.
    let same_day = new_visit(&app, &cs, &customer, "Bentrok", "2030-08-02", 1, 1).await;
    let same_day = same_day["id"].as_str().unwrap();
    assert_eq!(
        reason(gate.admit(db, &techs[0], same_day).await),
        RejectReason::ScheduleConflict
    );
    assert_eq!(gate.in_flight(same_day), 0);

    // A seat nobody is taking is admitted again; the database decides.
    let d = gate.admit(db, &techs[3], visit_id).await.unwrap();
    let mut work = Work::begin(&app.server.state).await.unwrap();
    claims::claim(work.tx(), db.backend(), &techs[3], visit_id)
        .await
        .unwrap();
    work.commit(Effects::none()).await.unwrap();
    drop(d);
    assert_eq!(
        reason(gate.admit(db, &techs[2], visit_id).await),
        RejectReason::QuotaFull,
        "full in the database"
    );
    let unknown = gate
        .admit(db, &techs[2], &fieldops_server::db::new_id())
        .await;
    assert_eq!(reason(unknown), RejectReason::NotFound);
    let mut cs_actor = technician(&techs[2].user_id);
    cs_actor.role = Role::Cs;
    assert_eq!(
        reason(gate.admit(db, &cs_actor, visit_id).await),
        RejectReason::Forbidden
    );
    app.stop().await;
}

/// Claims on one visit that arrive while its read runs share the next read:
/// four claims together cost two reads, and are answered as if each had
/// read alone. The server's gate counts its reads in `/metrics`.
async fn claim_gate_shares_reads_among_claims_that_arrive_together(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(&app, &cs, &customer, "Serentak", "2030-08-03", 1, 1).await;
    let visit_id = visit["id"].as_str().unwrap();
    let techs = demo_technicians(&app).await;
    let db = &app.server.state.db;
    let gate = ClaimGate::default();

    // The first claim starts a read at once; the other three arrive while
    // it runs, wait for the next read and share it.
    let claims = futures_util::future::join_all(techs.iter().map(|t| gate.admit(db, t, visit_id)));
    let outcomes = fieldops_tests::with_readers_held(db, claims).await;
    assert_eq!(gate.reads(), 2, "one read alone, then one for three");
    let mut outcomes = outcomes.into_iter();
    let first = outcomes.next().unwrap().unwrap();
    for refused in outcomes {
        assert_eq!(reason(refused), RejectReason::QuotaFull);
    }
    assert_eq!(gate.in_flight(visit_id), 1);
    drop(first);

    // A read is shared only by the claims that arrived before it began.
    drop(gate.admit(db, &techs[1], visit_id).await.unwrap());
    assert_eq!(gate.reads(), 3);

    // The server's own gate reports its reads.
    let claimed = app
        .post(
            &format!("/api/v1/visits/{visit_id}/claim"),
            &app.token_for("tech1@example.com").await.1,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(claimed.status, 200, "{:?}", claimed.body);
    assert_eq!(app.server.state.claim_gate.reads(), 1);
    let metrics = app.call(reqwest::Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("fieldops_claim_gate_reads_total 1"), "{text}");
    app.stop().await;
}

/// The gate counts only claims that can still win. Claimers who hold a visit
/// on the same day share a read with the free claimer behind them and are
/// told `schedule_conflict` from it, taking no seat from her. A technician's
/// claim on a visit overlapping one they are claiming waits, counted
/// nowhere, until that claim ends: then it is told `schedule_conflict` if
/// that claim won, or goes on if it failed.
async fn claim_gate_counts_only_claims_that_can_still_win(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let day = "2030-08-04";
    let seat = new_visit(&app, &cs, &customer, "Satu kursi", day, 1, 1).await;
    let seat = seat["id"].as_str().unwrap();
    let held = new_visit(&app, &cs, &customer, "Dipegang", day, 1, 2).await;
    let held = held["id"].as_str().unwrap();
    let techs = demo_technicians(&app).await;
    let db = &app.server.state.db;
    for t in &techs[..2] {
        let mut work = Work::begin(&app.server.state).await.unwrap();
        claims::claim(work.tx(), db.backend(), t, held)
            .await
            .unwrap();
        work.commit(Effects::none()).await.unwrap();
    }
    let gate = ClaimGate::default();

    // The first claim reads alone; the second busy one and the free one
    // share the next read, the busy one first.
    let claims = futures_util::future::join_all(techs[..3].iter().map(|t| gate.admit(db, t, seat)));
    let mut outcomes = fieldops_tests::with_readers_held(db, claims).await;
    assert_eq!(gate.reads(), 2);
    let free = outcomes
        .pop()
        .unwrap()
        .expect("the free claimer is admitted");
    for busy in outcomes {
        assert_eq!(reason(busy), RejectReason::ScheduleConflict);
    }
    assert_eq!(gate.in_flight(seat), 1);
    drop(free);

    // techs[2] claims `seat`; their claim on `beside`, the same day, waits.
    let beside = new_visit(&app, &cs, &customer, "Sebelah", day, 1, 1).await;
    let beside = beside["id"].as_str().unwrap();
    let first = gate.admit(db, &techs[2], seat).await.unwrap();
    // In tasks of their own: a claim left half-polled while it holds the
    // visit's shared read would block every other claim on that visit.
    let admit = |tech: &Actor, visit: &str| {
        let (gate, db, tech, visit) = (gate.clone(), db.clone(), tech.clone(), visit.to_owned());
        tokio::spawn(async move { gate.admit(&db, &tech, &visit).await })
    };
    let reads = gate.reads();
    let second = admit(&techs[2], beside);
    while gate.reads() == reads {
        tokio::task::yield_now().await;
    }
    let wait = std::time::Duration::from_millis(50);
    tokio::time::sleep(wait).await;
    assert!(!second.is_finished(), "waits for the first");
    assert_eq!(gate.in_flight(beside), 0, "counted nowhere meanwhile");
    let rival = gate
        .admit(db, &techs[3], beside)
        .await
        .expect("a waiting claim takes no seat");
    // The first wins: the second is told so.
    let mut work = Work::begin(&app.server.state).await.unwrap();
    claims::claim(work.tx(), db.backend(), &techs[2], seat)
        .await
        .unwrap();
    work.commit(Effects::none()).await.unwrap();
    drop(first);
    assert_eq!(
        reason(second.await.unwrap()),
        RejectReason::ScheduleConflict
    );

    // techs[3]'s claim on `third` waits for theirs on `beside`, which then
    // fails (dropped uncommitted): it goes on.
    let third = new_visit(&app, &cs, &customer, "Ketiga", day, 1, 1).await;
    let third = third["id"].as_str().unwrap();
    let reads = gate.reads();
    let after = admit(&techs[3], third);
    while gate.reads() == reads {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(wait).await;
    assert!(!after.is_finished(), "waits for the claim on `beside`");
    drop(rival);
    let after = after
        .await
        .unwrap()
        .expect("admitted once the other claim failed");
    assert_eq!(gate.in_flight(third), 1);
    drop(after);
    assert_eq!(gate.in_flight(third), 0);
    app.stop().await;
}

/// The gate's read of a visit checks every claimer sharing it, past the
/// claimers one statement takes (1,000): holders and overlaps come out apart.
async fn the_gate_read_finds_overlaps_among_thousands_of_claimers(backend: Backend) {
    use fieldops_server::db::visits;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(&app, &cs, &customer, "Ramai", "2030-08-05", 2, 3).await;
    let visit = visit["id"].as_str().unwrap();
    let before = new_visit(&app, &cs, &customer, "Sebelum", "2030-08-04", 2, 2).await;
    let before = before["id"].as_str().unwrap();
    let after = new_visit(&app, &cs, &customer, "Sesudah", "2030-08-07", 1, 1).await;
    let after = after["id"].as_str().unwrap();
    let techs = demo_technicians(&app).await;
    let db = &app.server.state.db;
    for (t, v) in [(0, visit), (1, before), (2, before), (3, after)] {
        let mut work = Work::begin(&app.server.state).await.unwrap();
        claims::claim(work.tx(), db.backend(), &techs[t], v)
            .await
            .unwrap();
        work.commit(Effects::none()).await.unwrap();
    }
    // techs[1] first, techs[2] among the last; techs[3] holds a later day.
    let mut claimers: Vec<String> = (0..2_500).map(|i| format!("nobody-{i:04}")).collect();
    claimers[0] = techs[1].user_id.clone();
    claimers[2_400] = techs[2].user_id.clone();
    claimers.push(techs[3].user_id.clone());
    let mut conn = db.pool().acquire().await.unwrap();
    let view = visits::claim_view(&mut conn, visit, &claimers)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.holders, [techs[0].user_id.clone()]);
    let mut expected = vec![
        (
            techs[1].user_id.clone(),
            before.to_owned(),
            "Sebelum".to_owned(),
        ),
        (
            techs[2].user_id.clone(),
            before.to_owned(),
            "Sebelum".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(view.overlaps, expected);
    let unknown = fieldops_server::db::new_id();
    assert!(
        visits::claim_view(&mut conn, &unknown, &claimers)
            .await
            .unwrap()
            .is_none()
    );
    drop(conn);
    app.stop().await;
}

/// The same list statement with and without a bounding box on one
/// connection (a NULL f64 once poisoned the cached Postgres statement).
async fn distance_filters_reuse_one_connection(backend: Backend) {
    use fieldops_server::db::visits::{self, VisitFilter};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let db = &app.server.state.db;
    let mut conn = db.pool().acquire().await.unwrap();
    let open = VisitFilter::default();
    let boxed = VisitFilter {
        bbox: Some((-7.5, -7.0, 112.5, 113.0)),
        ..VisitFilter::default()
    };
    for _ in 0..2 {
        let all = visits::candidates(&mut *conn, &open, 100).await.unwrap();
        assert_eq!(all.len(), 7, "the demo visits: four open, three done");
        let near = visits::candidates(&mut *conn, &boxed, 100).await.unwrap();
        let titles: Vec<&str> = near.iter().map(|v| v.title.as_str()).collect();
        assert_eq!(titles, ["Pemeriksaan genset", "Perbaikan mesin kasir"]);
    }
    drop(conn);
    app.stop().await;
}
