//! Claim race benchmark: 500 claimers on 50 visits (quotas 1–3) over HTTP
//! on loopback, on SQLite and on Postgres, load generator and server on the
//! same machine. Two shapes: all 500 fired at once (the latency is mostly
//! queueing behind the burst), and the same race with at most 32 claims in
//! flight (the latency one claimer sees under contention). Prints p50/p99
//! (all, winners, losers) and throughput, and the time a CS change takes to
//! reach 100 connected event sockets and 100 phones on live sync sessions.
//!
//! ```sh
//! cargo bench -p fieldops-tests --bench claims            # both backends
//! FIELDOPS_BENCH_ROUNDS=5 cargo bench -p fieldops-tests --bench claims
//! ```

#![allow(clippy::unwrap_used)] // a benchmark: a failed step should stop it

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldops_tests::{Backend, TestApp, next_json, websocket};
use serde_json::json;

const VISITS: usize = 50;
const CLAIMERS: usize = 500;
const DEVICES: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn customer_id(app: &TestApp, cs: &str) -> String {
    app.get("/api/v1/customers?q=Hendra", cs).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One race on fresh visits: (latency, won) per claim, and the wall time.
async fn race(
    app: &Arc<TestApp>,
    cs: &str,
    customer: &str,
    claimers: &[(String, String)],
    round: usize,
    in_flight: usize,
) -> (Vec<(Duration, bool)>, Duration) {
    let mut ids = Vec::with_capacity(VISITS);
    for i in 0..VISITS {
        let reply = app
            .post(
                "/api/v1/visits",
                cs,
                json!({
                    "customer_id": customer, "title": format!("Bench {round}-{i}"),
                    "site": { "address": "Jl. Bench 1", "lat": -6.2, "lon": 106.8 },
                    // A different day per round: one technician may hold one visit a day.
                    "scheduled_start": format!("2031-01-{:02}", round + 1),
                    "technician_quota": (i % 3) + 1
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let ids = Arc::new(ids);
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let start = Instant::now();
    let tasks: Vec<_> = claimers
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            let (app, ids, token) = (Arc::clone(app), Arc::clone(&ids), token.clone());
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let url = app.url(&format!("/api/v1/visits/{}/claim", ids[i % VISITS]));
                let sent = Instant::now();
                let status = app
                    .client
                    .post(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert!(status == 200 || status == 409, "{status}");
                (sent.elapsed(), status == 200)
            })
        })
        .collect();
    let mut results = Vec::with_capacity(CLAIMERS);
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let wall = start.elapsed();
    let winners = results.iter().filter(|r| r.1).count();
    assert_eq!(winners, (0..VISITS).map(|i| i % 3 + 1).sum::<usize>());
    (results, wall)
}

/// The floor the machine sets: the same burst shape, but each claimer asks
/// for `GET /api/v1/me` (authentication and one small read, no write).
async fn floor(app: &Arc<TestApp>, claimers: &[(String, String)]) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = claimers
        .iter()
        .map(|(_, token)| {
            let (app, token) = (Arc::clone(app), token.clone());
            tokio::spawn(async move {
                let sent = Instant::now();
                let status = app
                    .client
                    .get(app.url("/api/v1/me"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, 200);
                sent.elapsed()
            })
        })
        .collect();
    let mut results = Vec::with_capacity(claimers.len());
    for t in tasks {
        results.push(t.await.unwrap());
    }
    (results, start.elapsed())
}

/// Time from a CS change (PATCH) to its event on each of `DEVICES` sockets.
async fn fan_out(
    app: &TestApp,
    cs: &str,
    devices: &[(String, String)],
    rounds: usize,
) -> Vec<Duration> {
    let mut sockets = Vec::with_capacity(devices.len());
    for (_, token) in devices {
        sockets.push(websocket(app.server.addr, "/api/v1/events", token).await);
    }
    let visit = app.get("/api/v1/visits?limit=1", cs).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut latencies = Vec::new();
    // Round 0 warms the connections up and is not counted.
    for r in 0..=rounds {
        let sent = Instant::now();
        let reply = app
            .patch(
                &format!("/api/v1/visits/{visit}"),
                cs,
                json!({ "description": format!("rev {r}") }),
            )
            .await;
        assert_eq!(reply.status, 200);
        let waits = sockets.iter_mut().map(|s| async move {
            loop {
                let e = next_json(s, 10).await;
                if e["kind"] == "visit.updated" {
                    return sent.elapsed();
                }
            }
        });
        let arrived = futures_util::future::join_all(waits).await;
        if r > 0 {
            latencies.extend(arrived);
        }
    }
    latencies
}

/// Time from a CS change (PATCH) to its arrival, as document bytes, on each of
/// `DEVICES` phones holding a live sync session (the visit is in their pool).
async fn fan_out_sync(
    app: &TestApp,
    cs: &str,
    customer: &str,
    devices: &[(String, String)],
    rounds: usize,
) -> Vec<Duration> {
    use fieldops_sync::protocol::ServerMessage;
    let reply = app
        .post(
            "/api/v1/visits",
            cs,
            json!({
                "customer_id": customer, "title": "Fan-out", "description": "rev 0",
                "site": { "address": "Jl. Thamrin 1", "lat": -6.19, "lon": 106.82 },
                "scheduled_start": "2031-01-01", "planned_days": 1, "technician_quota": 1
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let visit: fieldops_sync::ids::DocId = reply.body["id"].as_str().unwrap().parse().unwrap();
    let mut phones = Vec::with_capacity(devices.len());
    for (_, token) in devices {
        let (phone, _) = fieldops_tests::device::Device::connect(app.server.addr, token, 0).await;
        assert!(phone.docs.contains_key(&visit), "in the pool");
        phones.push(phone);
    }
    let mut latencies = Vec::new();
    for r in 0..=rounds {
        let sent = Instant::now();
        let reply = app
            .patch(
                &format!("/api/v1/visits/{visit}"),
                cs,
                json!({ "description": format!("rev {}", r + 1) }),
            )
            .await;
        assert_eq!(reply.status, 200);
        let waits = phones.iter_mut().map(|p| async move {
            loop {
                if let ServerMessage::Snapshots(s) = p.recv().await
                    && s.iter().any(|s| s.doc_id == visit)
                {
                    let at = sent.elapsed();
                    p.until_feed().await;
                    return at;
                }
            }
        });
        let arrived = futures_util::future::join_all(waits).await;
        if r > 0 {
            latencies.extend(arrived);
        }
    }
    latencies
}

async fn bench(backend: Backend, rounds: usize) {
    let Some(app) = TestApp::spawn(backend).await else {
        println!("{backend:?}: skipped (no database)");
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = customer_id(&app, &cs).await;
    let claimers = app.quick_technicians(CLAIMERS, "bench").await;
    let app = Arc::new(app);
    let (mut reads, mut wall) = (vec![], Duration::ZERO);
    for _ in 0..rounds {
        let (r, w) = floor(&app, &claimers).await;
        reads.extend(r);
        wall += w;
    }
    reads.sort();
    println!(
        "{backend:?}, floor: {rounds} rounds x {CLAIMERS} authenticated GET /me at once\n  \
         p50 {} p99 {} (wall time {} per round)",
        ms(percentile(&reads, 50.0)),
        ms(percentile(&reads, 99.0)),
        ms(wall / rounds as u32),
    );
    let mut round = 0;
    for (label, in_flight) in [("burst of 500", CLAIMERS), ("32 in flight", 32)] {
        let (mut all, mut won, mut lost, mut walls) = (vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            let (results, wall) = race(&app, &cs, &customer, &claimers, round, in_flight).await;
            round += 1;
            walls.push(wall);
            for (d, w) in results {
                all.push(d);
                if w { won.push(d) } else { lost.push(d) }
            }
        }
        for v in [&mut all, &mut won, &mut lost] {
            v.sort();
        }
        let total: Duration = walls.iter().sum();
        println!(
            "{backend:?}, {label}: {rounds} rounds x {CLAIMERS} claims on {VISITS} visits\n  \
             all     p50 {} p99 {} max {}\n  winners p50 {} p99 {}\n  losers  p50 {} p99 {}\n  \
             throughput {:.0} claims/s (race wall time {} per round)",
            ms(percentile(&all, 50.0)),
            ms(percentile(&all, 99.0)),
            ms(*all.last().unwrap()),
            ms(percentile(&won, 50.0)),
            ms(percentile(&won, 99.0)),
            ms(percentile(&lost, 50.0)),
            ms(percentile(&lost, 99.0)),
            (all.len() as f64) / total.as_secs_f64(),
            ms(total / rounds as u32),
        );
    }
    let mut fan = fan_out(&app, &cs, &claimers[..DEVICES], 20).await;
    fan.sort();
    println!(
        "  CS change -> {DEVICES} event sockets: p50 {} p99 {} ({} deliveries)",
        ms(percentile(&fan, 50.0)),
        ms(percentile(&fan, 99.0)),
        fan.len()
    );
    let mut fan = fan_out_sync(&app, &cs, &customer, &claimers[..DEVICES], 20).await;
    fan.sort();
    println!(
        "  CS change -> {DEVICES} phones on live sync sessions: p50 {} p99 {} ({} deliveries)",
        ms(percentile(&fan, 50.0)),
        ms(percentile(&fan, 99.0)),
        fan.len()
    );
    Arc::try_unwrap(app).unwrap().stop().await;
}

fn main() {
    let rounds = std::env::var("FIELDOPS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        bench(Backend::Sqlite, rounds).await;
        bench(Backend::Postgres, rounds).await;
    });
}
