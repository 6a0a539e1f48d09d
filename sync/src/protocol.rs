//! The wire protocol between a device and the server: typed messages, their
//! compact binary framing, and the hard limits every frame obeys.
//!
//! A frame is one version byte ([`FRAME_VERSION`]) followed by one message
//! in [postcard](https://docs.rs/postcard) encoding. Both directions check
//! every field against [`limits`]: [`ClientMessage::encode`] refuses to
//! build a frame the server would reject, and [`ServerMessage::decode`] /
//! [`ClientMessage::decode`] return a [`DecodeError`] for any bytes that are
//! not a well-formed, in-limit message. Decoding never panics and never
//! allocates more than a small multiple of the frame's length (for a
//! compressed server frame, [`FRAME_COMPRESSED`], of the size it declares,
//! which may not pass the frame limit).
//!
//! Automerge payloads (sync messages, saved documents) are carried as opaque
//! bytes: the frame decoder does not parse them. [`DocSync::sync_message`]
//! does, when the receiver is ready to apply it.

use automerge::ChangeHash;
use automerge::sync;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::call::{CallMessage, CallUpdate};
use crate::commands::{Command, CommandResult};
use crate::error::{ApplyError, DecodeError, EncodeError, LimitExceeded};
use crate::ids::{DeviceId, DocId, DocKind};
use crate::listing::Listing;
use crate::rules::Violation;

/// The session protocol spoken by this build, announced in [`Hello`]. The
/// wire encodes enum variants by index and structs field by field, so a
/// version may only append: a new message, command or document kind at the
/// end of its enum, a new code to a [`string_enum!`] code list. A session
/// speaks [`Version::negotiate`]'s version, and each side sends only what
/// that version knows.
///
/// 2: invoices (the `invoice` document kind, `SubmitPayment`, the
/// `invoice` photo owner). 3: journeys (the `journey` document kind,
/// `SubmitJourney`). 4: calls ([`ClientMessage::Call`],
/// [`ServerMessage::Call`]). 5: codes this build does not know decode to
/// `Unknown` ([`crate::commands::RejectReason`], [`ErrorCode`],
/// [`DropReason`], [`crate::rules::ViolationReason`], a call's end reason
/// and refusal), the server says the session's version
/// ([`ServerMessage::Protocol`]), and large server frames may be
/// compressed ([`FRAME_COMPRESSED`]). 6: whole documents travel with their
/// list fields ([`ServerMessage::ListedSnapshots`], [`crate::listing`]), so
/// a device indexes them without parsing them.
pub const PROTOCOL_VERSION: u16 = 6;

/// The oldest [`PROTOCOL_VERSION`] a server of this build still serves; an
/// older app is refused with `unsupported_version` (update the app).
/// Version 1 predates invoices, whose photo owner changed what a version 1
/// app would be sent; from 2 on every change only appended.
pub const MIN_PROTOCOL_VERSION: u16 = 2;

/// The protocol version one session speaks: the lower of the device's and
/// the server's. It decides what either side may send: a newer peer never
/// sends what the session's version lacks, so an older one always decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u16);

impl Version {
    /// This build's version.
    pub const CURRENT: Version = Version(PROTOCOL_VERSION);

    /// The version a session with a device announcing `device` speaks, or
    /// `None` when that is older than [`MIN_PROTOCOL_VERSION`]. A device
    /// newer than this build is served at this build's version, and told
    /// so ([`ServerMessage::Protocol`]).
    pub fn negotiate(device: u16) -> Option<Version> {
        let version = device.min(PROTOCOL_VERSION);
        (version >= MIN_PROTOCOL_VERSION).then_some(Version(version))
    }

    /// The version a device of this build speaks with a server that
    /// announced `server` ([`ServerMessage::Protocol`]); a server that says
    /// nothing speaks this build's version.
    pub fn with_server(server: u16) -> Version {
        Version(server.clamp(1, PROTOCOL_VERSION))
    }

    /// The number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whether documents of `kind` may be sent.
    pub const fn knows_kind(self, kind: DocKind) -> bool {
        self.0 >= kind.since_protocol()
    }

    /// Whether call signals travel in this session (version 4 on): a
    /// server does not ring an older device.
    pub const fn carries_calls(self) -> bool {
        self.0 >= 4
    }

    /// Whether the server says the session's version
    /// ([`ServerMessage::Protocol`]; version 5 on).
    pub const fn announced(self) -> bool {
        self.0 >= 5
    }

    /// Whether server frames may be compressed ([`FRAME_COMPRESSED`];
    /// version 5 on).
    pub const fn reads_compressed(self) -> bool {
        self.0 >= 5
    }

    /// Whether whole documents travel with their list fields
    /// ([`ServerMessage::ListedSnapshots`]; version 6 on).
    pub const fn reads_listings(self) -> bool {
        self.0 >= 6
    }

    /// Whether `message` may be sent to a device of this version. A server
    /// filters documents of kinds the version lacks out of the frames it
    /// builds (they must leave the feed's `changed` lists too); this is the
    /// last check before a frame is encoded.
    pub fn admits_server(self, message: &ServerMessage) -> bool {
        match message {
            ServerMessage::Snapshots(snapshots) => {
                snapshots.iter().all(|s| self.knows_kind(s.kind))
            }
            ServerMessage::ListedSnapshots(listed) => {
                self.reads_listings() && listed.iter().all(|l| self.knows_kind(l.snapshot.kind))
            }
            ServerMessage::SyncBatch(batch) => batch.docs.iter().all(|d| self.knows_kind(d.kind)),
            ServerMessage::WriteRejected(rejected) => self.knows_kind(rejected.kind),
            ServerMessage::Call(_) => self.carries_calls(),
            ServerMessage::Protocol { .. } => self.announced(),
            ServerMessage::Welcome(_)
            | ServerMessage::CommandResults(_)
            | ServerMessage::Feed(_)
            | ServerMessage::Drop(_)
            | ServerMessage::Error(_)
            | ServerMessage::Pong { .. }
            | ServerMessage::Applied(_) => true,
        }
    }

    /// Whether `message` may be sent to a server speaking this version (a
    /// device holds back what its server's version lacks until the server
    /// is updated).
    pub fn admits_client(self, message: &ClientMessage) -> bool {
        match message {
            ClientMessage::Commands(commands) => commands
                .iter()
                .all(|command| self.0 >= command.body.since_protocol()),
            ClientMessage::SyncBatch(batch) => batch.docs.iter().all(|d| self.knows_kind(d.kind)),
            ClientMessage::Changes(docs) => docs.iter().all(|d| self.knows_kind(d.kind)),
            ClientMessage::Call(_) => self.carries_calls(),
            ClientMessage::Hello(_) | ClientMessage::Ack { .. } | ClientMessage::Ping { .. } => {
                true
            }
        }
    }
}

/// The first byte of every frame: the framing format.
pub const FRAME_VERSION: u8 = 1;

/// The first byte of a compressed server frame: the rest is one zstd frame
/// (declaring its size) holding what follows [`FRAME_VERSION`] in a plain
/// frame. A server sends it only to devices of version 5 or later
/// ([`ServerMessage::encode_for`]), and only when it saves bytes; catch-up
/// frames of document snapshots shrink to about a third. Devices never
/// send one.
pub const FRAME_COMPRESSED: u8 = 2;

/// The WebSocket close codes (private-use range) a server ends a session
/// with, so a device knows what to do next.
pub mod close {
    /// The account's role, departments or status changed: reconnect; the new
    /// session loads the new scope.
    pub const ACCOUNT_CHANGED: u16 = 4000;
    /// This device session was signed out (logout, password change or reset,
    /// deactivation, a reused refresh token): sign in again.
    pub const SIGNED_OUT: u16 = 4001;

    /// The standard code (RFC 6455) that closes a session the server ends
    /// with an [`ErrorFrame`](super::ErrorFrame) of `code`: the frame says
    /// why, the code lets a plain WebSocket client see it too.
    pub const fn after_error(code: super::ErrorCode) -> u16 {
        use super::ErrorCode as E;
        match code {
            // Message Too Big.
            E::TooLarge => 1009,
            // Internal Error.
            E::Internal | E::Unknown => 1011,
            // Try Again Later.
            E::RateLimited => 1013,
            // Policy Violation: a refused Hello, a frame that is not the protocol.
            E::UnsupportedVersion
            | E::Unauthorized
            | E::TokenExpired
            | E::Malformed
            | E::UnexpectedMessage => 1008,
        }
    }
}

/// Hard limits on frames and fields. A frame breaking one is refused whole.
pub mod limits {
    /// A whole frame, version byte included.
    pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;
    /// The read buffer each side gives a WebSocket. Not a frame limit: a
    /// bigger frame is read in several steps. tungstenite zero-fills the
    /// free part of its read buffer (128 KiB by default) before every read
    /// attempt, even one that finds nothing to read, so on a server holding
    /// many quiet sockets a large buffer costs memory per socket and a
    /// memset per wake-up.
    pub const SOCKET_READ_BUFFER_BYTES: usize = 16 * 1024;
    /// Bearer token in [`Hello`](super::Hello).
    pub const MAX_TOKEN_BYTES: usize = 4 * 1024;
    /// Documents announced with heads in [`Hello`](super::Hello).
    pub const MAX_KNOWN_DOCS: usize = 256;
    /// Heads announced in [`Hello`](super::Hello), all documents together.
    pub const MAX_KNOWN_HEADS: usize = 512;
    /// Heads per document (concurrent branches not yet merged).
    pub const MAX_HEADS_PER_DOC: usize = 32;
    /// The largest [`Hello`](super::Hello) frame: every field above at its
    /// limit, in postcard's encoding (a `u16` or `u64` varint at its longest,
    /// a length prefix before each string, id and list, a UUID as 16 bytes).
    /// A server reads the first frame of a session before it knows who is
    /// calling, so it reads no more than this.
    pub const MAX_HELLO_BYTES: usize = 1 // frame version
        + 1 // message variant
        + varint_len(u16::MAX as u64) // protocol_version
        + varint_len(MAX_TOKEN_BYTES as u64) + MAX_TOKEN_BYTES // access_token
        + UUID_BYTES // device_id
        + varint_len(u64::MAX) // cursor
        + 1 // known_heads: Some
        + varint_len(MAX_KNOWN_DOCS as u64) // its length
        + MAX_KNOWN_DOCS * (UUID_BYTES + varint_len(MAX_HEADS_PER_DOC as u64)) // doc ids, head counts
        + MAX_KNOWN_HEADS * 32; // the heads

    // What a server reads from a stranger stays small: raising a Hello
    // limit must not make it a frame's worth.
    const _: () = assert!(MAX_HELLO_BYTES <= 32 * 1024);

    /// Documents in one [`SyncBatch`](super::SyncBatch).
    pub const MAX_SYNC_DOCS: usize = 1_000;
    /// One Automerge sync message.
    pub const MAX_SYNC_MESSAGE_BYTES: usize = 1024 * 1024;
    /// Snapshots in one frame; initial sync spans many frames.
    pub const MAX_SNAPSHOTS: usize = 5_000;
    /// One compacted document.
    pub const MAX_SNAPSHOT_BYTES: usize = 1024 * 1024;
    /// Commands in one batch.
    pub const MAX_COMMANDS: usize = 100;
    /// Command results in one batch.
    pub const MAX_RESULTS: usize = 100;
    /// Any text inside a command or result, in bytes.
    pub const MAX_TEXT_BYTES: usize = 16 * 1024;
    /// A ticket description inside a command, in bytes.
    pub const MAX_DESCRIPTION_BYTES: usize = 48 * 1024;
    /// Documents in one [`Feed`](super::Feed) or [`DropDocs`](super::DropDocs).
    pub const MAX_FEED_DOCS: usize = 10_000;
    /// Violations reported for one document.
    pub const MAX_VIOLATIONS: usize = 64;
    /// A field name inside a violation.
    pub const MAX_FIELD_BYTES: usize = 64;
    /// Human text in [`ErrorFrame`](super::ErrorFrame).
    pub const MAX_MESSAGE_BYTES: usize = 1024;
    /// People named in one [`Listing`](crate::listing::Listing).
    pub const MAX_LISTING_PEOPLE: usize = 64;
    /// Server frames at least this long are compressed for devices that
    /// read compressed frames; shorter ones (a live change, a command's
    /// answer) would gain little for the work.
    pub const COMPRESS_FROM_BYTES: usize = 16 * 1024;

    /// A UUID in postcard: a length byte and 16 bytes.
    const UUID_BYTES: usize = 1 + 16;

    /// Bytes of `n` as a postcard (LEB128) varint.
    const fn varint_len(mut n: u64) -> usize {
        let mut len = 1;
        while n >= 0x80 {
            n >>= 7;
            len += 1;
        }
        len
    }
}

/// A position in the server's change feed. Every stored change gets the
/// next value; a device that has everything up to `c` says so with `c`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cursor(pub u64);

/// The heads a device holds for one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    /// The document.
    pub doc_id: DocId,
    /// Its Automerge heads, as raw 32-byte hashes.
    pub heads: Vec<[u8; 32]>,
}

impl DocHeads {
    /// From Automerge heads.
    pub fn new(doc_id: DocId, heads: &[ChangeHash]) -> Self {
        DocHeads {
            doc_id,
            heads: heads.iter().map(|h| h.0).collect(),
        }
    }

    /// As Automerge heads.
    pub fn change_hashes(&self) -> Vec<ChangeHash> {
        self.heads.iter().copied().map(ChangeHash).collect()
    }
}

/// Opens a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the device.
    pub protocol_version: u16,
    /// Short-lived access token.
    pub access_token: String,
    /// The device.
    pub device_id: DeviceId,
    /// Everything up to here is stored on the device.
    pub cursor: Cursor,
    /// Documents with local changes the server may not have seen, so it
    /// can start syncing them without waiting for the device to ask.
    pub known_heads: Option<Vec<DocHeads>>,
}

/// One document's Automerge sync message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocSync {
    /// The document.
    pub doc_id: DocId,
    /// Its kind, so the receiver can check and route it before parsing.
    pub kind: DocKind,
    /// An encoded [`automerge::sync::Message`].
    pub message: Vec<u8>,
}

impl DocSync {
    /// Wraps an Automerge sync message.
    pub fn new(doc_id: DocId, kind: DocKind, message: sync::Message) -> Self {
        DocSync {
            doc_id,
            kind,
            message: message.encode(),
        }
    }

    /// Parses the Automerge sync message.
    pub fn sync_message(&self) -> Result<sync::Message, ApplyError> {
        Ok(sync::Message::decode(&self.message)?)
    }
}

/// Sync messages for several documents, in either direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncBatch {
    /// One entry per document.
    pub docs: Vec<DocSync>,
}

/// Device → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// Opens the session; must be first.
    Hello(Hello),
    /// Local changes and sync requests.
    SyncBatch(SyncBatch),
    /// Outbox entries, in `device_seq` order.
    Commands(Vec<Command>),
    /// Everything up to `cursor` is durably stored on the device.
    Ack {
        /// The cursor stored.
        cursor: Cursor,
    },
    /// Keep-alive.
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// Local changes pushed as raw Automerge changes (the changes made since
    /// the heads the server last confirmed for each document). One round
    /// trip: the server answers [`ServerMessage::Applied`] or
    /// [`ServerMessage::WriteRejected`] per document.
    Changes(Vec<DocChanges>),
    /// A call signal ([`crate::call`]).
    Call(CallMessage),
}

/// Raw Automerge changes for one document, as `AutoCommit::save_after` or
/// `Change::raw_bytes` concatenated produce them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// The document.
    pub doc_id: DocId,
    /// Its kind, checked against the stored kind.
    pub kind: DocKind,
    /// The change bytes.
    pub changes: Vec<u8>,
}

/// Pushed changes were accepted and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The document.
    pub doc_id: DocId,
    /// The feed position of the stored change (the device will also see it
    /// in the feed; it can skip what it already has).
    pub seq: Cursor,
    /// The server's heads after applying: the device's new confirmed heads.
    pub heads: Vec<[u8; 32]>,
}

/// Accepts a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// Session id, for logs on both sides.
    pub session: Uuid,
    /// The server clock, Unix ms, so the device can estimate its skew.
    pub server_time_ms: i64,
    /// The feed position the catch-up will reach.
    pub cursor: Cursor,
}

/// Document bytes: a compacted document for a device that has none of it,
/// or, on the live path, the changes just stored. Either way the bytes are
/// what `AutoCommit::load_incremental` accepts, so a device that already has
/// the document merges them and one that has not stores them as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The document.
    pub doc_id: DocId,
    /// Its kind.
    pub kind: DocKind,
    /// Feed position of the newest change included.
    pub seq: Cursor,
    /// `save()` output, possibly followed by incremental changes; store as
    /// is, load on first read.
    pub bytes: Vec<u8>,
}

/// A whole document and what the device's lists show of it, so a device
/// that has never seen it writes its index row without parsing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedSnapshot {
    /// The document.
    pub snapshot: Snapshot,
    /// Its list fields as the server computed them from the same state;
    /// `None` when the server has none on record (a document not written
    /// since it learned to keep them): the device reads the document.
    pub listing: Option<Listing>,
}

/// The feed has advanced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    /// Every change in scope up to here has been sent in earlier frames.
    pub cursor: Cursor,
    /// Documents changed since the previous feed frame.
    pub changed: Vec<DocId>,
}

string_enum! {
    /// Why documents leave a device.
    pub enum DropReason {
        /// No longer in the device's scope (re-assigned, moved department).
        OutOfScope = "out_of_scope",
        /// Deleted on the server.
        Deleted = "deleted",
        /// A projection replaced by the full document (pool → assigned).
        Replaced = "replaced",
    }
    /// A reason a newer server gave that this build does not know: forget
    /// the documents all the same.
    unknown Unknown = "unknown";
}

/// Forget these documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropDocs {
    /// The documents.
    pub doc_ids: Vec<DocId>,
    /// Why.
    pub reason: DropReason,
}

/// Changes to a document were refused and not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRejected {
    /// The document.
    pub doc_id: DocId,
    /// Its kind.
    pub kind: DocKind,
    /// What was wrong.
    pub violations: Vec<Violation>,
    /// The authoritative document (`save()` bytes). The device replaces its
    /// copy with it: the refused changes will never be accepted, so keeping
    /// them would make them resend forever.
    pub snapshot: Vec<u8>,
}

string_enum! {
    /// Session-level failures.
    pub enum ErrorCode {
        /// The protocol or frame version is not supported: update the app.
        UnsupportedVersion = "unsupported_version",
        /// The token is missing, invalid or revoked.
        Unauthorized = "unauthorized",
        /// The token expired: refresh it and reconnect.
        TokenExpired = "token_expired",
        /// A frame could not be decoded.
        Malformed = "malformed",
        /// A frame or field is over its limit.
        TooLarge = "too_large",
        /// A message arrived out of place (e.g. before Hello).
        UnexpectedMessage = "unexpected_message",
        /// Slow down.
        RateLimited = "rate_limited",
        /// The server failed; retry later.
        Internal = "internal",
    }
    /// A code a newer server sent that this build does not know: treat
    /// it as [`ErrorCode::Internal`] (retry later); the message says more.
    unknown Unknown = "unknown";
}

/// A session-level error. After most codes the server closes the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human text, without internal details.
    pub message: String,
}

impl ErrorFrame {
    /// The error answering a frame that failed to decode.
    pub fn from_decode(error: &DecodeError) -> Self {
        let code = match error {
            DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            DecodeError::FrameTooLarge { .. } | DecodeError::Limit(_) => ErrorCode::TooLarge,
            _ => ErrorCode::Malformed,
        };
        ErrorFrame {
            code,
            message: error.to_string(),
        }
    }
}

/// Server → device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The session is open.
    Welcome(Welcome),
    /// Whole documents new to the device.
    Snapshots(Vec<Snapshot>),
    /// Changes and sync replies.
    SyncBatch(SyncBatch),
    /// Answers to commands.
    CommandResults(Vec<CommandResult>),
    /// The feed advanced.
    Feed(Feed),
    /// Documents to forget.
    Drop(DropDocs),
    /// Refused document changes.
    WriteRejected(WriteRejected),
    /// A session-level error.
    Error(ErrorFrame),
    /// Keep-alive answer.
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
    /// Pushed changes that were accepted, one entry per document.
    Applied(Vec<Applied>),
    /// What happened in a call ([`crate::call`]).
    Call(CallUpdate),
    /// The protocol version this session speaks ([`Version::negotiate`]),
    /// sent after [`ServerMessage::Welcome`] to devices of version 5 or
    /// later. Lower than the device's own when the server is older: the
    /// device then holds back what that version lacks.
    Protocol {
        /// The session's version.
        version: u16,
    },
    /// Whole documents new to the device, each with its list fields
    /// (version 6 on; older devices get [`ServerMessage::Snapshots`]).
    ListedSnapshots(Vec<ListedSnapshot>),
}

impl ServerMessage {
    /// The whole documents this message carries: those of
    /// [`ServerMessage::Snapshots`] or [`ServerMessage::ListedSnapshots`],
    /// none for any other message.
    pub fn snapshots(&self) -> impl Iterator<Item = &Snapshot> {
        let (plain, listed): (&[Snapshot], &[ListedSnapshot]) = match self {
            ServerMessage::Snapshots(snapshots) => (snapshots, &[]),
            ServerMessage::ListedSnapshots(listed) => (&[], listed),
            _ => (&[], &[]),
        };
        plain.iter().chain(listed.iter().map(|l| &l.snapshot))
    }
}

pub(crate) fn limit(field: &'static str, len: usize, max: usize) -> Result<(), LimitExceeded> {
    if len > max {
        Err(LimitExceeded { field, len, max })
    } else {
        Ok(())
    }
}

fn limit_each<T>(
    field: &'static str,
    items: &[T],
    max: usize,
    check: impl Fn(&T) -> Result<(), LimitExceeded>,
) -> Result<(), LimitExceeded> {
    limit(field, items.len(), max)?;
    items.iter().try_for_each(check)
}

fn check_sync_batch(batch: &SyncBatch) -> Result<(), LimitExceeded> {
    use limits::*;
    limit_each("sync_batch.docs", &batch.docs, MAX_SYNC_DOCS, |doc| {
        limit(
            "sync_batch.docs.message",
            doc.message.len(),
            MAX_SYNC_MESSAGE_BYTES,
        )
    })
}

fn check_command(command: &Command) -> Result<(), LimitExceeded> {
    use crate::commands::CommandBody as B;
    let texts: [Option<&str>; 3] = match &command.body {
        B::RequestExtension { reason, .. } => [Some(reason), None, None],
        B::SubmitRating { token, comment, .. } => [Some(token), comment.as_deref(), None],
        B::SendChatMessage { body, .. } => [Some(body), None, None],
        B::CreateTicket {
            subject,
            description,
            category,
            ..
        } => {
            // A description may be longer than other texts (10,000 characters).
            limit(
                "commands.description",
                description.len(),
                limits::MAX_DESCRIPTION_BYTES,
            )?;
            [Some(subject), Some(category), None]
        }
        B::SubmitPayment {
            reference,
            proof_sha256,
            ..
        } => [Some(reference), proof_sha256.as_deref(), None],
        B::SubmitJourney { answers, .. } => {
            return check_answers(answers);
        }
        B::ClaimVisit { .. }
        | B::ReleaseVisit { .. }
        | B::CheckIn(_)
        | B::CheckOut(_)
        | B::CloseOwnTicket { .. } => [None, None, None],
    };
    texts
        .into_iter()
        .flatten()
        .try_for_each(|text| limit("commands.text", text.len(), limits::MAX_TEXT_BYTES))
}

fn check_answers(answers: &crate::journey::Answers) -> Result<(), LimitExceeded> {
    use crate::journey::{Answer, MAX_CHOICES, MAX_IMAGES, MAX_NODES};
    limit("commands.answers", answers.len(), MAX_NODES)?;
    answers.values().try_for_each(|answer| match answer {
        Answer::Text(text) => limit(
            "commands.answers.text",
            text.len(),
            limits::MAX_DESCRIPTION_BYTES,
        ),
        Answer::Choices(choices) => limit("commands.answers.choices", choices.len(), MAX_CHOICES),
        Answer::Images(images) => limit(
            "commands.answers.images",
            images.len(),
            usize::from(MAX_IMAGES),
        ),
        Answer::Choice(_) | Answer::Number(_) | Answer::Date(_) => Ok(()),
    })
}

fn check_result(result: &CommandResult) -> Result<(), LimitExceeded> {
    use crate::commands::CommandOutcome as O;
    match &result.outcome {
        O::Accepted { effects } => limit(
            "command_results.effects",
            effects.len(),
            limits::MAX_FEED_DOCS,
        ),
        O::Rejected { message, .. } => limit(
            "command_results.message",
            message.len(),
            limits::MAX_TEXT_BYTES,
        ),
    }
}

/// Messages whose every field has a hard limit.
trait Limited {
    fn check_limits(&self) -> Result<(), LimitExceeded>;
}

impl Limited for ClientMessage {
    fn check_limits(&self) -> Result<(), LimitExceeded> {
        use limits::*;
        match self {
            ClientMessage::Hello(hello) => {
                limit(
                    "hello.access_token",
                    hello.access_token.len(),
                    MAX_TOKEN_BYTES,
                )?;
                let Some(known) = &hello.known_heads else {
                    return Ok(());
                };
                limit_each("hello.known_heads", known, MAX_KNOWN_DOCS, |doc| {
                    limit(
                        "hello.known_heads.heads",
                        doc.heads.len(),
                        MAX_HEADS_PER_DOC,
                    )
                })?;
                let heads = known.iter().map(|doc| doc.heads.len()).sum();
                limit("hello.known_heads.total", heads, MAX_KNOWN_HEADS)
            }
            ClientMessage::SyncBatch(batch) => check_sync_batch(batch),
            ClientMessage::Commands(commands) => {
                limit_each("commands", commands, MAX_COMMANDS, check_command)
            }
            ClientMessage::Ack { .. } | ClientMessage::Ping { .. } => Ok(()),
            ClientMessage::Changes(docs) => limit_each("changes", docs, MAX_SYNC_DOCS, |doc| {
                limit("changes.changes", doc.changes.len(), MAX_SYNC_MESSAGE_BYTES)
            }),
            ClientMessage::Call(message) => message.check_limits(),
        }
    }
}

impl Limited for ServerMessage {
    fn check_limits(&self) -> Result<(), LimitExceeded> {
        use limits::*;
        match self {
            ServerMessage::Welcome(_)
            | ServerMessage::Pong { .. }
            | ServerMessage::Protocol { .. } => Ok(()),
            ServerMessage::Snapshots(snapshots) => {
                limit_each("snapshots", snapshots, MAX_SNAPSHOTS, |s| {
                    limit("snapshots.bytes", s.bytes.len(), MAX_SNAPSHOT_BYTES)
                })
            }
            ServerMessage::ListedSnapshots(listed) => {
                limit_each("listed_snapshots", listed, MAX_SNAPSHOTS, |l| {
                    limit(
                        "listed_snapshots.bytes",
                        l.snapshot.bytes.len(),
                        MAX_SNAPSHOT_BYTES,
                    )?;
                    l.listing.as_ref().map_or(Ok(()), Listing::check_limits)
                })
            }
            ServerMessage::SyncBatch(batch) => check_sync_batch(batch),
            ServerMessage::CommandResults(results) => {
                limit_each("command_results", results, MAX_RESULTS, check_result)
            }
            ServerMessage::Feed(feed) => limit("feed.changed", feed.changed.len(), MAX_FEED_DOCS),
            ServerMessage::Drop(drop) => limit("drop.doc_ids", drop.doc_ids.len(), MAX_FEED_DOCS),
            ServerMessage::WriteRejected(rejected) => {
                limit_each(
                    "write_rejected.violations",
                    &rejected.violations,
                    MAX_VIOLATIONS,
                    |v| {
                        limit(
                            "write_rejected.violations.field",
                            v.field.len(),
                            MAX_FIELD_BYTES,
                        )
                    },
                )?;
                limit(
                    "write_rejected.snapshot",
                    rejected.snapshot.len(),
                    MAX_SNAPSHOT_BYTES,
                )
            }
            ServerMessage::Error(error) => {
                limit("error.message", error.message.len(), MAX_MESSAGE_BYTES)
            }
            ServerMessage::Applied(applied) => limit_each("applied", applied, MAX_SYNC_DOCS, |a| {
                limit("applied.heads", a.heads.len(), MAX_HEADS_PER_DOC)
            }),
            ServerMessage::Call(update) => update.check_limits(),
        }
    }
}

fn encode<T: Serialize + Limited>(message: &T) -> Result<Vec<u8>, EncodeError> {
    message.check_limits()?;
    let frame =
        postcard::to_extend(message, vec![FRAME_VERSION]).map_err(EncodeError::Serialize)?;
    if frame.len() > limits::MAX_FRAME_BYTES {
        return Err(EncodeError::FrameTooLarge {
            len: frame.len(),
            max: limits::MAX_FRAME_BYTES,
        });
    }
    Ok(frame)
}

/// zstd's level for server frames: its fastest of the standard levels, so
/// a catch-up of 50,000 documents costs the server tens of milliseconds.
const COMPRESSION_LEVEL: i32 = 1;

/// `frame` (a plain one) compressed, when that makes it smaller.
fn compress(frame: Vec<u8>) -> Vec<u8> {
    if frame.len() < limits::COMPRESS_FROM_BYTES {
        return frame;
    }
    match zstd::bulk::compress(&frame[1..], COMPRESSION_LEVEL) {
        Ok(compressed) if compressed.len() + 1 < frame.len() => {
            let mut out = Vec::with_capacity(compressed.len() + 1);
            out.push(FRAME_COMPRESSED);
            out.extend_from_slice(&compressed);
            out
        }
        _ => frame,
    }
}

/// The payload of a compressed frame, decompressed: never more than the
/// frame limit, whatever the frame claims.
fn decompress(payload: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let size = zstd::zstd_safe::get_frame_content_size(payload)
        .map_err(|_| DecodeError::Compressed("not a zstd frame"))?
        .ok_or(DecodeError::Compressed("the size is not declared"))?;
    let size = usize::try_from(size)
        .ok()
        .filter(|size| *size < limits::MAX_FRAME_BYTES)
        .ok_or(DecodeError::Compressed("larger than the frame limit"))?;
    let out = zstd::bulk::decompress(payload, size)
        .map_err(|_| DecodeError::Compressed("corrupt data"))?;
    if out.len() != size {
        return Err(DecodeError::Compressed("not the declared size"));
    }
    Ok(out)
}

fn decode<T: DeserializeOwned + Limited>(frame: &[u8], compressed: bool) -> Result<T, DecodeError> {
    let (&version, payload) = frame.split_first().ok_or(DecodeError::Empty)?;
    if frame.len() > limits::MAX_FRAME_BYTES {
        return Err(DecodeError::FrameTooLarge {
            len: frame.len(),
            max: limits::MAX_FRAME_BYTES,
        });
    }
    let inflated;
    let payload = match version {
        FRAME_VERSION => payload,
        FRAME_COMPRESSED if compressed => {
            inflated = decompress(payload)?;
            &inflated[..]
        }
        _ => return Err(DecodeError::UnsupportedVersion(version)),
    };
    let (message, rest) =
        postcard::take_from_bytes::<T>(payload).map_err(DecodeError::Malformed)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    message.check_limits()?;
    Ok(message)
}

impl ClientMessage {
    /// Encodes a frame, refusing messages over any limit.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        encode(self)
    }

    /// Decodes a frame; any malformed or oversized input is an error.
    /// Devices never compress, so a compressed frame is one too.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        decode(frame, false)
    }
}

impl ServerMessage {
    /// Encodes a plain frame, refusing messages over any limit.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        encode(self)
    }

    /// This message as a device of `version` can read it. Before version 5
    /// an app has no `Unknown` codes, so one a server holds (read from a
    /// newer instance's stored answer or relayed signal during a rolling
    /// update) becomes the nearest code that app knows: a refusal stays a
    /// refusal, an ended call stays ended.
    pub fn for_version(mut self, version: Version) -> Self {
        use crate::call::{CallEvent, EndReason, Refusal};
        use crate::commands::{CommandOutcome, RejectReason};
        use crate::rules::ViolationReason;
        if version.announced() {
            return self;
        }
        match &mut self {
            ServerMessage::CommandResults(results) => {
                for result in results {
                    if let CommandOutcome::Rejected { reason, .. } = &mut result.outcome
                        && *reason == RejectReason::Unknown
                    {
                        *reason = RejectReason::Conflict;
                    }
                }
            }
            ServerMessage::Drop(drop) if drop.reason == DropReason::Unknown => {
                drop.reason = DropReason::OutOfScope;
            }
            ServerMessage::WriteRejected(rejected) => {
                for violation in &mut rejected.violations {
                    if violation.reason == ViolationReason::Unknown {
                        violation.reason = ViolationReason::Malformed;
                    }
                }
            }
            ServerMessage::Error(error) if error.code == ErrorCode::Unknown => {
                error.code = ErrorCode::Internal;
            }
            ServerMessage::Call(update) => match &mut update.event {
                CallEvent::Ended { reason } if *reason == EndReason::Unknown => {
                    *reason = EndReason::Failed;
                }
                CallEvent::Refused { refusal, .. } if *refusal == Refusal::Unknown => {
                    *refusal = Refusal::Internal;
                }
                _ => {}
            },
            _ => {}
        }
        self
    }

    /// Encodes a frame for a session of `version`: compressed
    /// ([`FRAME_COMPRESSED`]) when the version reads that, the frame is
    /// large and compressing it saves bytes; plain otherwise.
    pub fn encode_for(&self, version: Version) -> Result<Vec<u8>, EncodeError> {
        let frame = encode(self)?;
        Ok(if version.reads_compressed() {
            compress(frame)
        } else {
            frame
        })
    }

    /// Decodes a frame, plain or compressed; any malformed or oversized
    /// input is an error, and a compressed one is never inflated past the
    /// frame limit.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        decode(frame, true)
    }
}
