//! The Settings page (admins): the SLA calendar and targets, round-robin
//! switches and rating requests, each a plain form that saves through
//! [`crate::settings`] and takes effect without a restart.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::common::{PageResult, Problems, forbidden, presence, see_other};
use super::render::{Chrome, page};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::helpdesk::sla::{SlaSettings, Target, Targets};
use crate::service::{FieldError, ServiceError};
use crate::settings::{self, AssignmentSettings, Group, RatingSettings, Settings};
use crate::work::{Effects, Work};

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    chrome: Chrome,
    problems: Option<String>,
    saved: bool,
    s: Settings,
    /// (number, label, on) for Monday..Sunday.
    days: Vec<(u8, String, bool)>,
    /// (priority, label, response minutes, resolution minutes).
    /// (priority, label, response, resolution, around the clock).
    targets: Vec<(&'static str, String, u32, u32, bool)>,
    holidays: String,
}

/// The page showing `s` (what is in force, or what a refused form sent).
fn render(
    console: &Console,
    chrome: Chrome,
    s: Settings,
    problems: Option<String>,
    saved: bool,
) -> Response {
    let lang = console.lang;
    let days = (1u8..=7)
        .map(|d| {
            (
                d,
                lang.text(&format!("settings-day-{d}")),
                s.sla.working_days.contains(&d),
            )
        })
        .collect();
    let t = &s.sla.targets;
    let targets = [
        ("urgent", t.urgent),
        ("high", t.high),
        ("normal", t.normal),
        ("low", t.low),
    ]
    .into_iter()
    .map(|(p, target)| {
        (
            p,
            lang.text(&format!("priority-{p}")),
            target.response_minutes,
            target.resolution_minutes,
            target.around_the_clock,
        )
    })
    .collect();
    let holidays = s.sla.holidays.join("\n");
    page(
        if problems.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &SettingsPage {
            chrome,
            problems,
            saved,
            s,
            days,
            targets,
            holidays,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Saved {
    saved: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    console: Console,
    axum::extract::Query(q): axum::extract::Query<Saved>,
) -> PageResult {
    if !console.actor.allows(Action::ManageSettings) {
        return Err(forbidden(console.lang));
    }
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/settings");
    let shown = state.settings.get().settings.clone();
    Ok(render(&console, chrome, shown, None, q.saved.is_some()))
}

/// Every field of the three forms; each form sends its own.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SettingsForm {
    timezone: Option<String>,
    day_start: Option<String>,
    day_end: Option<String>,
    holidays: Option<String>,
    day1: Option<String>,
    day2: Option<String>,
    day3: Option<String>,
    day4: Option<String>,
    day5: Option<String>,
    day6: Option<String>,
    day7: Option<String>,
    urgent_response: Option<String>,
    urgent_resolution: Option<String>,
    high_response: Option<String>,
    high_resolution: Option<String>,
    normal_response: Option<String>,
    normal_resolution: Option<String>,
    low_response: Option<String>,
    low_resolution: Option<String>,
    urgent_always: Option<String>,
    high_always: Option<String>,
    normal_always: Option<String>,
    low_always: Option<String>,
    tickets_round_robin: Option<String>,
    chats_round_robin: Option<String>,
    after_visit: Option<String>,
    after_ticket: Option<String>,
    delay_minutes: Option<String>,
    template: Option<String>,
    template_language: Option<String>,
}

fn minutes(field: &str, value: Option<&String>, problems: &mut Vec<FieldError>) -> u32 {
    match value.map(|v| v.trim().parse::<u32>()) {
        Some(Ok(n)) => n,
        _ => {
            problems.push(FieldError::new(field, t!("problem-console-minutes-whole")));
            0
        }
    }
}

fn sla(f: &SettingsForm, problems: &mut Vec<FieldError>) -> SlaSettings {
    let on = [
        &f.day1, &f.day2, &f.day3, &f.day4, &f.day5, &f.day6, &f.day7,
    ];
    let working_days = (1u8..=7)
        .zip(on)
        .filter(|(_, v)| v.is_some())
        .map(|(d, _)| d)
        .collect();
    let mut target =
        |p: &str, r: &Option<String>, s: &Option<String>, always: &Option<String>| Target {
            around_the_clock: always.is_some(),
            response_minutes: minutes(
                &format!("targets.{p}.response_minutes"),
                r.as_ref(),
                problems,
            ),
            resolution_minutes: minutes(
                &format!("targets.{p}.resolution_minutes"),
                s.as_ref(),
                problems,
            ),
        };
    let targets = Targets {
        urgent: target(
            "urgent",
            &f.urgent_response,
            &f.urgent_resolution,
            &f.urgent_always,
        ),
        high: target("high", &f.high_response, &f.high_resolution, &f.high_always),
        normal: target(
            "normal",
            &f.normal_response,
            &f.normal_resolution,
            &f.normal_always,
        ),
        low: target("low", &f.low_response, &f.low_resolution, &f.low_always),
    };
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
    SlaSettings {
        timezone: text(&f.timezone),
        working_days,
        day_start: text(&f.day_start),
        day_end: text(&f.day_end),
        holidays: text(&f.holidays)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        targets,
    }
}

async fn save<G: Group>(state: &AppState, console: &Console, value: G) -> Result<(), ServiceError> {
    let mut work = Work::begin(state).await?;
    let applied = settings::update(work.tx(), state, &console.actor, value).await?;
    work.commit(Effects::told(applied.notices)).await?;
    settings::applied(state).await?;
    Ok(())
}

/// `POST /settings/{group}`.
pub(super) async fn update(
    State(state): State<AppState>,
    console: Console,
    Path(group): Path<String>,
    Form(f): Form<SettingsForm>,
) -> PageResult {
    let lang = console.lang;
    if !console.actor.allows(Action::ManageSettings) {
        return Err(forbidden(lang));
    }
    let mut problems = Vec::new();
    // What the page shows if the form is refused: the form's values.
    let mut shown = state.settings.get().settings.clone();
    let checked = |problems: Vec<FieldError>| {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(problems))
        }
    };
    let outcome = match group.as_str() {
        "sla" => {
            shown.sla = sla(&f, &mut problems);
            match checked(problems) {
                Ok(()) => save(&state, &console, shown.sla.clone()).await,
                Err(e) => Err(e),
            }
        }
        "assignment" => {
            shown.assignment = AssignmentSettings {
                tickets_round_robin: f.tickets_round_robin.is_some(),
                chats_round_robin: f.chats_round_robin.is_some(),
            };
            save(&state, &console, shown.assignment.clone()).await
        }
        "ratings" => {
            shown.ratings = RatingSettings {
                after_visit: f.after_visit.is_some(),
                after_ticket: f.after_ticket.is_some(),
                delay_minutes: minutes("delay_minutes", f.delay_minutes.as_ref(), &mut problems),
                template: f.template.clone().unwrap_or_default().trim().to_owned(),
                template_language: f
                    .template_language
                    .clone()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            };
            match checked(problems) {
                Ok(()) => save(&state, &console, shown.ratings.clone()).await,
                Err(e) => Err(e),
            }
        }
        _ => return Err(super::common::missing(lang)),
    };
    match outcome {
        Ok(()) => Ok(see_other("/settings?saved=1")),
        Err(e) => {
            // Every field named, with what is wrong with it.
            let said: Vec<String> = match &e {
                ServiceError::Invalid(fields) => fields
                    .iter()
                    .map(|f| format!("{}: {}.", f.field, f.message))
                    .collect(),
                _ => Vec::new(),
            };
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            let text = std::iter::once(problems.general.clone().unwrap_or_default())
                .chain(said)
                .collect::<Vec<_>>()
                .join(" ");
            let chrome = Chrome::new(&console, presence(&state, &console).await, "/settings");
            Ok(render(&console, chrome, shown, Some(text), false))
        }
    }
}
