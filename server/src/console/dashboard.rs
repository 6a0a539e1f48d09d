//! The dashboard: the day at a glance.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;

use super::common::{PageResult, internal, presence, scoped_filter};
use super::render::{Chrome, page};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::visits::{self as visit_db, VisitStatus};
use crate::db::{extensions as ext_db, invoices as invoice_db, now_ms, ticket_queries, users};
use crate::domain::Presence;
use crate::i18n::Arg;
use crate::visits::attendance;
use fieldops_sync::billing::InvoiceStatus;

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    tickets: Option<ticket_queries::ListStats>,
    /// Open tickets nobody has yet.
    queue: Option<i64>,
    /// Late or absent today: (technician, visit, status).
    missing: Vec<(String, String, String)>,
    visits: Vec<(String, usize)>,
    attendance: Option<Vec<(String, usize)>>,
    pending_extensions: Option<usize>,
    /// What waits in the invoice flow for this person: (label, count, link).
    invoices: Vec<(String, i64, String)>,
    agents: Vec<(String, usize)>,
    /// Technicians on site now, visits open in the pool.
    field_now: Option<(i64, i64)>,
    /// What needs an admin: (id, text).
    alerts: Vec<(String, String)>,
}

pub(super) async fn dashboard(State(state): State<AppState>, console: Console) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    let fail = |e: sqlx::Error| internal(lang, &e);
    let (tickets, queue) = if actor.allows(Action::ListTickets) {
        let scope = actor.ticket_scope();
        let (_, stats) = ticket_queries::page(
            &state.db,
            &scope,
            &ticket_queries::TicketFilter::default(),
            None,
            0,
        )
        .await
        .map_err(fail)?;
        // The queue: open tickets nobody has yet.
        let waiting = ticket_queries::TicketFilter {
            status: Some(crate::domain::TicketStatus::Open),
            assignee: Some(None),
            ..ticket_queries::TicketFilter::default()
        };
        let (_, queue) = ticket_queries::page(&state.db, &scope, &waiting, None, 0)
            .await
            .map_err(fail)?;
        (Some(stats), Some(queue.total))
    } else {
        (None, None)
    };
    let rules = &state.config.attendance;
    let today = rules.today(now_ms());
    let mut filter = scoped_filter(actor.visit_scope());
    filter.from_day = Some(today);
    filter.to_day = Some(today);
    let todays = visit_db::list(state.db.pool(), &filter, None, 1000)
        .await
        .map_err(fail)?;
    let visits = VisitStatus::ALL
        .iter()
        .map(|s| {
            let n = todays.iter().filter(|v| v.status == *s).count();
            (lang.text(&format!("visit-status-{}", s.as_str())), n)
        })
        .collect();
    let mut missing = Vec::new();
    let attendance = if actor.allows(Action::ViewAttendance) {
        let report = attendance::report(&state.db, rules, today, now_ms())
            .await
            .map_err(fail)?;
        // Who CS should call now: late or absent, with the visit.
        missing = report
            .iter()
            .filter(|e| matches!(e.status.as_str(), "late" | "absent"))
            .map(|e| {
                (
                    e.expected.technician_name.clone(),
                    e.expected.title.clone(),
                    lang.text(&format!("attendance-{}", e.status.as_str())),
                )
            })
            .collect();
        Some(
            ["expected", "late", "absent", "present"]
                .iter()
                .map(|s| {
                    let n = report.iter().filter(|e| e.status.as_str() == *s).count();
                    (lang.text(&format!("attendance-{s}")), n)
                })
                .collect(),
        )
    } else {
        None
    };
    let pending_extensions = if actor.allows(Action::DecideExtensions) {
        Some(
            ext_db::list(state.db.pool(), Some("pending"), None, None, 200)
                .await
                .map_err(fail)?
                .len(),
        )
    } else {
        None
    };
    let mut invoices = Vec::new();
    let waiting = [
        (
            Action::ApproveInvoices,
            InvoiceStatus::PendingApproval,
            "dash-approvals",
        ),
        (
            Action::CheckPayments,
            InvoiceStatus::PaymentSubmitted,
            "dash-payments-to-check",
        ),
        (Action::DraftInvoices, InvoiceStatus::Draft, "dash-drafts"),
    ];
    for (action, status, label) in waiting {
        if actor.allows(action) {
            let n = invoice_db::count_in(state.db.pool(), status)
                .await
                .map_err(fail)?;
            invoices.push((lang.text(label), n, format!("/invoices?status={status}")));
        }
    }
    let staff_list = users::staff_presence(state.db.pool()).await.map_err(fail)?;
    let agents = Presence::ALL
        .iter()
        .map(|p| {
            let n = staff_list.iter().filter(|(_, pr)| pr == p).count();
            (lang.text(&format!("presence-{}", p.as_str())), n)
        })
        .collect();
    let field_now = crate::kpi::live(&state, actor)
        .await
        .ok()
        .map(|l| (l.technicians_on_site, l.visits_in_pool));
    let alerts = if actor.allows(Action::ManageAlerts) {
        crate::alerts::open(&state, actor)
            .await
            .map_err(|e| internal(lang, &e))?
            .into_iter()
            .map(|a| {
                let text = lang.text_with(
                    &format!("alert-{}", a.kind),
                    &[
                        ("subject", Arg::Text(&a.subject)),
                        ("detail", Arg::Text(&a.detail)),
                    ],
                );
                (a.id, text)
            })
            .collect()
    } else {
        Vec::new()
    };
    let chrome = Chrome::new(&console, presence(&state, &console).await, "/");
    Ok(page(
        StatusCode::OK,
        &DashboardPage {
            chrome,
            tickets,
            queue,
            missing,
            visits,
            attendance,
            pending_extensions,
            invoices,
            agents,
            field_now,
            alerts,
        },
    ))
}

/// `POST /alerts/{id}/dismiss`: an admin has seen to an alert.
pub(super) async fn dismiss_alert(
    State(state): State<AppState>,
    console: Console,
    axum::extract::Path(id): axum::extract::Path<uuid::Uuid>,
) -> PageResult {
    let lang = console.lang;
    let outcome = async {
        let mut work = crate::work::Work::begin(&state).await?;
        let applied = crate::alerts::dismiss(work.tx(), &console.actor, &id.to_string()).await?;
        work.commit(crate::work::Effects::told(applied.notices))
            .await?;
        Ok::<_, crate::service::ServiceError>(())
    };
    match outcome.await {
        // Already dismissed (in another tab): the dashboard says what is left.
        Err(crate::service::ServiceError::Rejected(r))
            if r.reason == fieldops_sync::commands::RejectReason::Forbidden =>
        {
            Err(super::common::forbidden(lang))
        }
        Ok(()) | Err(crate::service::ServiceError::Rejected(_)) => {
            Ok(super::common::see_other("/"))
        }
        Err(e) => Err(internal(lang, &e)),
    }
}
