//! Slows password guessing. Every sign-in attempt is counted, before the
//! password is checked, under two keys: the account (its e-mail address) and
//! the client address (an IPv6 client by its /64, which one host usually
//! holds whole). Past a key's limit in its window, attempts are refused with
//! 429 and `Retry-After` until the window ends — without checking the
//! password, so a flood of guesses costs no Argon2 time either. A successful
//! sign-in clears its account's count and takes its own attempt back from
//! the address, so a busy office behind one address is never throttled for
//! signing in. Counts live in the database (`login_failures`), so every
//! instance enforces the same limits.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::AppState;
use crate::db::{login_failures, now_ms};
use crate::error::{ApiError, ApiResult};

/// The client's IP address, when the server runs with connection info
/// ([`crate::start`] does).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Self(addr.map(|c| c.0.ip())))
    }
}

/// A counted attempt; tell it how the password check went.
#[derive(Debug)]
pub struct Attempt {
    account: Option<String>,
    address: Option<String>,
}

/// Counts an attempt to sign in as `email` from `addr`, or refuses it when
/// either has failed too often in its window.
pub async fn admit(state: &AppState, email: &str, addr: ClientAddr) -> ApiResult<Attempt> {
    let limits = &state.config.login_throttle;
    let window_ms = i64::try_from(limits.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let account = (limits.max_failures_per_account > 0).then(|| format!("account:{email}"));
    let address = addr
        .0
        .filter(|_| limits.max_failures_per_address > 0)
        .map(|ip| format!("address:{}", address_key(ip)));
    let now = now_ms();
    // The address first: a refused address does not get to count attempts
    // on (and so create rows for) the accounts it names.
    for (key, limit) in [
        (&address, limits.max_failures_per_address),
        (&account, limits.max_failures_per_account),
    ] {
        let Some(key) = key else { continue };
        let (count, window_start) = login_failures::attempt(&state.db, key, window_ms, now).await?;
        if count > i64::from(limit) {
            return Err(too_many(window_start.saturating_add(window_ms) - now));
        }
    }
    Ok(Attempt { account, address })
}

fn too_many(wait_ms: i64) -> ApiError {
    let retry_after_secs = u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1);
    ApiError::TooManyRequests {
        detail: format!(
            "too many failed sign-ins; try again in {}",
            humanize(retry_after_secs)
        ),
        retry_after_secs,
    }
}

impl Attempt {
    /// The password was right: the account starts afresh, and the address
    /// gets this attempt back.
    pub async fn succeeded(self, state: &AppState) -> ApiResult<()> {
        if let Some(key) = &self.account {
            login_failures::clear(&state.db, key).await?;
        }
        if let Some(key) = &self.address {
            login_failures::forgive_one(&state.db, key).await?;
        }
        Ok(())
    }
}

/// An IPv4 address whole; an IPv6 one by its /64.
pub(crate) fn address_key(ip: IpAddr) -> String {
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
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
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
    fn waits_read_well() {
        assert_eq!(humanize(1), "1 s");
        assert_eq!(humanize(600), "10 min");
    }
}
