//! A colleague's account (`/users/{id}`): name, phone, departments, and —
//! for admins — the role, through `accounts::staff::update` like the API's
//! `PATCH /users/{id}`: the last active admin keeps the role, and when what
//! the account may read changes, its devices drop what it lost and its live
//! sessions reconnect with the new scope.

use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;

use super::common::{PageResult, Problems, forbidden, internal, missing, presence};
use super::render::{Chrome, page, role_label};
use super::session::Console;
use crate::AppState;
use crate::accounts::staff;
use crate::auth::Action;
use crate::db::departments;
use crate::db::users::{self, UserRow};
use crate::domain::Role;
use crate::service::{FieldError, ServiceError};
use crate::work::Work;

/// The form as typed (so a refused one keeps it).
#[derive(Debug, Default)]
struct EditForm {
    name: String,
    phone: String,
    role: String,
    department_ids: Vec<String>,
}

impl EditForm {
    fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(body) {
            match key.as_ref() {
                "name" => form.name = value.into_owned(),
                "phone" => form.phone = value.into_owned(),
                "role" => form.role = value.into_owned(),
                "department_ids" => form.department_ids.push(value.into_owned()),
                _ => {}
            }
        }
        form
    }
}

#[derive(Template)]
#[template(path = "console/user_edit.html")]
struct EditPage {
    chrome: Chrome,
    id: String,
    heading: String,
    email: String,
    role_label: String,
    /// Roles the viewer may give (admins); empty: the role is shown, not changed.
    roles: Vec<(&'static str, String)>,
    /// (id, name, member).
    departments: Vec<(String, String, bool)>,
    form: EditForm,
    problems: Problems,
}

/// The account, if the viewer may manage it (not their own).
async fn target(
    state: &AppState,
    console: &Console,
    id: &str,
) -> Result<UserRow, axum::response::Response> {
    let lang = console.lang;
    let user = users::get(state.db.pool(), id)
        .await
        .map_err(|e| internal(lang, &e))?
        .filter(|u| u.role.is_staff())
        .ok_or_else(|| missing(lang))?;
    let manageable = user.id != console.actor.user_id
        && console.actor.allows(Action::ManageUser {
            target_role: user.role,
        });
    if manageable {
        Ok(user)
    } else {
        Err(forbidden(lang))
    }
}

async fn edit_page(
    state: &AppState,
    console: &Console,
    user: UserRow,
    status: StatusCode,
    form: Option<EditForm>,
    problems: Problems,
) -> PageResult {
    let lang = console.lang;
    let fail = |e: sqlx::Error| internal(lang, &e);
    let form = match form {
        Some(form) => form,
        None => EditForm {
            name: user.name.clone(),
            phone: user.phone.clone().unwrap_or_default(),
            role: user.role.as_str().to_owned(),
            department_ids: users::department_ids(state.db.pool(), &user.id)
                .await
                .map_err(fail)?,
        },
    };
    let roles = [Role::Technician, Role::Cs, Role::Sales, Role::Admin]
        .into_iter()
        .filter(|to| {
            console.actor.allows(Action::ChangeRole {
                from: user.role,
                to: *to,
            })
        })
        .map(|r| (r.as_str(), role_label(lang, r)))
        .collect();
    let departments = departments::list(&state.db)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|d| {
            let member = form.department_ids.contains(&d.id);
            (d.id, d.name, member)
        })
        .collect();
    let chrome = Chrome::new(console, presence(state, console).await, "/users");
    Ok(page(
        status,
        &EditPage {
            chrome,
            heading: user.name.clone(),
            email: user.email.clone(),
            role_label: role_label(lang, user.role),
            id: user.id,
            roles,
            departments,
            form,
            problems,
        },
    ))
}

pub(super) async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    let user = target(&state, &console, &id.to_string()).await?;
    edit_page(
        &state,
        &console,
        user,
        StatusCode::OK,
        None,
        Problems::default(),
    )
    .await
}

pub(super) async fn save(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    RawForm(body): RawForm,
) -> PageResult {
    let lang = console.lang;
    let user = target(&state, &console, &id.to_string()).await?;
    let form = EditForm::parse(&body);
    let role = if form.role.is_empty() {
        None
    } else {
        match Role::parse(&form.role) {
            Some(role) => Some(role),
            None => {
                let problems = Problems::fields(
                    lang,
                    vec![FieldError::new("role", lang.text("console-required"))],
                );
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return edit_page(&state, &console, user, status, Some(form), problems).await;
            }
        }
    };
    let edit = staff::Edit {
        name: Some(form.name.clone()),
        phone: Some(Some(form.phone.trim().to_owned()).filter(|p| !p.is_empty())),
        role,
        department_ids: Some(form.department_ids.clone()),
    };
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let (row, effects) =
            staff::update(work.tx(), &state, &console.actor, &user.id, edit).await?;
        work.commit(effects).await?;
        Ok::<_, ServiceError>(row.name)
    }
    .await;
    match outcome {
        Ok(name) => Ok(super::users::list_showing(&name)),
        Err(e) => {
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            edit_page(&state, &console, user, status, Some(form), problems).await
        }
    }
}
