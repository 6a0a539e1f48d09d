//! The JSON shapes of users, departments and customers, built from rows.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::customers::CustomerRow;
use crate::db::departments::DepartmentRow;
use crate::db::users::UserRow;
use crate::domain::{CreatedVia, GeoPoint, Presence, Role, Status, rfc3339};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub status: Status,
    pub presence: Presence,
    /// The customer record of a customer account.
    pub customer_id: Option<String>,
    pub department_ids: Vec<String>,
    /// The language the person chose (`id`, `en`); absent: their device's.
    pub language: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_login_at: Option<String>,
}

impl UserView {
    pub fn new(row: UserRow, department_ids: Vec<String>) -> Self {
        Self {
            id: row.id,
            email: row.email,
            name: row.name,
            phone: row.phone,
            role: row.role,
            status: row.status,
            presence: row.presence,
            customer_id: row.customer_id,
            department_ids,
            language: row.language,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            last_login_at: row.last_login_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub lead_user_id: Option<String>,
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<DepartmentRow> for DepartmentView {
    fn from(row: DepartmentRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            lead_user_id: row.lead_user_id,
            member_count: row.member_count,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    /// E.164, e.g. `+6281234567890`.
    pub phone: String,
    pub email: Option<String>,
    pub address: String,
    pub city: String,
    pub location: Option<GeoPoint>,
    pub status: Status,
    pub created_via: CreatedVia,
    pub created_at: String,
    pub updated_at: String,
    /// When the customer was soft-deleted, if they are inactive.
    pub deactivated_at: Option<String>,
    /// Whether the phone is known to be theirs: CS entered it, it wrote on
    /// WhatsApp, or its owner proved it with a code. An app registration
    /// without proof is not, and may duplicate another record (merge it).
    pub phone_verified: bool,
    /// The customer this record was merged into.
    pub merged_into: Option<String>,
}

impl From<CustomerRow> for CustomerView {
    fn from(row: CustomerRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            phone: row.phone,
            email: row.email,
            address: row.address,
            city: row.city,
            location: row.lat.zip(row.lon).map(|(lat, lon)| GeoPoint { lat, lon }),
            status: row.status,
            created_via: row.created_via,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            deactivated_at: row.deactivated_at.map(rfc3339),
            phone_verified: row.phone_verified == 1,
            merged_into: row.merged_into,
        }
    }
}
