//! Prometheus metrics: request counts and latencies per route, the claim
//! gate's reads, and where a device's document write spends its time on the
//! way to the other devices (`sync_write_stage_seconds`), kept per app
//! instance (no global registry, so tests can run many servers in one
//! process).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: &'static str,
}

/// A stage of a device's document write, from its frame to the other
/// devices' frames ([`Metrics::sync_stage`]).
#[derive(Debug, Clone, Copy)]
pub enum SyncStage {
    /// Whether the document is in the writer's scope (a read).
    Scope,
    /// Opening the write transaction.
    Begin,
    /// Locking the row, reading and loading the document, storing the
    /// change run, its listing and feed position: the write but its rules.
    LoadAndStore,
    /// Applying the changes with the write rules checked.
    Rules,
    /// Recording the events, committing, waking the live feed.
    Commit,
    /// The live feed reading what changed (one snapshot, all sessions).
    LiveRead,
    /// One session choosing and framing what its device receives.
    LiveFrames,
}

impl SyncStage {
    fn label(self) -> &'static str {
        match self {
            SyncStage::Scope => "scope",
            SyncStage::Begin => "begin",
            SyncStage::LoadAndStore => "load_and_store",
            SyncStage::Rules => "rules",
            SyncStage::Commit => "commit",
            SyncStage::LiveRead => "live_read",
            SyncStage::LiveFrames => "live_frames",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    claim_gate_reads: Counter,
    sync_stages: Family<StageLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)));
        let mut registry = Registry::with_prefix("fieldops");
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        let claim_gate_reads = Counter::default();
        registry.register(
            "claim_gate_reads",
            "Reads of a visit with its holders made by the claim gate",
            claim_gate_reads.clone(),
        );
        let sync_stages: Family<StageLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_01, 2.0, 16)));
        registry.register(
            "sync_write_stage_seconds",
            "Time a device's document write spends in each stage on its way to the other devices",
            sync_stages.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            claim_gate_reads,
            sync_stages,
        }
    }
}

impl Metrics {
    /// The counter the [claim gate](crate::visits::gate) adds its reads to.
    pub fn claim_gate_reads(&self) -> Counter {
        self.claim_gate_reads.clone()
    }

    /// Records the time a sync write spent in `stage`.
    pub fn sync_stage(&self, stage: SyncStage, elapsed: std::time::Duration) {
        self.sync_stages
            .get_or_create(&StageLabels {
                stage: stage.label(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }
}

/// Middleware recording every request under its route template.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
