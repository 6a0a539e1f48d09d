//! The core's error type: one rich enum, without personal data in its text.
//!
//! Callers in Rust match on it; the FFI crate maps it, in one place, to the
//! small public error enum that Kotlin and Swift see.

use fieldops_sync::commands::InvalidCommand;
use fieldops_sync::error::{ApplyError, DecodeError, EncodeError, SchemaError};
use fieldops_sync::ids::DocKind;
use fieldops_sync::rules::Violation;
use thiserror::Error;

/// Everything that can go wrong in the core.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The store file could not be opened, is not a fieldops store, or is corrupt.
    #[error("the local store is unusable: {0}")]
    StoreCorrupt(String),
    /// The store was written by a newer app version.
    #[error("the local store has schema version {found}, newer than {supported}")]
    StoreTooNew {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// SQLite failed.
    #[error("storage error: {0}")]
    Sqlite(Box<rusqlite::Error>),
    /// An argument failed validation (ids, coordinates, lengths).
    #[error("invalid {field}: {problem}")]
    InvalidInput {
        /// The argument.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// No such document on this device.
    #[error("no {kind} with that id on this device")]
    NotFound {
        /// The kind asked for.
        kind: &'static str,
    },
    /// The call needs a signed-in user.
    #[error("not signed in")]
    NotLoggedIn,
    /// The server refused the credentials or the session ended.
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    /// The local edit breaks the write rules; nothing was saved.
    #[error("{} write rule violation(s)", .0.len())]
    Forbidden(Vec<Violation>),
    /// A stored document does not match its schema.
    #[error("document schema: {0}")]
    Schema(Box<SchemaError>),
    /// Automerge failed on stored bytes.
    #[error("document data: {0}")]
    Automerge(Box<automerge::AutomergeError>),
    /// The network or server could not be reached, or answered nonsense.
    #[error("network: {0}")]
    Network(String),
    /// A protocol frame was malformed.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A bounded operation ran out of time.
    #[error("timed out")]
    Timeout,
    /// The core is shutting down.
    #[error("the core is closed")]
    Closed,
    /// The image could not be made into a photo (not an image, damaged,
    /// too large, too many pixels); nothing was stored.
    #[error("photo: {0}")]
    Photo(#[from] crate::photo::PhotoError),
    /// The device's file storage failed (full, not writable).
    #[error("device storage: {0}")]
    Storage(String),
}

/// An id column whose text is not a valid id: the store is corrupt.
///
/// Ids in the store were all written by the core from typed ids, so one that
/// does not parse is damage, reported as [`CoreError::StoreCorrupt`]
/// (through `From<rusqlite::Error>`, as the row mappers of
/// `store::id_at` raise it). It is never replaced by a fresh or nil id,
/// which would name a document or command that does not exist, nor
/// silently skipped.
#[derive(Debug, Error)]
#[error("invalid id in column {column}")]
pub(crate) struct BadStoredId {
    column: String,
}

impl BadStoredId {
    pub(crate) fn new(column: &str) -> Self {
        BadStoredId {
            column: column.to_owned(),
        }
    }
}

/// Results of the core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

impl CoreError {
    pub(crate) fn invalid(field: &'static str, problem: impl ToString) -> Self {
        CoreError::InvalidInput {
            field,
            problem: problem.to_string(),
        }
    }

    pub(crate) fn not_found(kind: DocKind) -> Self {
        CoreError::NotFound {
            kind: kind.as_str(),
        }
    }
}

/// [`CoreError::InvalidInput`] if `text` is longer than `max` characters.
pub(crate) fn check_len(field: &'static str, text: &str, max: usize) -> Result<()> {
    if text.chars().count() > max {
        return Err(CoreError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

impl From<rusqlite::Error> for CoreError {
    fn from(error: rusqlite::Error) -> Self {
        if let rusqlite::Error::FromSqlConversionFailure(_, _, cause) = &error
            && let Some(bad) = cause.downcast_ref::<BadStoredId>()
        {
            return CoreError::StoreCorrupt(bad.to_string());
        }
        CoreError::Sqlite(Box::new(error))
    }
}

impl From<SchemaError> for CoreError {
    fn from(error: SchemaError) -> Self {
        CoreError::Schema(Box::new(error))
    }
}

impl From<automerge::AutomergeError> for CoreError {
    fn from(error: automerge::AutomergeError) -> Self {
        CoreError::Automerge(Box::new(error))
    }
}

impl From<InvalidCommand> for CoreError {
    fn from(error: InvalidCommand) -> Self {
        CoreError::InvalidInput {
            field: error.field,
            problem: error.problem.to_string(),
        }
    }
}

impl From<ApplyError> for CoreError {
    fn from(error: ApplyError) -> Self {
        CoreError::Protocol(error.to_string())
    }
}

impl From<DecodeError> for CoreError {
    fn from(error: DecodeError) -> Self {
        CoreError::Protocol(error.to_string())
    }
}

impl From<EncodeError> for CoreError {
    fn from(error: EncodeError) -> Self {
        CoreError::Protocol(error.to_string())
    }
}

impl From<fieldops_sync::rules::WriteError> for CoreError {
    fn from(error: fieldops_sync::rules::WriteError) -> Self {
        match error {
            fieldops_sync::rules::WriteError::Apply(e) => e.into(),
            fieldops_sync::rules::WriteError::Violations(v) => CoreError::Forbidden(v),
        }
    }
}

impl From<reqwest::Error> for CoreError {
    fn from(error: reqwest::Error) -> Self {
        // Without the URL: it may carry tokens in queries one day.
        CoreError::Network(error.without_url().to_string())
    }
}
