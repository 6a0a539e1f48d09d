//! A real failover: a primary and a synchronous streaming replica (two
//! PostgreSQL clusters this test makes with Debian's `initdb`,
//! `pg_basebackup` and `pg_ctl`), the server connected to them through one
//! address that follows the primary (a TCP forwarder standing for the
//! failover manager's virtual IP). Mid-way through a stream of writes the
//! primary is killed (`pg_ctl stop -m immediate`), the replica promoted and
//! the address moved.
//!
//! Every write the server acknowledged is on the new primary; writes in the
//! window answer 503 (or lose their connection) and succeed when retried
//! with their `Idempotency-Key`, once; the server recovers without a
//! restart. The window of refused writes is printed.
//!
//! The server's driver takes one host (sqlx has no `target_session_attrs`),
//! which is why production puts the primary behind one moving address (see
//! the README). Runs where the PostgreSQL server binaries are installed;
//! with `CI=true` their absence is a failure.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fieldops_server::{AppState, Config};
use fieldops_tests::switch::TcpSwitch;
use serde_json::{Value, json};

/// The directory of `initdb`, `pg_ctl` and `pg_basebackup`, newest version.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_basebackup").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a PostgreSQL tool: as the `postgres` account when this is root
/// (PostgreSQL refuses to run as root), as this user otherwise.
fn pg(bin: &Path, tool: &str, args: &[&str]) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let program = bin.join(tool);
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&program);
        c
    } else {
        Command::new(&program)
    };
    let out = command.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A cluster directory under `root`, owned by whoever runs PostgreSQL.
fn cluster_dir(root: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    // PostgreSQL refuses a data directory others may read.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(root)
        .status();
    dir
}

/// Two clusters; stopped (immediately) when dropped.
struct Clusters {
    bin: PathBuf,
    dirs: Vec<PathBuf>,
    _root: tempfile::TempDir,
}

impl Drop for Clusters {
    fn drop(&mut self) {
        for dir in &self.dirs {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", dir.to_str().unwrap(), "stop", "-m", "immediate"])
                .output();
            let _ = Command::new(self.bin.join("pg_ctl"))
                .args(["-D", dir.to_str().unwrap(), "stop", "-m", "immediate"])
                .output();
        }
    }
}

/// Starts the cluster in `dir` on `port`; its log and socket beside it.
fn start_cluster(bin: &Path, dir: &Path, port: u16) {
    let beside = dir.parent().unwrap();
    let log = beside.join(format!("{port}.log"));
    pg(
        bin,
        "pg_ctl",
        &[
            "-D",
            dir.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-o",
            &format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                beside.display()
            ),
            "start",
        ],
    );
}

/// A primary that waits for its replica on every commit, and that replica.
fn primary_and_replica(bin: &Path, primary_port: u16, replica_port: u16) -> Clusters {
    let root = tempfile::tempdir().unwrap();
    let primary = cluster_dir(root.path(), "primary");
    pg(
        bin,
        "initdb",
        &[
            "-D",
            primary.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
    );
    let conf = "wal_level = replica\nmax_wal_senders = 4\nsynchronous_standby_names = '*'\n\
                fsync = off\nfull_page_writes = off\n";
    let mut settings = std::fs::read_to_string(primary.join("postgresql.conf")).unwrap();
    settings.push_str(conf);
    std::fs::write(primary.join("postgresql.conf"), settings).unwrap();
    start_cluster(bin, &primary, primary_port);
    let replica = cluster_dir(root.path(), "replica");
    pg(
        bin,
        "pg_basebackup",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &primary_port.to_string(),
            "-U",
            "postgres",
            "-D",
            replica.to_str().unwrap(),
            "-R",
            "-X",
            "stream",
        ],
    );
    // Promoted, it has no standby of its own to wait for (a failover
    // manager makes this change when it promotes).
    let mut settings = std::fs::read_to_string(replica.join("postgresql.conf")).unwrap();
    settings.push_str("synchronous_standby_names = ''\n");
    std::fs::write(replica.join("postgresql.conf"), settings).unwrap();
    start_cluster(bin, &replica, replica_port);
    Clusters {
        bin: bin.to_owned(),
        dirs: vec![primary, replica],
        _root: root,
    }
}

async fn until_replica_is_synchronous(primary_url: &str) {
    let db = fieldops_server::db::Db::connect(primary_url).await.unwrap();
    for _ in 0..100 {
        let sync: Option<(String,)> =
            sqlx::query_as("SELECT sync_state FROM pg_stat_replication WHERE sync_state = 'sync'")
                .fetch_optional(db.pool())
                .await
                .unwrap();
        if sync.is_some() {
            db.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replica never became synchronous");
}

/// One customer created with its own idempotency key, retried until it is
/// answered 201: (its id, whether a try failed first, when it was answered).
async fn create_until_done(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> (String, bool, Instant) {
    let mut failed = false;
    loop {
        let reply = http
            .post(format!("{base}/api/v1/customers"))
            .bearer_auth(token)
            .header("idempotency-key", format!("failover-{n}"))
            .json(&json!({ "name": format!("Pelanggan Failover {n}"), "phone": format!("+62813888{n:05}") }))
            .send()
            .await;
        match reply {
            Ok(r) if r.status() == 201 => {
                let body: Value = r.json().await.unwrap();
                return (
                    body["id"].as_str().unwrap().to_owned(),
                    failed,
                    Instant::now(),
                );
            }
            Ok(r) => {
                let status = r.status().as_u16();
                assert!(
                    matches!(status, 503 | 409),
                    "a write during failover: {status} {}",
                    r.text().await.unwrap_or_default()
                );
            }
            Err(_) => {}
        }
        failed = true;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_follows_a_promoted_replica_and_loses_nothing() {
    let Some(bin) = postgres_bin() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the PostgreSQL server binaries (initdb, pg_basebackup) are missing"
        );
        eprintln!("NOTICE: skipping the failover test: no PostgreSQL server binaries");
        return;
    };
    let (primary_port, replica_port) = (free_port(), free_port());
    let clusters = primary_and_replica(&bin, primary_port, replica_port);
    let primary: SocketAddr = format!("127.0.0.1:{primary_port}").parse().unwrap();
    let replica: SocketAddr = format!("127.0.0.1:{replica_port}").parse().unwrap();
    until_replica_is_synchronous(&format!("postgres://postgres@{primary}/postgres")).await;

    let address = TcpSwitch::start(primary).await;
    let state = AppState::build(Config {
        database_url: format!("postgres://postgres@{}/postgres", address.addr),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    })
    .await
    .unwrap();
    fieldops_server::seed::demo(&state).await.unwrap();
    let (_, cs) = fieldops_tests::token_for(&state, "cs@example.com").await;
    let server = fieldops_server::start(state).await.unwrap();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Writes before, during and after the failover, one at a time, as a
    // busy console makes them.
    let before = 40;
    let total = 120;
    let mut acknowledged = Vec::with_capacity(total);
    // When the last write that had to be retried was finally answered.
    let mut window_end = None;
    let mut failed_over_at = None;
    for n in 0..total {
        if n == before {
            pg(
                &bin,
                "pg_ctl",
                &[
                    "-D",
                    clusters.dirs[0].to_str().unwrap(),
                    "stop",
                    "-m",
                    "immediate",
                ],
            );
            failed_over_at = Some(Instant::now());
            pg(
                &bin,
                "pg_ctl",
                &["-D", clusters.dirs[1].to_str().unwrap(), "promote", "-w"],
            );
            address.switch_to(replica);
        }
        let (id, failed, answered) = create_until_done(&http, &base, &cs, n).await;
        if failed {
            window_end = Some(answered);
        }
        acknowledged.push(id);
    }

    // Everything acknowledged is on the promoted replica, once.
    let new_primary =
        fieldops_server::db::Db::connect(&format!("postgres://postgres@{replica}/postgres"))
            .await
            .unwrap();
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM customers WHERE name LIKE 'Pelanggan Failover %'")
            .fetch_one(new_primary.pool())
            .await
            .unwrap();
    assert_eq!(count, total as i64, "every acknowledged write, once");
    for id in &acknowledged {
        let found: Option<(String,)> = sqlx::query_as("SELECT id FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(new_primary.pool())
            .await
            .unwrap();
        assert!(found.is_some(), "acknowledged customer {id} survived");
    }
    new_primary.close().await;
    let failed_over_at = failed_over_at.unwrap();
    let refused = window_end.map_or(Duration::ZERO, |end| {
        end.saturating_duration_since(failed_over_at)
    });
    println!(
        "failover: primary killed, replica promoted and the address moved; writes refused for {:.0} ms, \
         then served again without a restart; {total} acknowledged writes all on the new primary",
        refused.as_secs_f64() * 1e3
    );
    server.stop().await.unwrap();
    drop(clusters);
}
