//! Staff accounts: who may create which is the policy's (admins any role,
//! CS technicians); the command line creates the first admin.

use serde_json::json;

use crate::db::users::{self, UserRow};
use crate::db::{self, Tx, audit, departments};
use crate::domain::Role;
use crate::service::ServiceError;

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

/// Creates `new` in `tx`, in its departments; `by` is who did it (none from
/// the command line).
pub async fn create(tx: &mut Tx, by: Option<&str>, new: NewStaff) -> Result<UserRow, ServiceError> {
    let unknown = departments::unknown_ids(tx, &new.department_ids).await?;
    if !unknown.is_empty() {
        return Err(ServiceError::field(
            "department_ids",
            format!("unknown departments: {}", unknown.join(", ")),
        ));
    }
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
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            ServiceError::Duplicate("email")
        } else {
            e.into()
        }
    })?;
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
