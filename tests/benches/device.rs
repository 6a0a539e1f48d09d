//! Device-side figures for fieldops-core: time to apply a 1k-document
//! catch-up, cold open time and memory with 10k documents in the store,
//! and the store half of an initial sync of 50k tickets with their
//! listings, then "my tickets" (the sync bench times the whole of it
//! against a server; this one times the store alone, to profile it).
//!
//! `cargo bench -p fieldops-tests --bench device` (add `--profile dev` for a
//! quick debug-build run; `FIELDOPS_BENCH_SMOKE=1` for a smoke run at 200
//! documents, see [`fieldops_tests::bench`]). Prints its figures; no server needed: documents
//! go through the same store path as a catch-up's `Snapshots` frames.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use automerge::AutoCommit;
use fieldops_core::{Account, FieldopsCore};
use fieldops_sync::docs::visit::VisitStatus;
use fieldops_sync::docs::{Document, DocumentSchema};
use fieldops_sync::ids::{DocId, DocKind, UserId};
use fieldops_sync::listing::Listing;
use fieldops_sync::protocol::{Cursor, ListedSnapshot, Snapshot};
use fieldops_sync::rules::Role;
use fieldops_sync::testing::{sample_ticket, sample_visit};
use fieldops_tests::bench;

fn snapshots(n: usize) -> Vec<Snapshot> {
    (0..n)
        .map(|i| {
            let (kind, bytes) = if i % 2 == 0 {
                let mut v = sample_visit();
                v.status = VisitStatus::Open;
                v.site.lat = -6.2 + (i as f64) * 1e-4;
                v.title = format!("Visit {i}");
                (DocKind::Visit, v.to_document().unwrap().save())
            } else {
                (
                    DocKind::Ticket,
                    sample_ticket().to_document().unwrap().save(),
                )
            };
            Snapshot {
                doc_id: DocId::new(),
                kind,
                seq: Cursor(i as u64 + 1),
                bytes,
            }
        })
        .collect()
}

/// Each snapshot with the listing a server computes for it.
fn with_listings(snapshots: Vec<Snapshot>) -> Vec<ListedSnapshot> {
    snapshots
        .into_iter()
        .map(|snapshot| {
            let doc = AutoCommit::load(&snapshot.bytes).unwrap();
            let listing = Listing::of(&Document::hydrate(snapshot.kind, &doc).unwrap());
            ListedSnapshot {
                snapshot,
                listing: Some(listing),
            }
        })
        .collect()
}

/// An initial sync's documents as a server of protocol 6 sends them: `n`
/// tickets of `customer`, each with its listing (one document's bytes,
/// fresh ids and titles: the store does not look inside).
fn listed_tickets(n: usize, customer: UserId) -> Vec<ListedSnapshot> {
    let mut ticket = sample_ticket();
    ticket.customer_id = customer;
    let bytes = ticket.to_document().unwrap().save();
    let doc = AutoCommit::load(&bytes).unwrap();
    let listing = Listing::of(&Document::hydrate(DocKind::Ticket, &doc).unwrap());
    (0..n)
        .map(|i| ListedSnapshot {
            snapshot: Snapshot {
                doc_id: DocId::new(),
                kind: DocKind::Ticket,
                seq: Cursor(i as u64 + 1),
                bytes: bytes.clone(),
            },
            listing: Some(Listing {
                title: format!("TKT-{i:06} Pompa bocor"),
                ..listing.clone()
            }),
        })
        .collect()
}

/// Stores an initial sync of `n` listed tickets in frames of 4,000 (a
/// server's frame holds ~4,000 such tickets), then lists "my tickets";
/// prints both times.
fn initial_sync_store(n: usize) {
    let customer = UserId::new();
    let batch = listed_tickets(n, customer);
    let dir = tempfile::tempdir().unwrap();
    let core = FieldopsCore::open(dir.path().join("initial.db")).unwrap();
    core.auth()
        .sign_in_offline(Account {
            base_url: "http://127.0.0.1:9".into(),
            user_id: customer,
            role: Role::Customer,
            name: "Bench".into(),
            email: "customer@example.com".into(),
            department_ids: vec![],
        })
        .unwrap();
    let start = Instant::now();
    for frame in batch.chunks(4_000) {
        core.documents().import_listed(frame).unwrap();
    }
    let stored = start.elapsed();
    let start = Instant::now();
    let listed = core.tickets().list(None).unwrap().len();
    let list = start.elapsed();
    assert_eq!(listed, n);
    println!("initial sync, store half: {n} tickets with listings");
    println!(
        "  stored:                              {:>8.1} ms ({:.1} µs a document)",
        stored.as_secs_f64() * 1e3,
        stored.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "  then my tickets ({listed:>6} rows):       {:>8.1} ms",
        list.as_secs_f64() * 1e3
    );
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    bench::announce("device");
    // Documents already in the store, and the catch-up applied on top.
    let (stored, catch_up_size) = bench::size((9_000, 1_000), (180, 20));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let account = Account {
        base_url: "http://127.0.0.1:9".into(),
        user_id: UserId::new(),
        role: Role::Technician,
        name: "Bench".into(),
        email: "bench@example.com".into(),
        department_ids: vec![],
    };

    // Fill the store, as earlier catch-ups would.
    {
        let core = FieldopsCore::open(&path).unwrap();
        core.auth().sign_in_offline(account.clone()).unwrap();
        for chunk in snapshots(stored).chunks(catch_up_size) {
            core.documents().import_snapshots(chunk).unwrap();
        }
        core.visits().pool(None).unwrap();
    }

    // A catch-up: frames of raw bytes stored without parsing.
    let core = FieldopsCore::open(&path).unwrap();
    let batch = snapshots(catch_up_size);
    let start = Instant::now();
    core.documents().import_snapshots(&batch).unwrap();
    let catch_up = start.elapsed();
    let start = Instant::now();
    let listed = core.visits().pool(None).unwrap().len();
    let first_list = start.elapsed();
    // The same catch-up as a server of protocol 6 sends it: each document
    // with its listing, indexed from that instead of parsed.
    let batch = with_listings(snapshots(catch_up_size));
    let start = Instant::now();
    core.documents().import_listed(&batch).unwrap();
    let listed_catch_up = start.elapsed();
    let start = Instant::now();
    let listed_rows = core.visits().pool(None).unwrap().len();
    let listed_first_list = start.elapsed();
    assert_eq!(
        core.documents().count().unwrap(),
        (stored + 2 * catch_up_size) as u64
    );
    drop(core);

    // Cold open with all of them, then the first screen (pool by distance).
    let rss_before = rss_mib();
    let start = Instant::now();
    let core = FieldopsCore::open(&path).unwrap();
    let open = start.elapsed();
    let here = fieldops_core::Position::new(-6.2, 106.8).unwrap();
    let start = Instant::now();
    let pool = core.visits().pool(Some(here)).unwrap();
    let first_screen = start.elapsed();
    let visit = core.visits().get(pool[0].doc_id).unwrap();
    let rss_after = rss_mib();

    println!(
        "device store, {} documents ({} pool visits)",
        stored + catch_up_size,
        pool.len()
    );
    println!(
        "  apply a {catch_up_size:>5}-document catch-up:   {:>8.1} ms",
        catch_up.as_secs_f64() * 1e3
    );
    println!(
        "  then index + list them ({listed:>5} rows): {:>8.1} ms",
        first_list.as_secs_f64() * 1e3
    );
    println!(
        "  the same with listings (protocol 6):  {:>8.1} ms",
        listed_catch_up.as_secs_f64() * 1e3
    );
    println!(
        "  then list them ({listed_rows:>5} rows):         {:>8.1} ms",
        listed_first_list.as_secs_f64() * 1e3
    );
    println!(
        "  cold open:                           {:>8.1} ms",
        open.as_secs_f64() * 1e3
    );
    println!(
        "  first screen (pool by distance):     {:>8.1} ms",
        first_screen.as_secs_f64() * 1e3
    );
    println!(
        "  open + first screen:                 {:>8.1} ms",
        (open + first_screen).as_secs_f64() * 1e3
    );
    println!(
        "  RSS after open + list + one read:    {:>8.1} MiB (process, was {:.1} MiB before open)",
        rss_after, rss_before
    );
    assert!(!visit.title.is_empty());
    drop(core);

    initial_sync_store(bench::size(50_000, 500));
}
