//! Real phones (fieldops-core) in tests: the demo customer's, and syncing
//! until what a test waits for has arrived.

use std::time::Duration;

use fieldops_core::FieldopsCore;

use crate::TestApp;

/// How long one sync may take.
pub const SYNC: Duration = Duration::from_secs(20);

/// The demo customer's phone, signed in and synced once.
pub async fn customer_phone(app: &TestApp, dir: &tempfile::TempDir) -> FieldopsCore {
    let core = FieldopsCore::open(dir.path().join("customer.db")).unwrap();
    core.auth()
        .login(&app.url(""), "customer@example.com", "customer123")
        .await
        .unwrap();
    core.sync().now(SYNC).await.unwrap();
    core
}

/// Syncs until `done` holds (a command's effect can arrive a frame after
/// its answer), at most five rounds.
pub async fn sync_until(core: &FieldopsCore, done: impl Fn(&FieldopsCore) -> bool) {
    for _ in 0..5 {
        core.sync().now(SYNC).await.unwrap();
        if done(core) {
            return;
        }
    }
    panic!("the phone did not converge");
}
