//! Editing a visit from the dispatch board (`/dispatch/visits/{id}`):
//! the same fields as the new-visit form, through `visits::lifecycle::update`
//! with its rules — the schedule and the site are frozen once a technician
//! holds the visit (read-only on the page; an admin may force the change,
//! audited), the quota never goes below the seats taken, a new start is
//! today or later.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::common::{PageResult, Problems, forbidden, internal, missing, presence, see_other};
use super::dispatch::{VisitForm, number};
use super::render::{Chrome, page, seats};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::visits::{self as visit_db, VisitRow};
use crate::db::{departments, tickets};
use crate::domain::Site;
use crate::service::{FieldError, ServiceError};
use crate::visits::lifecycle;
use crate::work::{Effects, Work};

#[derive(Template)]
#[template(path = "console/visit_edit.html")]
struct EditPage {
    chrome: Chrome,
    id: String,
    title: String,
    customer: String,
    seats: String,
    /// Someone holds it: schedule and site are frozen.
    held: bool,
    /// Read-only schedule and site (held, and the viewer may not force).
    frozen: bool,
    can_force: bool,
    form: VisitForm,
    problems: Problems,
    departments: Vec<(String, String)>,
}

/// The form as the visit is now.
async fn form_of(state: &AppState, v: &VisitRow) -> sqlx::Result<VisitForm> {
    let ticket = match &v.ticket_id {
        Some(id) => tickets::get(state.db.pool(), id)
            .await?
            .map(|t| t.number)
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(VisitForm {
        customer_id: v.customer_id.clone(),
        department_id: v.department_id.clone().unwrap_or_default(),
        title: v.title.clone(),
        description: v.description.clone(),
        address: v.site_address.clone(),
        lat: v.site_lat.to_string(),
        lon: v.site_lon.to_string(),
        scheduled_start: v.scheduled_start.clone(),
        planned_days: v.planned_days.to_string(),
        technician_quota: v.technician_quota.to_string(),
        ticket,
    })
}

async fn edit_page(
    state: &AppState,
    console: &Console,
    id: &str,
    status: StatusCode,
    form: Option<VisitForm>,
    problems: Problems,
) -> PageResult {
    let lang = console.lang;
    let fail = |e: sqlx::Error| internal(lang, &e);
    if !console.actor.allows(Action::ManageVisits) {
        return Err(forbidden(lang));
    }
    let visit = visit_db::get(state.db.pool(), id)
        .await
        .map_err(fail)?
        .filter(|v| !v.status.is_closed())
        .ok_or_else(|| missing(lang))?;
    let form = match form {
        Some(form) => form,
        None => form_of(state, &visit).await.map_err(fail)?,
    };
    let departments = departments::list(&state.db)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let held = visit.seats_taken > 0;
    let can_force = console.actor.allows(Action::ForceVisitChange);
    let chrome = Chrome::new(console, presence(state, console).await, "/dispatch");
    Ok(page(
        status,
        &EditPage {
            chrome,
            id: visit.id.clone(),
            title: visit.title.clone(),
            customer: visit.customer_name.clone(),
            seats: seats(lang, visit.seats_taken, visit.technician_quota),
            held,
            frozen: held && !can_force,
            can_force,
            form,
            problems,
            departments,
        },
    ))
}

pub(super) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    let id = id.to_string();
    edit_page(
        &state,
        &console,
        &id,
        StatusCode::OK,
        None,
        Problems::default(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct EditForm {
    #[serde(flatten)]
    visit: VisitForm,
    /// An admin's "change it although it is held".
    force: Option<String>,
}

pub(super) async fn save(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<EditForm>,
) -> PageResult {
    let lang = console.lang;
    let id = id.to_string();
    let fields = form.visit;
    let mut typed: Vec<FieldError> = Vec::new();
    let lat = number::<f64>(lang, "site.lat", &fields.lat, &mut typed);
    let lon = number::<f64>(lang, "site.lon", &fields.lon, &mut typed);
    let days = number::<i64>(lang, "planned_days", &fields.planned_days, &mut typed);
    let quota = number::<i64>(
        lang,
        "technician_quota",
        &fields.technician_quota,
        &mut typed,
    );
    let (Some(lat), Some(lon), Some(days), Some(quota)) = (lat, lon, days, quota) else {
        let problems = Problems::fields(lang, typed);
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return edit_page(&state, &console, &id, status, Some(fields), problems).await;
    };
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let edit = lifecycle::VisitEdit {
        ticket_id: Some(optional(&fields.ticket)),
        department_id: Some(optional(&fields.department_id)),
        title: Some(fields.title.clone()),
        description: Some(fields.description.clone()),
        site: Some(Site {
            address: fields.address.clone(),
            lat,
            lon,
        }),
        scheduled_start: Some(fields.scheduled_start.clone()),
        planned_days: Some(days),
        technician_quota: Some(quota),
    };
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let applied = lifecycle::update(
            work.tx(),
            state.db.backend(),
            &console.actor,
            &state.config.attendance,
            &id,
            edit,
            form.force.is_some(),
        )
        .await?;
        work.commit(Effects::notices(applied.notices)).await?;
        Ok::<_, ServiceError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other("/dispatch")),
        Err(e) => {
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            edit_page(&state, &console, &id, status, Some(fields), problems).await
        }
    }
}
