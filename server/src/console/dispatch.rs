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
use crate::db::visits::{self as visit_db, VisitFilter, VisitRow, VisitStatus};
use crate::db::{assignments, customers, departments, now_ms};
use crate::domain::{Site, Status};
use crate::i18n::{Arg, Lang};
use crate::service::{FieldError, ServiceError};
use crate::visits::{claims, lifecycle};
use crate::work::{Effects, Work};

/// One visit on the board.
struct Card {
    id: String,
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
            needs_decision: held
                .iter()
                .any(|a| a.visit_id == v.id && a.needs_decision()),
            cancellable: v.seats_taken == 0,
            editable: !matches!(v.status, VisitStatus::Done | VisitStatus::Cancelled),
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
