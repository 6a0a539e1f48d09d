//! One error type for the HTTP API, rendered as `application/problem+json`
//! (RFC 9457). Internal causes are logged with their context and never sent.
//!
//! Every `title`, `detail` and field `message` is a catalogue message in the
//! language of the request ([`crate::i18n`]): `Accept-Language: id` (or the
//! caller's saved language) answers in Bahasa Indonesia, English otherwise.
//! The `type` slug and the field names stay the same in every language.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldops_sync::commands::RejectReason;
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::service::FieldError;
use crate::service::ServiceError;

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A stable identifier of the kind of problem, e.g. `urn:fieldops:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level problems, for validation errors and conflicts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Who is asking is not proven; the detail says why, for a person.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden")]
    Forbidden,
    /// Not allowed, for a reason the caller should read (`kind` is the
    /// problem slug: `account-inactive`).
    #[error("forbidden: {detail}")]
    ForbiddenBecause { kind: &'static str, detail: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A state or uniqueness conflict; `kind` is the stable problem slug.
    #[error("conflict: {detail}")]
    Conflict {
        kind: &'static str,
        detail: String,
        field: Option<&'static str>,
    },
    #[error("unprocessable: {detail}")]
    Unprocessable { kind: &'static str, detail: String },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("service unavailable")]
    Unavailable,
    #[error("upgrade required")]
    UpgradeRequired,
    /// Too many attempts; try again after this many seconds (`Retry-After`).
    #[error("too many requests: {detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    /// The caller holds as many WebSockets as it may ([`crate::http::sockets`]).
    #[error("too many connections: {0}")]
    TooManyConnections(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            kind,
            detail: detail.into(),
            field: None,
        }
    }

    /// A uniqueness conflict on one field.
    pub fn duplicate(field: &'static str) -> Self {
        Self::Conflict {
            kind: "duplicate",
            detail: t!("problem-duplicate", field = field),
            field: Some(field),
        }
    }

    /// The status, the problem slug and the title in the request's language.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError::*;
        match self {
            BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "bad-request",
                t!("problem-title-bad-request"),
            ),
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                t!("problem-title-validation"),
            ),
            Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                t!("problem-title-unauthorized"),
            ),
            Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                t!("problem-title-forbidden"),
            ),
            ForbiddenBecause { kind, .. } => {
                (StatusCode::FORBIDDEN, kind, t!("problem-title-forbidden"))
            }
            NotFound(_) => (
                StatusCode::NOT_FOUND,
                "not-found",
                t!("problem-title-not-found"),
            ),
            Conflict { kind, .. } => (StatusCode::CONFLICT, kind, t!("problem-title-conflict")),
            Unprocessable { kind, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                kind,
                t!("problem-title-unprocessable"),
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                t!("problem-title-payload-too-large"),
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                t!("problem-title-unsupported-media-type"),
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                t!("problem-title-unavailable"),
            ),
            UpgradeRequired => (
                StatusCode::UPGRADE_REQUIRED,
                "upgrade-required",
                t!("problem-title-upgrade-required"),
            ),
            TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                t!("problem-title-too-many-requests"),
            ),
            TooManyConnections(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-connections",
                t!("problem-title-too-many-connections"),
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                t!("problem-title-internal"),
            ),
        }
    }
}

/// Builds a problem+json response.
pub fn problem_response(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: Option<String>,
    errors: Vec<FieldError>,
) -> Response {
    let body = Problem {
        kind: format!("urn:fieldops:problem:{kind}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A database that dropped the connection is an outage to wait out
        // (503, try again in a second), not a bug.
        let this = match self {
            ApiError::Internal(e) if crate::db::lost_connection_in(&e) => {
                tracing::warn!(error = ?e, "the database connection was lost; answered 503");
                ApiError::Unavailable
            }
            other => other,
        };
        let (status, kind, title) = this.parts();
        let retry_after = match &this {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ApiError::Unavailable => Some(1),
            _ => None,
        };
        let (detail, errors) = match this {
            ApiError::BadRequest(d) => (Some(d), vec![]),
            ApiError::Validation(errors) => (None, errors),
            ApiError::Unauthorized(d) => (Some(d), vec![]),
            ApiError::NotFound(what) => (Some(crate::service::not_found_detail(what)), vec![]),
            ApiError::Conflict { detail, field, .. } => {
                let errors = field
                    .map(|f| vec![FieldError::new(f, detail.clone())])
                    .unwrap_or_default();
                (Some(detail), errors)
            }
            ApiError::Unprocessable { detail, .. } => (Some(detail), vec![]),
            ApiError::ForbiddenBecause { detail, .. } => (Some(detail), vec![]),
            ApiError::TooManyRequests { detail, .. } => (Some(detail), vec![]),
            ApiError::TooManyConnections(d) => (Some(d), vec![]),
            ApiError::PayloadTooLarge => (Some(t!("problem-payload-too-large")), vec![]),
            ApiError::UnsupportedMediaType => (Some(t!("problem-unsupported-media-type")), vec![]),
            ApiError::UpgradeRequired => (Some(t!("problem-upgrade-required")), vec![]),
            ApiError::Unavailable => (Some(t!("problem-unavailable")), vec![]),
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "request failed");
                (None, vec![])
            }
            _ => (None, vec![]),
        };
        let mut response = problem_response(status, kind, &title, detail, errors);
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The one mapping of a service's refusal to an HTTP problem.
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let r = match err {
            ServiceError::Rejected(r) => r,
            ServiceError::Invalid(errors) => return ApiError::Validation(errors),
            ServiceError::Unprocessable { kind, detail } => {
                return ApiError::Unprocessable { kind, detail };
            }
            ServiceError::Duplicate(field) => return ApiError::duplicate(field),
            ServiceError::Unauthenticated(why) => return ApiError::Unauthorized(why),
            ServiceError::Throttled {
                detail,
                retry_after_secs,
            } => {
                return ApiError::TooManyRequests {
                    detail,
                    retry_after_secs,
                };
            }
            ServiceError::Unavailable => return ApiError::Unavailable,
            ServiceError::Internal(e) => return ApiError::Internal(e),
        };
        match r.reason {
            RejectReason::NotFound => ApiError::NotFound(r.code),
            RejectReason::Forbidden if r.code == RejectReason::Forbidden.as_str() => {
                ApiError::Forbidden
            }
            RejectReason::Forbidden => ApiError::ForbiddenBecause {
                kind: r.code,
                detail: r.message,
            },
            RejectReason::Invalid => ApiError::Validation(vec![FieldError::new(r.code, r.message)]),
            _ => ApiError::Conflict {
                kind: r.code,
                detail: r.message,
                field: None,
            },
        }
    }
}

impl From<crate::auth::Denial> for ApiError {
    fn from(_: crate::auth::Denial) -> Self {
        ApiError::Forbidden
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                ApiError::Validation(vec![body_field_error(e.body_text().trim_start_matches(
                    "Failed to deserialize the JSON body into the target type: ",
                ))])
            }
            JsonRejection::JsonSyntaxError(_) => ApiError::BadRequest(t!("problem-body-not-json")),
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

/// The field a JSON body's type error is about, and what is wrong with it,
/// from the deserializer's words (`priority: unknown variant ...`, `missing
/// field \`subject\``): the field is named, the parser's position is not.
fn body_field_error(text: &str) -> FieldError {
    // A path comes first: `site.lat: invalid type ...`.
    match text.split_once(": ") {
        Some((path, rest))
            if !path.is_empty()
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')) =>
        {
            field_error_at(Some(path), rest)
        }
        _ => field_error_at(None, text),
    }
}

/// A deserializer's complaint about the value at `path` (`None`: the body
/// itself) as a field error: a missing or unknown field is named itself,
/// an unknown enum value says what is accepted.
pub(crate) fn field_error_at(path: Option<&str>, message: &str) -> FieldError {
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    // The path may already end at the field (an unknown one) or stop at its
    // parent (a missing one).
    let within = |name: String| match path {
        Some(p) if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        Some(p) => format!("{p}.{name}"),
        None => name,
    };
    if let Some(missing) = quoted("missing field `") {
        return FieldError::new(&within(missing), t!("problem-field-required"));
    }
    if let Some(unknown) = quoted("unknown field `") {
        return FieldError::new(&within(unknown), t!("problem-field-unknown"));
    }
    let field = path.unwrap_or("body");
    if let Some((value, expected)) = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split_once("`, expected "))
    {
        // `one of `low`, `normal``, `` `a` or `b` ``: the names, listed.
        let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        return FieldError::new(
            field,
            t!(
                "problem-field-not-accepted",
                value = value,
                expected = &names.join(", ")
            ),
        );
    }
    let wrong = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "));
    if let Some((got, expected)) = wrong {
        return FieldError::new(
            field,
            t!(
                "problem-field-wrong-type",
                got = &value_words(got),
                expected = &expected_words(expected)
            ),
        );
    }
    FieldError::new(field, message)
}

/// A query string's parameter `name` (`None`: the query as a whole) that
/// did not parse (`value`, as sent), as a field error in the words of
/// [`field_error_at`]; a number that is not one says so.
pub(crate) fn query_field_error(
    name: Option<&str>,
    value: Option<&str>,
    message: &str,
) -> FieldError {
    let not_a_number = [
        "invalid digit",
        "cannot parse integer",
        "invalid float literal",
        "number too large",
        "number too small",
    ]
    .iter()
    .any(|words| message.contains(words));
    if not_a_number {
        let got = t!(
            "json-got-text",
            value = &format!("{:?}", value.unwrap_or_default())
        );
        let expected = t!("json-expected-number");
        return FieldError::new(
            name.unwrap_or("query"),
            t!("problem-field-wrong-type", got = &got, expected = &expected),
        );
    }
    let mut error = field_error_at(name, message);
    if name.is_none() && error.field == "body" {
        error.field = "query".into();
    }
    error
}

/// What a deserializer says a JSON value is (`string "x"`, `integer `1``,
/// `map`), in words of the request's language.
fn value_words(serde_words: &str) -> String {
    let value = |prefix: &str| {
        serde_words
            .strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_owned())
    };
    if let Some(v) = value("string ") {
        t!("json-got-text", value = &v)
    } else if let Some(v) = value("integer ").or_else(|| value("floating point ")) {
        t!("json-got-number", value = &v)
    } else if let Some(v) = value("boolean ") {
        v
    } else {
        match serde_words {
            "null" | "unit" => "null".to_owned(),
            "map" => t!("json-got-object"),
            "sequence" => t!("json-got-list"),
            other => other.to_owned(),
        }
    }
}

/// What a deserializer expected (`f64`, `a string`, `struct Site`), in
/// words of the request's language; its own words for anything else (a
/// format a field names itself).
fn expected_words(serde_words: &str) -> String {
    match serde_words {
        "u8" | "u16" | "u32" | "u64" | "usize" => t!("json-expected-unsigned"),
        "i8" | "i16" | "i32" | "i64" | "isize" => t!("json-expected-integer"),
        "f32" | "f64" => t!("json-expected-number"),
        "a string" | "a borrowed string" | "string" | "a character" => t!("json-expected-text"),
        "a boolean" => t!("json-expected-boolean"),
        "a sequence" => t!("json-expected-list"),
        "a map" => t!("json-expected-object"),
        other if other.starts_with("struct ") => t!("json-expected-object"),
        other => other.to_owned(),
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            // A path segment that cannot be an id (`/tickets/queue`,
            // `/customers/not-a-uuid`) names nothing: 404, never the
            // parser's wording.
            PathRejection::FailedToDeserializePathParams(_) => ApiError::NotFound("resource"),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::body_field_error;

    fn pair(text: &str) -> (String, String) {
        let e = body_field_error(text);
        (e.field, e.message)
    }

    #[test]
    fn json_type_errors_name_their_field() {
        assert_eq!(
            pair("missing field `subject` at line 1 column 2"),
            ("subject".into(), "is required".into())
        );
        assert_eq!(
            pair("site: missing field `lat` at line 1 column 40"),
            ("site.lat".into(), "is required".into())
        );
        assert_eq!(
            pair(
                "priority: unknown variant `HIGH`, expected one of `low`, `normal`, `high`, `urgent` at line 1 column 20"
            ),
            (
                "priority".into(),
                "`HIGH` is not accepted; expected one of: low, normal, high, urgent".into()
            )
        );
        assert_eq!(
            pair("unknown field `is_admin`, expected one of `name`, `phone` at line 1 column 12"),
            ("is_admin".into(), "is not a field of this request".into())
        );
        assert_eq!(
            pair("site.lat: invalid type: string \"x\", expected f64 at line 1 column 9"),
            ("site.lat".into(), "must be a number, not text \"x\"".into())
        );
        assert_eq!(
            pair("invalid type: integer `1`, expected a map at line 1 column 1"),
            ("body".into(), "must be an object, not the number 1".into())
        );
        assert_eq!(
            pair("count: invalid value: integer `-1`, expected u32 at line 1 column 11"),
            (
                "count".into(),
                "must be a whole number, 0 or more, not the number -1".into()
            )
        );
        assert_eq!(
            pair("kind: unknown variant `x`, expected `app` or `whatsapp`"),
            (
                "kind".into(),
                "`x` is not accepted; expected one of: app, whatsapp".into()
            )
        );
    }
}
