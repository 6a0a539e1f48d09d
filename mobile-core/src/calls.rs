//! Calls on the phone (`core.calls()`): the incoming-call pop-up and its
//! answers, calling customer service, and the signalling channel the app's
//! WebRTC stack plugs into. The server decides (see `fieldops_sync::call`);
//! the core keeps the calls in its store (table `calls`, so missed calls
//! survive a restart and the numbering of this device's signals goes on
//! where it stopped), numbers what the device sends, drops what the server
//! repeats, and turns the rest into [`CoreEvent`]s.
//!
//! Signals travel on the live sync connection only (`sync().start_live()`):
//! a call is a live thing. One sent while the connection is down waits for
//! it a short while ([`MAX_WAIT_MS`]) and is then dropped — the server will
//! have ended the call by then. A phone with no live connection hears of a
//! call by a push (FCM, or an APNs VoIP push for CallKit); the app then
//! starts the live connection and the core shows the call as usual. The
//! server's half of that is `PUT /api/v1/me/push-token`.
//!
//! The media is the app's: on `connected`, the caller's peer connection
//! makes an offer ([`Calls::send_offer`]), the callee answers
//! ([`Calls::send_answer`]), both send their ICE candidates
//! ([`Calls::send_candidate`]) and apply the other's from
//! [`CoreEvent::CallSignal`]. [`Calls::ice_servers`] gives the STUN and TURN
//! servers the server handed out with the call.

use std::sync::Arc;

use fieldops_sync::call::{
    CallEvent, CallId, CallMessage, CallUpdate, Callee, IceServer, Media, SdpKind, Signal,
};
use fieldops_sync::ids::DocId;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::shared::Shared;
use crate::store::{id_at, now_ms, opt_id_at};

/// How long a signal waits for the live connection before it is dropped.
pub(crate) const MAX_WAIT_MS: i64 = 30_000;
/// Signals kept waiting at most.
const MAX_WAITING: usize = 256;

/// Where a call stands on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Placed by this device; the server has not yet rung anyone.
    Calling,
    /// Ringing (here, or at the other end of a call placed here).
    Ringing,
    /// Answered: the media may flow.
    Connected,
    /// Over.
    Ended,
}

impl CallState {
    /// The stable code: `calling`, `ringing`, `connected`, `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Calling => "calling",
            CallState::Ringing => "ringing",
            CallState::Connected => "connected",
            CallState::Ended => "ended",
        }
    }

    fn parse(code: &str) -> Self {
        match code {
            "calling" => CallState::Calling,
            "ringing" => CallState::Ringing,
            "connected" => CallState::Connected,
            _ => CallState::Ended,
        }
    }
}

/// A call as the app shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallInfo {
    pub call_id: CallId,
    /// Placed by this device.
    pub outgoing: bool,
    /// Who is at the other end (the caller of an incoming call; for a call
    /// placed here, empty until it is answered).
    pub peer_name: String,
    pub from_staff: bool,
    pub ticket_id: Option<DocId>,
    pub media: Media,
    pub state: CallState,
    /// Why it ended: an [`EndReason`](fieldops_sync::call::EndReason) code,
    /// or `refused:<code>` when the server refused it.
    pub end_reason: Option<String>,
    pub created_at_ms: i64,
    /// When it stops ringing (incoming).
    pub expires_at_ms: Option<i64>,
    /// Whether the user has seen it in the missed calls.
    pub seen: bool,
}

/// Calls (`core.calls()`).
#[derive(Debug, Clone, Copy)]
pub struct Calls<'a> {
    shared: &'a Arc<Shared>,
}

impl<'a> Calls<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Calls customer service (customers): an Available agent's console
    /// rings. Follow it with [`CoreEvent::CallChanged`]; when nobody is
    /// available it ends at once as `refused:no_agent` (offer the chat).
    pub fn call_support(&self, ticket_id: Option<DocId>, media: Media) -> Result<CallId> {
        self.shared.require_account()?;
        let call_id = CallId::new();
        let now = now_ms();
        let message = self.shared.store.write(|tx| {
            tx.execute(
                "INSERT INTO calls (call_id, outgoing, peer_name, from_staff, ticket_id, media, \
                 state, created_at_ms, updated_at_ms) VALUES (?1, 1, '', 1, ?2, ?3, 'calling', ?4, ?4)",
                params![
                    call_id.to_string(),
                    ticket_id.map(|t| t.to_string()),
                    media.as_str(),
                    now
                ],
            )?;
            next(tx, call_id, Signal::Invite {
                callee: Callee::Support,
                ticket_id: ticket_id.map(|t| *t.as_uuid()),
                media,
            })
        })?;
        self.send(message);
        Ok(call_id)
    }

    /// Takes the ringing call on this device.
    pub fn accept(&self, call_id: CallId) -> Result<()> {
        self.signal(call_id, |call| match (call.outgoing, call.state) {
            (false, CallState::Ringing) => Ok(Signal::Accept),
            _ => Err(not_now("accept")),
        })
    }

    /// Declines the ringing call (every device of the account stops ringing).
    pub fn decline(&self, call_id: CallId) -> Result<()> {
        self.signal(call_id, |call| match (call.outgoing, call.state) {
            (false, CallState::Ringing) => Ok(Signal::Decline),
            _ => Err(not_now("decline")),
        })
    }

    /// Ends the call: hangs up a connected call, cancels one placed here
    /// that still rings, declines one that rings here.
    pub fn hang_up(&self, call_id: CallId) -> Result<()> {
        self.signal(call_id, |call| match (call.outgoing, call.state) {
            (_, CallState::Connected) => Ok(Signal::Hangup),
            (true, CallState::Calling | CallState::Ringing) => Ok(Signal::Cancel),
            (false, CallState::Ringing) => Ok(Signal::Decline),
            _ => Err(not_now("hang up")),
        })
    }

    /// This device's offer (the caller's, once connected).
    pub fn send_offer(&self, call_id: CallId, sdp: String) -> Result<()> {
        self.media_signal(
            call_id,
            Signal::Sdp {
                kind: SdpKind::Offer,
                sdp,
            },
        )
    }

    /// This device's answer to the other's offer.
    pub fn send_answer(&self, call_id: CallId, sdp: String) -> Result<()> {
        self.media_signal(
            call_id,
            Signal::Sdp {
                kind: SdpKind::Answer,
                sdp,
            },
        )
    }

    /// One of this device's ICE candidates (`RTCIceCandidateInit` as JSON).
    pub fn send_candidate(&self, call_id: CallId, candidate: String) -> Result<()> {
        self.media_signal(call_id, Signal::Candidate { candidate })
    }

    /// The STUN and TURN servers for the call's peer connection.
    pub fn ice_servers(&self, call_id: CallId) -> Result<Vec<IceServer>> {
        self.shared.store.read(|conn| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT ice_servers FROM calls WHERE call_id = ?1",
                    [call_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let json = json.ok_or(CoreError::NotFound { kind: "call" })?;
            serde_json::from_str(&json).map_err(|e| CoreError::Protocol(e.to_string()))
        })
    }

    /// A call on this device.
    pub fn get(&self, call_id: CallId) -> Result<CallInfo> {
        self.shared
            .store
            .read(|conn| load(conn, call_id))?
            .ok_or(CoreError::NotFound { kind: "call" })
    }

    /// The call not yet over, if any.
    pub fn current(&self) -> Result<Option<CallInfo>> {
        Ok(self
            .list("state <> 'ended' ORDER BY created_at_ms DESC LIMIT 1")?
            .into_iter()
            .next())
    }

    /// Calls that rang here and were never answered on any device of the
    /// account, newest first.
    pub fn missed(&self) -> Result<Vec<CallInfo>> {
        self.list(
            "outgoing = 0 AND state = 'ended' AND end_reason = 'missed' \
             ORDER BY created_at_ms DESC LIMIT 100",
        )
    }

    /// Every call, newest first (at most 100).
    pub fn history(&self) -> Result<Vec<CallInfo>> {
        self.list("1 = 1 ORDER BY created_at_ms DESC LIMIT 100")
    }

    /// The user has seen the missed calls.
    pub fn mark_seen(&self) -> Result<()> {
        self.shared.store.write(|tx| {
            tx.execute("UPDATE calls SET seen = 1 WHERE seen = 0", [])?;
            Ok(())
        })
    }

    fn list(&self, clause: &str) -> Result<Vec<CallInfo>> {
        self.shared.store.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM calls WHERE {clause}");
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn media_signal(&self, call_id: CallId, signal: Signal) -> Result<()> {
        let probe = CallMessage {
            call_id,
            seq: 1,
            signal,
        };
        probe
            .check_limits()
            .map_err(|e| CoreError::invalid("sdp", e))?;
        let signal = probe.signal;
        self.signal(call_id, move |call| match call.state {
            CallState::Connected => Ok(signal),
            _ => Err(not_now("send media signals for")),
        })
    }

    fn signal(
        &self,
        call_id: CallId,
        choose: impl FnOnce(&CallInfo) -> Result<Signal>,
    ) -> Result<()> {
        let message = self.shared.store.write(|tx| {
            let call = load(tx, call_id)?.ok_or(CoreError::NotFound { kind: "call" })?;
            let signal = choose(&call)?;
            next(tx, call_id, signal)
        })?;
        self.send(message);
        Ok(())
    }

    fn send(&self, message: CallMessage) {
        queue(self.shared, vec![message]);
    }
}

fn not_now(what: &str) -> CoreError {
    CoreError::invalid("call_id", format!("cannot {what} the call in its state"))
}

const COLUMNS: &str = "call_id, outgoing, peer_name, from_staff, ticket_id, media, state, \
                       end_reason, created_at_ms, expires_at_ms, seen";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallInfo> {
    let media: String = r.get(5)?;
    let state: String = r.get(6)?;
    Ok(CallInfo {
        call_id: id_at(r, 0)?,
        outgoing: r.get(1)?,
        peer_name: r.get(2)?,
        from_staff: r.get(3)?,
        ticket_id: opt_id_at(r, 4)?,
        media: media.parse().unwrap_or(Media::Audio),
        state: CallState::parse(&state),
        end_reason: r.get(7)?,
        created_at_ms: r.get(8)?,
        expires_at_ms: r.get(9)?,
        seen: r.get(10)?,
    })
}

fn load(conn: &Connection, call_id: CallId) -> Result<Option<CallInfo>> {
    let sql = format!("SELECT {COLUMNS} FROM calls WHERE call_id = ?1");
    Ok(conn
        .query_row(&sql, [call_id.to_string()], row)
        .optional()?)
}

/// Numbers the device's next signal in `call_id` (stored, so a restart
/// does not reuse a number the server has seen).
fn next(tx: &Transaction<'_>, call_id: CallId, signal: Signal) -> Result<CallMessage> {
    let seq: i64 = tx.query_row(
        "UPDATE calls SET my_seq = my_seq + 1, updated_at_ms = ?2 WHERE call_id = ?1 \
         RETURNING my_seq",
        params![call_id.to_string(), now_ms()],
        |r| r.get(0),
    )?;
    Ok(CallMessage {
        call_id,
        seq: u32::try_from(seq).unwrap_or(u32::MAX),
        signal,
    })
}

/// Queues signals for the live connection and wakes it.
fn queue(shared: &Shared, messages: Vec<CallMessage>) {
    if messages.is_empty() {
        return;
    }
    let now = now_ms();
    {
        let mut waiting = shared
            .call_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for message in messages {
            if waiting.len() >= MAX_WAITING {
                waiting.pop_front();
            }
            waiting.push_back((now, message));
        }
    }
    shared.call_kick.notify_one();
}

/// The signals to send now, oldest first, without those that waited too
/// long (the sync client calls it when woken and when a session opens).
pub(crate) fn take_waiting(shared: &Shared) -> Vec<CallMessage> {
    let now = now_ms();
    let mut waiting = shared
        .call_out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    waiting
        .drain(..)
        .filter(|(at, _)| now - at <= MAX_WAIT_MS)
        .map(|(_, message)| message)
        .collect()
}

/// What the server said about a call: stored, told to the app, and, for a
/// call that rings here, the server told that the device rings.
pub(crate) fn receive(shared: &Shared, update: CallUpdate) -> Result<()> {
    let (events, replies) = shared.store.write(|tx| apply(tx, &update))?;
    // Queued first: an app that declines from inside the pop-up's event
    // must not have its answer go out before the core's `ringing`.
    queue(shared, replies);
    for event in events {
        shared.events.emit(event);
    }
    Ok(())
}

type Applied = (Vec<CoreEvent>, Vec<CallMessage>);

fn apply(tx: &Transaction<'_>, update: &CallUpdate) -> Result<Applied> {
    let id = update.call_id;
    let key = id.to_string();
    let seq = i64::from(update.seq);
    let known: Option<(i64, i64, String)> = tx
        .query_row(
            "SELECT version, relayed_seq, state FROM calls WHERE call_id = ?1",
            [&key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let now = now_ms();
    let changed = |state: CallState, reason: Option<String>| CoreEvent::CallChanged {
        call_id: id,
        state: state.as_str().to_owned(),
        reason,
    };
    match &update.event {
        CallEvent::Incoming {
            caller_name,
            from_staff,
            ticket_id,
            media,
            ice_servers,
            expires_at_ms,
        } => {
            if known.is_some() {
                return Ok((vec![], vec![]));
            }
            let ice = serde_json::to_string(ice_servers).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO calls (call_id, outgoing, peer_name, from_staff, ticket_id, media, \
                 state, ice_servers, version, expires_at_ms, created_at_ms, updated_at_ms) \
                 VALUES (?1, 0, ?2, ?3, ?4, ?5, 'ringing', ?6, ?7, ?8, ?9, ?9)",
                params![
                    key,
                    caller_name,
                    from_staff,
                    ticket_id.map(|t| t.to_string()),
                    media.as_str(),
                    ice,
                    seq,
                    expires_at_ms,
                    now
                ],
            )?;
            let event = CoreEvent::IncomingCall {
                call_id: id,
                caller_name: caller_name.clone(),
                from_staff: *from_staff,
                ticket_id: ticket_id.map(DocId::from_uuid),
                media: media.as_str().to_owned(),
                expires_at_ms: *expires_at_ms,
            };
            let ringing = next(tx, id, Signal::Ringing)?;
            Ok((vec![event], vec![ringing]))
        }
        CallEvent::Refused { refusal, message } => {
            let mut events = vec![CoreEvent::CallRefused {
                call_id: id,
                refusal: refusal.as_str().to_owned(),
                message: message.clone(),
            }];
            // A refused invite ends the call it would have placed; a call
            // the server no longer knows this device in is over for it.
            if let Some((_, _, state)) = known
                && (state == CallState::Calling.as_str()
                    || (*refusal == fieldops_sync::call::Refusal::UnknownCall
                        && state != CallState::Ended.as_str()))
            {
                let reason = format!("refused:{}", refusal.as_str());
                set_state(tx, &key, CallState::Ended, Some(&reason), None, now)?;
                events.push(changed(CallState::Ended, Some(reason)));
            }
            Ok((events, vec![]))
        }
        CallEvent::Sdp { .. } | CallEvent::Candidate { .. } => {
            let Some((_, relayed, state)) = known else {
                return Ok((vec![], vec![]));
            };
            if seq <= relayed || state != CallState::Connected.as_str() {
                return Ok((vec![], vec![]));
            }
            tx.execute(
                "UPDATE calls SET relayed_seq = ?2, updated_at_ms = ?3 WHERE call_id = ?1",
                params![key, seq, now],
            )?;
            let (kind, payload) = match &update.event {
                CallEvent::Sdp { kind, sdp } => (kind.as_str(), sdp.clone()),
                CallEvent::Candidate { candidate } => ("candidate", candidate.clone()),
                _ => unreachable!("matched above"),
            };
            Ok((
                vec![CoreEvent::CallSignal {
                    call_id: id,
                    kind: kind.to_owned(),
                    payload,
                }],
                vec![],
            ))
        }
        CallEvent::Placed { .. }
        | CallEvent::Ringing
        | CallEvent::Accepted
        | CallEvent::Ended { .. } => {
            let Some((version, _, _)) = known else {
                return Ok((vec![], vec![]));
            };
            if seq <= version {
                return Ok((vec![], vec![]));
            }
            let (state, reason) = match &update.event {
                CallEvent::Placed { ice_servers } => {
                    let ice = serde_json::to_string(ice_servers).unwrap_or_else(|_| "[]".into());
                    tx.execute(
                        "UPDATE calls SET ice_servers = ?2 WHERE call_id = ?1",
                        params![key, ice],
                    )?;
                    (CallState::Calling, None)
                }
                CallEvent::Ringing => (CallState::Ringing, None),
                CallEvent::Accepted => (CallState::Connected, None),
                CallEvent::Ended { reason } => (CallState::Ended, Some(reason.as_str().to_owned())),
                _ => unreachable!("matched above"),
            };
            set_state(tx, &key, state, reason.as_deref(), Some(seq), now)?;
            Ok((vec![changed(state, reason)], vec![]))
        }
    }
}

fn set_state(
    tx: &Transaction<'_>,
    key: &str,
    state: CallState,
    reason: Option<&str>,
    version: Option<i64>,
    now: i64,
) -> Result<()> {
    tx.execute(
        "UPDATE calls SET state = ?2, end_reason = COALESCE(?3, end_reason), \
         version = COALESCE(?4, version), updated_at_ms = ?5 WHERE call_id = ?1",
        params![key, state.as_str(), reason, version, now],
    )?;
    Ok(())
}
