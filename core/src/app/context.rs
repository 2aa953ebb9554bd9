//! The request context: one request as the pipeline knows it. It is made when the request
//! arrives (request id and trace context accepted or generated), each stage reads it and adds
//! what it learned, and telemetry reads it once the request is answered.

use std::time::Instant;

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::HeaderMap;

use super::stage::StageClock;
use crate::connection::Connection;
use crate::request_id;
use crate::telemetry::recorder::{FinishedRequest, RouteLabel, SpanTimes, Telemetry};
use crate::trace_context::{self, TraceContext};

static X_REQUEST_ID: HeaderName = HeaderName::from_static(request_id::HEADER);
static TRACEPARENT: HeaderName = HeaderName::from_static(trace_context::TRACEPARENT);
static TRACESTATE: HeaderName = HeaderName::from_static(trace_context::TRACESTATE);

/// One request in the pipeline.
pub(crate) struct RequestContext<'a> {
    /// Method, URI, version and headers; the headers move to the handler's request once the
    /// stages before the handler have read them.
    pub parts: Parts,
    /// The caller's `X-Request-Id` when acceptable, else a new one.
    pub request_id: String,
    /// The server span's trace context.
    pub trace: TraceContext,
    /// What the request was routed to.
    pub route: RouteLabel<'a>,
    /// The identified caller, once the identity stage has run.
    pub subject: Option<String>,
    /// Request body bytes read.
    pub request_bytes: u64,
    /// Whether the pipeline read the body to its end (it does not when it refuses first).
    pub body_read: bool,
    /// Times the stages and counts their failures.
    pub clock: StageClock<'a>,
    /// The connection it came on: peer address, TLS, verified client certificate.
    pub connection: Connection,
    started: Instant,
}

impl<'a> RequestContext<'a> {
    /// Accepts the request: its id and trace context, and whether its span is recorded.
    pub(crate) fn new(parts: Parts, telemetry: &'a Telemetry, connection: Connection) -> Self {
        let started = Instant::now();
        let request_id = request_id::accept_or_generate(parts.headers.get(&X_REQUEST_ID).map(HeaderValue::as_bytes));
        let mut trace = TraceContext::from_headers(
            &header_values(&parts.headers, &TRACEPARENT),
            &header_values(&parts.headers, &TRACESTATE),
        );
        let span = telemetry.sample(&mut trace).then(SpanTimes::begin);
        RequestContext {
            parts,
            request_id,
            trace,
            route: RouteLabel::Unmatched,
            subject: None,
            request_bytes: 0,
            body_read: false,
            clock: StageClock::new(span, telemetry.metrics()),
            connection,
            started,
        }
    }

    /// Adds the correlation headers every response carries.
    pub(crate) fn stamp(&self, headers: &mut HeaderMap) {
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(X_REQUEST_ID.clone(), value);
        }
        if let Ok(value) = HeaderValue::from_str(&self.trace.traceparent()) {
            headers.insert(TRACEPARENT.clone(), value);
        }
        if let Some(value) = self.trace.tracestate.as_deref().and_then(|s| HeaderValue::from_str(s).ok()) {
            headers.insert(TRACESTATE.clone(), value);
        }
    }

    /// Hands the answered request to telemetry: access log, metrics and span.
    pub(crate) fn finish(self, telemetry: &Telemetry, status: u16, response_bytes: u64) {
        telemetry.record(FinishedRequest {
            method: &self.parts.method,
            path: self.parts.uri.path(),
            route: self.route,
            status,
            request_id: &self.request_id,
            trace: &self.trace,
            subject: self.subject.as_deref(),
            started: self.started,
            request_bytes: self.request_bytes,
            response_bytes,
            remote_addr: self.connection.remote_addr,
            span: self.clock.into_span(),
        });
    }
}

fn header_values<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Vec<&'h [u8]> {
    headers.get_all(name).iter().map(HeaderValue::as_bytes).collect()
}
