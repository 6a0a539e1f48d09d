//! What every console page shares: the header ("chrome"), rendering a
//! template into a response, and formatting for Indonesia (Rupiah, dates
//! in the sites' time zone).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::session::Console;
use crate::auth::Action;
use crate::domain::{Presence, Role};
use crate::i18n::{Arg, Lang};

/// One link of the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

/// The header of every signed-in page: who, language, presence, navigation,
/// and the CSRF token every form and htmx request carries.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: Lang,
    pub csrf: String,
    pub name: String,
    pub role: String,
    pub presence: Presence,
    pub nav: Vec<NavItem>,
    pub title: String,
    /// This page's path.
    pub current: &'static str,
}

impl Chrome {
    /// The chrome of page `current` (one of the navigation's hrefs).
    pub fn new(console: &Console, presence: Presence, current: &'static str) -> Self {
        let lang = console.lang;
        let actor = &console.actor;
        let pages: [(&'static str, &str, bool); 12] = [
            ("/", "nav-dashboard", true),
            ("/tickets", "nav-tickets", actor.allows(Action::ListTickets)),
            ("/chat", "nav-chat", actor.allows(Action::ListConversations)),
            (
                "/customers",
                "nav-customers",
                actor.allows(Action::ListCustomers),
            ),
            ("/users", "nav-users", actor.allows(Action::ListUsers)),
            (
                "/dispatch",
                "nav-dispatch",
                actor.allows(Action::ListVisits),
            ),
            (
                "/attendance",
                "nav-attendance",
                actor.allows(Action::ViewAttendance),
            ),
            (
                "/extensions",
                "nav-extensions",
                actor.allows(Action::DecideExtensions),
            ),
            (
                "/invoices",
                "nav-invoices",
                actor.role.is_staff() && actor.allows(Action::ListInvoices),
            ),
            ("/kpi", "nav-kpi", actor.allows(Action::ViewOwnKpi)),
            (
                "/journeys",
                "nav-journeys",
                actor.allows(Action::ManageJourneys),
            ),
            (
                "/settings",
                "nav-settings",
                actor.allows(Action::ManageSettings),
            ),
        ];
        let nav: Vec<NavItem> = pages
            .into_iter()
            .filter(|(_, _, allowed)| *allowed)
            .map(|(href, key, _)| NavItem {
                href,
                label: lang.text(key),
                current: href == current,
            })
            .collect();
        let title = nav
            .iter()
            .find(|n| n.current)
            .map_or_else(String::new, |n| n.label.clone());
        Self {
            lang,
            csrf: console.csrf.clone(),
            name: actor.name.clone(),
            role: lang.text(&format!("role-{}", actor.role.as_str())),
            presence,
            nav,
            title,
            current,
        }
    }

    /// The chrome of a fragment a page fetches into itself (one card of
    /// the board): it has no header, so the caller's presence is not read.
    pub fn fragment(console: &Console, current: &'static str) -> Self {
        Self::new(console, Presence::Offline, current)
    }

    /// The chrome of a record's own page: its heading (and the tab's
    /// title) names the record, not the section it belongs to.
    pub fn titled(self, title: String) -> Self {
        Self { title, ..self }
    }

    pub fn t(&self, key: &str) -> String {
        self.lang.text(key)
    }

    /// This page's path, for links that come back to it.
    pub fn nav_path(&self) -> &'static str {
        self.current
    }

    /// The page's language code, for `<html lang>`.
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// `(code, label, selected)` for the presence picker.
    pub fn presences(&self) -> Vec<(&'static str, String, bool)> {
        Presence::ALL
            .iter()
            .map(|p| {
                (
                    p.as_str(),
                    self.lang.text(&format!("presence-{}", p.as_str())),
                    *p == self.presence,
                )
            })
            .collect()
    }

    /// `(code, label, selected)` for the language picker.
    pub fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        languages(self.lang)
    }

    /// `{"X-CSRF-Token": "…"}` for `hx-headers`.
    /// What the call panel says, as `(data attribute, text)` for
    /// `calls.js`.
    pub fn call_strings(&self) -> Vec<(String, String)> {
        const KEYS: [&str; 14] = [
            "calling",
            "ringing",
            "incoming",
            "in-call",
            "connecting",
            "rtt",
            "no-media",
            "ended-declined",
            "ended-cancelled",
            "ended-missed",
            "ended-busy",
            "ended-failed",
            "ended-hangup",
            "ended-answered_elsewhere",
        ];
        KEYS.iter()
            .map(|key| (key.replace('_', "-"), self.t(&format!("call-{key}"))))
            .collect()
    }

    pub fn hx_headers(&self) -> String {
        format!(r#"{{"{}": "{}"}}"#, super::session::CSRF_HEADER, self.csrf)
    }
}

/// `(code, label, selected)` for a language picker, each language named in
/// itself.
pub fn languages(current: Lang) -> Vec<(&'static str, &'static str, bool)> {
    Lang::ALL
        .iter()
        .map(|l| {
            let label = match l {
                Lang::Id => "Bahasa Indonesia",
                Lang::English => "English",
            };
            (l.code(), label, *l == current)
        })
        .collect()
}

/// Renders a template as an HTML response with `status`.
pub fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a console template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                t!("problem-console-render-failed"),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage {
    lang: Lang,
    title: String,
    detail: String,
}

impl MessagePage {
    fn code(&self) -> &'static str {
        self.lang.code()
    }

    fn t(&self, key: &str) -> String {
        self.lang.text(key)
    }
}

/// A page that only says something: refused, not found, not for you.
pub fn message_page(lang: Lang, status: StatusCode, title: &str, detail: &str) -> Response {
    page(
        status,
        &MessagePage {
            lang,
            title: lang.text(title),
            detail: lang.text(detail),
        },
    )
}

/// Whole rupiah: `Rp1.234.567`.
pub use fieldops_sync::money::rupiah;

/// The abbreviation Indonesians use for a UTC offset: WIB, WITA, WIT.
fn zone_name(offset_minutes: i64) -> String {
    match offset_minutes {
        420 => "WIB".into(),
        480 => "WITA".into(),
        540 => "WIT".into(),
        m => format!(
            "UTC{}{:02}:{:02}",
            if m < 0 { '-' } else { '+' },
            m.abs() / 60,
            m.abs() % 60
        ),
    }
}

/// `5 Des 2026 14.30 WIB` (Indonesian) or `5 Dec 2026 14:30 WIB` (English),
/// at the sites' UTC offset.
pub fn date_time(lang: Lang, ms: i64, offset_minutes: i64) -> String {
    let Some((date, hour, minute)) = civil(ms, offset_minutes) else {
        return String::new();
    };
    let separator = if lang == Lang::Id { '.' } else { ':' };
    format!(
        "{} {hour:02}{separator}{minute:02} {}",
        crate::i18n::date_label(lang, date),
        zone_name(offset_minutes)
    )
}

/// `14.30` / `14:30` at the sites' offset.
pub fn time_of_day(lang: Lang, ms: i64, offset_minutes: i64) -> String {
    let Some((_, hour, minute)) = civil(ms, offset_minutes) else {
        return String::new();
    };
    let separator = if lang == Lang::Id { '.' } else { ':' };
    format!("{hour:02}{separator}{minute:02}")
}

/// `5 Des 2026` / `5 Dec 2026` for a `YYYY-MM-DD` date.
pub use crate::i18n::date;

fn civil(ms: i64, offset_minutes: i64) -> Option<(jiff::civil::Date, i8, i8)> {
    let offset = jiff::tz::Offset::from_seconds(i32::try_from(offset_minutes * 60).ok()?).ok()?;
    let at = jiff::Timestamp::from_millisecond(ms).ok()?;
    let dt = offset.to_datetime(at);
    Some((dt.date(), dt.hour(), dt.minute()))
}

/// "1 of 2 technicians".
pub fn seats(lang: Lang, taken: i64, quota: i64) -> String {
    lang.text_with(
        "console-seats",
        &[("taken", Arg::Number(taken)), ("quota", Arg::Number(quota))],
    )
}

/// The label of a role.
pub fn role_label(lang: Lang, role: Role) -> String {
    lang.text(&format!("role-{}", role.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_in_indonesia() {
        // 2026-12-05 07:30 UTC is 14.30 WIB.
        let ms = 1_796_455_800_000;
        assert_eq!(date_time(Lang::Id, ms, 420), "5 Des 2026 14.30 WIB");
        assert_eq!(date_time(Lang::English, ms, 420), "5 Dec 2026 14:30 WIB");
        assert_eq!(date_time(Lang::Id, ms, 480), "5 Des 2026 15.30 WITA");
        assert_eq!(date(Lang::Id, "2026-08-17"), "17 Agu 2026");
        assert_eq!(time_of_day(Lang::English, ms, 540), "16:30");
    }
}
