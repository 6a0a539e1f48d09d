//! The KPI page (seed 003's *dashboard manajemen*, seed 004's analytics):
//! the real-time counts, a table per technician, CS agent or department
//! (CSAT with n, response rate, help-desk and field performance; fewer
//! than five ratings greyed and unranked), CSAT as bars, one row's trend
//! per day, week or month as a line, and every table as CSV. Managers see
//! every row; others their own (the policy, through [`crate::kpi`]).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::common::{PageResult, presence};
use super::render::{Chrome, page};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::http::extract::Query;
use crate::http::kpi::{BoardParams, SeriesParams, board_download, separator, series_download};
use crate::i18n::{Arg, Lang};
use crate::kpi::{self, Kpis, Live, Subject};

#[derive(Debug, Default, Deserialize)]
pub(super) struct KpiQuery {
    subject: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// The row whose trend is drawn.
    id: Option<String>,
    period: Option<String>,
}

struct RowView {
    name: String,
    /// The row's trend.
    href: String,
    ranked: bool,
    rank: String,
    n: i64,
    csat: String,
    average: String,
    response_rate: String,
    responded: i64,
    first_response: String,
    response_sla: String,
    resolved: i64,
    resolution: String,
    resolution_sla: String,
    reopen_rate: String,
    calls_made: i64,
    calls_answered: i64,
    visits_done: i64,
    on_time_rate: String,
    late: i64,
    absent: i64,
    extensions: String,
    days_over: String,
}

/// A horizontal bar of the CSAT chart, in SVG units.
struct Bar {
    y: i64,
    width: f64,
    label: String,
    value: String,
}

/// One row's trend: CSAT per period as a polyline over 0–100 %.
struct Trend {
    title: String,
    points: String,
    dots: Vec<(f64, f64, String)>,
    labels: Vec<(f64, String)>,
    rows: Vec<(String, i64, String, String)>,
    csv_href: String,
}

#[derive(Template)]
#[template(path = "console/kpi.html")]
struct KpiPage {
    chrome: Chrome,
    problem: Option<String>,
    live: Option<Live>,
    subjects: Vec<(&'static str, String, bool)>,
    periods: Vec<(&'static str, String, bool)>,
    from: String,
    to: String,
    rows: Vec<RowView>,
    show_helpdesk: bool,
    show_field: bool,
    bars: Vec<Bar>,
    chart_height: i64,
    trend: Option<Trend>,
    csv_href: String,
    csv_semicolon_href: String,
    /// This page as it is, for its live regions to re-fetch.
    self_href: String,
}

fn pct(lang: Lang, v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{}%", decimal(lang, v, 1)))
}

fn decimal(lang: Lang, v: f64, places: usize) -> String {
    let text = format!("{v:.places$}");
    if lang == Lang::Id {
        text.replace('.', ",")
    } else {
        text
    }
}

/// `45 mnt` / `3 j 20 mnt` (`min`, `h` in English).
fn duration(lang: Lang, secs: Option<f64>) -> String {
    let Some(secs) = secs else {
        return "—".to_owned();
    };
    let minutes = (secs / 60.0).round() as i64;
    if minutes < 60 {
        lang.text_with("kpi-minutes", &[("m", Arg::Number(minutes))])
    } else {
        lang.text_with(
            "kpi-hours",
            &[
                ("h", Arg::Number(minutes / 60)),
                ("m", Arg::Number(minutes % 60)),
            ],
        )
    }
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", urlencoding(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn row_view(lang: Lang, rank: Option<usize>, base: &str, row: kpi::Row) -> RowView {
    let Kpis {
        ratings: r,
        helpdesk: h,
        field: f,
    } = row.kpis;
    RowView {
        href: format!("{base}&id={}", urlencoding(&row.subject_id)),
        name: match row.subject {
            Subject::All => lang.text("kpi-subject-all"),
            _ => row.name,
        },
        ranked: r.ranked,
        rank: rank.map_or_else(String::new, |i| (i + 1).to_string()),
        n: r.answered,
        csat: pct(lang, r.csat_pct),
        average: r
            .average
            .map_or_else(|| "—".to_owned(), |a| decimal(lang, a, 2)),
        response_rate: pct(lang, r.response_rate_pct),
        responded: h.responded,
        first_response: duration(lang, h.avg_first_response_secs),
        response_sla: pct(lang, h.response_sla_pct),
        resolved: h.resolved,
        resolution: duration(lang, h.avg_resolution_secs),
        resolution_sla: pct(lang, h.resolution_sla_pct),
        reopen_rate: pct(lang, h.reopen_rate_pct),
        calls_made: h.calls_made,
        calls_answered: h.calls_answered,
        visits_done: f.visits_done,
        on_time_rate: pct(lang, f.on_time_rate_pct),
        late: f.late,
        absent: f.absent,
        extensions: format!("{} / {}", f.extensions_approved, f.extensions_asked),
        days_over: f
            .avg_days_over_plan
            .map_or_else(|| "—".to_owned(), |d| decimal(lang, d, 1)),
    }
}

pub(super) async fn page_(
    State(state): State<AppState>,
    console: Console,
    Query(q): Query<KpiQuery>,
) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    if !actor.allows(Action::ViewOwnKpi) {
        return Err(super::common::forbidden(lang));
    }
    let manager = actor.allows(Action::ViewAllKpi);
    // Managers start on the technicians; others on what they are.
    let default = if manager || actor.role == crate::domain::Role::Technician {
        Subject::Technician
    } else {
        Subject::Agent
    };
    let subject = q
        .subject
        .as_deref()
        .and_then(Subject::parse)
        .filter(|s| manager || *s != Subject::All)
        .unwrap_or(default);
    let period = q
        .period
        .as_deref()
        .and_then(kpi::formulas::Period::parse)
        .unwrap_or(kpi::formulas::Period::Week);
    let params = BoardParams {
        subject: Some(subject.as_str().to_owned()),
        from: q.from.clone().filter(|s| !s.is_empty()),
        to: q.to.clone().filter(|s| !s.is_empty()),
        sep: None,
    };
    let mut problem = None;
    let board = match crate::http::kpi::board_of(&state, actor, &params).await {
        Ok(b) => Some(b),
        Err(crate::error::ApiError::Validation(fields)) => {
            let said: Vec<String> = fields
                .into_iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect();
            problem = Some(format!(
                "{} {}",
                lang.text("console-check-fields"),
                said.join("; ")
            ));
            None
        }
        Err(e) => return Err(e.into_response()),
    };
    let (from, to) = board
        .as_ref()
        .map(|b| (b.from.clone(), b.to.clone()))
        .unwrap_or_default();
    let base = format!(
        "/kpi?{}",
        query_string(&[
            ("subject", subject.as_str()),
            ("from", &from),
            ("to", &to),
            ("period", period.as_str()),
        ])
    );
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for (i, row) in board
        .map(|b| b.rows)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let ranked = row.kpis.ratings.ranked;
        if ranked {
            let csat = row.kpis.ratings.csat_pct.unwrap_or(0.0);
            bars.push(Bar {
                y: i64::try_from(bars.len()).unwrap_or(0) * 28,
                width: csat * 3.0,
                label: row.name.clone(),
                value: pct(lang, Some(csat)),
            });
        }
        rows.push(row_view(lang, ranked.then_some(i), &base, row));
    }
    let trend = match q.id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) => trend(&state, &console, subject, id, period, &from, &to, &rows).await,
        None if subject == Subject::All => {
            trend(&state, &console, subject, "", period, &from, &to, &rows).await
        }
        None => None,
    };
    let live = kpi::live(&state, actor).await.ok();
    let csv = |sep: &str| {
        format!(
            "/kpi.csv?{}",
            query_string(&[
                ("subject", subject.as_str()),
                ("from", &from),
                ("to", &to),
                ("sep", sep),
            ])
        )
    };
    let subjects = Subject::ALL
        .into_iter()
        .filter(|s| manager || *s != Subject::All)
        .map(|s| {
            (
                s.as_str(),
                lang.text(&format!("kpi-subject-{}", s.as_str())),
                s == subject,
            )
        })
        .collect();
    let periods = kpi::formulas::Period::ALL
        .into_iter()
        .map(|p| {
            (
                p.as_str(),
                lang.text(&format!("kpi-period-{}", p.as_str())),
                p == period,
            )
        })
        .collect();
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/kpi");
    Ok(page(
        StatusCode::OK,
        &KpiPage {
            chrome,
            problem,
            live,
            subjects,
            periods,
            show_helpdesk: subject != Subject::Technician,
            show_field: subject != Subject::Agent,
            chart_height: i64::try_from(bars.len()).unwrap_or(0) * 28 + 4,
            bars,
            rows,
            trend,
            self_href: match q.id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => format!("{base}&id={}", urlencoding(id)),
                None => base.clone(),
            },
            csv_href: csv(""),
            csv_semicolon_href: csv("semicolon"),
            from,
            to,
        },
    ))
}

#[allow(clippy::too_many_arguments)]
async fn trend(
    state: &AppState,
    console: &Console,
    subject: Subject,
    id: &str,
    period: kpi::formulas::Period,
    from: &str,
    to: &str,
    rows: &[RowView],
) -> Option<Trend> {
    let lang = console.lang;
    let params = SeriesParams {
        subject: Some(subject.as_str().to_owned()),
        id: Some(id.to_owned()),
        period: Some(period.as_str().to_owned()),
        from: Some(from.to_owned()).filter(|s| !s.is_empty()),
        to: Some(to.to_owned()).filter(|s| !s.is_empty()),
        sep: None,
    };
    let series = crate::http::kpi::series_of(state, &console.actor, &params)
        .await
        .ok()?;
    let title = if subject == Subject::All {
        lang.text("kpi-subject-all")
    } else {
        rows.iter()
            .find(|r| r.href.ends_with(&format!("id={}", urlencoding(id))))
            .map_or_else(|| id.to_owned(), |r| r.name.clone())
    };
    let n = series.points.len().max(1);
    let step = 560.0 / (n.saturating_sub(1).max(1)) as f64;
    let x = |i: usize| 20.0 + step * i as f64;
    let y = |pct: f64| 180.0 - pct * 1.6;
    let mut points = Vec::new();
    let mut dots = Vec::new();
    let mut labels = Vec::new();
    let mut table = Vec::new();
    let every = (n / 8).max(1);
    for (i, p) in series.points.iter().enumerate() {
        let r = &p.kpis.ratings;
        if let Some(c) = r.csat_pct {
            points.push(format!("{:.1},{:.1}", x(i), y(c)));
            dots.push((x(i), y(c), format!("{} · {}", p.period, pct(lang, Some(c)))));
        }
        if i % every == 0 {
            labels.push((x(i), p.period.clone()));
        }
        table.push((
            p.period.clone(),
            r.answered,
            pct(lang, r.csat_pct),
            pct(lang, p.kpis.helpdesk.resolution_sla_pct),
        ));
    }
    let csv_href = format!(
        "/kpi/series.csv?{}",
        query_string(&[
            ("subject", subject.as_str()),
            ("id", id),
            ("period", period.as_str()),
            ("from", from),
            ("to", to),
            ("sep", if lang == Lang::Id { "semicolon" } else { "" }),
        ])
    );
    Some(Trend {
        title,
        points: points.join(" "),
        dots,
        labels,
        rows: table,
        csv_href,
    })
}

#[derive(Template)]
#[template(path = "console/kpi_live.html")]
struct KpiLive {
    chrome: Chrome,
    live: Option<Live>,
}

/// `GET /kpi/live`: the real-time cards alone, for the page's live region
/// (every ticket, visit, attendance and presence event re-fetches them,
/// never the whole table).
pub(super) async fn live_cards(State(state): State<AppState>, console: Console) -> PageResult {
    if !console.actor.allows(Action::ViewOwnKpi) {
        return Err(super::common::forbidden(console.lang));
    }
    let live = kpi::live(&state, &console.actor).await.ok();
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/kpi");
    Ok(page(StatusCode::OK, &KpiLive { chrome, live }))
}

/// `GET /kpi.csv`: the table the page shows, as a download.
pub(super) async fn board_csv(
    State(state): State<AppState>,
    console: Console,
    Query(p): Query<BoardParams>,
) -> Response {
    let run = async {
        let sep = separator(p.sep.as_deref().filter(|s| !s.is_empty()))?;
        let board = crate::http::kpi::board_of(&state, &console.actor, &p).await?;
        Ok::<_, crate::error::ApiError>(board_download(board, sep))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /kpi/series.csv`: one row's trend, as a download.
pub(super) async fn series_csv(
    State(state): State<AppState>,
    console: Console,
    Query(p): Query<SeriesParams>,
) -> Response {
    let run = async {
        let sep = separator(p.sep.as_deref().filter(|s| !s.is_empty()))?;
        let series = crate::http::kpi::series_of(&state, &console.actor, &p).await?;
        Ok::<_, crate::error::ApiError>(series_download(series, sep))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
