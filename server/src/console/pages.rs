//! The console's pages and forms. Each handler is an adapter like the
//! API's: it reads what the page shows through the storage layer's queries,
//! and every change goes through the same service and unit of work as the
//! API (visits, claims, extensions, sessions, presence), so the console can
//! do nothing the policy would refuse over HTTP.
//!
//! Every control is a plain link or form first: a POST answers with a 303
//! to the page (or the page again, with the problems next to their fields);
//! `hx-boost` on the body only makes the same requests without a reload.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::render::{self, Chrome, date, date_time, page, seats, time_of_day};
use super::session::{
    self, Console, LANG_COOKIE, SESSION_COOKIE, SESSION_TTL, SIGN_IN_COOKIE, set_cookie,
};
use crate::AppState;
use crate::accounts::{sessions, staff};
use crate::auth::Action;
use crate::auth::policy::VisitScope;
use crate::auth::throttle::ClientAddr;
use crate::db::visits::{self as visit_db, VisitFilter, VisitRow, VisitStatus};
use crate::db::{
    assignments, customers, departments, extensions as ext_db, now_ms, ticket_queries, users,
};
use crate::domain::{Presence, Role, Site, Status};
use crate::i18n::{Arg, Lang};
use crate::service::{FieldError, ServiceError};
use crate::visits::{attendance, claims, extensions, lifecycle};
use crate::work::{Effects, Work};

pub(super) type PageResult = Result<Response, Response>;

/// A service's refusal as the console shows it: field problems stay on the
/// form; anything else is a message at the top of the page.
#[derive(Debug, Default)]
pub(super) struct Problems {
    pub(super) general: Option<String>,
    fields: Vec<FieldError>,
}

impl Problems {
    pub(super) fn from_service(lang: Lang, e: ServiceError) -> Result<Self, Box<Response>> {
        Ok(match e {
            ServiceError::Invalid(fields) => Self {
                general: Some(lang.text("console-check-fields")),
                fields,
            },
            ServiceError::Rejected(r)
                if r.reason == fieldops_sync::commands::RejectReason::Invalid =>
            {
                Self {
                    general: Some(lang.text("console-check-fields")),
                    fields: vec![FieldError::new(r.code, r.message)],
                }
            }
            ServiceError::Rejected(r)
                if r.reason == fieldops_sync::commands::RejectReason::Forbidden =>
            {
                return Err(Box::new(forbidden(lang)));
            }
            ServiceError::Rejected(r) => Self {
                general: Some(r.message),
                fields: vec![],
            },
            ServiceError::Duplicate(field) => Self {
                general: Some(lang.text("console-check-fields")),
                fields: vec![FieldError::new(field, lang.text("console-taken"))],
            },
            other => return Err(Box::new(internal(lang, &other))),
        })
    }

    /// The general message with every field's problem after it, for
    /// pages whose forms have one field each.
    pub(super) fn general_with_fields(self) -> Option<String> {
        let mut text = self.general?;
        for f in self.fields {
            text.push_str(&format!(" {}", f.message));
        }
        Some(text)
    }

    /// Problems with fields found before any service was asked.
    pub(super) fn fields(lang: Lang, fields: Vec<FieldError>) -> Self {
        Self {
            general: Some(lang.text("console-check-fields")),
            fields,
        }
    }

    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.field == name || f.field.starts_with(&format!("{name}.")))
            .map(|f| f.message.as_str())
    }
}

pub(super) fn internal(lang: Lang, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console request failed");
    render::message_page(
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        "console-error-title",
        "console-error-detail",
    )
}

pub(super) fn forbidden(lang: Lang) -> Response {
    render::message_page(
        lang,
        StatusCode::FORBIDDEN,
        "console-forbidden-title",
        "console-forbidden-detail",
    )
}

/// The caller's presence, for the header.
pub(super) async fn presence(state: &AppState, console: &Console) -> Presence {
    users::get(state.db.pool(), &console.actor.user_id)
        .await
        .ok()
        .flatten()
        .map_or(Presence::Offline, |u| u.presence)
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

// ---------------------------------------------------------------- sign-in

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
        Lang::ALL
            .iter()
            .map(|l| {
                let label = if *l == Lang::Id {
                    "Bahasa Indonesia"
                } else {
                    "English"
                };
                (l.code(), label, *l == self.lang)
            })
            .collect()
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
        return render::message_page(
            session::language(&headers),
            StatusCode::NOT_FOUND,
            "console-not-found-title",
            "console-not-found-detail",
        );
    };
    let mut response = see_other(&local_path(p.next.as_deref()));
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            &headers,
            LANG_COOKIE,
            lang.code(),
            std::time::Duration::from_secs(365 * 86_400),
        ),
    );
    response
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

// -------------------------------------------------------------- dashboard

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    tickets: Option<ticket_queries::ListStats>,
    /// Open tickets nobody has yet.
    queue: Option<i64>,
    /// Late or absent today: (technician, visit, status).
    missing: Vec<(String, String, String)>,
    visits: Vec<(String, usize)>,
    attendance: Option<Vec<(String, usize)>>,
    pending_extensions: Option<usize>,
    agents: Vec<(String, usize)>,
}

pub(super) async fn dashboard(State(state): State<AppState>, console: Console) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    let fail = |e: sqlx::Error| internal(lang, &e);
    let (tickets, queue) = if actor.allows(Action::ListTickets) {
        let scope = actor.ticket_scope();
        let (_, stats) = ticket_queries::page(
            &state.db,
            &scope,
            &ticket_queries::TicketFilter::default(),
            None,
            0,
        )
        .await
        .map_err(fail)?;
        // The queue: open tickets nobody has yet.
        let waiting = ticket_queries::TicketFilter {
            status: Some(crate::domain::TicketStatus::Open),
            assignee: Some(None),
            ..ticket_queries::TicketFilter::default()
        };
        let (_, queue) = ticket_queries::page(&state.db, &scope, &waiting, None, 0)
            .await
            .map_err(fail)?;
        (Some(stats), Some(queue.total))
    } else {
        (None, None)
    };
    let rules = &state.config.attendance;
    let today = rules.today(now_ms());
    let mut filter = scoped_filter(actor.visit_scope());
    filter.from_day = Some(today);
    filter.to_day = Some(today);
    let todays = visit_db::list(state.db.pool(), &filter, None, 1000)
        .await
        .map_err(fail)?;
    let visits = VisitStatus::ALL
        .iter()
        .map(|s| {
            let n = todays.iter().filter(|v| v.status == *s).count();
            (lang.text(&format!("visit-status-{}", s.as_str())), n)
        })
        .collect();
    let mut missing = Vec::new();
    let attendance = if actor.allows(Action::ViewAttendance) {
        let report = attendance::report(&state.db, rules, today, now_ms())
            .await
            .map_err(fail)?;
        // Who CS should call now: late or absent, with the visit.
        missing = report
            .iter()
            .filter(|e| matches!(e.status.as_str(), "late" | "absent"))
            .map(|e| {
                (
                    e.expected.technician_name.clone(),
                    e.expected.title.clone(),
                    lang.text(&format!("attendance-{}", e.status.as_str())),
                )
            })
            .collect();
        Some(
            ["expected", "late", "absent", "present"]
                .iter()
                .map(|s| {
                    let n = report.iter().filter(|e| e.status.as_str() == *s).count();
                    (lang.text(&format!("attendance-{s}")), n)
                })
                .collect(),
        )
    } else {
        None
    };
    let pending_extensions = if actor.allows(Action::DecideExtensions) {
        Some(
            ext_db::list(state.db.pool(), Some("pending"), None, None, 200)
                .await
                .map_err(fail)?
                .len(),
        )
    } else {
        None
    };
    let staff_list = users::staff_presence(state.db.pool()).await.map_err(fail)?;
    let agents = Presence::ALL
        .iter()
        .map(|p| {
            let n = staff_list.iter().filter(|(_, pr)| pr == p).count();
            (lang.text(&format!("presence-{}", p.as_str())), n)
        })
        .collect();
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/");
    Ok(page(
        StatusCode::OK,
        &DashboardPage {
            chrome,
            tickets,
            queue,
            missing,
            visits,
            attendance,
            pending_extensions,
            agents,
        },
    ))
}

fn scoped_filter(scope: VisitScope) -> VisitFilter {
    let mut filter = VisitFilter::default();
    match scope {
        VisitScope::All => {}
        VisitScope::PoolOrHeldBy(user) => filter.pool_or_held_by = Some(user),
        VisitScope::Customer(own) => filter.customer_id = Some(own),
        // No console user has no scope; an impossible id keeps it empty.
        VisitScope::Nothing => filter.customer_id = Some(String::new()),
    }
    filter
}

// --------------------------------------------------------------- dispatch

/// One visit on the board.
struct Card {
    id: String,
    title: String,
    customer: String,
    address: String,
    when: String,
    seats: String,
    emergency: bool,
    cancellable: bool,
    holders: Vec<Holder>,
}

struct Holder {
    assignment_id: String,
    name: String,
    on_site: bool,
}

struct Column {
    key: &'static str,
    title: String,
    cards: Vec<Card>,
}

/// The create form's values, as typed (so a refused form keeps them).
#[derive(Debug, Default, Deserialize)]
pub(super) struct VisitForm {
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    department_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    scheduled_start: String,
    #[serde(default)]
    planned_days: String,
    #[serde(default)]
    technician_quota: String,
    /// The ticket it serves, by number (`TKT-000123`); optional.
    #[serde(default)]
    ticket: String,
}

#[derive(Template)]
#[template(path = "console/dispatch.html")]
struct DispatchPage {
    chrome: Chrome,
    columns: Vec<Column>,
    manage: bool,
    form: VisitForm,
    problems: Problems,
    customers: Vec<(String, String)>,
    departments: Vec<(String, String)>,
    created: Option<String>,
}

impl DispatchPage {
    fn problem(&self, field: &str) -> String {
        self.problems.field(field).unwrap_or_default().to_owned()
    }

    fn has_problem(&self, field: &str) -> bool {
        self.problems.field(field).is_some()
    }
}

async fn board(state: &AppState, console: &Console) -> Result<Vec<Column>, sqlx::Error> {
    let lang = console.lang;
    let today = state.config.attendance.today(now_ms());
    let base = scoped_filter(console.actor.visit_scope());
    let of_status = |status: VisitStatus| VisitFilter {
        status: Some(status),
        ..base.clone()
    };
    let open = visit_db::list(state.db.pool(), &of_status(VisitStatus::Open), None, 200).await?;
    let assigned = visit_db::list(
        state.db.pool(),
        &of_status(VisitStatus::Assigned),
        None,
        200,
    )
    .await?;
    let in_progress = visit_db::list(
        state.db.pool(),
        &of_status(VisitStatus::InProgress),
        None,
        200,
    )
    .await?;
    let done = visit_db::list(
        state.db.pool(),
        &VisitFilter {
            from_day: Some(today),
            to_day: Some(today),
            ..of_status(VisitStatus::Done)
        },
        None,
        200,
    )
    .await?;
    let ids: Vec<&str> = open
        .iter()
        .chain(&assigned)
        .chain(&in_progress)
        .chain(&done)
        .map(|v| v.id.as_str())
        .collect();
    let held = assignments::for_visits(state.db.pool(), &ids).await?;
    let card = |v: &VisitRow| {
        let holders = held
            .iter()
            .filter(|a| a.visit_id == v.id && a.state != "released")
            .map(|a| Holder {
                assignment_id: a.id.clone(),
                name: a.technician_name.clone(),
                on_site: a.on_site != 0,
            })
            .collect();
        let end = crate::visits::day_to_date(v.end_day());
        let when = if v.planned_days > 1 {
            format!("{} – {}", date(lang, &v.scheduled_start), date(lang, &end))
        } else {
            date(lang, &v.scheduled_start)
        };
        Card {
            id: v.id.clone(),
            title: v.title.clone(),
            customer: v.customer_name.clone(),
            address: v.site_address.clone(),
            when,
            seats: seats(lang, v.seats_taken, v.technician_quota),
            emergency: v.emergency != 0,
            cancellable: v.seats_taken == 0,
            holders,
        }
    };
    // Emergencies first in the pool: they need someone now.
    let mut pool: Vec<&VisitRow> = open.iter().collect();
    pool.sort_by_key(|v| (v.emergency == 0, v.start_day));
    Ok(vec![
        Column {
            key: "open",
            title: lang.text("board-open"),
            cards: pool.into_iter().map(card).collect(),
        },
        Column {
            key: "assigned",
            title: lang.text("board-assigned"),
            cards: assigned.iter().map(card).collect(),
        },
        Column {
            key: "in_progress",
            title: lang.text("board-in-progress"),
            cards: in_progress.iter().map(card).collect(),
        },
        Column {
            key: "done",
            title: lang.text("board-done-today"),
            cards: done.iter().map(card).collect(),
        },
    ])
}

async fn dispatch_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    form: VisitForm,
    problems: Problems,
    created: Option<String>,
) -> PageResult {
    let lang = console.lang;
    let fail = |e: sqlx::Error| internal(lang, &e);
    if !console.actor.allows(Action::ListVisits) {
        return Err(forbidden(lang));
    }
    let manage = console.actor.allows(Action::ManageVisits);
    let columns = board(state, console).await.map_err(fail)?;
    let (customers, departments) = if manage {
        let filter = customers::CustomerFilter {
            status: Some(Status::Active),
            search: None,
        };
        let customers = customers::list(&state.db, &filter, None, 500)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let departments = departments::list(&state.db)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        (customers, departments)
    } else {
        (vec![], vec![])
    };
    let chrome = Chrome::new(console, presence(state, console).await, "/dispatch");
    let form = VisitForm {
        scheduled_start: if form.scheduled_start.is_empty() {
            crate::visits::day_to_date(state.config.attendance.today(now_ms()))
        } else {
            form.scheduled_start
        },
        planned_days: if form.planned_days.is_empty() {
            "1".into()
        } else {
            form.planned_days
        },
        technician_quota: if form.technician_quota.is_empty() {
            "1".into()
        } else {
            form.technician_quota
        },
        ..form
    };
    Ok(page(
        status,
        &DispatchPage {
            chrome,
            columns,
            manage,
            form,
            problems,
            customers,
            departments,
            created,
        },
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct DispatchParams {
    /// A visit just created: the page says it is in the pool.
    created: Option<uuid::Uuid>,
}

pub(super) async fn dispatch(
    State(state): State<AppState>,
    console: Console,
    Query(params): Query<DispatchParams>,
) -> PageResult {
    let mut created = None;
    if let Some(id) = params.created {
        let visit = visit_db::get(state.db.pool(), &id.to_string())
            .await
            .map_err(|e| internal(console.lang, &e))?;
        created = visit.map(|v| {
            console
                .lang
                .text_with("board-created", &[("title", Arg::Text(&v.title))])
        });
    }
    dispatch_page(
        &state,
        &console,
        StatusCode::OK,
        VisitForm::default(),
        Problems::default(),
        created,
    )
    .await
}

/// A number typed in a form, or the field's problem.
fn number<T: std::str::FromStr>(
    lang: Lang,
    field: &str,
    value: &str,
    problems: &mut Vec<FieldError>,
) -> Option<T> {
    match value.trim().replace(',', ".").parse() {
        Ok(n) => Some(n),
        Err(_) => {
            problems.push(FieldError::new(field, lang.text("console-not-a-number")));
            None
        }
    }
}

pub(super) async fn create_visit(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<VisitForm>,
) -> PageResult {
    let lang = console.lang;
    let mut typed = Vec::new();
    let lat = number::<f64>(lang, "site.lat", &form.lat, &mut typed);
    let lon = number::<f64>(lang, "site.lon", &form.lon, &mut typed);
    let planned_days = number::<i64>(lang, "planned_days", &form.planned_days, &mut typed);
    let quota = number::<i64>(lang, "technician_quota", &form.technician_quota, &mut typed);
    if form.customer_id.is_empty() {
        typed.push(FieldError::new(
            "customer_id",
            lang.text("console-required"),
        ));
    }
    let (Some(lat), Some(lon), Some(planned_days), Some(quota)) = (lat, lon, planned_days, quota)
    else {
        let problems = Problems {
            general: Some(lang.text("console-check-fields")),
            fields: typed,
        };
        return dispatch_page(
            &state,
            &console,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            problems,
            None,
        )
        .await;
    };
    if !typed.is_empty() {
        let problems = Problems {
            general: Some(lang.text("console-check-fields")),
            fields: typed,
        };
        return dispatch_page(
            &state,
            &console,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            problems,
            None,
        )
        .await;
    }
    let input = lifecycle::VisitInput {
        customer_id: form.customer_id.clone(),
        ticket_id: Some(form.ticket.trim().to_owned()).filter(|t| !t.is_empty()),
        department_id: Some(form.department_id.clone()).filter(|d| !d.is_empty()),
        title: form.title.clone(),
        description: form.description.clone(),
        site: Site {
            address: form.address.clone(),
            lat,
            lon,
        },
        scheduled_start: form.scheduled_start.clone(),
        planned_days,
        technician_quota: quota,
    };
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let applied = lifecycle::create(
            work.tx(),
            &console.actor,
            &state.config.attendance,
            &input,
            false,
        )
        .await?;
        let id = applied.value.id.clone();
        work.commit(Effects::notices(applied.notices)).await?;
        Ok::<_, ServiceError>(id)
    }
    .await;
    match outcome {
        // Post/redirect/get: reloading the page does not create it twice.
        Ok(id) => Ok(see_other(&format!("/dispatch?created={id}"))),
        Err(e) => {
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            dispatch_page(
                &state,
                &console,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                problems,
                None,
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// Runs one visit change through the unit of work and answers with the
/// board: a 303 back to it, or the board with the refusal on top.
async fn change_visit<F>(state: &AppState, console: &Console, change: F) -> PageResult
where
    F: AsyncFnOnce(&mut Work) -> Result<Vec<crate::service::Notice>, ServiceError>,
{
    let outcome = async {
        let mut work = Work::begin(state).await?;
        let notices = change(&mut work).await?;
        work.commit(Effects::notices(notices)).await?;
        Ok::<_, ServiceError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other("/dispatch")),
        Err(e) => {
            let problems = Problems::from_service(console.lang, e).map_err(|r| *r)?;
            dispatch_page(
                state,
                console,
                StatusCode::CONFLICT,
                VisitForm::default(),
                problems,
                None,
            )
            .await
        }
    }
}

pub(super) async fn cancel_visit(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<ReasonForm>,
) -> PageResult {
    let backend = state.db.backend();
    let actor = console.actor.clone();
    change_visit(&state, &console, async move |work: &mut Work| {
        let reason = if form.reason.trim().is_empty() {
            "cancelled by CS"
        } else {
            form.reason.as_str()
        };
        let applied =
            lifecycle::cancel(work.tx(), backend, &actor, &id.to_string(), reason, false).await?;
        Ok(applied.notices)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct ReturnForm {
    #[serde(default)]
    reason: String,
    /// "They are on site: check them out": CS's force.
    force: Option<String>,
}

pub(super) async fn return_assignment(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<ReturnForm>,
) -> PageResult {
    let lang = console.lang;
    if form.reason.trim().is_empty() {
        let problems = Problems {
            general: Some(lang.text("board-return-reason-needed")),
            fields: vec![],
        };
        return dispatch_page(
            &state,
            &console,
            StatusCode::UNPROCESSABLE_ENTITY,
            VisitForm::default(),
            problems,
            None,
        )
        .await;
    }
    let backend = state.db.backend();
    let actor = console.actor.clone();
    let config = std::sync::Arc::clone(&state.config);
    change_visit(&state, &console, async move |work: &mut Work| {
        let applied = claims::return_to_pool(
            work.tx(),
            backend,
            &actor,
            &config.attendance,
            &id.to_string(),
            form.reason.trim(),
            form.force.is_some(),
        )
        .await?;
        Ok(applied.notices)
    })
    .await
}

// ------------------------------------------------------------- attendance

struct AttendanceLine {
    technician: String,
    visit: String,
    address: String,
    status_key: String,
    status: String,
    check_in: String,
    check_out: String,
    distance: String,
    outside: bool,
    late: bool,
    returned: bool,
}

/// A point of the site plot, in SVG units.
struct PlotPoint {
    x: f64,
    y: f64,
    label: String,
    outside: bool,
}

struct PlotLink {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    outside: bool,
}

#[derive(Template)]
#[template(path = "console/attendance.html")]
struct AttendancePage {
    chrome: Chrome,
    day: String,
    lines: Vec<AttendanceLine>,
    sites: Vec<PlotPoint>,
    technicians: Vec<PlotPoint>,
    links: Vec<PlotLink>,
}

pub(super) async fn attendance_page(State(state): State<AppState>, console: Console) -> PageResult {
    let lang = console.lang;
    if !console.actor.allows(Action::ViewAttendance) {
        return Err(forbidden(lang));
    }
    let fail = |e: sqlx::Error| internal(lang, &e);
    let rules = &state.config.attendance;
    let offset = rules.utc_offset_minutes;
    let today = rules.today(now_ms());
    let report = attendance::report(&state.db, rules, today, now_ms())
        .await
        .map_err(fail)?;
    let mut sites: Vec<(String, f64, f64, String)> = Vec::new();
    for entry in &report {
        if sites.iter().any(|s| s.0 == entry.expected.visit_id) {
            continue;
        }
        if let Some(v) = visit_db::get(state.db.pool(), &entry.expected.visit_id)
            .await
            .map_err(fail)?
        {
            sites.push((v.id, v.site_lat, v.site_lon, v.title));
        }
    }
    let lines = report
        .iter()
        .map(|e| AttendanceLine {
            technician: e.expected.technician_name.clone(),
            visit: e.expected.title.clone(),
            address: e.expected.site_address.clone(),
            status_key: e.status.as_str().to_owned(),
            status: lang.text(&format!("attendance-{}", e.status.as_str())),
            check_in: e
                .check_in
                .as_ref()
                .map(|r| time_of_day(lang, r.device_time, offset))
                .unwrap_or_default(),
            check_out: e
                .check_out
                .as_ref()
                .map(|r| time_of_day(lang, r.device_time, offset))
                .unwrap_or_default(),
            distance: e
                .check_in
                .as_ref()
                .map(|r| format!("{} m", r.distance_m.round()))
                .unwrap_or_default(),
            outside: e.outside_geofence,
            late: e.arrived_late,
            returned: e.expected.returned == 1,
        })
        .collect();
    // The plot: sites and the technicians' check-in positions, fitted into
    // a 600 × 320 box with a margin, north up.
    let mut points: Vec<(f64, f64)> = sites.iter().map(|s| (s.1, s.2)).collect();
    points.extend(
        report
            .iter()
            .filter_map(|e| e.check_in.as_ref().map(|r| (r.lat, r.lon))),
    );
    let (min_lat, max_lat) = bounds(points.iter().map(|p| p.0));
    let (min_lon, max_lon) = bounds(points.iter().map(|p| p.1));
    let project = |lat: f64, lon: f64| {
        let x = 30.0 + (lon - min_lon) / (max_lon - min_lon) * 540.0;
        let y = 290.0 - (lat - min_lat) / (max_lat - min_lat) * 260.0;
        (x.round(), y.round())
    };
    let plot_sites: Vec<PlotPoint> = sites
        .iter()
        .map(|s| {
            let (x, y) = project(s.1, s.2);
            PlotPoint {
                x,
                y,
                label: s.3.clone(),
                outside: false,
            }
        })
        .collect();
    let mut technicians = Vec::new();
    let mut links = Vec::new();
    for e in &report {
        let (Some(record), Some(site)) = (
            &e.check_in,
            sites.iter().find(|s| s.0 == e.expected.visit_id),
        ) else {
            continue;
        };
        let (x, y) = project(record.lat, record.lon);
        let (sx, sy) = project(site.1, site.2);
        technicians.push(PlotPoint {
            x,
            y,
            label: e.expected.technician_name.clone(),
            outside: e.outside_geofence,
        });
        links.push(PlotLink {
            x1: sx,
            y1: sy,
            x2: x,
            y2: y,
            outside: e.outside_geofence,
        });
    }
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/attendance");
    Ok(page(
        StatusCode::OK,
        &AttendancePage {
            chrome,
            day: date(lang, &crate::visits::day_to_date(today)),
            lines,
            sites: plot_sites,
            technicians,
            links,
        },
    ))
}

/// The range of `values`, widened so a single point sits in the middle.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.1).max(0.001);
    (lo - pad, hi + pad)
}

// ------------------------------------------------------------- extensions

struct ExtensionLine {
    id: String,
    visit: String,
    technician: String,
    extra_days: i64,
    reason: String,
    asked: String,
}

#[derive(Template)]
#[template(path = "console/extensions.html")]
struct ExtensionsPage {
    chrome: Chrome,
    pending: Vec<ExtensionLine>,
    problem: Option<String>,
}

async fn extensions_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    problem: Option<String>,
) -> PageResult {
    let lang = console.lang;
    if !console.actor.allows(Action::DecideExtensions) {
        return Err(forbidden(lang));
    }
    let offset = state.config.attendance.utc_offset_minutes;
    let pending = ext_db::list(state.db.pool(), Some("pending"), None, None, 200)
        .await
        .map_err(|e| internal(lang, &e))?
        .into_iter()
        .map(|e| ExtensionLine {
            id: e.id,
            visit: e.visit_title,
            technician: e.technician_name,
            extra_days: e.extra_days,
            reason: e.reason,
            asked: date_time(lang, e.created_at, offset),
        })
        .collect();
    let chrome = Chrome::new(console, presence(state, console).await, "/extensions");
    Ok(page(
        status,
        &ExtensionsPage {
            chrome,
            pending,
            problem,
        },
    ))
}

pub(super) async fn extensions_list(State(state): State<AppState>, console: Console) -> PageResult {
    extensions_page(&state, &console, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct DecisionForm {
    decision: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn decide_extension(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<DecisionForm>,
) -> PageResult {
    let approve = form.decision == "approve";
    let backend = state.db.backend();
    let note = Some(form.note.trim()).filter(|n| !n.is_empty());
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let applied = extensions::decide(
            work.tx(),
            backend,
            &console.actor,
            &id.to_string(),
            approve,
            note,
        )
        .await?;
        work.commit(Effects::notices(applied.notices)).await?;
        Ok::<_, ServiceError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other("/extensions")),
        Err(e) => {
            let problems = Problems::from_service(console.lang, e).map_err(|r| *r)?;
            extensions_page(&state, &console, StatusCode::CONFLICT, problems.general).await
        }
    }
}

/// Anything else under the console: a page that says so.
pub(super) async fn not_found(headers: HeaderMap) -> Response {
    render::message_page(
        session::language(&headers),
        StatusCode::NOT_FOUND,
        "console-not-found-title",
        "console-not-found-detail",
    )
}
