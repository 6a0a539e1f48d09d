//! The help desk in the console: the ticket list (search, seed 002's
//! filters, cursor paging, SLA timers coloured as seed 004 asks) and the
//! ticket page (public thread, internal notes, status moves, assignment,
//! "take it"). Changes go through `helpdesk::tickets`, like the API's.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::common::{PageResult, Problems, forbidden, internal, presence, see_other};
use super::render::{Chrome, date_time, page};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::tickets::{self as ticket_db, TicketRow};
use crate::db::users::{self, UserFilter};
use crate::db::{departments, now_ms, ticket_queries};
use crate::domain::{Priority, Role, Status, TicketStatus};
use crate::helpdesk::tickets as service;
use crate::i18n::{Arg, Lang};
use crate::service::ServiceError;
use crate::work::{Effects, Work};

/// How much of an SLA clock is left, as seed 004 colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Urgency {
    /// More than half the time left.
    Green,
    /// 20–50 % left.
    Yellow,
    /// Under 20 % left, or breached.
    Red,
    /// No clock runs (answered and resolved, closed, or waiting on the customer).
    None,
}

impl Urgency {
    fn class(self) -> &'static str {
        match self {
            Urgency::Green => "sla-green",
            Urgency::Yellow => "sla-yellow",
            Urgency::Red => "sla-red",
            Urgency::None => "sla-none",
        }
    }
}

/// The clock that matters now: the first response while unanswered, then
/// resolution; its colour and a label ("2 h 15 m left", "late by 30 m").
pub(super) fn sla_clock(lang: Lang, t: &TicketRow, now: i64) -> (Urgency, String) {
    if matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed)
        || t.waiting_since.is_some()
    {
        let key = if t.waiting_since.is_some() {
            "sla-paused"
        } else {
            "sla-stopped"
        };
        return (Urgency::None, lang.text(key));
    }
    let (due, breached) = if t.first_response_at.is_none() && t.response_due_at.is_some() {
        (t.response_due_at, t.response_breached_at)
    } else {
        (t.resolution_due_at, t.resolution_breached_at)
    };
    let Some(due) = due else {
        return (Urgency::None, String::new());
    };
    let left = due - now;
    if breached.is_some() || left <= 0 {
        return (
            Urgency::Red,
            lang.text_with("sla-late", &[("time", Arg::Text(&span(lang, -left)))]),
        );
    }
    let total = (due - t.created_at).max(1);
    let share = left as f64 / total as f64;
    let urgency = if share > 0.5 {
        Urgency::Green
    } else if share >= 0.2 {
        Urgency::Yellow
    } else {
        Urgency::Red
    };
    (
        urgency,
        lang.text_with("sla-left", &[("time", Arg::Text(&span(lang, left)))]),
    )
}

/// `2 j 15 m` / `2 h 15 m`; days past 48 hours.
fn span(lang: Lang, ms: i64) -> String {
    let minutes = (ms / 60_000).max(0);
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let (dl, hl) = if lang == Lang::Id {
        ("h", "j")
    } else {
        ("d", "h")
    };
    if d >= 2 {
        format!("{d} {dl} {h} {hl}")
    } else if minutes >= 60 {
        format!("{} {hl} {m} m", minutes / 60)
    } else {
        format!("{m} m")
    }
}

struct Line {
    id: String,
    number: String,
    subject: String,
    customer: String,
    priority_key: &'static str,
    priority: String,
    status: String,
    assignee: String,
    sla_class: &'static str,
    sla: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    assigned: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    department: String,
    /// `YYYY-MM-DD`: opened that day (the SLA calendar's time zone).
    #[serde(default)]
    date: String,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "console/tickets.html")]
struct ListPage {
    chrome: Chrome,
    params: ListParams,
    stats: ticket_queries::ListStats,
    lines: Vec<Line>,
    next: Option<String>,
    statuses: Vec<(&'static str, String)>,
    priorities: Vec<(&'static str, String)>,
    categories: Vec<String>,
    /// Departments the caller may filter by: (id, name).
    departments: Vec<(String, String)>,
    /// Agents of those departments: (id, name).
    agents: Vec<(String, String)>,
}

fn status_label(lang: Lang, s: TicketStatus) -> String {
    lang.text(&format!("ticket-status-{}", s.as_str()))
}

fn priority_label(lang: Lang, p: Priority) -> String {
    lang.text(&format!("priority-{}", p.as_str()))
}

fn line(lang: Lang, t: TicketRow, now: i64) -> Line {
    let (urgency, sla) = sla_clock(lang, &t, now);
    Line {
        priority_key: t.priority.as_str(),
        priority: priority_label(lang, t.priority),
        status: status_label(lang, t.status),
        assignee: t.assignee_name.clone().unwrap_or_default(),
        sla_class: urgency.class(),
        sla,
        id: t.id,
        number: t.number,
        subject: t.subject,
        customer: t.customer_name,
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(params): Query<ListParams>,
) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    if !actor.allows(Action::ListTickets) {
        return Err(forbidden(lang));
    }
    let search = params.q.trim();
    let filter = ticket_queries::TicketFilter {
        search: Some(search.chars().take(100).collect::<String>()).filter(|s| !s.is_empty()),
        status: params.status.parse().ok(),
        priority: params.priority.parse().ok(),
        assignee: match params.assigned.as_str() {
            "" => None,
            "me" => Some(Some(actor.user_id.clone())),
            "unassigned" => Some(None),
            agent => Some(Some(agent.to_owned())),
        },
        category: Some(params.category.clone()).filter(|c| !c.is_empty()),
        department_id: Some(params.department.clone()).filter(|d| !d.is_empty()),
        created: params
            .date
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| state.calendar().day_bounds(d)),
        ..ticket_queries::TicketFilter::default()
    };
    let departments: Vec<(String, String)> = departments::list(&state.db)
        .await
        .map_err(|e| internal(lang, &e))?
        .into_iter()
        .filter(|d| actor.role == Role::Admin || actor.in_department(&d.id))
        .map(|d| (d.id, d.name))
        .collect();
    let agents = helpdesk_agents(&state, &departments)
        .await
        .map_err(|e| internal(lang, &e))?;
    let after = params
        .cursor
        .as_deref()
        .filter(|c| uuid::Uuid::parse_str(c).is_ok());
    let limit = 50;
    let (rows, stats) =
        ticket_queries::page(&state.db, &actor.ticket_scope(), &filter, after, limit)
            .await
            .map_err(|e| internal(lang, &e))?;
    let now = now_ms();
    let more = rows.len() > limit as usize;
    let lines: Vec<Line> = rows
        .into_iter()
        .take(limit as usize)
        .map(|t| line(lang, t, now))
        .collect();
    let next = more.then(|| {
        let last = lines.last().map(|l| l.id.as_str()).unwrap_or_default();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &params.q)
            .append_pair("status", &params.status)
            .append_pair("priority", &params.priority)
            .append_pair("assigned", &params.assigned)
            .append_pair("category", &params.category)
            .append_pair("department", &params.department)
            .append_pair("date", &params.date)
            .append_pair("cursor", last)
            .finish();
        format!("/tickets?{query}")
    });
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/tickets");
    Ok(page(
        StatusCode::OK,
        &ListPage {
            chrome,
            params,
            stats,
            lines,
            next,
            statuses: TicketStatus::ALL
                .iter()
                .map(|s| (s.as_str(), status_label(lang, *s)))
                .collect(),
            priorities: Priority::ALL
                .iter()
                .map(|p| (p.as_str(), priority_label(lang, *p)))
                .collect(),
            categories: state.config.ticket_categories.clone(),
            departments,
            agents,
        },
    ))
}

/// Active CS and admins of `departments`, by name: who tickets may be
/// assigned to there.
async fn helpdesk_agents(
    state: &AppState,
    departments: &[(String, String)],
) -> sqlx::Result<Vec<(String, String)>> {
    let mut agents: Vec<(String, String)> = Vec::new();
    for (department_id, _) in departments {
        let filter = UserFilter {
            status: Some(Status::Active),
            department_id: Some(department_id.clone()),
            ..UserFilter::default()
        };
        for u in users::list(&state.db, &filter, None, 200).await? {
            if matches!(u.role, Role::Cs | Role::Admin) && !agents.iter().any(|(id, _)| *id == u.id)
            {
                agents.push((u.id, u.name));
            }
        }
    }
    agents.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(agents)
}

struct Message {
    author: String,
    body: String,
    at: String,
    internal: bool,
    from_customer: bool,
}

/// The journey a ticket was opened with: its title, whether it proposes a
/// visit, and (question, answer, photos received of sent).
struct JourneyAnswers {
    title: String,
    propose_visit: bool,
    rows: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "console/ticket.html")]
struct TicketPage {
    chrome: Chrome,
    id: String,
    number: String,
    description: String,
    customer: String,
    category: String,
    priority: String,
    status_key: &'static str,
    status: String,
    assignee: String,
    created: String,
    sla_class: &'static str,
    sla: String,
    messages: Vec<Message>,
    moves: Vec<(&'static str, String)>,
    agents: Vec<(String, String, bool)>,
    /// The visits serving this ticket: (title, when, status).
    visits: Vec<(String, String, String)>,
    journey: Option<JourneyAnswers>,
    customer_id: String,
    /// May place a call (the server checks the rest when it is placed).
    can_call: bool,
    calls: Vec<super::calls::LogLine>,
    can_reply: bool,
    can_note: bool,
    can_assign: bool,
    can_take: bool,
    /// Images on the ticket, and whether the viewer may add one (and how).
    attachments: Vec<super::ticket_record::Attachment>,
    can_attach: bool,
    attach_hint: String,
    /// Every change, for staff.
    history: Vec<super::ticket_record::HistoryLine>,
    problem: Option<String>,
}

pub(super) async fn ticket_page(
    state: &AppState,
    console: &Console,
    id: &str,
    status: StatusCode,
    problem: Option<String>,
) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    let fail = |e: sqlx::Error| internal(lang, &e);
    let not_found = || {
        super::render::message_page(
            lang,
            StatusCode::NOT_FOUND,
            "console-not-found-title",
            "console-not-found-detail",
        )
    };
    let t = ticket_db::get(state.db.pool(), id)
        .await
        .map_err(fail)?
        .ok_or_else(not_found)?;
    let (department_id, customer_id) = (t.department_id.as_str(), t.customer_id.as_str());
    if !actor.allows(Action::ViewTicket {
        department_id,
        customer_id,
    }) {
        return Err(not_found());
    }
    let staff_view = actor.allows(Action::ViewTicketInternals);
    let offset = state.config.attendance.utc_offset_minutes;
    let rows = ticket_db::messages(state.db.pool(), &t.id, staff_view)
        .await
        .map_err(fail)?;
    let mut names: Vec<(String, String)> = Vec::new();
    for author in rows.iter().filter_map(|m| m.author_id.as_deref()) {
        if !names.iter().any(|(id, _)| id == author)
            && let Some(user) = users::get(state.db.pool(), author).await.map_err(fail)?
        {
            names.push((user.id, user.name));
        }
    }
    let messages = rows
        .into_iter()
        .map(|m| Message {
            author: m
                .author_id
                .as_deref()
                .and_then(|a| names.iter().find(|(id, _)| id == a).map(|(_, n)| n.clone()))
                .unwrap_or_else(|| lang.text(&format!("author-{}", m.author_kind))),
            from_customer: m.author_kind == "customer",
            body: crate::i18n::read(&m.body, lang),
            at: date_time(lang, m.created_at, offset),
            internal: m.internal != 0,
        })
        .collect();
    let moves = TicketStatus::ALL
        .iter()
        .filter(|to| t.status.can_become(**to))
        .filter(|to| {
            actor.allows(Action::ChangeTicketStatus {
                department_id,
                customer_id,
                to: **to,
            })
        })
        .map(|to| {
            (
                to.as_str(),
                lang.text(&format!("ticket-move-{}", to.as_str())),
            )
        })
        .collect();
    let can_assign = actor.allows(Action::AssignTicket { department_id });
    let agents = if can_assign {
        let filter = UserFilter {
            status: Some(Status::Active),
            department_id: Some(t.department_id.clone()),
            ..UserFilter::default()
        };
        users::list(&state.db, &filter, None, 200)
            .await
            .map_err(fail)?
            .into_iter()
            .filter(|u| u.role.is_staff() && u.role != Role::Technician)
            .map(|u| {
                let current = t.assignee_id.as_deref() == Some(u.id.as_str());
                (u.id, u.name, current)
            })
            .collect()
    } else {
        vec![]
    };
    let visits = crate::db::visits::for_ticket(state.db.pool(), &t.id)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|v| {
            (
                v.title,
                super::render::date(lang, &v.scheduled_start),
                lang.text(&format!("visit-status-{}", v.status.as_str())),
            )
        })
        .collect();
    let calls = super::calls::log(
        state,
        console,
        crate::db::calls::LogFilter {
            ticket_id: Some(t.id.clone()),
            limit: 20,
            ..Default::default()
        },
    )
    .await?;
    let english = lang == crate::i18n::Lang::English;
    let journey = crate::journeys::answers_of_ticket(state, &console.actor, &t.id)
        .await
        .ok()
        .flatten()
        .map(|j| {
            let pick = |id: &String, en: &String| if english { en.clone() } else { id.clone() };
            let rows = j
                .answers
                .iter()
                .map(|a| {
                    let photos = if a.photos.is_empty() {
                        String::new()
                    } else {
                        let received = a.photos.iter().filter(|p| p.received).count();
                        lang.text_with(
                            "ticket-journey-photos",
                            &[
                                (
                                    "received",
                                    Arg::Number(i64::try_from(received).unwrap_or(0)),
                                ),
                                (
                                    "sent",
                                    Arg::Number(i64::try_from(a.photos.len()).unwrap_or(0)),
                                ),
                            ],
                        )
                    };
                    (
                        pick(&a.prompt_id, &a.prompt_en),
                        pick(&a.answer_id, &a.answer_en),
                        photos,
                    )
                })
                .collect();
            JourneyAnswers {
                title: pick(&j.title_id, &j.title_en),
                propose_visit: j.propose_visit,
                rows,
            }
        });
    let attachments = super::ticket_record::attachments(state, lang, &t.id)
        .await
        .map_err(fail)?;
    let history = if staff_view {
        super::ticket_record::history(state, lang, &t)
            .await
            .map_err(fail)?
    } else {
        vec![]
    };
    let max_attachments = state.config.ticket_max_attachments;
    let can_attach = t.status != TicketStatus::Closed
        && attachments.len() < max_attachments as usize
        && actor.allows(Action::AttachToTicket {
            department_id,
            customer_id,
            holder: false,
        });
    let attach_hint = lang.text_with(
        "ticket-attach-hint",
        &[
            ("max", Arg::Number(i64::from(max_attachments))),
            (
                "mb",
                Arg::Text(&super::ticket_record::megabytes(
                    state.config.ticket_max_attachment_bytes,
                )),
            ),
        ],
    );
    let (urgency, sla) = sla_clock(lang, &t, now_ms());
    let chrome = Chrome::new(console, presence(state, console).await, "/tickets")
        .titled(format!("{} · {}", t.number, t.subject));
    let in_department = actor.in_department(department_id) || actor.role == Role::Admin;
    Ok(page(
        status,
        &TicketPage {
            can_reply: actor.allows(Action::PostTicketMessage {
                department_id,
                customer_id,
                internal: false,
            }),
            can_note: actor.allows(Action::PostTicketMessage {
                department_id,
                customer_id,
                internal: true,
            }),
            can_take: can_assign
                && in_department
                && t.assignee_id.as_deref() != Some(actor.user_id.as_str())
                && !matches!(t.status, TicketStatus::Closed),
            can_assign,
            chrome,
            journey,
            customer_id: t.customer_id.clone(),
            can_call: actor.allows(Action::CallCustomer) && in_department,
            calls,
            id: t.id.clone(),
            number: t.number.clone(),
            description: t.description.clone(),
            customer: t.customer_name.clone(),
            category: t.category.clone(),
            priority: priority_label(lang, t.priority),
            status_key: t.status.as_str(),
            status: status_label(lang, t.status),
            assignee: t.assignee_name.clone().unwrap_or_default(),
            created: date_time(lang, t.created_at, offset),
            sla_class: urgency.class(),
            sla,
            messages,
            moves,
            agents,
            visits,
            attachments,
            can_attach,
            attach_hint,
            history,
            problem,
        },
    ))
}

pub(super) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    ticket_page(&state, &console, &id.to_string(), StatusCode::OK, None).await
}

/// One ticket change through the help-desk service and the unit of work;
/// back to the ticket (303), or the ticket with the refusal on top.
async fn change<F>(state: &AppState, console: &Console, id: &str, apply: F) -> PageResult
where
    F: AsyncFnOnce(&mut Work) -> Result<Effects, ServiceError>,
{
    let outcome = async {
        let mut work = Work::begin(state).await?;
        let effects = apply(&mut work).await?;
        work.commit(effects).await?;
        Ok::<_, ServiceError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other(&format!("/tickets/{id}"))),
        Err(e) => {
            let problems = Problems::from_service(console.lang, e).map_err(|r| *r)?;
            let problem = problems.general_with_fields();
            ticket_page(
                state,
                console,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                problem,
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct MessageForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    internal: Option<String>,
}

pub(super) async fn post_message(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<MessageForm>,
) -> PageResult {
    let id = id.to_string();
    let actor = console.actor.clone();
    let internal = form.internal.is_some();
    let st = state.clone();
    change(&state, &console, &id, async |work: &mut Work| {
        let applied =
            service::post_message(work.tx(), &st, &actor, &id, &form.body, internal).await?;
        Ok(Effects::told(applied.notices).with_changed(applied.value.1.synced))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct StatusForm {
    status: String,
}

pub(super) async fn set_status(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<StatusForm>,
) -> PageResult {
    let id = id.to_string();
    let Ok(to) = form.status.parse::<TicketStatus>() else {
        return ticket_page(
            &state,
            &console,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        )
        .await;
    };
    let actor = console.actor.clone();
    let st = state.clone();
    change(&state, &console, &id, async |work: &mut Work| {
        let applied = service::set_status(work.tx(), &st, &actor, &id, to).await?;
        Ok(Effects::told(applied.notices).with_changed(applied.value.synced))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct AssignForm {
    /// A staff member; absent with `take`.
    #[serde(default)]
    assignee: String,
    /// "Take it": assign to oneself.
    take: Option<String>,
    /// Why this person (optional).
    #[serde(default)]
    reason: String,
}

pub(super) async fn assign(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<AssignForm>,
) -> PageResult {
    let id = id.to_string();
    let assignee = if form.take.is_some() {
        console.actor.user_id.clone()
    } else {
        form.assignee.clone()
    };
    let actor = console.actor.clone();
    let st = state.clone();
    change(&state, &console, &id, async |work: &mut Work| {
        let applied =
            service::assign(work.tx(), &st, &actor, &id, &assignee, Some(&form.reason)).await?;
        Ok(Effects::told(applied.notices).with_changed(applied.value.synced))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(
        created_at: i64,
        response_due: Option<i64>,
        resolution_due: Option<i64>,
    ) -> TicketRow {
        TicketRow {
            id: "t".into(),
            seq: 1,
            number: "TKT-000001".into(),
            subject: String::new(),
            description: String::new(),
            category: String::new(),
            priority: Priority::Normal,
            status: TicketStatus::Open,
            department_id: "d".into(),
            customer_id: "c".into(),
            customer_name: String::new(),
            assignee_id: None,
            assignee_name: None,
            created_by: None,
            created_at,
            updated_at: created_at,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            waiting_since: None,
            response_due_at: response_due,
            resolution_due_at: resolution_due,
            response_breached_at: None,
            resolution_breached_at: None,
            escalated_at: None,
        }
    }

    #[test]
    fn sla_colours_follow_the_share_of_time_left() {
        let hour = 3_600_000;
        let t = ticket(0, Some(10 * hour), Some(100 * hour));
        assert_eq!(
            sla_clock(Lang::English, &t, hour).0,
            Urgency::Green,
            "90 % left"
        );
        assert_eq!(
            sla_clock(Lang::English, &t, 6 * hour).0,
            Urgency::Yellow,
            "40 % left"
        );
        assert_eq!(
            sla_clock(Lang::English, &t, 9 * hour).0,
            Urgency::Red,
            "10 % left"
        );
        let (urgency, label) = sla_clock(Lang::English, &t, 11 * hour);
        assert_eq!((urgency, label.as_str()), (Urgency::Red, "late by 1 h 0 m"));
        let answered = TicketRow {
            first_response_at: Some(hour),
            ..t.clone()
        };
        let (urgency, label) = sla_clock(Lang::Id, &answered, 11 * hour);
        assert_eq!((urgency, label.as_str()), (Urgency::Green, "3 h 17 j lagi"));
        let waiting = TicketRow {
            waiting_since: Some(hour),
            ..t
        };
        assert_eq!(
            sla_clock(Lang::English, &waiting, 11 * hour).0,
            Urgency::None
        );
    }
}
