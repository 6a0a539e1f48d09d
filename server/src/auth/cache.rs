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
//!
//! Misses share reads ([`CallerCache::load`]), as the claim gate's reads do:
//! one read of callers runs at a time, and the misses that arrive while it
//! runs are read together by the next one, in one statement. Each caller is
//! thus read after its request arrived, and the read's epoch is taken when
//! it begins, after every request it answers arrived.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::db::Db;
use crate::db::users::{self, Caller};
use crate::domain::Status;
use crate::keyed_locks::unpoisoned;

/// More entries than this and the expired ones are swept out on the next put.
const SWEEP_ABOVE: usize = 10_000;
/// At most this many callers in one read; more misses start another.
const MAX_BATCH: usize = 512;

/// See the module docs.
#[derive(Debug)]
pub struct CallerCache {
    ttl: Duration,
    inner: Mutex<Inner>,
    /// The read that misses arriving now join; it leaves when it begins.
    next_read: Mutex<Option<Arc<Batch>>>,
    /// One read of callers runs at a time.
    reading: tokio::sync::Mutex<()>,
    reads: AtomicU64,
}

/// `(user_id, session_id)`.
type Key = (String, String);

/// Misses read together. A read that fails is not shared: the next request
/// waiting for it reads again.
#[derive(Debug, Default)]
struct Batch {
    keys: Mutex<Vec<Key>>,
    read: OnceCell<HashMap<Key, Caller>>,
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
            next_read: Mutex::default(),
            reading: tokio::sync::Mutex::default(),
            reads: AtomicU64::new(0),
        }
    }

    /// The caller of `session_id` if `user_id` owns it: from the cache, or
    /// from a read shared with the misses that arrive with it. `None` when
    /// the user does not exist.
    pub async fn load(
        &self,
        db: &Db,
        user_id: &str,
        session_id: &str,
    ) -> sqlx::Result<Option<Caller>> {
        if let Some(cached) = self.get(user_id, session_id) {
            return Ok(Some(cached));
        }
        let key = (user_id.to_owned(), session_id.to_owned());
        let batch = {
            let mut next = unpoisoned(&self.next_read);
            let batch = Arc::clone(next.get_or_insert_with(Arc::default));
            let mut keys = unpoisoned(&batch.keys);
            keys.push(key.clone());
            if keys.len() >= MAX_BATCH {
                *next = None;
            }
            drop(keys);
            batch
        };
        let read = batch
            .read
            .get_or_try_init(|| async {
                let _reading = self.reading.lock().await;
                {
                    let mut next = unpoisoned(&self.next_read);
                    if next.as_ref().is_some_and(|b| Arc::ptr_eq(b, &batch)) {
                        *next = None;
                    }
                }
                // Nobody joins from here on.
                let mut keys = unpoisoned(&batch.keys).clone();
                keys.sort_unstable();
                keys.dedup();
                let epoch = self.epoch();
                self.reads.fetch_add(1, Ordering::Relaxed);
                let read = users::callers(db.pool(), &keys).await?;
                for ((_, session_id), caller) in &read {
                    if caller.status == Status::Active && caller.session_live {
                        self.put(epoch, session_id, caller.clone());
                    }
                }
                Ok::<_, sqlx::Error>(read)
            })
            .await?;
        Ok(read.get(&key).cloned())
    }

    /// How many reads [`load`](Self::load) has made.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        unpoisoned(&self.inner)
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
            language: None,
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
