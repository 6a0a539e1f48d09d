//! Money, quantities and Indonesian VAT (PPN), as integers.
//!
//! Amounts are whole minor units of their currency in an `i64` (for rupiah,
//! whose exponent is 0, whole rupiah: payment gateways refuse decimals);
//! floats never touch money. Quantities are thousandths, so `2.5` metres
//! of cable is `2500`. Every limit is checked: a line or a total that would
//! overflow, or that no real invoice reaches, is an error naming what was
//! too large, never a wrapped number.
//!
//! The tax rule is one pure function, [`TaxRule::totals`], with the worked
//! examples as its tests.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

string_enum! {
    /// A currency fieldops bills in.
    pub enum Currency {
        /// Indonesian rupiah.
        Idr = "IDR",
    }
}

impl Currency {
    /// Digits after the decimal point in its minor unit (0 for rupiah).
    pub const fn exponent(self) -> u32 {
        match self {
            Currency::Idr => 0,
        }
    }
}

/// The largest unit price accepted: Rp1.000.000.000.000 (a trillion).
pub const MAX_UNIT_PRICE: i64 = 1_000_000_000_000;
/// The largest quantity accepted, in thousandths (a million units).
pub const MAX_QUANTITY_MILLI: i64 = 1_000_000_000;
/// The largest amount of one line or invoice: Rp1.000.000.000.000.000.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;
/// Above this total (in rupiah) a receipt needs stamp duty (e-meterai).
pub const STAMP_DUTY_ABOVE: i64 = 5_000_000;

/// Why an amount or a quantity was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// Below zero.
    #[error("must not be negative")]
    Negative,
    /// Zero where something must be counted.
    #[error("must be more than zero")]
    Zero,
    /// Above the limit for its kind.
    #[error("is too large")]
    TooLarge,
    /// Not a number with at most three decimals.
    #[error("must be a number with at most three decimals")]
    Malformed,
}

/// An amount in a currency's minor units, never negative, at most
/// [`MAX_AMOUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    amount: i64,
    currency: Currency,
}

impl Money {
    /// `amount` minor units of `currency`, if within the limits.
    pub fn new(amount: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount < 0 {
            Err(MoneyError::Negative)
        } else if amount > MAX_AMOUNT {
            Err(MoneyError::TooLarge)
        } else {
            Ok(Self { amount, currency })
        }
    }

    /// Zero of `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self {
            amount: 0,
            currency,
        }
    }

    /// The amount in minor units.
    pub const fn amount(self) -> i64 {
        self.amount
    }

    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// The sum, if it stays within [`MAX_AMOUNT`].
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        debug_assert_eq!(self.currency, other.currency);
        Money::new(
            self.amount
                .checked_add(other.amount)
                .ok_or(MoneyError::TooLarge)?,
            self.currency,
        )
    }
}

/// A unit price: a [`Money`] of at most [`MAX_UNIT_PRICE`].
pub fn unit_price(amount: i64, currency: Currency) -> Result<Money, MoneyError> {
    if amount > MAX_UNIT_PRICE {
        return Err(MoneyError::TooLarge);
    }
    Money::new(amount, currency)
}

/// A quantity in thousandths: more than zero, at most
/// [`MAX_QUANTITY_MILLI`]. Written and read as a decimal (`"2.5"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

impl Quantity {
    /// `milli` thousandths, if within the limits.
    pub fn from_milli(milli: i64) -> Result<Self, MoneyError> {
        match milli {
            ..0 => Err(MoneyError::Negative),
            0 => Err(MoneyError::Zero),
            m if m > MAX_QUANTITY_MILLI => Err(MoneyError::TooLarge),
            m => Ok(Self(m)),
        }
    }

    /// Whole units.
    pub fn units(n: i64) -> Result<Self, MoneyError> {
        Self::from_milli(n.checked_mul(1000).ok_or(MoneyError::TooLarge)?)
    }

    pub const fn milli(self) -> i64 {
        self.0
    }

    /// `self × price`, rounded half up to the minor unit.
    pub fn times(self, price: Money) -> Result<Money, MoneyError> {
        let exact = i128::from(self.0) * i128::from(price.amount);
        let rounded = (exact + 500) / 1000;
        let amount = i64::try_from(rounded).map_err(|_| MoneyError::TooLarge)?;
        Money::new(amount, price.currency)
    }
}

impl FromStr for Quantity {
    type Err = MoneyError;

    /// `"3"`, `"2.5"`, `"0.125"`: digits, at most three decimals.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix('-') {
            return match rest.parse::<Quantity>() {
                Ok(_) => Err(MoneyError::Negative),
                Err(e) => Err(e),
            };
        }
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 3 {
            return Err(MoneyError::Malformed);
        }
        if whole.len() > 10 {
            return Err(MoneyError::TooLarge);
        }
        let whole: i64 = whole.parse().map_err(|_| MoneyError::Malformed)?;
        let fraction: i64 = format!("{fraction:0<3}")
            .parse()
            .map_err(|_| MoneyError::Malformed)?;
        Self::from_milli(whole * 1000 + fraction)
    }
}

impl fmt::Display for Quantity {
    /// The shortest decimal: `2`, `2.5`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.0 / 1000, self.0 % 1000);
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let fraction = format!("{fraction:03}");
            write!(f, "{whole}.{}", fraction.trim_end_matches('0'))
        }
    }
}

string_enum! {
    /// How a tenant charges VAT (PPN).
    pub enum TaxRule {
        /// A VAT-registered business from 2025: 12 % on a tax base (DPP)
        /// of 11/12 of the price, so 11 % in effect.
        Ppn12Dpp11Of12 = "ppn_12_dpp_11_12",
        /// Not VAT-registered: no PPN.
        None = "none",
    }
}

/// An invoice's sums, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// The sum of the lines: the price before tax.
    pub subtotal: i64,
    /// The tax base (DPP), rounded down; shown on the invoice.
    pub tax_base: i64,
    /// The PPN, rounded down once on the whole invoice.
    pub tax: i64,
    /// What the customer pays: subtotal + tax.
    pub total: i64,
}

impl Totals {
    /// Whether a receipt for this total needs stamp duty (e-meterai).
    pub fn needs_stamp_duty(&self) -> bool {
        self.total > STAMP_DUTY_ABOVE
    }
}

impl TaxRule {
    /// The tax base, the tax and the total for a price of `subtotal`.
    ///
    /// The PPN is 12 % × 11/12 × subtotal computed exactly and rounded
    /// down to the whole rupiah once, on the whole invoice (not per
    /// line); the tax base is shown rounded down. A total above
    /// [`MAX_AMOUNT`] is refused.
    pub fn totals(self, subtotal: Money) -> Result<Totals, MoneyError> {
        let price = i128::from(subtotal.amount());
        let (tax_base, tax) = match self {
            // 12/100 × 11/12 = 11/100, in one division so nothing is lost.
            TaxRule::Ppn12Dpp11Of12 => (price * 11 / 12, price * 11 / 100),
            TaxRule::None => (price, 0),
        };
        let narrow = |v: i128| i64::try_from(v).map_err(|_| MoneyError::TooLarge);
        let total = Money::new(narrow(price + tax)?, subtotal.currency())?;
        Ok(Totals {
            subtotal: subtotal.amount(),
            tax_base: narrow(tax_base)?,
            tax: narrow(tax)?,
            total: total.amount(),
        })
    }
}

/// Formats whole rupiah the Indonesian way: `Rp1.234.567`.
pub fn rupiah(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}Rp{grouped}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn idr(amount: i64) -> Money {
        Money::new(amount, Currency::Idr).unwrap()
    }

    /// Worked examples of PPN from 2025 (PMK 131/2024): 12 % on a DPP of
    /// 11/12 of the price, rounded down once per invoice.
    #[test]
    fn ppn_golden_examples() {
        let cases = [
            // price, DPP, PPN, total
            (1_000_000, 916_666, 110_000, 1_110_000),
            (12_000_000, 11_000_000, 1_320_000, 13_320_000),
            (150_000, 137_500, 16_500, 166_500),
            // 11 % of 99.999 is 10.999,89: down to 10.999.
            (99_999, 91_665, 10_999, 110_998),
            // Under Rp10 the PPN rounds to nothing.
            (9, 8, 0, 9),
            (0, 0, 0, 0),
            (1, 0, 0, 1),
        ];
        for (price, dpp, ppn, total) in cases {
            let t = TaxRule::Ppn12Dpp11Of12.totals(idr(price)).unwrap();
            assert_eq!(
                (t.subtotal, t.tax_base, t.tax, t.total),
                (price, dpp, ppn, total),
                "price {price}"
            );
        }
    }

    #[test]
    fn ppn_is_computed_once_on_the_total_not_per_line() {
        // Three lines of Rp9: per line each would round to 0; on the
        // invoice 11 % of 27 is 2,97, down to 2.
        let subtotal = idr(9).checked_add(idr(9)).unwrap().checked_add(idr(9));
        let t = TaxRule::Ppn12Dpp11Of12.totals(subtotal.unwrap()).unwrap();
        assert_eq!(t.tax, 2);
    }

    #[test]
    fn no_tax_for_a_business_not_registered() {
        let t = TaxRule::None.totals(idr(1_000_000)).unwrap();
        assert_eq!((t.tax_base, t.tax, t.total), (1_000_000, 0, 1_000_000));
    }

    #[test]
    fn stamp_duty_above_five_million() {
        let total = |price| TaxRule::None.totals(idr(price)).unwrap();
        assert!(!total(5_000_000).needs_stamp_duty());
        assert!(total(5_000_001).needs_stamp_duty());
        // The total with PPN counts: 4,6 M + 11 % is over 5 M.
        let t = TaxRule::Ppn12Dpp11Of12.totals(idr(4_600_000)).unwrap();
        assert!(t.needs_stamp_duty());
    }

    #[test]
    fn limits_refuse_overflow_instead_of_wrapping() {
        assert_eq!(Money::new(-1, Currency::Idr), Err(MoneyError::Negative));
        assert_eq!(
            Money::new(MAX_AMOUNT + 1, Currency::Idr),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            unit_price(MAX_UNIT_PRICE + 1, Currency::Idr),
            Err(MoneyError::TooLarge)
        );
        let most = Quantity::from_milli(MAX_QUANTITY_MILLI).unwrap();
        let dear = unit_price(MAX_UNIT_PRICE, Currency::Idr).unwrap();
        assert_eq!(most.times(dear), Err(MoneyError::TooLarge));
        assert_eq!(
            idr(MAX_AMOUNT).checked_add(idr(1)),
            Err(MoneyError::TooLarge)
        );
        // A subtotal at the limit has no room for its tax.
        assert_eq!(
            TaxRule::Ppn12Dpp11Of12.totals(idr(MAX_AMOUNT)),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn quantities_are_decimals_in_thousandths() {
        for (text, milli, shown) in [
            ("3", 3000, "3"),
            ("2.5", 2500, "2.5"),
            ("0.125", 125, "0.125"),
            ("1.50", 1500, "1.5"),
            (" 7 ", 7000, "7"),
        ] {
            let q: Quantity = text.parse().unwrap();
            assert_eq!(q.milli(), milli, "{text}");
            assert_eq!(q.to_string(), shown);
        }
        for (text, error) in [
            ("0", MoneyError::Zero),
            ("-1", MoneyError::Negative),
            ("1.2345", MoneyError::Malformed),
            ("1e3", MoneyError::Malformed),
            ("", MoneyError::Malformed),
            (".5", MoneyError::Malformed),
            ("NaN", MoneyError::Malformed),
            ("1000001", MoneyError::TooLarge),
            ("99999999999999999999", MoneyError::TooLarge),
        ] {
            assert_eq!(text.parse::<Quantity>(), Err(error), "{text:?}");
        }
    }

    #[test]
    fn line_amounts_round_half_up() {
        let q = |s: &str| s.parse::<Quantity>().unwrap();
        assert_eq!(q("2.5").times(idr(150_000)).unwrap().amount(), 375_000);
        // 0.333 × 10 = 3,33 → 3; 0.005 × 100 = 0,5 → 1.
        assert_eq!(q("0.333").times(idr(10)).unwrap().amount(), 3);
        assert_eq!(q("0.005").times(idr(100)).unwrap().amount(), 1);
    }

    #[test]
    fn rupiah_groups_thousands_with_dots() {
        assert_eq!(rupiah(0), "Rp0");
        assert_eq!(rupiah(999), "Rp999");
        assert_eq!(rupiah(1_234_567), "Rp1.234.567");
        assert_eq!(rupiah(-5_000), "-Rp5.000");
    }
}
