//! The unit of work: where a write commits, together with everything that
//! must be true exactly when it is.
//!
//! A change to fieldops is never only rows. The visits it touched must be
//! re-projected into their sync documents, the phones and consoles in scope
//! must be woken and told, and the request that asked for it — when it came
//! with an `Idempotency-Key` — must be answerable again with the same
//! response. If any of these could commit apart from the change, a crash in
//! between would leave a phone that never hears of a decision, or a retry
//! that applies it twice. So they share one transaction:
//!
//! ```text
//! Work::begin ─> service(work.tx(), actor, …) ─> Work::commit / Work::respond
//!                                                  ├ project the visit documents the effects name
//!                                                  ├ record the events (+ the sync wake-up)
//!                                                  ├ store the response under the request's key
//!                                                  ├ COMMIT
//!                                                  └ deliver the events
//! ```
//!
//! Dropping a [`Work`] without committing rolls everything back.
//!
//! The request's idempotency key reaches the unit of work as a task-local
//! set by the HTTP layer ([`with_key`]), not as a parameter: every write a
//! request makes then honours it, and no handler can forget to pass it on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use serde::Serialize;

use crate::AppState;
use crate::db::{Tx, idempotency};
use crate::error::{ApiError, ApiResult};
use crate::events::Notice;
use crate::faults;
use crate::sync::Changed;

/// What a change means outside its own rows.
#[derive(Debug, Default)]
#[must_use]
pub struct Effects {
    /// Visits whose sync documents must be re-projected.
    visits: Vec<String>,
    /// Documents already written in the transaction.
    changed: Vec<Changed>,
    /// The events to record.
    told: Vec<Notice>,
}

impl Effects {
    pub fn none() -> Self {
        Self::default()
    }

    /// Live notices; the visits they report a change of
    /// ([`Happened::visit_id`](crate::events::Happened::visit_id)) are
    /// re-projected.
    pub fn notices(notices: Vec<Notice>) -> Self {
        Self::none().with_notices(notices)
    }

    /// Live notices about documents the change has already written, or
    /// none (nothing is re-projected for them).
    pub fn told(notices: Vec<Notice>) -> Self {
        Self {
            told: notices,
            ..Self::default()
        }
    }

    /// [`Effects::notices`] added to these.
    pub fn with_notices(mut self, notices: Vec<Notice>) -> Self {
        self.visits.extend(
            notices
                .iter()
                .filter_map(|n| n.what.visit_id())
                .map(str::to_owned),
        );
        self.told.extend(notices);
        self
    }

    /// [`Effects::told`] added to these.
    pub fn with_told(mut self, notices: impl IntoIterator<Item = Notice>) -> Self {
        self.told.extend(notices);
        self
    }

    /// Both sets of effects, `self`'s first.
    pub fn and(mut self, other: Effects) -> Self {
        self.visits.extend(other.visits);
        self.changed.extend(other.changed);
        self.told.extend(other.told);
        self
    }

    /// Visits whose sync documents must be re-projected.
    pub fn with_visits(mut self, visit_ids: impl IntoIterator<Item = String>) -> Self {
        self.visits.extend(visit_ids);
        self
    }

    /// Documents the change already wrote (their readers are woken).
    pub fn with_changed(mut self, changed: impl IntoIterator<Item = Changed>) -> Self {
        self.changed.extend(changed);
        self
    }
}

/// Records one event as it travels (kind and JSON data) and delivers it,
/// as a change of its own: for tools and tests that speak the events' wire
/// format. Services say what happened with [`Notice`]s in their
/// [`Effects`]. Refuses a kind not in [`KINDS`](crate::events::KINDS).
pub async fn publish(
    state: &AppState,
    kind: &str,
    audience: crate::events::Audience,
    data: serde_json::Value,
) -> anyhow::Result<()> {
    let mut work = Work::begin(state).await?;
    let recorded = state
        .events
        .record_raw(&mut work.tx, vec![(kind, audience, data)])
        .await?;
    work.commit(Effects::none()).await?;
    state.events.deliver(recorded);
    Ok(())
}

/// The `Idempotency-Key` a request holds while it runs (see
/// `crate::http::idempotency`).
#[derive(Debug, Clone)]
pub struct HeldKey {
    pub scope: String,
    pub key: String,
    /// Proves the lease is still this request's when the response is stored.
    pub token: String,
    stored: Arc<AtomicBool>,
}

impl HeldKey {
    pub fn new(scope: String, key: String, token: String) -> Self {
        Self {
            scope,
            key,
            token,
            stored: Arc::default(),
        }
    }

    /// Whether a unit of work stored the response with its change.
    pub fn stored(&self) -> bool {
        self.stored.load(Ordering::Acquire)
    }
}

tokio::task_local! {
    static HELD_KEY: HeldKey;
}

/// Runs `request` with `key` held: the unit of work that commits its write
/// stores the response under it.
pub async fn with_key<F: Future>(key: HeldKey, request: F) -> F::Output {
    HELD_KEY.scope(key, request).await
}

/// Takes the lease on `(scope, key)` for `lease_ms` under a fresh token
/// (see `crate::http::idempotency`): the held key, or the row that holds it.
pub async fn lease_key(
    state: &AppState,
    scope: String,
    key: String,
    request_hash: &str,
    lease_ms: i64,
) -> sqlx::Result<Result<HeldKey, idempotency::StoredResponse>> {
    let token = crate::auth::tokens::random_secret();
    let mut tx = state.db.begin_write().await?;
    let lease = idempotency::lease(
        &mut tx,
        &scope,
        &key,
        request_hash,
        &token,
        crate::db::now_ms().saturating_add(lease_ms),
    )
    .await?;
    tx.commit().await?;
    Ok(match lease {
        idempotency::Lease::Taken => Ok(HeldKey::new(scope, key, token)),
        idempotency::Lease::Held(held) => Err(held),
    })
}

/// Frees `key` (its request failed on the server's side): a retry runs at once.
pub async fn release_key(state: &AppState, key: &HeldKey) -> sqlx::Result<()> {
    let mut tx = state.db.begin_write().await?;
    idempotency::release(&mut tx, &key.scope, &key.key, &key.token).await?;
    tx.commit().await
}

/// Stores the answer to a request that wrote nothing (a refusal) under
/// `key`, for its retries.
pub async fn store_answer(
    state: &AppState,
    key: &HeldKey,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> sqlx::Result<()> {
    let mut tx = state.db.begin_write().await?;
    idempotency::store(
        &mut tx,
        &key.scope,
        &key.key,
        &key.token,
        status.as_u16(),
        content_type,
        body,
    )
    .await?;
    tx.commit().await
}

/// Forgets keys older than `max_age_ms`; returns how many.
pub async fn expire_keys(state: &AppState, max_age_ms: i64) -> sqlx::Result<u64> {
    let mut tx = state.db.begin_write().await?;
    let expired = idempotency::expire(&mut tx, max_age_ms).await?;
    tx.commit().await?;
    Ok(expired)
}

fn held_key() -> Option<HeldKey> {
    HELD_KEY.try_with(Clone::clone).ok()
}

/// One write transaction and what it commits with.
#[derive(Debug)]
#[must_use = "a unit of work that is not committed rolls back"]
pub struct Work {
    state: AppState,
    tx: Tx,
}

impl Work {
    /// Opens the write transaction.
    pub async fn begin(state: &AppState) -> sqlx::Result<Self> {
        let tx = state.db.begin_write().await?;
        let key = held_key();
        faults::hit(faults::point::BEGUN, key.as_ref().map(|k| k.key.as_str())).await;
        Ok(Self {
            state: state.clone(),
            tx,
        })
    }

    /// The transaction, for the service and the storage layer.
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    /// Commits the change with `effects`. For writes that answer nobody's
    /// request (sync commands keep their own results, jobs none).
    pub async fn commit(self, effects: Effects) -> anyhow::Result<()> {
        self.finish(effects, None).await
    }

    /// Commits the change with `effects`, storing `body` (as JSON, with
    /// `status`) as the response to the request's idempotency key, if it has
    /// one; returns `body` for the adapter to send.
    pub async fn respond<T: Serialize>(
        self,
        effects: Effects,
        status: StatusCode,
        body: T,
    ) -> ApiResult<T> {
        let json = serde_json::to_vec(&body).map_err(anyhow::Error::from)?;
        self.finish(effects, Some((status, Some("application/json"), &json)))
            .await
            .map_err(api_error)?;
        Ok(body)
    }

    /// [`Work::respond`] for a response without a body (`204 No Content`).
    pub async fn respond_empty(
        self,
        effects: Effects,
        status: StatusCode,
    ) -> ApiResult<StatusCode> {
        self.finish(effects, Some((status, None, &[])))
            .await
            .map_err(api_error)?;
        Ok(status)
    }

    async fn finish(
        mut self,
        effects: Effects,
        response: Option<(StatusCode, Option<&str>, &[u8])>,
    ) -> anyhow::Result<()> {
        let Effects {
            mut visits,
            mut changed,
            told: mut events,
        } = effects;
        visits.sort();
        visits.dedup();
        for visit in &visits {
            changed.extend(crate::sync::project::visit(&mut self.tx, &self.state.db, visit).await?);
        }
        events.extend(crate::sync::wake_up(&changed));
        let recorded = self.state.events.record(&mut self.tx, events).await?;
        let key = held_key();
        let tag = key.as_ref().map(|k| k.key.as_str());
        faults::hit(faults::point::BEFORE_COMMIT, tag).await;
        if let (Some(key), Some((status, content_type, body))) = (&key, response) {
            let stored = idempotency::store(
                &mut self.tx,
                &key.scope,
                &key.key,
                &key.token,
                status.as_u16(),
                content_type,
                body,
            )
            .await?;
            if !stored {
                return Err(LeaseLost.into());
            }
        }
        self.tx.commit().await?;
        faults::hit(faults::point::AFTER_COMMIT, tag).await;
        if let Some(key) = key.filter(|_| response.is_some()) {
            key.stored.store(true, Ordering::Release);
        }
        self.state.events.deliver(recorded);
        Ok(())
    }
}

fn api_error(e: anyhow::Error) -> ApiError {
    match e.downcast::<LeaseLost>() {
        Ok(lost) => lost.into(),
        Err(e) => ApiError::Internal(e),
    }
}

/// The request's idempotency lease passed to a copy of it before this one
/// committed: this one rolls back, the copy's outcome stands.
#[derive(Debug, thiserror::Error)]
#[error("another request with this Idempotency-Key took over")]
struct LeaseLost;

impl From<LeaseLost> for ApiError {
    fn from(_: LeaseLost) -> Self {
        ApiError::conflict(
            "idempotency-in-progress",
            t!("problem-idempotency-retry-in-progress"),
        )
    }
}
