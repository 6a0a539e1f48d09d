//! Customers in the console: the list with search and the active /
//! inactive switch, WhatsApp-registered records marked; a form to create
//! one or edit one; soft delete and restore. Changes go through
//! `accounts::customers`, like the API's.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::common::{PageResult, Problems, forbidden, internal, presence, see_other};
use super::render::{Chrome, date, page};
use super::session::Console;
use crate::AppState;
use crate::accounts::customers as service;
use crate::auth::Action;
use crate::db::customers::{self as customer_db, CustomerFilter};
use crate::domain::{CreatedVia, GeoPoint, Status};
use crate::i18n::Lang;
use crate::service::{FieldError, ServiceError};
use crate::work::Work;

struct Line {
    id: String,
    name: String,
    phone: String,
    city: String,
    whatsapp: bool,
    active: bool,
    since: String,
}

/// The form's values as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CustomerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    #[serde(default)]
    q: String,
    /// `inactive` for soft-deleted records.
    #[serde(default)]
    status: String,
    /// A record to edit in the form.
    edit: Option<uuid::Uuid>,
}

#[derive(Template)]
#[template(path = "console/customers.html")]
struct CustomersPage {
    chrome: Chrome,
    params: ListParams,
    lines: Vec<Line>,
    manage: bool,
    /// May place calls (the server checks the department when one is placed).
    can_call: bool,
    editing: Option<String>,
    form: CustomerForm,
    problems: Problems,
}

async fn customers_page(
    state: &AppState,
    console: &Console,
    params: ListParams,
    status: StatusCode,
    form: Option<(Option<String>, CustomerForm)>,
    problems: Problems,
) -> PageResult {
    let lang = console.lang;
    if !console.actor.allows(Action::ListCustomers) {
        return Err(forbidden(lang));
    }
    let fail = |e: sqlx::Error| internal(lang, &e);
    let filter = CustomerFilter {
        status: Some(if params.status == "inactive" {
            Status::Inactive
        } else {
            Status::Active
        }),
        search: Some(params.q.trim().chars().take(100).collect::<String>())
            .filter(|s| !s.is_empty()),
    };
    let lines = customer_db::list(&state.db, &filter, None, 200)
        .await
        .map_err(fail)?
        .into_iter()
        .take(200)
        .map(|c| Line {
            whatsapp: c.created_via == CreatedVia::Whatsapp,
            active: c.status == Status::Active,
            since: date(
                lang,
                &crate::visits::day_to_date(c.created_at.div_euclid(86_400_000)),
            ),
            id: c.id,
            name: c.name,
            phone: c.phone,
            city: c.city,
        })
        .collect();
    let manage = console.actor.allows(Action::ManageCustomers);
    let (editing, form) = match form {
        Some(given) => given,
        None => match params.edit {
            Some(id) if manage => {
                let row = customer_db::get(state.db.pool(), &id.to_string())
                    .await
                    .map_err(fail)?;
                match row {
                    Some(c) => (
                        Some(c.id.clone()),
                        CustomerForm {
                            lat: c.lat.map(|v| v.to_string()).unwrap_or_default(),
                            lon: c.lon.map(|v| v.to_string()).unwrap_or_default(),
                            name: c.name,
                            phone: c.phone,
                            email: c.email.unwrap_or_default(),
                            address: c.address,
                            city: c.city,
                        },
                    ),
                    None => (None, CustomerForm::default()),
                }
            }
            _ => (None, CustomerForm::default()),
        },
    };
    let chrome = Chrome::new(console, presence(state, console).await, "/customers");
    Ok(page(
        status,
        &CustomersPage {
            chrome,
            params,
            lines,
            manage,
            can_call: console.actor.allows(Action::CallCustomer),
            editing,
            form,
            problems,
        },
    ))
}

pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(params): Query<ListParams>,
) -> PageResult {
    customers_page(
        &state,
        &console,
        params,
        StatusCode::OK,
        None,
        Problems::default(),
    )
    .await
}

/// The location typed as two numbers, both or neither.
fn location(lang: Lang, form: &CustomerForm) -> Result<Option<GeoPoint>, Vec<FieldError>> {
    let (lat, lon) = (form.lat.trim(), form.lon.trim());
    if lat.is_empty() && lon.is_empty() {
        return Ok(None);
    }
    let number = |s: &str| s.replace(',', ".").parse::<f64>().ok();
    match (number(lat), number(lon)) {
        (Some(lat), Some(lon)) => Ok(Some(GeoPoint { lat, lon })),
        (a, b) => Err([("location.lat", a), ("location.lon", b)]
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(f, _)| FieldError::new(f, lang.text("console-not-a-number")))
            .collect()),
    }
}

/// Saves the form: a new record (`id` None) or changes to one.
async fn save(
    state: &AppState,
    console: &Console,
    id: Option<String>,
    form: CustomerForm,
) -> PageResult {
    let lang = console.lang;
    let refused = |form, problems| async {
        let params = ListParams::default();
        customers_page(
            state,
            console,
            params,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((id.clone(), form)),
            problems,
        )
        .await
    };
    let location = match location(lang, &form) {
        Ok(l) => l,
        Err(fields) => {
            let problems = Problems::fields(lang, fields);
            return refused(form, problems).await;
        }
    };
    let email = Some(form.email.trim().to_owned()).filter(|e| !e.is_empty());
    let outcome = async {
        let mut work = Work::begin(state).await?;
        let (row, effects) = match &id {
            None => {
                let input = service::Input {
                    name: form.name.clone(),
                    phone: form.phone.clone(),
                    email,
                    address: form.address.clone(),
                    city: form.city.clone(),
                    location,
                };
                service::create(work.tx(), state, &console.actor, &input).await?
            }
            Some(id) => {
                let edit = service::Edit {
                    name: Some(form.name.clone()),
                    phone: Some(form.phone.clone()),
                    email: Some(email),
                    address: Some(form.address.clone()),
                    city: Some(form.city.clone()),
                    location: Some(location),
                };
                service::update(work.tx(), state, &console.actor, id, edit).await?
            }
        };
        work.commit(effects).await?;
        Ok::<_, ServiceError>(row.name)
    }
    .await;
    match outcome {
        Ok(name) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &name)
                .finish();
            Ok(see_other(&format!("/customers?{query}")))
        }
        Err(e) => {
            let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
            refused(form, problems).await
        }
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<CustomerForm>,
) -> PageResult {
    save(&state, &console, None, form).await
}

pub(super) async fn update(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<CustomerForm>,
) -> PageResult {
    save(&state, &console, Some(id.to_string()), form).await
}

async fn set_status(state: &AppState, console: &Console, id: &str, status: Status) -> PageResult {
    let outcome = async {
        let mut work = Work::begin(state).await?;
        let (_, effects) = service::set_status(work.tx(), &console.actor, id, status).await?;
        work.commit(effects).await?;
        Ok::<_, ServiceError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other(if status == Status::Inactive {
            "/customers?status=inactive"
        } else {
            "/customers"
        })),
        Err(e) => {
            let problems = Problems::from_service(console.lang, e).map_err(|r| *r)?;
            customers_page(
                state,
                console,
                ListParams::default(),
                StatusCode::CONFLICT,
                None,
                problems,
            )
            .await
        }
    }
}

pub(super) async fn delete(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    set_status(&state, &console, &id.to_string(), Status::Inactive).await
}

pub(super) async fn restore(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    set_status(&state, &console, &id.to_string(), Status::Active).await
}
