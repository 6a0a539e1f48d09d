//! Invoices as sync documents: an invoice the customer has (sent or later)
//! is written into its Automerge document (document id = invoice id) in the
//! same transaction as every change to it, so the customer's phone lists
//! and reads its invoices offline and learns of a verified payment by
//! ordinary sync.
//!
//! SQL is the source of truth for every field, and no device may write one
//! (the write rules give the kind to the server alone); a customer pays
//! with the `SubmitPayment` command. Drafts and invoices waiting for
//! approval never become documents: the customer does not have them.
//!
//! Scope: the customer record (`DocScope::customer_id`) and no department,
//! so the customer's devices and every CS, sales and admin account read it;
//! technicians never do.

use automerge::AutoCommit;
use fieldops_sync::docs::DocumentSchema;
use fieldops_sync::docs::invoice::{Invoice, InvoiceLine, InvoicePayment};
use fieldops_sync::ids::{DocId, DocKind, ItemId, UserId};
use fieldops_sync::money::Quantity;

use super::{Changed, DocScope, store, stored_uuid};
use crate::db::{Db, Tx, users};
use crate::invoices::Detail;

/// A line's id: lines have none in SQL and never change once an invoice is
/// sent, so the id is the invoice's with the line's position mixed in.
fn line_id(invoice: uuid::Uuid, position: usize) -> ItemId {
    let mut bytes = *invoice.as_bytes();
    let [hi, lo] = u16::try_from(position).unwrap_or(u16::MAX).to_be_bytes();
    bytes[14] ^= hi;
    bytes[15] ^= lo.wrapping_add(1);
    ItemId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// The document form of an issued invoice.
fn invoice_doc(detail: &Detail, account: Option<&str>) -> anyhow::Result<Invoice> {
    let row = &detail.invoice;
    let id = stored_uuid(&row.id)?;
    let lines = detail
        .lines
        .iter()
        .enumerate()
        .map(|(position, line)| {
            Ok(InvoiceLine {
                id: line_id(id, position),
                kind: line.kind,
                description: line.description.clone(),
                quantity: Quantity::from_milli(line.quantity_milli)
                    .map_err(|e| anyhow::anyhow!("invoice {} line {position}: {e}", row.id))?,
                unit_price: line.unit_price,
                amount: line.amount,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let payments = detail
        .payments
        .iter()
        .map(|p| {
            Ok(InvoicePayment {
                id: ItemId::from_uuid(stored_uuid(&p.id)?),
                amount: p.amount,
                status: p.status,
                reference: p.reference.clone(),
                proof_sha256: p.proof_sha256.clone(),
                submitted_at_ms: p.submitted_at,
                by_customer: account == Some(p.submitted_by.as_str()),
                reason: p.reject_reason.clone(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Invoice {
        number: row.number.clone().unwrap_or_default(),
        kind: row.kind,
        status: row.status,
        customer_id: UserId::from_uuid(stored_uuid(&row.customer_id)?),
        visit_ids: detail
            .visit_ids
            .iter()
            .map(|v| stored_uuid(v).map(DocId::from_uuid))
            .collect::<anyhow::Result<_>>()?,
        credits: detail.credits_number.clone(),
        currency: row.currency.clone(),
        sent_at_ms: row.sent_at.unwrap_or(row.updated_at),
        lines,
        subtotal: row.subtotal,
        tax_base: row.tax_base,
        tax: row.tax,
        total: row.total,
        stamp_duty: row.total > fieldops_sync::money::STAMP_DUTY_ABOVE,
        tax_invoice_number: row.tax_invoice_number.clone(),
        amount_due: detail.amount_due,
        written_off: row.written_off,
        payments,
        pdf_sha256: row.pdf_sha256.clone(),
    })
}

/// Writes the issued invoice of `detail` into its document inside `tx`,
/// creating it the first time; an invoice the customer does not have is
/// left alone. Returns what changed, for the wake-up.
pub async fn project(tx: &mut Tx, db: &Db, detail: &Detail) -> anyhow::Result<Vec<Changed>> {
    let row = &detail.invoice;
    if !row.status.is_issued() {
        return Ok(vec![]);
    }
    let account = users::account_of_customer(&mut **tx, &row.customer_id).await?;
    let invoice = invoice_doc(detail, account.as_deref())?;
    if store::get(&mut **tx, &row.id).await?.is_none() {
        let scope = DocScope {
            customer_id: Some(row.customer_id.clone()),
            department_id: None,
            in_pool: false,
        };
        let mut doc = invoice.to_document()?;
        let created = super::create(tx, &row.id, DocKind::Invoice, scope, &mut doc, &[]).await?;
        return Ok(vec![created]);
    }
    let stored =
        super::write_as_server(tx, db, &row.id, DocKind::Invoice, |doc: &mut AutoCommit| {
            Ok(invoice.reconcile(doc)?)
        })
        .await
        .map_err(|e| e.context(format!("projecting invoice {}", row.id)))?;
    Ok(stored.changed.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::line_id;

    #[test]
    fn line_ids_are_stable_and_distinct() {
        let invoice = uuid::Uuid::now_v7();
        let ids: Vec<_> = (0..300).map(|i| line_id(invoice, i)).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert_eq!(line_id(invoice, 7), ids[7]);
    }
}
