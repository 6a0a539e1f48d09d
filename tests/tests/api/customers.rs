//! Customers: CRUD with soft delete and restore, search, filters, paging,
//! ownership, and the audit trail.

use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    a_soft_deleted_customer_cannot_sign_in_until_restored,
    cs_manage_customers_through_their_life,
    list_searches_filters_and_pages,
    customers_see_only_their_own_record,
    duplicate_phones_conflict_on_the_phone_field,
);

async fn cs_manage_customers_through_their_life(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let created = app
        .post("/api/v1/customers", &cs, json!({
            "name": "  Ibu Sari  ", "phone": "0812 7777 8888", "email": "Sari@Example.com",
            "address": "Jl. Diponegoro 5", "city": "Bandung", "location": { "lat": -6.9, "lon": 107.6 }
        }))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers["location"],
        format!("/api/v1/customers/{id}").as_str()
    );
    assert_eq!(created.body["name"], "Ibu Sari");
    assert_eq!(created.body["phone"], "+6281277778888");
    assert_eq!(created.body["email"], "sari@example.com");
    assert_eq!(created.body["status"], "active");
    assert_eq!(created.body["created_via"], "manual");
    let path = format!("/api/v1/customers/{id}");

    let patched = app
        .patch(
            &path,
            &cs,
            json!({ "email": null, "location": null, "city": "Cimahi" }),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["email"], serde_json::Value::Null);
    assert_eq!(patched.body["location"], serde_json::Value::Null);
    assert_eq!(patched.body["city"], "Cimahi");
    assert_eq!(patched.body["name"], "Ibu Sari", "untouched fields stay");

    let deleted = app
        .call(reqwest::Method::DELETE, &path, Some(&cs), None)
        .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["status"], "inactive");
    assert!(deleted.body["deactivated_at"].is_string());
    let still_there = app.get(&path, &cs).await;
    assert_eq!(
        still_there.body["status"], "inactive",
        "soft delete keeps the record"
    );

    let restored = app.post(&format!("{path}/restore"), &cs, json!({})).await;
    assert_eq!(restored.body["status"], "active");
    assert_eq!(restored.body["deactivated_at"], serde_json::Value::Null);

    let trail = fieldops_server::db::audit::trail(&app.server.state.db, "customer", &id)
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "customer.created",
            "customer.updated",
            "customer.deactivated",
            "customer.restored"
        ]
    );
    app.stop().await;
}

async fn list_searches_filters_and_pages(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    for i in 0..7 {
        let reply = app
            .post("/api/v1/customers", &cs, json!({ "name": format!("Bengkel Motor {i}"), "phone": format!("+62819000000{i:02}") }))
            .await;
        assert_eq!(reply.status, 201);
    }
    let names = |reply: &fieldops_tests::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let found = app
        .get("/api/v1/customers?q=bengkel%20motor&limit=200", &cs)
        .await;
    assert_eq!(names(&found).len(), 7);
    let by_phone = app.get("/api/v1/customers?q=0819-0000-0003", &cs).await;
    assert_eq!(names(&by_phone), ["Bengkel Motor 3"]);
    let none = app
        .get(
            "/api/v1/customers?q=%27%3B%20DROP%20TABLE%20customers%3B--",
            &cs,
        )
        .await;
    assert_eq!(none.status, 200);
    assert!(names(&none).is_empty());

    // 6 demo customers + 7 new ones, three at a time, each once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(&format!("/api/v1/customers?limit=3&cursor={cursor}"), &cs)
            .await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        seen.extend(names(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 13);
    assert_eq!(seen[0], "Bengkel Motor 6", "newest first");

    let first = app
        .get("/api/v1/customers?q=Bengkel%20Motor%200", &cs)
        .await;
    let id = first.body["items"][0]["id"].as_str().unwrap().to_owned();
    app.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/customers/{id}"),
        Some(&cs),
        None,
    )
    .await;
    let inactive = app.get("/api/v1/customers?status=inactive", &cs).await;
    assert_eq!(names(&inactive), ["Bengkel Motor 0"]);
    let active = app
        .get("/api/v1/customers?status=active&limit=200", &cs)
        .await;
    assert_eq!(names(&active).len(), 12);
    app.stop().await;
}

async fn customers_see_only_their_own_record(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let customer = app.login_as("customer").await;
    let me = app.get("/api/v1/me", &customer).await;
    let own = me.body["customer"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/api/v1/customers/{own}"), &customer)
            .await
            .status,
        200
    );
    let cs = app.login_as("cs").await;
    let list = app.get("/api/v1/customers?q=Hotel", &cs).await;
    let other = list.body["items"][0]["id"].as_str().unwrap();
    app.get(&format!("/api/v1/customers/{other}"), &customer)
        .await
        .assert_problem(403);
    app.get("/api/v1/customers", &customer)
        .await
        .assert_problem(403);
    app.patch(
        &format!("/api/v1/customers/{own}"),
        &customer,
        json!({ "name": "Hacked" }),
    )
    .await
    .assert_problem(403);
    app.stop().await;
}

async fn duplicate_phones_conflict_on_the_phone_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let dup = app
        .post(
            "/api/v1/customers",
            &cs,
            json!({ "name": "Copy", "phone": "081210000002" }),
        )
        .await;
    assert_eq!(dup.assert_problem(409), "duplicate");
    assert_eq!(dup.body["errors"][0]["field"], "phone");
    let list = app.get("/api/v1/customers?q=Hotel", &cs).await;
    let id = list.body["items"][0]["id"].as_str().unwrap();
    let clash = app
        .patch(
            &format!("/api/v1/customers/{id}"),
            &cs,
            json!({ "phone": "+6281210000002" }),
        )
        .await;
    assert_eq!(clash.assert_problem(409), "duplicate");
    let unchanged = app.get(&format!("/api/v1/customers/{id}"), &cs).await;
    assert_eq!(unchanged.body["phone"], "+6281210000006");
    app.stop().await;
}

/// Soft-deleting a customer switches their app account off at once (its
/// sessions end; the right password is told the account is inactive), and
/// restoring the record brings the account back.
async fn a_soft_deleted_customer_cannot_sign_in_until_restored(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let me = app.login_full("customer@example.com", "customer123").await;
    let token = me["access_token"].as_str().unwrap();
    let record = app.get("/api/v1/me", token).await.body["user"]["customer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/customers/{record}");
    let deleted = app
        .call(reqwest::Method::DELETE, &path, Some(&cs), None)
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);

    // Inactive everywhere, and told so plainly (403 `account-inactive`).
    assert_eq!(
        app.get("/api/v1/me", token).await.assert_problem(403),
        "account-inactive"
    );
    let refused = app
        .post(
            "/api/v1/tickets",
            token,
            json!({ "subject": "Internet mati", "description": "Sejak pagi", "category": "technical" }),
        )
        .await;
    assert_eq!(refused.assert_problem(403), "account-inactive");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("inactive"),
        "{:?}",
        refused.body
    );
    let chat = app
        .post("/api/v1/conversations", token, json!({ "message": "Halo" }))
        .await;
    assert_eq!(chat.assert_problem(403), "account-inactive");
    // The phone's sync session is refused with the same words.
    let (mut phone, first) =
        fieldops_tests::device::Device::connect(app.server.addr, token, 0).await;
    let Some(fieldops_sync::protocol::ServerMessage::Error(e)) = first.first() else {
        panic!("the session is refused: {first:?}")
    };
    assert_eq!(e.code, fieldops_sync::protocol::ErrorCode::Unauthorized);
    assert!(e.message.contains("inactive"), "{e:?}");
    drop(phone.socket.close(None).await);
    let login = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "customer@example.com", "password": "customer123" })),
        )
        .await;
    assert_eq!(login.assert_problem(403), "account-inactive");
    // Nor does CS open a ticket for the deleted record.
    let for_them =
        json!({ "subject": "Internet mati", "category": "technical", "customer_id": record });
    let refused = app.post("/api/v1/tickets", &cs, for_them.clone()).await;
    refused.assert_problem(422);
    assert_eq!(refused.body["errors"][0]["field"], "customer_id");

    let restored = app.post(&format!("{path}/restore"), &cs, json!({})).await;
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    let opened = app.post("/api/v1/tickets", &cs, for_them).await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let again = app.login("customer@example.com", "customer123").await;
    assert_eq!(app.get("/api/v1/me", &again).await.status, 200);
    app.stop().await;
}
