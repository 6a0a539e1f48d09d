//! What every console page and form shares: how a service's refusal is
//! shown, the error and "not allowed" pages, the caller's presence for the
//! header, and the 303 that answers a form.
//!
//! Every control is a plain link or form first: a POST answers with a 303
//! to the page (or the page again, with the problems next to their fields);
//! `hx-boost` on the body only makes the same requests without a reload.
//! Each handler is an adapter like the API's: it reads what the page shows
//! through the storage layer's queries, and every change goes through the
//! same service and unit of work as the API, so the console can do nothing
//! the policy would refuse over HTTP.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::render::{self};
use super::session::{self, Console};
use crate::AppState;
use crate::auth::policy::VisitScope;
use crate::db::users;
use crate::db::visits::VisitFilter;
use crate::domain::Presence;
use crate::i18n::Lang;
use crate::service::{FieldError, ServiceError};

pub(super) type PageResult = Result<Response, Response>;

/// A service's refusal as the console shows it: field problems stay on the
/// form; anything else is a message at the top of the page.
#[derive(Debug, Default)]
pub(super) struct Problems {
    pub(super) general: Option<String>,
    fields: Vec<FieldError>,
}

impl Problems {
    pub(super) fn from_service(lang: Lang, e: ServiceError) -> Result<Self, Box<Response>> {
        Ok(match e {
            ServiceError::Invalid(fields) => Self {
                general: Some(lang.text("console-check-fields")),
                fields,
            },
            ServiceError::Rejected(r)
                if r.reason == fieldops_sync::commands::RejectReason::Invalid =>
            {
                Self {
                    general: Some(lang.text("console-check-fields")),
                    fields: vec![FieldError::new(r.code, r.message)],
                }
            }
            ServiceError::Rejected(r)
                if r.reason == fieldops_sync::commands::RejectReason::Forbidden =>
            {
                return Err(Box::new(forbidden(lang)));
            }
            ServiceError::Rejected(r) => Self {
                general: Some(r.message),
                fields: vec![],
            },
            ServiceError::Duplicate(field) => Self {
                general: Some(lang.text("console-check-fields")),
                fields: vec![FieldError::new(field, lang.text("console-taken"))],
            },
            other => return Err(Box::new(internal(lang, &other))),
        })
    }

    /// The general message with every field's problem after it, for
    /// pages whose forms have one field each.
    pub(super) fn general_with_fields(self) -> Option<String> {
        let mut text = self.general?;
        for f in self.fields {
            text.push_str(&format!(" {}", f.message));
        }
        Some(text)
    }

    /// A message for the top of the page, no field named.
    pub(super) fn message(text: String) -> Self {
        Self {
            general: Some(text),
            fields: vec![],
        }
    }

    /// Problems with fields found before any service was asked.
    pub(super) fn fields(lang: Lang, fields: Vec<FieldError>) -> Self {
        Self {
            general: Some(lang.text("console-check-fields")),
            fields,
        }
    }

    /// Whether field `name` (or a part of it, `site.lat` for `site`) has a
    /// problem: the form marks it.
    pub(super) fn has(&self, name: &str) -> bool {
        self.field(name).is_some()
    }

    /// What is wrong with field `name`, or nothing.
    pub(super) fn said(&self, name: &str) -> &str {
        self.field(name).unwrap_or_default()
    }

    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.field == name || f.field.starts_with(&format!("{name}.")))
            .map(|f| f.message.as_str())
    }
}

pub(super) fn internal(lang: Lang, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console request failed");
    render::message_page(
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        "console-error-title",
        "console-error-detail",
    )
}

pub(super) fn forbidden(lang: Lang) -> Response {
    render::message_page(
        lang,
        StatusCode::FORBIDDEN,
        "console-forbidden-title",
        "console-forbidden-detail",
    )
}

/// The caller's presence, for the header.
pub(super) async fn presence(state: &AppState, console: &Console) -> Presence {
    users::get(state.db.pool(), &console.actor.user_id)
        .await
        .ok()
        .flatten()
        .map_or(Presence::Offline, |u| u.presence)
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Anything else under the console: a page that says so.
pub(super) async fn not_found(headers: HeaderMap) -> Response {
    missing(session::language(&headers))
}

/// The "no such page" page, in `lang`.
pub(super) fn missing(lang: Lang) -> Response {
    render::message_page(
        lang,
        StatusCode::NOT_FOUND,
        "console-not-found-title",
        "console-not-found-detail",
    )
}

/// The visit filter that keeps a list to what the caller may see.
pub(super) fn scoped_filter(scope: VisitScope) -> VisitFilter {
    let mut filter = VisitFilter::default();
    match scope {
        VisitScope::All => {}
        VisitScope::PoolOrHeldBy(user) => filter.pool_or_held_by = Some(user),
        VisitScope::Customer(own) => filter.customer_id = Some(own),
        // No console user has no scope; an impossible id keeps it empty.
        VisitScope::Nothing => filter.customer_id = Some(String::new()),
    }
    filter
}
