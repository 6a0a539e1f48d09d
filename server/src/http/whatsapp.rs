//! The WhatsApp Cloud API webhook: the `GET` verify handshake and the `POST`
//! deliveries, whose `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with
//! the app secret) is checked before anything is parsed.
//!
//! Each text message is handled once (by message id; Meta redelivers):
//! `DAFTAR#<name>#<address>#<city>` creates or updates the sender's customer
//! record (`created_via = whatsapp`, phone in E.164) and queues a confirmation;
//! any other text from a known customer goes into their chat conversation; a
//! stranger gets the registration format. Anything else (statuses, media,
//! unknown shapes) is acknowledged and logged, so Meta does not retry it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::IntoParams;

use super::extract::Query;
use crate::AppState;
use crate::db::chat;
use crate::db::customers::{self, CustomerFields};
use crate::db::{audit, whatsapp};
use crate::domain::{self, CreatedVia};
use crate::error::{ApiError, ApiResult};
use crate::events::Audience;
use crate::helpdesk::whatsapp::{Parsed, REGISTRATION_HELP, parse_registration};

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
    #[serde(default)]
    value: ChangeValue,
}

#[derive(Debug, Default, Deserialize)]
struct ChangeValue {
    #[serde(default)]
    messages: Vec<InboundMessage>,
}

#[derive(Debug, Deserialize)]
struct InboundMessage {
    id: String,
    from: String,
    #[serde(rename = "type")]
    kind: String,
    text: Option<TextBody>,
}

#[derive(Debug, Deserialize)]
struct TextBody {
    body: String,
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
        return Err(ApiError::NotFound("WhatsApp webhook (not configured)"));
    };
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !signature_ok(secret, &body, header) {
        tracing::warn!("WhatsApp webhook with a missing or wrong signature");
        return Err(ApiError::Unauthorized("invalid X-Hub-Signature-256"));
    }
    let payload: Payload = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("not a WhatsApp webhook payload".into()))?;
    for message in payload
        .entry
        .into_iter()
        .flat_map(|e| e.changes)
        .flat_map(|c| c.value.messages)
    {
        // An error is a 5xx: Meta retries, and the message id log makes that safe.
        handle(&state, message).await?;
    }
    Ok(StatusCode::OK)
}

async fn handle(state: &AppState, m: InboundMessage) -> ApiResult<()> {
    if m.id.is_empty() || m.id.len() > 200 || whatsapp::seen(&state.db, &m.id).await? {
        tracing::info!(id = %m.id, "WhatsApp message already handled or without id; ignored");
        return Ok(());
    }
    let Ok(phone) = domain::phone_e164(
        &format!("+{}", m.from.trim_start_matches('+')),
        &state.config.default_phone_region,
    ) else {
        tracing::info!(id = %m.id, "WhatsApp message from an invalid number; ignored");
        return Ok(());
    };
    // A customer's words are never refused (Meta would redeliver them
    // forever): what no text may hold is dropped, and a text with nothing
    // left is acknowledged like any message we do not handle.
    let text = match (&m.kind[..], &m.text) {
        ("text", Some(t)) => Some(fieldops_sync::text::sanitize(&t.body)),
        _ => None,
    };
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        let mut tx = state.db.begin_write().await?;
        whatsapp::claim_inbound(&mut tx, &m.id, &phone, "ignored").await?;
        tx.commit().await?;
        tracing::info!(id = %m.id, kind = %m.kind, "WhatsApp message without text ignored");
        return Ok(());
    };
    match parse_registration(&text) {
        Parsed::Registration(r) => register(state, &m.id, &phone, r).await,
        Parsed::BadRegistration(why) => {
            let mut tx = state.db.begin_write().await?;
            if whatsapp::claim_inbound(&mut tx, &m.id, &phone, "bad_registration").await? {
                whatsapp::enqueue(
                    &mut tx,
                    &phone,
                    &format!("Format pendaftaran salah ({why}). {REGISTRATION_HELP}"),
                )
                .await?;
            }
            tx.commit().await?;
            state.helpdesk.wake.notify_one();
            Ok(())
        }
        Parsed::NotRegistration => into_chat(state, &m.id, &phone, &text).await,
    }
}

async fn register(
    state: &AppState,
    message_id: &str,
    phone: &str,
    r: crate::helpdesk::whatsapp::Registration,
) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    if !whatsapp::claim_inbound(&mut tx, message_id, phone, "registration").await? {
        return Ok(());
    }
    let (row, action) = match customers::by_phone(&mut tx, phone).await? {
        Some(existing) => {
            let fields = CustomerFields {
                name: r.name.clone(),
                phone: existing.phone.clone(),
                email: existing.email.clone(),
                address: r.address.clone(),
                city: r.city.clone(),
                location: existing.lat.zip(existing.lon),
            };
            let row = customers::update(&mut tx, &existing.id, &fields).await?;
            crate::db::tickets::rename_customer(&mut tx, &row.id, &row.name).await?;
            (row, "customer.updated")
        }
        None => {
            let fields = CustomerFields {
                name: r.name.clone(),
                phone: phone.to_owned(),
                email: None,
                address: r.address.clone(),
                city: r.city.clone(),
                location: None,
            };
            (
                customers::insert(&mut tx, &fields, CreatedVia::Whatsapp, true).await?,
                "customer.created",
            )
        }
    };
    audit::record(
        &mut tx,
        None,
        action,
        "customer",
        &row.id,
        serde_json::json!({ "via": "whatsapp", "message_id": message_id }),
    )
    .await?;
    let reply = format!(
        "Terima kasih {}, pendaftaran Anda berhasil. Balas pesan ini untuk menghubungi layanan pelanggan kami.",
        row.name
    );
    whatsapp::enqueue(&mut tx, phone, &reply).await?;
    tx.commit().await?;
    state.helpdesk.wake.notify_one();
    let data = serde_json::json!({ "id": row.id, "name": row.name, "status": row.status, "created_via": row.created_via });
    state
        .events
        .publish(
            action,
            Audience::Staff {
                department_id: None,
            },
            data,
        )
        .await;
    Ok(())
}

async fn into_chat(state: &AppState, message_id: &str, phone: &str, text: &str) -> ApiResult<()> {
    // Sanitized already: only a text longer than a chat message is cut.
    let body: String = text.chars().take(4000).collect();
    let customer = {
        let mut tx = state.db.begin_write().await?;
        let c = customers::by_phone(&mut tx, phone).await?;
        if c.is_none()
            && whatsapp::claim_inbound(&mut tx, message_id, phone, "unknown_sender").await?
        {
            whatsapp::enqueue(&mut tx, phone, REGISTRATION_HELP).await?;
        }
        tx.commit().await?;
        c
    };
    let Some(customer) = customer else {
        state.helpdesk.wake.notify_one();
        return Ok(());
    };
    let existing = {
        let mut tx = state.db.begin_write().await?;
        let id = chat::latest_of_customer(&mut tx, &customer.id).await?;
        tx.commit().await?;
        id
    };
    let conversation_id = match existing {
        Some(id) => id,
        None => super::chat::open(state, &customer.id, "whatsapp").await?,
    };
    let mut tx = state.db.begin_write().await?;
    if !whatsapp::claim_inbound(&mut tx, message_id, phone, "chat").await? {
        return Ok(());
    }
    let (row, new) = chat::add_message(
        &mut tx,
        &conversation_id,
        None,
        "customer",
        &body,
        Some(message_id),
    )
    .await?;
    let notices = if new {
        crate::helpdesk::chat::notices(state, &customer.id, &row).await
    } else {
        vec![]
    };
    crate::visits::finish(state, tx, &[], notices).await?;
    Ok(())
}
