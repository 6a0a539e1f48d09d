//! KPI and analytics over HTTP: the table per subject, one subject's time
//! series, the real-time counts, and each as CSV. What the numbers mean and
//! who sees which row is [`crate::kpi`]'s; this module parses, calls and
//! renders.

use axum::extract::State;
use axum::response::Response;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Query};
use crate::AppState;
use crate::auth::Actor;
use crate::csv::{self, Separator};
use crate::error::{ApiError, ApiResult};
use crate::kpi::formulas::{Period, date_of, day_of};
use crate::kpi::{self, Days, Kpis, Live, Point, Row, Subject};

/// The longest span one request may cover.
const MAX_DAYS: i64 = 3 * 366;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardParams {
    /// `technician`, `agent`, `department` or `all` (default `technician`).
    pub subject: Option<String>,
    /// `YYYY-MM-DD`, inclusive, sites' calendar (default 29 days before `to`).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive (default today).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: Option<String>,
    /// CSV only: `comma` (default) or `semicolon`.
    pub sep: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// `technician`, `agent`, `department` or `all`.
    pub subject: Option<String>,
    /// The technician's, agent's or department's id; none for `all`.
    pub id: Option<String>,
    /// `day`, `week` (ISO) or `month` (default `week`).
    pub period: Option<String>,
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: Option<String>,
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: Option<String>,
    /// CSV only: `comma` (default) or `semicolon`.
    pub sep: Option<String>,
}

/// The KPI table of one kind of subject over a span of days.
#[derive(Debug, Serialize, ToSchema)]
pub struct Board {
    pub subject: Subject,
    pub from: String,
    pub to: String,
    /// Ranked rows (5 ratings or more) first, by CSAT; then the rest.
    pub rows: Vec<Row>,
}

/// One subject's KPIs per period.
#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    pub subject: Subject,
    pub id: String,
    pub period: String,
    pub from: String,
    pub to: String,
    pub points: Vec<Point>,
}

/// Parses the span of days `from`..=`to`; `default_days` back from `to`
/// when `from` is missing.
pub fn days(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
    default_days: i64,
) -> ApiResult<Days> {
    let date = |field: &str, text: &str| {
        text.parse::<Date>()
            .map_err(|_| ApiError::field(field, t!("problem-filter-date-format")))
    };
    let today = date_of(day_of(
        crate::db::now_ms(),
        state.config.attendance.utc_offset_minutes,
    ));
    let to = to.map_or(Ok(today), |t| date("to", t))?;
    let from = match from {
        Some(f) => date("from", f)?,
        None => to
            .checked_sub(jiff::Span::new().days(default_days - 1))
            .unwrap_or(to),
    };
    let days = Days::between(from, to)
        .ok_or_else(|| ApiError::field("from", t!("problem-filter-from-after-to")))?;
    if days.last - days.first >= MAX_DAYS {
        return Err(ApiError::field("from", t!("problem-filter-span-too-long")));
    }
    Ok(days)
}

fn subject(text: Option<&str>, default: Subject) -> ApiResult<Subject> {
    text.map_or(Ok(default), |s| {
        Subject::parse(s)
            .ok_or_else(|| ApiError::field("subject", t!("problem-filter-kpi-subject")))
    })
}

pub(crate) fn separator(text: Option<&str>) -> ApiResult<Separator> {
    text.map_or(Ok(Separator::Comma), |s| {
        Separator::parse(s)
            .ok_or_else(|| ApiError::field("sep", t!("problem-filter-csv-separator")))
    })
}

pub(crate) async fn board_of(state: &AppState, actor: &Actor, p: &BoardParams) -> ApiResult<Board> {
    let subject = subject(p.subject.as_deref(), Subject::Technician)?;
    let days = days(state, p.from.as_deref(), p.to.as_deref(), 30)?;
    let rows = kpi::board(state, actor, subject, days).await?;
    Ok(Board {
        subject,
        from: date_of(days.first).to_string(),
        to: date_of(days.last).to_string(),
        rows,
    })
}

/// KPIs per technician, CS agent or department (or overall): ratings (CSAT,
/// average, n, response rate), help desk (first response, resolution, SLA
/// compliance, reopen rate; business time) and field work (visits done,
/// on-time rate, absences, extensions, days over plan). Managers see every
/// row; others their own (and a department lead the department's).
#[utoipa::path(get, path = "/api/v1/kpi", tag = "kpi", security(("bearer" = [])),
    params(BoardParams),
    responses((status = 200, body = Board), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn board(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<BoardParams>,
) -> ApiResult<Json<Board>> {
    Ok(Json(board_of(&state, &actor, &p).await?))
}

pub(crate) async fn series_of(
    state: &AppState,
    actor: &Actor,
    p: &SeriesParams,
) -> ApiResult<Series> {
    let subject = subject(p.subject.as_deref(), Subject::All)?;
    let id = match (subject, p.id.as_deref()) {
        (Subject::All, _) => String::new(),
        (_, Some(id)) if !id.is_empty() => id.to_owned(),
        _ => return Err(ApiError::field("id", t!("problem-filter-kpi-id-required"))),
    };
    let period = p.period.as_deref().map_or(Ok(Period::Week), |s| {
        Period::parse(s).ok_or_else(|| ApiError::field("period", t!("problem-filter-kpi-period")))
    })?;
    let default_days = match period {
        Period::Day => 30,
        Period::Week => 12 * 7,
        Period::Month => 365,
    };
    let days = days(state, p.from.as_deref(), p.to.as_deref(), default_days)?;
    let points = kpi::series(state, actor, subject, &id, period, days).await?;
    Ok(Series {
        subject,
        id,
        period: period.as_str().to_owned(),
        from: date_of(days.first).to_string(),
        to: date_of(days.last).to_string(),
        points,
    })
}

/// One subject's KPIs per day, ISO week or month (sites' calendar), every
/// period of the span present.
#[utoipa::path(get, path = "/api/v1/kpi/series", tag = "kpi", security(("bearer" = [])),
    params(SeriesParams),
    responses((status = 200, body = Series), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn series(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<SeriesParams>,
) -> ApiResult<Json<Series>> {
    Ok(Json(series_of(&state, &actor, &p).await?))
}

/// Real-time: active tickets, queue depth, agents by presence, technicians
/// on site, visits open in the pool.
#[utoipa::path(get, path = "/api/v1/kpi/live", tag = "kpi", security(("bearer" = [])),
    responses((status = 200, body = Live), (status = 403, body = crate::error::Problem)))]
pub async fn live(State(state): State<AppState>, actor: Actor) -> ApiResult<Json<Live>> {
    Ok(Json(kpi::live(&state, &actor).await?))
}

/// The header of a KPI CSV after its first `lead` columns.
pub const KPI_COLUMNS: [&str; 26] = [
    "ratings_sent",
    "ratings",
    "ratings_4_or_5",
    "csat_pct",
    "average_rating",
    "response_rate_pct",
    "ranked",
    "tickets_created",
    "tickets_responded",
    "avg_first_response_secs",
    "response_sla_pct",
    "tickets_resolved",
    "avg_resolution_secs",
    "resolution_sla_pct",
    "tickets_reopened",
    "reopen_rate_pct",
    "calls_made",
    "calls_answered",
    "visits_done",
    "visit_days",
    "on_time",
    "late",
    "absent",
    "on_time_rate_pct",
    "extensions_asked",
    "extensions_approved",
];

/// The cells of [`KPI_COLUMNS`] (plus the average days over plan).
pub fn kpi_cells(k: &Kpis, sep: Separator) -> Vec<String> {
    let (r, h, f) = (&k.ratings, &k.helpdesk, &k.field);
    let d = |v: Option<f64>, places| sep.decimal(v, places);
    vec![
        r.sent.to_string(),
        r.answered.to_string(),
        r.satisfied.to_string(),
        d(r.csat_pct, 1),
        d(r.average, 2),
        d(r.response_rate_pct, 1),
        r.ranked.to_string(),
        h.created.to_string(),
        h.responded.to_string(),
        d(h.avg_first_response_secs, 0),
        d(h.response_sla_pct, 1),
        h.resolved.to_string(),
        d(h.avg_resolution_secs, 0),
        d(h.resolution_sla_pct, 1),
        h.reopened.to_string(),
        d(h.reopen_rate_pct, 1),
        h.calls_made.to_string(),
        h.calls_answered.to_string(),
        f.visits_done.to_string(),
        f.expected_days.to_string(),
        f.on_time.to_string(),
        f.late.to_string(),
        f.absent.to_string(),
        d(f.on_time_rate_pct, 1),
        f.extensions_asked.to_string(),
        f.extensions_approved.to_string(),
        d(f.avg_days_over_plan, 2),
    ]
}

fn header(lead: &[&str]) -> Vec<String> {
    lead.iter()
        .chain(KPI_COLUMNS.iter())
        .chain(std::iter::once(&"avg_days_over_plan"))
        .map(|c| (*c).to_owned())
        .collect()
}

/// The KPI table as CSV (UTF-8 with BOM; `sep=semicolon` for spreadsheets
/// set to Indonesian).
#[utoipa::path(get, path = "/api/v1/kpi.csv", tag = "kpi", security(("bearer" = [])),
    params(BoardParams),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn board_csv(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<BoardParams>,
) -> ApiResult<Response> {
    let sep = separator(p.sep.as_deref())?;
    Ok(board_download(board_of(&state, &actor, &p).await?, sep))
}

/// A KPI table as a CSV download.
pub(crate) fn board_download(board: Board, sep: Separator) -> Response {
    let name = format!(
        "kpi-{}-{}-{}.csv",
        board.subject.as_str(),
        board.from,
        board.to
    );
    let head = csv::record(header(&["subject", "id", "name"]), sep);
    let rows = board.rows.into_iter().map(move |row| {
        let mut cells = vec![row.subject.as_str().to_owned(), row.subject_id, row.name];
        cells.extend(kpi_cells(&row.kpis, sep));
        csv::record(cells, sep)
    });
    csv::download(
        &name,
        futures_util::stream::iter(std::iter::once(head).chain(rows)),
    )
}

/// One subject's time series as CSV.
#[utoipa::path(get, path = "/api/v1/kpi/series.csv", tag = "kpi", security(("bearer" = [])),
    params(SeriesParams),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn series_csv(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<SeriesParams>,
) -> ApiResult<Response> {
    let sep = separator(p.sep.as_deref())?;
    Ok(series_download(series_of(&state, &actor, &p).await?, sep))
}

/// A time series as a CSV download.
pub(crate) fn series_download(series: Series, sep: Separator) -> Response {
    let name = format!(
        "kpi-{}-{}-{}-{}.csv",
        series.subject.as_str(),
        series.period,
        series.from,
        series.to
    );
    let head = csv::record(header(&["period"]), sep);
    let rows = series.points.into_iter().map(move |point| {
        let mut cells = vec![point.period];
        cells.extend(kpi_cells(&point.kpis, sep));
        csv::record(cells, sep)
    });
    csv::download(
        &name,
        futures_util::stream::iter(std::iter::once(head).chain(rows)),
    )
}
