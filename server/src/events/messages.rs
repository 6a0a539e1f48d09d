//! What the help desk's live events carry about messages (`chat.message`,
//! `ticket.message`); the HTTP API answers with the same shapes.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::chat::ChatMessageRow;
use crate::db::tickets::MessageRow;
use crate::domain::rfc3339;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChatMessageView {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: Option<String>,
    /// `customer`, `staff` or `system`.
    pub sender_kind: String,
    /// What was written; for an image without a caption, "[Photo]" (in the
    /// reader's language), and what the server says about something it
    /// could not keep ("[A voice note, which fieldops cannot show …]").
    pub body: String,
    pub client_id: Option<String>,
    pub created_at: String,
    /// The image the message carries (one a customer sent on WhatsApp):
    /// its bytes through `GET /api/v1/blobs/{sha256}/link`, for whoever may
    /// use the conversation.
    pub attachment_sha256: Option<String>,
}

impl From<ChatMessageRow> for ChatMessageView {
    fn from(m: ChatMessageRow) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            sender_kind: m.sender_kind,
            body: crate::i18n::read(&m.body, crate::i18n::current()),
            client_id: m.client_id,
            created_at: rfc3339(m.created_at),
            attachment_sha256: m.attachment_sha256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TicketMessageView {
    pub id: String,
    pub author_id: Option<String>,
    /// `staff`, `customer` or `system`.
    pub author_kind: String,
    pub body: String,
    /// Internal notes are shown to staff only.
    pub internal: bool,
    pub created_at: String,
}

impl From<MessageRow> for TicketMessageView {
    fn from(m: MessageRow) -> Self {
        Self {
            id: m.id,
            author_id: m.author_id,
            author_kind: m.author_kind,
            // A system note kept as a catalogue reference reads in the
            // language of the request.
            body: crate::i18n::read(&m.body, crate::i18n::current()),
            internal: m.internal != 0,
            created_at: rfc3339(m.created_at),
        }
    }
}
