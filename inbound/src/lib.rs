//! What outside parties send fieldops, parsed: the deliveries of the
//! WhatsApp Cloud API's webhook and the registration texts customers type
//! into WhatsApp ([`whatsapp`]), the headers of a tus upload ([`tus`]), and
//! the bodies of invoice requests ([`invoice`]).
//!
//! These are the server's inputs written by strangers, so they live apart
//! from it: pure functions from bytes to typed values or typed errors, no
//! I/O, no clock, no language. The server words an error in the caller's
//! language and decides what a value means; the fuzz targets in
//! `sync/fuzz` (`whatsapp`, `tus`, `invoice`) run these functions on arbitrary input
//! and check what they promise (no panic; what parses, re-encodes and
//! parses again to the same value).

pub mod invoice;
pub mod tus;
pub mod whatsapp;
