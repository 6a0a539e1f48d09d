//! WhatsApp Cloud API: the registration message format (parsed by
//! `fieldops_inbound::whatsapp`, worded here) and the sender that drains
//! the persistent outbound queue (`db::whatsapp`) with retries.
//!
//! Outbound requests are `POST {api_base_url}/{phone_number_id}/messages` with
//! `Authorization: Bearer {access_token}` and the Cloud API text body
//! `{"messaging_product":"whatsapp","recipient_type":"individual","to":"<digits>",
//! "type":"text","text":{"preview_url":false,"body":"..."}}`, or, for
//! approved templates (which may be sent outside the 24-hour window),
//! `"type":"template","template":{"name":..,"language":{"code":..},"components":[..]}`. A 2xx marks the
//! message sent; 429, 5xx and network errors retry with exponential backoff up
//! to `max_attempts`; other 4xx fail at once. Each sent message is announced
//! to staff as a `whatsapp.sent` live event.

pub mod inbound;
pub mod media;
pub mod status;

use std::time::Duration;

use fieldops_inbound::whatsapp::{RegistrationError, RegistrationField};

use crate::AppState;
use crate::db::{Tx, customers, now_ms, whatsapp};
use crate::events::{Happened, Notice, WhatsappSent};
use crate::work::{Effects, Work};

/// How long a sender holds a message before another may retry it.
const LEASE_MS: i64 = 60_000;
/// First retry delay; doubles per attempt, capped at 15 minutes.
const BACKOFF_BASE_MS: i64 = 500;

/// A registration text: `DAFTAR#<name>#<address>#<city>`.
pub use fieldops_inbound::whatsapp::Registration;

/// What a registration-looking text turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Registration(Registration),
    /// Starts with `DAFTAR` but does not have the right fields: why, in
    /// the language being spoken.
    BadRegistration(String),
    NotRegistration,
}

/// The reply that explains the format, in the language being spoken.
pub fn registration_help() -> String {
    t!("wa-register-help")
}

/// Parses `DAFTAR#name#address#city` (case-insensitive keyword, fields
/// trimmed; `fieldops_inbound::whatsapp::registration`), wording what is
/// wrong in the language being spoken.
pub fn parse_registration(text: &str) -> Parsed {
    match fieldops_inbound::whatsapp::registration(text) {
        None => Parsed::NotRegistration,
        Some(Ok(registration)) => Parsed::Registration(registration),
        Some(Err(RegistrationError::FieldCount)) => {
            Parsed::BadRegistration(t!("wa-register-fields"))
        }
        Some(Err(RegistrationError::Fields(refused))) => Parsed::BadRegistration(
            refused
                .into_iter()
                .map(|(field, problem)| {
                    let field = match field {
                        RegistrationField::Name => t!("wa-register-name"),
                        RegistrationField::Address => t!("wa-register-address"),
                        RegistrationField::City => t!("wa-register-city"),
                    };
                    let problem = crate::i18n::describe(problem);
                    t!("wa-register-field", field = &field, problem = &problem)
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// Queues a text to a customer's phone, in the transaction of the change
/// that says it; wake the sender (`helpdesk.wake`) once it commits.
pub async fn enqueue_to_customer(tx: &mut Tx, customer_id: &str, body: &str) -> sqlx::Result<()> {
    if let Some(customer) = customers::get(&mut **tx, customer_id).await? {
        whatsapp::enqueue(tx, &customer.phone, body).await?;
    }
    Ok(())
}

/// Sends every due message; returns how many were sent.
pub async fn send_due(state: &AppState) -> anyhow::Result<usize> {
    let settings = &state.config.whatsapp;
    let Some(token) = settings.access_token.as_deref() else {
        return Ok(0);
    };
    let url = format!(
        "{}/{}/messages",
        settings.api_base_url.trim_end_matches('/'),
        settings.phone_number_id
    );
    let mut sent = 0;
    while let Some(msg) = whatsapp::lease_next(&state.db, now_ms(), LEASE_MS).await? {
        let to = msg.to_phone.trim_start_matches('+');
        let template = msg
            .template
            .as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
        let body = match template {
            Some(template) => serde_json::json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "template",
                "template": template,
            }),
            None => serde_json::json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": { "preview_url": false, "body": msg.body },
            }),
        };
        let result = state
            .helpdesk
            .http
            .post(&url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
        let (error, retryable) = match result {
            Ok(r) if r.status().is_success() => {
                let reply: serde_json::Value = r.json().await.unwrap_or_default();
                let provider_id = reply["messages"][0]["id"].as_str();
                let mut work = Work::begin(state).await?;
                whatsapp::mark_sent(work.tx(), &msg.id, provider_id).await?;
                let sent_one = Happened::WhatsappSent(WhatsappSent {
                    id: msg.id.clone(),
                    to: msg.to_phone.clone(),
                    attempts: msg.attempts,
                });
                work.commit(Effects::told(vec![Notice::staff(sent_one)]))
                    .await?;
                sent += 1;
                continue;
            }
            Ok(r) => {
                let status = r.status();
                (
                    format!("HTTP {status}"),
                    status.as_u16() == 429 || status.is_server_error(),
                )
            }
            Err(e) => (format!("request failed: {e}"), true),
        };
        let attempts = u32::try_from(msg.attempts).unwrap_or(u32::MAX);
        let retry_at = (retryable && attempts < settings.max_attempts).then(|| {
            let delay = BACKOFF_BASE_MS.saturating_mul(1 << attempts.min(20)) / 2;
            now_ms() + delay.min(15 * 60_000)
        });
        tracing::warn!(id = %msg.id, attempts, %error, retry = retry_at.is_some(), "WhatsApp send failed");
        whatsapp::mark_attempt_failed(&state.db, &msg.id, &error, retry_at).await?;
        if retry_at.is_none() {
            // Failed for good: a rating request that never left is an
            // admin's to see, not a silent gap in the response rate.
            let mut work = Work::begin(state).await?;
            let notice = status::undelivered(work.tx(), &msg.id, &error).await?;
            work.commit(Effects::told(notice.into_iter().collect()))
                .await?;
        }
        if retry_at.is_some() {
            // Retry on a later pass, not in this loop.
            break;
        }
    }
    Ok(sent)
}

/// The HTTP client for the Cloud API (https, with the platform's trusted
/// roots; plain http for a local stand-in or an egress proxy).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Meta's endpoints and media URLs are https: the client tries them
    /// (nothing listens on loopback port 9, so it fails to connect), where
    /// a client built without TLS refuses the scheme before connecting.
    #[tokio::test]
    async fn the_cloud_api_client_speaks_https() {
        let sent = client()
            .get("https://127.0.0.1:9/v21.0/1/messages")
            .send()
            .await;
        assert!(
            sent.as_ref().is_err_and(reqwest::Error::is_connect),
            "{sent:?}"
        );
    }

    /// The parsing is `fieldops_inbound`'s (tested there); here, that each
    /// outcome comes through, a refusal worded.
    #[test]
    fn registrations_parse() {
        assert_eq!(
            parse_registration(" daftar # Budi Santoso # Jl. Merdeka 1 # Bandung "),
            Parsed::Registration(Registration {
                name: "Budi Santoso".into(),
                address: "Jl. Merdeka 1".into(),
                city: "Bandung".into(),
            })
        );
        for refused in ["DAFTAR#Budi", "DAFTAR##x#y"] {
            assert!(
                matches!(parse_registration(refused), Parsed::BadRegistration(ref why) if !why.is_empty()),
                "{refused}"
            );
        }
        assert_eq!(
            parse_registration("Halo, printer saya rusak"),
            Parsed::NotRegistration
        );
    }
}
