//! The dispatch board: visits by status, the form that puts a new one in
//! the pool, cancelling, and returning a technician to the emergency pool.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::common::{
    PageResult, Problems, forbidden, internal, presence, scoped_filter, see_other,
};
use super::render::{Chrome, date, page, seats};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::assignments::{self, AssignmentRow};
use crate::db::visits::{self as visit_db, VisitFilter, VisitRow, VisitStatus};
use crate::db::{customers, departments, now_ms};
use crate::domain::{Site, Status};
use crate::i18n::{Arg, Lang};
use crate::service::{FieldError, ServiceError};
use crate::visits::{claims, lifecycle};
use crate::work::{Effects, Work};

/// One visit on the board.
struct Card {
    id: String,
    /// The column it sits in, and its place there ([`order_key`]).
    column: &'static str,
    order: String,
    title: String,
    customer: String,
    address: String,
    when: String,
    seats: String,
    emergency: bool,
    /// A technician on site here was deactivated: CS must decide.
    needs_decision: bool,
    cancellable: bool,
    /// Still open to change (not done or cancelled).
    editable: bool,
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
    pub(super) customer_id: String,
    #[serde(default)]
    pub(super) department_id: String,
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) address: String,
    #[serde(default)]
    pub(super) lat: String,
    #[serde(default)]
    pub(super) lon: String,
    #[serde(default)]
    pub(super) scheduled_start: String,
    #[serde(default)]
    pub(super) planned_days: String,
    #[serde(default)]
    pub(super) technician_quota: String,
    /// The ticket it serves, by number (`TKT-000123`); optional.
    #[serde(default)]
    pub(super) ticket: String,
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
    /// The shared visit fields are never frozen on the new-visit form.
    frozen: bool,
}

/// A column of the board: a visit's status (and, once done, its days) says
/// which one it sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Open,
    Assigned,
    InProgress,
    DoneToday,
}

impl Lane {
    const ALL: [Lane; 4] = [
        Lane::Open,
        Lane::Assigned,
        Lane::InProgress,
        Lane::DoneToday,
    ];

    /// The column's name in the page (`data-column`, CSS classes).
    fn key(self) -> &'static str {
        match self {
            Lane::Open => "open",
            Lane::Assigned => "assigned",
            Lane::InProgress => "in_progress",
            Lane::DoneToday => "done",
        }
    }

    fn title(self, lang: Lang) -> String {
        lang.text(match self {
            Lane::Open => "board-open",
            Lane::Assigned => "board-assigned",
            Lane::InProgress => "board-in-progress",
            Lane::DoneToday => "board-done-today",
        })
    }

    /// The visits of this column within `scope` on day `today`.
    fn filter(self, scope: &VisitFilter, today: i64) -> VisitFilter {
        let status = match self {
            Lane::Open => VisitStatus::Open,
            Lane::Assigned => VisitStatus::Assigned,
            Lane::InProgress => VisitStatus::InProgress,
            Lane::DoneToday => {
                return VisitFilter {
                    status: Some(VisitStatus::Done),
                    from_day: Some(today),
                    to_day: Some(today),
                    ..scope.clone()
                };
            }
        };
        VisitFilter {
            status: Some(status),
            ..scope.clone()
        }
    }

    /// The column visit `v` sits in on day `today`; `None` when it is off
    /// the board (cancelled, or done on another day). The same rule as
    /// [`Lane::filter`], for one visit.
    fn of(v: &VisitRow, today: i64) -> Option<Lane> {
        match v.status {
            VisitStatus::Open => Some(Lane::Open),
            VisitStatus::Assigned => Some(Lane::Assigned),
            VisitStatus::InProgress => Some(Lane::InProgress),
            VisitStatus::Done if v.start_day <= today && today <= v.end_day() => {
                Some(Lane::DoneToday)
            }
            VisitStatus::Done | VisitStatus::Cancelled => None,
        }
    }
}

/// Where a card goes in its column, which lists keys in descending order:
/// newest first, and in the pool emergencies first, then the soonest.
fn order_key(v: &VisitRow, lane: Lane) -> String {
    if lane == Lane::Open {
        let first_day = 99_999_999 - v.start_day.clamp(0, 99_999_999);
        format!("{}{first_day:08}{}", u8::from(v.emergency != 0), v.id)
    } else {
        v.id.clone()
    }
}

/// Visit `v`'s card in `lane`, with the technicians holding its seats.
fn card(lang: Lang, v: &VisitRow, lane: Lane, held: &[AssignmentRow]) -> Card {
    let held = || held.iter().filter(|a| a.visit_id == v.id);
    let end = crate::visits::day_to_date(v.end_day());
    let when = if v.planned_days > 1 {
        format!("{} – {}", date(lang, &v.scheduled_start), date(lang, &end))
    } else {
        date(lang, &v.scheduled_start)
    };
    Card {
        id: v.id.clone(),
        column: lane.key(),
        order: order_key(v, lane),
        title: v.title.clone(),
        customer: v.customer_name.clone(),
        address: v.site_address.clone(),
        when,
        seats: seats(lang, v.seats_taken, v.technician_quota),
        emergency: v.emergency != 0,
        needs_decision: held().any(AssignmentRow::needs_decision),
        cancellable: v.seats_taken == 0,
        editable: !matches!(v.status, VisitStatus::Done | VisitStatus::Cancelled),
        holders: held()
            .filter(|a| a.state != "released")
            .map(|a| Holder {
                assignment_id: a.id.clone(),
                name: a.technician_name.clone(),
                on_site: a.on_site != 0,
            })
            .collect(),
    }
}

async fn board(state: &AppState, console: &Console) -> Result<Vec<Column>, sqlx::Error> {
    let lang = console.lang;
    let today = state.config.attendance.today(now_ms());
    let base = scoped_filter(console.actor.visit_scope());
    let mut lanes = Vec::with_capacity(Lane::ALL.len());
    for lane in Lane::ALL {
        let filter = lane.filter(&base, today);
        lanes.push((
            lane,
            visit_db::list(state.db.pool(), &filter, None, 200).await?,
        ));
    }
    let ids: Vec<&str> = lanes
        .iter()
        .flat_map(|(_, visits)| visits.iter().map(|v| v.id.as_str()))
        .collect();
    let held = assignments::for_visits(state.db.pool(), &ids).await?;
    Ok(lanes
        .iter()
        .map(|&(lane, ref visits)| {
            let mut cards: Vec<Card> = visits.iter().map(|v| card(lang, v, lane, &held)).collect();
            // Emergencies first in the pool: they need someone now.
            cards.sort_by(|a, b| b.order.cmp(&a.order));
            Column {
                key: lane.key(),
                title: lane.title(lang),
                cards,
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "console/dispatch_card.html")]
struct CardFragment {
    chrome: Chrome,
    card: Card,
    manage: bool,
}

/// `GET /dispatch/cards/{id}`: one visit's card as the board shows it, for
/// the board to swap in when a live event names the visit (a claim, a
/// check-in) instead of fetching every column again; 404 when the visit is
/// off the board or out of the reader's scope, and the board drops it.
pub(super) async fn card_fragment(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    let lang = console.lang;
    if !console.actor.allows(Action::ListVisits) {
        return Err(forbidden(lang));
    }
    let fail = |e: sqlx::Error| internal(lang, &e);
    let today = state.config.attendance.today(now_ms());
    let scope = scoped_filter(console.actor.visit_scope());
    let visit = visit_db::get_matching(state.db.pool(), &scope, &id.to_string())
        .await
        .map_err(fail)?;
    let Some((visit, lane)) = visit.and_then(|v| Lane::of(&v, today).map(|lane| (v, lane))) else {
        return Err(super::common::missing(lang));
    };
    let held = assignments::for_visits(state.db.pool(), &[visit.id.as_str()])
        .await
        .map_err(fail)?;
    Ok(page(
        StatusCode::OK,
        &CardFragment {
            chrome: Chrome::fragment(&console, "/dispatch"),
            card: card(lang, &visit, lane, &held),
            manage: console.actor.allows(Action::ManageVisits),
        },
    ))
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
            frozen: false,
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
pub(super) fn number<T: std::str::FromStr>(
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
    // Every unparsed number and a missing customer is in `typed` already.
    let (lat, lon, planned_days, quota) = match (lat, lon, planned_days, quota) {
        (Some(lat), Some(lon), Some(days), Some(quota)) if typed.is_empty() => {
            (lat, lon, days, quota)
        }
        _ => {
            let problems = Problems::fields(lang, typed);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return dispatch_page(&state, &console, status, form, problems, None).await;
        }
    };
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
        let problems = Problems::message(lang.text("board-return-reason-needed"));
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
