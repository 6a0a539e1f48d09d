//! Live chat between customers and CS: conversations with their last message
//! and unread count, paged messages, mark-read, and client-id deduplication so
//! a message sent twice (a retry, an outbox replay) is stored once. Messages
//! are delivered live over `/api/v1/events` as `chat.message`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Page, PageRequest, Path, Query};
use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::chat::{self, ConversationRow};
use crate::db::customers;
use crate::domain::{self, Role, rfc3339};
use crate::error::{ApiError, ApiResult};
pub use crate::events::messages::ChatMessageView;
use crate::helpdesk::chat::{self as chat_service, Target};
use crate::work::{Effects, Work};

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub customer_id: String,
    pub customer_name: String,
    /// The CS agent it was routed to (round-robin among available staff).
    pub assignee_id: Option<String>,
    /// `app` or `whatsapp`.
    pub channel: String,
    /// The latest message a person wrote (the system's word to the
    /// customer aside), for the inbox's preview.
    pub last_message: Option<String>,
    pub last_message_at: String,
    /// Messages from others newer than the caller's read mark.
    pub unread_count: i64,
    pub created_at: String,
}

impl From<ConversationRow> for ConversationView {
    fn from(c: ConversationRow) -> Self {
        Self {
            id: c.id,
            customer_id: c.customer_id,
            customer_name: c.customer_name,
            assignee_id: c.assignee_id,
            channel: c.channel,
            last_message: c
                .last_message
                .map(|m| crate::i18n::read(&m, crate::i18n::current())),
            last_message_at: rfc3339(c.last_message_at),
            unread_count: c.unread_count,
            created_at: rfc3339(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StartedConversation {
    pub conversation: ConversationView,
    pub message: ChatMessageView,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationListParams {
    /// Matches the customer's name or any message.
    #[param(max_length = 100)]
    pub q: Option<String>,
    pub customer_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListParams {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page: older messages.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartConversationRequest {
    pub message: String,
    /// Staff only: whom to talk to. Customers talk for themselves.
    pub customer_id: Option<Uuid>,
    /// The sender's id for this message; a retry with the same id is stored once.
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessageRequest {
    pub body: String,
    pub client_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadView {
    pub unread_count: i64,
}

fn check_client_id(client_id: Option<&str>) -> ApiResult<Option<String>> {
    match client_id.map(str::trim) {
        None | Some("") => Ok(None),
        Some(c) if c.len() <= 100 && c.chars().all(|ch| ch.is_ascii_graphic()) => {
            Ok(Some(c.to_owned()))
        }
        Some(_) => Err(ApiError::field(
            "client_id",
            t!("problem-chat-client-id-format"),
        )),
    }
}

async fn load(state: &AppState, actor: &Actor, id: &Uuid) -> ApiResult<ConversationRow> {
    let c = chat::get(state.db.pool(), &id.to_string(), &actor.user_id)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    actor.authorize(Action::UseConversation {
        customer_id: &c.customer_id,
    })?;
    Ok(c)
}

/// Conversations, most recent activity first, with last message and unread count.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "chat", security(("bearer" = [])),
    params(ConversationListParams),
    responses((status = 200, body = Page<ConversationView>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<ConversationListParams>,
) -> ApiResult<Json<Page<ConversationView>>> {
    actor.authorize(Action::ListConversations)?;
    let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::field(
            "q",
            t!("problem-filter-text-too-long", max = 100),
        ));
    }
    let customer = match actor.role {
        Role::Customer => Some(actor.customer_id.clone().unwrap_or_default()),
        _ => p.customer_id.map(|c| c.to_string()),
    };
    let rows = chat::list(
        &state.db,
        &actor.user_id,
        customer.as_deref(),
        q,
        page.after.as_deref(),
        page.limit,
    )
    .await?;
    Ok(Json(
        Page::from_rows(rows, page.limit, |c| &c.id).map(ConversationView::from),
    ))
}

/// Start a conversation with a first message.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "chat", security(("bearer" = [])),
    request_body = StartConversationRequest,
    responses((status = 201, body = StartedConversation), (status = 200, body = StartedConversation, description = "replayed client id"), (status = 422, body = crate::error::Problem)))]
pub async fn start(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<StartConversationRequest>,
) -> ApiResult<(StatusCode, Json<StartedConversation>)> {
    let customer_id = match (actor.role, &actor.customer_id, req.customer_id) {
        (Role::Customer, Some(own), None) => own.clone(),
        (_, _, Some(c)) => c.to_string(),
        _ => {
            actor.authorize(Action::StartConversation { customer_id: "" })?;
            return Err(ApiError::field(
                "customer_id",
                t!("problem-request-required"),
            ));
        }
    };
    actor.authorize(Action::StartConversation {
        customer_id: &customer_id,
    })?;
    let body =
        domain::bounded_text(&req.message, 4000).map_err(|m| ApiError::field("message", m))?;
    let client_id = check_client_id(req.client_id.as_deref())?;
    if customers::get(state.db.pool(), &customer_id)
        .await?
        .is_none()
    {
        return Err(ApiError::field(
            "customer_id",
            t!("problem-chat-customer-unknown"),
        ));
    }
    let mut work = Work::begin(&state).await?;
    let target = Target::New {
        customer_id: &customer_id,
    };
    let applied = chat_service::send(
        work.tx(),
        &state,
        &actor,
        target,
        &body,
        client_id.as_deref(),
    )
    .await?;
    let sent = applied.value;
    let conversation = chat::get(&mut **work.tx(), &sent.conversation_id, &actor.user_id)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    let status = if sent.opened {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = StartedConversation {
        conversation: conversation.into(),
        message: sent.message.into(),
    };
    let body = work
        .respond(Effects::notices(applied.notices), status, body)
        .await?;
    Ok((status, Json(body)))
}

/// A conversation's messages, newest first, paged.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path), MessageListParams),
    responses((status = 200, body = Page<ChatMessageView>), (status = 404, body = crate::error::Problem)))]
pub async fn messages(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Query(p): Query<MessageListParams>,
) -> ApiResult<Json<Page<ChatMessageView>>> {
    let c = load(&state, &actor, &id).await?;
    let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
    let rows = chat::messages(state.db.pool(), &c.id, page.after.as_deref(), page.limit).await?;
    Ok(Json(
        Page::from_rows(rows, page.limit, |m| &m.id).map(ChatMessageView::from),
    ))
}

/// Send a message; the same `client_id` twice stores it once (200 on the replay).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ChatMessageRequest,
    responses((status = 201, body = ChatMessageView), (status = 200, body = ChatMessageView, description = "replayed client id"), (status = 422, body = crate::error::Problem)))]
pub async fn send(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<ChatMessageRequest>,
) -> ApiResult<(StatusCode, Json<ChatMessageView>)> {
    let c = load(&state, &actor, &id).await?;
    let body = domain::bounded_text(&req.body, 4000).map_err(|m| ApiError::field("body", m))?;
    let client_id = check_client_id(req.client_id.as_deref())?;
    let mut work = Work::begin(&state).await?;
    let applied = chat_service::reply(
        work.tx(),
        &state,
        &actor,
        &c.id,
        &body,
        client_id.as_deref(),
    )
    .await?;
    let replied = applied.value;
    let status = if replied.sent.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let view = ChatMessageView::from(replied.sent.message);
    let view = work
        .respond(Effects::notices(applied.notices), status, view)
        .await?;
    if replied.to_whatsapp {
        state.helpdesk.wake.notify_one();
    }
    Ok((status, Json(view)))
}

/// Mark everything in the conversation read for the caller.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ReadView), (status = 404, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ReadView>> {
    let c = load(&state, &actor, &id).await?;
    let mut work = Work::begin(&state).await?;
    chat_service::mark_read(work.tx(), &actor, &c.id).await?;
    let c = chat::get(&mut **work.tx(), &c.id, &actor.user_id)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    let body = ReadView {
        unread_count: c.unread_count,
    };
    Ok(Json(
        work.respond(Effects::none(), StatusCode::OK, body).await?,
    ))
}
