//! Customers: created by CS, by self-registration or from a WhatsApp message.
//! Never erased: deleting sets the status to inactive so history keeps its references.

use sqlx::{AnyExecutor, FromRow};

use super::{Db, Tx, like_contains, new_id, now_ms};
use crate::domain::{CreatedVia, Status};

#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub address: String,
    pub city: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    #[sqlx(try_from = "String")]
    pub status: Status,
    #[sqlx(try_from = "String")]
    pub created_via: CreatedVia,
    pub created_at: i64,
    pub updated_at: i64,
    pub deactivated_at: Option<i64>,
}

const COLUMNS: &str = "id, name, phone, email, address, city, lat, lon, status, created_via, \
                       created_at, updated_at, deactivated_at";

/// A customer's editable fields, validated.
#[derive(Debug, Clone, Default)]
pub struct CustomerFields {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub address: String,
    pub city: String,
    pub location: Option<(f64, f64)>,
}

#[derive(Debug, Default, Clone)]
pub struct CustomerFilter {
    pub status: Option<Status>,
    /// Matches name, phone or e-mail, case-insensitively.
    pub search: Option<String>,
}

pub async fn insert(
    tx: &mut Tx,
    fields: &CustomerFields,
    via: CreatedVia,
) -> sqlx::Result<CustomerRow> {
    let now = now_ms();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO customers (id, name, phone, email, address, city, lat, lon, status, \
                                created_via, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $11 = 1 THEN $7 END, CASE WHEN $11 = 1 THEN $8 END, \
                 'active', $9, $10, $10) RETURNING {COLUMNS}"
    )))
    .bind(new_id())
    .bind(&fields.name)
    .bind(&fields.phone)
    .bind(&fields.email)
    .bind(&fields.address)
    .bind(&fields.city)
    .bind(lat_lon(fields).0)
    .bind(lat_lon(fields).1)
    .bind(via.as_str())
    .bind(now)
    .bind(i64::from(fields.location.is_some()))
    .fetch_one(&mut **tx)
    .await
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<CustomerRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn by_phone(tx: &mut Tx, phone: &str) -> sqlx::Result<Option<CustomerRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers WHERE phone = $1"
    )))
    .bind(phone)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn list(
    db: &Db,
    filter: &CustomerFilter,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<CustomerRow>> {
    let pattern = filter.search.as_deref().map(like_contains);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers \
         WHERE ($1 IS NULL OR status = $1) \
           AND ($2 IS NULL OR lower(name) LIKE $2 ESCAPE '\\' OR phone LIKE $2 ESCAPE '\\' \
                OR lower(email) LIKE $2 ESCAPE '\\') \
           AND ($3 IS NULL OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    )))
    .bind(filter.status.map(Status::as_str))
    .bind(pattern)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await
}

/// The coordinates to bind: always numbers, never NULL, with a flag saying
/// whether they count. sqlx 0.9's `Any` driver declares a NULL `f64` as
/// float4 on Postgres, and the statement it caches then refuses a real `f64`
/// on the same connection.
fn lat_lon(fields: &CustomerFields) -> (f64, f64) {
    fields.location.unwrap_or((0.0, 0.0))
}

/// Writes every field of `fields`; returns the updated row.
pub async fn update(tx: &mut Tx, id: &str, fields: &CustomerFields) -> sqlx::Result<CustomerRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE customers SET name = $2, phone = $3, email = $4, address = $5, city = $6, \
                              lat = CASE WHEN $10 = 1 THEN $7 END, lon = CASE WHEN $10 = 1 THEN $8 END, \
                              updated_at = $9 \
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(&fields.name)
    .bind(&fields.phone)
    .bind(&fields.email)
    .bind(&fields.address)
    .bind(&fields.city)
    .bind(lat_lon(fields).0)
    .bind(lat_lon(fields).1)
    .bind(now_ms())
    .bind(i64::from(fields.location.is_some()))
    .fetch_one(&mut **tx)
    .await
}

/// Sets the status; `deactivated_at` records when a customer was soft-deleted.
pub async fn set_status(tx: &mut Tx, id: &str, status: Status) -> sqlx::Result<CustomerRow> {
    let now = now_ms();
    let deactivated_at = (status == Status::Inactive).then_some(now);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE customers SET status = $2, deactivated_at = $3, updated_at = $4 \
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(status.as_str())
    .bind(deactivated_at)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}
