//! The console's cookie session and its CSRF protection.
//!
//! Signing in opens an ordinary device session (the one the API's tokens
//! belong to), so everything that ends device sessions ends console sessions
//! too: signing out, deactivating the account, a reset password. The cookie
//! names that session and carries its own expiry, sealed with an HMAC under
//! a key kept in the database (`console_cookie_hmac`); every request loads the
//! caller through the same [`CallerCache`](crate::auth::cache::CallerCache)
//! as the API, so a revoked session is refused on its next request.
//!
//! The cookie is `HttpOnly` and `SameSite=Lax`, and `Secure` when the request
//! came over TLS (`X-Forwarded-Proto: https` from the proxy in front).
//! Unsafe requests (POST) must also carry the session's CSRF token — a form
//! field `_csrf` or the `X-CSRF-Token` header htmx sends — derived from the
//! session id with the same key, so a token from another session never
//! matches. The sign-in form, which has no session yet, uses a double-submit
//! cookie instead.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppState;
use crate::domain::{Actor, Role, Status};
use crate::i18n::Lang;

/// The session cookie.
pub const SESSION_COOKIE: &str = "fieldops_console";
/// The chosen language.
pub const LANG_COOKIE: &str = "fieldops_lang";
/// The sign-in form's double-submit token.
pub const SIGN_IN_COOKIE: &str = "fieldops_signin";
/// The header htmx requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field plain forms carry it in.
pub const CSRF_FIELD: &str = "_csrf";
/// How long a console session lasts without signing in again.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The most a console form may hold; forms are small.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Seals cookies and derives CSRF tokens.
pub struct ConsoleKey(Vec<u8>);

impl std::fmt::Debug for ConsoleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleKey(..)")
    }
}

impl ConsoleKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(secret.to_vec())
    }

    fn mac(&self, purpose: &str, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(b"fieldops-console\n");
        mac.update(purpose.as_bytes());
        for part in parts {
            mac.update(b"\n");
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The cookie value for a session: `user.session.expires.mac`.
    pub fn seal(&self, user_id: &str, session_id: &str, expires_ms: i64) -> String {
        let expires = expires_ms.to_string();
        let mac = self.mac("session", &[user_id, session_id, &expires]);
        format!(
            "{user_id}.{session_id}.{expires}.{}",
            hex::encode(mac.finalize().into_bytes())
        )
    }

    /// `(user_id, session_id)` of a cookie value this key sealed, while it
    /// has not expired.
    pub fn open<'a>(&self, value: &'a str, now_ms: i64) -> Option<(&'a str, &'a str)> {
        let mut parts = value.split('.');
        let (user_id, session_id, expires, tag) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || expires.parse::<i64>().ok()? <= now_ms {
            return None;
        }
        let tag = hex::decode(tag).ok()?;
        self.mac("session", &[user_id, session_id, expires])
            .verify_slice(&tag)
            .ok()?;
        Some((user_id, session_id))
    }

    /// The CSRF token of a session.
    pub fn csrf(&self, session_id: &str) -> String {
        let mac = self.mac("csrf", &[session_id]);
        hex::encode(&mac.finalize().into_bytes()[..20])
    }

    /// Whether `token` is the CSRF token of `session_id` (constant time).
    fn csrf_matches(&self, session_id: &str, token: &str) -> bool {
        let Ok(token) = hex::decode(token) else {
            return false;
        };
        self.mac("csrf", &[session_id])
            .verify_truncated_left(&token)
            .is_ok()
            && token.len() == 20
    }
}

/// The value of cookie `name` in a request's headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// Whether the request reached the proxy in front over TLS.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure over TLS;
/// `max_age` 0 deletes it.
pub fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age: Duration) -> HeaderValue {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    let cookie = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The language of a request before anyone signs in: the one chosen on
/// this browser (cookie), else its `Accept-Language`, else Bahasa
/// Indonesia. A signed-in person's own setting wins over both ([`Console`]).
pub fn language(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or_else(|| {
            Lang::negotiate(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}

/// A signed-in staff member using the console.
#[derive(Debug, Clone)]
pub struct Console {
    pub actor: Actor,
    pub lang: Lang,
    /// This session's CSRF token, for forms and htmx requests.
    pub csrf: String,
}

/// Why a request gets no console page.
#[derive(Debug)]
pub enum Refusal {
    /// Not signed in, or the session ended: to the sign-in page.
    SignIn {
        htmx: bool,
        next: String,
    },
    /// A customer account: the console is for staff.
    NotStaff(Lang),
    Unavailable,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            // htmx follows `HX-Redirect` with a full page load; a plain
            // browser follows the 303.
            Refusal::SignIn { htmx: true, .. } => {
                (StatusCode::UNAUTHORIZED, [("hx-redirect", "/sign-in")]).into_response()
            }
            Refusal::SignIn { next, .. } => {
                let target = if next == "/" || !next.starts_with('/') || next.starts_with("//") {
                    "/sign-in".to_owned()
                } else {
                    format!(
                        "/sign-in?next={}",
                        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                    )
                };
                Redirect::to(&target).into_response()
            }
            Refusal::NotStaff(lang) => super::render::message_page(
                lang,
                StatusCode::FORBIDDEN,
                "console-not-staff-title",
                "console-not-staff-detail",
            ),
            Refusal::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                t!("problem-console-unavailable"),
            )
                .into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let lang = language(&parts.headers);
        let sign_in = || Refusal::SignIn {
            htmx: parts.headers.contains_key("hx-request"),
            next: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        };
        let value = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(sign_in)?;
        let (user_id, session_id) = state
            .console_key
            .open(value, crate::db::now_ms())
            .ok_or_else(sign_in)?;
        let caller = state
            .callers
            .load(&state.db, user_id, session_id)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "loading a console caller failed");
                Refusal::Unavailable
            })?
            .filter(|c| c.status == Status::Active && c.session_live)
            .ok_or_else(sign_in)?;
        if caller.role == Role::Customer {
            return Err(Refusal::NotStaff(lang));
        }
        // The person's own choice, then this browser's (cookie, then
        // `Accept-Language`).
        let lang = caller
            .language
            .as_deref()
            .and_then(Lang::parse)
            .unwrap_or(lang);
        // What services answer (a refusal shown on the page) speaks it too.
        crate::i18n::speak(lang);
        Ok(Console {
            csrf: state.console_key.csrf(session_id),
            actor: Actor {
                user_id: caller.id,
                session_id: session_id.to_owned(),
                role: caller.role,
                name: caller.name,
                customer_id: caller.customer_id,
                department_ids: caller.department_ids,
            },
            lang,
        })
    }
}

/// Refuses an unsafe console request that does not carry its session's
/// CSRF token (or, for the sign-in form, the double-submit token), or that
/// a browser says comes from another origin. Safe methods pass.
pub async fn csrf_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let lang = language(request.headers());
    let refuse = || {
        super::render::message_page(
            lang,
            StatusCode::FORBIDDEN,
            "console-csrf-title",
            "console-csrf-detail",
        )
    };
    if cross_origin(request.headers()) {
        return refuse();
    }
    let (parts, body) = request.into_parts();
    // The forms of people without a session (signing in, rating a visit)
    // carry the double-submit token of their cookie.
    let anonymous = parts.uri.path() == "/sign-in" || parts.uri.path().starts_with("/rate/");
    let expected: Box<dyn Fn(&str) -> bool + Send> = if anonymous {
        let Some(cookie) = cookie(&parts.headers, SIGN_IN_COOKIE).map(str::to_owned) else {
            return refuse();
        };
        Box::new(move |token: &str| !cookie.is_empty() && token == cookie)
    } else {
        let session = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|v| state.console_key.open(v, crate::db::now_ms()))
            .map(|(_, sid)| sid.to_owned());
        let Some(session_id) = session else {
            // Not signed in: the handler's extractor sends them to sign in.
            return next.run(Request::from_parts(parts, body)).await;
        };
        let state = state.clone();
        Box::new(move |token: &str| state.console_key.csrf_matches(&session_id, token))
    };
    if let Some(token) = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if expected(token) {
            next.run(Request::from_parts(parts, body)).await
        } else {
            refuse()
        };
    }
    // A file form (multipart) is not read here: its token rides in the
    // query string of the form's action.
    if super::is_multipart(&parts.headers) {
        let token = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == CSRF_FIELD)
                .map(|(_, v)| v.into_owned())
        });
        if token.as_deref().is_some_and(&expected) {
            return next.run(Request::from_parts(parts, body)).await;
        }
        // Read what the browser is sending before refusing (bounded by the
        // form's limit), so it sees the answer rather than a cut connection.
        let limit = super::form_limit(&state.config, parts.uri.path(), &parts.headers)
            .unwrap_or(MAX_FORM_BYTES);
        let _ = axum::body::to_bytes(body, limit).await;
        return refuse();
    }
    // A plain form: read it (bounded), find the field, hand it on intact.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            t!("problem-console-form-too-large"),
        )
            .into_response();
    };
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    match token {
        Some(token) if expected(&token) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => refuse(),
    }
}

/// A browser's `Origin` (or, failing that, `Referer`) naming another host
/// than the one the request was sent to.
fn cross_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match source {
        None | Some("null") => false,
        Some(source) => {
            let rest = source.split_once("://").map_or(source, |(_, r)| r);
            let authority = rest.split('/').next().unwrap_or_default();
            !authority.eq_ignore_ascii_case(host)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_cookie_opens_only_unchanged_and_unexpired() {
        let key = ConsoleKey::new(b"0123456789abcdef0123456789abcdef");
        let value = key.seal("u1", "s1", 2_000);
        assert_eq!(key.open(&value, 1_000), Some(("u1", "s1")));
        assert_eq!(key.open(&value, 2_000), None, "expired");
        let forged = value.replacen("u1", "u2", 1);
        assert_eq!(key.open(&forged, 1_000), None, "another user");
        let other = ConsoleKey::new(b"another key another key another k");
        assert_eq!(other.open(&value, 1_000), None, "another key");
        assert_eq!(key.open("u1.s1.9999999999999", 1_000), None);
    }

    #[test]
    fn a_csrf_token_belongs_to_one_session() {
        let key = ConsoleKey::new(b"0123456789abcdef0123456789abcdef");
        let token = key.csrf("s1");
        assert!(key.csrf_matches("s1", &token));
        assert!(!key.csrf_matches("s2", &token));
        assert!(!key.csrf_matches("s1", &token[..20]));
        assert!(!key.csrf_matches("s1", "not hex"));
    }

    #[test]
    fn cross_origin_posts_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cross_origin(&headers));
    }
}
