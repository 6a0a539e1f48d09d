//! A short-lived, in-process cache of authenticated callers.
//!
//! Every authenticated request reads its account, device session and
//! departments ([`users::caller`]); under a burst that one read per request
//! is a large share of the work. The cache keeps what that read returned for
//! a device session for at most `caller_cache_ttl` (default 2 s).
//!
//! A cached caller must never outlive a revocation on this instance:
//!
//! * Everything that ends or narrows an account's access — sign-out,
//!   password change or reset, deactivation, a role or department change —
//!   records an account event (`sync::ACCOUNT_EVENT`) in its own
//!   transaction. [`EventBus::deliver`](crate::events::EventBus::deliver)
//!   forgets that account's entries right after the commit, before the
//!   request that made the change is answered; on Postgres the LISTEN task
//!   does the same for the events of other instances.
//! * A read that started before a revocation must not store what it read
//!   after the revocation was forgotten: [`CallerCache::put`] takes the
//!   epoch seen before the read, and every forget moves the epoch on.
//! * If the LISTEN connection drops, notifications may have been missed:
//!   the whole cache is forgotten.
//!
//! So a revocation takes effect at once on the instance that made it, on the
//! others as soon as its notification arrives, and within the TTL at worst.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::users::Caller;

/// More entries than this and the expired ones are swept out on the next put.
const SWEEP_ABOVE: usize = 10_000;

/// See the module docs.
#[derive(Debug)]
pub struct CallerCache {
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Moves on with every forget.
    epoch: u64,
    /// By device session id.
    entries: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    caller: Caller,
    until: Instant,
}

impl CallerCache {
    /// A cache keeping entries for `ttl`; zero turns it off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::default(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map stays consistent even if a holder panicked.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The epoch to hand to [`put`](Self::put); read it before the database.
    pub fn epoch(&self) -> u64 {
        self.inner().epoch
    }

    /// The caller of `session_id` if `user_id` owns it and it is fresh.
    pub fn get(&self, user_id: &str, session_id: &str) -> Option<Caller> {
        self.get_at(user_id, session_id, Instant::now())
    }

    /// [`get`](Self::get) as of `now`.
    fn get_at(&self, user_id: &str, session_id: &str, now: Instant) -> Option<Caller> {
        if self.ttl.is_zero() {
            return None;
        }
        let inner = self.inner();
        let entry = inner.entries.get(session_id)?;
        (entry.caller.id == user_id && entry.until > now).then(|| entry.caller.clone())
    }

    /// Keeps `caller` for `session_id`, unless something was forgotten
    /// since `epoch` (the read may predate it).
    pub fn put(&self, epoch: u64, session_id: &str, caller: Caller) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut inner = self.inner();
        if inner.epoch != epoch {
            return;
        }
        if inner.entries.len() >= SWEEP_ABOVE {
            inner.entries.retain(|_, e| e.until > now);
        }
        let until = now + self.ttl;
        inner
            .entries
            .insert(session_id.to_owned(), Entry { caller, until });
    }

    /// Forgets every entry of `user_id`.
    pub fn forget_user(&self, user_id: &str) {
        let mut inner = self.inner();
        inner.epoch += 1;
        inner.entries.retain(|_, e| e.caller.id != user_id);
    }

    /// Forgets everything.
    pub fn forget_all(&self) {
        let mut inner = self.inner();
        inner.epoch += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, Status};

    fn caller(id: &str) -> Caller {
        Caller {
            id: id.to_owned(),
            name: "Teknisi".to_owned(),
            role: Role::Technician,
            status: Status::Active,
            customer_id: None,
            session_live: true,
            department_ids: vec![],
        }
    }

    #[test]
    fn an_entry_is_served_to_its_owner_until_forgotten() {
        let cache = CallerCache::new(Duration::from_secs(60));
        cache.put(cache.epoch(), "s1", caller("u1"));
        cache.put(cache.epoch(), "s2", caller("u2"));
        assert_eq!(cache.get("u1", "s1").map(|c| c.id), Some("u1".to_owned()));
        assert!(cache.get("u2", "s1").is_none(), "another user's session");
        cache.forget_user("u1");
        assert!(cache.get("u1", "s1").is_none());
        assert!(cache.get("u2", "s2").is_some(), "other accounts stay");
        cache.forget_all();
        assert!(cache.get("u2", "s2").is_none());
    }

    #[test]
    fn a_read_from_before_a_forget_is_not_kept() {
        let cache = CallerCache::new(Duration::from_secs(60));
        let seen = cache.epoch();
        // The revocation commits and is forgotten while the read is in flight.
        cache.forget_user("u1");
        cache.put(seen, "s1", caller("u1"));
        assert!(cache.get("u1", "s1").is_none());
        // A read started afterwards is kept.
        cache.put(cache.epoch(), "s1", caller("u1"));
        assert!(cache.get("u1", "s1").is_some());
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_keeps_nothing() {
        let ttl = Duration::from_secs(2);
        let cache = CallerCache::new(ttl);
        cache.put(cache.epoch(), "s1", caller("u1"));
        let later = Instant::now() + ttl;
        assert!(cache.get("u1", "s1").is_some());
        assert!(cache.get_at("u1", "s1", later).is_none());
        let off = CallerCache::new(Duration::ZERO);
        off.put(off.epoch(), "s1", caller("u1"));
        assert!(off.get("u1", "s1").is_none());
    }
}
