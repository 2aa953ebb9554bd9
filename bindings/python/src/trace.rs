//! `request.trace`: the request's W3C trace context, the headers of an outgoing call, and
//! outgoing calls exported as client spans (`client_span`).

use std::sync::Mutex;

use armature_core::telemetry::client_spans::{ClientSpans, OutgoingCall};
use armature_core::trace_context::{self, OutgoingContext, TraceContext};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

/// The trace context of one request: this server's span within the caller's trace.
#[pyclass(frozen, module = "armature._native")]
pub struct Trace {
    inner: TraceContext,
    client_spans: ClientSpans,
}

impl Trace {
    pub(crate) fn new(inner: TraceContext, client_spans: ClientSpans) -> Self {
        Self { inner, client_spans }
    }
}

fn headers_of<'py>(py: Python<'py>, outgoing: &OutgoingContext) -> PyResult<Bound<'py, PyDict>> {
    let headers = PyDict::new(py);
    headers.set_item(trace_context::TRACEPARENT, &outgoing.traceparent)?;
    if let Some(tracestate) = &outgoing.tracestate {
        headers.set_item(trace_context::TRACESTATE, tracestate)?;
    }
    Ok(headers)
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
    /// its own child of this server's span) and, when the request had one, `tracestate`. No
    /// span is exported for it: use `client_span` for that.
    fn outgoing_headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        headers_of(py, &self.inner.outgoing())
    }

    /// Begins an outgoing call exported as a client span when this request's span is recorded:
    /// use it as a context manager, send `headers` on the call and set `status`.
    #[pyo3(signature = (name, *, method = None, url = None))]
    fn client_span(&self, name: &str, method: Option<&str>, url: Option<&str>) -> PyResult<ClientSpan> {
        let call = self
            .client_spans
            .begin(&self.inner, name, method, url)
            .map_err(|error| pyo3::exceptions::PyValueError::new_err(error.to_string()))?;
        Ok(ClientSpan { call: Mutex::new(Some(call)), status: Mutex::new(None) })
    }
}

/// One outgoing call; ended (and exported) when its `with` block exits or `end()` is called.
#[pyclass(frozen, module = "armature._native")]
pub struct ClientSpan {
    call: Mutex<Option<OutgoingCall>>,
    status: Mutex<Option<u16>>,
}

impl ClientSpan {
    fn with_call<T>(&self, read: impl FnOnce(&OutgoingCall) -> T) -> PyResult<T> {
        let call = self.call.lock().unwrap_or_else(|e| e.into_inner());
        call.as_ref().map(read).ok_or_else(|| PyRuntimeError::new_err("this client span has already ended"))
    }

    fn finish(&self, status: Option<u16>, error_type: Option<&str>) {
        let call = self.call.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(call) = call {
            call.end(status, error_type);
        }
    }
}

#[pymethods]
impl ClientSpan {
    /// The headers to send on the call: `traceparent` (this call's span id) and `tracestate`.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let outgoing = self.with_call(|call| call.context().clone())?;
        headers_of(py, &outgoing)
    }

    /// This call's span id, 16 lower-case hex digits.
    #[getter]
    fn span_id(&self) -> PyResult<String> {
        self.with_call(|call| call.context().span_id.to_string())
    }

    /// Whether the span is exported (the request's span is recorded).
    #[getter]
    fn recording(&self) -> PyResult<bool> {
        self.with_call(OutgoingCall::is_recording)
    }

    /// The answer's status code, exported when the span ends; None until set.
    #[getter]
    fn get_status(&self) -> Option<u16> {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[setter]
    fn set_status(&self, status: Option<u16>) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }

    /// Ends the call now. `status` defaults to the one set; `error_type` says why it failed
    /// (e.g. `timeout`). Later calls do nothing.
    #[pyo3(signature = (status = None, error_type = None))]
    fn end(&self, status: Option<u16>, error_type: Option<&str>) {
        let status = status.or_else(|| self.get_status());
        self.finish(status, error_type);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Ends the call; an exception leaving the block becomes its `error.type` (the exception's
    /// qualified type name), as OpenTelemetry's HTTP client convention asks.
    #[pyo3(signature = (exc_type = None, _exc = None, _traceback = None))]
    fn __exit__(
        &self,
        exc_type: Option<Bound<'_, PyType>>,
        _exc: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let error_type = match exc_type {
            Some(kind) => Some(qualified_name(&kind)?),
            None => None,
        };
        self.finish(self.get_status(), error_type.as_deref());
        Ok(false)
    }
}

/// `module.QualName` of an exception type, `QualName` alone for builtins.
fn qualified_name(kind: &Bound<'_, PyType>) -> PyResult<String> {
    let name = kind.qualname()?.to_string();
    let module = kind.module()?.to_string();
    Ok(if module == "builtins" { name } else { format!("{module}.{name}") })
}
