//! End-to-end tests of the HTTP API and the storage conformance suite, each run
//! against a real server on loopback over SQLite and over PostgreSQL.

#![allow(clippy::unwrap_used)]

mod assignment;
mod auth;
mod bad_input;
mod blob_access;
mod blob_storage;
mod body_limit;
mod calls;
mod chat;
mod claims_race;
mod conformance;
mod customers;
mod db_faults;
mod escalation;
mod event_readers;
mod field;
mod field_phones;
mod field_rejections;
mod field_sync;
mod idempotency;
mod invoice_phones;
mod invoices;
mod journeys;
mod kpi;
mod languages;
mod live;
mod live_feed;
mod matrix;
mod mobile;
mod ops;
mod phone_crashes;
mod phone_proof;
mod photo_queue;
mod photos;
mod ratings;
mod scale_out;
mod settings;
mod sockets;
mod sync;
mod text_edge;
mod ticket_attachments;
mod ticket_phones;
mod tickets;
mod users;
mod visit_leavers;
mod visit_services;
mod visits;
mod whatsapp;
mod whatsapp_media;
