//! The journey builder (admins): the list of journeys, a page per journey
//! where each question and end is a form of its own (prompt and help in
//! both languages, the kind and its limits, choices, rules with a condition
//! editor, where to go next; an end's message and the ticket it opens),
//! nodes added, moved and removed, the publish check's problems shown at
//! the node they concern, publish and retire, and a preview that walks the
//! form as a customer would. Every change saves the draft through
//! [`crate::journeys`]; the definition edits are [`crate::journeys::builder`]'s.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use fieldops_sync::journey::{
    Condition, Definition, Input, Localized, Node, Priority, Question, Slug, Test,
};

use super::common::{PageResult, Problems, forbidden, internal, presence, see_other};
use super::render::{Chrome, page};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::departments;
use crate::journeys::{self, JourneyDetail, builder};
use crate::service::{FieldError, ServiceError};
use crate::work::{Effects, Work};

/// Comparisons a rule may hold in the editor.
mod form;
mod preview;

use form::{COMPARISONS, fields, localized, parse_end, parse_question, text};
pub(super) use preview::{preview, preview_step};

fn allowed(console: &Console) -> Result<(), Box<Response>> {
    if console.actor.allows(Action::ManageJourneys) {
        Ok(())
    } else {
        Err(Box::new(forbidden(console.lang)))
    }
}

// ---- the list ----------------------------------------------------------

struct Row {
    id: String,
    title: String,
    published: String,
    draft: String,
}

#[derive(Template)]
#[template(path = "console/journeys.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    problems: Option<String>,
}

/// `GET /journeys`.
pub(super) async fn list(State(state): State<AppState>, console: Console) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    render_list(&state, &console, None).await
}

async fn render_list(state: &AppState, console: &Console, problems: Option<String>) -> PageResult {
    let lang = console.lang;
    let rows = journeys::list(state, &console.actor)
        .await
        .map_err(|e| internal(lang, &e))?
        .into_iter()
        .map(|r| Row {
            title: if lang == crate::i18n::Lang::English {
                r.title_en
            } else {
                r.title_id
            },
            id: r.id,
            published: r
                .published
                .map_or_else(|| "—".to_owned(), |v| format!("v{v}")),
            draft: r.draft.map_or_else(|| "—".to_owned(), |v| format!("v{v}")),
        })
        .collect();
    let chrome = Chrome::new(console, presence(state, console).await, "/journeys");
    let status = if problems.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(page(
        status,
        &ListPage {
            chrome,
            rows,
            problems,
        },
    ))
}

/// `POST /journeys`: a new journey from its title, with a first draft
/// that already publishes.
pub(super) async fn create(
    State(state): State<AppState>,
    console: Console,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    let f = fields(f);
    let title = Localized::new(text(&f, "title_id"), text(&f, "title_en"));
    let definition = builder::skeleton(title);
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let applied = journeys::create(work.tx(), &console.actor, &definition).await?;
        work.commit(Effects::told(applied.notices)).await?;
        Ok::<_, ServiceError>(applied.value.journey_id)
    }
    .await;
    match outcome {
        Ok(id) => Ok(see_other(&format!("/journeys/{id}"))),
        Err(e) => {
            let problems = Problems::from_service(console.lang, e).map_err(|r| *r)?;
            render_list(&state, &console, problems.general_with_fields()).await
        }
    }
}

// ---- the builder -------------------------------------------------------

struct Opt {
    value: String,
    label: String,
    selected: bool,
}

fn opt(value: impl Into<String>, label: impl Into<String>, selected: bool) -> Opt {
    Opt {
        value: value.into(),
        label: label.into(),
        selected,
    }
}

struct ChoiceRow {
    i: usize,
    id: String,
    label_id: String,
    label_en: String,
}

struct CompRow {
    c: usize,
    questions: Vec<Opt>,
    ops: Vec<Opt>,
    value: String,
}

struct RuleRow {
    r: usize,
    /// Made over the API in a shape the editor cannot show (nesting, `not`):
    /// kept as it is.
    kept: Option<String>,
    any: bool,
    comps: Vec<CompRow>,
    gotos: Vec<Opt>,
}

struct NodeCard {
    id: String,
    question: bool,
    first: bool,
    last: bool,
    errors: Vec<String>,
    prompt_id: String,
    prompt_en: String,
    help_id: String,
    help_en: String,
    required: bool,
    kinds: Vec<Opt>,
    kind: &'static str,
    choices: Vec<ChoiceRow>,
    max_chars: String,
    multiline: bool,
    min: String,
    max: String,
    integer: bool,
    earliest: String,
    latest: String,
    max_count: String,
    max_mb: String,
    nexts: Vec<Opt>,
    rules: Vec<RuleRow>,
    message_id: String,
    message_en: String,
    categories: Vec<Opt>,
    priorities: Vec<Opt>,
    departments: Vec<Opt>,
    propose_visit: bool,
}

#[derive(Template)]
#[template(path = "console/journey.html")]
struct BuilderPage {
    chrome: Chrome,
    id: String,
    title_id: String,
    title_en: String,
    version: i64,
    status: String,
    editable: bool,
    published: Option<i64>,
    notice: Option<String>,
    problems: Option<String>,
    general: Vec<String>,
    nodes: Vec<NodeCard>,
}

/// The version the builder shows: the draft, else the published one, else
/// the newest.
fn shown(detail: &JourneyDetail) -> Option<&crate::db::journeys::VersionRow> {
    detail
        .draft()
        .or_else(|| detail.published())
        .or_else(|| detail.versions.first())
}

fn op_of(test: &Test) -> (&'static str, String) {
    match test {
        Test::Answered => ("answered", String::new()),
        Test::Unanswered => ("unanswered", String::new()),
        Test::Is { choice } => ("is", choice.to_string()),
        Test::IsOneOf { choices } => (
            "is_one_of",
            choices
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Test::Includes { choice } => ("includes", choice.to_string()),
        Test::Compare { cmp, value } => (cmp.as_str(), value.to_string()),
        Test::Before { date } => ("before", date.to_string()),
        Test::After { date } => ("after", date.to_string()),
        Test::Contains { text } => ("contains", text.clone()),
        Test::AtLeast { count } => ("at_least", count.to_string()),
    }
}

const OPS: &[&str] = &[
    "answered",
    "unanswered",
    "is",
    "is_one_of",
    "includes",
    "at_least",
    "lt",
    "le",
    "eq",
    "ge",
    "gt",
    "before",
    "after",
    "contains",
];

/// The comparisons of a rule the editor can show: one, or an `all`/`any`
/// of comparisons.
fn comparisons(condition: &Condition) -> Option<(bool, Vec<(&Slug, &Test)>)> {
    fn one(c: &Condition) -> Option<(&Slug, &Test)> {
        match c {
            Condition::Answer { question, test } => Some((question, test)),
            _ => None,
        }
    }
    match condition {
        Condition::Answer { question, test } => Some((false, vec![(question, test)])),
        Condition::All(members) | Condition::Any(members) if members.len() <= COMPARISONS => {
            let comps = members.iter().map(one).collect::<Option<Vec<_>>>()?;
            Some((matches!(condition, Condition::Any(_)), comps))
        }
        _ => None,
    }
}

fn card(
    console: &Console,
    state: &AppState,
    def: &Definition,
    index: usize,
    departments: &[(String, String)],
    errors: Vec<String>,
) -> NodeCard {
    let lang = console.lang;
    let node = &def.nodes[index];
    let later: Vec<&Node> = def.nodes[index + 1..].iter().collect();
    let earlier_questions: Vec<&Question> = def.nodes[..=index]
        .iter()
        .filter_map(|n| match n {
            Node::Question(q) => Some(q),
            Node::End(_) => None,
        })
        .collect();
    let node_label = |n: &Node| match n {
        Node::Question(q) => format!("{} — {}", q.id, q.prompt.get(lang.code())),
        Node::End(e) => format!("{} — {}", e.id, lang.text("journey-end")),
    };
    let mut card = NodeCard {
        id: node.id().to_string(),
        question: matches!(node, Node::Question(_)),
        first: index == 0,
        last: index + 1 == def.nodes.len(),
        errors,
        prompt_id: String::new(),
        prompt_en: String::new(),
        help_id: String::new(),
        help_en: String::new(),
        required: false,
        kinds: vec![],
        kind: "",
        choices: vec![],
        max_chars: String::new(),
        multiline: false,
        min: String::new(),
        max: String::new(),
        integer: false,
        earliest: String::new(),
        latest: String::new(),
        max_count: String::new(),
        max_mb: String::new(),
        nexts: vec![],
        rules: vec![],
        message_id: String::new(),
        message_en: String::new(),
        categories: vec![],
        priorities: vec![],
        departments: vec![],
        propose_visit: false,
    };
    match node {
        Node::Question(q) => {
            card.prompt_id.clone_from(&q.prompt.id);
            card.prompt_en.clone_from(&q.prompt.en);
            if let Some(help) = &q.help {
                card.help_id.clone_from(&help.id);
                card.help_en.clone_from(&help.en);
            }
            card.required = q.required;
            card.kind = q.input.kind();
            card.kinds = ["single", "multi", "text", "number", "date", "image"]
                .iter()
                .map(|k| opt(*k, lang.text(&format!("journey-kind-{k}")), *k == card.kind))
                .collect();
            let existing = q.input.choices();
            card.choices = existing
                .iter()
                .map(|c| (c.id.to_string(), c.label.id.clone(), c.label.en.clone()))
                .chain(std::iter::repeat_n(
                    (String::new(), String::new(), String::new()),
                    2,
                ))
                .enumerate()
                .map(|(i, (id, label_id, label_en))| ChoiceRow {
                    i,
                    id,
                    label_id,
                    label_en,
                })
                .collect();
            let show = |v: Option<String>| v.unwrap_or_default();
            match &q.input {
                Input::Single { .. } => {}
                Input::Multi { min, max, .. } => {
                    card.min = show(min.map(|v| v.to_string()));
                    card.max = show(max.map(|v| v.to_string()));
                }
                Input::Text {
                    max_chars,
                    multiline,
                } => {
                    card.max_chars = max_chars.to_string();
                    card.multiline = *multiline;
                }
                Input::Number { min, max, integer } => {
                    card.min = show(min.map(|v| v.to_string()));
                    card.max = show(max.map(|v| v.to_string()));
                    card.integer = *integer;
                }
                Input::Date { earliest, latest } => {
                    card.earliest = show(earliest.map(|d| d.to_string()));
                    card.latest = show(latest.map(|d| d.to_string()));
                }
                Input::Image {
                    max_count,
                    max_bytes,
                } => {
                    card.max_count = max_count.to_string();
                    card.max_mb = (max_bytes / (1024 * 1024)).max(1).to_string();
                }
            }
            card.nexts = std::iter::once(opt(
                "",
                lang.text("journey-next-following"),
                q.next.is_none(),
            ))
            .chain(later.iter().map(|n| {
                opt(
                    n.id().to_string(),
                    node_label(n),
                    q.next.as_ref() == Some(n.id()),
                )
            }))
            .collect();
            let question_opts =
                |chosen: Option<&Slug>| -> Vec<Opt> {
                    std::iter::once(opt("", "—", chosen.is_none()))
                        .chain(earlier_questions.iter().map(|e| {
                            opt(e.id.to_string(), e.id.to_string(), chosen == Some(&e.id))
                        }))
                        .collect()
                };
            let op_opts = |chosen: &str| -> Vec<Opt> {
                OPS.iter()
                    .map(|o| opt(*o, lang.text(&format!("journey-op-{o}")), *o == chosen))
                    .collect()
            };
            let goto_opts = |chosen: Option<&Slug>| -> Vec<Opt> {
                later
                    .iter()
                    .map(|n| opt(n.id().to_string(), node_label(n), chosen == Some(n.id())))
                    .collect()
            };
            card.rules = q
                .rules
                .iter()
                .map(Some)
                .chain(std::iter::once(None))
                .enumerate()
                .map(|(r, rule)| {
                    let shape = rule.and_then(|rule| comparisons(&rule.when));
                    let kept = match (rule, &shape) {
                        (Some(rule), None) => {
                            Some(serde_json::to_string(&rule.when).unwrap_or_default())
                        }
                        _ => None,
                    };
                    let (any, list) = shape.unwrap_or((false, vec![]));
                    RuleRow {
                        r,
                        kept,
                        any,
                        comps: (0..COMPARISONS)
                            .map(|c| {
                                let (question, op, value) = match list.get(c) {
                                    Some((question, test)) => {
                                        let (op, value) = op_of(test);
                                        (Some(*question), op, value)
                                    }
                                    None => (None, "is", String::new()),
                                };
                                CompRow {
                                    c,
                                    questions: question_opts(question),
                                    ops: op_opts(op),
                                    value,
                                }
                            })
                            .collect(),
                        gotos: goto_opts(rule.map(|rule| &rule.goto)),
                    }
                })
                .collect();
        }
        Node::End(end) => {
            card.message_id.clone_from(&end.message.id);
            card.message_en.clone_from(&end.message.en);
            card.categories = state
                .config
                .ticket_categories
                .iter()
                .map(|c| opt(c.clone(), c.clone(), *c == end.outcome.category))
                .collect();
            card.priorities = Priority::ALL
                .iter()
                .map(|p| {
                    opt(
                        p.as_str(),
                        lang.text(&format!("priority-{}", p.as_str())),
                        *p == end.outcome.priority,
                    )
                })
                .collect();
            card.departments = std::iter::once(opt(
                "",
                lang.text("journey-department-default"),
                end.outcome.department_id.is_none(),
            ))
            .chain(departments.iter().map(|(id, name)| {
                opt(
                    id.clone(),
                    name.clone(),
                    end.outcome.department_id.as_deref() == Some(id.as_str()),
                )
            }))
            .collect();
            card.propose_visit = end.outcome.propose_visit;
        }
    }
    card
}

/// The builder page, with the problems of `extra` (a refused form or
/// publish) at their nodes, and the publish check's own.
async fn render(
    state: &AppState,
    console: &Console,
    id: &str,
    shown_definition: Option<Definition>,
    extra: Vec<FieldError>,
    notice: Option<String>,
) -> PageResult {
    let lang = console.lang;
    let detail = journeys::detail(state, &console.actor, id)
        .await
        .map_err(|e| match e {
            ServiceError::Rejected(_) => super::common::missing(lang),
            other => internal(lang, &other),
        })?;
    let Some(version) = shown(&detail) else {
        return Err(super::common::missing(lang));
    };
    let definition = match shown_definition {
        Some(d) => d,
        None => journeys::definition_of(version).map_err(|e| internal(lang, &e))?,
    };
    let editable = version.status == "draft";
    // A refused form or publish answers 422; the page alone, 200.
    let refused = !extra.is_empty();
    // What publishing would say now, at each node.
    let mut problems: Vec<FieldError> = extra;
    if editable {
        let checked = journeys::check(state, &console.actor, &definition).await;
        if let Err(ServiceError::Invalid(found)) = checked {
            for f in found {
                if !problems.iter().any(|p| p.field == f.field) {
                    problems.push(f);
                }
            }
        }
    }
    let departments: Vec<(String, String)> = departments::list(&state.db)
        .await
        .map_err(|e| internal(lang, &e))?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let at = |node: &str| -> Vec<String> {
        let prefix = format!("nodes.{node}.");
        problems
            .iter()
            .filter(|p| p.field.starts_with(&prefix))
            .map(|p| format!("{}: {}", &p.field[prefix.len()..], p.message))
            .collect()
    };
    let nodes = (0..definition.nodes.len())
        .map(|i| {
            let errors = at(definition.nodes[i].id().as_str());
            card(console, state, &definition, i, &departments, errors)
        })
        .collect();
    let general = problems
        .iter()
        .filter(|p| !p.field.starts_with("nodes."))
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    let chrome = Chrome::new(console, presence(state, console).await, "/journeys");
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(page(
        status,
        &BuilderPage {
            chrome,
            id: id.to_owned(),
            title_id: definition.title.id.clone(),
            title_en: definition.title.en.clone(),
            version: version.version,
            status: version.status.clone(),
            editable,
            published: detail.published().map(|v| v.version),
            problems: (!problems.is_empty()).then(|| lang.text("journey-not-ready")),
            notice,
            general,
            nodes,
        },
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ShowQuery {
    published: Option<String>,
}

/// `GET /journeys/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ShowQuery>,
) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    let notice = q.published.map(|v| {
        console.lang.text_with(
            "journey-published",
            &[("version", crate::i18n::Arg::Text(&v))],
        )
    });
    render(&state, &console, &id, None, vec![], notice).await
}

/// The draft being edited.
async fn draft(state: &AppState, console: &Console, id: &str) -> Result<Definition, Response> {
    let lang = console.lang;
    let detail = journeys::detail(state, &console.actor, id)
        .await
        .map_err(|_| super::common::missing(lang))?;
    let Some(draft) = detail.draft() else {
        return Err(see_other(&format!("/journeys/{id}")));
    };
    journeys::definition_of(draft).map_err(|e| internal(lang, &e))
}

async fn save(
    state: &AppState,
    console: &Console,
    id: &str,
    def: &Definition,
) -> Result<(), ServiceError> {
    let mut work = Work::begin(state).await?;
    let applied = journeys::save_draft(work.tx(), state, &console.actor, id, def).await?;
    work.commit(Effects::told(applied.notices)).await?;
    Ok(())
}

async fn saved(
    state: &AppState,
    console: &Console,
    id: &str,
    def: Definition,
    anchor: &str,
) -> PageResult {
    match save(state, console, id, &def).await {
        Ok(()) => Ok(see_other(&format!("/journeys/{id}#node-{anchor}"))),
        Err(ServiceError::Invalid(found)) => {
            render(state, console, id, Some(def), found, None).await
        }
        Err(e) => Err(internal(console.lang, &e)),
    }
}

/// `POST /journeys/{id}/nodes/{node}`: saves one node's form.
pub(super) async fn save_node(
    State(state): State<AppState>,
    console: Console,
    Path((id, node)): Path<(String, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    let f = fields(f);
    let mut def = draft(&state, &console, &id).await?;
    let Some((_, old)) = node
        .parse::<Slug>()
        .ok()
        .and_then(|n| def.node(&n).map(|(i, o)| (i, o.clone())))
    else {
        return Err(super::common::missing(console.lang));
    };
    let mut problems = Vec::new();
    let parsed = match &old {
        Node::Question(q) => parse_question(q, &f, &mut problems).map(Node::Question),
        Node::End(_) => parse_end(&f, &mut problems).map(Node::End),
    };
    match parsed {
        Some(new) if problems.is_empty() => {
            let anchor = new.id().to_string();
            builder::replace(&mut def, old.id(), new);
            saved(&state, &console, &id, def, &anchor).await
        }
        _ => {
            let at: Vec<FieldError> = problems
                .into_iter()
                .map(|p| FieldError::new(&format!("nodes.{node}.{}", p.field), p.message))
                .collect();
            render(&state, &console, &id, Some(def), at, None).await
        }
    }
}

/// `POST /journeys/{id}/nodes/{node}/{action}`: up, down or delete.
pub(super) async fn node_action(
    State(state): State<AppState>,
    console: Console,
    Path((id, node, action)): Path<(String, String, String)>,
) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    let mut def = draft(&state, &console, &id).await?;
    let Ok(node) = node.parse::<Slug>() else {
        return Err(super::common::missing(console.lang));
    };
    match action.as_str() {
        "up" => builder::shift(&mut def, &node, -1),
        "down" => builder::shift(&mut def, &node, 1),
        "delete" => builder::remove(&mut def, &node),
        _ => return Err(super::common::missing(console.lang)),
    }
    saved(&state, &console, &id, def, node.as_str()).await
}

/// `POST /journeys/{id}/add`: a question or an end after a node.
pub(super) async fn add_node(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    let f = fields(f);
    let mut def = draft(&state, &console, &id).await?;
    let after = text(&f, "after").parse::<Slug>().ok();
    let kind = if text(&f, "kind") == "end" {
        builder::NewNode::End
    } else {
        builder::NewNode::Question
    };
    let added = builder::add(&mut def, kind, after.as_ref());
    saved(&state, &console, &id, def, added.as_str()).await
}

/// `POST /journeys/{id}/title`.
pub(super) async fn save_title(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    let f = fields(f);
    let mut def = draft(&state, &console, &id).await?;
    def.title = localized(&f, "title");
    saved(&state, &console, &id, def, "title").await
}

/// `POST /journeys/{id}/{action}`: publish, retire, or edit (start the
/// next version from the one shown).
pub(super) async fn act(
    State(state): State<AppState>,
    console: Console,
    Path((id, action)): Path<(String, String)>,
) -> PageResult {
    allowed(&console).map_err(|r| *r)?;
    let lang = console.lang;
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let notices = match action.as_str() {
            "publish" => {
                let applied = journeys::publish(work.tx(), &state, &console.actor, &id).await?;
                let version = applied.value.version.version;
                work.commit(Effects::told(applied.notices).with_changed(applied.value.synced))
                    .await?;
                return Ok(Some(version));
            }
            "retire" => {
                let applied = journeys::retire(work.tx(), &state, &console.actor, &id).await?;
                work.commit(Effects::told(applied.notices).with_changed(applied.value.synced))
                    .await?;
                return Ok(None);
            }
            "edit" => {
                let detail = journeys::detail(&state, &console.actor, &id).await?;
                let from = shown(&detail).ok_or_else(|| ServiceError::not_found("journey"))?;
                let def = journeys::definition_of(from)?;
                journeys::save_draft(work.tx(), &state, &console.actor, &id, &def)
                    .await?
                    .notices
            }
            _ => return Err(ServiceError::not_found("action")),
        };
        work.commit(Effects::told(notices)).await?;
        Ok(None)
    }
    .await;
    match outcome {
        Ok(Some(version)) => Ok(see_other(&format!("/journeys/{id}?published={version}"))),
        Ok(None) => Ok(see_other(&format!("/journeys/{id}"))),
        Err(ServiceError::Invalid(found)) => render(&state, &console, &id, None, found, None).await,
        Err(e) => {
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            render(&state, &console, &id, None, vec![], problems.general).await
        }
    }
}
