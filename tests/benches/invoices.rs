//! Invoice list benchmark on PostgreSQL: loads N invoices (all statuses,
//! numbered when approved, spread over 2,000 customers and a year) in one
//! statement, then measures `GET /api/v1/invoices` end to end over HTTP as
//! a sales approver — the newest page, the approval queue, a status page,
//! one customer's invoices, a number search and a customer-name search —
//! and prints p50 / p95 / p99. Then it renders invoices of ten lines to
//! PDF, each with a new number (fonts loaded once, before the clock), and
//! prints the render time.
//!
//! ```text
//! cargo bench -p fieldops-tests --bench invoices                 # 100,000 invoices
//! FIELDOPS_BENCH_INVOICES=1000000 cargo bench -p fieldops-tests --bench invoices
//! ```
//!
//! Postgres comes from `FIELDOPS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); the run uses a schema of its
//! own and drops it at the end. `FIELDOPS_BENCH_SMOKE=1` loads 1,000.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fieldops_server::{AppState, Config};
use fieldops_tests::{Backend, TestDb, bench, demo_account};

fn rows_wanted() -> i64 {
    std::env::var("FIELDOPS_BENCH_INVOICES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(bench::size(100_000, 1_000))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    bench::announce("invoices");
    let total = rows_wanted();
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("PostgreSQL is unreachable; the invoice benchmark needs it");
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
    let pool = db.pool();

    eprintln!("fieldops invoice list benchmark (PostgreSQL), {total} invoices");
    let started = Instant::now();
    // 2,000 customers, then the invoices in one INSERT … SELECT: ids sort
    // by creation like UUIDv7 (a fixed prefix and the row number), every
    // seventh one a draft, the approved ones numbered INV/<year>/<seq>.
    sqlx::query(
        "INSERT INTO customers (id, name, phone, address, city, status, created_via, \
                                created_at, updated_at, phone_verified) \
         SELECT '00000000-0000-7000-8000-' || lpad(g::text, 12, '0'), \
                (ARRAY['Budi','Siti','Agus','Dewi','Eko','Made','Putu','Rina'])[1 + g % 8] \
                 || ' ' || (ARRAY['Santoso','Wijaya','Hartono','Lestari','Gunawan','Kusuma'])[1 + g % 6] \
                 || ' ' || g, \
                '+62814' || lpad(g::text, 8, '0'), 'Jl. Bench', 'Jakarta', 'active', 'manual', 0, 0, 1 \
         FROM generate_series(1, 2000) g",
    )
    .execute(pool)
    .await
    .unwrap();
    let drafter: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'cs@example.com'")
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO invoices (id, kind, status, number, series, year, sequence, customer_id, \
                               currency, tax_rule, subtotal, tax_base, tax, total, drafted_by, \
                               issued_on, version, created_at, updated_at) \
         SELECT '01000000-0000-7000-8000-' || lpad(g::text, 12, '0'), 'invoice', s.status, \
                CASE WHEN s.numbered THEN 'INV/2026/' || lpad(g::text, 6, '0') END, \
                CASE WHEN s.numbered THEN 'INV' END, CASE WHEN s.numbered THEN 2026 END, \
                CASE WHEN s.numbered THEN g END, \
                '00000000-0000-7000-8000-' || lpad((1 + g % 2000)::text, 12, '0'), \
                'IDR', 'ppn_12_dpp_11_12', 1000000, 916666, 110000, 1110000, $2, \
                CASE WHEN s.numbered THEN '2026-06-01' END, 1, \
                1750000000000 + g * 60000, 1750000000000 + g * 60000 \
         FROM generate_series(1, $1) g \
         CROSS JOIN LATERAL (SELECT (ARRAY['draft','pending_approval','approved','sent', \
                                           'payment_submitted','paid','paid'])[1 + g % 7] AS status) st \
         CROSS JOIN LATERAL (SELECT st.status AS status, \
                                    st.status NOT IN ('draft', 'pending_approval') AS numbered) s",
    )
    .bind(total)
    .bind(&drafter)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("VACUUM ANALYZE invoices")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE customers")
        .execute(pool)
        .await
        .unwrap();
    eprintln!("  loaded in {:.1} s", started.elapsed().as_secs_f64());

    let server = fieldops_server::start(state).await.unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let (email, password) = demo_account("sales");
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
    let customer = "00000000-0000-7000-8000-000000000777";
    let number = format!("INV/2026/{:06}", (total / 2) / 7 * 7 + 3);
    let queries = [
        "limit=50".to_owned(),
        "status=pending_approval&limit=50".to_owned(),
        "status=paid&limit=50".to_owned(),
        format!("customer_id={customer}&limit=50"),
        format!("search={}", number.replace('/', "%2F")),
        "search=siti%20wijaya&limit=50".to_owned(),
    ];
    let (warm_up, timed) = bench::size((20, 200), (2, 5));
    let mut per_query: Vec<(String, Vec<Duration>, usize)> = Vec::new();
    for q in &queries {
        let url = format!("{base}/api/v1/invoices?{q}");
        let mut times = Vec::new();
        let mut items = 0;
        for i in 0..warm_up + timed {
            let t = Instant::now();
            let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
            assert!(r.status().is_success(), "{q}: {}", r.status());
            let body: serde_json::Value = r.json().await.unwrap();
            let elapsed = t.elapsed();
            items = body["items"].as_array().map_or(0, Vec::len);
            if i >= warm_up {
                times.push(elapsed);
            }
        }
        assert!(items > 0, "{q} found nothing");
        times.sort();
        per_query.push((q.clone(), times, items));
    }
    let mut all: Vec<Duration> = per_query.iter().flat_map(|(_, t, _)| t.clone()).collect();
    all.sort();
    println!("invoice list, {total} invoices, PostgreSQL, HTTP end to end as sales");
    println!(
        "{:<58} {:>7} {:>9} {:>9} {:>9}",
        "query", "items", "p50 ms", "p95 ms", "p99 ms"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (q, t, n) in &per_query {
        println!(
            "{q:<58} {n:>7} {:>9.2} {:>9.2} {:>9.2}",
            ms(bench::percentile(t, 0.5)),
            ms(bench::percentile(t, 0.95)),
            ms(bench::percentile(t, 0.99))
        );
    }
    println!(
        "{:<58} {:>7} {:>9.2} {:>9.2} {:>9.2}",
        "all queries",
        "",
        ms(bench::percentile(&all, 0.5)),
        ms(bench::percentile(&all, 0.95)),
        ms(bench::percentile(&all, 0.99))
    );
    server.stop().await.unwrap();
    test_db.drop_schema().await;
    pdf_renders();
}

/// Renders one-page invoices of ten lines, a new number each time.
fn pdf_renders() {
    let (warm_up, timed) = bench::size((10, 200), (1, 3));
    let line = |n: usize| fieldops_pdf::Line {
        kind: "Jasa".into(),
        description: format!("Perbaikan panel listrik lantai {n}"),
        quantity: "2.5".into(),
        unit_price: "Rp150.000".into(),
        amount: "Rp375.000".into(),
    };
    let mut invoice = fieldops_pdf::Invoice {
        lang: "id".into(),
        title: "INVOICE".into(),
        date: "5 Des 2026".into(),
        seller: fieldops_pdf::Party {
            name: "PT Fieldops Demo Indonesia".into(),
            address: "Jl. Jenderal Sudirman No. 1, Jakarta".into(),
            npwp: "0000000000000000".into(),
        },
        buyer: fieldops_pdf::Party {
            name: "Hendra Gunawan".into(),
            address: "Jl. Jend. Sudirman Kav. 52-53, Jakarta Selatan".into(),
            npwp: String::new(),
        },
        lines: (1..=10).map(line).collect(),
        subtotal: "Rp3.750.000".into(),
        taxed: true,
        tax_base: "Rp3.437.500".into(),
        tax: "Rp412.500".into(),
        total: "Rp4.162.500".into(),
        in_words: fieldops_pdf::terbilang(4_162_500),
        labels: fieldops_pdf::LABELS
            .iter()
            .map(|k| (*k, k.to_uppercase()))
            .collect(),
        ..fieldops_pdf::Invoice::default()
    };
    let started = Instant::now();
    invoice.number = "INV/2026/000000".into();
    let first = invoice.render().unwrap();
    let first_render = started.elapsed();
    let mut times = Vec::new();
    for n in 1..=warm_up + timed {
        invoice.number = format!("INV/2026/{n:06}");
        let t = Instant::now();
        let pdf = invoice.render().unwrap();
        if n > warm_up {
            times.push(t.elapsed());
        }
        assert!(pdf.starts_with(b"%PDF-"));
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "invoice PDF, 10 lines, {} KB: first render (fonts parsed) {:.1} ms; then p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms over {timed}",
        first.len() / 1024,
        ms(first_render),
        ms(bench::percentile(&times, 0.5)),
        ms(bench::percentile(&times, 0.95)),
        ms(bench::percentile(&times, 0.99)),
    );
}
