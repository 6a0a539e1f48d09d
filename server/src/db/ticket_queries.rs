//! Ticket lists: scope, filters, search and the stats block, and the period
//! stats — the read side of `db::tickets`, built at run time over both backends.
//!
//! Search is the one backend-specific piece: [`search_condition`] uses FTS5 on
//! SQLite and a `tsvector` in a multi-column GIN index on Postgres. On
//! Postgres a search limited to known departments (every staff member but an
//! admin, or a `department` filter) matches department-qualified words
//! (`d<department id without dashes>_<word>`, migration 0009), so it reads the
//! posting lists of its own departments only.

use sqlx::FromRow;

use super::Backend;
use super::Db;
use super::tickets::{COLUMNS, TicketRow};
use crate::domain::{Priority, TicketStatus};

/// Which tickets a reader may see.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    Departments(Vec<String>),
    Customer(String),
}

/// The list filters, validated.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub search: Option<String>,
    pub status: Option<TicketStatus>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    /// `Some(None)` = unassigned.
    pub assignee: Option<Option<String>>,
    pub department_id: Option<String>,
    pub customer_id: Option<String>,
    /// `[from, to)` of `created_at`.
    pub created: Option<(i64, i64)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct ListStats {
    pub total: i64,
    pub open: i64,
    pub in_progress: i64,
    pub resolved: i64,
    pub urgent: i64,
}

/// A bind value of a query built at run time.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// A WHERE clause built at run time with `$n` placeholders and its values.
#[derive(Debug, Default)]
struct Where {
    parts: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    fn next(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn eq(&mut self, column: &str, value: Bind) {
        let p = self.next(value);
        self.parts.push(format!("{column} = {p}"));
    }

    fn sql(&self) -> String {
        if self.parts.is_empty() {
            "TRUE".into()
        } else {
            self.parts.join(" AND ")
        }
    }
}

macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut q = $query;
        for b in $binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}

/// Lowercase word tokens of a search, at most 8 of at most 40 characters.
fn tokens(search: &str) -> Vec<String> {
    search
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(8)
        .map(|t| t.chars().take(40).collect::<String>().to_lowercase())
        .collect()
}

/// Departments whose qualified search words may stand in for the scope and
/// the department filter; beyond this many, the plain words are cheaper.
const MAX_SCOPED_DEPARTMENTS: usize = 16;

/// The departments a list is limited to, if it is and they are few.
fn search_departments<'a>(scope: &'a Scope, f: &'a TicketFilter) -> Option<Vec<&'a str>> {
    let departments: Vec<&str> = match (&f.department_id, scope) {
        (Some(d), _) => vec![d.as_str()],
        (None, Scope::Departments(ds)) => ds.iter().map(String::as_str).collect(),
        (None, Scope::All | Scope::Customer(_)) => return None,
    };
    (!departments.is_empty() && departments.len() <= MAX_SCOPED_DEPARTMENTS).then_some(departments)
}

/// A Postgres `tsquery` (input syntax, not parsed again) for `words` as
/// prefixes of department-qualified words in any of `departments`.
fn scoped_tsquery(departments: &[&str], words: &[&String]) -> String {
    departments
        .iter()
        .map(|d| {
            let d: String = d.chars().filter(char::is_ascii_alphanumeric).collect();
            let all = words
                .iter()
                .map(|t| format!("'d{d}_{t}':*"))
                .collect::<Vec<_>>()
                .join(" & ");
            format!("({all})")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The search condition on `t`: every word as a prefix of a word of the
/// subject or customer name — FTS5 on SQLite, `tsvector` on Postgres — or,
/// when the search is a ticket number (`TKT-000123`, `123`), that ticket.
fn search_condition(
    backend: Backend,
    search: &str,
    departments: Option<&[&str]>,
    w: &mut Where,
) -> Option<String> {
    // A ticket number (`TKT-000123`, `123`) is looked up by its unique index alone.
    if let Some(seq) = crate::domain::parse_ticket_number(search) {
        let p = w.next(Bind::Int(seq));
        return Some(format!("t.seq = {p}"));
    }
    let words = tokens(search);
    let mut alternatives = Vec::new();
    let words: Vec<&String> = words.iter().filter(|t| t.as_str() != "tkt").collect();
    if !words.is_empty() {
        match backend {
            Backend::Sqlite => {
                let query = words
                    .iter()
                    .map(|t| format!("\"{t}\"*"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let p = w.next(Bind::Text(query));
                alternatives.push(format!(
                    "t.rowid IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH {p})"
                ));
            }
            Backend::Postgres if let Some(departments) = departments => {
                // Words are letters and digits only (`tokens`), so they need
                // no quoting inside the tsquery's quotes.
                let p = w.next(Bind::Text(scoped_tsquery(departments, &words)));
                alternatives.push(format!("t.search_scoped @@ CAST({p} AS tsquery)"));
            }
            Backend::Postgres => {
                let query = words
                    .iter()
                    .map(|t| format!("{t}:*"))
                    .collect::<Vec<_>>()
                    .join(" & ");
                let p = w.next(Bind::Text(query));
                alternatives.push(format!("t.search @@ to_tsquery('simple', {p})"));
            }
        }
    }
    match alternatives.len() {
        0 => None,
        _ => Some(format!("({})", alternatives.join(" OR "))),
    }
}

fn build_where(backend: Backend, scope: &Scope, f: &TicketFilter) -> Where {
    let mut w = Where::default();
    match scope {
        Scope::All => {}
        Scope::Customer(c) => w.eq("t.customer_id", Bind::Text(c.clone())),
        Scope::Departments(ds) if ds.is_empty() => w.parts.push("FALSE".into()),
        Scope::Departments(ds) => {
            let ps: Vec<String> = ds.iter().map(|d| w.next(Bind::Text(d.clone()))).collect();
            w.parts
                .push(format!("t.department_id IN ({})", ps.join(", ")));
        }
    }
    if let Some(s) = &f.search
        && let Some(cond) =
            search_condition(backend, s, search_departments(scope, f).as_deref(), &mut w)
    {
        w.parts.push(cond);
    }
    if let Some(s) = f.status {
        w.eq("t.status", Bind::Text(s.as_str().into()));
    }
    if let Some(c) = &f.category {
        w.eq("t.category", Bind::Text(c.clone()));
    }
    if let Some(p) = f.priority {
        w.eq("t.priority", Bind::Text(p.as_str().into()));
    }
    match &f.assignee {
        None => {}
        Some(None) => w.parts.push("t.assignee_id IS NULL".into()),
        Some(Some(a)) => w.eq("t.assignee_id", Bind::Text(a.clone())),
    }
    if let Some(d) = &f.department_id {
        w.eq("t.department_id", Bind::Text(d.clone()));
    }
    if let Some(c) = &f.customer_id {
        w.eq("t.customer_id", Bind::Text(c.clone()));
    }
    if let Some((from, to)) = f.created {
        let a = w.next(Bind::Int(from));
        let b = w.next(Bind::Int(to));
        w.parts
            .push(format!("t.created_at >= {a} AND t.created_at < {b}"));
    }
    w
}

/// The counts of the list's stats block, over `t`.
const STATS: &str = "COUNT(*) AS total, \
     COALESCE(SUM(CASE WHEN t.status = 'open' THEN 1 ELSE 0 END), 0) AS open, \
     COALESCE(SUM(CASE WHEN t.status = 'in_progress' THEN 1 ELSE 0 END), 0) AS in_progress, \
     COALESCE(SUM(CASE WHEN t.status = 'resolved' THEN 1 ELSE 0 END), 0) AS resolved, \
     COALESCE(SUM(CASE WHEN t.priority = 'urgent' AND t.status IN ('open', 'in_progress') \
                  THEN 1 ELSE 0 END), 0) AS urgent";

/// A searched list's stats and page ids from one pass over the matches.
async fn searched_page(
    db: &Db,
    scope: &Scope,
    filter: &TicketFilter,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<(ListStats, Vec<String>)> {
    let mut w = build_where(db.backend(), scope, filter);
    let a = w.next(Bind::Text(after.unwrap_or_default().to_owned()));
    let lim = w.next(Bind::Int(i64::from(limit) + 1));
    let sql = format!(
        "WITH m AS MATERIALIZED (SELECT t.id, t.status, t.priority FROM tickets t WHERE {}), \
              s AS (SELECT {} FROM m t) \
         SELECT s.total, s.open, s.in_progress, s.resolved, s.urgent, p.id FROM s \
         LEFT JOIN (SELECT id FROM m WHERE {a} = '' OR id < {a} ORDER BY id DESC LIMIT {lim}) p ON 1 = 1",
        w.sql(),
        STATS
    );
    type PageRow = (i64, i64, i64, i64, i64, Option<String>);
    let rows: Vec<PageRow> = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &w.binds)
        .fetch_all(db.pool())
        .await?;
    let stats = rows
        .first()
        .map(|r| ListStats {
            total: r.0,
            open: r.1,
            in_progress: r.2,
            resolved: r.3,
            urgent: r.4,
        })
        .unwrap_or_default();
    Ok((stats, rows.into_iter().filter_map(|r| r.5).collect()))
}

/// One page of tickets, newest first (`limit + 1` rows: the extra one says
/// there is a next page), and the counts over everything the filter matches.
///
/// The filter runs once: the matches are materialised with the columns the
/// counts need, the page's ids are taken from them, and only those rows are
/// read in full.
pub async fn page(
    db: &Db,
    scope: &Scope,
    filter: &TicketFilter,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<(Vec<TicketRow>, ListStats)> {
    // Counting a scope (or a filter) is an index-only scan of
    // `tickets_counts` and the page a walk down `tickets_department` or the
    // primary key: two cheap statements. A search's matches come from the
    // full-text index instead, once, so they are gathered once for both.
    let (stats, ids) = if filter.search.is_some() {
        searched_page(db, scope, filter, after, limit).await?
    } else {
        let w = build_where(db.backend(), scope, filter);
        let sql = format!("SELECT {STATS} FROM tickets t WHERE {}", w.sql());
        let stats: ListStats = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &w.binds)
            .fetch_one(db.pool())
            .await?;
        let mut w = build_where(db.backend(), scope, filter);
        let a = w.next(Bind::Text(after.unwrap_or_default().to_owned()));
        let lim = w.next(Bind::Int(i64::from(limit) + 1));
        let sql = format!(
            "SELECT t.id FROM tickets t WHERE {} AND ({a} = '' OR t.id < {a}) \
             ORDER BY t.id DESC LIMIT {lim}",
            w.sql()
        );
        let ids: Vec<String> = bind_all!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)), &w.binds)
            .fetch_all(db.pool())
            .await?;
        (stats, ids)
    };
    if ids.is_empty() {
        return Ok((vec![], stats));
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM tickets t WHERE t.id IN ({}) ORDER BY t.id DESC",
        placeholders.join(", ")
    );
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in &ids {
        q = q.bind(id);
    }
    Ok((q.fetch_all(db.pool()).await?, stats))
}

/// Averages and per-agent counts over tickets created in `[from, to)`.
#[derive(Debug, Clone, FromRow)]
pub struct PeriodStats {
    pub tickets: i64,
    pub responded: i64,
    pub avg_first_response_ms: Option<f64>,
    pub resolved: i64,
    pub avg_resolution_ms: Option<f64>,
    #[sqlx(flatten)]
    pub sla: SlaCounts,
}

/// How many tickets kept their SLA: a clock is *decided* once it was met
/// (answered, resolved) or missed (breached); it is *met* when it was
/// stopped and never breached. A clock still running counts in neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct SlaCounts {
    pub response_met: i64,
    pub response_decided: i64,
    pub resolution_met: i64,
    pub resolution_decided: i64,
}

/// One agent's tickets created in the range.
#[derive(Debug, Clone, FromRow)]
pub struct AgentPeriodRow {
    pub assignee_id: String,
    /// The agent's name (`None` if the account is gone).
    pub name: Option<String>,
    pub assigned: i64,
    pub resolved: i64,
    #[sqlx(flatten)]
    pub sla: SlaCounts,
}

/// The [`SlaCounts`] columns over `t`.
const SLA_COUNTS: &str = "\
    COALESCE(SUM(CASE WHEN t.first_response_at IS NOT NULL AND t.response_breached_at IS NULL \
                 THEN 1 ELSE 0 END), 0) AS response_met, \
    COALESCE(SUM(CASE WHEN t.first_response_at IS NOT NULL OR t.response_breached_at IS NOT NULL \
                 THEN 1 ELSE 0 END), 0) AS response_decided, \
    COALESCE(SUM(CASE WHEN t.resolved_at IS NOT NULL AND t.resolution_breached_at IS NULL \
                 THEN 1 ELSE 0 END), 0) AS resolution_met, \
    COALESCE(SUM(CASE WHEN t.resolved_at IS NOT NULL OR t.resolution_breached_at IS NOT NULL \
                 THEN 1 ELSE 0 END), 0) AS resolution_decided";

pub async fn period_stats(
    db: &Db,
    scope: &Scope,
    from: i64,
    to: i64,
) -> sqlx::Result<(PeriodStats, Vec<AgentPeriodRow>)> {
    let filter = TicketFilter {
        created: Some((from, to)),
        ..TicketFilter::default()
    };
    let w = build_where(db.backend(), scope, &filter);
    let sql = format!(
        "SELECT COUNT(*) AS tickets, COUNT(t.first_response_at) AS responded, \
           AVG(CAST(t.first_response_at - t.created_at AS DOUBLE PRECISION)) AS avg_first_response_ms, \
           COUNT(t.resolved_at) AS resolved, \
           AVG(CAST(t.resolved_at - t.created_at AS DOUBLE PRECISION)) AS avg_resolution_ms, {} \
         FROM tickets t WHERE {}",
        SLA_COUNTS,
        w.sql()
    );
    let summary: PeriodStats = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &w.binds)
        .fetch_one(db.pool())
        .await?;
    let sql = format!(
        "SELECT t.assignee_id AS assignee_id, MAX(u.name) AS name, COUNT(*) AS assigned, \
                COUNT(t.resolved_at) AS resolved, {} \
         FROM tickets t LEFT JOIN users u ON u.id = t.assignee_id \
         WHERE {} AND t.assignee_id IS NOT NULL GROUP BY t.assignee_id ORDER BY t.assignee_id",
        SLA_COUNTS,
        w.sql()
    );
    let agents = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &w.binds)
        .fetch_all(db.pool())
        .await?;
    Ok((summary, agents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_queries_qualify_every_word_by_every_department() {
        let words = [String::from("modem"), String::from("lambat")];
        let words: Vec<&String> = words.iter().collect();
        assert_eq!(
            scoped_tsquery(&["0192f000-aa", "b-1"], &words),
            "('d0192f000aa_modem':* & 'd0192f000aa_lambat':*) | ('db1_modem':* & 'db1_lambat':*)"
        );
    }

    #[test]
    fn only_a_known_few_departments_scope_a_search() {
        let filter = TicketFilter::default();
        let two = Scope::Departments(vec!["a".into(), "b".into()]);
        assert_eq!(search_departments(&two, &filter), Some(vec!["a", "b"]));
        assert_eq!(search_departments(&Scope::All, &filter), None);
        assert_eq!(
            search_departments(&Scope::Customer("c".into()), &filter),
            None
        );
        assert_eq!(
            search_departments(&Scope::Departments(vec![]), &filter),
            None
        );
        let many = Scope::Departments(
            (0..=MAX_SCOPED_DEPARTMENTS)
                .map(|i| i.to_string())
                .collect(),
        );
        assert_eq!(search_departments(&many, &filter), None);
        let one = TicketFilter {
            department_id: Some("d".into()),
            ..TicketFilter::default()
        };
        assert_eq!(search_departments(&Scope::All, &one), Some(vec!["d"]));
        assert_eq!(search_departments(&two, &one), Some(vec!["d"]));
    }
}
