//! What needs an admin, over HTTP: the open alerts and dismissing one. The
//! rules are [`crate::alerts`]'.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path};
use crate::AppState;
use crate::alerts;
use crate::auth::Actor;
use crate::db::alerts::AlertRow;
use crate::domain::rfc3339;
use crate::error::ApiResult;
use crate::work::{Effects, Work};

/// Something an admin must see to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: String,
    /// `template_rejected`, `template_recategorised`, `rating_undelivered`.
    pub kind: String,
    /// What it is about: a template (`name (language)`) or a visit id.
    pub subject: String,
    /// What Meta or the queue said.
    pub detail: String,
    pub created_at: String,
}

impl From<AlertRow> for AlertView {
    fn from(a: AlertRow) -> Self {
        Self {
            id: a.id,
            kind: a.kind,
            subject: a.subject,
            detail: a.detail,
            created_at: rfc3339(a.created_at),
        }
    }
}

/// Open alerts, newest first (admins).
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = Vec<AlertView>), (status = 403, body = crate::error::Problem)))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> ApiResult<Json<Vec<AlertView>>> {
    let open = alerts::open(&state, &actor).await?;
    Ok(Json(open.into_iter().map(AlertView::from).collect()))
}

/// Dismiss an open alert (admins; audited).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/dismiss", tag = "alerts", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn dismiss(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let mut work = Work::begin(&state).await?;
    let applied = alerts::dismiss(work.tx(), &actor, &id.to_string()).await?;
    work.respond_empty(Effects::told(applied.notices), StatusCode::NO_CONTENT)
        .await
}
