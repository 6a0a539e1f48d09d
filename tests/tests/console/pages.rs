//! What each role sees in the console, the language it speaks, and the
//! dispatch and extension forms working through the services.

use fieldops_tests::console::Browser;
use fieldops_tests::fixtures::{demo_customer, local_date, new_visit};
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    each_role_sees_only_what_it_may,
    the_language_follows_the_choice_then_the_browser,
    refused_forms_keep_their_values_and_name_the_field,
    cs_return_technicians_and_decide_extensions,
    the_board_swaps_one_card_when_an_event_names_its_visit,
    cs_work_a_ticket_from_the_list_to_resolved,
    cs_answer_customers_from_the_inbox,
    cs_keep_customer_records,
    staff_accounts_follow_the_policy,
);

async fn each_role_sees_only_what_it_may(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    let board = sales.get("/dispatch").await;
    assert_eq!(board.status, 200);
    assert!(
        !board.html.contains("action=\"/dispatch/visits\""),
        "sales do not create visits"
    );
    assert!(
        !board.html.contains("href=\"/attendance\""),
        "nor see attendance in the menu"
    );
    assert_eq!(sales.get("/attendance").await.status, 403);
    assert_eq!(sales.get("/extensions").await.status, 403);

    let mut tech = Browser::signed_in_as(&app, "technician").await;
    assert_eq!(tech.get("/attendance").await.status, 403);
    let board = tech.get("/dispatch").await;
    assert_eq!(board.status, 200);
    assert!(!board.html.contains("/return"), "technicians return nobody");

    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let board = cs.get("/dispatch").await;
    assert!(board.html.contains("action=\"/dispatch/visits\""));
    assert_eq!(cs.get("/attendance").await.status, 200);
    assert_eq!(cs.get("/extensions").await.status, 200);
    let home = cs.get("/").await;
    assert!(
        home.html.contains("Tiket")
            && home.html.contains("Kunjungan hari ini")
            && home.html.contains("Menunggu agen"),
        "{}",
        home.html
    );
    assert_eq!(cs.get("/no-such-page").await.status, 404);
    app.stop().await;
}

async fn the_language_follows_the_choice_then_the_browser(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut browser = Browser::new(&app);
    let form = browser.get("/sign-in").await;
    assert!(form.html.contains("<html lang=\"id\">") && form.html.contains("Kata sandi"));
    browser.accept_language = Some("en-GB,en;q=0.8".into());
    let form = browser.get("/sign-in").await;
    assert!(form.html.contains("<html lang=\"en\">") && form.html.contains("Password"));
    let (email, password) = fieldops_tests::demo_account("cs");
    assert_eq!(browser.sign_in(email, password).await.status, 303);
    let board = browser.get("/dispatch").await;
    assert!(board.html.contains("Open pool") && board.html.contains("New visit"));
    // The user's choice wins over the browser's.
    let switched = browser.get("/language/id?next=/dispatch").await;
    assert_eq!(switched.status, 303);
    assert_eq!(switched.location(), "/dispatch");
    let board = browser.get("/dispatch").await;
    assert!(
        board.html.contains("Pool terbuka") && board.html.contains("Kunjungan baru"),
        "{}",
        board.html
    );
    assert!(!board.html.contains("Open pool"));
    // Never a redirect elsewhere.
    let away = browser.get("/language/en?next=//evil.example/").await;
    assert_eq!(away.location(), "/");

    // The header's choice is the person's own: kept on the account, it
    // wins on a fresh device whose browser asks for Bahasa Indonesia.
    browser.get("/dispatch").await;
    let chosen = browser
        .post("/language", &[("code", "en"), ("next", "/dispatch")])
        .await;
    assert_eq!(chosen.status, 303, "{}", chosen.html);
    assert_eq!(chosen.location(), "/dispatch");
    assert!(browser.get("/dispatch").await.html.contains("Open pool"));
    let forged = browser
        .post_raw("/language", &[("code", "id"), ("next", "/")])
        .await;
    assert_eq!(forged.status, 403, "the choice is a form with its token");
    let mut tablet = Browser::new(&app);
    tablet.accept_language = Some("id-ID,id;q=0.9".into());
    assert_eq!(tablet.sign_in(email, password).await.status, 303);
    let board = tablet.get("/dispatch").await;
    assert!(board.html.contains("Open pool"), "{}", board.html);
    let token = app.login(email, password).await;
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.body["user"]["language"], "en");
    // Over the API too, and back to the device's own.
    let reset = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/language",
            Some(&token),
            Some(json!({ "language": null })),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    let bad = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/language",
            Some(&token),
            Some(json!({ "language": "fr" })),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["errors"][0]["field"], "language");
    let empty = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/language",
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(empty.status, 422, "an empty body changes nothing");
    assert_eq!(empty.body["errors"][0]["field"], "language");
    app.stop().await;
}

async fn refused_forms_keep_their_values_and_name_the_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let customer = demo_customer(&app, &admin).await;
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let refused = cs
        .post(
            "/dispatch/visits",
            &[
                ("customer_id", customer.as_str()),
                ("title", "Servis AC ruang rapat"),
                ("address", "Jl. Thamrin 1"),
                ("lat", "95"),
                ("lon", "abc"),
                ("scheduled_start", &local_date(-3)),
                ("planned_days", "1"),
                ("technician_quota", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.html);
    assert!(
        refused
            .html
            .contains("Periksa kembali isian yang ditandai.")
    );
    assert!(
        refused.html.contains("Masukkan angka."),
        "lon is not a number"
    );
    assert!(
        refused.html.contains("value=\"Servis AC ruang rapat\""),
        "what was typed stays"
    );
    let listed = app.get("/api/v1/visits?limit=200", &admin).await;
    assert!(
        !listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["title"] == "Servis AC ruang rapat")
    );
    let past = cs
        .post(
            "/dispatch/visits",
            &[
                ("customer_id", customer.as_str()),
                ("title", "Servis AC ruang rapat"),
                ("address", "Jl. Thamrin 1"),
                ("lat", "-6.19"),
                ("lon", "106.82"),
                ("scheduled_start", &local_date(-3)),
                ("planned_days", "1"),
                ("technician_quota", "1"),
            ],
        )
        .await;
    assert_eq!(past.status, 422, "no visits in the past");
    let no_ticket = cs
        .post(
            "/dispatch/visits",
            &[
                ("customer_id", customer.as_str()),
                ("title", "Servis AC ruang rapat"),
                ("address", "Jl. Thamrin 1"),
                ("lat", "-6.19"),
                ("lon", "106.82"),
                ("scheduled_start", &local_date(0)),
                ("planned_days", "1"),
                ("technician_quota", "1"),
                ("ticket", "TKT-424242"),
            ],
        )
        .await;
    assert_eq!(no_ticket.status, 422, "a visit's ticket must exist");
    assert!(
        // The console speaks Bahasa Indonesia to a browser that asks for
        // nothing else, and so does the service's refusal on the page.
        no_ticket.html.contains("tiket tidak ditemukan")
            && no_ticket.html.contains("value=\"TKT-424242\"")
    );
    assert!(past.html.contains("field invalid") && past.html.contains("id=\"scheduled_start\""));
    app.stop().await;
}

async fn cs_return_technicians_and_decide_extensions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs_token = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let customer = demo_customer(&app, &admin).await;
    let visit = new_visit(
        &app,
        &cs_token,
        &customer,
        "Perbaikan genset",
        &local_date(0),
        1,
        2,
    )
    .await;
    let id = visit["id"].as_str().unwrap();
    let claim = app
        .post(&format!("/api/v1/visits/{id}/claim"), &tech, json!({}))
        .await;
    assert!(claim.status.is_success(), "{:?}", claim.body);
    let assignment = claim.body["assignment_id"].as_str().unwrap().to_owned();

    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let board = cs.get("/dispatch").await;
    assert!(
        board.html.contains("Perbaikan genset") && board.html.contains("1 dari 2 teknisi"),
        "{}",
        board.html
    );
    let no_reason = cs
        .post(
            &format!("/dispatch/assignments/{assignment}/return"),
            &[("reason", " ")],
        )
        .await;
    assert_eq!(no_reason.status, 422);
    let returned = cs
        .post(
            &format!("/dispatch/assignments/{assignment}/return"),
            &[("reason", "tidak hadir")],
        )
        .await;
    assert_eq!(returned.status, 303, "{}", returned.html);
    let after = app.get(&format!("/api/v1/visits/{id}"), &cs_token).await;
    assert_eq!(after.body["emergency"], true);
    assert_eq!(after.body["seats_taken"], 0);
    let board = cs.get("/dispatch").await;
    assert!(board.html.contains("Darurat: perlu teknisi sekarang"));

    // An extension asked from the field, decided in the console.
    let tech2 = app.login("tech2@example.com", "tech123").await;
    let claim = app
        .post(&format!("/api/v1/visits/{id}/claim"), &tech2, json!({}))
        .await;
    assert!(claim.status.is_success(), "{:?}", claim.body);
    let asked = app
        .post(
            &format!("/api/v1/visits/{id}/extensions"),
            &tech2,
            json!({ "extra_days": 2, "reason": "Suku cadang belum datang" }),
        )
        .await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    let ext = asked.body["id"].as_str().unwrap();
    let list = cs.get("/extensions").await;
    assert!(list.html.contains("Suku cadang belum datang"));
    let approved = cs
        .post(
            &format!("/extensions/{ext}/decide"),
            &[("decision", "approve"), ("note", "ok")],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.html);
    let after = app.get(&format!("/api/v1/visits/{id}"), &cs_token).await;
    assert_eq!(after.body["planned_days"], 3);
    let again = cs
        .post(
            &format!("/extensions/{ext}/decide"),
            &[("decision", "reject")],
        )
        .await;
    assert_eq!(again.status, 409, "decided already: {}", again.html);
    app.stop().await;
}

/// A live event that concerns one visit names it, and the board fetches
/// that card alone, as the board itself would draw it, in the column it
/// now belongs to; a card the reader may no longer see is gone.
async fn the_board_swaps_one_card_when_an_event_names_its_visit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs_token = app.login_as("cs").await;
    let customer = demo_customer(&app, &admin).await;
    let visit = new_visit(
        &app,
        &cs_token,
        &customer,
        "Ganti kapasitor AC",
        &local_date(0),
        1,
        1,
    )
    .await;
    let id = visit["id"].as_str().unwrap().to_owned();
    let path = format!("/dispatch/cards/{id}");

    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let mut tab = cs.events().await;
    let card = cs.get(&path).await;
    assert_eq!(card.status, 200, "{}", card.html);
    assert!(
        card.html.contains("data-column=\"open\"")
            && card.html.contains("Ganti kapasitor AC")
            && card.html.contains("0 dari 1 teknisi")
            && card.html.contains(&format!("/dispatch/visits/{id}/cancel")),
        "{}",
        card.html
    );
    assert!(!card.html.contains("<html"), "a fragment, not a page");
    let board = cs.get("/dispatch").await;
    assert!(
        board.html.contains(card.html.trim()),
        "the card is the one the board draws: {}",
        card.html
    );

    // A technician claims the only seat: the event names the visit, and
    // its card now sits under Assigned with their name.
    let tech = app.login_as("technician").await;
    let claim = app
        .post(&format!("/api/v1/visits/{id}/claim"), &tech, json!({}))
        .await;
    assert!(claim.status.is_success(), "{:?}", claim.body);
    let heard: serde_json::Value = loop {
        let data: serde_json::Value = serde_json::from_str(&tab.next_named("visit").await).unwrap();
        if data["kind"] == "visit.claimed" {
            break data;
        }
    };
    assert_eq!(heard["visit_id"], id.as_str());
    let card = cs.get(&path).await;
    assert!(
        card.html.contains("data-column=\"assigned\"")
            && card.html.contains("1 dari 1 teknisi")
            && card.html.contains("/return")
            && !card.html.contains("/cancel\""),
        "claimed: no longer cancellable, the holder can be returned: {}",
        card.html
    );

    // Sales read the card without the controls; another technician, whose
    // pool no longer holds the full visit, does not see it at all.
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    let seen = sales.get(&path).await;
    assert_eq!(seen.status, 200);
    assert!(!seen.html.contains("<form"), "{}", seen.html);
    let mut other = Browser::new(&app);
    assert_eq!(
        other.sign_in("tech2@example.com", "tech123").await.status,
        303
    );
    assert_eq!(other.get(&path).await.status, 404);
    let mut holder = Browser::signed_in_as(&app, "technician").await;
    assert_eq!(
        holder.get(&path).await.status,
        200,
        "the holder still sees it"
    );

    // Cancelled, it leaves the board.
    let spare = new_visit(&app, &cs_token, &customer, "Cadangan", &local_date(0), 1, 1).await;
    let spare = spare["id"].as_str().unwrap();
    let cancelled = app
        .post(
            &format!("/api/v1/visits/{spare}/cancel"),
            &cs_token,
            json!({ "reason": "Pelanggan membatalkan" }),
        )
        .await;
    assert!(cancelled.status.is_success(), "{:?}", cancelled.body);
    assert_eq!(
        cs.get(&format!("/dispatch/cards/{spare}")).await.status,
        404
    );
    app.stop().await;
}

async fn cs_work_a_ticket_from_the_list_to_resolved(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let opened = app
        .post("/api/v1/tickets", &customer, json!({ "subject": "Modem mati sejak pagi", "category": "technical", "description": "Lampu DSL berkedip" }))
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let id = opened.body["id"].as_str().unwrap().to_owned();
    let number = opened.body["number"].as_str().unwrap().to_owned();

    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let list = cs.get("/tickets").await;
    assert_eq!(list.status, 200);
    assert!(
        list.html.contains(&number) && list.html.contains("Modem mati sejak pagi"),
        "{}",
        list.html
    );
    assert!(
        list.html.contains("sla-green"),
        "a fresh ticket has most of its time left"
    );
    let found = cs.get(&format!("/tickets?q={number}")).await;
    assert!(found.html.contains("Modem mati sejak pagi"));
    // Seed 002's filters: category, date, agent (and department for
    // people in several).
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Jakarta").unwrap())
        .date();
    for (query, shown) in [
        ("category=technical", true),
        ("category=billing", false),
        (&format!("date={today}") as &str, true),
        ("date=2020-01-01", false),
        ("assigned=unassigned", true),
    ] {
        let filtered = cs.get(&format!("/tickets?{query}")).await;
        assert_eq!(filtered.status, 200);
        assert_eq!(
            filtered.html.contains("Modem mati sejak pagi"),
            shown,
            "{query}"
        );
    }
    let none = cs.get("/tickets?q=printer+rusak").await;
    assert!(
        none.html.contains("Tidak ada tiket yang cocok"),
        "an empty state that says what to do"
    );

    let page = cs.get(&format!("/tickets/{id}")).await;
    assert!(
        page.html.contains("Lampu DSL berkedip") && page.html.contains("Ambil"),
        "{}",
        page.html
    );
    let took = cs
        .post(&format!("/tickets/{id}/assign"), &[("take", "1")])
        .await;
    assert_eq!(took.status, 303, "{}", took.html);
    let replied = cs
        .post(
            &format!("/tickets/{id}/messages"),
            &[("body", "Teknisi kami akan menelepon Bapak.")],
        )
        .await;
    assert_eq!(replied.status, 303, "{}", replied.html);
    let noted = cs
        .post(
            &format!("/tickets/{id}/messages"),
            &[("body", "Cek port OLT dulu"), ("internal", "1")],
        )
        .await;
    assert_eq!(noted.status, 303);
    let empty = cs
        .post(&format!("/tickets/{id}/messages"), &[("body", "  ")])
        .await;
    assert_eq!(empty.status, 422, "an empty reply is refused on the page");
    assert!(empty.html.contains("class=\"problem\""));
    let cs_id = app.get("/api/v1/me", &app.login_as("cs").await).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = cs.get(&format!("/tickets?assigned={cs_id}")).await;
    assert!(theirs.html.contains("Modem mati sejak pagi"));
    assert!(
        theirs.html.contains(&format!("value=\"{cs_id}\" selected")),
        "the agent filter keeps its choice"
    );
    let resolved = cs
        .post(&format!("/tickets/{id}/status"), &[("status", "resolved")])
        .await;
    assert_eq!(resolved.status, 303, "{}", resolved.html);

    let cs_token = app.login_as("cs").await;
    let detail = app.get(&format!("/api/v1/tickets/{id}"), &cs_token).await;
    assert_eq!(detail.body["status"], "resolved");
    assert_eq!(detail.body["assignee_name"], "Siti Rahmawati");
    let messages = detail.body["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m["body"] == "Teknisi kami akan menelepon Bapak." && m["internal"] == false)
    );
    assert!(
        messages
            .iter()
            .any(|m| m["body"] == "Cek port OLT dulu" && m["internal"] == true)
    );
    // The customer sees the reply, never the note.
    let theirs = app.get(&format!("/api/v1/tickets/{id}"), &customer).await;
    let bodies: Vec<_> = theirs.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert!(
        bodies.contains(&json!("Teknisi kami akan menelepon Bapak."))
            && !bodies.contains(&json!("Cek port OLT dulu"))
    );
    let page = cs.get(&format!("/tickets/{id}")).await;
    assert!(
        page.html.contains("catatan internal") && page.html.contains("Buka kembali"),
        "{}",
        page.html
    );

    // Sales see no ticket of the help desk's department.
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    assert_eq!(sales.get(&format!("/tickets/{id}")).await.status, 404);
    app.stop().await;
}

async fn cs_answer_customers_from_the_inbox(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let started = app
        .post(
            "/api/v1/conversations",
            &customer,
            json!({ "message": "Apakah teknisi bisa datang hari Sabtu?" }),
        )
        .await;
    assert!(started.status.is_success(), "{:?}", started.body);
    let id = started.body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let inbox = cs.get("/chat").await;
    assert_eq!(inbox.status, 200);
    assert!(
        inbox
            .html
            .contains("Apakah teknisi bisa datang hari Sabtu?"),
        "{}",
        inbox.html
    );
    assert!(
        inbox.html.contains("class=\"badge unread\""),
        "one unread message"
    );
    let open = cs.get(&format!("/chat?c={id}")).await;
    assert!(open.html.contains("id=\"chat-reply\""));
    let inbox = cs.get("/chat").await;
    assert!(
        !inbox.html.contains("class=\"badge unread\""),
        "read once opened"
    );
    let empty = cs
        .post(&format!("/chat/{id}/messages"), &[("body", "")])
        .await;
    assert_eq!(empty.status, 422);
    let sent = cs
        .post(
            &format!("/chat/{id}/messages"),
            &[("body", "Bisa, Bu. Jam 9 pagi.")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.html);
    let theirs = app
        .get(&format!("/api/v1/conversations/{id}/messages"), &customer)
        .await;
    assert!(
        theirs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == "Bisa, Bu. Jam 9 pagi.")
    );
    // Sales and technicians have no inbox.
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    assert_eq!(sales.get("/chat").await.status, 403);
    assert_eq!(
        sales
            .post(&format!("/chat/{id}/messages"), &[("body", "x")])
            .await
            .status,
        403
    );
    app.stop().await;
}

async fn cs_keep_customer_records(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let list = cs.get("/customers").await;
    assert!(list.html.contains("Hendra Gunawan"), "{}", list.html);
    // Delete takes two steps without script: the summary asks, the form
    // inside (with what deleting does) deletes.
    assert!(
        list.html.contains("<details class=\"confirm\"")
            && list.html.contains("Ya, hapus pelanggan ini")
            && list.html.contains("dapat memulihkannya"),
        "{}",
        list.html
    );
    let refused = cs
        .post(
            "/customers",
            &[
                ("name", "Bu Ratna"),
                ("phone", "12"),
                ("lat", "-6.2"),
                ("lon", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.html);
    assert!(
        refused.html.contains("value=\"Bu Ratna\""),
        "what was typed stays"
    );
    assert!(
        refused.html.contains("Masukkan angka."),
        "the longitude is named"
    );
    let made = cs
        .post(
            "/customers",
            &[
                ("name", "Bu Ratna"),
                ("phone", "0812-7777-1212"),
                ("city", "Depok"),
                ("address", "Jl. Margonda 10"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.html);
    let found = cs.get(made.location()).await;
    assert!(
        found.html.contains("Bu Ratna") && found.html.contains("+6281277771212"),
        "{}",
        found.html
    );
    let duplicate = cs
        .post(
            "/customers",
            &[("name", "Ratna lagi"), ("phone", "081277771212")],
        )
        .await;
    assert_eq!(duplicate.status, 422);
    assert!(
        duplicate.html.contains("Sudah dipakai."),
        "the phone is taken: {}",
        duplicate.html
    );

    let admin = app.login_as("admin").await;
    let api = app.get("/api/v1/customers?q=Ratna", &admin).await;
    let id = api.body["items"][0]["id"].as_str().unwrap().to_owned();
    let edit = cs.get(&format!("/customers?edit={id}")).await;
    assert!(edit.html.contains(&format!("action=\"/customers/{id}\"")));
    let changed = cs
        .post(
            &format!("/customers/{id}"),
            &[
                ("name", "Ratna Sari"),
                ("phone", "0812-7777-1212"),
                ("city", "Depok"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.html);
    let deleted = cs.post(&format!("/customers/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, 303);
    let record = app.get(&format!("/api/v1/customers/{id}"), &admin).await;
    assert_eq!(record.body["status"], "inactive");
    assert_eq!(
        record.body["name"], "Ratna Sari",
        "soft delete keeps the record"
    );
    let inactive = cs.get("/customers?status=inactive").await;
    assert!(inactive.html.contains("Ratna Sari") && inactive.html.contains("Pulihkan"));
    assert_eq!(
        cs.post(&format!("/customers/{id}/restore"), &[])
            .await
            .status,
        303
    );
    let record = app.get(&format!("/api/v1/customers/{id}"), &admin).await;
    assert_eq!(record.body["status"], "active");

    // Sales read customers but change nothing.
    let mut sales = Browser::signed_in_as(&app, "sales").await;
    let list = sales.get("/customers").await;
    assert!(list.html.contains("Ratna Sari") && !list.html.contains("id=\"customer-form\""));
    assert_eq!(
        sales
            .post(&format!("/customers/{id}/delete"), &[])
            .await
            .status,
        403
    );
    let mut tech = Browser::signed_in_as(&app, "technician").await;
    assert_eq!(tech.get("/customers").await.status, 403);
    app.stop().await;
}

async fn staff_accounts_follow_the_policy(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let list = cs.get("/users").await;
    assert_eq!(list.status, 200);
    assert!(
        list.html.contains("Budi Hartono") || list.html.contains("tech1@example.com"),
        "{}",
        list.html
    );
    // CS enrol technicians and CS, nobody else (the role list says so too).
    assert!(list.html.contains("value=\"technician\"") && !list.html.contains("value=\"admin\""));
    let refused = cs
        .post(
            "/users",
            &[
                ("name", "Joko"),
                ("email", "bukan-email"),
                ("role", "technician"),
                ("password", "pw"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.html);
    assert!(refused.html.contains("value=\"Joko\"") && refused.html.contains("field invalid"));
    let sneaky = cs
        .post(
            "/users",
            &[
                ("name", "Boss"),
                ("email", "boss2@example.com"),
                ("role", "admin"),
                ("password", "password-9"),
            ],
        )
        .await;
    assert_eq!(sneaky.status, 403, "CS cannot make an admin");
    let made = cs
        .post(
            "/users",
            &[
                ("name", "Joko Susilo"),
                ("email", "joko@example.com"),
                ("role", "technician"),
                ("password", "password-9"),
                ("phone", "0812-1111-2222"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.html);
    let joko = app.login("joko@example.com", "password-9").await;
    let admin = app.login_as("admin").await;
    let found = app.get("/api/v1/users?q=joko", &admin).await;
    let id = found.body["items"][0]["id"].as_str().unwrap().to_owned();

    let shift = cs
        .post(
            &format!("/users/{id}/shift"),
            &[("start", "08:00"), ("end", "17:00")],
        )
        .await;
    assert_eq!(shift.status, 303, "{}", shift.html);
    assert!(cs.get("/users").await.html.contains("value=\"08:00\""));
    let reset = cs.post(&format!("/users/{id}/reset-password"), &[]).await;
    assert_eq!(reset.status, 200, "{}", reset.html);
    assert!(
        reset.html.contains("Kata sandi sementara Joko Susilo"),
        "{}",
        reset.html
    );
    assert_eq!(
        app.get("/api/v1/me", &joko).await.status,
        401,
        "the reset ended Joko's sessions"
    );
    // Deactivating asks first: the real button sits behind a disclosure
    // that says what happens.
    let listed = cs.get("/users").await;
    assert!(
        listed.html.contains(&format!("id=\"deactivate-{id}\""))
            && listed.html.contains("Ya, nonaktifkan akun ini"),
        "{}",
        listed.html
    );
    let off = cs.post(&format!("/users/{id}/deactivate"), &[]).await;
    assert_eq!(off.status, 303);
    let user = app.get(&format!("/api/v1/users/{id}"), &admin).await;
    assert_eq!(user.body["status"], "inactive");
    assert_eq!(
        cs.post(&format!("/users/{id}/activate"), &[]).await.status,
        303
    );

    let mut sales = Browser::signed_in_as(&app, "sales").await;
    assert_eq!(sales.get("/users").await.status, 403);
    app.stop().await;
}
