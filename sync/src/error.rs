//! Error types of the crate, one per concern, none carrying document content.
//!
//! Errors name fields and limits but never echo the values that failed, so
//! they can be logged or returned to a client without leaking personal data.

use thiserror::Error;

use crate::ids::DocKind;

/// A string code that is not one of an enum's stable codes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {kind} code {code:?}")]
pub struct UnknownCode {
    /// The enum the code was parsed as.
    pub kind: &'static str,
    /// The offending code, truncated to 64 characters.
    pub code: String,
}

/// Text that is not a valid (non-nil) UUID.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {kind}")]
pub struct InvalidId {
    /// The id type the text was parsed as.
    pub kind: &'static str,
}

/// A document that does not match its schema, or a failed Automerge call
/// while reading or writing one.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A required field is absent.
    #[error("field `{field}` is missing")]
    Missing {
        /// Dotted path of the field, e.g. `site.lat`.
        field: String,
    },
    /// A field holds a value of the wrong Automerge type.
    #[error("field `{field}` should be {expected}")]
    WrongType {
        /// Dotted path of the field.
        field: String,
        /// What the schema expects there.
        expected: &'static str,
    },
    /// A field has the right type but a value outside its domain.
    #[error("field `{field}` is invalid: {reason}")]
    InvalidValue {
        /// Dotted path of the field.
        field: String,
        /// Why, without the value itself.
        reason: String,
    },
    /// The document is of another kind than the one asked for.
    #[error("expected a {expected} document, found {found:?}")]
    WrongKind {
        /// The kind the caller asked for.
        expected: DocKind,
        /// The `kind` stored in the document (truncated).
        found: String,
    },
    /// The document was written by a newer schema than this build knows.
    /// Devices should ask the user to update the app; the data is intact.
    #[error("{kind} schema version {found} is newer than supported version {supported}")]
    UnsupportedVersion {
        /// The document kind.
        kind: DocKind,
        /// The version stored in the document.
        found: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// The document is at an older schema version and must be upgraded
    /// (see [`upgrade`](crate::docs::upgrade)) before it is written.
    #[error("{kind} schema version {found} must be upgraded to {current} before writing")]
    Outdated {
        /// The document kind.
        kind: DocKind,
        /// The version stored in the document.
        found: u64,
        /// The version this build writes.
        current: u64,
    },
    /// Automerge refused an operation.
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
}

impl SchemaError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl ToString) -> Self {
        SchemaError::InvalidValue {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// Why changes could not be checked at all (as opposed to being checked and
/// found to break a rule, which is a list of
/// [`Violation`](crate::rules::Violation)s).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The change bytes or sync message could not be applied.
    #[error("changes could not be applied: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// The bytes are not an Automerge sync message.
    #[error("malformed sync message: {0}")]
    SyncMessage(#[from] automerge::sync::ReadMessageError),
}

/// A frame that could not be decoded. Decoding never panics: every malformed,
/// truncated or oversized input ends here.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame has no bytes.
    #[error("empty frame")]
    Empty,
    /// The frame is longer than [`MAX_FRAME_BYTES`](crate::protocol::limits::MAX_FRAME_BYTES).
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Length of the frame.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first byte names a frame format this build does not speak.
    #[error("unsupported frame version {0}")]
    UnsupportedVersion(u8),
    /// The payload is not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(postcard::Error),
    /// Bytes were left over after the message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// A field is longer than its limit.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    /// A compressed frame that is not one zstd frame declaring its size, or
    /// that would be larger than the frame limit once decompressed.
    #[error("bad compressed frame: {0}")]
    Compressed(&'static str),
}

/// A field or collection over its hard limit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{field}` has {len} items/bytes, the limit is {max}")]
pub struct LimitExceeded {
    /// Which field (static description, no data).
    pub field: &'static str,
    /// Its length.
    pub len: usize,
    /// The limit.
    pub max: usize,
}

/// A message that cannot be encoded because it would break a limit the
/// receiver enforces. Encoding checks the same limits as decoding, so a peer
/// never sends a frame that the other side must reject.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field is over its limit.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    /// The encoded frame is over the frame limit.
    #[error("encoded frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Length of the frame.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Serialisation failed.
    #[error("encoding failed: {0}")]
    Serialize(postcard::Error),
}
