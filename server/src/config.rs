//! Configuration: command-line flags, then `FIELDOPS_*` / `DATABASE_URL`
//! environment variables, then an optional TOML file, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

/// Settings read from the TOML file; every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub jwt_secret: Option<String>,
    pub access_token_ttl_secs: Option<u64>,
    pub refresh_token_ttl_secs: Option<u64>,
    pub caller_cache_ttl_ms: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub idempotency_lease_ms: Option<u64>,
    pub default_phone_region: Option<String>,
    /// `local` (default) or `s3`.
    pub blob_store: Option<String>,
    pub blob_dir: Option<PathBuf>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    pub max_upload_bytes: Option<u64>,
    pub max_photo_pixels: Option<u64>,
    pub blob_gc_grace_secs: Option<u64>,
    pub download_url_ttl_secs: Option<u64>,
    pub ticket_categories: Option<Vec<String>>,
    pub ticket_max_attachments: Option<u32>,
    pub ticket_max_attachment_bytes: Option<u64>,
    pub ticket_default_department: Option<String>,
    pub helpdesk_job_interval_secs: Option<u64>,
    pub kpi_rollup_interval_secs: Option<u64>,
    pub sla: Option<crate::helpdesk::sla::SlaSettings>,
    pub whatsapp: Option<WhatsappSettings>,
    pub attendance: Option<AttendanceConfig>,
    pub invoices: Option<InvoiceConfig>,
    pub login_throttle: Option<LoginThrottleConfig>,
    pub trusted_proxies: Option<Vec<TrustedProxy>>,
    pub sockets: Option<SocketLimitsConfig>,
    pub calls: Option<CallsConfig>,
    pub cors_origins: Option<Vec<String>>,
    pub public_url: Option<String>,
    pub rating_link_days: Option<u64>,
}

/// The WhatsApp Cloud API (TOML table `[whatsapp]`). Without an app secret the
/// webhook refuses every delivery; without an access token nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsappSettings {
    /// Answered in the `GET /webhooks/whatsapp` handshake.
    pub verify_token: Option<String>,
    /// Key of the `X-Hub-Signature-256` HMAC.
    pub app_secret: Option<String>,
    /// Graph API base, e.g. `https://graph.facebook.com/v21.0`.
    pub api_base_url: String,
    pub phone_number_id: String,
    pub access_token: Option<String>,
    /// Attempts before an outbound message is marked failed.
    pub max_attempts: u32,
    /// The approved authentication template that carries one-time codes
    /// (its body takes the code as `{{1}}`, its copy-code button the code
    /// again), and the template's language code.
    pub code_template: String,
    pub code_template_language: String,
    /// The approved utility template that asks for a rating (body: `{{1}}`
    /// the customer's name, `{{2}}` the visit; one URL button whose dynamic
    /// suffix is the link's token, its base the server's `/rate/`), and its
    /// language code.
    pub rating_template: String,
    pub rating_template_language: String,
}

impl Default for WhatsappSettings {
    fn default() -> Self {
        Self {
            verify_token: None,
            app_secret: None,
            api_base_url: "https://graph.facebook.com/v21.0".into(),
            phone_number_id: String::new(),
            access_token: None,
            max_attempts: 8,
            code_template: "fieldops_kode_verifikasi".into(),
            code_template_language: "id".into(),
            rating_template: "fieldops_penilaian_kunjungan".into(),
            rating_template_language: "id".into(),
        }
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing the config file {}", path.display()))
    }
}

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// HS256 key for access tokens. Without one, a key is generated on first
    /// start and kept in the database, so every instance shares it.
    pub jwt_secret: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long an authenticated caller is kept in memory (`auth::cache`);
    /// zero reads the database on every request.
    pub caller_cache_ttl: Duration,
    pub max_body_bytes: usize,
    /// How long a request holds its `Idempotency-Key` before a retry may
    /// take it over (`http::idempotency`): after a crash, the wait before the
    /// retry runs.
    pub idempotency_lease: Duration,
    /// Region for phone numbers written without a country code (ISO 3166).
    pub default_phone_region: String,
    /// Ticket categories (codes) accepted by the API.
    pub ticket_categories: Vec<String>,
    /// Images a ticket may hold (seed 004: five).
    pub ticket_max_attachments: u32,
    /// The largest image a ticket takes, in bytes (seed 004: 5 MB).
    pub ticket_max_attachment_bytes: u64,
    /// The department (by name) of tickets customers open themselves, and of chats.
    pub ticket_default_department: String,
    /// How often the help-desk job checks SLAs, assigns queued work and sends WhatsApp.
    pub helpdesk_job_interval: Duration,
    /// How often the KPI rollup looks for finished days to write.
    pub kpi_rollup_interval: Duration,
    pub sla: crate::helpdesk::sla::SlaSettings,
    pub whatsapp: WhatsappSettings,
    /// Where photo bytes are kept.
    pub blob_store: BlobStoreConfig,
    /// Largest accepted upload (default 15 MiB).
    pub max_upload_bytes: u64,
    /// Largest accepted photo in pixels (decompression bombs; default 50 MP).
    pub max_photo_pixels: u64,
    /// How long a blob nothing refers to is kept before it is deleted.
    pub blob_gc_grace: Duration,
    /// How long a signed download URL stays valid.
    pub download_url_ttl: Duration,
    /// Geofence and lateness rules for check-ins.
    pub attendance: AttendanceConfig,
    /// The business that issues invoices, and how it charges PPN.
    pub invoices: InvoiceConfig,
    /// How long a rating link works (14 days).
    pub rating_link_ttl: Duration,
    /// Limits on failed sign-ins.
    pub login_throttle: LoginThrottleConfig,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Limits on open WebSockets.
    pub sockets: SocketLimitsConfig,
    /// Calls: ring timeout, grace period, ICE servers (`[calls]`).
    pub calls: CallsConfig,
    /// Browser origins (`https://console.example.co.id`) allowed to call the
    /// API from their pages (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// Where customers reach this server (`https://fieldops.example.co.id`):
    /// links sent over WhatsApp start with it. Without it, messages carry
    /// no links.
    pub public_url: Option<String>,
}

/// How failed sign-ins slow the next attempt (TOML table
/// `[login_throttle]`; see `auth::throttle`). Past a key's free failures,
/// each failure doubles its wait, from `first_delay_ms` up to
/// `max_delay_secs`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LoginThrottleConfig {
    /// One client guessing one account.
    pub free_failures_per_account_and_address: u32,
    /// Many clients guessing one account; the wait holds back only clients
    /// that failed on it themselves, never the owner from a fresh address.
    #[serde(alias = "max_failures_per_account")]
    pub free_failures_per_account: u32,
    /// One client guessing many accounts. Behind a reverse proxy, set
    /// `trusted_proxies` so that this is the client's own address.
    #[serde(alias = "max_failures_per_address")]
    pub free_failures_per_address: u32,
    /// The first wait past the allowance, in milliseconds.
    pub first_delay_ms: u64,
    /// The longest wait, in seconds.
    pub max_delay_secs: u64,
    /// Failures are forgotten after this many seconds without one.
    #[serde(alias = "window_secs")]
    pub forget_after_secs: u64,
}

impl Default for LoginThrottleConfig {
    fn default() -> Self {
        Self {
            free_failures_per_account_and_address: 5,
            free_failures_per_account: 20,
            free_failures_per_address: 50,
            first_delay_ms: 1000,
            max_delay_secs: 15 * 60,
            forget_after_secs: 15 * 60,
        }
    }
}

/// A reverse proxy (or a network of them, as a CIDR) whose
/// `X-Forwarded-For` names the client (`trusted_proxies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: std::net::IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Whether `ip` is within this network.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let ip = match ip {
            V6(v6) => v6.to_ipv4_mapped().map_or(V6(v6), V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (V4(net), V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (V6(net), V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for TrustedProxy {
    type Err = String;

    /// `10.0.0.0/8`, `fd00::/8`, or one address.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IP address or CIDR (e.g. 10.0.0.0/8)");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let network: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }
}

impl<'de> Deserialize<'de> for TrustedProxy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How many WebSockets one caller may hold open on one instance (TOML table
/// `[sockets]`; 0 turns a limit off). Each open socket costs buffers and a
/// task, so without a bound one account, or one address that has not even
/// signed in, could hold as many as it likes. Past a limit the socket is
/// refused with 429 before the upgrade, or, for a sync session whose
/// account is known only from its `Hello`, with an `Error` frame and close
/// code 1013.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SocketLimitsConfig {
    /// Per account: event streams and sync sessions together (a console
    /// tab holds one, a phone one).
    pub max_per_account: u32,
    /// Per client address (an IPv6 client by its /64): sync sockets that
    /// have not yet said `Hello`. Phones behind one carrier NAT share an
    /// address, but each is unauthenticated only for one round trip.
    pub max_unauthenticated_per_address: u32,
}

impl Default for SocketLimitsConfig {
    fn default() -> Self {
        Self {
            max_per_account: 16,
            max_unauthenticated_per_address: 32,
        }
    }
}

/// Calls (TOML table `[calls]`): how long a call rings, how long a
/// connected call waits for a dropped device, and the ICE servers handed to
/// both devices with the call.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// A call nobody answers in this time is missed.
    pub ring_timeout_secs: u64,
    /// A chosen device disconnected this long ends its call as failed.
    pub grace_secs: u64,
    /// STUN servers (`stun:host:port`).
    pub stun_urls: Vec<String>,
    /// TURN servers (`turn:host:port?transport=udp`), given time-limited
    /// credentials by coturn's REST scheme when `turn_secret` is set.
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub turn_secret: Option<String>,
    /// How long a TURN credential lasts.
    pub turn_credential_ttl_secs: u64,
    /// Pushes that wake a phone without a live connection.
    pub push: PushConfig,
}

/// Where call pushes go (`[calls.push]`). A platform without its token is
/// not pushed to.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// FCM's HTTP v1 API.
    pub fcm_url: String,
    /// The Firebase project id.
    pub fcm_project: String,
    /// An OAuth 2 access token of the project's service account.
    pub fcm_access_token: Option<String>,
    /// APNs.
    pub apns_url: String,
    /// The app's bundle id; VoIP pushes go to `<topic>.voip`.
    pub apns_topic: String,
    /// A provider token (JWT) for APNs.
    pub apns_auth_token: Option<String>,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            fcm_url: "https://fcm.googleapis.com".to_owned(),
            fcm_project: String::new(),
            fcm_access_token: None,
            apns_url: "https://api.push.apple.com".to_owned(),
            apns_topic: String::new(),
            apns_auth_token: None,
        }
    }
}

/// `[calls]` as the protocol can carry it: every call message hands the ICE
/// servers out, so settings over the protocol's limits would break them all.
fn checked_calls(calls: CallsConfig) -> anyhow::Result<CallsConfig> {
    use fieldops_sync::call::{MAX_ICE_TEXT_BYTES, MAX_ICE_URLS};
    for (key, urls) in [
        ("stun_urls", &calls.stun_urls),
        ("turn_urls", &calls.turn_urls),
    ] {
        anyhow::ensure!(
            urls.len() <= MAX_ICE_URLS,
            "[calls] {key}: at most {MAX_ICE_URLS} URLs"
        );
        if let Some(url) = urls.iter().find(|u| u.len() > MAX_ICE_TEXT_BYTES) {
            anyhow::bail!("[calls] {key}: `{url}` is longer than {MAX_ICE_TEXT_BYTES} bytes");
        }
    }
    Ok(calls)
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self {
            ring_timeout_secs: 30,
            grace_secs: 10,
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_credential_ttl_secs: 24 * 3600,
            push: PushConfig::default(),
        }
    }
}

/// How check-ins are judged (TOML table `[attendance]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AttendanceConfig {
    /// Radius around the site that counts as on site, in metres.
    pub geofence_radius_m: f64,
    /// The radius grows by the reported GPS accuracy, up to this many metres.
    pub geofence_max_radius_m: f64,
    /// When work starts on a visit day, minutes after local midnight (08:00).
    pub workday_start_minute: i64,
    /// A technician with no check-in this long after the start is late.
    pub late_grace_minutes: i64,
    /// The sites' local time as an offset from UTC in minutes (WIB, UTC+7).
    pub utc_offset_minutes: i64,
}

impl AttendanceConfig {
    /// The day (days since 1970-01-01) it is at `now_ms` in the sites'
    /// calendar.
    pub fn today(&self, now_ms: i64) -> i64 {
        (now_ms + self.utc_offset_minutes * 60_000).div_euclid(86_400_000)
    }
}

impl Default for AttendanceConfig {
    fn default() -> Self {
        Self {
            geofence_radius_m: 200.0,
            geofence_max_radius_m: 1000.0,
            workday_start_minute: 8 * 60,
            late_grace_minutes: 30,
            utc_offset_minutes: 7 * 60,
        }
    }
}

/// The business that issues invoices (TOML table `[invoices]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InvoiceConfig {
    /// `ppn_12_dpp_11_12` for a VAT-registered business (12 % on 11/12 of
    /// the price, from 2025), `none` for one that is not.
    pub tax_rule: fieldops_sync::money::TaxRule,
    /// The seller's name, address and tax id (NPWP) on every invoice.
    pub seller_name: String,
    pub seller_address: String,
    pub seller_npwp: String,
}

impl Default for InvoiceConfig {
    fn default() -> Self {
        Self {
            tax_rule: fieldops_sync::money::TaxRule::Ppn12Dpp11Of12,
            seller_name: "PT Fieldops Demo Indonesia".to_owned(),
            seller_address: "Jl. Jenderal Sudirman No. 1, Jakarta".to_owned(),
            seller_npwp: "0000000000000000".to_owned(),
        }
    }
}

/// The object store behind photo uploads.
#[derive(Clone, PartialEq, Eq)]
pub enum BlobStoreConfig {
    /// A directory on this machine (one instance, or a shared mount).
    Local { dir: PathBuf },
    /// Any S3-compatible service. Credentials fall back to the usual
    /// `AWS_*` environment variables when absent.
    S3 {
        /// e.g. `https://s3.eu-central-1.amazonaws.com` or `http://127.0.0.1:9000`;
        /// AWS itself when absent.
        endpoint: Option<String>,
        region: String,
        bucket: String,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    },
}

impl std::fmt::Debug for BlobStoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { dir } => f.debug_struct("Local").field("dir", dir).finish(),
            Self::S3 {
                endpoint,
                region,
                bucket,
                ..
            } => f
                .debug_struct("S3")
                .field("endpoint", endpoint)
                .field("region", region)
                .field("bucket", bucket)
                .finish_non_exhaustive(),
        }
    }
}

impl Default for BlobStoreConfig {
    fn default() -> Self {
        Self::Local {
            dir: PathBuf::from("data/blobs"),
        }
    }
}

pub const DEFAULT_TICKET_CATEGORIES: &[&str] = &[
    "technical",
    "billing",
    "account",
    "feature_request",
    "bug",
    "general",
    "other",
];

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/fieldops.db";

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            caller_cache_ttl: Duration::from_secs(2),
            max_body_bytes: 1024 * 1024,
            idempotency_lease: Duration::from_secs(5),
            default_phone_region: "ID".to_owned(),
            blob_store: BlobStoreConfig::default(),
            max_upload_bytes: 15 * 1024 * 1024,
            max_photo_pixels: 50_000_000,
            blob_gc_grace: Duration::from_secs(7 * 24 * 3600),
            download_url_ttl: Duration::from_secs(15 * 60),
            ticket_categories: DEFAULT_TICKET_CATEGORIES
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            ticket_max_attachments: 5,
            ticket_max_attachment_bytes: 5 * 1024 * 1024,
            ticket_default_department: "Customer Service".to_owned(),
            helpdesk_job_interval: Duration::from_secs(15),
            kpi_rollup_interval: Duration::from_secs(300),
            sla: Default::default(),
            whatsapp: WhatsappSettings::default(),
            attendance: AttendanceConfig::default(),
            invoices: InvoiceConfig::default(),
            rating_link_ttl: Duration::from_secs(14 * 86_400),
            login_throttle: LoginThrottleConfig::default(),
            trusted_proxies: Vec::new(),
            sockets: SocketLimitsConfig::default(),
            calls: CallsConfig::default(),
            cors_origins: Vec::new(),
            public_url: None,
        }
    }
}

/// A browser origin as CORS compares it: `scheme://host[:port]`, nothing
/// more.
fn cors_origin(value: &str) -> anyhow::Result<String> {
    origin("cors_origins", value)
}

/// `scheme://host[:port]` for setting `name`, nothing more.
fn origin(name: &str, value: &str) -> anyhow::Result<String> {
    let uri: axum::http::Uri = value
        .parse()
        .map_err(|_| anyhow::anyhow!("{name}: {value:?} is not an origin"))?;
    let plain = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.authority().is_some()
        && uri
            .path_and_query()
            .is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty());
    anyhow::ensure!(
        plain && !value.ends_with('/'),
        "{name}: {value:?} must be scheme://host[:port], e.g. https://console.example.co.id"
    );
    Ok(value.to_owned())
}

impl Config {
    /// Fills what `file` sets into the defaults.
    pub fn from_file(file: FileConfig) -> anyhow::Result<Self> {
        let d = Config::default();
        let blob_store = match file.blob_store.as_deref().unwrap_or("local") {
            "local" => BlobStoreConfig::Local {
                dir: file.blob_dir.unwrap_or_else(|| PathBuf::from("data/blobs")),
            },
            "s3" => BlobStoreConfig::S3 {
                endpoint: file.s3_endpoint,
                region: file.s3_region.unwrap_or_else(|| "us-east-1".to_owned()),
                bucket: file
                    .s3_bucket
                    .context("blob_store = \"s3\" needs s3_bucket")?,
                access_key_id: file.s3_access_key_id,
                secret_access_key: file.s3_secret_access_key,
            },
            other => anyhow::bail!("blob_store must be \"local\" or \"s3\", not {other:?}"),
        };
        Ok(Self {
            listen: file.listen.unwrap_or(d.listen),
            database_url: file.database_url.unwrap_or(d.database_url),
            jwt_secret: file.jwt_secret,
            access_token_ttl: file
                .access_token_ttl_secs
                .map_or(d.access_token_ttl, Duration::from_secs),
            refresh_token_ttl: file
                .refresh_token_ttl_secs
                .map_or(d.refresh_token_ttl, Duration::from_secs),
            caller_cache_ttl: file
                .caller_cache_ttl_ms
                .map_or(d.caller_cache_ttl, Duration::from_millis),
            max_body_bytes: file.max_body_bytes.unwrap_or(d.max_body_bytes),
            idempotency_lease: file
                .idempotency_lease_ms
                .map_or(d.idempotency_lease, Duration::from_millis),
            default_phone_region: file.default_phone_region.unwrap_or(d.default_phone_region),
            attendance: file.attendance.unwrap_or(d.attendance),
            invoices: file.invoices.unwrap_or(d.invoices),
            rating_link_ttl: file
                .rating_link_days
                .map_or(d.rating_link_ttl, |days| Duration::from_secs(days * 86_400)),
            login_throttle: file.login_throttle.unwrap_or(d.login_throttle),
            trusted_proxies: file.trusted_proxies.unwrap_or(d.trusted_proxies),
            sockets: file.sockets.unwrap_or(d.sockets),
            calls: checked_calls(file.calls.unwrap_or(d.calls))?,
            cors_origins: match file.cors_origins {
                Some(origins) => origins
                    .into_iter()
                    .map(|o| cors_origin(&o))
                    .collect::<anyhow::Result<_>>()?,
                None => d.cors_origins,
            },
            public_url: file
                .public_url
                .map(|u| origin("public_url", &u))
                .transpose()?,
            ticket_categories: file.ticket_categories.unwrap_or(d.ticket_categories),
            ticket_max_attachments: file
                .ticket_max_attachments
                .unwrap_or(d.ticket_max_attachments),
            ticket_max_attachment_bytes: file
                .ticket_max_attachment_bytes
                .unwrap_or(d.ticket_max_attachment_bytes),
            ticket_default_department: file
                .ticket_default_department
                .unwrap_or(d.ticket_default_department),
            helpdesk_job_interval: file
                .helpdesk_job_interval_secs
                .map_or(d.helpdesk_job_interval, Duration::from_secs),
            kpi_rollup_interval: file
                .kpi_rollup_interval_secs
                .map_or(d.kpi_rollup_interval, Duration::from_secs),
            sla: file.sla.unwrap_or(d.sla),
            whatsapp: file.whatsapp.unwrap_or(d.whatsapp),
            blob_store,
            max_upload_bytes: file.max_upload_bytes.unwrap_or(d.max_upload_bytes),
            max_photo_pixels: file.max_photo_pixels.unwrap_or(d.max_photo_pixels),
            blob_gc_grace: file
                .blob_gc_grace_secs
                .map_or(d.blob_gc_grace, Duration::from_secs),
            download_url_ttl: file
                .download_url_ttl_secs
                .map_or(d.download_url_ttl, Duration::from_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CallsConfig, checked_calls, cors_origin};

    #[test]
    fn ice_settings_must_fit_the_protocol() {
        assert!(checked_calls(CallsConfig::default()).is_ok());
        let many = CallsConfig {
            stun_urls: vec!["stun:a:3478".into(); 5],
            ..CallsConfig::default()
        };
        assert!(
            checked_calls(many)
                .expect_err("five STUN URLs")
                .to_string()
                .contains("stun_urls")
        );
        let long = CallsConfig {
            turn_urls: vec![format!("turn:{}:3478", "a".repeat(600))],
            ..CallsConfig::default()
        };
        assert!(
            checked_calls(long)
                .expect_err("a 600-byte URL")
                .to_string()
                .contains("turn_urls")
        );
    }

    #[test]
    fn cors_origins_are_bare_origins() {
        assert!(cors_origin("https://console.example.co.id").is_ok());
        assert!(cors_origin("http://127.0.0.1:8080").is_ok());
        for bad in [
            "console.example.co.id",
            "https://console.example.co.id/",
            "https://console.example.co.id/app",
            "ftp://example.com",
            "*",
        ] {
            assert!(cors_origin(bad).is_err(), "{bad}");
        }
    }
}
