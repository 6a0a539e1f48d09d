//! Crash trials for the phone core (issue 25): the phone's process is
//! killed with SIGKILL at random instants while its live sync loop runs and
//! the user keeps writing (chat messages queued in the outbox), again and
//! again on the same store. After every kill the store opens, and every
//! message the phone reported saved is in its outbox; after all of them,
//! each saved message reached the server exactly once.
//!
//! The phone runs as a child process: this test binary again, running only
//! `phone_crash_child` with the store and the server in its environment.
//! `FIELDOPS_PHONE_CRASH_TRIALS` (default 10 per backend) and
//! `FIELDOPS_PHONE_CRASH_SEED` (printed) replay a run.

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use fieldops_core::FieldopsCore;
use fieldops_tests::phones::SYNC;
use fieldops_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(a_phone_killed_while_it_syncs_and_writes_loses_nothing);

const CHILD_STORE: &str = "FIELDOPS_PHONE_CRASH_STORE";
const CHILD_TRIAL: &str = "FIELDOPS_PHONE_CRASH_TRIAL";

/// The phone, run only as the child: live sync on, a chat message queued
/// every few milliseconds, each reported once its write returned.
#[test]
fn phone_crash_child() {
    let Ok(path) = std::env::var(CHILD_STORE) else {
        return;
    };
    let trial: u64 = std::env::var(CHILD_TRIAL).unwrap().parse().unwrap();
    let core = FieldopsCore::open(&path).unwrap();
    core.sync().start().unwrap();
    // Each run numbers its messages afresh under its trial: a message saved
    // in the instant before a kill, and never reported, keeps a body of its
    // own.
    for n in 0.. {
        let entry = core
            .tickets()
            .send_chat_message(None, &format!("crash {trial}.{n}"))
            .unwrap();
        println!("saved {trial}.{n} {}", entry.command_id);
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// Runs the phone as a child until it has reported `kill_after` saved
/// messages, kills it, and returns every message it reported saved (those
/// printed before the kill and not yet read included).
fn run_child(store: &std::path::Path, trial: u64, kill_after: u64) -> Vec<(String, String)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "phone_crashes::phone_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_STORE, store)
        .env(CHILD_TRIAL, trial.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut saved = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("saved ") {
            let (n, id) = rest.split_once(' ').unwrap();
            saved.push((n.to_owned(), id.to_owned()));
            if saved.len() as u64 == kill_after {
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    for line in lines.map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("saved ") {
            let (n, id) = rest.split_once(' ').unwrap();
            saved.push((n.to_owned(), id.to_owned()));
        }
    }
    saved
}

async fn a_phone_killed_while_it_syncs_and_writes_loses_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let trials: u64 = std::env::var("FIELDOPS_PHONE_CRASH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("FIELDOPS_PHONE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().as_nanosecond() as u64);
    println!(
        "phone crash trials on {backend:?}: replay with FIELDOPS_PHONE_CRASH_SEED={seed} FIELDOPS_PHONE_CRASH_TRIALS={trials}"
    );
    let mut rng = fieldops_tests::SeededRng(seed);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    {
        let core = FieldopsCore::open(&store).unwrap();
        core.auth()
            .login(&app.url(""), "customer@example.com", "customer123")
            .await
            .unwrap();
        core.sync().now(SYNC).await.unwrap();
    }

    let mut saved: Vec<(String, String)> = Vec::new();
    for trial in 0..trials {
        let kill_after = rng.between(20, 140);
        let store_path = store.clone();
        // The child is driven with blocking reads, off the runtime that
        // serves its sync session.
        let reported =
            tokio::task::spawn_blocking(move || run_child(&store_path, trial, kill_after))
                .await
                .unwrap();
        saved.extend(reported);
        // The store opens after the kill, with everything reported saved.
        let core = FieldopsCore::open(&store).unwrap_or_else(|e| {
            panic!("trial {trial} (seed {seed}): the store does not open: {e}")
        });
        for (n, id) in &saved {
            assert!(
                core.outbox().get(id.parse().unwrap()).is_ok(),
                "trial {trial} (seed {seed}): message {n} was reported saved"
            );
        }
    }

    // Back online for good: the outbox drains, each message once.
    let core = FieldopsCore::open(&store).unwrap();
    for _ in 0..10 {
        core.sync().now(SYNC).await.unwrap();
        if core.outbox().list(true).unwrap().is_empty() {
            break;
        }
    }
    assert!(
        core.outbox().list(true).unwrap().is_empty(),
        "the outbox drained"
    );
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM chat_messages WHERE body LIKE 'crash %'")
            .fetch_all(app.server.state.db.pool())
            .await
            .unwrap();
    let unique: HashSet<&String> = bodies.iter().collect();
    assert_eq!(
        unique.len(),
        bodies.len(),
        "a message reached the server twice (seed {seed})"
    );
    for (n, _) in &saved {
        assert!(
            unique.contains(&format!("crash {n}")),
            "message {n} was saved on the phone and never arrived (seed {seed})"
        );
    }
    println!(
        "phone crash trials on {backend:?}: {trials} kills, {} messages reported saved, {} on the server, each once",
        saved.len(),
        bodies.len()
    );
    app.stop().await;
}
