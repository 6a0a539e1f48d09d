//! Round-robin auto-assignment of unassigned tickets (and chats), each
//! switched on or off by admins in the settings (`crate::settings`).
//!
//! Eligible agents: active `cs` or `admin` accounts that are members of the
//! ticket's department, whose presence is `available`, and who are within
//! their shift (minutes of the day in the SLA calendar's time zone; no shift
//! means any time). Tickets go urgent first, then oldest first. Among the
//! eligible agents the one assigned least recently goes next (ties by id), so
//! the rotation stays fair over time even as agents come and go. Every
//! assignment records why the agent was chosen.
//!
//! [`drain`] runs after a ticket is created, when an agent becomes available,
//! and on every job tick, so work queued while nobody was available (tickets,
//! and conversations opened with nobody available) is handed out as soon as
//! someone is.

use jiff::Timestamp;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::rotation::{self, Candidate, rotate};
use crate::db::tickets::{self, AssignMethod};
use crate::db::{Tx, audit, now_ms, users};
use crate::events::{ConversationAssigned, Happened, Notice, RoundRobin, TicketAssigned};
use crate::service::ServiceError;
use crate::work::{Effects, Work};

/// Whether `minute` (of the day) is within `[start, end)`, wrapping past midnight.
pub fn within_shift(start: Option<i64>, end: Option<i64>, minute: i64) -> bool {
    match (start, end) {
        (Some(s), Some(e)) if s <= e => (s..e).contains(&minute),
        (Some(s), Some(e)) => minute >= s || minute < e,
        _ => true,
    }
}

/// The agents who could take work at `minute` of the day, least recently
/// assigned first.
async fn candidates(tx: &mut Tx, minute: i64) -> sqlx::Result<Vec<Candidate>> {
    Ok(rotation::available(tx)
        .await?
        .into_iter()
        .filter(|c| within_shift(c.shift_start_min, c.shift_end_min, minute))
        .collect())
}

/// The current minute of the day in the calendar's time zone.
fn minute_of_day(state: &AppState) -> i64 {
    let now = Timestamp::now().to_zoned(state.calendar().time_zone().clone());
    i64::from(now.hour()) * 60 + i64::from(now.minute())
}

/// Assigns queued tickets one by one until none can be; returns how many.
pub async fn drain(state: &AppState) -> anyhow::Result<usize> {
    let mut assigned = drain_conversations(state).await?;
    loop {
        let mut work = Work::begin(state).await?;
        let Some(effects) = assign_next(work.tx(), state).await? else {
            break;
        };
        work.commit(effects).await?;
        assigned += 1;
        if assigned >= 10_000 {
            break;
        }
    }
    Ok(assigned)
}

/// Assigns every queued ticket that has an eligible agent inside `tx`: for
/// a change that queues a ticket and answers with it assigned (creation).
pub async fn assign_queued(tx: &mut Tx, state: &AppState) -> anyhow::Result<Effects> {
    let mut effects = Effects::none();
    for _ in 0..100 {
        match assign_next(tx, state).await? {
            Some(more) => effects = effects.and(more),
            None => break,
        }
    }
    Ok(effects)
}

/// Assigns the most urgent, oldest queued ticket that has an eligible agent,
/// in `tx`; `None` (and nothing written) when there is none.
async fn assign_next(tx: &mut Tx, state: &AppState) -> anyhow::Result<Option<Effects>> {
    // Switched off in the settings: queued tickets wait for CS.
    if !state.settings.get().settings.assignment.tickets_round_robin {
        return Ok(None);
    }
    let now = now_ms();
    let agents = candidates(tx, minute_of_day(state)).await?;
    if agents.is_empty() {
        return Ok(None);
    }
    let mut departments: Vec<&str> = agents.iter().map(|a| a.department_id.as_str()).collect();
    departments.sort_unstable();
    departments.dedup();
    let Some((ticket_id, department_id, priority)) =
        rotation::next_queued_ticket(tx, &departments).await?
    else {
        return Ok(None);
    };
    // `agents` is ordered least recently assigned first.
    let pool: Vec<&Candidate> = agents
        .iter()
        .filter(|a| a.department_id == department_id)
        .collect();
    let Some(agent) = pool.first() else {
        return Ok(None);
    };
    // Kept as a catalogue reference: each reader reads it in their language.
    let last = crate::domain::rfc3339(agent.last_assigned_at);
    let pool_size = pool.len();
    let priority = priority.to_string();
    let reason = if agent.last_assigned_at == 0 {
        crate::i18n::stored(
            "stored-assign-round-robin-first",
            &[("pool", pool_size.into()), ("priority", (&priority).into())],
        )
    } else {
        crate::i18n::stored(
            "stored-assign-round-robin",
            &[
                ("pool", pool_size.into()),
                ("priority", (&priority).into()),
                ("last", (&last).into()),
            ],
        )
    };
    if !tickets::set_assignee(
        tx,
        &ticket_id,
        &agent.user_id,
        None,
        AssignMethod::RoundRobin,
        &reason,
        true,
    )
    .await?
    {
        return Ok(None);
    }
    rotate(tx, &agent.user_id, now).await?;
    audit::record(
        tx,
        None,
        "ticket.assigned",
        "ticket",
        &ticket_id,
        serde_json::json!({ "assignee_id": agent.user_id, "method": "round_robin", "reason": reason }),
    )
    .await?;
    let synced = crate::sync::tickets::project(tx, &state.db, &ticket_id).await?;
    let mut effects = Effects::none().with_changed(synced);
    if let Some(t) = tickets::get(&mut **tx, &ticket_id).await? {
        let assigned = Happened::TicketAssigned(TicketAssigned::RoundRobin(RoundRobin {
            ticket_id: t.id,
            number: t.number,
            assignee_id: agent.user_id.clone(),
            method: "round_robin",
        }));
        effects = effects.with_told([
            Notice::department(&t.department_id, assigned.clone()),
            Notice::user(&agent.user_id, assigned),
        ]);
    }
    Ok(Some(effects))
}

/// Routes conversations opened while nobody was available; returns how many.
pub async fn drain_conversations(state: &AppState) -> anyhow::Result<usize> {
    let department =
        crate::db::departments::by_name(&state.db, &state.config.ticket_default_department)
            .await?
            .map(|d| d.id);
    let waiting = crate::db::chat::unassigned(state.db.pool(), 500).await?;
    let mut routed = 0;
    for (id, customer_id) in waiting {
        let mut work = Work::begin(state).await?;
        let tx = work.tx();
        let Some(agent) = pick_for_chat(state, tx, department.as_deref()).await? else {
            break;
        };
        if !crate::db::chat::assign_if_unassigned(tx, &id, &agent).await? {
            continue;
        }
        audit::record(
            tx,
            None,
            "conversation.assigned",
            "conversation",
            &id,
            serde_json::json!({ "assignee_id": agent, "method": "round_robin" }),
        )
        .await?;
        // The customer who was told nobody could answer hears who did (only
        // them: not every old conversation that waited in the inbox).
        let told = if crate::db::chat::has_system_message(tx, &id).await? {
            let name = crate::db::users::get(&mut **tx, &agent)
                .await?
                .map(|u| u.name)
                .unwrap_or_default();
            let channel = crate::db::chat::customer_and_channel(&mut **tx, &id)
                .await?
                .map(|(_, channel)| channel)
                .unwrap_or_default();
            crate::helpdesk::chat::tell_customer(tx, state, &id, &customer_id, &channel, |lang| {
                lang.text_with(
                    "chat-system-picked-up",
                    &[("name", crate::i18n::Arg::Text(&name))],
                )
            })
            .await?
        } else {
            Vec::new()
        };
        let assigned = Happened::ConversationAssigned(ConversationAssigned {
            conversation_id: id,
            customer_id,
            assignee_id: agent.clone(),
        });
        work.commit(Effects::told(vec![Notice::user(&agent, assigned)]).with_told(told))
            .await?;
        routed += 1;
    }
    Ok(routed)
}

/// Picks the next available agent of `department_id` for a new chat, and
/// moves them to the back of the line. `None` when nobody is available.
pub async fn pick_for_chat(
    state: &AppState,
    tx: &mut Tx,
    department_id: Option<&str>,
) -> sqlx::Result<Option<String>> {
    // Switched off in the settings: new chats wait in the inbox.
    if !state.settings.get().settings.assignment.chats_round_robin {
        return Ok(None);
    }
    let agents = candidates(tx, minute_of_day(state)).await?;
    let Some(agent) = agents
        .iter()
        .find(|a| department_id.is_none_or(|d| a.department_id == d))
    else {
        return Ok(None);
    };
    rotate(tx, &agent.user_id, now_ms()).await?;
    Ok(Some(agent.user_id.clone()))
}

/// Picks the next available agent of `department_id` for a customer's
/// call, passing over those in a call already (`busy`), and moves them to
/// the back of the line. `None` when nobody can take it. Calls go round
/// whatever the chat setting: a ringing phone cannot wait in an inbox.
pub async fn pick_for_call(
    state: &AppState,
    tx: &mut Tx,
    department_id: Option<&str>,
    busy: &[String],
) -> sqlx::Result<Option<String>> {
    let agents = candidates(tx, minute_of_day(state)).await?;
    let Some(agent) = agents
        .iter()
        .find(|a| department_id.is_none_or(|d| a.department_id == d) && !busy.contains(&a.user_id))
    else {
        return Ok(None);
    };
    rotate(tx, &agent.user_id, now_ms()).await?;
    Ok(Some(agent.user_id.clone()))
}

fn minutes(field: &str, v: &str) -> Result<i64, ServiceError> {
    let t = jiff::civil::Time::strptime("%H:%M", v.trim())
        .map_err(|_| ServiceError::field(field, crate::t!("problem-shift-time-format")))?;
    Ok(i64::from(t.hour()) * 60 + i64::from(t.minute()))
}

/// Sets a staff member's shift, `start` to `end` as `HH:MM` in the SLA
/// calendar's time zone (an `end` before `start` runs past midnight), or
/// clears it (neither given: any time). Wake the assigner after commit.
pub async fn set_shift(
    tx: &mut Tx,
    actor: &Actor,
    user_id: &str,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<(), ServiceError> {
    actor.authorize(Action::ManageShifts)?;
    let user = users::get(&mut **tx, user_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("user"))?;
    if !user.role.is_staff() {
        return Err(ServiceError::field(
            "id",
            crate::t!("problem-shift-customer"),
        ));
    }
    let shift = match (start, end) {
        (None, None) => None,
        (Some(s), Some(e)) => {
            let (s, e) = (minutes("start", s)?, minutes("end", e)?);
            if s == e {
                return Err(ServiceError::field(
                    "end",
                    crate::t!("problem-shift-same-start-end"),
                ));
            }
            Some((s, e))
        }
        _ => {
            return Err(ServiceError::field(
                "end",
                crate::t!("problem-shift-start-and-end"),
            ));
        }
    };
    rotation::set_shift(tx, &user.id, shift).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "user.shift_set",
        "user",
        &user.id,
        serde_json::json!({ "start": start, "end": end }),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::within_shift;

    #[test]
    fn shifts_wrap_past_midnight() {
        assert!(within_shift(None, None, 0));
        assert!(within_shift(Some(480), Some(960), 480));
        assert!(!within_shift(Some(480), Some(960), 960));
        assert!(within_shift(Some(1320), Some(360), 60));
        assert!(!within_shift(Some(1320), Some(360), 720));
    }
}
