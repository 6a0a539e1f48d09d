//! fieldops-core against a real server: several devices (each a core with
//! its own store) log in, sync, go offline, write and converge.

use std::time::Duration;

use automerge::AutoCommit;
use fieldops_core::{CommandState, FieldopsCore, SyncState};
use fieldops_server::sync::{self, DocScope};
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::visit::{Assignment, AssignmentState};
use fieldops_sync::ids::{AssignmentId, DocId, DocKind};
use fieldops_sync::testing;
use fieldops_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(
    offline_edits_on_two_devices_converge,
    a_command_whose_answer_was_lost_is_applied_once,
    out_of_scope_stays_away_and_a_no_change_sync_receives_nothing,
);

const SYNC: Duration = Duration::from_secs(20);

async fn user_id(app: &TestApp, email: &str) -> String {
    let token = app.login(email, "tech123").await;
    app.get("/api/v1/me", &token).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A visit assigned to tech1 and tech2, created on the server.
async fn assigned_visit(app: &TestApp) -> DocId {
    let t1 = user_id(app, "tech1@example.com").await;
    let t2 = user_id(app, "tech2@example.com").await;
    let mut visit = testing::sample_visit();
    visit.assignments = [&t1, &t2]
        .iter()
        .map(|t| Assignment {
            assignment_id: AssignmentId::new(),
            technician_id: t.parse().unwrap(),
            state: AssignmentState::Active,
        })
        .collect();
    let id = DocId::new();
    let mut doc: AutoCommit = visit.to_document().unwrap();
    let db = &app.server.state.db;
    let mut tx = db.begin_write().await.unwrap();
    sync::create(
        &mut tx,
        &id.to_string(),
        DocKind::Visit,
        DocScope::default(),
        &mut doc,
        &[t1, t2],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn device(app: &TestApp, dir: &tempfile::TempDir, name: &str, email: &str) -> FieldopsCore {
    let core = FieldopsCore::open(dir.path().join(format!("{name}.db"))).unwrap();
    core.auth()
        .login(&app.url(""), email, "tech123")
        .await
        .unwrap();
    core
}

async fn offline_edits_on_two_devices_converge(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let visit = assigned_visit(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let a = device(&app, &dir, "a", "tech1@example.com").await;
    let b = device(&app, &dir, "b", "tech2@example.com").await;
    a.sync().now(SYNC).await.unwrap();
    b.sync().now(SYNC).await.unwrap();
    assert_eq!(
        a.visits().mine(None).unwrap().len(),
        1,
        "the catch-up listed it"
    );

    // Both offline: concurrent edits of the same visit.
    a.visits().set_notes(visit, "Valve replaced.").unwrap();
    let item = b
        .visits()
        .add_checklist_item(visit, "Photo of meter")
        .unwrap();
    b.visits()
        .set_notes(visit, "Customer asked for invoice.")
        .unwrap();
    assert_eq!(a.sync().status().unsynced_documents, 1);

    // Back online, in any order.
    a.sync().now(SYNC).await.unwrap();
    b.sync().now(SYNC).await.unwrap();
    a.sync().now(SYNC).await.unwrap();
    let (va, vb) = (
        a.visits().get(visit).unwrap(),
        b.visits().get(visit).unwrap(),
    );
    assert_eq!(va, vb, "both devices hold the same visit");
    assert!(va.notes.contains("Valve replaced."), "{}", va.notes);
    assert!(
        va.notes.contains("Customer asked for invoice."),
        "{}",
        va.notes
    );
    assert!(va.checklist.iter().any(|i| i.id == item));
    let status = a.sync().status();
    assert_eq!(status.unsynced_documents, 0);
    assert_eq!(status.state, SyncState::Idle);
    assert!(status.last_synced_at_ms.is_some());

    // Live: B stays connected and sees A's next edit without asking.
    b.sync().start().unwrap();
    a.visits().set_notes(visit, "Done, all good.").unwrap();
    a.sync().now(SYNC).await.unwrap();
    let deadline = std::time::Instant::now() + SYNC;
    while b.visits().get(visit).unwrap().notes != "Done, all good." {
        assert!(std::time::Instant::now() < deadline, "B never saw A's edit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.sync().stop();
    app.stop().await;
}

async fn a_command_whose_answer_was_lost_is_applied_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let visit = assigned_visit(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let core = FieldopsCore::open(&path).unwrap();
    core.auth()
        .login(&app.url(""), "tech1@example.com", "tech123")
        .await
        .unwrap();
    core.sync().now(SYNC).await.unwrap();
    let command = core
        .visits()
        .request_extension(visit, 2, "parts on order")
        .unwrap();
    assert_eq!(command.state, CommandState::Pending);
    drop(core);

    // A copy of the phone syncs: the server executes the command and the
    // copy hears the answer. The original never does: its connection
    // "dropped" after the server applied the command.
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    let wal = dir.path().join("phone.db-wal");
    if wal.exists() {
        std::fs::copy(&wal, dir.path().join("copy.db-wal")).unwrap();
    }
    let twin = FieldopsCore::open(&copy).unwrap();
    twin.sync().now(SYNC).await.unwrap();
    let answered = twin.outbox().get(command.command_id).unwrap();
    assert!(!answered.state.is_open());
    drop(twin);

    let core = FieldopsCore::open(&path).unwrap();
    assert!(
        core.outbox()
            .get(command.command_id)
            .unwrap()
            .state
            .is_open()
    );
    core.sync().now(SYNC).await.unwrap();
    let replayed = core.outbox().get(command.command_id).unwrap();
    assert_eq!(
        replayed.state, answered.state,
        "the stored result is replayed"
    );
    assert_eq!(replayed.reason, answered.reason);

    let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM sync_commands WHERE id = '{}'",
        command.command_id
    )))
    .fetch_one(app.server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(rows, 1, "executed exactly once");
    app.stop().await;
}

async fn out_of_scope_stays_away_and_a_no_change_sync_receives_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let visit = assigned_visit(&app).await;
    let dir = tempfile::tempdir().unwrap();
    // tech3 is not assigned: the visit is not in their scope at all.
    let c = device(&app, &dir, "c", "tech3@example.com").await;
    let report = c.sync().now(SYNC).await.unwrap();
    assert!(!c.documents().contains(visit).unwrap());
    let a = device(&app, &dir, "a", "tech1@example.com").await;
    let first = a.sync().now(SYNC).await.unwrap();
    assert!(first.cursor >= report.cursor);
    let again = a.sync().now(SYNC).await.unwrap();
    assert_eq!(again.documents_received, 0, "nothing new: nothing sent");
    assert_eq!(again.cursor, first.cursor);
    app.stop().await;
}
