//! Proving a phone: a six-digit code sent to it over WhatsApp.
//!
//! A phone number is not a secret, so owning one must be shown before it
//! links an app account to a customer record that CS or WhatsApp made for
//! it (registering with someone's number used to hand over their tickets,
//! chat, visits and address). The proof is the code we send to that number:
//!
//! * through the outbound queue as an approved **authentication template**
//!   (`[whatsapp] code_template`), because the customer may be outside the
//!   24-hour customer-service window where free text may not be sent;
//! * six random digits, valid for [`CODE_TTL`], at most [`MAX_ATTEMPTS`]
//!   wrong guesses, spent on first use;
//! * stored only as an HMAC under a server secret, and blanked from the
//!   outbound queue once sent;
//! * at most [`PER_PHONE`] codes per phone and [`PER_ADDRESS`] per client
//!   address in [`WINDOW`], so nobody floods a number with messages or
//!   walks through numbers from one place.
//!
//! Asking for a code answers the same whether or not the number belongs to
//! anyone: it tells a stranger nothing.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use rand::Rng as _;
use sha2::Sha256;

use crate::AppState;
use crate::db::{Tx, new_id, phone_codes, whatsapp};
use crate::service::ServiceError;
use crate::work::{Effects, Work};

/// How long a code stays valid.
pub const CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// Wrong guesses before a code is dead.
pub const MAX_ATTEMPTS: i64 = 5;
/// Codes per phone in [`WINDOW`].
pub const PER_PHONE: i64 = 3;
/// Codes asked from one client address in [`WINDOW`].
pub const PER_ADDRESS: i64 = 10;
/// The rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// Hashes codes under the server's secret.
pub struct CodeKey(Vec<u8>);

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

impl CodeKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(secret.to_vec())
    }

    fn mac(&self, id: &str, code: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(b"fieldops-phone-code\n");
        mac.update(id.as_bytes());
        mac.update(b"\n");
        mac.update(code.as_bytes());
        mac
    }

    fn hash(&self, id: &str, code: &str) -> String {
        hex::encode(self.mac(id, code).finalize().into_bytes())
    }

    fn matches(&self, id: &str, code: &str, hash: &str) -> bool {
        hex::decode(hash).is_ok_and(|h| self.mac(id, code).verify_slice(&h).is_ok())
    }
}

/// A code on its way to a phone.
#[derive(Debug, Clone)]
pub struct CodeSent {
    /// Names the code when it is redeemed.
    pub id: String,
    pub expires_in: Duration,
}

/// Which WhatsApp template carries the code.
#[derive(Debug, Clone)]
pub struct Template<'a> {
    pub name: &'a str,
    pub language: &'a str,
}

/// Sends a code to `phone` (E.164), asked from client address `from`.
pub async fn send(
    state: &AppState,
    phone: &str,
    from: Option<&str>,
) -> Result<CodeSent, ServiceError> {
    let settings = &state.config.whatsapp;
    let template = Template {
        name: &settings.code_template,
        language: &settings.code_template_language,
    };
    let mut work = Work::begin(state).await?;
    let sent = issue(
        work.tx(),
        &state.codes,
        template,
        phone,
        from,
        crate::db::now_ms(),
    )
    .await?;
    work.commit(Effects::none()).await?;
    state.helpdesk.wake.notify_one();
    Ok(sent)
}

/// Issues a code for `phone` (E.164), asked from client address `from`,
/// and queues it to the phone in `tx`; wake the sender after commit.
pub async fn issue(
    tx: &mut Tx,
    key: &CodeKey,
    template: Template<'_>,
    phone: &str,
    from: Option<&str>,
    now: i64,
) -> Result<CodeSent, ServiceError> {
    let window_start = now - millis(WINDOW);
    let (for_phone, oldest) = phone_codes::recent_for_phone(tx, phone, window_start).await?;
    if for_phone >= PER_PHONE {
        return Err(too_many(oldest, now));
    }
    if let Some(from) = from {
        let (from_here, oldest) = phone_codes::recent_from(tx, from, window_start).await?;
        if from_here >= PER_ADDRESS {
            return Err(too_many(oldest, now));
        }
    }
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let id = new_id();
    phone_codes::insert(
        tx,
        &id,
        phone,
        &key.hash(&id, &code),
        from,
        now,
        now + millis(CODE_TTL),
    )
    .await?;
    // Meta's authentication templates take the code in the body and again
    // in the copy-code button.
    let parameter = serde_json::json!([{ "type": "text", "text": code }]);
    let message = serde_json::json!({
        "name": template.name,
        "language": { "code": template.language },
        "components": [
            { "type": "body", "parameters": parameter },
            { "type": "button", "sub_type": "url", "index": "0", "parameters": parameter },
        ],
    });
    let readable = format!("Kode verifikasi fieldops: {code}");
    whatsapp::enqueue_template(tx, phone, &readable, &message, true, 0).await?;
    Ok(CodeSent {
        id,
        expires_in: CODE_TTL,
    })
}

/// Why a code did not prove the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Unknown, for another phone, expired, spent, out of attempts or wrong:
    /// one answer for all, so a guesser learns nothing.
    Invalid,
}

/// Redeems code `id` for `phone` in `tx`: spends it when `code` is right,
/// counts a wrong guess otherwise. Commit `tx` either way — the count of a
/// wrong guess must outlive the request that made it.
pub async fn redeem(
    tx: &mut Tx,
    key: &CodeKey,
    id: &str,
    code: &str,
    phone: &str,
    now: i64,
) -> Result<Result<(), Refused>, ServiceError> {
    let Some(row) = phone_codes::get(tx, id).await? else {
        return Ok(Err(Refused::Invalid));
    };
    let usable = row.phone == phone
        && row.used_at.is_none()
        && row.expires_at > now
        && row.attempts < MAX_ATTEMPTS;
    if !usable {
        return Ok(Err(Refused::Invalid));
    }
    if !key.matches(&row.id, code.trim(), &row.code_hash) {
        phone_codes::count_attempt(tx, &row.id).await?;
        return Ok(Err(Refused::Invalid));
    }
    if !phone_codes::spend(tx, &row.id, now).await? {
        return Ok(Err(Refused::Invalid));
    }
    Ok(Ok(()))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn too_many(oldest: Option<i64>, now: i64) -> ServiceError {
    let frees_at = oldest.unwrap_or(now) + millis(WINDOW);
    let secs = u64::try_from(frees_at - now)
        .unwrap_or(0)
        .div_ceil(1000)
        .max(1);
    ServiceError::Throttled {
        detail: crate::t!("problem-phone-code-throttled", minutes = secs.div_ceil(60)),
        retry_after_secs: secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_bound_to_their_id_and_key() {
        let key = CodeKey::new(b"secret");
        let hash = key.hash("id-1", "123456");
        assert!(key.matches("id-1", "123456", &hash));
        assert!(!key.matches("id-1", "123457", &hash));
        assert!(!key.matches("id-2", "123456", &hash), "another code's hash");
        assert!(!CodeKey::new(b"other").matches("id-1", "123456", &hash));
        assert!(!key.matches("id-1", "123456", "not hex"));
    }
}
