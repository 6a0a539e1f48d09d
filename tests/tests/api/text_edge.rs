//! Text at the edge: NUL and other control characters are refused wherever
//! they arrive — any JSON field, any query parameter — with a 422 naming the
//! field, never a 500 (PostgreSQL cannot store NUL) and never a partial
//! write; names refuse the invisible characters that disguise them.

use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    control_characters_in_queries_are_named_not_500,
    control_characters_in_bodies_are_named_and_write_nothing,
    names_refuse_disguises,
);

async fn control_characters_in_queries_are_named_not_500(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    // The probe's requests, each a 500 on Postgres before.
    for (path, field) in [
        ("/api/v1/customers?q=%00", "q"),
        ("/api/v1/users?q=%00", "q"),
        ("/api/v1/conversations?q=%00", "q"),
        ("/api/v1/tickets?category=%00", "category"),
        ("/api/v1/tickets?search=a%01b", "search"),
        ("/api/v1/visits?status=open%7F", "status"),
    ] {
        let reply = app.get(path, &admin).await;
        assert_eq!(reply.assert_problem(422), "validation", "{path}");
        assert_eq!(reply.body["errors"][0]["field"], field, "{path}");
    }
    // Text that only looks odd is fine.
    let fine = app.get("/api/v1/customers?q=%C3%A9", &admin).await;
    assert_eq!(fine.status, 200);
    app.stop().await;
}

async fn control_characters_in_bodies_are_named_and_write_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let count = |token: String| {
        let app = &app;
        async move {
            app.get("/api/v1/customers?limit=200", &token).await.body["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    let before = count(cs.clone()).await;
    for (body, field) in [
        (
            json!({ "name": "Budi\u{0}", "phone": "+6281300000301" }),
            "name",
        ),
        (
            json!({ "name": "Budi", "phone": "+6281300000302", "address": "Jl. \u{1b}[31mMerah" }),
            "address",
        ),
        (
            json!({ "name": "Budi", "phone": "+6281300000303", "location": { "lat": 1.0, "lon": 2.0, "note\u{0}": 1 } }),
            "location",
        ),
    ] {
        let reply = app.post("/api/v1/customers", &cs, body).await;
        assert_eq!(reply.assert_problem(422), "validation");
        assert_eq!(reply.body["errors"][0]["field"], field);
    }
    assert_eq!(count(cs.clone()).await, before, "nothing was written");
    // Fields that were stored raw before: the device name of a sign-in.
    let login = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "cs@example.com", "password": "cs123", "device_name": "Pixel\u{0}8" })),
        )
        .await;
    assert_eq!(login.assert_problem(422), "validation");
    assert_eq!(login.body["errors"][0]["field"], "device_name");
    // Line breaks and tabs in running text are text.
    let customer = app.get("/api/v1/customers?limit=1", &cs).await.body["items"][0]["id"].clone();
    let ticket = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "customer_id": customer, "subject": "Pompa mati",
                    "description": "Baris 1\n\tBaris 2", "category": "technical" }),
        )
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    assert_eq!(ticket.body["description"], "Baris 1\n\tBaris 2");
    app.stop().await;
}

async fn names_refuse_disguises(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    for name in [
        "Budi\u{202E}nimdA",
        "Bu\u{200B}di",
        "\u{FEFF}Admin",
        "Budi\nAdmin",
    ] {
        let customer = app
            .post(
                "/api/v1/customers",
                &admin,
                json!({ "name": name, "phone": "+6281300000310" }),
            )
            .await;
        assert_eq!(customer.assert_problem(422), "validation", "{name:?}");
        assert_eq!(customer.body["errors"][0]["field"], "name");
        let user = app
            .post(
                "/api/v1/users",
                &admin,
                json!({ "email": "nama@example.com", "name": name, "role": "cs", "password": "rahasia123" }),
            )
            .await;
        assert_eq!(user.assert_problem(422), "validation", "{name:?}");
    }
    let fine = app
        .post(
            "/api/v1/customers",
            &admin,
            json!({ "name": "Siti Nurhaliza", "phone": "+6281300000311" }),
        )
        .await;
    assert_eq!(fine.status, 201);
    app.stop().await;
}
