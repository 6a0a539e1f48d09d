//! The rating KPIs, as pure functions of counts: what a dashboard, an API
//! answer and a CSV row all compute the same way.
//!
//! - **CSAT %** = ratings of 4 or 5 ÷ all ratings, × 100;
//! - **average** = sum of scores ÷ ratings;
//! - **response rate %** = ratings ÷ requests sent, × 100;
//! - a KPI of fewer than [`MIN_RANKED`] ratings is shown but not ranked
//!   (greyed): one unhappy customer is not a trend.
//!
//! Periods are days, ISO weeks or months in the sites' calendar (a fixed
//! UTC offset: Asia/Jakarta has no daylight saving), so a rating given at
//! 23.30 WIB on the last day of a month counts in that month, not the next.

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};

/// Ratings needed before a KPI is ranked.
pub const MIN_RANKED: u64 = 5;

/// The counts a rating KPI is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rating requests sent.
    pub sent: u64,
    /// Ratings given.
    pub answered: u64,
    /// Ratings of 4 or 5.
    pub satisfied: u64,
    /// Sum of the scores.
    pub score_sum: u64,
}

impl Tally {
    /// Adds one rating of `score`.
    pub fn add(&mut self, score: u8) {
        self.answered += 1;
        self.score_sum += u64::from(score);
        if score >= 4 {
            self.satisfied += 1;
        }
    }

    /// CSAT in percent, `None` without ratings.
    pub fn csat_pct(&self) -> Option<f64> {
        ratio(self.satisfied, self.answered)
    }

    /// The average score, `None` without ratings.
    pub fn average(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.score_sum as f64 / self.answered as f64)
    }

    /// Ratings per request sent, in percent; `None` when none was sent.
    pub fn response_rate_pct(&self) -> Option<f64> {
        ratio(self.answered, self.sent)
    }

    /// Whether there are enough ratings to rank this KPI.
    pub fn ranked(&self) -> bool {
        self.answered >= MIN_RANKED
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// A period of the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// ISO 8601 weeks (Monday first; the week of 4 January is week 1).
    Week,
    Month,
}

/// The period holding instant `at_ms` (Unix ms) in the calendar
/// `utc_offset_minutes` from UTC: `2026-12-05`, `2026-W49` or `2026-12`.
pub fn bucket(at_ms: i64, utc_offset_minutes: i64, period: Period) -> String {
    let date = local_date(at_ms, utc_offset_minutes);
    match period {
        Period::Day => date.to_string(),
        Period::Week => {
            let week = date.iso_week_date();
            format!("{}-W{:02}", week.year(), week.week())
        }
        Period::Month => format!("{}-{:02}", date.year(), date.month()),
    }
}

fn local_date(at_ms: i64, utc_offset_minutes: i64) -> Date {
    let seconds = i32::try_from(utc_offset_minutes.saturating_mul(60)).unwrap_or(0);
    let zone = TimeZone::fixed(Offset::from_seconds(seconds).unwrap_or(Offset::UTC));
    jiff::Timestamp::from_millisecond(at_ms)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(zone)
        .date()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const WIB: i64 = 7 * 60;

    fn at(iso: &str) -> i64 {
        iso.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn csat_average_and_response_rate_on_a_hand_counted_month() {
        // Twelve requests sent; seven answered: 5, 5, 4, 4, 3, 2, 1.
        let mut t = Tally {
            sent: 12,
            ..Tally::default()
        };
        for score in [5, 5, 4, 4, 3, 2, 1] {
            t.add(score);
        }
        assert_eq!((t.answered, t.satisfied, t.score_sum), (7, 4, 24));
        assert!((t.csat_pct().unwrap() - 400.0 / 7.0).abs() < 1e-9); // 57.14 %
        assert!((t.average().unwrap() - 24.0 / 7.0).abs() < 1e-9); // 3.43
        assert!((t.response_rate_pct().unwrap() - 700.0 / 12.0).abs() < 1e-9); // 58.33 %
        assert!(t.ranked());
    }

    #[test]
    fn few_ratings_are_shown_but_not_ranked_and_none_is_no_number() {
        let mut t = Tally {
            sent: 4,
            ..Tally::default()
        };
        for score in [5, 5, 5, 5] {
            t.add(score);
        }
        assert_eq!(t.csat_pct(), Some(100.0));
        assert!(!t.ranked(), "4 ratings < {MIN_RANKED}");
        let none = Tally {
            sent: 3,
            ..Tally::default()
        };
        assert_eq!((none.csat_pct(), none.average()), (None, None));
        assert_eq!(none.response_rate_pct(), Some(0.0));
        assert_eq!(Tally::default().response_rate_pct(), None);
    }

    #[test]
    fn periods_follow_the_sites_calendar_at_month_and_year_edges() {
        // 23.30 WIB on 31 December is still December there (16.30 UTC).
        let late = at("2026-12-31T16:30:00Z");
        assert_eq!(bucket(late, WIB, Period::Day), "2026-12-31");
        assert_eq!(bucket(late, WIB, Period::Month), "2026-12");
        // 00.30 WIB on 1 January is January there, though UTC says 31 Dec.
        let early = at("2026-12-31T17:30:00Z");
        assert_eq!(bucket(early, WIB, Period::Day), "2027-01-01");
        assert_eq!(bucket(early, WIB, Period::Month), "2027-01");
        assert_eq!(bucket(early, 0, Period::Month), "2026-12");
        // ISO weeks: 1 January 2027 is a Friday of 2026's week 53.
        assert_eq!(bucket(early, WIB, Period::Week), "2026-W53");
        assert_eq!(
            bucket(at("2026-12-05T03:00:00Z"), WIB, Period::Week),
            "2026-W49"
        );
        // 29 February exists in 2028.
        assert_eq!(
            bucket(at("2028-02-29T16:59:59Z"), WIB, Period::Day),
            "2028-02-29"
        );
    }
}
