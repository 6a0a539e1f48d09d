//! In-process locks by key (an upload id, a visit id), made on demand and
//! forgotten when nobody holds or waits for them.
//!
//! They order work *within one instance* where the database alone would let
//! it race or queue badly; correctness across instances never depends on
//! them (the conditional updates and constraints in SQL do that).
//!
//! * Uploads: a `PATCH` holds its upload's lock while it reads and saves its
//!   chunk, and `HEAD` takes it briefly, so requests on one upload are answered
//!   in order and a `HEAD` never reports an offset a chunk in flight is about
//!   to move.
//! * Claims: the claims the [claim gate](crate::visits::gate) admits on one
//!   visit take turns at the database; refused claims never wait for one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::OwnedMutexGuard;

/// Locks a std mutex whose data stays valid even if a holder panicked
/// (maps and counters updated in one step): a panic elsewhere must not
/// take every later request down with it.
pub(crate) fn unpoisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Locks by key. Cheap to clone; clones share the locks.
#[derive(Debug, Clone, Default)]
pub struct KeyedLocks {
    locks: Arc<Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>>,
}

impl KeyedLocks {
    /// Waits for the lock of `key` (waiters are served in arrival order).
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut map = unpoisoned(&self.locks);
            map.retain(|_, weak| weak.strong_count() > 0);
            match map.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(key.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_key_is_held_once_and_other_keys_are_free() {
        let locks = KeyedLocks::default();
        let held = locks.lock("a").await;
        let other = tokio::time::timeout(Duration::from_millis(50), locks.lock("b")).await;
        assert!(other.is_ok(), "another key is not blocked");
        let same = tokio::time::timeout(Duration::from_millis(50), locks.lock("a")).await;
        assert!(same.is_err(), "the same key waits");
        drop(held);
        let again = tokio::time::timeout(Duration::from_millis(50), locks.lock("a")).await;
        assert!(again.is_ok(), "released");
        drop((again, other));
        assert!(
            locks
                .locks
                .lock()
                .unwrap()
                .values()
                .all(|w| w.strong_count() == 0),
            "nothing kept once released"
        );
    }
}
