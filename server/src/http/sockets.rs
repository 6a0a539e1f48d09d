//! How many WebSockets a caller may hold open on this instance.
//!
//! Every open socket costs the server buffers and a task for as long as it
//! lives, and a socket lives as long as its client wants: without a bound,
//! one account could open sockets until the server runs out of memory, and
//! so could anyone at all on the sync socket, which learns who is calling
//! only from its first frame. Two counts bound them ([`SocketLimitsConfig`]):
//! sockets per account (event streams and sync sessions together), and sync
//! sockets that have not yet said `Hello` per client address — the address
//! is all that is known of them. An IPv6 client is counted by its /64, which
//! one host usually holds whole.
//!
//! The counts are in memory and per instance: a socket lives on one
//! instance, and a restart closes them all. A [`Slot`] is one socket's
//! place in a count; the socket's task holds it and frees it when it ends,
//! however it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::auth::throttle::{ClientAddr, address_key};
use crate::config::SocketLimitsConfig;
use crate::error::ApiError;
use crate::keyed_locks::unpoisoned;

/// Who a count is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    Account(String),
    Address(String),
}

type Counts = Arc<Mutex<HashMap<Holder, u32>>>;

/// The open sockets of this instance, counted per holder.
#[derive(Debug, Default)]
pub struct SocketSlots {
    limits: SocketLimitsConfig,
    counts: Counts,
}

/// A holder is at its limit: an account, or an address not yet signed in.
#[derive(Debug)]
pub enum TooMany {
    Account,
    Address,
}

impl TooMany {
    /// Why, for a person, in the request's language.
    pub fn detail(&self) -> String {
        match self {
            TooMany::Account => t!("problem-socket-too-many-account"),
            TooMany::Address => t!("problem-socket-too-many-address"),
        }
    }
}

impl From<TooMany> for ApiError {
    fn from(too_many: TooMany) -> Self {
        ApiError::TooManyConnections(too_many.detail())
    }
}

/// One open socket's place in its holder's count, given back on drop.
#[derive(Debug)]
#[must_use = "the place is given back when the slot is dropped"]
pub struct Slot(Option<(Holder, Counts)>);

impl SocketSlots {
    pub fn new(limits: SocketLimitsConfig) -> Self {
        Self {
            limits,
            counts: Counts::default(),
        }
    }

    /// A place for one more socket of the account `user_id`.
    pub fn for_account(&self, user_id: &str) -> Result<Slot, TooMany> {
        self.take(
            Holder::Account(user_id.to_owned()),
            self.limits.max_per_account,
            TooMany::Account,
        )
    }

    /// A place for one more socket from `addr` that has not yet said who
    /// it is. Without a known address there is nothing to count.
    pub fn for_unauthenticated(&self, addr: ClientAddr) -> Result<Slot, TooMany> {
        let Some(ip) = addr.0 else {
            return Ok(Slot(None));
        };
        self.take(
            Holder::Address(address_key(ip)),
            self.limits.max_unauthenticated_per_address,
            TooMany::Address,
        )
    }

    fn take(&self, holder: Holder, limit: u32, why: TooMany) -> Result<Slot, TooMany> {
        if limit == 0 {
            return Ok(Slot(None));
        }
        let mut counts = unpoisoned(&self.counts);
        let count = counts.entry(holder.clone()).or_default();
        if *count >= limit {
            return Err(why);
        }
        *count += 1;
        Ok(Slot(Some((holder, Arc::clone(&self.counts)))))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((holder, counts)) = self.0.take() else {
            return;
        };
        let mut counts = unpoisoned(&counts);
        if let Some(count) = counts.get_mut(&holder) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&holder);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_holder_and_given_back() {
        let slots = SocketSlots::new(SocketLimitsConfig {
            max_per_account: 2,
            max_unauthenticated_per_address: 1,
        });
        let a = slots.for_account("a").unwrap();
        let _b = slots.for_account("a").unwrap();
        assert!(slots.for_account("a").is_err());
        let _other = slots.for_account("b").unwrap();
        drop(a);
        let _again = slots.for_account("a").unwrap();

        let v6 = |s: &str| ClientAddr(Some(s.parse().unwrap()));
        let first = slots.for_unauthenticated(v6("2001:db8::1")).unwrap();
        assert!(
            slots.for_unauthenticated(v6("2001:db8::2")).is_err(),
            "one /64"
        );
        let _elsewhere = slots.for_unauthenticated(v6("2001:db8:1::1")).unwrap();
        drop(first);
        let _back = slots.for_unauthenticated(v6("2001:db8::2")).unwrap();
        let _unknown = slots.for_unauthenticated(ClientAddr(None)).unwrap();
        let _unknown = slots.for_unauthenticated(ClientAddr(None)).unwrap();
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let slots = SocketSlots::new(SocketLimitsConfig {
            max_per_account: 0,
            max_unauthenticated_per_address: 0,
        });
        let held: Vec<_> = (0..100).map(|_| slots.for_account("a").unwrap()).collect();
        assert_eq!(held.len(), 100);
        assert!(unpoisoned(&slots.counts).is_empty());
    }
}
