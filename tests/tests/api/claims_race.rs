//! The quota invariant under load: 500 concurrent claimers on 50 visits with
//! quotas 1 to 3 get exactly the quota in winners, every visit, checked
//! against the database; replays (the same idempotency key, or a plain
//! retry) change nothing.

use std::collections::HashMap;
use std::sync::Arc;

use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

use crate::visits::{demo_customer, new_visit};

on_both_backends!(five_hundred_claimers_never_pass_the_quota);

const VISITS: usize = 50;
const CLAIMERS: usize = 500;

/// Per visit of the race: (quota, seats_taken, held assignments, claim audit records).
async fn audit(app: &TestApp, ids: &[String]) -> HashMap<String, (i64, i64, i64, i64)> {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT v.id, v.technician_quota, v.seats_taken, \
                (SELECT COUNT(*) FROM assignments a WHERE a.visit_id = v.id AND a.state = 'active'), \
                (SELECT COUNT(*) FROM audit_log l WHERE l.entity_kind = 'visit' \
                    AND l.entity_id = v.id AND l.action = 'visit.claimed') \
         FROM visits v",
    )
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap();
    rows.into_iter()
        .filter(|r| ids.contains(&r.0))
        .map(|(id, q, s, h, c)| (id, (q, s, h, c)))
        .collect()
}

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
