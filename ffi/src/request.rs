//! `ArmatureRequest`: what a host handler reads of a request that passed the pipeline.
//! Accessors borrow from the core's own request; only values the core holds as JSON
//! (typed parameters, identity) are serialized, on first use, and kept with the request.

use std::sync::{Mutex, OnceLock};

use armature_core::trace_context::HexId;
use armature_core::HandlerRequest;
use serde_json::{Map, Value};

use crate::handle::{free, with_handle, write_out};
use crate::header_line::write_header_line;
use crate::status::{guard, ArmatureError, ArmatureStatus, FfiError};
use crate::strings::{str_in, ArmatureStr};

/// Where a parameter comes from: one of the `ARMATURE_PARAM_*` values.
pub type ArmatureParamLocation = u32;
/// Path parameters (`/users/{id}`).
pub const ARMATURE_PARAM_PATH: ArmatureParamLocation = 0;
/// Query parameters.
pub const ARMATURE_PARAM_QUERY: ArmatureParamLocation = 1;
/// Header parameters, by the name the contract gives them.
pub const ARMATURE_PARAM_HEADER: ArmatureParamLocation = 2;
/// Cookie parameters.
pub const ARMATURE_PARAM_COOKIE: ArmatureParamLocation = 3;

/// A request handed to a host handler. Owned by the host from the moment it receives it
/// (callback argument or `armature_server_take`) until `armature_request_free`.
pub struct ArmatureRequest {
    inner: HandlerRequest,
    params_json: [OnceLock<String>; 4],
    identity_json: OnceLock<String>,
    /// The trace and span ids as text, formatted when first asked for.
    trace_id_hex: OnceLock<HexId>,
    span_id_hex: OnceLock<HexId>,
    /// The `traceparent` for outgoing calls, formatted when first asked for.
    traceparent: OnceLock<String>,
    /// Serialized single parameters. Each is a separate heap string that is never moved or
    /// dropped before the request, so slices handed out stay valid while the Vec grows.
    kept: Mutex<Vec<Box<str>>>,
}

impl ArmatureRequest {
    pub(crate) fn new(inner: HandlerRequest) -> Self {
        Self {
            inner,
            params_json: Default::default(),
            identity_json: OnceLock::new(),
            trace_id_hex: OnceLock::new(),
            span_id_hex: OnceLock::new(),
            traceparent: OnceLock::new(),
            kept: Mutex::new(Vec::new()),
        }
    }

    /// The core's request, for the modules of this crate that act on it.
    pub(crate) fn handler_request(&self) -> &HandlerRequest {
        &self.inner
    }

    fn params(&self, location: ArmatureParamLocation) -> Result<(usize, &Map<String, Value>), FfiError> {
        let params = &self.inner.params;
        match location {
            ARMATURE_PARAM_PATH => Ok((0, &params.path)),
            ARMATURE_PARAM_QUERY => Ok((1, &params.query)),
            ARMATURE_PARAM_HEADER => Ok((2, &params.header)),
            ARMATURE_PARAM_COOKIE => Ok((3, &params.cookie)),
            other => Err(FfiError::InvalidArgument(format!("unknown parameter location {other}"))),
        }
    }

    fn param(&self, location: ArmatureParamLocation, name: &str) -> Result<&Value, FfiError> {
        self.params(location)?.1.get(name).ok_or(FfiError::NotFound)
    }

    /// Keeps `text` alive as long as the request and borrows it.
    fn keep(&self, text: String) -> &[u8] {
        let boxed = text.into_boxed_str();
        let (ptr, len) = (boxed.as_ptr(), boxed.len());
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).push(boxed);
        // SAFETY: the boxed str's heap buffer does not move when the Vec reallocates (only the
        // Box pointer moves), and entries are dropped only with the request, which outlives
        // the returned borrow of `self`.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// Reads one borrowed value of a request into `*out`; an absent value is an empty `*out` and
/// `ARMATURE_STATUS_NOT_FOUND`.
fn read(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
    value: impl for<'a> FnOnce(&'a ArmatureRequest) -> Result<&'a [u8], FfiError>,
) -> ArmatureStatus {
    with_handle(request, "request", error, |request| {
        let (result, written) = match value(request) {
            Ok(bytes) => (Ok(()), ArmatureStr::of(bytes)),
            Err(e) => (Err(e), ArmatureStr::EMPTY),
        };
        // SAFETY: the caller passes NULL or storage for one ArmatureStr.
        unsafe { write_out(out, written, "out") }?;
        result
    })
}

/// The HTTP method (`GET`, `POST`...).
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_method(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(r.inner.method.as_str().as_bytes()))
}

/// The request path as received (percent-encoded), without the query.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_path(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(r.inner.path.as_bytes()))
}

/// The raw query string without `?`; `ARMATURE_STATUS_NOT_FOUND` when the URL had none.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_query(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| r.inner.query.as_deref().map(str::as_bytes).ok_or(FfiError::NotFound))
}

/// The `operationId` of the operation the request matched.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_operation_id(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(r.inner.operation_id.as_bytes()))
}

/// The request id, as echoed in `x-request-id`.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_request_id(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(r.inner.request_id.as_bytes()))
}

/// The trace id (32 lower-case hex digits), as echoed in `traceparent`.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_trace_id(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(r.trace_id_hex.get_or_init(|| r.inner.trace.trace_id.hex()).as_str().as_bytes()))
}

/// The id of the server span of this request (16 lower-case hex digits).
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_span_id(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(r.span_id_hex.get_or_init(|| r.inner.trace.span_id.hex()).as_str().as_bytes()))
}

/// The `traceparent` header value for an outgoing call made while handling this request:
/// this request's trace id, its server span as the parent, and its sampling flags.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_traceparent(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(r.traceparent.get_or_init(|| r.inner.trace.traceparent()).as_bytes()))
}

/// Length of a version-00 `traceparent` value, what
/// [`armature_request_outgoing_traceparent`] writes.
pub const ARMATURE_TRACEPARENT_LEN: usize = 55;

/// The trace-flags byte of this request's trace: bit 0 sampled, bit 1 random trace id.
///
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_trace_flags(
    request: *const ArmatureRequest,
    flags: *mut u8,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(request, "request", error, |request| {
        // SAFETY: the caller passes NULL or storage for one uint8_t.
        unsafe { write_out(flags, request.inner.trace.flags, "flags") }
    })
}

/// The request's validated, normalized `tracestate`; `ARMATURE_STATUS_NOT_FOUND` when it had none.
/// Send it unchanged on outgoing calls.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_tracestate(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| r.inner.trace.tracestate.as_deref().map(str::as_bytes).ok_or(FfiError::NotFound))
}

/// Writes the `traceparent` of one outgoing call into `buffer`: this request's trace and flags,
/// and a new span id, so each call is its own child of the server span (unlike
/// `armature_request_traceparent`, which names the server span itself). Exactly
/// `ARMATURE_TRACEPARENT_LEN` (55) bytes, not NUL-terminated; `capacity` must be at least that.
///
/// Ownership: `buffer` is the caller's, written and not kept.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_outgoing_traceparent(
    request: *const ArmatureRequest,
    buffer: *mut u8,
    capacity: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(request, "request", error, |request| {
        // SAFETY: the caller vouches for `capacity` writable bytes at `buffer` (or NULL).
        unsafe { write_traceparent(&request.inner.trace.outgoing().traceparent, buffer, capacity) }
    })
}

/// Copies a version-00 `traceparent` (always `ARMATURE_TRACEPARENT_LEN` bytes) into the caller's
/// buffer, refusing NULL and a buffer too small for it.
///
/// # Safety
/// `buffer` must be NULL or valid for `capacity` byte writes.
pub(crate) unsafe fn write_traceparent(traceparent: &str, buffer: *mut u8, capacity: usize) -> Result<(), FfiError> {
    if buffer.is_null() {
        return Err(FfiError::NullArgument("buffer"));
    }
    if capacity < ARMATURE_TRACEPARENT_LEN {
        return Err(FfiError::InvalidArgument(format!(
            "buffer: {capacity} bytes, a traceparent needs {ARMATURE_TRACEPARENT_LEN}"
        )));
    }
    // Core formats version 00, always 55 bytes; `min` keeps the copy in bounds regardless.
    let len = traceparent.len().min(ARMATURE_TRACEPARENT_LEN);
    // SAFETY: checked non-NULL; `len` is within both the source and the caller's `capacity`.
    unsafe { std::ptr::copy_nonoverlapping(traceparent.as_ptr(), buffer, len) };
    Ok(())
}

/// The request body, already checked against the contract. Bytes, not necessarily UTF-8.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_body(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(&r.inner.body))
}

/// The caller's identity as JSON: `{"kind","subject","claims","scopes"}`.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_identity_json(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| Ok(r.identity_json.get_or_init(|| r.inner.identity.to_json().to_string()).as_bytes()))
}

/// The caller's subject (`sub` claim, API key name, SPIFFE id);
/// `ARMATURE_STATUS_NOT_FOUND` when the caller is anonymous.
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread, concurrently with other accessors; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_identity_subject(
    request: *const ArmatureRequest,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| r.inner.identity.subject.as_deref().map(str::as_bytes).ok_or(FfiError::NotFound))
}

/// The first value of a request header, by case-insensitive name; `ARMATURE_STATUS_NOT_FOUND`
/// when absent. Values are the bytes as received.
///
/// Ownership: `name` is borrowed for the call; `*out` borrows from the request until
/// `armature_request_free`. Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_header(
    request: *const ArmatureRequest,
    name: *const u8,
    name_len: usize,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| {
        // SAFETY: the caller passes `name_len` readable bytes at `name`.
        let name = unsafe { str_in(name, name_len, "name") }?;
        r.inner.headers.get(name).map(|v| v.as_bytes()).ok_or(FfiError::NotFound)
    })
}

/// The number of header lines (a header sent twice counts twice), for `armature_request_header_at`.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_header_count(
    request: *const ArmatureRequest,
    count: *mut usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(request, "request", error, |request| {
        // SAFETY: the caller passes NULL or storage for one size_t.
        unsafe { write_out(count, request.inner.headers.len(), "count") }
    })
}

/// The header line at `index` (0 to count - 1): its lower-case name and its value.
/// `ARMATURE_STATUS_NOT_FOUND` past the end. Lines of one name come together, in arrival order.
///
/// Ownership: `*name` and `*value` borrow from the request until `armature_request_free`.
/// Thread safety: any thread; never blocks. Walks the headers: iterating is O(n²) in the
/// number of header lines, which is small.
#[no_mangle]
pub extern "C" fn armature_request_header_at(
    request: *const ArmatureRequest,
    index: usize,
    name: *mut ArmatureStr,
    value: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(request, "request", error, |request| write_header_line(&request.inner.headers, index, name, value))
}

/// A typed parameter (decoded and coerced per the contract's schema) as text: a string
/// parameter is its characters, any other value its JSON (`42`, `true`, `[1,2]`).
/// `ARMATURE_STATUS_NOT_FOUND` when the request did not carry it and the schema gives no default.
///
/// Ownership: `name` is borrowed for the call; `*out` borrows from the request until
/// `armature_request_free`. Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_param(
    request: *const ArmatureRequest,
    location: ArmatureParamLocation,
    name: *const u8,
    name_len: usize,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| {
        // SAFETY: the caller passes `name_len` readable bytes at `name`.
        let name = unsafe { str_in(name, name_len, "name") }?;
        Ok(match r.param(location, name)? {
            Value::String(text) => text.as_bytes(),
            other => r.keep(other.to_string()),
        })
    })
}

/// A typed parameter as JSON (`"abc"`, `42`, `[1,2]`); `ARMATURE_STATUS_NOT_FOUND` when absent.
///
/// Ownership: `name` is borrowed for the call; `*out` borrows from the request until
/// `armature_request_free`. Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_param_json(
    request: *const ArmatureRequest,
    location: ArmatureParamLocation,
    name: *const u8,
    name_len: usize,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| {
        // SAFETY: the caller passes `name_len` readable bytes at `name`.
        let name = unsafe { str_in(name, name_len, "name") }?;
        Ok(r.keep(r.param(location, name)?.to_string()))
    })
}

/// Every typed parameter of one location as a JSON object (`{}` when there are none).
///
/// Ownership: `*out` borrows from the request until `armature_request_free`.
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_request_params_json(
    request: *const ArmatureRequest,
    location: ArmatureParamLocation,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    read(request, out, error, |r| {
        let (slot, params) = r.params(location)?;
        // A map of JSON values always serializes.
        Ok(r.params_json[slot].get_or_init(|| serde_json::to_string(params).unwrap_or_default()).as_bytes())
    })
}

/// Frees a request. NULL is ignored. Every `ArmatureStr` read from it becomes invalid.
/// Freeing the request does not answer it: that is the responder's job.
///
/// Thread safety: any thread, once, after every other call on this request has returned.
#[no_mangle]
pub extern "C" fn armature_request_free(request: *mut ArmatureRequest) {
    guard((), || {
        // SAFETY: the caller passes NULL or a request it owns, freed once.
        unsafe { free(request) }
    })
}
