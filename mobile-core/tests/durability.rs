//! A device killed mid-transaction reopens with every saved write intact.
//!
//! The test re-runs its own binary as a child that writes in a loop (visit
//! notes and outbox commands, each a transaction) and prints a line after
//! each write returns. The parent SIGKILLs the child while it is writing,
//! reopens the store, and checks that everything the child reported saved
//! is there.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use fieldops_core::sync::docs::DocumentSchema;
use fieldops_core::sync::ids::{DocId, DocKind};
use fieldops_core::sync::protocol::{Cursor, Snapshot};
use fieldops_core::sync::rules::Role;
use fieldops_core::sync::testing::sample_visit;
use fieldops_core::{Account, FieldopsCore};

const CHILD_ENV: &str = "FIELDOPS_DURABILITY_CHILD";

/// The writer, run only as the child.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let core = FieldopsCore::open(&path).unwrap();
    let visit = sample_visit();
    let id = DocId::new();
    core.documents()
        .import_snapshots(&[Snapshot {
            doc_id: id,
            kind: DocKind::Visit,
            seq: Cursor(1),
            bytes: visit.to_document().unwrap().save(),
        }])
        .unwrap();
    core.auth()
        .sign_in_offline(Account {
            base_url: "http://127.0.0.1:9".into(),
            user_id: visit.assignments[0].technician_id,
            role: Role::Technician,
            name: "Tech".into(),
            email: "t@example.com".into(),
            department_ids: vec![],
        })
        .unwrap();
    println!("visit {id}");
    for n in 0.. {
        core.visits().set_notes(id, &format!("note {n}")).unwrap();
        let entry = core
            .tickets()
            .send_chat_message(None, &format!("message {n}"))
            .unwrap();
        println!("saved {n} {}", entry.command_id);
    }
}

#[test]
fn a_killed_writer_loses_nothing_it_reported_saved() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut visit: Option<DocId> = None;
    let mut saved = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some((_, id)) = line.split_once("visit ") {
            visit = Some(id.parse().unwrap());
        } else if let Some(rest) = line.strip_prefix("saved ") {
            let (n, command) = rest.split_once(' ').unwrap();
            saved.push((n.parse::<u64>().unwrap(), command.to_owned()));
            if saved.len() == 150 {
                // Kill while the next write is in flight.
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    // Lines written before the kill but not read yet count as saved too.
    for line in lines.map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("saved ") {
            let (n, command) = rest.split_once(' ').unwrap();
            saved.push((n.parse().unwrap(), command.to_owned()));
        }
    }

    let core = FieldopsCore::open(&path).unwrap();
    let (last, _) = saved.last().unwrap();
    let notes = core.visits().get(visit.unwrap()).unwrap().notes;
    let stored: u64 = notes.strip_prefix("note ").unwrap().parse().unwrap();
    assert!(stored >= *last, "notes {stored} older than reported {last}");
    for (_, command) in &saved {
        core.outbox().get(command.parse().unwrap()).unwrap();
    }
    let open = core.outbox().list(true).unwrap();
    assert!(open.len() >= saved.len());
    // device_seq stays dense and ordered after the crash.
    let mut seqs: Vec<u64> = open.iter().map(|e| e.device_seq).collect();
    seqs.sort();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
}
