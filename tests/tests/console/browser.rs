//! The CS workflow in real headless Chromium, driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`; `CHROMEDRIVER` names another
//! driver). Without a driver the test says so and passes, unless `CI=true`.
//! A failing step saves a screenshot under `target/console-screenshots/`.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use fieldops_tests::chromium::{browser, sign_in, start_driver, until_text};
use fieldops_tests::fixtures::demo_customer;
use fieldops_tests::{Backend, TestApp};
use futures_util::FutureExt as _;
use serde_json::json;

async fn fill(c: &Client, id: &str, value: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cs_dispatch_in_a_real_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let c = browser(&driver, "id").await;
    let outcome = std::panic::AssertUnwindSafe(workflow(&c, &app))
        .catch_unwind()
        .await;
    finish(c, app, "cs_dispatch_in_a_real_browser", outcome).await;
}

/// A call really connects: CS press Call on a ticket in Chromium (fake
/// microphone), the customer's phone — a sync-protocol device with a Rust
/// WebRTC peer (str0m) — rings, accepts and answers the browser's offer;
/// ICE and DTLS come up on loopback through the server's signalling alone,
/// and the console's data-channel ping comes back echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_connects_the_console_to_a_phone_in_a_real_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let c = browser(&driver, "en").await;
    let steps = async {
        use fieldops_sync::call::{CallEvent, SdpKind, Signal};
        use fieldops_tests::calls::{CallEnd, signal};
        let customer = app.login_as("customer").await;
        let ticket = app
            .post(
                "/api/v1/tickets",
                &customer,
                json!({ "subject": "AC bocor", "category": "technical" }),
            )
            .await;
        let ticket_id = ticket.body["id"].as_str().unwrap().to_owned();
        let cs = app.login_as("cs").await;
        let status = app
            .call(
                reqwest::Method::PUT,
                "/api/v1/me/status",
                Some(&cs),
                Some(json!({ "status": "available" })),
            )
            .await;
        assert_eq!(status.status, 200);
        let (mut phone, _) =
            fieldops_tests::device::Device::connect(app.server.addr, &customer, 0).await;
        let mut peer = fieldops_tests::webrtc::Answerer::bind().await;

        sign_in(&c, &app, "cs").await;
        c.goto(&app.url(&format!("/tickets/{ticket_id}")))
            .await
            .unwrap();
        let call = c
            .wait()
            .for_element(Locator::Css("button.call"))
            .await
            .unwrap();
        // calls.js shows the button once it knows the browser can call.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !call.is_displayed().await.unwrap() {
            assert!(Instant::now() < deadline, "the Call button stayed hidden");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        call.click().await.unwrap();
        until_text(&c, "#call-panel [data-call-status]", "calling", |t| {
            !t.is_empty()
        })
        .await;

        let incoming = phone.next_call().await;
        let id = incoming.call_id;
        assert!(
            matches!(incoming.event, CallEvent::Incoming { .. }),
            "{incoming:?}"
        );
        phone.send_call(&signal(id, 1, Signal::Ringing)).await;
        until_text(&c, "#call-panel [data-call-status]", "ringing", |t| {
            t.contains("Ringing")
        })
        .await;
        phone.send_call(&signal(id, 2, Signal::Accept)).await;
        assert_eq!(phone.next_call().await.event, CallEvent::Accepted);

        // The browser offers; the phone answers; candidates trickle.
        let mut seq = 2;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut rtt = None;
        let mut turn = 0u32;
        while rtt.is_none() {
            assert!(Instant::now() < deadline, "no echo within 30 s: {peer:?}");
            if let Some(update) = phone.call_within(Duration::from_millis(20)).await {
                match update.event {
                    CallEvent::Sdp {
                        kind: SdpKind::Offer,
                        sdp,
                    } => {
                        let answer = peer.answer(&sdp);
                        seq += 1;
                        phone
                            .send_call(&signal(
                                id,
                                seq,
                                Signal::Sdp {
                                    kind: SdpKind::Answer,
                                    sdp: answer,
                                },
                            ))
                            .await;
                    }
                    CallEvent::Candidate { candidate } => {
                        peer.add_candidate(&candidate);
                    }
                    other => panic!("unexpected in a connected call: {other:?}"),
                }
            }
            peer.drive_for(Duration::from_millis(30)).await;
            turn += 1;
            if turn.is_multiple_of(5) {
                let value = c
                    .execute(
                        "return document.getElementById('call-panel').getAttribute('data-rtt-ms')",
                        vec![],
                    )
                    .await
                    .unwrap();
                rtt = value.as_str().map(str::to_owned);
            }
        }
        assert!(peer.ice_connected, "ICE on the phone's side: {peer:?}");
        assert!(peer.echoed >= 1, "the phone echoed the console's ping");
        let ice = c
            .execute(
                "return document.getElementById('call-panel').getAttribute('data-ice')",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            matches!(ice.as_str(), Some("connected" | "completed")),
            "{ice:?}"
        );
        until_text(&c, "#call-panel [data-call-status]", "in a call", |t| {
            t.contains("In a call")
        })
        .await;

        // CS hang up in the browser; the phone hears it.
        c.find(Locator::Css("#call-panel [data-call-action=hangup]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        loop {
            let update = phone.next_call().await;
            if let CallEvent::Ended { reason } = update.event {
                assert_eq!(reason, fieldops_sync::call::EndReason::Hangup);
                break;
            }
        }
        until_text(&c, "#call-panel [data-call-status]", "ended", |t| {
            t.contains("The call ended")
        })
        .await;
    };
    let outcome = std::panic::AssertUnwindSafe(steps).catch_unwind().await;
    finish(
        c,
        app,
        "a_call_connects_the_console_to_a_phone_in_a_real_browser",
        outcome,
    )
    .await;
}

/// Ends a browser test: a screenshot when it failed, the browser and the
/// server stopped, then the failure passed on.
async fn finish(
    c: Client,
    app: TestApp,
    name: &str,
    outcome: Result<(), Box<dyn std::any::Any + Send>>,
) {
    if outcome.is_err() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(png) = c.screenshot().await {
            let path = dir.join(format!("{name}.png"));
            let _ = std::fs::write(&path, png);
            eprintln!("screenshot: {}", path.display());
        }
    }
    let _ = c.close().await;
    app.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The journey builder in a real browser: an admin creates a journey, adds
/// an urgent end, gives the first question a rule to the other end and
/// publishes; the two branches open tickets of different priority.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_builds_a_two_branch_journey_in_a_real_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let c = browser(&driver, "en").await;
    let steps = async {
        sign_in(&c, &app, "admin").await;
        c.goto(&app.url("/journeys")).await.unwrap();
        let field = |css: &'static str| {
            let c = c.clone();
            async move { c.find(Locator::Css(css)).await.unwrap() }
        };
        field("#new-journey input[name=title_id]")
            .await
            .send_keys("Gangguan Layanan")
            .await
            .unwrap();
        field("#new-journey input[name=title_en]")
            .await
            .send_keys("Service outage")
            .await
            .unwrap();
        field("#new-journey button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        until_text(&c, "#journey-status", "a draft", |t| t == "draft").await;

        // An end after q1: the question's default way out, made urgent.
        field("#node-q1 .add-node button[value=end]")
            .await
            .click()
            .await
            .unwrap();
        until_text(&c, "#node-selesai1 legend", "the new end", |t| {
            t.contains("selesai1")
        })
        .await;
        field("#node-selesai1 select[name=priority]")
            .await
            .select_by_value("urgent")
            .await
            .unwrap();
        field("#node-selesai1 .node-form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        until_text(
            &c,
            "#node-selesai1 select[name=priority] option[selected]",
            "urgent saved",
            |t| t == "Urgent",
        )
        .await;

        // q1: choice b goes to the normal end.
        field("#node-q1 select[name=rule_0_0_question]")
            .await
            .select_by_value("q1")
            .await
            .unwrap();
        field("#node-q1 select[name=rule_0_0_op]")
            .await
            .select_by_value("is")
            .await
            .unwrap();
        field("#node-q1 input[name=rule_0_0_value]")
            .await
            .send_keys("b")
            .await
            .unwrap();
        field("#node-q1 select[name=rule_0_goto]")
            .await
            .select_by_value("selesai")
            .await
            .unwrap();
        field("#node-q1 .node-form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        // Saved: the page came back with the rule's target chosen.
        until_text(
            &c,
            "#node-q1 select[name=rule_0_goto] option[selected]",
            "the rule saved",
            |t| t.starts_with("selesai —"),
        )
        .await;
        field("#publish").await.click().await.unwrap();
        until_text(&c, "#journey-status", "published", |t| t == "published").await;

        let customer = app.login_as("customer").await;
        let offered = app.get("/api/v1/journeys/published", &customer).await;
        let journey = offered.body[0]["journey_id"].as_str().unwrap().to_owned();
        for (choice, priority) in [("a", "urgent"), ("b", "normal")] {
            let made = app
                .post(
                    &format!("/api/v1/journeys/{journey}/submissions"),
                    &customer,
                    json!({ "version": 1, "started_at_ms": jiff::Timestamp::now().as_millisecond(),
                            "answers": { "q1": { "choice": choice } } }),
                )
                .await;
            assert_eq!(made.status, 201, "{:?}", made.body);
            assert_eq!(made.body["priority"], priority, "choice {choice}");
        }
    };
    let outcome = std::panic::AssertUnwindSafe(steps).catch_unwind().await;
    finish(
        c,
        app,
        "an_admin_builds_a_two_branch_journey_in_a_real_browser",
        outcome,
    )
    .await;
}

/// The KPI page in a real browser: a technician checking in moves the
/// real-time count, and a customer's rating puts the technician in the
/// table, both without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kpi_page_follows_the_field_live_in_a_real_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let Some((app, mut sent)) = fieldops_tests::whatsapp::spawn(Backend::Sqlite).await else {
        return;
    };
    let c = browser(&driver, "id").await;
    let steps = async {
        sign_in(&c, &app, "admin").await;
        c.goto(&app.url("/kpi?subject=technician")).await.unwrap();
        until_text(&c, "#kpi-board", "an empty table", |t| {
            t.contains("Belum ada")
        })
        .await;
        until_text(&c, "#live-on-site", "nobody on site", |t| t == "0").await;
        let cs = app.login_as("cs").await;
        let tech = app.login_as("technician").await;
        let hendra = demo_customer(&app, &cs).await;
        let visit = fieldops_tests::fixtures::new_visit(
            &app,
            &cs,
            &hendra,
            "Servis AC lobi",
            &fieldops_tests::fixtures::local_date(0),
            1,
            1,
        )
        .await;
        let path = format!("/api/v1/visits/{}", visit["id"].as_str().unwrap());
        let on_site = json!({ "device_time": jiff::Timestamp::now().to_string(),
                              "lat": -6.2251, "lon": 106.8097, "accuracy_m": 5.0 });
        for (step, body) in [("claim", json!({})), ("check-in", on_site.clone())] {
            let r = app.post(&format!("{path}/{step}"), &tech, body).await;
            assert!(r.status.is_success(), "{step}: {:?}", r.body);
        }
        let admin = app.login_as("admin").await;
        let live = app.get("/api/v1/kpi/live", &admin).await;
        assert_eq!(live.body["technicians_on_site"], 1, "{:?}", live.body);
        until_text(&c, "#live-on-site", "one technician on site", |t| t == "1").await;
        for (step, body) in [
            ("check-out", on_site),
            ("complete", json!({ "summary": "Selesai" })),
        ] {
            let r = app.post(&format!("{path}/{step}"), &tech, body).await;
            assert!(r.status.is_success(), "{step}: {:?}", r.body);
        }
        let token = fieldops_tests::ratings::rating_token(&mut sent, "6281210000001").await;
        let (_, _, csrf, cookie) = fieldops_tests::ratings::open(&app, &token).await;
        assert_eq!(
            fieldops_tests::ratings::rate(&app, &token, &csrf, &cookie, "5")
                .await
                .0,
            200
        );
        let row = until_text(&c, "#kpi-board", "Budi's rating in the table", |t| {
            t.contains("Budi Hartono")
        })
        .await;
        assert!(row.contains("100,0%"), "{row}");
    };
    let outcome = std::panic::AssertUnwindSafe(steps).catch_unwind().await;
    finish(
        c,
        app,
        "kpi_page_follows_the_field_live_in_a_real_browser",
        outcome,
    )
    .await;
}

async fn workflow(c: &Client, app: &TestApp) {
    let admin = app.login_as("admin").await;
    let customer = demo_customer(app, &admin).await;

    // CS signs in (Bahasa Indonesia by default) and opens the board.
    sign_in(c, app, "cs").await;
    c.find(Locator::Css("nav a[href='/dispatch']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, "h1", "the dispatch board", |t| t == "Penugasan").await;

    // A visit with quota 2, through the form.
    c.find(Locator::Css(&format!(
        "#customer_id option[value='{customer}']"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    fill(c, "title", "Servis panel listrik").await;
    fill(c, "address", "Jl. Jend. Sudirman Kav. 52-53").await;
    fill(c, "lat", "-6.2251").await;
    fill(c, "lon", "106.8097").await;
    fill(c, "technician_quota", "2").await;
    c.find(Locator::Css("#new-visit button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, "p.notice", "the created notice", |t| {
        t.contains("Servis panel listrik")
    })
    .await;
    let visits = app.get("/api/v1/visits?limit=200", &admin).await;
    let visit = visits.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["title"] == "Servis panel listrik")
        .unwrap()
        .clone();
    let id = visit["id"].as_str().unwrap().to_owned();
    let card = format!("#visit-{id}");
    until_text(c, &card, "the new card in the pool", |t| {
        t.contains("0 dari 2 teknisi")
    })
    .await;

    // Two technicians claim from their phones: the board follows, no reload.
    c.execute("window.__same_page = true;", vec![])
        .await
        .unwrap();
    let tech1 = app.login_as("technician").await;
    let tech2 = app.login("tech2@example.com", "tech123").await;
    let first = app
        .post(&format!("/api/v1/visits/{id}/claim"), &tech1, json!({}))
        .await;
    assert!(first.status.is_success(), "{:?}", first.body);
    until_text(c, &card, "the first claim", |t| {
        t.contains("1 dari 2 teknisi")
    })
    .await;
    // CS start typing why the first technician goes back to the pool;
    // the card changing under them keeps what they typed.
    let held = first.body["assignment_id"].as_str().unwrap();
    fill(c, &format!("reason-{held}"), "belum dikonfirmasi").await;
    let second = app
        .post(&format!("/api/v1/visits/{id}/claim"), &tech2, json!({}))
        .await;
    assert!(second.status.is_success(), "{:?}", second.body);
    let text = until_text(
        c,
        &format!(".column-assigned {card}"),
        "the full visit under Assigned",
        |t| t.contains("2 dari 2 teknisi"),
    )
    .await;
    let names: Vec<String> = futures_util::future::join_all(
        c.find_all(Locator::Css(&format!("{card} .tech")))
            .await
            .unwrap()
            .iter()
            .map(|e| e.text()),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    assert_eq!(names.len(), 2, "{text}");
    let same_page = c
        .execute("return window.__same_page === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, json!(true), "the board updated without a reload");
    let typed = c
        .find(Locator::Id(&format!("reason-{held}")))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(typed.as_deref(), Some("belum dikonfirmasi"));
    // Only the card moved: every column's count is what it shows, and the
    // pool no longer holds it.
    let counts = c
        .execute(
            "return Array.from(document.querySelectorAll('#board section[data-column]')).every(s => \
                 s.querySelector('.count').textContent === String(s.querySelectorAll('article.visit').length) \
                 && s.querySelector('.empty').hidden === (s.querySelectorAll('article.visit').length > 0));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(counts, json!(true), "the column counts follow the cards");
    assert!(
        c.find(Locator::Css(&format!(".column-open {card}")))
            .await
            .is_err(),
        "the full visit left the pool"
    );

    // A check-in 3 km from the site shows as outside the geofence.
    let check_in = app
        .post(&format!("/api/v1/visits/{id}/check-in"), &tech1, json!({
            "device_time": jiff::Timestamp::now().to_string(), "lat": -6.2000, "lon": 106.8300, "accuracy_m": 10.0
        }))
        .await;
    assert!(check_in.status.is_success(), "{:?}", check_in.body);
    c.find(Locator::Css("nav a[href='/attendance']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, "table.list", "the check-in outside the fence", |t| {
        t.contains("Di luar")
    })
    .await;
    assert!(
        c.find(Locator::Css("svg circle.tech-out")).await.is_ok(),
        "the plot marks it red"
    );

    // CS returns the second technician, who did not come, to the emergency pool.
    c.find(Locator::Css("nav a[href='/dispatch']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, "h1", "the board again", |t| t == "Penugasan").await;
    let assignment = second.body["assignment_id"].as_str().unwrap();
    fill(c, &format!("reason-{assignment}"), "tidak hadir").await;
    c.find(Locator::Css(&format!(
        "li[data-assignment='{assignment}'] button"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    until_text(c, &card, "the emergency flag", |t| t.contains("Darurat")).await;
    // The README's picture of the board: FIELDOPS_CONSOLE_SCREENSHOTS=docs.
    if let Ok(dir) = std::env::var("FIELDOPS_CONSOLE_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join("console-dispatch.png"), png).unwrap();
    }

    // An extension asked from the field, approved in the console.
    let asked = app
        .post(
            &format!("/api/v1/visits/{id}/extensions"),
            &tech1,
            json!({ "extra_days": 1, "reason": "Kabel kurang" }),
        )
        .await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    c.find(Locator::Css("nav a[href='/extensions']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, "main", "the request", |t| t.contains("Kabel kurang")).await;
    c.find(Locator::Css("button[value='approve']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, "main", "the emptied list", |t| {
        t.contains("Tidak ada permintaan perpanjangan")
    })
    .await;
    let after = app.get(&format!("/api/v1/visits/{id}"), &admin).await;
    assert_eq!(after.body["planned_days"], 2);

    // A customer writes in the app; CS answer from the inbox.
    let customer = app.login_as("customer").await;
    let started = app
        .post(
            "/api/v1/conversations",
            &customer,
            json!({ "message": "Halo, AC saya bocor lagi" }),
        )
        .await;
    assert!(started.status.is_success(), "{:?}", started.body);
    let conversation = started.body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.find(Locator::Css("nav a[href='/chat']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, ".conversations", "the customer's conversation", |t| {
        t.contains("Halo, AC saya bocor lagi")
    })
    .await;
    c.find(Locator::Css(&format!("#conversation-{conversation} a")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(c, "chat-body", "Baik Pak, teknisi kami datang besok pagi.").await;
    c.find(Locator::Css("#chat-reply button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, ".thread-pane", "the reply in the thread", |t| {
        t.contains("teknisi kami datang besok pagi")
    })
    .await;
    let theirs = app
        .get(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &customer,
        )
        .await;
    assert!(
        theirs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == "Baik Pak, teknisi kami datang besok pagi.")
    );

    // A ticket the customer opened, resolved from its page.
    let opened = app
        .post(
            "/api/v1/tickets",
            &customer,
            json!({ "subject": "AC bocor", "category": "technical", "description": "Air menetes" }),
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let number = opened.body["number"].as_str().unwrap().to_owned();
    c.find(Locator::Css("nav a[href='/tickets']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, "main", "the ticket in the list", |t| t.contains(&number)).await;
    c.find(Locator::LinkText(&number))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, ".ticket-head", "the ticket page", |t| {
        t.contains("Air menetes")
    })
    .await;
    c.find(Locator::Css("#move button[value='resolved']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_text(c, ".ticket-status", "the resolved status", |t| {
        t == "Selesai"
    })
    .await;

    // Switching the language changes every string on the page.
    c.find(Locator::Css("nav a[href='/dispatch']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let indonesian = until_text(c, "body", "the board", |t| t.contains("Pool terbuka")).await;
    c.find(Locator::Css("form.languages button[value='en']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let english = until_text(c, "body", "the English board", |t| t.contains("Open pool")).await;
    for (id_text, en_text) in [
        ("Penugasan", "Dispatch"),
        ("Dasbor", "Dashboard"),
        ("Kehadiran", "Attendance"),
        ("Ditugaskan", "Assigned"),
        ("Selesai hari ini", "Done today"),
        ("Kunjungan baru", "New visit"),
        ("Keluar", "Sign out"),
        (
            "Darurat: perlu teknisi sekarang",
            "Emergency: needs a technician now",
        ),
    ] {
        assert!(indonesian.contains(id_text), "{id_text} in Indonesian");
        assert!(
            !english.contains(id_text) && english.contains(en_text),
            "{id_text} → {en_text}"
        );
    }

    // Sales and technicians see only what they may.
    c.delete_all_cookies().await.unwrap();
    sign_in(c, app, "sales").await;
    c.goto(&app.url("/dispatch")).await.unwrap();
    until_text(c, "body", "the sales board", |t| {
        t.contains("Open pool") || t.contains("Pool terbuka")
    })
    .await;
    assert!(
        c.find(Locator::Id("new-visit")).await.is_err(),
        "sales create no visits"
    );
    assert!(
        c.find(Locator::Css("nav a[href='/attendance']"))
            .await
            .is_err()
    );
    c.delete_all_cookies().await.unwrap();
    sign_in(c, app, "technician").await;
    assert!(
        c.find(Locator::Css("nav a[href='/extensions']"))
            .await
            .is_err()
    );
    c.goto(&app.url("/attendance")).await.unwrap();
    until_text(c, "h1", "the refusal", |t| {
        t == "Not allowed" || t == "Tidak diizinkan"
    })
    .await;
}
