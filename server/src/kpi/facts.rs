//! Counting from the source tables: what happened on each day, for whom.
//!
//! Each fact is counted on the day (sites' calendar, server clock) of the
//! instant it is about: a request when it was made, a rating when it was
//! given, a ticket's first response when it was sent. Attribution:
//! - ratings: the technicians and the CS agent fixed on the request, the
//!   visit's department, and everything;
//! - tickets: the assignee, the ticket's department, and everything;
//! - field work: visits done per technician who completed them, and once
//!   per visit for its department and everything; extensions and visit
//!   days per technician, their departments and everything; on-time, late
//!   and absent days are the attendance report's (the
//!   attendance rules), counted once a day is decided.

use std::collections::{BTreeMap, HashMap};

use super::formulas::{day_of, day_start};
use super::{Counts, Metric, Subject};
use crate::AppState;
use crate::db::kpi as db;
use crate::visits::attendance::{self, DayStatus};

/// Counts per (subject, subject id, day).
pub type Facts = BTreeMap<(Subject, String, i64), Counts>;

struct Tally<'a> {
    facts: Facts,
    departments: &'a HashMap<String, Vec<String>>,
}

impl Tally<'_> {
    fn add(&mut self, subject: Subject, id: &str, day: i64, metric: Metric, value: i64) {
        self.facts
            .entry((subject, id.to_owned(), day))
            .or_default()
            .add(metric, value);
    }

    /// Counts for everything, and for a department when there is one.
    fn overall(&mut self, department: Option<&str>, day: i64, metric: Metric, value: i64) {
        self.add(Subject::All, "", day, metric, value);
        if let Some(d) = department {
            self.add(Subject::Department, d, day, metric, value);
        }
    }

    /// Counts for a technician, their departments and everything.
    fn technician(&mut self, id: &str, day: i64, metric: Metric, value: i64) {
        self.add(Subject::Technician, id, day, metric, value);
        self.add(Subject::All, "", day, metric, value);
        let departments = self.departments.get(id).cloned().unwrap_or_default();
        for d in departments {
            self.add(Subject::Department, &d, day, metric, value);
        }
    }
}

/// Every fact of days `first..=last` — or, with `only`, at least that
/// subject's (the sources that never count for it are not read: tickets
/// for technicians, field work for CS agents).
pub async fn collect(
    state: &AppState,
    first: i64,
    last: i64,
    only: Option<Subject>,
) -> sqlx::Result<Facts> {
    let pool = state.db.pool();
    let offset = state.config.attendance.utc_offset_minutes;
    let (from, until) = (day_start(first, offset), day_start(last + 1, offset));
    let within = |at: i64| (from..until).contains(&at);
    let day = |at: i64| day_of(at, offset);
    let mut departments: HashMap<String, Vec<String>> = HashMap::new();
    for (user, department) in db::memberships(pool).await? {
        departments.entry(user).or_default().push(department);
    }
    let mut t = Tally {
        facts: Facts::new(),
        departments: &departments,
    };

    // Ratings.
    let mut technicians: HashMap<String, Vec<String>> = HashMap::new();
    for (request, technician) in db::request_technicians(pool, from, until).await? {
        technicians.entry(request).or_default().push(technician);
    }
    let attributed = |t: &mut Tally<'_>, request: &str, agent: Option<&str>, d, m, v| {
        for technician in technicians.get(request).into_iter().flatten() {
            t.add(Subject::Technician, technician, d, m, v);
        }
        if let Some(agent) = agent {
            t.add(Subject::Agent, agent, d, m, v);
        }
    };
    for r in db::requests(pool, from, until).await? {
        let d = day(r.at);
        t.overall(r.department_id.as_deref(), d, Metric::RatingSent, 1);
        attributed(
            &mut t,
            &r.request_id,
            r.cs_agent_id.as_deref(),
            d,
            Metric::RatingSent,
            1,
        );
    }
    for r in db::ratings(pool, from, until).await? {
        let d = day(r.at);
        let satisfied = i64::from(r.score >= 4);
        for (m, v) in [
            (Metric::RatingAnswered, 1),
            (Metric::RatingSatisfied, satisfied),
            (Metric::RatingScoreSum, r.score),
        ] {
            t.overall(r.department_id.as_deref(), d, m, v);
            attributed(&mut t, &r.request_id, r.cs_agent_id.as_deref(), d, m, v);
        }
    }

    // The help desk: durations in the SLA calendar's business time.
    let calendar = &state.calendar();
    let tickets = match only {
        Some(Subject::Technician) => Vec::new(),
        _ => db::tickets(pool, from, until).await?,
    };
    for k in tickets {
        let mut count = |at: i64, m: Metric, v: i64| {
            let d = day(at);
            t.overall(Some(&k.department_id), d, m, v);
            if let Some(agent) = &k.assignee_id {
                t.add(Subject::Agent, agent, d, m, v);
            }
        };
        if within(k.created_at) {
            count(k.created_at, Metric::TicketCreated, 1);
        }
        if let Some(at) = k.first_response_at.filter(|at| within(*at)) {
            count(at, Metric::TicketResponded, 1);
            count(
                at,
                Metric::TicketResponseMs,
                calendar.business_ms(k.created_at, at),
            );
            count(at, Metric::TicketResponseMet, 1 - k.response_breached);
        }
        if let Some(at) = k.resolved_at.filter(|at| within(*at)) {
            count(at, Metric::TicketResolved, 1);
            count(
                at,
                Metric::TicketResolutionMs,
                calendar.business_ms(k.created_at, at),
            );
            count(at, Metric::TicketResolutionMet, 1 - k.resolution_breached);
        }
        if let Some(at) = k.reopened_at.filter(|at| within(*at)) {
            count(at, Metric::TicketReopened, 1);
        }
    }

    // Calls: placed on the day they were placed, answered on the day
    // they connected; the agent is the staff member in the call.
    let calls = match only {
        Some(Subject::Technician) => Vec::new(),
        _ => db::calls(pool, from, until).await?,
    };
    for c in calls {
        let mut count = |at: i64, m: Metric| {
            let d = day(at);
            t.overall(c.department_id.as_deref(), d, m, 1);
            t.add(Subject::Agent, &c.agent_id, d, m, 1);
        };
        if c.outbound == 1 && within(c.created_at) {
            count(c.created_at, Metric::CallMade);
        }
        if let Some(at) = c.answered_at.filter(|at| within(*at)) {
            count(at, Metric::CallAnswered);
        }
    }

    // Field work.
    if only == Some(Subject::Agent) {
        return Ok(t.facts);
    }
    // A visit done counts once overall and for its department, and once for
    // each technician who completed it.
    let mut seen = std::collections::HashSet::new();
    for v in db::visits_done(pool, from, until).await? {
        let d = day(v.completed_at);
        let over = (d - v.last_planned_day).max(0);
        let first = seen.insert(v.visit_id.clone());
        for (metric, value) in [(Metric::VisitDone, 1), (Metric::VisitDaysOver, over)] {
            t.add(Subject::Technician, &v.technician_id, d, metric, value);
            if first {
                t.overall(v.department_id.as_deref(), d, metric, value);
            }
        }
    }
    for e in db::extensions(pool, from, until).await? {
        if within(e.created_at) {
            t.technician(
                &e.technician_id,
                day(e.created_at),
                Metric::ExtensionAsked,
                1,
            );
        }
        if let Some(at) = e.approved_at.filter(|at| within(*at)) {
            t.technician(&e.technician_id, day(at), Metric::ExtensionApproved, 1);
        }
    }
    let now = crate::db::now_ms();
    let rules = &state.config.attendance;
    for d in first..=last.min(day(now)) {
        for entry in attendance::report(&state.db, rules, d, now).await? {
            let metric = match entry.status {
                DayStatus::Present if entry.arrived_late => Metric::DayLate,
                DayStatus::Present => Metric::DayOnTime,
                DayStatus::Absent => Metric::DayAbsent,
                // Not decided yet: the technician may still come.
                DayStatus::Expected | DayStatus::Late => continue,
            };
            t.technician(&entry.expected.technician_id, d, metric, 1);
        }
    }
    Ok(t.facts)
}
