//! Request extractors whose rejections are problem+json, and cursor pagination.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldops_sync::text::{TextProblem, has_forbidden_control};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::i18n::describe;

/// A JSON body, with problem+json rejections that name the field, and
/// refused when any string in it holds a character no text may hold
/// (`fieldops_sync::text`: NUL and other control characters), whichever
/// field it is in: the one edge every JSON body crosses.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::BadRequest(t!("problem-body-not-json")))?;
        if let Some(field) = forbidden_text(&value, &mut String::new()) {
            return Err(ApiError::field(&field, describe(TextProblem::Control)));
        }
        serde_path_to_error::deserialize(value)
            .map(Json)
            .map_err(|e| {
                let path = e.path().to_string();
                let path = (path != ".").then_some(path.as_str());
                let problem = crate::error::field_error_at(path, &e.inner().to_string());
                ApiError::Validation(vec![problem])
            })
    }
}

impl<T: Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `application/json`, or any `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence.starts_with("application/") && essence.ends_with("+json")
}

/// The dotted path of the first string (or key) in `value` that holds a
/// forbidden character.
fn forbidden_text(value: &serde_json::Value, path: &mut String) -> Option<String> {
    use serde_json::Value;
    let at = |path: &str| {
        if path.is_empty() {
            "body".to_owned()
        } else {
            path.to_owned()
        }
    };
    match value {
        Value::String(s) => has_forbidden_control(s).then(|| at(path)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = forbidden_text(item, path);
            path.truncate(len);
            found
        }),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let len = path.len();
            let found = if has_forbidden_control(key) {
                // The key itself is unprintable: name the object holding it.
                Some(at(&path[..len]))
            } else {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                forbidden_text(item, path)
            };
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

/// Query parameters, with problem+json rejections, and refused when a value
/// holds a character no text may hold (`?q=%00`), naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::BadRequest(t!("problem-query-malformed")))?;
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, value)| has_forbidden_control(name) || has_forbidden_control(value))
        {
            let name = if has_forbidden_control(name) {
                "query"
            } else {
                name.as_str()
            };
            return Err(ApiError::field(name, describe(TextProblem::Control)));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|e| {
                // Named like a body's field, in the caller's language: 422.
                let path = e.path().to_string();
                let name = (path != ".").then_some(path.as_str());
                let value =
                    name.and_then(|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()));
                let inner = e.inner().to_string();
                ApiError::Validation(vec![crate::error::query_field_error(name, value, &inner)])
            })
    }
}

/// `axum::extract::Path` with problem+json rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Page size and position, validated.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u32,
    /// The last id of the previous page (lists are ordered by id, newest first).
    pub after: Option<String>,
}

impl PageRequest {
    /// Validates the `limit` (1 to 200, default 50) and `cursor` query parameters.
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> ApiResult<Self> {
        let limit = limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::field("limit", t!("problem-page-limit")));
        }
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                decode_cursor(c)
                    .ok_or_else(|| ApiError::field("cursor", t!("problem-page-cursor")))?,
            ),
        };
        Ok(Self { limit, after })
    }
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let id = String::from_utf8(bytes).ok()?;
    uuid::Uuid::parse_str(&id).ok().map(|u| u.to_string())
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only tells
    /// that there is a next page.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, id_of: impl Fn(&T) -> &str) -> Self {
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|last| URL_SAFE_NO_PAD.encode(id_of(last)))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null`
/// (`Some(None)`). Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
