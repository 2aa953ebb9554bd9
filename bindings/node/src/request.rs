//! What of a taken request does not travel in its batch record (lib/request.ts reads the rest
//! from the record), and the answers that are not a plain response: a failure, a refusal, no
//! answer at all. Each is one call naming the request by its ticket; once the request is answered
//! (or swept after it timed out) its ticket finds nothing.

use armature_core::answer::{self, InvalidAnswer};
use armature_core::contract::params::cookie_pairs;
use armature_core::dispatch::RespondError;
use armature_core::telemetry::client_spans::OutgoingCall;
use armature_core::trace_context;
use std::cell::Ref;

use armature_core::{HandlerError, HandlerOutcome, HandlerRequest};
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::errors::{error, INVALID, STATE};
use crate::service::Service;
use crate::taken::Ticket;

type Result<T> = std::result::Result<T, napi::Error<String>>;

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

pub(crate) fn invalid_answer(invalid: InvalidAnswer) -> napi::Error<String> {
    error(INVALID, invalid.to_string())
}

fn gone() -> napi::Error<String> {
    error(STATE, "this request was answered, or no longer waits (it timed out or its client left): read what a handler needs before it answers")
}

impl Service {
    fn request(&self, slot: u32, generation: u32) -> Result<Ref<'_, HandlerRequest>> {
        Ref::filter_map(self.taken()?, |taken| taken.get(Ticket { slot, generation }).map(|pending| &pending.request))
            .map_err(|_| gone())
    }

    fn finish(&self, slot: u32, generation: u32, outcome: HandlerOutcome) -> Result<()> {
        let removed = self.taken_mut()?.remove(Ticket { slot, generation });
        let Some(pending) = removed else {
            // Answered already (the dispatcher answers once) or swept after a timeout: nobody
            // waits for this answer.
            return Ok(());
        };
        match pending.responder.finish(outcome) {
            // The request timed out (504) or the client left meanwhile: nobody to tell.
            Ok(()) | Err(RespondError::Gone) => Ok(()),
            // Checked before already; the request was answered 500 all the same.
            Err(RespondError::Invalid(invalid)) => Err(invalid_answer(invalid)),
        }
    }
}

#[napi]
impl Service {
    /// The `traceparent` to send on an outgoing call made for request `slot`/`generation`: this
    /// trace, and a new span id for the call. Not the server span's own: the response's
    /// `traceparent` names that.
    #[napi]
    pub fn request_traceparent(&self, slot: u32, generation: u32) -> Result<String> {
        Ok(self.request(slot, generation)?.trace.outgoing().traceparent)
    }

    /// The headers to send on an outgoing call: `traceparent` with a new span id and, when the
    /// request had one, `tracestate`. No span is exported for the call: `requestClientSpan` does.
    #[napi(ts_return_type = "Record<string, string>")]
    pub fn request_outgoing_headers(&self, slot: u32, generation: u32) -> Result<Value> {
        Ok(trace_headers(&self.request(slot, generation)?.trace.outgoing()))
    }

    /// Begins an outgoing call exported as a client span when the request's span is recorded:
    /// send its `headers` on the call, then `end` it with the answer's status. `name` names the
    /// span (the method, by the HTTP client convention); `method` and `url` become attributes.
    #[napi]
    pub fn request_client_span(
        &self,
        slot: u32,
        generation: u32,
        name: String,
        method: Option<String>,
        url: Option<String>,
    ) -> Result<ClientSpan> {
        let call = self
            .request(slot, generation)?
            .begin_outgoing_call(&name, method.as_deref(), url.as_deref())
            .map_err(|e| error(INVALID, e.to_string()))?;
        Ok(ClientSpan { call: Some(call) })
    }

    /// Every cookie of the `Cookie` headers as a flat list, name, value... (the first one of
    /// a name wins).
    #[napi]
    pub fn request_cookie_list(&self, slot: u32, generation: u32) -> Result<Vec<String>> {
        let request = self.request(slot, generation)?;
        let values: Vec<&str> =
            request.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        let mut seen = std::collections::HashSet::new();
        let mut list = Vec::new();
        for (name, value) in cookie_pairs(&values) {
            if seen.insert(name) {
                list.push(name.to_owned());
                list.push(value.to_owned());
            }
        }
        Ok(list)
    }

    /// Who is calling: `{kind, subject, claims, scopes}` as policies see it.
    #[napi(ts_return_type = "Record<string, unknown>")]
    pub fn request_identity(&self, slot: u32, generation: u32) -> Result<Value> {
        Ok(self.request(slot, generation)?.identity.to_json())
    }

    /// The handler failed: a 500 `handler-error` problem; `message` only shown with `errors.debug`.
    #[napi]
    pub fn fail(&self, slot: u32, generation: u32, message: String) -> Result<()> {
        self.finish(slot, generation, Err(HandlerError::Failed(message)))
    }

    /// The handler refused on purpose: a `refused` problem with this status and public detail.
    #[napi]
    pub fn refuse(&self, slot: u32, generation: u32, status: u32, detail: String) -> Result<()> {
        let status = u16::try_from(status).unwrap_or(0);
        let status = answer::refusal_status(status).map_err(invalid_answer)?;
        self.finish(slot, generation, Err(HandlerError::Refused { status, detail }))
    }

    /// Gives up without an answer (the handler was aborted): core answers 500 `no-response`.
    #[napi]
    pub fn abandon(&self, slot: u32, generation: u32) -> Result<()> {
        // Dropping the responder unanswered is what makes core answer 500 no-response.
        self.taken_mut()?.remove(Ticket { slot, generation });
        Ok(())
    }
}
