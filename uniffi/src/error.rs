//! The one public error of the FFI, mapped from the core's errors in one
//! place. Messages name fields and reasons, never user data.

use fieldops_core::CoreError;

/// What Kotlin and Swift callers can act on.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FieldopsError {
    /// An argument is invalid (id, coordinate, length, range).
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The argument.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// No such document, command or item on this device.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Sign in first.
    #[error("not signed in")]
    NotLoggedIn,
    /// Wrong credentials, or the session ended: sign in again.
    #[error("unauthorized: {reason}")]
    Unauthorized {
        /// Why.
        reason: String,
    },
    /// The edit breaks the write rules; nothing was saved.
    #[error("forbidden: {violations:?}")]
    Forbidden {
        /// `field:reason` pairs.
        violations: Vec<String>,
    },
    /// The store file is unusable (corrupt, foreign, or from a newer app).
    #[error("store unusable: {reason}")]
    StoreUnusable {
        /// Why.
        reason: String,
    },
    /// The server could not be reached; the work is kept and retried.
    #[error("network: {reason}")]
    Network {
        /// Why.
        reason: String,
    },
    /// A bounded call ran out of time.
    #[error("timed out")]
    Timeout,
    /// The image is not a usable photo; nothing was stored. `code`:
    /// `empty`, `too_large`, `too_many_pixels`, `unsupported_format`,
    /// `corrupt` or `processing`.
    #[error("photo {code}: {reason}")]
    InvalidPhoto {
        /// A stable code.
        code: String,
        /// What is wrong.
        reason: String,
    },
    /// The device's storage failed (full, not writable).
    #[error("device storage: {reason}")]
    DeviceStorage {
        /// Why.
        reason: String,
    },
    /// Anything else; report it.
    #[error("internal error: {reason}")]
    Internal {
        /// Why.
        reason: String,
    },
}

impl From<CoreError> for FieldopsError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::InvalidInput { field, problem } => FieldopsError::InvalidInput {
                field: field.to_owned(),
                reason: problem,
            },
            CoreError::NotFound { kind } => FieldopsError::NotFound {
                what: kind.to_owned(),
            },
            CoreError::NotLoggedIn => FieldopsError::NotLoggedIn,
            CoreError::Unauthorized(reason) => FieldopsError::Unauthorized { reason },
            CoreError::Forbidden(violations) => FieldopsError::Forbidden {
                violations: violations
                    .iter()
                    .map(|v| format!("{}:{}", v.field, v.reason))
                    .collect(),
            },
            e @ (CoreError::StoreCorrupt(_) | CoreError::StoreTooNew { .. }) => {
                FieldopsError::StoreUnusable {
                    reason: e.to_string(),
                }
            }
            CoreError::Network(reason) => FieldopsError::Network { reason },
            CoreError::Timeout => FieldopsError::Timeout,
            CoreError::Photo(e) => {
                use fieldops_core::photo::PhotoError as P;
                let code = match &e {
                    P::Empty => "empty",
                    P::TooLarge { .. } => "too_large",
                    P::TooManyPixels { .. } => "too_many_pixels",
                    P::UnsupportedFormat => "unsupported_format",
                    P::Corrupt(_) => "corrupt",
                    P::Processing(_) => "processing",
                };
                FieldopsError::InvalidPhoto {
                    code: code.to_owned(),
                    reason: e.to_string(),
                }
            }
            CoreError::Storage(reason) => FieldopsError::DeviceStorage { reason },
            other => FieldopsError::Internal {
                reason: other.to_string(),
            },
        }
    }
}

/// Parses an id argument.
pub(crate) fn parse_id<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, FieldopsError> {
    text.parse().map_err(|_| FieldopsError::InvalidInput {
        field: field.to_owned(),
        reason: "not a valid id".into(),
    })
}
