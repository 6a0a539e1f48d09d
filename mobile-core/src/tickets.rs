//! Tickets on the phone (`core.tickets()`): reading them, my tickets by
//! status, the description edit, and the help-desk commands — opening a
//! ticket offline (stored at once as a provisional document), closing one,
//! and chat messages.
//!
//! The ticket list query over the index is here; the documents and the
//! outbox they read and write are [`crate::documents`]' and
//! [`crate::outbox`]'s.

use std::sync::Arc;

use fieldops_sync::commands::CommandBody;
use fieldops_sync::docs::ticket::{Priority, TicketNumber, TicketStatus};
use fieldops_sync::docs::{DocumentSchema, Ticket};
use fieldops_sync::ids::{ConversationId, DepartmentId, DocId, DocKind, MessageId};
use fieldops_sync::rules;

use crate::documents::{self, LIST_COLUMNS, ListItem, Me};
use crate::error::{CoreError, Result, check_len};
use crate::events::CoreEvent;
use crate::model::OutboxEntry;
use crate::outbox;
use crate::shared::Shared;
use crate::store::now_ms;

/// Longest ticket description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// Tickets on this device (`core.tickets()`).
#[derive(Debug, Clone, Copy)]
pub struct Tickets<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> Tickets<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Tickets { shared }
    }

    /// A ticket.
    pub fn get(&self, id: DocId) -> Result<Ticket> {
        documents::get(self.shared, id)
    }

    /// Tickets on the device, most recently updated first (those opened
    /// here and not yet numbered before all), optionally of one status.
    pub fn list(&self, status: Option<TicketStatus>) -> Result<Vec<ListItem>> {
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM doc_index
             WHERE doc_index.kind = 'ticket' AND (?1 IS NULL OR status = ?1)
             ORDER BY provisional DESC, sort_key DESC"
        );
        documents::list(self.shared, &sql, &[&status.map(|s| s.as_str())])
    }

    /// Replaces a ticket's description.
    pub fn set_description(&self, ticket_id: DocId, description: &str) -> Result<()> {
        check_len("description", description, MAX_DESCRIPTION_CHARS)?;
        documents::edit::<Ticket>(self.shared, ticket_id, |t| {
            t.description = description.to_owned();
            Ok(())
        })
    }

    /// Opens a ticket, online or not. The ticket is stored at once as a
    /// local document — listed by [`list`](Self::list) as `pending`,
    /// without a number, status open — and a `CreateTicket` command is
    /// queued with the ticket's id. When the server's document (with its
    /// number) arrives it replaces the local one; if the server refuses the
    /// command, the local ticket is removed and the command shows the
    /// reason. Customers only.
    pub fn create(&self, subject: &str, description: &str, category: &str) -> Result<OutboxEntry> {
        let account = self.shared.require_account()?;
        if account.role != rules::Role::Customer {
            return Err(CoreError::invalid(
                "account",
                "only customers open tickets from the app",
            ));
        }
        let ticket_id = DocId::new();
        let (subject, description, category) = (
            subject.trim().to_owned(),
            description.trim().to_owned(),
            category.trim().to_lowercase(),
        );
        let body = CommandBody::CreateTicket {
            ticket_id,
            subject: subject.clone(),
            description: description.clone(),
            category: category.clone(),
        };
        let now = now_ms();
        let ticket = Ticket {
            number: TicketNumber::pending(),
            subject,
            description,
            category,
            priority: Priority::Normal,
            status: TicketStatus::Open,
            customer_id: account.user_id,
            // Chosen by the server; a placeholder until its document arrives.
            department_id: DepartmentId::new(),
            assignee_id: None,
            photo_ids: vec![],
            created_at_ms: now,
            updated_at_ms: now,
            messages: vec![],
        };
        let me = Me(Some(account.user_id));
        let entry = self.shared.store.write(|tx| {
            // The command first: it validates the fields.
            let entry = outbox::enqueue(tx, body)?;
            let mut doc = ticket.to_document()?;
            documents::insert_provisional(tx, ticket_id, DocKind::Ticket, &mut doc, me)?;
            Ok(entry)
        })?;
        self.shared.events.emit(CoreEvent::DocumentChanged {
            doc_id: ticket_id,
            kind: DocKind::Ticket,
        });
        self.shared.after_write();
        Ok(entry)
    }

    /// Closes one of my tickets.
    pub fn close(&self, ticket_id: DocId) -> Result<OutboxEntry> {
        self.shared.require_account()?;
        self.get(ticket_id)?;
        outbox::queue(self.shared, CommandBody::CloseOwnTicket { ticket_id })
    }

    /// Sends a chat message to the help desk (`None`: to my latest
    /// conversation, or a new one if I have none).
    pub fn send_chat_message(
        &self,
        conversation_id: Option<ConversationId>,
        body: &str,
    ) -> Result<OutboxEntry> {
        outbox::queue(
            self.shared,
            CommandBody::SendChatMessage {
                conversation_id,
                client_message_id: MessageId::new(),
                body: body.to_owned(),
            },
        )
    }
}
