//! The WebSockets under attack: however large the messages a client
//! announces and however many sockets it opens, the server holds a bounded
//! amount of memory for it; every refusal is said (a close code, and on the
//! sync socket an `Error` frame first); and honest consoles and phones keep
//! working meanwhile. The test servers run in this process, so its resident
//! memory is theirs.

use std::net::IpAddr;

use fieldops_sync::ids::{DeviceId, DocId, DocKind};
use fieldops_sync::protocol::{
    ClientMessage, Cursor, DocChanges, DropReason, ErrorCode, FRAME_VERSION, Hello,
    MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, ServerMessage, limits,
};
use fieldops_tests::device::Device;
use fieldops_tests::raw_socket::{Answers, BINARY, Opened, TEXT, open, rss_bytes};
use fieldops_tests::{Backend, Socket, TestApp, next_json, on_both_backends, websocket};
use futures_util::future::join_all;
use serde_json::json;

on_both_backends!(
    unauthenticated_sync_sockets_cannot_make_the_server_buffer,
    console_sockets_cannot_make_the_server_buffer,
    refused_sync_sessions_get_an_error_frame_and_a_close_code,
);

const MIB: u64 = 1024 * 1024;

/// Honest consoles and phones connect from 127.0.0.1; attackers from
/// other loopback addresses.
fn ip(address: &str) -> IpAddr {
    address.parse().unwrap()
}

fn hello_with(token: &str, protocol_version: u16) -> Vec<u8> {
    ClientMessage::Hello(Hello {
        protocol_version,
        access_token: token.to_owned(),
        device_id: DeviceId::new(),
        cursor: Cursor(0),
        known_heads: None,
    })
    .encode()
    .unwrap()
}

fn hello(token: &str) -> Vec<u8> {
    hello_with(token, PROTOCOL_VERSION)
}

/// A console and a phone at their ordinary work: the console hears of a
/// customer CS creates, and a phone opens a sync session and is caught up.
async fn honest_work(app: &TestApp, cs: &str, tech: &str, console: &mut Socket, n: u32) {
    let created = app
        .post(
            "/api/v1/customers",
            cs,
            json!({ "name": format!("Pelanggan {n}"), "phone": format!("+628135555{n:04}") }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let event = next_json(console, 10).await;
    assert_eq!(
        (&event["kind"], &event["data"]["id"]),
        (&json!("customer.created"), &created.body["id"])
    );
    let (_, opening) = Device::connect(app.server.addr, tech, 0).await;
    assert!(
        matches!(opening.first(), Some(ServerMessage::Welcome(_))),
        "{opening:?}"
    );
    assert!(matches!(opening.last(), Some(ServerMessage::Feed(_))));
}

#[track_caller]
fn assert_too_many(opened: Opened) {
    let Opened::Refused {
        status,
        content_type,
        body,
    } = opened
    else {
        panic!("a socket over the limit was accepted")
    };
    assert_eq!(
        (status, content_type.as_str(), body["type"].as_str()),
        (
            429,
            "application/problem+json",
            Some("urn:fieldops:problem:too-many-connections")
        ),
        "{body}"
    );
}

#[track_caller]
fn assert_refused(answers: &Answers, code: ErrorCode, close: u16) {
    let frames = answers.sync_frames();
    assert!(
        matches!(frames.as_slice(), [.., ServerMessage::Error(e)] if e.code == code),
        "expected an {code:?} error frame: {frames:?}"
    );
    assert_eq!(answers.close, Some(close), "{frames:?}");
}

async fn unauthenticated_sync_sockets_cannot_make_the_server_buffer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let addr = app.server.addr;
    let limit = app
        .server
        .state
        .config
        .sockets
        .max_unauthenticated_per_address as usize;
    let cs = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let mut console = websocket(addr, "/api/v1/events", &cs).await;
    honest_work(&app, &cs, &tech, &mut console, 1).await;

    // As many sockets as one address may open before saying Hello each
    // announce a first frame of 8 MiB — the most a frame may hold once a
    // session is open — and send all of it but the last byte. Read, they
    // would cost the server `limit` × 8 MiB (256 MiB by default).
    let frame = limits::MAX_FRAME_BYTES as u64;
    let unbounded = limit as u64 * frame;
    let before = rss_bytes();
    let attack = (0..limit).map(|_| async move {
        let mut socket = open(addr, ip("127.0.0.2"), "/api/v1/sync", None)
            .await
            .upgraded();
        socket.frame(true, BINARY, frame, frame - 1).await;
        socket
    });
    let (sockets, ()) = tokio::join!(
        join_all(attack),
        honest_work(&app, &cs, &tech, &mut console, 2)
    );
    let grown = rss_bytes().saturating_sub(before);
    assert!(
        grown < unbounded / 4,
        "the server grew by {} MiB under an attack worth {} MiB",
        grown / MIB,
        unbounded / MIB
    );
    // Each was refused on the frame's header, and told so.
    for socket in sockets {
        assert_refused(&socket.answers(10).await, ErrorCode::TooLarge, 1009);
    }

    // Sockets that never say Hello hold their address's places: it gets no
    // more until one of them signs in, while phones elsewhere connect as
    // usual.
    let idler = ip("127.0.0.3");
    let mut idle = Vec::new();
    for _ in 0..limit {
        idle.push(open(addr, idler, "/api/v1/sync", None).await.upgraded());
    }
    assert_too_many(open(addr, idler, "/api/v1/sync", None).await);
    honest_work(&app, &cs, &tech, &mut console, 3).await;
    let mut signed_in = idle.pop().unwrap();
    signed_in.message(&hello(&tech)).await;
    assert!(matches!(
        signed_in.next_sync(10).await,
        ServerMessage::Welcome(_)
    ));
    open(addr, idler, "/api/v1/sync", None).await.upgraded();
    app.stop().await;
}

async fn console_sockets_cannot_make_the_server_buffer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let addr = app.server.addr;
    let limit = app.server.state.config.sockets.max_per_account as usize;
    let cs = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let customer = app.login_as("customer").await;
    let mut console = websocket(addr, "/api/v1/events", &cs).await;
    honest_work(&app, &cs, &tech, &mut console, 1).await;

    // One customer opens as many event streams as an account may hold; one
    // more is refused.
    let attacker = ip("127.0.0.2");
    let events = "/api/v1/events";
    let mut streams = Vec::new();
    for _ in 0..limit {
        streams.push(
            open(addr, attacker, events, Some(&customer))
                .await
                .upgraded(),
        );
    }
    assert_too_many(open(addr, attacker, events, Some(&customer)).await);

    // Each sends a 16 MiB message it never finishes: half in 1 KiB
    // fragments (each a small frame, together a huge message), half in
    // 1 MiB ones (each a huge frame). Read, they would cost the server
    // `limit` × 16 MiB (256 MiB by default).
    let message = 16 * MIB;
    let unbounded = limit as u64 * message;
    let before = rss_bytes();
    let attack = streams
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| async move {
            let fragment = if i % 2 == 0 { 1024 } else { MIB };
            stream.endless_message(fragment, message).await;
            stream
        });
    let (streams, ()) = tokio::join!(
        join_all(attack),
        honest_work(&app, &cs, &tech, &mut console, 2)
    );
    let grown = rss_bytes().saturating_sub(before);
    assert!(
        grown < unbounded / 4,
        "the server grew by {} MiB under an attack worth {} MiB",
        grown / MIB,
        unbounded / MIB
    );
    for stream in streams {
        let answers = stream.answers(10).await;
        assert_eq!(answers.close, Some(1009), "{answers:?}");
    }

    // The closed streams gave their places back: the customer connects
    // again (as soon as the server has finished with one of them).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open(addr, attacker, events, Some(&customer)).await {
            Opened::Upgraded(_) => break,
            Opened::Refused { status: 429, .. } if tokio::time::Instant::now() < deadline => {}
            Opened::Refused { status, body, .. } => panic!("{status} {body}"),
        }
    }
    honest_work(&app, &cs, &tech, &mut console, 3).await;
    app.stop().await;
}

/// What the server answers a sync socket whose first frame is `first`.
async fn answers_to_first(app: &TestApp, first: &[u8]) -> Answers {
    let mut socket = open(app.server.addr, ip("127.0.0.1"), "/api/v1/sync", None)
        .await
        .upgraded();
    socket.message(first).await;
    socket.answers(10).await
}

async fn refused_sync_sessions_get_an_error_frame_and_a_close_code(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.sockets.max_per_account = 2).await else {
        return;
    };
    let addr = app.server.addr;
    let local = ip("127.0.0.1");
    let tech = app.login_as("technician").await;

    // Refused Hellos, and first frames that are no Hello at all.
    let ping = ClientMessage::Ping { nonce: 1 }.encode().unwrap();
    for (first, code) in [
        (hello("not-a-token"), ErrorCode::Unauthorized),
        (
            hello_with(&tech, MIN_PROTOCOL_VERSION - 1),
            ErrorCode::UnsupportedVersion,
        ),
        (ping, ErrorCode::UnexpectedMessage),
        (vec![FRAME_VERSION, 200, 200, 200], ErrorCode::Malformed),
    ] {
        assert_refused(&answers_to_first(&app, &first).await, code, 1008);
    }
    let mut text = open(addr, local, "/api/v1/sync", None).await.upgraded();
    text.frame(true, TEXT, 2, 2).await;
    assert_refused(&text.answers(10).await, ErrorCode::Malformed, 1008);

    // A first frame over the largest Hello, though under the frame limit.
    let mut large = open(addr, local, "/api/v1/sync", None).await.upgraded();
    let len = 2 * limits::MAX_HELLO_BYTES as u64;
    large.frame(true, BINARY, len, len).await;
    assert_refused(&large.answers(10).await, ErrorCode::TooLarge, 1009);

    // Once the session is open, frames of several MiB are read as usual;
    // one over the 8 MiB limit is refused, and the session closed.
    let mut phone = open(addr, local, "/api/v1/sync", None).await.upgraded();
    phone.message(&hello(&tech)).await;
    while !matches!(phone.next_sync(10).await, ServerMessage::Feed(_)) {}
    let changes = (0..3)
        .map(|_| DocChanges {
            doc_id: DocId::new(),
            kind: DocKind::Visit,
            changes: vec![0; limits::MAX_SYNC_MESSAGE_BYTES],
        })
        .collect();
    let big = ClientMessage::Changes(changes).encode().unwrap();
    assert!(big.len() as u64 > 2 * MIB);
    phone.message(&big).await;
    let answer = phone.next_sync(10).await;
    assert!(
        matches!(&answer, ServerMessage::Drop(d) if d.reason == DropReason::OutOfScope && d.doc_ids.len() == 3),
        "{answer:?}"
    );
    let over = limits::MAX_FRAME_BYTES as u64 + MIB;
    phone.frame(true, BINARY, over, over).await;
    assert_refused(&phone.answers(10).await, ErrorCode::TooLarge, 1009);

    // An account at its limit of sockets: no more event streams (429), and
    // a sync Hello is refused with `rate_limited` and "try again later".
    let customer = app.login_as("customer").await;
    let _streams = [
        websocket(addr, "/api/v1/events", &customer).await,
        websocket(addr, "/api/v1/events", &customer).await,
    ];
    assert_too_many(open(addr, local, "/api/v1/events", Some(&customer)).await);
    let answers = answers_to_first(&app, &hello(&customer)).await;
    assert_refused(&answers, ErrorCode::RateLimited, 1013);
    app.stop().await;
}
