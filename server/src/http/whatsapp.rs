//! The WhatsApp Cloud API webhook: the `GET` verify handshake and the `POST`
//! deliveries, whose `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with
//! the app secret) is checked before anything is parsed.
//!
//! This adapter only checks the signature and parses (with
//! `fieldops_inbound::whatsapp`, pure and fuzzed); what a message means is the help
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
use fieldops_inbound::whatsapp::{self, Ignored, Item, Message};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::IntoParams;

use super::extract::Query;
use crate::AppState;
use crate::domain;
use crate::error::{ApiError, ApiResult};
use crate::helpdesk::whatsapp::{inbound, status};

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
    let items = whatsapp::webhook(&body)
        .map_err(|_| ApiError::BadRequest(t!("problem-whatsapp-not-a-payload")))?;
    // An error is a 5xx: Meta retries, and the message id log makes that safe.
    for item in items {
        match item {
            Item::Template(update) => status::template(&state, update).await?,
            Item::Status(update) => status::delivery(&state, update).await?,
            Item::Message(message) => handle(&state, message).await?,
            Item::Ignored(Ignored::StatusOfUnknownKind(status)) => {
                tracing::info!(%status, "WhatsApp status of an unknown kind; ignored");
            }
            Item::Ignored(Ignored::UnusableId(id)) => {
                tracing::info!(%id, "WhatsApp message or status without a usable id; ignored");
            }
            Item::Ignored(Ignored::Kind { id, kind }) => {
                tracing::info!(%id, %kind, "WhatsApp message of a kind fieldops ignores");
            }
        }
    }
    Ok(StatusCode::OK)
}

/// Hands one delivered message to the help desk, from the sender's number.
async fn handle(state: &AppState, m: Message) -> ApiResult<()> {
    let Ok(phone) = domain::phone_e164(
        &format!("+{}", m.from.trim_start_matches('+')),
        &state.config.default_phone_region,
    ) else {
        tracing::info!(id = %m.id, "WhatsApp message from an invalid number; ignored");
        return Ok(());
    };
    let inbound = inbound::Inbound {
        message_id: m.id,
        phone,
        content: m.content,
    };
    inbound::receive(state, inbound).await?;
    Ok(())
}
