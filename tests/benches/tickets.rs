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

use std::io::Write as _;
use std::time::{Duration, Instant};

use fieldops_server::db::{Db, now_ms};
use fieldops_server::{AppState, Config};
use fieldops_tests::{Backend, TestDb, bench, demo_account};

const SUBJECT_WORDS: &[&str] = &[
    "printer",
    "jaringan",
    "internet",
    "tagihan",
    "login",
    "aplikasi",
    "modem",
    "listrik",
    "ac",
    "bocor",
    "lambat",
    "error",
    "pembayaran",
    "akun",
    "password",
    "kabel",
    "router",
    "server",
    "email",
    "laporan",
    "invoice",
    "refund",
    "pemasangan",
    "perbaikan",
    "genset",
    "cctv",
    "wifi",
    "telepon",
    "lampu",
    "pompa",
    "mesin",
    "kasir",
    "scanner",
    "monitor",
    "keyboard",
    "backup",
];
const FIRST: &[&str] = &[
    "Budi", "Siti", "Agus", "Dewi", "Eko", "Fajar", "Gita", "Hendra", "Indah", "Joko", "Kartika",
    "Lestari", "Made", "Nur", "Putu", "Rina", "Sari", "Tono", "Wayan", "Yudi",
];
const LAST: &[&str] = &[
    "Santoso",
    "Wijaya",
    "Hartono",
    "Lestari",
    "Prasetyo",
    "Nugroho",
    "Permata",
    "Gunawan",
    "Rahmawati",
    "Kusuma",
    "Saputra",
    "Hidayat",
    "Siregar",
    "Nasution",
    "Halim",
    "Tanjung",
];
const CATEGORIES: &[&str] = &[
    "technical",
    "billing",
    "account",
    "feature_request",
    "bug",
    "general",
    "other",
];
const PRIORITIES: &[&str] = &["low", "normal", "normal", "normal", "high", "urgent"];
const STATUSES: &[&str] = &[
    "open",
    "in_progress",
    "resolved",
    "closed",
    "closed",
    "closed",
];

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

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

fn progress(done: u64, total: u64, started: Instant) {
    let width = 40;
    let filled = (done * width / total.max(1)) as usize;
    let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
    eprint!(
        "\r  loading [{}{}] {done}/{total} tickets ({rate:.0}/s)",
        "#".repeat(filled),
        " ".repeat(width as usize - filled)
    );
    let _ = std::io::stderr().flush();
}

/// Inserts `total` tickets in multi-row batches spread over the departments
/// and customers given; returns how long it took.
async fn bulk_load(
    db: &Db,
    total: u64,
    departments: &[String],
    customers: &[(String, String)],
) -> Duration {
    const BATCH: u64 = 1000;
    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let year_ms: i64 = 365 * 24 * 3600 * 1000;
    let base = now_ms() - year_ms;
    let mut seq = 0_i64;
    while (seq as u64) < total {
        let n = BATCH.min(total - seq as u64);
        let mut sql = String::from(
            "INSERT INTO tickets (id, seq, number, subject, description, category, priority, status, \
             department_id, customer_id, customer_name, created_at, updated_at) VALUES ",
        );
        let mut values = Vec::with_capacity(n as usize);
        for i in 0..n {
            seq += 1;
            let p = i * 11;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},'',${},${},${},${},${},${},${},${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8,
                p + 9,
                p + 10,
                p + 11,
                p + 11
            ));
            let subject = format!(
                "{} {} {}",
                rng.pick(SUBJECT_WORDS),
                rng.pick(SUBJECT_WORDS),
                rng.pick(SUBJECT_WORDS)
            );
            let (customer_id, customer_name) =
                &customers[(rng.next() % customers.len() as u64) as usize];
            let created = base + (seq * year_ms) / total as i64;
            values.push((
                uuid::Uuid::now_v7().to_string(),
                seq,
                fieldops_server::domain::ticket_number(seq),
                subject,
                rng.pick(CATEGORIES),
                rng.pick(PRIORITIES),
                rng.pick(STATUSES),
                departments[(rng.next() % departments.len() as u64) as usize].clone(),
                customer_id.clone(),
                customer_name.clone(),
                created,
            ));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in values {
            q = q
                .bind(v.0)
                .bind(v.1)
                .bind(v.2)
                .bind(v.3)
                .bind(v.4)
                .bind(v.5)
                .bind(v.6)
                .bind(v.7)
                .bind(v.8)
                .bind(v.9)
                .bind(v.10);
        }
        q.execute(db.pool()).await.unwrap();
        progress(seq as u64, total, started);
    }
    sqlx::query("UPDATE ticket_counters SET value = $1 WHERE name = 'ticket'")
        .bind(seq)
        .execute(db.pool())
        .await
        .unwrap();
    // What any bulk load ends with: flush the GIN pending list, set the
    // visibility map and refresh the planner's statistics.
    sqlx::query("VACUUM ANALYZE tickets")
        .execute(db.pool())
        .await
        .unwrap();
    eprintln!();
    started.elapsed()
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
