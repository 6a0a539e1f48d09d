//! Departments, which group staff and route tickets: creating them and
//! changing their name, description or lead. Admins only (the policy's
//! `ManageDepartments`); every change is audited.

use serde_json::json;

use crate::auth::{Action, Actor};
use crate::db::departments::{self, DepartmentRow};
use crate::db::{Tx, audit, users};
use crate::domain::{self, Validator};
use crate::service::{ServiceError, taken};

/// A change to a department: `None` keeps a field; `lead: Some(None)`
/// removes the lead.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub name: Option<String>,
    pub description: Option<String>,
    pub lead_user_id: Option<Option<String>>,
}

async fn reread(tx: &mut Tx, id: &str) -> Result<DepartmentRow, ServiceError> {
    departments::get(&mut **tx, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("department"))
}

/// Creates a department with a unique name.
pub async fn create(
    tx: &mut Tx,
    actor: &Actor,
    name: &str,
    description: &str,
) -> Result<DepartmentRow, ServiceError> {
    actor.authorize(Action::ManageDepartments)?;
    let mut v = Validator::new();
    let name = v.check("name", domain::line(name, 100));
    let description = v.check("description", domain::optional_text(description, 1000));
    v.finish()?;
    let id = departments::insert(tx, &name, &description)
        .await
        .map_err(taken("name"))?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "department.created",
        "department",
        &id,
        json!({}),
    )
    .await?;
    reread(tx, &id).await
}

/// Renames a department, describes it or sets its lead (a staff member).
pub async fn update(
    tx: &mut Tx,
    actor: &Actor,
    id: &str,
    edit: Edit,
) -> Result<DepartmentRow, ServiceError> {
    actor.authorize(Action::ManageDepartments)?;
    let mut v = Validator::new();
    let name = edit
        .name
        .as_deref()
        .map(|n| v.check("name", domain::line(n, 100)));
    let description = edit
        .description
        .as_deref()
        .map(|d| v.check("description", domain::optional_text(d, 1000)));
    v.finish()?;
    if let Some(Some(lead)) = &edit.lead_user_id {
        let user = users::get(&mut **tx, lead).await?;
        if !user.is_some_and(|u| u.role.is_staff()) {
            return Err(ServiceError::field(
                "lead_user_id",
                crate::t!("problem-department-lead-not-staff"),
            ));
        }
    }
    let changed = departments::update(
        tx,
        id,
        name.as_deref(),
        description.as_deref(),
        edit.lead_user_id.as_ref().map(|l| l.as_deref()),
    )
    .await
    .map_err(taken("name"))?;
    if changed == 0 {
        return Err(ServiceError::not_found("department"));
    }
    audit::record(
        tx,
        Some(&actor.user_id),
        "department.updated",
        "department",
        id,
        json!({}),
    )
    .await?;
    reread(tx, id).await
}
