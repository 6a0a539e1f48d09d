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
use crate::visits::attendance::{self, Direction, Position};
use crate::visits::{Notice, VisitError, VisitResult, claims, extensions};

/// What executing a command did.
#[derive(Debug)]
pub struct Executed {
    pub result: CommandResult,
    /// Live events to publish after commit.
    pub notices: Vec<Notice>,
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
    let mut tx = state.db.begin_write().await?;
    let last = store::last_device_seq(&mut *tx, device_id).await?;
    let executed = if let Err(invalid) = command.validate() {
        Executed {
            result: CommandResult::invalid(command.id, &invalid),
            notices: vec![],
        }
    } else if last.is_some_and(|last| device_seq <= last) {
        let message = "a later command from this device was already executed";
        Executed {
            result: CommandResult::rejected(command.id, RejectReason::OutOfOrder, message),
            notices: vec![],
        }
    } else {
        dispatch(&mut tx, state, actor, command, clock_skew_ms).await?
    };
    let mut changed = Vec::new();
    if executed.result.is_accepted() {
        // The decision goes into the documents in the same transaction, so
        // phones learn it by sync and nothing is half-applied.
        if let CommandOutcome::Accepted { effects } = &executed.result.outcome {
            changed =
                crate::visits::project(&mut tx, &state.db, effects.iter().map(ToString::to_string))
                    .await?;
        }
    } else {
        // A refusal may have left the transaction aborted (a constraint on
        // Postgres): nothing of it is kept, and the refusal is recorded anew.
        drop(tx);
        tx = state.db.begin_write().await?;
    }
    let json = serde_json::to_string(&executed.result)?;
    let recorded = store::record_command(
        &mut tx,
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
            drop(tx);
            let stored = store::command_result(state.db.pool(), &id)
                .await?
                .unwrap_or_default();
            return Ok(serde_json::from_str(&stored)?);
        }
        Err(e) => return Err(e.into()),
    }
    // The result, the documents and the events commit together.
    crate::visits::finish(state, tx, &changed, executed.notices).await?;
    tracing::info!(
        command = command.body.name(),
        accepted = executed.result.is_accepted(),
        "command executed"
    );
    Ok(executed.result)
}

/// Turns a visit service outcome into a command result.
fn visit_outcome<T>(
    command: &Command,
    visit_id: DocId,
    outcome: VisitResult<T>,
) -> anyhow::Result<Executed> {
    match outcome {
        Ok(applied) => Ok(Executed {
            result: CommandResult::accepted(command.id, vec![visit_id]),
            notices: applied.notices,
        }),
        Err(VisitError::Rejected(r)) => Ok(Executed {
            result: CommandResult::rejected(command.id, r.reason, r.message),
            notices: vec![],
        }),
        Err(VisitError::Db(e)) => Err(e.into()),
    }
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
            if let (Ok(applied), Some(skew)) = (&outcome, clock_skew_ms) {
                sqlx::query("UPDATE attendance SET clock_skew_ms = $2 WHERE id = $1")
                    .bind(&applied.value.id)
                    .bind(skew)
                    .execute(&mut **tx)
                    .await?;
            }
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
        // Ratings are not built yet; tickets and chat are decided over HTTP
        // for now (their handlers are not yet service functions).
        CommandBody::SubmitRating { .. }
        | CommandBody::CloseOwnTicket { .. }
        | CommandBody::SendChatMessage { .. } => {
            let name = command.body.name();
            Ok(Executed {
                result: CommandResult::rejected(
                    command.id,
                    RejectReason::Unavailable,
                    format!("this server does not take {name} through sync yet; use the HTTP API"),
                ),
                notices: vec![],
            })
        }
    }
}
