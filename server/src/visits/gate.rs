//! The claim gate: which claims go on to the database, and which are told
//! they lost before they queue for it.
//!
//! A claim that reaches the write transaction waits for every write ahead of
//! it (SQLite has one writer; on Postgres the feed is written in turn), so a
//! claim that is bound to lose should not go there. The gate answers it from
//! a read plus what this instance already has in flight:
//!
//! 1. The gate reads the visit with its seat holders and, for each claimer
//!    sharing the read, another visit that claimer holds on some of the same
//!    days. On that it refuses what [`claims::claim`] would: closed, already
//!    held or full ([`claims::refusal`](super::claims::refusal)), then
//!    `schedule_conflict`. Claims on one visit share its reads, as a group
//!    commit shares a flush: one read of a visit runs at a time, and the
//!    claims that arrive while it runs wait for the next one and share it. A
//!    claim is thus answered from a read that began after it arrived, as if it
//!    had made the read itself, and a burst of claims on a visit costs the
//!    database two or three reads instead of one per claim.
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
//! A claim is refused `quota_full` for the claims counted, so only claims
//! that can still win are counted. A claim the read shows will lose is told
//! why before it is counted: a technician who holds a visit on the same days
//! takes no seat from a free one while the database refuses them. What a
//! read cannot show is a technician's own claims in flight: of their claims
//! on overlapping days only the first to commit can win, and counting all of
//! them would refuse others for seats that stay open. So a technician's
//! claims on overlapping days of different visits are decided one after
//! another: a claim waits, counted nowhere, while an admitted claim of the
//! same technician on an overlapping visit is in flight, then reads again
//! (and is told `schedule_conflict` if that claim won). A claim during whose
//! read such a claim ended reads again too, as the read may have begun
//! before that claim committed. A second claim on the same visit (a retry,
//! the same command over two connections) is admitted without a second seat:
//! of the two, one at most takes it.
//!
//! The database still decides every admitted claim ([`claims::claim`]'s
//! conditional update and unique index), so no count here can put a visit
//! past its quota, on one instance or several. What the gate trades is
//! this: a claim refused because the seats are *being* taken loses even if
//! a claim ahead of it then fails on what the gate cannot see (a reschedule
//! meanwhile, a technician's schedule changed through another instance or
//! an approved extension, a database error). The seat then stays open in
//! the pool, for whoever claims next, as after a withdrawal.
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
use tokio_util::sync::CancellationToken;

use super::claims::{holds_overlapping, quota_full, refusal};
use super::visit_not_found;
use crate::auth::{Action, Actor};
use crate::db::Db;
use crate::db::visits::{self, ClaimView, VisitRow};
use crate::keyed_locks::{KeyedLocks, unpoisoned};
use crate::service::{ServiceError, allow};

/// Admits claims on this instance; clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct ClaimGate {
    turns: KeyedLocks,
    claims: Arc<Mutex<Claims>>,
    /// One read of a visit runs at a time (see the module docs).
    reading: KeyedLocks,
    /// Visit id → the read that claims arriving now will share; it leaves
    /// the map when it begins.
    next_read: Arc<Mutex<HashMap<String, Arc<SharedRead>>>>,
    reads: Counter,
}

/// The claims at the gate.
#[derive(Debug, Default)]
struct Claims {
    /// Visit id → technicians whose admitted claim on it is still in flight.
    in_flight: HashMap<String, Vec<String>>,
    /// Technician id → their claims, from arrival until the request ends.
    technicians: HashMap<String, Vec<Claim>>,
    last_id: u64,
}

/// One technician's claim at the gate.
#[derive(Debug)]
struct Claim {
    id: u64,
    visit_id: String,
    /// Once admitted: the visit's days, and a token cancelled when the
    /// claim ends (the technician's claims on overlapping days wait for it).
    admitted: Option<(Days, CancellationToken)>,
    /// The days of the technician's admitted claims that ended since this
    /// one last joined a read: the read may not show what they won.
    ended: Vec<Days>,
}

/// A visit's planned days, as days since 1970-01-01, both ends included.
#[derive(Debug, Clone, Copy)]
struct Days {
    first: i64,
    last: i64,
}

impl Days {
    fn of(visit: &VisitRow) -> Self {
        Self {
            first: visit.start_day,
            last: visit.end_day(),
        }
    }

    fn overlap(self, other: Self) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// One read of a visit, shared by the claims that joined it before it
/// began. A read that fails is not shared: the next claim waiting for it
/// reads again.
#[derive(Debug, Default)]
struct SharedRead {
    /// The technicians whose claims joined the read.
    claimers: Mutex<Vec<String>>,
    result: OnceCell<Option<ClaimView>>,
}

/// What the count says of a claim that passed its read.
enum Entry {
    Admitted,
    Full,
    /// The read may miss what a claim of the same technician won.
    ReadAgain,
    /// The technician's claim on an overlapping visit is in flight: wait
    /// for this token, then read again.
    WaitFor(CancellationToken),
}

/// A claim known to the gate, from its arrival until this is dropped.
#[derive(Debug)]
struct Registration {
    gate: ClaimGate,
    technician_id: String,
    id: u64,
}

/// An admitted claim: counted as in flight until dropped.
#[derive(Debug)]
#[must_use = "the claim counts as in flight only while this is held"]
pub struct Admitted {
    claim: Registration,
    visit_id: String,
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

    /// How a claim goes in, from any adapter: [`admit`](Self::admit)ted
    /// (or refused), then in line for its [turn](Admitted::take_turn). Keep
    /// the admission until the claim's write transaction ends.
    pub async fn pass(
        &self,
        db: &Db,
        actor: &Actor,
        visit_id: &str,
    ) -> Result<Admitted, ServiceError> {
        let mut admitted = self.admit(db, actor, visit_id).await?;
        admitted.take_turn().await;
        Ok(admitted)
    }

    /// Lets the acting technician's claim on `visit_id` go on to the
    /// database, or refuses it with the reason it would lose for.
    pub async fn admit(
        &self,
        db: &Db,
        actor: &Actor,
        visit_id: &str,
    ) -> Result<Admitted, ServiceError> {
        allow(actor, Action::ClaimVisit)?;
        let me = &actor.user_id;
        let claim = self.arrive(me, visit_id);
        loop {
            let read = self.read(db, &claim, visit_id).await?;
            let ClaimView {
                visit,
                holders,
                overlaps,
                returned,
            } = read
                .result
                .get()
                .and_then(Option::as_ref)
                .ok_or_else(visit_not_found)?;
            refusal(visit, holders.contains(me))?;
            // Whom CS returned stays out, without taking a place at the gate.
            if returned.contains(me) {
                return Err(super::claims::returned_from_visit());
            }
            if let Some((_, other, title)) = overlaps.iter().find(|(t, ..)| t == me) {
                return Err(holds_overlapping(other, title));
            }
            match self.enter(&claim, visit, holders) {
                Entry::Admitted => {
                    return Ok(Admitted {
                        claim,
                        visit_id: visit_id.to_owned(),
                        turn: None,
                    });
                }
                Entry::Full => return Err(quota_full(visit)),
                Entry::ReadAgain => {}
                Entry::WaitFor(ended) => ended.cancelled().await,
            }
        }
    }

    /// Registers a claim of `me` on `visit_id` as it arrives, so that the
    /// end of another of their claims reaches it (see [`Self::enter`]).
    fn arrive(&self, me: &str, visit_id: &str) -> Registration {
        let mut claims = unpoisoned(&self.claims);
        claims.last_id += 1;
        let id = claims.last_id;
        claims
            .technicians
            .entry(me.to_owned())
            .or_default()
            .push(Claim {
                id,
                visit_id: visit_id.to_owned(),
                admitted: None,
                ended: Vec::new(),
            });
        Registration {
            gate: self.clone(),
            technician_id: me.to_owned(),
            id,
        }
    }

    /// The visit with its holders and the claimers' conflicts, from a read
    /// that began after this call.
    async fn read(
        &self,
        db: &Db,
        claim: &Registration,
        visit_id: &str,
    ) -> Result<Arc<SharedRead>, ServiceError> {
        // Claims of this technician that end from now on may have committed
        // after the read began: `enter` looks at them.
        self.with_claim(claim, |c| c.ended.clear());
        let read = {
            let mut next = unpoisoned(&self.next_read);
            let read = Arc::clone(next.entry(visit_id.to_owned()).or_default());
            unpoisoned(&read.claimers).push(claim.technician_id.clone());
            read
        };
        read.result
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
                let mut claimers = unpoisoned(&read.claimers).clone();
                claimers.sort_unstable();
                claimers.dedup();
                let mut conn = db.pool().acquire().await?;
                visits::claim_view(&mut conn, visit_id, &claimers).await
            })
            .await?;
        Ok(read)
    }

    /// How many reads of visits this gate has made.
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    fn with_claim(&self, claim: &Registration, f: impl FnOnce(&mut Claim)) {
        let mut claims = unpoisoned(&self.claims);
        if let Some(c) = claims
            .technicians
            .get_mut(&claim.technician_id)
            .and_then(|own| own.iter_mut().find(|c| c.id == claim.id))
        {
            f(c);
        }
    }

    /// Counts `claim` in flight on `visit`, unless its holders and the
    /// claims in flight fill the quota or another claim of the same
    /// technician must end first (counting nothing then).
    fn enter(&self, claim: &Registration, visit: &VisitRow, holders: &[String]) -> Entry {
        let mut claims = unpoisoned(&self.claims);
        let Claims {
            in_flight,
            technicians,
            ..
        } = &mut *claims;
        let me = &claim.technician_id;
        let days = Days::of(visit);
        let own = technicians
            .get_mut(me)
            .map_or(&mut [][..], Vec::as_mut_slice);
        if own
            .iter()
            .any(|c| c.id == claim.id && c.ended.iter().any(|d| d.overlap(days)))
        {
            return Entry::ReadAgain;
        }
        let overlapping = own.iter().find_map(|c| match &c.admitted {
            Some((d, ended)) if c.visit_id != visit.id && d.overlap(days) => Some(ended.clone()),
            _ => None,
        });
        if let Some(ended) = overlapping {
            return Entry::WaitFor(ended);
        }
        let on_visit = in_flight.get(&visit.id).map_or(&[][..], Vec::as_slice);
        // A second claim of the same technician (a retry, the same command
        // over two connections) takes no second seat here: it goes on, and
        // the database answers it as it answers any double claim.
        if !on_visit.iter().any(|t| t == me) {
            let mut pending: Vec<&String> =
                on_visit.iter().filter(|t| !holders.contains(t)).collect();
            pending.sort_unstable();
            pending.dedup();
            let taken = holders.len() + pending.len();
            if i64::try_from(taken).unwrap_or(i64::MAX) >= visit.technician_quota {
                return Entry::Full;
            }
        }
        if let Some(c) = own.iter_mut().find(|c| c.id == claim.id) {
            c.admitted = Some((days, CancellationToken::new()));
        }
        in_flight
            .entry(visit.id.clone())
            .or_default()
            .push(me.clone());
        Entry::Admitted
    }

    /// How many admitted claims on `visit_id` are in flight here.
    pub fn in_flight(&self, visit_id: &str) -> usize {
        unpoisoned(&self.claims)
            .in_flight
            .get(visit_id)
            .map_or(0, Vec::len)
    }
}

impl Admitted {
    /// Waits for this claim's turn on its visit; call it right before the
    /// write transaction and keep `self` until that transaction ends.
    pub async fn take_turn(&mut self) {
        if self.turn.is_none() {
            self.turn = Some(self.claim.gate.turns.lock(&self.visit_id).await);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut claims = unpoisoned(&self.gate.claims);
        let Claims {
            in_flight,
            technicians,
            ..
        } = &mut *claims;
        let Some(own) = technicians.get_mut(&self.technician_id) else {
            return;
        };
        if let Some(at) = own.iter().position(|c| c.id == self.id) {
            let claim = own.swap_remove(at);
            if let Some((days, ended)) = claim.admitted {
                // It may have won: the technician's claims still reading
                // must not trust a read that began before.
                for other in own.iter_mut().filter(|c| c.admitted.is_none()) {
                    other.ended.push(days);
                }
                if let Some(on_visit) = in_flight.get_mut(&claim.visit_id) {
                    if let Some(at) = on_visit.iter().position(|t| *t == self.technician_id) {
                        on_visit.swap_remove(at);
                    }
                    if on_visit.is_empty() {
                        in_flight.remove(&claim.visit_id);
                    }
                }
                ended.cancel();
            }
        }
        if own.is_empty() {
            technicians.remove(&self.technician_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(id: &str, start_day: i64, planned_days: i64) -> VisitRow {
        VisitRow {
            id: id.into(),
            customer_id: "c".into(),
            customer_name: "C".into(),
            ticket_id: None,
            department_id: None,
            title: id.into(),
            description: String::new(),
            site_address: String::new(),
            site_lat: 0.0,
            site_lon: 0.0,
            scheduled_start: String::new(),
            start_day,
            planned_days,
            technician_quota: 1,
            seats_taken: 0,
            status: visits::VisitStatus::Open,
            emergency: 0,
            summary: None,
            cancel_reason: None,
            created_by: None,
            created_at: 0,
            updated_at: 0,
            completed_at: None,
            cancelled_at: None,
        }
    }

    /// A technician's claims on overlapping days of different visits are
    /// decided one after another; on other days, or on the same visit, they
    /// go on together.
    #[test]
    fn a_technicians_overlapping_claims_wait_for_each_other() {
        let gate = ClaimGate::default();
        let (a, b, later) = (visit("a", 10, 2), visit("b", 11, 1), visit("l", 12, 1));
        let first = gate.arrive("t", "a");
        assert!(matches!(gate.enter(&first, &a, &[]), Entry::Admitted));
        let second = gate.arrive("t", "b");
        let Entry::WaitFor(ended) = gate.enter(&second, &b, &[]) else {
            panic!("b overlaps a")
        };
        assert_eq!(gate.in_flight("b"), 0);
        let other_day = gate.arrive("t", "l");
        assert!(matches!(
            gate.enter(&other_day, &later, &[]),
            Entry::Admitted
        ));
        let again = gate.arrive("t", "a");
        assert!(matches!(gate.enter(&again, &a, &[]), Entry::Admitted));
        assert_eq!(gate.in_flight("a"), 2, "one technician, one seat");
        drop(again);
        assert!(!ended.is_cancelled());
        drop(first);
        assert!(ended.is_cancelled(), "the waiting claim is woken");
        drop((second, other_day));
        assert!(unpoisoned(&gate.claims).technicians.is_empty());
        assert!(unpoisoned(&gate.claims).in_flight.is_empty());
    }

    /// A claim whose read began before another claim of the same technician
    /// on overlapping days ended may not show what that claim won: it reads
    /// again (each read clears what ended before it).
    #[test]
    fn a_claim_reads_again_when_an_overlapping_claim_ends_during_its_read() {
        let gate = ClaimGate::default();
        let (a, b) = (visit("a", 10, 1), visit("b", 10, 1));
        let reading = gate.arrive("t", "b");
        let first = gate.arrive("t", "a");
        assert!(matches!(gate.enter(&first, &a, &[]), Entry::Admitted));
        drop(first);
        assert!(matches!(gate.enter(&reading, &b, &[]), Entry::ReadAgain));
        gate.with_claim(&reading, |c| c.ended.clear());
        assert!(matches!(gate.enter(&reading, &b, &[]), Entry::Admitted));
        drop(reading);

        // A claim that ended on other days, or that was never admitted,
        // changes nothing.
        let reading = gate.arrive("u", "b");
        let elsewhere = gate.arrive("u", "x");
        let x = visit("x", 20, 1);
        assert!(matches!(gate.enter(&elsewhere, &x, &[]), Entry::Admitted));
        drop(elsewhere);
        drop(gate.arrive("u", "a"));
        assert!(matches!(gate.enter(&reading, &b, &[]), Entry::Admitted));
    }
}
