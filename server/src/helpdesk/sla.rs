//! SLA arithmetic: response and resolution targets per priority, counted in the
//! business hours of a calendar (working days, daily hours, holidays, time
//! zone), with the clocks paused while a ticket waits on the customer.
//!
//! Pure functions over unix milliseconds; the background job that marks
//! breaches lives in [`super::escalation`].

use std::collections::BTreeSet;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Priority;

/// One priority's targets, in minutes of the business calendar — or of
/// every hour of every day (`around_the_clock`: urgent work that cannot
/// wait for Monday morning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub response_minutes: u32,
    pub resolution_minutes: u32,
    /// Count this priority's clocks 24/7, not in business hours.
    #[serde(default)]
    pub around_the_clock: bool,
}

/// Targets for every priority (a priority left out keeps its default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Targets {
    pub low: Target,
    pub normal: Target,
    pub high: Target,
    pub urgent: Target,
}

impl Default for Targets {
    /// urgent 1 h / 4 h, high 4 h / 16 h, normal 8 h / 24 h, low 24 h / 40 h
    /// (5 business days of 8 hours), all business time.
    fn default() -> Self {
        let t = |r: u32, s: u32| Target {
            response_minutes: r * 60,
            resolution_minutes: s * 60,
            around_the_clock: false,
        };
        Self {
            urgent: t(1, 4),
            high: t(4, 16),
            normal: t(8, 24),
            low: t(24, 40),
        }
    }
}

impl Targets {
    pub fn of(&self, priority: Priority) -> Target {
        match priority {
            Priority::Low => self.low,
            Priority::Normal => self.normal,
            Priority::High => self.high,
            Priority::Urgent => self.urgent,
        }
    }
}

/// The SLA settings (TOML table `[sla]` gives the defaults; admins change
/// them in `crate::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SlaSettings {
    /// IANA time zone of the business calendar.
    pub timezone: String,
    /// ISO weekdays that are working days, 1 = Monday .. 7 = Sunday.
    pub working_days: Vec<u8>,
    /// `HH:MM` start and end of the working day.
    pub day_start: String,
    pub day_end: String,
    /// `YYYY-MM-DD` dates that are not working days.
    pub holidays: Vec<String>,
    pub targets: Targets,
}

impl Default for SlaSettings {
    fn default() -> Self {
        Self {
            timezone: "Asia/Jakarta".into(),
            // Field service in Indonesia: Monday to Saturday, 08.00–17.00 WIB.
            working_days: vec![1, 2, 3, 4, 5, 6],
            day_start: "08:00".into(),
            day_end: "17:00".into(),
            holidays: vec![],
            targets: Targets::default(),
        }
    }
}

/// A validated business calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    tz_name: String,
    days: [bool; 7],
    start: Time,
    end: Time,
    holidays: BTreeSet<Date>,
    pub targets: Targets,
}

/// How far ahead a deadline is searched for (ten years of calendar days).
const MAX_DAYS: i64 = 3660;

impl Calendar {
    pub fn new(s: &SlaSettings) -> anyhow::Result<Self> {
        let tz = TimeZone::get(&s.timezone)
            .map_err(|e| anyhow::anyhow!("sla.timezone {:?}: {e}", s.timezone))?;
        let mut days = [false; 7];
        for d in &s.working_days {
            anyhow::ensure!((1..=7).contains(d), "sla.working_days: {d} is not 1..7");
            days[usize::from(*d - 1)] = true;
        }
        anyhow::ensure!(days.iter().any(|d| *d), "sla.working_days is empty");
        let parse_time = |v: &str, key: &str| {
            Time::strptime("%H:%M", v).map_err(|_| anyhow::anyhow!("sla.{key} {v:?} is not HH:MM"))
        };
        let start = parse_time(&s.day_start, "day_start")?;
        let end = parse_time(&s.day_end, "day_end")?;
        anyhow::ensure!(start < end, "sla.day_start must be before sla.day_end");
        let holidays = s
            .holidays
            .iter()
            .map(|h| {
                h.parse::<Date>()
                    .map_err(|_| anyhow::anyhow!("sla.holidays: {h:?} is not YYYY-MM-DD"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            tz,
            tz_name: s.timezone.clone(),
            days,
            start,
            end,
            holidays,
            targets: s.targets.clone(),
        })
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The start and end (exclusive), in ms, of calendar day `date` in the
    /// calendar's time zone; `None` at the ends of time.
    pub fn day_bounds(&self, date: Date) -> Option<(i64, i64)> {
        let start = |d: Date| {
            d.to_zoned(self.tz.clone())
                .ok()
                .map(|z| z.timestamp().as_millisecond())
        };
        Some((start(date)?, start(date.tomorrow().ok()?)?))
    }

    fn is_working(&self, date: Date) -> bool {
        let weekday = date.weekday().to_monday_one_offset();
        self.days[usize::try_from(weekday - 1).unwrap_or(0)] && !self.holidays.contains(&date)
    }

    /// Business windows `[start, end)` in unix ms that end after `from`, in order.
    fn windows_from(&self, from: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
        let first = Timestamp::from_millisecond(from)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(self.tz.clone())
            .date();
        (0..MAX_DAYS).filter_map(move |i| {
            let date = first.checked_add(i.days()).ok()?;
            if !self.is_working(date) {
                return None;
            }
            let open = date
                .to_datetime(self.start)
                .to_zoned(self.tz.clone())
                .ok()?;
            let close = date.to_datetime(self.end).to_zoned(self.tz.clone()).ok()?;
            let (a, b) = (
                open.timestamp().as_millisecond(),
                close.timestamp().as_millisecond(),
            );
            (b > from).then_some((a.max(from), b))
        })
    }

    /// Business milliseconds in `[a, b)`.
    pub fn business_ms(&self, a: i64, b: i64) -> i64 {
        if b <= a {
            return 0;
        }
        let mut total = 0;
        for (s, e) in self.windows_from(a) {
            if s >= b {
                break;
            }
            total += e.min(b) - s;
        }
        total
    }

    /// The instant `ms` business milliseconds after `from`.
    pub fn add_business(&self, from: i64, ms: i64) -> Option<i64> {
        let mut left = ms;
        for (s, e) in self.windows_from(from) {
            if e - s >= left {
                return Some(s + left);
            }
            left -= e - s;
        }
        None
    }

    /// When `target_ms` of business time will have passed since `start`, not
    /// counting `pauses` (closed, sorted by start) nor an `open_pause` (then
    /// there is no deadline until the pause ends).
    pub fn deadline(
        &self,
        start: i64,
        target_ms: i64,
        pauses: &[(i64, i64)],
        open_pause: Option<i64>,
    ) -> Option<i64> {
        deadline_on(
            start,
            target_ms,
            pauses,
            open_pause,
            |from, to| self.business_ms(from, to),
            |from, ms| self.add_business(from, ms),
        )
    }

    /// A one-line description of the calendar for explanations, in the
    /// language of the request being served.
    pub fn describe(&self) -> String {
        let names = [
            crate::t!("settings-day-1"),
            crate::t!("settings-day-2"),
            crate::t!("settings-day-3"),
            crate::t!("settings-day-4"),
            crate::t!("settings-day-5"),
            crate::t!("settings-day-6"),
            crate::t!("settings-day-7"),
        ];
        let days: Vec<String> = names
            .into_iter()
            .zip(self.days)
            .filter_map(|(n, on)| on.then_some(n))
            .collect();
        format!(
            "{} {}–{} {}{}",
            days.join(","),
            self.start.strftime("%H:%M"),
            self.end.strftime("%H:%M"),
            self.tz_name,
            match self.holidays.len() {
                0 => String::new(),
                n => format!(", {}", crate::t!("problem-sla-holidays", count = n)),
            }
        )
    }
}

/// What a ticket's SLA clocks depend on.
#[derive(Debug, Clone)]
pub struct ClockInput<'a> {
    pub priority: Priority,
    pub created_at: i64,
    pub pauses: &'a [(i64, i64)],
    pub waiting_since: Option<i64>,
    /// When a missed deadline raised the priority: the deadlines are then
    /// the raised priority's, counted from that moment (so a clock not yet
    /// missed is never due in the past, and one miss never counts twice).
    pub escalated_at: Option<i64>,
}

/// Deadlines and how they were computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlines {
    pub response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub explanation: String,
}

/// `1h30m` / `1 jam 30 menit`.
fn hm(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (h, 0) => crate::t!("problem-sla-hours", hours = h),
        (0, m) => crate::t!("problem-sla-minutes", minutes = m),
        (h, m) => crate::t!("problem-sla-hours-minutes", hours = h, minutes = m),
    }
}

/// When `target_ms` of counted time will have passed since `start`, not
/// counting `pauses` (closed, sorted by start) nor an `open_pause` (then
/// there is no deadline until the pause ends). `counted(from, to)` is the
/// time that counts between two instants and `add(from, ms)` the instant
/// `ms` of it after `from`: business hours ([`Calendar::deadline`]) or
/// every hour (targets counted around the clock).
fn deadline_on(
    start: i64,
    target_ms: i64,
    pauses: &[(i64, i64)],
    open_pause: Option<i64>,
    counted: impl Fn(i64, i64) -> i64,
    add: impl Fn(i64, i64) -> Option<i64>,
) -> Option<i64> {
    let mut cursor = start;
    let mut left = target_ms;
    let open = open_pause.map(|p| (p, i64::MAX));
    for &(ps, pe) in pauses.iter().chain(open.iter()) {
        if pe <= cursor {
            continue;
        }
        let run = counted(cursor, ps.max(cursor));
        if run >= left {
            return add(cursor, left);
        }
        left -= run;
        cursor = cursor.max(pe);
        if cursor == i64::MAX {
            return None;
        }
    }
    add(cursor, left)
}

/// Computes both deadlines of a ticket with their explanation, in the
/// language of the request being served (English outside one).
pub fn deadlines(cal: &Calendar, input: &ClockInput<'_>) -> Deadlines {
    let (response_due_at, resolution_due_at) = due(cal, input);
    Deadlines {
        response_due_at,
        resolution_due_at,
        explanation: explain(cal, input),
    }
}

/// Both deadlines alone, `(response, resolution)`: what storing them needs
/// (no explanation is rendered for a write).
pub fn due(cal: &Calendar, input: &ClockInput<'_>) -> (Option<i64>, Option<i64>) {
    let target = cal.targets.of(input.priority);
    let start = input.escalated_at.unwrap_or(input.created_at);
    let due = |minutes: u32| {
        let ms = i64::from(minutes) * 60_000;
        if target.around_the_clock {
            let wall = |from: i64, to: i64| to - from;
            deadline_on(
                start,
                ms,
                input.pauses,
                input.waiting_since,
                wall,
                i64::checked_add,
            )
        } else {
            cal.deadline(start, ms, input.pauses, input.waiting_since)
        }
    };
    (due(target.response_minutes), due(target.resolution_minutes))
}

/// How the deadlines were computed, for a person.
fn explain(cal: &Calendar, input: &ClockInput<'_>) -> String {
    let target = cal.targets.of(input.priority);
    let start = input.escalated_at.unwrap_or(input.created_at);
    let counted = if target.around_the_clock {
        crate::t!("problem-sla-around-the-clock")
    } else {
        crate::t!("problem-sla-business-time", calendar = &cal.describe())
    };
    let paused_ms: i64 = input.pauses.iter().map(|(a, b)| b - a).sum();
    let mut explanation = crate::t!(
        "problem-sla-explanation",
        priority = input.priority.as_str(),
        response = &hm(target.response_minutes),
        resolution = &hm(target.resolution_minutes),
        counted = &counted,
        start = &crate::domain::rfc3339(start),
    );
    if let Some(at) = input.escalated_at {
        explanation.push_str("; ");
        explanation.push_str(&crate::t!(
            "problem-sla-escalated",
            at = &crate::domain::rfc3339(at)
        ));
    }
    if !input.pauses.is_empty() {
        explanation.push_str("; ");
        explanation.push_str(&crate::t!(
            "problem-sla-paused",
            count = input.pauses.len(),
            duration = &hm(u32::try_from(paused_ms / 60_000).unwrap_or(u32::MAX))
        ));
    }
    if let Some(since) = input.waiting_since {
        explanation.push_str("; ");
        explanation.push_str(&crate::t!(
            "problem-sla-waiting",
            since = &crate::domain::rfc3339(since)
        ));
    }
    explanation
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix ms of a Jakarta wall-clock time.
    fn at(s: &str) -> i64 {
        s.parse::<jiff::civil::DateTime>()
            .unwrap_or_default()
            .to_zoned(TimeZone::get("Asia/Jakarta").unwrap_or(TimeZone::UTC))
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or_default()
    }

    /// Mon–Fri 09:00–17:00 Jakarta (the cases below are written for it).
    fn cal(holidays: &[&str]) -> Calendar {
        Calendar::new(&SlaSettings {
            holidays: holidays.iter().map(|h| (*h).to_owned()).collect(),
            working_days: vec![1, 2, 3, 4, 5],
            day_start: "09:00".into(),
            ..SlaSettings::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    const H: i64 = 3_600_000;

    #[test]
    fn counts_only_working_hours() {
        let c = cal(&[]);
        // Friday 2026-11-20 16:00 + 2 business hours = Monday 10:00.
        assert_eq!(
            c.add_business(at("2026-11-20T16:00"), 2 * H),
            Some(at("2026-11-23T10:00"))
        );
        // Created on Saturday: the clock starts Monday 09:00.
        assert_eq!(
            c.add_business(at("2026-11-21T11:00"), H),
            Some(at("2026-11-23T10:00"))
        );
        assert_eq!(
            c.business_ms(at("2026-11-20T08:00"), at("2026-11-23T12:00")),
            11 * H
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let c = cal(&["2026-11-23"]);
        assert_eq!(
            c.add_business(at("2026-11-20T16:00"), 2 * H),
            Some(at("2026-11-24T10:00"))
        );
    }

    #[test]
    fn pauses_push_deadlines_out() {
        let c = cal(&[]);
        let start = at("2026-11-16T09:00"); // Monday
        // 4h target; paused Monday 10:00–14:00: due 17:00 instead of 13:00.
        let pauses = [(at("2026-11-16T10:00"), at("2026-11-16T14:00"))];
        assert_eq!(
            c.deadline(start, 4 * H, &pauses, None),
            Some(at("2026-11-16T17:00"))
        );
        // A pause that straddles the weekend costs only business time.
        let pauses = [(at("2026-11-20T16:00"), at("2026-11-23T10:00"))];
        assert_eq!(
            c.deadline(at("2026-11-20T15:00"), 3 * H, &pauses, None),
            Some(at("2026-11-23T12:00"))
        );
        // Paused now: no deadline until the customer answers.
        assert_eq!(
            c.deadline(start, 4 * H, &[], Some(at("2026-11-16T10:00"))),
            None
        );
        // Paused after the deadline already passed: the deadline stands.
        assert_eq!(
            c.deadline(start, H, &[], Some(at("2026-11-16T12:00"))),
            Some(at("2026-11-16T10:00"))
        );
    }

    #[test]
    fn explanation_names_the_rules() {
        let c = cal(&["2026-12-25"]);
        let d = deadlines(
            &c,
            &ClockInput {
                priority: Priority::Urgent,
                created_at: at("2026-11-16T09:00"),
                pauses: &[],
                waiting_since: None,
                escalated_at: None,
            },
        );
        assert_eq!(d.response_due_at, Some(at("2026-11-16T10:00")));
        assert_eq!(d.resolution_due_at, Some(at("2026-11-16T13:00")));
        assert!(
            d.explanation.contains("urgent priority"),
            "{}",
            d.explanation
        );
        assert!(d.explanation.contains("1 holiday"), "{}", d.explanation);
    }

    #[tokio::test]
    async fn the_explanation_speaks_the_language_of_the_request() {
        use crate::i18n::{Lang, speaking};
        let c = cal(&["2026-12-25"]);
        let pauses = [(at("2026-11-16T09:10"), at("2026-11-16T09:40"))];
        let input = ClockInput {
            priority: Priority::Urgent,
            created_at: at("2026-11-16T09:00"),
            pauses: &pauses,
            waiting_since: None,
            escalated_at: None,
        };
        let english = speaking(Some(Lang::English), async { deadlines(&c, &input) }).await;
        assert_eq!(
            english.explanation,
            "urgent priority: first response within 1h and resolution within 4h of business time \
             (Mon,Tue,Wed,Thu,Fri 09:00–17:00 Asia/Jakarta, 1 holiday(s) excluded), counted from \
             2026-11-16T02:00:00Z; clocks paused 1 time(s) for 30m in all while waiting on the \
             customer"
        );
        let indonesian = speaking(Some(Lang::Id), async { deadlines(&c, &input) }).await;
        assert_eq!(
            indonesian.explanation,
            "Prioritas mendesak: respons pertama dalam 1 jam dan penyelesaian dalam 4 jam waktu \
             kerja (Sen,Sel,Rab,Kam,Jum 09:00–17:00 Asia/Jakarta, 1 hari libur tidak dihitung), \
             dihitung sejak 2026-11-16T02:00:00Z; waktu dijeda 1 kali, total 30 menit, selama \
             menunggu pelanggan"
        );
    }

    #[test]
    fn the_default_calendar_is_monday_to_saturday_eight_to_five_and_urgent_may_run_24_7() {
        let mut settings = SlaSettings::default();
        let c = Calendar::new(&settings).unwrap_or_else(|e| panic!("{e}"));
        // Saturday 2026-11-21 16:30 WIB: 30 minutes left that day, the next
        // working hour starts Monday 08:00.
        assert_eq!(
            c.add_business(at("2026-11-21T16:30"), H),
            Some(at("2026-11-23T08:30"))
        );
        assert!(
            c.describe()
                .starts_with("Mon,Tue,Wed,Thu,Fri,Sat 08:00–17:00")
        );
        settings.targets.urgent.around_the_clock = true;
        let c = Calendar::new(&settings).unwrap_or_else(|e| panic!("{e}"));
        let d = deadlines(
            &c,
            &ClockInput {
                priority: Priority::Urgent,
                created_at: at("2026-11-21T22:00"),
                pauses: &[(at("2026-11-21T22:10"), at("2026-11-21T22:40"))],
                waiting_since: None,
                escalated_at: None,
            },
        );
        // 1 h and 4 h of wall time, 30 paused minutes added.
        assert_eq!(d.response_due_at, Some(at("2026-11-21T23:30")));
        assert_eq!(d.resolution_due_at, Some(at("2026-11-22T02:30")));
        assert!(
            d.explanation.contains("around the clock"),
            "{}",
            d.explanation
        );
    }

    #[test]
    fn an_escalated_ticket_is_never_due_in_the_past() {
        // High, opened Monday 09:00; its 4-hour response missed at 13:00
        // raises it to urgent, whose resolution target is 4 hours too: from
        // the ticket's start that would already be due — from the
        // escalation it is 17:00.
        let c = cal(&[]);
        let escalated = at("2026-11-16T13:00");
        let d = deadlines(
            &c,
            &ClockInput {
                priority: Priority::Urgent,
                created_at: at("2026-11-16T09:00"),
                pauses: &[],
                waiting_since: None,
                escalated_at: Some(escalated),
            },
        );
        assert_eq!(d.resolution_due_at, Some(at("2026-11-16T17:00")));
        assert!(d.explanation.contains("counted from the escalation"));
    }

    #[test]
    fn one_priority_may_be_configured_alone() {
        let settings: SlaSettings = toml::from_str(
            "[targets.urgent]\nresponse_minutes = 30\nresolution_minutes = 120\naround_the_clock = true\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(settings.targets.urgent.around_the_clock);
        assert_eq!(settings.targets.urgent.response_minutes, 30);
        assert_eq!(settings.targets.low, Targets::default().low);
    }

    #[test]
    fn bad_settings_are_rejected() {
        for s in [
            SlaSettings {
                timezone: "Mars/Base".into(),
                ..SlaSettings::default()
            },
            SlaSettings {
                working_days: vec![0],
                ..SlaSettings::default()
            },
            SlaSettings {
                day_start: "18:00".into(),
                ..SlaSettings::default()
            },
            SlaSettings {
                holidays: vec!["25/12".into()],
                ..SlaSettings::default()
            },
        ] {
            assert!(Calendar::new(&s).is_err(), "{s:?}");
        }
    }
}
