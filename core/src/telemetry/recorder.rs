//! The telemetry stage of the pipeline: what is recorded once a request has its answer.
//!
//! One [`Telemetry`] per application owns the metrics registry, the log writer (shared by the
//! access log, the decision log and response-validation reports) and, when tracing is on, the
//! span exporter. The pipeline hands it one [`FinishedRequest`] per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::Method;

use crate::config::telemetry::TelemetryConfig;
use crate::telemetry::access_log::{AccessLog, AccessRecord, LogWriter};
use crate::telemetry::client_spans::ClientSpans;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::spans::{
    should_sample, AttributeValue, RequestSpan, SpanExporter, SpanRole, SpansError, StageTiming,
};
use crate::trace_context::TraceContext;

/// Errors starting telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The span exporter could not start (bad endpoint, zero timeout).
    #[error(transparent)]
    Spans(#[from] SpansError),
    /// `telemetry.access_log.target` names a file that cannot be opened for appending.
    #[error("telemetry.access_log.target: cannot append to {target:?}: {source}")]
    LogFile {
        /// The target.
        target: crate::config::LogTarget,
        /// Why.
        source: std::io::Error,
    },
}

/// What a request was routed to, as telemetry labels it.
#[derive(Debug, Clone, Copy)]
pub enum RouteLabel<'a> {
    /// An operation of the contract.
    Operation {
        /// Its `operationId`.
        id: &'a str,
        /// Its path template (`/users/{id}`).
        template: &'a str,
    },
    /// A built-in endpoint (`/health`, `/ready`, `/openapi.json`, `/metrics`).
    Builtin,
    /// No operation matched (404 or 405).
    Unmatched,
}

impl RouteLabel<'_> {
    /// The `operation` label of metrics and of the access log: operation ids come from the
    /// contract, never from the request, so the label set stays bounded.
    fn metric_label(&self) -> &str {
        match self {
            RouteLabel::Operation { id, .. } => id,
            RouteLabel::Builtin => super::metrics::BUILTIN,
            RouteLabel::Unmatched => super::metrics::UNMATCHED,
        }
    }
}

/// Everything telemetry needs from one answered request.
#[derive(Debug)]
pub struct FinishedRequest<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The URI path (never the query: it may carry secrets).
    pub path: &'a str,
    /// What it was routed to.
    pub route: RouteLabel<'a>,
    /// The status answered.
    pub status: u16,
    /// The request id echoed to the client.
    pub request_id: &'a str,
    /// The trace context echoed to the client.
    pub trace: &'a TraceContext,
    /// The identified caller, if any.
    pub subject: Option<&'a str>,
    /// When the pipeline began (monotonic, for durations).
    pub started: Instant,
    /// Request body bytes read.
    pub request_bytes: u64,
    /// Response body bytes.
    pub response_bytes: u64,
    /// The client's address, when the request came over a socket.
    pub remote_addr: Option<SocketAddr>,
    /// Stage timings; only collected for requests whose span is recorded.
    pub span: Option<SpanTimes>,
}

/// Wall-clock times of a recorded span.
#[derive(Debug)]
pub struct SpanTimes {
    /// When the request arrived.
    pub start: SystemTime,
    /// Pipeline stages in order.
    pub stages: Vec<StageTiming>,
}

impl SpanTimes {
    /// Starts a recorded span now.
    pub fn begin() -> SpanTimes {
        SpanTimes { start: SystemTime::now(), stages: Vec::with_capacity(6) }
    }

    /// Records that stage `name` ran from `start` until now.
    pub fn stage(&mut self, name: &'static str, start: SystemTime) {
        self.stages.push(StageTiming { name, start, end: SystemTime::now() });
    }
}

/// The application's telemetry: metrics, logs and spans.
pub struct Telemetry {
    metrics: Option<Metrics>,
    access_log: Option<AccessLog>,
    log: Arc<LogWriter>,
    /// Shared with the outgoing calls of recorded requests ([`ClientSpans`]).
    spans: Option<Arc<SpanExporter>>,
    sample_ratio: f64,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("metrics", &self.metrics.is_some())
            .field("access_log", &self.access_log.is_some())
            .field("spans", &self.spans.is_some())
            .finish()
    }
}

impl Telemetry {
    /// Starts what `config` turns on. The log writer always starts (one thread): decision logs and
    /// response-validation reports use it even when the access log is off.
    pub fn new(config: &TelemetryConfig) -> Result<Telemetry, TelemetryError> {
        let target = &config.access_log.target;
        let log =
            LogWriter::start(target).map_err(|source| TelemetryError::LogFile { target: target.clone(), source })?;
        Self::with_writer(config, Arc::new(log))
    }

    /// As [`Telemetry::new`], writing log lines through `log` (tests capture them this way).
    pub fn with_writer(config: &TelemetryConfig, log: Arc<LogWriter>) -> Result<Telemetry, TelemetryError> {
        let spans = if config.tracing.enabled { Some(Arc::new(SpanExporter::start(&config.tracing)?)) } else { None };
        Ok(Telemetry {
            metrics: config.metrics.enabled.then(Metrics::new),
            access_log: AccessLog::new(&config.access_log, log.clone()),
            log,
            spans,
            sample_ratio: config.tracing.sample_ratio,
        })
    }

    /// The metrics registry, when metrics are on.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// The writer of log lines (access, decision and report lines share it).
    pub fn log(&self) -> &LogWriter {
        &self.log
    }

    /// Decides whether this request's span is recorded, and for a trace this server starts, says
    /// so in the trace flags it echoes: downstream services then follow the same decision. With
    /// tracing off nothing is decided and nothing is recorded.
    pub fn sample(&self, trace: &mut TraceContext) -> bool {
        if self.spans.is_none() {
            return false;
        }
        let has_parent = trace.parent_span_id.is_some();
        let sampled = should_sample(has_parent, trace.sampled(), trace.trace_id, self.sample_ratio);
        if !has_parent {
            trace.flags = if sampled { trace.flags | 0x01 } else { trace.flags & !0x01 };
        }
        sampled
    }

    /// Where the outgoing calls of a request are exported: through the span exporter when the
    /// request's own span is `recorded`, nowhere otherwise.
    pub fn client_spans(&self, recorded: bool) -> ClientSpans {
        match (&self.spans, recorded) {
            (Some(spans), true) => ClientSpans::recorded_by(spans.clone()),
            _ => ClientSpans::off(),
        }
    }

    /// Records one answered request: metrics, access log line and span.
    pub fn record(&self, mut finished: FinishedRequest<'_>) {
        let duration = finished.started.elapsed();
        if let Some(metrics) = &self.metrics {
            metrics.request_finished(finished.route.metric_label(), finished.method, finished.status, duration);
        }
        if let Some(access_log) = &self.access_log {
            access_log.record(&AccessRecord {
                request_id: finished.request_id,
                trace_id: finished.trace.trace_id.hex().as_str(),
                method: finished.method,
                path: finished.path,
                operation: finished.route.metric_label(),
                status: finished.status,
                duration,
                request_bytes: finished.request_bytes,
                response_bytes: finished.response_bytes,
                subject: finished.subject,
                remote_addr: finished.remote_addr,
            });
        }
        if let (Some(spans), Some(times)) = (&self.spans, finished.span.take()) {
            spans.record(request_span(&finished, times, duration));
        }
    }

    /// Flushes queued log lines and spans; called once the server has drained.
    pub fn shutdown(&self) {
        if let Some(spans) = &self.spans {
            spans.shutdown();
        }
        self.log.shutdown();
    }
}

/// The OpenTelemetry server span of a request, named and attributed per the HTTP semantic
/// conventions (`{method} {route}`; just the method when unrouted, to keep names bounded).
fn request_span(finished: &FinishedRequest<'_>, times: SpanTimes, duration: Duration) -> RequestSpan {
    let start = times.start;
    let method = finished.method.as_str();
    let mut attributes = vec![
        ("http.request.method", AttributeValue::Str(method.to_owned())),
        ("url.path", AttributeValue::Str(finished.path.to_owned())),
        ("http.response.status_code", AttributeValue::Int(i64::from(finished.status))),
        ("armature.request_id", AttributeValue::Str(finished.request_id.to_owned())),
    ];
    let name = match finished.route {
        RouteLabel::Operation { id, template } => {
            attributes.push(("http.route", AttributeValue::Str(template.to_owned())));
            attributes.push(("armature.operation_id", AttributeValue::Str(id.to_owned())));
            format!("{method} {template}")
        }
        RouteLabel::Builtin => format!("{method} {}", finished.path),
        RouteLabel::Unmatched => method.to_owned(),
    };
    RequestSpan {
        role: SpanRole::Server,
        trace_id: finished.trace.trace_id,
        span_id: finished.trace.span_id,
        parent_span_id: finished.trace.parent_span_id,
        name,
        start,
        end: start + duration,
        attributes,
        stages: times.stages,
        error: finished.status >= 500,
    }
}
