//! Calls: the signalling that sets up a voice or video call between a staff
//! member and a customer, relayed by the server.
//!
//! The server is the authority on a call's state; the media flows between
//! the two devices (WebRTC), and the server only passes on the session
//! descriptions and ICE candidates the two chosen devices exchange. The
//! flow follows Matrix VoIP (MSC2746) and XMPP's Jingle Message Initiation:
//!
//! 1. the caller's device sends [`Signal::Invite`] with a fresh [`CallId`];
//!    the server checks the caller may call (staff of the customer's
//!    department, present as Available; a customer calls support, which
//!    rings one Available agent), answers [`CallEvent::Placed`] with the
//!    ICE servers, and rings every device of the callee with
//!    [`CallEvent::Incoming`];
//! 2. a callee device that shows the call sends [`Signal::Ringing`]; the
//!    caller hears [`CallEvent::Ringing`];
//! 3. the first callee device to send [`Signal::Accept`] is chosen: the
//!    caller and that device hear [`CallEvent::Accepted`], every other device
//!    of the callee hears [`CallEvent::Ended`] with
//!    [`EndReason::AnsweredElsewhere`]. [`Signal::Decline`] (callee),
//!    [`Signal::Cancel`] (caller) and the server's timeout end a call that
//!    was never answered;
//! 4. the two chosen devices exchange [`Signal::Sdp`] (offer, answer) and
//!    [`Signal::Candidate`]s through the server, which relays them to the
//!    other chosen device only;
//! 5. [`Signal::Hangup`] from either ends it; so does a chosen device that
//!    stays disconnected past a grace period ([`EndReason::Failed`]).
//!
//! Every message carries its call and a sequence number per sender,
//! starting at 1: the server ignores a message whose number it has seen
//! from that sender, so a resend after a reconnect does no harm. What the
//! server sends carries the call's own counter (state changes) or the
//! relaying sender's number (descriptions and candidates); a device ignores
//! what it has already seen of either.
//!
//! The same types travel as postcard in the phone's sync frames
//! ([`ClientMessage::Call`](crate::protocol::ClientMessage::Call),
//! [`ServerMessage::Call`](crate::protocol::ServerMessage::Call)) and as
//! JSON on the consoles' channels.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::LimitExceeded;
pub use crate::ids::CallId;

/// The largest session description relayed, in bytes: an audio offer with
/// a data channel is 1–3 KiB, a browser's video offer 5–9 KiB.
pub const MAX_SDP_BYTES: usize = 16 * 1024;
/// The largest ICE candidate (`RTCIceCandidateInit` as JSON), in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// ICE servers handed to a device with a call.
pub const MAX_ICE_SERVERS: usize = 4;
/// URLs of one ICE server.
pub const MAX_ICE_URLS: usize = 4;
/// One URL, user name or credential of an ICE server, in bytes.
pub const MAX_ICE_TEXT_BYTES: usize = 512;
/// A caller's name or a refusal's message, in bytes.
pub const MAX_CALL_TEXT_BYTES: usize = 512;

string_enum! {
    /// What a call carries.
    pub enum Media {
        /// Voice only.
        Audio = "audio",
        /// Voice and video.
        Video = "video",
    }
}

string_enum! {
    /// Why a call ended.
    pub enum EndReason {
        /// The callee said no.
        Declined = "declined",
        /// The caller gave up before an answer.
        Cancelled = "cancelled",
        /// Nobody answered in time, or the caller's connection dropped while
        /// it rang.
        Missed = "missed",
        /// The callee is already in a call.
        Busy = "busy",
        /// A chosen device stayed disconnected past the grace period.
        Failed = "failed",
        /// One side hung up a connected call.
        Hangup = "hangup",
        /// Another device of the callee took the call.
        AnsweredElsewhere = "answered_elsewhere",
    }
    /// A reason a newer server gave that this build does not know: the
    /// call is over all the same.
    unknown Unknown = "unknown";
}

string_enum! {
    /// Why the server refused a signal; nothing was relayed.
    pub enum Refusal {
        /// The caller may not call this customer (not staff of a department
        /// that serves them).
        Forbidden = "forbidden",
        /// Staff must be present as Available to call.
        NotAvailable = "not_available",
        /// No agent is Available to take a customer's call: write in the
        /// chat instead.
        NoAgent = "no_agent",
        /// No such call, the sender is not in it, or it is over.
        UnknownCall = "unknown_call",
        /// The message does not fit the call's state or a field is wrong
        /// (an over-long description, an unknown customer).
        Invalid = "invalid",
        /// The server failed; try again.
        Internal = "internal",
    }
    /// A refusal a newer server gave that this build does not know:
    /// nothing was relayed; its message says why.
    unknown Unknown = "unknown";
}

string_enum! {
    /// Which half of the offer/answer exchange a description is.
    pub enum SdpKind {
        /// The caller's side opens with an offer.
        Offer = "offer",
        /// The callee's side answers it.
        Answer = "answer",
    }
}

/// Whom an invite calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Callee {
    /// A customer (staff call): every device of the customer's accounts rings.
    Customer {
        /// The customer.
        customer_id: Uuid,
    },
    /// Customer service (a customer's call): one Available agent's devices
    /// ring, chosen round-robin as for chats.
    Support,
}

/// What a device says about a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Start a call.
    Invite {
        /// Whom to call.
        callee: Callee,
        /// The ticket the call is about, for its timeline.
        ticket_id: Option<Uuid>,
        /// Voice, or voice and video.
        media: Media,
    },
    /// This callee device shows the call.
    Ringing,
    /// This callee device takes the call.
    Accept,
    /// The callee says no.
    Decline,
    /// The caller gives up before an answer.
    Cancel,
    /// End a connected call.
    Hangup,
    /// A session description, for the other chosen device.
    Sdp {
        /// Offer or answer.
        kind: SdpKind,
        /// The description, at most [`MAX_SDP_BYTES`].
        sdp: String,
    },
    /// An ICE candidate (`RTCIceCandidateInit` as JSON), for the other chosen
    /// device; the server does not read it.
    Candidate {
        /// At most [`MAX_CANDIDATE_BYTES`].
        candidate: String,
    },
}

/// A device's call message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallMessage {
    /// The call; the caller picks it for an invite.
    pub call_id: CallId,
    /// This sender's sequence number in the call, from 1.
    pub seq: u32,
    /// What it says.
    pub signal: Signal,
}

/// A STUN or TURN server (`RTCIceServer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// A TURN user name (time-limited, coturn's REST scheme).
    pub username: Option<String>,
    /// Its credential.
    pub credential: Option<String>,
}

/// What the server tells a device about a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEvent {
    /// To the caller: the invite is accepted and the callee's devices ring.
    Placed {
        /// For the device's peer connection.
        ice_servers: Vec<IceServer>,
    },
    /// To each device of the callee: show the call.
    Incoming {
        /// Who calls, for the pop-up.
        caller_name: String,
        /// Whether the caller is staff (a customer calling support is not).
        from_staff: bool,
        /// The ticket the call is about.
        ticket_id: Option<Uuid>,
        /// Voice, or voice and video.
        media: Media,
        /// For the device's peer connection.
        ice_servers: Vec<IceServer>,
        /// Unix ms after which the call is missed.
        expires_at_ms: i64,
    },
    /// To the caller: a callee device shows the call.
    Ringing,
    /// To the caller and the chosen callee device: connect.
    Accepted,
    /// The call is over (to every device still in it).
    Ended {
        /// Why.
        reason: EndReason,
    },
    /// The signal with this sequence number was refused and not relayed.
    Refused {
        /// Why, as a code.
        refusal: Refusal,
        /// Why, for a person, in the sender's language.
        message: String,
    },
    /// The other device's session description.
    Sdp {
        /// Offer or answer.
        kind: SdpKind,
        /// The description.
        sdp: String,
    },
    /// The other device's ICE candidate.
    Candidate {
        /// As it sent it.
        candidate: String,
    },
}

/// A server call message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallUpdate {
    /// The call.
    pub call_id: CallId,
    /// The call's counter for state changes (each one larger), the sender's
    /// sequence number for relayed descriptions and candidates, the refused
    /// message's for a refusal.
    pub seq: u32,
    /// What happened.
    pub event: CallEvent,
}

fn limit(field: &'static str, len: usize, max: usize) -> Result<(), LimitExceeded> {
    if len > max {
        Err(LimitExceeded { field, len, max })
    } else {
        Ok(())
    }
}

fn check_ice(servers: &[IceServer]) -> Result<(), LimitExceeded> {
    limit("call.ice_servers", servers.len(), MAX_ICE_SERVERS)?;
    for server in servers {
        limit("call.ice_servers.urls", server.urls.len(), MAX_ICE_URLS)?;
        let texts = server.urls.iter().map(String::as_str);
        let secrets = [server.username.as_deref(), server.credential.as_deref()];
        for text in texts.chain(secrets.into_iter().flatten()) {
            limit("call.ice_servers.text", text.len(), MAX_ICE_TEXT_BYTES)?;
        }
    }
    Ok(())
}

impl CallMessage {
    /// Checks every field against its limit.
    pub fn check_limits(&self) -> Result<(), LimitExceeded> {
        match &self.signal {
            Signal::Sdp { sdp, .. } => limit("call.sdp", sdp.len(), MAX_SDP_BYTES),
            Signal::Candidate { candidate } => {
                limit("call.candidate", candidate.len(), MAX_CANDIDATE_BYTES)
            }
            Signal::Invite { .. }
            | Signal::Ringing
            | Signal::Accept
            | Signal::Decline
            | Signal::Cancel
            | Signal::Hangup => Ok(()),
        }
    }
}

impl CallUpdate {
    /// Checks every field against its limit.
    pub fn check_limits(&self) -> Result<(), LimitExceeded> {
        match &self.event {
            CallEvent::Placed { ice_servers } => check_ice(ice_servers),
            CallEvent::Incoming {
                caller_name,
                ice_servers,
                ..
            } => {
                limit("call.caller_name", caller_name.len(), MAX_CALL_TEXT_BYTES)?;
                check_ice(ice_servers)
            }
            CallEvent::Refused { message, .. } => {
                limit("call.message", message.len(), MAX_CALL_TEXT_BYTES)
            }
            CallEvent::Sdp { sdp, .. } => limit("call.sdp", sdp.len(), MAX_SDP_BYTES),
            CallEvent::Candidate { candidate } => {
                limit("call.candidate", candidate.len(), MAX_CANDIDATE_BYTES)
            }
            CallEvent::Ringing | CallEvent::Accepted | CallEvent::Ended { .. } => Ok(()),
        }
    }
}
