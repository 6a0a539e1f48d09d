//! Journeys over HTTP: admins build, check, publish and retire them;
//! customers list the published ones and submit one (phones usually do
//! both offline, over sync); staff read the answers a ticket was opened
//! with. The rules are [`crate::journeys`]'; this module parses, calls and
//! renders.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::AppendHeaders;
use fieldops_sync::journey::{Answers, Definition};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path};
use super::ticket_views::TicketView;
use crate::AppState;
use crate::auth::Actor;
use crate::db::journeys::{ListRow, VersionRow};
use crate::domain::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::helpdesk::assignment;
use crate::journeys::{self, ImageBytes, Submission, render::TicketAnswers};
use crate::work::{Effects, Work};

/// A journey in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct JourneySummary {
    pub id: String,
    pub title_id: String,
    pub title_en: String,
    /// The version customers get, if one is published.
    pub published_version: Option<i64>,
    /// The version being edited, if any.
    pub draft_version: Option<i64>,
    pub latest_version: i64,
    pub updated_at: String,
}

impl From<ListRow> for JourneySummary {
    fn from(r: ListRow) -> Self {
        Self {
            id: r.id,
            title_id: r.title_id,
            title_en: r.title_en,
            published_version: r.published,
            draft_version: r.draft,
            latest_version: r.latest,
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// One version of a journey.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub journey_id: String,
    pub version: i64,
    /// `draft`, `published` or `retired`.
    pub status: String,
    /// The definition (see the README, "Journeys").
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    pub created_at: String,
    pub published_at: Option<String>,
    pub retired_at: Option<String>,
}

impl From<&VersionRow> for VersionView {
    fn from(v: &VersionRow) -> Self {
        Self {
            journey_id: v.journey_id.clone(),
            version: v.version,
            status: v.status.clone(),
            definition: serde_json::from_str(&v.definition).unwrap_or_default(),
            created_at: rfc3339(v.created_at),
            published_at: v.published_at.map(rfc3339),
            retired_at: v.retired_at.map(rfc3339),
        }
    }
}

/// A journey and its versions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JourneyView {
    pub id: String,
    pub title_id: String,
    pub title_en: String,
    pub versions: Vec<VersionView>,
}

/// A definition to save as a draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    /// The definition (see the README, "Journeys").
    #[schema(value_type = Object)]
    pub definition: Definition,
}

/// A filled-in journey.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The ticket's id, if the client chose one.
    pub ticket_id: Option<Uuid>,
    /// The version the form was filled in on.
    pub version: i64,
    /// When the form was started, Unix ms.
    pub started_at_ms: i64,
    /// Answers by question id: `{"choice": "id"}`, `{"choices": [...]}`,
    /// `{"text": "..."}`, `{"number": 3}`, `{"date": "2026-12-05"}`,
    /// `{"images": ["<sha256>", ...]}` (photos uploaded first).
    #[schema(value_type = Object)]
    pub answers: Answers,
}

/// Every journey (admins).
#[utoipa::path(get, path = "/api/v1/journeys", tag = "journeys", security(("bearer" = [])),
    responses((status = 200, body = Vec<JourneySummary>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<JourneySummary>>> {
    let rows = journeys::list(&state, &actor).await?;
    Ok(Json(rows.into_iter().map(JourneySummary::from).collect()))
}

/// Start a journey: version 1, a draft (admins). A draft need not be
/// valid yet; publishing checks it.
#[utoipa::path(post, path = "/api/v1/journeys", tag = "journeys", security(("bearer" = [])),
    request_body = DraftRequest,
    responses((status = 201, body = VersionView), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<DraftRequest>,
) -> ApiResult<(
    StatusCode,
    AppendHeaders<[(header::HeaderName, String); 1]>,
    Json<VersionView>,
)> {
    let mut work = Work::begin(&state).await?;
    let applied = journeys::create(work.tx(), &actor, &req.definition).await?;
    let location = format!("/api/v1/journeys/{}", applied.value.journey_id);
    let body = work
        .respond(
            Effects::told(applied.notices),
            StatusCode::CREATED,
            VersionView::from(&applied.value),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(header::LOCATION, location)]),
        Json(body),
    ))
}

/// A journey with every version (admins).
#[utoipa::path(get, path = "/api/v1/journeys/{id}", tag = "journeys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = JourneyView), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<JourneyView>> {
    let detail = journeys::detail(&state, &actor, &id.to_string()).await?;
    Ok(Json(JourneyView {
        id: detail.journey.id.clone(),
        title_id: detail.journey.title_id.clone(),
        title_en: detail.journey.title_en.clone(),
        versions: detail.versions.iter().map(VersionView::from).collect(),
    }))
}

/// Save the draft (admins): the current draft is replaced; with none, the
/// next version is started (a published version never changes).
#[utoipa::path(put, path = "/api/v1/journeys/{id}/draft", tag = "journeys", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = DraftRequest,
    responses((status = 200, body = VersionView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn save_draft(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<DraftRequest>,
) -> ApiResult<Json<VersionView>> {
    let mut work = Work::begin(&state).await?;
    let applied =
        journeys::save_draft(work.tx(), &state, &actor, &id.to_string(), &req.definition).await?;
    let body = work
        .respond(
            Effects::told(applied.notices),
            StatusCode::OK,
            VersionView::from(&applied.value),
        )
        .await?;
    Ok(Json(body))
}

/// Check a definition for publishing without saving it (admins): 204, or
/// 422 listing every problem with its node (`nodes.<node>.<field>`).
#[utoipa::path(post, path = "/api/v1/journeys/check", tag = "journeys", security(("bearer" = [])),
    request_body = DraftRequest,
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn check(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<DraftRequest>,
) -> ApiResult<StatusCode> {
    journeys::check(&state, &actor, &req.definition).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publish the draft (admins): it is validated (422 names each offending
/// node), the version before it is retired and customers' phones receive
/// the new one.
#[utoipa::path(post, path = "/api/v1/journeys/{id}/publish", tag = "journeys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VersionView), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn publish(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<VersionView>> {
    let mut work = Work::begin(&state).await?;
    let applied = journeys::publish(work.tx(), &state, &actor, &id.to_string()).await?;
    let effects = Effects::told(applied.notices).with_changed(applied.value.synced);
    let body = work
        .respond(
            effects,
            StatusCode::OK,
            VersionView::from(&applied.value.version),
        )
        .await?;
    Ok(Json(body))
}

/// Retire the published version (admins): phones drop it; forms started on
/// it may still be submitted.
#[utoipa::path(post, path = "/api/v1/journeys/{id}/retire", tag = "journeys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VersionView), (status = 409, body = crate::error::Problem)))]
pub async fn retire(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<VersionView>> {
    let mut work = Work::begin(&state).await?;
    let applied = journeys::retire(work.tx(), &state, &actor, &id.to_string()).await?;
    let effects = Effects::told(applied.notices).with_changed(applied.value.synced);
    let body = work
        .respond(
            effects,
            StatusCode::OK,
            VersionView::from(&applied.value.version),
        )
        .await?;
    Ok(Json(body))
}

/// The journeys a customer may fill in: the published versions.
#[utoipa::path(get, path = "/api/v1/journeys/published", tag = "journeys", security(("bearer" = [])),
    responses((status = 200, body = Vec<VersionView>), (status = 403, body = crate::error::Problem)))]
pub async fn published(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<VersionView>>> {
    let versions = journeys::published(&state, &actor).await?;
    Ok(Json(
        versions.iter().map(|(v, _)| VersionView::from(v)).collect(),
    ))
}

/// Submit a filled-in journey (customers): the answers are checked against
/// the version (422 names each offending question, `answers.<question>`)
/// and the ticket opens with the category, priority and department of the
/// end reached.
#[utoipa::path(post, path = "/api/v1/journeys/{id}/submissions", tag = "journeys", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SubmitRequest,
    responses((status = 201, body = TicketView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn submit(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<SubmitRequest>,
) -> ApiResult<(
    StatusCode,
    AppendHeaders<[(header::HeaderName, String); 1]>,
    Json<TicketView>,
)> {
    let submission = Submission {
        ticket_id: req.ticket_id.map(|t| t.to_string()),
        journey_id: id.to_string(),
        version: req.version,
        started_at_ms: req.started_at_ms,
        clock_skew_ms: None,
        answers: req.answers,
    };
    let mut work = Work::begin(&state).await?;
    let applied =
        journeys::submit(work.tx(), &state, &actor, &submission, ImageBytes::Uploaded).await?;
    let row = applied.value.ticket;
    let assigned = assignment::assign_queued(work.tx(), &state).await?;
    let row = crate::db::tickets::get(&mut **work.tx(), &row.id)
        .await?
        .unwrap_or(row);
    let location = format!("/api/v1/tickets/{}", row.id);
    let effects = Effects::told(applied.notices)
        .with_changed(applied.value.synced)
        .and(assigned);
    let body = work
        .respond(
            effects,
            StatusCode::CREATED,
            super::tickets::view(&state, row, &[]),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(header::LOCATION, location)]),
        Json(body),
    ))
}

/// The journey a ticket was opened with: the answers, with the questions as
/// they were in the version answered, and whether each photo has arrived
/// (404 for a ticket opened without one).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/journey", tag = "journeys", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TicketAnswers), (status = 404, body = crate::error::Problem)))]
pub async fn ticket_answers(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<TicketAnswers>> {
    journeys::answers_of_ticket(&state, &actor, &id.to_string())
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("journey"))
}
