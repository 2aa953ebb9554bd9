//! `ArmatureResponder`: the one-shot answer of a request, usable from any thread.
//!
//! The core's `Responder` is consumed by answering, which C cannot express: here it sits in a
//! slot that finishing empties, so a second finish, or a setter after it, is a status and
//! not undefined behaviour. The handle itself lives until `armature_responder_free`.

use std::sync::{Mutex, MutexGuard};

use armature_core::answer_rules::{self, InvalidAnswer};
use armature_core::dispatch::RespondError;
use armature_core::{HandlerError, HandlerOutcome, HandlerResponse, Responder};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::StatusCode;

use crate::handle::{free, with_handle, write_out};
use crate::status::{guard, ArmatureError, ArmatureStatus, FfiError};
use crate::strings::{bytes_in, str_in};

/// The answer of one request. Owned by the host from the moment it receives it until
/// `armature_responder_free`; every call on it may come from any thread.
pub struct ArmatureResponder {
    draft: Mutex<Draft>,
}

struct Draft {
    /// The core's responder until the answer has gone.
    responder: Option<Responder>,
    response: HandlerResponse,
}

impl Draft {
    /// The response built so far, leaving a fresh one in its place.
    fn take_response(&mut self) -> HandlerResponse {
        std::mem::replace(&mut self.response, HandlerResponse::empty(StatusCode::OK))
    }
}

impl ArmatureResponder {
    pub(crate) fn new(responder: Responder) -> Self {
        Self {
            draft: Mutex::new(Draft { responder: Some(responder), response: HandlerResponse::empty(StatusCode::OK) }),
        }
    }

    /// The draft, while the answer has not gone.
    fn open(&self) -> Result<MutexGuard<'_, Draft>, FfiError> {
        // A poisoned lock means a panic mid-call on another thread; the draft is still whole.
        let draft = self.draft.lock().unwrap_or_else(|e| e.into_inner());
        if draft.responder.is_none() {
            return Err(FfiError::AlreadyFinished);
        }
        Ok(draft)
    }

    fn send(&self, outcome: impl FnOnce(&mut Draft) -> HandlerOutcome) -> Result<(), FfiError> {
        let mut draft = self.open()?;
        let outcome = outcome(&mut draft);
        let responder = draft.responder.take().ok_or(FfiError::AlreadyFinished)?;
        drop(draft);
        responder.finish(outcome).map_err(|error| match error {
            RespondError::Gone => FfiError::Gone,
            RespondError::Invalid(invalid) => invalid_answer(invalid),
        })
    }
}

fn invalid_answer(invalid: InvalidAnswer) -> FfiError {
    FfiError::InvalidArgument(invalid.to_string())
}

fn on_responder(
    responder: *const ArmatureResponder,
    error: *mut *mut ArmatureError,
    body: impl FnOnce(&ArmatureResponder) -> Result<(), FfiError>,
) -> ArmatureStatus {
    with_handle(responder, "responder", error, body)
}

/// Sets the status of the response being built (default 200). A status outside 200-599 is
/// `ARMATURE_STATUS_INVALID_ARGUMENT` (the answer rule, docs/dispatch.md) and changes nothing.
///
/// Thread safety: any thread; never blocks for long (a short internal lock).
/// After the answer has gone: `ARMATURE_STATUS_ALREADY_FINISHED`, nothing changes.
#[no_mangle]
pub extern "C" fn armature_responder_set_status(
    responder: *mut ArmatureResponder,
    status: u16,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        let status = answer_rules::response_status(status).map_err(invalid_answer)?;
        r.open()?.response.status = status;
        Ok(())
    })
}

/// Adds a response header line (a second call with the same name adds a second line).
/// `x-request-id` and `traceparent` are the pipeline's: values set here are replaced. The
/// headers that frame the body or manage the connection (`content-length`,
/// `transfer-encoding`, `connection`, ...) are `ARMATURE_STATUS_INVALID_ARGUMENT`: core frames
/// every body itself (the answer rule, docs/dispatch.md).
///
/// Ownership: `name` and `value` are copied. Thread safety: any thread; never blocks for long.
#[no_mangle]
pub extern "C" fn armature_responder_add_header(
    responder: *mut ArmatureResponder,
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        // SAFETY: the caller passes `name_len` and `value_len` readable bytes.
        let (name, value) = unsafe { (str_in(name, name_len, "name")?, bytes_in(value, value_len, "value")?) };
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| FfiError::InvalidArgument(format!("{name:?} is not a valid header name")))?;
        answer_rules::response_header(&name).map_err(invalid_answer)?;
        let value = HeaderValue::from_bytes(value).map_err(|_| {
            FfiError::InvalidArgument(format!("the value of header {name} has bytes a header cannot carry"))
        })?;
        r.open()?.response.headers.append(name, value);
        Ok(())
    })
}

/// Sets the response body (replacing any earlier one).
///
/// Ownership: the bytes are copied. Thread safety: any thread; never blocks for long.
#[no_mangle]
pub extern "C" fn armature_responder_set_body(
    responder: *mut ArmatureResponder,
    body: *const u8,
    body_len: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        // SAFETY: the caller passes `body_len` readable bytes at `body`.
        let body = unsafe { bytes_in(body, body_len, "body") }?;
        r.open()?.response.body = Bytes::copy_from_slice(body);
        Ok(())
    })
}

/// Sends the response built with the setters; it then goes through response validation and
/// telemetry like any other. Callable once: later calls give `ARMATURE_STATUS_ALREADY_FINISHED`.
/// `ARMATURE_STATUS_GONE` means the request stopped waiting (timed out, client gone): the
/// answer is dropped, and the responder is finished all the same.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_responder_finish(
    responder: *mut ArmatureResponder,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| r.send(|draft| Ok(draft.take_response())))
}

/// Answers in one call: status, an optional `content-type` (NULL or empty for none) and a body,
/// plus any headers added before. Same rules as `armature_responder_finish`.
///
/// Ownership: `content_type` and `body` are copied. Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_responder_respond(
    responder: *mut ArmatureResponder,
    status: u16,
    content_type: *const u8,
    content_type_len: usize,
    body: *const u8,
    body_len: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        let status = answer_rules::response_status(status).map_err(invalid_answer)?;
        // SAFETY: the caller passes the given numbers of readable bytes.
        let (content_type, body) =
            unsafe { (bytes_in(content_type, content_type_len, "content_type")?, bytes_in(body, body_len, "body")?) };
        let content_type =
            match content_type {
                [] => None,
                bytes => Some(HeaderValue::from_bytes(bytes).map_err(|_| {
                    FfiError::InvalidArgument("the content type has bytes a header cannot carry".into())
                })?),
            };
        r.send(|draft| {
            let mut response = draft.take_response();
            response.status = status;
            if let Some(content_type) = content_type {
                response.headers.insert(CONTENT_TYPE, content_type);
            }
            response.body = Bytes::copy_from_slice(body);
            Ok(response)
        })
    })
}

/// Answers that the handler failed: the pipeline sends a 500 problem. `message` goes to the
/// logs, and into the problem only when `errors.debug` is on. Same rules as
/// `armature_responder_finish`.
///
/// Ownership: `message` is copied. Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_responder_fail(
    responder: *mut ArmatureResponder,
    message: *const u8,
    message_len: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        // SAFETY: the caller passes `message_len` readable bytes at `message`.
        let message = unsafe { str_in(message, message_len, "message") }?;
        r.send(|_| Err(HandlerError::Failed(message.to_owned())))
    })
}

/// Answers that the handler refuses the request on purpose: the pipeline sends a `refused`
/// problem with `status` (400-599) and `detail`, which, unlike `armature_responder_fail`'s
/// message, is shown to the client. Same rules as `armature_responder_finish`; a status outside
/// 400-599 is `ARMATURE_STATUS_INVALID_ARGUMENT` and leaves the responder unanswered.
///
/// Ownership: `detail` is copied. Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_responder_refuse(
    responder: *mut ArmatureResponder,
    status: u16,
    detail: *const u8,
    detail_len: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        // SAFETY: the caller passes `detail_len` readable bytes at `detail`.
        let detail = unsafe { str_in(detail, detail_len, "detail") }?;
        let status = answer_rules::refusal_status(status).map_err(invalid_answer)?;
        r.send(|_| Err(HandlerError::Refused { status, detail: detail.to_owned() }))
    })
}

/// Whether the request still waits for this answer (false once finished, timed out or
/// abandoned by the client): lets a long handler give up early.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_responder_is_waiting(
    responder: *const ArmatureResponder,
    waiting: *mut bool,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        let draft = r.draft.lock().unwrap_or_else(|e| e.into_inner());
        let is_waiting = draft.responder.as_ref().is_some_and(Responder::is_waiting);
        // SAFETY: the caller passes NULL or storage for one bool.
        unsafe { write_out(waiting, is_waiting, "waiting") }
    })
}

/// Frees a responder. NULL is ignored. A responder freed without an answer makes the pipeline
/// answer 500 (the handler gave up without a response).
///
/// Thread safety: any thread, once, after every other call on this responder has returned.
#[no_mangle]
pub extern "C" fn armature_responder_free(responder: *mut ArmatureResponder) {
    guard((), || {
        // SAFETY: the caller passes NULL or a responder it owns, freed once.
        unsafe { free(responder) }
    })
}
