//! An invoice's PDF: rendered once, when it is sent, from the one template
//! (`fieldops-pdf`), stored content-addressed in the blob store and never
//! rendered again; downloads are signed links.
//!
//! Rendering and storing happen before the unit of work that sends the
//! invoice ([`prepare`], then [`super::send`] with what it made): storing
//! takes its own short transaction, which must not wait inside another's
//! on SQLite's one writer. A PDF made for a send that is then refused is
//! referred to by nothing and collected after the grace period.

use fieldops_sync::billing::{InvoiceKind, InvoiceStatus};
use fieldops_sync::money::{Quantity, STAMP_DUTY_ABOVE, TaxRule, rupiah};

use super::{Detail, visible};
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::invoices as db;
use crate::i18n::{Lang, date};
use crate::service::{ServiceError, allow};

/// A PDF made for an invoice about to be sent: its blob's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub sha256: String,
}

/// Renders approved invoice `id` and stores the PDF (CS, before sending).
pub async fn prepare(state: &AppState, actor: &Actor, id: &str) -> Result<Made, ServiceError> {
    allow(actor, Action::DraftInvoices)?;
    let invoice = visible(&state.db, actor, id).await?;
    if invoice.status != InvoiceStatus::Approved {
        return Err(ServiceError::conflict(
            "invoice_status",
            crate::t!(
                "problem-invoice-pdf-not-approved",
                status = invoice.status.as_str()
            ),
        ));
    }
    let mut conn = state.db.pool().acquire().await?;
    let original = match &invoice.credits_id {
        Some(o) => db::get(&mut *conn, o).await?,
        None => None,
    };
    let detail = Detail::read(&mut conn, invoice).await?;
    drop(conn);
    let document = document(state, Lang::Id, &detail, original.as_ref());
    let bytes = tokio::task::spawn_blocking(move || document.render())
        .await
        .map_err(|e| ServiceError::Internal(e.into()))?
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let sha256 = crate::photos::store_made(state, bytes, "application/pdf", (0, 0)).await?;
    Ok(Made { sha256 })
}

/// What the template prints for `detail`, in `lang`.
pub fn document(
    state: &AppState,
    lang: Lang,
    detail: &Detail,
    original: Option<&db::InvoiceRow>,
) -> fieldops_pdf::Invoice {
    let i = &detail.invoice;
    let seller = &state.config.invoices;
    let quantity = |milli| Quantity::from_milli(milli).map_or(String::new(), |q| q.to_string());
    let title = match i.kind {
        InvoiceKind::Invoice => "pdf-title-invoice",
        InvoiceKind::CreditNote => "pdf-title-credit-note",
    };
    fieldops_pdf::Invoice {
        lang: lang.code().to_owned(),
        title: lang.text(title),
        number: i.number.clone().unwrap_or_default(),
        date: i
            .issued_on
            .as_deref()
            .map(|d| date(lang, d))
            .unwrap_or_default(),
        seller: fieldops_pdf::Party {
            name: seller.seller_name.clone(),
            address: seller.seller_address.clone(),
            npwp: seller.seller_npwp.clone(),
        },
        buyer: fieldops_pdf::Party {
            name: i.customer_name.clone(),
            address: i.customer_address.clone(),
            npwp: String::new(),
        },
        credits: original
            .map(|o| {
                let on = o
                    .issued_on
                    .as_deref()
                    .map(|d| date(lang, d))
                    .unwrap_or_default();
                format!("{}, {on}", o.number.as_deref().unwrap_or_default())
            })
            .unwrap_or_default(),
        tax_invoice_number: i.tax_invoice_number.clone().unwrap_or_default(),
        lines: detail
            .lines
            .iter()
            .map(|l| fieldops_pdf::Line {
                kind: lang.text(&format!("line-kind-{}", l.kind.as_str())),
                description: l.description.clone(),
                quantity: quantity(l.quantity_milli),
                unit_price: rupiah(l.unit_price),
                amount: rupiah(l.amount),
            })
            .collect(),
        subtotal: rupiah(i.subtotal),
        taxed: i.tax_rule != TaxRule::None.as_str(),
        tax_base: rupiah(i.tax_base),
        tax: rupiah(i.tax),
        total: rupiah(i.total),
        in_words: if lang == Lang::Id {
            fieldops_pdf::terbilang(i.total)
        } else {
            String::new()
        },
        notes: i.notes.clone(),
        stamp_duty: i.total > STAMP_DUTY_ABOVE,
        labels: fieldops_pdf::LABELS
            .iter()
            .map(|key| (*key, lang.text(&format!("pdf-{}", key.replace('_', "-")))))
            .collect(),
    }
}
