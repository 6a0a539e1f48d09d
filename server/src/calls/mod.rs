//! Calls between staff and customers: the server's half of the signalling
//! in [`fieldops_sync::call`], and the call log.
//!
//! Every signal from any channel (a phone's sync session, a console's
//! event socket, the console's HTTP form) comes here through [`signal`],
//! which checks the sender is in the call, applies the change of state in
//! one unit of work (the `calls` row and a `call.updated` event for the
//! consoles' timelines commit together) and then hands what each device
//! must hear to the [relay](relay). A refusal goes back to the sender only,
//! and nothing is relayed: a message for a call the sender is not in, an
//! offer before the call is answered, a description over its limit.
//!
//! State is in the database, not in an instance's memory, so the two
//! devices of a call may be connected to different instances; the row is
//! locked for each change, so of two devices answering at once one wins.
//! The server ends a call by itself when it rings unanswered past
//! `[calls] ring_timeout_secs` (missed), when the caller's connection drops
//! while it rings (missed), and when a chosen device stays disconnected
//! past `[calls] grace_secs` (failed): a timer on the instance that saw it,
//! and a sweep on every instance in case that one stopped.

pub mod ice;
pub mod push;
pub mod relay;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldops_sync::call::{
    CallEvent, CallMessage, CallUpdate, Callee, EndReason, Media, Refusal, Signal,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use self::push::{CallPush, PushProvider};
use self::relay::{CallRelay, Delivery, Recipient};
use crate::AppState;
use crate::auth::policy::Action;
use crate::db::calls::{self, CallRow};
use crate::db::{Tx, now_ms};
use crate::domain::{Actor, Presence, Role, Status, rfc3339};
use crate::events::{Audience, Happened, Notice};
use crate::i18n::Lang;
use crate::keyed_locks::unpoisoned;
use crate::work::{Effects, Work};

/// This instance's share of the calls: the relay, and how many live
/// connections each device session holds here (a console may have two
/// tabs open; only the last one closing loses the device).
#[derive(Debug, Clone)]
pub struct Calls {
    pub relay: CallRelay,
    /// Wakes phones without a live connection.
    pub push: Arc<dyn PushProvider>,
    connections: Arc<Mutex<HashMap<String, u32>>>,
}

impl Calls {
    pub fn new(relay: CallRelay, push: Arc<dyn PushProvider>) -> Self {
        Self {
            relay,
            push,
            connections: Arc::default(),
        }
    }
}

/// Why a signal was refused.
#[derive(Debug)]
pub struct Refused {
    pub refusal: Refusal,
    /// The catalogue key of the message for a person.
    key: &'static str,
}

impl Refused {
    fn new(refusal: Refusal, key: &'static str) -> Self {
        Self { refusal, key }
    }

    fn unknown() -> Self {
        Self::new(Refusal::UnknownCall, "call-refused-unknown")
    }

    fn out_of_turn() -> Self {
        Self::new(Refusal::Invalid, "call-refused-out-of-turn")
    }

    /// The refusal as the sender hears it, in `lang`.
    pub fn update(&self, message: &CallMessage, lang: Lang) -> CallUpdate {
        CallUpdate {
            call_id: message.call_id,
            seq: message.seq,
            event: CallEvent::Refused {
                refusal: self.refusal,
                message: lang.text(self.key),
            },
        }
    }
}

impl From<sqlx::Error> for Refused {
    fn from(e: sqlx::Error) -> Self {
        anyhow::Error::new(e).into()
    }
}

impl From<anyhow::Error> for Refused {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = ?e, "a call signal failed");
        Self::new(Refusal::Internal, "call-refused-internal")
    }
}

const RINGING: &str = "ringing";
const CONNECTED: &str = "connected";
const ENDED: &str = "ended";

/// Handles one signal from the device `actor` is signed in on. `Ok` also
/// for a duplicate, which changes nothing; an `Err` is for the sender alone
/// ([`Refused::update`]).
pub async fn signal(state: &AppState, actor: &Actor, message: CallMessage) -> Result<(), Refused> {
    if message.seq == 0 || message.check_limits().is_err() {
        return Err(Refused::new(Refusal::Invalid, "call-refused-invalid"));
    }
    if let Signal::Sdp { sdp: text, .. } | Signal::Candidate { candidate: text } = &message.signal
        && text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t'))
    {
        return Err(Refused::new(Refusal::Invalid, "call-refused-invalid"));
    }
    let deliveries = match &message.signal {
        Signal::Invite {
            callee,
            ticket_id,
            media,
        } => invite(state, actor, &message, *callee, *ticket_id, *media).await?,
        _ => change(state, actor, &message).await?,
    };
    state.calls.relay.send(deliveries).await?;
    Ok(())
}

/// The devices of the side that was called.
fn callee_devices(call: &CallRow, except_session: Option<String>) -> Recipient {
    match &call.agent_id {
        Some(agent) if call.direction == "inbound" => Recipient::User {
            user_id: agent.clone(),
            except_session,
        },
        _ => Recipient::Customer {
            customer_id: call.customer_id.clone(),
            except_session,
        },
    }
}

fn to_session(session_id: &str) -> Recipient {
    Recipient::Session {
        session_id: session_id.to_owned(),
    }
}

fn update(call: &CallRow, event: CallEvent) -> CallUpdate {
    CallUpdate {
        call_id: call.id,
        seq: u32::try_from(call.version).unwrap_or(u32::MAX),
        event,
    }
}

/// The event consoles hear on every change of a call, for the timelines.
fn logged(call: &CallRow) -> Effects {
    let updated = Happened::CallUpdated(call.into());
    let staff = Audience::Staff {
        department_id: call.department_id.clone(),
    };
    let mut told = vec![Notice::to(staff, updated.clone())];
    if let Some(agent) = &call.agent_id {
        told.push(Notice::user(agent, updated));
    }
    Effects::told(told)
}

async fn invite(
    state: &AppState,
    actor: &Actor,
    message: &CallMessage,
    callee: Callee,
    ticket_id: Option<Uuid>,
    media: Media,
) -> Result<Vec<Delivery>, Refused> {
    // The wire lets a nil id through; stored, it would be an id nothing can
    // read back (`CallRow` refuses it), so it is refused here.
    if message.call_id.as_uuid().is_nil() {
        return Err(Refused::new(Refusal::Invalid, "call-refused-invalid"));
    }
    let id = message.call_id.to_string();
    let mut work = Work::begin(state).await?;
    if let Some(existing) = calls::get(&mut **work.tx(), &id).await? {
        // A resent invite is the same call; anyone else's is not theirs.
        return if existing.caller_session == actor.session_id {
            Ok(Vec::new())
        } else {
            Err(Refused::unknown())
        };
    }
    let now = now_ms();
    let ticket_id = ticket_id.map(|t| t.to_string());
    let (direction, customer_id, agent, department_id) = match callee {
        Callee::Customer { customer_id } => {
            let customer_id = customer_id.to_string();
            let department_id =
                staff_may_call(work.tx(), actor, &customer_id, ticket_id.as_deref()).await?;
            (
                "outbound",
                customer_id,
                Some(actor.user_id.clone()),
                department_id,
            )
        }
        Callee::Support => {
            if !actor.allows(Action::CallSupport) {
                return Err(Refused::new(Refusal::Forbidden, "call-refused-forbidden"));
            }
            let customer_id = actor
                .customer_id
                .clone()
                .ok_or_else(|| Refused::new(Refusal::Forbidden, "call-refused-forbidden"))?;
            let department_id =
                support_department(state, work.tx(), &customer_id, ticket_id.as_deref()).await?;
            let busy = calls::busy_staff(&mut **work.tx()).await?;
            let agent = crate::helpdesk::assignment::pick_for_call(
                state,
                work.tx(),
                department_id.as_deref(),
                &busy,
            )
            .await?;
            ("inbound", customer_id, agent, department_id)
        }
    };
    let mut call = CallRow {
        id: message.call_id,
        direction: direction.to_owned(),
        caller_id: actor.user_id.clone(),
        caller_session: actor.session_id.clone(),
        customer_id,
        agent_id: agent,
        ticket_id,
        department_id,
        media: media.as_str().to_owned(),
        state: RINGING.to_owned(),
        end_reason: None,
        ended_by: None,
        version: 1,
        caller_seq: i64::from(message.seq),
        callee_seq: 0,
        callee_session: None,
        answered_by: None,
        created_at: now,
        expires_at: now + millis(state.config.calls.ring_timeout_secs),
        rang_at: None,
        answered_at: None,
        ended_at: None,
        caller_lost_at: None,
        callee_lost_at: None,
    };
    // Nobody to take a customer's call: it is logged as missed, and the
    // customer is told at once to write instead.
    if call.agent_id.is_none() {
        end(&mut call, EndReason::Missed, None, now);
        calls::insert(work.tx(), &call).await?;
        work.commit(logged(&call)).await?;
        return Err(Refused::new(Refusal::NoAgent, "call-refused-no-agent"));
    }
    let busy = calls::customer_busy(&mut **work.tx(), &call.customer_id).await?
        || (call.direction == "outbound"
            && calls::busy_staff(&mut **work.tx())
                .await?
                .contains(&actor.user_id));
    if busy {
        end(&mut call, EndReason::Busy, None, now);
        calls::insert(work.tx(), &call).await?;
        work.commit(logged(&call)).await?;
        let ended = update(
            &call,
            CallEvent::Ended {
                reason: EndReason::Busy,
            },
        );
        return Ok(vec![Delivery {
            to: to_session(&call.caller_session),
            update: ended,
        }]);
    }
    calls::insert(work.tx(), &call).await?;
    let caller_name = match (actor.role, &call.agent_id) {
        // A customer's call shows the customer's name to the agent.
        (Role::Customer, _) => crate::db::customers::get(&mut **work.tx(), &call.customer_id)
            .await?
            .map_or_else(|| actor.name.clone(), |c| c.name),
        _ => actor.name.clone(),
    };
    work.commit(logged(&call)).await?;
    spawn_timer(
        state,
        &call.id.to_string(),
        state.config.calls.ring_timeout_secs,
    );
    spawn_pushes(state, &call, &caller_name);
    let ice_servers = ice::servers(&state.config.calls, &actor.user_id, now);
    let incoming = incoming(state, &call, &caller_name, now);
    Ok(vec![
        Delivery {
            to: to_session(&call.caller_session),
            update: update(&call, CallEvent::Placed { ice_servers }),
        },
        Delivery {
            to: callee_devices(&call, None),
            update: update(&call, incoming),
        },
    ])
}

/// What a callee device is shown: the pop-up's facts and its ICE servers.
fn incoming(state: &AppState, call: &CallRow, caller_name: &str, now: i64) -> CallEvent {
    let callee = call.agent_id.as_deref().unwrap_or(&call.customer_id);
    CallEvent::Incoming {
        caller_name: caller_name.chars().take(120).collect(),
        from_staff: call.direction == "outbound",
        ticket_id: call.ticket_id.as_deref().and_then(|t| t.parse().ok()),
        media: call.media.parse().unwrap_or(Media::Audio),
        ice_servers: ice::servers(&state.config.calls, callee, now),
        expires_at_ms: call.expires_at,
    }
}

/// Pushes the invite to the callee's registered devices, in the
/// background: a push that fails is logged; the call rings on the live
/// devices all the same.
fn spawn_pushes(state: &AppState, call: &CallRow, caller_name: &str) {
    let state = state.clone();
    let push = CallPush {
        call_id: call.id.to_string(),
        caller_name: caller_name.to_owned(),
        ticket_id: call.ticket_id.clone(),
        media: call.media.clone(),
        expires_at_ms: call.expires_at,
    };
    let (inbound, agent, customer) = (
        call.direction == "inbound",
        call.agent_id.clone(),
        call.customer_id.clone(),
    );
    tokio::spawn(async move {
        let account = match (inbound, agent) {
            (true, agent) => agent,
            (false, _) => crate::db::users::account_of_customer(state.db.pool(), &customer)
                .await
                .unwrap_or_default(),
        };
        let Some(account) = account else {
            return;
        };
        let tokens = match calls::push_tokens_of(state.db.pool(), &[account]).await {
            Ok(tokens) => tokens,
            Err(e) => return tracing::warn!(error = %e, "reading push tokens"),
        };
        for token in &tokens {
            if let Err(e) = state.calls.push.send(token, &push).await {
                tracing::warn!(error = ?e, platform = token.platform, "a call push failed");
            }
        }
    });
}

/// Registers the push token of the device `actor` is signed in on (one per
/// device session, replaced by the next; it goes with the session).
pub async fn register_push(
    state: &AppState,
    actor: &Actor,
    platform: &str,
    token: &str,
) -> Result<(), crate::service::ServiceError> {
    use crate::service::ServiceError;
    crate::service::allow(actor, Action::RegisterPush)?;
    let mut problems = Vec::new();
    if !matches!(platform, "fcm" | "apns_voip") {
        problems.push(crate::service::FieldError::new(
            "platform",
            crate::t!("problem-call-push-platform"),
        ));
    }
    if token.is_empty()
        || token.len() > 4096
        || token.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        problems.push(crate::service::FieldError::new(
            "token",
            crate::t!("problem-call-push-token"),
        ));
    }
    if !problems.is_empty() {
        return Err(ServiceError::Invalid(problems));
    }
    let mut work = Work::begin(state).await?;
    let row = calls::PushTokenRow {
        session_id: actor.session_id.clone(),
        user_id: actor.user_id.clone(),
        platform: platform.to_owned(),
        token: token.to_owned(),
        updated_at: now_ms(),
    };
    calls::set_push_token(work.tx(), &row).await?;
    work.commit(Effects::none()).await?;
    Ok(())
}

/// Forgets the push token of the device `actor` is signed in on.
pub async fn forget_push(
    state: &AppState,
    actor: &Actor,
) -> Result<(), crate::service::ServiceError> {
    crate::service::allow(actor, Action::RegisterPush)?;
    let mut work = Work::begin(state).await?;
    calls::delete_push_token(work.tx(), &actor.session_id).await?;
    work.commit(Effects::none()).await?;
    Ok(())
}

/// Checks staff may call `customer_id` now; returns the call's department.
async fn staff_may_call(
    tx: &mut Tx,
    actor: &Actor,
    customer_id: &str,
    ticket_id: Option<&str>,
) -> Result<Option<String>, Refused> {
    if !actor.allows(Action::CallCustomer) {
        return Err(Refused::new(Refusal::Forbidden, "call-refused-forbidden"));
    }
    let me = crate::db::users::get(&mut **tx, &actor.user_id).await?;
    if me.is_none_or(|u| u.presence != Presence::Available) {
        return Err(Refused::new(
            Refusal::NotAvailable,
            "call-refused-not-available",
        ));
    }
    let customer = crate::db::customers::get(&mut **tx, customer_id).await?;
    if customer.is_none_or(|c| c.status != Status::Active) {
        return Err(Refused::new(Refusal::Invalid, "call-refused-no-customer"));
    }
    let admin = actor.role == Role::Admin;
    match ticket_id {
        Some(ticket_id) => {
            let ticket = crate::db::tickets::get(&mut **tx, ticket_id)
                .await?
                .filter(|t| t.customer_id == customer_id)
                .ok_or_else(|| Refused::new(Refusal::Invalid, "call-refused-no-ticket"))?;
            if !admin && !actor.in_department(&ticket.department_id) {
                return Err(Refused::new(Refusal::Forbidden, "call-refused-department"));
            }
            Ok(Some(ticket.department_id))
        }
        None => {
            if !admin
                && !calls::serves(
                    &mut **tx,
                    customer_id,
                    &actor.user_id,
                    &actor.department_ids,
                )
                .await?
            {
                return Err(Refused::new(Refusal::Forbidden, "call-refused-department"));
            }
            // Logged under the caller's department, so only its staff read it.
            Ok(actor.department_ids.first().cloned())
        }
    }
}

/// The department a customer's call goes to: its ticket's, else the
/// default help-desk department's.
async fn support_department(
    state: &AppState,
    tx: &mut Tx,
    customer_id: &str,
    ticket_id: Option<&str>,
) -> Result<Option<String>, Refused> {
    if let Some(ticket_id) = ticket_id {
        let ticket = crate::db::tickets::get(&mut **tx, ticket_id)
            .await?
            .filter(|t| t.customer_id == customer_id)
            .ok_or_else(|| Refused::new(Refusal::Invalid, "call-refused-no-ticket"))?;
        return Ok(Some(ticket.department_id));
    }
    Ok(
        crate::db::departments::by_name(&state.db, &state.config.ticket_default_department)
            .await?
            .map(|d| d.id),
    )
}

fn millis(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn end(call: &mut CallRow, reason: EndReason, by: Option<&str>, now: i64) {
    call.state = ENDED.to_owned();
    call.end_reason = Some(reason.as_str().to_owned());
    call.ended_by = by.map(str::to_owned);
    call.ended_at = Some(now);
    call.caller_lost_at = None;
    call.callee_lost_at = None;
    call.version += 1;
}

/// Which side of `call` the device `actor` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The device that placed the call.
    Caller,
    /// The callee device that took it.
    Chosen,
    /// Another device of the callee's account(s).
    Callee,
}

fn side(call: &CallRow, actor: &Actor) -> Option<Side> {
    if call.caller_session == actor.session_id {
        return Some(Side::Caller);
    }
    if call.callee_session.as_deref() == Some(actor.session_id.as_str()) {
        return Some(Side::Chosen);
    }
    let callee = match call.direction.as_str() {
        "inbound" => call.agent_id.as_deref() == Some(actor.user_id.as_str()),
        _ => {
            actor.role == Role::Customer && actor.customer_id.as_deref() == Some(&call.customer_id)
        }
    };
    callee.then_some(Side::Callee)
}

/// Every state change but the invite.
async fn change(
    state: &AppState,
    actor: &Actor,
    message: &CallMessage,
) -> Result<Vec<Delivery>, Refused> {
    let mut work = Work::begin(state).await?;
    let backend = state.db.backend();
    let Some(mut call) = calls::lock(work.tx(), backend, &message.call_id.to_string()).await?
    else {
        return Err(Refused::unknown());
    };
    let Some(side) = side(&call, actor) else {
        return Err(Refused::unknown());
    };
    // A sequence number seen before from this side: a resend, ignored.
    let seq = i64::from(message.seq);
    match side {
        Side::Caller if seq <= call.caller_seq => return Ok(Vec::new()),
        Side::Chosen if seq <= call.callee_seq => return Ok(Vec::new()),
        Side::Caller => call.caller_seq = seq,
        Side::Chosen => call.callee_seq = seq,
        Side::Callee => {}
    }
    let now = now_ms();
    let mut deliveries = Vec::new();
    let caller = to_session(&call.caller_session);
    match (&message.signal, call.state.as_str(), side) {
        (Signal::Ringing, RINGING, Side::Callee) => {
            if call.rang_at.is_some() {
                return Ok(Vec::new());
            }
            call.rang_at = Some(now);
            call.version += 1;
            deliveries.push(Delivery {
                to: caller,
                update: update(&call, CallEvent::Ringing),
            });
        }
        (Signal::Ringing | Signal::Accept, CONNECTED, Side::Chosen) => return Ok(Vec::new()),
        (Signal::Accept, RINGING, Side::Callee) => {
            call.state = CONNECTED.to_owned();
            call.callee_session = Some(actor.session_id.clone());
            call.answered_by = Some(actor.user_id.clone());
            call.answered_at = Some(now);
            call.callee_seq = seq;
            call.rang_at.get_or_insert(now);
            call.version += 1;
            let accepted = update(&call, CallEvent::Accepted);
            let elsewhere = update(
                &call,
                CallEvent::Ended {
                    reason: EndReason::AnsweredElsewhere,
                },
            );
            deliveries.extend([
                Delivery {
                    to: caller,
                    update: accepted.clone(),
                },
                Delivery {
                    to: to_session(&actor.session_id),
                    update: accepted,
                },
                Delivery {
                    to: callee_devices(&call, Some(actor.session_id.clone())),
                    update: elsewhere,
                },
            ]);
        }
        (Signal::Decline, RINGING, Side::Callee) => {
            end(&mut call, EndReason::Declined, Some(&actor.user_id), now);
            deliveries.extend(ended_for_all(&call, EndReason::Declined));
        }
        (Signal::Cancel | Signal::Hangup, RINGING, Side::Caller) => {
            end(&mut call, EndReason::Cancelled, Some(&actor.user_id), now);
            deliveries.extend(ended_for_all(&call, EndReason::Cancelled));
        }
        // Once connected, ending it any way is hanging up (a phone that
        // tapped decline just after its accept went out).
        (
            Signal::Hangup | Signal::Decline | Signal::Cancel,
            CONNECTED,
            Side::Caller | Side::Chosen,
        ) => {
            end(&mut call, EndReason::Hangup, Some(&actor.user_id), now);
            deliveries.extend(ended_for_all(&call, EndReason::Hangup));
        }
        (Signal::Sdp { kind, sdp }, CONNECTED, Side::Caller | Side::Chosen) => {
            // The caller offers, the callee answers.
            let offer = *kind == fieldops_sync::call::SdpKind::Offer;
            if offer != (side == Side::Caller) {
                return Err(Refused::out_of_turn());
            }
            deliveries.push(relayed(
                &call,
                side,
                message.seq,
                CallEvent::Sdp {
                    kind: *kind,
                    sdp: sdp.clone(),
                },
            ));
        }
        (Signal::Candidate { candidate }, CONNECTED, Side::Caller | Side::Chosen) => {
            deliveries.push(relayed(
                &call,
                side,
                message.seq,
                CallEvent::Candidate {
                    candidate: candidate.clone(),
                },
            ));
        }
        // Over, or answered on another device.
        (_, ENDED, _) | (_, CONNECTED, Side::Callee) => return Err(Refused::unknown()),
        _ => return Err(Refused::out_of_turn()),
    }
    calls::save(work.tx(), &call).await?;
    let effects = if call.state == ENDED || message.signal == Signal::Accept {
        logged(&call)
    } else {
        Effects::none()
    };
    work.commit(effects).await?;
    Ok(deliveries)
}

/// A description or candidate for the other chosen device, numbered by its
/// sender.
fn relayed(call: &CallRow, from: Side, seq: u32, event: CallEvent) -> Delivery {
    let other = match from {
        Side::Caller => call.callee_session.as_deref().unwrap_or_default(),
        _ => &call.caller_session,
    };
    Delivery {
        to: to_session(other),
        update: CallUpdate {
            call_id: call.id,
            seq,
            event,
        },
    }
}

/// The end of a call, for every device still in it: the caller's and,
/// before an answer, every device of the callee; after, the chosen one.
fn ended_for_all(call: &CallRow, reason: EndReason) -> Vec<Delivery> {
    let ended = update(call, CallEvent::Ended { reason });
    let callee = match &call.callee_session {
        Some(session) => to_session(session),
        None => callee_devices(call, None),
    };
    vec![
        Delivery {
            to: to_session(&call.caller_session),
            update: ended.clone(),
        },
        Delivery {
            to: callee,
            update: ended,
        },
    ]
}

/// Ends `call_id` if the server must: rung out (missed), or a chosen device
/// lost past the grace period (failed). Any instance may run it, any number
/// of times.
pub async fn expire(state: &AppState, call_id: &str) -> anyhow::Result<()> {
    let mut work = Work::begin(state).await?;
    let Some(mut call) = calls::lock(work.tx(), state.db.backend(), call_id).await? else {
        return Ok(());
    };
    let now = now_ms();
    let lost_before = now - millis(state.config.calls.grace_secs);
    let reason = match call.state.as_str() {
        RINGING if call.expires_at <= now => EndReason::Missed,
        CONNECTED
            if call.caller_lost_at.is_some_and(|t| t <= lost_before)
                || call.callee_lost_at.is_some_and(|t| t <= lost_before) =>
        {
            EndReason::Failed
        }
        _ => return Ok(()),
    };
    end(&mut call, reason, None, now);
    calls::save(work.tx(), &call).await?;
    work.commit(logged(&call)).await?;
    state.calls.relay.send(ended_for_all(&call, reason)).await
}

/// Ends every call the server must (see [`expire`]); the periodic job.
pub async fn sweep(state: &AppState) -> anyhow::Result<usize> {
    let now = now_ms();
    let lost_before = now - millis(state.config.calls.grace_secs);
    let due = calls::due(state.db.pool(), now, lost_before).await?;
    for id in &due {
        expire(state, id).await?;
    }
    state.calls.relay.expire().await?;
    Ok(due.len())
}

/// How often every instance looks for calls to end ([`sweep`]).
const SWEEP: Duration = Duration::from_secs(5);

/// Starts the sweep, until shutdown.
pub fn spawn_sweep(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP);
        loop {
            tokio::select! {
                () = state.shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = sweep(&state).await {
                        tracing::warn!(error = ?e, "ending overdue calls");
                    }
                }
            }
        }
    });
}

fn spawn_timer(state: &AppState, call_id: &str, secs: u64) {
    let state = state.clone();
    let call_id = call_id.to_owned();
    tokio::spawn(async move {
        tokio::select! {
            () = state.shutdown.cancelled() => {}
            () = tokio::time::sleep(Duration::from_millis(secs.saturating_mul(1000).saturating_add(50))) => {
                if let Err(e) = expire(&state, &call_id).await {
                    tracing::warn!(error = ?e, call_id, "ending a call; the sweep retries");
                }
            }
        }
    });
}

/// A device connected (a phone's sync session, a console's event stream):
/// the calls it is in stop counting it lost. Pair with [`disconnected`].
pub async fn connected(state: &AppState, actor: &Actor) {
    *unpoisoned(&state.calls.connections)
        .entry(actor.session_id.clone())
        .or_default() += 1;
    if let Err(e) = mark_lost(state, actor, None).await {
        tracing::warn!(error = ?e, "a device's calls after it reconnected");
    }
}

/// A device that connects while a call rings for it (woken by a push, or
/// back after a drop) is shown the call as the others were. Adapters call
/// it once subscribed to the relay and before the client can send anything
/// (before the sync opening, before the 101): an invite placed after that
/// reaches the device once, by the invite itself.
pub async fn ring_again(state: &AppState, actor: &Actor) {
    if let Err(e) = ring_again_inner(state, actor).await {
        tracing::warn!(error = ?e, "ringing a device that connected");
    }
}

async fn ring_again_inner(state: &AppState, actor: &Actor) -> anyhow::Result<()> {
    let customer = (actor.role == Role::Customer)
        .then_some(actor.customer_id.as_deref())
        .flatten();
    let ringing = calls::ringing_for(state.db.pool(), &actor.user_id, customer).await?;
    let now = now_ms();
    let deliveries = ringing
        .into_iter()
        .filter(|row| row.call.caller_session != actor.session_id)
        .map(|row| {
            let name = match row.call.direction.as_str() {
                "inbound" => &row.customer_name,
                _ => &row.caller_name,
            };
            Delivery {
                to: to_session(&actor.session_id),
                update: update(&row.call, incoming(state, &row.call, name, now)),
            }
        })
        .collect();
    state.calls.relay.send(deliveries).await
}

/// The connection [`connected`] counted closed. When it was the device's
/// last on this instance: a call it placed that still rings is missed, and
/// a connected call it is in waits the grace period for it to return.
pub async fn disconnected(state: &AppState, actor: &Actor) {
    {
        let mut connections = unpoisoned(&state.calls.connections);
        let Some(count) = connections.get_mut(&actor.session_id) else {
            return;
        };
        *count -= 1;
        if *count > 0 {
            return;
        }
        connections.remove(&actor.session_id);
    }
    if let Err(e) = mark_lost(state, actor, Some(now_ms())).await {
        tracing::warn!(error = ?e, "a device's calls after it disconnected");
    }
}

async fn mark_lost(state: &AppState, actor: &Actor, lost_at: Option<i64>) -> anyhow::Result<()> {
    let live = calls::of_session(state.db.pool(), &actor.session_id).await?;
    for id in live.into_iter().map(|c| c.id.to_string()) {
        let mut work = Work::begin(state).await?;
        let Some(mut call) = calls::lock(work.tx(), state.db.backend(), &id).await? else {
            continue;
        };
        let caller = call.caller_session == actor.session_id;
        let mut deliveries = Vec::new();
        match (call.state.as_str(), lost_at) {
            (RINGING, Some(now)) if caller => {
                end(&mut call, EndReason::Missed, None, now);
                deliveries = ended_for_all(&call, EndReason::Missed);
            }
            (CONNECTED, _) => {
                if caller {
                    call.caller_lost_at = lost_at;
                } else {
                    call.callee_lost_at = lost_at;
                }
            }
            _ => continue,
        }
        calls::save(work.tx(), &call).await?;
        let effects = if call.state == ENDED {
            logged(&call)
        } else {
            Effects::none()
        };
        work.commit(effects).await?;
        state.calls.relay.send(deliveries).await?;
        if call.state == CONNECTED && lost_at.is_some() {
            spawn_timer(state, &call.id.to_string(), state.config.calls.grace_secs);
        }
    }
    Ok(())
}

/// A call in the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallView {
    pub id: String,
    /// `outbound` (staff called the customer) or `inbound`.
    pub direction: String,
    pub caller_id: String,
    pub caller_name: String,
    pub customer_id: String,
    pub customer_name: String,
    /// The staff member in the call.
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub ticket_id: Option<String>,
    /// `audio` or `video`.
    pub media: String,
    /// `ringing`, `connected` or `ended`.
    pub state: String,
    /// `declined`, `cancelled`, `missed`, `busy`, `failed`, `hangup` or
    /// `answered_elsewhere`, once ended.
    pub end_reason: Option<String>,
    pub created_at: String,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    /// From answer to end, in seconds; 0 for a call never answered.
    pub duration_secs: i64,
}

impl From<calls::LogRow> for CallView {
    fn from(row: calls::LogRow) -> Self {
        let c = row.call;
        let duration_secs = match (c.answered_at, c.ended_at) {
            (Some(a), Some(e)) => (e - a).max(0) / 1000,
            _ => 0,
        };
        CallView {
            id: c.id.to_string(),
            direction: c.direction,
            caller_id: c.caller_id,
            caller_name: row.caller_name,
            customer_id: c.customer_id,
            customer_name: row.customer_name,
            agent_id: c.agent_id,
            agent_name: row.agent_name,
            ticket_id: c.ticket_id,
            media: c.media,
            state: c.state,
            end_reason: c.end_reason,
            created_at: rfc3339(c.created_at),
            answered_at: c.answered_at.map(rfc3339),
            ended_at: c.ended_at.map(rfc3339),
            duration_secs,
        }
    }
}

/// The call log as `actor` may read it: admins everything, CS their
/// departments' calls and their own.
pub async fn log_rows(
    state: &AppState,
    actor: &Actor,
    mut filter: calls::LogFilter,
) -> Result<Vec<calls::LogRow>, crate::service::ServiceError> {
    crate::service::allow(actor, Action::ViewCalls)?;
    if actor.role != Role::Admin {
        filter.departments = Some((actor.department_ids.clone(), actor.user_id.clone()));
    }
    Ok(calls::log(state.db.pool(), &filter).await?)
}

/// [`log_rows`] as the API shows them.
pub async fn log(
    state: &AppState,
    actor: &Actor,
    filter: calls::LogFilter,
) -> Result<Vec<CallView>, crate::service::ServiceError> {
    let rows = log_rows(state, actor, filter).await?;
    Ok(rows.into_iter().map(CallView::from).collect())
}
