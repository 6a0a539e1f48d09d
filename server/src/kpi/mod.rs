//! KPI and analytics (seed 003's *dashboard manajemen untuk melihat KPI
//! teknisi dan CS*, seed 004's analytics): ratings, help-desk and field
//! performance per technician, CS agent, department and overall, per day,
//! ISO week or month in the sites' calendar.
//!
//! Everything is counted as [`facts`]: `value` of a [`Metric`] for a
//! subject on a day, from the source tables. A day that is over is written
//! once into the `kpi_daily` rollup by [`rollup`] (restart-safe, one
//! instance at a time); a view sums the rollup up to the day it holds and
//! counts the days after it live, so the numbers are current to the
//! second and a year's dashboard reads a few hundred rows. The formulas
//! turning counts into percentages are [`formulas`]', pure and tested.
//!
//! Who sees what is the policy's: managers ([`Action::ViewAllKpi`]) see
//! every row; everyone else on the staff sees their own rows and, when
//! they lead a department, its members' and its own.

pub mod facts;
pub mod formulas;
pub mod rollup;

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::civil::Date;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::kpi as db;
use crate::service::{ServiceError, forbidden};
use formulas::{FieldCounts, HelpdeskCounts, Period, Tally};

/// Whom a KPI row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// Everything, one row.
    All,
    Technician,
    /// A CS agent (the assignee of a ticket).
    Agent,
    Department,
}

impl Subject {
    pub const ALL: [Subject; 4] = [
        Subject::All,
        Subject::Technician,
        Subject::Agent,
        Subject::Department,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Subject::All => "all",
            Subject::Technician => "technician",
            Subject::Agent => "agent",
            Subject::Department => "department",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What is counted. Sums of durations are business milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    RatingSent,
    RatingAnswered,
    RatingSatisfied,
    RatingScoreSum,
    TicketCreated,
    TicketResponded,
    TicketResponseMs,
    TicketResponseMet,
    TicketResolved,
    TicketResolutionMs,
    TicketResolutionMet,
    TicketReopened,
    VisitDone,
    VisitDaysOver,
    DayOnTime,
    DayLate,
    DayAbsent,
    ExtensionAsked,
    ExtensionApproved,
    CallMade,
    CallAnswered,
}

impl Metric {
    pub const ALL: [Metric; 21] = [
        Metric::RatingSent,
        Metric::RatingAnswered,
        Metric::RatingSatisfied,
        Metric::RatingScoreSum,
        Metric::TicketCreated,
        Metric::TicketResponded,
        Metric::TicketResponseMs,
        Metric::TicketResponseMet,
        Metric::TicketResolved,
        Metric::TicketResolutionMs,
        Metric::TicketResolutionMet,
        Metric::TicketReopened,
        Metric::VisitDone,
        Metric::VisitDaysOver,
        Metric::DayOnTime,
        Metric::DayLate,
        Metric::DayAbsent,
        Metric::ExtensionAsked,
        Metric::ExtensionApproved,
        Metric::CallMade,
        Metric::CallAnswered,
    ];

    /// The name stored in `kpi_daily.metric`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::RatingSent => "rating.sent",
            Metric::RatingAnswered => "rating.answered",
            Metric::RatingSatisfied => "rating.satisfied",
            Metric::RatingScoreSum => "rating.score_sum",
            Metric::TicketCreated => "ticket.created",
            Metric::TicketResponded => "ticket.responded",
            Metric::TicketResponseMs => "ticket.response_ms",
            Metric::TicketResponseMet => "ticket.response_met",
            Metric::TicketResolved => "ticket.resolved",
            Metric::TicketResolutionMs => "ticket.resolution_ms",
            Metric::TicketResolutionMet => "ticket.resolution_met",
            Metric::TicketReopened => "ticket.reopened",
            Metric::VisitDone => "visit.done",
            Metric::VisitDaysOver => "visit.days_over",
            Metric::DayOnTime => "day.on_time",
            Metric::DayLate => "day.late",
            Metric::DayAbsent => "day.absent",
            Metric::ExtensionAsked => "extension.asked",
            Metric::ExtensionApproved => "extension.approved",
            Metric::CallMade => "call.made",
            Metric::CallAnswered => "call.answered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Counts of every metric for one subject over some days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(HashMap<Metric, i64>);

impl Counts {
    pub fn add(&mut self, metric: Metric, value: i64) {
        *self.0.entry(metric).or_default() += value;
    }

    pub fn get(&self, metric: Metric) -> i64 {
        self.0.get(&metric).copied().unwrap_or(0)
    }

    fn merge(&mut self, other: &Counts) {
        for (m, v) in &other.0 {
            self.add(*m, *v);
        }
    }

    fn tally(&self) -> Tally {
        let n = |m| u64::try_from(self.get(m)).unwrap_or(0);
        Tally {
            sent: n(Metric::RatingSent),
            answered: n(Metric::RatingAnswered),
            satisfied: n(Metric::RatingSatisfied),
            score_sum: n(Metric::RatingScoreSum),
        }
    }

    fn helpdesk(&self) -> HelpdeskCounts {
        HelpdeskCounts {
            created: self.get(Metric::TicketCreated),
            responded: self.get(Metric::TicketResponded),
            response_ms: self.get(Metric::TicketResponseMs),
            response_met: self.get(Metric::TicketResponseMet),
            resolved: self.get(Metric::TicketResolved),
            resolution_ms: self.get(Metric::TicketResolutionMs),
            resolution_met: self.get(Metric::TicketResolutionMet),
            reopened: self.get(Metric::TicketReopened),
        }
    }

    fn field(&self) -> FieldCounts {
        FieldCounts {
            done: self.get(Metric::VisitDone),
            days_over: self.get(Metric::VisitDaysOver),
            on_time: self.get(Metric::DayOnTime),
            late: self.get(Metric::DayLate),
            absent: self.get(Metric::DayAbsent),
            extensions_asked: self.get(Metric::ExtensionAsked),
            extensions_approved: self.get(Metric::ExtensionApproved),
        }
    }

    /// The KPIs these counts make.
    pub fn kpis(&self) -> Kpis {
        let mut helpdesk = HelpdeskKpi::of(&self.helpdesk());
        helpdesk.calls_made = self.get(Metric::CallMade);
        helpdesk.calls_answered = self.get(Metric::CallAnswered);
        Kpis {
            ratings: RatingKpi::of(&self.tally()),
            helpdesk,
            field: FieldKpi::of(&self.field()),
        }
    }
}

/// Every KPI of one subject over one period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Kpis {
    pub ratings: RatingKpi,
    pub helpdesk: HelpdeskKpi,
    pub field: FieldKpi,
}

/// CSAT and friends. `ranked` is false below 5 ratings: shown greyed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatingKpi {
    /// Rating requests sent.
    pub sent: i64,
    /// Ratings given (n).
    pub answered: i64,
    /// Ratings of 4 or 5.
    pub satisfied: i64,
    /// Ratings of 4 or 5 ÷ ratings, in percent.
    pub csat_pct: Option<f64>,
    pub average: Option<f64>,
    /// Ratings ÷ requests sent, in percent.
    pub response_rate_pct: Option<f64>,
    pub ranked: bool,
}

impl RatingKpi {
    fn of(t: &Tally) -> Self {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Self {
            sent: n(t.sent),
            answered: n(t.answered),
            satisfied: n(t.satisfied),
            csat_pct: t.csat_pct(),
            average: t.average(),
            response_rate_pct: t.response_rate_pct(),
            ranked: t.ranked(),
        }
    }
}

/// Help-desk performance; times are business time (the SLA calendar).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HelpdeskKpi {
    /// Tickets opened.
    pub created: i64,
    /// Tickets first answered.
    pub responded: i64,
    pub avg_first_response_secs: Option<f64>,
    /// First answers within their SLA, in percent.
    pub response_sla_pct: Option<f64>,
    pub resolved: i64,
    pub avg_resolution_secs: Option<f64>,
    /// Resolutions within their SLA, in percent.
    pub resolution_sla_pct: Option<f64>,
    pub reopened: i64,
    /// Reopened ÷ resolved, in percent.
    pub reopen_rate_pct: Option<f64>,
    /// Calls the agent placed.
    pub calls_made: i64,
    /// Calls of the agent's that connected (placed or taken).
    pub calls_answered: i64,
}

impl HelpdeskKpi {
    fn of(c: &HelpdeskCounts) -> Self {
        Self {
            created: c.created,
            responded: c.responded,
            avg_first_response_secs: c.avg_first_response_secs(),
            response_sla_pct: c.response_sla_pct(),
            resolved: c.resolved,
            avg_resolution_secs: c.avg_resolution_secs(),
            resolution_sla_pct: c.resolution_sla_pct(),
            reopened: c.reopened,
            reopen_rate_pct: c.reopen_rate_pct(),
            calls_made: 0,
            calls_answered: 0,
        }
    }
}

/// Field performance of technicians, by the attendance rules.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldKpi {
    pub visits_done: i64,
    /// Visit days a technician was expected and the day is decided.
    pub expected_days: i64,
    pub on_time: i64,
    /// Arrived after the start plus grace.
    pub late: i64,
    pub absent: i64,
    /// On time ÷ expected days, in percent.
    pub on_time_rate_pct: Option<f64>,
    pub extensions_asked: i64,
    pub extensions_approved: i64,
    /// Days past the planned last day, averaged over visits done.
    pub avg_days_over_plan: Option<f64>,
}

impl FieldKpi {
    fn of(c: &FieldCounts) -> Self {
        Self {
            visits_done: c.done,
            expected_days: c.expected_days(),
            on_time: c.on_time,
            late: c.late,
            absent: c.absent,
            on_time_rate_pct: c.on_time_rate_pct(),
            extensions_asked: c.extensions_asked,
            extensions_approved: c.extensions_approved,
            avg_days_over_plan: c.avg_days_over_plan(),
        }
    }
}

/// What an actor may see of the KPIs.
#[derive(Debug, Clone)]
pub enum Visibility {
    Everything,
    /// Their own rows, those of members of the departments they lead, and
    /// those departments' rows.
    Some {
        users: HashSet<String>,
        departments: HashSet<String>,
    },
}

impl Visibility {
    /// What `actor` may see; staff only.
    pub async fn of(state: &AppState, actor: &Actor) -> Result<Self, ServiceError> {
        if actor.allows(Action::ViewAllKpi) {
            return Ok(Self::Everything);
        }
        if !actor.allows(Action::ViewOwnKpi) {
            return Err(forbidden());
        }
        let pool = state.db.pool();
        let departments: HashSet<String> = db::led_by(pool, &actor.user_id)
            .await?
            .into_iter()
            .collect();
        let mut users: HashSet<String> = db::memberships(pool)
            .await?
            .into_iter()
            .filter(|(_, d)| departments.contains(d))
            .map(|(u, _)| u)
            .collect();
        users.insert(actor.user_id.clone());
        Ok(Self::Some { users, departments })
    }

    pub fn sees(&self, subject: Subject, id: &str) -> bool {
        match self {
            Visibility::Everything => true,
            Visibility::Some { users, departments } => match subject {
                Subject::All => false,
                Subject::Technician | Subject::Agent => users.contains(id),
                Subject::Department => departments.contains(id),
            },
        }
    }
}

/// A span of days in the sites' calendar, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    pub first: i64,
    pub last: i64,
}

impl Days {
    /// The days from `from` to `to`; `None` when `from` comes after `to`.
    pub fn between(from: Date, to: Date) -> Option<Self> {
        let (first, last) = (formulas::day_number(from), formulas::day_number(to));
        (first <= last).then_some(Self { first, last })
    }
}

/// One row of a KPI table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Row {
    pub subject: Subject,
    /// Empty for [`Subject::All`].
    pub subject_id: String,
    pub name: String,
    #[serde(flatten)]
    pub kpis: Kpis,
}

/// The KPI table of every `subject` the actor may see over `days`: ranked
/// rows first, by CSAT then average, then the rest by name.
pub async fn board(
    state: &AppState,
    actor: &Actor,
    subject: Subject,
    days: Days,
) -> Result<Vec<Row>, ServiceError> {
    let visible = Visibility::of(state, actor).await?;
    if subject == Subject::All && !visible.sees(Subject::All, "") {
        return Err(forbidden());
    }
    let mut totals: BTreeMap<String, Counts> = BTreeMap::new();
    for ((_, id), counts) in counted(state, subject, days).await? {
        if visible.sees(subject, &id) {
            totals.entry(id).or_default().merge(&counts);
        }
    }
    let names: HashMap<String, String> = db::names(state.db.pool()).await?.into_iter().collect();
    let mut rows: Vec<Row> = totals
        .into_iter()
        .map(|(id, counts)| Row {
            subject,
            name: match subject {
                Subject::All => "all".to_owned(),
                _ => names.get(&id).cloned().unwrap_or_else(|| id.clone()),
            },
            subject_id: id,
            kpis: counts.kpis(),
        })
        .collect();
    rows.sort_by(|a, b| {
        let (ra, rb) = (&a.kpis.ratings, &b.kpis.ratings);
        rb.ranked
            .cmp(&ra.ranked)
            .then(
                rb.csat_pct
                    .unwrap_or(-1.0)
                    .total_cmp(&ra.csat_pct.unwrap_or(-1.0)),
            )
            .then(
                rb.average
                    .unwrap_or(-1.0)
                    .total_cmp(&ra.average.unwrap_or(-1.0)),
            )
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(rows)
}

/// One point of a time series.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Point {
    /// `2026-12-05`, `2026-W49` or `2026-12`.
    pub period: String,
    #[serde(flatten)]
    pub kpis: Kpis,
}

/// One subject's KPIs per period over `days`, every period present.
pub async fn series(
    state: &AppState,
    actor: &Actor,
    subject: Subject,
    subject_id: &str,
    period: Period,
    days: Days,
) -> Result<Vec<Point>, ServiceError> {
    let visible = Visibility::of(state, actor).await?;
    if !visible.sees(subject, subject_id) {
        return Err(forbidden());
    }
    let mut buckets: BTreeMap<String, Counts> = (days.first..=days.last)
        .map(|d| {
            (
                formulas::label(formulas::date_of(d), period),
                Counts::default(),
            )
        })
        .collect();
    let (rolled, live) = split(state, days).await?;
    if let Some(rolled) = rolled {
        let cells = db::days_of(
            state.db.pool(),
            subject.as_str(),
            subject_id,
            rolled.first,
            rolled.last,
        )
        .await?;
        for c in cells {
            if let Some(metric) = Metric::parse(&c.metric) {
                let label = formulas::label(formulas::date_of(c.day), period);
                buckets.entry(label).or_default().add(metric, c.value);
            }
        }
    }
    if let Some(live) = live {
        let counted = facts::collect(state, live.first, live.last, Some(subject)).await?;
        for ((s, id, day), counts) in counted {
            if s == subject && id == subject_id {
                let label = formulas::label(formulas::date_of(day), period);
                buckets.entry(label).or_default().merge(&counts);
            }
        }
    }
    Ok(buckets
        .into_iter()
        .map(|(period, counts)| Point {
            period,
            kpis: counts.kpis(),
        })
        .collect())
}

/// The counts of every `subject` over `days`: the rollup up to the day it
/// holds, live counts after it.
async fn counted(
    state: &AppState,
    subject: Subject,
    days: Days,
) -> Result<BTreeMap<(Subject, String), Counts>, ServiceError> {
    let mut out: BTreeMap<(Subject, String), Counts> = BTreeMap::new();
    let (rolled, live) = split(state, days).await?;
    if let Some(rolled) = rolled {
        for c in db::sums(state.db.pool(), subject.as_str(), rolled.first, rolled.last).await? {
            if let Some(metric) = Metric::parse(&c.metric) {
                out.entry((subject, c.subject_id))
                    .or_default()
                    .add(metric, c.value);
            }
        }
    }
    if let Some(live) = live {
        for ((s, id, _), counts) in
            facts::collect(state, live.first, live.last, Some(subject)).await?
        {
            if s == subject {
                out.entry((s, id)).or_default().merge(&counts);
            }
        }
    }
    Ok(out)
}

/// `days` split into the part the rollup holds and the part counted live
/// (from the day after the rollup's last, never before the span); either
/// may be empty.
async fn split(state: &AppState, days: Days) -> sqlx::Result<(Option<Days>, Option<Days>)> {
    let through = db::through_day(state.db.pool()).await?;
    let rolled_last = through.map_or(days.first - 1, |t| t.min(days.last));
    let live_first = (rolled_last + 1).max(days.first);
    let span = |first, last| (first <= last).then_some(Days { first, last });
    Ok((span(days.first, rolled_last), span(live_first, days.last)))
}

/// The real-time state of the operation (seed 004), pushed to the console.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Live {
    /// Tickets open or in progress.
    pub active_tickets: i64,
    /// Open tickets nobody has yet.
    pub queue: i64,
    /// CS agents by presence.
    pub agents_available: i64,
    pub agents_busy: i64,
    pub agents_away: i64,
    /// Technicians checked in on a site now.
    pub technicians_on_site: i64,
    /// Visits open in the pool.
    pub visits_in_pool: i64,
}

/// The real-time counts.
pub async fn live(state: &AppState, actor: &Actor) -> Result<Live, ServiceError> {
    crate::service::allow(actor, Action::ViewLiveMetrics)?;
    let c = db::live(state.db.pool()).await?;
    Ok(Live {
        active_tickets: c.active_tickets,
        queue: c.queue,
        agents_available: c.agents_available,
        agents_busy: c.agents_busy,
        agents_away: c.agents_away,
        technicians_on_site: c.on_site,
        visits_in_pool: c.pool,
    })
}
