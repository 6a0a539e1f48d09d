//! Marks SLA breaches and escalates, exactly once per ticket and clock across
//! restarts and instances: the breach is claimed by a conditional update
//! (`db::tickets::mark_breach`) in the same transaction as the escalation, so a
//! crash before commit leaves it for the next pass and a second instance finds
//! it already claimed.
//!
//! Escalating raises the priority one step (urgent stays urgent) and
//! recomputes the deadlines for the raised priority, counted from the
//! escalation (so the SLA explanation and the numbers always agree, and a
//! clock not yet missed is never due in the past: one miss never escalates
//! twice), adds a system note, writes the
//! audit trail, and emits `ticket.sla_breached` to the department's staff
//! and to the department lead.

use crate::AppState;
use crate::db::tickets::{self, Breach, TicketChanges};
use crate::db::{audit, departments};
use crate::events::{Happened, Notice, SlaBreached};
use crate::work::{Effects, Work};

/// Escalates every ticket whose deadline passed by `now`; returns how many
/// breaches this call claimed.
pub async fn check_breaches(state: &AppState, now: i64) -> anyhow::Result<usize> {
    let mut claimed = 0;
    for (id, kind) in tickets::due_breaches(&state.db, now, 500).await? {
        let breach = if kind == "response" {
            Breach::Response
        } else {
            Breach::Resolution
        };
        let mut work = Work::begin(state).await?;
        let tx = work.tx();
        if !tickets::mark_breach(tx, &id, breach, now).await? {
            continue;
        }
        let Some(ticket) = tickets::get(&mut **tx, &id).await? else {
            continue;
        };
        let raised = ticket.priority.raised();
        if raised != ticket.priority {
            tickets::update_fields(
                tx,
                &id,
                &TicketChanges {
                    priority: Some(raised),
                    ..TicketChanges::default()
                },
            )
            .await?;
        }
        // The breached clock keeps its breach (it never fires twice); the
        // other runs to the raised priority's target.
        crate::helpdesk::refresh_deadlines(tx, &state.calendar(), &id).await?;
        // Read later in each reader's language.
        let (from, to) = (ticket.priority.to_string(), raised.to_string());
        let note = crate::i18n::stored(
            "stored-sla-escalated",
            &[
                ("breach", breach.as_str().into()),
                ("from", (&from).into()),
                ("to", (&to).into()),
            ],
        );
        tickets::add_message(tx, &id, None, "system", &note, true).await?;
        let detail = serde_json::json!({
            "breach": breach.as_str(),
            "from_priority": ticket.priority,
            "to_priority": raised,
        });
        audit::record(
            tx,
            None,
            "ticket.sla_breached",
            "ticket",
            &id,
            detail.clone(),
        )
        .await?;
        // The raised priority reaches the phones; the note is internal.
        let synced = crate::sync::tickets::project(tx, &state.db, &id).await?;
        let breached = Happened::TicketSlaBreached(SlaBreached {
            ticket_id: id.clone(),
            number: ticket.number.clone(),
            breach: breach.as_str(),
            priority: raised,
            department_id: ticket.department_id.clone(),
        });
        let mut told = vec![Notice::department(&ticket.department_id, breached.clone())];
        if let Some(lead) = departments::get(&mut **tx, &ticket.department_id)
            .await?
            .and_then(|d| d.lead_user_id)
        {
            told.push(Notice::user(&lead, breached));
        }
        work.commit(Effects::told(told).with_changed(synced))
            .await?;
        claimed += 1;
        tracing::info!(ticket = %ticket.number, breach = breach.as_str(), "SLA breached; escalated");
    }
    Ok(claimed)
}
