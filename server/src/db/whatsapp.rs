//! WhatsApp: the log of inbound message ids (Meta redelivers; each is handled
//! once) and the persistent outbound queue (pending → sending under a lease →
//! sent | failed, with retries).

use sqlx::FromRow;

use super::{Db, Tx, new_id, now_ms};

/// True if `message_id` was already handled (or is being handled).
pub async fn seen(db: &Db, message_id: &str) -> sqlx::Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT message_id FROM whatsapp_inbound WHERE message_id = $1")
            .bind(message_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(found.is_some())
}

/// Claims an inbound message id; false if another delivery already did.
pub async fn claim_inbound(
    tx: &mut Tx,
    message_id: &str,
    from_phone: &str,
    outcome: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO whatsapp_inbound (message_id, from_phone, outcome, received_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message_id)
    .bind(from_phone)
    .bind(outcome)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Queues a text to `to_phone` (E.164) for sending now.
pub async fn enqueue(tx: &mut Tx, to_phone: &str, body: &str) -> sqlx::Result<String> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO whatsapp_outbox (id, to_phone, body, status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
    )
    .bind(&id)
    .bind(to_phone)
    .bind(body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Queues an approved template message (one that may be sent outside the
/// 24-hour customer-service window): `template` is its JSON (name,
/// language, parameters), `body` a readable rendition for people. When
/// `secret`, both are blanked once the message is sent or given up.
/// Queues a template message, sent from `not_before` (Unix ms) on.
pub async fn enqueue_template(
    tx: &mut Tx,
    to_phone: &str,
    body: &str,
    template: &serde_json::Value,
    secret: bool,
    not_before: i64,
) -> sqlx::Result<String> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO whatsapp_outbox (id, to_phone, body, template, secret, status, attempts, \
                                      next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7)",
    )
    .bind(&id)
    .bind(to_phone)
    .bind(body)
    .bind(template.to_string())
    .bind(i64::from(secret))
    .bind(not_before.max(now))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: String,
    pub to_phone: String,
    pub body: String,
    /// The template's JSON, for template messages.
    pub template: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub provider_id: Option<String>,
}

const COLUMNS: &str = "id, to_phone, body, template, status, attempts, last_error, provider_id";

/// What a secret message keeps once it is out of the queue.
const REDACTED: &str = "[redacted]";

/// Leases the next due message for `lease_ms` (an expired lease of a crashed
/// sender is due again); at most one caller gets each lease.
pub async fn lease_next(db: &Db, now: i64, lease_ms: i64) -> sqlx::Result<Option<OutboxRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE whatsapp_outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2 \
         WHERE id = (SELECT id FROM whatsapp_outbox WHERE status IN ('pending', 'sending') \
                     AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT 1) \
           AND next_attempt_at <= $1 \
         RETURNING {COLUMNS}"
    )))
    .bind(now)
    .bind(now + lease_ms)
    .fetch_optional(db.pool())
    .await
}

pub async fn mark_sent(tx: &mut Tx, id: &str, provider_id: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE whatsapp_outbox SET status = 'sent', sent_at = $2, provider_id = $3, last_error = NULL, \
                body = CASE WHEN secret = 1 THEN $4 ELSE body END, \
                template = CASE WHEN secret = 1 THEN NULL ELSE template END \
         WHERE id = $1",
    )
    .bind(id)
    .bind(now_ms())
    .bind(provider_id)
    .bind(REDACTED)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or failed for good when `None`.
pub async fn mark_attempt_failed(
    db: &Db,
    id: &str,
    error: &str,
    retry_at: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE whatsapp_outbox SET status = $2, next_attempt_at = COALESCE($3, next_attempt_at), \
                last_error = $4, \
                body = CASE WHEN secret = 1 AND $3 IS NULL THEN $5 ELSE body END, \
                template = CASE WHEN secret = 1 AND $3 IS NULL THEN NULL ELSE template END \
         WHERE id = $1",
    )
    .bind(id)
    .bind(if retry_at.is_some() {
        "pending"
    } else {
        "failed"
    })
    .bind(retry_at)
    .bind(error)
    .bind(REDACTED)
    .execute(db.pool())
    .await?;
    Ok(())
}

pub async fn outbox(db: &Db) -> sqlx::Result<Vec<OutboxRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM whatsapp_outbox ORDER BY id"
    )))
    .fetch_all(db.pool())
    .await
}

/// Records what Meta said about the message it knows as `provider_id`, if
/// it is further than what is recorded (`rank`: sent 1, delivered 2, read
/// 3, failed 4; failed is final). One statement decides, so two statuses
/// racing in never step back. The message's id when it moved.
pub async fn advance_delivery(
    tx: &mut Tx,
    provider_id: &str,
    status: &str,
    rank: i64,
    at: i64,
    error: Option<&str>,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "UPDATE whatsapp_outbox SET delivery_status = $2, delivery_at = $3, \
                delivery_error = COALESCE($4, delivery_error) \
         WHERE provider_id = $1 AND (delivery_status IS NULL OR \
           (CASE delivery_status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 \
                                 ELSE 4 END) < $5) \
         RETURNING id",
    )
    .bind(provider_id)
    .bind(status)
    .bind(at)
    .bind(error)
    .bind(rank)
    .fetch_optional(&mut **tx)
    .await
}
