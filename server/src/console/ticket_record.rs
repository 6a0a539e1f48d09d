//! What a ticket page shows besides its thread: the images attached to it
//! (thumbnails, the form that attaches one) and its history (every change
//! from the audit trail, assignments with their reasons) for staff.
//!
//! The console serves an attachment's bytes itself, behind the ticket's own
//! permission, rather than through a signed `/api/v1/files` link: with an
//! S3 store that link redirects to the bucket's origin, which the console's
//! `img-src 'self'` policy would refuse.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::common::{PageResult, Problems, internal, missing, see_other};
use super::render::date_time;
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::tickets::{self as ticket_db, AttachmentRow, HistoryRow, TicketRow};
use crate::db::{blobs, users};
use crate::helpdesk::tickets as service;
use crate::i18n::{Arg, Lang};
use crate::service::ServiceError;
use crate::work::{Effects, Work};

/// An attached image as the page shows it.
#[derive(Debug)]
pub(super) struct Attachment {
    pub(super) sha256: String,
    /// Whether its bytes arrived (a phone attaches before it uploads).
    pub(super) stored: bool,
    pub(super) by: String,
    pub(super) at: String,
}

/// One line of a ticket's history.
#[derive(Debug)]
pub(super) struct HistoryLine {
    pub(super) at: String,
    pub(super) who: String,
    pub(super) text: String,
}

/// Display names of accounts, looked up once each.
#[derive(Debug, Default)]
pub(super) struct Names(HashMap<String, String>);

impl Names {
    pub(super) async fn of(&mut self, state: &AppState, id: &str) -> sqlx::Result<Option<String>> {
        if let Some(name) = self.0.get(id) {
            return Ok(Some(name.clone()));
        }
        let name = users::get(state.db.pool(), id).await?.map(|u| u.name);
        if let Some(name) = &name {
            self.0.insert(id.to_owned(), name.clone());
        }
        Ok(name)
    }
}

pub(super) async fn attachments(
    state: &AppState,
    lang: Lang,
    ticket_id: &str,
) -> sqlx::Result<Vec<Attachment>> {
    let offset = state.config.attendance.utc_offset_minutes;
    let rows = ticket_db::attachment_rows(state.db.pool(), ticket_id).await?;
    Ok(rows
        .into_iter()
        .map(|a: AttachmentRow| Attachment {
            stored: a.content_type.is_some(),
            sha256: a.sha256,
            by: a
                .added_by_name
                .unwrap_or_else(|| lang.text("author-system")),
            at: date_time(lang, a.added_at, offset),
        })
        .collect())
}

/// The ticket's audit trail in words, oldest first.
pub(super) async fn history(
    state: &AppState,
    lang: Lang,
    t: &TicketRow,
) -> sqlx::Result<Vec<HistoryLine>> {
    let offset = state.config.attendance.utc_offset_minutes;
    let mut names = Names::default();
    let mut out = Vec::new();
    for row in ticket_db::history(&state.db, &t.id).await? {
        let who = match &row.actor_id {
            Some(id) => names
                .of(state, id)
                .await?
                .unwrap_or_else(|| lang.text("author-staff")),
            None => lang.text("author-system"),
        };
        let text = describe(state, lang, &mut names, &row).await?;
        out.push(HistoryLine {
            at: date_time(lang, row.at, offset),
            who,
            text,
        });
    }
    Ok(out)
}

/// One audit entry of a ticket as a sentence.
async fn describe(
    state: &AppState,
    lang: Lang,
    names: &mut Names,
    row: &HistoryRow,
) -> sqlx::Result<String> {
    let detail: serde_json::Value = serde_json::from_str(&row.detail).unwrap_or_default();
    let text = |key: &str| detail[key].as_str().unwrap_or_default().to_owned();
    let status = |key: &str| {
        let code = text(key);
        let label = format!("ticket-status-{code}");
        if lang.has(&label) {
            lang.text(&label)
        } else {
            code
        }
    };
    Ok(match row.action.as_str() {
        "ticket.created" => lang.text("history-created"),
        "ticket.updated" => lang.text("history-updated"),
        "ticket.status_changed" => lang.text_with(
            "history-status",
            &[
                ("from", Arg::Text(&status("from"))),
                ("to", Arg::Text(&status("to"))),
            ],
        ),
        "ticket.assigned" => {
            let assignee = names
                .of(state, &text("assignee_id"))
                .await?
                .unwrap_or_default();
            let key = if detail["method"] == "round_robin" {
                "history-assigned-auto"
            } else {
                "history-assigned"
            };
            lang.text_with(
                key,
                &[
                    ("assignee", Arg::Text(&assignee)),
                    (
                        "reason",
                        Arg::Text(&crate::i18n::read(&text("reason"), lang)),
                    ),
                ],
            )
        }
        "ticket.message_added" if detail["internal"] == true => lang.text("history-note"),
        "ticket.message_added" => lang.text("history-message"),
        "ticket.sla_breached" => lang.text("history-sla-breached"),
        "ticket.attachment_added" => lang.text("history-attachment"),
        other => other.to_owned(),
    })
}

/// `/tickets/{id}/attachments`: an image sent through the page's form,
/// stored and attached in one go; back to the ticket, or the ticket with
/// the refusal on top.
pub(super) async fn attach(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    multipart: Multipart,
) -> PageResult {
    let id = id.to_string();
    let lang = console.lang;
    let refused = |problem: String| {
        let state = state.clone();
        let console = console.clone();
        let id = id.clone();
        async move {
            super::tickets::ticket_page(
                &state,
                &console,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problem),
            )
            .await
        }
    };
    let bytes = match image_of(multipart).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return refused(lang.text("ticket-attach-choose")).await,
        Err(_) => return refused(too_large(&state, lang)).await,
    };
    let outcome = async {
        if bytes.len() as u64 > state.config.ticket_max_attachment_bytes {
            return Err(None);
        }
        // Nothing of a refused person's is stored.
        service::check_attachable(&state, &console.actor, &id)
            .await
            .map_err(Some)?;
        let sha256 = crate::photos::store_sent(&state, bytes)
            .await
            .map_err(Some)?;
        let mut work = Work::begin(&state).await.map_err(|e| Some(e.into()))?;
        let applied = service::attach_sent(work.tx(), &state, &console.actor, &id, &sha256)
            .await
            .map_err(Some)?;
        let effects = Effects::told(applied.notices).with_changed(applied.value.1.synced);
        work.commit(effects).await.map_err(|e| Some(e.into()))?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other(&format!("/tickets/{id}"))),
        Err(None) => refused(too_large(&state, lang)).await,
        Err(Some(e)) => {
            let message = match &e {
                ServiceError::Rejected(r) if r.code == "attachments-full" => lang.text_with(
                    "ticket-attach-full",
                    &[(
                        "max",
                        Arg::Number(i64::from(state.config.ticket_max_attachments)),
                    )],
                ),
                ServiceError::Rejected(r) if r.code == "ticket-closed" => {
                    lang.text("ticket-attach-closed")
                }
                ServiceError::Rejected(r) if r.code == "sha256" => {
                    lang.text("ticket-attach-not-image")
                }
                ServiceError::Unprocessable { .. } => lang.text("ticket-attach-not-image"),
                _ => {
                    let problems = Problems::from_service(lang, e).map_err(|r| *r)?;
                    problems.general_with_fields().unwrap_or_default()
                }
            };
            refused(message).await
        }
    }
}

fn too_large(state: &AppState, lang: Lang) -> String {
    lang.text_with(
        "ticket-attach-too-large",
        &[(
            "mb",
            Arg::Text(&megabytes(state.config.ticket_max_attachment_bytes)),
        )],
    )
}

/// A size limit in MB for people (`5`, `2.5`).
pub(super) fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb.fract() == 0.0 {
        format!("{mb:.0}")
    } else {
        format!("{mb:.1}")
    }
}

/// The `file` field's bytes; `None` when no file was chosen, an error when
/// the form is malformed or over its limit.
async fn image_of(mut multipart: Multipart) -> Result<Option<Bytes>, ()> {
    while let Some(field) = multipart.next_field().await.map_err(|_| ())? {
        if field.name() == Some("file") {
            let bytes = field.bytes().await.map_err(|_| ())?;
            return Ok((!bytes.is_empty()).then_some(bytes));
        }
    }
    Ok(None)
}

#[derive(Debug, Deserialize)]
pub(super) struct FileQuery {
    /// `thumb` for the thumbnail.
    size: Option<String>,
}

/// `/tickets/{id}/files/{sha256}`: an attached image (or its thumbnail) for
/// whoever may see the ticket; anything else is "no such page".
pub(super) async fn file(
    State(state): State<AppState>,
    console: Console,
    Path((id, sha256)): Path<(uuid::Uuid, String)>,
    Query(query): Query<FileQuery>,
) -> Result<Response, Response> {
    let lang = console.lang;
    let fail = |e: &dyn std::fmt::Display| internal(lang, e);
    let id = id.to_string();
    let t = ticket_db::get(state.db.pool(), &id)
        .await
        .map_err(|e| fail(&e))?
        .ok_or_else(|| missing(lang))?;
    if !console.actor.allows(Action::ViewTicket {
        department_id: &t.department_id,
        customer_id: &t.customer_id,
    }) {
        return Err(missing(lang));
    }
    let attached = ticket_db::attachments(state.db.pool(), &t.id)
        .await
        .map_err(|e| fail(&e))?;
    if !attached.contains(&sha256) {
        return Err(missing(lang));
    }
    photo_response(&state, lang, &sha256, query.thumbnail()).await
}

impl FileQuery {
    pub(super) fn thumbnail(&self) -> bool {
        self.size.as_deref() == Some("thumb")
    }
}

/// The bytes of stored photo `sha256` (or of its thumbnail, made if need
/// be), for a page that has checked the reader may see them.
pub(super) async fn photo_response(
    state: &AppState,
    lang: Lang,
    sha256: &str,
    thumbnail: bool,
) -> Result<Response, Response> {
    let fail = |e: &dyn std::fmt::Display| internal(lang, e);
    let photo = blobs::get(state.db.pool(), sha256)
        .await
        .map_err(|e| fail(&e))?
        .ok_or_else(|| missing(lang))?;
    let wanted = if thumbnail {
        crate::photos::thumbnail_of(state, &photo)
            .await
            .map_err(|e| fail(&e))?
    } else {
        photo.sha256.clone()
    };
    let blob = blobs::get(state.db.pool(), &wanted)
        .await
        .map_err(|e| fail(&e))?
        .ok_or_else(|| missing(lang))?;
    let bytes = state
        .blobs
        .get_blob(&wanted)
        .await
        .map_err(|e| fail(&e))?
        .ok_or_else(|| missing(lang))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&blob.content_type).map_err(|e| fail(&e))?;
    headers.insert(header::CONTENT_TYPE, content_type);
    // The address names the bytes by their hash: they never change.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    Ok(response)
}
