//! Access tokens (short-lived JWT, HS256) and refresh tokens (random, stored hashed).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::domain::Role;

const ISSUER: &str = "fieldops";

/// What an access token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The device session the token belongs to.
    pub sid: String,
    /// The role when the token was issued (the server re-reads it per request).
    pub role: Role,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signing keys and lifetimes.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl,
            refresh_ttl,
        }
    }

    pub fn issue_access(
        &self,
        user_id: &str,
        session_id: &str,
        role: Role,
    ) -> anyhow::Result<String> {
        let now = jiff::Timestamp::now().as_second();
        let claims = Claims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            role,
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Checks signature, issuer and expiry (no leeway).
    pub fn verify_access(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

impl TokenKeys {
    /// True when `token` is ours and well formed but past its expiry (the
    /// client should refresh rather than log in again).
    pub fn is_expired(&self, token: &str) -> bool {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.validate_exp = false;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .is_ok_and(|data| data.claims.exp <= jiff::Timestamp::now().as_second())
    }
}

/// A new secret for signing, base64url.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new refresh token and the hash to store for it.
pub fn new_refresh_token() -> (String, String) {
    let token = random_secret();
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &[u8], ttl: u64) -> TokenKeys {
        TokenKeys::new(secret, Duration::from_secs(ttl), Duration::from_secs(60))
    }

    #[test]
    fn access_tokens_round_trip_and_reject_forgeries() {
        let k = keys(b"secret-one", 60);
        let token = k.issue_access("u1", "s1", Role::Cs).expect("issue");
        let claims = k.verify_access(&token).expect("valid");
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str(), claims.role),
            ("u1", "s1", Role::Cs)
        );
        assert!(
            keys(b"secret-two", 60).verify_access(&token).is_none(),
            "other key"
        );
        let mut tampered = token.clone();
        tampered.insert(tampered.len() - 3, 'x');
        assert!(k.verify_access(&tampered).is_none());
        assert!(k.verify_access("not.a.jwt").is_none());
    }

    #[test]
    fn expired_access_tokens_are_rejected() {
        let k = keys(b"secret", 60);
        let now = jiff::Timestamp::now().as_second();
        let claims = Claims {
            sub: "u1".into(),
            sid: "s1".into(),
            role: Role::Admin,
            iss: ISSUER.into(),
            iat: now - 120,
            exp: now - 1,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding)
            .expect("encode");
        assert!(k.verify_access(&token).is_none());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(ha, hash_refresh_token(&a));
        assert_eq!(ha.len(), 64);
    }
}
