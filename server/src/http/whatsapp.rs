//! The WhatsApp Cloud API webhook: the `GET` verify handshake and the `POST`
//! deliveries, whose `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with
//! the app secret) is checked before anything is parsed.
//!
//! This adapter only checks and parses; what a message means is the help
//! desk's (`helpdesk::whatsapp::inbound`): each message is handled once (by
//! message id; Meta redelivers), a registration text creates or updates the
//! sender's customer record, any other text from a known customer goes into
//! their chat conversation, a stranger gets the registration format.
//! Delivery statuses (`sent`, `delivered`, `read`, `failed`) are recorded
//! on the message they are about, and template reviews (rejected, paused,
//! re-categorised) open alerts for admins (`helpdesk::whatsapp::status`).
//! Images are fetched from the Cloud API into the conversation
//! (`helpdesk::whatsapp::media`); voice notes, videos, documents, stickers,
//! places and contacts are recorded as something fieldops cannot show.
//! Anything else (reactions, unknown shapes) is acknowledged and logged,
//! so Meta does not retry it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::IntoParams;

use super::extract::Query;
use crate::AppState;
use crate::domain;
use crate::error::{ApiError, ApiResult};
use crate::helpdesk::whatsapp::inbound::{self, Content};
use crate::helpdesk::whatsapp::status::{self, Delivery, StatusUpdate, TemplateUpdate};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyParams {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// The subscription handshake: echoes `hub.challenge` when the token matches.
#[utoipa::path(get, path = "/webhooks/whatsapp", tag = "webhooks", params(VerifyParams),
    responses((status = 200, body = String), (status = 403, body = crate::error::Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    Query(p): Query<VerifyParams>,
) -> ApiResult<String> {
    let expected = state.config.whatsapp.verify_token.as_deref();
    match (
        p.mode.as_deref(),
        p.verify_token.as_deref(),
        expected,
        p.challenge,
    ) {
        (Some("subscribe"), Some(got), Some(want), Some(challenge))
            if constant_time_eq(got.as_bytes(), want.as_bytes()) =>
        {
            Ok(challenge)
        }
        _ => Err(ApiError::Forbidden),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn signature_ok(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

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

/// Message types a person sends that fieldops records without keeping.
const UNSUPPORTED: [&str; 6] = [
    "audio", "video", "document", "sticker", "location", "contacts",
];

/// Deliveries from Meta: signature first, then each message once.
#[utoipa::path(post, path = "/webhooks/whatsapp", tag = "webhooks",
    request_body(content = Object, description = "Cloud API webhook payload"),
    responses((status = 200), (status = 401, body = crate::error::Problem), (status = 400, body = crate::error::Problem),
              (status = 404, description = "No WhatsApp app secret is configured", body = crate::error::Problem)))]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let Some(secret) = state.config.whatsapp.app_secret.as_deref() else {
        // Not a fault of the server's: this deployment has no WhatsApp.
        tracing::warn!("WhatsApp webhook called but no app secret is configured");
        return Err(ApiError::NotFound("webhook"));
    };
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !signature_ok(secret, &body, header) {
        tracing::warn!("WhatsApp webhook with a missing or wrong signature");
        return Err(ApiError::Unauthorized(t!("problem-auth-webhook-signature")));
    }
    let payload: Payload = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest(t!("problem-whatsapp-not-a-payload")))?;
    for change in payload.entry.into_iter().flat_map(|e| e.changes) {
        if let Some(update) = template_update(&change.field, &change.value) {
            status::template(&state, update).await?;
        }
        for s in change.value.statuses {
            if let Some(update) = status_update(s) {
                status::delivery(&state, update).await?;
            }
        }
        for message in change.value.messages {
            // An error is a 5xx: Meta retries, and the message id log makes that safe.
            handle(&state, message).await?;
        }
    }
    Ok(StatusCode::OK)
}

/// A template review, when `field` is one.
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

/// A delivery status, when it is a well-formed one.
fn status_update(s: StatusValue) -> Option<StatusUpdate> {
    let Some(status) = Delivery::parse(&s.status) else {
        tracing::info!(status = %s.status, "WhatsApp status of an unknown kind; ignored");
        return None;
    };
    if s.id.is_empty() || s.id.len() > 200 {
        return None;
    }
    let at = s
        .timestamp
        .parse::<i64>()
        .ok()
        .and_then(|secs| secs.checked_mul(1000))
        .unwrap_or_else(crate::db::now_ms);
    let error = s.errors.first().map(|e| {
        let details = e.error_data.as_ref().map_or("", |d| d.details.as_str());
        let code = e.code.map(|c| format!("{c} ")).unwrap_or_default();
        let text = format!("{code}{} {details}", e.title);
        text.trim().chars().take(500).collect()
    });
    Some(StatusUpdate {
        provider_id: s.id,
        status,
        at,
        error,
    })
}

/// Parses one delivered message and hands it to the help desk.
async fn handle(state: &AppState, m: InboundMessage) -> ApiResult<()> {
    if m.id.is_empty() || m.id.len() > 200 {
        tracing::info!(id = %m.id, "WhatsApp message without a usable id; ignored");
        return Ok(());
    }
    let Ok(phone) = domain::phone_e164(
        &format!("+{}", m.from.trim_start_matches('+')),
        &state.config.default_phone_region,
    ) else {
        tracing::info!(id = %m.id, "WhatsApp message from an invalid number; ignored");
        return Ok(());
    };
    let content = match (&m.kind[..], m.text, m.image) {
        ("text", Some(t), _) => Content::Text(t.body),
        ("image", _, Some(image)) => Content::Image {
            media_id: image.id,
            caption: image.caption,
        },
        (kind, _, _) if UNSUPPORTED.contains(&kind) => Content::Unsupported(kind.to_owned()),
        (kind, _, _) => {
            tracing::info!(id = %m.id, kind, "WhatsApp message of a kind fieldops ignores");
            return Ok(());
        }
    };
    let inbound = inbound::Inbound {
        message_id: m.id,
        phone,
        content,
    };
    inbound::receive(state, inbound).await?;
    Ok(())
}
