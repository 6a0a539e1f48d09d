//! Health, readiness, metrics, request ids and the OpenAPI document.

use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;

on_both_backends!(
    ops_endpoints_answer,
    browsers_get_cors_only_from_configured_origins
);

async fn ops_endpoints_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let health = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.body["status"], "ok");
    assert!(health.headers.contains_key("x-request-id"));
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.body["status"], "ready");
    let spec = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(spec.body["openapi"], "3.1.0");
    assert!(spec.body["paths"]["/api/v1/customers/{id}"]["patch"].is_object());
    assert!(spec.body["components"]["securitySchemes"]["bearer"].is_object());
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(
            r#"fieldops_http_requests_total{method="GET",route="/readyz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("fieldops_http_request_duration_seconds_bucket"));
    app.stop().await;
}

/// Postgres connections are pinged only after a second idle (not on every
/// acquire), so a pool whose connections the server closed — a restart, an
/// idle timeout — must still answer: the ping finds them dead and the pool
/// opens new ones.
#[tokio::test]
async fn postgres_connections_closed_while_idle_are_replaced() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let pool = app.server.state.db.pool();
    // Hold every reader connection at once to learn their server pids.
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    let mut pids = Vec::new();
    for conn in &mut held {
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        pids.push(pid);
    }
    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let killer = fieldops_server::db::Db::connect(&fieldops_tests::postgres_base_url())
        .await
        .unwrap();
    for pid in &pids {
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(*pid)
            .fetch_one(killer.pool())
            .await
            .unwrap();
        assert!(killed);
    }
    for _ in 0..pids.len() {
        let ready = app.call(Method::GET, "/readyz", None, None).await;
        assert_eq!(ready.status, 200, "{:?}", ready.body);
    }
    app.stop().await;
}

/// A console served from another origin may call the API only when that
/// origin is configured; without configuration no CORS header is sent at
/// all, so browsers refuse cross-origin calls.
async fn browsers_get_cors_only_from_configured_origins(backend: Backend) {
    const CONSOLE: &str = "https://console.example.co.id";
    let preflight = async |app: &TestApp, origin: &str| {
        reqwest::Client::new()
            .request(Method::OPTIONS, app.url("/api/v1/tickets"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, idempotency-key",
            )
            .send()
            .await
            .unwrap()
    };
    let allowed = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(
        allowed(&preflight(&app, CONSOLE).await),
        None,
        "off by default"
    );
    app.stop().await;

    let Some(app) =
        TestApp::spawn_with(backend, |c| c.cors_origins = vec![CONSOLE.to_owned()]).await
    else {
        return;
    };
    let ok = preflight(&app, CONSOLE).await;
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(allowed(&ok).as_deref(), Some(CONSOLE));
    let methods = ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let headers = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(headers.contains("idempotency-key"), "{headers}");
    assert_eq!(
        allowed(&preflight(&app, "https://evil.example.com").await),
        None
    );
    // A real call from the console carries the header too.
    let token = app.login_as("cs").await;
    let list = reqwest::Client::new()
        .get(app.url("/api/v1/tickets"))
        .header("origin", CONSOLE)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    assert_eq!(allowed(&list).as_deref(), Some(CONSOLE));
    app.stop().await;
}
