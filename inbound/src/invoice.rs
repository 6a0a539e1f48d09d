//! The bodies of the invoice requests staff and customers send
//! (`/api/v1/invoices…`), as JSON decodes them. What a line means and
//! whether it is acceptable is [`fieldops_sync::billing::price_lines`]'s
//! to say; [`LineRequest::draft`] hands a line to it.
//!
//! Unknown fields are refused (a misspelt `unit_prize` is an error, not a
//! line priced at nothing). With the `utoipa` feature the types describe
//! themselves for the server's OpenAPI document.

use fieldops_sync::billing::{LineDraft, LineKind};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

/// One line of an invoice as a client writes it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    pub kind: LineKind,
    pub description: String,
    /// A decimal with at most three places, as a number or a string (`2.5`).
    #[serde(deserialize_with = "decimal_text")]
    #[cfg_attr(feature = "utoipa", schema(value_type = String, example = "2.5"))]
    pub quantity: String,
    /// Whole rupiah per unit (IDR has no minor unit).
    #[cfg_attr(
        feature = "utoipa",
        schema(minimum = 0, maximum = 1_000_000_000_000_i64)
    )]
    pub unit_price: i64,
}

impl LineRequest {
    /// The line as the pricing rule reads it.
    pub fn draft(&self) -> LineDraft<'_> {
        LineDraft {
            kind: self.kind,
            description: &self.description,
            quantity: &self.quantity,
            unit_price: self.unit_price,
        }
    }
}

/// A number or a string, as the text of a decimal.
fn decimal_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Decimal {
        Number(serde_json::Number),
        Text(String),
    }
    Ok(match Decimal::deserialize(d)? {
        Decimal::Number(n) => n.to_string(),
        Decimal::Text(s) => s,
    })
}

/// A new invoice for done visits.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    /// Done visits of one customer (and at most one ticket), not yet invoiced.
    pub visit_ids: Vec<Uuid>,
    pub lines: Vec<LineRequest>,
    #[serde(default)]
    pub notes: String,
    /// The tax office's 17-digit tax-invoice number (Faktur Pajak), if issued.
    pub tax_invoice_number: Option<String>,
}

/// A change to a draft; an absent part is kept.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// Replaces every line.
    pub lines: Option<Vec<LineRequest>>,
    pub notes: Option<String>,
    /// `""` clears it.
    pub tax_invoice_number: Option<String>,
    /// The `version` you loaded; another is a 409 `version_mismatch`.
    pub version: Option<i64>,
}

/// Why an invoice goes back, is voided or written off.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// Why: what sales want changed, why it is voided or written off.
    #[serde(alias = "comment")]
    pub reason: String,
}

/// A payment, with its proof.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// Whole rupiah, at most what is due.
    pub amount: i64,
    /// SHA-256 (hex) of the receipt photo, uploaded first through
    /// `/api/v1/uploads`. Required from customers.
    pub proof_sha256: Option<String>,
    /// The bank's reference. Required from CS when there is no photo.
    #[serde(default)]
    pub reference: String,
}

/// A credit note correcting a sent invoice.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreditNoteRequest {
    /// What is credited, priced like invoice lines.
    pub lines: Vec<LineRequest>,
    pub reason: String,
}

/// CS's verdict on a submitted payment.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckPaymentRequest {
    /// `true`: the money arrived and counts; `false`: rejected, with a reason.
    pub verified: bool,
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_quantity_is_a_number_or_a_string_and_strangers_are_refused() {
        let line: LineRequest = serde_json::from_str(
            r#"{"kind":"labour","description":"Servis","quantity":2.5,"unit_price":150000}"#,
        )
        .unwrap();
        assert_eq!(line.quantity, "2.5");
        let line: LineRequest = serde_json::from_str(
            r#"{"kind":"material","description":"Freon","quantity":"0.125","unit_price":1}"#,
        )
        .unwrap();
        assert_eq!(line.draft().quantity, "0.125");
        let misspelt = serde_json::from_str::<LineRequest>(
            r#"{"kind":"labour","description":"Servis","quantity":1,"unit_prize":5}"#,
        );
        assert!(misspelt.is_err());
        let comment: CommentRequest = serde_json::from_str(r#"{"comment":"Harga"}"#).unwrap();
        assert_eq!(comment.reason, "Harga");
    }
}
