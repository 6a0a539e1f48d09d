//! Calls over real sockets: a console on `/api/v1/events` and phones on
//! `/api/v1/sync`, through the server's signalling only. Invite, ring,
//! the first of two devices to answer wins, descriptions and candidates
//! relayed to the other chosen device only, resends ignored; decline,
//! cancel, the ring timeout, a dropped caller, a dropped device mid-call,
//! busy; and the refusals: an offline caller, a caller outside the
//! ticket's department, a message for a call the sender is not in, a
//! description over its limit, a customer calling when nobody is available.

use std::time::Duration;

use fieldops_sync::call::{
    CallEvent, CallId, Callee, EndReason, MAX_SDP_BYTES, Media, Refusal, SdpKind, Signal,
};
use fieldops_sync::protocol::{ClientMessage, FRAME_VERSION, ServerMessage};
use fieldops_tests::calls::{CallEnd, invite_customer, next_event_until, push_stand_in, signal};
use fieldops_tests::device::Device;
use fieldops_tests::{Backend, Socket, TestApp, on_both_backends, websocket};
use futures_util::SinkExt as _;
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

on_both_backends!(
    the_first_device_to_answer_wins_and_only_the_two_hear_each_other,
    unanswered_calls_end_declined_cancelled_missed_or_busy,
    who_may_call_and_what_is_refused,
    a_customer_calls_support,
    a_phone_without_a_connection_is_woken_by_a_push
);

const QUIET: Duration = Duration::from_millis(300);

async fn available(app: &TestApp, token: &str) {
    let r = app
        .call(
            Method::PUT,
            "/api/v1/me/status",
            Some(token),
            Some(json!({ "status": "available" })),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// The demo customer's id and a ticket of theirs (in Customer Service).
async fn customer_with_ticket(app: &TestApp, customer: &str) -> (String, String) {
    let me = app.get("/api/v1/me", customer).await;
    let customer_id = me.body["customer"]["id"].as_str().unwrap().to_owned();
    let ticket = app
        .post(
            "/api/v1/tickets",
            customer,
            json!({ "subject": "AC tidak dingin", "category": "technical" }),
        )
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    (customer_id, ticket.body["id"].as_str().unwrap().to_owned())
}

async fn phone(app: &TestApp) -> Device {
    let token = app.login_as("customer").await;
    Device::connect(app.server.addr, &token, 0).await.0
}

async fn console(app: &TestApp, token: &str) -> Socket {
    websocket(app.server.addr, "/api/v1/events", token).await
}

fn ended(update: &fieldops_sync::call::CallUpdate) -> Option<EndReason> {
    match update.event {
        CallEvent::Ended { reason } => Some(reason),
        _ => None,
    }
}

fn refusal(update: &fieldops_sync::call::CallUpdate) -> Option<Refusal> {
    match update.event {
        CallEvent::Refused { refusal, .. } => Some(refusal),
        _ => None,
    }
}

async fn the_first_device_to_answer_wins_and_only_the_two_hear_each_other(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    available(&app, &cs).await;
    let (customer_id, ticket_id) = customer_with_ticket(&app, &customer).await;
    let mut desk = console(&app, &cs).await;
    let mut phone_a = phone(&app).await;
    let mut phone_b = phone(&app).await;

    let call = CallId::new();
    // The console's wire format, pinned: what a browser or another client writes.
    let invite = json!({
        "call_id": call.to_string(), "seq": 1,
        "signal": { "invite": {
            "callee": { "customer": { "customer_id": customer_id } },
            "ticket_id": ticket_id, "media": "audio"
        } }
    });
    desk.send(Message::Text(invite.to_string().into()))
        .await
        .unwrap();
    let placed = desk.next_call().await;
    assert_eq!(placed.call_id, call);
    assert!(
        matches!(placed.event, CallEvent::Placed { .. }),
        "{placed:?}"
    );
    for phone in [&mut phone_a, &mut phone_b] {
        let incoming = phone.next_call().await;
        let CallEvent::Incoming {
            caller_name,
            from_staff,
            ticket_id: about,
            media,
            expires_at_ms,
            ..
        } = &incoming.event
        else {
            panic!("expected the call to ring: {incoming:?}");
        };
        assert_eq!(caller_name, "Siti Rahmawati");
        assert!(from_staff);
        assert_eq!(about.map(|t| t.to_string()), Some(ticket_id.clone()));
        assert_eq!(*media, Media::Audio);
        assert!(*expires_at_ms > 0);
    }

    phone_a.send_call(&signal(call, 1, Signal::Ringing)).await;
    assert_eq!(desk.next_call().await.event, CallEvent::Ringing);

    // Phone B answers first: it and the caller connect, phone A stops ringing.
    phone_b.send_call(&signal(call, 1, Signal::Accept)).await;
    assert_eq!(desk.next_call().await.event, CallEvent::Accepted);
    assert_eq!(phone_b.next_call().await.event, CallEvent::Accepted);
    let elsewhere = phone_a.next_call().await;
    assert_eq!(ended(&elsewhere), Some(EndReason::AnsweredElsewhere));
    phone_a.send_call(&signal(call, 2, Signal::Accept)).await;
    assert_eq!(
        refusal(&phone_a.next_call().await),
        Some(Refusal::UnknownCall),
        "a late answer is refused"
    );

    // Offer, answer and candidates pass between the two chosen devices only.
    let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n".to_owned();
    let offer_message = signal(
        call,
        2,
        Signal::Sdp {
            kind: SdpKind::Offer,
            sdp: offer.clone(),
        },
    );
    desk.send_call(&offer_message).await;
    let relayed = phone_b.next_call().await;
    assert_eq!(
        (relayed.seq, &relayed.event),
        (
            2,
            &CallEvent::Sdp {
                kind: SdpKind::Offer,
                sdp: offer
            }
        )
    );
    phone_b
        .send_call(&signal(
            call,
            2,
            Signal::Sdp {
                kind: SdpKind::Answer,
                sdp: "v=0\r\n".into(),
            },
        ))
        .await;
    assert!(matches!(
        desk.next_call().await.event,
        CallEvent::Sdp {
            kind: SdpKind::Answer,
            ..
        }
    ));
    let candidate = |seq, c: &str| {
        signal(
            call,
            seq,
            Signal::Candidate {
                candidate: format!(r#"{{"candidate":"{c}","sdpMid":"0"}}"#),
            },
        )
    };
    phone_b
        .send_call(&candidate(3, "candidate:1 1 udp 1 127.0.0.1 5000 typ host"))
        .await;
    assert!(matches!(
        desk.next_call().await.event,
        CallEvent::Candidate { .. }
    ));
    // A resend (same sequence number) is ignored: the next thing phone B
    // hears is the candidate after it.
    desk.send_call(&candidate(3, "a")).await;
    desk.send_call(&candidate(3, "a")).await;
    desk.send_call(&candidate(4, "b")).await;
    assert_eq!(phone_b.next_call().await.seq, 3);
    assert_eq!(phone_b.next_call().await.seq, 4);
    // The caller answering its own offer is out of turn; phone A, not in
    // the call any more, may not relay anything.
    desk.send_call(&signal(
        call,
        5,
        Signal::Sdp {
            kind: SdpKind::Answer,
            sdp: "v=0\r\n".into(),
        },
    ))
    .await;
    assert_eq!(refusal(&desk.next_call().await), Some(Refusal::Invalid));
    phone_a.send_call(&candidate(3, "x")).await;
    assert_eq!(
        refusal(&phone_a.next_call().await),
        Some(Refusal::UnknownCall)
    );
    // A description over the limit is refused, on either channel, and
    // nothing reaches phone B.
    let huge = "a".repeat(MAX_SDP_BYTES + 1);
    desk.send_call(&signal(
        call,
        6,
        Signal::Sdp {
            kind: SdpKind::Offer,
            sdp: huge.clone(),
        },
    ))
    .await;
    assert_eq!(refusal(&desk.next_call().await), Some(Refusal::Invalid));
    let frame = postcard::to_extend(
        &ClientMessage::Call(signal(
            call,
            4,
            Signal::Sdp {
                kind: SdpKind::Answer,
                sdp: huge,
            },
        )),
        vec![FRAME_VERSION],
    )
    .unwrap();
    phone_b.send_raw(frame).await;
    assert!(matches!(phone_b.recv().await, ServerMessage::Error(_)));
    assert_eq!(phone_b.call_within(QUIET).await, None);
    assert_eq!(phone_a.call_within(QUIET).await, None);

    // Phone B taps decline after all: once connected, that hangs up.
    phone_b.send_call(&signal(call, 5, Signal::Decline)).await;
    assert_eq!(ended(&phone_b.next_call().await), Some(EndReason::Hangup));
    assert_eq!(ended(&desk.next_call().await), Some(EndReason::Hangup));

    // The call log: who, whom, when, how it ended.
    let log = app
        .get(&format!("/api/v1/calls?ticket_id={ticket_id}"), &cs)
        .await;
    assert_eq!(log.status, 200, "{:?}", log.body);
    let entry = &log.body[0];
    assert_eq!(entry["id"], call.to_string());
    assert_eq!(entry["direction"], "outbound");
    assert_eq!(entry["customer_id"], customer_id.as_str());
    assert_eq!(entry["agent_name"], "Siti Rahmawati");
    assert_eq!(
        (entry["state"].as_str(), entry["end_reason"].as_str()),
        (Some("ended"), Some("hangup"))
    );
    assert!(entry["answered_at"].is_string());
    let refused = app.get("/api/v1/calls", &customer).await;
    assert_eq!(refused.status, 403, "customers do not read the call log");

    // The agent's KPI: one call made, and it was answered.
    let admin = app.login_as("admin").await;
    let board = app.get("/api/v1/kpi?subject=agent", &admin).await;
    let siti = board.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Siti Rahmawati")
        .unwrap_or_else(|| panic!("no row for Siti: {}", board.body));
    assert_eq!(
        (
            &siti["helpdesk"]["calls_made"],
            &siti["helpdesk"]["calls_answered"]
        ),
        (&json!(1), &json!(1)),
        "{siti}"
    );
}

async fn unanswered_calls_end_declined_cancelled_missed_or_busy(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.calls.ring_timeout_secs = 1;
        c.calls.grace_secs = 1;
    })
    .await
    else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    available(&app, &cs).await;
    let (customer_id, ticket_id) = customer_with_ticket(&app, &customer).await;
    let mut desk = console(&app, &cs).await;
    let mut handset = phone(&app).await;
    let invite = invite_customer(&customer_id, Some(&ticket_id));

    // Declined.
    let call = CallId::new();
    desk.send_call(&signal(call, 1, invite.clone())).await;
    desk.next_call().await; // placed
    handset.next_call().await; // incoming
    handset.send_call(&signal(call, 1, Signal::Decline)).await;
    assert_eq!(ended(&desk.next_call().await), Some(EndReason::Declined));
    assert_eq!(ended(&handset.next_call().await), Some(EndReason::Declined));

    // Cancelled by the caller.
    let call = CallId::new();
    desk.send_call(&signal(call, 1, invite.clone())).await;
    desk.next_call().await;
    handset.next_call().await;
    desk.send_call(&signal(call, 2, Signal::Cancel)).await;
    assert_eq!(
        ended(&handset.next_call().await),
        Some(EndReason::Cancelled)
    );
    assert_eq!(ended(&desk.next_call().await), Some(EndReason::Cancelled));

    // Busy: the customer is in a call already, so a second one ends at once.
    let first = CallId::new();
    desk.send_call(&signal(first, 1, invite.clone())).await;
    desk.next_call().await;
    handset.next_call().await;
    let admin = app.login_as("admin").await;
    available(&app, &admin).await;
    let mut other_desk = console(&app, &admin).await;
    let second = CallId::new();
    other_desk
        .send_call(&signal(second, 1, invite.clone()))
        .await;
    let busy = other_desk.next_call().await;
    assert_eq!(
        (busy.call_id, ended(&busy)),
        (second, Some(EndReason::Busy))
    );

    // Missed: nobody answers the first within the ring timeout (1 s).
    assert_eq!(ended(&handset.next_call().await), Some(EndReason::Missed));
    let missed = desk.next_call().await;
    assert_eq!(
        (missed.call_id, ended(&missed)),
        (first, Some(EndReason::Missed))
    );

    // The caller's connection drops while it rings: missed at once.
    let call = CallId::new();
    desk.send_call(&signal(call, 1, invite.clone())).await;
    desk.next_call().await;
    handset.next_call().await;
    drop(desk);
    let dropped = handset.next_call().await;
    assert_eq!(
        (dropped.call_id, ended(&dropped)),
        (call, Some(EndReason::Missed))
    );

    // A connected call whose device stays away past the grace period fails.
    let mut desk = console(&app, &cs).await;
    let call = CallId::new();
    desk.send_call(&signal(call, 1, invite)).await;
    desk.next_call().await;
    handset.next_call().await;
    handset.send_call(&signal(call, 1, Signal::Accept)).await;
    assert_eq!(desk.next_call().await.event, CallEvent::Accepted);
    drop(handset);
    let failed = desk.next_call().await;
    assert_eq!(
        (failed.call_id, ended(&failed)),
        (call, Some(EndReason::Failed))
    );

    let log = app
        .get(&format!("/api/v1/calls?customer_id={customer_id}"), &admin)
        .await;
    let reasons: Vec<&str> = log
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["end_reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "failed",
            "missed",
            "busy",
            "missed",
            "cancelled",
            "declined"
        ]
    );
}

async fn who_may_call_and_what_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = app.login_as("customer").await;
    let (customer_id, ticket_id) = customer_with_ticket(&app, &customer).await;
    let invite = invite_customer(&customer_id, Some(&ticket_id));
    let mut handset = phone(&app).await;

    // Offline staff do not call.
    let mut desk = console(&app, &cs).await;
    desk.send_call(&signal(CallId::new(), 1, invite.clone()))
        .await;
    let offline = desk.next_call().await;
    assert_eq!(refusal(&offline), Some(Refusal::NotAvailable));

    // Staff of another department may not call about this ticket.
    let admin = app.login_as("admin").await;
    let sales = fieldops_tests::fixtures::department_id(&app, &admin, "Sales").await;
    let other = app
        .post(
            "/api/v1/users",
            &admin,
            json!({
                "email": "cs-sales@example.com", "name": "Rudi", "role": "cs",
                "password": "password-1", "department_ids": [sales]
            }),
        )
        .await;
    assert_eq!(other.status, 201, "{:?}", other.body);
    let rudi = app.login("cs-sales@example.com", "password-1").await;
    available(&app, &rudi).await;
    // Refusals on the socket speak the account's saved language.
    app.set_language(&rudi, "id").await;
    let mut rudi_desk = console(&app, &rudi).await;
    rudi_desk
        .send_call(&signal(CallId::new(), 1, invite.clone()))
        .await;
    let CallEvent::Refused {
        refusal: why,
        message,
    } = rudi_desk.next_call().await.event
    else {
        panic!("expected a refusal");
    };
    assert_eq!(why, Refusal::Forbidden);
    assert!(
        message.contains("departemen"),
        "in Bahasa, the account's language: {message}"
    );
    // Nor without naming a ticket: the customer has none in Sales.
    rudi_desk
        .send_call(&signal(
            CallId::new(),
            1,
            invite_customer(&customer_id, None),
        ))
        .await;
    assert_eq!(refusal_of(&mut rudi_desk).await, Refusal::Forbidden);

    // Technicians and sales do not call customers; customers call support only.
    for role in ["technician", "sales"] {
        let token = app.login_as(role).await;
        available(&app, &token).await;
        let mut socket = console(&app, &token).await;
        socket
            .send_call(&signal(CallId::new(), 1, invite.clone()))
            .await;
        assert_eq!(refusal_of(&mut socket).await, Refusal::Forbidden, "{role}");
    }
    handset
        .send_call(&signal(
            CallId::new(),
            1,
            invite_customer(&customer_id, None),
        ))
        .await;
    assert_eq!(
        refusal(&handset.next_call().await),
        Some(Refusal::Forbidden)
    );

    // A message for a call that does not exist, or one the sender is not in.
    available(&app, &cs).await;
    desk.send_call(&signal(CallId::new(), 1, Signal::Accept))
        .await;
    assert_eq!(refusal_of(&mut desk).await, Refusal::UnknownCall);
    let call = CallId::new();
    desk.send_call(&signal(call, 1, invite.clone())).await;
    desk.next_call().await;
    handset.next_call().await;
    rudi_desk.send_call(&signal(call, 1, Signal::Hangup)).await;
    assert_eq!(refusal_of(&mut rudi_desk).await, Refusal::UnknownCall);
    // Someone else reusing the call's id for an invite is not let in.
    rudi_desk.send_call(&signal(call, 1, invite.clone())).await;
    assert_eq!(refusal_of(&mut rudi_desk).await, Refusal::UnknownCall);
    // A sequence number of 0, control characters in a candidate, an offer
    // before the answer: refused, never relayed.
    desk.send_call(&signal(call, 0, Signal::Cancel)).await;
    assert_eq!(refusal_of(&mut desk).await, Refusal::Invalid);
    desk.send_call(&signal(
        call,
        2,
        Signal::Candidate {
            candidate: "a\u{0}b".into(),
        },
    ))
    .await;
    assert_eq!(refusal_of(&mut desk).await, Refusal::Invalid);
    desk.send_call(&signal(
        call,
        3,
        Signal::Sdp {
            kind: SdpKind::Offer,
            sdp: "v=0\r\n".into(),
        },
    ))
    .await;
    assert_eq!(
        refusal_of(&mut desk).await,
        Refusal::Invalid,
        "not answered yet"
    );
    assert_eq!(
        handset.call_within(QUIET).await,
        None,
        "nothing was relayed"
    );
    // Malformed JSON is answered, in the language of the socket.
    let mut english = {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut request = format!("ws://{}/api/v1/events", app.server.addr)
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert("authorization", format!("Bearer {cs}").parse().unwrap());
        headers.insert("accept-language", "en-GB,en;q=0.9".parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap().0
    };
    english
        .send(Message::Text(r#"{"call_id":"nope","seq":1}"#.into()))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let malformed = next_event_until(&mut english, deadline).await.unwrap();
    assert_eq!(malformed["kind"], "call.malformed");
    assert_eq!(malformed["data"]["message"], "That is not a call message.");
    desk.send_call(&signal(call, 4, Signal::Cancel)).await;
    assert_eq!(
        ended(&handset.next_call().await),
        Some(EndReason::Cancelled)
    );
}

async fn refusal_of(socket: &mut Socket) -> Refusal {
    let update = socket.next_call().await;
    refusal(&update).unwrap_or_else(|| panic!("expected a refusal: {update:?}"))
}

async fn a_customer_calls_support(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let mut handset = phone(&app).await;
    let support = |call| {
        signal(
            call,
            1,
            Signal::Invite {
                callee: Callee::Support,
                ticket_id: None,
                media: Media::Audio,
            },
        )
    };

    // Nobody available: told at once, and offered the chat; CS see a missed call.
    let lonely = CallId::new();
    handset.send_call(&support(lonely)).await;
    let update = handset.next_call().await;
    let CallEvent::Refused { refusal, message } = &update.event else {
        panic!("expected a refusal: {update:?}");
    };
    assert_eq!(*refusal, Refusal::NoAgent);
    assert!(message.contains("chat"), "{message}");
    let log = app.get("/api/v1/calls", &cs).await;
    assert_eq!(log.body[0]["id"], lonely.to_string());
    assert_eq!(
        (
            log.body[0]["direction"].as_str(),
            log.body[0]["end_reason"].as_str()
        ),
        (Some("inbound"), Some("missed"))
    );

    // An available agent: their console rings with the customer's name.
    available(&app, &cs).await;
    let mut desk = console(&app, &cs).await;
    let call = CallId::new();
    handset.send_call(&support(call)).await;
    assert!(matches!(
        handset.next_call().await.event,
        CallEvent::Placed { .. }
    ));
    let incoming = desk.next_call().await;
    let CallEvent::Incoming {
        caller_name,
        from_staff,
        ..
    } = &incoming.event
    else {
        panic!("expected the console to ring: {incoming:?}");
    };
    assert_eq!(caller_name, "Hendra Gunawan");
    assert!(!from_staff);
    desk.send_call(&signal(call, 1, Signal::Ringing)).await;
    assert_eq!(handset.next_call().await.event, CallEvent::Ringing);
    desk.send_call(&signal(call, 2, Signal::Accept)).await;
    assert_eq!(handset.next_call().await.event, CallEvent::Accepted);
    assert_eq!(desk.next_call().await.event, CallEvent::Accepted);
    handset.send_call(&signal(call, 2, Signal::Hangup)).await;
    assert_eq!(ended(&desk.next_call().await), Some(EndReason::Hangup));
}

async fn a_phone_without_a_connection_is_woken_by_a_push(backend: Backend) {
    let (stand_in, mut pushed) = push_stand_in().await;
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.calls.push.fcm_url = stand_in.clone();
        c.calls.push.fcm_project = "fieldops-demo".into();
        c.calls.push.fcm_access_token = Some("fcm-access".into());
        c.calls.push.apns_url = stand_in.clone();
        c.calls.push.apns_topic = "id.fieldops.app".into();
        c.calls.push.apns_auth_token = Some("apns-jwt".into());
    })
    .await
    else {
        return;
    };
    let cs = app.login_as("cs").await;
    let android = app.login_as("customer").await;
    let iphone = app.login_as("customer").await;
    available(&app, &cs).await;
    let (customer_id, ticket_id) = customer_with_ticket(&app, &android).await;

    // Bad tokens are refused, naming the field.
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/me/push-token",
            Some(&android),
            Some(json!({ "platform": "pager", "token": "has space" })),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["platform", "token"]);
    for (token, platform, value) in [
        (&android, "fcm", "fcm-token-1"),
        (&iphone, "apns_voip", "voip-token-1"),
    ] {
        let ok = app
            .call(
                Method::PUT,
                "/api/v1/me/push-token",
                Some(token),
                Some(json!({ "platform": platform, "token": value })),
            )
            .await;
        assert_eq!(ok.status, 204, "{:?}", ok.body);
    }

    // Neither phone is connected: the invite reaches both through their push services.
    let mut desk = console(&app, &cs).await;
    let call = CallId::new();
    desk.send_call(&signal(
        call,
        1,
        invite_customer(&customer_id, Some(&ticket_id)),
    ))
    .await;
    assert!(matches!(
        desk.next_call().await.event,
        CallEvent::Placed { .. }
    ));
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(
            tokio::time::timeout(Duration::from_secs(10), pushed.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    let (apns, fcm) = (&seen[0], &seen[1]);
    assert_eq!(fcm.path, "/v1/projects/fieldops-demo/messages:send");
    assert_eq!(fcm.authorization, "Bearer fcm-access");
    let message = &fcm.body["message"];
    assert_eq!(message["token"], "fcm-token-1");
    assert_eq!(message["android"]["priority"], "HIGH");
    assert_eq!(message["data"]["call_id"], call.to_string());
    assert_eq!(message["data"]["caller_name"], "Siti Rahmawati");
    assert_eq!(message["data"]["ticket_id"], ticket_id.as_str());
    assert_eq!(apns.path, "/3/device/voip-token-1");
    assert_eq!(apns.authorization, "Bearer apns-jwt");
    assert_eq!(apns.push_type.as_deref(), Some("voip"));
    assert_eq!(apns.topic.as_deref(), Some("id.fieldops.app.voip"));
    assert_eq!(apns.body["call_id"], call.to_string());

    // Woken, the phone connects and answers: the server holds the call,
    // whichever device of the customer takes it.
    let (mut woken, _) = Device::connect(app.server.addr, &iphone, 0).await;
    let rings = woken.next_call().await;
    let CallEvent::Incoming { caller_name, .. } = &rings.event else {
        panic!("a device that connects while a call rings for it is shown the call: {rings:?}");
    };
    assert_eq!(
        (rings.call_id, caller_name.as_str()),
        (call, "Siti Rahmawati")
    );
    woken.send_call(&signal(call, 1, Signal::Ringing)).await;
    assert_eq!(desk.next_call().await.event, CallEvent::Ringing);
    woken.send_call(&signal(call, 2, Signal::Accept)).await;
    assert_eq!(desk.next_call().await.event, CallEvent::Accepted);
    assert_eq!(woken.next_call().await.event, CallEvent::Accepted);

    // A forgotten token is not pushed to again.
    let gone = app
        .call(
            Method::DELETE,
            "/api/v1/me/push-token",
            Some(&android),
            None,
        )
        .await;
    assert_eq!(gone.status, 204);
    woken.send_call(&signal(call, 3, Signal::Hangup)).await;
    desk.next_call().await;
    let again = CallId::new();
    desk.send_call(&signal(
        again,
        1,
        invite_customer(&customer_id, Some(&ticket_id)),
    ))
    .await;
    desk.next_call().await;
    let only = tokio::time::timeout(Duration::from_secs(10), pushed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(only.path, "/3/device/voip-token-1");
    assert!(
        tokio::time::timeout(QUIET, pushed.recv()).await.is_err(),
        "no push for the forgotten token"
    );
}
