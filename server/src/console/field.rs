//! Field work as CS follow it: today's attendance (with the site plot) and
//! the extension requests waiting for a decision.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::common::{PageResult, Problems, forbidden, internal, presence, see_other};
use super::render::{Chrome, date, date_time, page, time_of_day};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::visits::{self as visit_db};
use crate::db::{extensions as ext_db, now_ms};
use crate::service::ServiceError;
use crate::visits::{attendance, extensions};
use crate::work::{Effects, Work};

struct AttendanceLine {
    technician: String,
    visit: String,
    address: String,
    status_key: String,
    status: String,
    check_in: String,
    check_out: String,
    distance: String,
    outside: bool,
    late: bool,
    returned: bool,
}

/// A point of the site plot, in SVG units.
struct PlotPoint {
    x: f64,
    y: f64,
    label: String,
    outside: bool,
}

struct PlotLink {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    outside: bool,
}

#[derive(Template)]
#[template(path = "console/attendance.html")]
struct AttendancePage {
    chrome: Chrome,
    day: String,
    lines: Vec<AttendanceLine>,
    sites: Vec<PlotPoint>,
    technicians: Vec<PlotPoint>,
    links: Vec<PlotLink>,
}

pub(super) async fn attendance_page(State(state): State<AppState>, console: Console) -> PageResult {
    let lang = console.lang;
    if !console.actor.allows(Action::ViewAttendance) {
        return Err(forbidden(lang));
    }
    let fail = |e: sqlx::Error| internal(lang, &e);
    let rules = &state.config.attendance;
    let offset = rules.utc_offset_minutes;
    let today = rules.today(now_ms());
    let report = attendance::report(&state.db, rules, today, now_ms())
        .await
        .map_err(fail)?;
    let mut sites: Vec<(String, f64, f64, String)> = Vec::new();
    for entry in &report {
        if sites.iter().any(|s| s.0 == entry.expected.visit_id) {
            continue;
        }
        if let Some(v) = visit_db::get(state.db.pool(), &entry.expected.visit_id)
            .await
            .map_err(fail)?
        {
            sites.push((v.id, v.site_lat, v.site_lon, v.title));
        }
    }
    let lines = report
        .iter()
        .map(|e| AttendanceLine {
            technician: e.expected.technician_name.clone(),
            visit: e.expected.title.clone(),
            address: e.expected.site_address.clone(),
            status_key: e.status.as_str().to_owned(),
            status: lang.text(&format!("attendance-{}", e.status.as_str())),
            check_in: e
                .check_in
                .as_ref()
                .map(|r| time_of_day(lang, r.device_time, offset))
                .unwrap_or_default(),
            check_out: e
                .check_out
                .as_ref()
                .map(|r| time_of_day(lang, r.device_time, offset))
                .unwrap_or_default(),
            distance: e
                .check_in
                .as_ref()
                .map(|r| format!("{} m", r.distance_m.round()))
                .unwrap_or_default(),
            outside: e.outside_geofence,
            late: e.arrived_late,
            returned: e.expected.returned == 1,
        })
        .collect();
    // The plot: sites and the technicians' check-in positions, fitted into
    // a 600 × 320 box with a margin, north up.
    let mut points: Vec<(f64, f64)> = sites.iter().map(|s| (s.1, s.2)).collect();
    points.extend(
        report
            .iter()
            .filter_map(|e| e.check_in.as_ref().map(|r| (r.lat, r.lon))),
    );
    let (min_lat, max_lat) = bounds(points.iter().map(|p| p.0));
    let (min_lon, max_lon) = bounds(points.iter().map(|p| p.1));
    let project = |lat: f64, lon: f64| {
        let x = 30.0 + (lon - min_lon) / (max_lon - min_lon) * 540.0;
        let y = 290.0 - (lat - min_lat) / (max_lat - min_lat) * 260.0;
        (x.round(), y.round())
    };
    let plot_sites: Vec<PlotPoint> = sites
        .iter()
        .map(|s| {
            let (x, y) = project(s.1, s.2);
            PlotPoint {
                x,
                y,
                label: s.3.clone(),
                outside: false,
            }
        })
        .collect();
    let mut technicians = Vec::new();
    let mut links = Vec::new();
    for e in &report {
        let (Some(record), Some(site)) = (
            &e.check_in,
            sites.iter().find(|s| s.0 == e.expected.visit_id),
        ) else {
            continue;
        };
        let (x, y) = project(record.lat, record.lon);
        let (sx, sy) = project(site.1, site.2);
        technicians.push(PlotPoint {
            x,
            y,
            label: e.expected.technician_name.clone(),
            outside: e.outside_geofence,
        });
        links.push(PlotLink {
            x1: sx,
            y1: sy,
            x2: x,
            y2: y,
            outside: e.outside_geofence,
        });
    }
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/attendance");
    Ok(page(
        StatusCode::OK,
        &AttendancePage {
            chrome,
            day: date(lang, &crate::visits::day_to_date(today)),
            lines,
            sites: plot_sites,
            technicians,
            links,
        },
    ))
}

/// The range of `values`, widened so a single point sits in the middle.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.1).max(0.001);
    (lo - pad, hi + pad)
}

// ------------------------------------------------------------- extensions

struct ExtensionLine {
    id: String,
    visit: String,
    technician: String,
    extra_days: i64,
    reason: String,
    asked: String,
}

#[derive(Template)]
#[template(path = "console/extensions.html")]
struct ExtensionsPage {
    chrome: Chrome,
    pending: Vec<ExtensionLine>,
    problem: Option<String>,
}

async fn extensions_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    problem: Option<String>,
) -> PageResult {
    let lang = console.lang;
    if !console.actor.allows(Action::DecideExtensions) {
        return Err(forbidden(lang));
    }
    let offset = state.config.attendance.utc_offset_minutes;
    let pending = ext_db::list(state.db.pool(), Some("pending"), None, None, 200)
        .await
        .map_err(|e| internal(lang, &e))?
        .into_iter()
        .map(|e| ExtensionLine {
            id: e.id,
            visit: e.visit_title,
            technician: e.technician_name,
            extra_days: e.extra_days,
            reason: e.reason,
            asked: date_time(lang, e.created_at, offset),
        })
        .collect();
    let chrome = Chrome::new(console, presence(state, console).await, "/extensions");
    Ok(page(
        status,
        &ExtensionsPage {
            chrome,
            pending,
            problem,
        },
    ))
}

pub(super) async fn extensions_list(State(state): State<AppState>, console: Console) -> PageResult {
    extensions_page(&state, &console, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct DecisionForm {
    decision: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn decide_extension(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<DecisionForm>,
) -> PageResult {
    let approve = form.decision == "approve";
    let backend = state.db.backend();
    let note = Some(form.note.trim()).filter(|n| !n.is_empty());
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let applied = extensions::decide(
            work.tx(),
            backend,
            &console.actor,
            &id.to_string(),
            approve,
            note,
        )
        .await?;
        work.commit(Effects::notices(applied.notices)).await?;
        Ok::<_, ServiceError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other("/extensions")),
        Err(e) => {
            let problems = Problems::from_service(console.lang, e).map_err(|r| *r)?;
            extensions_page(&state, &console, StatusCode::CONFLICT, problems.general).await
        }
    }
}
