//! Calls, the relay's overflow and devices' push tokens
//! (`migrations/*/0022_calls.sql`; the rules are `crate::calls`').

use fieldops_sync::call::CallId;
use sqlx::{AnyExecutor, FromRow};

use super::{Backend, Tx, now_ms};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CallRow {
    /// Stored as text; a row whose id is not one is an error, never a
    /// fabricated id.
    #[sqlx(try_from = "String")]
    pub id: CallId,
    pub direction: String,
    pub caller_id: String,
    pub caller_session: String,
    pub customer_id: String,
    pub agent_id: Option<String>,
    pub ticket_id: Option<String>,
    pub department_id: Option<String>,
    pub media: String,
    pub state: String,
    pub end_reason: Option<String>,
    pub ended_by: Option<String>,
    pub version: i64,
    pub caller_seq: i64,
    pub callee_seq: i64,
    pub callee_session: Option<String>,
    pub answered_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub rang_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub caller_lost_at: Option<i64>,
    pub callee_lost_at: Option<i64>,
}

const COLUMNS: &str = "id, direction, caller_id, caller_session, customer_id, agent_id, ticket_id, \
                       department_id, media, state, end_reason, ended_by, version, caller_seq, \
                       callee_seq, callee_session, answered_by, created_at, expires_at, rang_at, \
                       answered_at, ended_at, caller_lost_at, callee_lost_at";

/// A call in the log, with the names a timeline shows.
#[derive(Debug, Clone, FromRow)]
pub struct LogRow {
    #[sqlx(flatten)]
    pub call: CallRow,
    pub caller_name: String,
    pub customer_name: String,
    pub agent_name: Option<String>,
}

pub async fn insert(tx: &mut Tx, call: &CallRow) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO calls ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
    )))
    .bind(call.id.to_string())
    .bind(&call.direction)
    .bind(&call.caller_id)
    .bind(&call.caller_session)
    .bind(&call.customer_id)
    .bind(&call.agent_id)
    .bind(&call.ticket_id)
    .bind(&call.department_id)
    .bind(&call.media)
    .bind(&call.state)
    .bind(&call.end_reason)
    .bind(&call.ended_by)
    .bind(call.version)
    .bind(call.caller_seq)
    .bind(call.callee_seq)
    .bind(&call.callee_session)
    .bind(&call.answered_by)
    .bind(call.created_at)
    .bind(call.expires_at)
    .bind(call.rang_at)
    .bind(call.answered_at)
    .bind(call.ended_at)
    .bind(call.caller_lost_at)
    .bind(call.callee_lost_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<CallRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM calls WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Reads a call for a change of state, locking its row on Postgres (SQLite's
/// writers are serial): two devices answering at once are decided one after
/// the other, whichever instances they reached.
pub async fn lock(tx: &mut Tx, backend: Backend, id: &str) -> sqlx::Result<Option<CallRow>> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM calls WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Writes back what a state change altered.
pub async fn save(tx: &mut Tx, call: &CallRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE calls SET agent_id = $2, state = $3, end_reason = $4, ended_by = $5, \
         version = $6, caller_seq = $7, callee_seq = $8, callee_session = $9, answered_by = $10, \
         rang_at = $11, answered_at = $12, ended_at = $13, caller_lost_at = $14, \
         callee_lost_at = $15 WHERE id = $1",
    )
    .bind(call.id.to_string())
    .bind(&call.agent_id)
    .bind(&call.state)
    .bind(&call.end_reason)
    .bind(&call.ended_by)
    .bind(call.version)
    .bind(call.caller_seq)
    .bind(call.callee_seq)
    .bind(&call.callee_session)
    .bind(&call.answered_by)
    .bind(call.rang_at)
    .bind(call.answered_at)
    .bind(call.ended_at)
    .bind(call.caller_lost_at)
    .bind(call.callee_lost_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether a customer is in a call (ringing or connected).
pub async fn customer_busy(ex: impl AnyExecutor<'_>, customer_id: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM calls WHERE customer_id = $1 AND state <> 'ended'",
    )
    .bind(customer_id)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

/// The staff members in a call (ringing or connected).
pub async fn busy_staff(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT agent_id FROM calls WHERE state <> 'ended' AND agent_id IS NOT NULL",
    )
    .fetch_all(ex)
    .await
}

/// Calls the server must end: ringing past their time, or connected with a
/// chosen device lost since before `lost_before`.
pub async fn due(
    ex: impl AnyExecutor<'_>,
    now: i64,
    lost_before: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM calls WHERE state <> 'ended' AND ((state = 'ringing' AND expires_at <= $1) \
         OR caller_lost_at <= $2 OR callee_lost_at <= $2) ORDER BY id LIMIT 500",
    )
    .bind(now)
    .bind(lost_before)
    .fetch_all(ex)
    .await
}

/// The live calls a device session takes part in: as the caller's device,
/// as the chosen callee device, or (ringing) as a device of the callee's
/// account.
pub async fn of_session(ex: impl AnyExecutor<'_>, session_id: &str) -> sqlx::Result<Vec<CallRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM calls WHERE state <> 'ended' \
         AND (caller_session = $1 OR callee_session = $1) ORDER BY id"
    )))
    .bind(session_id)
    .fetch_all(ex)
    .await
}

/// The calls ringing for a device of `user_id` (an agent an inbound call
/// rings) or of customer `customer_id` (a staff call), with their names.
pub async fn ringing_for(
    ex: impl AnyExecutor<'_>,
    user_id: &str,
    customer_id: Option<&str>,
) -> sqlx::Result<Vec<LogRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.{}, caller.name AS caller_name, cu.name AS customer_name, \
         agent.name AS agent_name FROM calls c \
         JOIN users caller ON caller.id = c.caller_id \
         JOIN customers cu ON cu.id = c.customer_id \
         LEFT JOIN users agent ON agent.id = c.agent_id \
         WHERE c.state = 'ringing' AND ((c.direction = 'inbound' AND c.agent_id = $1) \
         OR (c.direction = 'outbound' AND c.customer_id = $2)) ORDER BY c.created_at",
        COLUMNS.replace(", ", ", c.")
    )))
    .bind(user_id)
    .bind(customer_id.unwrap_or_default())
    .fetch_all(ex)
    .await
}

/// Which calls the log shows.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub ticket_id: Option<String>,
    pub customer_id: Option<String>,
    pub agent_id: Option<String>,
    /// Only calls in these departments, or those `.1` took part in;
    /// `None`: all.
    pub departments: Option<(Vec<String>, String)>,
    /// Calls created before this id (paging, newest first).
    pub before: Option<String>,
    pub limit: i64,
}

/// The call log, newest first.
pub async fn log(ex: impl AnyExecutor<'_>, filter: &LogFilter) -> sqlx::Result<Vec<LogRow>> {
    let mut sql = format!(
        "SELECT c.{}, caller.name AS caller_name, cu.name AS customer_name, \
         agent.name AS agent_name FROM calls c \
         JOIN users caller ON caller.id = c.caller_id \
         JOIN customers cu ON cu.id = c.customer_id \
         LEFT JOIN users agent ON agent.id = c.agent_id WHERE 1 = 1",
        COLUMNS.replace(", ", ", c.")
    );
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, value: &str| {
        binds.push(value.to_owned());
        sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
    };
    if let Some(id) = &filter.ticket_id {
        bind(&mut sql, " AND c.ticket_id = ?", id);
    }
    if let Some(id) = &filter.customer_id {
        bind(&mut sql, " AND c.customer_id = ?", id);
    }
    if let Some(id) = &filter.agent_id {
        bind(&mut sql, " AND c.agent_id = ?", id);
    }
    if let Some(before) = &filter.before {
        // Paged by when calls were placed: ids are the callers' to choose.
        bind(
            &mut sql,
            " AND (c.created_at, c.id) < (SELECT created_at, id FROM calls WHERE id = ?)",
            before,
        );
    }
    if let Some((departments, me)) = &filter.departments {
        bind(&mut sql, " AND (c.agent_id = ?", me);
        for d in departments {
            bind(&mut sql, " OR c.department_id = ?", d);
        }
        sql.push(')');
    }
    sql.push_str(&format!(
        " ORDER BY c.created_at DESC, c.id DESC LIMIT {}",
        filter.limit.clamp(1, 200)
    ));
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for value in binds {
        query = query.bind(value);
    }
    query.fetch_all(ex).await
}

/// Calls per agent created in `[from, to)`: (agent, made, answered), where
/// made counts the agent's outbound calls and answered every call of theirs
/// that connected.
pub async fn per_agent(
    ex: impl AnyExecutor<'_>,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<(String, i64, i64)>> {
    sqlx::query_as(
        "SELECT agent_id, \
                SUM(CASE WHEN direction = 'outbound' THEN 1 ELSE 0 END), \
                SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END) \
         FROM calls WHERE agent_id IS NOT NULL AND created_at >= $1 AND created_at < $2 \
         GROUP BY agent_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await
}

/// Keeps a relayed message too big for a notification, under `id`.
pub async fn keep_relayed(ex: impl AnyExecutor<'_>, id: &str, payload: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO call_relay (id, payload, at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(payload)
        .bind(now_ms())
        .execute(ex)
        .await?;
    Ok(())
}

/// Sends `payload` to every instance listening on `channel` (Postgres).
pub async fn notify(ex: impl AnyExecutor<'_>, channel: &str, payload: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn relayed(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT payload FROM call_relay WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn forget_relayed(ex: impl AnyExecutor<'_>, before: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM call_relay WHERE at < $1")
        .bind(before)
        .execute(ex)
        .await?
        .rows_affected())
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PushTokenRow {
    pub session_id: String,
    pub user_id: String,
    pub platform: String,
    pub token: String,
    pub updated_at: i64,
}

pub async fn set_push_token(tx: &mut Tx, row: &PushTokenRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO push_tokens (session_id, user_id, platform, token, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id) DO UPDATE SET \
         user_id = excluded.user_id, platform = excluded.platform, token = excluded.token, \
         updated_at = excluded.updated_at",
    )
    .bind(&row.session_id)
    .bind(&row.user_id)
    .bind(&row.platform)
    .bind(&row.token)
    .bind(row.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_push_token(tx: &mut Tx, session_id: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM push_tokens WHERE session_id = $1")
        .bind(session_id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        > 0)
}

/// The push tokens of live device sessions of these accounts.
pub async fn push_tokens_of(
    ex: impl AnyExecutor<'_>,
    user_ids: &[String],
) -> sqlx::Result<Vec<PushTokenRow>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=user_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT p.session_id, p.user_id, p.platform, p.token, p.updated_at FROM push_tokens p \
         JOIN device_sessions s ON s.id = p.session_id \
         WHERE s.revoked_at IS NULL AND p.user_id IN ({}) ORDER BY p.session_id",
        marks.join(", ")
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in user_ids {
        query = query.bind(id);
    }
    query.fetch_all(ex).await
}

/// Whether a staff member serves a customer without naming a ticket: the
/// customer has a ticket in one of `departments`, or a conversation
/// assigned to `user_id`.
pub async fn serves(
    ex: impl AnyExecutor<'_>,
    customer_id: &str,
    user_id: &str,
    departments: &[String],
) -> sqlx::Result<bool> {
    let marks: Vec<String> = (3..3 + departments.len())
        .map(|i| format!("${i}"))
        .collect();
    let tickets = if departments.is_empty() {
        String::new()
    } else {
        format!(
            " OR EXISTS (SELECT 1 FROM tickets WHERE customer_id = $1 AND department_id IN ({}))",
            marks.join(", ")
        )
    };
    let sql = format!(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM conversations WHERE customer_id = $1 \
         AND assignee_id = $2){tickets} THEN 1 ELSE 0 END"
    );
    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(customer_id)
        .bind(user_id);
    for d in departments {
        query = query.bind(d);
    }
    let yes: i64 = query.fetch_one(ex).await?;
    Ok(yes == 1)
}
