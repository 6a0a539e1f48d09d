//! Shared helpers for the end-to-end tests: a real server on `127.0.0.1:0` with
//! a fresh database per test, on SQLite (a temporary file) or PostgreSQL (a
//! schema of its own in the database named by `FIELDOPS_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Without a reachable Postgres the Postgres half of the suite is skipped with a
//! printed notice, unless `CI=true`, where it fails loudly.

#![allow(clippy::unwrap_used)] // test support: a failed step should stop the test

pub mod bench;
pub mod calls;
pub mod chromium;
pub mod client;
pub mod console;
pub mod device;
pub mod fixtures;
pub mod phones;
pub mod photos;
pub mod process;
pub mod proxy;
pub mod ratings;
pub mod raw_socket;
pub mod switch;
pub mod ticket_load;
pub mod webrtc;
pub mod whatsapp;

use std::time::Duration;

use fieldops_server::config::BlobStoreConfig;
use fieldops_server::db::Db;
use fieldops_server::{AppState, Config, RunningServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once per backend, as
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )*
    };
}

pub fn postgres_base_url() -> String {
    std::env::var("FIELDOPS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh, empty, migrated database; `None` when Postgres is wanted but
/// unreachable outside CI.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/fieldops.db", dir.path().display());
                Some(Self {
                    url,
                    backend,
                    _dir: Some(dir),
                    schema: None,
                })
            }
            Backend::Postgres => {
                let base = postgres_base_url();
                let admin =
                    match tokio::time::timeout(Duration::from_secs(5), Db::connect(&base)).await {
                        Ok(Ok(db)) => db,
                        other => {
                            let why = match other {
                                Ok(Err(e)) => format!("{e:#}"),
                                _ => "timed out".to_owned(),
                            };
                            if std::env::var("CI").is_ok_and(|v| v == "true") {
                                panic!("CI=true but PostgreSQL at {base} is unreachable: {why}");
                            }
                            eprintln!(
                                "NOTICE: skipping the Postgres half: {base} is unreachable ({why})"
                            );
                            return None;
                        }
                    };
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(admin.pool())
                    .await
                    .unwrap();
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                // Its connections carry the schema as their application name,
                // so a fault test can cut exactly this server's connections.
                let url = format!(
                    "{base}{sep}options=-c%20search_path%3D{schema}&application_name={schema}"
                );
                Some(Self {
                    url,
                    backend,
                    _dir: None,
                    schema: Some(schema),
                })
            }
        }
    }

    /// A migrated connection to this database.
    pub async fn connect(&self) -> Db {
        let db = Db::connect(&self.url).await.unwrap();
        db.migrate().await.unwrap();
        db
    }

    /// Terminates every Postgres connection opened with this database's URL
    /// (its servers' pools and listeners), as a database restart or a
    /// failover would; returns how many. Not for SQLite.
    pub async fn cut_connections(&self) -> i64 {
        let schema = self.schema.as_ref().expect("a Postgres test database");
        let admin = Db::connect(&postgres_base_url()).await.unwrap();
        let cut: i64 = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
        )
        .bind(schema)
        .fetch_one(admin.pool())
        .await
        .unwrap();
        admin.close().await;
        cut
    }

    /// Drops the Postgres schema (the SQLite file goes with its directory).
    pub async fn drop_schema(&self) {
        let Some(schema) = &self.schema else { return };
        if let Ok(admin) = Db::connect(&postgres_base_url()).await {
            let drop = format!("DROP SCHEMA {schema} CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(admin.pool())
                .await;
            admin.close().await;
        }
    }
}

/// A running server with the demo data, and an HTTP client for it.
#[derive(Debug)]
pub struct TestApp {
    pub server: RunningServer,
    pub client: reqwest::Client,
    pub db: TestDb,
    /// The local blob directory (photo bytes), deleted with the app.
    pub blob_dir: tempfile::TempDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The problem `type` slug (`validation` of `urn:fieldops:problem:validation`).
    pub fn problem(&self) -> &str {
        self.body["type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("urn:fieldops:problem:")
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem+json error with `status` and returns its `type` slug.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) -> &str {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected reply: {:?}",
            self.body
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{:?}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        self.problem()
    }
}

impl TestApp {
    /// A server on `127.0.0.1:0` over a fresh database with the demo data.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let db = TestDb::new(backend).await?;
        let blob_dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: db.url.clone(),
            blob_store: BlobStoreConfig::Local {
                dir: blob_dir.path().to_owned(),
            },
            ..Config::default()
        };
        tweak(&mut config);
        let state = AppState::build(config).await.unwrap();
        fieldops_server::seed::demo(&state).await.unwrap();
        let server = fieldops_server::start(state).await.unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Some(Self {
            server,
            client,
            db,
            blob_dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.server.addr, path)
    }

    pub async fn stop(self) {
        self.server.stop().await.unwrap();
        self.db.drop_schema().await;
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::read(request.send().await.unwrap()).await
    }

    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Sets the presence of the staff member `token` signs in as
    /// (`available`, `busy`, `away`, `offline`).
    pub async fn set_presence(&self, token: &str, status: &str) {
        let r = self
            .call(
                Method::PUT,
                "/api/v1/me/status",
                Some(token),
                Some(serde_json::json!({ "status": status })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    /// Saves the language of the account `token` signs in as (`id`, `en`).
    pub async fn set_language(&self, token: &str, language: &str) {
        let r = self
            .call(
                Method::PUT,
                "/api/v1/me/language",
                Some(token),
                Some(serde_json::json!({ "language": language })),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.body);
    }

    /// Logs in and returns the whole token response.
    pub async fn login_full(&self, email: &str, password: &str) -> Value {
        let reply = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(serde_json::json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "login {email}: {:?}",
            reply.body
        );
        reply.body
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        self.login_full(email, password).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The access token of the demo account with `role`.
    pub async fn login_as(&self, role: &str) -> String {
        let (email, password) = demo_account(role);
        self.login(email, password).await
    }
}

/// The demo e-mail and password of a role (`technician` is tech1).
pub fn demo_account(role: &str) -> (&'static str, &'static str) {
    match role {
        "admin" => ("admin@example.com", "admin123"),
        "cs" => ("cs@example.com", "cs123"),
        "sales" => ("sales@example.com", "sales123"),
        "technician" => ("tech1@example.com", "tech123"),
        "customer" => ("customer@example.com", "customer123"),
        other => panic!("no demo account for {other}"),
    }
}

pub const ROLES: [&str; 5] = ["admin", "cs", "sales", "technician", "customer"];

/// Runs `work` while every connection of `db`'s read pool is held, and
/// lets them go once `work` has been polled a few times: everything `work`
/// starts then queues for a connection together, so that a fast read cannot
/// finish before the next request is polled. For tests of reads shared by
/// the requests that arrive while one runs.
pub async fn with_readers_held<F: std::future::Future>(db: &Db, work: F) -> F::Output {
    let pool = db.pool();
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    let release = async {
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        drop(held);
    };
    let (out, ()) = tokio::join!(work, release);
    out
}

/// A WebSocket client connected to a test server.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `path` (with its query) as a WebSocket on `addr`, with a bearer token.
pub async fn websocket(addr: std::net::SocketAddr, path: &str, token: &str) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

/// Reads `socket` until the server closes it; the close code, if it sent one.
pub async fn close_code(socket: &mut Socket, secs: u64) -> Option<u16> {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("timed out waiting for the server to close");
        match message {
            None | Some(Err(_)) => return None,
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            Some(Ok(_)) => {}
        }
    }
}

/// The next JSON text message, skipping pings; panics after `secs` seconds.
pub async fn next_json(socket: &mut Socket, secs: u64) -> Value {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("timed out waiting for a WebSocket message")
            .expect("socket closed")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

impl TestApp {
    /// A second server instance on the same database and blob store, with
    /// the same settings (scale-out tests).
    pub async fn spawn_peer(&self) -> RunningServer {
        // The leader's settings (database, blob store, WhatsApp, job
        // intervals), on an address of its own.
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::clone(&self.server.state.config)
        };
        fieldops_server::start(AppState::build(config).await.unwrap())
            .await
            .unwrap()
    }
}

impl TestApp {
    /// An access token for an existing account, minted without a login
    /// (no password hashing): `(user_id, token)`.
    pub async fn token_for(&self, email: &str) -> (String, String) {
        token_for(&self.server.state, email).await
    }

    /// Creates `n` technicians straight through the database layer (for
    /// load tests) and returns `(user_id, token)` for each.
    pub async fn quick_technicians(&self, n: usize, prefix: &str) -> Vec<(String, String)> {
        technicians(&self.server.state, n, prefix).await
    }
}

/// An access token for an existing account of `state`'s database, minted
/// without a login (no password hashing): `(user_id, token)`. Valid on every
/// server process on that database (the signing key is kept in it).
pub async fn token_for(state: &AppState, email: &str) -> (String, String) {
    let user = fieldops_server::db::users::by_email(state.db.pool(), email)
        .await
        .unwrap()
        .unwrap();
    let mut tx = state.db.begin_write().await.unwrap();
    let session = fieldops_server::db::sessions::create(&mut tx, &user.id, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let token = state
        .tokens
        .issue_access(&user.id, &session, user.role)
        .unwrap();
    (user.id, token)
}

/// Creates `n` technicians (`{prefix}-{i}@example.com`) straight through
/// the database layer of `state` (for load tests), each with a device
/// session: `(user_id, token)` for each.
pub async fn technicians(state: &AppState, n: usize, prefix: &str) -> Vec<(String, String)> {
    use fieldops_server::db::users;
    use fieldops_server::domain::Role;
    let mut emails = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = state.db.begin_write().await.unwrap();
        for i in batch {
            let new = users::NewUser {
                email: format!("{prefix}-{i}@example.com"),
                name: format!("Teknisi {prefix} {i}"),
                phone: None,
                role: Role::Technician,
                password_hash: "not-a-hash".into(),
                customer_id: None,
            };
            emails.push(users::insert(&mut tx, &new).await.unwrap().email);
        }
        tx.commit().await.unwrap();
    }
    let mut out = Vec::with_capacity(n);
    for email in emails {
        out.push(token_for(state, &email).await);
    }
    out
}

/// What a phone core reports, as a channel a test can wait on.
#[derive(Debug)]
pub struct CoreEvents(tokio::sync::mpsc::UnboundedReceiver<fieldops_core::CoreEvent>);

struct Forward(tokio::sync::mpsc::UnboundedSender<fieldops_core::CoreEvent>);

impl fieldops_core::CoreListener for Forward {
    fn on_event(&self, event: fieldops_core::CoreEvent) {
        let _ = self.0.send(event);
    }
}

impl CoreEvents {
    /// Listens to `core` from now on.
    pub fn of(core: &fieldops_core::FieldopsCore) -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        core.add_listener(std::sync::Arc::new(Forward(tx)));
        Self(rx)
    }

    /// Waits up to `secs` for the first event `wanted` accepts.
    pub async fn until(
        &mut self,
        secs: u64,
        wanted: impl Fn(&fieldops_core::CoreEvent) -> bool,
    ) -> fieldops_core::CoreEvent {
        tokio::time::timeout(Duration::from_secs(secs), async {
            loop {
                let event = self.0.recv().await.expect("the core is gone");
                if wanted(&event) {
                    return event;
                }
            }
        })
        .await
        .expect("timed out waiting for the core")
    }
}

/// A small deterministic generator (splitmix64) for trials whose random
/// choices must replay from a printed seed.
#[derive(Debug, Clone)]
pub struct SeededRng(pub u64);

impl SeededRng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low)
    }
}
