//! Problems speak the caller's language: `Accept-Language: id` (or the
//! account's saved language when the header names none) gives every title,
//! detail and field message in Bahasa Indonesia; English otherwise. The
//! problem `type` and the field names are the same in both.

use fieldops_tests::{Backend, Reply, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    problems_answer_in_the_language_asked_for,
    a_saved_language_answers_when_the_header_names_none
);

/// Sends a request with `Accept-Language: language` (none when `None`).
async fn ask(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    language: Option<&str>,
) -> Reply {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::read(request.send().await.unwrap()).await
}

fn field_message<'a>(reply: &'a Reply, field: &str) -> &'a str {
    reply.body["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["field"] == field))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no problem names `{field}`: {:?}", reply.body))
}

async fn problems_answer_in_the_language_asked_for(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Not signed in.
    for (language, title, detail) in [
        (None, "Authentication required", "missing bearer token"),
        (
            Some("id-ID,id;q=0.9,en;q=0.8"),
            "Perlu masuk terlebih dahulu",
            "token bearer tidak ada",
        ),
        (
            Some("fr, en;q=0.5"),
            "Authentication required",
            "missing bearer token",
        ),
    ] {
        let reply = ask(&app, Method::GET, "/api/v1/visits", None, None, language).await;
        assert_eq!(reply.assert_problem(401), "unauthorized");
        assert_eq!(reply.body["title"], title, "{language:?}");
        assert_eq!(reply.body["detail"], detail, "{language:?}");
    }

    let cs = app.login_as("cs").await;
    // Nothing by that id: the noun is translated too.
    let missing = "/api/v1/visits/00000000-0000-4000-8000-000000000000";
    let reply = ask(&app, Method::GET, missing, Some(&cs), None, Some("id")).await;
    assert_eq!(reply.assert_problem(404), "not-found");
    assert_eq!(reply.body["title"], "Tidak ditemukan");
    assert_eq!(reply.body["detail"], "kunjungan tidak ditemukan");
    let reply = ask(&app, Method::GET, missing, Some(&cs), None, None).await;
    assert_eq!(reply.body["detail"], "visit not found");

    // A field the body lacks, and one a service finds wrong: named the
    // same in both languages, explained in the one asked for.
    let reply = ask(
        &app,
        Method::POST,
        "/api/v1/customers",
        Some(&cs),
        Some(json!({ "phone": "+6281200000001" })),
        Some("id"),
    )
    .await;
    assert_eq!(reply.assert_problem(422), "validation");
    assert_eq!(reply.body["title"], "Isian permintaan tidak valid");
    assert_eq!(field_message(&reply, "name"), "wajib diisi");
    let body = json!({ "name": "  ", "phone": "+6281200000001" });
    let reply = ask(
        &app,
        Method::POST,
        "/api/v1/customers",
        Some(&cs),
        Some(body.clone()),
        Some("id"),
    )
    .await;
    assert_eq!(reply.assert_problem(422), "validation");
    assert_eq!(field_message(&reply, "name"), "tidak boleh kosong");
    let reply = ask(
        &app,
        Method::POST,
        "/api/v1/customers",
        Some(&cs),
        Some(body),
        Some("en"),
    )
    .await;
    assert_eq!(field_message(&reply, "name"), "must not be empty");

    // An unknown code says what is accepted, in the language asked for.
    let reply = ask(
        &app,
        Method::POST,
        "/api/v1/tickets",
        Some(&cs),
        Some(json!({ "subject": "AC bocor", "priority": "kritis" })),
        Some("id"),
    )
    .await;
    assert_eq!(reply.assert_problem(422), "validation");
    assert_eq!(
        field_message(&reply, "priority"),
        "`kritis` tidak diterima; yang diharapkan salah satu dari: low, normal, high, urgent",
    );
    // So does a query parameter.
    let reply = ask(
        &app,
        Method::GET,
        "/api/v1/tickets?priority=sangat",
        Some(&cs),
        None,
        Some("id"),
    )
    .await;
    assert_eq!(reply.assert_problem(422), "validation");
    assert_eq!(
        field_message(&reply, "priority"),
        "`sangat` tidak diterima; yang diharapkan salah satu dari: low, normal, high, urgent",
    );
    // A value of the wrong kind says what it must be, wholly in Bahasa.
    let reply = ask(
        &app,
        Method::POST,
        "/api/v1/customers",
        Some(&cs),
        Some(json!({ "name": "Toko Maju", "phone": "+6281200000001",
                     "location": { "lat": "utara", "lon": 106.8 } })),
        Some("id"),
    )
    .await;
    assert_eq!(reply.assert_problem(422), "validation");
    assert_eq!(
        field_message(&reply, "location.lat"),
        "harus berupa angka, bukan teks \"utara\""
    );
    // A ticket's SLA explanation reads in the language asked for.
    let opened = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "subject": "AC bocor", "priority": "high", "category": "technical",
                    "customer_id": fieldops_tests::fixtures::demo_customer(&app, &cs).await }),
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let path = format!("/api/v1/tickets/{}", opened.body["id"].as_str().unwrap());
    let explained = |lang: &'static str| {
        let (app, cs, path) = (&app, cs.clone(), path.clone());
        async move {
            let reply = ask(app, Method::GET, &path, Some(&cs), None, Some(lang)).await;
            reply.body["sla"]["explanation"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (id, en) = (explained("id").await, explained("en").await);
    assert!(
        id.starts_with("Prioritas tinggi: respons pertama dalam"),
        "{id}"
    );
    assert!(
        en.starts_with("high priority: first response within"),
        "{en}"
    );
    // Nothing was written by any of the refused requests.
    let customers = app.get("/api/v1/customers?q=6281200000001", &cs).await;
    assert_eq!(
        customers.body["items"].as_array().map(Vec::len),
        Some(0),
        "{:?}",
        customers.body
    );
    app.stop().await;
}

async fn a_saved_language_answers_when_the_header_names_none(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    app.set_language(&cs, "id").await;
    let missing = "/api/v1/visits/00000000-0000-4000-8000-000000000000";
    // No header: the account's language.
    let reply = ask(&app, Method::GET, missing, Some(&cs), None, None).await;
    assert_eq!(reply.body["detail"], "kunjungan tidak ditemukan");
    // A header that names a spoken language wins for that request.
    let reply = ask(&app, Method::GET, missing, Some(&cs), None, Some("en-GB")).await;
    assert_eq!(reply.body["detail"], "visit not found");
    // A header naming only languages the catalogue lacks leaves the choice
    // to the account.
    let reply = ask(&app, Method::GET, missing, Some(&cs), None, Some("ja")).await;
    assert_eq!(reply.body["title"], "Tidak ditemukan");
    // Cleared: English again.
    ask(
        &app,
        Method::PUT,
        "/api/v1/me/language",
        Some(&cs),
        Some(json!({ "language": null })),
        None,
    )
    .await;
    let reply = ask(&app, Method::GET, missing, Some(&cs), None, None).await;
    assert_eq!(reply.body["detail"], "visit not found");
    app.stop().await;
}
