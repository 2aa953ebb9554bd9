//! `ArmatureOutgoingCall`: one outgoing call a handler makes while serving a request, exported
//! as a client span of that request when its span is recorded (core's `client_spans`).

use armature_core::telemetry::client_spans::OutgoingCall;

use crate::handle::{give, with_handle, write_out};
use crate::request::{write_traceparent, ArmatureRequest};
use crate::status::{guard, ArmatureError, ArmatureStatus, FfiError};
use crate::strings::{str_in, ArmatureStr};

/// An outgoing call in progress, owned by the host from `armature_request_begin_call` until
/// `armature_outgoing_call_end`.
pub struct ArmatureOutgoingCall {
    inner: OutgoingCall,
}

/// Begins an outgoing call made while serving `request`: a new child span id of the request's
/// server span, whose headers `armature_outgoing_call_traceparent` and
/// `armature_outgoing_call_tracestate` give. End it with `armature_outgoing_call_end` once the
/// answer (or the failure) is known; when the request's span is recorded the call is then
/// exported as a client span, from this call to the end.
///
/// `name` names the span (the HTTP client convention: the method, e.g. `GET`); it must not be
/// empty. `method` and `url` become the `http.request.method` and `url.full` attributes; pass
/// empty strings (length 0) to leave them out. Each is a pointer and a length, as every string
/// of the ABI. The URL's query and user info are never exported, and a
/// URL that is not absolute is left out. All three are UTF-8 and copied.
///
/// Ownership: `*out` is the caller's, freed by `armature_outgoing_call_end` (exactly once). It
/// does not borrow from the request and may outlive it.
/// Thread safety: any thread, concurrently with other accessors of the request; never blocks.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C ABI's pointer + length pairs
pub extern "C" fn armature_request_begin_call(
    request: *const ArmatureRequest,
    name: *const u8,
    name_len: usize,
    method: *const u8,
    method_len: usize,
    url: *const u8,
    url_len: usize,
    out: *mut *mut ArmatureOutgoingCall,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(request, "request", error, |request| {
        // SAFETY: the caller passes the given numbers of readable bytes for the call's duration.
        let (name, method, url) = unsafe {
            (str_in(name, name_len, "name")?, str_in(method, method_len, "method")?, str_in(url, url_len, "url")?)
        };
        let method = Some(method).filter(|text| !text.is_empty());
        let url = Some(url).filter(|text| !text.is_empty());
        let call = request
            .handler_request()
            .begin_outgoing_call(name, method, url)
            .map_err(|error| FfiError::InvalidArgument(format!("name: {error}")))?;
        give(out, ArmatureOutgoingCall { inner: call })
    })
}

/// Writes the call's `traceparent` into `buffer`: exactly `ARMATURE_TRACEPARENT_LEN` (55)
/// bytes, not NUL-terminated; `capacity` must be at least that. Its span id is the call's own,
/// the id its client span is exported with.
///
/// Ownership: `buffer` is the caller's, written and not kept.
/// Thread safety: any thread, while no other thread ends the call.
#[no_mangle]
pub extern "C" fn armature_outgoing_call_traceparent(
    call: *const ArmatureOutgoingCall,
    buffer: *mut u8,
    capacity: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(call, "call", error, |call| {
        // SAFETY: the caller vouches for `capacity` writable bytes at `buffer` (or NULL).
        unsafe { write_traceparent(&call.inner.context().traceparent, buffer, capacity) }
    })
}

/// The `tracestate` to send on the call (the request's, unchanged); `ARMATURE_STATUS_NOT_FOUND`
/// when the request had none.
///
/// Ownership: `*out` borrows from the call until `armature_outgoing_call_end`.
/// Thread safety: any thread, while no other thread ends the call.
#[no_mangle]
pub extern "C" fn armature_outgoing_call_tracestate(
    call: *const ArmatureOutgoingCall,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(call, "call", error, |call| {
        let tracestate = call.inner.context().tracestate.as_deref().ok_or(FfiError::NotFound)?;
        // SAFETY: the caller passes NULL or storage for one ArmatureStr.
        unsafe { write_out(out, ArmatureStr::of(tracestate.as_bytes()), "out") }
    })
}

/// Whether the call is exported as a client span (the request's span is recorded): 1 or 0.
/// A host may skip timing work of its own when it is not.
///
/// Thread safety: any thread, while no other thread ends the call.
#[no_mangle]
pub extern "C" fn armature_outgoing_call_is_recording(call: *const ArmatureOutgoingCall) -> i32 {
    guard(0, || {
        // SAFETY: the caller passes NULL or a live call.
        unsafe { call.as_ref() }.map_or(0, |call| i32::from(call.inner.is_recording()))
    })
}

/// Ends the call now and frees it; its client span is exported when the request is recorded.
/// `status` is the answer's status code, 0 when no answer came. `error_type` says why the call
/// failed (OpenTelemetry's `error.type`, e.g. `timeout`); empty (length 0) when it did not. The span's
/// status is Error when `error_type` is given or `status` is 4xx/5xx. NULL is ignored; text
/// that is not UTF-8 is exported as no `error_type`.
///
/// Ownership: takes `call`; every `ArmatureStr` read from it becomes invalid.
/// Thread safety: any thread, once, after every other call on `call` has returned.
#[no_mangle]
pub extern "C" fn armature_outgoing_call_end(
    call: *mut ArmatureOutgoingCall,
    status: u16,
    error_type: *const u8,
    error_type_len: usize,
) {
    guard((), || {
        if call.is_null() {
            return;
        }
        // SAFETY: the caller passes a call it owns, ended once.
        let call = unsafe { Box::from_raw(call) };
        // SAFETY: the caller passes `error_type_len` readable bytes at `error_type`.
        let error_type = unsafe { str_in(error_type, error_type_len, "error_type") }.ok().filter(|t| !t.is_empty());
        call.inner.end((status != 0).then_some(status), error_type);
    })
}
