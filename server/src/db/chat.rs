//! Live chat: conversations between a customer and CS, their messages, and
//! how far each reader has read (unread = newer than their mark, not their own).

use sqlx::{AnyExecutor, FromRow};

use super::{Db, Tx, like_contains, new_id, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct ConversationRow {
    pub id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub assignee_id: Option<String>,
    pub channel: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_at: i64,
    pub last_message: Option<String>,
    pub unread_count: i64,
}

/// Selects conversations as seen by reader `$1`.
const SELECT: &str = "SELECT c.id, c.customer_id, cu.name AS customer_name, c.assignee_id, c.channel, \
       c.created_at, c.updated_at, c.last_message_at, \
       (SELECT m.body FROM chat_messages m WHERE m.conversation_id = c.id AND m.sender_kind <> 'system' \
        ORDER BY m.id DESC LIMIT 1) AS last_message, \
       (SELECT COUNT(*) FROM chat_messages m WHERE m.conversation_id = c.id \
          AND (m.sender_id IS NULL OR m.sender_id <> $1) \
          AND (m.sender_kind <> 'system' OR $1 IN (SELECT u.id FROM users u WHERE u.customer_id = c.customer_id)) \
          AND m.id > COALESCE((SELECT r.last_read_id FROM chat_reads r \
                               WHERE r.conversation_id = c.id AND r.user_id = $1), '')) AS unread_count \
     FROM conversations c JOIN customers cu ON cu.id = c.customer_id";

#[derive(Debug, Clone, FromRow)]
pub struct ChatMessageRow {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: Option<String>,
    pub sender_kind: String,
    pub body: String,
    pub client_id: Option<String>,
    pub created_at: i64,
    /// An image the message carries (one a customer sent on WhatsApp).
    pub attachment_sha256: Option<String>,
}

const MESSAGE_COLUMNS: &str =
    "id, conversation_id, sender_id, sender_kind, body, client_id, created_at, attachment_sha256";

pub async fn create(
    tx: &mut Tx,
    customer_id: &str,
    assignee_id: Option<&str>,
    channel: &str,
) -> sqlx::Result<String> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO conversations (id, customer_id, assignee_id, channel, created_at, updated_at, last_message_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $5)",
    )
    .bind(&id)
    .bind(customer_id)
    .bind(assignee_id)
    .bind(channel)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// The customer and the channel (`app`, `whatsapp`) of conversation `id`.
pub async fn customer_and_channel(
    ex: impl AnyExecutor<'_>,
    id: &str,
) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as("SELECT customer_id, channel FROM conversations WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn get(
    ex: impl AnyExecutor<'_>,
    id: &str,
    reader: &str,
) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE c.id = $2")))
        .bind(reader)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The customer's most recent conversation on `channel` (`app`,
/// `whatsapp`), if any: a customer who writes from both has one of each, so
/// a reply goes back where they wrote.
pub async fn latest_of_customer(
    tx: &mut Tx,
    customer_id: &str,
    channel: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT id FROM conversations WHERE customer_id = $1 AND channel = $2 \
         ORDER BY last_message_at DESC, id DESC LIMIT 1",
    )
    .bind(customer_id)
    .bind(channel)
    .fetch_optional(&mut **tx)
    .await
}

/// Most recent activity first; `customer_id` limits to one customer, `search`
/// matches the customer's name or any message.
pub async fn list(
    db: &Db,
    reader: &str,
    customer_id: Option<&str>,
    search: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<ConversationRow>> {
    let pattern = search.map(like_contains);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($2 IS NULL OR c.customer_id = $2) \
           AND ($3 IS NULL OR lower(cu.name) LIKE $3 ESCAPE '\\' \
                OR EXISTS (SELECT 1 FROM chat_messages s WHERE s.conversation_id = c.id \
                           AND lower(s.body) LIKE $3 ESCAPE '\\')) \
           AND ($4 IS NULL OR c.last_message_at < (SELECT x.last_message_at FROM conversations x WHERE x.id = $4) \
                OR (c.last_message_at = (SELECT x.last_message_at FROM conversations x WHERE x.id = $4) AND c.id < $4)) \
         ORDER BY c.last_message_at DESC, c.id DESC LIMIT $5"
    )))
    .bind(reader)
    .bind(customer_id)
    .bind(pattern)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await
}

/// Adds a message (with the image `attachment_sha256`, if any) unless one
/// with the same `client_id` is already in the conversation; returns the
/// stored message and whether it is new.
pub async fn add_message(
    tx: &mut Tx,
    conversation_id: &str,
    sender: (Option<&str>, &str),
    body: &str,
    client_id: Option<&str>,
    attachment_sha256: Option<&str>,
) -> sqlx::Result<(ChatMessageRow, bool)> {
    let (sender_id, sender_kind) = sender;
    let now = now_ms();
    let inserted: Option<ChatMessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO chat_messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (conversation_id, client_id) DO NOTHING RETURNING {MESSAGE_COLUMNS}"
    )))
    .bind(new_id())
    .bind(conversation_id)
    .bind(sender_id)
    .bind(sender_kind)
    .bind(body)
    .bind(client_id)
    .bind(now)
    .bind(attachment_sha256)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = inserted {
        sqlx::query("UPDATE conversations SET last_message_at = $2, updated_at = $2 WHERE id = $1")
            .bind(conversation_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        return Ok((row, true));
    }
    let existing = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE conversation_id = $1 AND client_id = $2"
    )))
    .bind(conversation_id)
    .bind(client_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok((existing, false))
}

/// The conversation of a customer's message with this client id, if any.
pub async fn by_client_id(
    tx: &mut Tx,
    customer_id: &str,
    client_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT m.conversation_id FROM chat_messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE c.customer_id = $1 AND m.client_id = $2 LIMIT 1",
    )
    .bind(customer_id)
    .bind(client_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Whether a message of conversation `id` carries image `sha256`.
pub async fn holds_image(ex: impl AnyExecutor<'_>, id: &str, sha256: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM chat_messages WHERE conversation_id = $1 AND attachment_sha256 = $2",
    )
    .bind(id)
    .bind(sha256)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

/// Newest first, `limit + 1` rows.
pub async fn messages(
    ex: impl AnyExecutor<'_>,
    conversation_id: &str,
    before: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<ChatMessageRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE conversation_id = $1 \
           AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    )))
    .bind(conversation_id)
    .bind(before)
    .bind(i64::from(limit) + 1)
    .fetch_all(ex)
    .await
}

/// Marks everything up to the newest message read by `user_id`.
pub async fn mark_read(tx: &mut Tx, conversation_id: &str, user_id: &str) -> sqlx::Result<()> {
    let newest: Option<String> =
        sqlx::query_scalar("SELECT MAX(id) FROM chat_messages WHERE conversation_id = $1")
            .bind(conversation_id)
            .fetch_one(&mut **tx)
            .await?;
    let Some(newest) = newest else { return Ok(()) };
    sqlx::query(
        "INSERT INTO chat_reads (conversation_id, user_id, last_read_id) VALUES ($1, $2, $3) \
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_id = $3 \
         WHERE chat_reads.last_read_id < $3",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(newest)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Conversations nobody was routed to (nobody was available), oldest
/// activity first: `(id, customer_id)`.
pub async fn unassigned(
    ex: impl AnyExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT id, customer_id FROM conversations WHERE assignee_id IS NULL \
         ORDER BY last_message_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Whether the system has said anything in conversation `id` (the
/// customer was told nobody was available).
pub async fn has_system_message(tx: &mut Tx, id: &str) -> sqlx::Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM chat_messages WHERE conversation_id = $1 AND sender_kind = 'system' LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

/// Gives conversation `id` to `agent` unless someone has it; false if so.
pub async fn assign_if_unassigned(tx: &mut Tx, id: &str, agent: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE conversations SET assignee_id = $2 WHERE id = $1 AND assignee_id IS NULL",
    )
    .bind(id)
    .bind(agent)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
