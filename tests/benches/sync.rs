//! Sync engine benchmark: prints initial-sync time and bytes for 1k/10k/50k
//! documents (to a raw-socket device, then through the phone core until its
//! ticket list answers), small-edit latency and bytes between two devices, the cost of a
//! no-change reconnect, server peak memory while serving 10k documents and
//! change applications per second.
//!
//! The server runs as its own process (the `fieldops` binary, built in the
//! benchmark's profile: release under `cargo bench`) over a
//! SQLite file seeded beforehand, so its memory is its own. Devices keep the
//! bytes they receive without parsing, as the mobile core does.
//!
//! Run: `cargo bench -p fieldops-tests --bench sync`
//! (`FIELDOPS_BENCH_DOCS=1000,10000` to choose the sizes;
//! `FIELDOPS_BENCH_SMOKE=1` for a smoke run, see [`fieldops_tests::bench`]).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use fieldops_server::sync::{self, DocScope};
use fieldops_server::{AppState, Config};
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::visit::{Assignment, AssignmentState, Visit};
use fieldops_sync::ids::{AssignmentId, DeviceId, DocId, DocKind};
use fieldops_sync::protocol::{
    ClientMessage, Cursor, DocChanges, Hello, PROTOCOL_VERSION, ServerMessage,
};
use fieldops_sync::testing;
use fieldops_tests::bench;
use fieldops_tests::process::{ServerProcess, server_binary};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

type Socket = fieldops_tests::Socket;

fn start_server(binary: &Path, database_url: &str) -> ServerProcess {
    ServerProcess::start(binary, database_url, &[], &[])
}

/// A device that counts bytes and keeps what it receives unparsed.
struct Device {
    socket: Socket,
    cursor: u64,
    bytes_in: usize,
    bytes_out: usize,
    docs: usize,
}

impl Device {
    async fn connect(addr: SocketAddr, token: &str, cursor: u64) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/api/v1/sync"),
            None,
            true,
        )
        .await
        .unwrap();
        let mut device = Device {
            socket,
            cursor,
            bytes_in: 0,
            bytes_out: 0,
            docs: 0,
        };
        let hello = ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            access_token: token.to_owned(),
            device_id: DeviceId::new(),
            cursor: Cursor(cursor),
            known_heads: None,
        });
        device.send(&hello).await;
        device.until_feed().await;
        device
    }

    async fn send(&mut self, message: &ClientMessage) {
        let frame = message.encode().unwrap();
        self.bytes_out += frame.len();
        self.socket
            .send(Message::Binary(frame.into()))
            .await
            .unwrap();
    }

    async fn recv(&mut self) -> ServerMessage {
        loop {
            if let Message::Binary(frame) = self.socket.next().await.unwrap().unwrap() {
                self.bytes_in += frame.len();
                let message = ServerMessage::decode(&frame).unwrap();
                self.docs += message.snapshots().count();
                if let ServerMessage::Feed(f) = &message {
                    self.cursor = f.cursor.0;
                }
                return message;
            }
        }
    }

    async fn until_feed(&mut self) {
        while !matches!(self.recv().await, ServerMessage::Feed(_)) {}
    }
}

/// `stage -> (seconds, count)` of the server's `sync_write_stage_seconds`
/// histograms (its `/metrics`).
async fn write_stages(addr: SocketAddr) -> std::collections::BTreeMap<String, (f64, u64)> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut stages = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("fieldops_sync_write_stage_seconds_") else {
            continue;
        };
        let (Some((what, labels)), Some(value)) =
            (rest.split_once("{stage=\""), line.rsplit(' ').next())
        else {
            continue;
        };
        let stage = labels.split('"').next().unwrap_or_default().to_owned();
        let entry: &mut (f64, u64) = stages.entry(stage).or_default();
        match what {
            "sum" => entry.0 = value.parse().unwrap_or_default(),
            "count" => entry.1 = value.parse().unwrap_or_default(),
            _ => {}
        }
    }
    stages
}

async fn login(addr: SocketAddr, email: &str, password: &str) -> (String, String) {
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        reply["access_token"].as_str().unwrap().to_owned(),
        reply["user"]["id"].as_str().unwrap().to_owned(),
    )
}

/// A database with the demo data and `n` ten-field ticket documents, and
/// how many documents the server holds for the demo admin's fresh device:
/// the tickets plus whatever documents the demo itself made (its visits),
/// counted by the feed query the session runs.
async fn seeded(n: usize) -> (tempfile::TempDir, String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let config = Config {
        database_url: url.clone(),
        ..Config::default()
    };
    let state = AppState::build(config).await.unwrap();
    fieldops_server::seed::demo(&state).await.unwrap();
    fieldops_tests::fixtures::seed_ticket_documents(&state.db, n).await;
    let admin = fieldops_server::db::users::by_email(state.db.pool(), "admin@example.com")
        .await
        .unwrap()
        .unwrap();
    let reader = sync::Reader {
        role: admin.role,
        user_id: admin.id,
        customer_id: admin.customer_id,
        departments: vec![],
    };
    let held = sync::store::feed(state.db.pool(), &reader, 0, i64::MAX)
        .await
        .unwrap()
        .iter()
        .filter(|row| row.deleted == 0)
        .count();
    assert!(held >= n, "{held} documents for {n} seeded tickets");
    state.shutdown.cancel();
    state.db.close().await;
    (dir, url, held)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn initial_sync(binary: &Path, sizes: &[usize]) {
    println!("## Initial sync to a fresh device (SQLite, loopback)");
    println!("| tickets seeded | documents received | time | bytes received | server peak RSS |");
    println!("|---|---|---|---|---|");
    let mut phones = Vec::new();
    for &n in sizes {
        let (_dir, url, held) = seeded(n).await;
        let server = start_server(binary, &url);
        let (token, _) = login(server.addr, "admin@example.com", "admin123").await;
        let started = Instant::now();
        let device = Device::connect(server.addr, &token, 0).await;
        let elapsed = started.elapsed();
        assert_eq!(device.docs, held, "every document the server holds for it");
        println!(
            "| {n} | {held} | {:.0} ms | {:.1} MiB | {:.0} MiB |",
            elapsed.as_secs_f64() * 1000.0,
            device.bytes_in as f64 / 1_048_576.0,
            server.peak_rss_mib()
        );
        phones.push((n, phone_core_initial_sync(server.addr, n, held).await));
    }
    println!();
    println!(
        "## The same initial sync through the phone core (its SQLite store, durable), until the lists answer"
    );
    println!(
        "| tickets seeded | sync (catch-up stored and indexed from its listings) | then my tickets listed | in all | store on disk | peak RSS it added to the process |"
    );
    println!("|---|---|---|---|---|---|");
    for (n, phone) in phones {
        println!(
            "| {n} | {:.0} ms | {:.0} ms | {:.0} ms | {:.1} MiB | {:.0} MiB |",
            phone.sync.as_secs_f64() * 1e3,
            phone.list.as_secs_f64() * 1e3,
            (phone.sync + phone.list).as_secs_f64() * 1e3,
            phone.store_bytes as f64 / 1_048_576.0,
            phone.peak_rss_mib,
        );
    }
}

struct PhoneSync {
    sync: Duration,
    list: Duration,
    store_bytes: u64,
    peak_rss_mib: f64,
}

/// A fresh phone core signs in as the demo admin, syncs once and lists
/// the tickets: what a user waits for after installing the app. The
/// sign-in is not timed.
async fn phone_core_initial_sync(addr: SocketAddr, tickets: usize, held: usize) -> PhoneSync {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let core = fieldops_core::FieldopsCore::open(&path).unwrap();
    core.auth()
        .login(&format!("http://{addr}"), "admin@example.com", "admin123")
        .await
        .unwrap();
    let rss_before = bench::reset_peak_rss();
    let started = Instant::now();
    core.sync().now(Duration::from_secs(600)).await.unwrap();
    let sync = started.elapsed();
    let started = Instant::now();
    let listed = core.tickets().list(None).unwrap().len();
    let list = started.elapsed();
    assert_eq!(core.documents().count().unwrap() as usize, held);
    assert!(
        listed >= tickets,
        "{listed} tickets listed of {tickets} seeded"
    );
    let store_bytes = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    PhoneSync {
        sync,
        list,
        store_bytes,
        peak_rss_mib: bench::peak_rss_mib() - rss_before,
    }
}

async fn edits_reconnect_and_throughput(binary: &Path) {
    let (_dir, url, _) = seeded(bench::size(500, 20)).await;
    // Visits for the edit and throughput runs, each shared by tech1 and tech2.
    let config = Config {
        database_url: url.clone(),
        ..Config::default()
    };
    let state = AppState::build(config).await.unwrap();
    let ids = |email: &'static str| {
        let db = state.db.clone();
        async move {
            fieldops_server::db::users::by_email(db.pool(), email)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let (t1, t2) = (
        ids("tech1@example.com").await,
        ids("tech2@example.com").await,
    );
    let mut visits = Vec::new();
    let mut tx = state.db.begin_write().await.unwrap();
    let pushers = bench::size(19, 3);
    for _ in 0..=pushers {
        let mut visit = testing::sample_visit();
        visit.assignments = [&t1, &t2]
            .iter()
            .map(|t| Assignment {
                assignment_id: AssignmentId::new(),
                technician_id: t.parse().unwrap(),
                state: AssignmentState::Active,
            })
            .collect();
        let id = DocId::new();
        let mut doc = visit.to_document().unwrap();
        sync::create(
            &mut tx,
            &id.to_string(),
            DocKind::Visit,
            DocScope::default(),
            &mut doc,
            &[t1.clone(), t2.clone()],
        )
        .await
        .unwrap();
        visits.push((id, doc));
    }
    tx.commit().await.unwrap();
    state.shutdown.cancel();
    state.db.close().await;

    let server = start_server(binary, &url);
    let (tok1, _) = login(server.addr, "tech1@example.com", "tech123").await;
    let (tok2, _) = login(server.addr, "tech2@example.com", "tech123").await;
    let mut a = Device::connect(server.addr, &tok1, 0).await;
    let mut b = Device::connect(server.addr, &tok2, 0).await;

    // One small edit A -> server -> B, 200 times.
    let edits = bench::size(200, 10);
    let (visit_id, doc) = &mut visits[0];
    let mut latencies = Vec::new();
    let (mut out_bytes, mut in_bytes) = (0, 0);
    let stages_before = write_stages(server.addr).await;
    for i in 0..edits {
        let before = doc.get_heads();
        let mut v = Visit::hydrate(doc).unwrap();
        v.notes.push_str(if i % 2 == 0 { "a" } else { "b" });
        v.reconcile(doc).unwrap();
        let changes: Vec<u8> = doc
            .get_changes(&before)
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        let (a_out, b_in) = (a.bytes_out, b.bytes_in);
        let started = Instant::now();
        a.send(&ClientMessage::Changes(vec![DocChanges {
            doc_id: *visit_id,
            kind: DocKind::Visit,
            changes,
        }]))
        .await;
        loop {
            if b.recv().await.snapshots().any(|s| s.doc_id == *visit_id) {
                break;
            }
        }
        latencies.push(started.elapsed());
        b.until_feed().await;
        out_bytes += a.bytes_out - a_out;
        in_bytes += b.bytes_in - b_in;
        // Drain A's answer and its own echo.
        while !matches!(a.recv().await, ServerMessage::Feed(_)) {}
    }
    latencies.sort();
    println!("\n## One small edit, device A -> server -> device B ({edits} edits)");
    println!("| median | p99 | bytes A sent per edit | bytes B received per edit |");
    println!("|---|---|---|---|");
    println!(
        "| {:.2} ms | {:.2} ms | {} | {} |",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        out_bytes / edits,
        in_bytes / edits
    );
    // Where the server's part of it goes: its stage timers over the edits.
    let stages_after = write_stages(server.addr).await;
    println!("\nServer stages of those edits (means over the edits' writes and slices):");
    println!("| stage | mean | times per edit |");
    println!("|---|---|---|");
    for (stage, (seconds, count)) in &stages_after {
        let (seconds_before, count_before) = stages_before.get(stage).copied().unwrap_or_default();
        let n = count - count_before;
        if n == 0 {
            continue;
        }
        println!(
            "| {stage} | {:.1} µs | {:.1} |",
            (seconds - seconds_before) / n as f64 * 1e6,
            n as f64 / edits as f64
        );
    }

    // A device that has everything reconnects.
    let (admin, _) = login(server.addr, "admin@example.com", "admin123").await;
    let synced = Device::connect(server.addr, &admin, 0).await;
    let cursor = synced.cursor;
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..bench::size(50, 5) {
        let started = Instant::now();
        let d = Device::connect(server.addr, &admin, cursor).await;
        times.push(started.elapsed());
        bytes = d.bytes_in + d.bytes_out;
    }
    times.sort();
    println!("\n## No-change reconnect over {} documents", synced.docs);
    println!("| round trips | median time (incl. WebSocket handshake) | bytes both ways |");
    println!("|---|---|---|");
    println!(
        "| 1 | {:.2} ms | {bytes} |",
        percentile(&times, 0.5).as_secs_f64() * 1000.0
    );

    // Change applications per second: one device per remaining visit, pushing.
    let mut tasks = Vec::new();
    let deadline = Instant::now() + bench::size(Duration::from_secs(5), Duration::from_secs(1));
    for (id, mut doc) in visits.into_iter().skip(1) {
        let token = if tasks.len() % 2 == 0 {
            tok1.clone()
        } else {
            tok2.clone()
        };
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut device = Device::connect(addr, &token, u64::MAX / 2).await;
            let mut applied = 0u64;
            while Instant::now() < deadline {
                let before = doc.get_heads();
                let mut v = Visit::hydrate(&doc).unwrap();
                v.notes.push('x');
                v.reconcile(&mut doc).unwrap();
                let changes: Vec<u8> = doc
                    .get_changes(&before)
                    .iter()
                    .flat_map(|c| c.raw_bytes().to_vec())
                    .collect();
                device
                    .send(&ClientMessage::Changes(vec![DocChanges {
                        doc_id: id,
                        kind: DocKind::Visit,
                        changes,
                    }]))
                    .await;
                while !matches!(device.recv().await, ServerMessage::Applied(_)) {}
                applied += 1;
            }
            applied
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    println!(
        "\n## Change applications per second ({pushers} devices pushing concurrently, SQLite)"
    );
    println!("| applied | per second |");
    println!("|---|---|");
    println!(
        "| {total} | {:.0} |",
        total as f64 / started.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    bench::announce("sync");
    let sizes: Vec<usize> = std::env::var("FIELDOPS_BENCH_DOCS")
        .unwrap_or_else(|_| bench::size("1000,10000,50000", "100").into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let binary = server_binary();
    initial_sync(&binary, &sizes).await;
    edits_reconnect_and_throughput(&binary).await;
}
