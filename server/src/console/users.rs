//! Staff in the console: the list (role, department, status, presence,
//! shift), enrolling a colleague with the roles the policy lets the caller
//! create (admins any, CS technicians and CS), a temporary password,
//! deactivation and reactivation, and shifts. Changes go through
//! `accounts::staff` and `helpdesk::assignment::set_shift`, like the API's.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::common::{PageResult, Problems, forbidden, internal, presence, see_other};
use super::render::{Chrome, page, role_label};
use super::session::Console;
use crate::AppState;
use crate::accounts::staff;
use crate::auth::Action;
use crate::db::departments;
use crate::db::users::{self, UserFilter};
use crate::domain::{Role, Status};
use crate::i18n::Arg;
use crate::service::ServiceError;
use crate::work::{Effects, Work};

struct Line {
    id: String,
    name: String,
    email: String,
    role: String,
    active: bool,
    presence: String,
    manageable: bool,
    shift_start: String,
    shift_end: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    department_id: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    chrome: Chrome,
    params: ListParams,
    lines: Vec<Line>,
    roles: Vec<(&'static str, String)>,
    departments: Vec<(String, String)>,
    form: NewUserForm,
    problems: Problems,
    notice: Option<String>,
}

async fn users_page(
    state: &AppState,
    console: &Console,
    params: ListParams,
    status: StatusCode,
    form: NewUserForm,
    problems: Problems,
    notice: Option<String>,
) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    if !actor.allows(Action::ListUsers) {
        return Err(forbidden(lang));
    }
    let fail = |e: sqlx::Error| internal(lang, &e);
    let filter = UserFilter {
        search: Some(params.q.trim().chars().take(100).collect::<String>())
            .filter(|s| !s.is_empty()),
        ..UserFilter::default()
    };
    let rows = users::list(&state.db, &filter, None, 200)
        .await
        .map_err(fail)?;
    let shifts = crate::db::rotation::shifts(state.db.pool())
        .await
        .map_err(fail)?;
    let lines = rows
        .into_iter()
        .filter(|u| u.role.is_staff())
        .map(|u| {
            let shift = shifts.iter().find(|(id, ..)| *id == u.id);
            Line {
                manageable: u.id != actor.user_id
                    && actor.allows(Action::ManageUser {
                        target_role: u.role,
                    }),
                role: role_label(lang, u.role),
                active: u.status == Status::Active,
                presence: lang.text(&format!("presence-{}", u.presence.as_str())),
                shift_start: shift.and_then(|s| s.1.clone()).unwrap_or_default(),
                shift_end: shift.and_then(|s| s.2.clone()).unwrap_or_default(),
                id: u.id,
                name: u.name,
                email: u.email,
            }
        })
        .collect();
    let roles = [Role::Technician, Role::Cs, Role::Sales, Role::Admin]
        .into_iter()
        .filter(|r| actor.allows(Action::CreateUser { role: *r }))
        .map(|r| (r.as_str(), role_label(lang, r)))
        .collect();
    let departments = departments::list(&state.db)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let chrome = Chrome::new(console, presence(state, console).await, "/users");
    Ok(page(
        status,
        &UsersPage {
            chrome,
            params,
            lines,
            roles,
            departments,
            form,
            problems,
            notice,
        },
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(params): Query<ListParams>,
) -> PageResult {
    users_page(
        &state,
        &console,
        params,
        StatusCode::OK,
        NewUserForm::default(),
        Problems::default(),
        None,
    )
    .await
}

pub(super) async fn create(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<NewUserForm>,
) -> PageResult {
    let lang = console.lang;
    let Some(role) = Role::parse(&form.role) else {
        let problems = Problems::fields(
            lang,
            vec![crate::service::FieldError::new(
                "role",
                lang.text("console-required"),
            )],
        );
        return users_page(
            &state,
            &console,
            ListParams::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            problems,
            None,
        )
        .await;
    };
    let enrolment = staff::Enrolment {
        email: form.email.clone(),
        name: form.name.clone(),
        phone: Some(form.phone.trim().to_owned()).filter(|p| !p.is_empty()),
        role,
        password: form.password.clone(),
        department_ids: Some(form.department_id.clone())
            .filter(|d| !d.is_empty())
            .into_iter()
            .collect(),
    };
    let outcome = async {
        let new = staff::prepare(&state, &console.actor, enrolment).await?;
        let mut work = Work::begin(&state).await?;
        let row = staff::create(work.tx(), Some(&console.actor.user_id), new).await?;
        work.commit(Effects::none()).await?;
        Ok::<_, ServiceError>(row.name)
    }
    .await;
    match outcome {
        Ok(name) => Ok(list_showing(&name)),
        Err(e) => {
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            let form = NewUserForm {
                password: String::new(),
                ..form
            };
            users_page(
                &state,
                &console,
                ListParams::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                problems,
                None,
            )
            .await
        }
    }
}

/// Back to the staff list, searched for `name` (the account just saved).
pub(super) fn list_showing(name: &str) -> axum::response::Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", name)
        .finish();
    see_other(&format!("/users?{query}"))
}

/// Answers a change to one account: back to the list, or the list with the
/// refusal on top.
async fn answer(
    state: &AppState,
    console: &Console,
    outcome: Result<Option<String>, ServiceError>,
) -> PageResult {
    match outcome {
        Ok(None) => Ok(see_other("/users")),
        // A temporary password is shown once, on this answer, never in a URL.
        Ok(Some(notice)) => {
            users_page(
                state,
                console,
                ListParams::default(),
                StatusCode::OK,
                NewUserForm::default(),
                Problems::default(),
                Some(notice),
            )
            .await
        }
        Err(e) => {
            let problems = Problems::from_service(console.lang, e).map_err(|r| *r)?;
            users_page(
                state,
                console,
                ListParams::default(),
                StatusCode::CONFLICT,
                NewUserForm::default(),
                problems,
                None,
            )
            .await
        }
    }
}

async fn set_status(state: &AppState, console: &Console, id: &str, status: Status) -> PageResult {
    let outcome = async {
        let mut work = Work::begin(state).await?;
        let (_, effects) =
            staff::set_status(work.tx(), state.db.backend(), &console.actor, id, status).await?;
        work.commit(effects).await?;
        Ok(None)
    }
    .await;
    answer(state, console, outcome).await
}

pub(super) async fn deactivate(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    set_status(&state, &console, &id.to_string(), Status::Inactive).await
}

pub(super) async fn activate(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    set_status(&state, &console, &id.to_string(), Status::Active).await
}

pub(super) async fn reset_password(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    let lang = console.lang;
    let id = id.to_string();
    let outcome = async {
        let temporary = staff::reset_password(&state, &console.actor, &id, None).await?;
        let name = users::get(state.db.pool(), &id)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        Ok(temporary.map(|password| {
            lang.text_with(
                "users-temporary-password",
                &[
                    ("name", Arg::Text(&name)),
                    ("password", Arg::Text(&password)),
                ],
            )
        }))
    }
    .await;
    answer(&state, &console, outcome).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ShiftForm {
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
}

pub(super) async fn set_shift(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<ShiftForm>,
) -> PageResult {
    let id = id.to_string();
    let (start, end) = (form.start.trim(), form.end.trim());
    let (start, end) = if start.is_empty() && end.is_empty() {
        (None, None)
    } else {
        (Some(start), Some(end))
    };
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        crate::helpdesk::assignment::set_shift(work.tx(), &console.actor, &id, start, end).await?;
        work.commit(Effects::none()).await?;
        Ok(None)
    }
    .await;
    answer(&state, &console, outcome).await
}
