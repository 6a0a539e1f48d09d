//! Call signalling latency: with N phones connected on the sync socket (each
//! a customer of its own), an admin's console invites one phone after
//! another; the figure is the time from the invite leaving the console's
//! socket to the `incoming` frame coming off the phone's, p50 / p99 over the
//! rounds. Each call is then cancelled and its end awaited, so every round
//! starts quiet. The server runs in this process on SQLite, on the same two
//! cores as the phones and the console; the floor printed beside it is a
//! WebSocket ping-pong round trip on the same sockets.
//!
//! ```text
//! cargo bench -p fieldops-tests --bench calls
//! FIELDOPS_BENCH_PHONES=100 FIELDOPS_BENCH_ROUNDS=500 cargo bench -p fieldops-tests --bench calls
//! ```

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fieldops_sync::call::{CallEvent, CallId, Signal};
use fieldops_sync::protocol::{ClientMessage, ServerMessage};
use fieldops_tests::calls::{CallEnd, invite_customer, signal};
use fieldops_tests::device::Device;
use fieldops_tests::{Backend, TestApp, bench, websocket};
use reqwest::Method;
use serde_json::json;

fn knob(name: &str, full: usize, smoke: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| bench::size(full, smoke))
}

fn main() {
    bench::announce("calls");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}

async fn run() {
    let phones = knob("FIELDOPS_BENCH_PHONES", 100, 3);
    let rounds = knob("FIELDOPS_BENCH_ROUNDS", 300, 6);
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let admin = app.login_as("admin").await;
    let status = app
        .call(
            Method::PUT,
            "/api/v1/me/status",
            Some(&admin),
            Some(json!({ "status": "available" })),
        )
        .await;
    assert_eq!(status.status, 200);

    // N customers, each with the app and a live sync session.
    let mut devices = Vec::with_capacity(phones);
    let mut customers = Vec::with_capacity(phones);
    for i in 0..phones {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({
                    "name": format!("Pelanggan {i}"), "email": format!("bench-{i}@example.com"),
                    "phone": format!("+62813{:08}", 40_000_000 + i), "password": "rahasia123"
                })),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        let token = reply.body["access_token"].as_str().unwrap().to_owned();
        let me = app.get("/api/v1/me", &token).await;
        customers.push(me.body["customer"]["id"].as_str().unwrap().to_owned());
        devices.push(Device::connect(app.server.addr, &token, 0).await.0);
    }
    let mut desk = websocket(app.server.addr, "/api/v1/events", &admin).await;
    println!("calls: {phones} phones connected, {rounds} rounds");

    let mut ring = Vec::with_capacity(rounds);
    let mut floor = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let i = round % phones;
        let call = CallId::new();
        let started = Instant::now();
        desk.send_call(&signal(call, 1, invite_customer(&customers[i], None)))
            .await;
        let phone = &mut devices[i];
        let incoming = phone.next_call().await;
        ring.push(started.elapsed());
        assert!(
            matches!(incoming.event, CallEvent::Incoming { .. }),
            "{incoming:?}"
        );
        desk.send_call(&signal(call, 2, Signal::Cancel)).await;
        // Placed, then ended: the console is quiet again.
        loop {
            if matches!(desk.next_call().await.event, CallEvent::Ended { .. }) {
                break;
            }
        }
        assert!(matches!(
            phone.next_call().await.event,
            CallEvent::Ended { .. }
        ));
        // The floor: one protocol round trip on the same phone's socket.
        let started = Instant::now();
        phone
            .send(ClientMessage::Ping {
                nonce: round as u64,
            })
            .await;
        loop {
            if matches!(phone.recv().await, ServerMessage::Pong { .. }) {
                break;
            }
        }
        floor.push(started.elapsed());
    }
    ring.sort();
    floor.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {phones} phones | invite → ring p50 {:.2} ms | p99 {:.2} ms | max {:.2} ms | floor (ping-pong) p50 {:.2} ms, p99 {:.2} ms |",
        ms(bench::percentile(&ring, 0.5)),
        ms(bench::percentile(&ring, 0.99)),
        ms(*ring.last().unwrap()),
        ms(bench::percentile(&floor, 0.5)),
        ms(bench::percentile(&floor, 0.99)),
    );
}
