//! Ticket period statistics: average first-response and resolution times and
//! the tickets handled per agent over a date range, scoped like the list.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Json, Query};
use super::ticket_views::{AgentStats, TicketPeriodStats};
use super::tickets::day_range;
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::tickets;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// `YYYY-MM-DD`, inclusive (default 30 days before `to`).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive (default today).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: Option<String>,
}

/// Average first-response and resolution times and tickets per agent, over
/// tickets created in a date range.
#[utoipa::path(get, path = "/api/v1/tickets/stats", tag = "tickets", security(("bearer" = [])),
    params(StatsParams),
    responses((status = 200, body = TicketPeriodStats), (status = 422, body = crate::error::Problem)))]
pub async fn stats(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<StatsParams>,
) -> ApiResult<Json<TicketPeriodStats>> {
    actor.authorize(Action::TicketStats)?;
    let tz = state.calendar().time_zone().clone();
    let today = jiff::Timestamp::now().to_zoned(tz).date().to_string();
    let to_day = p.to.unwrap_or(today);
    let (_, to) = day_range(&state, "to", &to_day)?;
    let from_day = match p.from {
        Some(f) => f,
        None => to_day
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.checked_sub(jiff::ToSpan::days(30)).ok())
            .map(|d| d.to_string())
            .unwrap_or_default(),
    };
    let (from, _) = day_range(&state, "from", &from_day)?;
    if from >= to {
        return Err(ApiError::field("from", t!("problem-filter-from-after-to")));
    }
    let (s, agents) = tickets::period_stats(&state.db, &actor.ticket_scope(), from, to).await?;
    Ok(Json(TicketPeriodStats {
        from: from_day,
        to: to_day,
        tickets: s.tickets,
        responded: s.responded,
        avg_first_response_secs: s.avg_first_response_ms.map(|ms| ms / 1000.0),
        resolved: s.resolved,
        avg_resolution_secs: s.avg_resolution_ms.map(|ms| ms / 1000.0),
        sla: s.sla.into(),
        agents: agents
            .into_iter()
            .map(|a| AgentStats {
                user_id: a.assignee_id,
                name: a.name,
                assigned: a.assigned,
                resolved: a.resolved,
                sla: a.sla.into(),
            })
            .collect(),
    }))
}
