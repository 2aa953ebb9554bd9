//! `ArmatureResponder`: the one-shot answer of a request, usable from any thread.
//!
//! The core's `Responder` is consumed by answering, which C cannot express: here it sits in a
//! slot that finishing empties, so a second finish, or a setter after it, is a status and
//! not undefined behaviour. The handle itself lives until `armature_responder_free`.

use std::sync::{Mutex, MutexGuard};

use armature_core::answer::{self, Body, InvalidAnswer};
use armature_core::dispatch::RespondError;
use armature_core::{HandlerError, HandlerOutcome, HandlerResponse, Responder};
use bytes::Bytes;
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

    fn send(&self, outcome: impl FnOnce(&mut Draft) -> Result<HandlerOutcome, FfiError>) -> Result<(), FfiError> {
        let mut draft = self.open()?;
        // A mistake the rule refuses (a second content type, a bad status) is reported before
        // anything is sent, and leaves the responder unanswered for the host to fail.
        let outcome = outcome(&mut draft)?;
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

/// What a handler returned, as `armature_responder_answer` takes it (`kind`): the rule of
/// docs/dispatch.md decides the content type and what nothing becomes.
///
/// A plain integer rather than a C enum, like `ArmatureStatus`: a Rust enum receiving a value it
/// does not define is undefined behaviour.
pub type ArmatureBody = u32;

/// Nothing returned: no body; status 200 is answered 204 No Content.
pub const ARMATURE_BODY_NOTHING: ArmatureBody = 0;
/// Text: `text/plain; charset=utf-8` unless a content type is named.
pub const ARMATURE_BODY_TEXT: ArmatureBody = 1;
/// Bytes: `application/octet-stream` unless a content type is named.
pub const ARMATURE_BODY_BINARY: ArmatureBody = 2;
/// JSON text: `application/json` unless a content type is named.
pub const ARMATURE_BODY_JSON: ArmatureBody = 3;
/// These bytes with no content type of their own: only a named one is sent.
pub const ARMATURE_BODY_EXACT: ArmatureBody = 4;

fn body_of(kind: ArmatureBody, bytes: &[u8]) -> Result<Body, FfiError> {
    let bytes = Bytes::copy_from_slice(bytes);
    Ok(match kind {
        ARMATURE_BODY_NOTHING => Body::Nothing,
        ARMATURE_BODY_TEXT => Body::Text(bytes),
        ARMATURE_BODY_BINARY => Body::Binary(bytes),
        ARMATURE_BODY_JSON => Body::Json(bytes),
        ARMATURE_BODY_EXACT => Body::Exact(bytes),
        other => return Err(FfiError::InvalidArgument(format!("{other} is not an ARMATURE_BODY_* kind"))),
    })
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
        let status = answer::response_status(status).map_err(invalid_answer)?;
        r.open()?.response.status = status;
        Ok(())
    })
}

/// Adds a response header line (a second call with the same name adds a second line); the
/// name in any case (`content-TYPE` is `content-type`). A `Content-Type` header wins over the
/// content type named in `armature_responder_respond` or `armature_responder_answer`; a second
/// one makes the answer `ARMATURE_STATUS_INVALID_ARGUMENT` when it is sent.
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
        let (name, value) = answer::header_line(name.as_bytes(), value).map_err(invalid_answer)?;
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
/// answer is dropped, and the responder is finished all the same. Two `Content-Type` headers
/// are `ARMATURE_STATUS_INVALID_ARGUMENT`, and nothing is sent.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_responder_finish(
    responder: *mut ArmatureResponder,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        r.send(|draft| {
            let HandlerResponse { status, headers, body } = draft.take_response();
            Ok(Ok(answer::assemble(status.as_u16(), None, headers, Body::Exact(body)).map_err(invalid_answer)?))
        })
    })
}

/// Answers in one call: status, an optional content type (NULL or empty for none) and a body,
/// plus any headers added before; the body is sent as given (`ARMATURE_BODY_EXACT`), with the
/// content type named here unless a `Content-Type` header was added, which wins. Same rules as
/// `armature_responder_finish`.
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
    armature_responder_answer(
        responder,
        status,
        ARMATURE_BODY_EXACT,
        content_type,
        content_type_len,
        body,
        body_len,
        error,
    )
}

/// Answers with what a handler returned, by the one answer rule (docs/dispatch.md): `kind` says
/// what the body is (`ARMATURE_BODY_*`), which gives its content type unless one is named here
/// (NULL or empty for none) or a `Content-Type` header was added (which wins over both);
/// `ARMATURE_BODY_NOTHING` with status 200 is answered 204. Headers added before are sent. A
/// status outside 200-599, an unknown kind or two `Content-Type` headers are
/// `ARMATURE_STATUS_INVALID_ARGUMENT`, and leave the responder unanswered. Otherwise as
/// `armature_responder_finish`.
///
/// Ownership: `content_type` and `body` are copied. Thread safety: any thread; never blocks.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C ABI's pointer + length pairs
pub extern "C" fn armature_responder_answer(
    responder: *mut ArmatureResponder,
    status: u16,
    kind: ArmatureBody,
    content_type: *const u8,
    content_type_len: usize,
    body: *const u8,
    body_len: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_responder(responder, error, |r| {
        // SAFETY: the caller passes the given numbers of readable bytes.
        let (content_type, body) =
            unsafe { (bytes_in(content_type, content_type_len, "content_type")?, bytes_in(body, body_len, "body")?) };
        let content_type = (!content_type.is_empty()).then_some(content_type);
        let body = body_of(kind, body)?;
        r.send(|draft| {
            let headers = draft.take_response().headers;
            Ok(Ok(answer::assemble(status, content_type, headers, body).map_err(invalid_answer)?))
        })
    })
}

/// Whether a handler may not set this header (any case): one that frames the body or manages
/// the connection (`content-length`, `transfer-encoding`, `connection`, ...), which core writes
/// itself. For a host that adapts handlers written for another server (Go's `net/http`), which
/// drops such headers instead of failing the request.
///
/// Ownership: `name` is only read. Thread safety: any thread; never blocks. A NULL `name` with
/// a nonzero length, or one that is not UTF-8, is not reserved.
#[no_mangle]
pub extern "C" fn armature_header_is_reserved(name: *const u8, name_len: usize) -> bool {
    guard(false, || {
        // SAFETY: the caller passes `name_len` readable bytes at `name`.
        match unsafe { str_in(name, name_len, "name") } {
            Ok(name) => answer::is_reserved_header(name),
            Err(_) => false,
        }
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
        r.send(|_| Ok(Err(HandlerError::Failed(message.to_owned()))))
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
        let status = answer::refusal_status(status).map_err(invalid_answer)?;
        r.send(|_| Ok(Err(HandlerError::Refused { status, detail: detail.to_owned() })))
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
