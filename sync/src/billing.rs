//! The vocabulary of invoices and credit notes, and the one state machine
//! every transition is checked against.
//!
//! ```text
//! draft ─submit─> pending_approval ─approve─> approved ─send─> sent
//!   ^                    │                       │               │ proof of payment
//!   └──── return ────────┘                       │               v
//!   │                                            │      payment_submitted ─verify─> paid
//!   └──────────── void (draft, pending, approved)┘
//! ```
//!
//! After `sent` an invoice is never edited: a credit note (its own number
//! series) corrects it. A credit note runs the same approval and is
//! `sent` to the customer; it takes no payments.

string_enum! {
    /// Where an invoice is in its life.
    pub enum InvoiceStatus {
        /// Being written by CS; lines editable.
        Draft = "draft",
        /// Submitted to sales for price approval.
        PendingApproval = "pending_approval",
        /// Price approved by sales and numbered; locked.
        Approved = "approved",
        /// Sent to the customer.
        Sent = "sent",
        /// The customer or CS attached proof of payment; CS verifies it.
        PaymentSubmitted = "payment_submitted",
        /// Verified payments (and any write-off) cover the amount due.
        Paid = "paid",
        /// Cancelled before it was sent (a numbered one keeps its number).
        Void = "void",
    }
}

string_enum! {
    /// An invoice, or a credit note that corrects a sent one.
    pub enum InvoiceKind {
        Invoice = "invoice",
        CreditNote = "credit_note",
    }
}

string_enum! {
    /// What a line charges for.
    pub enum LineKind {
        Labour = "labour",
        Material = "material",
        Travel = "travel",
        Other = "other",
    }
}

string_enum! {
    /// Where a payment is in its check by CS.
    pub enum PaymentStatus {
        /// Proof attached, not yet checked.
        Submitted = "submitted",
        /// CS saw the money arrive.
        Verified = "verified",
        /// CS did not find the money; the reason says why.
        Rejected = "rejected",
    }
}

impl InvoiceKind {
    /// The number series: `INV/2026/000123`, `CN/2026/000007`.
    pub const fn series(self) -> &'static str {
        match self {
            InvoiceKind::Invoice => "INV",
            InvoiceKind::CreditNote => "CN",
        }
    }
}

/// A gapless number: series, year (in the sites' calendar) and sequence.
pub fn invoice_number(kind: InvoiceKind, year: i32, sequence: i64) -> String {
    format!("{}/{year}/{sequence:06}", kind.series())
}

impl InvoiceStatus {
    /// Whether the lines may still change.
    pub fn is_editable(self) -> bool {
        self == InvoiceStatus::Draft
    }

    /// Whether the customer has it (sent or later, not void): from here
    /// it is corrected only by a credit note.
    pub fn is_issued(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Sent | InvoiceStatus::PaymentSubmitted | InvoiceStatus::Paid
        )
    }

    /// Whether an invoice of `kind` may move from `self` to `to` by a
    /// person's action (payments move `sent`, `payment_submitted` and
    /// `paid` among themselves, [`InvoiceStatus::from_payments`]).
    pub fn can_become(self, kind: InvoiceKind, to: InvoiceStatus) -> bool {
        use InvoiceStatus::*;
        match (self, to) {
            (Draft, PendingApproval)
            | (PendingApproval, Approved | Draft)
            | (Approved, Sent)
            | (Draft | PendingApproval | Approved, Void) => true,
            (Sent | PaymentSubmitted, PaymentSubmitted | Paid) => kind == InvoiceKind::Invoice,
            _ => false,
        }
    }

    /// The status of an issued invoice given its payments: paid once
    /// nothing is due, waiting for CS while any proof is unchecked, else
    /// sent.
    pub fn from_payments(amount_due: i64, unchecked: usize) -> Self {
        if amount_due <= 0 {
            InvoiceStatus::Paid
        } else if unchecked > 0 {
            InvoiceStatus::PaymentSubmitted
        } else {
            InvoiceStatus::Sent
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::InvoiceKind::{CreditNote, Invoice};
    use super::InvoiceStatus::*;
    use super::*;

    #[test]
    fn the_approval_path_and_its_way_back() {
        let path = [
            Draft,
            PendingApproval,
            Approved,
            Sent,
            PaymentSubmitted,
            Paid,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].can_become(Invoice, pair[1]), "{pair:?}");
        }
        assert!(PendingApproval.can_become(Invoice, Draft));
        // No skipping approval, no going back after sending.
        assert!(!Draft.can_become(Invoice, Approved));
        assert!(!Draft.can_become(Invoice, Sent));
        assert!(!Sent.can_become(Invoice, Draft));
        assert!(!Approved.can_become(Invoice, Draft));
    }

    #[test]
    fn void_only_before_the_customer_has_it() {
        for s in [Draft, PendingApproval, Approved] {
            assert!(s.can_become(Invoice, Void));
            assert!(!s.is_issued());
        }
        for s in [Sent, PaymentSubmitted, Paid, Void] {
            assert!(!s.can_become(Invoice, Void), "{s}");
        }
    }

    #[test]
    fn credit_notes_take_no_payments() {
        assert!(Approved.can_become(CreditNote, Sent));
        assert!(!Sent.can_become(CreditNote, PaymentSubmitted));
        assert!(!Sent.can_become(CreditNote, Paid));
    }

    #[test]
    fn payments_decide_the_status_of_an_issued_invoice() {
        assert_eq!(InvoiceStatus::from_payments(100, 0), Sent);
        assert_eq!(InvoiceStatus::from_payments(100, 1), PaymentSubmitted);
        assert_eq!(InvoiceStatus::from_payments(0, 1), Paid);
        assert_eq!(InvoiceStatus::from_payments(-5, 0), Paid);
    }

    #[test]
    fn numbers_are_zero_padded_per_series() {
        assert_eq!(invoice_number(Invoice, 2026, 123), "INV/2026/000123");
        assert_eq!(invoice_number(CreditNote, 2027, 1), "CN/2027/000001");
    }
}
