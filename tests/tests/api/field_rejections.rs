//! Bad input on the field routes: each a typed rejection, nothing written.

use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

use fieldops_tests::fixtures::{demo_customer, new_visit};

on_both_backends!(bad_field_requests_are_typed_and_write_nothing);

/// Rows in every table the field routes write.
async fn footprint(app: &TestApp) -> Vec<i64> {
    let db = &app.server.state.db;
    let mut counts = Vec::new();
    for table in [
        "visits",
        "assignments",
        "attendance",
        "extension_requests",
        "audit_log",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(db.pool())
                .await
                .unwrap();
        counts.push(n);
    }
    let seats: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(seats_taken), 0) AS BIGINT) FROM visits")
            .fetch_one(db.pool())
            .await
            .unwrap();
    counts.push(seats);
    counts
}

async fn bad_field_requests_are_typed_and_write_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech = app.login_as("technician").await;
    let tech2 = app.login("tech2@example.com", "tech123").await;
    let customer = demo_customer(&app, &cs).await;
    let open = new_visit(&app, &cs, &customer, "Terbuka", "2030-07-01", 1, 2).await;
    let open_path = format!("/api/v1/visits/{}", open["id"].as_str().unwrap());
    let cancelled = new_visit(&app, &cs, &customer, "Batal", "2030-07-02", 1, 1).await;
    let cancelled_path = format!("/api/v1/visits/{}", cancelled["id"].as_str().unwrap());
    app.post(
        &format!("{cancelled_path}/cancel"),
        &cs,
        json!({ "reason": "batal" }),
    )
    .await;
    let claimed = app
        .post(&format!("{open_path}/claim"), &tech, json!({}))
        .await;
    assert_eq!(claimed.status, 200);
    let position = json!({ "device_time": "2026-01-02T08:00:00+07:00", "lat": -6.2251, "lon": 106.8097, "accuracy_m": 5.0 });
    let before = footprint(&app).await;

    let unknown = "/api/v1/visits/0190a1b2-0000-7000-8000-000000000000";
    assert_eq!(
        app.post(&format!("{unknown}/claim"), &tech, json!({}))
            .await
            .assert_problem(404),
        "not-found"
    );
    assert_eq!(
        app.post(&format!("{unknown}/check-in"), &tech, position.clone())
            .await
            .assert_problem(404),
        "not-found"
    );
    app.post("/api/v1/visits/not-a-uuid/claim", &tech, json!({}))
        .await
        .assert_problem(404);
    assert_eq!(
        app.post(&format!("{cancelled_path}/claim"), &tech, json!({}))
            .await
            .assert_problem(409),
        "cancelled"
    );
    // Check-in without holding the visit.
    assert_eq!(
        app.post(&format!("{open_path}/check-in"), &tech2, position.clone())
            .await
            .assert_problem(409),
        "not_assigned"
    );
    assert_eq!(
        app.post(&format!("{open_path}/check-out"), &tech, position.clone())
            .await
            .assert_problem(409),
        "not_checked_in"
    );
    // Coordinates, accuracy and times out of range.
    for (field, body) in [
        (
            "lat",
            json!({ "device_time": "2026-01-02T08:00:00Z", "lat": 91.0, "lon": 106.8, "accuracy_m": 5.0 }),
        ),
        (
            "lon",
            json!({ "device_time": "2026-01-02T08:00:00Z", "lat": -6.2, "lon": -180.5, "accuracy_m": 5.0 }),
        ),
        (
            "accuracy_m",
            json!({ "device_time": "2026-01-02T08:00:00Z", "lat": -6.2, "lon": 106.8, "accuracy_m": -3.0 }),
        ),
        (
            "device_time",
            json!({ "device_time": "kemarin", "lat": -6.2, "lon": 106.8, "accuracy_m": 5.0 }),
        ),
        (
            "device_time",
            json!({ "device_time": "2099-01-01T00:00:00Z", "lat": -6.2, "lon": 106.8, "accuracy_m": 5.0 }),
        ),
    ] {
        let reply = app
            .post(&format!("{open_path}/check-in"), &tech, body)
            .await;
        assert_eq!(reply.assert_problem(422), "validation");
        assert_eq!(reply.body["errors"][0]["field"], field, "{:?}", reply.body);
    }
    // Absurd extension days and empty reasons.
    for days in [0, -5, 31, 1000] {
        let reply = app
            .post(
                &format!("{open_path}/extensions"),
                &tech,
                json!({ "extra_days": days, "reason": "lama" }),
            )
            .await;
        assert_eq!(reply.assert_problem(422), "validation", "{days}");
        assert_eq!(reply.body["errors"][0]["field"], "extra_days");
    }
    app.post(
        &format!("{open_path}/extensions"),
        &tech,
        json!({ "extra_days": 2, "reason": "  " }),
    )
    .await
    .assert_problem(422);
    app.post(
        &format!("{open_path}/extensions"),
        &tech,
        json!({ "extra_days": "dua", "reason": "x" }),
    )
    .await
    .assert_problem(422);
    // Bad visit bodies.
    for body in [
        json!({ "customer_id": customer, "title": "x", "site": { "address": "a", "lat": 100.0, "lon": 0.0 }, "scheduled_start": "2030-01-01", "technician_quota": 1 }),
        json!({ "customer_id": customer, "title": "x", "site": { "address": "a", "lat": 0.0, "lon": 0.0 }, "scheduled_start": "01/01/2030", "technician_quota": 1 }),
        json!({ "customer_id": customer, "title": "x", "site": { "address": "a", "lat": 0.0, "lon": 0.0 }, "scheduled_start": "2030-01-01", "technician_quota": 0 }),
        json!({ "customer_id": "0190a1b2-0000-7000-8000-000000000000", "title": "x", "site": { "address": "a", "lat": 0.0, "lon": 0.0 }, "scheduled_start": "2030-01-01", "technician_quota": 1 }),
        json!({ "customer_id": customer, "title": "x", "site": { "address": "a", "lat": 0.0, "lon": 0.0 }, "scheduled_start": "2030-01-01", "technician_quota": 1, "seats_taken": 5 }),
    ] {
        app.post("/api/v1/visits", &cs, body)
            .await
            .assert_problem(422);
    }
    app.get("/api/v1/visits?near=91,200", &cs)
        .await
        .assert_problem(422);
    app.get("/api/v1/visits?from=besok", &cs)
        .await
        .assert_problem(422);
    // Only technicians claim; only CS decide.
    app.post(&format!("{open_path}/claim"), &cs, json!({}))
        .await
        .assert_problem(403);
    let asked = app
        .post(
            &format!("{open_path}/extensions"),
            &tech,
            json!({ "extra_days": 3, "reason": "Cuaca buruk" }),
        )
        .await;
    assert_eq!(asked.status, 201);
    let before = {
        let mut b = before;
        b[3] += 1; // the request just filed
        b[4] += 1; // and its audit record
        b
    };
    let ext = asked.body["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/extensions/{ext}/approve"),
        &tech,
        json!({}),
    )
    .await
    .assert_problem(403);
    app.post(
        &format!("/api/v1/extensions/{ext}/reject"),
        &tech2,
        json!({}),
    )
    .await
    .assert_problem(403);
    app.get("/api/v1/extensions", &tech)
        .await
        .assert_problem(403);
    app.post(
        "/api/v1/extensions/0190a1b2-0000-7000-8000-000000000000/approve",
        &cs,
        json!({}),
    )
    .await
    .assert_problem(404);
    let assignment = claimed.body["assignment_id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/assignments/{assignment}/return-to-pool"),
        &tech,
        json!({ "reason": "x" }),
    )
    .await
    .assert_problem(403);
    app.post(
        "/api/v1/assignments/0190a1b2-0000-7000-8000-000000000000/return-to-pool",
        &cs,
        json!({ "reason": "x" }),
    )
    .await
    .assert_problem(404);

    assert_eq!(
        footprint(&app).await,
        before,
        "a rejected request wrote something"
    );
    let pending = app
        .get(
            &format!(
                "/api/v1/extensions?status=pending&visit_id={}",
                open["id"].as_str().unwrap()
            ),
            &cs,
        )
        .await;
    assert_eq!(pending.body["items"][0]["status"], "pending");
    assert_eq!(app.get(&open_path, &cs).await.body["planned_days"], 1);
    app.stop().await;
}
