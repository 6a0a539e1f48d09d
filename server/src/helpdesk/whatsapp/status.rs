//! What Meta says about messages after they left: delivery statuses of a
//! sent message (sent → delivered → read, or failed) and the review of a
//! message template (rejected, paused, re-categorised). Statuses arrive
//! late, twice and out of order: a message keeps the furthest it got, and
//! `failed` is final. A rating request that fails, or a template Meta
//! turns down, opens an alert for admins ([`crate::alerts`]).

use crate::AppState;
use crate::alerts::{self, kind};
use crate::db::{ratings, whatsapp};
use crate::work::{Effects, Work};

/// How far a message got, one status of one message, and a template
/// review: as the webhook parsed them (`fieldops_inbound::whatsapp`).
pub use fieldops_inbound::whatsapp::{Delivery, Status as StatusUpdate, TemplateUpdate};

/// Records a status; statuses of messages this server did not send, and
/// ones behind what is recorded, are ignored.
pub async fn delivery(state: &AppState, u: StatusUpdate) -> anyhow::Result<()> {
    let mut work = Work::begin(state).await?;
    let moved = whatsapp::advance_delivery(
        work.tx(),
        &u.provider_id,
        u.status.as_str(),
        u.status.rank(),
        // Meta gives the time; when it does not, now.
        u.at_ms.unwrap_or_else(crate::db::now_ms),
        u.error.as_deref(),
    )
    .await?;
    // Not ours, or not further than what is recorded: nothing to do.
    let Some(message_id) = moved else {
        tracing::debug!(id = %u.provider_id, status = u.status.as_str(), "WhatsApp status ignored");
        return Ok(());
    };
    let mut notices = Vec::new();
    if u.status == Delivery::Failed {
        let error = u.error.as_deref().unwrap_or("failed");
        notices.extend(undelivered(work.tx(), &message_id, error).await?);
    }
    work.commit(Effects::told(notices)).await
}

/// When the message `outbox_id` carried a rating request, the alert that it
/// never reached the customer.
pub async fn undelivered(
    tx: &mut crate::db::Tx,
    outbox_id: &str,
    error: &str,
) -> sqlx::Result<Option<crate::events::Notice>> {
    match ratings::request_of_message(&mut **tx, outbox_id).await? {
        Some(request) => {
            let about = request.visit_id.or(request.ticket_id).unwrap_or_default();
            alerts::raise(tx, kind::RATING_UNDELIVERED, &about, error).await
        }
        None => Ok(None),
    }
}

/// Opens an alert for a template Meta no longer lets through as it was.
pub async fn template(state: &AppState, u: TemplateUpdate) -> anyhow::Result<()> {
    let (kind, subject, detail) = match u {
        TemplateUpdate::Status {
            name,
            language,
            event,
            reason,
        } => {
            if matches!(
                &event[..],
                "APPROVED" | "PENDING" | "IN_APPEAL" | "REINSTATED"
            ) {
                tracing::info!(%name, %language, %event, "WhatsApp template review");
                return Ok(());
            }
            let detail = match reason.filter(|r| !r.is_empty() && r != "NONE") {
                Some(reason) => format!("{event}: {reason}"),
                None => event,
            };
            (
                kind::TEMPLATE_REJECTED,
                format!("{name} ({language})"),
                detail,
            )
        }
        TemplateUpdate::Category {
            name,
            language,
            previous,
            new,
        } => (
            kind::TEMPLATE_RECATEGORISED,
            format!("{name} ({language})"),
            format!("{previous} → {new}"),
        ),
    };
    let mut work = Work::begin(state).await?;
    let notice = alerts::raise(work.tx(), kind, &subject, &detail).await?;
    work.commit(Effects::told(notice.into_iter().collect()))
        .await
}
