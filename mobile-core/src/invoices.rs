//! Invoices on the phone (`core.invoices()`): the customer's invoices and
//! credit notes as the server sent them, and paying one with proof.
//!
//! Invoice documents are the server's: the phone reads them and never
//! edits one. Paying is a decision the server takes (is this more than is
//! due? is the invoice still open?), so it is a command: [`Invoices::pay`]
//! runs the receipt photo through the pipeline and, in **one** store
//! transaction, records the photo (owned by the invoice, upload queued) and
//! queues a `SubmitPayment` command naming the photo's hash, so nothing
//! the customer did is half-saved whatever happens next. Offline, the
//! payment shows in [`Invoices::payments`] as `queued`; once the server
//! accepts it, it arrives in the invoice document as `submitted`, and CS's
//! verification (or rejection, with the reason) follows by sync. The receipt
//! and the command travel separately and in either order: the server
//! records the payment at once and shows the receipt to CS when its bytes
//! arrive.

use std::sync::Arc;

use fieldops_sync::billing::{InvoiceKind, InvoiceStatus, PaymentStatus};
use fieldops_sync::commands::{Command, CommandBody};
use fieldops_sync::docs::Invoice;
use fieldops_sync::docs::photo::{Owner, OwnerKind};
use fieldops_sync::ids::{CommandId, DocId, ItemId};
use fieldops_sync::money::rupiah;
use rusqlite::Connection;

use crate::documents::{self, LIST_COLUMNS, ListItem};
use crate::error::{CoreError, Result};
use crate::model::{CommandState, OutboxEntry};
use crate::outbox;
use crate::photos::{self, AttachedPhoto};
use crate::shared::Shared;

/// Where a payment is, as the customer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    /// On the phone, waiting for the server (offline, or sending).
    Queued,
    /// The server has it; CS will check it.
    Submitted,
    /// CS saw the money arrive.
    Verified,
    /// CS did not find the money (see the reason), or the server refused
    /// the payment (see the reason; nothing was recorded).
    Rejected,
}

/// One payment of an invoice: from the invoice document, or from the
/// outbox while the server has not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    /// The payment's id (chosen on the phone for payments made here).
    pub payment_id: ItemId,
    /// Whole rupiah.
    pub amount: i64,
    /// The bank's reference, as given.
    pub reference: String,
    pub state: PaymentState,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The receipt's SHA-256 (the photo: see `core.photos().of(invoice)`).
    pub proof_sha256: Option<String>,
    /// The command that carries it, for payments made on this phone.
    pub command_id: Option<CommandId>,
}

/// What [`Invoices::pay`] queued.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentReceipt {
    /// The payment's id: it keeps it in the invoice once the server has it.
    pub payment_id: ItemId,
    /// The `SubmitPayment` command, `pending` until the server answers.
    pub command: OutboxEntry,
    /// The receipt photo, its upload queued.
    pub receipt: AttachedPhoto,
}

/// Invoices on this device (`core.invoices()`).
#[derive(Debug, Clone, Copy)]
pub struct Invoices<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> Invoices<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Invoices { shared }
    }

    /// An invoice or credit note.
    pub fn get(&self, id: DocId) -> Result<Invoice> {
        documents::get(self.shared, id)
    }

    /// Invoices and credit notes on the device, newest first, optionally of
    /// one status (title: the number).
    pub fn list(&self, status: Option<InvoiceStatus>) -> Result<Vec<ListItem>> {
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM doc_index
             WHERE doc_index.kind = 'invoice' AND (?1 IS NULL OR status = ?1)
             ORDER BY sort_key DESC, doc_id DESC"
        );
        documents::list(self.shared, &sql, &[&status.map(|s| s.as_str())])
    }

    /// The payments of an invoice: those the server has, then those still
    /// on their way from this phone (and those it refused, with the reason).
    pub fn payments(&self, invoice_id: DocId) -> Result<Vec<PaymentView>> {
        let invoice = self.get(invoice_id)?;
        let queued = self
            .shared
            .store
            .read(|conn| outbox::about(conn, invoice_id, PAY))?;
        let mut views: Vec<PaymentView> = invoice
            .payments
            .iter()
            .map(|p| PaymentView {
                payment_id: p.id,
                amount: p.amount,
                reference: p.reference.clone(),
                state: match p.status {
                    PaymentStatus::Submitted => PaymentState::Submitted,
                    PaymentStatus::Verified => PaymentState::Verified,
                    PaymentStatus::Rejected => PaymentState::Rejected,
                },
                reason: p.reason.clone(),
                proof_sha256: p.proof_sha256.clone(),
                command_id: queued
                    .iter()
                    .find(|(_, c)| payment_of(&c.body).is_some_and(|(id, ..)| id == p.id))
                    .map(|(entry, _)| entry.command_id),
            })
            .collect();
        for (entry, command) in &queued {
            let Some((payment_id, amount, reference, proof)) = payment_of(&command.body) else {
                continue;
            };
            if invoice.payments.iter().any(|p| p.id == payment_id) {
                continue;
            }
            let (state, reason) = match entry.state {
                CommandState::Pending | CommandState::Sending => (PaymentState::Queued, None),
                // Accepted, and the invoice with it not synced yet.
                CommandState::Accepted => (PaymentState::Submitted, None),
                CommandState::Rejected => (PaymentState::Rejected, entry.message.clone()),
            };
            views.push(PaymentView {
                payment_id,
                amount,
                reference: reference.to_owned(),
                state,
                reason,
                proof_sha256: proof.map(str::to_owned),
                command_id: Some(entry.command_id),
            });
        }
        Ok(views)
    }

    /// Pays `amount` of an invoice, online or not, with a photo of the
    /// transfer receipt (JPEG, PNG or WebP bytes) and the bank's reference
    /// if there is one. The amount may not exceed what is still open: the
    /// amount due less payments waiting to be checked, including those
    /// queued here. CPU-heavy (the photo pipeline): call it off the UI
    /// thread.
    pub fn pay(
        &self,
        invoice_id: DocId,
        amount: i64,
        reference: &str,
        receipt: &[u8],
        taken_at_ms: i64,
    ) -> Result<PaymentReceipt> {
        let invoice = self.get(invoice_id)?;
        if invoice.kind != InvoiceKind::Invoice
            || !matches!(
                invoice.status,
                InvoiceStatus::Sent | InvoiceStatus::PaymentSubmitted
            )
        {
            return Err(CoreError::invalid(
                "invoice_id",
                format!("this {} takes no payment", invoice.status),
            ));
        }
        if amount <= 0 {
            return Err(CoreError::invalid("amount", "must be more than zero"));
        }
        let payment_id = ItemId::new();
        let body = |proof: String| CommandBody::SubmitPayment {
            invoice_id,
            payment_id,
            amount,
            reference: reference.to_owned(),
            proof_sha256: Some(proof),
        };
        // Everything but the receipt is checked before the pipeline runs
        // and writes the receipt's files.
        Command {
            id: CommandId::new(),
            device_seq: 1,
            issued_at_ms: 0,
            body: body("0".repeat(64)),
        }
        .validate()?;
        self.shared
            .store
            .read(|conn| check_open(conn, invoice_id, &invoice, amount))?;
        let owner = Owner {
            kind: OwnerKind::Invoice,
            id: invoice_id,
        };
        let prepared = photos::prepare(self.shared, owner, receipt, reference, taken_at_ms)?;
        let command = self.shared.store.write(|tx| {
            // Again in the write: two payments at once cannot both pass.
            check_open(tx, invoice_id, &invoice, amount)?;
            photos::record(tx, &self.shared.files, &prepared)?;
            outbox::enqueue(tx, body(prepared.sha256().to_owned()))
        })?;
        let receipt = photos::announce(self.shared, prepared);
        Ok(PaymentReceipt {
            payment_id,
            command,
            receipt,
        })
    }
}

/// Refuses `amount` above what is open on `invoice`: what is due less the
/// payments being checked, and less those this phone has queued and the
/// server has not recorded in it yet.
fn check_open(conn: &Connection, invoice_id: DocId, invoice: &Invoice, amount: i64) -> Result<()> {
    let queued: i64 = outbox::about(conn, invoice_id, PAY)?
        .iter()
        .filter(|(entry, _)| entry.state != CommandState::Rejected)
        .filter_map(|(_, command)| payment_of(&command.body))
        .filter(|(id, ..)| invoice.payments.iter().all(|p| p.id != *id))
        .map(|(_, amount, ..)| amount)
        .sum();
    let open = invoice.payable() - queued;
    if amount > open {
        return Err(CoreError::invalid(
            "amount",
            format!(
                "is more than the {} still open (due, less payments being checked)",
                rupiah(open.max(0))
            ),
        ));
    }
    Ok(())
}

/// The command name of a payment.
const PAY: &str = "submit_payment";

/// `(payment id, amount, reference, proof)` of a `SubmitPayment`.
fn payment_of(body: &CommandBody) -> Option<(ItemId, i64, &str, Option<&str>)> {
    match body {
        CommandBody::SubmitPayment {
            payment_id,
            amount,
            reference,
            proof_sha256,
            ..
        } => Some((
            *payment_id,
            *amount,
            reference.as_str(),
            proof_sha256.as_deref(),
        )),
        _ => None,
    }
}
