//! Database faults (issue 24): every connection the server holds to
//! Postgres is cut (as a restart or a failover would) in the middle of a
//! claim burst and under a live sync session. Requests in flight fail
//! cleanly — 503 with `Retry-After`, never a 500, never half a write — the
//! server recovers without a restart, a retry with the same key finishes
//! the job exactly once, and a phone's live session goes on delivering.
//! Postgres only: an embedded SQLite file has no connection to lose.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use fieldops_sync::ids::DocId;
use fieldops_tests::device::Device;
use fieldops_tests::fixtures::{claim_audit, demo_customer, new_visit};
use fieldops_tests::{Backend, Reply, TestApp, on_both_backends};

on_both_backends!(
    a_claim_burst_cut_off_from_the_database_ends_exact,
    a_live_session_survives_the_database_dropping_its_connections,
);

const VISITS: usize = 20;
const CLAIMERS: usize = 200;

async fn claim(app: &TestApp, token: &str, visit: &str, key: &str) -> Reply {
    TestApp::read(
        app.client
            .post(app.url(&format!("/api/v1/visits/{visit}/claim")))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn a_claim_burst_cut_off_from_the_database_ends_exact(backend: Backend) {
    if backend == Backend::Sqlite {
        return;
    }
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let mut visits = Vec::with_capacity(VISITS);
    let mut quota = HashMap::new();
    for i in 0..VISITS {
        let q = (i % 3) as i64 + 1;
        let body = new_visit(
            &app,
            &cs,
            &customer,
            &format!("Fault {i}"),
            "2031-05-05",
            1,
            q,
        )
        .await;
        let id = body["id"].as_str().unwrap().to_owned();
        quota.insert(id.clone(), q);
        visits.push(id);
    }
    let claimers = app.quick_technicians(CLAIMERS, "fault").await;
    let app = Arc::new(app);
    let visits = Arc::new(visits);
    let burst: Vec<_> = claimers
        .iter()
        .enumerate()
        .map(|(i, (user, token))| {
            let (app, visits) = (Arc::clone(&app), Arc::clone(&visits));
            let (user, token) = (user.clone(), token.clone());
            tokio::spawn(async move {
                // Spread over ~200 ms so the cut lands in the middle.
                tokio::time::sleep(Duration::from_millis(i as u64)).await;
                let visit = visits[i % VISITS].clone();
                let key = format!("fault-{i}");
                let reply = claim(&app, &token, &visit, &key).await;
                (visit, user, token, key, reply)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(80)).await;
    let cut = app.db.cut_connections().await;
    assert!(cut > 0, "the server held connections to cut");

    let mut winners: HashMap<String, HashSet<String>> = HashMap::new();
    let (mut unavailable, mut retried) = (0, 0);
    for task in burst {
        let (visit, user, token, key, mut reply) = task.await.unwrap();
        // A cut request is refused cleanly; its retry, with the same key,
        // is decided once (after the cut copy's lease, `in-progress`, if it
        // holds one).
        loop {
            if reply.status == 503 {
                unavailable += 1;
                assert_eq!(reply.assert_problem(503), "unavailable");
                assert_eq!(reply.headers["retry-after"], "1");
                tokio::time::sleep(Duration::from_millis(200)).await;
            } else if reply.status == 409 && reply.problem() != "quota_full" {
                let wait: u64 = reply.headers["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                tokio::time::sleep(Duration::from_secs(wait.min(5))).await;
            } else {
                break;
            }
            reply = claim(&app, &token, &visit, &key).await;
            retried += 1;
        }
        match reply.status.as_u16() {
            200 => assert!(winners.entry(visit).or_default().insert(user)),
            409 => {}
            other => panic!("a claim answered {other}: {:?}", reply.body),
        }
    }
    let db = claim_audit(&app, &visits).await;
    for id in visits.iter() {
        let q = quota[id];
        assert_eq!(
            winners.get(id).map_or(0, HashSet::len) as i64,
            q,
            "winners of {id}"
        );
        assert_eq!(db[id], (q, q, q, q), "database view of {id}");
    }
    println!(
        "database fault: {cut} connections cut mid-burst; {unavailable} claims answered 503, {retried} retries, every quota exact"
    );
    Arc::try_unwrap(app).unwrap().stop().await;
}

async fn a_live_session_survives_the_database_dropping_its_connections(backend: Backend) {
    if backend == Backend::Sqlite {
        return;
    }
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let tech = app.login("tech1@example.com", "tech123").await;
    let (mut phone, _) = Device::connect(app.server.addr, &tech, 0).await;
    let mut console = fieldops_tests::websocket(app.server.addr, "/api/v1/events", &cs).await;

    assert!(app.db.cut_connections().await > 0);
    // The server comes back by itself: the first requests may still meet a
    // dead connection and answer 503; none answers 500.
    let mut created = None;
    for _ in 0..50 {
        let reply = app
            .post(
                "/api/v1/visits",
                &cs,
                serde_json::json!({
                    "customer_id": customer, "title": "After the cut", "description": "Periksa panel",
                    "site": { "address": "Jl. Jend. Sudirman Kav. 52-53", "lat": -6.2251, "lon": 106.8097 },
                    "scheduled_start": "2031-06-06", "planned_days": 1, "technician_quota": 1
                }),
            )
            .await;
        match reply.status.as_u16() {
            201 => {
                created = Some(reply);
                break;
            }
            503 => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("answered {other}: {:?}", reply.body),
        }
    }
    let created = created.expect("the server recovered");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let doc: DocId = id.parse().unwrap();
    // The phone's session and the console's stream, opened before the cut,
    // still deliver (their listeners reconnected).
    loop {
        let message = phone.recv().await;
        if message.snapshots().any(|d| d.doc_id == doc) {
            break;
        }
    }
    loop {
        let event = fieldops_tests::next_json(&mut console, 10).await;
        if event.to_string().contains(&id) {
            break;
        }
    }
    app.stop().await;
}
