//! Fuzz target: the invoice request bodies (`fieldops-inbound::invoice`)
//! and the pricing of their lines (`fieldops_sync::billing::price_lines`).
//! Any bytes decode to a body or an error; the lines of every body that
//! decodes are priced or refused under fields that exist, never a panic or
//! a wrapped number; what is priced keeps the invoice's identities (the
//! lines add up to the subtotal, the total is subtotal plus tax, each line
//! is its quantity times its price).
//!
//! Run with `sync/fuzz/run` (stable Rust; see the script).

#![no_main]

use fieldops_inbound::invoice::{
    CheckPaymentRequest, CommentRequest, CreditNoteRequest, DraftRequest, EditRequest, LineRequest,
    PaymentRequest,
};
use fieldops_sync::billing::{LineProblem, MAX_LINES, price_lines};
use fieldops_sync::money::{Currency, Quantity, TaxRule, unit_price};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(draft) = serde_json::from_slice::<DraftRequest>(data) {
        priced(&draft.lines);
    }
    if let Ok(edit) = serde_json::from_slice::<EditRequest>(data) {
        priced(edit.lines.as_deref().unwrap_or_default());
    }
    if let Ok(note) = serde_json::from_slice::<CreditNoteRequest>(data) {
        priced(&note.lines);
    }
    let _ = serde_json::from_slice::<PaymentRequest>(data);
    let _ = serde_json::from_slice::<CommentRequest>(data);
    let _ = serde_json::from_slice::<CheckPaymentRequest>(data);
});

fn priced(lines: &[LineRequest]) {
    let drafts: Vec<_> = lines.iter().map(LineRequest::draft).collect();
    for &rule in TaxRule::ALL {
        match price_lines(&drafts, rule) {
            Ok((priced, totals)) => {
                assert!(lines.len() <= MAX_LINES);
                assert_eq!(priced.len(), lines.len());
                let sum = priced.iter().map(|l| i128::from(l.amount)).sum::<i128>();
                assert_eq!(sum, i128::from(totals.subtotal));
                assert_eq!(totals.total, totals.subtotal + totals.tax);
                for (line, asked) in priced.iter().zip(lines) {
                    assert_eq!(line.description, asked.description.trim());
                    assert!(!line.description.is_empty());
                    let quantity = asked.quantity.parse::<Quantity>().unwrap();
                    assert_eq!(quantity.milli(), line.quantity_milli);
                    let price = unit_price(asked.unit_price, Currency::Idr).unwrap();
                    assert_eq!(quantity.times(price).unwrap().amount(), line.amount);
                    assert!(line.amount >= 0);
                }
            }
            Err(problems) => {
                assert!(!problems.is_empty());
                for problem in &problems {
                    let line = match *problem {
                        LineProblem::TooMany | LineProblem::TotalTooLarge => continue,
                        LineProblem::Description { line, .. }
                        | LineProblem::Quantity { line, .. }
                        | LineProblem::UnitPrice { line, .. }
                        | LineProblem::Amount { line, .. } => line,
                    };
                    assert!(line < lines.len(), "{problem:?}");
                    assert!(problem.field().starts_with(&format!("lines[{line}].")));
                }
            }
        }
    }
}
