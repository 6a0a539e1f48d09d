//! Console benchmark: how long the pages CS live in take to answer, and how
//! soon a technician's claim reaches a signed-in console.
//!
//! ```text
//! cargo bench -p fieldops-tests --bench console                       # SQLite, 1,000 visits, 2,000 tickets
//! FIELDOPS_BENCH_BACKEND=postgres cargo bench -p fieldops-tests --bench console   # + 100,000 tickets
//! ```
//!
//! On PostgreSQL the tickets are loaded straight into the database
//! ([`fieldops_tests::ticket_load`]; `FIELDOPS_BENCH_TICKETS` sets how many,
//! 100,000 by default) — the help desk the issue asks the list to carry; on
//! SQLite 2,000 are opened through the API.
//!
//! A CS agent signed in through the sign-in form (a cookie session, as a
//! browser) asks for the dashboard, the ticket list and the dispatch board
//! again and again; the figures are the time to the whole page on loopback
//! (the server's time plus a loopback round trip). Then, with the tab's
//! Server-Sent Events stream open, technicians claim visits through the API
//! and the bench times the claim's answer → the `visit` event on the stream
//! → the refetched board (what the tab does on that event) holding the
//! technician's name. Last, in real headless Chromium (when chromedriver is
//! there; `CI=true` requires it), the board open in a tab: the time from a
//! claim leaving the technician to the technician's name appearing in the
//! tab's DOM (a `MutationObserver` stamps it; both clocks are this
//! machine's). `FIELDOPS_BENCH_SMOKE=1` seeds 50 visits and 50 tickets and
//! asks a few times.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fieldops_tests::console::Browser;
use fieldops_tests::fixtures::{demo_customer, local_date};
use fieldops_tests::{Backend, TestApp, bench, chromium, ticket_load};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name:<40} n={:<4} p50 {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms",
        times.len(),
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}

async fn time_page(browser: &mut Browser<'_>, path: &str, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let page = browser.get(path).await;
        times.push(started.elapsed());
        assert_eq!(page.status, 200, "{path}");
    }
    times
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    bench::announce("console");
    let backend = match std::env::var("FIELDOPS_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let visits = bench::size(1_000, 50);
    let tickets = match backend {
        Backend::Postgres => std::env::var("FIELDOPS_BENCH_TICKETS")
            .ok()
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or(bench::size(100_000, 1_000)),
        Backend::Sqlite => bench::size(2_000, 50),
    };
    let asks = bench::size(100, 5);
    let claims = bench::size(30, 3);
    let Some(app) = TestApp::spawn(backend).await else {
        println!("console bench: no {backend:?} database; skipped");
        return;
    };
    let cs = app.login_as("cs").await;
    let customer = demo_customer(&app, &cs).await;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(visits);
    for i in 0..visits {
        let reply = app
            .post("/api/v1/visits", &cs, json!({
                "customer_id": customer, "title": format!("Kunjungan {i}"), "description": "",
                "site": { "address": "Jl. Jend. Sudirman Kav. 52-53", "lat": -6.2251, "lon": 106.8097 },
                "scheduled_start": local_date(i64::try_from(i % 3).unwrap()), "planned_days": 1, "technician_quota": 2
            }))
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    if backend == Backend::Postgres {
        let db = app.db.connect().await;
        let departments: Vec<String> = sqlx::query_scalar("SELECT id FROM departments")
            .fetch_all(db.pool())
            .await
            .unwrap();
        let customers: Vec<(String, String)> = sqlx::query_as("SELECT id, name FROM customers")
            .fetch_all(db.pool())
            .await
            .unwrap();
        ticket_load::bulk_load(&db, tickets, &departments, &customers).await;
        db.close().await;
    } else {
        for i in 0..tickets {
            let reply = app
                .post("/api/v1/tickets", &cs, json!({
                    "subject": format!("Tiket {i}: printer tidak menyala"), "category": "technical", "customer_id": customer
                }))
                .await;
            assert_eq!(reply.status, 201, "{:?}", reply.body);
        }
    }
    println!(
        "console bench on {backend:?}: {visits} visits and {tickets} tickets seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut browser = Browser::signed_in_as(&app, "cs").await;
    report(
        "GET / (dashboard)",
        time_page(&mut browser, "/", asks).await,
    );
    report(
        "GET /tickets",
        time_page(&mut browser, "/tickets", asks).await,
    );
    report(
        "GET /tickets?q=printer",
        time_page(&mut browser, "/tickets?q=printer", asks).await,
    );
    report(
        "GET /tickets?status=open&priority=urgent",
        time_page(&mut browser, "/tickets?status=open&priority=urgent", asks).await,
    );
    report(
        "GET /dispatch (board)",
        time_page(&mut browser, "/dispatch", asks).await,
    );

    // A claim, seen by a connected console: the event on its stream, then
    // the board it refetches.
    let cookie = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut stream = reqwest::Client::new()
        .get(app.url("/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let technicians = app.quick_technicians(claims, "benchtech").await;
    let (mut to_event, mut to_board) = (Vec::new(), Vec::new());
    for (round, (_, token)) in technicians.iter().enumerate() {
        // The newest visits: the board shows the newest 200 of a column.
        let visit = &ids[ids.len() - 1 - round];
        let name = format!("Teknisi benchtech {round}");
        let started = Instant::now();
        let claim = app
            .post(&format!("/api/v1/visits/{visit}/claim"), token, json!({}))
            .await;
        assert!(claim.status.is_success(), "{:?}", claim.body);
        // Read the stream until the claim's `visit` event.
        let mut seen = String::new();
        loop {
            let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
                .await
                .expect("the claim's event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(r#"data: {"kind":"visit.claimed""#) {
                break;
            }
        }
        to_event.push(started.elapsed());
        let board = browser.get("/dispatch").await;
        assert!(board.html.contains(&name), "the board names {name}");
        to_board.push(started.elapsed());
    }
    report("claim → event on the console's stream", to_event);
    report("claim → refetched board names the tech", to_board);
    if let Some(times) = claim_to_dom(&app, &ids[..ids.len() - claims], claims).await {
        report("claim → name in Chromium's DOM", times);
    }
    app.stop().await;
}

/// Claims `rounds` of `visits` (newest first) while the board is open in
/// headless Chromium; for each, the wall-clock time from sending the claim
/// to the technician's name appearing in the page. `None` without a
/// chromedriver (outside CI).
async fn claim_to_dom(app: &TestApp, visits: &[String], rounds: usize) -> Option<Vec<Duration>> {
    let driver = chromium::start_driver().await?;
    let c = chromium::browser(&driver, "id").await;
    chromium::sign_in(&c, app, "cs").await;
    c.goto(&app.url("/dispatch")).await.unwrap();
    chromium::until_text(&c, "#board", "the board", |t| !t.is_empty()).await;
    let technicians = app.quick_technicians(rounds, "domtech").await;
    let mut times = Vec::with_capacity(rounds);
    for (round, (_, token)) in technicians.iter().enumerate() {
        let visit = &visits[visits.len() - 1 - round];
        let name = format!("Teknisi domtech {round}");
        // The page stamps the moment the name is in its DOM.
        c.execute(
            "const name = arguments[0]; window.__seen = null; \
             const seen = () => { if (window.__seen === null && \
                 document.getElementById('board').textContent.includes(name)) { \
                 window.__seen = Date.now(); } }; \
             new MutationObserver(seen).observe(document.body, \
                 { childList: true, subtree: true, characterData: true });",
            vec![json!(name)],
        )
        .await
        .unwrap();
        let sent = unix_ms();
        let claim = app
            .post(&format!("/api/v1/visits/{visit}/claim"), token, json!({}))
            .await;
        assert!(claim.status.is_success(), "{:?}", claim.body);
        let deadline = Instant::now() + Duration::from_secs(10);
        let seen = loop {
            let stamp = c.execute("return window.__seen;", vec![]).await.unwrap();
            if let Some(ms) = stamp.as_i64() {
                break ms;
            }
            assert!(Instant::now() < deadline, "{name} never reached the DOM");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        times.push(Duration::from_millis(
            u64::try_from(seen - sent).unwrap_or(0),
        ));
    }
    c.close().await.unwrap();
    Some(times)
}

fn unix_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}
