//! KPI benchmark on PostgreSQL: a year of history — 1,000,000 tickets,
//! 240,000 visits done by 50 technicians, their rating requests and
//! 200,000 ratings — generated inside Postgres, rolled up day by day, then
//! the KPI dashboard's requests and a year's technician time series
//! through the real HTTP API, with p50 / p95 / p99.
//!
//! ```text
//! cargo bench -p fieldops-tests --bench kpi
//! FIELDOPS_BENCH_TICKETS=100000 cargo bench -p fieldops-tests --bench kpi
//! ```
//!
//! Postgres comes from `FIELDOPS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); the run uses a schema of its
//! own and drops it at the end. `FIELDOPS_BENCH_SMOKE=1` loads 2,000
//! tickets and asks each request a few times (see [`fieldops_tests::bench`]).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fieldops_server::{AppState, Config};
use fieldops_tests::{Backend, TestDb, bench, demo_account};

const TECHNICIANS: i64 = 50;
const AGENTS: i64 = 20;

fn tickets_wanted() -> i64 {
    std::env::var("FIELDOPS_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(bench::size(1_000_000, 2_000))
}

async fn run(db: &fieldops_server::db::Db, sql: &str, binds: &[i64]) {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(db.pool()).await.unwrap();
}

/// Generates the year inside Postgres: staff, tickets, visits done, their
/// assignments, rating requests and ratings.
async fn load(db: &fieldops_server::db::Db, tickets: i64, now: i64) {
    // A smoke run spreads its few rows over three weeks: the rollup then
    // writes 21 days, not 365.
    let year = bench::size(365, 21) * 86_400_000_i64;
    let visits = tickets * 24 / 100;
    // Staff: technicians in Field Service, agents in Customer Service.
    for (role, n, dept) in [
        ("technician", TECHNICIANS, "Field Service"),
        ("cs", AGENTS, "Customer Service"),
    ] {
        run(
            db,
            &format!(
                "INSERT INTO users (id, email, name, role, password_hash, status, created_at, updated_at) \
                 SELECT 'bench-{role}-' || g, 'bench-{role}-' || g || '@example.com', \
                        'Bench {role} ' || g, '{role}', 'x', 'active', $1, $1 \
                 FROM generate_series(1, $2) g"
            ),
            &[now, n],
        )
        .await;
        run(
            db,
            &format!(
                "INSERT INTO department_members (department_id, user_id) \
                 SELECT d.id, u.id FROM departments d, users u \
                 WHERE d.name = '{dept}' AND u.id LIKE 'bench-{role}-%'"
            ),
            &[],
        )
        .await;
    }
    // Tickets over the year: answered within two hours, resolved within two
    // days, one in 20 late, one in 25 reopened; the newest still open.
    run(
        db,
        "INSERT INTO tickets (id, seq, number, subject, description, category, priority, status, \
           department_id, customer_id, customer_name, assignee_id, created_at, updated_at, \
           first_response_at, resolved_at, response_breached_at, resolution_breached_at, reopened_at) \
         SELECT 'bench-t-' || g, 1000000 + g, 'BT-' || g, 'Bench ticket ' || g, '', 'technical', 'normal', \
                CASE WHEN c > $3 - 86400000 THEN 'open' ELSE 'resolved' END, \
                (SELECT id FROM departments WHERE name = 'Customer Service'), \
                (SELECT id FROM customers ORDER BY id LIMIT 1), 'Bench', \
                'bench-cs-' || (1 + g % $4), c, c, \
                c + (g % 7200) * 1000, \
                CASE WHEN c > $3 - 86400000 THEN NULL ELSE c + (g % 172800) * 1000 END, \
                CASE WHEN g % 20 = 0 THEN c + 3600000 END, \
                CASE WHEN g % 20 = 1 THEN c + 86400000 END, \
                CASE WHEN g % 25 = 0 THEN c + 180000000 END \
         FROM (SELECT g, $3 - $2 + g * ($2 / $1) AS c FROM generate_series(1, $1) g) t",
        &[tickets, year, now, AGENTS],
    )
    .await;
    // Visits done, one technician each, asked to rate; five in six answer.
    run(
        db,
        "INSERT INTO visits (id, customer_id, department_id, title, description, site_address, \
           site_lat, site_lon, scheduled_start, start_day, planned_days, technician_quota, seats_taken, \
           status, created_at, updated_at, completed_at) \
         SELECT 'bench-v-' || g, (SELECT id FROM customers ORDER BY id LIMIT 1), \
                (SELECT id FROM departments WHERE name = 'Field Service'), 'Bench visit ' || g, '', \
                'Jl. Bench', -6.2, 106.8, to_char(date '1970-01-01' + ((c + 25200000) / 86400000)::int, 'YYYY-MM-DD'), \
                (c + 25200000) / 86400000, 1, 1, 1, 'done', c, c, c + 28800000 \
         FROM (SELECT g, $3 - $2 + g * ($2 / $1) AS c FROM generate_series(1, $1) g) t",
        &[visits, year, now],
    )
    .await;
    for sql in [
        "INSERT INTO assignments (id, visit_id, technician_id, state, claimed_at) \
         SELECT 'bench-a-' || substr(v.id, 9), v.id, \
                'bench-technician-' || (1 + substr(v.id, 9)::bigint % $1), 'completed', v.created_at \
         FROM visits v WHERE v.id LIKE 'bench-v-%'",
        "INSERT INTO rating_requests (id, visit_id, customer_id, token_sha256, cs_agent_id, expires_at, \
           used_at, created_at) \
         SELECT 'bench-q-' || substr(v.id, 9), v.id, v.customer_id, md5(v.id) || md5(v.id || 'x'), \
                'bench-cs-' || (1 + substr(v.id, 9)::bigint % $2), v.completed_at + 1209600000, \
                CASE WHEN substr(v.id, 9)::bigint % 6 <> 0 THEN v.completed_at + 3600000 END, v.completed_at \
         FROM visits v WHERE v.id LIKE 'bench-v-%'",
        "INSERT INTO rating_request_technicians (request_id, technician_id) \
         SELECT 'bench-q-' || substr(a.visit_id, 9), a.technician_id FROM assignments a \
         WHERE a.id LIKE 'bench-a-%'",
        "INSERT INTO ratings (id, request_id, visit_id, score, comment, via, created_at) \
         SELECT 'bench-r-' || substr(q.id, 9), q.id, q.visit_id, \
                1 + (substr(q.id, 9)::bigint * 7) % 5 / 2 + (substr(q.id, 9)::bigint % 3), '', 'link', q.used_at \
         FROM rating_requests q WHERE q.id LIKE 'bench-q-%' AND q.used_at IS NOT NULL",
    ] {
        let binds: &[i64] = if sql.contains("$2") {
            &[TECHNICIANS, AGENTS]
        } else if sql.contains("$1") {
            &[TECHNICIANS]
        } else {
            &[]
        };
        run(db, sql, binds).await;
    }
    run(db, "ANALYZE", &[]).await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    bench::announce("kpi");
    let tickets = tickets_wanted();
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("PostgreSQL is unreachable; the KPI benchmark needs it");
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
    let now = fieldops_server::db::now_ms();
    eprintln!("fieldops KPI benchmark (PostgreSQL), {tickets} tickets");
    let started = Instant::now();
    load(&db, tickets, now).await;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(db.pool())
                .await
                .unwrap()
        }
    };
    let (t, v, r) = (
        count("SELECT COUNT(*) FROM tickets").await,
        count("SELECT COUNT(*) FROM visits WHERE status = 'done'").await,
        count("SELECT COUNT(*) FROM ratings").await,
    );
    println!(
        "loaded {t} tickets, {v} visits done, {r} ratings in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let days = fieldops_server::kpi::rollup::catch_up(&state)
        .await
        .unwrap();
    let rows = count("SELECT COUNT(*) FROM kpi_daily").await;
    println!(
        "rolled up {days} days into {rows} rows in {:.1} s ({:.0} ms a day)",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1000.0 / f64::from(days.max(1))
    );

    let server = fieldops_server::start(state).await.unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let (email, password) = demo_account("admin");
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
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date();
    let year_ago = today.checked_sub(jiff::Span::new().days(364)).unwrap();
    let yesterday = today.yesterday().unwrap();
    let month_ago = today.checked_sub(jiff::Span::new().days(30)).unwrap();
    let requests: [(&str, Vec<String>); 6] = [
        (
            "dashboard (live counts + technicians, 30 days)",
            vec![
                "/api/v1/kpi/live".to_owned(),
                "/api/v1/kpi?subject=technician".to_owned(),
            ],
        ),
        (
            "technicians, 30 days to yesterday (the rollup alone)",
            vec![format!(
                "/api/v1/kpi?subject=technician&from={month_ago}&to={yesterday}"
            )],
        ),
        ("the live counts alone", vec!["/api/v1/kpi/live".to_owned()]),
        (
            "CS agents over a year",
            vec![format!(
                "/api/v1/kpi?subject=agent&from={year_ago}&to={today}"
            )],
        ),
        (
            "a technician's year, per week",
            vec![format!(
                "/api/v1/kpi/series?subject=technician&id=bench-technician-7&period=week&from={year_ago}&to={today}"
            )],
        ),
        (
            "a technician's year, per day",
            vec![format!(
                "/api/v1/kpi/series?subject=technician&id=bench-technician-7&period=day&from={year_ago}&to={today}"
            )],
        ),
    ];
    let rounds = bench::size(200, 3);
    println!("\n| request | p50 | p95 | p99 |\n|---|---|---|---|");
    for (name, paths) in &requests {
        // Warm up once, and check the answer is real.
        for path in paths {
            let reply = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200, "{path}");
            let body: serde_json::Value = reply.json().await.unwrap();
            if path.contains("subject=technician") && !path.contains("series") {
                let rows = body["rows"].as_array().unwrap();
                assert!(rows.len() as i64 >= TECHNICIANS.min(3), "{body}");
            }
            if path.contains("series") {
                assert!(!body["points"].as_array().unwrap().is_empty());
            }
        }
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            for path in paths {
                let reply = client
                    .get(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 200);
                let _ = reply.bytes().await.unwrap();
            }
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |",
            ms(bench::percentile(&times, 0.5)),
            ms(bench::percentile(&times, 0.95)),
            ms(bench::percentile(&times, 0.99))
        );
    }
    server.stop().await.unwrap();
    test_db.drop_schema().await;
}
