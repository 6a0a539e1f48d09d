//! The invoice document: an invoice or credit note as the customer has it,
//! on their phone, offline.
//!
//! Server-owned from end to end: the server writes it when the invoice is
//! sent and rewrites it on every later change (a payment submitted,
//! verified or rejected, a credit note, a write-off); no device may change
//! a field of it ([`crate::rules::RULES`] has only the server row). A
//! customer pays by queueing a
//! [`SubmitPayment`](crate::commands::CommandBody::SubmitPayment) command
//! with a photo of the transfer receipt, which the phone shows as pending
//! until the server answers; the accepted payment then arrives in
//! [`Invoice::payments`] by ordinary sync.
//!
//! Amounts are whole units of [`Invoice::currency`] (rupiah: exponent 0),
//! as computed by the server from [`crate::money`]; the phone never
//! recomputes a total.

use automerge::AutoCommit;

use super::codec::{MapRead, MapWrite};
use super::{DocumentSchema, Header};
use crate::billing::{InvoiceKind, InvoiceStatus, LineKind, PaymentStatus};
use crate::error::SchemaError;
use crate::ids::{DocId, DocKind, ItemId, UserId};
use crate::money::Quantity;

document_fields! {
    /// The fields of an invoice document.
    pub enum Field {
        /// `INV/2026/000123` or `CN/2026/000007`.
        Number = "number",
        /// [`InvoiceKind`] code.
        InvoiceKind = "invoice_kind",
        /// [`InvoiceStatus`] code.
        Status = "status",
        /// The customer record billed.
        CustomerId = "customer_id",
        /// The done visits billed.
        VisitIds = "visit_ids",
        /// For a credit note: the number of the invoice it corrects.
        Credits = "credits",
        /// ISO 4217 code (`IDR`).
        Currency = "currency",
        /// When it was sent to the customer, Unix ms.
        SentAtMs = "sent_at_ms",
        /// The lines, in order.
        Lines = "lines",
        /// Sum of the lines.
        Subtotal = "subtotal",
        /// The tax base (DPP).
        TaxBase = "tax_base",
        /// The tax (PPN).
        Tax = "tax",
        /// What the customer pays.
        Total = "total",
        /// Whether a receipt needs stamp duty (e-meterai).
        StampDuty = "stamp_duty",
        /// The tax office's own 17-digit tax-invoice number, if any.
        TaxInvoiceNumber = "tax_invoice_number",
        /// Still to pay: total less issued credit notes, verified payments
        /// and write-offs.
        AmountDue = "amount_due",
        /// Written off by staff.
        WrittenOff = "written_off",
        /// Payments, oldest first.
        Payments = "payments",
        /// SHA-256 of the PDF, downloadable as a file.
        PdfSha256 = "pdf_sha256",
    }
}

mod keys {
    pub(super) const ID: &str = "id";
    pub(super) const KIND: &str = "kind";
    pub(super) const DESCRIPTION: &str = "description";
    pub(super) const QUANTITY: &str = "quantity";
    pub(super) const UNIT_PRICE: &str = "unit_price";
    pub(super) const AMOUNT: &str = "amount";
    pub(super) const STATUS: &str = "status";
    pub(super) const REFERENCE: &str = "reference";
    pub(super) const PROOF_SHA256: &str = "proof_sha256";
    pub(super) const SUBMITTED_AT_MS: &str = "submitted_at_ms";
    pub(super) const BY_CUSTOMER: &str = "by_customer";
    pub(super) const REASON: &str = "reason";
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    /// Stable id.
    pub id: ItemId,
    /// Labour, material, travel or other.
    pub kind: LineKind,
    /// What was charged for.
    pub description: String,
    /// How many, to a thousandth.
    pub quantity: Quantity,
    /// Per unit.
    pub unit_price: i64,
    /// Quantity times unit price.
    pub amount: i64,
}

/// One payment towards an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicePayment {
    /// Stable id.
    pub id: ItemId,
    /// How much.
    pub amount: i64,
    /// Submitted, verified or rejected.
    pub status: PaymentStatus,
    /// The bank's reference, as given.
    pub reference: String,
    /// The proof's SHA-256 (a photo or PDF), if one was attached.
    pub proof_sha256: Option<String>,
    /// When it was submitted, Unix ms.
    pub submitted_at_ms: i64,
    /// Whether the customer submitted it (else staff did).
    pub by_customer: bool,
    /// Why CS rejected it.
    pub reason: Option<String>,
}

/// An invoice or credit note, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// Its number.
    pub number: String,
    /// Invoice or credit note.
    pub kind: InvoiceKind,
    /// Sent, payment submitted or paid.
    pub status: InvoiceStatus,
    /// The customer record billed.
    pub customer_id: UserId,
    /// The visits billed.
    pub visit_ids: Vec<DocId>,
    /// The corrected invoice's number (credit notes).
    pub credits: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// When it was sent, Unix ms.
    pub sent_at_ms: i64,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// Sum of the lines.
    pub subtotal: i64,
    /// DPP.
    pub tax_base: i64,
    /// PPN.
    pub tax: i64,
    /// What the customer pays.
    pub total: i64,
    /// Needs e-meterai.
    pub stamp_duty: bool,
    /// The tax office's number.
    pub tax_invoice_number: Option<String>,
    /// Still to pay.
    pub amount_due: i64,
    /// Written off.
    pub written_off: i64,
    /// Payments, oldest first.
    pub payments: Vec<InvoicePayment>,
    /// The PDF's SHA-256.
    pub pdf_sha256: Option<String>,
}

impl Invoice {
    /// What the customer may still pay by a new proof: the amount due less
    /// payments waiting to be checked (the server's rule, for the form).
    pub fn payable(&self) -> i64 {
        let unchecked: i64 = self
            .payments
            .iter()
            .filter(|p| p.status == PaymentStatus::Submitted)
            .map(|p| p.amount)
            .sum();
        (self.amount_due - unchecked).max(0)
    }
}

impl DocumentSchema for Invoice {
    const KIND: DocKind = DocKind::Invoice;
    const SCHEMA_VERSION: u64 = 1;

    fn hydrate(doc: &AutoCommit) -> Result<Self, SchemaError> {
        Header::expect::<Self>(doc)?;
        let root = MapRead::root(doc);
        let amount = |map: &MapRead<'_>, key: &str| -> Result<i64, SchemaError> {
            let value = map.i64(key)?;
            if value < 0 {
                return Err(SchemaError::invalid(key, "must not be negative"));
            }
            Ok(value)
        };
        Ok(Invoice {
            number: root.str(Field::Number.key())?,
            kind: root.parse(Field::InvoiceKind.key())?,
            status: root.parse(Field::Status.key())?,
            customer_id: root.parse(Field::CustomerId.key())?,
            visit_ids: root.parse_list(Field::VisitIds.key())?,
            credits: root.opt_str(Field::Credits.key())?,
            currency: root.str(Field::Currency.key())?,
            sent_at_ms: root.i64(Field::SentAtMs.key())?,
            lines: root.map_list(Field::Lines.key(), |line| {
                Ok(InvoiceLine {
                    id: line.parse(keys::ID)?,
                    kind: line.parse(keys::KIND)?,
                    description: line.str(keys::DESCRIPTION)?,
                    quantity: line.parse(keys::QUANTITY)?,
                    unit_price: amount(line, keys::UNIT_PRICE)?,
                    amount: amount(line, keys::AMOUNT)?,
                })
            })?,
            subtotal: amount(&root, Field::Subtotal.key())?,
            tax_base: amount(&root, Field::TaxBase.key())?,
            tax: amount(&root, Field::Tax.key())?,
            total: amount(&root, Field::Total.key())?,
            stamp_duty: root.bool(Field::StampDuty.key())?,
            tax_invoice_number: root.opt_str(Field::TaxInvoiceNumber.key())?,
            amount_due: root.i64(Field::AmountDue.key())?,
            written_off: amount(&root, Field::WrittenOff.key())?,
            payments: root.map_list(Field::Payments.key(), |payment| {
                Ok(InvoicePayment {
                    id: payment.parse(keys::ID)?,
                    amount: amount(payment, keys::AMOUNT)?,
                    status: payment.parse(keys::STATUS)?,
                    reference: payment.str(keys::REFERENCE)?,
                    proof_sha256: payment.opt_str(keys::PROOF_SHA256)?,
                    submitted_at_ms: payment.i64(keys::SUBMITTED_AT_MS)?,
                    by_customer: payment.bool(keys::BY_CUSTOMER)?,
                    reason: payment.opt_str(keys::REASON)?,
                })
            })?,
            pdf_sha256: root.opt_str(Field::PdfSha256.key())?,
        })
    }

    fn reconcile(&self, doc: &mut AutoCommit) -> Result<(), SchemaError> {
        Header::prepare::<Self>(doc)?;
        let mut root = MapWrite::root(doc);
        root.put(Field::Number.key(), self.number.as_str())?;
        root.put(Field::InvoiceKind.key(), self.kind.as_str())?;
        root.put(Field::Status.key(), self.status.as_str())?;
        root.put_display(Field::CustomerId.key(), &self.customer_id)?;
        root.display_list(Field::VisitIds.key(), &self.visit_ids)?;
        root.put_opt(Field::Credits.key(), self.credits.as_deref())?;
        root.put(Field::Currency.key(), self.currency.as_str())?;
        root.put(Field::SentAtMs.key(), self.sent_at_ms)?;
        root.keyed_list(
            Field::Lines.key(),
            keys::ID,
            &self.lines,
            |line| line.id.to_string(),
            |record, line| {
                record.put(keys::KIND, line.kind.as_str())?;
                record.put(keys::DESCRIPTION, line.description.as_str())?;
                record.put_display(keys::QUANTITY, &line.quantity)?;
                record.put(keys::UNIT_PRICE, line.unit_price)?;
                record.put(keys::AMOUNT, line.amount)
            },
        )?;
        root.put(Field::Subtotal.key(), self.subtotal)?;
        root.put(Field::TaxBase.key(), self.tax_base)?;
        root.put(Field::Tax.key(), self.tax)?;
        root.put(Field::Total.key(), self.total)?;
        root.put(Field::StampDuty.key(), self.stamp_duty)?;
        root.put_opt(
            Field::TaxInvoiceNumber.key(),
            self.tax_invoice_number.as_deref(),
        )?;
        root.put(Field::AmountDue.key(), self.amount_due)?;
        root.put(Field::WrittenOff.key(), self.written_off)?;
        root.keyed_list(
            Field::Payments.key(),
            keys::ID,
            &self.payments,
            |payment| payment.id.to_string(),
            |record, payment| {
                record.put(keys::AMOUNT, payment.amount)?;
                record.put(keys::STATUS, payment.status.as_str())?;
                record.put(keys::REFERENCE, payment.reference.as_str())?;
                record.put_opt(keys::PROOF_SHA256, payment.proof_sha256.as_deref())?;
                record.put(keys::SUBMITTED_AT_MS, payment.submitted_at_ms)?;
                record.put(keys::BY_CUSTOMER, payment.by_customer)?;
                record.put_opt(keys::REASON, payment.reason.as_deref())
            },
        )?;
        root.put_opt(Field::PdfSha256.key(), self.pdf_sha256.as_deref())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use automerge::ROOT;
    use automerge::transaction::Transactable;

    use super::*;
    use crate::testing::sample_invoice;

    #[test]
    fn round_trips_and_rewrites_only_what_changed() {
        let invoice = sample_invoice();
        let mut doc = invoice.to_document().unwrap();
        assert_eq!(Invoice::hydrate(&doc).unwrap(), invoice);

        let mut paid = invoice.clone();
        paid.payments[0].status = PaymentStatus::Verified;
        paid.amount_due = 0;
        paid.status = InvoiceStatus::Paid;
        let before = doc.get_heads();
        paid.reconcile(&mut doc).unwrap();
        assert_eq!(Invoice::hydrate(&doc).unwrap(), paid);
        let change = doc.get_changes(&before);
        assert_eq!(change.len(), 1);
        assert_eq!(change[0].len(), 3, "status, amount due, payment status");
        assert_eq!(invoice.payable(), 0, "the one payment waits to be checked");
    }

    #[test]
    fn refuses_negative_amounts() {
        let mut doc = sample_invoice().to_document().unwrap();
        doc.put(ROOT, Field::Total.key(), -1).unwrap();
        assert!(matches!(
            Invoice::hydrate(&doc),
            Err(SchemaError::InvalidValue { field, .. }) if field == "total"
        ));
    }
}
