//! The ICE servers handed to both devices of a call: STUN as configured,
//! TURN with a credential that expires, by the REST scheme coturn implements
//! (`use-auth-secret`): the user name is `<expiry unix seconds>:<account>`
//! and the password is base64(HMAC-SHA1(secret, user name)), so the TURN
//! server checks it with the shared secret alone, and a leaked credential
//! dies with its expiry.

use base64::Engine as _;
use fieldops_sync::call::IceServer;
use hmac::{Hmac, Mac as _};

use crate::config::CallsConfig;

/// The servers for `account`'s device, with credentials valid from `now_ms`
/// for `[calls] turn_credential_ttl_secs`.
pub fn servers(config: &CallsConfig, account: &str, now_ms: i64) -> Vec<IceServer> {
    let mut servers = Vec::new();
    if !config.stun_urls.is_empty() {
        servers.push(IceServer {
            urls: config.stun_urls.clone(),
            username: None,
            credential: None,
        });
    }
    if !config.turn_urls.is_empty() {
        let (username, credential) = match &config.turn_secret {
            Some(secret) => {
                let ttl = i64::try_from(config.turn_credential_ttl_secs).unwrap_or(i64::MAX);
                let expiry = (now_ms / 1000).saturating_add(ttl);
                let username = format!("{expiry}:{account}");
                let credential = turn_credential(secret, &username);
                (Some(username), Some(credential))
            }
            None => (None, None),
        };
        servers.push(IceServer {
            urls: config.turn_urls.clone(),
            username,
            credential,
        });
    }
    servers
}

/// coturn's REST-API password for `username`.
pub fn turn_credential(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_the_coturn_rest_scheme() {
        // RFC 2202's HMAC-SHA1 test case 2, as coturn would compute it for
        // the user name "what do ya want for nothing?" and the secret "Jefe".
        assert_eq!(
            turn_credential("Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
        let config = CallsConfig {
            stun_urls: vec!["stun:stun.example.net:3478".into()],
            turn_urls: vec!["turn:turn.example.net:3478?transport=udp".into()],
            turn_secret: Some("s3cret".into()),
            turn_credential_ttl_secs: 3600,
            ..CallsConfig::default()
        };
        let servers = servers(&config, "user-1", 1_700_000_000_000);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].username, None);
        let turn = &servers[1];
        assert_eq!(turn.username.as_deref(), Some("1700003600:user-1"));
        assert_eq!(
            turn.credential.as_deref(),
            Some(turn_credential("s3cret", "1700003600:user-1").as_str())
        );
        assert!(super::servers(&CallsConfig::default(), "u", 0).is_empty());
    }
}
