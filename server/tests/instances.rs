//! Two `fieldops` processes on one Postgres database, as instances behind a
//! load balancer run: each with its own pools, event listener, caches and
//! jobs, sharing only the database and the blob store.
//!
//! * Technicians race for visits (quotas 1–3) through both processes at
//!   once: the winners of each visit are exactly its quota, and the
//!   database agrees (seats, active assignments, audit records).
//! * A change made through one process reaches a console on the other (the
//!   time is printed).
//! * A request retried with its `Idempotency-Key` on the other process is
//!   answered with the first one's response, not applied twice.
//! * A photo upload begun on one process is resumed on the other from the
//!   offset the first stored, and both know the whole photo.
//! * Both run the WhatsApp outbox (every second): registrations arriving
//!   through either get one confirmation each, never two.
//!
//! Postgres only: SQLite is one instance by design. `FIELDOPS_SCALE_ROUNDS`
//! sets the race's rounds (3). The in-process variant, with phones, uploads
//! and the WhatsApp outbox, is `tests/tests/api/scale_out.rs`.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldops_server::{AppState, Config};
use fieldops_tests::process::ServerProcess;
use fieldops_tests::{Backend, TestDb};
use serde_json::{Value, json};

const CLAIMERS: usize = 60;
const VISITS: usize = 12;

/// The database migrated with the demo data, `CLAIMERS` technicians and a
/// CS token (minted in this process: the signing key lives in the database,
/// so both server processes accept them).
async fn prepared(db: &TestDb) -> (Vec<(String, String)>, String) {
    let state = AppState::build(Config {
        database_url: db.url.clone(),
        ..Config::default()
    })
    .await
    .unwrap();
    fieldops_server::seed::demo(&state).await.unwrap();
    let technicians = fieldops_tests::technicians(&state, CLAIMERS, "instances").await;
    let (_, cs) = fieldops_tests::token_for(&state, "cs@example.com").await;
    state.shutdown.cancel();
    state.db.close().await;
    (technicians, cs)
}

/// A `fieldops serve` on `db` whose blob store is the directory `shared`
/// and whose WhatsApp sender talks to the stand-in at `whatsapp` (written
/// into its TOML file).
fn start(db: &TestDb, shared: &Path, whatsapp: &str) -> ServerProcess {
    use fieldops_tests::whatsapp::{ACCESS_TOKEN, APP_SECRET};
    let config = shared.join("fieldops.toml");
    let blobs = shared.join("blobs");
    let toml = format!(
        "blob_dir = {:?}\nhelpdesk_job_interval_secs = 1\n\n[whatsapp]\n\
         api_base_url = {whatsapp:?}\nphone_number_id = \"1098765\"\n\
         access_token = {ACCESS_TOKEN:?}\napp_secret = {APP_SECRET:?}\n",
        blobs.to_str().unwrap()
    );
    std::fs::write(&config, toml).unwrap();
    ServerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_fieldops")),
        &db.url,
        &[],
        &[("FIELDOPS_CONFIG", config.to_str().unwrap())],
    )
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_claims_events_and_retries() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let (technicians, cs) = prepared(&db).await;
    let shared = tempfile::tempdir().unwrap();
    let (whatsapp, mut sent, _) = fieldops_tests::whatsapp::stand_in().await;
    let servers = [
        start(&db, shared.path(), &whatsapp),
        start(&db, shared.path(), &whatsapp),
    ];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = |i: usize, path: &str| servers[i % 2].url(path);

    let (_, customers) = send(
        http.get(url(0, "/api/v1/customers?q=Hendra"))
            .bearer_auth(&cs),
    )
    .await;
    let customer = customers["items"][0]["id"].as_str().unwrap().to_owned();

    // Claims raced through both processes.
    let rounds: usize = std::env::var("FIELDOPS_SCALE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let audit = db.connect().await;
    let technicians = Arc::new(technicians);
    for round in 0..rounds {
        // A day of its own per round: nobody's schedule conflicts.
        let day = jiff::civil::date(2032, 1, 1)
            .checked_add(jiff::Span::new().days(round as i64))
            .unwrap()
            .to_string();
        let mut visits = Vec::with_capacity(VISITS);
        let mut quota = HashMap::new();
        for v in 0..VISITS {
            let q = (v % 3) as i64 + 1;
            let (status, body) = send(http.post(url(v, "/api/v1/visits")).bearer_auth(&cs).json(&json!({
                "customer_id": customer, "title": format!("Dua proses {round}.{v}"),
                "description": "Periksa panel listrik",
                "site": { "address": "Jl. Jend. Sudirman Kav. 52-53", "lat": -6.2251, "lon": 106.8097 },
                "scheduled_start": day, "planned_days": 1, "technician_quota": q
            })))
            .await;
            assert_eq!(status, 201, "{body}");
            let id = body["id"].as_str().unwrap().to_owned();
            quota.insert(id.clone(), q);
            visits.push(id);
        }
        let visits = Arc::new(visits);
        let started = Instant::now();
        let tasks: Vec<_> = (0..CLAIMERS)
            .map(|i| {
                let (http, visits, technicians) =
                    (http.clone(), Arc::clone(&visits), Arc::clone(&technicians));
                let claim = url(i, &format!("/api/v1/visits/{}/claim", visits[i % VISITS]));
                tokio::spawn(async move {
                    let (user, token) = &technicians[i];
                    let (status, body) = send(
                        http.post(claim)
                            .bearer_auth(token)
                            .header("idempotency-key", format!("instances-{round}-{i}")),
                    )
                    .await;
                    let won = match status {
                        200 => true,
                        409 => {
                            assert_eq!(body["type"], "urn:fieldops:problem:quota_full", "{body}");
                            false
                        }
                        other => panic!("claim {i}: {other} {body}"),
                    };
                    (visits[i % VISITS].clone(), user.clone(), won)
                })
            })
            .collect();
        let mut winners: HashMap<String, HashSet<String>> = HashMap::new();
        for task in tasks {
            let (visit, user, won) = task.await.unwrap();
            if won {
                assert!(winners.entry(visit).or_default().insert(user));
            }
        }
        let took = started.elapsed();
        let db = fieldops_tests::fixtures::claim_audit_in(&audit, &visits).await;
        for (id, (q, seats, held, audited)) in db {
            let won = winners.get(&id).map_or(0, HashSet::len) as i64;
            assert_eq!(
                (won, q, seats, held, audited),
                (quota[&id], quota[&id], quota[&id], quota[&id], quota[&id]),
                "round {round}: winners, quota, seats, active assignments and audit records of {id}"
            );
        }
        println!(
            "two processes, round {round}: {CLAIMERS} claims in {:.0} ms, every quota exact",
            took.as_secs_f64() * 1e3
        );
    }

    // A change through A reaches a console on B.
    let mut console = fieldops_tests::websocket(servers[1].addr, "/api/v1/events", &cs).await;
    let mut latencies = Vec::new();
    for i in 0..10 {
        let phone = format!("+6281377700{i:02}");
        let started = Instant::now();
        let (status, created) = send(
            http.post(url(0, "/api/v1/customers"))
                .bearer_auth(&cs)
                .json(&json!({ "name": format!("Pelanggan Dua Proses {i}"), "phone": phone })),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        loop {
            let event = fieldops_tests::next_json(&mut console, 10).await;
            if event["kind"] == "customer.created" && event["data"]["id"] == created["id"] {
                latencies.push(started.elapsed());
                break;
            }
        }
    }
    latencies.sort();
    println!(
        "two processes: a customer created through A reached a console on B in {:.1} ms median, {:.1} ms worst (create + NOTIFY + delivery)",
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );

    // A retry on B of a request A applied is answered from A's response.
    let body = json!({ "name": "Ibu Sekali Saja", "phone": "+6281377799901" });
    let post = |i: usize| {
        http.post(url(i, "/api/v1/customers"))
            .bearer_auth(&cs)
            .header("idempotency-key", "instances-once")
            .json(&body)
    };
    let first = post(0).send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = post(1).send().await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["id"], first["id"], "the same customer, created once");

    // An upload begun on A, its connection lost, resumed on B.
    let (_, tech) = &technicians[0];
    let bytes = fieldops_core::photo::testing::synthetic_jpeg(1200, 900, 7, 85);
    let sha = fieldops_tests::photos::sha256_hex(&bytes);
    let tus = |i: usize, method: reqwest::Method, path: &str| {
        http.request(method, url(i, path))
            .bearer_auth(tech)
            .header("tus-resumable", "1.0.0")
    };
    let created = tus(0, reqwest::Method::POST, "/api/v1/uploads")
        .header("upload-length", bytes.len().to_string())
        .header(
            "upload-metadata",
            fieldops_tests::photos::metadata(&sha, None),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let half = bytes.len() / 2;
    let patch = |i: usize, offset: usize, chunk: &[u8]| {
        tus(i, reqwest::Method::PATCH, &location)
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(chunk.to_vec())
    };
    assert_eq!(
        patch(0, 0, &bytes[..half]).send().await.unwrap().status(),
        204
    );
    let head = tus(1, reqwest::Method::HEAD, &location)
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["upload-offset"], half.to_string().as_str());
    let rest = patch(1, half, &bytes[half..]).send().await.unwrap();
    assert_eq!(rest.status(), 204);
    for i in 0..2 {
        let held = http
            .get(url(i, &format!("/api/v1/blobs/{sha}")))
            .bearer_auth(tech)
            .send()
            .await
            .unwrap();
        assert_eq!(held.status(), 200, "process {i} knows the photo");
        let held: Value = held.json().await.unwrap();
        assert_eq!(
            (held["sha256"].as_str(), held["byte_size"].as_u64()),
            (Some(sha.as_str()), Some(bytes.len() as u64)),
            "process {i}'s view of the photo"
        );
    }

    // Registrations through either process: one confirmation each.
    let count = 20;
    for i in 0..count {
        let from = format!("628137770{i:04}");
        let payload = fieldops_tests::whatsapp::text_message(
            &from,
            &format!("wamid.PROCESS{i}"),
            &format!("DAFTAR#Pelanggan {i}#Jl. Melati {i}#Bogor"),
        );
        let body = serde_json::to_vec(&payload).unwrap();
        let delivered = http
            .post(url(i, "/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", fieldops_tests::whatsapp::sign(&body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(delivered.status(), 200);
    }
    // Both outboxes run every second: a second send would come within 3 s.
    fieldops_tests::whatsapp::each_sent_once(&mut sent, count, Duration::from_secs(3)).await;

    drop(servers);
    audit.close().await;
    db.drop_schema().await;
}
