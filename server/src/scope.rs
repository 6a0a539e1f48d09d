//! Who may read which sync document, as the model says it: the [`Reader`]
//! (an account's role, customer record and departments) and a document's
//! [`DocScope`]. The sync store turns the same rule into SQL
//! (`db::sync_store`); [`Reader::sees`] is its in-memory twin.

use fieldops_sync::ids::DocKind;
use fieldops_sync::rules::{self, Actor as RuleActor};
use serde::{Deserialize, Serialize};

use crate::domain::{Actor, Role};

/// Who reads a feed, as far as scope is concerned.
#[derive(Debug, Clone)]
pub struct Reader {
    pub role: Role,
    pub user_id: String,
    pub customer_id: Option<String>,
    pub departments: Vec<String>,
}

impl From<&Actor> for Reader {
    fn from(actor: &Actor) -> Self {
        Self {
            role: actor.role,
            user_id: actor.user_id.clone(),
            customer_id: actor.customer_id.clone(),
            departments: actor.department_ids.clone(),
        }
    }
}

/// Where a document belongs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocScope {
    pub customer_id: Option<String>,
    pub department_id: Option<String>,
    /// A pool projection, readable by every technician.
    pub in_pool: bool,
}

impl Reader {
    /// The in-memory twin of the SQL scope predicate in `db::sync_store`.
    pub fn sees(&self, kind: DocKind, scope: &DocScope, users: &[String]) -> bool {
        if users.iter().any(|u| u == &self.user_id) {
            return true;
        }
        match self.role {
            Role::Admin => true,
            Role::Cs | Role::Sales => scope
                .department_id
                .as_ref()
                .is_none_or(|d| self.departments.iter().any(|mine| mine == d)),
            // Published journeys are every customer's to fill in.
            Role::Customer => {
                kind == DocKind::Journey
                    || (kind != DocKind::StaffNotes
                        && scope.customer_id.is_some()
                        && scope.customer_id == self.customer_id)
            }
            Role::Technician => kind != DocKind::StaffNotes && scope.in_pool,
        }
    }

    /// The identity the write rules judge.
    pub fn rule_actor(&self) -> Option<RuleActor> {
        let role = match self.role {
            Role::Admin => rules::Role::Admin,
            Role::Cs => rules::Role::Cs,
            Role::Sales => rules::Role::Sales,
            Role::Technician => rules::Role::Technician,
            Role::Customer => rules::Role::Customer,
        };
        let user = self.user_id.parse().ok()?;
        let departments = self
            .departments
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect();
        Some(RuleActor::staff(role, user, departments))
    }
}
