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

fieldops_tests::on_both_backends!(killed_right_after_commit, killed_before_commit);
