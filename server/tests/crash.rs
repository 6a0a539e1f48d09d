//! Kill the `fieldops` process at an exact instant of a write and start it
//! again on the same database: an idempotent request retried with its key
//! is answered from what committed, never applied twice, never stuck.
//!
//! The process is aborted (as `kill -9` would: no destructors, no flush) by
//! its fault point (`FIELDOPS_FAULT=<point>:abort:<key>`, see
//! `fieldops_server::faults`), on SQLite and on Postgres.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use fieldops_server::faults::point;
use fieldops_tests::process::ServerProcess;
use fieldops_tests::{Backend, TestDb};
use serde_json::{Value, json};

/// Starts `fieldops serve --demo` on `db`, with `fault` armed if given.
fn start(db: &TestDb, fault: Option<&str>) -> ServerProcess {
    let env: Vec<(&str, &str)> = fault.map(|f| ("FIELDOPS_FAULT", f)).into_iter().collect();
    ServerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_fieldops")),
        &db.url,
        &["--demo"],
        &env,
    )
}

async fn login(client: &reqwest::Client, server: &ServerProcess) -> String {
    let reply: Value = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": "cs@example.com", "password": "cs123" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["access_token"].as_str().unwrap().to_owned()
}

fn new_customer(phone: &str) -> Value {
    json!({ "name": "Pelanggan Kilat", "phone": phone })
}

/// POSTs `body` to /customers with `key`.
async fn create(
    client: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
    key: &str,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(server.url("/api/v1/customers"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
}

async fn customers_with(
    client: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
    phone: &str,
) -> usize {
    let digits = phone.trim_start_matches("+62");
    let page: Value = client
        .get(server.url(&format!("/api/v1/customers?q={digits}&limit=200")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["phone"] == phone)
        .count()
}

/// Kills the server at `at` during a request, restarts it and retries.
/// Returns the retry's `Idempotent-Replayed` header.
async fn crash_and_retry(backend: Backend, at: &str, key: &str, phone: &str) -> Option<String> {
    let db = TestDb::new(backend).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let body = new_customer(phone);
    let doomed = start(&db, Some(&format!("{at}:abort:{key}")));
    let token = login(&client, &doomed).await;
    let cut = create(&client, &doomed, &token, key, &body).await;
    assert!(cut.is_err(), "the connection died with the process");
    assert!(
        !doomed.wait().success(),
        "the server aborted at its fault point"
    );

    let server = start(&db, None);
    let token = login(&client, &server).await;
    let mut reply = create(&client, &server, &token, key, &body).await.unwrap();
    for _ in 0..10 {
        if reply.status() != 409 {
            break;
        }
        let wait: u64 = reply.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait <= 5, "the crashed request's lease is short: {wait} s");
        tokio::time::sleep(Duration::from_secs(wait)).await;
        reply = create(&client, &server, &token, key, &body).await.unwrap();
    }
    assert_eq!(reply.status(), 201);
    let replayed = reply
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        customers_with(&client, &server, &token, phone).await,
        1,
        "applied exactly once"
    );
    drop(server);
    db.drop_schema().await;
    Some(replayed.unwrap_or_default())
}

async fn killed_right_after_commit(backend: Backend) {
    let Some(replayed) = crash_and_retry(
        backend,
        point::AFTER_COMMIT,
        "after-commit",
        "+6281300000201",
    )
    .await
    else {
        return;
    };
    assert_eq!(replayed, "true", "the stored response, not a second run");
}

async fn killed_before_commit(backend: Backend) {
    let Some(replayed) = crash_and_retry(
        backend,
        point::BEFORE_COMMIT,
        "before-commit",
        "+6281300000202",
    )
    .await
    else {
        return;
    };
    assert_eq!(replayed, "", "nothing committed: the retry ran afresh");
}

/// One writer's requests in a trial: what it sent and what was answered.
#[derive(Default)]
struct Sent {
    /// (phone, key) answered 201.
    acked: Vec<(String, String)>,
    /// (phone, key) sent and never answered: the kill cut it.
    cut: Vec<(String, String)>,
}

/// Creates customers with idempotency keys, one after another, until the
/// server stops answering.
async fn writer(
    client: reqwest::Client,
    url: String,
    token: String,
    trial: u64,
    writer: u64,
) -> Sent {
    let mut sent = Sent::default();
    for n in 0.. {
        // +62 81x: a mobile number (the prefix decides validity), unique
        // for a thousand trials of four writers.
        let phone = format!("+6281{:03}{writer}{n:04}", trial % 1_000);
        let key = format!("trial-{trial}-{writer}-{n}");
        let reply = client
            .post(format!("{url}/api/v1/customers"))
            .bearer_auth(&token)
            .header("idempotency-key", &key)
            .json(&new_customer(&phone))
            .send()
            .await;
        match reply {
            Ok(reply) if reply.status() == 201 => sent.acked.push((phone, key)),
            Ok(reply) => panic!("{phone}: {} {:?}", reply.status(), reply.text().await),
            Err(_) => {
                sent.cut.push((phone, key));
                return sent;
            }
        }
    }
    sent
}

/// Crash trials (issue 25): the server is killed with SIGKILL at a random
/// instant of a burst of idempotent writes from four clients, again and
/// again, each time restarted on the same database. After every restart
/// each write answered before the kill is there exactly once and each cut
/// one at most once; at the end every cut write, retried with its key,
/// lands exactly once. `FIELDOPS_CRASH_TRIALS` (default 25 per backend: 50 in CI) and
/// `FIELDOPS_CRASH_SEED` (printed) replay a run.
async fn random_kills_during_a_write_burst(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let trials: u64 = std::env::var("FIELDOPS_CRASH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(25);
    let seed: u64 = std::env::var("FIELDOPS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!(
        "crash trials on {backend:?}: {trials} kills, replay with FIELDOPS_CRASH_SEED={seed} FIELDOPS_CRASH_TRIALS={trials}"
    );
    let mut rng = fieldops_tests::SeededRng(seed);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut all_cut = Vec::new();
    let (mut acked_total, mut server) = (0, start(&db, None));
    for trial in 0..trials {
        let token = login(&client, &server).await;
        let url = server.url("");
        let url = url.trim_end_matches('/').to_owned();
        let writers: Vec<_> = (0..4)
            .map(|w| tokio::spawn(writer(client.clone(), url.clone(), token.clone(), trial, w)))
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.between(20, 400))).await;
        server.child.kill().unwrap();
        let _ = server.child.wait();
        let mut sent = Sent::default();
        for w in writers {
            let one = w.await.unwrap();
            sent.acked.extend(one.acked);
            sent.cut.extend(one.cut);
        }

        server = start(&db, None);
        let token = login(&client, &server).await;
        for (phone, _) in &sent.acked {
            assert_eq!(
                customers_with(&client, &server, &token, phone).await,
                1,
                "trial {trial} (seed {seed}): {phone} was acknowledged before the kill"
            );
        }
        for (phone, _) in &sent.cut {
            assert!(
                customers_with(&client, &server, &token, phone).await <= 1,
                "trial {trial} (seed {seed}): {phone} applied twice"
            );
        }
        acked_total += sent.acked.len();
        all_cut.extend(sent.cut);
    }

    // Every write the kills cut, retried with its key: exactly once.
    let token = login(&client, &server).await;
    for (phone, key) in &all_cut {
        let body = new_customer(phone);
        let mut reply = create(&client, &server, &token, key, &body).await.unwrap();
        while reply.status() == 409 {
            let wait: u64 = reply.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            tokio::time::sleep(Duration::from_secs(wait.min(5))).await;
            reply = create(&client, &server, &token, key, &body).await.unwrap();
        }
        assert_eq!(reply.status(), 201, "{phone} (seed {seed})");
        assert_eq!(
            customers_with(&client, &server, &token, phone).await,
            1,
            "{phone} retried after the kill (seed {seed})"
        );
    }
    println!(
        "crash trials on {backend:?}: {trials} kills, {acked_total} acknowledged writes kept, {} cut writes retried once each",
        all_cut.len()
    );
    drop(server);
    db.drop_schema().await;
}

fieldops_tests::on_both_backends!(
    killed_right_after_commit,
    killed_before_commit,
    random_kills_during_a_write_burst
);
