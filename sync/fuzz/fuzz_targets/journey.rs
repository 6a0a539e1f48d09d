//! Fuzz target: the journey definition decoder, the publish-time checks and
//! the evaluator must never panic, on any bytes; a definition that passes
//! validation must never lead a walk to a dead end.
//!
//! Run with `sync/fuzz/run` (stable Rust; see the script).

#![no_main]

use fieldops_sync::journey::{Answers, Definition, Stop, evaluate, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input is a definition, optionally followed by a line of answers.
    let (definition, answers) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(definition) = Definition::from_json(definition) else {
        return;
    };
    let valid = validate(&definition).is_ok();
    let answers: Answers = serde_json::from_str(answers).unwrap_or_default();
    let walk = evaluate(&definition, &answers);
    assert!(walk.path.len() <= definition.nodes.len());
    if valid {
        assert!(!matches!(walk.stop, Stop::DeadEnd), "a valid definition reached a dead end");
    }
});
