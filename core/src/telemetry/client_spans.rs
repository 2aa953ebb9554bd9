//! Client spans: one per outgoing call a handler makes while serving a recorded request.
//!
//! A handler begins an outgoing call before sending it ([`ClientSpans::begin`]), sends the
//! call's `traceparent` and `tracestate`, and ends the call once its answer (or its failure) is
//! known ([`OutgoingCall::end`]). The span, a child of the request's server span with the id the
//! `traceparent` carried, is exported then, through the same exporter as server spans. For a
//! request whose span is not recorded (unsampled, or tracing off) the call still gets its headers
//! and nothing is built.

use std::sync::Arc;
use std::time::SystemTime;

use crate::telemetry::spans::{AttributeValue, RequestSpan, SpanExporter, SpanRole};
use crate::trace_context::{OutgoingContext, SpanId, TraceContext, TraceId};

/// Why an outgoing call cannot begin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientSpanError {
    /// A span needs a name (OpenTelemetry requires one; the HTTP convention is the method).
    #[error("a span name must not be empty")]
    EmptyName,
}

/// Whether, and where, a request's outgoing calls are exported. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ClientSpans {
    /// The exporter, only when the request's own span is recorded.
    exporter: Option<Arc<SpanExporter>>,
}

impl ClientSpans {
    /// Outgoing calls are not exported (the request is not recorded, or tracing is off).
    pub fn off() -> ClientSpans {
        ClientSpans { exporter: None }
    }

    /// Outgoing calls are exported through `exporter`.
    pub(crate) fn recorded_by(exporter: Arc<SpanExporter>) -> ClientSpans {
        ClientSpans { exporter: Some(exporter) }
    }

    /// Whether calls begun here are exported as spans.
    pub fn is_recording(&self) -> bool {
        self.exporter.is_some()
    }

    /// Begins one outgoing call of the request whose trace is `trace`: a new child span id and
    /// the headers that carry it. `name` names the span (OpenTelemetry's HTTP client convention
    /// is the method, e.g. `GET`, or `GET /users/{id}` when the route is known). `method` and
    /// `url` become the `http.request.method` and `url.full` attributes; the URL's query and
    /// user info are dropped, since they may carry secrets, as server spans never record a query.
    /// Fails only for an empty `name`.
    pub fn begin(
        &self,
        trace: &TraceContext,
        name: &str,
        method: Option<&str>,
        url: Option<&str>,
    ) -> Result<OutgoingCall, ClientSpanError> {
        if name.is_empty() {
            return Err(ClientSpanError::EmptyName);
        }
        let context = trace.outgoing();
        let recording = self.exporter.as_ref().map(|exporter| {
            let mut attributes = Vec::with_capacity(3);
            if let Some(method) = method {
                attributes.push(("http.request.method", AttributeValue::Str(method.to_owned())));
            }
            if let Some(url) = url.and_then(redacted_url) {
                attributes.push(("url.full", AttributeValue::Str(url)));
            }
            Recording {
                exporter: exporter.clone(),
                trace_id: trace.trace_id,
                parent: trace.span_id,
                name: name.to_owned(),
                start: SystemTime::now(),
                attributes,
            }
        });
        Ok(OutgoingCall { context, recording })
    }
}

/// One outgoing call in progress. Ending it exports its span; dropping it without
/// [`OutgoingCall::end`] exports the span too, ended at the drop, with no outcome attributes.
#[derive(Debug)]
pub struct OutgoingCall {
    context: OutgoingContext,
    recording: Option<Recording>,
}

#[derive(Debug)]
struct Recording {
    exporter: Arc<SpanExporter>,
    trace_id: TraceId,
    parent: SpanId,
    name: String,
    start: SystemTime,
    attributes: Vec<(&'static str, AttributeValue)>,
}

impl OutgoingCall {
    /// The headers to send on the call, and its span id.
    pub fn context(&self) -> &OutgoingContext {
        &self.context
    }

    /// Whether this call's span is exported.
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Ends the call now. `status` is the answer's status code, when an answer came; `error_type`
    /// says why the call failed (OpenTelemetry's `error.type`: an exception's type name,
    /// `timeout`, ...). The span's status is Error when there is an `error_type` or the status is
    /// 4xx or 5xx (the HTTP client convention), else Unset.
    pub fn end(mut self, status: Option<u16>, error_type: Option<&str>) {
        self.export(status, error_type.filter(|kind| !kind.is_empty()));
    }

    fn export(&mut self, status: Option<u16>, error_type: Option<&str>) {
        let Some(mut recording) = self.recording.take() else { return };
        if let Some(status) = status {
            recording.attributes.push(("http.response.status_code", AttributeValue::Int(i64::from(status))));
        }
        if let Some(error_type) = error_type {
            recording.attributes.push(("error.type", AttributeValue::Str(error_type.to_owned())));
        }
        let error = error_type.is_some() || status.is_some_and(|status| status >= 400);
        recording.exporter.record(RequestSpan {
            role: SpanRole::Client,
            trace_id: recording.trace_id,
            span_id: self.context.span_id,
            parent_span_id: Some(recording.parent),
            name: recording.name,
            start: recording.start,
            end: SystemTime::now(),
            attributes: recording.attributes,
            stages: Vec::new(),
            error,
        });
    }
}

impl Drop for OutgoingCall {
    fn drop(&mut self) {
        self.export(None, None);
    }
}

/// `scheme://host[:port]/path` of an absolute URL, without user info, query or fragment; None
/// when `url` is not an absolute URL (the attribute is then left out rather than guessed).
fn redacted_url(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let host = uri.host().filter(|host| !host.is_empty())?;
    let port = uri.port_u16().map(|port| format!(":{port}")).unwrap_or_default();
    Some(format!("{scheme}://{host}{port}{}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_query_and_user_info() {
        assert_eq!(
            redacted_url("https://user:pw@api.example.com:8443/v1/items?token=secret#top").as_deref(),
            Some("https://api.example.com:8443/v1/items")
        );
        assert_eq!(redacted_url("http://inventory/stock").as_deref(), Some("http://inventory/stock"));
        assert_eq!(redacted_url("http://inventory").as_deref(), Some("http://inventory/"));
        for bad in ["/relative/path", "not a url", "", "inventory:80"] {
            assert_eq!(redacted_url(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn calls_of_an_unrecorded_request_get_headers_and_no_span() {
        let trace = TraceContext::new_root();
        assert_eq!(ClientSpans::off().begin(&trace, "", None, None).err(), Some(ClientSpanError::EmptyName));
        let call = ClientSpans::off()
            .begin(&trace, "GET", Some("GET"), Some("http://inventory/stock"))
            .expect("a named call begins");
        assert!(!call.is_recording());
        assert_ne!(call.context().span_id, trace.span_id);
        assert!(call.context().traceparent.contains(&trace.trace_id.to_string()));
        call.end(Some(200), None);
    }
}
