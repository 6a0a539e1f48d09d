//! Login, refresh rotation and reuse detection, logout, registration, and tokens
//! that are expired, forged or absent.

use fieldops_tests::{Backend, TestApp, on_both_backends};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    login_issues_tokens_and_rejects_bad_credentials,
    refresh_rotates_and_reuse_revokes_the_session,
    logout_ends_the_session,
    registration_creates_a_customer_account,
    bad_tokens_are_rejected,
    deactivated_accounts_lose_access_at_once,
    cached_callers_end_with_their_account,
    caller_misses_that_arrive_together_share_one_read,
    guessing_a_named_account_slows_the_guesser_not_the_owner,
    clients_behind_a_trusted_proxy_are_throttled_apart,
    parallel_sign_ins_from_one_office_are_never_refused,
);

async fn login_issues_tokens_and_rejects_bad_credentials(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = app.login_full("ADMIN@example.com", "admin123").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["role"], "admin");
    assert!(body["user"].get("password_hash").is_none());
    let me = app
        .get("/api/v1/me", body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.body["user"]["email"], "admin@example.com");
    assert!(me.body["user"]["last_login_at"].is_string());

    for (email, password) in [
        ("admin@example.com", "wrong"),
        ("nobody@example.com", "admin123"),
        ("not an email", "x"),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(reply.assert_problem(401), "unauthorized");
        assert_eq!(
            reply.body["detail"], "invalid e-mail or password",
            "same answer either way"
        );
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }
    app.stop().await;
}

async fn refresh_rotates_and_reuse_revokes_the_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let first = app.login_full("cs@example.com", "cs123").await;
    let refresh = |token: &str| {
        app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": token })),
        )
    };
    let second = refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_ne!(second.body["refresh_token"], first["refresh_token"]);
    let access = second.body["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", access).await.status, 200);

    // The first refresh token again: a replay, so the whole session ends.
    let replay = refresh(first["refresh_token"].as_str().unwrap()).await;
    replay.assert_problem(401);
    assert_eq!(
        app.get("/api/v1/me", access).await.status,
        401,
        "session revoked"
    );
    refresh(second.body["refresh_token"].as_str().unwrap())
        .await
        .assert_problem(401);
    refresh("made-up").await.assert_problem(401);

    // Another device's session is untouched.
    let other = app.login("cs@example.com", "cs123").await;
    assert_eq!(app.get("/api/v1/me", &other).await.status, 200);
    app.stop().await;
}

async fn logout_ends_the_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let tokens = app.login_full("tech1@example.com", "tech123").await;
    let access = tokens["access_token"].as_str().unwrap();
    let out = app
        .call(Method::POST, "/api/v1/auth/logout", Some(access), None)
        .await;
    assert_eq!(out.status, 204);
    app.get("/api/v1/me", access).await.assert_problem(401);
    app.call(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": tokens["refresh_token"] })),
    )
    .await
    .assert_problem(401);
    app.stop().await;
}

async fn registration_creates_a_customer_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json!({
        "name": "Rina Marlina", "email": "rina@example.com", "phone": "0813-1111-2222",
        "password": "rahasia123", "address": "Jl. Gatot Subroto 10", "city": "Medan"
    });
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["user"]["role"], "customer");
    let me = app
        .get("/api/v1/me", reply.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.body["customer"]["phone"], "+6281311112222");
    assert_eq!(me.body["customer"]["created_via"], "app");
    assert_eq!(me.body["customer"]["city"], "Medan");

    let again = app
        .call(Method::POST, "/api/v1/auth/register", None, Some(body))
        .await;
    assert_eq!(again.assert_problem(409), "duplicate");
    assert_eq!(again.body["errors"][0]["field"], "email");

    let bad = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({
                "name": "", "email": "x", "phone": "123", "password": "short"
            })),
        )
        .await;
    bad.assert_problem(422);
    let mut fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["email", "name", "password", "phone"]);
    app.stop().await;
}

async fn bad_tokens_are_rejected(backend: Backend) {
    let secret = "a-test-secret-that-is-long-enough-for-hs256";
    let Some(app) = TestApp::spawn_with(backend, |c| c.jwt_secret = Some(secret.into())).await
    else {
        return;
    };
    let tokens = app.login_full("admin@example.com", "admin123").await;
    let user_id = tokens["user"]["id"].as_str().unwrap();
    let now = jiff_now();
    let claims = |exp: i64| json!({ "sub": user_id, "sid": "x", "role": "admin", "iss": "fieldops", "iat": now - 100, "exp": exp });
    let sign = |key: &str, exp: i64| {
        jsonwebtoken::encode(
            &Header::default(),
            &claims(exp),
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    };
    let expired = sign(secret, now - 10);
    let forged = sign("another-secret-that-is-also-long-enough!!", now + 600);
    let no_session = sign(secret, now + 600); // right key, but no such session
    for token in [
        expired.as_str(),
        forged.as_str(),
        no_session.as_str(),
        "garbage",
        "",
    ] {
        app.get("/api/v1/me", token).await.assert_problem(401);
    }
    app.call(Method::GET, "/api/v1/me", None, None)
        .await
        .assert_problem(401);
    app.stop().await;
}

async fn deactivated_accounts_lose_access_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let tech = app.login_full("tech2@example.com", "tech123").await;
    let tech_token = tech["access_token"].as_str().unwrap();
    let id = tech["user"]["id"].as_str().unwrap();
    // Authenticated once, so the caller is cached when the account ends.
    assert_eq!(app.get("/api/v1/me", tech_token).await.status, 200);
    assert_eq!(
        app.post(&format!("/api/v1/users/{id}/deactivate"), &admin, json!({}))
            .await
            .status,
        200
    );
    // The token proves who asks: they learn the account is switched off.
    assert_eq!(
        app.get("/api/v1/me", tech_token).await.assert_problem(403),
        "account-inactive"
    );
    // The right password learns the account is switched off; a wrong one
    // learns nothing.
    let inactive = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "tech2@example.com", "password": "tech123" })),
        )
        .await;
    assert_eq!(inactive.assert_problem(403), "account-inactive");
    assert!(
        inactive.body["detail"]
            .as_str()
            .unwrap()
            .contains("inactive")
    );
    app.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": "tech2@example.com", "password": "wrong-password" })),
    )
    .await
    .assert_problem(401);
    app.call(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": tech["refresh_token"] })),
    )
    .await
    .assert_problem(401);
    assert_eq!(
        app.post(&format!("/api/v1/users/{id}/activate"), &admin, json!({}))
            .await
            .status,
        200
    );
    app.login("tech2@example.com", "tech123").await;
    app.stop().await;
}

/// Authenticated callers are cached for a moment (`auth::cache`), yet a role
/// change or a sign-out takes effect on the very next request on the
/// instance that made it, and on another instance as soon as it hears of it.
async fn cached_callers_end_with_their_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let peer = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(app.spawn_peer().await),
    };
    let mut heard = peer.as_ref().map(|p| p.state.events.subscribe());
    let peer_addr = peer.as_ref().map(|p| p.addr);
    let admin = app.login_as("admin").await;
    let tech = app.login_full("tech1@example.com", "tech123").await;
    let token = tech["access_token"].as_str().unwrap();
    let id = tech["user"]["id"].as_str().unwrap();
    // Each instance is asked twice, the second time from its cache.
    for _ in 0..2 {
        app.get("/api/v1/customers", token)
            .await
            .assert_problem(403);
        assert_on_peer(&app, peer_addr, "/api/v1/customers", token, 403).await;
    }

    let promoted = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({ "role": "cs" }),
        )
        .await;
    assert_eq!(promoted.status, 200, "{:?}", promoted.body);
    assert_eq!(app.get("/api/v1/customers", token).await.status, 200);
    hear_account_event(heard.as_mut()).await;
    assert_on_peer(&app, peer_addr, "/api/v1/customers", token, 200).await;

    let out = app
        .call(Method::POST, "/api/v1/auth/logout", Some(token), None)
        .await;
    assert_eq!(out.status, 204);
    app.get("/api/v1/me", token).await.assert_problem(401);
    hear_account_event(heard.as_mut()).await;
    assert_on_peer(&app, peer_addr, "/api/v1/me", token, 401).await;
    if let Some(peer) = peer {
        peer.stop().await.unwrap();
    }
    app.stop().await;
}

/// Waits until the peer's event bus has passed on an account event (it
/// forgets the cached caller before it does).
async fn hear_account_event(
    heard: Option<&mut tokio::sync::broadcast::Receiver<fieldops_server::events::Event>>,
) {
    let Some(heard) = heard else { return };
    let account_event =
        async { while heard.recv().await.unwrap().kind != fieldops_server::sync::ACCOUNT_EVENT {} };
    tokio::time::timeout(std::time::Duration::from_secs(10), account_event)
        .await
        .expect("the peer hears of the account change");
}

async fn assert_on_peer(
    app: &TestApp,
    peer: Option<std::net::SocketAddr>,
    path: &str,
    token: &str,
    status: u16,
) {
    let Some(peer) = peer else { return };
    let reply = app
        .client
        .get(format!("http://{peer}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), status, "{path} on the peer");
}

fn jiff_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs in as `email` from client address `from`, as the load balancer
/// (a trusted proxy on loopback) reports it.
async fn login_from(
    app: &TestApp,
    from: &str,
    email: &str,
    password: &str,
) -> fieldops_tests::Reply {
    let request = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({ "email": email, "password": password }));
    TestApp::read(request.send().await.unwrap()).await
}

fn retry_after(reply: &fieldops_tests::Reply) -> u64 {
    reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The probe's attack: ten wrong passwords for the admin, then the admin.
/// The guesser waits longer and longer (429, `Retry-After`, the password
/// not even checked); the admin, from another address, signs in at once.
async fn guessing_a_named_account_slows_the_guesser_not_the_owner(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.login_throttle.free_failures_per_account_and_address = 3;
        c.login_throttle.free_failures_per_account = 5;
    })
    .await
    else {
        return;
    };
    let attacker = "198.51.100.66";
    for _ in 0..3 {
        let guess = login_from(&app, attacker, "admin@example.com", "wrong").await;
        assert_eq!(guess.status, 401);
    }
    // The fourth guess is counted and fails; the fifth must wait.
    assert_eq!(
        login_from(&app, attacker, "admin@example.com", "wrong")
            .await
            .status,
        401
    );
    let refused = login_from(&app, attacker, "admin@example.com", "admin123").await;
    assert_eq!(refused.assert_problem(429), "too-many-requests");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("try again in")
    );
    let first_wait = retry_after(&refused);
    // Waiting it out buys one more guess, and a longer wait after it.
    tokio::time::sleep(std::time::Duration::from_secs(first_wait)).await;
    assert_eq!(
        login_from(&app, attacker, "admin@example.com", "wrong")
            .await
            .status,
        401
    );
    let again = login_from(&app, attacker, "admin@example.com", "wrong").await;
    assert_eq!(again.assert_problem(429), "too-many-requests");
    assert!(retry_after(&again) > first_wait, "the delay grows");
    // More guessers on the same account: each gets its first guess...
    for i in 0..4 {
        let other = format!("203.0.113.{i}");
        assert_eq!(
            login_from(&app, &other, "admin@example.com", "wrong")
                .await
                .status,
            401
        );
    }
    // ...and is held back by the account's delay on its second.
    let second = login_from(&app, "203.0.113.0", "admin@example.com", "wrong").await;
    assert_eq!(second.assert_problem(429), "too-many-requests");
    // The owner, from an address that never failed, is never refused.
    let owner = login_from(&app, "192.0.2.10", "admin@example.com", "admin123").await;
    assert_eq!(owner.status, 200, "{:?}", owner.body);
    app.stop().await;
}

/// Behind the load balancer, the address is the client's, not the
/// balancer's: a client spraying guesses over accounts is slowed, while the
/// office next to it keeps signing in. From an untrusted peer the header is
/// ignored, so a guesser cannot pick a fresh address for each try.
async fn clients_behind_a_trusted_proxy_are_throttled_apart(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        c.login_throttle.free_failures_per_address = 4;
    })
    .await
    else {
        return;
    };
    let sprayer = "198.51.100.7";
    for i in 0..4 {
        let email = format!("nobody{i}@example.com");
        assert_eq!(login_from(&app, sprayer, &email, "guess").await.status, 401);
    }
    assert_eq!(
        login_from(&app, sprayer, "nobody9@example.com", "guess")
            .await
            .status,
        401,
        "the fifth failure is counted"
    );
    let sprayed = login_from(&app, sprayer, "nobody10@example.com", "guess").await;
    assert_eq!(sprayed.assert_problem(429), "too-many-requests");
    // The balancer's other clients are untouched, and many successful
    // sign-ins from one address never count against it.
    for _ in 0..6 {
        let ok = login_from(&app, "198.51.100.8", "cs@example.com", "cs123").await;
        assert_eq!(ok.status, 200);
    }
    app.stop().await;

    // Without trusted proxies, X-Forwarded-For is the client's own claim.
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.login_throttle.free_failures_per_address = 2;
    })
    .await
    else {
        return;
    };
    for i in 0..3 {
        let claimed = format!("192.0.2.{i}");
        let guess = login_from(&app, &claimed, &format!("x{i}@example.com"), "guess").await;
        assert_eq!(guess.status, 401);
    }
    let caught = login_from(&app, "192.0.2.99", "y@example.com", "guess").await;
    assert_eq!(caught.assert_problem(429), "too-many-requests");
    app.stop().await;
}

/// A morning at the office: the whole team signs in at once from one
/// address. Counting their attempts races (each is counted before its
/// password is checked), and no racing count may turn into a 429.
async fn parallel_sign_ins_from_one_office_are_never_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let logins = (0..24).map(|i| {
        let (email, password) = fieldops_tests::demo_account(fieldops_tests::ROLES[i % 5]);
        login_from(&app, "198.51.100.20", email, password)
    });
    for reply in futures_util::future::join_all(logins).await {
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    app.stop().await;
}

/// Cache misses that arrive while a read of callers runs are read together by
/// the next one, each answered as its own read would: a live session, a
/// revoked one, a user with departments, a user that does not exist.
async fn caller_misses_that_arrive_together_share_one_read(backend: Backend) {
    use fieldops_server::auth::cache::CallerCache;
    use fieldops_server::db::{new_id, sessions, users};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let db = &app.server.state.db;
    let mut keys = Vec::new();
    for email in ["tech1@example.com", "tech2@example.com", "cs@example.com"] {
        let user = users::by_email(db.pool(), email).await.unwrap().unwrap();
        let mut tx = db.begin_write().await.unwrap();
        let session = sessions::create(&mut tx, &user.id, "test").await.unwrap();
        tx.commit().await.unwrap();
        keys.push((user.id, session));
    }
    sessions::revoke(db.pool(), &keys[1].1, "test")
        .await
        .unwrap();
    keys.push((new_id(), new_id()));
    let mut expected = Vec::new();
    for (user, session) in &keys {
        expected.push(users::caller(db.pool(), user, session).await.unwrap());
    }
    assert!(expected[0].as_ref().is_some_and(|c| c.session_live));
    assert!(expected[1].as_ref().is_some_and(|c| !c.session_live));
    assert!(expected[3].is_none());

    let cache = CallerCache::new(std::time::Duration::from_secs(60));
    // A first miss reads alone; the other three arrive while it runs.
    let loads = futures_util::future::join_all(keys.iter().map(|(u, s)| cache.load(db, u, s)));
    let loaded = fieldops_tests::with_readers_held(db, loads).await;
    assert_eq!(cache.reads(), 2, "one read alone, then one for three");
    for (loaded, expected) in loaded.into_iter().zip(&expected) {
        let seen = |c: &Option<users::Caller>| {
            c.as_ref().map(|c| {
                (
                    c.id.clone(),
                    c.role,
                    c.session_live,
                    c.department_ids.clone(),
                )
            })
        };
        assert_eq!(seen(&loaded.unwrap()), seen(expected));
    }
    // Live sessions are cached; a revoked one is read again.
    cache
        .load(db, &keys[0].0, &keys[0].1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cache.reads(), 2);
    cache
        .load(db, &keys[1].0, &keys[1].1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cache.reads(), 3);
    app.stop().await;
}
