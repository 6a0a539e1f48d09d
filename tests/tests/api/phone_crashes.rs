//! Crash trials for the phone core (issue 25): the phone's process is
//! killed with SIGKILL at random instants while its live sync loop runs and
//! the user keeps working, again and again on the same store:
//!
//! * **chat**: messages queued in the outbox every few milliseconds. After
//!   every kill the store opens and every message the phone reported saved
//!   is in its outbox; after all of them, each reached the server once.
//! * **photos**: photos attached to a ticket while the upload worker sends
//!   earlier ones in small chunks, so kills land mid-pipeline, mid-chunk
//!   and between a chunk and its record. After every kill the store opens
//!   and every photo reported attached has its document and its files;
//!   after all of them, every one is stored on the server with the bytes
//!   the phone kept, and the phone's queue is empty.
//!
//! The phone runs as a child process: this test binary again, running only
//! `phone_crash_child` with the store, the work and the server in its
//! environment. `FIELDOPS_PHONE_CRASH_TRIALS` (default 10 per backend for
//! chat, 5 for photos) and `FIELDOPS_PHONE_CRASH_SEED` (printed) replay a
//! run.

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use fieldops_core::FieldopsCore;
use fieldops_core::photo::testing::synthetic_jpeg;
use fieldops_core::sync::docs::photo::{Owner, OwnerKind, UploadState};
use fieldops_sync::docs::{DocumentSchema as _, Photo};
use fieldops_sync::ids::DocId;
use fieldops_tests::phones::SYNC;
use fieldops_tests::{Backend, SeededRng, TestApp, on_both_backends};

on_both_backends!(
    a_phone_killed_while_it_syncs_and_writes_loses_nothing,
    a_phone_killed_while_it_uploads_photos_loses_none,
);

const CHILD_STORE: &str = "FIELDOPS_PHONE_CRASH_STORE";
const CHILD_TRIAL: &str = "FIELDOPS_PHONE_CRASH_TRIAL";
/// `chat`, or `photos:<ticket id>`.
const CHILD_WORK: &str = "FIELDOPS_PHONE_CRASH_WORK";
/// Upload chunks in the photo trials: several per photo, so kills land
/// between them.
const PHOTO_CHUNK: usize = 16 * 1024;

/// The phone, run only as the child: live sync on, a chat message queued
/// (or a photo attached) every few milliseconds, each reported once its
/// write returned, as `saved <trial>.<n> <id> [<sha256>]`.
#[test]
fn phone_crash_child() {
    let Ok(path) = std::env::var(CHILD_STORE) else {
        return;
    };
    let trial: u64 = std::env::var(CHILD_TRIAL).unwrap().parse().unwrap();
    let work = std::env::var(CHILD_WORK).unwrap();
    let core = FieldopsCore::open(&path).unwrap();
    core.add_listener(std::sync::Arc::new(Told));
    core.photos().set_upload_chunk_bytes(PHOTO_CHUNK);
    core.sync().start().unwrap();
    // Each run numbers its writes afresh under its trial: one saved in the
    // instant before a kill, and never reported, keeps a body of its own.
    for n in 0.. {
        match work.split_once(':') {
            None => {
                let entry = core
                    .tickets()
                    .send_chat_message(None, &format!("crash {trial}.{n}"))
                    .unwrap();
                println!("saved {trial}.{n} {}", entry.command_id);
            }
            Some((_, ticket)) => {
                let owner = Owner {
                    kind: OwnerKind::Ticket,
                    id: ticket.parse().unwrap(),
                };
                let seed = (trial * 1000 + n) as u32;
                let image = synthetic_jpeg(640, 480, seed, 90);
                let caption = format!("crash {trial}.{n}");
                let photo = core
                    .photos()
                    .attach(owner, &image, &caption, 1_767_225_600_000)
                    .unwrap();
                println!("saved {trial}.{n} {} {}", photo.photo_id, photo.sha256);
            }
        }
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// What the server refused or took back, said on the child's stderr (a
/// failed trial shows it).
struct Told;

impl fieldops_core::CoreListener for Told {
    fn on_event(&self, event: fieldops_core::CoreEvent) {
        if matches!(
            event,
            fieldops_core::CoreEvent::WriteRejected { .. }
                | fieldops_core::CoreEvent::ScopeDropped { .. }
        ) {
            eprintln!("told {event:?}");
        }
    }
}

/// How long one child may take to report the writes it is killed after.
const CHILD_DEADLINE: Duration = Duration::from_secs(120);

/// What a child reported saved: its number, the id, and the photo's hash.
#[derive(Debug, Clone)]
struct Saved {
    n: String,
    id: String,
    sha256: Option<String>,
}

fn saved_line(line: &str) -> Option<Saved> {
    let mut parts = line.strip_prefix("saved ")?.split(' ');
    Some(Saved {
        n: parts.next()?.to_owned(),
        id: parts.next()?.to_owned(),
        sha256: parts.next().map(str::to_owned),
    })
}

/// Runs the phone as a child until it has reported `kill_after` saved
/// writes, kills it, and returns every write it reported saved (those
/// printed before the kill and not yet read included), and what it said on
/// stderr. A child that ends by itself before the kill fails the trial,
/// with what it said.
fn run_child(
    store: &std::path::Path,
    work: &str,
    trial: u64,
    kill_after: u64,
) -> (Vec<Saved>, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "phone_crashes::phone_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_STORE, store)
        .env(CHILD_TRIAL, trial.to_string())
        .env(CHILD_WORK, work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Drained beside stdout, so a chatty child never blocks on a full pipe.
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    // A child that stalls is killed after a deadline, so a hang fails the
    // trial instead of holding CI until its time limit.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let pid = child.id().to_string();
    let watchdog = std::thread::spawn(move || {
        use std::sync::mpsc::RecvTimeoutError;
        let outcome = finished.recv_timeout(CHILD_DEADLINE);
        // Timed out, or the reader panicked (the sender dropped): the
        // child, not reaped yet, must not outlive the trial.
        if matches!(
            outcome,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected)
        ) && let Err(e) = Command::new("kill").args(["-9", &pid]).status()
        {
            eprintln!("killing the stalled phone {pid}: {e}");
        }
        matches!(outcome, Err(RecvTimeoutError::Timeout))
    });
    let mut saved = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if let Some(s) = saved_line(&line.unwrap()) {
            saved.push(s);
            if saved.len() as u64 == kill_after {
                child.kill().unwrap();
                break;
            }
        }
    }
    // Told before the child is reaped, so its pid is never reused under
    // the watchdog.
    let _ = done.send(());
    let stalled = watchdog.join().unwrap();
    let status = child.wait().unwrap();
    saved.extend(lines.map_while(Result::ok).filter_map(|l| saved_line(&l)));
    let said = said.join().unwrap();
    assert!(
        !stalled,
        "trial {trial}: the phone was still short of {kill_after} writes after {CHILD_DEADLINE:?} ({} reported); killed:\n{said}",
        saved.len()
    );
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "trial {trial}: the phone ended before it was killed ({status}) after {} writes:\n{said}",
        saved.len()
    );
    (saved, said)
}

/// The number of trials (`FIELDOPS_PHONE_CRASH_TRIALS`, else `default`)
/// and the seed, printed with the command that replays the run.
fn trials_and_seed(what: &str, backend: Backend, default: u64) -> (u64, SeededRng, u64) {
    let trials: u64 = std::env::var("FIELDOPS_PHONE_CRASH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(default);
    let seed: u64 = std::env::var("FIELDOPS_PHONE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().as_nanosecond() as u64);
    println!(
        "phone crash trials ({what}) on {backend:?}: replay with FIELDOPS_PHONE_CRASH_SEED={seed} FIELDOPS_PHONE_CRASH_TRIALS={trials}"
    );
    (trials, SeededRng(seed), seed)
}

/// Runs `trials` children on `store`, each killed after a random number of
/// reported writes in `kill_after`; after each kill the store must open
/// and `check` holds for everything reported so far.
async fn kill_repeatedly(
    store: &std::path::Path,
    work: &str,
    (trials, mut rng, seed): (u64, SeededRng, u64),
    kill_after: (u64, u64),
    check: impl Fn(&FieldopsCore, &Saved) -> Result<(), String>,
) -> Vec<Saved> {
    let mut saved: Vec<Saved> = Vec::new();
    for trial in 0..trials {
        let kill_after = rng.between(kill_after.0, kill_after.1);
        let (store_path, work) = (store.to_owned(), work.to_owned());
        // The child is driven with blocking reads, off the runtime that
        // serves its sync session.
        let (reported, said) =
            tokio::task::spawn_blocking(move || run_child(&store_path, &work, trial, kill_after))
                .await
                .unwrap();
        saved.extend(reported);
        // The store opens after the kill, with everything reported saved.
        let core = FieldopsCore::open(store).unwrap_or_else(|e| {
            panic!("trial {trial} (seed {seed}): the store does not open: {e}")
        });
        for s in &saved {
            if let Err(e) = check(&core, s) {
                panic!(
                    "trial {trial} (seed {seed}): {} ({}) was reported saved: {e}\nthe phone said:\n{said}",
                    s.n, s.id
                );
            }
        }
    }
    saved
}

/// Syncs until nothing is left to send (commands, documents, photo
/// files); fails with the last sync's error if something is.
async fn drain(store: &std::path::Path) -> FieldopsCore {
    let core = FieldopsCore::open(store).unwrap();
    let mut last = None;
    for _ in 0..10 {
        last = match core.sync().now(SYNC).await {
            Ok(report) => report.upload_error.map(|e| format!("upload: {e}")),
            Err(e) => Some(format!("{e:?}")),
        };
        let s = core.sync().status();
        let left = (
            s.pending_commands,
            s.sending_commands,
            s.unsynced_documents,
            s.pending_uploads,
            s.failed_uploads,
        );
        if left == (0, 0, 0, 0, 0) {
            return core;
        }
    }
    panic!(
        "still unsent after ten syncs: {:?}; last error: {last:?}",
        core.sync().status()
    );
}

async fn a_phone_killed_while_it_syncs_and_writes_loses_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let run = trials_and_seed("chat", backend, 10);
    let (trials, seed) = (run.0, run.2);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    {
        let core = FieldopsCore::open(&store).unwrap();
        core.auth()
            .login(&app.url(""), "customer@example.com", "customer123")
            .await
            .unwrap();
        core.sync().now(SYNC).await.unwrap();
    }

    let saved = kill_repeatedly(&store, "chat", run, (20, 140), |core, s| {
        let id = s.id.parse().map_err(|e| format!("{e:?}"))?;
        core.outbox().get(id).map(drop).map_err(|e| e.to_string())
    })
    .await;
    assert!(!saved.is_empty());

    // Back online for good: the outbox drains, each message once.
    let core = drain(&store).await;
    assert!(
        core.outbox().list(true).unwrap().is_empty(),
        "the outbox drained"
    );
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM chat_messages WHERE body LIKE 'crash %'")
            .fetch_all(app.server.state.db.pool())
            .await
            .unwrap();
    let unique: HashSet<&String> = bodies.iter().collect();
    assert_eq!(
        unique.len(),
        bodies.len(),
        "a message reached the server twice (seed {seed})"
    );
    for s in &saved {
        assert!(
            unique.contains(&format!("crash {}", s.n)),
            "message {} was saved on the phone and never arrived (seed {seed})",
            s.n
        );
    }
    println!(
        "phone crash trials (chat) on {backend:?}: {trials} kills, {} messages reported saved, {} on the server, each once",
        saved.len(),
        bodies.len()
    );
    app.stop().await;
}

async fn a_phone_killed_while_it_uploads_photos_loses_none(backend: Backend) {
    // Every photo goes on one ticket: past the usual 5 the server would
    // refuse them (`wrong_state`), which is not what this trial is about.
    let Some(app) = TestApp::spawn_with(backend, |c| c.ticket_max_attachments = 10_000).await
    else {
        return;
    };
    let run = trials_and_seed("photos", backend, 5);
    let (trials, seed) = (run.0, run.2);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    let ticket: DocId = {
        let core = FieldopsCore::open(&store).unwrap();
        core.auth()
            .login(&app.url(""), "customer@example.com", "customer123")
            .await
            .unwrap();
        let opened = core
            .tickets()
            .create("Foto AC", "AC menetes, foto menyusul", "technical")
            .unwrap();
        core.sync().now(SYNC).await.unwrap();
        opened.target_id.unwrap()
    };

    let work = format!("photos:{ticket}");
    let saved = kill_repeatedly(&store, &work, run, (2, 8), |core, s| {
        let id: DocId = s.id.parse().map_err(|e| format!("{e:?}"))?;
        core.photos().get(id).map_err(|e| e.to_string())?;
        let sha256 = s.sha256.as_deref().ok_or("no hash reported")?;
        let file = core.photos().file(sha256).ok_or("its file is gone")?;
        let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
        if fieldops_tests::photos::sha256_hex(&bytes) != sha256 {
            return Err("its file is not the bytes attached".into());
        }
        Ok(())
    })
    .await;
    assert!(!saved.is_empty());

    // Back online for good: every photo reported attached is stored on the
    // server, with the bytes the phone kept, and nothing is left to send.
    let core = drain(&store).await;
    let status = core.sync().status();
    assert_eq!(
        (status.pending_uploads, status.pending_commands),
        (0, 0),
        "the queue drained (seed {seed})"
    );
    let db = &app.server.state.db;
    for s in &saved {
        let (_, doc) = fieldops_server::sync::load(db, &s.id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("photo {} never reached the server (seed {seed})", s.n));
        let photo = Photo::hydrate(&doc).unwrap();
        assert_eq!(
            (photo.upload_state, photo.caption.as_str()),
            (UploadState::Stored, format!("crash {}", s.n).as_str()),
            "seed {seed}"
        );
        let sha256 = s.sha256.as_deref().unwrap();
        assert_eq!(photo.sha256.to_string(), sha256);
        let blob = fieldops_server::db::blobs::get(db.pool(), sha256)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("photo {}'s bytes are not on the server (seed {seed})", s.n));
        let kept = std::fs::read(core.photos().file(sha256).unwrap()).unwrap();
        assert_eq!(
            (blob.state.as_str(), blob.byte_size),
            ("stored", kept.len() as i64),
            "seed {seed}"
        );
    }
    println!(
        "phone crash trials (photos) on {backend:?}: {trials} kills, {} photos reported attached, each stored on the server",
        saved.len()
    );
    app.stop().await;
}
