//! Ratings over HTTP: where a visit's rating request stands (its WhatsApp
//! message, Meta's delivery status, the rating), and every rating as CSV.
//! The rules are [`crate::ratings`]'.

use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::kpi::{days, separator};
use crate::AppState;
use crate::auth::Actor;
use crate::csv;
use crate::domain::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::kpi::formulas::date_of;

/// Where a visit's rating request stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingRequestView {
    pub requested_at: String,
    pub expires_at: String,
    /// When the link was spent (the rating's time).
    pub used_at: Option<String>,
    /// The WhatsApp queue: `pending`, `sending`, `sent`, `failed`.
    pub message_status: Option<String>,
    pub message_error: Option<String>,
    /// Meta's last status: `sent`, `delivered`, `read`, `failed`.
    pub delivery_status: Option<String>,
    pub delivery_at: Option<String>,
    pub delivery_error: Option<String>,
    pub rating: Option<RatingView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RatingView {
    #[schema(minimum = 1, maximum = 5)]
    pub score: i64,
    pub comment: String,
    /// `link` (the WhatsApp link's page) or `app`.
    pub via: String,
    pub created_at: String,
}

/// The rating request of a done visit, with its message's delivery and the
/// rating once given (staff who may see customers).
#[utoipa::path(get, path = "/api/v1/visits/{id}/rating", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RatingRequestView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn visit_rating(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RatingRequestView>> {
    let r = crate::ratings::state_of_visit(&state, &actor, &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("rating request"))?;
    Ok(Json(request_view(r)))
}

/// The rating request of a resolved ticket (asked when `after_ticket` is
/// on), with its message's delivery and the rating once given (staff who
/// may see customers and the ticket).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/rating", tag = "tickets", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RatingRequestView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn ticket_rating(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RatingRequestView>> {
    let r = crate::ratings::state_of_ticket(&state, &actor, &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("rating request"))?;
    Ok(Json(request_view(r)))
}

fn request_view(r: crate::db::ratings::RequestState) -> RatingRequestView {
    let rating = match (r.score, r.rated_at) {
        (Some(score), Some(at)) => Some(RatingView {
            score,
            comment: r.comment.unwrap_or_default(),
            via: r.via.unwrap_or_default(),
            created_at: rfc3339(at),
        }),
        _ => None,
    };
    RatingRequestView {
        requested_at: rfc3339(r.created_at),
        expires_at: rfc3339(r.expires_at),
        used_at: r.used_at.map(rfc3339),
        message_status: r.message_status,
        message_error: r.message_error,
        delivery_status: r.delivery_status,
        delivery_at: r.delivery_at.map(rfc3339),
        delivery_error: r.delivery_error,
        rating,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: Option<String>,
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: Option<String>,
    /// `comma` (default) or `semicolon`.
    pub sep: Option<String>,
}

/// Every rating given in a span of days (managers), streamed from the
/// database as CSV: when (sites' time), visit, customer, score, comment,
/// where it came from, the technicians and the CS agent it counts for.
#[utoipa::path(get, path = "/api/v1/ratings.csv", tag = "kpi", security(("bearer" = [])),
    params(ExportParams),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn ratings_csv(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    actor.authorize(crate::auth::Action::ViewAllKpi)?;
    let sep = separator(p.sep.as_deref())?;
    let days = days(&state, p.from.as_deref(), p.to.as_deref(), 30)?;
    let offset = state.config.attendance.utc_offset_minutes;
    let (from, until) = (
        crate::kpi::formulas::day_start(days.first, offset),
        crate::kpi::formulas::day_start(days.last + 1, offset),
    );
    let rows = crate::db::ratings::export(state.db.pool().clone(), state.db.backend(), from, until);
    let zone = jiff::tz::TimeZone::fixed(
        jiff::tz::Offset::from_seconds(i32::try_from(offset * 60).unwrap_or(0))
            .unwrap_or(jiff::tz::Offset::UTC),
    );
    let head = csv::record(
        [
            "rated_at",
            "kind",
            "id",
            "visit_or_ticket",
            "customer",
            "score",
            "comment",
            "via",
            "technicians",
            "cs_agent",
        ],
        sep,
    );
    let records = futures_util::stream::unfold(rows, move |mut rows| {
        let zone = zone.clone();
        async move {
            match rows.recv().await? {
                Ok(r) => {
                    let at = jiff::Timestamp::from_millisecond(r.created_at)
                        .map(|t| t.to_zoned(zone).strftime("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default();
                    let line = csv::record(
                        [
                            at,
                            r.kind,
                            r.about_id,
                            r.about,
                            r.customer_name,
                            r.score.to_string(),
                            r.comment,
                            r.via,
                            r.technicians.unwrap_or_default(),
                            r.cs_agent.unwrap_or_default(),
                        ],
                        sep,
                    );
                    Some((line, rows))
                }
                Err(e) => {
                    // Headers are gone: the file ends here, and the log says why.
                    tracing::error!(error = %e, "exporting ratings");
                    None
                }
            }
        }
    });
    let name = format!("ratings-{}-{}.csv", date_of(days.first), date_of(days.last));
    Ok(csv::download(
        &name,
        futures_util::stream::once(async move { head }).chain(records),
    ))
}
