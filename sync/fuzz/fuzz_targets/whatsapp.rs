//! Fuzz target: what strangers send over WhatsApp. Any bytes are a webhook
//! delivery or refused, never a panic; what is read keeps the bounds the
//! server relies on (ids 1–200 bytes, error texts ≤ 500 characters); a
//! registration text that is accepted has fields that pass their text
//! rule, trimmed, and written back as `DAFTAR#…` reads the same.
//!
//! Run with `sync/fuzz/run` (stable Rust; see the script).

#![no_main]

use fieldops_inbound::whatsapp::{
    self, Content, Item, MAX_ERROR_CHARS, MAX_ID_BYTES, RegistrationField,
};
use fieldops_sync::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = whatsapp::webhook(data) {
        for item in items {
            match item {
                Item::Message(message) => {
                    assert!(!message.id.is_empty() && message.id.len() <= MAX_ID_BYTES);
                    if let Content::Text(body) = message.content {
                        registration(&body);
                    }
                }
                Item::Status(status) => {
                    assert!(!status.provider_id.is_empty());
                    assert!(status.provider_id.len() <= MAX_ID_BYTES);
                    let error = status.error.unwrap_or_default();
                    assert!(error.chars().count() <= MAX_ERROR_CHARS);
                }
                Item::Template(_) | Item::Ignored(_) => {}
            }
        }
    }
    registration(&String::from_utf8_lossy(data));
});

fn registration(text: &str) {
    let Some(Ok(registered)) = whatsapp::registration(text) else {
        return;
    };
    for (field, value) in [
        (RegistrationField::Name, &registered.name),
        (RegistrationField::Address, &registered.address),
        (RegistrationField::City, &registered.city),
    ] {
        let (shape, max) = field.rule();
        assert_eq!(text::check(value, shape, max, true), Ok(()), "{field:?}");
        assert_eq!(value.trim(), value.as_str(), "{field:?}");
    }
    let again = format!(
        "DAFTAR#{}#{}#{}",
        registered.name, registered.address, registered.city
    );
    assert_eq!(whatsapp::registration(&again), Some(Ok(registered)));
}
