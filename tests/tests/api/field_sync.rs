//! Field work decided through the sync protocol: technicians' phones send
//! commands (claim, check in, ask for days) that run through the same service
//! functions as the HTTP API, exactly once.

use fieldops_server::auth::Actor;
use fieldops_server::domain::Role;
use fieldops_sync::commands::{
    Attendance, Command, CommandBody, CommandOutcome, CommandResult, RejectReason,
};
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::visit::{Visit, VisitStatus};
use fieldops_sync::ids::{CommandId, DocId};
use fieldops_sync::protocol::{ClientMessage, ServerMessage};
use fieldops_tests::device::Device;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

use fieldops_tests::fixtures::{demo_customer, local_date, new_visit};

on_both_backends!(
    claims_check_ins_and_extensions_travel_as_commands,
    claim_commands_refused_before_any_service_take_no_seat_at_the_gate,
    a_returned_technician_is_absent_that_day_and_stays_out_of_the_visit
);

fn command(seq: u64, body: CommandBody) -> Command {
    Command {
        id: CommandId::new(),
        device_seq: seq,
        // The phone's clock, as the outbox stamps it.
        issued_at_ms: jiff::Timestamp::now().as_millisecond(),
        body,
    }
}

/// Sends one command and waits for its result.
async fn run(device: &mut Device, command: Command) -> CommandResult {
    device.send(ClientMessage::Commands(vec![command])).await;
    loop {
        if let ServerMessage::CommandResults(mut results) = device.recv().await {
            return results.remove(0);
        }
    }
}

fn rejected(result: &CommandResult) -> Option<RejectReason> {
    match &result.outcome {
        CommandOutcome::Rejected { reason, .. } => Some(*reason),
        CommandOutcome::Accepted { .. } => None,
    }
}

async fn claims_check_ins_and_extensions_travel_as_commands(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(&app, &cs, &customer, "Panel check", &local_date(0), 2, 2).await;
    let visit_id: DocId = visit["id"].as_str().unwrap().parse().unwrap();

    let mut phones = Vec::new();
    for email in [
        "tech1@example.com",
        "tech2@example.com",
        "tech3@example.com",
    ] {
        let token = app.login(email, "tech123").await;
        if email.starts_with("tech3") {
            // A phone's refusals speak its account's language.
            app.set_language(&token, "id").await;
        }
        phones.push(Device::connect(app.server.addr, &token, 0).await.0);
    }
    for phone in &phones {
        assert!(
            phone.docs.contains_key(&visit_id),
            "the open visit is in every technician's pool"
        );
    }
    // Three claims for two seats: the first two to arrive win.
    let claims: Vec<Command> = (0..3)
        .map(|_| command(1, CommandBody::ClaimVisit { visit_id }))
        .collect();
    let mut results = Vec::new();
    for (phone, claim) in phones.iter_mut().zip(&claims) {
        results.push(run(phone, claim.clone()).await);
    }
    assert!(
        results[0].is_accepted() && results[1].is_accepted(),
        "{results:?}"
    );
    assert_eq!(rejected(&results[2]), Some(RejectReason::QuotaFull));
    match &results[2].outcome {
        CommandOutcome::Rejected { message, .. } => assert!(
            message.starts_with("kunjungan sudah penuh"),
            "in Bahasa Indonesia, the account's language: {message}"
        ),
        CommandOutcome::Accepted { .. } => unreachable!(),
    }
    let after = app.get(&format!("/api/v1/visits/{visit_id}"), &cs).await;
    assert_eq!(after.body["status"], "assigned");
    // The decision reaches the phones by sync alone: the winners' copies show
    // both assignments, and the full visit leaves the loser's pool.
    while phones[2].docs.contains_key(&visit_id) {
        phones[2].until_feed().await;
    }
    for winner in &mut phones[..2] {
        while Visit::hydrate(&winner.docs[&visit_id].1)
            .unwrap()
            .assignments
            .len()
            < 2
        {
            winner.until_feed().await;
        }
        let doc = Visit::hydrate(&winner.docs[&visit_id].1).unwrap();
        assert_eq!(doc.status, VisitStatus::Assigned);
        assert!(
            doc.customer_private.is_none(),
            "no customer-private fields travel"
        );
    }

    // A command sent again (its answer was lost) gets the stored answer and
    // changes nothing; a new command with an old sequence number is refused.
    assert_eq!(
        run(&mut phones[0], claims[0].clone()).await,
        results[0],
        "replayed, not re-run"
    );
    let stale = run(
        &mut phones[0],
        command(1, CommandBody::ReleaseVisit { visit_id }),
    )
    .await;
    assert_eq!(rejected(&stale), Some(RejectReason::OutOfOrder));

    // Check in on site and far away: both accepted, the second flagged.
    let at = |lat: f64, lon: f64| Attendance {
        visit_id,
        lat,
        lon,
        accuracy_m: 10.0,
        device_time_ms: jiff::Timestamp::now().as_millisecond(),
    };
    let on_site = run(
        &mut phones[0],
        command(3, CommandBody::CheckIn(at(-6.2251, 106.8097))),
    )
    .await;
    let far = run(
        &mut phones[1],
        command(2, CommandBody::CheckIn(at(-6.9, 107.6))),
    )
    .await;
    assert!(
        on_site.is_accepted() && far.is_accepted(),
        "{on_site:?} {far:?}"
    );
    let loser = run(
        &mut phones[2],
        command(2, CommandBody::CheckIn(at(-6.2251, 106.8097))),
    )
    .await;
    assert_eq!(rejected(&loser), Some(RejectReason::NotAssigned));
    // The session's clock-skew estimate went with the check-ins.
    let skews: Vec<Option<i64>> = sqlx::query_scalar("SELECT clock_skew_ms FROM attendance")
        .fetch_all(app.server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(skews.len(), 2);
    assert!(
        skews
            .iter()
            .all(|s| s.is_some_and(|s| (0..60_000).contains(&s))),
        "{skews:?}"
    );
    let report = app
        .get(&format!("/api/v1/attendance?date={}", local_date(0)), &cs)
        .await;
    assert_eq!(report.status, 200, "{:?}", report.body);

    // An extension filed from the phone, approved by CS.
    let asked = run(
        &mut phones[0],
        command(
            4,
            CommandBody::RequestExtension {
                visit_id,
                extra_days: 2,
                reason: "Spare part delayed".into(),
            },
        ),
    )
    .await;
    assert!(asked.is_accepted(), "{asked:?}");
    let pending = app.get("/api/v1/extensions?status=pending", &cs).await;
    let ext = pending.body["items"][0]["id"].as_str().unwrap().to_owned();
    let approved = app
        .post(&format!("/api/v1/extensions/{ext}/approve"), &cs, json!({}))
        .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(
        app.get(&format!("/api/v1/visits/{visit_id}"), &cs)
            .await
            .body["planned_days"],
        4
    );

    // Each command ran once: one row per command id.
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sync_commands")
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(count, 8);
    app.stop().await;
}

/// A claim command the executor refuses before any service runs (here: a
/// sequence number the phone already used) cannot win, so it does not pass
/// the claim gate: it is answered at once while the visit's admitted claims
/// wait for their turn at the database, and counts against no seat.
async fn claim_commands_refused_before_any_service_take_no_seat_at_the_gate(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let earlier = new_visit(&app, &cs, &customer, "Kemarin", "2030-07-01", 1, 1).await;
    let visit = new_visit(&app, &cs, &customer, "Dua kursi", "2030-07-02", 1, 2).await;
    let (earlier, visit_id): (DocId, DocId) = (
        earlier["id"].as_str().unwrap().parse().unwrap(),
        visit["id"].as_str().unwrap().parse().unwrap(),
    );
    let token = app.login("tech1@example.com", "tech123").await;
    let mut phone = Device::connect(app.server.addr, &token, 0).await.0;
    let first = run(
        &mut phone,
        command(1, CommandBody::ClaimVisit { visit_id: earlier }),
    )
    .await;
    assert!(first.is_accepted(), "{first:?}");

    // Another technician's claim is admitted and holds the visit's turn.
    let state = &app.server.state;
    let gate = &state.claim_gate;
    let actor = |user_id: String| Actor {
        user_id,
        session_id: "device".into(),
        role: Role::Technician,
        name: "Teknisi".into(),
        customer_id: None,
        department_ids: vec![],
    };
    let tech2 = actor(app.token_for("tech2@example.com").await.0);
    let mut ahead = gate
        .admit(&state.db, &tech2, &visit_id.to_string())
        .await
        .unwrap();
    ahead.take_turn().await;

    let stale = run(&mut phone, command(1, CommandBody::ClaimVisit { visit_id })).await;
    assert_eq!(rejected(&stale), Some(RejectReason::OutOfOrder));
    assert_eq!(gate.in_flight(&visit_id.to_string()), 1);
    let tech3 = actor(app.token_for("tech3@example.com").await.0);
    let behind = gate.admit(&state.db, &tech3, &visit_id.to_string()).await;
    assert!(behind.is_ok(), "the second seat is free: {behind:?}");
    drop((ahead, behind));
    app.stop().await;
}

/// A technician who claimed from the phone and never came is returned by
/// CS: absent (returned) on that day's attendance and on no later day of
/// the visit; their phone's claim of the emergency seat is refused at the
/// gate, which keeps the seat for someone else.
async fn a_returned_technician_is_absent_that_day_and_stays_out_of_the_visit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let visit = new_visit(&app, &cs, &customer, "Genset mati", &local_date(0), 2, 1).await;
    let id = visit["id"].as_str().unwrap().to_owned();
    let visit_id: DocId = id.parse().unwrap();
    let token = app.login("tech1@example.com", "tech123").await;
    let mut phone = Device::connect(app.server.addr, &token, 0).await.0;
    let claimed = run(&mut phone, command(1, CommandBody::ClaimVisit { visit_id })).await;
    assert!(claimed.is_accepted(), "{claimed:?}");

    let held = app.get(&format!("/api/v1/visits/{id}"), &cs).await;
    let assignment = held.body["assignments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let returned = app
        .post(
            &format!("/api/v1/assignments/{assignment}/return-to-pool"),
            &cs,
            json!({ "reason": "Tidak datang" }),
        )
        .await;
    assert_eq!(returned.status, 200, "{:?}", returned.body);

    let row_on = |days: i64| {
        let app = &app;
        let cs = cs.clone();
        let assignment = assignment.clone();
        async move {
            let report = app
                .get(
                    &format!("/api/v1/attendance?date={}", local_date(days)),
                    &cs,
                )
                .await;
            assert_eq!(report.status, 200, "{:?}", report.body);
            report.body["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["assignment_id"] == assignment.as_str())
                .cloned()
        }
    };
    let today = row_on(0).await.expect("today's report keeps them");
    assert_eq!(today["status"], "absent");
    assert_eq!(today["returned"], true);
    assert_eq!(
        row_on(1).await,
        None,
        "not expected on the visit's next day"
    );

    let again = run(&mut phone, command(2, CommandBody::ClaimVisit { visit_id })).await;
    assert_eq!(rejected(&again), Some(RejectReason::ReturnedFromVisit));
    assert_eq!(app.server.state.claim_gate.in_flight(&id), 0);
    let other = app.login("tech2@example.com", "tech123").await;
    let taken = app
        .post(&format!("/api/v1/visits/{id}/claim"), &other, json!({}))
        .await;
    assert_eq!(
        taken.status, 200,
        "the emergency seat is free: {:?}",
        taken.body
    );
    app.stop().await;
}
