//! A real failover: a primary and a synchronous streaming replica (two
//! PostgreSQL clusters this test makes with Debian's `initdb`,
//! `pg_basebackup` and `pg_ctl`), the server connected to them through one
//! address that follows the primary (a TCP forwarder standing for the
//! failover manager's virtual IP). While four writers have requests in
//! flight the primary is killed (`pg_ctl stop -m immediate`), the replica
//! promoted and the address moved.
//!
//! Every write the server acknowledged is on the new primary; writes in
//! flight answer 503 (or lose their connection), their retries with the same
//! `Idempotency-Key` answer 409 while the first try's key lease lasts and
//! then complete, each applied once; a new write is served again soon after
//! the promotion, without a restart. The times are printed.
//!
//! The server's driver takes one host (sqlx has no `target_session_attrs`),
//! which is why production puts the primary behind one moving address (see
//! the README). Runs where the PostgreSQL server binaries are installed;
//! with `CI=true` their absence is a failure.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Two distinct free ports (both held until both are known).
fn two_free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
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
    root: tempfile::TempDir,
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
/// Each cluster is stopped when the result is dropped, also when a later
/// step panics.
fn primary_and_replica(bin: &Path, primary_port: u16, replica_port: u16) -> Clusters {
    let mut clusters = Clusters {
        bin: bin.to_owned(),
        dirs: Vec::new(),
        root: tempfile::tempdir().unwrap(),
    };
    let root = clusters.root.path().to_owned();
    let primary = cluster_dir(&root, "primary");
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
    clusters.dirs.push(primary.clone());
    start_cluster(bin, &primary, primary_port);
    let replica = cluster_dir(&root, "replica");
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
    clusters.dirs.push(replica.clone());
    start_cluster(bin, &replica, replica_port);
    clusters
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

/// What one write went through.
struct Written {
    id: String,
    /// When its first try failed (refused or cut), if one did.
    first_failure: Option<Instant>,
    /// Tries that failed before it was answered 201.
    failures: usize,
    /// Of those, the ones answered 409: an earlier try of the same key
    /// still holds its lease.
    in_progress: usize,
    answered: Instant,
}

/// One customer created with its own idempotency key, retried until it is
/// answered 201 (within a minute). Only a 503 (the database unreachable), a
/// 409 `idempotency-in-progress` (its earlier try's lease) or a lost
/// connection may come before; a `duplicate` would mean a retry applied
/// twice.
async fn create_until_done(http: &reqwest::Client, base: &str, token: &str, n: usize) -> Written {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut first_failure = None;
    let (mut failures, mut in_progress) = (0, 0);
    loop {
        assert!(
            Instant::now() < deadline,
            "write {n} not answered within a minute"
        );
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
                return Written {
                    id: body["id"].as_str().unwrap().to_owned(),
                    first_failure,
                    failures,
                    in_progress,
                    answered: Instant::now(),
                };
            }
            Ok(r) => {
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                let problem = body["type"].as_str().unwrap_or_default();
                assert!(
                    status == 503
                        || (status == 409
                            && problem == "urn:fieldops:problem:idempotency-in-progress"),
                    "write {n} during the failover: {status} {body}"
                );
                in_progress += usize::from(status == 409);
            }
            Err(_) => {}
        }
        first_failure.get_or_insert_with(Instant::now);
        failures += 1;
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
    let (primary_port, replica_port) = two_free_ports();
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

    // Four writers, each a stream of one-at-a-time writes, as busy consoles
    // make them; the primary dies while their requests are in flight.
    let writers = 4;
    let per_writer = 40;
    let total = writers * per_writer;
    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (http, base, cs, done) = (http.clone(), base.clone(), cs.clone(), done.clone());
            tokio::spawn(async move {
                let mut written = Vec::with_capacity(per_writer);
                for i in 0..per_writer {
                    written.push(create_until_done(&http, &base, &cs, w * per_writer + i).await);
                    done.fetch_add(1, Ordering::SeqCst);
                }
                written
            })
        })
        .collect();
    while done.load(Ordering::SeqCst) < total / 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let failed_over_at = Instant::now();
    let dirs = clusters.dirs.clone();
    let bin_dir = bin.clone();
    let promote = tokio::task::spawn_blocking(move || {
        pg(
            &bin_dir,
            "pg_ctl",
            &["-D", dirs[0].to_str().unwrap(), "stop", "-m", "immediate"],
        );
        pg(
            &bin_dir,
            "pg_ctl",
            &["-D", dirs[1].to_str().unwrap(), "promote", "-w"],
        );
    });
    promote.await.unwrap();
    address.switch_to(replica);
    let promoted_in = failed_over_at.elapsed();
    // A write that starts now, with a key of its own.
    let fresh = create_until_done(&http, &base, &cs, total).await;
    let fresh_after = fresh.answered.saturating_duration_since(failed_over_at);
    let mut written = Vec::with_capacity(total);
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    written.push(fresh);
    let acknowledged: Vec<&String> = written.iter().map(|w| &w.id).collect();
    let failures: usize = written.iter().map(|w| w.failures).sum();
    let in_progress: usize = written.iter().map(|w| w.in_progress).sum();
    let hit: Vec<&Written> = written
        .iter()
        .filter(|w| w.first_failure.is_some())
        .collect();
    assert!(
        !hit.is_empty(),
        "no write was in flight or refused during the failover"
    );
    let first_refused = hit.iter().filter_map(|w| w.first_failure).min().unwrap();
    let served_again = hit.iter().map(|w| w.answered).max().unwrap();

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
    assert_eq!(count, total as i64 + 1, "every acknowledged write, once");
    for id in &acknowledged {
        let found: Option<(String,)> = sqlx::query_as("SELECT id FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(new_primary.pool())
            .await
            .unwrap();
        assert!(found.is_some(), "acknowledged customer {id} survived");
    }
    new_primary.close().await;
    println!(
        "failover: primary killed with {writers} writers busy; replica promoted and the address moved \
         in {:.0} ms; a new write answered {:.0} ms after the kill; {} writes in flight hit it \
         ({failures} failed tries, {in_progress} of them 409 while their first try's key lease ran), \
         the last answered {:.0} ms after its first refusal; {} acknowledged writes all on the new \
         primary, once",
        promoted_in.as_secs_f64() * 1e3,
        fresh_after.as_secs_f64() * 1e3,
        hit.len(),
        served_again
            .saturating_duration_since(first_refused)
            .as_secs_f64()
            * 1e3,
        total + 1,
    );
    server.stop().await.unwrap();
    drop(clusters);
}
