//! Tickets as sync documents: the customer-visible state of each ticket is
//! written into its Automerge document (document id = ticket id) in the same
//! transaction as the SQL change, so a customer's phone lists and reads its
//! tickets offline and every device learns a decision by ordinary sync.
//!
//! # Who owns which field
//!
//! | field | source of truth | how the other side follows |
//! |---|---|---|
//! | `description` | the **document** (collaborative text: the customer edits it on the phone while the ticket is open, staff over HTTP or sync) | every accepted device change is mirrored into `tickets.description` in the same transaction ([`after_device_write`]); an HTTP edit is written to SQL and reconciled into the text as a diff, so concurrent edits merge |
//! | `photo_ids` | the **document** | not in SQL (attachments by hash live in `ticket_attachments`) |
//! | number, subject, category, priority, status, department, assignee, times | **SQL** | projected by [`project`] after every change; a device change to one of them is refused as a whole (`forbidden`), so staff change them over HTTP, where SLA, routing and the audit trail are kept |
//! | `messages` | **SQL** (`ticket_messages`, public ones only) | projected; devices post messages over HTTP |
//!
//! Internal notes never enter a ticket document: they stay in SQL and are
//! served over HTTP to staff only (`GET /tickets/{id}`). The staff-notes
//! document kind exists for a future staff app; nothing projects into it
//! yet.
//!
//! # Scope
//!
//! A ticket document belongs to the customer *record* (`DocScope::customer_id`,
//! which is what a customer account's reader carries) and the ticket's
//! department. The document's own `customer_id` field is the customer's
//! *account* (user id), because the write rules compare it with the writer
//! ("own ticket"); a customer without an account (registered by WhatsApp)
//! gets their record id there, and nobody can edit as them.
//!
//! Lock order: writers take the `tickets` row before the document row (the
//! service functions update SQL first; the device write path locks the
//! ticket row first), so the two paths cannot deadlock on Postgres.

use automerge::AutoCommit;
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::ticket::{Author, Ticket, TicketMessage, TicketNumber};
use fieldops_sync::ids::{DepartmentId, DocKind, ItemId, UserId};
use fieldops_sync::protocol::DropReason;
use fieldops_sync::rules::{Violation, ViolationReason, WriteError};
use serde_json::json;

use super::{Changed, DocScope, store, stored_uuid};
use crate::auth::Actor;
use crate::db::tickets::{self, MessageRow, TicketRow};
use crate::db::{Backend, Db, Tx, audit, now_ms};
use crate::events::{Happened, TicketFacts};
use crate::service::Notice;

/// Longest description a device may write, in characters (as over HTTP).
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// The public messages of a ticket in document form.
fn doc_messages(rows: &[MessageRow]) -> anyhow::Result<Vec<TicketMessage>> {
    rows.iter()
        .filter(|m| m.internal == 0)
        .map(|m| {
            Ok(TicketMessage {
                id: ItemId::from_uuid(stored_uuid(&m.id)?),
                author: m.author_kind.parse().unwrap_or(Author::System),
                body: m.body.clone(),
                at_ms: m.created_at,
            })
        })
        .collect()
}

/// The document form of a ticket row, keeping the document-owned photo list
/// from `current`.
fn ticket_doc(
    row: &TicketRow,
    account_id: &str,
    messages: &[MessageRow],
    current: Option<Ticket>,
) -> anyhow::Result<Ticket> {
    let number: TicketNumber = row
        .number
        .parse()
        .map_err(|e| anyhow::anyhow!("ticket {} has a bad number: {e}", row.id))?;
    let (priority, status) = (row.priority, row.status);
    Ok(Ticket {
        number,
        subject: row.subject.clone(),
        description: row.description.clone(),
        category: row.category.clone(),
        priority,
        status,
        customer_id: UserId::from_uuid(stored_uuid(account_id)?),
        department_id: DepartmentId::from_uuid(stored_uuid(&row.department_id)?),
        assignee_id: row
            .assignee_id
            .as_deref()
            .map(|a| stored_uuid(a).map(UserId::from_uuid))
            .transpose()?,
        photo_ids: current.map(|t| t.photo_ids).unwrap_or_default(),
        created_at_ms: row.created_at,
        updated_at_ms: row.updated_at,
        messages: doc_messages(messages)?,
    })
}

/// The account of a customer record, or the record id if it has none.
async fn account_of(tx: &mut Tx, customer_id: &str) -> sqlx::Result<String> {
    let account = crate::db::users::account_of_customer(&mut **tx, customer_id).await?;
    Ok(account.unwrap_or_else(|| customer_id.to_owned()))
}

/// Writes ticket `ticket_id`'s current SQL state into its document, inside
/// `tx`, creating the document the first time. Returns what changed, for
/// [`super::notify`] after commit.
pub async fn project(tx: &mut Tx, db: &Db, ticket_id: &str) -> anyhow::Result<Vec<Changed>> {
    let Some(row) = tickets::get(&mut **tx, ticket_id).await? else {
        return Ok(vec![]);
    };
    let messages = tickets::messages(&mut **tx, ticket_id, false).await?;
    let account = account_of(tx, &row.customer_id).await?;
    let scope = DocScope {
        customer_id: Some(row.customer_id.clone()),
        department_id: Some(row.department_id.clone()),
        in_pool: false,
    };
    let mut changed = Vec::new();
    match store::get(&mut **tx, ticket_id).await? {
        None => {
            let mut doc = ticket_doc(&row, &account, &messages, None)?.to_document()?;
            changed
                .push(super::create(tx, ticket_id, DocKind::Ticket, scope, &mut doc, &[]).await?);
        }
        Some(before) => {
            let stored = super::write_as_server(
                tx,
                db,
                ticket_id,
                DocKind::Ticket,
                |doc: &mut AutoCommit| {
                    let current = Ticket::hydrate(doc).ok();
                    ticket_doc(&row, &account, &messages, current)?.reconcile(doc)?;
                    Ok(())
                },
            )
            .await
            .map_err(|e| e.context(format!("projecting ticket {ticket_id}")))?;
            changed.extend(stored.changed);
            if before.department_id != scope.department_id
                || before.customer_id != scope.customer_id
            {
                // Moved to another department: its staff read it from the
                // whole document on their next feed; the old department's
                // staff (unless also in the new one) are told to drop it.
                let seq = store::next_seq(tx).await?;
                store::set_scope(tx, ticket_id, &scope, seq).await?;
                if let Some(old) = before.department_id.as_deref()
                    && old != row.department_id
                {
                    for user in &staff_leaving(tx, old, &row.department_id).await? {
                        store::record_drop(
                            tx,
                            user,
                            ticket_id,
                            seq,
                            DropReason::OutOfScope.as_str(),
                        )
                        .await?;
                    }
                }
                changed.push(Changed {
                    doc_id: ticket_id.to_owned(),
                    seq,
                });
            }
        }
    }
    Ok(changed)
}

/// Members of department `from` who read its tickets by department and are
/// not in department `to`: they lose a ticket moved from one to the other.
/// (Admins read every ticket.)
async fn staff_leaving(tx: &mut Tx, from: &str, to: &str) -> sqlx::Result<Vec<String>> {
    crate::db::departments::members_not_in(tx, from, to).await
}

/// Locks ticket `id`'s row for the rest of `tx` (Postgres; SQLite's write
/// transaction already holds the lock). Taken before the document row.
pub async fn lock_row(tx: &mut Tx, backend: Backend, id: &str) -> sqlx::Result<()> {
    tickets::lock(tx, backend, id).await
}

/// After a device's change to ticket document `id` was applied inside `tx`
/// (`doc` is the document as it would be stored): mirrors the description
/// into SQL, or refuses the change if it touched a field SQL owns.
///
/// Returns the live events to publish after commit, or the violations for
/// a `WriteRejected` (the caller rolls `tx` back).
pub async fn after_device_write(
    tx: &mut Tx,
    actor: &Actor,
    id: &str,
    doc: &AutoCommit,
) -> anyhow::Result<Result<Vec<Notice>, WriteError>> {
    let Some(row) = tickets::get(&mut **tx, id).await? else {
        return Ok(Ok(vec![]));
    };
    let Ok(ticket) = Ticket::hydrate(doc) else {
        return Ok(Err(WriteError::Violations(vec![Violation {
            field: String::new(),
            reason: ViolationReason::Malformed,
        }])));
    };
    let account = account_of(tx, &row.customer_id).await?;
    let messages = tickets::messages(&mut **tx, id, false).await?;
    let expected = ticket_doc(&row, &account, &messages, None)?;
    let mut violations = Vec::new();
    let mut refuse = |differs: bool, field: &str| {
        if differs {
            violations.push(Violation {
                field: field.to_owned(),
                reason: ViolationReason::Forbidden,
            });
        }
    };
    refuse(ticket.subject != expected.subject, "subject");
    refuse(ticket.category != expected.category, "category");
    refuse(ticket.priority != expected.priority, "priority");
    refuse(
        ticket.department_id != expected.department_id,
        "department_id",
    );
    refuse(ticket.assignee_id != expected.assignee_id, "assignee_id");
    if ticket.description.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.push(Violation {
            field: "description".into(),
            reason: ViolationReason::Malformed,
        });
    }
    if !violations.is_empty() {
        return Ok(Err(WriteError::Violations(violations)));
    }
    if ticket.description == row.description {
        return Ok(Ok(vec![]));
    }
    let now = now_ms();
    tickets::set_description(tx, id, &ticket.description, now).await?;
    audit::record(
        tx,
        Some(&actor.user_id),
        "ticket.updated",
        "ticket",
        id,
        json!({ "description": true, "via": "sync" }),
    )
    .await?;
    Ok(Ok(ticket_notices(Happened::TicketUpdated, &row)))
}

/// A ticket event for its department and its customer, with the fields
/// every ticket event carries. The one builder of ticket notices.
pub fn ticket_notices(what: fn(TicketFacts) -> Happened, t: &TicketRow) -> Vec<Notice> {
    vec![
        Notice::department(&t.department_id, what(t.into())),
        Notice::customer(&t.customer_id, what(t.into())),
    ]
}
