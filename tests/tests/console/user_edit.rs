//! A colleague's account in the console: an admin moves a technician into
//! CS and another department (the API then says so, and the colleague's
//! scope follows); CS may edit a technician's profile but not give a role,
//! nor open an admin's account; a refused form keeps what was typed.

use fieldops_tests::console::Browser;
use fieldops_tests::fixtures::department_id;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(admins_change_roles_and_departments_cs_only_profiles);

async fn admins_change_roles_and_departments_cs_only_profiles(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin_token = app.login_as("admin").await;
    let field = department_id(&app, &admin_token, "Field Service").await;
    let help = department_id(&app, &admin_token, "Customer Service").await;
    let made = app
        .post(
            "/api/v1/users",
            &admin_token,
            json!({ "email": "rina@example.com", "name": "Rina", "role": "technician",
                    "password": "password-9", "department_ids": [field] }),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let rina = made.body["id"].as_str().unwrap().to_owned();
    let path = format!("/users/{rina}");

    let mut admin = Browser::signed_in_as(&app, "admin").await;
    let list = admin.get("/users").await;
    assert!(
        list.html.contains(&format!("href=\"{path}\"")),
        "{}",
        list.html
    );
    let page = admin.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("name=\"role\""),
        "admins choose the role"
    );
    let bad = admin
        .post(
            &path,
            &[
                ("name", "Rina Wati"),
                ("phone", "bukan nomor"),
                ("role", "cs"),
                ("department_ids", &help),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.html);
    assert!(
        bad.html.contains("value=\"Rina Wati\""),
        "typed values kept"
    );
    let saved = admin
        .post(
            &path,
            &[
                ("name", "Rina Wati"),
                ("phone", "0812-3333-4444"),
                ("role", "cs"),
                ("department_ids", &help),
                ("department_ids", &field),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let user = app
        .get(&format!("/api/v1/users/{rina}"), &admin_token)
        .await;
    assert_eq!(user.body["role"], "cs");
    assert_eq!(user.body["name"], "Rina Wati");
    assert_eq!(user.body["phone"], "+6281233334444");
    let mut departments: Vec<String> = user.body["department_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    departments.sort();
    let mut expected = vec![help.clone(), field.clone()];
    expected.sort();
    assert_eq!(departments, expected);

    // CS edit a technician's profile but give no role, and may not open
    // an admin's or another CS agent's account.
    let tech = app
        .post(
            "/api/v1/users",
            &admin_token,
            json!({ "email": "agus@example.com", "name": "Agus", "role": "technician",
                    "password": "password-9", "department_ids": [field] }),
        )
        .await;
    let agus = tech.body["id"].as_str().unwrap().to_owned();
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let page = cs.get(&format!("/users/{agus}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.html.contains("name=\"role\""), "{}", page.html);
    let promoted = cs
        .post(
            &format!("/users/{agus}"),
            &[("name", "Agus"), ("role", "admin")],
        )
        .await;
    assert_eq!(promoted.status, 403, "CS give no role");
    let renamed = cs
        .post(
            &format!("/users/{agus}"),
            &[("name", "Agus Salim"), ("department_ids", &field)],
        )
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.html);
    let agus_now = app
        .get(&format!("/api/v1/users/{agus}"), &admin_token)
        .await;
    assert_eq!(agus_now.body["name"], "Agus Salim");
    assert_eq!(agus_now.body["role"], "technician");
    assert_eq!(cs.get(&path).await.status, 403, "Rina is CS now");
    let admin_id = app.get("/api/v1/me", &admin_token).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(cs.get(&format!("/users/{admin_id}")).await.status, 403);
    // Nobody edits their own account here.
    assert_eq!(admin.get(&format!("/users/{admin_id}")).await.status, 403);
    app.stop().await;
}
