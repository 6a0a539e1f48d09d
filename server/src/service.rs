//! What every service shares: its one error, [`ServiceError`], and its
//! success, [`Applied`].
//!
//! A service function is a use case (claim a visit, update a ticket, sign
//! in). It takes the acting identity and a unit of work
//! ([`Work`](crate::work::Work)), checks, writes, and either returns what it
//! applied with the notices to deliver, or refuses with a `ServiceError`.
//! The error is mapped in exactly two places, once per kind of adapter:
//! to a problem+json answer (`impl From<ServiceError> for ApiError` in
//! [`crate::error`]) and to a sync [`CommandResult`] (`refused` in
//! `crate::sync::commands`). Services never name an HTTP status.
//!
//! [`CommandResult`]: fieldops_sync::commands::CommandResult

use fieldops_sync::commands::RejectReason;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Action, Actor};
pub use crate::events::Notice;

/// A problem with one field of the request.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name, dotted for nested fields (`site.lat`).
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Why a service refused, with a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The sync protocol's reason.
    pub reason: RejectReason,
    /// The HTTP problem slug: the reason's code, or a finer one
    /// (`visit_claimed`, `extension_pending`, ...). For `not_found` it names
    /// what was missing (`visit`, `assignment`); for `invalid`, the field.
    pub code: &'static str,
    pub message: String,
}

/// Every way a service call can fail to apply. On any of them the caller
/// drops its unit of work, which rolls back.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A rule of the domain refused, with the sync protocol's reason.
    #[error("{}: {}", .0.code, .0.message)]
    Rejected(Rejection),
    /// Fields that fail validation, all of them at once.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// Well-formed input the service cannot use (`kind` is the problem
    /// slug: `hash-mismatch`, `not-an-image`, ...).
    #[error("{kind}: {detail}")]
    Unprocessable { kind: &'static str, detail: String },
    /// A value that must be unique (`email`, `phone`) is taken.
    #[error("{0} is already in use")]
    Duplicate(&'static str),
    /// The caller did not prove who they are (credentials, tokens, codes);
    /// why, for a person.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// Too many attempts; the next may come after `retry_after_secs`.
    #[error("too many attempts: {detail}")]
    Throttled {
        detail: String,
        retry_after_secs: u64,
    },
    /// A part the call needs is briefly unavailable (a blob being deleted).
    #[error("temporarily unavailable")]
    Unavailable,
    /// Storage or a bug: logged with its context, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

/// A service call's outcome: what it applied, or why not.
pub type ServiceResult<T> = Result<Applied<T>, ServiceError>;

/// What an accepted call changed, and what to tell whom.
#[derive(Debug, Clone)]
pub struct Applied<T> {
    pub value: T,
    pub notices: Vec<Notice>,
}

/// Refuses with `reason`, using its code as the problem slug.
pub fn reject(reason: RejectReason, message: impl Into<String>) -> ServiceError {
    reject_as(reason, reason.as_str(), message)
}

/// Refuses with `reason` and a finer problem slug.
pub fn reject_as(
    reason: RejectReason,
    code: &'static str,
    message: impl Into<String>,
) -> ServiceError {
    ServiceError::Rejected(Rejection {
        reason,
        code,
        message: message.into(),
    })
}

/// A refusal by the policy.
pub fn forbidden() -> ServiceError {
    reject(RejectReason::Forbidden, t!("problem-forbidden"))
}

/// Checks the policy; a denial is a [`RejectReason::Forbidden`] rejection.
pub fn allow(actor: &Actor, action: Action<'_>) -> Result<(), ServiceError> {
    actor.authorize(action).map_err(|_| forbidden())
}

/// For `map_err` on a write: a unique-constraint violation means `field`'s
/// value is taken ([`ServiceError::Duplicate`]); anything else is internal.
pub fn taken(field: &'static str) -> impl FnOnce(sqlx::Error) -> ServiceError {
    move |e| {
        if crate::db::is_unique_violation(&e) {
            ServiceError::Duplicate(field)
        } else {
            e.into()
        }
    }
}

impl ServiceError {
    /// One field's problem.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// A refusal for the state of things, with its problem slug.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        reject_as(RejectReason::Conflict, code, message)
    }

    /// Nothing named `what` in the caller's scope.
    pub fn not_found(what: &'static str) -> Self {
        reject_as(RejectReason::NotFound, what, not_found_detail(what))
    }
}

/// `visit not found` / `kunjungan tidak ditemukan`: `what` is the noun a
/// not-found refusal names (`visit`, `blob bytes`), in the request's
/// language when the catalogue knows it (`thing-visit`).
pub fn not_found_detail(what: &str) -> String {
    let lang = crate::i18n::current();
    let key = format!("thing-{}", what.replace([' ', '_'], "-"));
    let thing = if lang.has(&key) {
        lang.text(&key)
    } else {
        what.to_owned()
    };
    t!("problem-not-found", what = &thing)
}
