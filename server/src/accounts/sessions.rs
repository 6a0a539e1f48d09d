//! Device sessions: signing in (behind the sign-in throttle), trading a
//! single-use refresh token for new tokens, signing out.
//!
//! A refresh token works once. Presenting a used one revokes its whole
//! device session — it was probably stolen — and that revocation commits
//! even though the request is refused, so the thief's copy dies too.

use crate::AppState;
use crate::auth::{Actor, password, throttle, tokens};
use crate::db::users::{self, UserRow};
use crate::db::{self, Tx, sessions};
use crate::domain::{self, Status};
use crate::service::{ServiceError, reject_as};
use crate::sync::{SignedOut, signed_out};
use crate::work::{Effects, Work};
use fieldops_sync::commands::RejectReason;

/// A device session's fresh tokens, and whose they are.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    /// The device session the tokens belong to.
    pub session_id: String,
    pub user: UserRow,
    pub department_ids: Vec<String>,
}

/// The one answer to any failed sign-in, so it tells nothing about which
/// part was wrong.
fn bad_credentials() -> ServiceError {
    ServiceError::Unauthenticated(t!("problem-auth-bad-credentials"))
}

/// Signs in with e-mail and password from `client`, opening a device
/// session named `device_name`.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: String,
    device_name: Option<&str>,
    client: throttle::ClientAddr,
) -> Result<Tokens, ServiceError> {
    let email = domain::email(email).map_err(|_| bad_credentials())?;
    let attempt = throttle::admit(state, &email, client).await?;
    let user = users::by_email(state.db.pool(), &email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(password, hash).await {
        return Err(bad_credentials());
    }
    let user = user.ok_or_else(bad_credentials)?;
    attempt.succeeded(state).await?;
    // Only to the one who knows the password: the account exists, and is
    // switched off (a deactivated staff member, a soft-deleted customer).
    if user.status != Status::Active {
        return Err(reject_as(
            RejectReason::Forbidden,
            "account-inactive",
            crate::t!("problem-sign-in-account-inactive"),
        ));
    }
    let mut work = Work::begin(state).await?;
    let tokens = open(state, work.tx(), user, device_name).await?;
    work.commit(Effects::none()).await?;
    Ok(tokens)
}

/// Opens a device session for `user` and issues its first tokens, in `tx`.
pub async fn open(
    state: &AppState,
    tx: &mut Tx,
    user: UserRow,
    device_name: Option<&str>,
) -> Result<Tokens, ServiceError> {
    let device = device_name
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or("unnamed device");
    let device: String = device.chars().take(100).collect();
    let session_id = sessions::create(tx, &user.id, &device).await?;
    users::touch_login(tx, &user.id).await?;
    issue(state, tx, user, &session_id).await
}

/// New tokens for `session_id` of `user`, in `tx`.
async fn issue(
    state: &AppState,
    tx: &mut Tx,
    user: UserRow,
    session_id: &str,
) -> Result<Tokens, ServiceError> {
    let (refresh_token, hash) = tokens::new_refresh_token();
    let ttl = i64::try_from(state.tokens.refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    sessions::add_refresh_token(tx, session_id, &hash, db::now_ms().saturating_add(ttl)).await?;
    let department_ids = users::department_ids(&mut **tx, &user.id).await?;
    let access_token = state.tokens.issue_access(&user.id, session_id, user.role)?;
    Ok(Tokens {
        access_token,
        expires_in: state.tokens.access_ttl.as_secs(),
        refresh_token,
        session_id: session_id.to_owned(),
        user,
        department_ids,
    })
}

/// Trades `refresh_token` for new tokens (see the module docs on reuse).
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<Tokens, ServiceError> {
    let hash = tokens::hash_refresh_token(refresh_token);
    let mut work = Work::begin(state).await?;
    let tx = work.tx();
    let found = sessions::find_refresh(tx, &hash)
        .await?
        .ok_or_else(|| ServiceError::Unauthenticated(t!("problem-auth-refresh-unknown")))?;
    if found.revoked_at.is_some() {
        return Err(ServiceError::Unauthenticated(t!(
            "problem-auth-session-ended"
        )));
    }
    if found.used_at.is_some() || !sessions::use_refresh(tx, &hash).await? {
        sessions::revoke(&mut **tx, &found.session_id, "refresh token reused").await?;
        let ended = signed_out(&found.user_id, SignedOut::Only(&found.session_id));
        work.commit(Effects::told(vec![ended])).await?;
        tracing::warn!(session = %found.session_id, "refresh token reuse; session revoked");
        return Err(ServiceError::Unauthenticated(t!(
            "problem-auth-refresh-reused"
        )));
    }
    if found.expires_at < db::now_ms() {
        return Err(ServiceError::Unauthenticated(t!(
            "problem-auth-refresh-expired"
        )));
    }
    let user = users::get(&mut **tx, &found.user_id)
        .await?
        .filter(|u| u.status == Status::Active)
        .ok_or_else(|| ServiceError::Unauthenticated(t!("problem-auth-inactive")))?;
    sessions::touch(tx, &found.session_id).await?;
    let tokens = issue(state, tx, user, &found.session_id).await?;
    work.commit(Effects::none()).await?;
    Ok(tokens)
}

/// Ends `actor`'s device session; its live sync session and event stream
/// close.
pub async fn sign_out(state: &AppState, actor: &Actor) -> Result<(), ServiceError> {
    let mut work = Work::begin(state).await?;
    sessions::revoke(&mut **work.tx(), &actor.session_id, "logout").await?;
    let ended = signed_out(&actor.user_id, SignedOut::Only(&actor.session_id));
    work.commit(Effects::told(vec![ended])).await?;
    Ok(())
}
