//! Journeys, their versions and the answers tickets were opened with
//! (`migrations/*/0021_journeys.sql`; the rules are `crate::journeys`').

use sqlx::{AnyExecutor, FromRow};

use super::{Tx, now_ms};

#[derive(Debug, Clone, FromRow)]
pub struct JourneyRow {
    pub id: String,
    pub title_id: String,
    pub title_en: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct VersionRow {
    pub journey_id: String,
    pub version: i64,
    pub status: String,
    pub definition: String,
    pub doc_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_by: Option<String>,
    pub published_at: Option<i64>,
    pub retired_at: Option<i64>,
}

/// A journey in a list: its latest version's status and number.
#[derive(Debug, Clone, FromRow)]
pub struct ListRow {
    pub id: String,
    pub title_id: String,
    pub title_en: String,
    pub updated_at: i64,
    /// The published version, if any.
    pub published: Option<i64>,
    /// The draft being edited, if any.
    pub draft: Option<i64>,
    /// The newest version of all.
    pub latest: i64,
}

const JOURNEY: &str = "id, title_id, title_en, created_by, created_at, updated_at";
const VERSION: &str = "journey_id, version, status, definition, doc_id, created_by, created_at, \
                       updated_at, published_by, published_at, retired_at";

pub async fn insert(
    tx: &mut Tx,
    id: &str,
    title: (&str, &str),
    by: &str,
) -> sqlx::Result<JourneyRow> {
    let now = now_ms();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO journeys (id, title_id, title_en, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {JOURNEY}"
    )))
    .bind(id)
    .bind(title.0)
    .bind(title.1)
    .bind(by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn get(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Option<JourneyRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {JOURNEY} FROM journeys WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Locks a journey's row for a change to its versions (a no-op on SQLite,
/// whose writers are serial).
pub async fn lock(
    tx: &mut Tx,
    backend: super::Backend,
    id: &str,
) -> sqlx::Result<Option<JourneyRow>> {
    let lock = if backend == super::Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {JOURNEY} FROM journeys WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn set_title(tx: &mut Tx, id: &str, title: (&str, &str)) -> sqlx::Result<()> {
    sqlx::query("UPDATE journeys SET title_id = $2, title_en = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(title.0)
        .bind(title.1)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Every journey, most recently changed first.
pub async fn list(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<ListRow>> {
    sqlx::query_as(
        "SELECT j.id, j.title_id, j.title_en, j.updated_at, \
                MAX(CASE WHEN v.status = 'published' THEN v.version END) AS published, \
                MAX(CASE WHEN v.status = 'draft' THEN v.version END) AS draft, \
                MAX(v.version) AS latest \
         FROM journeys j JOIN journey_versions v ON v.journey_id = j.id \
         GROUP BY j.id, j.title_id, j.title_en, j.updated_at \
         ORDER BY j.updated_at DESC, j.id LIMIT 500",
    )
    .fetch_all(ex)
    .await
}

/// Every published version, by journey title.
pub async fn published(ex: impl AnyExecutor<'_>) -> sqlx::Result<Vec<VersionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT v.{} FROM journey_versions v JOIN journeys j ON j.id = v.journey_id \
         WHERE v.status = 'published' ORDER BY j.title_id, j.id",
        VERSION.replace(", ", ", v.")
    )))
    .fetch_all(ex)
    .await
}

/// The versions of a journey, newest first.
pub async fn versions(ex: impl AnyExecutor<'_>, id: &str) -> sqlx::Result<Vec<VersionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VERSION} FROM journey_versions WHERE journey_id = $1 ORDER BY version DESC"
    )))
    .bind(id)
    .fetch_all(ex)
    .await
}

pub async fn version(
    ex: impl AnyExecutor<'_>,
    id: &str,
    version: i64,
) -> sqlx::Result<Option<VersionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VERSION} FROM journey_versions WHERE journey_id = $1 AND version = $2"
    )))
    .bind(id)
    .bind(version)
    .fetch_optional(ex)
    .await
}

/// A new draft version.
pub async fn insert_draft(
    tx: &mut Tx,
    id: &str,
    version: i64,
    definition: &str,
    by: &str,
) -> sqlx::Result<VersionRow> {
    let now = now_ms();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO journey_versions (journey_id, version, status, definition, created_by, \
                                       created_at, updated_at) \
         VALUES ($1, $2, 'draft', $3, $4, $5, $5) RETURNING {VERSION}"
    )))
    .bind(id)
    .bind(version)
    .bind(definition)
    .bind(by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// Rewrites a draft's definition; `false` if the version is no draft.
pub async fn update_draft(
    tx: &mut Tx,
    id: &str,
    version: i64,
    definition: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE journey_versions SET definition = $3, updated_at = $4 \
         WHERE journey_id = $1 AND version = $2 AND status = 'draft'",
    )
    .bind(id)
    .bind(version)
    .bind(definition)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Retires the published version, if there is one; returns it.
pub async fn retire_published(tx: &mut Tx, id: &str, at: i64) -> sqlx::Result<Option<VersionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE journey_versions SET status = 'retired', retired_at = $2, updated_at = $2 \
         WHERE journey_id = $1 AND status = 'published' RETURNING {VERSION}"
    )))
    .bind(id)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await
}

/// Publishes a draft with its document's id; `false` if it is no draft.
pub async fn publish(
    tx: &mut Tx,
    id: &str,
    version: i64,
    doc_id: &str,
    by: &str,
    at: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE journey_versions SET status = 'published', doc_id = $3, published_by = $4, \
                                     published_at = $5, updated_at = $5 \
         WHERE journey_id = $1 AND version = $2 AND status = 'draft'",
    )
    .bind(id)
    .bind(version)
    .bind(doc_id)
    .bind(by)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The answers a ticket was opened with.
#[derive(Debug, Clone, FromRow)]
pub struct TicketJourneyRow {
    pub ticket_id: String,
    pub journey_id: String,
    pub version: i64,
    pub end_id: String,
    pub answers: String,
    pub propose_visit: i64,
    pub started_at: i64,
    pub submitted_at: i64,
}

pub async fn record_answers(tx: &mut Tx, row: &TicketJourneyRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO ticket_journeys (ticket_id, journey_id, version, end_id, answers, \
                                      propose_visit, started_at, submitted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&row.ticket_id)
    .bind(&row.journey_id)
    .bind(row.version)
    .bind(&row.end_id)
    .bind(&row.answers)
    .bind(row.propose_visit)
    .bind(row.started_at)
    .bind(row.submitted_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn answers_of(
    ex: impl AnyExecutor<'_>,
    ticket_id: &str,
) -> sqlx::Result<Option<TicketJourneyRow>> {
    sqlx::query_as(
        "SELECT ticket_id, journey_id, version, end_id, answers, propose_visit, started_at, \
                submitted_at FROM ticket_journeys WHERE ticket_id = $1",
    )
    .bind(ticket_id)
    .fetch_optional(ex)
    .await
}
