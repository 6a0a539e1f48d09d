//! A damaged id in the local store is an error, never a fabricated id: no
//! fresh or nil id stands in for it, and no row is silently skipped.

#![allow(clippy::unwrap_used)]

use fieldops_core::sync::docs::DocumentSchema;
use fieldops_core::sync::ids::{DocId, DocKind, UserId};
use fieldops_core::sync::protocol::{Cursor, Snapshot};
use fieldops_core::sync::rules::Role;
use fieldops_core::sync::testing::sample_visit;
use fieldops_core::{Account, CoreError, FieldopsCore};

/// A signed-in core with one visit of mine, and the store's path.
fn setup(dir: &tempfile::TempDir) -> (FieldopsCore, std::path::PathBuf, DocId) {
    let path = dir.path().join("store.db");
    let core = FieldopsCore::open(&path).unwrap();
    let visit = sample_visit();
    let me: UserId = visit.assignments[0].technician_id;
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
            user_id: me,
            role: Role::Technician,
            name: "Tech".into(),
            email: "tech1@example.com".into(),
            department_ids: vec![],
        })
        .unwrap();
    (core, path, id)
}

/// Damages the store behind the core's back, as a disk fault would.
fn damage(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

fn is_corrupt<T: std::fmt::Debug>(result: Result<T, CoreError>) -> bool {
    matches!(result, Err(CoreError::StoreCorrupt(ref text)) if text.contains("invalid id"))
}

#[test]
fn a_damaged_command_id_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (core, path, visit) = setup(&dir);
    core.visits().claim(visit).unwrap();
    damage(&path, "UPDATE outbox SET command_id = 'not-an-id'");
    assert!(is_corrupt(core.outbox().list(false)));
}

#[test]
fn a_damaged_command_target_is_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (core, path, visit) = setup(&dir);
    core.visits().claim(visit).unwrap();
    damage(&path, "UPDATE outbox SET target_id = 'nope'");
    assert!(is_corrupt(core.outbox().list(false)));
}

#[test]
fn a_damaged_document_id_is_reported_by_lists() {
    let dir = tempfile::tempdir().unwrap();
    let (core, path, visit) = setup(&dir);
    assert_eq!(core.visits().mine(None).unwrap().len(), 1);
    damage(
        &path,
        &format!(
            "PRAGMA foreign_keys = OFF;
             UPDATE doc_index SET doc_id = 'x' WHERE doc_id = '{visit}';
             UPDATE documents SET doc_id = 'x' WHERE doc_id = '{visit}';"
        ),
    );
    assert!(is_corrupt(core.visits().mine(None)));
}

#[test]
fn a_nil_id_is_not_an_id() {
    let dir = tempfile::tempdir().unwrap();
    let (core, path, visit) = setup(&dir);
    core.visits().claim(visit).unwrap();
    damage(
        &path,
        "UPDATE outbox SET command_id = '00000000-0000-0000-0000-000000000000'",
    );
    assert!(is_corrupt(core.outbox().list(false)));
}
