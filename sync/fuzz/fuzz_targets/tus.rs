//! Fuzz target: the tus headers a client writes. Any `Upload-Metadata` is
//! pairs or a refusal naming why, never a panic; accepted pairs have
//! unique keys without whitespace and, written back as a client would,
//! parse to the same pairs. An `Upload-Length` or `Upload-Offset` is a
//! non-negative integer that prints back to itself, or refused.
//!
//! Run with `sync/fuzz/run` (stable Rust; see the script).

#![no_main]

use fieldops_inbound::tus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    if let Ok(pairs) = tus::metadata(&raw) {
        for (i, (key, _)) in pairs.iter().enumerate() {
            assert!(!key.is_empty());
            assert!(!key.chars().any(|c| c.is_whitespace() || c == ','));
            assert!(pairs[..i].iter().all(|(k, _)| k != key), "{key} twice");
        }
        let written = tus::encode_metadata(&pairs);
        assert_eq!(tus::metadata(&written), Ok(pairs), "{written}");
    }
    if let Some(n) = tus::non_negative(&raw) {
        assert!(n >= 0);
        assert_eq!(tus::non_negative(&n.to_string()), Some(n));
    }
});
