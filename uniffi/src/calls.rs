//! Calls over FFI: the pop-up's answers, calling support, the signalling
//! the app's WebRTC stack sends and receives, missed calls.

use fieldops_core::CallInfo;
use fieldops_core::sync::call::{CallId, IceServer, Media};

use crate::error::parse_id;
use crate::{FieldopsClient, FieldopsError, Result};

/// A call as the app shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CallRecord {
    pub call_id: String,
    /// Placed by this device.
    pub outgoing: bool,
    /// Who is at the other end.
    pub peer_name: String,
    pub from_staff: bool,
    pub ticket_id: Option<String>,
    /// `audio` or `video`.
    pub media: String,
    /// `calling`, `ringing`, `connected` or `ended`.
    pub state: String,
    /// Why it ended (`declined`, `missed`, ..., `refused:<code>`).
    pub end_reason: Option<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    /// Seen in the missed calls.
    pub seen: bool,
}

impl From<CallInfo> for CallRecord {
    fn from(c: CallInfo) -> Self {
        CallRecord {
            call_id: c.call_id.to_string(),
            outgoing: c.outgoing,
            peer_name: c.peer_name,
            from_staff: c.from_staff,
            ticket_id: c.ticket_id.map(|t| t.to_string()),
            media: c.media.as_str().to_owned(),
            state: c.state.as_str().to_owned(),
            end_reason: c.end_reason,
            created_at_ms: c.created_at_ms,
            expires_at_ms: c.expires_at_ms,
            seen: c.seen,
        }
    }
}

/// A STUN or TURN server for the peer connection (`RTCIceServer`).
#[derive(Debug, Clone, uniffi::Record)]
pub struct IceServerRecord {
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

impl From<IceServer> for IceServerRecord {
    fn from(s: IceServer) -> Self {
        IceServerRecord {
            urls: s.urls,
            username: s.username,
            credential: s.credential,
        }
    }
}

fn call_id(text: &str) -> Result<CallId> {
    parse_id("call_id", text)
}

fn media(text: &str) -> Result<Media> {
    text.parse().map_err(|_| FieldopsError::InvalidInput {
        field: "media".into(),
        reason: "must be audio or video".into(),
    })
}

#[uniffi::export]
impl FieldopsClient {
    /// Calls customer service (customers); `EventRecord::CallChanged`
    /// follows. Needs the live connection (`start_live`).
    pub fn call_support(&self, ticket_id: Option<String>, media_kind: String) -> Result<String> {
        let ticket = ticket_id.map(|t| parse_id("ticket_id", &t)).transpose()?;
        let id = self
            .inner
            .calls()
            .call_support(ticket, media(&media_kind)?)?;
        Ok(id.to_string())
    }

    /// Takes the call ringing on this device.
    pub fn accept_call(&self, call_id: String) -> Result<()> {
        Ok(self.inner.calls().accept(self::call_id(&call_id)?)?)
    }

    /// Declines the ringing call.
    pub fn decline_call(&self, call_id: String) -> Result<()> {
        Ok(self.inner.calls().decline(self::call_id(&call_id)?)?)
    }

    /// Ends the call (hangs up, cancels or declines, as it stands).
    pub fn hang_up(&self, call_id: String) -> Result<()> {
        Ok(self.inner.calls().hang_up(self::call_id(&call_id)?)?)
    }

    /// This device's SDP offer (the caller's, once connected).
    pub fn send_call_offer(&self, call_id: String, sdp: String) -> Result<()> {
        Ok(self
            .inner
            .calls()
            .send_offer(self::call_id(&call_id)?, sdp)?)
    }

    /// This device's SDP answer.
    pub fn send_call_answer(&self, call_id: String, sdp: String) -> Result<()> {
        Ok(self
            .inner
            .calls()
            .send_answer(self::call_id(&call_id)?, sdp)?)
    }

    /// One ICE candidate of this device (`RTCIceCandidateInit` as JSON).
    pub fn send_call_candidate(&self, call_id: String, candidate: String) -> Result<()> {
        Ok(self
            .inner
            .calls()
            .send_candidate(self::call_id(&call_id)?, candidate)?)
    }

    /// The STUN and TURN servers for the call.
    pub fn call_ice_servers(&self, call_id: String) -> Result<Vec<IceServerRecord>> {
        let servers = self.inner.calls().ice_servers(self::call_id(&call_id)?)?;
        Ok(servers.into_iter().map(Into::into).collect())
    }

    /// A call on this device.
    pub fn call(&self, call_id: String) -> Result<CallRecord> {
        Ok(self.inner.calls().get(self::call_id(&call_id)?)?.into())
    }

    /// The call not over yet, if any.
    pub fn current_call(&self) -> Result<Option<CallRecord>> {
        Ok(self.inner.calls().current()?.map(Into::into))
    }

    /// Calls that rang here and nobody answered, newest first.
    pub fn missed_calls(&self) -> Result<Vec<CallRecord>> {
        Ok(self
            .inner
            .calls()
            .missed()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Every call on this device, newest first.
    pub fn call_history(&self) -> Result<Vec<CallRecord>> {
        Ok(self
            .inner
            .calls()
            .history()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The missed calls were seen.
    pub fn mark_calls_seen(&self) -> Result<()> {
        Ok(self.inner.calls().mark_seen()?)
    }
}
