//! Staff accounts: creating them (who may create which is the policy's:
//! admins any role, CS technicians; the command line creates the first
//! admin), changing their profile, role and departments, deactivating and
//! reactivating them, and resetting their passwords. Customer accounts
//! share the profile and status changes.

use serde_json::json;

use crate::AppState;
use crate::auth::{Action, Actor, password, tokens};
use crate::db::users::{self, UserRow};
use crate::db::{Backend, Tx, audit, departments, sessions};
use crate::domain::{self, Presence, Role, Status, Validator};
use crate::events::{Happened, Notice, StaffPresence};
use crate::service::{ServiceError, taken};
use crate::sync::{self, Reader, SignedOut, store};
use crate::work::{Effects, Work};

/// A staff account to create, its fields validated.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub password_hash: String,
    pub department_ids: Vec<String>,
}

/// A staff account as asked for: the fields as typed, the password in clear.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub password: String,
    pub department_ids: Vec<String>,
}

/// Checks that `actor` may enrol the role, validates every field (all
/// problems at once) and hashes the password — outside any transaction, as
/// Argon2 takes a while; [`create`] then writes it.
pub async fn prepare(
    state: &AppState,
    actor: &Actor,
    e: Enrolment,
) -> Result<NewStaff, ServiceError> {
    crate::service::allow(actor, Action::CreateUser { role: e.role })?;
    let mut v = Validator::new();
    let email = v.check("email", domain::email(&e.email));
    let name = v.check("name", domain::line(&e.name, 120));
    let phone = e.phone.as_deref().map(|p| {
        v.check(
            "phone",
            domain::phone_e164(p, &state.config.default_phone_region),
        )
    });
    let pass = v.check("password", domain::new_password(&e.password));
    if e.role == Role::Customer {
        v.add("role", crate::t!("problem-staff-customer-role"));
    }
    v.finish()?;
    Ok(NewStaff {
        email,
        name,
        phone,
        role: e.role,
        password_hash: password::hash(pass).await?,
        department_ids: e.department_ids,
    })
}

/// Creates `new` in `tx`, in its departments; `by` is who did it (none from
/// the command line).
pub async fn create(tx: &mut Tx, by: Option<&str>, new: NewStaff) -> Result<UserRow, ServiceError> {
    known_departments(tx, &new.department_ids).await?;
    let row = users::insert(
        tx,
        &users::NewUser {
            email: new.email,
            name: new.name,
            phone: new.phone,
            role: new.role,
            password_hash: new.password_hash,
            customer_id: None,
        },
    )
    .await
    .map_err(taken("email"))?;
    users::set_departments(tx, &row.id, &new.department_ids).await?;
    audit::record(
        tx,
        by,
        "user.created",
        "user",
        &row.id,
        json!({ "role": row.role, "department_ids": new.department_ids }),
    )
    .await?;
    Ok(row)
}

/// Loads account `id` for a change by `actor`, who must be allowed to
/// manage it.
async fn manageable(tx: &mut Tx, actor: &Actor, id: &str) -> Result<UserRow, ServiceError> {
    let target = load(tx, id).await?;
    actor.authorize(Action::ManageUser {
        target_role: target.role,
    })?;
    Ok(target)
}

/// A change to an account's profile, as asked (validated here): `None`
/// leaves a field alone; `phone: Some(None)` clears the phone.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
    pub role: Option<Role>,
    pub department_ids: Option<Vec<String>>,
}

/// Changes account `id`'s name, phone, role or departments. The last
/// active admin keeps the role; customer accounts never change role. When
/// what the account may read changes, its devices are told to drop what it
/// lost and its live sync sessions end (the effects).
pub async fn update(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    id: &str,
    edit: Edit,
) -> Result<(UserRow, Effects), ServiceError> {
    let target = manageable(tx, actor, id).await?;
    let role_change = edit.role.filter(|r| *r != target.role);
    if let Some(role) = role_change {
        actor.authorize(Action::ChangeRole {
            from: target.role,
            to: role,
        })?;
    }
    let mut v = Validator::new();
    let name = edit
        .name
        .as_deref()
        .map(|n| v.check("name", domain::line(n, 120)));
    let phone = edit.phone.as_ref().map(|p| {
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
        v.add("role", crate::t!("problem-staff-customer-role-change"));
    }
    v.finish()?;
    if target.role == Role::Admin && role_change.is_some() && users::active_admins(tx).await? <= 1 {
        return Err(ServiceError::conflict(
            "last-admin",
            crate::t!("problem-staff-last-admin"),
        ));
    }
    if let Some(ids) = &edit.department_ids {
        known_departments(tx, ids).await?;
    }
    let scope_changed = role_change.is_some() || edit.department_ids.is_some();
    if scope_changed {
        // Devices delete what the account may no longer read.
        let now = Reader {
            role: target.role,
            user_id: target.id.clone(),
            customer_id: target.customer_id.clone(),
            departments: users::department_ids(&mut **tx, &target.id).await?,
        };
        let next = Reader {
            role: role_change.unwrap_or(target.role),
            departments: edit
                .department_ids
                .clone()
                .unwrap_or_else(|| now.departments.clone()),
            ..now.clone()
        };
        let seq = store::next_seq(tx).await?;
        store::drop_lost_scope(tx, &now, &next, seq).await?;
    }
    let changes = users::UserChanges {
        name,
        phone,
        role: role_change,
        status: None,
    };
    users::update(tx, &target.id, &changes).await?;
    if let Some(ids) = &edit.department_ids {
        users::set_departments(tx, &target.id, ids).await?;
    }
    audit::record(
        tx,
        Some(&actor.user_id),
        "user.updated",
        "user",
        &target.id,
        json!({ "role": role_change, "departments_changed": edit.department_ids.is_some() }),
    )
    .await?;
    let row = load(tx, &target.id).await?;
    // What the account may read changed: its live sync sessions end.
    let events = if scope_changed {
        vec![sync::account_changed(&target.id)]
    } else {
        vec![]
    };
    Ok((row, Effects::told(events)))
}

/// Deactivates (its sessions end everywhere; nothing is erased) or
/// reactivates account `id`. Nobody deactivates themselves. A technician
/// switched off gives back the seats they hold on visits not yet checked
/// into, and CS are asked to decide about visits they are on site at
/// (`visits::claims::release_deactivated`).
pub async fn set_status(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    id: &str,
    status: Status,
) -> Result<(UserRow, Effects), ServiceError> {
    let target = manageable(tx, actor, id).await?;
    if status == Status::Inactive && target.id == actor.user_id {
        return Err(ServiceError::conflict(
            "cannot-deactivate-self",
            crate::t!("problem-staff-deactivate-self"),
        ));
    }
    users::update(
        tx,
        &target.id,
        &users::UserChanges {
            status: Some(status),
            ..Default::default()
        },
    )
    .await?;
    let mut released = Vec::new();
    if status == Status::Inactive {
        sessions::revoke_all(tx, &target.id, None, "account deactivated").await?;
        if target.role == Role::Technician {
            released =
                crate::visits::claims::release_deactivated(tx, backend, actor, &target.id).await?;
        }
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
        json!({}),
    )
    .await?;
    let row = load(tx, &target.id).await?;
    // A deactivated account is signed out everywhere.
    let ending = if status == Status::Inactive {
        sync::signed_out(&target.id, SignedOut::All)
    } else {
        sync::account_changed(&target.id)
    };
    Ok((row, Effects::told(vec![ending]).with_notices(released)))
}

/// Sets another account's password — `password`, or a new temporary one,
/// which is returned — and ends its sessions. One's own password changes
/// with the current one (`POST /me/password`), never here: without it a
/// stolen session could take the account for good.
pub async fn reset_password(
    state: &AppState,
    actor: &Actor,
    id: &str,
    password: Option<String>,
) -> Result<Option<String>, ServiceError> {
    let target = users::get(state.db.pool(), id)
        .await?
        .ok_or_else(|| ServiceError::not_found("user"))?;
    actor.authorize(Action::ManageUser {
        target_role: target.role,
    })?;
    if target.id == actor.user_id {
        return Err(ServiceError::conflict(
            "own-password",
            crate::t!("problem-staff-own-password"),
        ));
    }
    let (new_password, temporary) = match password {
        Some(p) => (
            domain::new_password(&p).map_err(|m| ServiceError::field("password", m))?,
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
    // Argon2 before the write transaction, never inside it.
    let hash = password::hash(new_password).await?;
    let mut work = Work::begin(state).await?;
    let tx = work.tx();
    users::set_password_hash(tx, &target.id, &hash).await?;
    sessions::revoke_all(tx, &target.id, None, "password reset").await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "user.password_reset",
        "user",
        &target.id,
        json!({}),
    )
    .await?;
    let ended = sync::signed_out(&target.id, SignedOut::All);
    // Never stored for a retry: the answer may hold a secret.
    work.commit(Effects::told(vec![ended])).await?;
    Ok(temporary)
}

/// Refuses department ids that name no department.
async fn known_departments(tx: &mut Tx, ids: &[String]) -> Result<(), ServiceError> {
    let unknown = departments::unknown_ids(tx, ids).await?;
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::field(
            "department_ids",
            crate::t!(
                "problem-staff-unknown-departments",
                ids = &unknown.join(", ")
            ),
        ))
    }
}

async fn load(tx: &mut Tx, id: &str) -> Result<UserRow, ServiceError> {
    users::get(&mut **tx, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("user"))
}

/// Sets the caller's own presence and tells every staff console. Becoming
/// `available` hands them the help-desk work queued while nobody was
/// (after the change commits; a failure there is retried by the job).
pub async fn set_presence(
    state: &AppState,
    actor: &Actor,
    presence: Presence,
) -> Result<UserRow, ServiceError> {
    crate::service::allow(actor, Action::SetPresence)?;
    let mut work = Work::begin(state).await?;
    users::set_presence(work.tx(), &actor.user_id, presence).await?;
    let what = Happened::StaffPresence(StaffPresence {
        user_id: actor.user_id.clone(),
        name: actor.name.clone(),
        presence,
    });
    work.commit(Effects::told(vec![Notice::staff(what)]))
        .await?;
    if presence == Presence::Available
        && let Err(e) = crate::helpdesk::assignment::drain(state).await
    {
        tracing::warn!(error = ?e, "assigning queued tickets; the job retries");
    }
    users::get(state.db.pool(), &actor.user_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("user"))
}
