//! Prometheus metrics (SPEC §15): what `GET /metrics` exports.
//!
//! Two kinds of figures:
//!
//! - **Counted as things happen**, kept in [`Metrics`] for the life of the
//!   process: HTTP requests (the `app` middleware calls
//!   [`Metrics::observe_request`]), health reports (the `POST /health`
//!   handler) and notification deliveries (the delivery worker).
//! - **Computed at scrape time**: the per-objective and per-system gauges
//!   and the outbox backlog ([`scrape::Snapshot`]), read through the same
//!   status path the API serves (one batched pass over every objective), and
//!   the `process_*` figures read from `/proc` ([`process`]).
//!
//! Everything is encoded by the official client, `prometheus-client`: the
//! Prometheus text format by default, OpenMetrics when the scraper's
//! `Accept` asks for it ([`Format::from_accept`]). A fresh registry is built
//! per scrape from the long-lived families (cheap `Arc` clones) and the
//! scrape's collectors, so no stale objective ever lingers in the output.
//!
//! Sits below [`crate::state`] and [`crate::notify`], which hold it; it
//! reads through [`crate::service`] and imports nothing above it.

mod process;
pub mod scrape;

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use slod_store::notify::ChannelKind;

pub use scrape::Snapshot;

/// `method`, `route` (the route template, never the raw path) and
/// `status` of one HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeliveryLabels {
    channel_type: &'static str,
    result: &'static str,
}

/// What became of one health report (`slod_health_reports_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportResult {
    /// Applied and changed the system's state.
    Applied,
    /// Applied, but repeated the state the system was already in.
    Unchanged,
    /// Refused (bad input, unknown system): the whole request was.
    Rejected,
}

impl ReportResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Unchanged => "unchanged",
            Self::Rejected => "rejected",
        }
    }
}

/// What became of one delivery attempt
/// (`slod_notification_deliveries_total{channel_type,result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered,
    /// Failed; it will be retried.
    Failed,
    /// Failed for the whole retry period; given up.
    Abandoned,
}

impl DeliveryResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
        }
    }
}

/// The label a request outside every route gets, instead of its raw path
/// (which would let any client create series at will).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the request-duration histogram, in seconds: 1 ms to 10 s.
const DURATION_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The process-wide counters, shared by the HTTP middleware, the handlers
/// and the delivery worker.
#[derive(Debug)]
pub struct Metrics {
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
    health_reports: Family<ResultLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let metrics = Self {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(duration_histogram),
            health_reports: Family::default(),
            deliveries: Family::default(),
        };
        // Every result shows from the first scrape at 0, so `rate()` and
        // `increase()` see the first event instead of a series appearing.
        for result in [ReportResult::Applied, ReportResult::Unchanged, ReportResult::Rejected] {
            let _ = metrics.health_reports.get_or_create(&ResultLabels { result: result.as_str() });
        }
        for kind in ChannelKind::ALL {
            for result in
                [DeliveryResult::Delivered, DeliveryResult::Failed, DeliveryResult::Abandoned]
            {
                let labels =
                    DeliveryLabels { channel_type: kind.as_str(), result: result.as_str() };
                let _ = metrics.deliveries.get_or_create(&labels);
            }
        }
        metrics
    }

    /// One HTTP request answered with `status` after `elapsed`.
    pub fn observe_request(&self, labels: HttpLabels, elapsed: Duration) {
        self.http_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    /// `count` health reports that came to `result`.
    pub fn count_reports(&self, result: ReportResult, count: usize) {
        if count > 0 {
            let counter =
                self.health_reports.get_or_create(&ResultLabels { result: result.as_str() });
            counter.inc_by(u64::try_from(count).unwrap_or(u64::MAX));
        }
    }

    /// One delivery attempt to a channel of `channel_type` came to `result`.
    pub fn count_delivery(&self, channel_type: &'static str, result: DeliveryResult) {
        self.deliveries
            .get_or_create(&DeliveryLabels { channel_type, result: result.as_str() })
            .inc();
    }

    /// The whole exposition: these counters, `snapshot`'s gauges and the
    /// process figures, in `format`.
    pub fn render(&self, snapshot: Snapshot, format: Format) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(snapshot));
        registry.register(
            "slod_http_requests",
            "HTTP requests answered, by method, route template and status",
            self.http_requests.clone(),
        );
        registry.register(
            "slod_http_request_duration_seconds",
            "Time to answer an HTTP request (to its headers), by method, route template and status",
            self.http_duration.clone(),
        );
        registry.register(
            "slod_health_reports",
            "Health reports received, by what became of them (applied, unchanged, rejected)",
            self.health_reports.clone(),
        );
        registry.register(
            "slod_notification_deliveries",
            "Notification delivery attempts, by channel type and result (delivered, failed and \
             to be retried, abandoned)",
            self.deliveries.clone(),
        );
        registry.register_collector(Box::new(process::ProcessCollector));
        let mut out = String::new();
        match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
            }
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
        }
        Ok(out)
    }
}

/// The exposition formats `GET /metrics` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4: the default.
    Prometheus,
    /// OpenMetrics 1.0 text, for a scraper that asks for it.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when `accept` lists `application/openmetrics-text` with a
    /// weight above zero; the Prometheus text format otherwise.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let media = parts.next().unwrap_or_default();
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f64>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants_openmetrics {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_only_when_accept_asks_for_it() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Prometheus);
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
        // What Prometheus itself sends.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text; q=0, text/plain")),
            Format::Prometheus
        );
    }

    #[test]
    fn counters_render_with_their_labels_in_both_formats() {
        let metrics = Metrics::new();
        metrics.observe_request(
            HttpLabels { method: "GET".into(), route: "/api/v1/systems/{id}".into(), status: 200 },
            Duration::from_millis(3),
        );
        metrics.count_reports(ReportResult::Applied, 2);
        metrics.count_delivery("slack", DeliveryResult::Failed);
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let text = metrics.render(Snapshot::default(), format).unwrap();
            assert!(
                text.contains(
                    r#"slod_http_requests_total{method="GET",route="/api/v1/systems/{id}",status="200"} 1"#
                ),
                "{text}"
            );
            assert!(text.contains(r#"slod_health_reports_total{result="applied"} 2"#), "{text}");
            assert!(text.contains(r#"slod_health_reports_total{result="rejected"} 0"#), "{text}");
            assert!(
                text.contains(
                    r#"slod_notification_deliveries_total{channel_type="slack",result="failed"} 1"#
                ),
                "{text}"
            );
            assert!(text.contains("slod_http_request_duration_seconds_bucket{"), "{text}");
            assert!(text.contains("process_start_time_seconds "), "{text}");
            assert_eq!(text.ends_with("# EOF\n"), format == Format::OpenMetrics);
        }
    }
}
