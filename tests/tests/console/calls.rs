//! Calls in the console, over plain HTTP (the media itself is tested in
//! real Chromium, `browser`): the Call button on the ticket, customer and
//! chat pages, the signal endpoint behind `calls.js` (CSRF-checked, bad
//! input refused), the call arriving on the tab's event stream, and the
//! call log on the ticket page once it is over.

use fieldops_sync::call::{CallEvent, CallId, CallUpdate, EndReason, Refusal, Signal};
use fieldops_tests::calls::{CallEnd, invite_customer, signal};
use fieldops_tests::console::Browser;
use fieldops_tests::device::Device;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(cs_call_a_customer_from_the_ticket_page);

async fn cs_call_a_customer_from_the_ticket_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let me = app.get("/api/v1/me", &customer).await;
    let customer_id = me.body["customer"]["id"].as_str().unwrap().to_owned();
    let ticket = app
        .post(
            "/api/v1/tickets",
            &customer,
            json!({ "subject": "Mesin cuci bocor", "category": "technical" }),
        )
        .await;
    let ticket_id = ticket.body["id"].as_str().unwrap().to_owned();
    let (mut handset, _) = Device::connect(app.server.addr, &customer, 0).await;

    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let set = cs.post("/presence", &[("presence", "available")]).await;
    assert!(
        set.status.is_redirection() || set.status.is_success(),
        "{}",
        set.html
    );
    let page = cs.get(&format!("/tickets/{ticket_id}")).await;
    let button = format!("data-call-customer=\"{customer_id}\" data-call-ticket=\"{ticket_id}\"");
    assert!(page.html.contains(&button), "{}", page.html);
    assert!(page.html.contains("id=\"call-panel\""));
    assert!(page.html.contains("/assets/calls.js"));
    assert!(
        page.html.contains("Belum ada panggilan"),
        "the empty call log, in Bahasa"
    );
    let customers = cs.get("/customers").await;
    assert!(
        customers
            .html
            .contains(&format!("data-call-customer=\"{customer_id}\""))
    );
    let script = cs.get("/assets/calls.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.html.contains("RTCPeerConnection"));

    let mut tab = cs.events().await;
    let call = CallId::new();
    let invite = serde_json::to_string(&signal(
        call,
        1,
        invite_customer(&customer_id, Some(&ticket_id)),
    ))
    .unwrap();
    // Without the CSRF header, nothing happens.
    let forged = cs.post_json("/calls/signal", &invite, false).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let placed = cs.post_json("/calls/signal", &invite, true).await;
    assert_eq!(placed.status, StatusCode::NO_CONTENT, "{}", placed.html);
    let heard: CallUpdate = serde_json::from_str(&tab.next_named("call-signal").await).unwrap();
    assert!(matches!(heard.event, CallEvent::Placed { .. }), "{heard:?}");
    assert!(matches!(
        handset.next_call().await.event,
        CallEvent::Incoming { .. }
    ));

    // Bad input: not a call message, or one the server refuses (a resend of
    // the invite under another sequence is a duplicate; a hangup before an
    // answer from the wrong side is refused).
    let garbage = cs.post_json("/calls/signal", "{\"call_id\":1}", true).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(
        garbage.html.contains("bukan pesan panggilan"),
        "{}",
        garbage.html
    );
    let early = serde_json::to_string(&signal(call, 2, Signal::Accept)).unwrap();
    let refused = cs.post_json("/calls/signal", &early, true).await;
    assert_eq!(refused.status, StatusCode::OK);
    let refused: CallUpdate = serde_json::from_str(&refused.html).unwrap();
    assert!(
        matches!(
            refused.event,
            CallEvent::Refused {
                refusal: Refusal::Invalid,
                ..
            }
        ),
        "{refused:?}"
    );

    handset.send_call(&signal(call, 1, Signal::Accept)).await;
    let accepted: CallUpdate = serde_json::from_str(&tab.next_named("call-signal").await).unwrap();
    assert_eq!(accepted.event, CallEvent::Accepted);
    handset.send_call(&signal(call, 2, Signal::Hangup)).await;
    let over: CallUpdate = serde_json::from_str(&tab.next_named("call-signal").await).unwrap();
    assert_eq!(
        over.event,
        CallEvent::Ended {
            reason: EndReason::Hangup
        }
    );
    // The ticket page's live region listens for calls, and lists this one.
    tab.next_named("call").await;
    let page = cs.get(&format!("/tickets/{ticket_id}")).await;
    assert!(
        page.html
            .contains("hx-trigger=\"live-ticket from:body, live-call from:body\"")
    );
    assert!(
        page.html.contains("data-outcome=\"hangup\""),
        "{}",
        page.html
    );
    assert!(page.html.contains("Panggilan selesai"));

    // Sales see customers but place no calls.
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    let list = sales.get("/customers").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.html.contains("data-call-customer"));
}
