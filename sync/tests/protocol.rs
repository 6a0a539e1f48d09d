//! The wire format: every message round-trips, limits hold both ways, and
//! the decoder answers any bytes with a value or an error, never a panic.
#![allow(clippy::unwrap_used)]

use automerge::sync::{self, SyncDoc};
use fieldops_sync::commands::{Attendance, Command, CommandBody, CommandResult, RejectReason};
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::error::{DecodeError, EncodeError};
use fieldops_sync::ids::{CommandId, DeviceId, DocId, DocKind, MessageId};
use fieldops_sync::protocol::{
    Applied, ClientMessage, Cursor, DocChanges, DocHeads, DocSync, DropDocs, DropReason, ErrorCode,
    ErrorFrame, FRAME_VERSION, Feed, Hello, PROTOCOL_VERSION, ServerMessage, Snapshot, SyncBatch,
    Welcome, WriteRejected, limits,
};
use fieldops_sync::rules::{Violation, ViolationReason};
use fieldops_sync::testing::sample_visit;
use proptest::prelude::*;

fn visit_sync() -> DocSync {
    let mut doc = sample_visit().to_document().unwrap();
    let message = doc
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    DocSync::new(DocId::new(), DocKind::Visit, message)
}

fn client_messages() -> Vec<ClientMessage> {
    let mut doc = sample_visit().to_document().unwrap();
    vec![
        ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            access_token: "eyJhbGciOiJFZERTQSJ9.e30.sig".into(),
            device_id: DeviceId::new(),
            cursor: Cursor(41),
            known_heads: Some(vec![DocHeads::new(DocId::new(), &doc.get_heads())]),
        }),
        ClientMessage::SyncBatch(SyncBatch {
            docs: vec![visit_sync(), visit_sync()],
        }),
        ClientMessage::Commands(vec![
            Command {
                id: CommandId::new(),
                device_seq: 7,
                issued_at_ms: 1_795_305_600_000,
                body: CommandBody::CheckIn(Attendance {
                    visit_id: DocId::new(),
                    lat: 40.4168,
                    lon: -3.7038,
                    accuracy_m: 8.0,
                    device_time_ms: 1_795_305_600_000,
                }),
            },
            Command {
                id: CommandId::new(),
                device_seq: 8,
                issued_at_ms: 1_795_305_600_100,
                body: CommandBody::SendChatMessage {
                    conversation_id: None,
                    client_message_id: MessageId::new(),
                    body: "¿Llegan hoy?".into(),
                },
            },
            Command {
                id: CommandId::new(),
                device_seq: 9,
                issued_at_ms: 1_795_305_600_200,
                body: CommandBody::CreateTicket {
                    ticket_id: DocId::new(),
                    subject: "AC bocor".into(),
                    // 9,000 characters, 18,000 bytes: more than other
                    // command texts may hold.
                    description: "é".repeat(9_000),
                    category: "technical".into(),
                },
            },
        ]),
        ClientMessage::Ack { cursor: Cursor(42) },
        ClientMessage::Ping { nonce: 9 },
        ClientMessage::Changes(vec![DocChanges {
            doc_id: DocId::new(),
            kind: DocKind::Visit,
            changes: sample_visit().to_document().unwrap().save(),
        }]),
    ]
}

fn server_messages() -> Vec<ServerMessage> {
    let mut doc = sample_visit().to_document().unwrap();
    vec![
        ServerMessage::Welcome(Welcome {
            session: uuid::Uuid::now_v7(),
            server_time_ms: 1_795_305_600_000,
            cursor: Cursor(100),
        }),
        ServerMessage::Snapshots(vec![Snapshot {
            doc_id: DocId::new(),
            kind: DocKind::Visit,
            seq: Cursor(99),
            bytes: doc.save(),
        }]),
        ServerMessage::SyncBatch(SyncBatch {
            docs: vec![visit_sync()],
        }),
        ServerMessage::CommandResults(vec![
            CommandResult::accepted(CommandId::new(), vec![DocId::new()]),
            CommandResult::rejected(
                CommandId::new(),
                RejectReason::QuotaFull,
                "All slots are taken.",
            ),
        ]),
        ServerMessage::Feed(Feed {
            cursor: Cursor(100),
            changed: vec![DocId::new()],
        }),
        ServerMessage::Drop(DropDocs {
            doc_ids: vec![DocId::new()],
            reason: DropReason::OutOfScope,
        }),
        ServerMessage::WriteRejected(WriteRejected {
            doc_id: DocId::new(),
            kind: DocKind::Visit,
            violations: vec![Violation {
                field: "status".into(),
                reason: ViolationReason::ServerOwned,
            }],
            snapshot: doc.save(),
        }),
        ServerMessage::Error(ErrorFrame {
            code: ErrorCode::TokenExpired,
            message: "Refresh the token.".into(),
        }),
        ServerMessage::Pong { nonce: 9 },
        ServerMessage::Applied(vec![Applied {
            doc_id: DocId::new(),
            seq: Cursor(7),
            heads: vec![[3; 32]],
        }]),
    ]
}

/// Valid frames of both directions, for mutation.
fn valid_frames() -> Vec<Vec<u8>> {
    client_messages()
        .iter()
        .map(|m| m.encode().unwrap())
        .chain(server_messages().iter().map(|m| m.encode().unwrap()))
        .collect()
}

#[test]
fn every_message_round_trips() {
    for message in client_messages() {
        let frame = message.encode().unwrap();
        assert_eq!(frame[0], FRAME_VERSION);
        assert_eq!(ClientMessage::decode(&frame).unwrap(), message);
    }
    for message in server_messages() {
        assert_eq!(
            ServerMessage::decode(&message.encode().unwrap()).unwrap(),
            message
        );
    }
}

#[test]
fn small_messages_are_small() {
    let ack = ClientMessage::Ack {
        cursor: Cursor(1_000_000),
    }
    .encode()
    .unwrap();
    assert!(ack.len() <= 6, "{} bytes", ack.len());
    let feed = ServerMessage::Feed(Feed {
        cursor: Cursor(1_000_000),
        changed: vec![],
    })
    .encode()
    .unwrap();
    assert!(feed.len() <= 8, "{} bytes", feed.len());
}

#[test]
fn encoding_refuses_what_decoding_would_reject() {
    let too_many = ClientMessage::Commands(
        (0..=limits::MAX_COMMANDS as u64)
            .map(|seq| Command {
                id: CommandId::new(),
                device_seq: seq,
                issued_at_ms: 0,
                body: CommandBody::ClaimVisit {
                    visit_id: DocId::new(),
                },
            })
            .collect(),
    );
    assert!(matches!(too_many.encode(), Err(EncodeError::Limit(l)) if l.field == "commands"));

    let long_token = ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        access_token: "t".repeat(limits::MAX_TOKEN_BYTES + 1),
        device_id: DeviceId::new(),
        cursor: Cursor(0),
        known_heads: None,
    });
    assert!(
        matches!(long_token.encode(), Err(EncodeError::Limit(l)) if l.field == "hello.access_token")
    );

    // A peer that skips the check still gets refused on the other side.
    let mut frame = vec![FRAME_VERSION];
    frame.extend(postcard::to_allocvec(&long_token).unwrap());
    assert!(
        matches!(ClientMessage::decode(&frame), Err(DecodeError::Limit(l)) if l.field == "hello.access_token")
    );
}

#[test]
fn the_largest_hello_is_exactly_max_hello_bytes() {
    // Every field at its limit: the bound a server reads a first frame under
    // is the real size of the largest Hello, not a guess.
    let mut heads_left = limits::MAX_KNOWN_HEADS;
    let known = (0..limits::MAX_KNOWN_DOCS)
        .map(|_| {
            let n = heads_left.min(limits::MAX_HEADS_PER_DOC);
            heads_left -= n;
            DocHeads {
                doc_id: DocId::new(),
                heads: vec![[0xff; 32]; n],
            }
        })
        .collect();
    let mut hello = Hello {
        protocol_version: u16::MAX,
        access_token: "t".repeat(limits::MAX_TOKEN_BYTES),
        device_id: DeviceId::new(),
        cursor: Cursor(u64::MAX),
        known_heads: Some(known),
    };
    let frame = ClientMessage::Hello(hello.clone()).encode().unwrap();
    assert_eq!(frame.len(), limits::MAX_HELLO_BYTES);

    // One head more, on any document, is over the limit both ways.
    let known = hello.known_heads.as_mut().unwrap();
    known.last_mut().unwrap().heads.push([0; 32]);
    let over = ClientMessage::Hello(hello);
    assert!(
        matches!(over.encode(), Err(EncodeError::Limit(l)) if l.field == "hello.known_heads.total")
    );
    let mut frame = vec![FRAME_VERSION];
    frame.extend(postcard::to_allocvec(&over).unwrap());
    assert!(frame.len() > limits::MAX_HELLO_BYTES);
    assert!(matches!(
        ClientMessage::decode(&frame),
        Err(DecodeError::Limit(_))
    ));
}

#[test]
fn frames_are_refused_by_size_version_and_shape() {
    assert_eq!(ClientMessage::decode(&[]), Err(DecodeError::Empty));
    let mut frame = ClientMessage::Ping { nonce: 1 }.encode().unwrap();
    frame[0] = FRAME_VERSION + 1;
    assert_eq!(
        ClientMessage::decode(&frame),
        Err(DecodeError::UnsupportedVersion(FRAME_VERSION + 1))
    );
    let huge = vec![FRAME_VERSION; limits::MAX_FRAME_BYTES + 1];
    assert!(matches!(
        ServerMessage::decode(&huge),
        Err(DecodeError::FrameTooLarge { .. })
    ));
    let mut trailing = ClientMessage::Ping { nonce: 1 }.encode().unwrap();
    trailing.push(0);
    assert_eq!(
        ClientMessage::decode(&trailing),
        Err(DecodeError::TrailingBytes(1))
    );
    // A length prefix claiming far more than the frame holds.
    let lying = [FRAME_VERSION, 2, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(matches!(
        ClientMessage::decode(&lying),
        Err(DecodeError::Malformed(_))
    ));
    assert_eq!(
        ErrorFrame::from_decode(&DecodeError::UnsupportedVersion(9)).code,
        ErrorCode::UnsupportedVersion
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = ClientMessage::decode(&bytes);
        let _ = ServerMessage::decode(&bytes);
        let mut versioned = vec![FRAME_VERSION];
        versioned.extend(&bytes);
        let _ = ClientMessage::decode(&versioned);
        let _ = ServerMessage::decode(&versioned);
    }

    #[test]
    fn mutated_frames_never_panic_the_decoder(
        pick in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let frames = valid_frames();
        let mut frame = frames[pick.index(frames.len())].clone();
        for (at, byte) in flips {
            let i = at.index(frame.len());
            frame[i] = byte;
        }
        let _ = ClientMessage::decode(&frame);
        let _ = ServerMessage::decode(&frame);
        let truncated = &frame[..cut.index(frame.len() + 1)];
        if let Ok(ClientMessage::SyncBatch(batch)) = ClientMessage::decode(truncated) {
            // Payloads that survive the frame decoder are parsed later; that
            // must fail cleanly too.
            for doc in batch.docs {
                let _ = doc.sync_message();
            }
        }
        let _ = ServerMessage::decode(truncated);
    }
}

mod versions {
    use fieldops_sync::call::{CallEvent, CallUpdate};
    use fieldops_sync::ids::CallId;
    use fieldops_sync::protocol::{MIN_PROTOCOL_VERSION, Version};

    use super::*;

    fn snapshot(kind: DocKind) -> ServerMessage {
        ServerMessage::Snapshots(vec![Snapshot {
            doc_id: DocId::new(),
            kind,
            seq: Cursor(1),
            bytes: vec![1],
        }])
    }

    #[test]
    fn a_session_speaks_the_lower_version_and_refuses_the_too_old() {
        assert_eq!(Version::negotiate(MIN_PROTOCOL_VERSION - 1), None);
        assert_eq!(Version::negotiate(0), None);
        assert_eq!(
            Version::negotiate(MIN_PROTOCOL_VERSION).map(Version::get),
            Some(MIN_PROTOCOL_VERSION)
        );
        assert_eq!(Version::negotiate(PROTOCOL_VERSION), Some(Version::CURRENT));
        // A phone newer than the server is served at the server's version.
        assert_eq!(Version::negotiate(u16::MAX), Some(Version::CURRENT));
        // A phone hearing an older server speaks that server's version.
        assert_eq!(Version::with_server(3).get(), 3);
        assert_eq!(Version::with_server(u16::MAX), Version::CURRENT);
    }

    #[test]
    fn nothing_a_version_lacks_is_admitted() {
        let v2 = Version::negotiate(2).unwrap();
        let v3 = Version::negotiate(3).unwrap();
        let v4 = Version::negotiate(4).unwrap();
        assert!(v2.admits_server(&snapshot(DocKind::Invoice)));
        assert!(!v2.admits_server(&snapshot(DocKind::Journey)));
        assert!(v3.admits_server(&snapshot(DocKind::Journey)));
        let call = ServerMessage::Call(CallUpdate {
            call_id: CallId::new(),
            seq: 1,
            event: CallEvent::Ringing,
        });
        assert!(!v3.admits_server(&call) && !v3.carries_calls());
        assert!(v4.admits_server(&call));
        let protocol = ServerMessage::Protocol { version: 5 };
        assert!(!v4.admits_server(&protocol));
        assert!(Version::CURRENT.admits_server(&protocol));
        for kind in DocKind::ALL {
            assert!(Version::CURRENT.knows_kind(*kind), "{kind}");
        }

        // A phone holds back the commands its server's version lacks.
        let journey = ClientMessage::Commands(vec![Command {
            id: CommandId::new(),
            device_seq: 1,
            issued_at_ms: 0,
            body: CommandBody::SubmitJourney {
                ticket_id: DocId::new(),
                journey_id: DocId::new(),
                version: 1,
                started_at_ms: 0,
                answers: Default::default(),
            },
        }]);
        assert!(!v2.admits_client(&journey));
        assert!(v3.admits_client(&journey));
    }

    #[test]
    fn an_app_before_unknown_codes_is_sent_the_nearest_known_one() {
        let id = CommandId::new();
        let unknown = ServerMessage::CommandResults(vec![CommandResult::rejected(
            id,
            RejectReason::Unknown,
            "Tidak bisa",
        )]);
        let v4 = Version::negotiate(4).unwrap();
        assert_eq!(
            unknown.clone().for_version(v4),
            ServerMessage::CommandResults(vec![CommandResult::rejected(
                id,
                RejectReason::Conflict,
                "Tidak bisa",
            )])
        );
        // An app of 5 reads Unknown itself.
        assert_eq!(unknown.clone().for_version(Version::CURRENT), unknown);
        let error = ServerMessage::Error(ErrorFrame {
            code: ErrorCode::Unknown,
            message: String::new(),
        });
        assert!(matches!(
            error.for_version(v4),
            ServerMessage::Error(ErrorFrame {
                code: ErrorCode::Internal,
                ..
            })
        ));
        let ended = ServerMessage::Call(CallUpdate {
            call_id: CallId::new(),
            seq: 3,
            event: CallEvent::Ended {
                reason: fieldops_sync::call::EndReason::Unknown,
            },
        });
        assert!(matches!(
            ended.for_version(v4),
            ServerMessage::Call(CallUpdate {
                event: CallEvent::Ended {
                    reason: fieldops_sync::call::EndReason::Failed
                },
                ..
            })
        ));
    }
}

mod compression {
    use fieldops_sync::protocol::{FRAME_COMPRESSED, Version};

    use super::*;

    /// A catch-up frame: many ticket-like documents, as a fresh phone gets.
    fn catch_up() -> ServerMessage {
        let snapshots = (0..200)
            .map(|i| {
                let mut ticket = fieldops_sync::testing::sample_ticket();
                ticket.subject = format!("Ticket {i}: AC unit not cooling");
                Snapshot {
                    doc_id: DocId::new(),
                    kind: DocKind::Ticket,
                    seq: Cursor(i),
                    bytes: ticket.to_document().unwrap().save(),
                }
            })
            .collect();
        ServerMessage::Snapshots(snapshots)
    }

    #[test]
    fn large_server_frames_are_compressed_for_devices_that_read_them() {
        let message = catch_up();
        let plain = message.encode().unwrap();
        let compressed = message.encode_for(Version::CURRENT).unwrap();
        assert_eq!(compressed[0], FRAME_COMPRESSED);
        assert!(
            compressed.len() * 2 < plain.len(),
            "{} bytes compressed, {} plain",
            compressed.len(),
            plain.len()
        );
        assert_eq!(ServerMessage::decode(&compressed).unwrap(), message);
        // An app of version 4 gets the plain frame it can read.
        let v4 = Version::negotiate(4).unwrap();
        assert_eq!(message.encode_for(v4).unwrap(), plain);
        // Small frames stay plain: a live change, a command's answer.
        let pong = ServerMessage::Pong { nonce: 1 };
        assert_eq!(
            pong.encode_for(Version::CURRENT).unwrap(),
            pong.encode().unwrap()
        );
    }

    #[test]
    fn compressed_frames_are_refused_when_they_lie_or_would_grow_too_large() {
        let framed = |payload: Vec<u8>| [vec![FRAME_COMPRESSED], payload].concat();
        let postcard_bytes = ServerMessage::Pong { nonce: 7 }.encode().unwrap()[1..].to_vec();
        // Honest: decodes.
        let honest = framed(zstd::bulk::compress(&postcard_bytes, 1).unwrap());
        assert_eq!(
            ServerMessage::decode(&honest).unwrap(),
            ServerMessage::Pong { nonce: 7 }
        );
        // A bomb: 64 MiB of zeros in a few KiB, declaring its size.
        let bomb = framed(zstd::bulk::compress(&vec![0; 64 << 20], 19).unwrap());
        assert!(bomb.len() < limits::MAX_FRAME_BYTES);
        assert!(matches!(
            ServerMessage::decode(&bomb),
            Err(DecodeError::Compressed(_))
        ));
        // No declared size (a streamed frame): refused, not guessed.
        let mut streamed = Vec::new();
        {
            let mut encoder = zstd::stream::Encoder::new(&mut streamed, 1).unwrap();
            std::io::Write::write_all(&mut encoder, &postcard_bytes).unwrap();
            encoder.finish().unwrap();
        }
        assert!(matches!(
            ServerMessage::decode(&framed(streamed)),
            Err(DecodeError::Compressed(_))
        ));
        // Garbage and truncation.
        assert!(ServerMessage::decode(&framed(vec![1, 2, 3])).is_err());
        assert!(ServerMessage::decode(&honest[..honest.len() - 2]).is_err());
        // Devices never compress: the server reads no compressed frame.
        assert!(matches!(
            ClientMessage::decode(&honest),
            Err(DecodeError::UnsupportedVersion(FRAME_COMPRESSED))
        ));
    }
}
