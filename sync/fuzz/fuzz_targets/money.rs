//! Fuzz target: invoice arithmetic. Quantities typed by CS parse or are
//! refused and print back to the same value; lines, sums and the PPN totals
//! of any amounts are a value or a `MoneyError`, never a panic or a wrapped
//! number; what comes out keeps the totals' identities.
//!
//! Run with `sync/fuzz/run` (stable Rust; see the script).

#![no_main]

use fieldops_sync::money::{Currency, Money, Quantity, TaxRule, unit_price};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines of "quantity price", as a draft's lines; the sum is the subtotal.
    let mut subtotal = Some(Money::zero(Currency::Idr));
    for line in text.lines() {
        let (quantity, price) = line.split_once(' ').unwrap_or((line, "1"));
        let Ok(quantity) = quantity.parse::<Quantity>() else {
            continue;
        };
        let printed = quantity.to_string();
        assert_eq!(printed.parse::<Quantity>(), Ok(quantity), "{printed}");
        let Ok(price) = price.trim().parse::<i64>() else {
            continue;
        };
        let Ok(price) = unit_price(price, Currency::Idr) else {
            continue;
        };
        let Ok(amount) = quantity.times(price) else {
            continue;
        };
        assert!(amount.amount() >= 0);
        subtotal = subtotal.and_then(|s| s.checked_add(amount).ok());
    }
    let Some(subtotal) = subtotal else {
        return;
    };
    for rule in TaxRule::ALL {
        if let Ok(totals) = rule.totals(subtotal) {
            assert_eq!(totals.subtotal, subtotal.amount());
            assert_eq!(totals.total, totals.subtotal + totals.tax);
            assert!(totals.tax >= 0 && totals.tax <= totals.subtotal);
            assert!(totals.tax_base <= totals.subtotal);
        }
    }
});
