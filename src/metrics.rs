//! Prometheus metrics: what happened (events, commands, Gitea calls) is counted where it
//! happens; what is (inbox depth, oldest event, active waivers) is read from the store at scrape
//! time. One process-wide registry, served at `GET /metrics` in the OpenMetrics text format
//! (what prometheus-client writes) with its content type. Series whose labels are known in advance
//! exist at zero from the start, so `rate()` and alerts see them before the first event.

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::gitea::CallRecord;
use crate::store::{Store, WaiverFilter};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    event: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    method: String,
    endpoint: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    method: String,
    endpoint: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    webhooks: Family<WebhookLabels, Counter>,
    received: Family<KindLabels, Counter>,
    processed: Family<KindLabels, Counter>,
    failed: Family<KindLabels, Counter>,
    commands: Family<CommandLabels, Counter>,
    api_calls: Family<ApiLabels, Counter>,
    api_latency: HistogramFamily<EndpointLabels>,
    inbox_depth: Gauge,
    inbox_oldest: Gauge<f64, AtomicU64>,
    waivers_active: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The metrics of this process.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sopbot");
        let m = Metrics {
            webhooks: Family::default(),
            received: Family::default(),
            processed: Family::default(),
            failed: Family::default(),
            commands: Family::default(),
            api_calls: Family::default(),
            api_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            inbox_depth: Gauge::default(),
            inbox_oldest: Gauge::default(),
            waivers_active: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "webhook_requests",
            "Webhook deliveries answered, by X-Gitea-Event-Type and HTTP status",
            m.webhooks.clone(),
        );
        registry.register(
            "events_received",
            "Events stored in the inbox (webhook and poller), by kind",
            m.received.clone(),
        );
        registry.register(
            "events_processed",
            "Events whose effects are done, by kind",
            m.processed.clone(),
        );
        registry.register(
            "events_failed",
            "Event attempts that failed (retried later), by kind",
            m.failed.clone(),
        );
        registry.register(
            "commands",
            "Slash commands run, by command and outcome",
            m.commands.clone(),
        );
        registry.register(
            "gitea_api_calls",
            "Gitea API requests, by method, endpoint and status",
            m.api_calls.clone(),
        );
        registry.register(
            "gitea_api_latency_seconds",
            "Gitea API request latency",
            m.api_latency.clone(),
        );
        registry.register(
            "inbox_depth",
            "Inbox events not yet done",
            m.inbox_depth.clone(),
        );
        registry.register(
            "inbox_oldest_age_seconds",
            "Age of the oldest pending inbox event",
            m.inbox_oldest.clone(),
        );
        registry.register("waivers_active", "Active waivers", m.waivers_active.clone());
        registry.register(
            "build",
            "The running sopbot: version and commit",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", crate::BUILD_COMMIT),
            ]),
        );
        m.precreate();
        Metrics { registry, ..m }
    }

    /// The series whose label values are a closed set, at zero.
    fn precreate(&self) {
        for kind in EVENT_KINDS {
            let _ = self.received.get_or_create(&kind_labels(kind));
            let _ = self.processed.get_or_create(&kind_labels(kind));
            let _ = self.failed.get_or_create(&kind_labels(kind));
        }
        for kind in crate::command::CommandKind::ALL {
            for outcome in ["ok", "refused"] {
                let _ = self.commands.get_or_create(&CommandLabels {
                    command: kind.name().to_string(),
                    outcome: outcome.to_string(),
                });
            }
        }
        let _ = self.commands.get_or_create(&CommandLabels {
            command: "malformed".into(),
            outcome: "malformed".into(),
        });
    }

    pub fn webhook(&self, event_type: &str, status: u16) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                event: event_type.to_string(),
                status,
            })
            .inc();
    }

    pub fn event_received(&self, kind: &str) {
        self.received.get_or_create(&kind_labels(kind)).inc();
    }

    pub fn event_processed(&self, kind: &str) {
        self.processed.get_or_create(&kind_labels(kind)).inc();
    }

    pub fn event_failed(&self, kind: &str) {
        self.failed.get_or_create(&kind_labels(kind)).inc();
    }

    /// `outcome`: `ok`, `refused`, `unverified`, `malformed` …
    pub fn command(&self, command: &str, outcome: &str) {
        self.commands
            .get_or_create(&CommandLabels {
                command: command.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// The Gitea client's observer: one record per HTTP attempt.
    pub fn api_call(&self, call: &CallRecord) {
        self.api_calls
            .get_or_create(&ApiLabels {
                method: call.method.to_string(),
                endpoint: call.endpoint_template.to_string(),
                status: call
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into()),
            })
            .inc();
        self.api_latency
            .get_or_create(&EndpointLabels {
                method: call.method.to_string(),
                endpoint: call.endpoint_template.to_string(),
            })
            .observe(call.elapsed.as_secs_f64());
    }

    /// Reads the gauges from the store and renders the text format.
    pub async fn render(&self, store: &Store) -> Result<String, std::fmt::Error> {
        if let Ok(n) = store.pending_count().await {
            self.inbox_depth.set(n);
        }
        if let Ok(age) = store.oldest_pending_age().await {
            let secs = age
                .and_then(|a| a.to_std().ok())
                .unwrap_or(Duration::ZERO)
                .as_secs_f64();
            self.inbox_oldest.set(secs);
        }
        if let Ok(w) = store.list_waivers(&WaiverFilter::default()).await {
            self.waivers_active.set(w.len() as i64);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The inbox's event kinds (`Event::kind_name`): the one `kind` vocabulary of every family.
pub const EVENT_KINDS: [&str; 6] = [
    "comment",
    "pull_request",
    "review",
    "review_request",
    "status",
    "reevaluate",
];

/// The content type of the OpenMetrics text that prometheus-client encodes (it ends in `# EOF`).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn kind_labels(kind: &str) -> KindLabels {
    KindLabels {
        kind: kind.to_string(),
    }
}

/// `GET /metrics`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/metrics", routing::get(scrape))
        .with_state(store)
}

/// OpenMetrics for a scraper that asks for it (Prometheus does), the classic text format
/// otherwise (curl, promtool, older scrapers); each with its own content type.
async fn scrape(State(store): State<Store>, headers: axum::http::HeaderMap) -> Response {
    let open = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match get().render(&store).await {
        Ok(text) if open => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(text) => (
            [(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)],
            to_text_format(&text),
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The content type of the classic Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// prometheus-client's OpenMetrics text as the classic text format: a counter family is named
/// with its `_total` suffix (its samples carry it), an info family is a gauge named `_info`,
/// and the OpenMetrics-only `# UNIT` and `# EOF` lines go.
fn to_text_format(open: &str) -> String {
    // The families' types first: a `# HELP` line comes before its `# TYPE`.
    let types: std::collections::HashMap<&str, &str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let renamed = |name: &str| match types.get(name) {
        Some(&"counter") => format!("{name}_total"),
        Some(&"info") => format!("{name}_info"),
        _ => name.to_string(),
    };
    let mut out = String::with_capacity(open.len());
    for line in open.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", renamed(name)));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = if kind == "info" { "gauge" } else { kind };
            out.push_str(&format!("# TYPE {} {kind}\n", renamed(name)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The event type as a label: one of Gitea's names, or `other`, so that unsigned requests with
/// made-up headers cannot grow the label set.
fn known_event(header: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "pull_request_comment",
        "issue_comment",
        "pull_request",
        "pull_request_sync",
        "pull_request_review_approved",
        "pull_request_review_rejected",
        "pull_request_review_comment",
        "pull_request_review_request",
        "pull_request_label",
        "pull_request_assign",
        "pull_request_milestone",
        "pull_request_approved",
        "pull_request_rejected",
        "status",
        "push",
        "issues",
    ];
    KNOWN
        .iter()
        .find(|k| **k == header)
        .copied()
        .unwrap_or("other")
}

/// Middleware counting webhook answers by event type and status. (Stored events are counted by
/// kind where they are stored, like the poller's, so `events_received` has one vocabulary.)
pub async fn count_webhooks(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.uri().path() != "/webhook" {
        return next.run(req).await;
    }
    let event = [
        "x-gitea-event-type",
        "x-forgejo-event-type",
        "x-gitea-event",
    ]
    .iter()
    .find_map(|h| req.headers().get(*h).and_then(|v| v.to_str().ok()))
    .map(known_event)
    .unwrap_or("none")
    .to_string();
    let resp = next.run(req).await;
    get().webhook(&event, resp.status().as_u16());
    resp
}
