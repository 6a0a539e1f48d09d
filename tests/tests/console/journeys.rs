//! The journey builder in the console (issue 23): an admin creates a
//! journey, adds a photo question and an urgent end, gives the first
//! question a rule, sees a broken rule marked at its node when publishing,
//! fixes it, publishes, walks the preview down both branches; customers'
//! apps get it; CS may not build journeys.

use fieldops_tests::console::Browser;
use fieldops_tests::{Backend, on_both_backends};
use reqwest::StatusCode;

on_both_backends!(an_admin_builds_and_publishes_a_two_branch_journey);

/// The value of the hidden field `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
}

async fn an_admin_builds_and_publishes_a_two_branch_journey(backend: Backend) {
    let Some(app) = fieldops_tests::TestApp::spawn(backend).await else {
        return;
    };
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    assert_eq!(cs.get("/journeys").await.status, StatusCode::FORBIDDEN);
    let mut admin = Browser::signed_in_as(&app, "admin").await;
    let list = admin.get("/journeys").await;
    assert_eq!(list.status, 200, "{}", list.html);
    assert!(list.html.contains("href=\"/journeys\""), "in the menu");

    let made = admin
        .post(
            "/journeys",
            &[
                ("title_id", "Laporan Kerusakan"),
                ("title_en", "Damage report"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    let base = made.location().to_owned();
    let page = admin.get(&base).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("id=\"node-q1\"") && page.html.contains("id=\"node-selesai\""));

    // A photo question after q1, and an urgent end after it.
    let added = admin
        .post(
            &format!("{base}/add"),
            &[("after", "q1"), ("kind", "question")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.html);
    // An id that is no slug is refused, in the page's language.
    let refused = admin
        .post(
            &format!("{base}/nodes/q2"),
            &[
                ("id", "Foto Kerusakan"),
                ("prompt_id", "Foto kerusakan"),
                ("prompt_en", "Photos of the damage"),
                ("kind", "image"),
                ("max_count", "5"),
                ("max_mb", "5"),
                ("next", ""),
            ],
        )
        .await;
    assert_ne!(refused.status, StatusCode::SEE_OTHER);
    assert!(
        refused
            .html
            .contains("harus 1 sampai 40 karakter a-z, 0-9, _ dan -"),
        "{}",
        refused.html
    );
    let saved = admin
        .post(
            &format!("{base}/nodes/q2"),
            &[
                ("id", "foto"),
                ("prompt_id", "Foto kerusakan"),
                ("prompt_en", "Photos of the damage"),
                ("kind", "image"),
                ("max_count", "5"),
                ("max_mb", "5"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    admin
        .post(
            &format!("{base}/add"),
            &[("after", "foto"), ("kind", "end")],
        )
        .await;
    let saved = admin
        .post(
            &format!("{base}/nodes/selesai1"),
            &[
                ("id", "darurat"),
                ("message_id", "Teknisi segera datang"),
                ("message_en", "A technician is on the way"),
                ("category", "technical"),
                ("priority", "urgent"),
                ("department_id", ""),
                ("propose_visit", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);

    // q1's choices and a rule naming a choice that does not exist.
    let q1 = |other: &'static str| {
        vec![
            ("id", "q1"),
            ("prompt_id", "Apa yang terjadi?"),
            ("prompt_en", "What happened?"),
            ("required", "on"),
            ("kind", "single"),
            ("choice_0_id", "rusak"),
            ("choice_0_label_id", "Perangkat rusak"),
            ("choice_0_label_en", "Broken device"),
            ("choice_1_id", "lain"),
            ("choice_1_label_id", "Lainnya"),
            ("choice_1_label_en", "Something else"),
            ("rule_0_match", "all"),
            ("rule_0_0_question", "q1"),
            ("rule_0_0_op", "is"),
            ("rule_0_0_value", other),
            ("rule_0_goto", "selesai"),
            ("next", ""),
        ]
    };
    let saved = admin
        .post(&format!("{base}/nodes/q1"), &q1("pencurian"))
        .await;
    assert_eq!(
        saved.status,
        StatusCode::SEE_OTHER,
        "a draft may be broken: {}",
        saved.html
    );
    let refused = admin.post(&format!("{base}/publish"), &[]).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.html
    );
    let node = &refused.html[refused.html.find("id=\"node-q1\"").unwrap()..];
    let node = &node[..node.find("</li>").unwrap()];
    assert!(
        node.contains("node-problems") && node.contains("pencurian"),
        "{node}"
    );
    // A malformed id is refused at its node, and nothing is saved.
    let mut bad = q1("lain");
    bad[0] = ("id", "Q 1");
    let refused = admin.post(&format!("{base}/nodes/q1"), &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("&#34;Q 1&#34;") || refused.html.contains("\"Q 1\""),
        "{}",
        refused.html
    );

    let saved = admin.post(&format!("{base}/nodes/q1"), &q1("lain")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let published = admin.post(&format!("{base}/publish"), &[]).await;
    assert_eq!(
        published.status,
        StatusCode::SEE_OTHER,
        "{}",
        published.html
    );
    let page = admin.get(published.location()).await;
    assert!(
        page.html.contains("id=\"journey-status\">published"),
        "{}",
        page.html
    );

    // The preview walks both branches with the same evaluator.
    let preview = admin.get(&format!("{base}/preview")).await;
    assert!(
        preview.html.contains("Apa yang terjadi?"),
        "{}",
        preview.html
    );
    let state = hidden(&preview.html, "state");
    let other = admin
        .post(
            &format!("{base}/preview"),
            &[
                ("state", &state),
                ("question", "q1"),
                ("choice", "lain"),
                ("move", "answer"),
            ],
        )
        .await;
    assert!(
        other.html.contains("id=\"preview-end\"") && other.html.contains("Terima kasih"),
        "{}",
        other.html
    );
    let broken = admin
        .post(
            &format!("{base}/preview"),
            &[
                ("state", &state),
                ("question", "q1"),
                ("choice", "rusak"),
                ("move", "answer"),
            ],
        )
        .await;
    assert!(broken.html.contains("Foto kerusakan"), "{}", broken.html);
    let state = hidden(&broken.html, "state");
    let end = admin
        .post(
            &format!("{base}/preview"),
            &[
                ("state", &state),
                ("question", "foto"),
                ("photos", "2"),
                ("move", "answer"),
            ],
        )
        .await;
    assert!(
        end.html.contains("Teknisi segera datang") && end.html.contains("Mendesak"),
        "{}",
        end.html
    );

    // Customers' apps get it.
    let customer = app.login_as("customer").await;
    let offered = app.get("/api/v1/journeys/published", &customer).await;
    assert!(
        offered
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["definition"]["title"]["en"] == "Damage report"),
        "{:?}",
        offered.body
    );
    // A customer's submission: the ticket page shows the answers.
    let journey = base.trim_start_matches("/journeys/");
    let made = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/journeys/{journey}/submissions"),
            Some(&customer),
            Some(serde_json::json!({
                "version": 1,
                "started_at_ms": jiff::Timestamp::now().as_millisecond(),
                "answers": { "q1": { "choice": "rusak" } },
            })),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert_eq!(made.body["priority"], "urgent");
    let ticket = admin
        .get(&format!("/tickets/{}", made.body["id"].as_str().unwrap()))
        .await;
    assert!(
        ticket.html.contains("id=\"ticket-journey\"")
            && ticket.html.contains("Apa yang terjadi?")
            && ticket.html.contains("Perangkat rusak"),
        "{}",
        ticket.html
    );
    app.stop().await;
}
