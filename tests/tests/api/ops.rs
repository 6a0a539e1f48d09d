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
