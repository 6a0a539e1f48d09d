//! Who people are: signing in and out, customers registering from the app
//! with a phone they prove, the one-time codes that prove it, and CS merging the duplicate
//! customer records an unproved registration leaves behind.
//!
//! Services in the house shape: a unit of work's transaction and the
//! acting identity in, a value and its effects (or a typed refusal) out;
//! the HTTP handlers only parse, call and render.

pub mod customers;
pub mod departments;
pub mod phone_codes;
pub mod preferences;
pub mod registration;
pub mod sessions;
pub mod staff;
