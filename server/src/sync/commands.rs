//! Command execution: each command a device queued is applied at most once
//! (its id is the idempotency key and its result is stored with it, in the
//! same transaction as its effects), in `device_seq` order per device.

use fieldops_sync::commands::{
    Attendance, Command, CommandBody, CommandOutcome, CommandResult, RejectReason,
};
use fieldops_sync::ids::DocId;

use super::store;
use crate::AppState;
use crate::auth::Actor;
use crate::db::{Tx, is_unique_violation};
use crate::domain::{Role, TicketStatus};
use crate::helpdesk::{
    self,
    chat::Target,
    tickets::{Draft, TicketChange},
};
use crate::invoices;
use crate::journeys;
use crate::service::{Notice, ServiceError, ServiceResult, forbidden};
use crate::visits::attendance::{self, Direction, Position};
use crate::visits::{claims, extensions};
use crate::work::{Effects, Work};

/// What executing a command did.
#[derive(Debug)]
pub struct Executed {
    pub result: CommandResult,
    /// Live events to publish after commit.
    pub notices: Vec<Notice>,
    /// Documents the service already wrote (tickets); visits are projected
    /// from the result's effects.
    pub synced: Vec<super::Changed>,
}

impl Executed {
    /// A result that changed nothing (a refusal decided before any service ran).
    fn answer(result: CommandResult) -> Self {
        Self {
            result,
            notices: vec![],
            synced: vec![],
        }
    }
}

/// Runs `commands` in order and answers each.
///
/// `clock_skew_ms` is the session's estimate of server minus device time,
/// recorded with check-ins and check-outs.
pub async fn execute(
    state: &AppState,
    actor: &Actor,
    device_id: &str,
    commands: Vec<Command>,
    clock_skew_ms: Option<i64>,
) -> anyhow::Result<Vec<CommandResult>> {
    let mut results = Vec::with_capacity(commands.len());
    for command in commands {
        results.push(execute_one(state, actor, device_id, &command, clock_skew_ms).await?);
    }
    Ok(results)
}

async fn execute_one(
    state: &AppState,
    actor: &Actor,
    device_id: &str,
    command: &Command,
    clock_skew_ms: Option<i64>,
) -> anyhow::Result<CommandResult> {
    let id = command.id.to_string();
    if let Some(stored) = store::command_result(state.db.pool(), &id).await? {
        return Ok(serde_json::from_str(&stored)?);
    }
    let device_seq = i64::try_from(command.device_seq).unwrap_or(i64::MAX);
    // A claim passes the gate before the writer (`visits::gate`); the
    // admission counts it as in flight until this function returns. A claim
    // refused below before any service runs (invalid, or a sequence number
    // already passed: both final) never goes there, as it cannot win.
    let gated = match &command.body {
        CommandBody::ClaimVisit { visit_id } if command.validate().is_ok() => {
            let last = store::last_device_seq(state.db.pool(), device_id).await?;
            last.is_none_or(|last| device_seq > last)
                .then_some(visit_id)
        }
        _ => None,
    };
    let (_admitted, refused) = match gated {
        Some(visit_id) => {
            let visit_id = visit_id.to_string();
            match state.claim_gate.pass(&state.db, actor, &visit_id).await {
                Ok(admitted) => (Some(admitted), None),
                Err(refused) => (None, Some(refused)),
            }
        }
        None => (None, None),
    };
    let mut work = Work::begin(state).await?;
    let last = store::last_device_seq(&mut **work.tx(), device_id).await?;
    let executed = if let Err(invalid) = command.validate() {
        Executed::answer(CommandResult::rejected(
            command.id,
            RejectReason::Invalid,
            crate::i18n::describe_invalid_command(&invalid),
        ))
    } else if last.is_some_and(|last| device_seq <= last) {
        Executed::answer(CommandResult::rejected(
            command.id,
            RejectReason::OutOfOrder,
            crate::t!("problem-sync-command-out-of-order"),
        ))
    } else if let Some(refused) = refused {
        let outcome: ServiceResult<()> = Err(refused);
        executed(command, vec![], outcome, |()| vec![])?
    } else {
        dispatch(work.tx(), state, actor, command, clock_skew_ms).await?
    };
    let mut changed = Vec::new();
    let mut visits = Vec::new();
    if executed.result.is_accepted() {
        // The decision goes into the documents in the same transaction, so
        // phones learn it by sync and nothing is half-applied. Ticket and
        // chat services write their documents themselves.
        changed.extend(executed.synced.iter().cloned());
        if let (false, CommandOutcome::Accepted { effects }) = (
            writes_own_documents(&command.body),
            &executed.result.outcome,
        ) {
            visits.extend(effects.iter().map(ToString::to_string));
        }
    } else {
        // A refusal may have left the transaction aborted (a constraint on
        // Postgres): nothing of it is kept, and the refusal is recorded anew.
        drop(work);
        work = Work::begin(state).await?;
    }
    let json = serde_json::to_string(&executed.result)?;
    let recorded = store::record_command(
        work.tx(),
        &id,
        &actor.user_id,
        device_id,
        device_seq,
        command.body.name(),
        executed.result.is_accepted(),
        &json,
    )
    .await;
    match recorded {
        Ok(()) => {}
        // The same command, sent twice at once over two connections: the
        // other one won, and its result is the answer.
        Err(e) if is_unique_violation(&e) => {
            drop(work);
            let stored = store::command_result(state.db.pool(), &id)
                .await?
                .unwrap_or_default();
            return Ok(serde_json::from_str(&stored)?);
        }
        Err(e) => return Err(e.into()),
    }
    // The result, the documents and the events commit together.
    let effects = Effects::told(executed.notices)
        .with_changed(changed)
        .with_visits(visits);
    work.commit(effects).await?;
    if executed.result.is_accepted()
        && matches!(
            command.body,
            CommandBody::CreateTicket { .. } | CommandBody::SubmitJourney { .. }
        )
    {
        // Round-robin assignment runs on the help-desk job; wake it now.
        state.helpdesk.wake.notify_one();
    }
    tracing::info!(
        command = command.body.name(),
        accepted = executed.result.is_accepted(),
        "command executed"
    );
    Ok(executed.result)
}

/// Commands whose services write their documents themselves (help desk,
/// invoices); the others' effects are visits to project.
fn writes_own_documents(body: &CommandBody) -> bool {
    matches!(
        body,
        CommandBody::CreateTicket { .. }
            | CommandBody::CloseOwnTicket { .. }
            | CommandBody::SendChatMessage { .. }
            | CommandBody::SubmitPayment { .. }
            | CommandBody::SubmitJourney { .. }
    )
}

/// Turns a service outcome into a command result: accepted with `effects`
/// (and the documents `synced` says the service wrote), or refused.
fn executed<T>(
    command: &Command,
    effects: Vec<DocId>,
    outcome: ServiceResult<T>,
    synced: impl FnOnce(T) -> Vec<super::Changed>,
) -> anyhow::Result<Executed> {
    match outcome {
        Ok(applied) => Ok(Executed {
            result: CommandResult::accepted(command.id, effects),
            notices: applied.notices,
            synced: synced(applied.value),
        }),
        Err(refusal) => refused(command, refusal),
    }
}

/// The one mapping of a service's refusal to a command result. Storage
/// failures are not an answer: the batch fails and the device retries.
fn refused(command: &Command, refusal: ServiceError) -> anyhow::Result<Executed> {
    let (reason, message) = match refusal {
        ServiceError::Rejected(r) => (r.reason, r.message),
        ServiceError::Invalid(errors) => (
            RejectReason::Invalid,
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ServiceError::Unprocessable { detail, .. } => (RejectReason::Invalid, detail),
        ServiceError::Duplicate(field) => (
            RejectReason::Conflict,
            crate::t!("problem-sync-command-taken", field = field),
        ),
        ServiceError::Unauthenticated(why) => (RejectReason::Forbidden, why),
        ServiceError::Throttled { detail, .. } => (RejectReason::Unavailable, detail),
        ServiceError::Unavailable => (
            RejectReason::Unavailable,
            crate::t!("problem-sync-command-unavailable"),
        ),
        ServiceError::Internal(e) => return Err(e),
    };
    Ok(Executed::answer(CommandResult::rejected(
        command.id, reason, message,
    )))
}

/// A ticket service's outcome; the service wrote the ticket's document.
fn ticket_outcome(
    command: &Command,
    ticket_id: DocId,
    outcome: ServiceResult<TicketChange>,
) -> anyhow::Result<Executed> {
    executed(command, vec![ticket_id], outcome, |change| change.synced)
}

/// A visit service's outcome; the visit is projected from the effects.
fn visit_outcome<T>(
    command: &Command,
    visit_id: DocId,
    outcome: ServiceResult<T>,
) -> anyhow::Result<Executed> {
    executed(command, vec![visit_id], outcome, |_| vec![])
}

/// The domain work of one command, inside `tx`: the same service functions
/// the HTTP API calls, so both paths decide alike.
async fn dispatch(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    command: &Command,
    clock_skew_ms: Option<i64>,
) -> anyhow::Result<Executed> {
    let backend = state.db.backend();
    let rules = &state.config.attendance;
    let attendance = |a: &Attendance| Position {
        lat: a.lat,
        lon: a.lon,
        accuracy_m: a.accuracy_m,
        device_time_ms: a.device_time_ms,
        clock_skew_ms,
    };
    match &command.body {
        CommandBody::ClaimVisit { visit_id } => {
            let outcome = claims::claim(tx, backend, actor, &visit_id.to_string()).await;
            visit_outcome(command, *visit_id, outcome)
        }
        CommandBody::ReleaseVisit { visit_id } => {
            let outcome = claims::withdraw(tx, backend, actor, &visit_id.to_string()).await;
            visit_outcome(command, *visit_id, outcome)
        }
        CommandBody::CheckIn(a) | CommandBody::CheckOut(a) => {
            let direction = if matches!(command.body, CommandBody::CheckIn(_)) {
                Direction::In
            } else {
                Direction::Out
            };
            let outcome = attendance::attend(
                tx,
                backend,
                actor,
                rules,
                &a.visit_id.to_string(),
                direction,
                attendance(a),
            )
            .await;
            visit_outcome(command, a.visit_id, outcome)
        }
        CommandBody::RequestExtension {
            visit_id,
            extra_days,
            reason,
        } => {
            let outcome = extensions::request(
                tx,
                backend,
                actor,
                &visit_id.to_string(),
                i64::from(*extra_days),
                reason,
            )
            .await;
            visit_outcome(command, *visit_id, outcome)
        }
        CommandBody::CreateTicket {
            ticket_id,
            subject,
            description,
            category,
        } => {
            let draft = Draft {
                id: Some(ticket_id.to_string()),
                subject: subject.clone(),
                description: description.clone(),
                category: category.clone(),
                ..Draft::default()
            };
            let new = match helpdesk::tickets::prepare(state, actor, draft).await {
                Ok(new) => new,
                Err(refusal) => return refused(command, refusal),
            };
            let outcome = helpdesk::tickets::create(tx, state, actor, &new).await;
            ticket_outcome(command, *ticket_id, outcome)
        }
        CommandBody::SubmitJourney {
            ticket_id,
            journey_id,
            version,
            started_at_ms,
            answers,
        } => {
            let submission = journeys::Submission {
                ticket_id: Some(ticket_id.to_string()),
                journey_id: journey_id.to_string(),
                version: i64::from(*version),
                started_at_ms: *started_at_ms,
                clock_skew_ms,
                answers: answers.clone(),
            };
            let outcome = journeys::submit(
                tx,
                state,
                actor,
                &submission,
                journeys::ImageBytes::MayFollow,
            )
            .await;
            ticket_outcome(command, *ticket_id, outcome)
        }
        CommandBody::CloseOwnTicket { ticket_id } => {
            // Staff close tickets over HTTP; this command is the customer's.
            let outcome = if actor.role == Role::Customer {
                helpdesk::tickets::set_status(
                    tx,
                    state,
                    actor,
                    &ticket_id.to_string(),
                    TicketStatus::Closed,
                )
                .await
            } else {
                Err(forbidden())
            };
            ticket_outcome(command, *ticket_id, outcome)
        }
        CommandBody::SendChatMessage {
            conversation_id,
            client_message_id,
            body,
        } => {
            let conversation = conversation_id.map(|c| c.to_string());
            let customer = actor.customer_id.clone().unwrap_or_default();
            let target = match &conversation {
                Some(id) => Target::Conversation(id),
                None if actor.role == Role::Customer => Target::Latest {
                    customer_id: &customer,
                },
                // Staff answer in a conversation they name.
                None => {
                    return Ok(Executed::answer(CommandResult::rejected(
                        command.id,
                        RejectReason::Invalid,
                        crate::t!("problem-sync-command-conversation-required"),
                    )));
                }
            };
            let client_id = client_message_id.to_string();
            let outcome =
                helpdesk::chat::send(tx, state, actor, target, body, Some(&client_id)).await;
            // A conversation is not a document: nothing to sync.
            executed(command, vec![], outcome, |_| vec![])
        }
        CommandBody::SubmitPayment {
            invoice_id,
            payment_id,
            amount,
            reference,
            proof_sha256,
        } => {
            let payment = invoices::PaymentInput {
                id: Some(payment_id.to_string()),
                amount: *amount,
                proof_sha256: proof_sha256.clone(),
                proof: invoices::ProofBytes::MayFollow,
                reference: reference.clone(),
            };
            let outcome =
                invoices::submit_payment(tx, state, actor, &invoice_id.to_string(), payment).await;
            // The service wrote the invoice's document; its wake-up is a notice.
            executed(command, vec![*invoice_id], outcome, |_| vec![])
        }
        CommandBody::SubmitRating {
            visit_id,
            token,
            score,
            comment,
        } => {
            let outcome = crate::ratings::submit(
                tx,
                Some(actor),
                Some(&visit_id.to_string()),
                token,
                i64::from(*score),
                comment.as_deref().unwrap_or(""),
                crate::ratings::Via::App,
            )
            .await;
            // A rating is not a document: nothing to sync.
            executed(command, vec![], outcome, |_| vec![])
        }
    }
}
