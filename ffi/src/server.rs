//! `ArmatureServer`: a contract, a configuration and handlers, started on the core's own threads.
//!
//! Life cycle: new -> register handlers -> start -> (shutdown) -> wait or run_until_signal ->
//! free. Registration and start happen before any request; every later call may come from any
//! thread.

use std::ffi::c_void;
use std::sync::Arc;

use armature_core::{Handler, Host, RequestQueue};

use crate::config::{ArmatureConfig, ArmatureContract};
use crate::handle::{borrow, give, with_handle, write_out};
use crate::request::ArmatureRequest;
use crate::responder::ArmatureResponder;
use crate::status::{boundary, ArmatureError, ArmatureStatus, FfiError};
use crate::strings::str_in;

/// A handler called on a core thread for each request of its operation.
///
/// Receives the `user_data` given at registration, and a request and a responder that the
/// handler now owns: it must free both (`armature_request_free`, `armature_responder_free`),
/// and answer through the responder at most once, now or later, from any thread. It must not
/// block: a core thread waits for it. Hand slow work to a thread of your own.
pub type ArmatureHandlerFn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, request: *mut ArmatureRequest, responder: *mut ArmatureResponder),
>;

/// Releases a handler's `user_data` when the server that holds the handler is freed.
pub type ArmatureFreeFn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// One request taken from the queue in pull mode, with its responder; the host owns and frees both.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ArmaturePending {
    /// The request; free with `armature_request_free`.
    pub request: *mut ArmatureRequest,
    /// Its responder; answer once, free with `armature_responder_free`.
    pub responder: *mut ArmatureResponder,
}

/// A server under construction, running, or stopped: the core's [`Host`], whose life cycle
/// and checks every binding shares.
pub struct ArmatureServer {
    host: Host,
}

/// The host's `user_data` and its release function. The host promises, by registering it,
/// that the pointer may be used from several core threads at once.
struct UserData {
    pointer: *mut c_void,
    free: ArmatureFreeFn,
}

// SAFETY: see the promise above; this type only carries the pointer to C calls.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the host registered `free` for this pointer; it is called once, here.
            unsafe { free(self.pointer) };
        }
    }
}

impl ArmatureServer {
    /// The core host behind the handle.
    pub(crate) fn host(&self) -> &Host {
        &self.host
    }
}

pub(crate) fn on_server(
    server: *const ArmatureServer,
    error: *mut *mut ArmatureError,
    body: impl FnOnce(&ArmatureServer) -> Result<(), FfiError>,
) -> ArmatureStatus {
    with_handle(server, "server", error, body)
}

/// Creates a server from a configuration and a contract. `contract` may be NULL: the contract
/// is then read from the configuration's `contract.path`. Handlers are registered next; no
/// socket is opened before `armature_server_start`.
///
/// Ownership: `config` and `contract` are borrowed for the call (the server copies the
/// configuration and shares the compiled contract); on success `*out` is a new server the
/// caller frees with `armature_server_free`. Thread safety: any thread. Blocks on reading the
/// contract file when `contract` is NULL.
#[no_mangle]
pub extern "C" fn armature_server_new(
    config: *const ArmatureConfig,
    contract: *const ArmatureContract,
    out: *mut *mut ArmatureServer,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes NULL or live handles.
        let config = &unsafe { borrow(config, "config") }?.config;
        // SAFETY: as above.
        let host = match unsafe { contract.as_ref() } {
            Some(contract) => Host::new(config.clone(), contract.contract.clone()),
            None => Host::from_config(config.clone())?,
        };
        give(out, ArmatureServer { host })
    })
}

/// Registers a callback handler for an operation (callback mode). `user_data` is passed to
/// every call and must be safe to use from several threads at once; `free_user_data` (may be
/// NULL) is called on it once, when the server is freed. If this call fails, the server did not
/// take `user_data`: it is still the caller's.
///
/// Thread safety: any thread, before `armature_server_start` (then `ARMATURE_STATUS_ALREADY_STARTED`).
/// Never blocks.
#[no_mangle]
pub extern "C" fn armature_server_set_handler(
    server: *mut ArmatureServer,
    operation_id: *const u8,
    operation_id_len: usize,
    handler: ArmatureHandlerFn,
    user_data: *mut c_void,
    free_user_data: ArmatureFreeFn,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| {
        // SAFETY: the caller passes `operation_id_len` readable bytes.
        let operation_id = unsafe { str_in(operation_id, operation_id_len, "operation_id") }?;
        let handler = handler.ok_or(FfiError::NullArgument("handler"))?;
        server.host.register(operation_id, || {
            let user_data = Arc::new(UserData { pointer: user_data, free: free_user_data });
            Handler::callback(move |request, responder| {
                let request = Box::into_raw(Box::new(ArmatureRequest::new(request)));
                let responder = Box::into_raw(Box::new(ArmatureResponder::new(responder)));
                // SAFETY: the host registered this function for this user_data; the request and
                // responder are fresh handles it now owns.
                unsafe { handler(user_data.pointer, request, responder) }
            })
        })?;
        Ok(())
    })
}

/// Sends an operation's requests to the server's queue, for the host to take
/// (`armature_server_take`, `armature_server_try_take`): the pull mode.
///
/// Thread safety: any thread, before `armature_server_start` (then `ARMATURE_STATUS_ALREADY_STARTED`).
/// Never blocks.
#[no_mangle]
pub extern "C" fn armature_server_set_queued(
    server: *mut ArmatureServer,
    operation_id: *const u8,
    operation_id_len: usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| {
        // SAFETY: the caller passes `operation_id_len` readable bytes.
        let operation_id = unsafe { str_in(operation_id, operation_id_len, "operation_id") }?;
        Ok(server.host.register_queued(operation_id)?)
    })
}

/// Builds the pipeline (identity keys, policies, telemetry) and starts listening on
/// `server.host:server.port` on the core's own threads; returns once the socket is bound.
/// Operations without a handler answer 501. On failure (a port in use, a key file missing) the
/// server stays unstarted and may be started again.
///
/// Thread safety: any thread; once (then `ARMATURE_STATUS_ALREADY_STARTED`). Blocks while
/// loading policies and keys and binding.
#[no_mangle]
pub extern "C" fn armature_server_start(server: *mut ArmatureServer, error: *mut *mut ArmatureError) -> ArmatureStatus {
    on_server(server, error, |server| server.host.start().map(drop).map_err(FfiError::from))
}

/// The port the server listens on (useful with `server.port: 0`).
///
/// Thread safety: any thread; never blocks. `ARMATURE_STATUS_NOT_STARTED` before start.
#[no_mangle]
pub extern "C" fn armature_server_port(
    server: *const ArmatureServer,
    port: *mut u16,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| {
        let addr = server.host.local_addr()?;
        // SAFETY: the caller passes NULL or storage for one uint16_t.
        unsafe { write_out(port, addr.port(), "port") }
    })
}

/// The configured `server.request_timeout_ms`: how long the pipeline waits for a handler's
/// answer before it answers 504 itself. A host gives its handlers this deadline (Go's
/// `context.Context`), counted from when it takes the request.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_server_request_timeout_ms(
    server: *const ArmatureServer,
    timeout_ms: *mut u64,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| {
        // SAFETY: the caller passes NULL or storage for one uint64_t.
        unsafe { write_out(timeout_ms, server.host.config().server.request_timeout_ms, "timeout_ms") }
    })
}

/// Begins a graceful shutdown and returns at once: `/ready` turns false, after
/// `server.drain_delay_ms` the listener closes, and requests in flight get
/// `server.shutdown_grace_ms` to finish. Pull-mode hosts keep taking until `ARMATURE_STATUS_CLOSED`.
/// A server that only served in-process requests (`armature_server_inject`, never started)
/// stops at once: its queue closes, so a pull loop gets `ARMATURE_STATUS_CLOSED` once it has
/// taken what waits, and later requests are answered 503. Calling it again, or on a stopped
/// server, does nothing; before any request or start it is `ARMATURE_STATUS_NOT_STARTED`.
///
/// Thread safety: any thread, including a handler or a signal-handling thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_server_shutdown(
    server: *mut ArmatureServer,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| Ok(server.host.shutdown()?))
}

/// Re-reads the files the configuration names for identity (JWT key and JWKS files, Basic
/// users), authorization (Rego policies and data) and, while serving HTTPS, the TLS certificate
/// and key, and swaps them in at once: what SIGHUP does. Requests in flight finish on the old
/// set; new TLS handshakes use the new certificate. When any file cannot be used nothing
/// changes, `ARMATURE_STATUS_RELOAD` is returned and the message names the file. Before the
/// server started it does nothing (the files are read at start). The outcome is logged to
/// stderr and counted in `armature_reloads_total`.
///
/// Thread safety: any thread but a core thread (never from a handler). Blocks while the files
/// are read and the policy compiles.
#[no_mangle]
pub extern "C" fn armature_server_reload(
    server: *mut ArmatureServer,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| Ok(server.host.reload()?))
}

/// Blocks until the server has stopped (after `armature_server_shutdown` from another thread),
/// then closes the request queue. Several threads may wait at once.
///
/// Thread safety: any thread but a core thread (never from a handler). Blocks.
#[no_mangle]
pub extern "C" fn armature_server_wait(server: *mut ArmatureServer, error: *mut *mut ArmatureError) -> ArmatureStatus {
    on_server(server, error, |server| Ok(server.host.wait()?))
}

/// Blocks until SIGINT or SIGTERM arrives (or `armature_server_shutdown` is called), then shuts
/// down gracefully and returns once stopped; the request queue is then closed.
///
/// Thread safety: any thread but a core thread; typically the main thread. Blocks.
#[no_mangle]
pub extern "C" fn armature_server_run_until_signal(
    server: *mut ArmatureServer,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| Ok(server.host.run_until_signal()?))
}

/// Frees a server that never started or has stopped, with its handlers (calling their
/// `free_user_data`) and any requests still queued (they are answered 503 or dropped).
/// A running server is refused with `ARMATURE_STATUS_RUNNING` and left untouched. NULL is ignored.
///
/// Thread safety: any thread, once, when no other call uses the server. Never blocks.
#[no_mangle]
pub extern "C" fn armature_server_free(server: *mut ArmatureServer, error: *mut *mut ArmatureError) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes NULL or a live server.
        let Some(live) = (unsafe { server.as_ref() }) else { return Ok(()) };
        if live.host.is_running() {
            return Err(FfiError::Running);
        }
        // SAFETY: checked live and not running; the caller frees it once.
        unsafe { crate::handle::free(server) };
        Ok(())
    })
}

/// Takes up to `capacity` waiting requests into `out`, blocking until at least one waits, the
/// timeout passes (`timeout_ms` < 0: no limit), or the queue closes. `*taken` says how many
/// were written (0 on timeout). `ARMATURE_STATUS_CLOSED` once the server has stopped and the
/// queue is empty: the taking loop should end.
///
/// Ownership: the host owns every request and responder written to `out`.
/// Thread safety: any thread, several at once (each request goes to one of them). Blocks.
#[no_mangle]
pub extern "C" fn armature_server_take(
    server: *mut ArmatureServer,
    out: *mut ArmaturePending,
    capacity: usize,
    timeout_ms: i64,
    taken: *mut usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| {
        let timeout = u64::try_from(timeout_ms).ok().map(std::time::Duration::from_millis);
        take_into(server, out, capacity, taken, |queue, max| queue.take(max, timeout))
    })
}

/// Takes up to `capacity` waiting requests without blocking; `*taken` may be 0.
/// `ARMATURE_STATUS_CLOSED` once the server has stopped and the queue is empty.
/// Clears the descriptor of `armature_server_queue_fd` first, and sets it again if requests
/// remain, so a host that polls it, then takes until `*taken < capacity`, misses no wake-up.
///
/// Ownership: the host owns every request and responder written to `out`.
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_server_try_take(
    server: *mut ArmatureServer,
    out: *mut ArmaturePending,
    capacity: usize,
    taken: *mut usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| take_into(server, out, capacity, taken, RequestQueue::take_polled))
}

/// Takes up to `capacity` waiting requests without blocking, for a host that watches
/// `armature_server_queue_fd` and keeps taking while its handlers run (a drain): from this call
/// until `armature_server_drain_end` says the host may wait, the core makes the descriptor
/// readable for nothing, so requests that arrive meanwhile cost neither side a system call.
/// Clears the descriptor. `*taken` may be 0. `ARMATURE_STATUS_CLOSED` once the server has
/// stopped and the queue is empty. Answers given (from any thread) while a drain goes on are
/// held and delivered together at the next `armature_server_drain_take` or
/// `armature_server_drain_end`, so the server's worker is woken once per round, not once per
/// answer: a draining host must take or end the drain promptly.
///
/// Ownership: the host owns every request and responder written to `out`.
/// Thread safety: any thread; never blocks. One drain at a time: a second taker calling it
/// would be starved of wake-ups.
#[no_mangle]
pub extern "C" fn armature_server_drain_take(
    server: *mut ArmatureServer,
    out: *mut ArmaturePending,
    capacity: usize,
    taken: *mut usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| take_into(server, out, capacity, taken, RequestQueue::drain_take))
}

/// Ends a drain begun by `armature_server_drain_take`: delivers the held answers, then `*idle` is
/// 1 when the host may now wait on the descriptor (which the next request makes readable again),
/// 0 when requests arrived meanwhile or the queue closed: take again before waiting. A host about
/// to block on anything else (its own concurrency limit) calls it first, for the answers.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_server_drain_end(
    server: *mut ArmatureServer,
    idle: *mut std::ffi::c_int,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| {
        let ended = server.host.queue().drain_end();
        // SAFETY: the caller passes storage for one int (NULL is refused).
        unsafe { write_out(idle, std::ffi::c_int::from(ended), "idle") }
    })
}

fn take_into(
    server: &ArmatureServer,
    out: *mut ArmaturePending,
    capacity: usize,
    taken: *mut usize,
    take: impl FnOnce(&RequestQueue, usize) -> Vec<armature_core::PendingRequest>,
) -> Result<(), FfiError> {
    if out.is_null() || taken.is_null() {
        return Err(FfiError::NullArgument(if out.is_null() { "out" } else { "taken" }));
    }
    if capacity == 0 {
        return Err(FfiError::InvalidArgument("capacity must be at least 1".into()));
    }
    let queue = server.host.queue();
    let batch = take(queue, capacity);
    let count = batch.len();
    for (index, pending) in batch.into_iter().enumerate() {
        let item = ArmaturePending {
            request: Box::into_raw(Box::new(ArmatureRequest::new(pending.request))),
            responder: Box::into_raw(Box::new(ArmatureResponder::new(pending.responder))),
        };
        // SAFETY: the caller passes room for `capacity` items and index < count <= capacity.
        unsafe { out.add(index).write(item) };
    }
    // SAFETY: checked non-NULL; the caller passes storage for one size_t.
    unsafe { taken.write(count) };
    if count == 0 && queue.is_closed() && queue.is_empty() {
        return Err(FfiError::Closed);
    }
    Ok(())
}

/// A descriptor that polls readable while requests may wait in the queue (and once it closes):
/// watch it in an event loop, then call `armature_server_try_take` until it takes fewer than
/// asked. It may be readable with nothing to take; it is never unreadable with requests waiting.
///
/// Ownership: the server's; do not read, write or close it. Valid until `armature_server_free`.
/// Thread safety: any thread; never blocks. Made on first call; later calls return the same one.
#[no_mangle]
pub extern "C" fn armature_server_queue_fd(
    server: *mut ArmatureServer,
    fd: *mut std::ffi::c_int,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    on_server(server, error, |server| {
        let readable = server
            .host
            .queue()
            .readable_fd()
            .map_err(|source| FfiError::Io { context: "cannot create the wake-up pipe", source })?;
        // SAFETY: the caller passes NULL or storage for one int.
        unsafe { write_out(fd, readable, "fd") }
    })
}
