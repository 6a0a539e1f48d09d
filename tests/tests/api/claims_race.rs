//! The quota invariant under load: 500 concurrent claimers on 50 visits with
//! quotas 1 to 3 get exactly the quota in winners, every visit, checked
//! against the database; replays (the same idempotency key, or a plain
//! retry) change nothing. And the claim gate's side of it: a claim told
//! `quota_full` never leaves a seat open behind it, even when claims that
//! cannot win (schedule conflicts) race with it.

use std::collections::HashMap;
use std::sync::Arc;

use fieldops_sync::commands::{Command, CommandBody, CommandOutcome, RejectReason};
use fieldops_sync::ids::CommandId;
use fieldops_sync::protocol::{ClientMessage, ServerMessage};
use fieldops_tests::device::Device;
use fieldops_tests::{Backend, Reply, TestApp, on_both_backends};
use serde_json::json;

use fieldops_tests::fixtures::{claim_audit as audit, demo_customer, new_visit};

on_both_backends!(
    five_hundred_claimers_never_pass_the_quota,
    claims_told_quota_full_leave_no_seat_open
);

const VISITS: usize = 50;
const CLAIMERS: usize = 500;

async fn five_hundred_claimers_never_pass_the_quota(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let mut ids = Vec::with_capacity(VISITS);
    let mut quota = HashMap::new();
    for i in 0..VISITS {
        let q = (i % 3) as i64 + 1;
        let v = new_visit(
            &app,
            &cs,
            &customer,
            &format!("Race {i}"),
            "2030-09-01",
            1,
            q,
        )
        .await;
        let id = v["id"].as_str().unwrap().to_owned();
        quota.insert(id.clone(), q);
        ids.push(id);
    }
    let mut claimers = Vec::with_capacity(CLAIMERS);
    for n in 1..=5 {
        claimers.push(app.token_for(&format!("tech{n}@example.com")).await);
    }
    claimers.extend(app.quick_technicians(CLAIMERS - 5, "race").await);

    // Each claimer takes one visit, ten per visit, all at once.
    let app = Arc::new(app);
    let ids = Arc::new(ids);
    let fire = |round: &'static str| {
        let tasks: Vec<_> = claimers
            .iter()
            .enumerate()
            .map(|(i, (user, token))| {
                let (app, ids) = (Arc::clone(&app), Arc::clone(&ids));
                let (user, token) = (user.clone(), token.clone());
                tokio::spawn(async move {
                    let visit = ids[i % VISITS].clone();
                    let reply = TestApp::read(
                        app.client
                            .post(app.url(&format!("/api/v1/visits/{visit}/claim")))
                            .bearer_auth(&token)
                            .header("idempotency-key", format!("claim-{i}"))
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await;
                    let _ = round;
                    (visit, user, reply)
                })
            })
            .collect();
        futures_util::future::join_all(tasks)
    };
    let first = fire("first").await;
    let mut winners: HashMap<String, Vec<String>> = HashMap::new();
    for result in first {
        let (visit, user, reply) = result.unwrap();
        match reply.status.as_u16() {
            200 => winners.entry(visit).or_default().push(user),
            409 => assert_eq!(reply.problem(), "quota_full", "{:?}", reply.body),
            other => panic!("unexpected {other}: {:?}", reply.body),
        }
    }
    let db_view = audit(&app, &ids).await;
    for id in ids.iter() {
        let q = quota[id];
        assert_eq!(
            winners.get(id).map_or(0, Vec::len) as i64,
            q,
            "winners of {id}"
        );
        assert_eq!(db_view[id], (q, q, q, q), "database view of {id}");
    }

    // Replays with the same keys get the stored answers; nothing changes.
    for result in fire("replay").await {
        let (visit, user, reply) = result.unwrap();
        let won = winners.get(&visit).is_some_and(|w| w.contains(&user));
        assert_eq!(reply.status.as_u16(), if won { 200 } else { 409 });
        assert_eq!(
            reply
                .headers
                .get("idempotent-replayed")
                .map(|v| v.to_str().unwrap()),
            Some("true")
        );
    }
    // Plain retries without a key are decided again: already_claimed or quota_full.
    let retries = futures_util::future::join_all(claimers.iter().take(60).enumerate().map(
        |(i, (user, token))| {
            let app = Arc::clone(&app);
            let visit = ids[i % VISITS].clone();
            let won = winners.get(&visit).is_some_and(|w| w.contains(user));
            async move {
                let reply = app
                    .post(&format!("/api/v1/visits/{visit}/claim"), token, json!({}))
                    .await;
                assert_eq!(
                    reply.assert_problem(409),
                    if won { "already_claimed" } else { "quota_full" }
                );
            }
        },
    ))
    .await;
    assert_eq!(retries.len(), 60);
    assert_eq!(
        audit(&app, &ids).await,
        db_view,
        "replays changed the database"
    );
    let max_over: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM visits v WHERE v.technician_quota < \
         (SELECT COUNT(*) FROM assignments a WHERE a.visit_id = v.id AND a.state <> 'released')",
    )
    .fetch_one(app.server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(max_over, 0);
    Arc::try_unwrap(app).unwrap().stop().await;
}

/// Who makes a claim in the probe's race.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Claimer {
    /// Holds another visit on the race's day: cannot win.
    Busy,
    /// Claims four of the race's visits at once: can win one.
    Greedy(usize),
    /// Holds nothing on that day and claims one visit.
    Free,
}

/// The outside probe's shape (security issue, item 10): 40 visits on one
/// day with quotas of one or two, raced at once by technicians who already
/// hold a visit that day (three per visit, one of them by phone through the
/// sync command executor), technicians who claim four of the visits each,
/// and free technicians (three per visit). The probe left 16 of 40 visits
/// with a free seat after telling 6 or 7 claimers each `quota_full`: the
/// gate counted claims bound to fail `schedule_conflict` against the
/// quota. Here every claim told `quota_full` is on a visit that ends full,
/// and with three free claimers per visit, every visit ends full.
async fn claims_told_quota_full_leave_no_seat_open(backend: Backend) {
    const VISITS: usize = 40;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let mut ids = Vec::with_capacity(VISITS);
    for i in 0..VISITS {
        let quota = (i % 2) as i64 + 1;
        let v = new_visit(
            &app,
            &cs,
            &customer,
            &format!("Probe {i}"),
            "2030-10-02",
            1,
            quota,
        )
        .await;
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    // The busy technicians hold one of two two-day visits over the race's day.
    let busy = app.quick_technicians(VISITS * 3, "busy").await;
    let mut held = Vec::new();
    for n in 0..2 {
        let v = new_visit(
            &app,
            &cs,
            &customer,
            &format!("Gudang {n}"),
            "2030-10-01",
            2,
            60,
        )
        .await;
        held.push(v["id"].as_str().unwrap().to_owned());
    }
    for (i, (_, token)) in busy.iter().enumerate() {
        let path = format!("/api/v1/visits/{}/claim", held[i % 2]);
        assert_eq!(app.post(&path, token, json!({})).await.status, 200);
    }
    let free = app.quick_technicians(VISITS * 3, "free").await;
    let greedy = app.quick_technicians(VISITS / 4, "greedy").await;
    // Every third busy technician claims by phone.
    let mut phones = Vec::new();
    for (i, (_, token)) in busy.iter().enumerate().skip(2).step_by(3) {
        phones.push((i / 3, Device::connect(app.server.addr, token, 0).await.0));
    }

    let app = Arc::new(app);
    let mut claims: Vec<(usize, Claimer, String)> = Vec::new();
    for (i, (_, token)) in busy.iter().enumerate().filter(|(i, _)| i % 3 != 2) {
        claims.push((i / 3, Claimer::Busy, token.clone()));
    }
    for (g, (_, token)) in greedy.iter().enumerate() {
        for v in g * 4..g * 4 + 4 {
            claims.push((v, Claimer::Greedy(g), token.clone()));
        }
    }
    for (i, (_, token)) in free.iter().enumerate() {
        claims.push((i / 3, Claimer::Free, token.clone()));
    }
    let by_phone: Vec<_> = phones
        .into_iter()
        .map(|(v, mut phone)| {
            let visit_id = ids[v].parse().unwrap();
            tokio::spawn(async move {
                let claim = Command {
                    id: CommandId::new(),
                    device_seq: 1,
                    issued_at_ms: jiff::Timestamp::now().as_millisecond(),
                    body: CommandBody::ClaimVisit { visit_id },
                };
                phone.send(ClientMessage::Commands(vec![claim])).await;
                loop {
                    if let ServerMessage::CommandResults(mut results) = phone.recv().await {
                        return (v, results.remove(0).outcome);
                    }
                }
            })
        })
        .collect();
    let by_http: Vec<_> = claims
        .into_iter()
        .map(|(v, who, token)| {
            let (app, path) = (Arc::clone(&app), format!("/api/v1/visits/{}/claim", ids[v]));
            tokio::spawn(async move { (v, who, app.post(&path, &token, json!({})).await) })
        })
        .collect();

    let mut told_full = [0; VISITS];
    let mut greedy_wins = vec![0; greedy.len()];
    for task in by_http {
        let (v, who, reply): (usize, Claimer, Reply) = task.await.unwrap();
        match (who, reply.status.as_u16()) {
            (Claimer::Greedy(g), 200) => greedy_wins[g] += 1,
            (Claimer::Free, 200) => {}
            (_, _) => match reply.assert_problem(409) {
                // (A busy claimer is told so too when the seats were taken
                // before it read, as the database would tell it.)
                "quota_full" => told_full[v] += 1,
                // The busy, and a greedy technician after the claim they won.
                "schedule_conflict" if who != Claimer::Free => {}
                other => panic!("{who:?} claimer refused {other}: {:?}", reply.body),
            },
        }
    }
    for task in by_phone {
        let (v, outcome) = task.await.unwrap();
        match outcome {
            CommandOutcome::Rejected { reason, .. } => match reason {
                RejectReason::QuotaFull => told_full[v] += 1,
                RejectReason::ScheduleConflict => {}
                other => panic!("a busy phone on visit {v} refused {other:?}"),
            },
            CommandOutcome::Accepted { .. } => panic!("a busy phone won visit {v}"),
        }
    }
    assert!(greedy_wins.iter().all(|&w| w <= 1), "{greedy_wins:?}");

    let db_view = audit(&app, &ids).await;
    let mut open_behind_refusals = Vec::new();
    for (v, id) in ids.iter().enumerate() {
        let (quota, seats, holders, claimed) = db_view[id];
        assert_eq!(
            (seats, holders, claimed),
            (holders, holders, holders),
            "{id}"
        );
        assert!(seats <= quota, "{id} past its quota");
        if seats < quota && told_full[v] > 0 {
            open_behind_refusals.push((v, seats, quota, told_full[v]));
        }
    }
    assert!(
        open_behind_refusals.is_empty(),
        "(visit, seats taken, quota, claimers told quota_full): {open_behind_refusals:?}"
    );
    for (id, (quota, seats, _, _)) in &db_view {
        assert_eq!(
            seats, quota,
            "{id} ends full: three free claimers raced for it"
        );
    }
    Arc::try_unwrap(app).unwrap().stop().await;
}
