//! The outbox: commands queued on the device until the server answers (the
//! photo upload queue is [`Photos`](crate::Photos)'). The [`Outbox`] handle
//! (`core.outbox()`) lists it; the features queue into it with `enqueue`
//! and the sync client drains it. This module owns the `outbox` table.
//!
//! A command row moves `pending → sending → accepted | rejected`. It is
//! written in the same transaction as the user's action, so once
//! `enqueue` returns the command survives any crash. `sending` rows are
//! sent again after a reconnect: the server deduplicates by
//! [`CommandId`], so a command whose answer was lost is still applied
//! exactly once and the replay returns the stored result. Results for rows
//! that are already final are ignored.

use std::sync::Arc;

use fieldops_sync::commands::{Command, CommandBody, CommandOutcome, CommandResult};
use fieldops_sync::ids::{CommandId, DocId};
use fieldops_sync::protocol::Version;
use rusqlite::{Connection, OptionalExtension, params};

use crate::documents;
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::model::{CommandState, OutboxEntry};
use crate::shared::Shared;
use crate::store::{id_at, now_ms, opt_id_at};

/// The commands queued on this device (`core.outbox()`).
#[derive(Debug, Clone, Copy)]
pub struct Outbox<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> Outbox<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Outbox { shared }
    }

    /// The outbox, newest first (unanswered only when `open_only`).
    pub fn list(&self, open_only: bool) -> Result<Vec<OutboxEntry>> {
        self.shared.store.read(|conn| list(conn, open_only))
    }

    /// One command.
    pub fn get(&self, id: CommandId) -> Result<OutboxEntry> {
        self.shared
            .store
            .read(|conn| get(conn, id))?
            .ok_or(CoreError::NotFound { kind: "command" })
    }

    /// Records a server answer as the sync client would. For tests,
    /// benchmarks and the simulator; not for apps.
    #[doc(hidden)]
    pub fn record_result(&self, result: &CommandResult) -> Result<Option<OutboxEntry>> {
        let entry = self.shared.store.write(|tx| record_result(tx, result))?;
        if let Some(entry) = &entry {
            self.shared
                .events
                .emit(CoreEvent::CommandAnswered(entry.clone()));
        }
        self.shared.refresh_status();
        Ok(entry)
    }
}

/// Validates and queues a command as the signed-in user, then recounts and
/// wakes the sync client; returns its row.
pub(crate) fn queue(shared: &Shared, body: CommandBody) -> Result<OutboxEntry> {
    shared.require_account()?;
    let entry = shared.store.write(|tx| enqueue(tx, body))?;
    shared.after_write();
    Ok(entry)
}

fn target_of(body: &CommandBody) -> Option<DocId> {
    match body {
        CommandBody::ClaimVisit { visit_id }
        | CommandBody::ReleaseVisit { visit_id }
        | CommandBody::RequestExtension { visit_id, .. }
        | CommandBody::SubmitRating { visit_id, .. } => Some(*visit_id),
        CommandBody::CheckIn(at) | CommandBody::CheckOut(at) => Some(at.visit_id),
        CommandBody::CloseOwnTicket { ticket_id } => Some(*ticket_id),
        CommandBody::SendChatMessage { .. } => None,
        CommandBody::CreateTicket { ticket_id, .. }
        | CommandBody::SubmitJourney { ticket_id, .. } => Some(*ticket_id),
        CommandBody::SubmitPayment { invoice_id, .. } => Some(*invoice_id),
    }
}

const COLUMNS: &str =
    "command_id, device_seq, name, target_id, state, reason, message, created_at_ms, updated_at_ms";

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        command_id: id_at(row, 0)?,
        device_seq: row.get::<_, i64>(1)? as u64,
        name: row.get(2)?,
        target_id: opt_id_at(row, 3)?,
        state: CommandState::parse(&row.get::<_, String>(4)?),
        reason: row.get(5)?,
        message: row.get(6)?,
        created_at_ms: row.get(7)?,
        updated_at_ms: row.get(8)?,
    })
}

/// Validates and queues a command; returns its row.
pub(crate) fn enqueue(conn: &Connection, body: CommandBody) -> Result<OutboxEntry> {
    let next: i64 = conn.query_row(
        "SELECT COALESCE(MAX(device_seq), 0) + 1 FROM outbox",
        [],
        |row| row.get(0),
    )?;
    let now = now_ms();
    let command = Command {
        id: CommandId::new(),
        device_seq: next as u64,
        issued_at_ms: now,
        body,
    };
    command.validate()?;
    let bytes = postcard::to_allocvec(&command)
        .map_err(|e| CoreError::Protocol(format!("encoding a command: {e}")))?;
    conn.execute(
        "INSERT INTO outbox (command_id, device_seq, name, target_id, command, state, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
        params![
            command.id.to_string(),
            next,
            command.body.name(),
            target_of(&command.body).map(|id| id.to_string()),
            bytes,
            now
        ],
    )?;
    get(conn, command.id)?.ok_or(CoreError::NotFound { kind: "command" })
}

/// One row.
pub(crate) fn get(conn: &Connection, id: CommandId) -> Result<Option<OutboxEntry>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM outbox WHERE command_id = ?1"),
            [id.to_string()],
            entry,
        )
        .optional()?)
}

/// Rows, newest first; only unanswered ones when `open_only`.
pub(crate) fn list(conn: &Connection, open_only: bool) -> Result<Vec<OutboxEntry>> {
    let filter = if open_only {
        "WHERE state IN ('pending', 'sending')"
    } else {
        ""
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox {filter} ORDER BY device_seq DESC LIMIT 500"
    ))?;
    let rows = stmt
        .query_map([], entry)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The commands named `name` about document `target`, with their rows,
/// oldest first (a feature's view of what it queued: payments of an invoice).
pub(crate) fn about(
    conn: &Connection,
    target: DocId,
    name: &str,
) -> Result<Vec<(OutboxEntry, Command)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS}, command FROM outbox WHERE target_id = ?1 AND name = ?2
         ORDER BY device_seq"
    ))?;
    let rows = stmt
        .query_map(params![target.to_string(), name], |row| {
            Ok((entry(row)?, row.get::<_, Vec<u8>>(9)?))
        })?
        .map(|row| {
            let (entry, bytes) = row?;
            let command = postcard::from_bytes::<Command>(&bytes)
                .map_err(|_| CoreError::StoreCorrupt("unreadable outbox command".into()))?;
            Ok((entry, command))
        })
        .collect::<Result<_>>()?;
    Ok(rows)
}

/// Unanswered commands in device order, to (re)send.
pub(crate) fn unanswered(conn: &Connection, limit: usize) -> Result<Vec<Command>> {
    let mut stmt = conn.prepare(
        "SELECT command FROM outbox WHERE state IN ('pending', 'sending')
         ORDER BY device_seq LIMIT ?1",
    )?;
    let commands = stmt
        .query_map([limit as i64], |row| row.get::<_, Vec<u8>>(0))?
        .map(|bytes| {
            let bytes = bytes?;
            postcard::from_bytes::<Command>(&bytes)
                .map_err(|_| CoreError::StoreCorrupt("unreadable outbox command".into()))
        })
        .collect::<Result<_>>()?;
    Ok(commands)
}

/// The commands of `unanswered` a server speaking `version` can read.
/// Commands run in device order, so the first one it cannot read waits,
/// with everything after it, until the server is updated (sending the later
/// ones first would have them refused as out of order); they stay pending.
pub(crate) fn sendable(unanswered: Vec<Command>, version: Version) -> Vec<Command> {
    unanswered
        .into_iter()
        .take_while(|c| version.get() >= c.body.since_protocol())
        .collect()
}

/// Marks commands as sent.
pub(crate) fn mark_sending(conn: &Connection, ids: &[CommandId]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE outbox SET state = 'sending', updated_at_ms = ?2
         WHERE command_id = ?1 AND state = 'pending'",
    )?;
    let now = now_ms();
    for id in ids {
        stmt.execute(params![id.to_string(), now])?;
    }
    Ok(())
}

/// Records the server's answer; returns the updated row, or `None` when the
/// command is unknown or already answered (a replayed result).
pub(crate) fn record_result(
    conn: &Connection,
    result: &CommandResult,
) -> Result<Option<OutboxEntry>> {
    let (state, reason, message) = match &result.outcome {
        CommandOutcome::Accepted { .. } => (CommandState::Accepted, None, None),
        CommandOutcome::Rejected { reason, message } => (
            CommandState::Rejected,
            Some(reason.as_str()),
            Some(message.as_str()),
        ),
    };
    let changed = conn.execute(
        "UPDATE outbox SET state = ?2, reason = ?3, message = ?4, updated_at_ms = ?5
         WHERE command_id = ?1 AND state IN ('pending', 'sending')",
        params![
            result.command_id.to_string(),
            state.as_str(),
            reason,
            message,
            now_ms()
        ],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    let entry = get(conn, result.command_id)?;
    if let Some(e) = &entry
        && e.state == CommandState::Rejected
        && (e.name == "create_ticket" || e.name == "submit_journey")
        && let Some(ticket) = e.target_id
    {
        // The server will never create it: the local copy goes.
        documents::delete_provisional(conn, ticket)?;
    }
    Ok(entry)
}

/// (pending, sending) counts.
pub(crate) fn open_counts(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'sending'), 0) FROM outbox",
        [],
        |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
    )?)
}

/// Forgets every command (another user signed in).
pub(crate) fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM outbox", [])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use fieldops_sync::commands::CommandBody;
    use fieldops_sync::ids::DocId;

    use super::*;

    fn command(seq: u64, body: CommandBody) -> Command {
        Command {
            id: CommandId::new(),
            device_seq: seq,
            issued_at_ms: 0,
            body,
        }
    }

    #[test]
    fn an_older_server_gets_the_commands_before_the_first_it_cannot_read() {
        let claim = || CommandBody::ClaimVisit {
            visit_id: DocId::new(),
        };
        let journey = CommandBody::SubmitJourney {
            ticket_id: DocId::new(),
            journey_id: DocId::new(),
            version: 1,
            started_at_ms: 0,
            answers: Default::default(),
        };
        let queue = vec![
            command(1, claim()),
            command(2, journey),
            command(3, claim()),
        ];
        let seqs =
            |commands: Vec<Command>| commands.iter().map(|c| c.device_seq).collect::<Vec<_>>();
        // Journeys came with protocol 3: a server of version 2 is sent the
        // claim before it, not the journey, nor the claim after it.
        assert_eq!(seqs(sendable(queue.clone(), Version::with_server(2))), [1]);
        assert_eq!(seqs(sendable(queue, Version::with_server(3))), [1, 2, 3]);
    }
}
