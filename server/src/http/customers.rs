//! Customers: CS create and edit them, sales read them, a customer reads their own.
//! DELETE is a soft delete to `inactive`; `restore` brings a customer back.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::AppendHeaders;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Page, PageRequest, Path, Query, nullable};
use super::views::CustomerView;
use crate::AppState;
use crate::accounts::customers as service;
use crate::auth::{Action, Actor};
use crate::db::customers;
use crate::domain::{GeoPoint, Status};
use crate::error::{ApiError, ApiResult};
use crate::work::Work;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListParams {
    /// `active` or `inactive`; both when absent.
    pub status: Option<Status>,
    /// Matches name, phone or e-mail.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomerRequest {
    pub name: String,
    /// Any common format; stored as E.164.
    pub phone: String,
    pub email: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub city: String,
    pub location: Option<GeoPoint>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomerRequest {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub address: Option<String>,
    pub city: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<GeoPoint>)]
    pub location: Option<Option<GeoPoint>>,
}

async fn load(state: &AppState, id: &Uuid) -> ApiResult<customers::CustomerRow> {
    customers::get(state.db.pool(), &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("customer"))
}

/// List customers, newest first, with search and a status filter.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])), params(CustomerListParams),
    responses((status = 200, body = Page<CustomerView>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<CustomerListParams>,
) -> ApiResult<Json<Page<CustomerView>>> {
    actor.authorize(Action::ListCustomers)?;
    let page = PageRequest::parse(params.limit, params.cursor.as_deref())?;
    let search = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::field(
            "q",
            t!("problem-filter-text-too-long", max = 100),
        ));
    }
    // "0812 345" finds "+62812345...": search phones by their digits too.
    let search = search.map(|q| {
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 4 && digits.len() + 3 >= q.len() {
            digits.trim_start_matches('0').to_owned()
        } else {
            q.to_owned()
        }
    });
    let filter = customers::CustomerFilter {
        status: params.status,
        search,
    };
    let rows = customers::list(&state.db, &filter, page.after.as_deref(), page.limit).await?;
    Ok(Json(
        Page::from_rows(rows, page.limit, |c| &c.id).map(CustomerView::from),
    ))
}

/// Create a customer (created_via = manual).
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])),
    request_body = CreateCustomerRequest,
    responses((status = 201, body = CustomerView), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateCustomerRequest>,
) -> ApiResult<(
    StatusCode,
    AppendHeaders<[(header::HeaderName, String); 1]>,
    Json<CustomerView>,
)> {
    let input = service::Input {
        name: req.name,
        phone: req.phone,
        email: req.email,
        address: req.address,
        city: req.city,
        location: req.location,
    };
    let mut work = Work::begin(&state).await?;
    let (row, effects) = service::create(work.tx(), &state, &actor, &input).await?;
    let location = format!("/api/v1/customers/{}", row.id);
    let body = work
        .respond(effects, StatusCode::CREATED, CustomerView::from(row))
        .await?;
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(header::LOCATION, location)]),
        Json(body),
    ))
}

/// One customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CustomerView>> {
    actor.authorize(Action::ViewCustomer {
        customer_id: &id.to_string(),
    })?;
    Ok(Json(load(&state, &id).await?.into()))
}

/// Change a customer's contact details, address or location.
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateCustomerRequest,
    responses((status = 200, body = CustomerView), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateCustomerRequest>,
) -> ApiResult<Json<CustomerView>> {
    let edit = service::Edit {
        name: req.name,
        phone: req.phone,
        email: req.email,
        address: req.address,
        city: req.city,
        location: req.location,
    };
    let mut work = Work::begin(&state).await?;
    let (row, effects) = service::update(work.tx(), &state, &actor, &id.to_string(), edit).await?;
    let body = work
        .respond(effects, StatusCode::OK, CustomerView::from(row))
        .await?;
    Ok(Json(body))
}

async fn set_status(
    state: &AppState,
    actor: &Actor,
    id: &Uuid,
    status: Status,
) -> ApiResult<CustomerView> {
    let mut work = Work::begin(state).await?;
    let (row, effects) = service::set_status(work.tx(), actor, &id.to_string(), status).await?;
    work.respond(effects, StatusCode::OK, CustomerView::from(row))
        .await
}

/// Soft-delete: the customer becomes inactive; their history stays.
#[utoipa::path(delete, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CustomerView>> {
    Ok(Json(
        set_status(&state, &actor, &id, Status::Inactive).await?,
    ))
}

/// Bring a soft-deleted customer back.
#[utoipa::path(post, path = "/api/v1/customers/{id}/restore", tag = "customers", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = crate::error::Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CustomerView>> {
    Ok(Json(set_status(&state, &actor, &id, Status::Active).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The customer that remains.
    pub into: Uuid,
}

/// Merge a duplicate customer record into another: its app account,
/// tickets, visits and conversations move over, and it is retired. For the
/// record an app registration without a proved phone leaves behind.
#[utoipa::path(post, path = "/api/v1/customers/{id}/merge", tag = "customers", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = MergeRequest,
    responses((status = 200, body = CustomerView), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn merge(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<MergeRequest>,
) -> ApiResult<Json<CustomerView>> {
    let mut work = Work::begin(&state).await?;
    let (merged, effects) = crate::accounts::registration::merge(
        work.tx(),
        &state.db,
        &actor,
        &id.to_string(),
        &req.into.to_string(),
    )
    .await?;
    let body = work
        .respond(effects, StatusCode::OK, CustomerView::from(merged))
        .await?;
    Ok(Json(body))
}
