//! User management: who may create and change whom, role escalation, the
//! last admin, password resets and presence.

use fieldops_tests::fixtures::department_id;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    admins_create_staff_and_cs_create_technicians,
    role_escalation_is_refused_and_changes_nothing,
    the_last_admin_cannot_be_demoted_or_deactivate_themselves,
    password_resets_end_sessions,
    presence_and_own_password,
    user_list_filters,
);

async fn admins_create_staff_and_cs_create_technicians(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let field = department_id(&app, &admin, "Field Service").await;
    let new_cs = app
        .post("/api/v1/users", &admin, json!({ "email": "cs2@example.com", "name": "Rudi", "role": "cs", "password": "password-1" }))
        .await;
    assert_eq!(new_cs.status, 201, "{:?}", new_cs.body);
    let tech = app
        .post("/api/v1/users", &cs, json!({
            "email": "tech9@example.com", "name": "Yusuf", "role": "technician", "password": "password-1",
            "phone": "0812-9999-0000", "department_ids": [field]
        }))
        .await;
    assert_eq!(tech.status, 201, "{:?}", tech.body);
    assert_eq!(tech.body["phone"], "+6281299990000");
    assert_eq!(tech.body["department_ids"], json!([field]));
    app.login("tech9@example.com", "password-1").await;

    app.post("/api/v1/users", &cs, json!({ "email": "boss@example.com", "name": "B", "role": "admin", "password": "password-1" }))
        .await
        .assert_problem(403);
    // CS enrol a new CS colleague too (seed 003), but no other role.
    let colleague = app
        .post("/api/v1/users", &cs, json!({ "email": "cs3@example.com", "name": "Sari", "role": "cs", "password": "password-1" }))
        .await;
    assert_eq!(colleague.status, 201, "{:?}", colleague.body);
    assert_eq!(colleague.body["role"], "cs");
    app.login("cs3@example.com", "password-1").await;
    app.post("/api/v1/users", &cs, json!({ "email": "sales9@example.com", "name": "S", "role": "sales", "password": "password-1" }))
        .await
        .assert_problem(403);
    let dup = app
        .post("/api/v1/users", &admin, json!({ "email": "CS@example.com", "name": "B", "role": "cs", "password": "password-1" }))
        .await;
    assert_eq!(dup.body["errors"][0]["field"], "email");
    dup.assert_problem(409);
    let customer = app
        .post("/api/v1/users", &admin, json!({ "email": "c9@example.com", "name": "C", "role": "customer", "password": "password-1" }))
        .await;
    assert_eq!(customer.body["errors"][0]["field"], "role");
    let unknown_dept = app
        .post("/api/v1/users", &admin, json!({
            "email": "t10@example.com", "name": "T", "role": "technician", "password": "password-1",
            "department_ids": [uuid::Uuid::now_v7()]
        }))
        .await;
    assert_eq!(unknown_dept.body["errors"][0]["field"], "department_ids");
    unknown_dept.assert_problem(422);
    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "t10@example.com", "password": "password-1" })),
        )
        .await;
    login.assert_problem(401); // nothing half-created
    app.stop().await;
}

async fn role_escalation_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech_login = app.login_full("tech1@example.com", "tech123").await;
    let tech = tech_login["access_token"].as_str().unwrap();
    let tech_id = tech_login["user"]["id"].as_str().unwrap();
    let cs_id = app.get("/api/v1/me", &cs).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/users/{tech_id}");

    app.patch(&path, &cs, json!({ "role": "admin" }))
        .await
        .assert_problem(403);
    // Role changes are the admin's alone, even to a role CS may enrol.
    app.patch(&path, &cs, json!({ "role": "cs" }))
        .await
        .assert_problem(403);
    app.patch(&path, tech, json!({ "role": "admin" }))
        .await
        .assert_problem(403);
    app.patch(
        &format!("/api/v1/users/{cs_id}"),
        &cs,
        json!({ "role": "admin" }),
    )
    .await
    .assert_problem(403);
    let unknown = app
        .patch(&path, &cs, json!({ "name": "Budi", "is_admin": true }))
        .await;
    unknown.assert_problem(422);
    let bad_role = app.patch(&path, &cs, json!({ "role": "root" })).await;
    bad_role.assert_problem(422);
    let after = app.get(&path, &cs).await;
    assert_eq!(after.body["role"], "technician");
    assert_eq!(after.body["name"], "Budi Hartono");

    let ok = app
        .patch(
            &path,
            &cs,
            json!({ "name": "Budi H.", "phone": "+6281288880000" }),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["name"], "Budi H.");
    let cleared = app.patch(&path, &cs, json!({ "phone": null })).await;
    assert_eq!(cleared.body["phone"], serde_json::Value::Null);
    app.stop().await;
}

async fn the_last_admin_cannot_be_demoted_or_deactivate_themselves(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_full("admin@example.com", "admin123").await;
    let token = admin["access_token"].as_str().unwrap();
    let id = admin["user"]["id"].as_str().unwrap();
    let demote = app
        .patch(
            &format!("/api/v1/users/{id}"),
            token,
            json!({ "role": "cs" }),
        )
        .await;
    assert_eq!(demote.assert_problem(409), "last-admin");
    let deactivate = app
        .post(&format!("/api/v1/users/{id}/deactivate"), token, json!({}))
        .await;
    assert_eq!(deactivate.assert_problem(409), "cannot-deactivate-self");
    assert_eq!(
        app.get("/api/v1/me", token).await.body["user"]["role"],
        "admin"
    );
    app.stop().await;
}

async fn password_resets_end_sessions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech = app.login_full("tech3@example.com", "tech123").await;
    let id = tech["user"]["id"].as_str().unwrap();
    let reset = app
        .post(
            &format!("/api/v1/users/{id}/reset-password"),
            &cs,
            json!({}),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    let temporary = reset.body["temporary_password"].as_str().unwrap();
    assert_eq!(temporary.len(), 12);
    app.get("/api/v1/me", tech["access_token"].as_str().unwrap())
        .await
        .assert_problem(401);
    app.login("tech3@example.com", temporary).await;
    let chosen = app
        .post(
            &format!("/api/v1/users/{id}/reset-password"),
            &cs,
            json!({ "password": "new-password-1" }),
        )
        .await;
    assert_eq!(chosen.body["temporary_password"], serde_json::Value::Null);
    app.login("tech3@example.com", "new-password-1").await;
    let short = app
        .post(
            &format!("/api/v1/users/{id}/reset-password"),
            &cs,
            json!({ "password": "short" }),
        )
        .await;
    short.assert_problem(422);
    app.login("tech3@example.com", "new-password-1").await;
    // CS may not reset an admin's password.
    let admin_id = app
        .get("/api/v1/me", &app.login_as("admin").await)
        .await
        .body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/api/v1/users/{admin_id}/reset-password"),
        &cs,
        json!({}),
    )
    .await
    .assert_problem(403);
    // Nor may an admin reset their own without the current password: that
    // goes through /me/password.
    let admin = app.login_as("admin").await;
    let own = app
        .post(
            &format!("/api/v1/users/{admin_id}/reset-password"),
            &admin,
            json!({ "password": "taken-over-1" }),
        )
        .await;
    assert_eq!(own.assert_problem(409), "own-password");
    app.login_as("admin").await;
    app.stop().await;
}

async fn presence_and_own_password(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let set = app
        .call(
            Method::PUT,
            "/api/v1/me/status",
            Some(&cs),
            Some(json!({ "status": "available" })),
        )
        .await;
    assert_eq!(set.status, 200);
    assert_eq!(set.body["presence"], "available");
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/me/status",
            Some(&cs),
            Some(json!({ "status": "sleeping" })),
        )
        .await;
    bad.assert_problem(422);
    let customer = app.login_as("customer").await;
    app.call(
        Method::PUT,
        "/api/v1/me/status",
        Some(&customer),
        Some(json!({ "status": "available" })),
    )
    .await
    .assert_problem(403);

    let other_device = app.login_as("cs").await;
    let wrong = app
        .post(
            "/api/v1/me/password",
            &cs,
            json!({ "current_password": "nope", "new_password": "brand-new-pass" }),
        )
        .await;
    assert_eq!(wrong.body["errors"][0]["field"], "current_password");
    let changed = app
        .post(
            "/api/v1/me/password",
            &cs,
            json!({ "current_password": "cs123", "new_password": "brand-new-pass" }),
        )
        .await;
    assert_eq!(changed.status, 204, "{:?}", changed.body);
    assert_eq!(
        app.get("/api/v1/me", &cs).await.status,
        200,
        "this session stays"
    );
    app.get("/api/v1/me", &other_device)
        .await
        .assert_problem(401);
    app.login("cs@example.com", "brand-new-pass").await;
    app.stop().await;
}

async fn user_list_filters(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let techs = app.get("/api/v1/users?role=technician", &cs).await;
    assert_eq!(techs.body["items"].as_array().unwrap().len(), 5);
    let field = department_id(&app, &cs, "Field Service").await;
    let members = app
        .get(&format!("/api/v1/users?department_id={field}&limit=2"), &cs)
        .await;
    assert_eq!(members.body["items"].as_array().unwrap().len(), 2);
    assert!(members.body["next_cursor"].is_string());
    let search = app.get("/api/v1/users?q=dewi", &cs).await;
    assert_eq!(search.body["items"][0]["email"], "tech2@example.com");
    let wizard = app.get("/api/v1/users?role=wizard", &cs).await;
    assert_eq!(wizard.assert_problem(422), "validation");
    assert_eq!(wizard.body["errors"][0]["field"], "role");
    app.stop().await;
}
