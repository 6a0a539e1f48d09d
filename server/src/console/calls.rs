//! `POST /calls/signal`: the console's call signals. The browser hears its
//! calls on the tab's event stream (`call-signal` events, see
//! [`super::live`]) and speaks here, one [`CallMessage`] as JSON per request
//! with the session's CSRF header; `calls.js` does both and runs the
//! browser's own WebRTC. The rules are [`crate::calls`]'.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use fieldops_sync::call::CallMessage;

use super::render::date_time;
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::calls;
use crate::db::calls::LogFilter;

/// Handles one signal: 204 when taken, 200 with the refusal (a
/// `CallUpdate`) when not, 400 when the body is no call message.
pub(super) async fn signal(
    State(state): State<AppState>,
    console: Console,
    body: Bytes,
) -> Response {
    let message: CallMessage = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(_) => {
            let text = console.lang.text("call-refused-malformed");
            return (StatusCode::BAD_REQUEST, text).into_response();
        }
    };
    match calls::signal(&state, &console.actor, message.clone()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(refused) => Json(refused.update(&message, console.lang)).into_response(),
    }
}

/// A call in a page's call log.
#[derive(Clone)]
pub(super) struct LogLine {
    pub when: String,
    pub direction: String,
    pub agent: String,
    /// `hangup`, `missed`, ... or the state of a call not over.
    pub outcome_key: String,
    pub outcome: String,
    /// `m:ss`, for a call that was answered.
    pub duration: String,
}

/// The calls a page lists (a ticket's, a customer's), newest first; empty
/// for those who may not read the call log.
pub(super) async fn log(
    state: &AppState,
    console: &Console,
    filter: LogFilter,
) -> Result<Vec<LogLine>, Response> {
    if !console.actor.allows(Action::ViewCalls) {
        return Ok(Vec::new());
    }
    let lang = console.lang;
    let offset = state.config.attendance.utc_offset_minutes;
    let rows = calls::log_rows(state, &console.actor, filter)
        .await
        .map_err(|e| super::common::internal(lang, &e))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let c = row.call;
            let outcome_key = c.end_reason.clone().unwrap_or_else(|| c.state.clone());
            let outcome = match &c.end_reason {
                Some(reason) => lang.text(&format!("call-ended-{reason}")),
                None => lang.text(&format!("call-state-{}", c.state)),
            };
            let duration = match (c.answered_at, c.ended_at) {
                (Some(a), Some(e)) => {
                    let secs = (e - a).max(0) / 1000;
                    format!("{}:{:02}", secs / 60, secs % 60)
                }
                _ => String::new(),
            };
            LogLine {
                when: date_time(lang, c.created_at, offset),
                direction: lang.text(&format!("call-direction-{}", c.direction)),
                agent: row.agent_name.unwrap_or_default(),
                outcome_key,
                outcome,
                duration,
            }
        })
        .collect())
}
