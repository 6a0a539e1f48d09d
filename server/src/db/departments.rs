//! Departments (teams). Staff see the work of the departments they belong to.

use sqlx::FromRow;

use super::{Db, Tx, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct DepartmentRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub lead_user_id: Option<String>,
    pub member_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT d.id, d.name, d.description, d.lead_user_id, \
                      (SELECT COUNT(*) FROM department_members m WHERE m.department_id = d.id) AS member_count, \
                      d.created_at, d.updated_at FROM departments d";

pub async fn list(db: &Db) -> sqlx::Result<Vec<DepartmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY d.name")))
        .fetch_all(db.pool())
        .await
}

pub async fn get(ex: impl sqlx::AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<DepartmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE d.id = $1")))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn by_name(db: &Db, name: &str) -> sqlx::Result<Option<DepartmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE d.name = $1")))
        .bind(name)
        .fetch_optional(db.pool())
        .await
}

pub async fn insert(tx: &mut Tx, name: &str, description: &str) -> sqlx::Result<String> {
    let id = super::new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO departments (id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&id)
    .bind(name)
    .bind(description)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn update(
    tx: &mut Tx,
    id: &str,
    name: Option<&str>,
    description: Option<&str>,
    lead_user_id: Option<Option<&str>>,
) -> sqlx::Result<u64> {
    let (lead_set, lead) = match lead_user_id {
        Some(l) => (1_i64, l),
        None => (0, None),
    };
    let done = sqlx::query(
        "UPDATE departments SET name = COALESCE($2, name), \
                                description = COALESCE($3, description), \
                                lead_user_id = CASE WHEN $4 = 1 THEN $5 ELSE lead_user_id END, \
                                updated_at = $6 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(description)
    .bind(lead_set)
    .bind(lead)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Of `ids`, the ones that name no department.
pub async fn unknown_ids(tx: &mut Tx, ids: &[String]) -> sqlx::Result<Vec<String>> {
    let mut unknown = Vec::new();
    for id in ids {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM departments WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() {
            unknown.push(id.clone());
        }
    }
    Ok(unknown)
}

/// Non-admin members of department `from` who are not members of `to`.
pub async fn members_not_in(tx: &mut Tx, from: &str, to: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT m.user_id FROM department_members m JOIN users u ON u.id = m.user_id \
         WHERE m.department_id = $1 AND u.role <> 'admin' \
           AND NOT EXISTS (SELECT 1 FROM department_members n \
                           WHERE n.user_id = m.user_id AND n.department_id = $2) \
         ORDER BY m.user_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await
}
