//! The help desk's logic beyond single requests: ticket and chat decisions
//! as service functions shared by HTTP and sync commands ([`tickets`],
//! [`chat`]), SLA arithmetic ([`sla`]), round-robin assignment
//! ([`assignment`]), the breach and escalation job ([`escalation`]) and the
//! WhatsApp outbound queue ([`whatsapp`]).
//!
//! One background task per instance ([`spawn_jobs`]) runs all of them on the
//! `helpdesk_job_interval` tick. Each step is safe to run on any number of
//! instances at once: every decision is a conditional update that only one
//! caller can win (see `db::tickets::mark_breach`, `set_assignee`, and the
//! outbox lease in `db::whatsapp`).

pub mod assignment;
pub mod chat;
pub mod escalation;
pub mod sla;
pub mod tickets;
pub mod whatsapp;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::AppState;
use crate::db::Tx;
use crate::db::tickets::{self as ticket_rows, TicketRow};
use crate::domain::TicketStatus;
use sla::{Calendar, ClockInput, Deadlines};

/// Help-desk state shared by handlers and jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Helpdesk {
    /// Wakes the job early (new outbound message, agent became available).
    pub wake: Arc<Notify>,
    /// For the WhatsApp Cloud API.
    pub http: reqwest::Client,
}

impl Default for Helpdesk {
    fn default() -> Self {
        Self {
            wake: Arc::new(Notify::new()),
            http: whatsapp::client(),
        }
    }
}

/// The deadlines of `ticket` as things stand, with their explanation.
pub fn deadlines_of(cal: &Calendar, ticket: &TicketRow, pauses: &[(i64, i64)]) -> Deadlines {
    sla::deadlines(cal, &clock_of(ticket, pauses))
}

fn clock_of<'a>(ticket: &TicketRow, pauses: &'a [(i64, i64)]) -> ClockInput<'a> {
    ClockInput {
        priority: ticket.priority,
        created_at: ticket.created_at,
        pauses,
        waiting_since: ticket.waiting_since,
        escalated_at: ticket.escalated_at,
    }
}

/// Recomputes and stores a ticket's deadlines (after a priority change or a
/// pause starting or ending); returns the fresh row.
pub async fn refresh_deadlines(
    tx: &mut Tx,
    cal: &Calendar,
    ticket_id: &str,
) -> sqlx::Result<TicketRow> {
    let ticket = ticket_rows::get(&mut **tx, ticket_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let pauses = ticket_rows::pauses(&mut **tx, ticket_id).await?;
    let (response_due_at, resolution_due_at) = sla::due(cal, &clock_of(&ticket, &pauses));
    // Only running clocks keep a deadline, so the breach scan stays small.
    let done = matches!(ticket.status, TicketStatus::Resolved | TicketStatus::Closed);
    let response = response_due_at.filter(|_| !done && ticket.first_response_at.is_none());
    let resolution = resolution_due_at.filter(|_| !done);
    ticket_rows::set_deadlines(tx, ticket_id, response, resolution).await?;
    ticket_rows::get(&mut **tx, ticket_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Runs SLA checks, queued assignment and the WhatsApp queue until shutdown.
pub fn spawn_jobs(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.helpdesk_job_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = state.shutdown.cancelled() => break,
                _ = tick.tick() => {}
                () = state.helpdesk.wake.notified() => {}
            }
            run_jobs_once(&state).await;
        }
    });
}

/// One pass of every job; errors are logged and retried on the next pass.
pub async fn run_jobs_once(state: &AppState) {
    // Settings another instance saved take effect here now.
    if let Err(e) = state.settings.refresh(&state.db).await {
        tracing::warn!(error = ?e, "reloading settings");
    }
    if let Err(e) = escalation::check_breaches(state, crate::db::now_ms()).await {
        tracing::warn!(error = ?e, "checking SLA breaches");
    }
    if let Err(e) = assignment::drain(state).await {
        tracing::warn!(error = ?e, "assigning queued tickets");
    }
    if let Err(e) = whatsapp::send_due(state).await {
        tracing::warn!(error = ?e, "sending WhatsApp messages");
    }
}
