//! Fault points: named places on the write path where a test can crash the
//! server or hold a request, to prove what survives a crash at exactly that
//! instant (FoundationDB's "buggify", fail-rs's failpoints, in miniature).
//!
//! A point is hit with a **tag** — the request's idempotency key — so that a
//! test arms it for its own request only and the other tests sharing the
//! process are unaffected.
//!
//! * In a child process: `FIELDOPS_FAULT=<point>:abort:<tag>` aborts the
//!   process (as `kill -9` would: no destructors, no flush) when the point
//!   is hit with that tag.
//! * In process: [`hold`] parks the request at the point until the test
//!   lets it go (or drops it: a cut connection).
//!
//! Unarmed, a hit costs one uncontended lock when a tag is present and
//! nothing otherwise.

use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::Notify;

/// Where a unit of work can be stopped.
pub mod point {
    /// The write transaction is open; nothing is written yet.
    pub const BEGUN: &str = "work.begun";
    /// The change is written but not committed.
    pub const BEFORE_COMMIT: &str = "work.before_commit";
    /// The change (with its stored response) has committed; nobody has been
    /// told yet.
    pub const AFTER_COMMIT: &str = "work.after_commit";
}

#[derive(Debug)]
struct Armed {
    point: &'static str,
    tag: String,
    what: What,
}

#[derive(Debug)]
enum What {
    Abort,
    Hold(Arc<Held>),
}

/// A request held at a point.
#[derive(Debug, Default)]
pub struct Held {
    reached: Notify,
    release: Notify,
}

impl Held {
    /// Waits until the request is parked at the point.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the parked request go on.
    pub fn release(&self) {
        self.release.notify_one();
    }
}

static ARMED: LazyLock<Mutex<Vec<Armed>>> = LazyLock::new(|| Mutex::new(from_env()));

fn from_env() -> Vec<Armed> {
    let Ok(spec) = std::env::var("FIELDOPS_FAULT") else {
        return Vec::new();
    };
    let mut parts = spec.splitn(3, ':');
    let (Some(point), Some("abort"), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        tracing::warn!(spec, "FIELDOPS_FAULT is not <point>:abort:<tag>; ignored");
        return Vec::new();
    };
    let point = [point::BEGUN, point::BEFORE_COMMIT, point::AFTER_COMMIT]
        .into_iter()
        .find(|p| *p == point);
    let Some(point) = point else {
        tracing::warn!(spec, "FIELDOPS_FAULT names no fault point; ignored");
        return Vec::new();
    };
    tracing::warn!(point, tag, "fault armed: the process aborts there");
    vec![Armed {
        point,
        tag: tag.to_owned(),
        what: What::Abort,
    }]
}

fn armed() -> std::sync::MutexGuard<'static, Vec<Armed>> {
    ARMED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Parks the next request tagged `tag` at `point` until the returned handle
/// releases it.
pub fn hold(point: &'static str, tag: &str) -> Arc<Held> {
    let held = Arc::new(Held::default());
    armed().push(Armed {
        point,
        tag: tag.to_owned(),
        what: What::Hold(Arc::clone(&held)),
    });
    held
}

/// Called at `point` by a request tagged `tag`.
pub async fn hit(point: &'static str, tag: Option<&str>) {
    let Some(tag) = tag else { return };
    let held = {
        let mut armed = armed();
        let Some(i) = armed.iter().position(|a| a.point == point && a.tag == tag) else {
            return;
        };
        match &armed[i].what {
            What::Abort => {
                eprintln!("fault point {point} hit by {tag}: aborting");
                std::process::abort();
            }
            What::Hold(_) => match armed.swap_remove(i).what {
                What::Hold(held) => held,
                What::Abort => return,
            },
        }
    };
    held.reached.notify_one();
    held.release.notified().await;
}
