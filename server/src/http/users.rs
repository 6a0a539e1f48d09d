//! User management: admins manage everyone, CS enrol and look after technicians.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Page, PageRequest, Path, Query, nullable};
use super::views::UserView;
use crate::AppState;
use crate::accounts::staff;
use crate::auth::{Action, Actor, password, tokens};
use crate::db::{self, audit, departments, sessions, users};
use crate::domain::{self, Role, Status, Validator};
use crate::error::{ApiError, ApiResult};
use crate::work::{Effects, Work};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    pub role: Option<Role>,
    pub status: Option<Status>,
    pub department_id: Option<Uuid>,
    /// Matches name or e-mail.
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
pub struct CreateUserRequest {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    /// Staff roles only; customers register themselves or are created as customers.
    pub role: Role,
    pub password: String,
    #[serde(default)]
    pub department_ids: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    pub role: Option<Role>,
    pub department_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The new password; if absent (send `{}`) a temporary one is generated and returned once.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetPasswordResponse {
    /// Present when the server generated the password.
    pub temporary_password: Option<String>,
}

async fn load(state: &AppState, id: &Uuid) -> ApiResult<users::UserRow> {
    users::get(state.db.pool(), &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("user"))
}

/// A user as the API shows it, read from the pool or the changing transaction.
async fn view(ex: impl sqlx::AnyExecutor<'_>, row: users::UserRow) -> ApiResult<UserView> {
    let department_ids = users::department_ids(ex, &row.id).await?;
    Ok(UserView::new(row, department_ids))
}

/// Checks that every department exists; returns them as strings.
async fn check_departments(tx: &mut db::Tx, ids: &[Uuid]) -> ApiResult<Vec<String>> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let unknown = departments::unknown_ids(tx, &ids).await?;
    if unknown.is_empty() {
        Ok(ids)
    } else {
        Err(ApiError::field(
            "department_ids",
            format!("unknown departments: {}", unknown.join(", ")),
        ))
    }
}

/// List users, newest first.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(UserListParams),
    responses((status = 200, body = Page<UserView>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(params): Query<UserListParams>,
) -> ApiResult<Json<Page<UserView>>> {
    actor.authorize(Action::ListUsers)?;
    let page = PageRequest::parse(params.limit, params.cursor.as_deref())?;
    let search = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if search.is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::field("q", "must be at most 100 characters"));
    }
    let filter = users::UserFilter {
        role: params.role,
        status: params.status,
        department_id: params.department_id.map(|d| d.to_string()),
        search: search.map(str::to_owned),
    };
    let rows = users::list(&state.db, &filter, page.after.as_deref(), page.limit).await?;
    let page = Page::from_rows(rows, page.limit, |u| &u.id);
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        items.push(view(state.db.pool(), row).await?);
    }
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Create a staff account.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    actor.authorize(Action::CreateUser { role: req.role })?;
    let mut v = Validator::new();
    let email = v.check("email", domain::email(&req.email));
    let name = v.check("name", domain::line(&req.name, 120));
    let phone = match req.phone.as_deref() {
        Some(p) => Some(v.check(
            "phone",
            domain::phone_e164(p, &state.config.default_phone_region),
        )),
        None => None,
    };
    let pass = v.check("password", domain::new_password(&req.password));
    if req.role == Role::Customer {
        v.add("role", "customers register through /api/v1/auth/register");
    }
    v.finish()?;
    let password_hash = password::hash(pass).await?;
    let new = staff::NewStaff {
        email,
        name,
        phone,
        role: req.role,
        password_hash,
        department_ids: req.department_ids.iter().map(Uuid::to_string).collect(),
    };
    let mut work = Work::begin(&state).await?;
    let row = staff::create(work.tx(), Some(&actor.user_id), new.clone()).await?;
    let body = UserView::new(row, new.department_ids);
    let body = work
        .respond(Effects::none(), StatusCode::CREATED, body)
        .await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    actor.authorize(Action::ViewUser {
        user_id: &id.to_string(),
    })?;
    let row = load(&state, &id).await?;
    Ok(Json(view(state.db.pool(), row).await?))
}

/// Change a user's name, phone, role or departments.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = UserView), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserView>> {
    let target = load(&state, &id).await?;
    actor.authorize(Action::ManageUser {
        target_role: target.role,
    })?;
    let role_change = req.role.filter(|r| *r != target.role);
    if let Some(role) = role_change {
        actor.authorize(Action::ChangeRole {
            from: target.role,
            to: role,
        })?;
    }
    let mut v = Validator::new();
    let name = req
        .name
        .as_deref()
        .map(|n| v.check("name", domain::line(n, 120)));
    let phone = req.phone.as_ref().map(|p| {
        p.as_deref().map(|p| {
            v.check(
                "phone",
                domain::phone_e164(p, &state.config.default_phone_region),
            )
        })
    });
    if role_change.is_some()
        && (role_change == Some(Role::Customer) || target.role == Role::Customer)
    {
        v.add("role", "customer accounts cannot change role");
    }
    v.finish()?;

    let mut work = Work::begin(&state).await?;
    let tx = work.tx();
    if target.role == Role::Admin && role_change.is_some() && users::active_admins(tx).await? <= 1 {
        return Err(ApiError::conflict(
            "last-admin",
            "the last active admin cannot be demoted",
        ));
    }
    let department_ids = match &req.department_ids {
        Some(ids) => Some(check_departments(tx, ids).await?),
        None => None,
    };
    let scope_changed = role_change.is_some() || department_ids.is_some();
    if scope_changed {
        // Devices delete what the account may no longer read.
        let now = crate::sync::Reader {
            role: target.role,
            user_id: target.id.clone(),
            customer_id: target.customer_id.clone(),
            departments: users::department_ids(&mut **tx, &target.id).await?,
        };
        let next = crate::sync::Reader {
            role: role_change.unwrap_or(target.role),
            departments: department_ids
                .clone()
                .unwrap_or_else(|| now.departments.clone()),
            ..now.clone()
        };
        let seq = crate::sync::store::next_seq(tx).await?;
        crate::sync::store::drop_lost_scope(tx, &now, &next, seq).await?;
    }
    let changes = users::UserChanges {
        name,
        phone,
        role: role_change,
        status: None,
    };
    users::update(tx, &target.id, &changes).await?;
    if let Some(ids) = &department_ids {
        users::set_departments(tx, &target.id, ids).await?;
    }
    audit::record(tx, Some(&actor.user_id), "user.updated", "user", &target.id,
        serde_json::json!({ "role": role_change, "departments_changed": req.department_ids.is_some() })).await?;
    let row = users::get(&mut **tx, &target.id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let body = view(&mut **tx, row).await?;
    // What the account may read changed: its live sync sessions end.
    let events = if scope_changed {
        vec![crate::sync::account_changed(&target.id)]
    } else {
        vec![]
    };
    let body = work
        .respond(Effects::events(events), StatusCode::OK, body)
        .await?;
    Ok(Json(body))
}

async fn set_status(
    state: &AppState,
    actor: &Actor,
    id: &Uuid,
    status: Status,
) -> ApiResult<UserView> {
    let target = load(state, id).await?;
    actor.authorize(Action::ManageUser {
        target_role: target.role,
    })?;
    if status == Status::Inactive && target.id == actor.user_id {
        return Err(ApiError::conflict(
            "cannot-deactivate-self",
            "you cannot deactivate your own account",
        ));
    }
    let mut work = Work::begin(state).await?;
    let tx = work.tx();
    users::update(
        tx,
        &target.id,
        &users::UserChanges {
            status: Some(status),
            ..Default::default()
        },
    )
    .await?;
    if status == Status::Inactive {
        sessions::revoke_all(tx, &target.id, None, "account deactivated").await?;
    }
    let action = if status == Status::Inactive {
        "user.deactivated"
    } else {
        "user.activated"
    };
    audit::record(
        tx,
        Some(&actor.user_id),
        action,
        "user",
        &target.id,
        serde_json::json!({}),
    )
    .await?;
    let row = users::get(&mut **tx, &target.id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let body = view(&mut **tx, row).await?;
    // A deactivated account is signed out everywhere.
    let ending = if status == Status::Inactive {
        crate::sync::signed_out(&target.id, crate::sync::SignedOut::All)
    } else {
        crate::sync::account_changed(&target.id)
    };
    work.respond(Effects::events(vec![ending]), StatusCode::OK, body)
        .await
}

/// Deactivate an account: it can no longer log in and its sessions end. Nothing is erased.
#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 409, body = crate::error::Problem)))]
pub async fn deactivate(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        set_status(&state, &actor, &id, Status::Inactive).await?,
    ))
}

/// Reactivate a deactivated account.
#[utoipa::path(post, path = "/api/v1/users/{id}/activate", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView)))]
pub async fn activate(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(set_status(&state, &actor, &id, Status::Active).await?))
}

/// Reset another user's password; their sessions end. One's own password
/// changes at `POST /me/password` (409 `own-password` here).
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ResetPasswordRequest,
    responses((status = 200, body = ResetPasswordResponse), (status = 409, body = crate::error::Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<ResetPasswordRequest>,
) -> ApiResult<Json<ResetPasswordResponse>> {
    let target = load(&state, &id).await?;
    actor.authorize(Action::ManageUser {
        target_role: target.role,
    })?;
    if target.id == actor.user_id {
        // Without the current password a stolen session could take the
        // account for good: one's own password changes at /me/password.
        return Err(ApiError::conflict(
            "own-password",
            "change your own password with POST /api/v1/me/password",
        ));
    }
    let (new_password, temporary_password) = match req.password {
        Some(p) => (
            domain::new_password(&p).map_err(|m| ApiError::field("password", m))?,
            None,
        ),
        None => {
            let temp: String = tokens::random_secret()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect();
            (temp.clone(), Some(temp))
        }
    };
    let hash = password::hash(new_password).await?;
    let mut work = Work::begin(&state).await?;
    let tx = work.tx();
    users::set_password_hash(tx, &target.id, &hash).await?;
    sessions::revoke_all(tx, &target.id, None, "password reset").await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "user.password_reset",
        "user",
        &target.id,
        serde_json::json!({}),
    )
    .await?;
    let ended = crate::sync::signed_out(&target.id, crate::sync::SignedOut::All);
    // Never stored for a retry: the route takes no idempotency key (it
    // answers with a secret).
    work.commit(Effects::events(vec![ended])).await?;
    Ok(Json(ResetPasswordResponse { temporary_password }))
}
