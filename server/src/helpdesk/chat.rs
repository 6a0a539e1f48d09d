//! Sending a chat message as a service function, shared by the HTTP API
//! (`http::chat`) and the sync command `SendChatMessage` (a customer's
//! messages composed offline, sent from the phone's outbox).
//!
//! Same shape as [`super::tickets`]: an open write transaction and the
//! [`Actor`] in, an [`Applied`] value with notices (published after commit)
//! or a typed rejection out. A message with a client id already stored in
//! the conversation is not stored again; the stored one is returned with
//! `new: false`.

use fieldops_sync::commands::RejectReason;
use serde_json::json;

use crate::AppState;
use crate::auth::{Action, Actor};
use crate::db::chat::{self, ChatMessageRow};
use crate::db::{Tx, audit, departments, users};
use crate::domain;
use crate::events::{Audience, Happened};
use crate::i18n::Lang;
use crate::service::{Applied, Notice, ServiceError, allow, reject_as};

/// Longest chat message, in characters.
pub const MAX_BODY_CHARS: usize = 4_000;

/// Where a message goes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// An existing conversation.
    Conversation(&'a str),
    /// A new conversation with this customer (`POST /conversations`).
    New { customer_id: &'a str },
    /// The customer's latest conversation, or a new one if they have none
    /// (a phone's `SendChatMessage` without a conversation id).
    Latest { customer_id: &'a str },
}

/// What sending did.
#[derive(Debug, Clone)]
pub struct Sent {
    pub conversation_id: String,
    pub customer_id: String,
    /// `app` or `whatsapp`.
    pub channel: String,
    /// The stored message (the earlier one on a client-id replay).
    pub message: ChatMessageRow,
    /// False when the client id was already stored.
    pub new: bool,
    /// A conversation was opened for this message.
    pub opened: bool,
}

/// A conversation just opened, and whom it went to.
#[derive(Debug, Clone)]
pub struct Opened {
    pub id: String,
    /// `None`: nobody was available; it waits in the inbox.
    pub assignee: Option<String>,
}

/// Opens a conversation for `customer_id`, routed round-robin to an
/// available agent of the help-desk department (unassigned when nobody is
/// available).
pub async fn open(
    tx: &mut Tx,
    state: &AppState,
    customer_id: &str,
    channel: &str,
) -> sqlx::Result<Opened> {
    let department =
        departments::by_name(&state.db, &state.config.ticket_default_department).await?;
    let assignee =
        super::assignment::pick_for_chat(state, tx, department.as_ref().map(|d| d.id.as_str()))
            .await?;
    let id = chat::create(tx, customer_id, assignee.as_deref(), channel).await?;
    audit::record(
        tx,
        None,
        "conversation.created",
        "conversation",
        &id,
        json!({ "assignee_id": assignee, "channel": channel }),
    )
    .await?;
    Ok(Opened { id, assignee })
}

/// The live events of a new message: to the customer, and to the help
/// desk's staff who are on duty — whoever set their presence to `offline`
/// hears nothing (seeds 000/001: "when they are off they will no longer
/// receive calls or messages"); the inbox still shows everything to whoever
/// opens it.
pub async fn notices(state: &AppState, customer_id: &str, m: &ChatMessageRow) -> Vec<Notice> {
    let message = Happened::ChatMessage(m.clone().into());
    let department_id = departments::by_name(&state.db, &state.config.ticket_default_department)
        .await
        .ok()
        .flatten()
        .map(|d| d.id);
    let on_duty = users::on_duty(state.db.pool(), department_id.as_deref())
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading who is on duty; the message waits in the inbox");
            Vec::new()
        });
    let mut notices = vec![Notice::customer(customer_id, message.clone())];
    if !on_duty.is_empty() {
        notices.push(Notice::to(Audience::OnDuty { user_ids: on_duty }, message));
    }
    notices
}

/// Tells the customer of a conversation how it stands — nobody can answer
/// now, or who picked it up — in their language (their account's choice,
/// else Bahasa Indonesia): a system message in the thread, and on WhatsApp
/// when they wrote from there. Returns its live events.
pub async fn tell_customer(
    tx: &mut Tx,
    state: &AppState,
    conversation_id: &str,
    customer_id: &str,
    channel: &str,
    text: impl FnOnce(Lang) -> String,
) -> sqlx::Result<Vec<Notice>> {
    let lang = users::language_of_customer(&mut **tx, customer_id)
        .await?
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_default();
    let body = text(lang);
    let (message, _) =
        chat::add_message(tx, conversation_id, (None, "system"), &body, None, None).await?;
    if channel == "whatsapp" {
        super::whatsapp::enqueue_to_customer(tx, customer_id, &body).await?;
    }
    Ok(notices(state, customer_id, &message).await)
}

/// After a customer's first message of a conversation nobody could take:
/// the customer hears that the team will answer once someone is available.
async fn nobody_available(
    tx: &mut Tx,
    state: &AppState,
    conversation_id: &str,
    customer_id: &str,
    channel: &str,
) -> sqlx::Result<Vec<Notice>> {
    tell_customer(tx, state, conversation_id, customer_id, channel, |lang| {
        lang.text("chat-system-nobody-available")
    })
    .await
}

/// After the customer's message in a conversation `open` just started:
/// when nobody took it, the customer is told (see [`tell_customer`]).
pub async fn after_first_message(
    tx: &mut Tx,
    state: &AppState,
    opened: &Opened,
    customer_id: &str,
    channel: &str,
) -> sqlx::Result<Vec<Notice>> {
    // Nobody was picked because chats are not handed out automatically
    // (switched off in the settings): nobody is "waiting for an agent".
    if opened.assignee.is_some() || !state.settings.get().settings.assignment.chats_round_robin {
        return Ok(Vec::new());
    }
    nobody_available(tx, state, &opened.id, customer_id, channel).await
}

/// Stores a message from `actor` (once per client id) in `target`.
pub async fn send(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    target: Target<'_>,
    body: &str,
    client_id: Option<&str>,
) -> Result<Applied<Sent>, ServiceError> {
    let body = domain::bounded_text(body, MAX_BODY_CHARS)
        .map_err(|m| reject_as(RejectReason::Invalid, "body", m))?;
    let (conversation_id, customer_id, opened): (String, String, Option<Opened>) = match target {
        Target::Conversation(id) => {
            let Some((customer_id, _)) = chat::customer_and_channel(&mut **tx, id).await? else {
                return Err(ServiceError::not_found("conversation"));
            };
            allow(
                actor,
                Action::UseConversation {
                    customer_id: &customer_id,
                },
            )?;
            (id.to_owned(), customer_id, None)
        }
        Target::New { customer_id } | Target::Latest { customer_id } => {
            allow(actor, Action::StartConversation { customer_id })?;
            // A replay of a message opens nothing new.
            let replayed = match client_id {
                Some(c) => chat::by_client_id(tx, customer_id, c).await?,
                None => None,
            };
            let latest = match (replayed, target) {
                (Some(id), _) => Some(id),
                (None, Target::Latest { .. }) => {
                    chat::latest_of_customer(tx, customer_id, "app").await?
                }
                (None, _) => None,
            };
            match latest {
                Some(id) => (id, customer_id.to_owned(), None),
                None => {
                    let opened = open(tx, state, customer_id, "app").await?;
                    (opened.id.clone(), customer_id.to_owned(), Some(opened))
                }
            }
        }
    };
    let (_, channel) = chat::customer_and_channel(&mut **tx, &conversation_id)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("conversation {conversation_id} vanished mid-transaction")
        })?;
    let kind = if actor.role.is_staff() {
        "staff"
    } else {
        "customer"
    };
    let sender = (Some(actor.user_id.as_str()), kind);
    let (message, new) =
        chat::add_message(tx, &conversation_id, sender, &body, client_id, None).await?;
    let mut notices = if new {
        notices(state, &customer_id, &message).await
    } else {
        vec![]
    };
    // The customer wrote and nobody could take it: they are told. (A
    // conversation staff start is not waiting for anyone.)
    if let Some(opened) = &opened
        && new
        && !actor.role.is_staff()
    {
        notices.extend(after_first_message(tx, state, opened, &customer_id, &channel).await?);
    }
    Ok(Applied {
        value: Sent {
            conversation_id,
            customer_id,
            channel,
            message,
            new,
            opened: opened.is_some(),
        },
        notices,
    })
}

/// A message into an existing conversation. A staff reply in a WhatsApp
/// conversation is queued for WhatsApp in the same change; after the commit
/// the caller wakes the sender (`state.helpdesk.wake`) when
/// [`Replied::to_whatsapp`] says so.
pub async fn reply(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    conversation_id: &str,
    body: &str,
    client_id: Option<&str>,
) -> Result<Applied<Replied>, ServiceError> {
    let applied = send(
        tx,
        state,
        actor,
        Target::Conversation(conversation_id),
        body,
        client_id,
    )
    .await?;
    let sent = applied.value;
    let to_whatsapp = actor.role.is_staff() && sent.channel == "whatsapp" && sent.new;
    if to_whatsapp {
        super::whatsapp::enqueue_to_customer(tx, &sent.customer_id, &sent.message.body).await?;
    }
    Ok(Applied {
        value: Replied { sent, to_whatsapp },
        notices: applied.notices,
    })
}

/// What [`reply`] did.
#[derive(Debug, Clone)]
pub struct Replied {
    pub sent: Sent,
    /// A WhatsApp message was queued: wake the sender after the commit.
    pub to_whatsapp: bool,
}

/// Marks every message of a conversation `actor` may use as read by them.
pub async fn mark_read(
    tx: &mut Tx,
    actor: &Actor,
    conversation_id: &str,
) -> Result<(), ServiceError> {
    let Some((customer_id, _)) = chat::customer_and_channel(&mut **tx, conversation_id).await?
    else {
        return Err(ServiceError::not_found("conversation"));
    };
    allow(
        actor,
        Action::UseConversation {
            customer_id: &customer_id,
        },
    )?;
    chat::mark_read(tx, conversation_id, &actor.user_id).await?;
    Ok(())
}
