//! What the WhatsApp Cloud API delivers to the webhook, and the
//! registration text a stranger types to become a customer.
//!
//! [`webhook`] reads a delivery's JSON (the signature was checked before)
//! into [`Item`]s in the order it lists them: template reviews, delivery
//! statuses, messages. A status or message fieldops does not act on comes
//! back as [`Item::Ignored`] with the reason, for the log: acknowledged
//! (Meta would retry a refusal for days), not silently dropped. Changes of
//! other fields, and template reviews without a name or an event, say
//! nothing fieldops reads and yield no item.

use fieldops_sync::text::{self, Shape, TextProblem};
use serde::Deserialize;

/// The longest message or status id kept (Meta's are ~60 characters).
pub const MAX_ID_BYTES: usize = 200;
/// The most characters of Meta's error text kept with a failed status.
pub const MAX_ERROR_CHARS: usize = 500;

/// Message types a person sends that fieldops records without keeping.
pub const UNSUPPORTED: [&str; 6] = [
    "audio", "video", "document", "sticker", "location", "contacts",
];

/// The body is not a webhook payload (not JSON, or not its shape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a WhatsApp webhook payload: {0}")]
pub struct NotAPayload(pub String);

/// One thing a delivery says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Template(TemplateUpdate),
    Status(Status),
    Message(Message),
    Ignored(Ignored),
}

/// What fieldops does not act on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A delivery status other than sent, delivered, read, failed.
    StatusOfUnknownKind(String),
    /// A status or message whose id is empty or too long to be Meta's.
    UnusableId(String),
    /// A message type fieldops neither keeps nor records (a reaction).
    Kind { id: String, kind: String },
}

/// How far a sent message got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Delivery {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl Delivery {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    /// How far along: a status only ever moves to a higher rank.
    pub fn rank(self) -> i64 {
        match self {
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Failed => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
}

/// One status of one message fieldops sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The Cloud API's message id (`wamid…`).
    pub provider_id: String,
    pub status: Delivery,
    /// When Meta says it happened, Unix ms; `None` when it did not say.
    pub at_ms: Option<i64>,
    /// Meta's error code, title and details, for `failed`.
    pub error: Option<String>,
}

/// A template review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateUpdate {
    /// `message_template_status_update`: APPROVED, REJECTED, PAUSED, ….
    Status {
        name: String,
        language: String,
        event: String,
        reason: Option<String>,
    },
    /// `template_category_update`.
    Category {
        name: String,
        language: String,
        previous: String,
        new: String,
    },
}

/// A message a person sent to the business number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Meta's message id: redeliveries repeat it.
    pub id: String,
    /// The sender's number as Meta writes it (digits, no `+`).
    pub from: String,
    pub content: Content,
}

/// What a message holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    /// A photo, fetched from the Cloud API by its media id.
    Image {
        media_id: String,
        caption: Option<String>,
    },
    /// A voice note, video, document, sticker, place or contact card: its
    /// type, recorded so CS can ask for it another way.
    Unsupported(String),
}

/// Reads a webhook delivery.
pub fn webhook(body: &[u8]) -> Result<Vec<Item>, NotAPayload> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| NotAPayload(e.to_string()))?;
    let mut items = Vec::new();
    for change in payload.entry.into_iter().flat_map(|e| e.changes) {
        items.extend(template_update(&change.field, &change.value).map(Item::Template));
        items.extend(change.value.statuses.into_iter().map(status));
        items.extend(change.value.messages.into_iter().map(message));
    }
    Ok(items)
}

fn usable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES
}

fn template_update(field: &str, v: &ChangeValue) -> Option<TemplateUpdate> {
    let name = v.message_template_name.clone()?;
    let language = v.message_template_language.clone().unwrap_or_default();
    match field {
        "message_template_status_update" => Some(TemplateUpdate::Status {
            name,
            language,
            event: v.event.clone()?,
            reason: v.reason.clone(),
        }),
        "template_category_update" => Some(TemplateUpdate::Category {
            name,
            language,
            previous: v.previous_category.clone().unwrap_or_default(),
            new: v.new_category.clone()?,
        }),
        _ => None,
    }
}

fn status(s: StatusValue) -> Item {
    let Some(status) = Delivery::parse(&s.status) else {
        return Item::Ignored(Ignored::StatusOfUnknownKind(s.status));
    };
    if !usable_id(&s.id) {
        return Item::Ignored(Ignored::UnusableId(s.id));
    }
    let at_ms = s
        .timestamp
        .parse::<i64>()
        .ok()
        .and_then(|secs| secs.checked_mul(1000));
    let error = s.errors.first().map(|e| {
        let details = e.error_data.as_ref().map_or("", |d| d.details.as_str());
        let code = e.code.map(|c| format!("{c} ")).unwrap_or_default();
        let text = format!("{code}{} {details}", e.title);
        text.trim().chars().take(MAX_ERROR_CHARS).collect()
    });
    Item::Status(Status {
        provider_id: s.id,
        status,
        at_ms,
        error,
    })
}

fn message(m: InboundMessage) -> Item {
    if !usable_id(&m.id) {
        return Item::Ignored(Ignored::UnusableId(m.id));
    }
    let content = match (&m.kind[..], m.text, m.image) {
        ("text", Some(t), _) => Content::Text(t.body),
        ("image", _, Some(image)) => Content::Image {
            media_id: image.id,
            caption: image.caption,
        },
        (kind, _, _) if UNSUPPORTED.contains(&kind) => Content::Unsupported(kind.to_owned()),
        (kind, _, _) => {
            let kind = kind.to_owned();
            return Item::Ignored(Ignored::Kind { id: m.id, kind });
        }
    };
    Item::Message(Message {
        id: m.id,
        from: m.from,
        content,
    })
}

/// A registration text: `DAFTAR#<name>#<address>#<city>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub address: String,
    pub city: String,
}

/// A field of a registration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationField {
    Name,
    Address,
    City,
}

impl RegistrationField {
    /// The text rule of the field and its most characters: the customer
    /// record's own.
    pub fn rule(self) -> (Shape, usize) {
        match self {
            Self::Name => (Shape::Line, 120),
            Self::Address => (Shape::Paragraph, 300),
            Self::City => (Shape::Line, 100),
        }
    }
}

/// Why a registration text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// Not name, address and city after the keyword.
    #[error("a registration has three fields after DAFTAR: name, address, city")]
    FieldCount,
    /// Each field that breaks its rule, in order.
    #[error("registration fields refused: {0:?}")]
    Fields(Vec<(RegistrationField, TextProblem)>),
}

/// Reads `DAFTAR#name#address#city` (the keyword in any case, fields
/// trimmed): `None` when the text is not a registration at all.
pub fn registration(text: &str) -> Option<Result<Registration, RegistrationError>> {
    let mut parts = text.trim().split('#').map(str::trim);
    if !parts
        .next()
        .is_some_and(|keyword| keyword.eq_ignore_ascii_case("daftar"))
    {
        return None;
    }
    let fields: Vec<&str> = parts.collect();
    let [name, address, city] = fields[..] else {
        return Some(Err(RegistrationError::FieldCount));
    };
    let given = [
        (RegistrationField::Name, name),
        (RegistrationField::Address, address),
        (RegistrationField::City, city),
    ];
    let refused: Vec<_> = given
        .iter()
        .filter_map(|&(field, value)| {
            let (shape, max) = field.rule();
            text::check(value, shape, max, true)
                .err()
                .map(|problem| (field, problem))
        })
        .collect();
    if !refused.is_empty() {
        return Some(Err(RegistrationError::Fields(refused)));
    }
    Some(Ok(Registration {
        name: name.into(),
        address: address.into(),
        city: city.into(),
    }))
}

// The payload as Meta sends it; every part optional that Meta may leave out.

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    /// `messages`, `message_template_status_update`, `template_category_update`.
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: ChangeValue,
}

#[derive(Debug, Default, Deserialize)]
struct ChangeValue {
    #[serde(default)]
    messages: Vec<InboundMessage>,
    #[serde(default)]
    statuses: Vec<StatusValue>,
    // Template reviews.
    event: Option<String>,
    message_template_name: Option<String>,
    message_template_language: Option<String>,
    reason: Option<String>,
    previous_category: Option<String>,
    new_category: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StatusValue {
    id: String,
    status: String,
    /// Unix seconds, as a string.
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Debug, Deserialize)]
struct StatusError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Debug, Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: String,
}

#[derive(Debug, Deserialize)]
struct InboundMessage {
    id: String,
    from: String,
    #[serde(rename = "type")]
    kind: String,
    text: Option<TextBody>,
    image: Option<ImageBody>,
}

#[derive(Debug, Deserialize)]
struct TextBody {
    body: String,
}

#[derive(Debug, Deserialize)]
struct ImageBody {
    /// The media id to fetch it by.
    id: String,
    #[serde(default)]
    caption: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A delivery as Meta sends it (trimmed of the metadata fieldops
    /// does not read), one change of each kind.
    const DELIVERY: &str = r#"{
      "object": "whatsapp_business_account",
      "entry": [{
        "id": "102290129340398",
        "changes": [{
          "field": "messages",
          "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
            "contacts": [{ "profile": { "name": "Rina" }, "wa_id": "6281234567890" }],
            "statuses": [
              { "id": "wamid.OUT1", "status": "read", "timestamp": "1765091000", "recipient_id": "6281234567890" },
              { "id": "wamid.OUT2", "status": "failed", "timestamp": "1765091001",
                "errors": [{ "code": 131026, "title": "Message undeliverable",
                             "error_data": { "details": "Receiver is incapable of receiving this message" } }] },
              { "id": "wamid.OUT3", "status": "deleted", "timestamp": "1765091002" }
            ],
            "messages": [
              { "from": "6281234567890", "id": "wamid.IN1", "timestamp": "1765091003", "type": "text",
                "text": { "body": "DAFTAR#Rina Wati#Jl. Merdeka 1#Bandung" } },
              { "from": "6281234567890", "id": "wamid.IN2", "timestamp": "1765091004", "type": "image",
                "image": { "id": "1479537139650973", "mime_type": "image/jpeg", "caption": "AC bocor" } },
              { "from": "6281234567890", "id": "wamid.IN3", "timestamp": "1765091005", "type": "audio",
                "audio": { "id": "1479537139650974", "mime_type": "audio/ogg; codecs=opus" } },
              { "from": "6281234567890", "id": "wamid.IN4", "timestamp": "1765091006", "type": "reaction",
                "reaction": { "message_id": "wamid.OUT1", "emoji": "\ud83d\udc4d" } },
              { "from": "6281234567890", "id": "", "timestamp": "1765091007", "type": "text",
                "text": { "body": "tanpa id" } }
            ]
          }
        }, {
          "field": "message_template_status_update",
          "value": { "event": "REJECTED", "message_template_id": 1, "message_template_name": "rating_request",
                     "message_template_language": "id", "reason": "INCORRECT_CATEGORY" }
        }]
      }]
    }"#;

    #[test]
    fn a_delivery_reads_in_its_order_and_says_what_it_ignored() {
        let items = webhook(DELIVERY.as_bytes()).unwrap();
        assert_eq!(
            items,
            vec![
                Item::Status(Status {
                    provider_id: "wamid.OUT1".into(),
                    status: Delivery::Read,
                    at_ms: Some(1_765_091_000_000),
                    error: None,
                }),
                Item::Status(Status {
                    provider_id: "wamid.OUT2".into(),
                    status: Delivery::Failed,
                    at_ms: Some(1_765_091_001_000),
                    error: Some(
                        "131026 Message undeliverable Receiver is incapable of receiving this message"
                            .into()
                    ),
                }),
                Item::Ignored(Ignored::StatusOfUnknownKind("deleted".into())),
                Item::Message(Message {
                    id: "wamid.IN1".into(),
                    from: "6281234567890".into(),
                    content: Content::Text("DAFTAR#Rina Wati#Jl. Merdeka 1#Bandung".into()),
                }),
                Item::Message(Message {
                    id: "wamid.IN2".into(),
                    from: "6281234567890".into(),
                    content: Content::Image {
                        media_id: "1479537139650973".into(),
                        caption: Some("AC bocor".into()),
                    },
                }),
                Item::Message(Message {
                    id: "wamid.IN3".into(),
                    from: "6281234567890".into(),
                    content: Content::Unsupported("audio".into()),
                }),
                Item::Ignored(Ignored::Kind {
                    id: "wamid.IN4".into(),
                    kind: "reaction".into(),
                }),
                Item::Ignored(Ignored::UnusableId(String::new())),
                Item::Template(TemplateUpdate::Status {
                    name: "rating_request".into(),
                    language: "id".into(),
                    event: "REJECTED".into(),
                    reason: Some("INCORRECT_CATEGORY".into()),
                }),
            ]
        );
    }

    #[test]
    fn what_is_not_a_payload_is_refused_and_an_empty_one_says_nothing() {
        for refused in [
            "",
            "{\"entry\": 3}",
            "{\"entry\": [{\"changes\": [{\"value\": {\"messages\": [{}]}}]}]}",
        ] {
            assert!(webhook(refused.as_bytes()).is_err(), "{refused}");
        }
        assert_eq!(webhook(b"{}").unwrap(), vec![]);
        assert_eq!(
            webhook(b"{\"object\": \"page\", \"entry\": []}").unwrap(),
            vec![]
        );
    }

    #[test]
    fn a_status_without_a_time_says_so_and_a_long_error_is_cut() {
        let body = format!(
            r#"{{"entry":[{{"changes":[{{"value":{{"statuses":[
                {{"id":"wamid.X","status":"failed","errors":[{{"title":"{}"}}]}}]}}}}]}}]}}"#,
            "x".repeat(2 * MAX_ERROR_CHARS)
        );
        let [Item::Status(status)] = &webhook(body.as_bytes()).unwrap()[..] else {
            panic!("one status");
        };
        assert_eq!(status.at_ms, None);
        assert_eq!(
            status.error.as_ref().unwrap().chars().count(),
            MAX_ERROR_CHARS
        );
    }

    #[test]
    fn registrations_parse_with_the_keyword_in_any_case() {
        assert_eq!(
            registration(" daftar # Budi Santoso # Jl. Merdeka 1 # Bandung "),
            Some(Ok(Registration {
                name: "Budi Santoso".into(),
                address: "Jl. Merdeka 1".into(),
                city: "Bandung".into(),
            }))
        );
        assert_eq!(registration("Halo, printer saya rusak"), None);
        assert_eq!(registration("DAFTARKAN saya"), None);
    }

    #[test]
    fn a_refused_registration_names_every_field_that_is_wrong() {
        assert_eq!(
            registration("DAFTAR#Budi"),
            Some(Err(RegistrationError::FieldCount))
        );
        assert_eq!(
            registration("DAFTAR#Budi#a#b#c"),
            Some(Err(RegistrationError::FieldCount))
        );
        assert_eq!(
            registration(&format!("DAFTAR##Jl. Merdeka\n1#{}", "B".repeat(101))),
            Some(Err(RegistrationError::Fields(vec![
                (RegistrationField::Name, TextProblem::Blank),
                (RegistrationField::City, TextProblem::TooLong { max: 100 }),
            ])))
        );
        assert_eq!(
            registration("DAFTAR#Budi\u{202E}nimdA#Jl. Merdeka 1#Bandung"),
            Some(Err(RegistrationError::Fields(vec![(
                RegistrationField::Name,
                TextProblem::InvisibleFormatting
            )])))
        );
    }
}
