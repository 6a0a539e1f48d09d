//! The KPI formulas, as pure functions of counts: what a dashboard, an API
//! answer and a CSV row all compute the same way.
//!
//! Ratings ([`Tally`]):
//! - **CSAT %** = ratings of 4 or 5 ÷ all ratings, × 100;
//! - **average** = sum of scores ÷ ratings;
//! - **response rate %** = ratings ÷ requests sent, × 100;
//! - a KPI of fewer than [`MIN_RANKED`] ratings is shown but not ranked
//!   (greyed): one unhappy customer is not a trend.
//!
//! Help desk ([`HelpdeskCounts`]): average first-response and resolution
//! time (business time), SLA compliance % (answered or resolved before the
//! deadline ÷ answered or resolved), reopen rate % (reopened ÷ resolved).
//!
//! Field ([`FieldCounts`]): on-time rate % (on-time days ÷ decided visit
//! days: on time, late or absent), average days over plan per visit done.
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

fn pct(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

fn mean(sum: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| sum as f64 / n as f64)
}

/// The counts help-desk KPIs are made of; durations in business ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelpdeskCounts {
    pub created: i64,
    pub responded: i64,
    pub response_ms: i64,
    /// First responses before their deadline.
    pub response_met: i64,
    pub resolved: i64,
    pub resolution_ms: i64,
    /// Resolutions before their deadline.
    pub resolution_met: i64,
    pub reopened: i64,
}

impl HelpdeskCounts {
    pub fn avg_first_response_secs(&self) -> Option<f64> {
        mean(self.response_ms, self.responded).map(|ms| ms / 1000.0)
    }

    pub fn avg_resolution_secs(&self) -> Option<f64> {
        mean(self.resolution_ms, self.resolved).map(|ms| ms / 1000.0)
    }

    pub fn response_sla_pct(&self) -> Option<f64> {
        pct(self.response_met, self.responded)
    }

    pub fn resolution_sla_pct(&self) -> Option<f64> {
        pct(self.resolution_met, self.resolved)
    }

    pub fn reopen_rate_pct(&self) -> Option<f64> {
        pct(self.reopened, self.resolved)
    }
}

/// The counts field KPIs are made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldCounts {
    /// Visits done (per technician who completed them).
    pub done: i64,
    /// Days past the planned last day, summed over visits done.
    pub days_over: i64,
    pub on_time: i64,
    pub late: i64,
    pub absent: i64,
    pub extensions_asked: i64,
    pub extensions_approved: i64,
}

impl FieldCounts {
    /// Visit days whose outcome is decided: on time, late or absent.
    pub fn expected_days(&self) -> i64 {
        self.on_time + self.late + self.absent
    }

    pub fn on_time_rate_pct(&self) -> Option<f64> {
        pct(self.on_time, self.expected_days())
    }

    pub fn avg_days_over_plan(&self) -> Option<f64> {
        mean(self.days_over, self.done)
    }
}

/// A period of the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// ISO 8601 weeks (Monday first; the week of 4 January is week 1).
    Week,
    Month,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Day, Period::Week, Period::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The period holding instant `at_ms` (Unix ms) in the calendar
/// `utc_offset_minutes` from UTC: `2026-12-05`, `2026-W49` or `2026-12`.
pub fn bucket(at_ms: i64, utc_offset_minutes: i64, period: Period) -> String {
    label(local_date(at_ms, utc_offset_minutes), period)
}

/// The day (days since 1970-01-01) instant `at_ms` falls on in the
/// calendar `utc_offset_minutes` from UTC.
pub fn day_of(at_ms: i64, utc_offset_minutes: i64) -> i64 {
    (at_ms + utc_offset_minutes * 60_000).div_euclid(86_400_000)
}

/// When day `day` starts, in Unix ms, in that calendar.
pub fn day_start(day: i64, utc_offset_minutes: i64) -> i64 {
    day * 86_400_000 - utc_offset_minutes * 60_000
}

const EPOCH: Date = Date::constant(1970, 1, 1);

/// Days since 1970-01-01 of `date`.
pub fn day_number(date: Date) -> i64 {
    i64::from(EPOCH.until(date).map_or(0, |span| span.get_days()))
}

/// The date `day` days after 1970-01-01.
pub fn date_of(day: i64) -> Date {
    jiff::Span::new()
        .try_days(day)
        .ok()
        .and_then(|span| EPOCH.checked_add(span).ok())
        .unwrap_or(EPOCH)
}

/// The name of the period holding `date`.
pub fn label(date: Date, period: Period) -> String {
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
    fn help_desk_kpis_on_hand_counted_tickets() {
        // Four answered (60 s, 120 s, 30 min and 1 h of business time), three
        // on time; two resolved (2 h and 6 h), one late; one reopened.
        let c = HelpdeskCounts {
            created: 5,
            responded: 4,
            response_ms: (60 + 120 + 1_800 + 3_600) * 1000,
            response_met: 3,
            resolved: 2,
            resolution_ms: (2 + 6) * 3_600_000,
            resolution_met: 1,
            reopened: 1,
        };
        assert!((c.avg_first_response_secs().unwrap() - 1_395.0).abs() < 1e-9);
        assert!((c.avg_resolution_secs().unwrap() - 14_400.0).abs() < 1e-9);
        assert_eq!(c.response_sla_pct(), Some(75.0));
        assert_eq!(c.resolution_sla_pct(), Some(50.0));
        assert_eq!(c.reopen_rate_pct(), Some(50.0));
        let none = HelpdeskCounts::default();
        assert_eq!(none.avg_first_response_secs(), None);
        assert_eq!(none.reopen_rate_pct(), None);
    }

    #[test]
    fn field_kpis_on_a_hand_counted_week() {
        // Six visit days: four on time, one late, one absent; three visits
        // done, one of them two days over plan.
        let c = FieldCounts {
            done: 3,
            days_over: 2,
            on_time: 4,
            late: 1,
            absent: 1,
            extensions_asked: 2,
            extensions_approved: 1,
        };
        assert_eq!(c.expected_days(), 6);
        assert!((c.on_time_rate_pct().unwrap() - 400.0 / 6.0).abs() < 1e-9);
        assert!((c.avg_days_over_plan().unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(FieldCounts::default().on_time_rate_pct(), None);
    }

    #[test]
    fn day_numbers_and_dates_agree_in_the_sites_calendar() {
        let date = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(day_number(date("1970-01-01")), 0);
        assert_eq!(day_number(date("2026-12-05")), 20_792);
        assert_eq!(date_of(20_792), date("2026-12-05"));
        // 23.30 WIB on 31 December is day 31 December; 00.30 WIB is 1 January.
        let late = at("2026-12-31T16:30:00Z");
        assert_eq!(date_of(day_of(late, WIB)), date("2026-12-31"));
        assert_eq!(date_of(day_of(late + 3_600_000, WIB)), date("2027-01-01"));
        // A day starts at local midnight: 17.00 UTC the day before, in WIB.
        assert_eq!(
            day_start(day_number(date("2027-01-01")), WIB),
            at("2026-12-31T17:00:00Z")
        );
        for day in [0, 20_792, 21_000, 25_000] {
            assert_eq!(day_number(date_of(day)), day);
            assert_eq!(day_of(day_start(day, WIB), WIB), day);
        }
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
