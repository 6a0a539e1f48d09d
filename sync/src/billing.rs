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
//!
//! Lines are checked and priced by [`price_lines`], the one rule for every
//! path that writes them (the server's HTTP and console forms; the fuzz
//! target `invoice` runs it on arbitrary request bodies).

use crate::money::{self, Currency, Money, MoneyError, Quantity, TaxRule, Totals};
use crate::text::{self, Shape, TextProblem};

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

/// At most this many lines on one invoice or credit note.
pub const MAX_LINES: usize = 100;

/// The longest line description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// A line as a person wrote it, before it is checked and priced.
#[derive(Debug, Clone, Copy)]
pub struct LineDraft<'a> {
    pub kind: LineKind,
    /// One line of text; trimmed when priced.
    pub description: &'a str,
    /// A decimal with at most three places (`"2.5"`).
    pub quantity: &'a str,
    /// Whole rupiah per unit.
    pub unit_price: i64,
}

/// A checked line with its amount, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub kind: LineKind,
    pub description: String,
    pub quantity_milli: i64,
    pub unit_price: i64,
    /// `quantity × unit_price`, rounded half up.
    pub amount: i64,
}

/// What is wrong with an invoice's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    /// More than [`MAX_LINES`].
    TooMany,
    /// Line `line`'s description is blank, too long or not one line.
    Description {
        line: usize,
        problem: TextProblem,
    },
    Quantity {
        line: usize,
        problem: MoneyError,
    },
    UnitPrice {
        line: usize,
        problem: MoneyError,
    },
    /// The line's amount is out of range.
    Amount {
        line: usize,
        problem: MoneyError,
    },
    /// The lines add up to more than an invoice may total.
    TotalTooLarge,
}

impl LineProblem {
    /// The field it is reported under: `lines`, or `lines[2].quantity`.
    pub fn field(&self) -> String {
        let (line, name) = match *self {
            LineProblem::TooMany | LineProblem::TotalTooLarge => return "lines".to_owned(),
            LineProblem::Description { line, .. } => (line, "description"),
            LineProblem::Quantity { line, .. } => (line, "quantity"),
            LineProblem::UnitPrice { line, .. } => (line, "unit_price"),
            LineProblem::Amount { line, .. } => (line, "amount"),
        };
        format!("lines[{line}].{name}")
    }
}

/// Checks `lines` and prices them under `rule`: the lines as stored (the
/// descriptions trimmed) and the invoice's totals. Every problem is
/// reported at once, in the order of the lines.
pub fn price_lines(
    lines: &[LineDraft<'_>],
    rule: TaxRule,
) -> Result<(Vec<PricedLine>, Totals), Vec<LineProblem>> {
    let mut problems = Vec::new();
    if lines.len() > MAX_LINES {
        problems.push(LineProblem::TooMany);
    }
    let currency = Currency::Idr;
    let mut priced = Vec::with_capacity(lines.len());
    let mut subtotal = Some(Money::zero(currency));
    let mut overflow = false;
    for (line, draft) in lines.iter().enumerate() {
        let description = draft.description.trim();
        if let Err(problem) = text::check(description, Shape::Line, MAX_DESCRIPTION_CHARS, true) {
            problems.push(LineProblem::Description { line, problem });
        }
        let quantity = draft
            .quantity
            .parse::<Quantity>()
            .map_err(|problem| problems.push(LineProblem::Quantity { line, problem }))
            .ok();
        let price = money::unit_price(draft.unit_price, currency)
            .map_err(|problem| problems.push(LineProblem::UnitPrice { line, problem }))
            .ok();
        let (Some(quantity), Some(price)) = (quantity, price) else {
            subtotal = None;
            continue;
        };
        match quantity.times(price) {
            Ok(amount) => {
                if let Some(sum) = subtotal {
                    subtotal = sum.checked_add(amount).ok();
                    overflow |= subtotal.is_none();
                }
                priced.push(PricedLine {
                    kind: draft.kind,
                    description: description.to_owned(),
                    quantity_milli: quantity.milli(),
                    unit_price: price.amount(),
                    amount: amount.amount(),
                });
            }
            Err(problem) => {
                problems.push(LineProblem::Amount { line, problem });
                subtotal = None;
            }
        }
    }
    if overflow {
        problems.push(LineProblem::TotalTooLarge);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    subtotal
        .and_then(|subtotal| rule.totals(subtotal).ok())
        .map(|totals| (priced, totals))
        .ok_or_else(|| vec![LineProblem::TotalTooLarge])
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

    fn line<'a>(description: &'a str, quantity: &'a str, unit_price: i64) -> LineDraft<'a> {
        LineDraft {
            kind: LineKind::Labour,
            description,
            quantity,
            unit_price,
        }
    }

    #[test]
    fn lines_are_priced_and_taxed_once_on_the_whole() {
        let lines = [
            line("  Servis AC  ", "2.5", 150_000),
            line("Freon R32", "0.333", 100_001),
        ];
        let (priced, totals) = price_lines(&lines, TaxRule::Ppn12Dpp11Of12).unwrap();
        assert_eq!(priced[0].description, "Servis AC");
        assert_eq!(priced[0].amount, 375_000);
        // 0.333 × 100,001 = 33,300.333, rounded half up.
        assert_eq!((priced[1].quantity_milli, priced[1].amount), (333, 33_300));
        assert_eq!(totals.subtotal, 408_300);
        assert_eq!(totals.tax, 408_300 * 11 / 100);
        assert_eq!(totals.total, totals.subtotal + totals.tax);
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let lines = [
            line("", "1", 10),
            line("Kabel", "-2", 10),
            line("Pipa\u{202E}", "1.0001", -5),
        ];
        let problems = price_lines(&lines, TaxRule::None).unwrap_err();
        let fields: Vec<String> = problems.iter().map(LineProblem::field).collect();
        assert_eq!(
            fields,
            [
                "lines[0].description",
                "lines[1].quantity",
                "lines[2].description",
                "lines[2].quantity",
                "lines[2].unit_price",
            ]
        );
        assert_eq!(
            problems[1],
            LineProblem::Quantity {
                line: 1,
                problem: MoneyError::Negative
            }
        );

        let many = vec![line("Baut", "1", 1); MAX_LINES + 1];
        assert_eq!(
            price_lines(&many, TaxRule::None).unwrap_err(),
            [LineProblem::TooMany]
        );
        let huge = [
            line("A", "1000", 1_000_000_000_000),
            line("B", "1000", 1_000_000_000_000),
        ];
        let problems = price_lines(&huge, TaxRule::None).unwrap_err();
        assert!(
            problems.iter().all(|p| p.field().starts_with("lines")),
            "{problems:?}"
        );
    }

    #[test]
    fn numbers_are_zero_padded_per_series() {
        assert_eq!(invoice_number(Invoice, 2026, 123), "INV/2026/000123");
        assert_eq!(invoice_number(CreditNote, 2027, 1), "CN/2027/000001");
    }
}
