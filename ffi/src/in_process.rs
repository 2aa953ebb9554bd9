//! The in-process transport over the C ABI: one request through the whole pipeline with no
//! socket, for test clients (Go's `armaturetest`, C tests). The core's [`Host::inject`] runs it;
//! this module only converts the request in and holds the answer for the caller to read.
//!
//! [`Host::inject`]: armature_core::Host::inject

use std::sync::mpsc;

use bytes::Bytes;
use http_body_util::Full;

use crate::handle::{free, give, with_handle, write_out};
use crate::header_line::write_header_line;
use crate::server::{on_server, ArmatureServer};
use crate::status::{guard, ArmatureError, ArmatureStatus, FfiError};
use crate::strings::{bytes_in, str_in, ArmatureStr};

/// One header line given to `armature_server_inject`: a name and a value, both borrowed for the
/// call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ArmatureHeaderLine {
    /// The header name (any case), UTF-8.
    pub name: ArmatureStr,
    /// The value, bytes as they would be sent.
    pub value: ArmatureStr,
}

/// The answer of an in-process request: status, header lines and body, as a client would
/// receive them. Owned by the caller of `armature_server_inject` until `armature_response_free`.
pub struct ArmatureResponse {
    response: http::Response<Bytes>,
}

/// Runs one request through the whole pipeline in-process, with no socket, and blocks until
/// its answer (from the pipeline or a handler) is ready. `target` is the path with an optional
/// query (`/users/7?verbose=true`). Queued operations need a host draining the queue on
/// another thread meanwhile. From the first in-process request on, no handler can be added and
/// the application reports ready, as if it were listening; the server need not be started.
///
/// Ownership: every argument is borrowed for the call; on success `*out` is a new response the
/// caller frees with `armature_response_free`.
/// Thread safety: any thread but a core thread (never from a callback handler), several at once.
/// Blocks until answered: at most `server.request_timeout_ms` after a handler took the request.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // a C signature: one pointer and one length per input
pub extern "C" fn armature_server_inject(
    server: *mut ArmatureServer,
    method: *const u8,
    method_len: usize,
    target: *const u8,
    target_len: usize,
    headers: *const ArmatureHeaderLine,
    header_count: usize,
    body: *const u8,
    body_len: usize,
    out: *mut *mut ArmatureResponse,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| {
        if out.is_null() {
            return Err(FfiError::NullArgument("out"));
        }
        // SAFETY: the caller passes `method_len` readable bytes at `method`; likewise below.
        let method = unsafe { str_in(method, method_len, "method") }?;
        // SAFETY: as above.
        let target = unsafe { str_in(target, target_len, "target") }?;
        // SAFETY: as above.
        let body = unsafe { bytes_in(body, body_len, "body") }?;
        let lines: &[ArmatureHeaderLine] = if header_count == 0 {
            &[]
        } else if headers.is_null() {
            return Err(FfiError::NullArgument("headers"));
        } else {
            // SAFETY: the caller passes `header_count` readable lines at `headers`.
            unsafe { std::slice::from_raw_parts(headers, header_count) }
        };
        let mut request = http::Request::builder().method(method).uri(target);
        for line in lines {
            // SAFETY: each line borrows bytes the caller keeps alive for the call.
            let name = unsafe { str_in(line.name.ptr, line.name.len, "header name") }?;
            // SAFETY: as above.
            let value = unsafe { bytes_in(line.value.ptr, line.value.len, "header value") }?;
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| FfiError::InvalidArgument(format!("invalid request: {e}")))?;
        let (answered, answer) = mpsc::sync_channel(1);
        server.host().inject(request, move |response| {
            // The receiver waits below; it is gone only if that thread died.
            let _ = answered.send(response);
        })?;
        let response =
            answer.recv().map_err(|_| FfiError::Panic("the in-process request ended without an answer".into()))?;
        give(out, ArmatureResponse { response })
    })
}

/// The status code of an in-process answer.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_response_status(
    response: *const ArmatureResponse,
    status: *mut u16,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(response, "response", error, |response| {
        // SAFETY: the caller passes NULL or storage for one uint16_t.
        unsafe { write_out(status, response.response.status().as_u16(), "status") }
    })
}

/// The number of header lines of an in-process answer, for `armature_response_header_at`.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_response_header_count(
    response: *const ArmatureResponse,
    count: *mut usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(response, "response", error, |response| {
        // SAFETY: the caller passes NULL or storage for one size_t.
        unsafe { write_out(count, response.response.headers().len(), "count") }
    })
}

/// The header line at `index` (0 to count - 1) of an in-process answer: its lower-case name and
/// its value. `ARMATURE_STATUS_NOT_FOUND` past the end.
///
/// Ownership: `*name` and `*value` borrow from the response until `armature_response_free`.
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_response_header_at(
    response: *const ArmatureResponse,
    index: usize,
    name: *mut ArmatureStr,
    value: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(response, "response", error, |response| {
        write_header_line(response.response.headers(), index, name, value)
    })
}

/// The body of an in-process answer.
///
/// Ownership: `*out` borrows from the response until `armature_response_free`.
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_response_body(
    response: *const ArmatureResponse,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(response, "response", error, |response| {
        // SAFETY: the caller passes NULL or storage for one ArmatureStr.
        unsafe { write_out(out, ArmatureStr::of(response.response.body()), "out") }
    })
}

/// Frees an in-process answer. NULL is ignored. Every `ArmatureStr` read from it becomes invalid.
///
/// Thread safety: any thread, once, after every other call on this response has returned.
#[no_mangle]
pub extern "C" fn armature_response_free(response: *mut ArmatureResponse) {
    guard((), || {
        // SAFETY: the caller passes NULL or a response it owns, freed once.
        unsafe { free(response) }
    })
}
