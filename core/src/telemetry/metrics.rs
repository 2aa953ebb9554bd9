//! Prometheus metrics per operation, served at `endpoints.metrics`.
//!
//! One [`Metrics`] is shared by every request. The series it exposes:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `armature_requests_total` | counter | `operation`, `method`, `status_class` |
//! | `armature_request_duration_seconds` | histogram | `operation` |
//! | `armature_requests_in_flight` | gauge | |
//! | `armature_request_validation_failures_total` | counter | `location` |
//! | `armature_authorization_denials_total` | counter | `operation` |
//! | `armature_authorization_errors_total` | counter | `operation` |
//! | `armature_authentication_failures_total` | counter | `operation` |
//! | `armature_response_validation_violations_total` | counter | `operation` |
//! | `armature_connections_open` | gauge | |
//! | `armature_connections_rejected_total` | counter | |
//! | `armature_connections_timed_out_total` | counter | `phase` (`first_request`, `idle`) |
//! | `armature_tls_handshake_failures_total` | counter | |
//! | `armature_reloads_total` | counter | `result` (`succeeded`, `failed`) |
//! | `armature_jwks_fetch_failures_total` | counter | |
//!
//! # Cardinality
//!
//! Every label value comes from a closed set, never from the request itself, because a client
//! that could mint label values could grow the process's memory and the scraper's storage
//! without bound:
//!
//! - `operation` is an `operationId` of the contract, or one of the fixed names the caller uses
//!   for requests that matched none ([`UNMATCHED`], [`BUILTIN`]). The contract is finite, so the
//!   set is too; as a backstop against a caller passing something else by mistake, operations
//!   past [`MAX_OPERATIONS`] distinct names are counted under [`OVERFLOW`].
//! - `method` is one of the nine standard methods or `_other` (extension methods are client
//!   chosen tokens).
//! - `status_class` is `1xx` to `5xx`, or `_other` for a status outside 100..=599.
//! - `location` is `path`, `query`, `header`, `cookie`, `body` or `_other`.
//!
//! Series are created on first use rather than up front, so an operation that is never called
//! costs nothing and the exposition does not list every method × status class of every
//! operation at zero.
//!
//! # Hot path
//!
//! [`Metrics::request_finished`] runs on every request. The label sets live in
//! `prometheus-client` [`Family`]s (that is what the encoder walks), but looking a label set up
//! in a `Family` hashes and compares it and, the first time, clones it. So each operation's
//! counters and histogram handles are resolved once, kept in a per-operation table keyed by the
//! `&str` the caller passes, and a finished request costs one hash of the operation name, a read
//! lock, an atomic add and the histogram's short mutex. No label string is allocated after an
//! operation's first request: all its label sets share one `Arc<str>`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::render`]'s body.
///
/// `prometheus-client`'s text encoder writes OpenMetrics 1.0 text, not the older Prometheus
/// 0.0.4 text format: the body ends with `# EOF`, a counter's `# TYPE` line names the family
/// without its `_total` suffix and histograms carry a `# UNIT` line. Served as
/// `text/plain; version=0.0.4`, a Prometheus server would parse it with the classic parser, which
/// does not match those `# TYPE` names to their samples and ingests the counters as untyped. So
/// the body is labelled with what it is; every Prometheus since 2.5 negotiates OpenMetrics.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `operation` label of requests that matched no path of the contract (404) or a path but not
/// its method (405).
pub const UNMATCHED: &str = "_unmatched";

/// `operation` label of the built-in endpoints (health, ready, openapi, metrics).
pub const BUILTIN: &str = "_builtin";

/// `operation` label of every operation past [`MAX_OPERATIONS`].
pub const OVERFLOW: &str = "_overflow";

/// The most distinct `operation` labels kept. Far above any real contract; it exists so that a
/// caller bug feeding request data into `operation` degrades one series instead of memory.
pub const MAX_OPERATIONS: usize = 2048;

/// Upper bounds of `armature_request_duration_seconds`, in seconds. Fixed (not configurable)
/// so that dashboards and recording rules can rely on the same `le` values in every service.
pub const DURATION_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// `method` label values, indexed by [`method_index`]; the last one takes every extension method.
const METHODS: [&str; 10] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "_other"];

/// `status_class` label values, indexed by [`status_class_index`].
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "_other"];

/// `location` label values, indexed by [`location_index`].
const LOCATIONS: [&str; 6] = ["path", "query", "header", "cookie", "body", "_other"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: Arc<str>,
    method: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LocationLabels {
    location: &'static str,
}

type DurationFamily = Family<OperationLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The registered families; the registry holds clones of the same (shared) families.
#[derive(Debug)]
struct Families {
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
    validation_failures: Family<LocationLabels, Counter>,
    authorization_denials: Family<OperationLabels, Counter>,
    authorization_errors: Family<OperationLabels, Counter>,
    authentication_failures: Family<OperationLabels, Counter>,
    response_violations: Family<OperationLabels, Counter>,
    reloads: Family<ReloadLabel, Counter>,
    jwks_fetch_failures: Counter,
}

/// One operation's resolved series. Each slot is filled on first use so that only series that
/// happened are exposed.
#[derive(Debug)]
struct OperationSeries {
    label: Arc<str>,
    requests: [[OnceLock<Counter>; STATUS_CLASSES.len()]; METHODS.len()],
    duration: OnceLock<Histogram>,
    authorization_denials: OnceLock<Counter>,
    authorization_errors: OnceLock<Counter>,
    authentication_failures: OnceLock<Counter>,
    response_violations: OnceLock<Counter>,
}

impl OperationSeries {
    fn new(label: Arc<str>) -> OperationSeries {
        OperationSeries {
            label,
            requests: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
            duration: OnceLock::new(),
            authorization_denials: OnceLock::new(),
            authorization_errors: OnceLock::new(),
            authentication_failures: OnceLock::new(),
            response_violations: OnceLock::new(),
        }
    }

    fn labels(&self) -> OperationLabels {
        OperationLabels { operation: Arc::clone(&self.label) }
    }
}

/// The process's request metrics and the registry they are exposed from; `Send + Sync`, shared
/// by every request (typically in an `Arc`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    families: Families,
    in_flight: Gauge,
    connections: ConnectionMetrics,
    operations: RwLock<HashMap<Arc<str>, OperationSeries>>,
    validation_failures: [OnceLock<Counter>; LOCATIONS.len()],
    /// Size of the previous exposition, so the next one is rendered without regrowing its buffer.
    last_render_len: AtomicUsize,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric family; no series exists until a request reports one, except the
    /// in-flight gauge.
    pub fn new() -> Metrics {
        let families = Families {
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            validation_failures: Family::default(),
            authorization_denials: Family::default(),
            authorization_errors: Family::default(),
            authentication_failures: Family::default(),
            response_violations: Family::default(),
            reloads: Family::default(),
            jwks_fetch_failures: Counter::default(),
        };
        let in_flight = Gauge::default();
        let mut registry = Registry::default();
        // Counter names go in without `_total` and the duration without `_seconds`: the
        // OpenMetrics encoder appends the suffix and the unit itself.
        registry.register(
            "armature_requests",
            "Requests answered, by operation, method and status class",
            families.requests.clone(),
        );
        registry.register_with_unit(
            "armature_request_duration",
            "Time from the request's arrival to its response, by operation",
            Unit::Seconds,
            families.durations.clone(),
        );
        registry.register("armature_requests_in_flight", "Requests begun and not yet finished", in_flight.clone());
        let connections = ConnectionMetrics::default();
        registry.register(
            "armature_connections_open",
            "Connections accepted and not yet closed",
            connections.open.clone(),
        );
        registry.register(
            "armature_connections_rejected",
            "Connections closed at accept because server.max_connections were open",
            connections.rejected.clone(),
        );
        registry.register(
            "armature_tls_handshake_failures",
            "HTTPS connections closed because their TLS handshake failed or did not finish within \
             server.header_read_timeout_ms (bad client certificate, protocol, plain HTTP sent to the TLS port)",
            connections.tls_handshake_failures.clone(),
        );
        registry.register(
            "armature_connections_timed_out",
            "Connections closed by the server for sending nothing: no first request within \
             server.header_read_timeout_ms, or no request for server.idle_timeout_ms",
            connections.timed_out.clone(),
        );
        registry.register(
            "armature_request_validation_failures",
            "Request validation violations, by location (one request may count several)",
            families.validation_failures.clone(),
        );
        registry.register(
            "armature_authorization_denials",
            "Requests the policy denied, by operation",
            families.authorization_denials.clone(),
        );
        registry.register(
            "armature_authorization_errors",
            "Requests whose policy evaluation failed, by operation",
            families.authorization_errors.clone(),
        );
        registry.register(
            "armature_authentication_failures",
            "Requests refused by the identity stage (401), by operation",
            families.authentication_failures.clone(),
        );
        registry.register(
            "armature_response_validation_violations",
            "Handler responses that broke the contract, by operation",
            families.response_violations.clone(),
        );
        registry.register(
            "armature_reloads",
            "Reloads (SIGHUP or the host's reload call), by result: a failed one changed nothing",
            families.reloads.clone(),
        );
        registry.register(
            "armature_jwks_fetch_failures",
            "JWKS fetches that failed (unreachable, not JSON, discovery issuer mismatch); the last good keys stay",
            families.jwks_fetch_failures.clone(),
        );
        Metrics {
            registry,
            families,
            in_flight,
            connections,
            operations: RwLock::new(HashMap::new()),
            validation_failures: std::array::from_fn(|_| OnceLock::new()),
            last_render_len: AtomicUsize::new(4096),
        }
    }

    /// A request began: the in-flight gauge goes up until the returned guard is dropped.
    ///
    /// The guard, not [`Metrics::request_finished`], takes the request back out, so that a
    /// request whose future is dropped mid-way (client gone, timeout) does not leave the gauge
    /// high forever. It owns its handle to the gauge, so it can live in a `'static + Send`
    /// future and outlive the borrow of `self`.
    pub fn request_started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight { gauge: self.in_flight.clone() }
    }

    /// A reload ended; `succeeded`: its files were swapped in.
    pub fn reloaded(&self, succeeded: bool) {
        let result = if succeeded { "succeeded" } else { "failed" };
        self.families.reloads.get_or_create(&ReloadLabel { result }).inc();
    }

    /// Reloads so far that ended so (`succeeded` or not).
    pub fn reloads(&self, succeeded: bool) -> u64 {
        let result = if succeeded { "succeeded" } else { "failed" };
        self.families.reloads.get(&ReloadLabel { result }).map_or(0, |counter| counter.get())
    }

    /// The counter of failed JWKS fetches, which the identity stage increments.
    pub fn jwks_fetch_failures(&self) -> &Counter {
        &self.families.jwks_fetch_failures
    }

    /// The server's connection series.
    pub fn connections(&self) -> &ConnectionMetrics {
        &self.connections
    }

    /// Requests begun whose [`InFlight`] guard is still alive.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// A request finished with `status` after `duration`.
    ///
    /// `operation` is the contract's `operationId`, or [`UNMATCHED`] / [`BUILTIN`] for requests
    /// that reached no operation; it must never be taken from the request (see the module's
    /// notes on cardinality). Extension methods are counted as `_other`.
    pub fn request_finished(&self, operation: &str, method: &Method, status: u16, duration: Duration) {
        let method_at = method_index(method);
        let class_at = status_class_index(status);
        self.with_operation(operation, |series| {
            series.requests[method_at][class_at]
                .get_or_init(|| {
                    self.families.requests.get_or_create_owned(&RequestLabels {
                        operation: Arc::clone(&series.label),
                        method: METHODS[method_at],
                        status_class: STATUS_CLASSES[class_at],
                    })
                })
                .inc();
            series
                .duration
                .get_or_init(|| self.families.durations.get_or_create_owned(&series.labels()))
                .observe(duration.as_secs_f64());
        });
    }

    /// One request-validation violation at `location`: `path`, `query`, `header`, `cookie` or
    /// `body` (anything else counts as `_other`). A request with several violations counts each.
    pub fn validation_failure(&self, location: &str) {
        let at = location_index(location);
        self.validation_failures[at]
            .get_or_init(|| {
                self.families.validation_failures.get_or_create_owned(&LocationLabels { location: LOCATIONS[at] })
            })
            .inc();
    }

    /// The policy denied a request to `operation` (403).
    pub fn authorization_denied(&self, operation: &str) {
        self.count(operation, |series| &series.authorization_denials, |families| &families.authorization_denials);
    }

    /// Evaluating the policy for a request to `operation` failed (the request was refused as
    /// an error, not as a denial).
    pub fn authorization_error(&self, operation: &str) {
        self.count(operation, |series| &series.authorization_errors, |families| &families.authorization_errors);
    }

    /// A handler's response to `operation` broke the contract (undocumented status or body not
    /// matching its schema), whether it was replaced by a 500 or only reported.
    pub fn response_violation(&self, operation: &str) {
        self.count(operation, |series| &series.response_violations, |families| &families.response_violations);
    }

    /// The identity stage refused a request to `operation` (401).
    pub fn authentication_failure(&self, operation: &str) {
        self.count(operation, |series| &series.authentication_failures, |families| &families.authentication_failures);
    }

    /// The exposition of every series, and the content type to serve it with ([`CONTENT_TYPE`]).
    pub fn render(&self) -> (Bytes, &'static str) {
        let mut body = String::with_capacity(self.last_render_len.load(Ordering::Relaxed) + 256);
        if prometheus_client::encoding::text::encode(&mut body, &self.registry).is_err() {
            // Writing into a String cannot fail, and none of our label values can fail to
            // encode, so this is unreachable; if a future version of the encoder found a way,
            // an empty but well-formed exposition beats a half-written one or a panic in the
            // scrape handler.
            debug_assert!(false, "encoding the metrics registry failed");
            body.clear();
            body.push_str("# EOF\n");
        }
        self.last_render_len.store(body.len(), Ordering::Relaxed);
        (Bytes::from(body), CONTENT_TYPE)
    }

    /// Adds one to the per-operation counter that `slot` picks out, creating its series in the
    /// `family` the first time.
    fn count(
        &self,
        operation: &str,
        slot: impl FnOnce(&OperationSeries) -> &OnceLock<Counter>,
        family: impl FnOnce(&Families) -> &Family<OperationLabels, Counter>,
    ) {
        self.with_operation(operation, |series| {
            slot(series).get_or_init(|| family(&self.families).get_or_create_owned(&series.labels())).inc();
        });
    }

    /// Runs `f` on `operation`'s series, creating them on first sight.
    fn with_operation<R>(&self, operation: &str, f: impl FnOnce(&OperationSeries) -> R) -> R {
        {
            let operations = self.operations.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = operations.get(operation) {
                return f(series);
            }
        }
        // First request of this operation: rare, so the write lock and the allocation are fine.
        // Poisoning is ignored because a panic elsewhere cannot leave the map half-updated in a
        // way that matters to counters.
        let mut operations = self.operations.write().unwrap_or_else(PoisonError::into_inner);
        let key =
            if operations.contains_key(operation) || operations.len() < MAX_OPERATIONS { operation } else { OVERFLOW };
        // Allocates even if another thread inserted the operation meanwhile; this path runs
        // once per operation, so simplicity wins.
        let series =
            operations.entry(Arc::from(key)).or_insert_with_key(|label| OperationSeries::new(Arc::clone(label)));
        f(series)
    }
}

/// Why the server closed a connection that sent nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// No first request (protocol detection, HTTP/2 preface, first head) in time.
    FirstRequest,
    /// No request for `server.idle_timeout_ms` after the last one.
    Idle,
}

impl TimeoutPhase {
    /// The `phase` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstRequest => "first_request",
            Self::Idle => "idle",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabel {
    result: &'static str,
}

/// The server's connection series: open connections, connections refused past
/// `server.max_connections`, connections cut for sending nothing.
#[derive(Debug, Default)]
pub struct ConnectionMetrics {
    open: Gauge,
    rejected: Counter,
    timed_out: Family<PhaseLabel, Counter>,
    tls_handshake_failures: Counter,
}

impl ConnectionMetrics {
    /// A connection was accepted: counted open until the returned guard is dropped.
    pub fn opened(&self) -> OpenConnection {
        self.open.inc();
        OpenConnection { gauge: self.open.clone() }
    }

    /// A connection was closed at accept for lack of room.
    pub fn rejected(&self) {
        self.rejected.inc();
    }

    /// A TLS handshake failed (or did not finish in time): the connection was closed.
    pub fn tls_handshake_failed(&self) {
        self.tls_handshake_failures.inc();
    }

    /// TLS handshakes failed so far.
    pub fn tls_handshake_failures(&self) -> u64 {
        self.tls_handshake_failures.get()
    }

    /// A connection was closed for sending nothing in time.
    pub fn timed_out(&self, phase: TimeoutPhase) {
        self.timed_out.get_or_create(&PhaseLabel { phase: phase.as_str() }).inc();
    }

    /// Connections open now.
    pub fn open(&self) -> i64 {
        self.open.get()
    }
}

/// Keeps a connection counted in `armature_connections_open` until dropped.
#[derive(Debug)]
pub struct OpenConnection {
    gauge: Gauge,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Keeps a request counted in `armature_requests_in_flight` until dropped.
#[derive(Debug)]
#[must_use = "the request stops counting as in flight as soon as the guard is dropped"]
pub struct InFlight {
    gauge: Gauge,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

fn method_index(method: &Method) -> usize {
    // Compared one by one rather than through `as_str()` so that the standard methods cost an
    // enum comparison, not a string comparison.
    let standard = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
        Method::TRACE,
        Method::CONNECT,
    ];
    standard.iter().position(|m| m == method).unwrap_or(METHODS.len() - 1)
}

fn status_class_index(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        500..=599 => 4,
        _ => 5,
    }
}

fn location_index(location: &str) -> usize {
    LOCATIONS[..LOCATIONS.len() - 1].iter().position(|l| *l == location).unwrap_or(LOCATIONS.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_text(metrics: &Metrics) -> String {
        let (body, content_type) = metrics.render();
        assert_eq!(content_type, CONTENT_TYPE);
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// The value of the sample line that starts with `series` (name and labels, exactly).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn metrics_are_send_and_sync_and_guard_is_send() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Metrics>();
        assert_send_sync::<InFlight>();
    }

    #[test]
    fn counts_requests_by_operation_method_and_status_class() {
        let metrics = Metrics::new();
        for _ in 0..3 {
            metrics.request_finished("getUser", &Method::GET, 200, Duration::from_millis(2));
        }
        metrics.request_finished("getUser", &Method::GET, 404, Duration::from_millis(1));
        metrics.request_finished("createUser", &Method::POST, 201, Duration::from_millis(7));
        metrics.request_finished("createUser", &Method::POST, 503, Duration::from_millis(7));
        metrics.request_finished(UNMATCHED, &Method::GET, 404, Duration::from_micros(50));
        metrics.request_finished(BUILTIN, &Method::GET, 200, Duration::from_micros(50));
        metrics.request_finished("getUser", &Method::HEAD, 101, Duration::ZERO);
        metrics.request_finished("getUser", &Method::GET, 302, Duration::ZERO);
        metrics.request_finished("getUser", &Method::GET, 999, Duration::ZERO);

        let text = render_text(&metrics);
        let count = |labels: &str| sample(&text, &format!("armature_requests_total{{{labels}}}"));
        assert_eq!(count(r#"operation="getUser",method="GET",status_class="2xx""#), Some(3.0));
        assert_eq!(count(r#"operation="getUser",method="GET",status_class="4xx""#), Some(1.0));
        assert_eq!(count(r#"operation="getUser",method="GET",status_class="3xx""#), Some(1.0));
        assert_eq!(count(r#"operation="getUser",method="GET",status_class="_other""#), Some(1.0));
        assert_eq!(count(r#"operation="getUser",method="HEAD",status_class="1xx""#), Some(1.0));
        assert_eq!(count(r#"operation="createUser",method="POST",status_class="2xx""#), Some(1.0));
        assert_eq!(count(r#"operation="createUser",method="POST",status_class="5xx""#), Some(1.0));
        assert_eq!(count(r#"operation="_unmatched",method="GET",status_class="4xx""#), Some(1.0));
        assert_eq!(count(r#"operation="_builtin",method="GET",status_class="2xx""#), Some(1.0));
        // Series that never happened are not exposed.
        assert_eq!(count(r#"operation="getUser",method="POST",status_class="2xx""#), None);
        assert!(text.contains("# TYPE armature_requests counter\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn duration_histogram_has_the_fixed_buckets() {
        let metrics = Metrics::new();
        metrics.request_finished("getUser", &Method::GET, 200, Duration::from_millis(3));
        metrics.request_finished("getUser", &Method::GET, 200, Duration::from_millis(30));
        metrics.request_finished("getUser", &Method::GET, 200, Duration::from_secs(20));

        let text = render_text(&metrics);
        assert!(text.contains("# TYPE armature_request_duration_seconds histogram\n"), "{text}");
        assert!(text.contains("# UNIT armature_request_duration_seconds seconds\n"), "{text}");
        let bucket = |le: &str| {
            sample(&text, &format!(r#"armature_request_duration_seconds_bucket{{le="{le}",operation="getUser"}}"#))
        };
        let expected = [
            ("0.0005", 0.0),
            ("0.001", 0.0),
            ("0.0025", 0.0),
            ("0.005", 1.0),
            ("0.01", 1.0),
            ("0.025", 1.0),
            ("0.05", 2.0),
            ("0.1", 2.0),
            ("0.25", 2.0),
            ("0.5", 2.0),
            ("1.0", 2.0),
            ("2.5", 2.0),
            ("5.0", 2.0),
            ("10.0", 2.0),
            ("+Inf", 3.0),
        ];
        for (le, value) in expected {
            assert_eq!(bucket(le), Some(value), "le={le}\n{text}");
        }
        let buckets = text.lines().filter(|l| l.starts_with("armature_request_duration_seconds_bucket")).count();
        assert_eq!(buckets, DURATION_BUCKETS.len() + 1);
        assert_eq!(sample(&text, r#"armature_request_duration_seconds_count{operation="getUser"}"#), Some(3.0));
        let sum = sample(&text, r#"armature_request_duration_seconds_sum{operation="getUser"}"#).unwrap();
        assert!((sum - 20.033).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn in_flight_gauge_follows_the_guards() {
        let metrics = Metrics::new();
        let gauge = |m: &Metrics| sample(&render_text(m), "armature_requests_in_flight");
        assert_eq!(gauge(&metrics), Some(0.0));

        let first = metrics.request_started();
        let second = metrics.request_started();
        assert_eq!(gauge(&metrics), Some(2.0));
        assert_eq!(metrics.in_flight(), 2);

        metrics.request_finished("getUser", &Method::GET, 200, Duration::ZERO);
        drop(first);
        assert_eq!(gauge(&metrics), Some(1.0));

        // Cancelled: dropped without request_finished.
        drop(second);
        assert_eq!(gauge(&metrics), Some(0.0));
        assert_eq!(metrics.in_flight(), 0);
    }

    #[test]
    fn in_flight_guard_survives_an_await_in_a_spawned_task() {
        let metrics = Arc::new(Metrics::new());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let task_metrics = Arc::clone(&metrics);
        runtime.block_on(async move {
            let handle = tokio::spawn(async move {
                let _guard = task_metrics.request_started();
                tokio::task::yield_now().await;
                task_metrics.in_flight()
            });
            assert_eq!(handle.await.unwrap(), 1);
        });
        assert_eq!(metrics.in_flight(), 0);
    }

    #[test]
    fn extension_methods_count_as_other() {
        let metrics = Metrics::new();
        let purge = Method::from_bytes(b"PURGE").unwrap();
        let weird = Method::from_bytes(b"X-SOMETHING-LONG-AND-CLIENT-CHOSEN").unwrap();
        metrics.request_finished(UNMATCHED, &purge, 405, Duration::ZERO);
        metrics.request_finished(UNMATCHED, &weird, 405, Duration::ZERO);
        metrics.request_finished(UNMATCHED, &Method::PATCH, 405, Duration::ZERO);

        let text = render_text(&metrics);
        assert_eq!(
            sample(&text, r#"armature_requests_total{operation="_unmatched",method="_other",status_class="4xx"}"#),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, r#"armature_requests_total{operation="_unmatched",method="PATCH",status_class="4xx"}"#),
            Some(1.0)
        );
        assert!(!text.contains("PURGE") && !text.contains("X-SOMETHING"), "{text}");
    }

    #[test]
    fn failure_counters_render() {
        let metrics = Metrics::new();
        metrics.validation_failure("query");
        metrics.validation_failure("query");
        metrics.validation_failure("body");
        metrics.validation_failure("somewhere-else");
        metrics.authorization_denied("deleteUser");
        metrics.authorization_denied("deleteUser");
        metrics.authorization_error("deleteUser");
        metrics.authentication_failure("getUser");
        metrics.response_violation("listUsers");

        let text = render_text(&metrics);
        let expected = [
            (r#"armature_request_validation_failures_total{location="query"}"#, 2.0),
            (r#"armature_request_validation_failures_total{location="body"}"#, 1.0),
            (r#"armature_request_validation_failures_total{location="_other"}"#, 1.0),
            (r#"armature_authorization_denials_total{operation="deleteUser"}"#, 2.0),
            (r#"armature_authorization_errors_total{operation="deleteUser"}"#, 1.0),
            (r#"armature_authentication_failures_total{operation="getUser"}"#, 1.0),
            (r#"armature_response_validation_violations_total{operation="listUsers"}"#, 1.0),
        ];
        for (series, value) in expected {
            assert_eq!(sample(&text, series), Some(value), "{series}\n{text}");
        }
        // A failure counter alone does not create request series for the operation.
        assert!(!text.contains(r#"armature_requests_total{operation="deleteUser""#), "{text}");
    }

    #[test]
    fn operations_past_the_limit_share_the_overflow_series() {
        let metrics = Metrics::new();
        for i in 0..MAX_OPERATIONS + 5 {
            metrics.request_finished(&format!("op{i}"), &Method::GET, 200, Duration::ZERO);
        }
        // A known operation keeps its own series after the limit is reached.
        metrics.request_finished("op0", &Method::GET, 200, Duration::ZERO);

        let text = render_text(&metrics);
        assert_eq!(
            sample(&text, r#"armature_requests_total{operation="_overflow",method="GET",status_class="2xx"}"#),
            Some(5.0)
        );
        assert_eq!(
            sample(&text, r#"armature_requests_total{operation="op0",method="GET",status_class="2xx"}"#),
            Some(2.0)
        );
        assert!(!text.contains(&format!("op{}\"", MAX_OPERATIONS)), "op past the limit has its own series");
    }

    #[test]
    fn concurrent_requests_are_all_counted() {
        let metrics = Arc::new(Metrics::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let metrics = Arc::clone(&metrics);
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        let _guard = metrics.request_started();
                        let op = if (i + t) % 2 == 0 { "a" } else { "b" };
                        metrics.request_finished(op, &Method::GET, 200, Duration::from_micros(100));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let text = render_text(&metrics);
        let a = sample(&text, r#"armature_requests_total{operation="a",method="GET",status_class="2xx"}"#).unwrap();
        let b = sample(&text, r#"armature_requests_total{operation="b",method="GET",status_class="2xx"}"#).unwrap();
        assert_eq!(a + b, 4000.0);
        assert_eq!(metrics.in_flight(), 0);
    }

    /// Timing only, never asserted: `cargo test -p armature-core --lib telemetry -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing report, run by hand"]
    fn time_request_finished() {
        let metrics = Metrics::new();
        let operations = ["getUser", "createUser", "listUsers", "deleteUser"];
        for op in operations {
            metrics.request_finished(op, &Method::GET, 200, Duration::ZERO);
        }
        let iterations = 2_000_000u32;
        let start = std::time::Instant::now();
        for i in 0..iterations {
            let op = operations[(i % 4) as usize];
            metrics.request_finished(
                std::hint::black_box(op),
                std::hint::black_box(&Method::GET),
                std::hint::black_box(200),
                std::hint::black_box(Duration::from_micros(u64::from(i % 5000))),
            );
        }
        let finished = start.elapsed().as_nanos() as f64 / f64::from(iterations);

        let start = std::time::Instant::now();
        for _ in 0..iterations {
            drop(std::hint::black_box(metrics.request_started()));
        }
        let guard = start.elapsed().as_nanos() as f64 / f64::from(iterations);
        println!("request_finished: {finished:.1} ns/call; request_started + drop: {guard:.1} ns/call");
    }
}
