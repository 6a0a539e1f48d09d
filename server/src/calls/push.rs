//! Waking a phone for a call. A phone without a live connection cannot
//! hear an invite, so with every invite the server also pushes to the
//! callee's registered devices (`PUT /api/v1/me/push-token`): FCM on
//! Android (a high-priority data message; the app shows the call through
//! ConnectionService), an APNs VoIP push on iOS (the app reports it to
//! CallKit at once, as iOS requires). Either way the app then opens its
//! live connection, and the invite's state reaches it as on any device.
//!
//! [`PushProvider`] is the seam: [`HttpPush`] speaks both services' HTTP
//! APIs at configurable base URLs (`[calls.push]`), so the tests point it
//! at a local server speaking the same wire format.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::json;

use crate::config::PushConfig;
use crate::db::calls::PushTokenRow;

/// What a call push says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPush {
    pub call_id: String,
    pub caller_name: String,
    pub ticket_id: Option<String>,
    pub media: String,
    pub expires_at_ms: i64,
}

/// A future a provider returns.
pub type Sent<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// Sends call pushes to devices.
pub trait PushProvider: Send + Sync + std::fmt::Debug {
    /// Pushes `push` to the device `to` (its platform says how).
    fn send<'a>(&'a self, to: &'a PushTokenRow, push: &'a CallPush) -> Sent<'a>;
}

/// FCM HTTP v1 and APNs over HTTP.
#[derive(Debug, Clone)]
pub struct HttpPush {
    config: PushConfig,
    http: reqwest::Client,
}

impl HttpPush {
    pub fn new(config: PushConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self { config, http }
    }

    async fn fcm(&self, token: &str, push: &CallPush) -> anyhow::Result<()> {
        let Some(access) = &self.config.fcm_access_token else {
            return Ok(());
        };
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.config.fcm_url.trim_end_matches('/'),
            self.config.fcm_project
        );
        let body = json!({ "message": {
            "token": token,
            "data": {
                "type": "call",
                "call_id": push.call_id,
                "caller_name": push.caller_name,
                "ticket_id": push.ticket_id.clone().unwrap_or_default(),
                "media": push.media,
                "expires_at_ms": push.expires_at_ms.to_string(),
            },
            "android": { "priority": "HIGH", "ttl": "30s" },
        }});
        let response = self
            .http
            .post(url)
            .bearer_auth(access)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "FCM answered {}",
            response.status()
        );
        Ok(())
    }

    async fn apns(&self, token: &str, push: &CallPush) -> anyhow::Result<()> {
        let Some(auth) = &self.config.apns_auth_token else {
            return Ok(());
        };
        let url = format!(
            "{}/3/device/{token}",
            self.config.apns_url.trim_end_matches('/')
        );
        let body = json!({
            "aps": {},
            "call_id": push.call_id,
            "caller_name": push.caller_name,
            "ticket_id": push.ticket_id,
            "media": push.media,
            "expires_at_ms": push.expires_at_ms,
        });
        let response = self
            .http
            .post(url)
            .bearer_auth(auth)
            .header("apns-push-type", "voip")
            .header("apns-topic", format!("{}.voip", self.config.apns_topic))
            .header("apns-priority", "10")
            .header("apns-expiration", (push.expires_at_ms / 1000).to_string())
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "APNs answered {}",
            response.status()
        );
        Ok(())
    }
}

impl PushProvider for HttpPush {
    fn send<'a>(&'a self, to: &'a PushTokenRow, push: &'a CallPush) -> Sent<'a> {
        Box::pin(async move {
            match to.platform.as_str() {
                "fcm" => self.fcm(&to.token, push).await,
                "apns_voip" => self.apns(&to.token, push).await,
                other => anyhow::bail!("no push platform {other}"),
            }
        })
    }
}
