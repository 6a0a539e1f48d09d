//! The claim gate: which claims go on to the database, and which are told
//! they lost before they queue for it.
//!
//! A claim that reaches the write transaction waits for every write ahead of
//! it (SQLite has one writer; on Postgres the feed is written in turn), so a
//! claim that is bound to lose should not go there. The gate answers it from
//! a read plus what this instance already has in flight:
//!
//! 1. The gate reads the visit with its seat holders, and refuses what
//!    [`claims::refusal`](super::claims::refusal) refuses (closed, already
//!    held, full); a claim it admits is also checked against the
//!    technician's schedule, so a `schedule_conflict` holds no seat.
//!    Claims on one visit share its reads, as a group commit shares a
//!    flush: one read of a visit runs at a time, and the claims that arrive
//!    while it runs wait for the next one and share it. A claim is thus
//!    answered from a read that began after it arrived, as if it had made
//!    the read itself, and a burst of claims on a visit costs the database
//!    two or three reads instead of one per claim.
//! 2. It counts the claims admitted on this instance that are still in flight
//!    and not yet among the holders it read. When holders and in-flight claims
//!    fill the quota, the claim is refused `quota_full` at once; otherwise it
//!    is admitted and counted until its request ends.
//! 3. Admitted claims on one visit then take turns, in the order they were
//!    admitted, until their transaction ends: the winners of one visit would
//!    only queue on its row lock inside the database, each holding a writer
//!    connection that another visit's winner could use.
//!
//! Refused claims never wait for a turn at the database: claims that arrive
//! together are admitted in the order they read.
//!
//! The database still decides every admitted claim ([`claims::claim`]'s
//! conditional update and unique index), so no count here can put a visit
//! past its quota, on one instance or several. What the gate trades is
//! this: a claim refused because the seats are *being* taken loses even if
//! a claim ahead of it then fails (a reschedule meanwhile, a schedule
//! conflict made by the same technician's concurrent claim elsewhere, a
//! database error). The seat then stays open in the pool, for whoever
//! claims next, as after a withdrawal.
//!
//! Why the counts never refuse a claim that should have won: the visit and
//! its holders come from one read, and a claim leaves the in-flight set only
//! when its request ends, after its commit. A claim that committed is
//! therefore either among the holders read (and counted once, as a holder)
//! or was not yet committed when they were read (and counted once, in
//! flight). The only error possible is counting too few — a claim that
//! committed after the read and left the set before the count — and such a
//! claim is admitted and decided by the database, as without the gate.
//!
//! [`claims::claim`]: super::claims::claim

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{OnceCell, OwnedMutexGuard};

use super::claims::{quota_full, refusal, schedule_conflict};
use super::{VisitError, allow, visit_not_found};
use crate::auth::{Action, Actor};
use crate::db::Db;
use crate::db::visits::{self, VisitRow};
use crate::keyed_locks::{KeyedLocks, unpoisoned};

/// Admits claims on this instance; clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct ClaimGate {
    turns: KeyedLocks,
    /// Visit id → technicians whose admitted claim is still in flight.
    in_flight: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// One read of a visit runs at a time (see the module docs).
    reading: KeyedLocks,
    /// Visit id → the read that claims arriving now will share; it leaves
    /// the map when it begins.
    next_read: Arc<Mutex<HashMap<String, Arc<SharedRead>>>>,
    reads: Counter,
}

/// One read of a visit and its holders, shared by the claims that joined it
/// before it began. A read that fails is not shared: the next claim waiting
/// for it reads again.
#[derive(Debug, Default)]
struct SharedRead(OnceCell<Option<(VisitRow, Vec<String>)>>);

/// An admitted claim: counted as in flight until dropped.
#[derive(Debug)]
#[must_use = "the claim counts as in flight only while this is held"]
pub struct Admitted {
    gate: ClaimGate,
    visit_id: String,
    technician_id: String,
    /// The visit's turn at the database (see the module docs).
    turn: Option<OwnedMutexGuard<()>>,
}

impl ClaimGate {
    /// A gate counting the visit reads it makes in `reads` (a metric).
    pub fn new(reads: Counter) -> Self {
        Self {
            reads,
            ..Self::default()
        }
    }

    /// Lets the acting technician's claim on `visit_id` go on to the
    /// database, or refuses it with the reason it would lose for.
    pub async fn admit(
        &self,
        db: &Db,
        actor: &Actor,
        visit_id: &str,
    ) -> Result<Admitted, VisitError> {
        allow(actor, Action::ClaimVisit)?;
        let read = self.read(db, visit_id).await?;
        let (visit, holders) = read
            .0
            .get()
            .and_then(Option::as_ref)
            .ok_or_else(visit_not_found)?;
        let me = &actor.user_id;
        refusal(visit, holders.contains(me))?;
        if !self.enter(visit_id, me, holders, visit.technician_quota) {
            return Err(quota_full(visit));
        }
        let admitted = Admitted {
            gate: self.clone(),
            visit_id: visit_id.to_owned(),
            technician_id: me.clone(),
            turn: None,
        };
        // Checked once admitted (few are), so that a claim that would fail
        // on the technician's own schedule holds no seat while it does.
        schedule_conflict(db.pool(), me, visit).await?;
        Ok(admitted)
    }

    /// The visit with its holders, from a read that began after this call.
    async fn read(&self, db: &Db, visit_id: &str) -> Result<Arc<SharedRead>, VisitError> {
        let read = Arc::clone(
            unpoisoned(&self.next_read)
                .entry(visit_id.to_owned())
                .or_default(),
        );
        read.0
            .get_or_try_init(|| async {
                let _reading = self.reading.lock(visit_id).await;
                // Claims arriving from now on wait for the next read. (When
                // this read failed before, it has already left the map.)
                {
                    let mut next = unpoisoned(&self.next_read);
                    if next.get(visit_id).is_some_and(|r| Arc::ptr_eq(r, &read)) {
                        next.remove(visit_id);
                    }
                }
                self.reads.inc();
                visits::with_holders(db.pool(), visit_id).await
            })
            .await?;
        Ok(read)
    }

    /// How many reads of visits this gate has made.
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    /// Counts `me` in flight on the visit, or returns `false` (counting
    /// nothing) when its holders and the claims in flight fill `quota`.
    fn enter(&self, visit_id: &str, me: &str, holders: &[String], quota: i64) -> bool {
        let mut in_flight = unpoisoned(&self.in_flight);
        let claims = in_flight.get(visit_id).map_or(&[][..], Vec::as_slice);
        // A second claim of the same technician (a retry, the same command
        // over two connections) takes no second seat here: it goes on, and
        // the database answers it as it answers any double claim.
        if !claims.iter().any(|t| t == me) {
            let mut pending: Vec<&String> =
                claims.iter().filter(|t| !holders.contains(t)).collect();
            pending.sort_unstable();
            pending.dedup();
            let taken = holders.len() + pending.len();
            if i64::try_from(taken).unwrap_or(i64::MAX) >= quota {
                return false;
            }
        }
        in_flight
            .entry(visit_id.to_owned())
            .or_default()
            .push(me.to_owned());
        true
    }

    /// How many admitted claims on `visit_id` are in flight here.
    pub fn in_flight(&self, visit_id: &str) -> usize {
        unpoisoned(&self.in_flight)
            .get(visit_id)
            .map_or(0, Vec::len)
    }
}

impl Admitted {
    /// Waits for this claim's turn on its visit; call it right before the
    /// write transaction and keep `self` until that transaction ends.
    pub async fn take_turn(&mut self) {
        if self.turn.is_none() {
            self.turn = Some(self.gate.turns.lock(&self.visit_id).await);
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut in_flight = unpoisoned(&self.gate.in_flight);
        if let Some(claims) = in_flight.get_mut(&self.visit_id) {
            if let Some(at) = claims.iter().position(|t| *t == self.technician_id) {
                claims.swap_remove(at);
            }
            if claims.is_empty() {
                in_flight.remove(&self.visit_id);
            }
        }
    }
}
