//! Fuzz target: the wire decoders must reject, never panic, on any bytes, and
//! whatever they accept must encode again (the encoder refuses nothing the
//! decoder accepts).
//!
//! A decoded batch of commands is validated as the server does before
//! running it: validation answers any command with `Ok` or a field error.
//!
//! Run with `sync/fuzz/run` (stable Rust; see the script).

#![no_main]

use fieldops_sync::protocol::{ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = ClientMessage::decode(data) {
        assert!(message.encode().is_ok(), "a decoded client message must encode");
        if let ClientMessage::Commands(commands) = &message {
            for command in commands {
                let _ = command.validate();
            }
        }
    }
    if let Ok(message) = ServerMessage::decode(data) {
        assert!(message.encode().is_ok(), "a decoded server message must encode");
    }
});
