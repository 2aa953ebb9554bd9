//! OpenTelemetry server spans, one per request, exported with OTLP over HTTP (protobuf); the
//! client spans of outgoing calls (`client_spans`) go through the same exporter.
//!
//! The request pipeline already knows everything a span needs (ids echoed in `traceparent`,
//! route, timings) by the time the response is written, so spans are built after the fact from a
//! [`RequestSpan`] instead of being kept open across the request. Sampling is decided up front by
//! [`should_sample`], so that an unsampled request builds nothing; the SDK's own sampler is
//! therefore `AlwaysOn`.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, IdGenerator, RandomIdGenerator, Sampler, SdkTracer, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;

use super::otlp_client::OtlpHttpClient;
use crate::config::telemetry::TracingConfig;
use crate::trace_context;

/// Errors starting the exporter.
#[derive(Debug, thiserror::Error)]
pub enum SpansError {
    /// The configured endpoint is not an absolute `http(s)://host[:port]/path` URL.
    #[error("telemetry.tracing.endpoint `{endpoint}`: {reason}")]
    BadEndpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An export limit of zero would fail every export, so it is refused rather than silently
    /// exporting nothing.
    #[error("telemetry.tracing.export_timeout_ms must be at least 1")]
    ZeroTimeout,
    /// The OTLP exporter could not be built.
    #[error("cannot build the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// Its HTTP client could not be built (`telemetry.tracing.ca_file`).
    #[error("cannot build the OTLP span exporter's client: {0}")]
    Client(String),
}

/// One attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// A string attribute (method, route, URL scheme, ...).
    Str(String),
    /// An integer attribute (status code, body size, ...).
    Int(i64),
}

/// How long one pipeline stage took within a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTiming {
    /// The stage's name, which becomes the span event's name.
    pub name: &'static str,
    /// When the stage began; the event's timestamp.
    pub start: SystemTime,
    /// When the stage ended; only its distance from `start` is exported (`duration_us`).
    pub end: SystemTime,
}

/// Which side of a call a span records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanRole {
    /// The server span of a request this service answered.
    Server,
    /// An outgoing call a handler made while serving a request (see `client_spans`).
    Client,
}

/// A finished span: the server span of one request, or one of its outgoing calls.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpan {
    /// Server or client span.
    pub role: SpanRole,
    /// The trace.
    pub trace_id: trace_context::TraceId,
    /// The span's id. A server span's was already echoed to the client in `traceparent`, a
    /// client span's sent on the call, so the exported span carries exactly this id.
    pub span_id: trace_context::SpanId,
    /// The caller's span id when the request came with a `traceparent`; for a client span, the
    /// server span's.
    pub parent_span_id: Option<trace_context::SpanId>,
    /// Span name, e.g. `GET /users/{id}`.
    pub name: String,
    /// When the request arrived.
    pub start: SystemTime,
    /// When the response was finished.
    pub end: SystemTime,
    /// Span attributes.
    pub attributes: Vec<(&'static str, AttributeValue)>,
    /// Pipeline stages, exported as span events carrying a `duration_us` attribute.
    pub stages: Vec<StageTiming>,
    /// Whether the request failed on the server's side (5xx): span status Error, else Unset.
    pub error: bool,
}

/// Exports request spans in the background.
#[derive(Debug)]
pub struct SpanExporter {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    stopped: AtomicBool,
    shutdown_timeout: Duration,
}

thread_local! {
    /// Ids the next span built on this thread must carry. The SDK ignores ids set on a
    /// `SpanBuilder` and always asks its `IdGenerator`, so `record` parks the request's ids here
    /// for [`PresetIds`] to hand out while the span is built.
    static PRESET_IDS: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// Id generator that returns the ids parked in [`PRESET_IDS`].
#[derive(Debug, Default)]
struct PresetIds {
    /// Used only if a span is ever built without parked ids, so it still gets valid ids.
    fallback: RandomIdGenerator,
}

impl IdGenerator for PresetIds {
    fn new_trace_id(&self) -> TraceId {
        PRESET_IDS.with(Cell::get).map_or_else(|| self.fallback.new_trace_id(), |(trace_id, _)| trace_id)
    }

    fn new_span_id(&self) -> SpanId {
        PRESET_IDS.with(Cell::get).map_or_else(|| self.fallback.new_span_id(), |(_, span_id)| span_id)
    }
}

/// Clears the parked ids even if building the span panics, so they never leak into another span.
struct ParkedIds;

impl ParkedIds {
    fn park(trace_id: TraceId, span_id: SpanId) -> ParkedIds {
        PRESET_IDS.with(|ids| ids.set(Some((trace_id, span_id))));
        ParkedIds
    }
}

impl Drop for ParkedIds {
    fn drop(&mut self) {
        PRESET_IDS.with(|ids| ids.set(None));
    }
}

impl SpanExporter {
    /// Starts the exporter (batching in a background thread). Must work whether or not it is
    /// called inside a tokio runtime.
    ///
    /// Works in both cases because nothing here needs the caller's runtime: the SDK's batch
    /// processor runs on its own OS thread, and the exporter's client on a runtime of its own.
    pub fn start(config: &TracingConfig) -> Result<SpanExporter, SpansError> {
        check_endpoint(&config.endpoint)?;
        if config.export_timeout_ms == 0 {
            return Err(SpansError::ZeroTimeout);
        }
        let timeout = Duration::from_millis(config.export_timeout_ms);
        let client = OtlpHttpClient::new(config.ca_file.as_deref(), timeout).map_err(SpansError::Client)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .with_timeout(timeout)
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter).build())
            .with_sampler(Sampler::AlwaysOn)
            .with_id_generator(PresetIds::default())
            .with_resource(Resource::builder().with_service_name(config.service_name.clone()).build())
            .build();
        let scope = InstrumentationScope::builder("armature").with_version(env!("CARGO_PKG_VERSION")).build();
        let tracer = opentelemetry::trace::TracerProvider::tracer_with_scope(&provider, scope);
        Ok(SpanExporter { provider, tracer, stopped: AtomicBool::new(false), shutdown_timeout: timeout })
    }

    /// Hands a finished span over; never blocks the caller on the network and drops spans rather
    /// than queueing without bound.
    ///
    /// The SDK's batch processor queues into a bounded channel with `try_send`, which is what keeps
    /// this call non-blocking and bounded.
    pub fn record(&self, span: RequestSpan) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        let trace_id = TraceId::from_bytes(span.trace_id.to_bytes());
        let span_id = SpanId::from_bytes(span.span_id.to_bytes());
        let parent = span.parent_span_id.map(|parent_id| {
            let parent_id = SpanId::from_bytes(parent_id.to_bytes());
            SpanContext::new(trace_id, parent_id, TraceFlags::SAMPLED, true, TraceState::default())
        });
        let context = match parent {
            Some(parent) => Context::new().with_remote_span_context(parent),
            None => Context::new(),
        };

        let attributes: Vec<KeyValue> = span
            .attributes
            .into_iter()
            .map(|(key, value)| match value {
                AttributeValue::Str(value) => KeyValue::new(key, value),
                AttributeValue::Int(value) => KeyValue::new(key, value),
            })
            .collect();
        let events: Vec<opentelemetry::trace::Event> = span
            .stages
            .into_iter()
            .map(|stage| {
                let micros = stage.end.duration_since(stage.start).unwrap_or_default().as_micros();
                let micros = i64::try_from(micros).unwrap_or(i64::MAX);
                opentelemetry::trace::Event::new(stage.name, stage.start, vec![KeyValue::new("duration_us", micros)], 0)
            })
            .collect();
        let builder = SpanBuilder::from_name(span.name)
            .with_kind(match span.role {
                SpanRole::Server => SpanKind::Server,
                SpanRole::Client => SpanKind::Client,
            })
            .with_start_time(span.start)
            .with_attributes(attributes)
            .with_events(events);

        let mut otel_span = {
            let _parked = ParkedIds::park(trace_id, span_id);
            self.tracer.build_with_context(builder, &context)
        };
        if span.error {
            otel_span.set_status(Status::error(""));
        }
        otel_span.end_with_timestamp(span.end);
    }

    /// Flushes what is queued (bounded by export_timeout_ms) and stops; later `record` calls are
    /// ignored. Idempotent.
    pub fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        // A failed or timed-out final export has nobody left to report to; the spans are lost.
        let _ = self.provider.shutdown_with_timeout(self.shutdown_timeout);
    }
}

impl Drop for SpanExporter {
    fn drop(&mut self) {
        // Without this the SDK would shut down on drop with its own 5 s limit instead of ours.
        self.shutdown();
    }
}

/// Whether a request's span is recorded: a request that came with a traceparent follows the
/// caller's sampled flag; a new trace is kept with probability `ratio`, decided from the trace id
/// so every service of the trace decides alike (same rule as OpenTelemetry's TraceIdRatioBased).
///
/// The rule: keep when the trace id's low 64 bits, shifted right by one, are below
/// `ratio * 2^63`.
pub fn should_sample(has_parent: bool, parent_sampled: bool, trace_id: trace_context::TraceId, ratio: f64) -> bool {
    if has_parent {
        return parent_sampled;
    }
    if ratio >= 1.0 {
        return true;
    }
    // `max` also turns NaN into 0, as the SDK does.
    let upper_bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    let low = u128::from_be_bytes(trace_id.to_bytes()) as u64;
    (low >> 1) < upper_bound
}

/// Refuses endpoints the exporter could not reach: it would otherwise start fine and then fail
/// every export in the background, where nobody sees it.
fn check_endpoint(endpoint: &str) -> Result<(), SpansError> {
    let bad = |reason: &str| SpansError::BadEndpoint { endpoint: endpoint.to_owned(), reason: reason.to_owned() };
    let uri: http::Uri = endpoint.parse().map_err(|error: http::uri::InvalidUri| bad(&error.to_string()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("must be an absolute https:// or http:// URL"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};

    /// The SDK's own TraceIdRatioBased decision, to check `should_sample` agrees with it.
    fn sdk_decides(trace_id: &str, ratio: f64) -> bool {
        let id = TraceId::from_bytes(id(trace_id).to_bytes());
        let result = Sampler::TraceIdRatioBased(ratio).should_sample(None, id, "x", &SpanKind::Server, &[], &[]);
        matches!(result.decision, SamplingDecision::RecordAndSample)
    }

    fn id(text: &str) -> trace_context::TraceId {
        trace_context::TraceId::from_hex(text.as_bytes()).unwrap_or_else(|| panic!("test trace id {text} is not valid"))
    }

    fn should_sample(has_parent: bool, parent_sampled: bool, trace_id: &str, ratio: f64) -> bool {
        super::should_sample(has_parent, parent_sampled, id(trace_id), ratio)
    }

    // Low 64 bits 0x7fff_ffff_ffff_ffff: (low >> 1) = 2^62 - 1, just under the 0.5 threshold 2^62.
    const BELOW_HALF: &str = "4bf92f3577b34da67fffffffffffffff";
    // Low 64 bits 0x8000_0000_0000_0000: (low >> 1) = 2^62, exactly at the 0.5 threshold.
    const AT_HALF: &str = "4bf92f3577b34da68000000000000000";

    #[test]
    fn parent_flag_wins_both_ways() {
        assert!(should_sample(true, true, BELOW_HALF, 0.0));
        assert!(should_sample(true, true, AT_HALF, 0.0));
        assert!(!should_sample(true, false, BELOW_HALF, 1.0));
        assert!(!should_sample(true, false, AT_HALF, 1.0));
    }

    #[test]
    fn ratio_zero_and_one() {
        for id in [BELOW_HALF, AT_HALF, "00000000000000000000000000000001", "ffffffffffffffffffffffffffffffff"] {
            assert!(!should_sample(false, false, id, 0.0), "{id} at 0");
            assert!(should_sample(false, false, id, 1.0), "{id} at 1");
            // The parent's flag is ignored when there is no parent.
            assert!(!should_sample(false, true, id, 0.0), "{id} at 0, stray flag");
        }
    }

    #[test]
    fn fixed_ids_either_side_of_the_threshold() {
        assert!(should_sample(false, false, BELOW_HALF, 0.5));
        assert!(!should_sample(false, false, AT_HALF, 0.5));
        // Only the low 64 bits count: changing the high half changes nothing.
        assert!(should_sample(false, false, "ffffffffffffffff7fffffffffffffff", 0.5));
        assert!(!should_sample(false, false, "00000000000000018000000000000000", 0.5));
        // A quarter: threshold 2^61, i.e. low < 2^62.
        assert!(should_sample(false, false, "00000000000000003fffffffffffffff", 0.25));
        assert!(!should_sample(false, false, "00000000000000004000000000000000", 0.25));
    }

    #[test]
    fn same_id_same_answer_and_agrees_with_the_sdk() {
        let ids = [
            BELOW_HALF,
            AT_HALF,
            "0af7651916cd43dd8448eb211c80319c",
            "00000000000000000000000000000001",
            "ffffffffffffffffffffffffffffffff",
            "0123456789abcdef0123456789abcdef",
        ];
        for ratio in [0.0, 0.001, 0.25, 0.5, 0.75, 0.999, 1.0] {
            for id in ids {
                let first = should_sample(false, false, id, ratio);
                for _ in 0..3 {
                    assert_eq!(should_sample(false, false, id, ratio), first, "{id} at {ratio}");
                }
                assert_eq!(first, sdk_decides(id, ratio), "{id} at {ratio} disagrees with the SDK");
            }
        }
    }

    #[test]
    fn endpoint_checks() {
        assert!(check_endpoint("http://127.0.0.1:4318/v1/traces").is_ok());
        assert!(check_endpoint("http://collector/v1/traces").is_ok());
        assert!(check_endpoint("https://collector/v1/traces").is_ok());
        for bad in ["", "127.0.0.1:4318", "/v1/traces", "ftp://x/y", "http://"] {
            assert!(matches!(check_endpoint(bad), Err(SpansError::BadEndpoint { .. })), "{bad:?}");
        }
    }

    #[test]
    fn start_refuses_bad_config() {
        let config = TracingConfig { endpoint: "not a url".to_owned(), ..TracingConfig::default() };
        assert!(matches!(SpanExporter::start(&config), Err(SpansError::BadEndpoint { .. })));
        let config = TracingConfig { export_timeout_ms: 0, ..TracingConfig::default() };
        assert!(matches!(SpanExporter::start(&config), Err(SpansError::ZeroTimeout)));
    }

    #[test]
    fn parked_ids_are_cleared() {
        let trace_id = TraceId::from(7u128);
        let span_id = SpanId::from(9u64);
        {
            let _parked = ParkedIds::park(trace_id, span_id);
            assert_eq!(PresetIds::default().new_span_id(), span_id);
            assert_eq!(PresetIds::default().new_trace_id(), trace_id);
        }
        assert_eq!(PRESET_IDS.with(Cell::get), None);
        assert_ne!(PresetIds::default().new_span_id(), span_id);
    }
}
