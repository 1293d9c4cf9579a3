//! Prometheus metrics: HTTP requests and latency by route and status, and
//! database pool gauges, kept in a registry owned by the app (no globals).

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// What an HTTP request is counted by.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// Its method.
    pub method: String,
    /// Its route template.
    pub route: String,
    /// The status answered.
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// The app's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pool: Family<PoolLabels, Gauge>,
    cache: Family<CacheLabels, Counter>,
}

impl Metrics {
    /// A registry with every metric registered, the workflow engine's too.
    pub fn new(workflows: &workflows::WorkflowMetrics) -> Self {
        let mut registry = Registry::default();
        workflows.register(&mut registry);
        let requests = Family::<HttpLabels, Counter>::default();
        let latency = Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by state",
            pool.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Cache lookups by cache and outcome (hit, miss, or bypass while changes may go unheard)",
            cache.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            pool,
            cache,
        }
    }

    /// Counts and times one HTTP request.
    pub fn observe(&self, labels: HttpLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// Counts one lookup in a cache: `hit`, `miss` or `bypass`.
    pub fn cache_lookup(&self, cache: &'static str, outcome: &'static str) {
        self.cache
            .get_or_create(&CacheLabels { cache, outcome })
            .inc();
    }

    /// The text exposition, with pool gauges read now.
    pub fn render(&self, store: &store::Store) -> String {
        let s = store.pool_stats();
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(s.idle));
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(s.size.saturating_sub(s.idle)));
        self.pool
            .get_or_create(&PoolLabels { state: "max" })
            .set(i64::from(s.max));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
