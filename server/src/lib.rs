//! fieldops-server: the axum service that coordinates technicians, customers
//! and customer service.
//!
//! ```text
//! adapters  (http, sync session + command executor, webhooks, jobs, main.rs)
//!    └─> services  (accounts, visits, helpdesk, photos)
//!           └─> unit of work  (work: the only commit — documents, events and
//!           │                  the idempotency record commit with the change)
//!           └─> storage  (db: all SQL, one body for SQLite and Postgres)
//!                  └─> model  (domain, auth::Actor, fieldops-sync)
//! ```
//!
//! * [`config`]: flags, environment and TOML.
//! * [`db`]: one body of SQL for both backends, and why.
//! * [`work`]: the unit of work; [`faults`]: the points where tests stop it.
//! * [`auth`]: passwords, tokens, the [`auth::Actor`] extractor, the policy
//!   and the sign-in throttle; [`accounts`]: sessions, registration with a
//!   proved phone, staff accounts.
//! * [`http`]: routes, OpenAPI, problem+json errors, idempotency.
//! * [`events`]: live events, across instances through Postgres LISTEN/NOTIFY.
//! * [`visits`]: field execution (claims, attendance, extensions) as service
//!   functions shared by HTTP and the sync command executor.
//! * [`helpdesk`]: tickets, SLA, assignment, chat and WhatsApp.
//! * [`seed`]: the demo data.
//! * [`storage`], [`photos`]: photo bytes in object storage (local or S3),
//!   their checks, thumbnails, signed links and garbage collection.

// First, so its `t!` (a catalogue message in the request's language) is in
// scope in every module below.
#[macro_use]
pub mod i18n;
pub mod accounts;
pub mod alerts;
pub mod auth;
pub mod calls;
pub mod config;
pub mod console;
pub mod csv;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod faults;
pub mod helpdesk;
pub mod http;
pub mod invoices;
pub mod journeys;
pub mod keyed_locks;
pub mod kpi;
pub mod metrics;
pub mod photos;
pub mod ratings;
pub mod scope;
pub mod seed;
pub mod service;
pub mod settings;
pub mod storage;
pub mod sync;
pub mod visits;
pub mod work;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::Config;
use db::Db;

/// What every handler can reach: the [`Shared`] parts behind one `Arc`.
///
/// Cloned for every request (axum's `State` extractor, the middleware), so a
/// clone is one reference count. It used to be the struct itself, whose
/// clone and drop touched every field's counters (and the cancellation
/// token's mutex): some 13 % of the CPU time of a burst of claims.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The server's shared parts.
#[derive(Debug)]
pub struct Shared {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: auth::tokens::TokenKeys,
    /// Authenticated callers, kept briefly (`auth::cache`).
    pub callers: Arc<auth::cache::CallerCache>,
    pub metrics: metrics::Metrics,
    pub events: events::EventBus,
    /// What changed in the sync feed, read once for every session here.
    pub live: sync::live::LiveFeed,
    /// Photo bytes (local directory or S3).
    pub blobs: storage::BlobStore,
    /// Signs and checks download links.
    pub links: photos::LinkSigner,
    /// Seals console cookies and derives their CSRF tokens.
    pub console_key: console::session::ConsoleKey,
    /// Hashes the one-time codes that prove a phone.
    pub codes: accounts::phone_codes::CodeKey,
    /// Orders requests on one upload within this instance.
    pub upload_locks: keyed_locks::KeyedLocks,
    /// Tells claims bound to lose before they queue for the writer.
    pub claim_gate: visits::gate::ClaimGate,
    /// Open WebSockets, counted per account and per unauthenticated address.
    pub sockets: http::sockets::SocketSlots,
    pub helpdesk: helpdesk::Helpdesk,
    /// Call signalling: the relay between instances, this one's devices.
    pub calls: calls::Calls,
    /// What admins changed while the server runs (SLA, round-robin, ratings).
    pub settings: Arc<settings::Live>,
    /// Cancelled when the server stops; background tasks watch it.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// The business calendar in force (the SLA settings').
    pub fn calendar(&self) -> Arc<helpdesk::sla::Calendar> {
        Arc::clone(&self.settings.get().calendar)
    }

    /// Connects to the database, applies migrations and loads the signing key.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        let secret = match &config.jwt_secret {
            Some(s) if s.len() >= 32 => s.clone(),
            Some(_) => anyhow::bail!("the JWT secret must be at least 32 characters"),
            None => {
                db::secrets::get_or_create(&db, "jwt_hs256", auth::tokens::random_secret).await?
            }
        };
        let tokens = auth::tokens::TokenKeys::new(
            secret.as_bytes(),
            config.access_token_ttl,
            config.refresh_token_ttl,
        );
        let blobs = storage::BlobStore::open(&config.blob_store)?;
        let link_key =
            db::secrets::get_or_create(&db, "download_link_hmac", auth::tokens::random_secret)
                .await?;
        let links = photos::LinkSigner::new(link_key.as_bytes());
        let code_key =
            db::secrets::get_or_create(&db, "phone_code_hmac", auth::tokens::random_secret).await?;
        let codes = accounts::phone_codes::CodeKey::new(code_key.as_bytes());
        let console_key =
            db::secrets::get_or_create(&db, "console_cookie_hmac", auth::tokens::random_secret)
                .await?;
        let console_key = console::session::ConsoleKey::new(console_key.as_bytes());
        let helpdesk = helpdesk::Helpdesk::default();
        let settings = Arc::new(settings::Live::load(&db, &config).await?);
        let shutdown = CancellationToken::new();
        let callers = Arc::new(auth::cache::CallerCache::new(config.caller_cache_ttl));
        let events = events::EventBus::start(
            db.clone(),
            &config.database_url,
            Arc::clone(&callers),
            shutdown.clone(),
        )
        .await?;
        let metrics = metrics::Metrics::default();
        let live =
            sync::live::LiveFeed::start(db.clone(), &events, metrics.clone(), shutdown.clone())
                .await?;
        let relay =
            calls::relay::CallRelay::start(db.clone(), &config.database_url, shutdown.clone())
                .await?;
        let push = Arc::new(calls::push::HttpPush::new(config.calls.push.clone()));
        let claim_gate = visits::gate::ClaimGate::new(metrics.claim_gate_reads());
        let sockets = http::sockets::SocketSlots::new(config.sockets.clone());
        Ok(Self(Arc::new(Shared {
            db,
            config: Arc::new(config),
            tokens,
            callers,
            metrics,
            events,
            live,
            blobs,
            links,
            codes,
            console_key,
            upload_locks: keyed_locks::KeyedLocks::default(),
            claim_gate,
            sockets,
            helpdesk,
            calls: calls::Calls::new(relay, push),
            settings,
            shutdown,
        })))
    }
}

/// A server running on a background task.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.state.shutdown.cancel();
        self.task.await.context("joining the server task")??;
        self.state.db.close().await;
        Ok(())
    }
}

/// Binds `state.config.listen` and serves until [`RunningServer::stop`].
/// The socket is bound before this returns, so the server is ready at once.
pub async fn start(state: AppState) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(state.config.listen)
        .await
        .with_context(|| format!("binding {}", state.config.listen))?;
    let addr = listener.local_addr()?;
    spawn_housekeeping(state.clone());
    helpdesk::spawn_jobs(state.clone());
    kpi::rollup::spawn(state.clone());
    calls::spawn_sweep(state.clone());
    let app = http::router(state.clone());
    let stop = state.shutdown.clone();
    // Small frames (a live edit, a Feed, an event) must not wait for
    // Nagle's algorithm: with the peer's delayed ACK, every second frame
    // was held back ~40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "setting TCP_NODELAY");
        }
    });
    let task = tokio::spawn(async move {
        // Connection info: the sign-in throttle keys by client address.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    Ok(RunningServer { addr, state, task })
}

/// How long the event log keeps events for catching up.
const EVENT_LOG_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Periodic clean-up that any instance may run (idempotent).
fn spawn_housekeeping(state: AppState) {
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    match work::expire_keys(&state, http::idempotency::TTL_MS).await {
                        Ok(n) if n > 0 => tracing::info!(expired = n, "idempotency keys expired"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "expiring idempotency keys"),
                    }
                    let forget = state.config.login_throttle.forget_after_secs.saturating_mul(1000);
                    let forget = i64::try_from(forget).unwrap_or(i64::MAX);
                    if let Err(e) = db::login_failures::expire(&state.db, forget).await {
                        tracing::warn!(error = %e, "expiring sign-in failure counts");
                    }
                    if let Err(e) = state.events.expire(EVENT_LOG_TTL_MS).await {
                        tracing::warn!(error = %e, "expiring the event log");
                    }
                    match photos::collect_garbage(&state).await {
                        Ok(n) if n > 0 => tracing::info!(deleted = n, "unreferenced blobs collected"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "collecting unreferenced blobs"),
                    }
                }
            }
        }
    });
}
