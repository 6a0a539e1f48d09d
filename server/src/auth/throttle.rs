//! Slows password guessing without locking anyone out.
//!
//! Every sign-in attempt is counted, before the password is checked, under
//! three keys, and each key's failures past a free allowance buy a delay that
//! doubles with every further failure (1 s, 2 s, 4 s, … up to 15 minutes):
//!
//! * **account and address** (`pair:`): one client guessing one account.
//!   After 5 free failures it waits; it is the key that stops the common
//!   attack.
//! * **address** (`address:`): one client spraying guesses over many
//!   accounts. After 50 free failures. A success takes its own attempt
//!   back, so an office behind one address is never slowed by signing in.
//! * **account** (`account:`): many clients guessing one account. After 20
//!   free failures — but its delay applies only to clients that have
//!   themselves failed on this account. The owner, from an address that has
//!   not failed, always gets their attempt: a named account (the admin's
//!   included) cannot be locked by someone who knows its e-mail address.
//!   The price: a botnet gets one guess per address per account until its
//!   addresses' failures are forgotten.
//!
//! An attempt refused for a delay is answered 429 with `Retry-After`
//! without checking the password, so a flood of guesses costs no Argon2
//! time either. A success clears the account's and the pair's counts.
//! Failures are forgotten after `forget_after_secs` (15 min) without one.
//! Counts live in the database (`login_failures`), so every instance
//! enforces the same delays.
//!
//! # Which address
//!
//! The client address is the TCP peer's, unless the peer is one of the
//! configured `trusted_proxies` (CIDRs): then it is the right-most address
//! in `X-Forwarded-For` that is not itself a trusted proxy. A client cannot
//! choose its address by sending the header itself: from an untrusted peer,
//! the header is ignored. An IPv6 client is keyed by its /64, which one host
//! usually holds whole.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::AppState;
use crate::config::TrustedProxy;
use crate::db::{login_failures, now_ms};
use crate::service::ServiceError;
use crate::work::{Effects, Work};

/// The client's IP address (see the module docs), when the server runs with
/// connection info ([`crate::start`] does).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Self(peer.map(|c| {
            client_ip(c.0.ip(), &parts.headers, &state.config.trusted_proxies)
        })))
    }
}

/// The client behind `peer`: `peer` itself, or, when `peer` is a trusted
/// proxy, the right-most untrusted hop of `X-Forwarded-For`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .copied()
        .find(|ip| !is_trusted(*ip))
        .or_else(|| hops.first().copied())
        .unwrap_or(peer)
}

/// How long a key with `failures` counted failures must wait before its
/// next attempt: nothing within the free allowance, then `first`, doubling
/// with each further failure, at most `max`.
pub fn delay_after(failures: u32, free: u32, first: Duration, max: Duration) -> Duration {
    match failures.checked_sub(free) {
        None | Some(0) => Duration::ZERO,
        Some(over) => first
            .checked_mul(1 << (over - 1).min(30))
            .map_or(max, |d| d.min(max)),
    }
}

/// A counted attempt; tell it how the password check went.
#[derive(Debug)]
pub struct Attempt {
    account: String,
    pair: Option<String>,
    address: Option<String>,
}

/// The keys of an attempt and their free allowances.
struct Keys {
    account: String,
    pair: Option<String>,
    address: Option<String>,
}

impl Keys {
    fn of(email: &str, addr: ClientAddr) -> Self {
        let address = addr.0.map(address_key);
        Self {
            account: format!("account:{email}"),
            pair: address.as_ref().map(|a| format!("pair:{email}|{a}")),
            address: address.map(|a| format!("address:{a}")),
        }
    }
}

/// Counts an attempt to sign in as `email` from `addr`, or refuses it while
/// one of its keys waits out a delay.
///
/// The keys are read and counted in one write transaction that locks their
/// rows (always in the same order, so attempts never deadlock): parallel
/// attempts are counted one after another, never lost and never refused for
/// racing each other, so a burst of sign-ins from one office is slowed by
/// nothing but its failures, and a burst of guesses cannot slip in under
/// one count.
pub async fn admit(
    state: &AppState,
    email: &str,
    addr: ClientAddr,
) -> Result<Attempt, ServiceError> {
    let limits = &state.config.login_throttle;
    let keys = Keys::of(email, addr);
    let mut work = Work::begin(state).await?;
    let now = now_ms();
    let forget_before = now - millis(Duration::from_secs(limits.forget_after_secs));
    let mut lock = async |key: Option<&String>| match key {
        Some(key) => login_failures::lock(work.tx(), key, now, forget_before)
            .await
            .map(Some),
        None => Ok(None),
    };
    let address = lock(keys.address.as_ref()).await?;
    let pair = lock(keys.pair.as_ref()).await?;
    let account = lock(Some(&keys.account)).await?;
    // The account's delay holds back only the clients that failed on it.
    let pair_failed = pair.as_ref().is_some_and(|p| p.failures > 0);
    let waits = [
        address.as_ref().map(|c| c.next_at),
        pair.as_ref().map(|c| c.next_at),
        account.as_ref().filter(|_| pair_failed).map(|c| c.next_at),
    ];
    if let Some(until) = waits.into_iter().flatten().filter(|at| *at > now).max() {
        // Dropping the work rolls back: a refused attempt is not counted.
        return Err(too_many(until - now));
    }
    let counts = [
        (
            keys.address.as_ref(),
            address,
            limits.free_failures_per_address,
        ),
        (
            keys.pair.as_ref(),
            pair,
            limits.free_failures_per_account_and_address,
        ),
        (
            Some(&keys.account),
            account,
            limits.free_failures_per_account,
        ),
    ];
    for (key, current, free) in counts {
        let (Some(key), Some(current)) = (key, current) else {
            continue;
        };
        let failures = current.failures + 1;
        let delay = delay_after(
            u32::try_from(failures).unwrap_or(u32::MAX),
            free,
            Duration::from_millis(limits.first_delay_ms),
            Duration::from_secs(limits.max_delay_secs),
        );
        // Within the allowance there is no wait at all (not a wait until
        // `now`, which a parallel attempt whose clock read came earlier
        // would have to obey).
        let next_at = if delay.is_zero() {
            0
        } else {
            now + millis(delay)
        };
        login_failures::count(work.tx(), key, failures, now, next_at).await?;
    }
    work.commit(Effects::none()).await?;
    Ok(Attempt {
        account: keys.account,
        pair: keys.pair,
        address: keys.address,
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn too_many(wait_ms: i64) -> ServiceError {
    let retry_after_secs = u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1);
    ServiceError::Throttled {
        detail: t!("problem-auth-throttled", wait = &humanize(retry_after_secs)),
        retry_after_secs,
    }
}

impl Attempt {
    /// The password was right: the account and this client's attempts on it
    /// start afresh, and the address gets this attempt back.
    pub async fn succeeded(self, state: &AppState) -> Result<(), ServiceError> {
        login_failures::clear(&state.db, &self.account).await?;
        if let Some(key) = &self.pair {
            login_failures::clear(&state.db, key).await?;
        }
        if let Some(key) = &self.address {
            login_failures::forgive_one(&state.db, key).await?;
        }
        Ok(())
    }
}

/// An IPv4 address whole; an IPv6 one by its /64: how a client address
/// is counted in rate limits.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn humanize(secs: u64) -> String {
    if secs < 90 {
        t!("problem-auth-throttled-seconds", secs = secs)
    } else {
        t!(
            "problem-auth-throttled-minutes",
            minutes = secs.div_ceil(60)
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_keyed_by_host_or_ipv6_prefix() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(address_key(v4), "203.0.113.7");
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b), "one /64");
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:198.51.100.4".parse().unwrap();
        assert_eq!(address_key(mapped), "198.51.100.4");
    }

    #[test]
    fn delays_double_past_the_allowance_up_to_the_cap() {
        let s = Duration::from_secs;
        let delay = |n| delay_after(n, 5, s(1), s(900));
        assert_eq!(delay(0), Duration::ZERO);
        assert_eq!(delay(5), Duration::ZERO);
        assert_eq!(delay(6), s(1));
        assert_eq!(delay(7), s(2));
        assert_eq!(delay(8), s(4));
        assert_eq!(delay(15), s(512));
        assert_eq!(delay(16), s(900));
        assert_eq!(delay(u32::MAX), s(900));
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted: Vec<TrustedProxy> = ["10.0.0.0/8", "127.0.0.1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.9, 203.0.113.5, 10.1.2.3".parse().unwrap(),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // From the balancer: the right-most hop that is not a proxy of ours
        // (the left ones are whatever the client claimed).
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers, &trusted),
            ip("203.0.113.5")
        );
        // From anyone else, the header is the client's own claim: ignored.
        assert_eq!(
            client_ip(ip("192.0.2.1"), &headers, &trusted),
            ip("192.0.2.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn waits_read_well() {
        assert_eq!(humanize(1), "1 s");
        assert_eq!(humanize(600), "10 min");
    }
}
