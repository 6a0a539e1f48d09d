//! A fleet of phones against one server process: how long a CS change takes
//! to reach every technician's phone when a thousand are live, and what ten
//! thousand idle sync sockets cost the server at rest.
//!
//! * **Live phones**: `FIELDOPS_BENCH_PHONES` technicians (1,000), each
//!   with its own account and device session, hold a sync session open and
//!   read every frame, as the mobile core does. CS edits a pool visit over
//!   HTTP `FIELDOPS_BENCH_CHANGES` times (20); for each edit the bench
//!   notes when the change reaches each phone, from the moment the PATCH was
//!   sent. It prints p50 / p99 / max over all (phone, change) pairs, the
//!   time until the last phone had each change, and the same for a single
//!   phone (the floor: one HTTP round trip, the commit and one frame).
//! * **Idle sockets**: `FIELDOPS_BENCH_IDLE` sync sockets (10,000; ten per
//!   account and device session, each its own device id) say `Hello`, take
//!   their initial sync and then sit. The server's RSS before any phone and
//!   with them, per socket, and its CPU over `FIELDOPS_BENCH_REST_SECS` (10)
//!   at rest. Both processes need an open-files limit above the socket
//!   count (`ulimit -n`; 20,000 on the machine the figures come from).
//!
//! The phones are thin protocol clients (tungstenite and the wire codec of
//! `fieldops-sync`), not the whole phone core: a thousand SQLite stores
//! would measure the load generator. They share the machine's two cores
//! with the server, so the tail includes their own scheduling: compare with
//! the single phone's figures.
//!
//! Run: `cargo bench -p fieldops-tests --bench fleet`
//! (`FIELDOPS_BENCH_SMOKE=1` for a smoke run, see [`fieldops_tests::bench`]).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldops_server::{AppState, Config};
use fieldops_sync::ids::{DeviceId, DocId};
use fieldops_sync::protocol::{ClientMessage, Cursor, Hello, PROTOCOL_VERSION, ServerMessage};
use fieldops_tests::bench;
use fieldops_tests::process::{ServerProcess, server_binary};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

fn knob(name: &str, full: usize, smoke: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| bench::size(full, smoke))
}

/// A database with the demo data and `accounts` technicians, each signed in
/// on one device: their access tokens, and one for CS.
async fn seeded(accounts: usize) -> (tempfile::TempDir, String, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fleet.db", dir.path().display());
    let config = Config {
        database_url: url.clone(),
        ..Config::default()
    };
    // The signing key is generated and kept in the database, so the server
    // process opened on it next accepts these tokens.
    let state = AppState::build(config).await.unwrap();
    fieldops_server::seed::demo(&state).await.unwrap();
    let tokens = fieldops_tests::technicians(&state, accounts, "fleet")
        .await
        .into_iter()
        .map(|(_, token)| token)
        .collect();
    let (_, cs) = fieldops_tests::token_for(&state, "cs@example.com").await;
    state.shutdown.cancel();
    state.db.close().await;
    (dir, url, tokens, cs)
}

/// A sync session that has said `Hello` and read up to its first `Feed`.
async fn open_phone(addr: SocketAddr, token: &str) -> fieldops_tests::Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/sync"))
        .await
        .unwrap();
    let hello = ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        access_token: token.to_owned(),
        device_id: DeviceId::new(),
        cursor: Cursor(0),
        known_heads: None,
    });
    socket
        .send(Message::Binary(hello.encode().unwrap().into()))
        .await
        .unwrap();
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Binary(frame) => match ServerMessage::decode(&frame).unwrap() {
                ServerMessage::Feed(_) => return socket,
                ServerMessage::Error(e) => panic!("the server refused a phone: {e:?}"),
                _ => {}
            },
            Message::Close(c) => panic!("closed during the initial sync: {c:?}"),
            _ => {}
        }
    }
}

/// Opens one phone per token, `parallel` handshakes at a time (the server
/// bounds sockets that have not said `Hello` per address).
async fn open_phones(addr: SocketAddr, tokens: &[String]) -> Vec<fieldops_tests::Socket> {
    let gate = Arc::new(Semaphore::new(16));
    let tasks: Vec<_> = tokens
        .iter()
        .cloned()
        .map(|token| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                open_phone(addr, &token).await
            })
        })
        .collect();
    let mut phones = Vec::with_capacity(tasks.len());
    for task in tasks {
        phones.push(task.await.unwrap());
    }
    phones
}

/// A live phone: reads every frame and reports, for each round the bench
/// starts, when the first change of document `doc` reached it (frames
/// about other documents, which a background job may send, do not count).
fn live(
    mut socket: fieldops_tests::Socket,
    doc: DocId,
    mut round: watch::Receiver<(u32, Instant)>,
    arrivals: mpsc::UnboundedSender<(u32, Duration)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reported = 0;
        while let Some(Ok(message)) = socket.next().await {
            let Message::Binary(frame) = message else {
                continue;
            };
            let message = ServerMessage::decode(&frame).unwrap();
            let changed = match &message {
                ServerMessage::SyncBatch(batch) => batch.docs.iter().any(|d| d.doc_id == doc),
                other => other.snapshots().any(|d| d.doc_id == doc),
            };
            let (n, started) = *round.borrow_and_update();
            if changed && n > reported {
                reported = n;
                if arrivals.send((n, started.elapsed())).is_err() {
                    return;
                }
            }
        }
    })
}

/// A visit in the pool every technician sees.
async fn pool_visit(http: &reqwest::Client, server: &ServerProcess, token: &str) -> String {
    let open: serde_json::Value = http
        .get(server.url("/api/v1/visits?status=open"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    open["items"][0]["id"]
        .as_str()
        .expect("the demo has an open visit")
        .to_owned()
}

struct Spread {
    /// Every (phone, change) pair.
    all: Vec<Duration>,
    /// Per change, when its last phone had it.
    last: Vec<Duration>,
}

/// `changes` edits of `visit` by CS, each awaited on all `phones` before
/// the next.
async fn spread(
    http: &reqwest::Client,
    server: &ServerProcess,
    cs: &str,
    visit: &str,
    phones: Vec<fieldops_tests::Socket>,
    changes: u32,
) -> Spread {
    let count = phones.len();
    let doc: DocId = visit.parse().unwrap();
    let (round_tx, round_rx) = watch::channel((0, Instant::now()));
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    let readers: Vec<_> = phones
        .into_iter()
        .map(|socket| live(socket, doc, round_rx.clone(), arrivals_tx.clone()))
        .collect();
    let mut spread = Spread {
        all: Vec::with_capacity(count * changes as usize),
        last: Vec::with_capacity(changes as usize),
    };
    for n in 1..=changes {
        round_tx.send_replace((n, Instant::now()));
        let edited = http
            .patch(server.url(&format!("/api/v1/visits/{visit}")))
            .bearer_auth(cs)
            .json(&json!({ "title": format!("AC tidak dingin (ubah {n})") }))
            .send()
            .await
            .unwrap();
        assert!(edited.status().is_success(), "{}", edited.status());
        let mut heard = 0;
        let mut slowest = Duration::ZERO;
        while heard < count {
            let (round, after) = tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
                .await
                .expect("every phone hears of the change within 30 s")
                .unwrap();
            if round == n {
                heard += 1;
                slowest = slowest.max(after);
                spread.all.push(after);
            }
        }
        spread.last.push(slowest);
        // Let the feed settle before the next change.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for reader in readers {
        reader.abort();
    }
    spread.all.sort();
    spread.last.sort();
    spread
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The process's resident memory, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// The CPU time the process has used (user + system).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime: fields 14 and 15 of the whole line, in clock ticks
    // (100 per second on Linux).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::main]
async fn main() {
    bench::announce("fleet");
    let phones = knob("FIELDOPS_BENCH_PHONES", 1000, 20);
    let changes = u32::try_from(knob("FIELDOPS_BENCH_CHANGES", 20, 3)).unwrap();
    let idle = knob("FIELDOPS_BENCH_IDLE", 10_000, 100);
    let rest = Duration::from_secs(knob("FIELDOPS_BENCH_REST_SECS", 10, 1) as u64);
    let per_account = 10;
    let accounts = phones.max(idle.div_ceil(per_account));

    let binary = server_binary();
    let (_dir, url, tokens, cs) = seeded(accounts).await;
    let server = ServerProcess::start(&binary, &url, &[], &[]);
    let http = reqwest::Client::new();
    let visit = pool_visit(&http, &server, &cs).await;
    // The server at rest with no phone yet: the idle sockets' baseline (the
    // live phones' memory, once freed, is reused by what comes after).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fresh = rss_mib(server.child.id());

    let one = open_phones(server.addr, &tokens[..1]).await;
    let floor = spread(&http, &server, &cs, &visit, one, changes).await;
    let opened = Instant::now();
    let fleet = open_phones(server.addr, &tokens[..phones]).await;
    let connect_time = opened.elapsed();
    let live_rss = rss_mib(server.child.id());
    let fleet = spread(&http, &server, &cs, &visit, fleet, changes).await;
    println!(
        "live phones: {phones} connected in {:.1} s (server RSS {live_rss:.0} MiB); {changes} CS edits of a pool visit",
        connect_time.as_secs_f64()
    );
    println!("| phones | p50 | p99 | max | last phone, median of edits | last phone, worst edit |");
    println!("|---|---|---|---|---|---|");
    for (n, s) in [(1, &floor), (phones, &fleet)] {
        println!(
            "| {n} | {} | {} | {} | {} | {} |",
            ms(bench::percentile(&s.all, 0.5)),
            ms(bench::percentile(&s.all, 0.99)),
            ms(*s.all.last().unwrap()),
            ms(bench::percentile(&s.last, 0.5)),
            ms(*s.last.last().unwrap()),
        );
    }

    // The live phones are gone (their sockets closed with their tasks);
    // let the server settle, then open the idle ones.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_mib(server.child.id());
    let idle_tokens: Vec<String> = (0..idle).map(|i| tokens[i / per_account].clone()).collect();
    let opened = Instant::now();
    let sockets = open_phones(server.addr, &idle_tokens).await;
    let connect_time = opened.elapsed();
    // Idle phones still read (a WebSocket answers pings as it reads).
    let holders: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| tokio::spawn(async move { while socket.next().await.is_some() {} }))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_before = cpu_time(server.child.id());
    let watched = Instant::now();
    tokio::time::sleep(rest).await;
    let cpu = cpu_time(server.child.id()).saturating_sub(cpu_before);
    let after = rss_mib(server.child.id());
    let still_open = holders.iter().filter(|h| !h.is_finished()).count();
    assert_eq!(still_open, idle, "idle sockets the server closed");
    println!(
        "idle sockets: {idle} opened in {:.1} s; server RSS {fresh:.0} MiB before any phone, \
         {before:.0} MiB after the live phones left, {after:.0} MiB with the idle sockets \
         (+{:.1} MiB over the fresh server, {:.1} KiB per socket); CPU at rest {:.2} % of a core \
         over {:.0} s (one clock tick, 10 ms, is the floor)",
        connect_time.as_secs_f64(),
        after - fresh,
        (after - fresh) * 1024.0 / idle as f64,
        cpu.as_secs_f64() / watched.elapsed().as_secs_f64() * 100.0,
        watched.elapsed().as_secs_f64(),
    );
    for holder in holders {
        holder.abort();
    }
}
