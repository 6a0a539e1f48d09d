//! The JSON shapes of tickets, their messages, SLA and history.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::tickets::{AssignmentRow, AttachmentRow, HistoryRow, ListStats, TicketRow};
use crate::domain::{Priority, TicketStatus, rfc3339};
pub use crate::events::messages::TicketMessageView;
use crate::helpdesk::sla::Deadlines;

#[derive(Debug, Serialize, ToSchema)]
pub struct SlaView {
    /// When a first response is due; absent once answered or while paused.
    pub response_due_at: Option<String>,
    pub resolution_due_at: Option<String>,
    pub response_breached_at: Option<String>,
    pub resolution_breached_at: Option<String>,
    pub escalated_at: Option<String>,
    /// Waiting on the customer: the clocks are paused.
    pub paused: bool,
    /// How the deadlines were computed, for a person.
    pub explanation: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    pub id: String,
    /// `TKT-000123`.
    pub number: String,
    pub subject: String,
    pub description: String,
    pub category: String,
    pub priority: Priority,
    pub status: TicketStatus,
    pub department_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub assignee_id: Option<String>,
    /// Who handles it, by name.
    pub assignee_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub first_response_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub sla: SlaView,
}

impl TicketView {
    /// `deadlines` carries the explanation; the stored deadlines are what the job checks.
    pub fn new(t: TicketRow, deadlines: Option<&Deadlines>) -> Self {
        let answered = t.first_response_at.is_some();
        let done = matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed);
        Self {
            sla: SlaView {
                response_due_at: t
                    .response_due_at
                    .filter(|_| !answered && t.waiting_since.is_none())
                    .map(rfc3339),
                resolution_due_at: t
                    .resolution_due_at
                    .filter(|_| !done && t.waiting_since.is_none())
                    .map(rfc3339),
                response_breached_at: t.response_breached_at.map(rfc3339),
                resolution_breached_at: t.resolution_breached_at.map(rfc3339),
                escalated_at: t.escalated_at.map(rfc3339),
                paused: t.waiting_since.is_some(),
                explanation: deadlines.map(|d| d.explanation.clone()).unwrap_or_default(),
            },
            id: t.id,
            number: t.number,
            subject: t.subject,
            description: t.description,
            category: t.category,
            priority: t.priority,
            status: t.status,
            department_id: t.department_id,
            customer_id: t.customer_id,
            customer_name: t.customer_name,
            assignee_id: t.assignee_id,
            assignee_name: t.assignee_name,
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
            first_response_at: t.first_response_at.map(rfc3339),
            resolved_at: t.resolved_at.map(rfc3339),
            closed_at: t.closed_at.map(rfc3339),
        }
    }
}

/// An image attached to a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub sha256: String,
    /// Who attached it (a user id), and their name.
    pub added_by: Option<String>,
    pub added_by_name: Option<String>,
    pub added_at: String,
    /// Whether the server holds the bytes: a phone attaches a photo before
    /// its upload finishes.
    pub stored: bool,
    pub content_type: Option<String>,
    pub byte_size: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

impl From<AttachmentRow> for AttachmentView {
    fn from(a: AttachmentRow) -> Self {
        Self {
            stored: a.content_type.is_some(),
            sha256: a.sha256,
            added_by: a.added_by,
            added_by_name: a.added_by_name,
            added_at: rfc3339(a.added_at),
            content_type: a.content_type,
            byte_size: a.byte_size,
            width: a.width,
            height: a.height,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub action: String,
    pub actor_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: String,
}

/// An audit detail with its saved texts (an assignment's `reason`) read in
/// the request's language.
fn readable(mut detail: serde_json::Value) -> serde_json::Value {
    if let Some(reason) = detail.get_mut("reason")
        && let Some(text) = reason.as_str()
    {
        *reason = crate::i18n::read(text, crate::i18n::current()).into();
    }
    detail
}

impl From<HistoryRow> for HistoryView {
    fn from(h: HistoryRow) -> Self {
        Self {
            action: h.action,
            actor_id: h.actor_id,
            detail: readable(serde_json::from_str(&h.detail).unwrap_or_default()),
            at: rfc3339(h.at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentView {
    pub assignee_id: String,
    pub actor_id: Option<String>,
    /// `round_robin` or `manual`.
    pub method: String,
    /// Why this agent was chosen.
    pub reason: String,
    pub at: String,
}

impl From<AssignmentRow> for AssignmentView {
    fn from(a: AssignmentRow) -> Self {
        Self {
            assignee_id: a.assignee_id,
            actor_id: a.actor_id,
            method: a.method,
            reason: crate::i18n::read(&a.reason, crate::i18n::current()),
            at: rfc3339(a.at),
        }
    }
}

/// A ticket with its conversation; staff also get the audit trail and the
/// assignment history.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketView,
    pub messages: Vec<TicketMessageView>,
    /// SHA-256 content hashes of attached photos.
    pub attachments: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignments: Option<Vec<AssignmentView>>,
    /// The visits scheduled for this ticket, soonest first.
    pub visits: Vec<TicketVisitView>,
}

/// A visit serving a ticket, as the ticket shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketVisitView {
    pub id: String,
    pub title: String,
    /// `open`, `assigned`, `in_progress`, `done` or `cancelled`.
    pub status: String,
    /// First day, `YYYY-MM-DD`.
    pub scheduled_start: String,
    pub planned_days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketStatsBlock {
    pub total: i64,
    pub open: i64,
    pub in_progress: i64,
    pub resolved: i64,
    /// Urgent tickets still open or in progress.
    pub urgent: i64,
}

impl From<ListStats> for TicketStatsBlock {
    fn from(s: ListStats) -> Self {
        Self {
            total: s.total,
            open: s.open,
            in_progress: s.in_progress,
            resolved: s.resolved,
            urgent: s.urgent,
        }
    }
}

/// One page of tickets and the counts over everything the filters match.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub items: Vec<TicketView>,
    pub next_cursor: Option<String>,
    pub stats: TicketStatsBlock,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentStats {
    pub user_id: String,
    /// The agent's name.
    pub name: Option<String>,
    /// Tickets assigned to the agent that were created in the range.
    pub assigned: i64,
    /// Of those, how many are resolved.
    pub resolved: i64,
    pub sla: SlaCompliance,
}

/// How well the SLA was kept: of the clocks that are decided (answered or
/// resolved, or breached), the share met in time (0–1; `null` when none is
/// decided yet). Clocks still running count in neither.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaCompliance {
    pub response_met: i64,
    pub response_decided: i64,
    pub response_rate: Option<f64>,
    pub resolution_met: i64,
    pub resolution_decided: i64,
    pub resolution_rate: Option<f64>,
}

impl From<crate::db::tickets::SlaCounts> for SlaCompliance {
    fn from(c: crate::db::tickets::SlaCounts) -> Self {
        let rate = |met: i64, decided: i64| (decided > 0).then(|| met as f64 / decided as f64);
        Self {
            response_rate: rate(c.response_met, c.response_decided),
            resolution_rate: rate(c.resolution_met, c.resolution_decided),
            response_met: c.response_met,
            response_decided: c.response_decided,
            resolution_met: c.resolution_met,
            resolution_decided: c.resolution_decided,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPeriodStats {
    pub from: String,
    pub to: String,
    pub tickets: i64,
    pub responded: i64,
    pub avg_first_response_secs: Option<f64>,
    pub resolved: i64,
    pub avg_resolution_secs: Option<f64>,
    /// SLA compliance over the range's tickets.
    pub sla: SlaCompliance,
    /// Per agent, by name.
    pub agents: Vec<AgentStats>,
}
