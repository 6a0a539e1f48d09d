//! Tickets, their messages, SLA pauses, attachments and assignment history.
//!
//! Every write to a ticket goes through the few `pub async fn`s below that take
//! a [`Tx`] (`create`, `update_fields`, `set_status`, `set_assignee`,
//! `add_message`, `start_wait` / `end_wait`, `set_deadlines`, `mark_breach`),
//! so that projecting tickets into sync documents later is one hook per function.
//!
//! Lists, search and stats are in `db::ticket_queries` (re-exported here).

use sqlx::{AnyExecutor, FromRow};

pub use super::ticket_queries::{
    AgentPeriodRow, ListStats, PeriodStats, Scope, SlaCounts, TicketFilter, page, period_stats,
};
use super::{Db, Tx, new_id, now_ms};
use crate::domain::{Priority, TicketStatus, ticket_number};

#[derive(Debug, Clone, FromRow)]
pub struct TicketRow {
    pub id: String,
    pub seq: i64,
    pub number: String,
    pub subject: String,
    pub description: String,
    pub category: String,
    #[sqlx(try_from = "String")]
    pub priority: Priority,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
    pub department_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub assignee_id: Option<String>,
    /// The assignee's display name (read with the row).
    pub assignee_name: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub waiting_since: Option<i64>,
    pub response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub response_breached_at: Option<i64>,
    pub resolution_breached_at: Option<i64>,
    pub escalated_at: Option<i64>,
}

pub const COLUMNS: &str = "t.id, t.seq, t.number, t.subject, t.description, t.category, \
    t.priority, t.status, t.department_id, t.customer_id, t.customer_name, t.assignee_id, \
    t.created_by, t.created_at, t.updated_at, t.first_response_at, t.resolved_at, t.closed_at, \
    t.waiting_since, t.response_due_at, t.resolution_due_at, t.response_breached_at, \
    t.resolution_breached_at, t.escalated_at, \
    (SELECT u.name FROM users u WHERE u.id = t.assignee_id) AS assignee_name";

/// A new ticket, validated.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// Its id: fresh, or chosen by a device that opened it offline.
    pub id: String,
    pub subject: String,
    pub description: String,
    pub category: String,
    pub priority: Priority,
    pub department_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// Takes the next ticket number and inserts the ticket. Callers project it
/// into its sync document (`sync::tickets::project`) in the same transaction,
/// as after every other write below.
pub async fn create(tx: &mut Tx, new: &NewTicket) -> sqlx::Result<TicketRow> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE ticket_counters SET value = value + 1 WHERE name = 'ticket' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    let id = new.id.clone();
    sqlx::query(
        "INSERT INTO tickets (id, seq, number, subject, description, category, priority, status, \
                              department_id, customer_id, customer_name, created_by, created_at, \
                              updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $12, $12)",
    )
    .bind(&id)
    .bind(seq)
    .bind(ticket_number(seq))
    .bind(&new.subject)
    .bind(&new.description)
    .bind(&new.category)
    .bind(new.priority.as_str())
    .bind(&new.department_id)
    .bind(&new.customer_id)
    .bind(&new.customer_name)
    .bind(&new.created_by)
    .bind(new.created_at)
    .execute(&mut **tx)
    .await?;
    get(&mut **tx, &id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The ticket numbered `seq` (`TKT-000123` is 123).
pub async fn by_seq(ex: impl AnyExecutor<'_>, seq: i64) -> sqlx::Result<Option<TicketRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets t WHERE t.seq = $1"
    )))
    .bind(seq)
    .fetch_optional(ex)
    .await
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<TicketRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets t WHERE t.id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Keeps the searchable customer name of a customer's tickets current.
pub async fn rename_customer(tx: &mut Tx, customer_id: &str, name: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tickets SET customer_name = $2 WHERE customer_id = $1 AND customer_name <> $2",
    )
    .bind(customer_id)
    .bind(name)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Edits of a ticket's descriptive fields; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct TicketChanges {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub department_id: Option<String>,
}

pub async fn update_fields(tx: &mut Tx, id: &str, c: &TicketChanges) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tickets SET subject = COALESCE($2, subject), \
                            description = COALESCE($3, description), \
                            category = COALESCE($4, category), \
                            priority = COALESCE($5, priority), \
                            department_id = COALESCE($6, department_id), \
                            updated_at = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(&c.subject)
    .bind(&c.description)
    .bind(&c.category)
    .bind(c.priority.map(Priority::as_str))
    .bind(&c.department_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves the status if it is still `from` (false if someone else moved it),
/// keeping the resolved/closed times.
pub async fn set_status(
    tx: &mut Tx,
    id: &str,
    from: TicketStatus,
    to: TicketStatus,
    now: i64,
) -> sqlx::Result<bool> {
    if matches!(to, TicketStatus::Open | TicketStatus::InProgress) {
        // A resolution about to be undone: its day's KPI is counted again.
        super::kpi::mark_late_from(tx, "SELECT resolved_at FROM tickets WHERE id = $1", id).await?;
    }
    let done = sqlx::query(
        "UPDATE tickets SET status = $3, updated_at = $4, \
           resolved_at = CASE WHEN $3 = 'resolved' THEN $4 WHEN $3 IN ('open', 'in_progress') THEN NULL ELSE resolved_at END, \
           closed_at = CASE WHEN $3 = 'closed' THEN $4 ELSE NULL END, \
           reopened_at = CASE WHEN $2 IN ('resolved', 'closed') AND $3 IN ('open', 'in_progress') \
                              THEN $4 ELSE reopened_at END \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How an assignment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignMethod {
    RoundRobin,
    Manual,
}

/// Sets the assignee and records why. With `only_if_unassigned`, does nothing
/// (returns false) when someone else assigned the ticket first.
pub async fn set_assignee(
    tx: &mut Tx,
    id: &str,
    assignee_id: &str,
    actor_id: Option<&str>,
    method: AssignMethod,
    reason: &str,
    only_if_unassigned: bool,
) -> sqlx::Result<bool> {
    let now = now_ms();
    let sql = if only_if_unassigned {
        "UPDATE tickets SET assignee_id = $2, updated_at = $3 WHERE id = $1 AND assignee_id IS NULL"
    } else {
        "UPDATE tickets SET assignee_id = $2, updated_at = $3 WHERE id = $1"
    };
    let done = sqlx::query(sql)
        .bind(id)
        .bind(assignee_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO ticket_assignments (id, ticket_id, assignee_id, actor_id, method, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(id)
    .bind(assignee_id)
    .bind(actor_id)
    .bind(match method {
        AssignMethod::RoundRobin => "round_robin",
        AssignMethod::Manual => "manual",
    })
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

#[derive(Debug, Clone, FromRow)]
pub struct AssignmentRow {
    pub assignee_id: String,
    pub actor_id: Option<String>,
    pub method: String,
    pub reason: String,
    pub at: i64,
}

pub async fn assignments(db: &Db, id: &str) -> sqlx::Result<Vec<AssignmentRow>> {
    sqlx::query_as(
        "SELECT assignee_id, actor_id, method, reason, at FROM ticket_assignments \
         WHERE ticket_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct MessageRow {
    pub id: String,
    pub ticket_id: String,
    pub author_id: Option<String>,
    pub author_kind: String,
    pub body: String,
    pub internal: i64,
    pub created_at: i64,
}

/// Adds a message; a staff member's first public message is the first response.
pub async fn add_message(
    tx: &mut Tx,
    ticket_id: &str,
    author_id: Option<&str>,
    author_kind: &str,
    body: &str,
    internal: bool,
) -> sqlx::Result<MessageRow> {
    let now = now_ms();
    let row: MessageRow = sqlx::query_as(
        "INSERT INTO ticket_messages (id, ticket_id, author_id, author_kind, body, internal, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id, ticket_id, author_id, author_kind, body, internal, created_at",
    )
    .bind(new_id())
    .bind(ticket_id)
    .bind(author_id)
    .bind(author_kind)
    .bind(body)
    .bind(i64::from(internal))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let first_response = author_kind == "staff" && !internal;
    sqlx::query(
        "UPDATE tickets SET updated_at = $2, \
           first_response_at = CASE WHEN $3 = 1 AND first_response_at IS NULL THEN $2 \
                                    ELSE first_response_at END, \
           response_due_at = CASE WHEN $3 = 1 THEN NULL ELSE response_due_at END \
         WHERE id = $1",
    )
    .bind(ticket_id)
    .bind(now)
    .bind(i64::from(first_response))
    .execute(&mut **tx)
    .await?;
    Ok(row)
}

/// Oldest first; internal notes only when `include_internal`.
pub async fn messages(
    ex: impl AnyExecutor<'_>,
    ticket_id: &str,
    include_internal: bool,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(
        "SELECT id, ticket_id, author_id, author_kind, body, internal, created_at \
         FROM ticket_messages WHERE ticket_id = $1 AND ($2 = 1 OR internal = 0) ORDER BY id",
    )
    .bind(ticket_id)
    .bind(i64::from(include_internal))
    .fetch_all(ex)
    .await
}

/// Photo content hashes attached to the ticket (filled by the photo upload path).
pub async fn attachments(ex: impl AnyExecutor<'_>, ticket_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT a.photo_hash FROM ticket_attachments a WHERE a.ticket_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = a.photo_hash \
                         AND b.content_type NOT LIKE 'image/%') \
         ORDER BY a.added_at, a.photo_hash",
    )
    .bind(ticket_id)
    .fetch_all(ex)
    .await
}

/// Marks ticket `id` changed now (something beside its row changed) and
/// reads it back.
pub async fn touch(tx: &mut Tx, id: &str) -> sqlx::Result<Option<TicketRow>> {
    sqlx::query("UPDATE tickets SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    get(&mut **tx, id).await
}

/// An image attached to a ticket, with its bytes' facts once they arrived.
#[derive(Debug, Clone, FromRow)]
pub struct AttachmentRow {
    pub sha256: String,
    pub added_by: Option<String>,
    pub added_by_name: Option<String>,
    pub added_at: i64,
    /// `None` until the device that attached it has uploaded the bytes.
    pub content_type: Option<String>,
    pub byte_size: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

/// The images attached to ticket `ticket_id`, oldest first (as [`attachments`]).
pub async fn attachment_rows(
    ex: impl AnyExecutor<'_>,
    ticket_id: &str,
) -> sqlx::Result<Vec<AttachmentRow>> {
    sqlx::query_as(
        "SELECT a.photo_hash AS sha256, a.added_by, u.name AS added_by_name, a.added_at, \
                b.content_type, b.byte_size, b.width, b.height \
         FROM ticket_attachments a \
         LEFT JOIN blobs b ON b.sha256 = a.photo_hash AND b.state = 'stored' \
         LEFT JOIN users u ON u.id = a.added_by \
         WHERE a.ticket_id = $1 AND (b.content_type IS NULL OR b.content_type LIKE 'image/%') \
         ORDER BY a.added_at, a.photo_hash",
    )
    .bind(ticket_id)
    .fetch_all(ex)
    .await
}

/// Starts waiting on the customer (SLA clocks pause); false if already waiting.
pub async fn start_wait(tx: &mut Tx, id: &str, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE tickets SET waiting_since = $2, updated_at = $2 WHERE id = $1 AND waiting_since IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a wait: the interval becomes a closed pause. False if not waiting.
pub async fn end_wait(tx: &mut Tx, id: &str, now: i64) -> sqlx::Result<bool> {
    let since: Option<Option<i64>> =
        sqlx::query_scalar("SELECT waiting_since FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(Some(since)) = since else {
        return Ok(false);
    };
    sqlx::query(
        "INSERT INTO ticket_sla_pauses (ticket_id, started_at, ended_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(since)
    .bind(now.max(since))
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE tickets SET waiting_since = NULL, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Closed pauses, oldest first.
pub async fn pauses(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT started_at, ended_at FROM ticket_sla_pauses WHERE ticket_id = $1 ORDER BY started_at",
    )
    .bind(id)
    .fetch_all(ex)
    .await
}

pub async fn set_deadlines(
    tx: &mut Tx,
    id: &str,
    response_due_at: Option<i64>,
    resolution_due_at: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE tickets SET response_due_at = $2, resolution_due_at = $3 WHERE id = $1")
        .bind(id)
        .bind(response_due_at)
        .bind(resolution_due_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Which SLA clock was breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breach {
    Response,
    Resolution,
}

impl Breach {
    pub fn as_str(self) -> &'static str {
        match self {
            Breach::Response => "response",
            Breach::Resolution => "resolution",
        }
    }
}

/// Tickets whose response or resolution deadline passed unmarked, oldest due first.
pub async fn due_breaches(db: &Db, now: i64, limit: i64) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT id, 'response' FROM tickets \
           WHERE response_breached_at IS NULL AND response_due_at <= $1 \
             AND first_response_at IS NULL AND waiting_since IS NULL \
             AND status IN ('open', 'in_progress') \
         UNION ALL \
         SELECT id, 'resolution' FROM tickets \
           WHERE resolution_breached_at IS NULL AND resolution_due_at <= $1 \
             AND waiting_since IS NULL AND status IN ('open', 'in_progress') \
         LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// Marks a breach if it is not marked yet; true for exactly one caller, ever,
/// whatever the number of instances or restarts.
pub async fn mark_breach(tx: &mut Tx, id: &str, breach: Breach, now: i64) -> sqlx::Result<bool> {
    let sql = match breach {
        Breach::Response => {
            "UPDATE tickets SET response_breached_at = $2, escalated_at = $2, updated_at = $2 \
             WHERE id = $1 AND response_breached_at IS NULL"
        }
        Breach::Resolution => {
            "UPDATE tickets SET resolution_breached_at = $2, escalated_at = $2, updated_at = $2 \
             WHERE id = $1 AND resolution_breached_at IS NULL"
        }
    };
    let done = sqlx::query(sql)
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// One entry of a ticket's audit trail.
#[derive(Debug, Clone, FromRow)]
pub struct HistoryRow {
    pub action: String,
    pub actor_id: Option<String>,
    pub detail: String,
    pub at: i64,
}

pub async fn history(db: &Db, id: &str) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as(
        "SELECT action, actor_id, detail, at FROM audit_log \
         WHERE entity_kind = 'ticket' AND entity_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await
}

/// Locks ticket `id`'s row until `tx` ends (Postgres; SQLite's write
/// transaction already holds the lock).
pub async fn lock(tx: &mut Tx, backend: super::Backend, id: &str) -> sqlx::Result<()> {
    super::hold_row(tx, backend, "tickets", id).await
}

/// Sets ticket `id`'s description (a device's edit, mirrored from its
/// document).
pub async fn set_description(
    tx: &mut Tx,
    id: &str,
    description: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE tickets SET description = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(description)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
