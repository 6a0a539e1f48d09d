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
    /// 1 when the phone is known to be the customer's: CS entered it, it
    /// sent a WhatsApp message, or its owner proved it with a code. Only
    /// verified phones are unique and link an app account.
    pub phone_verified: i64,
    /// The record this one was merged into by CS (then it is inactive).
    pub merged_into: Option<String>,
}

impl CustomerRow {
    pub fn phone_verified(&self) -> bool {
        self.phone_verified == 1
    }
}

const COLUMNS: &str = "id, name, phone, email, address, city, lat, lon, status, created_via, \
                       created_at, updated_at, deactivated_at, phone_verified, merged_into";

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

/// Inserts a customer; `phone_verified` says whether the phone is known
/// to be theirs (see [`CustomerRow::phone_verified`]).
pub async fn insert(
    tx: &mut Tx,
    fields: &CustomerFields,
    via: CreatedVia,
    phone_verified: bool,
) -> sqlx::Result<CustomerRow> {
    let now = now_ms();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO customers (id, name, phone, email, address, city, lat, lon, status, \
                                created_via, created_at, updated_at, phone_verified) \
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $11 = 1 THEN $7 END, CASE WHEN $11 = 1 THEN $8 END, \
                 'active', $9, $10, $10, $12) RETURNING {COLUMNS}"
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
    .bind(i64::from(phone_verified))
    .fetch_one(&mut **tx)
    .await
}

/// Holds customer `id`'s row until commit (Postgres; SQLite writes one at a
/// time): two messages from one customer arriving at once open one
/// conversation between them, not one each.
pub async fn lock(tx: &mut Tx, backend: super::Backend, id: &str) -> sqlx::Result<()> {
    super::hold_row(tx, backend, "customers", id).await
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<CustomerRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The customer whose verified phone is `phone` (there is at most one).
pub async fn by_phone(ex: impl AnyExecutor<'_>, phone: &str) -> sqlx::Result<Option<CustomerRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers WHERE phone = $1 AND phone_verified = 1"
    )))
    .bind(phone)
    .fetch_optional(ex)
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

/// Writes every field of `fields` (by staff or from the phone itself, so
/// the phone counts as verified); returns the updated row.
pub async fn update(tx: &mut Tx, id: &str, fields: &CustomerFields) -> sqlx::Result<CustomerRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE customers SET name = $2, phone = $3, email = $4, address = $5, city = $6, \
                              lat = CASE WHEN $10 = 1 THEN $7 END, lon = CASE WHEN $10 = 1 THEN $8 END, \
                              updated_at = $9, phone_verified = 1 \
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

/// Whether customer `id` has an app account.
pub async fn has_account(tx: &mut Tx, id: &str) -> sqlx::Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE customer_id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

/// What [`merge`] moved, for the documents to re-project.
#[derive(Debug, Default)]
pub struct Moved {
    pub ticket_ids: Vec<String>,
    pub visit_ids: Vec<String>,
    /// The app account that now belongs to the surviving record.
    pub user_id: Option<String>,
}

/// Moves the rows of customer `from` — its app account, tickets, visits and
/// conversations, invoices — to customer `into` (the sync documents are moved by
/// `sync::move_customer_documents`), and retires
/// `from` (inactive, `merged_into` set). `into`'s own fields are kept.
pub async fn merge(tx: &mut Tx, from: &str, into: &str) -> sqlx::Result<Moved> {
    let ids = |table: &'static str| {
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE customer_id = $1 ORDER BY id"
        )))
        .bind(from)
    };
    let moved = Moved {
        ticket_ids: ids("tickets").fetch_all(&mut **tx).await?,
        visit_ids: ids("visits").fetch_all(&mut **tx).await?,
        user_id: ids("users").fetch_optional(&mut **tx).await?,
    };
    for table in ["users", "tickets", "visits", "conversations", "invoices"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET customer_id = $2 WHERE customer_id = $1"
        )))
        .bind(from)
        .bind(into)
        .execute(&mut **tx)
        .await?;
    }
    let now = now_ms();
    sqlx::query(
        "UPDATE customers SET status = 'inactive', deactivated_at = $2, updated_at = $2, \
                              merged_into = $3 WHERE id = $1",
    )
    .bind(from)
    .bind(now)
    .bind(into)
    .execute(&mut **tx)
    .await?;
    Ok(moved)
}
