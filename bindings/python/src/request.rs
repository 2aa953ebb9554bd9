//! One request as Python handlers see it, and the way its answer goes back.
//!
//! Attributes are read from core's own `HandlerRequest` when asked for, not copied into dicts
//! up front: a handler that only needs `path_params` pays for nothing else. The answering
//! methods are private (`_answer`, `_fail`, `_refuse`, `_abandon`): the package's dispatcher
//! calls them with what the handler returned or raised.

use std::sync::Mutex;

use armature_core::answer::{self, Answer, Body, InvalidAnswer};
use armature_core::contract::params::cookie_pairs;
use armature_core::dispatch::RespondError;
use armature_core::{HandlerError, HandlerOutcome, HandlerRequest, Responder};
use bytes::Bytes;
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

    /// Answers by the one answer rule: core decides status, content type and headers.
    fn answer(&self, answer: Answer) -> PyResult<()> {
        let response = answer.build().map_err(invalid_answer)?;
        self.finish(Ok(response))
    }
}

/// What `_answer`'s `kind` says the payload is (`armature._native.BODY_*`).
pub(crate) const BODY_NOTHING: u8 = 0;
pub(crate) const BODY_TEXT: u8 = 1;
pub(crate) const BODY_BINARY: u8 = 2;
pub(crate) const BODY_JSON: u8 = 3;
pub(crate) const BODY_EXACT: u8 = 4;

/// The payload of a handler's answer converted to core's [`Body`]: a `str` for text, bytes for
/// binary and exact bodies, and for JSON either bytes already serialized (a Pydantic model's
/// `model_dump_json`) or a value serialized here.
fn body_of(kind: u8, payload: &Bound<'_, PyAny>) -> PyResult<Body> {
    let bytes = |payload: &Bound<'_, PyAny>| -> PyResult<Bytes> {
        Ok(Bytes::copy_from_slice(payload.extract::<&[u8]>().map_err(|_| {
            PyTypeError::new_err(format!(
                "expected bytes, not {}",
                payload.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })?))
    };
    Ok(match kind {
        BODY_NOTHING => Body::Nothing,
        BODY_TEXT => {
            let text: pyo3::pybacked::PyBackedStr = payload.extract()?;
            Body::Text(Bytes::copy_from_slice(text.as_bytes()))
        }
        BODY_BINARY => Body::Binary(bytes(payload)?),
        BODY_EXACT => Body::Exact(bytes(payload)?),
        BODY_JSON if payload.is_instance_of::<PyBytes>() => Body::Json(bytes(payload)?),
        BODY_JSON => Body::Json(Bytes::from(json_text(payload)?)),
        other => return Err(PyValueError::new_err(format!("{other} is not a body kind"))),
    })
}

/// A Python value as JSON text, dict keys in the dict's order (as `json.dumps` and FastAPI write
/// them): transcoded from pythonize's deserializer into serde_json's serializer, no `Value` in
/// between, which would sort them.
fn json_text(payload: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut text = Vec::with_capacity(128);
    let mut from = pythonize::Depythonizer::from_object(payload);
    let mut to = serde_json::Serializer::new(&mut text);
    serde_transcode::transcode(&mut from, &mut to)
        .map_err(|e| PyTypeError::new_err(format!("the handler's result is not JSON-serializable: {e}")))?;
    Ok(text)
}

fn invalid_answer(invalid: InvalidAnswer) -> PyErr {
    PyValueError::new_err(invalid.to_string())
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

    /// Answers with what the handler returned: `kind` (a `BODY_*` constant) says what `payload`
    /// is; `content_type` is the one the handler named, which a `Content-Type` header in
    /// `headers` overrides. The rule is core's (`armature_core::answer`).
    #[pyo3(signature = (status, kind, payload, content_type=None, headers=None))]
    fn _answer(
        &self,
        status: u16,
        kind: u8,
        payload: &Bound<'_, PyAny>,
        content_type: Option<String>,
        headers: Option<Vec<(String, String)>>,
    ) -> PyResult<()> {
        let body = body_of(kind, payload)?;
        self.answer(Answer { status, content_type, headers: headers.unwrap_or_default(), body })
    }

    /// The handler failed: a 500 `handler-error` problem; `message` only shown with `errors.debug`.
    fn _fail(&self, message: String) -> PyResult<()> {
        self.finish(Err(HandlerError::Failed(message)))
    }

    /// The handler refused on purpose: a `refused` problem with this status and public detail.
    fn _refuse(&self, status: u16, detail: String) -> PyResult<()> {
        let status = answer::refusal_status(status).map_err(invalid_answer)?;
        self.finish(Err(HandlerError::Refused { status, detail }))
    }

    /// Gives up without an answer (the handler was cancelled): core answers 500 `no-response`.
    fn _abandon(&self) {
        self.responder.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}
