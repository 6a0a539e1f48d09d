//! The web console, from outside: its sessions and CSRF protection and the
//! policy on every page, over plain HTTP on both backends (`security`,
//! `pages`), and the CS workflow in real headless Chromium (`browser`).

#![allow(clippy::unwrap_used)]

mod browser;
mod calls;
mod invoices;
mod journeys;
mod kpi;
mod pages;
mod security;
mod ticket_record;
mod user_edit;
mod visit_edit;
