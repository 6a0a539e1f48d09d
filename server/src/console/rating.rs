//! The public rating page behind the WhatsApp link (`/rate/{token}`): no
//! account, mobile-first, Bahasa Indonesia unless the browser or `?lang=en`
//! asks for English. Opening it never spends the link; the form posts back
//! to the same address with a double-submit token (the anonymous forms'
//! cookie, as on the sign-in page), and [`ratings::submit`] spends it.
//! The page shows the visit's title and day and the technicians' first
//! names, nothing else about anyone.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::render::{self, page};
use super::session::{self, SIGN_IN_COOKIE, set_cookie};
use crate::AppState;
use crate::i18n::Lang;
use crate::ratings::{self, Link, Via};
use crate::service::ServiceError;
use crate::work::{Effects, Work};

#[derive(Template)]
#[template(path = "rate.html")]
struct RatePage {
    lang: Lang,
    csrf: String,
    token: String,
    state: Shown,
    problem: Option<String>,
}

/// What the page shows.
enum Shown {
    Form {
        title: String,
        day: String,
        technicians: String,
    },
    Thanks {
        score: i64,
    },
    Rated {
        score: i64,
    },
    Expired,
    Invalid,
}

impl RatePage {
    fn t(&self, key: &str) -> String {
        self.lang.text(key)
    }

    fn code(&self) -> &'static str {
        self.lang.code()
    }

    fn stars(&self) -> Vec<(i64, String)> {
        (1..=5)
            .rev()
            .map(|n| (n, self.lang.text(&format!("rate-star-{n}"))))
            .collect()
    }

    fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        render::languages(self.lang)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct LangParam {
    lang: Option<String>,
}

fn language(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    asked
        .and_then(Lang::parse)
        .unwrap_or_else(|| session::language(headers))
}

fn rate_page(
    headers: &HeaderMap,
    lang: Lang,
    status: StatusCode,
    token: &str,
    state: Shown,
    problem: Option<String>,
) -> Response {
    let existing = session::cookie(headers, SIGN_IN_COOKIE)
        .filter(|t| t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit()));
    let csrf = existing.map_or_else(|| hex::encode(rand::random::<[u8; 16]>()), str::to_owned);
    let mut response = page(
        status,
        &RatePage {
            lang,
            csrf: csrf.clone(),
            token: token.to_owned(),
            state,
            problem,
        },
    );
    let headers_out = response.headers_mut();
    headers_out.append(
        header::SET_COOKIE,
        set_cookie(
            headers,
            SIGN_IN_COOKIE,
            &csrf,
            std::time::Duration::from_secs(3600),
        ),
    );
    // The token is in the address: never send it on as a referrer.
    headers_out.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    headers_out.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn shown(link: Link, lang: Lang) -> (StatusCode, Shown) {
    match link {
        Link::Open {
            title,
            day,
            technicians,
        } => (
            StatusCode::OK,
            Shown::Form {
                title,
                day: day
                    .parse::<jiff::civil::Date>()
                    .map_or(day, |d| crate::i18n::date_label(lang, d)),
                technicians: technicians.join(", "),
            },
        ),
        Link::Rated { score } => (StatusCode::OK, Shown::Rated { score }),
        Link::Expired => (StatusCode::GONE, Shown::Expired),
        Link::Invalid => (StatusCode::NOT_FOUND, Shown::Invalid),
    }
}

/// `GET /rate/{token}`: the form (or why there is none). Spends nothing.
pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<LangParam>,
) -> Response {
    let lang = language(&headers, q.lang.as_deref());
    match Link::open(&state, &token).await {
        Ok(link) => {
            let (status, view) = shown(link, lang);
            rate_page(&headers, lang, status, &token, view, None)
        }
        Err(e) => super::common::internal(lang, &e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RateForm {
    score: Option<String>,
    #[serde(default)]
    comment: String,
    lang: Option<String>,
}

/// `POST /rate/{token}`: spends the link and records the rating.
pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<RateForm>,
) -> Response {
    let lang = language(&headers, form.lang.as_deref());
    let score = form
        .score
        .as_deref()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let applied = ratings::submit(
            work.tx(),
            None,
            None,
            &token,
            score,
            &form.comment,
            Via::Link,
        )
        .await?;
        work.commit(Effects::told(applied.notices)).await?;
        Ok::<_, ServiceError>(applied.value)
    }
    .await;
    match outcome {
        Ok(rating) => rate_page(
            &headers,
            lang,
            StatusCode::OK,
            &token,
            Shown::Thanks {
                score: rating.score,
            },
            None,
        ),
        Err(ServiceError::Invalid(_)) => {
            // Back to the form, saying what to fix.
            match Link::open(&state, &token).await {
                Ok(link) => {
                    let (_, view) = shown(link, lang);
                    let problem = Some(lang.text("rate-pick-a-score"));
                    rate_page(
                        &headers,
                        lang,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &token,
                        view,
                        problem,
                    )
                }
                Err(e) => super::common::internal(lang, &e),
            }
        }
        Err(ServiceError::Rejected(_)) => match Link::open(&state, &token).await {
            Ok(link) => {
                let (status, view) = shown(link, lang);
                let status = if status == StatusCode::OK {
                    StatusCode::CONFLICT
                } else {
                    status
                };
                rate_page(&headers, lang, status, &token, view, None)
            }
            Err(e) => super::common::internal(lang, &e),
        },
        Err(e) => super::common::internal(lang, &e),
    }
}
