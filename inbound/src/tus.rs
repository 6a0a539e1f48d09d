//! The values tus 1.0 clients send in request headers: `Upload-Metadata`
//! and the integers of `Upload-Length` and `Upload-Offset`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The longest `Upload-Metadata` accepted, in bytes.
pub const MAX_METADATA_BYTES: usize = 4096;

/// Why an `Upload-Metadata` header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("Upload-Metadata is longer than {max} bytes")]
    TooLong { max: usize },
    /// A key holds whitespace or a control character.
    #[error("the key {key:?} holds whitespace or a control character")]
    BadKey { key: String },
    #[error("the value of {key:?} is not base64 of UTF-8 text")]
    NotBase64 { key: String },
    #[error("the key {key:?} is given twice")]
    Duplicate { key: String },
}

/// Parses `Upload-Metadata`: comma-separated pairs, each a key and, after
/// a space, its value in base64; a key alone has the empty value. Keys
/// are unique and hold no whitespace (tus 1.0, "Upload-Metadata").
pub fn metadata(raw: &str) -> Result<Vec<(String, String)>, MetadataError> {
    if raw.len() > MAX_METADATA_BYTES {
        return Err(MetadataError::TooLong {
            max: MAX_METADATA_BYTES,
        });
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MetadataError::BadKey { key: key.into() });
        }
        let value = match value.trim() {
            "" => String::new(),
            encoded => STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| MetadataError::NotBase64 { key: key.into() })?,
        };
        if out.iter().any(|(k, _)| k == key) {
            return Err(MetadataError::Duplicate { key: key.into() });
        }
        out.push((key.into(), value));
    }
    Ok(out)
}

/// `pairs` as an `Upload-Metadata` value, as a client writes it.
pub fn encode_metadata(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| match value.as_str() {
            "" => key.clone(),
            value => format!("{key} {}", STANDARD.encode(value)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// An `Upload-Length` or `Upload-Offset`: digits only (`1*DIGIT`: no
/// sign, no spaces inside) of a value that fits an `i64` (a length too
/// large to accept is the caller's to refuse, with its own answer).
pub fn non_negative(value: &str) -> Option<i64> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pairs_decode_and_a_bare_key_is_empty() {
        assert_eq!(
            metadata("sha256 YWJj, filename ZS5qcGc=,flag").unwrap(),
            pairs(&[("sha256", "abc"), ("filename", "e.jpg"), ("flag", "")])
        );
        assert_eq!(metadata("").unwrap(), vec![]);
        assert_eq!(metadata(" , ,").unwrap(), vec![]);
    }

    #[test]
    fn what_is_not_the_grammar_is_refused_with_its_key() {
        assert_eq!(
            metadata("sha256 !!!"),
            Err(MetadataError::NotBase64 {
                key: "sha256".into()
            })
        );
        // Base64 of bytes that are not UTF-8.
        assert_eq!(
            metadata("name //79"),
            Err(MetadataError::NotBase64 { key: "name".into() })
        );
        assert_eq!(
            metadata("sha256 YWJj,sha256 ZGVm"),
            Err(MetadataError::Duplicate {
                key: "sha256".into()
            })
        );
        assert_eq!(
            metadata("a\tb YWJj"),
            Err(MetadataError::BadKey { key: "a\tb".into() })
        );
        assert_eq!(
            metadata(&"a".repeat(MAX_METADATA_BYTES + 1)),
            Err(MetadataError::TooLong {
                max: MAX_METADATA_BYTES
            })
        );
    }

    #[test]
    fn what_a_client_encodes_parses_back() {
        let sent = pairs(&[
            (
                "sha256",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ),
            ("filename", "foto rumah, depan.jpg"),
            ("empty", ""),
        ]);
        assert_eq!(metadata(&encode_metadata(&sent)).unwrap(), sent);
    }

    #[test]
    fn lengths_are_digits_that_fit() {
        assert_eq!(non_negative("0"), Some(0));
        assert_eq!(non_negative(" 1048576 "), Some(1_048_576));
        assert_eq!(non_negative("9223372036854775807"), Some(i64::MAX));
        for refused in [
            "",
            " ",
            "-1",
            "-0",
            "+5",
            "1 2",
            "1e3",
            "0x10",
            "9223372036854775808",
        ] {
            assert_eq!(non_negative(refused), None, "{refused:?}");
        }
    }
}
