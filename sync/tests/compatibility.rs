//! The wire format, pinned byte for byte.
//!
//! A phone in the field keeps an older build for months, so what this build
//! sends and reads must not move under it. Every message kind, every
//! command, every call signal and event below is built from fixed values
//! and must encode to the bytes recorded in `golden/wire.txt`, and those
//! bytes must decode back to it; every code the protocol carries as a
//! variant index (reject reasons, error codes, document kinds, ...) keeps
//! its index. A new variant goes at the end of its enum, with a
//! `PROTOCOL_VERSION` bump (see `fieldops_sync::protocol`), and its line is
//! added to the file; no existing line may change.
//!
//! To record the lines for a new variant, run
//! `FIELDOPS_BLESS=1 cargo test -p fieldops-sync --test compatibility` and
//! review the diff of `golden/wire.txt`: only added lines are a compatible
//! change.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use fieldops_sync::call::{
    CallEvent, CallMessage, CallUpdate, Callee, EndReason, IceServer, Media, Refusal, SdpKind,
    Signal,
};
use fieldops_sync::commands::{Attendance, Command, CommandBody, CommandResult, RejectReason};
use fieldops_sync::ids::{
    CallId, CommandId, ConversationId, DeviceId, DocId, DocKind, ItemId, MessageId, UserId,
};
use fieldops_sync::journey::{Answer, Date, Slug};
use fieldops_sync::listing::{Listing, Place};
use fieldops_sync::protocol::{
    Applied, ClientMessage, Cursor, DocChanges, DocHeads, DocSync, DropDocs, DropReason, ErrorCode,
    ErrorFrame, Feed, Hello, ListedSnapshot, ServerMessage, Snapshot, SyncBatch, Welcome,
    WriteRejected,
};
use fieldops_sync::rules::{Violation, ViolationReason};
use uuid::Uuid;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/wire.txt");

/// A fixed id: `n` in the low bits of a version-7-looking UUID.
fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_f3a2_7c00_7000_8000_0000_0000_0000 | n)
}

fn doc(n: u128) -> DocId {
    DocId::from_uuid(id(n))
}

fn command(n: u128, body: CommandBody) -> Command {
    Command {
        id: CommandId::from_uuid(id(0x100 + n)),
        device_seq: 40 + n as u64,
        issued_at_ms: 1_796_000_000_000,
        body,
    }
}

fn attendance() -> Attendance {
    Attendance {
        visit_id: doc(1),
        lat: -6.2251,
        lon: 106.8097,
        accuracy_m: 8.5,
        device_time_ms: 1_796_000_000_123,
    }
}

/// One command of every kind.
fn commands() -> Vec<(&'static str, Command)> {
    let mut answers = BTreeMap::new();
    answers.insert(
        Slug::try_from("problem".to_owned()).unwrap(),
        Answer::Choice(Slug::try_from("no_cooling".to_owned()).unwrap()),
    );
    answers.insert(
        Slug::try_from("since".to_owned()).unwrap(),
        Answer::Date(Date::new(2026, 12, 1).unwrap()),
    );
    answers.insert(
        Slug::try_from("units".to_owned()).unwrap(),
        Answer::Number(2.0),
    );
    answers.insert(
        Slug::try_from("notes".to_owned()).unwrap(),
        Answer::Text("Bocor di ruang tamu".into()),
    );
    answers.insert(
        Slug::try_from("rooms".to_owned()).unwrap(),
        Answer::Choices(vec![
            Slug::try_from("kitchen".to_owned()).unwrap(),
            Slug::try_from("bedroom".to_owned()).unwrap(),
        ]),
    );
    answers.insert(
        Slug::try_from("photos".to_owned()).unwrap(),
        Answer::Images(vec!["cd".repeat(32).parse().unwrap()]),
    );
    // Every answer kind is here: a new one fails to compile until it is.
    for answer in answers.values() {
        match answer {
            Answer::Choice(_)
            | Answer::Choices(_)
            | Answer::Text(_)
            | Answer::Number(_)
            | Answer::Date(_)
            | Answer::Images(_) => {}
        }
    }
    let bodies = vec![
        CommandBody::ClaimVisit { visit_id: doc(1) },
        CommandBody::ReleaseVisit { visit_id: doc(1) },
        CommandBody::CheckIn(attendance()),
        CommandBody::CheckOut(attendance()),
        CommandBody::RequestExtension {
            visit_id: doc(1),
            extra_days: 2,
            reason: "Suku cadang belum datang".into(),
        },
        CommandBody::SubmitRating {
            visit_id: doc(1),
            token: "r4t1ng".into(),
            score: 5,
            comment: Some("Cepat dan rapi".into()),
        },
        CommandBody::CloseOwnTicket { ticket_id: doc(2) },
        CommandBody::SendChatMessage {
            conversation_id: Some(ConversationId::from_uuid(id(3))),
            client_message_id: MessageId::from_uuid(id(4)),
            body: "Teknisi sudah di jalan?".into(),
        },
        CommandBody::CreateTicket {
            ticket_id: doc(2),
            subject: "AC bocor".into(),
            description: "Air menetes dari unit dalam".into(),
            category: "technical".into(),
        },
        CommandBody::SubmitPayment {
            invoice_id: doc(5),
            payment_id: ItemId::from_uuid(id(6)),
            amount: 1_234_567,
            reference: "BCA 0012".into(),
            proof_sha256: Some("ab".repeat(32)),
        },
        CommandBody::SubmitJourney {
            ticket_id: doc(2),
            journey_id: doc(7),
            version: 3,
            started_at_ms: 1_796_000_000_000,
            answers,
        },
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(n, body)| (body.name(), command(n as u128, body)))
        .collect()
}

fn signals() -> Vec<(&'static str, Signal)> {
    vec![
        (
            "invite",
            Signal::Invite {
                callee: Callee::Customer { customer_id: id(8) },
                ticket_id: Some(id(2)),
                media: Media::ALL[0],
            },
        ),
        (
            "invite_support",
            Signal::Invite {
                callee: Callee::Support,
                ticket_id: None,
                media: Media::ALL[Media::ALL.len() - 1],
            },
        ),
        ("ringing", Signal::Ringing),
        ("accept", Signal::Accept),
        ("decline", Signal::Decline),
        ("cancel", Signal::Cancel),
        ("hangup", Signal::Hangup),
        (
            "sdp",
            Signal::Sdp {
                kind: SdpKind::ALL[0],
                sdp: "v=0".into(),
            },
        ),
        (
            "candidate",
            Signal::Candidate {
                candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
            },
        ),
    ]
}

fn call_events() -> Vec<(&'static str, CallEvent)> {
    let ice = vec![IceServer {
        urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
        username: Some("1796000000:u".into()),
        credential: Some("c2VjcmV0".into()),
    }];
    vec![
        (
            "placed",
            CallEvent::Placed {
                ice_servers: ice.clone(),
            },
        ),
        (
            "incoming",
            CallEvent::Incoming {
                caller_name: "Siti".into(),
                from_staff: true,
                ticket_id: Some(id(2)),
                media: Media::ALL[0],
                ice_servers: ice,
                expires_at_ms: 1_796_000_030_000,
            },
        ),
        ("ringing", CallEvent::Ringing),
        ("accepted", CallEvent::Accepted),
        (
            "ended",
            CallEvent::Ended {
                reason: EndReason::ALL[0],
            },
        ),
        (
            "refused",
            CallEvent::Refused {
                refusal: Refusal::ALL[0],
                message: "Tidak ada yang bertugas".into(),
            },
        ),
        (
            "sdp",
            CallEvent::Sdp {
                kind: SdpKind::ALL[SdpKind::ALL.len() - 1],
                sdp: "v=0".into(),
            },
        ),
        (
            "candidate",
            CallEvent::Candidate {
                candidate: "candidate:2".into(),
            },
        ),
    ]
}

/// Opaque Automerge bytes: the frame carries them unread.
fn automerge_bytes() -> Vec<u8> {
    vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]
}

fn client_messages() -> Vec<(String, ClientMessage)> {
    let mut out = vec![
        (
            "hello".to_owned(),
            ClientMessage::Hello(Hello {
                // The version this line was recorded at: a later build's
                // Hello differs only in this number.
                protocol_version: 4,
                access_token: "eyJhbGciOiJFZERTQSJ9.e30.sig".into(),
                device_id: DeviceId::from_uuid(id(9)),
                cursor: Cursor(41),
                known_heads: Some(vec![DocHeads {
                    doc_id: doc(1),
                    heads: vec![[7; 32]],
                }]),
            }),
        ),
        (
            "sync_batch".to_owned(),
            ClientMessage::SyncBatch(SyncBatch {
                docs: vec![DocSync {
                    doc_id: doc(1),
                    kind: DocKind::Visit,
                    message: automerge_bytes(),
                }],
            }),
        ),
        (
            "ack".to_owned(),
            ClientMessage::Ack {
                cursor: Cursor(300),
            },
        ),
        ("ping".to_owned(), ClientMessage::Ping { nonce: 9 }),
        (
            "changes".to_owned(),
            ClientMessage::Changes(vec![DocChanges {
                doc_id: doc(1),
                kind: DocKind::Visit,
                changes: automerge_bytes(),
            }]),
        ),
    ];
    for (name, command) in commands() {
        out.push((
            format!("commands.{name}"),
            ClientMessage::Commands(vec![command]),
        ));
    }
    for (name, signal) in signals() {
        out.push((
            format!("call.{name}"),
            ClientMessage::Call(CallMessage {
                call_id: CallId::from_uuid(id(10)),
                seq: 1,
                signal,
            }),
        ));
    }
    out
}

fn server_messages() -> Vec<(String, ServerMessage)> {
    let mut out = vec![
        (
            "welcome".to_owned(),
            ServerMessage::Welcome(Welcome {
                session: id(11),
                server_time_ms: 1_796_000_000_000,
                cursor: Cursor(100),
            }),
        ),
        (
            "snapshots".to_owned(),
            ServerMessage::Snapshots(vec![Snapshot {
                doc_id: doc(1),
                kind: DocKind::Visit,
                seq: Cursor(99),
                bytes: automerge_bytes(),
            }]),
        ),
        (
            "sync_batch".to_owned(),
            ServerMessage::SyncBatch(SyncBatch {
                docs: vec![DocSync {
                    doc_id: doc(2),
                    kind: DocKind::Ticket,
                    message: automerge_bytes(),
                }],
            }),
        ),
        (
            "command_results.accepted".to_owned(),
            ServerMessage::CommandResults(vec![CommandResult::accepted(
                CommandId::from_uuid(id(0x100)),
                vec![doc(1)],
            )]),
        ),
        (
            "feed".to_owned(),
            ServerMessage::Feed(Feed {
                cursor: Cursor(101),
                changed: vec![doc(1), doc(2)],
            }),
        ),
        (
            "drop".to_owned(),
            ServerMessage::Drop(DropDocs {
                doc_ids: vec![doc(1)],
                reason: DropReason::ALL[0],
            }),
        ),
        (
            "write_rejected".to_owned(),
            ServerMessage::WriteRejected(WriteRejected {
                doc_id: doc(1),
                kind: DocKind::Visit,
                violations: vec![Violation {
                    field: "status".into(),
                    reason: ViolationReason::ALL[0],
                }],
                snapshot: automerge_bytes(),
            }),
        ),
        (
            "error".to_owned(),
            ServerMessage::Error(ErrorFrame {
                code: ErrorCode::ALL[0],
                message: "Perbarui aplikasi".into(),
            }),
        ),
        ("pong".to_owned(), ServerMessage::Pong { nonce: 9 }),
        (
            "protocol".to_owned(),
            ServerMessage::Protocol { version: 5 },
        ),
        (
            "listed_snapshots".to_owned(),
            ServerMessage::ListedSnapshots(vec![
                ListedSnapshot {
                    snapshot: Snapshot {
                        doc_id: doc(1),
                        kind: DocKind::Visit,
                        seq: Cursor(99),
                        bytes: automerge_bytes(),
                    },
                    listing: Some(Listing {
                        title: "Servis AC ruang rapat".into(),
                        status: "open".into(),
                        sort_key: "2026-12-08T09:00:00+07:00".into(),
                        place: Some(Place {
                            lat: -6.2251,
                            lon: 106.8097,
                        }),
                        parent: Some(doc(2)),
                        people: vec![UserId::from_uuid(id(3))],
                    }),
                },
                ListedSnapshot {
                    snapshot: Snapshot {
                        doc_id: doc(4),
                        kind: DocKind::Ticket,
                        seq: Cursor(100),
                        bytes: automerge_bytes(),
                    },
                    listing: None,
                },
            ]),
        ),
        (
            "applied".to_owned(),
            ServerMessage::Applied(vec![Applied {
                doc_id: doc(1),
                seq: Cursor(102),
                heads: vec![[9; 32]],
            }]),
        ),
    ];
    for reason in RejectReason::ALL {
        out.push((
            format!("command_results.rejected.{reason}"),
            ServerMessage::CommandResults(vec![CommandResult::rejected(
                CommandId::from_uuid(id(0x101)),
                *reason,
                "Kuota penuh",
            )]),
        ));
    }
    for (name, event) in call_events() {
        out.push((
            format!("call.{name}"),
            ServerMessage::Call(CallUpdate {
                call_id: CallId::from_uuid(id(10)),
                seq: 2,
                event,
            }),
        ));
    }
    out
}

/// Every variant index the protocol carries for a code, by its code.
fn codes() -> Vec<(String, Vec<u8>)> {
    fn each<T: serde::Serialize + std::fmt::Display>(
        kind: &str,
        all: &[T],
    ) -> Vec<(String, Vec<u8>)> {
        all.iter()
            .map(|v| (format!("{kind}.{v}"), postcard::to_allocvec(v).unwrap()))
            .collect()
    }
    [
        each("doc_kind", DocKind::ALL),
        each("reject_reason", RejectReason::ALL),
        each("error_code", ErrorCode::ALL),
        each("drop_reason", DropReason::ALL),
        each("violation_reason", ViolationReason::ALL),
        each("media", Media::ALL),
        each("end_reason", EndReason::ALL),
        each("refusal", Refusal::ALL),
        each("sdp_kind", SdpKind::ALL),
        // What a peer of this build sends for a code it could not read.
        each("reject_reason", &[RejectReason::Unknown]),
        each("error_code", &[ErrorCode::Unknown]),
        each("drop_reason", &[DropReason::Unknown]),
        each("violation_reason", &[ViolationReason::Unknown]),
        each("end_reason", &[EndReason::Unknown]),
        each("refusal", &[Refusal::Unknown]),
    ]
    .concat()
}

/// A frame from a newer server: `frame` with the byte at `at` (a code's
/// variant index, under 128) replaced by `index`.
fn from_newer(mut frame: Vec<u8>, at: usize, index: u8) -> Vec<u8> {
    assert!(frame[at] < 0x80 && index < 0x80, "a one-byte varint");
    frame[at] = index;
    frame
}

/// A newer server adds a reject reason, an error code, a drop reason, a
/// violation reason: this build reads the frame, with the code as
/// `Unknown` and the rest as sent, instead of failing the session.
#[test]
fn codes_a_newer_server_adds_decode_to_unknown() {
    let next = |all: usize| u8::try_from(all).unwrap();
    let id = CommandId::from_uuid(id(0x101));
    let rejected = ServerMessage::CommandResults(vec![CommandResult::rejected(
        id,
        RejectReason::QuotaFull,
        "",
    )])
    .encode()
    .unwrap();
    // The outcome ends with the reason and an empty message's length.
    let at = rejected.len() - 2;
    let frame = from_newer(rejected, at, next(RejectReason::ALL.len()));
    assert_eq!(
        ServerMessage::decode(&frame).unwrap(),
        ServerMessage::CommandResults(vec![CommandResult::rejected(id, RejectReason::Unknown, "")])
    );

    let error = ServerMessage::Error(ErrorFrame {
        code: ErrorCode::ALL[0],
        message: String::new(),
    })
    .encode()
    .unwrap();
    let at = error.len() - 2;
    let frame = from_newer(error, at, next(ErrorCode::ALL.len()));
    let ServerMessage::Error(decoded) = ServerMessage::decode(&frame).unwrap() else {
        panic!("an error frame")
    };
    assert_eq!(decoded.code, ErrorCode::Unknown);

    let drop = ServerMessage::Drop(DropDocs {
        doc_ids: vec![doc(1)],
        reason: DropReason::ALL[0],
    })
    .encode()
    .unwrap();
    let at = drop.len() - 1;
    let frame = from_newer(drop, at, next(DropReason::ALL.len()));
    assert_eq!(
        ServerMessage::decode(&frame).unwrap(),
        ServerMessage::Drop(DropDocs {
            doc_ids: vec![doc(1)],
            reason: DropReason::Unknown,
        })
    );

    // Any index past the known ones, however large, and the fallback's own.
    for index in [
        u32::try_from(ViolationReason::ALL.len()).unwrap(),
        1000,
        u32::MAX,
    ] {
        let bytes = postcard::to_allocvec(&index).unwrap();
        let read = |bytes: &[u8]| postcard::from_bytes::<ViolationReason>(bytes).unwrap();
        assert_eq!(read(&bytes), ViolationReason::Unknown);
        assert_eq!(
            postcard::from_bytes::<EndReason>(&bytes).unwrap(),
            EndReason::Unknown
        );
        assert_eq!(
            postcard::from_bytes::<Refusal>(&bytes).unwrap(),
            Refusal::Unknown
        );
    }
    // In JSON (the phone's stored results, the API) an unknown code too.
    assert_eq!(
        serde_json::from_str::<RejectReason>("\"seat_taken_by_robot\"").unwrap(),
        RejectReason::Unknown
    );
    // Nobody may send `unknown` on purpose as a known code.
    assert!("unknown".parse::<RejectReason>().is_err());
    assert!(!RejectReason::ALL.contains(&RejectReason::Unknown));
}

/// Kinds of document and messages are not codes: a newer one cannot be
/// skipped inside a frame, so a frame holding one is refused whole, and the
/// server never sends one to a device whose version lacks it (the
/// negotiated `Version`).
#[test]
fn a_document_kind_a_build_does_not_know_fails_the_frame() {
    let index = u32::try_from(DocKind::ALL.len()).unwrap();
    let bytes = postcard::to_allocvec(&index).unwrap();
    assert!(postcard::from_bytes::<DocKind>(&bytes).is_err());
    assert_eq!(DocKind::FALLBACK, None);
}

/// The name of a client message's variant. Exhaustive: a new variant
/// fails to compile here until it is named and given a case above.
fn client_variant(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello(_) => "hello",
        ClientMessage::SyncBatch(_) => "sync_batch",
        ClientMessage::Commands(_) => "commands",
        ClientMessage::Ack { .. } => "ack",
        ClientMessage::Ping { .. } => "ping",
        ClientMessage::Changes(_) => "changes",
        ClientMessage::Call(_) => "call",
    }
}

const CLIENT_VARIANTS: &[&str] = &[
    "hello",
    "sync_batch",
    "commands",
    "ack",
    "ping",
    "changes",
    "call",
];

fn server_variant(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Welcome(_) => "welcome",
        ServerMessage::Snapshots(_) => "snapshots",
        ServerMessage::SyncBatch(_) => "sync_batch",
        ServerMessage::CommandResults(_) => "command_results",
        ServerMessage::Feed(_) => "feed",
        ServerMessage::Drop(_) => "drop",
        ServerMessage::WriteRejected(_) => "write_rejected",
        ServerMessage::Error(_) => "error",
        ServerMessage::Pong { .. } => "pong",
        ServerMessage::Applied(_) => "applied",
        ServerMessage::Call(_) => "call",
        ServerMessage::Protocol { .. } => "protocol",
        ServerMessage::ListedSnapshots(_) => "listed_snapshots",
    }
}

const SERVER_VARIANTS: &[&str] = &[
    "welcome",
    "snapshots",
    "sync_batch",
    "command_results",
    "feed",
    "drop",
    "write_rejected",
    "error",
    "pong",
    "applied",
    "call",
    "protocol",
    "listed_snapshots",
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `name hex` lines, in a stable order.
fn lines() -> Vec<String> {
    let mut lines = Vec::new();
    for (name, message) in client_messages() {
        lines.push(format!("client.{name} {}", hex(&message.encode().unwrap())));
    }
    for (name, message) in server_messages() {
        lines.push(format!("server.{name} {}", hex(&message.encode().unwrap())));
    }
    for (name, bytes) in codes() {
        lines.push(format!("code.{name} {}", hex(&bytes)));
    }
    lines
}

fn golden() -> BTreeMap<String, String> {
    std::fs::read_to_string(GOLDEN)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, bytes) = l.split_once(' ').unwrap();
            (name.to_owned(), bytes.to_owned())
        })
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_message_encodes_to_its_recorded_bytes() {
    let now = lines();
    let recorded = golden();
    if std::env::var_os("FIELDOPS_BLESS").is_some() {
        // Only new lines are written: a recorded line never changes, and a
        // changed one fails here too.
        for line in &now {
            let (name, bytes) = line.split_once(' ').unwrap();
            if let Some(before) = recorded.get(name) {
                assert_eq!(
                    before, bytes,
                    "{name}: a recorded line cannot be blessed away"
                );
            }
        }
        let mut out = std::fs::read_to_string(GOLDEN).unwrap_or_else(|_| {
            "# The wire format, pinned (sync/tests/compatibility.rs): name, then the frame's bytes.\n"
                .to_owned()
        });
        for line in &now {
            let (name, _) = line.split_once(' ').unwrap();
            if !recorded.contains_key(name) {
                out.push_str(line);
                out.push('\n');
            }
        }
        std::fs::write(GOLDEN, out).unwrap();
        return;
    }
    let mut moved = Vec::new();
    for line in &now {
        let (name, bytes) = line.split_once(' ').unwrap();
        match recorded.get(name) {
            Some(before) if before == bytes => {}
            Some(before) => moved.push(format!("{name}\n  recorded {before}\n  now      {bytes}")),
            None => moved.push(format!(
                "{name} is not recorded: add it with FIELDOPS_BLESS=1 (and bump PROTOCOL_VERSION)"
            )),
        }
    }
    assert!(
        moved.is_empty(),
        "the wire format changed, which breaks phones on older builds:\n{}",
        moved.join("\n")
    );
    let names: Vec<&str> = now.iter().map(|l| l.split_once(' ').unwrap().0).collect();
    for name in recorded.keys() {
        assert!(
            names.contains(&name.as_str()),
            "{name} is recorded but no longer built: a message older peers send was removed"
        );
    }
}

/// What an older build recorded, this build reads as the same message.
#[test]
fn recorded_frames_decode_to_the_same_messages() {
    if std::env::var_os("FIELDOPS_BLESS").is_some() {
        return;
    }
    let recorded = golden();
    for (name, message) in client_messages() {
        let bytes = unhex(&recorded[&format!("client.{name}")]);
        assert_eq!(ClientMessage::decode(&bytes).unwrap(), message, "{name}");
    }
    for (name, message) in server_messages() {
        let bytes = unhex(&recorded[&format!("server.{name}")]);
        assert_eq!(ServerMessage::decode(&bytes).unwrap(), message, "{name}");
    }
}

#[test]
fn every_variant_has_a_recorded_case() {
    let client: Vec<&str> = client_messages()
        .iter()
        .map(|(_, m)| client_variant(m))
        .collect();
    for variant in CLIENT_VARIANTS {
        assert!(
            client.contains(variant),
            "no case for ClientMessage {variant}"
        );
    }
    let server: Vec<&str> = server_messages()
        .iter()
        .map(|(_, m)| server_variant(m))
        .collect();
    for variant in SERVER_VARIANTS {
        assert!(
            server.contains(variant),
            "no case for ServerMessage {variant}"
        );
    }
    let commands: Vec<&str> = commands().iter().map(|(_, c)| c.body.name()).collect();
    for kind in COMMAND_KINDS {
        assert!(commands.contains(kind), "no case for command {kind}");
    }
    let signals: Vec<&str> = signals().iter().map(|(_, s)| signal_variant(s)).collect();
    for variant in SIGNALS {
        assert!(signals.contains(variant), "no case for Signal {variant}");
    }
    let events: Vec<&str> = call_events()
        .iter()
        .map(|(_, e)| event_variant(e))
        .collect();
    for variant in CALL_EVENTS {
        assert!(events.contains(variant), "no case for CallEvent {variant}");
    }
}

/// `CommandBody::name` is exhaustive; these are its answers.
const COMMAND_KINDS: &[&str] = &[
    "claim_visit",
    "release_visit",
    "check_in",
    "check_out",
    "request_extension",
    "submit_rating",
    "close_own_ticket",
    "send_chat_message",
    "create_ticket",
    "submit_payment",
    "submit_journey",
];

fn signal_variant(signal: &Signal) -> &'static str {
    match signal {
        Signal::Invite { .. } => "invite",
        Signal::Ringing => "ringing",
        Signal::Accept => "accept",
        Signal::Decline => "decline",
        Signal::Cancel => "cancel",
        Signal::Hangup => "hangup",
        Signal::Sdp { .. } => "sdp",
        Signal::Candidate { .. } => "candidate",
    }
}

const SIGNALS: &[&str] = &[
    "invite",
    "ringing",
    "accept",
    "decline",
    "cancel",
    "hangup",
    "sdp",
    "candidate",
];

fn event_variant(event: &CallEvent) -> &'static str {
    match event {
        CallEvent::Placed { .. } => "placed",
        CallEvent::Incoming { .. } => "incoming",
        CallEvent::Ringing => "ringing",
        CallEvent::Accepted => "accepted",
        CallEvent::Ended { .. } => "ended",
        CallEvent::Refused { .. } => "refused",
        CallEvent::Sdp { .. } => "sdp",
        CallEvent::Candidate { .. } => "candidate",
    }
}

const CALL_EVENTS: &[&str] = &[
    "placed",
    "incoming",
    "ringing",
    "accepted",
    "ended",
    "refused",
    "sdp",
    "candidate",
];
