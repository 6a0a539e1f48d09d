//! Many tickets at once, straight into PostgreSQL, for the benchmarks that
//! need a help desk's worth of them (the ticket list, the console): realistic
//! subjects in Bahasa Indonesia, customers, departments, priorities and
//! statuses drawn by a deterministic generator, a year of creation times.

use std::io::Write as _;
use std::time::{Duration, Instant};

use fieldops_server::db::{Db, now_ms};

pub const SUBJECT_WORDS: &[&str] = &[
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
pub const FIRST: &[&str] = &[
    "Budi", "Siti", "Agus", "Dewi", "Eko", "Fajar", "Gita", "Hendra", "Indah", "Joko", "Kartika",
    "Lestari", "Made", "Nur", "Putu", "Rina", "Sari", "Tono", "Wayan", "Yudi",
];
pub const LAST: &[&str] = &[
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
pub const CATEGORIES: &[&str] = &[
    "technical",
    "billing",
    "account",
    "feature_request",
    "bug",
    "general",
    "other",
];
pub const PRIORITIES: &[&str] = &["low", "normal", "normal", "normal", "high", "urgent"];
pub const STATUSES: &[&str] = &[
    "open",
    "in_progress",
    "resolved",
    "closed",
    "closed",
    "closed",
];

/// A small deterministic generator (xorshift), so runs are comparable.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next_u64() % xs.len() as u64) as usize]
    }
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
pub async fn bulk_load(
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
                &customers[(rng.next_u64() % customers.len() as u64) as usize];
            let created = base + (seq * year_ms) / total as i64;
            values.push((
                uuid::Uuid::now_v7().to_string(),
                seq,
                fieldops_server::domain::ticket_number(seq),
                subject,
                rng.pick(CATEGORIES),
                rng.pick(PRIORITIES),
                rng.pick(STATUSES),
                departments[(rng.next_u64() % departments.len() as u64) as usize].clone(),
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
