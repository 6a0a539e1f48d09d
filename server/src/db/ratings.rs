//! Rating requests and ratings (`migrations/*/0019_ratings.sql`; the rules
//! are `crate::ratings`'). A request's token is stored only as its SHA-256.

use sqlx::{AnyExecutor, FromRow};

use super::{Tx, new_id, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    pub id: String,
    /// What is rated: a visit or a ticket, exactly one.
    pub visit_id: Option<String>,
    pub ticket_id: Option<String>,
    pub customer_id: String,
    pub cs_agent_id: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}

const REQUEST_COLUMNS: &str =
    "id, visit_id, ticket_id, customer_id, cs_agent_id, expires_at, used_at, created_at";

#[derive(Debug, Clone, FromRow)]
pub struct RatingRow {
    pub id: String,
    pub request_id: String,
    pub visit_id: Option<String>,
    pub ticket_id: Option<String>,
    pub score: i64,
    pub comment: String,
    pub via: String,
    pub created_at: i64,
}

const RATING_COLUMNS: &str = "id, request_id, visit_id, ticket_id, score, comment, via, created_at";

/// A new request for `visit_id`, attributed to `technicians` and
/// `cs_agent_id`; `None` when the visit already has one (a reopened visit
/// done again is not asked twice).
pub async fn insert_request(
    tx: &mut Tx,
    visit_id: &str,
    customer_id: &str,
    token_sha256: &str,
    cs_agent_id: Option<&str>,
    technicians: &[String],
    expires_at: i64,
) -> sqlx::Result<Option<RequestRow>> {
    let row: Option<RequestRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO rating_requests (id, visit_id, customer_id, token_sha256, cs_agent_id, \
                                      expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (visit_id) DO NOTHING \
         RETURNING {REQUEST_COLUMNS}"
    )))
    .bind(new_id())
    .bind(visit_id)
    .bind(customer_id)
    .bind(token_sha256)
    .bind(cs_agent_id)
    .bind(expires_at)
    .bind(now_ms())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(request) = &row {
        for technician in technicians {
            sqlx::query(
                "INSERT INTO rating_request_technicians (request_id, technician_id) VALUES ($1, $2)",
            )
            .bind(&request.id)
            .bind(technician)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(row)
}

/// A new request for resolved ticket `ticket_id`, attributed to its
/// assignee; `None` when the ticket already had one (a ticket reopened and
/// resolved again is not asked twice).
pub async fn insert_ticket_request(
    tx: &mut Tx,
    ticket_id: &str,
    customer_id: &str,
    token_sha256: &str,
    cs_agent_id: Option<&str>,
    expires_at: i64,
) -> sqlx::Result<Option<RequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO rating_requests (id, ticket_id, customer_id, token_sha256, cs_agent_id, \
                                      expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (ticket_id) DO NOTHING \
         RETURNING {REQUEST_COLUMNS}"
    )))
    .bind(new_id())
    .bind(ticket_id)
    .bind(customer_id)
    .bind(token_sha256)
    .bind(cs_agent_id)
    .bind(expires_at)
    .bind(now_ms())
    .fetch_optional(&mut **tx)
    .await
}

/// Spends the request whose token hashes to `token_sha256`, if it is
/// unused and not expired at `now`: at most one caller ever gets it.
pub async fn consume(
    tx: &mut Tx,
    token_sha256: &str,
    now: i64,
) -> sqlx::Result<Option<RequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE rating_requests SET used_at = $2 \
         WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING {REQUEST_COLUMNS}"
    )))
    .bind(token_sha256)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

/// The request whose token hashes to `token_sha256`.
pub async fn by_token(
    ex: impl AnyExecutor<'_>,
    token_sha256: &str,
) -> sqlx::Result<Option<RequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM rating_requests WHERE token_sha256 = $1"
    )))
    .bind(token_sha256)
    .fetch_optional(ex)
    .await
}

/// The request of a visit.
pub async fn request_of_visit(
    ex: impl AnyExecutor<'_>,
    visit_id: &str,
) -> sqlx::Result<Option<RequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM rating_requests WHERE visit_id = $1"
    )))
    .bind(visit_id)
    .fetch_optional(ex)
    .await
}

/// Records the WhatsApp message that carries a request.
pub async fn set_message(tx: &mut Tx, request_id: &str, outbox_id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE rating_requests SET whatsapp_id = $2 WHERE id = $1")
        .bind(request_id)
        .bind(outbox_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The request a WhatsApp message (outbox id) carried.
pub async fn request_of_message(
    ex: impl AnyExecutor<'_>,
    outbox_id: &str,
) -> sqlx::Result<Option<RequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM rating_requests WHERE whatsapp_id = $1"
    )))
    .bind(outbox_id)
    .fetch_optional(ex)
    .await
}

/// Where a visit's rating request stands, with its WhatsApp message.
#[derive(Debug, Clone, FromRow)]
pub struct RequestState {
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The queue's state: pending, sending, sent, failed.
    pub message_status: Option<String>,
    pub message_error: Option<String>,
    /// Meta's last word: sent, delivered, read, failed.
    pub delivery_status: Option<String>,
    pub delivery_at: Option<i64>,
    pub delivery_error: Option<String>,
    pub score: Option<i64>,
    pub comment: Option<String>,
    pub via: Option<String>,
    pub rated_at: Option<i64>,
}

/// What a rating request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rated {
    Visit,
    Ticket,
}

/// Where the rating request of a visit or a ticket stands.
pub async fn state_of(
    ex: impl AnyExecutor<'_>,
    rated: Rated,
    id: &str,
) -> sqlx::Result<Option<RequestState>> {
    let column = match rated {
        Rated::Visit => "visit_id",
        Rated::Ticket => "ticket_id",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT q.created_at, q.expires_at, q.used_at, o.status AS message_status, \
                o.last_error AS message_error, o.delivery_status, o.delivery_at, o.delivery_error, \
                r.score, r.comment, r.via, r.created_at AS rated_at \
         FROM rating_requests q LEFT JOIN whatsapp_outbox o ON o.id = q.whatsapp_id \
         LEFT JOIN ratings r ON r.request_id = q.id WHERE q.{column} = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The first names of the technicians a request is attributed to.
pub async fn technician_names(
    ex: impl AnyExecutor<'_>,
    request_id: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT u.name FROM rating_request_technicians r JOIN users u ON u.id = r.technician_id \
         WHERE r.request_id = $1 ORDER BY u.name",
    )
    .bind(request_id)
    .fetch_all(ex)
    .await
}

/// Stores the rating of a spent request.
pub async fn insert_rating(
    tx: &mut Tx,
    request: &RequestRow,
    score: i64,
    comment: &str,
    via: &str,
) -> sqlx::Result<RatingRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO ratings (id, request_id, visit_id, ticket_id, score, comment, via, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {RATING_COLUMNS}"
    )))
    .bind(new_id())
    .bind(&request.id)
    .bind(&request.visit_id)
    .bind(&request.ticket_id)
    .bind(score)
    .bind(comment)
    .bind(via)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await
}

/// The rating given through a request.
pub async fn rating_of_request(
    ex: impl AnyExecutor<'_>,
    request_id: &str,
) -> sqlx::Result<Option<RatingRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RATING_COLUMNS} FROM ratings WHERE request_id = $1"
    )))
    .bind(request_id)
    .fetch_optional(ex)
    .await
}

/// One rating as the export lists it.
#[derive(Debug, Clone, FromRow)]
pub struct ExportRow {
    pub created_at: i64,
    /// `visit` or `ticket`.
    pub kind: String,
    pub about_id: String,
    /// The visit's title, or the ticket's number and subject.
    pub about: String,
    pub customer_name: String,
    pub score: i64,
    pub comment: String,
    pub via: String,
    pub technicians: Option<String>,
    pub cs_agent: Option<String>,
}

/// Every rating given in `[from, until)`, oldest first, as a stream read
/// from a database cursor: the export never holds them all.
pub fn export(
    pool: sqlx::AnyPool,
    backend: super::Backend,
    from: i64,
    until: i64,
) -> tokio::sync::mpsc::Receiver<sqlx::Result<ExportRow>> {
    use futures_util::StreamExt as _;
    let names = match backend {
        super::Backend::Sqlite => "group_concat(u.name, ', ')",
        super::Backend::Postgres => "string_agg(u.name, ', ')",
    };
    let sql = format!(
        "SELECT r.created_at, CASE WHEN r.visit_id IS NULL THEN 'ticket' ELSE 'visit' END AS kind, \
                COALESCE(r.visit_id, r.ticket_id) AS about_id, \
                COALESCE(v.title, k.number || ' ' || k.subject) AS about, c.name AS customer_name, \
                r.score, r.comment, r.via, \
                (SELECT {names} FROM rating_request_technicians t JOIN users u ON u.id = t.technician_id \
                 WHERE t.request_id = r.request_id) AS technicians, \
                a.name AS cs_agent \
         FROM ratings r JOIN rating_requests q ON q.id = r.request_id \
         LEFT JOIN visits v ON v.id = r.visit_id LEFT JOIN tickets k ON k.id = r.ticket_id \
         JOIN customers c ON c.id = q.customer_id \
         LEFT JOIN users a ON a.id = q.cs_agent_id \
         WHERE r.created_at >= $1 AND r.created_at < $2 ORDER BY r.created_at, r.id"
    );
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut rows = sqlx::query_as::<_, ExportRow>(sqlx::AssertSqlSafe(sql))
            .bind(from)
            .bind(until)
            .fetch(&pool);
        while let Some(row) = rows.next().await {
            let failed = row.is_err();
            // The reader hung up: stop reading.
            if tx.send(row).await.is_err() || failed {
                break;
            }
        }
    });
    rx
}
