//! The shared live feed against the database feed: for every kind of reader,
//! the frames a session builds from a [`Slice`] in memory are the frames it
//! would have read from SQL, byte for byte, across pool entries and exits,
//! access grants, drops, CS edits and new tickets.

use fieldops_core::CoreEvent;
use fieldops_server::sync::live;
use fieldops_server::sync::session::Session;
use fieldops_server::sync::{self, store};
use fieldops_server::work::{Effects, Work};
use fieldops_sync::ids::DeviceId;
use fieldops_sync::ids::DocId;
use fieldops_sync::protocol::ServerMessage;
use fieldops_sync::protocol::{ClientMessage, Cursor, DropReason, Hello, PROTOCOL_VERSION};
use fieldops_tests::device::Device;
use fieldops_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    live_slices_send_what_the_database_feed_sends,
    a_change_on_one_instance_reaches_phones_on_another,
    an_account_whose_scope_changes_is_reconnected,
    signed_out_devices_are_closed_and_told_to_sign_in,
    a_lagged_session_rechecks_its_account
);

const EVERYONE: [&str; 6] = ["admin", "cs", "sales", "tech1", "tech2", "customer"];

/// Two sessions of one reader at the same cursor: one follows the slices,
/// the other reads the database.
struct Pair {
    who: &'static str,
    live: Session,
    sql: Session,
}

async fn open(app: &TestApp, token: &str) -> Session {
    let state = app.server.state.clone();
    let cursor = store::current_seq(state.db.pool()).await.unwrap();
    let hello = ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        access_token: token.to_owned(),
        device_id: DeviceId::new(),
        cursor: Cursor(cursor as u64),
        known_heads: None,
    });
    let (session, _) = Session::open(state, hello).await.unwrap();
    session
}

/// Reads the slice since `from` and checks every pair against it; the
/// slice's end, and who received frames.
async fn compare(app: &TestApp, pairs: &mut [Pair], from: i64) -> (i64, Vec<&'static str>) {
    let slice = live::read(&app.server.state.db, from)
        .await
        .unwrap()
        .expect("something changed");
    assert!(slice.docs.is_some(), "a small slice is shared");
    let mut reached = Vec::new();
    for pair in pairs.iter_mut() {
        assert_eq!(pair.live.cursor, from, "{}", pair.who);
        let live = pair.live.live(&slice).expect("the slice covers the cursor");
        let sql = pair.sql.catch_up().await.unwrap();
        if live.is_empty() {
            // Nothing for this reader: the database feed says only where it is.
            assert_eq!(sql.len(), 1, "{}: {sql:?}", pair.who);
        } else {
            assert_eq!(live, sql, "{}", pair.who);
            reached.push(pair.who);
        }
        assert_eq!(pair.live.cursor, pair.sql.cursor, "{}", pair.who);
    }
    (slice.to, reached)
}

async fn live_slices_send_what_the_database_feed_sends(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cs = app.login_as("cs").await;
    let tech1 = app.login("tech1@example.com", "tech123").await;
    let tech2 = app.login("tech2@example.com", "tech123").await;
    let customer = app.login_as("customer").await;
    let mut pairs = Vec::new();
    for (who, token) in [
        ("admin", app.login_as("admin").await),
        ("cs", cs.clone()),
        ("sales", app.login_as("sales").await),
        ("tech1", tech1.clone()),
        ("tech2", tech2.clone()),
        ("customer", customer.clone()),
    ] {
        let (live, sql) = (open(&app, &token).await, open(&app, &token).await);
        pairs.push(Pair { who, live, sql });
    }
    let from = pairs[0].live.cursor;
    let me = app.get("/api/v1/me", &customer).await;
    let customer_id = me.body["customer"]["id"].as_str().unwrap().to_owned();

    // Step 1: a visit enters the pool, a ticket is opened for the customer.
    let visit = app
        .post(
            "/api/v1/visits",
            &cs,
            json!({
                "customer_id": customer_id, "title": "Live feed",
                "site": { "address": "Jl. Sudirman 1", "lat": -6.2, "lon": 106.8 },
                "scheduled_start": "2031-03-01", "technician_quota": 1
            }),
        )
        .await;
    assert_eq!(visit.status, 201, "{:?}", visit.body);
    let visit_id = visit.body["id"].as_str().unwrap().to_owned();
    let ticket = app
        .post(
            "/api/v1/tickets",
            &cs,
            json!({ "subject": "Printer macet", "category": "technical",
                    "priority": "high", "customer_id": customer_id }),
        )
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    let (from, reached) = compare(&app, &mut pairs, from).await;
    assert_eq!(reached, EVERYONE);

    // Step 2: tech1 claims the only seat (access for tech1, the pool exit
    // for tech2), then CS edits the visit.
    let claim = app
        .post(
            &format!("/api/v1/visits/{visit_id}/claim"),
            &tech1,
            json!({}),
        )
        .await;
    assert_eq!(claim.status, 200, "{:?}", claim.body);
    let assignment = claim.body["assignment_id"].as_str().unwrap().to_owned();
    let edit = app
        .patch(
            &format!("/api/v1/visits/{visit_id}"),
            &cs,
            json!({ "description": "Bring a ladder" }),
        )
        .await;
    assert_eq!(edit.status, 200, "{:?}", edit.body);
    let (from, reached) = compare(&app, &mut pairs, from).await;
    assert_eq!(reached, EVERYONE);

    // Step 3: CS sends it back to the pool (tech1 loses access: a recorded
    // drop) and tech2 is given the ticket by access; step 4 takes it back.
    let back = app
        .post(
            &format!("/api/v1/assignments/{assignment}/return-to-pool"),
            &cs,
            json!({ "reason": "absent" }),
        )
        .await;
    assert_eq!(back.status, 200, "{:?}", back.body);
    let state = &app.server.state;
    let mut work = Work::begin(state).await.unwrap();
    let ticket_id = ticket.body["id"].as_str().unwrap();
    let tech2_id = app.get("/api/v1/me", &tech2).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let granted = sync::grant_access(work.tx(), ticket_id, &tech2_id, &mut Default::default())
        .await
        .unwrap();
    work.commit(Effects::none().with_changed([granted]))
        .await
        .unwrap();
    let (from, reached) = compare(&app, &mut pairs, from).await;
    assert_eq!(reached, EVERYONE);
    let mut work = Work::begin(state).await.unwrap();
    let revoked = sync::revoke_access(
        work.tx(),
        ticket_id,
        &tech2_id,
        DropReason::OutOfScope,
        &mut Default::default(),
    )
    .await
    .unwrap()
    .unwrap();
    work.commit(Effects::none().with_changed([revoked]))
        .await
        .unwrap();
    let (_, reached) = compare(&app, &mut pairs, from).await;
    assert_eq!(reached, ["tech2"], "only the reader who lost it");

    // A session behind the slice reads the database instead.
    let stale = live::read(&state.db, from - 1).await.unwrap().unwrap();
    let mut behind = open(&app, &tech1).await;
    behind.cursor = from - 2;
    assert!(behind.live(&stale).is_none());
    app.stop().await;
}

/// A new visit in the pool for the demo customer Hendra, created by `staff`.
async fn pool_visit(app: &TestApp, staff: &str, title: &str, day: &str) -> DocId {
    let customer = app.get("/api/v1/customers?q=Hendra", staff).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = app
        .post(
            "/api/v1/visits",
            staff,
            json!({
                "customer_id": customer, "title": title,
                "site": { "address": "Jl. Thamrin 2", "lat": -6.19, "lon": 106.82 },
                "scheduled_start": day, "technician_quota": 1
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body["id"].as_str().unwrap().parse().unwrap()
}

/// Each instance reads the feed for its own sessions: a visit created
/// through one instance reaches a phone connected to another (on Postgres;
/// SQLite is one instance, so both ends are the same server there).
async fn a_change_on_one_instance_reaches_phones_on_another(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let peer = match backend {
        Backend::Postgres => Some(app.spawn_peer().await),
        Backend::Sqlite => None,
    };
    let addr = peer.as_ref().map_or(app.server.addr, |p| p.addr);
    let cs = app.login_as("cs").await;
    let tech = app.login("tech1@example.com", "tech123").await;
    let (mut phone, _) = Device::connect(addr, &tech, 0).await;
    let visit = pool_visit(&app, &cs, "Across instances", "2031-04-01").await;
    // The first live step that concerns this phone brings the new visit.
    let live = tokio::time::timeout(std::time::Duration::from_secs(10), phone.until_feed())
        .await
        .expect("the change reaches the other instance's phone");
    assert!(
        live.iter()
            .flat_map(|m| m.snapshots())
            .any(|s| s.doc_id == visit),
        "{live:?}"
    );
    assert!(phone.docs.contains_key(&visit), "in the pool on the phone");
    if let Some(peer) = peer {
        peer.stop().await.unwrap();
    }
    app.stop().await;
}

/// Live sessions filter by the scope they loaded at the start: when an
/// admin takes a CS agent out of their department, the agent's session is
/// closed, the device reconnects under its new scope and deletes the
/// department's documents, and other sessions go on.
async fn an_account_whose_scope_changes_is_reconnected(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let tech = app.login("tech1@example.com", "tech123").await;
    let me = app.get("/api/v1/me", &cs).await.body;
    let cs_id = me["user"]["id"].as_str().unwrap().to_owned();
    let customer = app.get("/api/v1/customers?q=Hendra", &cs).await.body["items"][0]["id"].clone();
    let departmental = app
        .post(
            "/api/v1/visits",
            &cs,
            json!({
                "customer_id": customer, "title": "The department's visit",
                "department_id": me["user"]["department_ids"][0],
                "site": { "address": "Jl. Thamrin 3", "lat": -6.19, "lon": 106.82 },
                "scheduled_start": "2031-05-02", "technician_quota": 1
            }),
        )
        .await;
    assert_eq!(departmental.status, 201, "{:?}", departmental.body);
    let (mut agent, _) = Device::connect(app.server.addr, &cs, 0).await;
    let (mut phone, _) = Device::connect(app.server.addr, &tech, 0).await;
    let departmental: Vec<DocId> = sqlx::query_scalar::<_, String>(
        "SELECT id FROM sync_documents WHERE department_id IS NOT NULL",
    )
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|id| id.parse().unwrap())
    .collect();
    let held = |agent: &Device| {
        departmental
            .iter()
            .filter(|d| agent.docs.contains_key(d))
            .count()
    };
    let held_before = held(&agent);
    assert!(
        held_before > 0,
        "the agent holds its department's documents: {} documents, {} departmental",
        agent.docs.len(),
        departmental.len()
    );
    let moved = app
        .patch(
            &format!("/api/v1/users/{cs_id}"),
            &admin,
            json!({ "department_ids": [] }),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(
        agent.until_closed().await,
        Some(fieldops_server::http::sync::ACCOUNT_CHANGED),
        "the agent's session is closed"
    );
    // Reconnecting works, under the new scope, and the device is told to
    // delete the department's documents it holds. (A live catch-up that
    // ran between the change and the close may already have dropped some:
    // the session reads the scope the database has then.)
    let held_at_close = held(&agent);
    let welcome = agent.reconnect(app.server.addr, &cs).await;
    assert!(matches!(welcome.last(), Some(ServerMessage::Feed(_))));
    let dropped: Vec<DocId> = welcome
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Drop(d) if d.reason == DropReason::OutOfScope => Some(d.doc_ids.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        (held_at_close..=held_before).contains(&dropped.len()),
        "{held_at_close}..={held_before} drops expected: {dropped:?}"
    );
    assert!(
        departmental.iter().all(|d| !agent.docs.contains_key(d)),
        "nothing of the department is left on the device"
    );
    // The technician's session is still live.
    let visit = pool_visit(&app, &admin, "Still live", "2031-05-01").await;
    tokio::time::timeout(std::time::Duration::from_secs(10), phone.until_feed())
        .await
        .expect("the technician still hears of changes");
    assert!(phone.docs.contains_key(&visit));
    app.stop().await;
}

/// A device session that is signed out elsewhere has its live session closed
/// with `SIGNED_OUT`, not left streaming until the socket drops: a logout
/// closes that device's session only; an admin's password reset closes the
/// rest (sync sessions and event streams), and the phone core stops retrying
/// and says why.
async fn signed_out_devices_are_closed_and_told_to_sign_in(backend: Backend) {
    use fieldops_server::http::sync::SIGNED_OUT;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.login_as("admin").await;
    let tablet = app.login("tech1@example.com", "tech123").await;
    let spare = app.login("tech1@example.com", "tech123").await;
    let (mut on_tablet, _) = Device::connect(app.server.addr, &tablet, 0).await;
    let (mut on_spare, _) = Device::connect(app.server.addr, &spare, 0).await;
    let mut events = fieldops_tests::websocket(app.server.addr, "/api/v1/events", &spare).await;
    let dir = tempfile::tempdir().unwrap();
    let phone = fieldops_core::FieldopsCore::open(dir.path().join("phone.db")).unwrap();
    phone
        .auth()
        .login(&app.url(""), "tech1@example.com", "tech123")
        .await
        .unwrap();
    let mut heard = fieldops_tests::CoreEvents::of(&phone);
    phone.sync().start().unwrap();
    let visit = pool_visit(&app, &admin, "Before the reset", "2031-06-01").await;
    // The phone core is live: the new pool visit arrives by itself.
    heard
        .until(
            20,
            |e| matches!(e, CoreEvent::DocumentChanged { doc_id, .. } if *doc_id == visit),
        )
        .await;

    let out = app.post("/api/v1/auth/logout", &tablet, json!({})).await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    assert_eq!(on_tablet.until_closed().await, Some(SIGNED_OUT));
    let still = pool_visit(&app, &admin, "After the logout", "2031-06-02").await;
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !on_spare.docs.contains_key(&still) {
            on_spare.until_feed().await;
        }
    })
    .await
    .expect("the other device session goes on");

    let tech_id = app.get("/api/v1/me", &spare).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reset = app
        .post(
            &format!("/api/v1/users/{tech_id}/reset-password"),
            &admin,
            json!({ "password": "a-new-secret-9" }),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    assert_eq!(on_spare.until_closed().await, Some(SIGNED_OUT));
    assert_eq!(
        fieldops_tests::close_code(&mut events, 10).await,
        Some(SIGNED_OUT),
        "the event stream of that session ends too"
    );
    assert_eq!(app.get("/api/v1/me", &spare).await.status, 401);
    // The phone core stops on the sign-out.
    let stopped = |e: &CoreEvent| matches!(e, CoreEvent::SyncStatusChanged(s) if s.state == fieldops_core::SyncState::Error);
    let CoreEvent::SyncStatusChanged(status) = heard.until(10, stopped).await else {
        unreachable!("matched above");
    };
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("signed out")),
        "{status:?}"
    );
    phone.sync().stop();
    app.stop().await;
}

/// A session that lagged behind the live feed may have missed the account
/// event that should have closed it; it reads its account again and learns
/// the same: nothing while it is unchanged, a scope change, a sign-out.
async fn a_lagged_session_rechecks_its_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let state = &app.server.state;
    let admin = app.login_as("admin").await;
    let cs = app.login_as("cs").await;
    let actor = fieldops_server::auth::authenticate(state, &cs)
        .await
        .unwrap();
    assert_eq!(sync::recheck(state, &actor).await.unwrap(), None);
    let moved = app
        .patch(
            &format!("/api/v1/users/{}", actor.user_id),
            &admin,
            json!({ "department_ids": [] }),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let changed = sync::recheck(state, &actor).await.unwrap().unwrap();
    assert_eq!(
        changed.close_code(),
        fieldops_server::http::sync::ACCOUNT_CHANGED
    );
    assert!(changed.ends(&actor.user_id, &actor.session_id));
    // Under its new scope it is fine again, until it signs out.
    let actor = fieldops_server::auth::authenticate(state, &cs)
        .await
        .unwrap();
    assert_eq!(sync::recheck(state, &actor).await.unwrap(), None);
    assert_eq!(
        app.post("/api/v1/auth/logout", &cs, json!({})).await.status,
        204
    );
    let ended = sync::recheck(state, &actor).await.unwrap().unwrap();
    assert_eq!(ended.close_code(), fieldops_server::http::sync::SIGNED_OUT);
    app.stop().await;
}
