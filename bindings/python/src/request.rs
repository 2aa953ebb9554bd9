//! One request as Python handlers see it, and the way its answer goes back.
//!
//! Attributes are read from core's own `HandlerRequest` when asked for, not copied into dicts
//! up front: a handler that only needs `path_params` pays for nothing else. The answering
//! methods are private (`_respond*`, `_fail`, `_refuse`, `_abandon`): the package's dispatcher
//! calls them with what the handler returned or raised.

use std::sync::Mutex;

use armature_core::answer_rules::{self, InvalidAnswer};
use armature_core::contract::params::cookie_pairs;
use armature_core::dispatch::RespondError;
use armature_core::{HandlerError, HandlerOutcome, HandlerRequest, HandlerResponse, Responder};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::HeaderMap;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde_json::{Map, Value};

/// An incoming request that passed the pipeline (routing, identity, policy, validation).
#[pyclass(frozen, module = "armature._native")]
pub struct Request {
    inner: HandlerRequest,
    responder: Mutex<Option<Responder>>,
}

impl Request {
    pub(crate) fn new(pending: armature_core::PendingRequest) -> Self {
        Self { inner: pending.request, responder: Mutex::new(Some(pending.responder)) }
    }

    fn finish(&self, outcome: HandlerOutcome) -> PyResult<()> {
        let responder = self.responder.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(responder) = responder else {
            return Err(PyRuntimeError::new_err("this request was already answered"));
        };
        match responder.finish(outcome) {
            // The request timed out (504) or the client left meanwhile: nobody to tell.
            Ok(()) | Err(RespondError::Gone) => Ok(()),
            // Checked before already; the request was answered 500 all the same.
            Err(RespondError::Invalid(invalid)) => Err(PyValueError::new_err(invalid.to_string())),
        }
    }

    fn respond_bytes(
        &self,
        status: u16,
        content_type: Option<&str>,
        headers: Option<Vec<(String, String)>>,
        body: Bytes,
    ) -> PyResult<()> {
        let status = answer_rules::response_status(status).map_err(invalid_answer)?;
        let mut map = HeaderMap::new();
        if let Some(content_type) = content_type {
            map.insert(CONTENT_TYPE, header_value(content_type)?);
        }
        for (name, value) in headers.unwrap_or_default() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| PyValueError::new_err(format!("invalid header name {name:?}")))?;
            answer_rules::response_header(&name).map_err(invalid_answer)?;
            map.append(name, header_value(&value)?);
        }
        self.finish(Ok(HandlerResponse { status, headers: map, body }))
    }
}

fn invalid_answer(invalid: InvalidAnswer) -> PyErr {
    PyValueError::new_err(invalid.to_string())
}

fn header_value(value: &str) -> PyResult<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| PyValueError::new_err(format!("invalid header value {value:?}")))
}

fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(|e| PyValueError::new_err(e.to_string()))
}

fn map_to_python<'py>(py: Python<'py>, map: &Map<String, Value>) -> PyResult<Bound<'py, PyAny>> {
    to_python(py, map)
}

#[pymethods]
impl Request {
    /// The HTTP method, upper case.
    #[getter]
    fn method(&self) -> &str {
        self.inner.method.as_str()
    }

    /// The path, still percent-encoded, without the query.
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }

    /// The raw query string (without `?`), or None.
    #[getter]
    fn query_string(&self) -> Option<&str> {
        self.inner.query.as_deref()
    }

    /// The operationId the request was routed to.
    #[getter]
    fn operation_id(&self) -> &str {
        &self.inner.operation_id
    }

    /// The request id (the client's `X-Request-Id`, else a UUIDv7), echoed in the response.
    #[getter]
    fn request_id(&self) -> &str {
        &self.inner.request_id
    }

    /// The W3C trace id, 32 hex digits.
    #[getter]
    fn trace_id(&self) -> String {
        self.inner.trace.trace_id.to_string()
    }

    /// The trace context: ids, flags, `tracestate`, and `outgoing_headers()` / `client_span()`
    /// for outgoing calls.
    #[getter]
    fn trace(&self) -> crate::trace::Trace {
        crate::trace::Trace::new(self.inner.trace.clone(), self.inner.client_spans.clone())
    }

    /// Path parameters, decoded and typed as the contract declares them.
    #[getter]
    fn path_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        map_to_python(py, &self.inner.params.path)
    }

    /// Query parameters the contract declares, decoded and typed.
    #[getter]
    fn query<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        map_to_python(py, &self.inner.params.query)
    }

    /// Header parameters the contract declares, decoded and typed, by their declared names.
    #[getter]
    fn header_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        map_to_python(py, &self.inner.params.header)
    }

    /// Cookie parameters the contract declares, decoded and typed.
    #[getter]
    fn cookie_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        map_to_python(py, &self.inner.params.cookie)
    }

    /// Every header, by lower-case name; repeated headers joined with ", " (RFC 9110 §5.3).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for name in self.inner.headers.keys() {
            if let Some(value) = self.inner.joined_header(name.as_str()) {
                dict.set_item(name.as_str(), value)?;
            }
        }
        Ok(dict)
    }

    /// One header by name (any case), repeated values joined with ", "; None when absent.
    fn header(&self, name: &str) -> Option<String> {
        self.inner.joined_header(name)
    }

    /// Every cookie of the `Cookie` headers, by name (the first one wins).
    #[getter]
    fn cookies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let values: Vec<&str> =
            self.inner.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        let dict = PyDict::new(py);
        for (name, value) in cookie_pairs(&values) {
            if !dict.contains(name)? {
                dict.set_item(name, value)?;
            }
        }
        Ok(dict)
    }

    /// The body as bytes.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.body)
    }

    /// The body as text (UTF-8); ValueError when it is not UTF-8.
    #[getter]
    fn text(&self) -> PyResult<&str> {
        std::str::from_utf8(&self.inner.body).map_err(|e| PyValueError::new_err(format!("body is not UTF-8: {e}")))
    }

    /// The body parsed as JSON (already validated against the contract when it declares a
    /// schema); ValueError when it is not JSON, None when there is no body.
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.inner.body.is_empty() {
            return Ok(py.None().into_bound(py));
        }
        // The pipeline's own parse when it validated a JSON body: no second parse.
        if let Some(value) = &self.inner.json {
            return to_python(py, value);
        }
        let value: Value = serde_json::from_slice(&self.inner.body)
            .map_err(|e| PyValueError::new_err(format!("body is not JSON: {e}")))?;
        to_python(py, &value)
    }

    /// Who is calling: `{"kind", "subject", "claims", "scopes"}` as policies see it.
    #[getter]
    fn identity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.identity.to_json())
    }

    /// The caller's subject (`sub` claim, API key name, SPIFFE id); None when anonymous.
    #[getter]
    fn subject(&self) -> Option<&str> {
        self.inner.identity.subject.as_deref()
    }

    /// Whether an answer was already given.
    #[getter]
    fn answered(&self) -> bool {
        self.responder.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    fn __repr__(&self) -> String {
        format!(
            "<armature.Request {} {} operation_id={:?}>",
            self.inner.method, self.inner.path, &*self.inner.operation_id
        )
    }

    /// Answers with raw bytes.
    #[pyo3(signature = (status, body, content_type=None, headers=None))]
    fn _respond(
        &self,
        status: u16,
        body: &[u8],
        content_type: Option<&str>,
        headers: Option<Vec<(String, String)>>,
    ) -> PyResult<()> {
        self.respond_bytes(status, content_type, headers, Bytes::copy_from_slice(body))
    }

    /// Answers with text (`text/plain; charset=utf-8` unless `content_type` says otherwise).
    #[pyo3(signature = (status, text, content_type=None, headers=None))]
    fn _respond_text(
        &self,
        status: u16,
        text: &str,
        content_type: Option<&str>,
        headers: Option<Vec<(String, String)>>,
    ) -> PyResult<()> {
        let content_type = content_type.unwrap_or("text/plain; charset=utf-8");
        self.respond_bytes(status, Some(content_type), headers, Bytes::copy_from_slice(text.as_bytes()))
    }

    /// Answers with a JSON-serializable value (dict, list, str, int, float, bool, None).
    #[pyo3(signature = (status, value, content_type=None, headers=None))]
    fn _respond_json(
        &self,
        status: u16,
        value: &Bound<'_, PyAny>,
        content_type: Option<&str>,
        headers: Option<Vec<(String, String)>>,
    ) -> PyResult<()> {
        let value: Value = pythonize::depythonize(value)
            .map_err(|e| PyTypeError::new_err(format!("the handler's result is not JSON-serializable: {e}")))?;
        let body = serde_json::to_vec(&value).map_err(|e| PyValueError::new_err(e.to_string()))?;
        self.respond_bytes(status, Some(content_type.unwrap_or("application/json")), headers, Bytes::from(body))
    }

    /// The handler failed: a 500 `handler-error` problem; `message` only shown with `errors.debug`.
    fn _fail(&self, message: String) -> PyResult<()> {
        self.finish(Err(HandlerError::Failed(message)))
    }

    /// The handler refused on purpose: a `refused` problem with this status and public detail.
    fn _refuse(&self, status: u16, detail: String) -> PyResult<()> {
        let status = answer_rules::refusal_status(status).map_err(invalid_answer)?;
        self.finish(Err(HandlerError::Refused { status, detail }))
    }

    /// Gives up without an answer (the handler was cancelled): core answers 500 `no-response`.
    fn _abandon(&self) {
        self.responder.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}
