//! Console sessions: sign-in with its double-submit token, the session
//! cookie's attributes, CSRF on every form, revocation shared with the
//! API's device sessions, customers kept out, and the security headers.

use fieldops_tests::console::Browser;
use fieldops_tests::{Backend, TestApp, demo_account, on_both_backends};
use serde_json::json;

on_both_backends!(
    signing_in_sets_a_locked_down_cookie,
    forms_without_the_sessions_csrf_token_are_refused,
    signed_out_and_deactivated_sessions_lose_the_console,
    customers_cannot_open_the_console,
);

async fn signing_in_sets_a_locked_down_cookie(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut browser = Browser::new(&app);
    let home = browser.get("/dispatch").await;
    assert_eq!(home.status, 303, "signed out: to the sign-in page");
    assert_eq!(home.location(), "/sign-in?next=%2Fdispatch");

    // The sign-in form refuses a post without its double-submit token.
    let (email, password) = demo_account("cs");
    let bare = browser
        .post_raw("/sign-in", &[("email", email), ("password", password)])
        .await;
    assert_eq!(bare.status, 403, "{}", bare.html);
    assert!(bare.cookie("fieldops_console").is_none());

    let wrong = browser.sign_in(email, "not-the-password").await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.html.contains("E-mail atau kata sandi salah."),
        "in Bahasa Indonesia by default"
    );

    let answer = browser.sign_in(email, password).await;
    assert_eq!(answer.status, 303, "{}", answer.html);
    assert_eq!(answer.location(), "/");
    let cookie = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("fieldops_console="))
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP on loopback");

    // Behind a TLS proxy the cookie is Secure.
    let mut tls = Browser::new(&app);
    let form = tls.get("/sign-in").await;
    let token = form.csrf().unwrap();
    let request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/sign-in"))
        .header("x-forwarded-proto", "https")
        .header("cookie", format!("fieldops_signin={token}"))
        .form(&[
            ("_csrf", token.as_str()),
            ("email", email),
            ("password", password),
        ]);
    let secure = request.send().await.unwrap();
    let set: Vec<_> = secure
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("fieldops_console=") && c.contains("; Secure")),
        "{set:?}"
    );

    // Every console page forbids inline scripts and framing.
    let page = browser.get("/").await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(!page.html.contains("<script>"), "no inline script");
    assert!(!page.html.contains("style=\""), "no inline style");
    app.stop().await;
}

async fn forms_without_the_sessions_csrf_token_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let customer = fieldops_tests::fixtures::demo_customer(&app, &admin).await;
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let mut other = Browser::signed_in_as(&app, "admin").await;
    let visit = [
        ("customer_id", customer.as_str()),
        ("title", "Ganti MCB"),
        ("description", ""),
        ("address", "Jl. Jend. Sudirman Kav. 52-53"),
        ("lat", "-6.2251"),
        ("lon", "106.8097"),
        ("scheduled_start", &fieldops_tests::fixtures::local_date(1)),
        ("planned_days", "1"),
        ("technician_quota", "2"),
    ];
    let without = cs.post_raw("/dispatch/visits", &visit).await;
    assert_eq!(without.status, 403, "no token");
    assert!(
        without.html.contains("Permintaan ditolak"),
        "{}",
        without.html
    );
    let theirs = other.csrf.clone().unwrap();
    let mut forged = vec![("_csrf", theirs.as_str())];
    forged.extend_from_slice(&visit);
    let with_theirs = cs.post_raw("/dispatch/visits", &forged).await;
    assert_eq!(with_theirs.status, 403, "another session's token");
    // A cross-site form post, even with the right token, is refused.
    let token = cs.csrf.clone().unwrap();
    let request = reqwest::Client::new()
        .post(app.url("/dispatch/visits"))
        .header("origin", "https://attacker.example")
        .header(
            "cookie",
            cs.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .form(&[("_csrf", token.as_str()), ("title", "x")]);
    assert_eq!(request.send().await.unwrap().status(), 403);
    let listed = app.get("/api/v1/visits?limit=200", &admin).await;
    assert!(
        !listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["title"] == "Ganti MCB"),
        "nothing was written"
    );

    let created = cs.post("/dispatch/visits", &visit).await;
    assert_eq!(created.status, 303, "{}", created.html);
    assert!(
        created.location().starts_with("/dispatch?created="),
        "{}",
        created.location()
    );
    let created = cs.get(created.location()).await;
    assert!(
        created
            .html
            .contains("Kunjungan “Ganti MCB” sudah masuk pool."),
        "{}",
        created.html
    );
    let listed = app.get("/api/v1/visits?limit=200", &admin).await;
    let made = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["title"] == "Ganti MCB")
        .unwrap()
        .clone();
    assert_eq!(made["technician_quota"], 2);
    assert_eq!(made["status"], "open");
    // The htmx header carries the token as well as the form field does.
    let via_header = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/presence"))
        .header("x-csrf-token", token)
        .header(
            "cookie",
            cs.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .form(&[("presence", "busy")])
        .send()
        .await
        .unwrap();
    assert_eq!(via_header.status(), 303);
    let me = app.get("/api/v1/me", &app.login_as("cs").await).await;
    assert_eq!(me.body["user"]["presence"], "busy");
    let _ = other.get("/").await;
    app.stop().await;
}

async fn signed_out_and_deactivated_sessions_lose_the_console(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let mut cs = Browser::signed_in_as(&app, "cs").await;
    let kept = cs.cookies.clone();
    let out = cs.post("/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/sign-in");
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("fieldops_console=;") && c.contains("Max-Age=0"))
    );
    // The old cookie, replayed, no longer opens anything: its session ended.
    let mut replay = fieldops_tests::console::Browser::new(&app);
    replay.cookies = kept;
    assert_eq!(replay.get("/").await.status, 303);
    assert_eq!(replay.get("/events").await.status, 303);

    // A new CS account signed into the console, then deactivated.
    let made = app
        .post("/api/v1/users", &admin, json!({ "email": "cs7@example.com", "name": "Dewi", "role": "cs", "password": "password-7" }))
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let mut dewi = Browser::new(&app);
    assert_eq!(
        dewi.sign_in("cs7@example.com", "password-7").await.status,
        303
    );
    assert_eq!(dewi.get("/dispatch").await.status, 200);
    let id = made.body["id"].as_str().unwrap();
    let off = app
        .post(&format!("/api/v1/users/{id}/deactivate"), &admin, json!({}))
        .await;
    assert!(off.status.is_success(), "{:?}", off.body);
    assert_eq!(
        dewi.get("/dispatch").await.status,
        303,
        "deactivation signs the console out at once"
    );
    assert_eq!(dewi.get("/events").await.status, 303);
    app.stop().await;
}

async fn customers_cannot_open_the_console(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut browser = Browser::new(&app);
    browser.accept_language = Some("en-US,en;q=0.9".into());
    let (email, password) = demo_account("customer");
    let answer = browser.sign_in(email, password).await;
    assert_eq!(answer.status, 403);
    assert!(
        answer.html.contains("The console is for fieldops staff"),
        "{}",
        answer.html
    );
    assert!(answer.cookie("fieldops_console").is_none());
    assert_eq!(browser.get("/").await.status, 303);
    app.stop().await;
}
