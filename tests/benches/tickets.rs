//! Ticket list benchmark on PostgreSQL: bulk-loads N tickets (progress on
//! stderr), then measures the latency of filtered, searched ticket lists
//! through the real HTTP API (`GET /api/v1/tickets`, list + stats block) as a
//! department-scoped CS agent, and prints p50 / p95 / p99.
//!
//! ```text
//! cargo bench -p fieldops-tests --bench tickets -- --rows 1000000
//! FIELDOPS_BENCH_TICKETS=100000 cargo bench -p fieldops-tests --bench tickets
//! ```
//!
//! Postgres comes from `FIELDOPS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); the run uses a schema of its
//! own and drops it at the end. `FIELDOPS_BENCH_SMOKE=1` loads 1,000
//! tickets and asks each query a few times (see [`fieldops_tests::bench`]).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fieldops_server::{AppState, Config};
use fieldops_tests::ticket_load::{FIRST, LAST, Rng, bulk_load};
use fieldops_tests::{Backend, TestDb, bench, demo_account};

fn rows_wanted() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .or_else(|| std::env::var("FIELDOPS_BENCH_TICKETS").ok())
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(bench::size(100_000, 1_000))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    bench::announce("tickets");
    let total = rows_wanted();
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("PostgreSQL is unreachable; the ticket benchmark needs it");
        return;
    };
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: test_db.url.clone(),
        ..Config::default()
    };
    let state = AppState::build(config).await.unwrap();
    fieldops_server::seed::demo(&state).await.unwrap();
    let db = state.db.clone();

    // Five departments (the CS agent belongs to one) and 2,000 customers.
    let mut departments: Vec<String> =
        sqlx::query_scalar("SELECT id FROM departments ORDER BY name")
            .fetch_all(db.pool())
            .await
            .unwrap();
    for name in ["Billing", "Network"] {
        let mut tx = db.begin_write().await.unwrap();
        departments.push(
            fieldops_server::db::departments::insert(&mut tx, name, "")
                .await
                .unwrap(),
        );
        tx.commit().await.unwrap();
    }
    let mut rng = Rng(42);
    let mut customers = Vec::new();
    let mut tx = db.begin_write().await.unwrap();
    for i in 0..2000 {
        let name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
        let fields = fieldops_server::db::customers::CustomerFields {
            name: name.clone(),
            phone: format!("+62813{:08}", 10_000_000 + i),
            ..Default::default()
        };
        let row = fieldops_server::db::customers::insert(
            &mut tx,
            &fields,
            fieldops_server::domain::CreatedVia::Manual,
            true,
        )
        .await
        .unwrap();
        customers.push((row.id, name));
    }
    tx.commit().await.unwrap();

    eprintln!("fieldops ticket list benchmark (PostgreSQL), {total} tickets");
    let load = bulk_load(&db, total, &departments, &customers).await;
    eprintln!(
        "  loaded in {:.1} s ({:.0} tickets/s)",
        load.as_secs_f64(),
        total as f64 / load.as_secs_f64()
    );

    let server = fieldops_server::start(state).await.unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let (email, password) = demo_account("cs");
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let number = format!("TKT-{:06}", total / 2);
    let queries = [
        "search=printer&status=open".to_owned(),
        "search=modem%20lambat&priority=urgent".to_owned(),
        "search=siti%20wijaya&category=billing".to_owned(),
        "search=tagihan&status=in_progress&assigned_to=unassigned".to_owned(),
        format!("search={number}"),
        "search=router&priority=high&status=open&limit=20".to_owned(),
    ];
    let (warm_up, timed) = bench::size((20, 100), (2, 5));
    let mut per_query: Vec<(String, Vec<Duration>, i64)> = Vec::new();
    for q in &queries {
        let url = format!("{base}/api/v1/tickets?{q}");
        let mut times = Vec::new();
        let mut total_matches = 0;
        for i in 0..warm_up + timed {
            let t = Instant::now();
            let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
            assert!(r.status().is_success(), "{q}: {}", r.status());
            let body: serde_json::Value = r.json().await.unwrap();
            let elapsed = t.elapsed();
            total_matches = body["stats"]["total"].as_i64().unwrap_or_default();
            if i >= warm_up {
                times.push(elapsed);
            }
        }
        times.sort();
        per_query.push((q.clone(), times, total_matches));
    }
    let mut all: Vec<Duration> = per_query.iter().flat_map(|(_, t, _)| t.clone()).collect();
    all.sort();
    println!(
        "ticket list, {total} tickets, PostgreSQL, HTTP end to end as a department-scoped CS agent"
    );
    println!(
        "{:<58} {:>9} {:>9} {:>9} {:>9}",
        "query", "matches", "p50 ms", "p95 ms", "p99 ms"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (q, t, m) in &per_query {
        println!(
            "{q:<58} {m:>9} {:>9.2} {:>9.2} {:>9.2}",
            ms(bench::percentile(t, 0.5)),
            ms(bench::percentile(t, 0.95)),
            ms(bench::percentile(t, 0.99))
        );
    }
    println!(
        "{:<58} {:>9} {:>9.2} {:>9.2} {:>9.2}",
        "all queries",
        "",
        ms(bench::percentile(&all, 0.5)),
        ms(bench::percentile(&all, 0.95)),
        ms(bench::percentile(&all, 0.99))
    );
    server.stop().await.unwrap();
    test_db.drop_schema().await;
}
