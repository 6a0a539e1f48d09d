//! `Idempotency-Key` across faults: a request cut off before its commit,
//! after it, a retry racing the first copy, a first copy that outlives its
//! lease, keys of callers who signed out, and the authentication endpoints
//! that must never store their answers. The request is parked at an exact
//! point of the unit of work (`fieldops_server::faults`) while the client
//! goes away. (Crashes of the whole process: `server/tests/crash.rs`.)

use std::time::Duration;

use fieldops_server::faults::{self, point};
use fieldops_tests::{Backend, Reply, TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    a_request_cut_off_before_commit_runs_once_on_retry,
    a_request_cut_off_after_commit_is_replayed_on_retry,
    a_retry_while_the_first_copy_runs_is_told_to_wait,
    a_first_copy_that_outlives_its_lease_does_not_apply_twice,
    keys_belong_to_live_sessions_and_never_to_sign_ins,
);

fn customer(phone: &str) -> Value {
    json!({ "name": "Pelanggan Kunci", "phone": phone })
}

/// POSTs a new customer with `key`, as a client that may give up.
fn send(app: &TestApp, token: &str, key: &str, body: &Value) -> tokio::task::JoinHandle<Reply> {
    let request = app
        .client
        .post(app.url("/api/v1/customers"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body);
    tokio::spawn(async move { TestApp::read(request.send().await.unwrap()).await })
}

/// Retries until the key is no longer in progress (honouring `Retry-After`).
async fn retry(app: &TestApp, token: &str, key: &str, body: &Value) -> Reply {
    for _ in 0..20 {
        let reply = send(app, token, key, body).await.unwrap();
        if reply.status != 409 {
            return reply;
        }
        assert_eq!(reply.problem(), "idempotency-in-progress");
        let wait: u64 = reply.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait <= 5, "a short lease, not a 24-hour lock: {wait} s");
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    panic!("the key stayed in progress");
}

/// Customers with `phone`, however many requests made them.
async fn customers_with(app: &TestApp, token: &str, phone: &str) -> usize {
    let digits = phone.trim_start_matches("+62");
    app.get(&format!("/api/v1/customers?q={digits}&limit=200"), token)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["phone"] == phone)
        .count()
}

async fn a_request_cut_off_before_commit_runs_once_on_retry(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let body = customer("+6281300000101");
    let held = faults::hold(point::BEFORE_COMMIT, "cut-before");
    let first = send(&app, &cs, "cut-before", &body);
    held.reached().await;
    first.abort(); // the phone loses its connection mid-request
    held.release();
    let reply = retry(&app, &cs, "cut-before", &body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(customers_with(&app, &cs, "+6281300000101").await, 1);
    // The retry's outcome is now the key's: a third try replays it.
    let again = retry(&app, &cs, "cut-before", &body).await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, reply.body);
    app.stop().await;
}

async fn a_request_cut_off_after_commit_is_replayed_on_retry(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let body = customer("+6281300000102");
    let held = faults::hold(point::AFTER_COMMIT, "cut-after");
    let first = send(&app, &cs, "cut-after", &body);
    held.reached().await;
    first.abort(); // committed, but the answer never arrives
    held.release();
    let reply = retry(&app, &cs, "cut-after", &body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.headers["idempotent-replayed"], "true");
    assert_eq!(customers_with(&app, &cs, "+6281300000102").await, 1);
    app.stop().await;
}

async fn a_retry_while_the_first_copy_runs_is_told_to_wait(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.idempotency_lease = Duration::from_secs(30);
    })
    .await
    else {
        return;
    };
    let cs = app.login_as("cs").await;
    let body = customer("+6281300000103");
    let held = faults::hold(point::BEFORE_COMMIT, "racing");
    let first = send(&app, &cs, "racing", &body);
    held.reached().await;
    // SQLite's one writer is the first copy's until it commits; Postgres
    // answers at once. Either way the retry does not run the request.
    let second = send(&app, &cs, "racing", &body);
    if backend == Backend::Postgres {
        let waiting = second.await.unwrap();
        assert_eq!(waiting.assert_problem(409), "idempotency-in-progress");
        assert!(waiting.headers.contains_key("retry-after"));
        held.release();
        assert_eq!(first.await.unwrap().status, 201);
    } else {
        held.release();
        assert_eq!(first.await.unwrap().status, 201);
        let replayed = second.await.unwrap();
        assert_eq!(replayed.headers["idempotent-replayed"], "true");
    }
    let replay = send(&app, &cs, "racing", &body).await.unwrap();
    assert_eq!(replay.status, 201);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(customers_with(&app, &cs, "+6281300000103").await, 1);
    app.stop().await;
}

async fn a_first_copy_that_outlives_its_lease_does_not_apply_twice(backend: Backend) {
    // A lease that ends at once: any retry may take the key over.
    let Some(app) = TestApp::spawn_with(backend, |c| c.idempotency_lease = Duration::ZERO).await
    else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customers = app.get("/api/v1/customers?limit=1", &cs).await;
    // A ticket: nothing but the key keeps two copies from both applying.
    let body = json!({
        "customer_id": customers.body["items"][0]["id"],
        "subject": "AC bocor di ruang rapat",
        "description": "Air menetes dari unit indoor.",
        "category": "technical",
    });
    let open = |key: &'static str| {
        let request = app
            .client
            .post(app.url("/api/v1/tickets"))
            .bearer_auth(&cs)
            .header("idempotency-key", key)
            .json(&body);
        tokio::spawn(async move { TestApp::read(request.send().await.unwrap()).await })
    };
    let held = faults::hold(point::BEGUN, "slow");
    let first = open("slow");
    held.reached().await;
    let second = open("slow");
    if backend == Backend::Postgres {
        // The retry takes the key over and applies the request...
        assert_eq!(second.await.unwrap().status, 201);
        held.release();
        // ...and the slow first copy, its lease gone, is rolled back.
        let late = first.await.unwrap();
        assert_eq!(late.assert_problem(409), "idempotency-in-progress");
    } else {
        // SQLite's one writer usually keeps the retry waiting, and it
        // replays; on a loaded machine the retry can take the expired key
        // over first, and then the slow copy is the one refused. Either
        // way exactly one copy applies, and the other says why not.
        held.release();
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        let replayed = |r: &fieldops_tests::Reply| {
            r.headers
                .get("idempotent-replayed")
                .is_some_and(|v| v == "true")
        };
        match (first.status.as_u16(), second.status.as_u16()) {
            (201, 201) => assert!(
                !replayed(&first) && replayed(&second),
                "{first:?} {second:?}"
            ),
            (409, 201) => assert_eq!(first.assert_problem(409), "idempotency-in-progress"),
            other => panic!("unexpected answers {other:?}: {first:?} {second:?}"),
        }
    }
    let found = app
        .get("/api/v1/tickets?search=bocor%20ruang%20rapat", &cs)
        .await;
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn keys_belong_to_live_sessions_and_never_to_sign_ins(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // A refresh with a key: the key is ignored, so replaying the same
    // request is a reuse of a spent refresh token, which ends the session.
    let tokens = app.login_full("cs@example.com", "cs123").await;
    let refresh = |key: &'static str| {
        let request = app
            .client
            .post(app.url("/api/v1/auth/refresh"))
            .header("idempotency-key", key)
            .json(&json!({ "refresh_token": tokens["refresh_token"] }));
        async move { TestApp::read(request.send().await.unwrap()).await }
    };
    let fresh = refresh("r-1").await;
    assert_eq!(fresh.status, 200);
    let replayed = refresh("r-1").await;
    assert_eq!(replayed.assert_problem(401), "unauthorized");
    assert!(replayed.headers.get("idempotent-replayed").is_none());
    let revoked = fresh.body["access_token"].as_str().unwrap();
    app.get("/api/v1/me", revoked).await.assert_problem(401);
    // Nothing of the sign-in was stored: no secret sits in the key table.
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys WHERE body IS NOT NULL")
            .fetch_one(app.server.state.db.pool())
            .await
            .unwrap();
    assert_eq!(stored, 0);

    // A stored response is not replayed to a session that has ended.
    let cs = app.login_as("cs").await;
    let body = customer("+6281300000105");
    assert_eq!(send(&app, &cs, "mine", &body).await.unwrap().status, 201);
    app.post("/api/v1/auth/logout", &cs, json!({})).await;
    let after = send(&app, &cs, "mine", &body).await.unwrap();
    assert_eq!(after.assert_problem(401), "unauthorized");
    // Anonymous callers have no keys at all.
    let anonymous = app
        .client
        .post(app.url("/api/v1/customers"))
        .header("idempotency-key", "mine")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().get("idempotent-replayed").is_none());
    app.stop().await;
}
