//! What needs an admin and must not fail silently: a rating template Meta
//! rejected, paused or re-categorised, a rating request WhatsApp could not
//! deliver (Chatwoot's CSAT failed silently outside the 24-hour window for
//! exactly this). An alert stays open until an admin dismisses it; the same
//! trouble twice is one alert.

use serde_json::json;

use crate::auth::{Action, Actor};
use crate::db::alerts::{self as db, AlertRow};
use crate::db::{Tx, audit};
use crate::events::{AlertDismissed, AlertRaised, Happened};
use crate::service::{Applied, Notice, ServiceError, ServiceResult, allow, reject_as};
use fieldops_sync::commands::RejectReason;

/// Kinds of alert.
pub mod kind {
    /// Meta rejected, paused or disabled a message template.
    pub const TEMPLATE_REJECTED: &str = "template_rejected";
    /// Meta moved a template to another category (its price, and whether
    /// it may be sent, change).
    pub const TEMPLATE_RECATEGORISED: &str = "template_recategorised";
    /// A rating request's WhatsApp message failed for good.
    pub const RATING_UNDELIVERED: &str = "rating_undelivered";
}

/// Opens an alert in the caller's transaction; the notice tells admins'
/// consoles at once. `None` when the same alert is already open.
pub async fn raise(
    tx: &mut Tx,
    kind: &'static str,
    subject: &str,
    detail: &str,
) -> sqlx::Result<Option<Notice>> {
    let Some(alert) = db::raise(tx, kind, subject, detail).await? else {
        return Ok(None);
    };
    tracing::warn!(kind, subject, detail, "alert for admins");
    Ok(Some(Notice::staff(Happened::AlertRaised(AlertRaised {
        id: alert.id,
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        detail: detail.to_owned(),
    }))))
}

/// The open alerts.
pub async fn open(state: &crate::AppState, actor: &Actor) -> Result<Vec<AlertRow>, ServiceError> {
    allow(actor, Action::ManageAlerts)?;
    Ok(db::open(state.db.pool()).await?)
}

/// An admin has seen to an alert.
pub async fn dismiss(tx: &mut Tx, actor: &Actor, id: &str) -> ServiceResult<AlertRow> {
    allow(actor, Action::ManageAlerts)?;
    let Some(alert) = db::dismiss(tx, id, &actor.user_id).await? else {
        return Err(reject_as(
            RejectReason::NotFound,
            "alert",
            crate::t!("problem-alert-not-open"),
        ));
    };
    audit::record(
        tx,
        Some(&actor.user_id),
        "alert.dismissed",
        "alert",
        &alert.id,
        json!({ "kind": alert.kind, "subject": alert.subject }),
    )
    .await?;
    let dismissed = Happened::AlertDismissed(AlertDismissed {
        id: alert.id.clone(),
    });
    Ok(Applied {
        value: alert,
        notices: vec![Notice::staff(dismissed)],
    })
}
