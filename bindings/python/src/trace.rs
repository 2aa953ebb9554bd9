//! `request.trace`: the request's W3C trace context, and the headers of an outgoing call.

use armature_core::trace_context::{self, TraceContext};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The trace context of one request: this server's span within the caller's trace.
#[pyclass(frozen, module = "armature._native")]
pub struct Trace {
    inner: TraceContext,
}

impl Trace {
    pub(crate) fn new(inner: TraceContext) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl Trace {
    /// The trace id, 32 lower-case hex digits.
    #[getter]
    fn trace_id(&self) -> String {
        self.inner.trace_id.to_string()
    }

    /// This server's span id, 16 lower-case hex digits.
    #[getter]
    fn span_id(&self) -> String {
        self.inner.span_id.to_string()
    }

    /// The caller's span id, when a valid `traceparent` came in.
    #[getter]
    fn parent_span_id(&self) -> Option<String> {
        self.inner.parent_span_id.map(|id| id.to_string())
    }

    /// The trace-flags byte: bit 0 sampled, bit 1 random trace id.
    #[getter]
    fn flags(&self) -> u8 {
        self.inner.flags
    }

    /// Whether the trace is sampled (recorded).
    #[getter]
    fn sampled(&self) -> bool {
        self.inner.sampled()
    }

    /// The validated, normalized `tracestate`, when the request had one.
    #[getter]
    fn tracestate(&self) -> Option<&str> {
        self.inner.tracestate.as_deref()
    }

    /// The first value of `key` in `tracestate`.
    fn tracestate_get(&self, key: &str) -> Option<&str> {
        trace_context::tracestate_get(self.inner.tracestate.as_deref()?, key)
    }

    /// The headers to send on an outgoing call: `traceparent` with a new span id (each call is
    /// its own child of this server's span) and, when the request had one, `tracestate`.
    fn outgoing_headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let outgoing = self.inner.outgoing();
        let headers = PyDict::new(py);
        headers.set_item(trace_context::TRACEPARENT, outgoing.traceparent)?;
        if let Some(tracestate) = outgoing.tracestate {
            headers.set_item(trace_context::TRACESTATE, tracestate)?;
        }
        Ok(headers)
    }
}
