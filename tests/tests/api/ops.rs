//! Health, readiness, metrics, request ids and the OpenAPI document.

use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;

on_both_backends!(ops_endpoints_answer);

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
