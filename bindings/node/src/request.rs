//! One request as JavaScript handlers see it, and the way its answer goes back.
//!
//! Attributes are read from core's own `HandlerRequest` when asked for, not converted up front:
//! a handler that only needs the path parameters pays for nothing else. The answering methods
//! are called by the TypeScript dispatcher (lib/dispatch.ts) with what the handler returned or
//! threw; each request is answered at most once.

use armature_core::answer::{self, Answer, Body, InvalidAnswer};
use armature_core::contract::params::cookie_pairs;
use armature_core::dispatch::RespondError;
use armature_core::telemetry::client_spans::OutgoingCall;
use armature_core::trace_context;
use armature_core::{HandlerError, HandlerOutcome, HandlerRequest, PendingRequest, Responder};
use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Either};
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::errors::{error, INVALID, STATE};

type Result<T> = std::result::Result<T, napi::Error<String>>;

/// An incoming request that passed the pipeline (routing, identity, policy, validation).
#[napi]
pub struct Request {
    inner: HandlerRequest,
    responder: Option<Responder>,
}

impl Request {
    pub(crate) fn new(pending: PendingRequest) -> Self {
        Self { inner: pending.request, responder: Some(pending.responder) }
    }

    fn finish(&mut self, outcome: HandlerOutcome) -> Result<()> {
        let Some(responder) = self.responder.take() else {
            return Err(error(STATE, "this request was already answered"));
        };
        match responder.finish(outcome) {
            // The request timed out (504) or the client left meanwhile: nobody to tell.
            Ok(()) | Err(RespondError::Gone) => Ok(()),
            // Checked before already; the request was answered 500 all the same.
            Err(RespondError::Invalid(invalid)) => Err(invalid_answer(invalid)),
        }
    }
}

/// One outgoing call; exported as a client span when it ends (and the request is recorded).
#[napi]
pub struct ClientSpan {
    call: Option<OutgoingCall>,
}

#[napi]
impl ClientSpan {
    /// The headers to send on the call: `traceparent` (this call's span id) and `tracestate`.
    #[napi(getter, ts_return_type = "Record<string, string>")]
    pub fn headers(&self) -> Result<Value> {
        let call = self.call.as_ref().ok_or_else(|| error(STATE, "this client span has already ended"))?;
        Ok(trace_headers(call.context()))
    }

    /// This call's span id, 16 hex digits.
    #[napi(getter)]
    pub fn span_id(&self) -> Result<String> {
        let call = self.call.as_ref().ok_or_else(|| error(STATE, "this client span has already ended"))?;
        Ok(call.context().span_id.to_string())
    }

    /// Whether the span is exported (the request's span is recorded).
    #[napi(getter)]
    pub fn recording(&self) -> bool {
        self.call.as_ref().is_some_and(OutgoingCall::is_recording)
    }

    /// Ends the call: `status` is the answer's status (none when no answer came), `errorType`
    /// why it failed (e.g. `timeout`). Later calls do nothing.
    #[napi]
    pub fn end(&mut self, status: Option<u32>, error_type: Option<String>) {
        if let Some(call) = self.call.take() {
            call.end(status.and_then(|s| u16::try_from(s).ok()), error_type.as_deref());
        }
    }
}

/// The headers of one outgoing call: `traceparent`, and `tracestate` when there is one.
fn trace_headers(outgoing: &trace_context::OutgoingContext) -> Value {
    let mut headers = Map::new();
    headers.insert(trace_context::TRACEPARENT.into(), Value::String(outgoing.traceparent.clone()));
    if let Some(tracestate) = &outgoing.tracestate {
        headers.insert(trace_context::TRACESTATE.into(), Value::String(tracestate.clone()));
    }
    Value::Object(headers)
}

/// What `answer`'s `kind` says the body is: the plain value a handler returned (see
/// lib/dispatch.ts), for core's answer rule to give its content type.
#[napi]
pub const BODY_NOTHING: u32 = 0;
/// A string.
#[napi]
pub const BODY_TEXT: u32 = 1;
/// A Buffer or Uint8Array.
#[napi]
pub const BODY_BINARY: u32 = 2;
/// Any other value, as `JSON.stringify` wrote it.
#[napi]
pub const BODY_JSON: u32 = 3;
/// These bytes with only the content type a header names (a fetch `Response`'s body).
#[napi]
pub const BODY_EXACT: u32 = 4;

fn body_of(kind: u32, body: Option<Either<String, Buffer>>) -> Result<Body> {
    let bytes = match body {
        Some(Either::A(text)) => Bytes::from(text),
        Some(Either::B(buffer)) => Bytes::copy_from_slice(&buffer),
        None => Bytes::new(),
    };
    Ok(match kind {
        BODY_NOTHING => Body::Nothing,
        BODY_TEXT => Body::Text(bytes),
        BODY_BINARY => Body::Binary(bytes),
        BODY_JSON => Body::Json(bytes),
        BODY_EXACT => Body::Exact(bytes),
        other => return Err(error(INVALID, format!("{other} is not a body kind"))),
    })
}

fn invalid_answer(invalid: InvalidAnswer) -> napi::Error<String> {
    error(INVALID, invalid.to_string())
}

fn object(map: &Map<String, Value>) -> Value {
    Value::Object(map.clone())
}

#[napi]
impl Request {
    /// The HTTP method, upper case.
    #[napi(getter)]
    pub fn method(&self) -> &str {
        self.inner.method.as_str()
    }

    /// The path, still percent-encoded, without the query.
    #[napi(getter)]
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The raw query string (without `?`), or null.
    #[napi(getter)]
    pub fn query_string(&self) -> Option<&str> {
        self.inner.query.as_deref()
    }

    /// The operationId the request was routed to.
    #[napi(getter)]
    pub fn operation_id(&self) -> &str {
        &self.inner.operation_id
    }

    /// The request id (the client's `X-Request-Id`, else a UUIDv7), echoed in the response.
    #[napi(getter)]
    pub fn request_id(&self) -> &str {
        &self.inner.request_id
    }

    /// The W3C trace id, 32 hex digits.
    #[napi(getter)]
    pub fn trace_id(&self) -> String {
        self.inner.trace.trace_id.to_string()
    }

    /// The id of this request's server span, 16 hex digits.
    #[napi(getter)]
    pub fn span_id(&self) -> String {
        self.inner.trace.span_id.to_string()
    }

    /// The caller's span id, when a valid `traceparent` came in.
    #[napi(getter)]
    pub fn parent_span_id(&self) -> Option<String> {
        self.inner.trace.parent_span_id.map(|id| id.to_string())
    }

    /// The trace-flags byte: bit 0 sampled, bit 1 random trace id.
    #[napi(getter)]
    pub fn trace_flags(&self) -> u32 {
        u32::from(self.inner.trace.flags)
    }

    /// Whether the trace is sampled (this request's span is recorded when tracing is on).
    #[napi(getter)]
    pub fn sampled(&self) -> bool {
        self.inner.trace.sampled()
    }

    /// The validated, normalized `tracestate`, when the request had one.
    #[napi(getter)]
    pub fn tracestate(&self) -> Option<&str> {
        self.inner.trace.tracestate.as_deref()
    }

    /// The `traceparent` to send on an outgoing call: this trace, and a new span id for the call
    /// (each call its own child of this request's span). Not the server span's own: the
    /// response's `traceparent` names that.
    #[napi]
    pub fn traceparent(&self) -> String {
        self.inner.trace.outgoing().traceparent
    }

    /// The headers to send on an outgoing call: `traceparent` with a new span id and, when the
    /// request had one, `tracestate`. No span is exported for the call: `clientSpan` does that.
    #[napi(ts_return_type = "Record<string, string>")]
    pub fn outgoing_headers(&self) -> Value {
        trace_headers(&self.inner.trace.outgoing())
    }

    /// Begins an outgoing call exported as a client span when this request's span is recorded:
    /// send its `headers` on the call, then `end` it with the answer's status. `name` names the
    /// span (the method, by the HTTP client convention); `method` and `url` become attributes.
    #[napi]
    pub fn client_span(&self, name: String, method: Option<String>, url: Option<String>) -> Result<ClientSpan> {
        let call = self
            .inner
            .begin_outgoing_call(&name, method.as_deref(), url.as_deref())
            .map_err(|e| error(INVALID, e.to_string()))?;
        Ok(ClientSpan { call: Some(call) })
    }

    /// Path parameters, decoded and typed as the contract declares them.
    #[napi(getter, ts_return_type = "Record<string, unknown>")]
    pub fn path_params(&self) -> Value {
        object(&self.inner.params.path)
    }

    /// Query parameters the contract declares, decoded and typed.
    #[napi(getter, ts_return_type = "Record<string, unknown>")]
    pub fn query(&self) -> Value {
        object(&self.inner.params.query)
    }

    /// Header parameters the contract declares, decoded and typed, by their declared names.
    #[napi(getter, ts_return_type = "Record<string, unknown>")]
    pub fn header_params(&self) -> Value {
        object(&self.inner.params.header)
    }

    /// Cookie parameters the contract declares, decoded and typed.
    #[napi(getter, ts_return_type = "Record<string, unknown>")]
    pub fn cookie_params(&self) -> Value {
        object(&self.inner.params.cookie)
    }

    /// Every header as a flat list, name, value, name, value..., names lower case, repeated
    /// headers joined with ", " (RFC 9110 §5.3).
    #[napi(getter)]
    pub fn header_list(&self) -> Vec<String> {
        let mut list = Vec::with_capacity(self.inner.headers.keys_len() * 2);
        for name in self.inner.headers.keys() {
            if let Some(value) = self.inner.joined_header(name.as_str()) {
                list.push(name.as_str().to_owned());
                list.push(value);
            }
        }
        list
    }

    /// One header by name (any case), repeated values joined with ", "; null when absent.
    #[napi]
    pub fn header(&self, name: String) -> Option<String> {
        self.inner.joined_header(&name)
    }

    /// Every cookie of the `Cookie` headers as a flat list, name, value... (the first one of
    /// a name wins).
    #[napi(getter)]
    pub fn cookie_list(&self) -> Vec<String> {
        let values: Vec<&str> =
            self.inner.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        let mut seen = std::collections::HashSet::new();
        let mut list = Vec::new();
        for (name, value) in cookie_pairs(&values) {
            if seen.insert(name) {
                list.push(name.to_owned());
                list.push(value.to_owned());
            }
        }
        list
    }

    /// The body (a copy).
    #[napi(getter)]
    pub fn body(&self) -> Buffer {
        Buffer::from(self.inner.body.to_vec())
    }

    /// The body as text; throws when it is not UTF-8.
    #[napi(getter)]
    pub fn text(&self) -> Result<String> {
        std::str::from_utf8(&self.inner.body)
            .map(str::to_owned)
            .map_err(|e| error(INVALID, format!("body is not UTF-8: {e}")))
    }

    /// The body parsed as JSON (the pipeline's own parse when it validated a JSON body); throws
    /// when it is not JSON; null when there is no body.
    #[napi(ts_return_type = "unknown")]
    pub fn json(&self) -> Result<Value> {
        if self.inner.body.is_empty() {
            return Ok(Value::Null);
        }
        if let Some(value) = &self.inner.json {
            return Ok(value.clone());
        }
        serde_json::from_slice(&self.inner.body).map_err(|e| error(INVALID, format!("body is not JSON: {e}")))
    }

    /// Who is calling: `{kind, subject, claims, scopes}` as policies see it.
    #[napi(getter, ts_return_type = "Record<string, unknown>")]
    pub fn identity(&self) -> Value {
        self.inner.identity.to_json()
    }

    /// The caller's subject (`sub` claim, API key name, SPIFFE id); null when anonymous.
    #[napi(getter)]
    pub fn subject(&self) -> Option<&str> {
        self.inner.identity.subject.as_deref()
    }

    /// Whether an answer was already given.
    #[napi(getter)]
    pub fn answered(&self) -> bool {
        self.responder.is_none()
    }

    /// Answers with what the handler returned: `kind` (a `BODY_*` constant) says what `body` is,
    /// `headers` is a flat list (name, value...). Core's answer rule decides the rest: a
    /// `content-type` among the headers wins over the kind's own, nothing with status 200 is 204.
    #[napi]
    pub fn answer(
        &mut self,
        status: u32,
        kind: u32,
        body: Option<Either<String, Buffer>>,
        headers: Option<Vec<String>>,
    ) -> Result<()> {
        let mut lines = Vec::new();
        for pair in headers.as_deref().unwrap_or_default().chunks(2) {
            let [name, value] = pair else {
                return Err(error(INVALID, "headers must be name, value pairs"));
            };
            lines.push((name.clone(), value.clone()));
        }
        let status = u16::try_from(status).unwrap_or(0);
        let answer = Answer { status, content_type: None, headers: lines, body: body_of(kind, body)? };
        let response = answer.build().map_err(invalid_answer)?;
        self.finish(Ok(response))
    }

    /// The handler failed: a 500 `handler-error` problem; `message` only shown with `errors.debug`.
    #[napi]
    pub fn fail(&mut self, message: String) -> Result<()> {
        self.finish(Err(HandlerError::Failed(message)))
    }

    /// The handler refused on purpose: a `refused` problem with this status and public detail.
    #[napi]
    pub fn refuse(&mut self, status: u32, detail: String) -> Result<()> {
        let status = u16::try_from(status).unwrap_or(0);
        let status = answer::refusal_status(status).map_err(invalid_answer)?;
        self.finish(Err(HandlerError::Refused { status, detail }))
    }

    /// Gives up without an answer (the handler was aborted): core answers 500 `no-response`.
    #[napi]
    pub fn abandon(&mut self) {
        self.responder.take();
    }
}
