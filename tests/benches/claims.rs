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
//! # the load generator alone, against `fieldops serve --demo` elsewhere:
//! FIELDOPS_BENCH_SERVER=10.0.0.5:8080 cargo bench -p fieldops-tests --bench claims
//! ```
//!
//! With `FIELDOPS_BENCH_SERVER` the benchmark starts no server: it signs in
//! with the demo accounts of the server at that address, enrols its 500
//! technicians through the API (fresh e-mails each run) and measures the
//! same shapes, so that the server's figures can be taken on a machine the
//! load generator does not share. Only for measurements you start by hand:
//! the test suite never leaves loopback. A server (or a proxy in front of
//! it) that answers 429 or 503 with `Retry-After` is waited for and asked
//! again, up to five times; the wait counts in the request's latency and the
//! number of such answers is printed.
//!
//! `FIELDOPS_BENCH_SMOKE=1` runs one round of 60 claimers on 6 visits and a
//! 10-device fan-out (see [`fieldops_tests::bench`]).

#![allow(clippy::unwrap_used)] // a benchmark: a failed step should stop it

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fieldops_sync::docs::{DocumentSchema as _, Visit};
use fieldops_tests::{Backend, TestApp, bench, demo_account, next_json, websocket};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// How big a run is: the measured size, or a smoke run's.
#[derive(Debug, Clone, Copy)]
struct Size {
    /// Visits per race (quotas 1, 2, 3, 1, ...).
    visits: usize,
    /// Claimers per race, spread evenly over the visits.
    claimers: usize,
    /// Connected event sockets and phones for the fan-out figures.
    devices: usize,
    /// Timed CS changes in each fan-out (after one warm-up).
    changes: usize,
}

impl Size {
    fn get() -> Self {
        bench::size(
            Size {
                visits: 50,
                claimers: 500,
                devices: 100,
                changes: 20,
            },
            Size {
                visits: 6,
                claimers: 60,
                devices: 10,
                changes: 2,
            },
        )
    }

    /// Seats in one race: every visit's quota.
    fn seats(&self) -> usize {
        (0..self.visits).map(|i| i % 3 + 1).sum()
    }
}

/// Times a 429 or 503 answer is waited for and the request sent again.
const RETRIES: u32 = 5;
/// The wait when a 429/503 names none (or an HTTP date), and the longest.
const DEFAULT_WAIT: Duration = Duration::from_secs(1);
const LONGEST_WAIT: Duration = Duration::from_secs(60);

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

fn micros(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}

/// The server under load: one this process started, or one elsewhere.
struct Target {
    client: reqwest::Client,
    addr: SocketAddr,
    size: Size,
    /// 429/503 answers waited for and retried.
    retried: AtomicU64,
}

impl Target {
    fn new(client: reqwest::Client, addr: SocketAddr) -> Self {
        Self {
            client,
            addr,
            size: Size::get(),
            retried: AtomicU64::new(0),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends the request `build` makes; a 429 or 503 answer is waited for as
    /// its `Retry-After` says (whole seconds; [`DEFAULT_WAIT`] without one)
    /// and the request sent again, up to [`RETRIES`] times.
    async fn execute(&self, build: impl Fn() -> RequestBuilder) -> Response {
        let mut attempt = 0;
        loop {
            let response = build().send().await.unwrap();
            let status = response.status();
            let busy = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE;
            if !busy || attempt == RETRIES {
                return response;
            }
            attempt += 1;
            self.retried.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(retry_after(&response)).await;
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let response = self
            .execute(|| {
                let mut request = self.client.request(method.clone(), self.url(path));
                if !token.is_empty() {
                    request = request.bearer_auth(token);
                }
                if let Some(body) = &body {
                    request = request.json(body);
                }
                request
            })
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, email: &str, password: &str) -> String {
        let body = json!({ "email": email, "password": password });
        let (status, reply) = self
            .send(Method::POST, "/api/v1/auth/login", "", Some(body))
            .await;
        assert_eq!(status, 200, "login {email}: {reply}");
        reply["access_token"].as_str().unwrap().to_owned()
    }

    async fn customer_id(&self, cs: &str) -> String {
        let (_, list) = self
            .send(Method::GET, "/api/v1/customers?q=Hendra", cs, None)
            .await;
        list["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Enrols `n` technicians through the API and signs each in.
    async fn enrol_technicians(&self, admin: &str, n: usize) -> Vec<(String, String)> {
        use futures_util::StreamExt as _;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let enrol = (0..n).map(|i| {
            let email = format!("bench-{}-{i}@example.com", &run[..8]);
            async move {
                let body = json!({
                    "email": email, "name": format!("Teknisi {i}"),
                    "role": "technician", "password": "bench-password-1"
                });
                let (status, reply) = self
                    .send(Method::POST, "/api/v1/users", admin, Some(body))
                    .await;
                assert_eq!(status, 201, "{reply}");
                let id = reply["id"].as_str().unwrap().to_owned();
                (id, self.login(&email, "bench-password-1").await)
            }
        });
        // Sign-ins hash passwords on the server: a few at a time.
        futures_util::stream::iter(enrol)
            .buffered(8)
            .collect()
            .await
    }
}

/// How long a 429/503 answer asks the client to wait.
fn retry_after(response: &Response) -> Duration {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_WAIT, Duration::from_secs)
        .min(LONGEST_WAIT)
}

/// One race on fresh visits: (latency, won) per claim, and the wall time.
async fn race(
    app: &Arc<Target>,
    cs: &str,
    customer: &str,
    claimers: &[(String, String)],
    round: usize,
    in_flight: usize,
) -> (Vec<(Duration, bool)>, Duration) {
    let visits = app.size.visits;
    let mut ids = Vec::with_capacity(visits);
    for i in 0..visits {
        let body = json!({
            "customer_id": customer, "title": format!("Bench {round}-{i}"),
            "site": { "address": "Jl. Bench 1", "lat": -6.2, "lon": 106.8 },
            // A different day per round: one technician may hold one visit a day.
            "scheduled_start": format!("2031-01-{:02}", round + 1),
            "technician_quota": (i % 3) + 1
        });
        let (status, reply) = app
            .send(Method::POST, "/api/v1/visits", cs, Some(body))
            .await;
        assert_eq!(status, 201, "{reply}");
        ids.push(reply["id"].as_str().unwrap().to_owned());
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
                let url = app.url(&format!("/api/v1/visits/{}/claim", ids[i % visits]));
                let sent = Instant::now();
                let status = app
                    .execute(|| app.client.post(&url).bearer_auth(&token))
                    .await
                    .status();
                assert!(status == 200 || status == 409, "{status}");
                (sent.elapsed(), status == 200)
            })
        })
        .collect();
    let mut results = Vec::with_capacity(claimers.len());
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let wall = start.elapsed();
    let winners = results.iter().filter(|r| r.1).count();
    assert_eq!(winners, app.size.seats());
    (results, wall)
}

/// The floor the machine sets: the same burst shape, but each claimer asks
/// for `GET /api/v1/me` (authentication and one small read, no write).
async fn floor(app: &Arc<Target>, claimers: &[(String, String)]) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = claimers
        .iter()
        .map(|(_, token)| {
            let (app, token) = (Arc::clone(app), token.clone());
            tokio::spawn(async move {
                let sent = Instant::now();
                let url = app.url("/api/v1/me");
                let status = app
                    .execute(|| app.client.get(&url).bearer_auth(&token))
                    .await
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

/// Time from a CS change (PATCH) to its event on each device's socket.
async fn fan_out(
    app: &Target,
    cs: &str,
    devices: &[(String, String)],
    rounds: usize,
) -> Vec<Duration> {
    let mut sockets = Vec::with_capacity(devices.len());
    for (_, token) in devices {
        sockets.push(websocket(app.addr, "/api/v1/events", token).await);
    }
    let (_, list) = app
        .send(Method::GET, "/api/v1/visits?limit=1", cs, None)
        .await;
    let visit = list["items"][0]["id"].as_str().unwrap().to_owned();
    let mut latencies = Vec::new();
    // Round 0 warms the connections up and is not counted.
    for r in 0..=rounds {
        let sent = Instant::now();
        let path = format!("/api/v1/visits/{visit}");
        let body = json!({ "description": format!("rev {r}") });
        assert_eq!(app.send(Method::PATCH, &path, cs, Some(body)).await.0, 200);
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

/// What a CS change costs on phones holding live sync sessions.
struct SyncFanOut {
    /// From sending the PATCH to the frame with the visit's bytes coming off
    /// each phone's socket.
    arrivals: Vec<Duration>,
    /// Each phone's work on what it received (Automerge merge), done after
    /// every phone's arrival was noted: on real phones it runs on each
    /// phone's own CPU, here on the cores the server needs to fan out.
    applies: Vec<Duration>,
}

/// Time from a CS change (PATCH) to its arrival, as document bytes, on each
/// phone holding a live sync session (the visit is in their pool).
async fn fan_out_sync(
    app: &Target,
    cs: &str,
    customer: &str,
    devices: &[(String, String)],
    rounds: usize,
) -> SyncFanOut {
    use fieldops_sync::protocol::ServerMessage;
    let body = json!({
        "customer_id": customer, "title": "Fan-out", "description": "rev 0",
        "site": { "address": "Jl. Thamrin 1", "lat": -6.19, "lon": 106.82 },
        "scheduled_start": "2031-01-01", "planned_days": 1, "technician_quota": 1
    });
    let (status, reply) = app
        .send(Method::POST, "/api/v1/visits", cs, Some(body))
        .await;
    assert_eq!(status, 201, "{reply}");
    let visit: fieldops_sync::ids::DocId = reply["id"].as_str().unwrap().parse().unwrap();
    let mut phones = Vec::with_capacity(devices.len());
    for (_, token) in devices {
        let (phone, _) = fieldops_tests::device::Device::connect(app.addr, token, 0).await;
        assert!(phone.docs.contains_key(&visit), "in the pool");
        phones.push(phone);
    }
    let mut out = SyncFanOut {
        arrivals: vec![],
        applies: vec![],
    };
    for r in 0..=rounds {
        let sent = Instant::now();
        let path = format!("/api/v1/visits/{visit}");
        let body = json!({ "description": format!("rev {}", r + 1) });
        assert_eq!(app.send(Method::PATCH, &path, cs, Some(body)).await.0, 200);
        let waits = phones.iter_mut().map(|p| async move {
            let (mut frames, mut arrived) = (vec![], None);
            loop {
                let (at, message) = p.recv_unapplied().await;
                if message.snapshots().any(|s| s.doc_id == visit) {
                    arrived = Some(at - sent);
                }
                let feed = matches!(message, ServerMessage::Feed(_));
                frames.push(message);
                if let (true, Some(arrived)) = (feed, arrived) {
                    return (arrived, frames);
                }
            }
        });
        let received = futures_util::future::join_all(waits).await;
        for (phone, (arrived, frames)) in phones.iter_mut().zip(received) {
            let start = Instant::now();
            frames.iter().for_each(|f| phone.apply(f));
            let applied = start.elapsed();
            let seen = Visit::hydrate(&phone.docs[&visit].1).unwrap();
            assert_eq!(
                seen.description,
                format!("rev {}", r + 1),
                "the phone has it"
            );
            if r > 0 {
                out.arrivals.push(arrived);
                out.applies.push(applied);
            }
        }
    }
    out
}

/// A server of this process on `backend`.
async fn bench_local(backend: Backend, rounds: usize) {
    let Some(app) = TestApp::spawn(backend).await else {
        println!("{backend:?}: skipped (no database)");
        return;
    };
    let target = Target::new(app.client.clone(), app.server.addr);
    let claimers = app.quick_technicians(target.size.claimers, "bench").await;
    bench(target, &format!("{backend:?}"), claimers, rounds).await;
    app.stop().await;
}

/// The server at `addr`, serving the demo data.
async fn bench_remote(addr: SocketAddr, rounds: usize) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let target = Target::new(client, addr);
    let (email, password) = demo_account("admin");
    let admin = target.login(email, password).await;
    let claimers = target.enrol_technicians(&admin, target.size.claimers).await;
    bench(target, &format!("server at {addr}"), claimers, rounds).await;
}

async fn bench(target: Target, backend: &str, claimers: Vec<(String, String)>, rounds: usize) {
    let (email, password) = demo_account("cs");
    let cs = target.login(email, password).await;
    let customer = target.customer_id(&cs).await;
    let app = Arc::new(target);
    let Size {
        visits,
        claimers: n,
        devices,
        changes,
    } = app.size;
    // One untimed round opens the connections, as the races find them.
    floor(&app, &claimers).await;
    let (mut reads, mut wall) = (vec![], Duration::ZERO);
    for _ in 0..rounds {
        let (r, w) = floor(&app, &claimers).await;
        reads.extend(r);
        wall += w;
    }
    reads.sort();
    println!(
        "{backend}, floor: {rounds} rounds x {n} authenticated GET /me at once\n  \
         p50 {} p99 {} (wall time {} per round)",
        ms(percentile(&reads, 50.0)),
        ms(percentile(&reads, 99.0)),
        ms(wall / rounds as u32),
    );
    let mut round = 0;
    let burst = format!("burst of {n}");
    for (label, in_flight) in [(burst.as_str(), n), ("32 in flight", 32)] {
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
            "{backend}, {label}: {rounds} rounds x {n} claims on {visits} visits\n  \
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
    let mut fan = fan_out(&app, &cs, &claimers[..devices], changes).await;
    fan.sort();
    println!(
        "  CS change -> {devices} event sockets: p50 {} p99 {} ({} deliveries)",
        ms(percentile(&fan, 50.0)),
        ms(percentile(&fan, 99.0)),
        fan.len()
    );
    let SyncFanOut {
        mut arrivals,
        mut applies,
    } = fan_out_sync(&app, &cs, &customer, &claimers[..devices], changes).await;
    arrivals.sort();
    applies.sort();
    println!(
        "  CS change -> {devices} phones on live sync sessions: p50 {} p99 {} ({} deliveries)\n  \
         each phone's merge of it, after: p50 {} p99 {}",
        ms(percentile(&arrivals, 50.0)),
        ms(percentile(&arrivals, 99.0)),
        arrivals.len(),
        micros(percentile(&applies, 50.0)),
        micros(percentile(&applies, 99.0)),
    );
    let retried = app.retried.load(Ordering::Relaxed);
    if retried > 0 {
        println!("  {retried} answers were 429/503 and retried after their Retry-After");
    }
}

fn main() {
    bench::announce("claims");
    let rounds = std::env::var("FIELDOPS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(bench::size(3, 1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let remote = std::env::var("FIELDOPS_BENCH_SERVER").ok().map(|a| {
        a.parse::<SocketAddr>()
            .expect("FIELDOPS_BENCH_SERVER is host:port, e.g. 10.0.0.5:8080")
    });
    runtime.block_on(async {
        match remote {
            Some(addr) => bench_remote(addr, rounds).await,
            None => {
                bench_local(Backend::Sqlite, rounds).await;
                bench_local(Backend::Postgres, rounds).await;
            }
        }
    });
}
