//! A device simulator: one or many simulated phones running fieldops-core
//! against a server, for the README walkthrough and for load tests.
//!
//! ```sh
//! cargo run --bin fieldops -- serve --demo &
//! cargo run -p fieldops-core --example simulator -- --devices 3 --claim --check-in --notes "Panel checked"
//! ```
//!
//! Each device logs in as `tech<N>@example.com` (the demo technicians), syncs,
//! lists its pool nearest first, and then, as asked: claims the nearest open
//! visit, checks in at its site, and writes notes while offline before
//! syncing again. It prints what the phone would show.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use fieldops_core::{CommandState, FieldopsCore, Position};

#[derive(Debug, Parser)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// How many phones (tech1 … techN).
    #[arg(long, default_value_t = 1)]
    devices: usize,
    /// Password of the demo technicians.
    #[arg(long, default_value = "tech123")]
    password: String,
    /// Where the phones keep their stores (a temporary directory by default).
    #[arg(long)]
    store_dir: Option<PathBuf>,
    /// Claim the nearest open visit.
    #[arg(long)]
    claim: bool,
    /// Check in at the claimed visit's site.
    #[arg(long)]
    check_in: bool,
    /// Write these notes on the claimed visit while offline, then sync.
    #[arg(long)]
    notes: Option<String>,
    /// Where the phones stand (Jakarta by default).
    #[arg(long, default_value_t = -6.2)]
    lat: f64,
    #[arg(long, default_value_t = 106.816)]
    lon: f64,
}

const SYNC: Duration = Duration::from_secs(15);

async fn run_device(args: &Args, dir: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let name = format!("tech{n}");
    let core = FieldopsCore::open(dir.join(format!("{name}.db")))?;
    core.auth()
        .login(&args.server, &format!("{name}@example.com"), &args.password)
        .await?;
    let report = core.sync().now(SYNC).await?;
    println!(
        "[{name}] synced: {} documents, cursor {}",
        report.documents_received, report.cursor
    );
    let here = Position {
        lat: args.lat,
        lon: args.lon,
    };
    let pool = core.visits().pool(Some(here))?;
    for item in pool.iter().take(3) {
        println!(
            "[{name}] pool: {} ({}, {:.1} km)",
            item.title,
            item.sort_key,
            item.distance_m.unwrap_or_default() / 1000.0
        );
    }
    let Some(target) = pool.first().map(|i| i.doc_id) else {
        println!("[{name}] the pool is empty");
        return Ok(());
    };
    if args.claim {
        let queued = core.visits().claim(target)?;
        println!("[{name}] claim queued ({:?})", queued.state);
        core.sync().now(SYNC).await?;
        let answer = core.outbox().get(queued.command_id)?;
        match answer.state {
            CommandState::Accepted => println!("[{name}] claim accepted"),
            CommandState::Rejected => println!(
                "[{name}] claim rejected: {}",
                answer.reason.unwrap_or_default()
            ),
            other => println!("[{name}] claim still {other:?} (offline?)"),
        }
        if answer.state != CommandState::Accepted {
            return Ok(());
        }
    }
    let visit = core.visits().get(target)?;
    if args.check_in {
        let site = Position {
            lat: visit.site.lat,
            lon: visit.site.lon,
        };
        let receipt = core.visits().check_in(target, site, 8.0)?;
        println!(
            "[{name}] checked in; on the phone the geofence says {:?}",
            receipt.geofence
        );
        core.sync().now(SYNC).await?;
        let answer = core.outbox().get(receipt.command.command_id)?;
        println!(
            "[{name}] check-in {:?} {}",
            answer.state,
            answer.reason.unwrap_or_default()
        );
    }
    if let Some(notes) = &args.notes {
        // Written with no network: visible at once, sent on the next sync.
        core.visits().set_notes(target, notes)?;
        println!(
            "[{name}] notes saved offline; unsynced documents: {}",
            core.sync().status().unsynced_documents
        );
        core.sync().now(SYNC).await?;
        println!("[{name}] notes now: {:?}", core.visits().get(target)?.notes);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let dir = args
        .store_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let mut tasks = Vec::new();
    let args = std::sync::Arc::new(args);
    for n in 1..=args.devices {
        let (args, dir) = (args.clone(), dir.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = run_device(&args, &dir, n).await {
                println!("[tech{n}] failed: {e:#}");
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    Ok(())
}
