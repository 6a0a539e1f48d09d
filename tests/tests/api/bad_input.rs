//! Bad input gets a clear 4xx problem+json, never a 500 and never a partial write.

use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    malformed_requests_are_clear_4xx_and_write_nothing,
    idempotency_keys_replay_and_refuse_reuse
);

async fn customer_count(app: &TestApp, token: &str) -> usize {
    app.get("/api/v1/customers?limit=200", token).await.body["items"]
        .as_array()
        .unwrap()
        .len()
}

async fn malformed_requests_are_clear_4xx_and_write_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let before = customer_count(&app, &cs).await;
    let raw = |body: Vec<u8>, content_type: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/api/v1/customers"))
            .bearer_auth(&cs)
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        async move { TestApp::read(request.send().await.unwrap()).await }
    };
    assert_eq!(
        raw(b"{\"name\": ".to_vec(), Some("application/json"))
            .await
            .assert_problem(400),
        "bad-request"
    );
    assert_eq!(
        raw(b"[1,2,3]".to_vec(), Some("application/json"))
            .await
            .assert_problem(422),
        "validation"
    );
    assert_eq!(
        raw(b"{}".to_vec(), None).await.assert_problem(415),
        "unsupported-media-type"
    );
    let big = format!(
        "{{\"name\":\"{}\",\"phone\":\"+6281234567890\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    // The server answers 413 from the Content-Length alone and closes; a
    // client still writing the body may see the connection reset instead of
    // the answer. Either way nothing is stored (checked below). It goes on a
    // client of its own so that the connection the server closes is never
    // handed back to the shared pool for the requests that follow.
    let one_shot = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let oversized = one_shot
        .post(app.url("/api/v1/customers"))
        .bearer_auth(&cs)
        .header("content-type", "application/json")
        .body(big.into_bytes())
        .send()
        .await;
    // The reset may also reach the client after the status line but before
    // the body, so only a body that arrived is checked.
    match oversized {
        Ok(response) => {
            assert_eq!(response.status(), 413);
            if let Ok(body) = response.bytes().await {
                let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(problem["type"], "urn:fieldops:problem:payload-too-large");
            }
        }
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }

    // A type error names its field and what is expected, not the parser's
    // position in the body.
    let named = |body: serde_json::Value| {
        let app = &app;
        let cs = &cs;
        async move {
            let reply = app.post("/api/v1/customers", cs, body).await;
            reply.assert_problem(422);
            let e = &reply.body["errors"][0];
            (
                e["field"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (field, message) = named(json!({ "phone": "+6281234567890" })).await;
    assert_eq!((field.as_str(), message.as_str()), ("name", "is required"));
    let (field, message) = named(json!({ "name": 42, "phone": "+6281234567890" })).await;
    assert_eq!(field, "name");
    assert!(!message.contains("line"), "{message}");
    let (field, _) = named(
        json!({ "name": "A", "phone": "+6281234567890", "location": { "lat": "north", "lon": 1 } }),
    )
    .await;
    assert_eq!(field, "location.lat");
    let (field, message) =
        named(json!({ "name": "A", "phone": "+6281234567890", "status": "inactive" })).await;
    assert_eq!(
        (field.as_str(), message.as_str()),
        ("status", "is not a field of this request")
    );
    let ticket = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "subject": "Printer", "category": "technical", "priority": "sangat" }),
        )
        .await;
    ticket.assert_problem(422);
    assert_eq!(ticket.body["errors"][0]["field"], "priority");
    let message = ticket.body["errors"][0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "`sangat` is not accepted; expected one of: low, normal, high, urgent"
    );
    // Codes are taken in any case where that is unambiguous: in bodies and
    // in query strings, answered in the canonical lowercase.
    let shouted = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "subject": "Printer", "category": "technical", "priority": "HIGH",
                    "customer_id": fieldops_tests::fixtures::demo_customer(&app, &cs).await }),
        )
        .await;
    assert_eq!(shouted.status, 201, "{:?}", shouted.body);
    assert_eq!(shouted.body["priority"], "high");
    let listed = app
        .get("/api/v1/tickets?status=Open&priority=High", &cs)
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == shouted.body["id"])
    );

    let cases = [
        json!({ "name": 42, "phone": "+6281234567890" }),
        json!({ "name": "A", "phone": "+6281234567890", "location": { "lat": "north", "lon": 1 } }),
        json!({ "name": "A", "phone": "+6281234567890", "location": { "lat": 95.0, "lon": 1 } }),
        json!({ "name": "A", "phone": "+6281234567890", "status": "inactive" }),
        json!({ "name": "A", "phone": "12" }),
        json!({ "name": "A".repeat(121), "phone": "+6281234567890" }),
        json!({ "name": "A", "phone": "+6281234567890", "email": "not-an-email" }),
        json!({ "name": "A\u{0}B", "phone": "+6281234567890" }),
    ];
    for body in cases {
        let reply = app.post("/api/v1/customers", &cs, body.clone()).await;
        assert_eq!(reply.assert_problem(422), "validation", "{body}");
        assert!(!reply.body["errors"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        customer_count(&app, &cs).await,
        before,
        "nothing was written"
    );

    // A path that cannot name a customer is not found; a query parameter
    // that does not parse is named, as a body's field is.
    let unknown = app.get("/api/v1/customers/not-a-uuid", &cs).await;
    assert_eq!(unknown.assert_problem(404), "not-found");
    assert_eq!(unknown.body["detail"], "resource not found");
    app.get("/api/v1/tickets/queue", &cs)
        .await
        .assert_problem(404);
    let not_a_number = app.get("/api/v1/customers?limit=abc", &cs).await;
    assert_eq!(not_a_number.assert_problem(422), "validation");
    assert_eq!(not_a_number.body["errors"][0]["field"], "limit");
    assert_eq!(
        not_a_number.body["errors"][0]["message"],
        "must be a number, not text \"abc\""
    );
    app.get("/api/v1/customers?limit=0", &cs)
        .await
        .assert_problem(422);
    app.get("/api/v1/customers?limit=201", &cs)
        .await
        .assert_problem(422);
    app.get("/api/v1/customers?cursor=%%%", &cs)
        .await
        .assert_problem(422);
    app.get("/api/v1/customers?cursor=bm90LWEtY3Vyc29y", &cs)
        .await
        .assert_problem(422);
    app.get(&format!("/api/v1/customers?q={}", "a".repeat(101)), &cs)
        .await
        .assert_problem(422);
    app.get(&format!("/api/v1/customers/{}", uuid::Uuid::now_v7()), &cs)
        .await
        .assert_problem(404);
    app.get("/api/v1/nothing-here", &cs)
        .await
        .assert_problem(404);
    app.call(Method::PUT, "/api/v1/customers", Some(&cs), Some(json!({})))
        .await
        .assert_problem(405);
    app.stop().await;
}

async fn idempotency_keys_replay_and_refuse_reuse(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let before = customer_count(&app, &cs).await;
    let send = |key: &'static str, body: serde_json::Value| {
        let request = app
            .client
            .post(app.url("/api/v1/customers"))
            .bearer_auth(&cs)
            .header("idempotency-key", key)
            .json(&body);
        async move { TestApp::read(request.send().await.unwrap()).await }
    };
    let body = json!({ "name": "Sekali Saja", "phone": "+6281300000001" });
    let first = send("key-1", body.clone()).await;
    assert_eq!(first.status, 201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = send("key-1", body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body, "the stored response");
    assert_eq!(customer_count(&app, &cs).await, before + 1, "one effect");
    let other = send(
        "key-1",
        json!({ "name": "Lain", "phone": "+6281300000002" }),
    )
    .await;
    assert_eq!(other.assert_problem(422), "idempotency-key-reused");
    // A failed request's response is replayed too: same key, same outcome.
    let bad = json!({ "name": "", "phone": "x" });
    send("key-2", bad.clone()).await.assert_problem(422);
    send("key-2", bad).await.assert_problem(422);
    assert_eq!(customer_count(&app, &cs).await, before + 1);
    app.stop().await;
}
