//! The chat inbox: conversations with their unread counts (WhatsApp ones
//! marked), one conversation's thread, and the reply box. Opening a
//! conversation marks it read for the agent; replies go through
//! `helpdesk::chat::reply`, which also queues a WhatsApp conversation's
//! reply for WhatsApp, as over the API.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::common::{PageResult, Problems, forbidden, internal, presence, see_other};
use super::render::{Chrome, date_time, page};
use super::session::Console;
use crate::AppState;
use crate::auth::Action;
use crate::db::{chat as chat_db, users};
use crate::helpdesk::chat as service;
use crate::service::ServiceError;
use crate::work::{Effects, Work};

struct Conversation {
    id: String,
    customer: String,
    last: String,
    at: String,
    unread: i64,
    whatsapp: bool,
    current: bool,
}

struct Message {
    author: String,
    body: String,
    at: String,
    from_customer: bool,
    /// The image it carries (a photo sent on WhatsApp).
    image: Option<String>,
}

#[derive(Template)]
#[template(path = "console/chat.html")]
struct InboxPage {
    chrome: Chrome,
    conversations: Vec<Conversation>,
    open: Option<OpenConversation>,
    problem: Option<String>,
}

struct OpenConversation {
    id: String,
    customer_id: String,
    customer: String,
    /// May place a call; calls with this customer.
    can_call: bool,
    calls: Vec<super::calls::LogLine>,
    whatsapp: bool,
    messages: Vec<Message>,
}

#[derive(Debug, Deserialize)]
pub(super) struct InboxParams {
    /// The conversation to open.
    c: Option<uuid::Uuid>,
}

pub(super) async fn inbox(
    State(state): State<AppState>,
    console: Console,
    Query(params): Query<InboxParams>,
) -> PageResult {
    let id = params.c.map(|c| c.to_string());
    inbox_page(&state, &console, id.as_deref(), StatusCode::OK, None).await
}

async fn inbox_page(
    state: &AppState,
    console: &Console,
    open_id: Option<&str>,
    status: StatusCode,
    problem: Option<String>,
) -> PageResult {
    let lang = console.lang;
    let actor = &console.actor;
    if !actor.allows(Action::ListConversations) {
        return Err(forbidden(lang));
    }
    let fail = |e: sqlx::Error| internal(lang, &e);
    let offset = state.config.attendance.utc_offset_minutes;
    // Opening a conversation reads it: its unread count drops to zero.
    if let Some(id) = open_id {
        let outcome = async {
            let mut work = Work::begin(state).await?;
            service::mark_read(work.tx(), actor, id).await?;
            work.commit(Effects::none()).await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        match outcome {
            Ok(()) => {}
            Err(ServiceError::Rejected(_)) => {
                return Err(super::common::missing(lang));
            }
            Err(e) => return Err(internal(lang, &e)),
        }
    }
    let rows = chat_db::list(&state.db, &actor.user_id, None, None, None, 100)
        .await
        .map_err(fail)?;
    let conversations = rows
        .into_iter()
        .take(100)
        .map(|c| Conversation {
            current: open_id == Some(c.id.as_str()),
            whatsapp: c.channel == "whatsapp",
            at: date_time(lang, c.last_message_at, offset),
            last: c
                .last_message
                .map(|m| crate::i18n::read(&m, lang))
                .unwrap_or_default(),
            unread: c.unread_count,
            customer: c.customer_name,
            id: c.id,
        })
        .collect();
    let open = match open_id {
        None => None,
        Some(id) => {
            let c = chat_db::get(state.db.pool(), id, &actor.user_id)
                .await
                .map_err(fail)?;
            match c {
                None => None,
                Some(c) => {
                    let mut rows = chat_db::messages(state.db.pool(), &c.id, None, 200)
                        .await
                        .map_err(fail)?;
                    rows.reverse();
                    let mut names: Vec<(String, String)> = Vec::new();
                    for sender in rows.iter().filter_map(|m| m.sender_id.as_deref()) {
                        if !names.iter().any(|(id, _)| id == sender)
                            && let Some(user) =
                                users::get(state.db.pool(), sender).await.map_err(fail)?
                        {
                            names.push((user.id, user.name));
                        }
                    }
                    let author = |m: &chat_db::ChatMessageRow| match &m.sender_id {
                        Some(s) => names
                            .iter()
                            .find(|(id, _)| id == s)
                            .map_or_else(|| lang.text("author-staff"), |(_, n)| n.clone()),
                        None if m.sender_kind == "system" => lang.text("author-system"),
                        None => c.customer_name.clone(),
                    };
                    let messages = rows
                        .into_iter()
                        .map(|m| Message {
                            author: author(&m),
                            from_customer: m.sender_kind == "customer",
                            at: date_time(lang, m.created_at, offset),
                            body: crate::i18n::read(&m.body, lang),
                            image: m.attachment_sha256,
                        })
                        .collect();
                    let calls = super::calls::log(
                        state,
                        console,
                        crate::db::calls::LogFilter {
                            customer_id: Some(c.customer_id.clone()),
                            limit: 10,
                            ..Default::default()
                        },
                    )
                    .await?;
                    Some(OpenConversation {
                        whatsapp: c.channel == "whatsapp",
                        can_call: actor.allows(Action::CallCustomer),
                        calls,
                        customer_id: c.customer_id,
                        customer: c.customer_name,
                        id: c.id,
                        messages,
                    })
                }
            }
        }
    };
    let chrome = Chrome::new(console, presence(state, console).await, "/chat");
    Ok(page(
        status,
        &InboxPage {
            chrome,
            conversations,
            open,
            problem,
        },
    ))
}

/// `/chat/{id}/files/{sha256}`: an image a message of conversation `id`
/// carries (or its thumbnail), for whoever may use the conversation;
/// anything else is "no such page".
pub(super) async fn file(
    State(state): State<AppState>,
    console: Console,
    Path((id, sha256)): Path<(uuid::Uuid, String)>,
    Query(query): Query<super::ticket_record::FileQuery>,
) -> Result<axum::response::Response, axum::response::Response> {
    let lang = console.lang;
    let id = id.to_string();
    let (customer_id, _) = chat_db::customer_and_channel(state.db.pool(), &id)
        .await
        .map_err(|e| internal(lang, &e))?
        .ok_or_else(|| super::common::missing(lang))?;
    let holds = chat_db::holds_image(state.db.pool(), &id, &sha256)
        .await
        .map_err(|e| internal(lang, &e))?;
    let allowed = console.actor.allows(Action::UseConversation {
        customer_id: &customer_id,
    });
    if !(allowed && holds) {
        return Err(super::common::missing(lang));
    }
    super::ticket_record::photo_response(&state, lang, &sha256, query.thumbnail()).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ReplyForm {
    #[serde(default)]
    body: String,
}

pub(super) async fn reply(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<ReplyForm>,
) -> PageResult {
    let id = id.to_string();
    let outcome = async {
        let mut work = Work::begin(&state).await?;
        let applied =
            service::reply(work.tx(), &state, &console.actor, &id, &form.body, None).await?;
        work.commit(Effects::notices(applied.notices)).await?;
        Ok::<_, ServiceError>(applied.value.to_whatsapp)
    }
    .await;
    match outcome {
        Ok(to_whatsapp) => {
            if to_whatsapp {
                state.helpdesk.wake.notify_one();
            }
            Ok(see_other(&format!("/chat?c={id}")))
        }
        Err(e) => {
            let problem = Problems::from_service(console.lang, e)
                .map_err(|r| *r)?
                .general_with_fields();
            inbox_page(
                &state,
                &console,
                Some(&id),
                StatusCode::UNPROCESSABLE_ENTITY,
                problem,
            )
            .await
        }
    }
}
