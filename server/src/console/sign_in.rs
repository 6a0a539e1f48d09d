//! Signing in and out, the language, and the presence picker in the header.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::common::{forbidden, internal, see_other};
use super::render::{self, page};
use super::session::{
    self, Console, LANG_COOKIE, SESSION_COOKIE, SESSION_TTL, SIGN_IN_COOKIE, set_cookie,
};
use crate::AppState;
use crate::accounts::{sessions, staff};
use crate::auth::throttle::ClientAddr;
use crate::db::now_ms;
use crate::domain::{Presence, Role};
use crate::i18n::Lang;
use crate::service::ServiceError;

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    lang: Lang,
    token: String,
    next: String,
    email: String,
    problem: Option<String>,
}

impl SignInPage {
    fn t(&self, key: &str) -> String {
        self.lang.text(key)
    }

    fn code(&self) -> &'static str {
        self.lang.code()
    }

    fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        render::languages(self.lang)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct NextParam {
    next: Option<String>,
}

/// Only a path on this site, never `//elsewhere` or a full URL.
fn local_path(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/")
        .to_owned()
}

fn sign_in_page(
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    email: String,
    problem: Option<String>,
) -> Response {
    let existing = session::cookie(headers, SIGN_IN_COOKIE)
        .filter(|t| t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit()));
    let token = existing.map_or_else(
        || {
            let bytes: [u8; 16] = rand::random();
            hex::encode(bytes)
        },
        str::to_owned,
    );
    let mut response = page(
        status,
        &SignInPage {
            lang: session::language(headers),
            token: token.clone(),
            next,
            email,
            problem,
        },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            headers,
            SIGN_IN_COOKIE,
            &token,
            std::time::Duration::from_secs(3600),
        ),
    );
    response
}

pub(super) async fn sign_in_form(headers: HeaderMap, Query(p): Query<NextParam>) -> Response {
    sign_in_page(
        &headers,
        StatusCode::OK,
        local_path(p.next.as_deref()),
        String::new(),
        None,
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientAddr,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = session::language(&headers);
    let next = local_path(form.next.as_deref());
    let device = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "console".to_owned(), |ua| format!("console: {ua}"));
    let refused = |status, key: &str| {
        sign_in_page(
            &headers,
            status,
            next.clone(),
            form.email.clone(),
            Some(lang.text(key)),
        )
    };
    let tokens = match sessions::sign_in(
        &state,
        &form.email,
        form.password.clone(),
        Some(&device),
        client,
    )
    .await
    {
        Ok(tokens) => tokens,
        Err(ServiceError::Unauthenticated(_)) => {
            return refused(StatusCode::UNAUTHORIZED, "sign-in-wrong");
        }
        Err(ServiceError::Throttled { .. }) => {
            return refused(StatusCode::TOO_MANY_REQUESTS, "sign-in-throttled");
        }
        Err(ServiceError::Rejected(r)) if r.code == "account-inactive" => {
            return refused(StatusCode::FORBIDDEN, "sign-in-inactive");
        }
        Err(e) => return internal(lang, &e),
    };
    if tokens.user.role == Role::Customer {
        // The console is for staff: the session just opened ends at once.
        let actor = crate::domain::Actor {
            user_id: tokens.user.id.clone(),
            session_id: tokens.session_id.clone(),
            role: Role::Customer,
            name: tokens.user.name.clone(),
            customer_id: tokens.user.customer_id.clone(),
            department_ids: vec![],
        };
        if let Err(e) = sessions::sign_out(&state, &actor).await {
            return internal(lang, &e);
        }
        return refused(StatusCode::FORBIDDEN, "console-not-staff-detail");
    }
    let ttl_ms = i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX);
    let sealed = state
        .console_key
        .seal(&tokens.user.id, &tokens.session_id, now_ms() + ttl_ms);
    let mut response = see_other(&next);
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(&headers, SESSION_COOKIE, &sealed, SESSION_TTL),
    );
    cookies.append(
        header::SET_COOKIE,
        set_cookie(&headers, SIGN_IN_COOKIE, "", std::time::Duration::ZERO),
    );
    response
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    console: Console,
) -> Response {
    if let Err(e) = sessions::sign_out(&state, &console.actor).await {
        return internal(console.lang, &e);
    }
    let mut response = see_other("/sign-in");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&headers, SESSION_COOKIE, "", std::time::Duration::ZERO),
    );
    response
}

/// `GET /language/{code}?next=…`: remembers the language (a preference,
/// not a change of data: a plain link works on the sign-in page too).
pub(super) async fn language(
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(p): Query<NextParam>,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return super::common::missing(session::language(&headers));
    };
    remember_language(&headers, lang, p.next.as_deref())
}

/// A 303 to `next` (a local path) that keeps `lang` in this browser's
/// cookie for a year.
fn remember_language(headers: &HeaderMap, lang: Lang, next: Option<&str>) -> Response {
    let mut response = see_other(&local_path(next));
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            headers,
            LANG_COOKIE,
            lang.code(),
            std::time::Duration::from_secs(365 * 86_400),
        ),
    );
    response
}

#[derive(Debug, Deserialize)]
pub(super) struct LanguageForm {
    code: String,
    next: Option<String>,
}

/// `POST /language` from the header of a signed-in page: the person's own
/// language, kept on their account (every device they sign in from) and
/// in this browser's cookie (the sign-in page after signing out).
pub(super) async fn choose_language(
    State(state): State<AppState>,
    headers: HeaderMap,
    console: Console,
    Form(form): Form<LanguageForm>,
) -> Response {
    let Some(lang) = Lang::parse(&form.code) else {
        return super::common::missing(console.lang);
    };
    if let Err(e) =
        crate::accounts::preferences::set_language(&state, &console.actor, Some(lang)).await
    {
        return internal(console.lang, &e);
    }
    remember_language(&headers, lang, form.next.as_deref())
}

#[derive(Debug, Deserialize)]
pub(super) struct PresenceForm {
    presence: String,
}

pub(super) async fn set_presence(
    State(state): State<AppState>,
    headers: HeaderMap,
    console: Console,
    Form(form): Form<PresenceForm>,
) -> Response {
    let Some(presence) = Presence::parse(&form.presence) else {
        return forbidden(console.lang);
    };
    match staff::set_presence(&state, &console.actor, presence).await {
        Ok(_) => see_other(&back(&headers)),
        Err(ServiceError::Rejected(_)) => forbidden(console.lang),
        Err(e) => internal(console.lang, &e),
    }
}

/// The page a form was posted from, for answering with a 303 back to it.
fn back(headers: &HeaderMap) -> String {
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let path = referer.and_then(|r| {
        let rest = r.split_once("://").map_or(r, |(_, rest)| rest);
        rest.find('/').map(|i| &rest[i..])
    });
    local_path(path)
}
