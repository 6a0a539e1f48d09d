//! The builder's preview: the version it shows, walked as a customer
//! would, with the same evaluator as the phone and the server; the walk's
//! state travels in a hidden field.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use fieldops_sync::journey::{Answer, Form as Walker, Input, Slug, form::Screen};

use super::form::{Fields, text};
use super::{allowed, shown};
use crate::AppState;
use crate::console::common::{PageResult, internal, presence};
use crate::console::render::{Chrome, page};
use crate::console::session::Console;
use crate::journeys;

#[derive(Template)]
#[template(path = "console/journey_preview.html")]
struct PreviewPage {
    chrome: Chrome,
    id: String,
    title: String,
    state: String,
    question: Option<PreviewQuestion>,
    end: Option<(String, String, String)>,
    problem: Option<String>,
    path: Vec<String>,
    can_go_back: bool,
}

struct PreviewQuestion {
    id: String,
    prompt: String,
    help: String,
    required: bool,
    kind: &'static str,
    choices: Vec<(String, String, bool)>,
    value: String,
}

/// `GET /journeys/{id}/preview`: the first question.
pub(in crate::console) async fn preview(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
) -> PageResult {
    preview_page(state, console, id, vec![]).await
}

/// `POST /journeys/{id}/preview`: one move (answer, skip, back).
pub(in crate::console) async fn preview_step(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    preview_page(state, console, id, pairs).await
}

/// Walks the version the builder shows as a customer would, with the same
/// evaluator.
async fn preview_page(
    state: AppState,
    console: Console,
    id: String,
    pairs: Vec<(String, String)>,
) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    let lang = console.lang;
    let detail = journeys::detail(&state, &console.actor, &id)
        .await
        .map_err(|_| crate::console::common::missing(lang))?;
    let version = shown(&detail).ok_or_else(|| crate::console::common::missing(lang))?;
    let def = journeys::definition_of(version).map_err(|e| internal(lang, &e))?;
    let f: Fields = pairs.iter().cloned().collect();
    let mut walker: Walker = serde_json::from_str(&text(&f, "state")).unwrap_or_default();
    let mut problem = None;
    let step = text(&f, "move");
    if step == "back" {
        if let Err(e) = walker.back(&def) {
            problem = Some(e.to_string());
        }
    } else if let Ok(question) = text(&f, "question").parse::<Slug>() {
        let result = match step.as_str() {
            "skip" => walker.skip(&def, &question),
            _ => {
                let answer = match def.question(&question).map(|q| &q.input) {
                    Some(Input::Single { .. }) => {
                        text(&f, "choice").parse().map(Answer::Choice).ok()
                    }
                    Some(Input::Multi { .. }) => Some(Answer::Choices(
                        pairs
                            .iter()
                            .filter(|(k, _)| k == "choices")
                            .filter_map(|(_, v)| v.parse().ok())
                            .collect(),
                    )),
                    Some(Input::Text { .. }) => Some(Answer::Text(text(&f, "text"))),
                    Some(Input::Number { .. }) => text(&f, "number")
                        .replace(',', ".")
                        .parse()
                        .ok()
                        .map(Answer::Number),
                    Some(Input::Date { .. }) => text(&f, "date").parse().ok().map(Answer::Date),
                    // Photos are pretended: as many as asked for, no bytes.
                    Some(Input::Image { .. }) => Some(Answer::Images(
                        (0..text(&f, "photos").parse::<u8>().unwrap_or(0))
                            .map(|n| {
                                format!("{n:064x}")
                                    .parse()
                                    .unwrap_or_else(|_| unreachable!())
                            })
                            .collect(),
                    )),
                    None => None,
                };
                match answer {
                    Some(answer) => walker.answer(&def, &question, answer),
                    None => Err(fieldops_sync::journey::FormError::NotCurrent(
                        question.to_string(),
                    )),
                }
            }
        };
        if let Err(e) = result {
            problem = Some(e.to_string());
        }
    }
    let walk = walker.walk(&def);
    let screen = walker.screen(&def);
    let code = lang.code();
    let (question, end) = match screen {
        Screen::Question(q) => {
            let given = walker.answers.get(&q.id);
            let value = match given {
                Some(Answer::Text(t)) => t.clone(),
                Some(Answer::Number(n)) => n.to_string(),
                Some(Answer::Date(d)) => d.to_string(),
                Some(Answer::Images(i)) => i.len().to_string(),
                _ => String::new(),
            };
            let chosen = |c: &Slug| match given {
                Some(Answer::Choice(x)) => x == c,
                Some(Answer::Choices(xs)) => xs.contains(c),
                _ => false,
            };
            (
                Some(PreviewQuestion {
                    id: q.id.to_string(),
                    prompt: q.prompt.get(code).to_owned(),
                    help: q
                        .help
                        .as_ref()
                        .map(|h| h.get(code).to_owned())
                        .unwrap_or_default(),
                    required: q.required,
                    kind: q.input.kind(),
                    choices: q
                        .input
                        .choices()
                        .iter()
                        .map(|c| {
                            (
                                c.id.to_string(),
                                c.label.get(code).to_owned(),
                                chosen(&c.id),
                            )
                        })
                        .collect(),
                    value,
                }),
                None,
            )
        }
        Screen::End(end) => (
            None,
            Some((
                end.message.get(code).to_owned(),
                end.outcome.category.clone(),
                lang.text(&format!("priority-{}", end.outcome.priority.as_str())),
            )),
        ),
        Screen::DeadEnd => (None, None),
    };
    let at = match screen {
        Screen::Question(q) => walk.path.iter().position(|p| p.id == q.id),
        _ => Some(walk.path.len()),
    };
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/journeys");
    Ok(page(
        if problem.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &PreviewPage {
            chrome,
            id,
            title: def.title.get(code).to_owned(),
            state: serde_json::to_string(&walker).unwrap_or_default(),
            question,
            end,
            problem,
            path: walk
                .path
                .iter()
                .map(|q| q.prompt.get(code).to_owned())
                .collect(),
            can_go_back: at.is_some_and(|at| at > 0),
        },
    ))
}
