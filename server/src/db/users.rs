//! Users, their departments and presence.

use std::collections::HashMap;

use sqlx::{AnyExecutor, FromRow};

use super::{Db, Tx, like_contains, now_ms};
use crate::domain::{Presence, Role, Status};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: String,
    #[sqlx(try_from = "String")]
    pub status: Status,
    #[sqlx(try_from = "String")]
    pub presence: Presence,
    pub customer_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    /// The language the person chose (`id`, `en`), if they did.
    pub language: Option<String>,
}

const COLUMNS: &str = "id, email, name, phone, role, password_hash, status, presence, \
                       customer_id, created_at, updated_at, last_login_at, language";

/// What a new user is made of; values are already validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub password_hash: String,
    pub customer_id: Option<String>,
}

/// Filters of the user list.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub status: Option<Status>,
    pub department_id: Option<String>,
    pub search: Option<String>,
}

pub async fn insert(tx: &mut Tx, new: &NewUser) -> sqlx::Result<UserRow> {
    let now = now_ms();
    sqlx::query_as(
        "INSERT INTO users (id, email, name, phone, role, password_hash, status, presence, \
                            customer_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', 'offline', $7, $8, $8) \
         RETURNING id, email, name, phone, role, password_hash, status, presence, \
                   customer_id, created_at, updated_at, last_login_at, language",
    )
    .bind(super::new_id())
    .bind(&new.email)
    .bind(&new.name)
    .bind(&new.phone)
    .bind(new.role.as_str())
    .bind(&new.password_hash)
    .bind(&new.customer_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn by_email(ex: impl AnyExecutor<'_>, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE email = $1"
    )))
    .bind(email)
    .fetch_optional(ex)
    .await
}

/// Newest first, `limit + 1` rows so the caller can tell if there is a next page.
pub async fn list(
    db: &Db,
    filter: &UserFilter,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<UserRow>> {
    let pattern = filter.search.as_deref().map(like_contains);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users u \
         WHERE ($1 IS NULL OR role = $1) \
           AND ($2 IS NULL OR status = $2) \
           AND ($3 IS NULL OR EXISTS (SELECT 1 FROM department_members m \
                                      WHERE m.user_id = u.id AND m.department_id = $3)) \
           AND ($4 IS NULL OR lower(name) LIKE $4 ESCAPE '\\' OR email LIKE $4 ESCAPE '\\') \
           AND ($5 IS NULL OR id < $5) \
         ORDER BY id DESC LIMIT $6"
    )))
    .bind(filter.role.map(Role::as_str))
    .bind(filter.status.map(Status::as_str))
    .bind(&filter.department_id)
    .bind(pattern)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await
}

/// The ids of the departments `user_id` belongs to, sorted.
pub async fn department_ids(ex: impl AnyExecutor<'_>, user_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT department_id FROM department_members WHERE user_id = $1 ORDER BY department_id",
    )
    .bind(user_id)
    .fetch_all(ex)
    .await
}

/// Who a request's token speaks for, read in one round trip: the account,
/// whether its device session is live, and its departments.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub status: Status,
    pub customer_id: Option<String>,
    pub session_live: bool,
    pub department_ids: Vec<String>,
    /// The language the person chose, if they did.
    pub language: Option<String>,
}

#[derive(FromRow)]
struct CallerRow {
    id: String,
    name: String,
    #[sqlx(try_from = "String")]
    role: Role,
    #[sqlx(try_from = "String")]
    status: Status,
    customer_id: Option<String>,
    session_id: Option<String>,
    department_id: Option<String>,
    language: Option<String>,
}

/// Reads user `user_id` and device session `session_id`; `None` if the user
/// does not exist. [`callers`] for one key.
pub async fn caller(
    ex: impl AnyExecutor<'_>,
    user_id: &str,
    session_id: &str,
) -> sqlx::Result<Option<Caller>> {
    let key = (user_id.to_owned(), session_id.to_owned());
    Ok(callers(ex, std::slice::from_ref(&key)).await?.remove(&key))
}

/// The callers of many `(user_id, session_id)` pairs, in one statement (one
/// row per pair and department); a pair whose user does not exist is absent
/// from the answer.
pub async fn callers(
    ex: impl AnyExecutor<'_>,
    keys: &[(String, String)],
) -> sqlx::Result<HashMap<(String, String), Caller>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let values: Vec<String> = (0..keys.len())
        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let sql = format!(
        "WITH k (uid, sid) AS (VALUES {}) \
         SELECT k.uid AS key_user_id, k.sid AS key_session_id, u.id, u.name, u.role, \
                u.status, u.customer_id, s.id AS session_id, m.department_id, u.language \
         FROM k JOIN users u ON u.id = k.uid \
         LEFT JOIN device_sessions s \
           ON s.id = k.sid AND s.user_id = u.id AND s.revoked_at IS NULL \
         LEFT JOIN department_members m ON m.user_id = u.id \
         ORDER BY k.uid, k.sid, m.department_id",
        values.join(", ")
    );
    #[derive(FromRow)]
    struct Row {
        key_user_id: String,
        key_session_id: String,
        #[sqlx(flatten)]
        caller: CallerRow,
    }
    // One statement per batch size: not worth a place in the statement cache.
    let mut query = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).persistent(false);
    for (user_id, session_id) in keys {
        query = query.bind(user_id).bind(session_id);
    }
    let mut callers: HashMap<(String, String), Caller> = HashMap::new();
    for row in query.fetch_all(ex).await? {
        let r = row.caller;
        let key = (row.key_user_id, row.key_session_id);
        let caller = callers.entry(key).or_insert_with(|| Caller {
            id: r.id,
            name: r.name,
            role: r.role,
            status: r.status,
            customer_id: r.customer_id,
            session_live: r.session_id.is_some(),
            department_ids: vec![],
            language: r.language,
        });
        caller.department_ids.extend(r.department_id);
    }
    Ok(callers)
}

/// Replaces the memberships of `user_id` with `department_ids`.
pub async fn set_departments(
    tx: &mut Tx,
    user_id: &str,
    department_ids: &[String],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM department_members WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for department_id in department_ids {
        sqlx::query(
            "INSERT INTO department_members (department_id, user_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(department_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
    pub role: Option<Role>,
    pub status: Option<Status>,
}

pub async fn update(tx: &mut Tx, id: &str, changes: &UserChanges) -> sqlx::Result<()> {
    let (phone_set, phone) = match &changes.phone {
        Some(p) => (1_i64, p.clone()),
        None => (0, None),
    };
    sqlx::query(
        "UPDATE users SET name = COALESCE($2, name), \
                          phone = CASE WHEN $3 = 1 THEN $4 ELSE phone END, \
                          role = COALESCE($5, role), \
                          status = COALESCE($6, status), \
                          updated_at = $7 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(&changes.name)
    .bind(phone_set)
    .bind(phone)
    .bind(changes.role.map(Role::as_str))
    .bind(changes.status.map(Status::as_str))
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_password_hash(tx: &mut Tx, id: &str, hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records the language `id` chose (`None`: none, follow the browser).
pub async fn set_language(tx: &mut Tx, id: &str, language: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET language = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(language)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_presence(tx: &mut Tx, id: &str, presence: Presence) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET presence = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(presence.as_str())
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn touch_login(tx: &mut Tx, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// How many active admins there are; the last one may not be demoted or deactivated.
pub async fn active_admins(tx: &mut Tx) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND status = 'active'")
        .fetch_one(&mut **tx)
        .await
}

/// The app account of customer record `customer_id`, if it has one.
pub async fn account_of_customer(
    ex: impl AnyExecutor<'_>,
    customer_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT id FROM users WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_optional(ex)
        .await
}

/// The active staff on duty (presence other than `offline`) who serve
/// `department_id`: its members and every admin.
pub async fn on_duty(
    ex: impl AnyExecutor<'_>,
    department_id: Option<&str>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT u.id FROM users u \
         WHERE u.status = 'active' AND u.presence <> 'offline' AND u.role <> 'customer' \
           AND (u.role = 'admin' OR $1 IS NULL OR EXISTS (SELECT 1 FROM department_members m \
                WHERE m.user_id = u.id AND m.department_id = $1)) \
         ORDER BY u.id",
    )
    .bind(department_id)
    .fetch_all(ex)
    .await
}

/// The language the account of customer record `customer_id` chose, if it
/// has an account and chose one.
pub async fn language_of_customer(
    ex: impl AnyExecutor<'_>,
    customer_id: &str,
) -> sqlx::Result<Option<String>> {
    let found: Option<Option<String>> =
        sqlx::query_scalar("SELECT language FROM users WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(ex)
            .await?;
    Ok(found.flatten())
}

/// Every active staff member's name and presence (CS and admins: the agents
/// who answer customers), by name.
pub async fn staff_presence(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<(String, Presence)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, presence FROM users \
         WHERE status = 'active' AND role IN ('admin', 'cs') ORDER BY name",
    )
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, presence)| {
            (
                name,
                Presence::parse(&presence).unwrap_or(Presence::Offline),
            )
        })
        .collect())
}
