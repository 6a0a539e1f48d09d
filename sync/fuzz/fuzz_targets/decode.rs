//! Fuzz target: the wire decoders must reject, never panic, on any bytes, and
//! whatever they accept must encode again (the encoder refuses nothing the
//! decoder accepts).
//!
//! Run with `cargo +nightly fuzz run decode` from `sync/`; CI only builds it.

#![no_main]

use fieldops_sync::protocol::{ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = ClientMessage::decode(data) {
        assert!(message.encode().is_ok(), "a decoded client message must encode");
    }
    if let Ok(message) = ServerMessage::decode(data) {
        assert!(message.encode().is_ok(), "a decoded server message must encode");
    }
});
