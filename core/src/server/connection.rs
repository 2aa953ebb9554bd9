//! One accepted connection: hyper serves it, and this module decides when it ends.
//!
//! hyper's own timers cover an HTTP/1 head that is slow to arrive (`header_read_timeout`), but not
//! the time before it knows the protocol (the auto builder reads up to 24 bytes to tell HTTP/1
//! from the HTTP/2 preface, with no timer) nor an HTTP/2 connection that opened and then sends
//! nothing. So each connection runs under a watchdog that knows whether a request is in flight
//! and since when the connection has been idle:
//!
//! - no first request within `server.header_read_timeout_ms` of the accept: closed (nothing can be
//!   answered: no request exists);
//! - no request in flight for `server.idle_timeout_ms`: shut down gracefully (HTTP/2: GOAWAY);
//! - the server drains: HTTP/2 connections get a GOAWAY at once, so clients open new ones while
//!   the listener still accepts; HTTP/1 responses carry `connection: close` (see `serve_request`);
//! - the server stops: every connection is shut down gracefully, so requests in flight finish.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::telemetry::metrics::{ConnectionMetrics, TimeoutPhase};

/// The server's phase, as every connection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Taking traffic.
    Serving,
    /// Shutdown has begun: not ready, still accepting; clients are told to move away.
    Draining,
    /// The listener is closed: in-flight requests finish, then connections close.
    Closing,
}

/// What the requests of one connection tell its watchdog. Updated twice per request (begin, end),
/// with relaxed atomics: the watchdog only needs a recent value, not an ordered one.
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` when the last request ended.
    idle_since_ms: AtomicU64,
    any_request: AtomicBool,
    http2: AtomicBool,
}

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            any_request: AtomicBool::new(false),
            http2: AtomicBool::new(false),
        }
    }

    /// A request began; it counts as in flight until the guard is dropped.
    pub(super) fn begin(self: &Arc<Self>, http2: bool) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.any_request.store(true, Ordering::Relaxed);
        if http2 {
            self.http2.store(true, Ordering::Relaxed);
        }
        Busy(Arc::clone(self))
    }

    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        Some(self.opened + Duration::from_millis(self.idle_since_ms.load(Ordering::Relaxed)))
    }
}

/// A request of the connection in flight (see [`Activity::begin`]).
pub(super) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        let elapsed = u64::try_from(activity.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.idle_since_ms.store(elapsed, Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The timers of every connection, from `server.*`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timers {
    /// From accept to the first request.
    pub first_request: Duration,
    /// With no request in flight.
    pub idle: Duration,
    /// After a graceful shutdown began on an idle connection, before it is dropped.
    pub close_grace: Duration,
}

/// Serves `connection` until it ends, under the rules of the module's doc comment;
/// `shutdown_gracefully` asks it to stop taking requests (HTTP/2: GOAWAY) and finish the others.
pub(super) async fn watch<C>(
    connection: C,
    shutdown_gracefully: fn(Pin<&mut C>),
    activity: Arc<Activity>,
    mut phase: watch::Receiver<Phase>,
    timers: Timers,
    metrics: Option<&ConnectionMetrics>,
) where
    C: Future,
{
    tokio::pin!(connection);
    let first_request_by = activity.opened + timers.first_request;
    // None once the server is closing and the connection finishes its in-flight requests: the
    // server's grace period bounds those, not a timer of this connection.
    let mut deadline = Some(first_request_by.min(activity.opened + timers.idle));
    let mut shutting_down = false;
    let mut closing = false;
    loop {
        tokio::select! {
            // A connection error is the client's doing (reset, bad request line): nothing to answer.
            _ = connection.as_mut() => return,
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                if shutting_down {
                    return;
                }
                if !activity.any_request.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < first_request_by {
                        // Looked at again within an idle period, so a first request that comes
                        // early gets its idle timer on time.
                        deadline = Some(first_request_by.min(now + timers.idle));
                        continue;
                    }
                    if let Some(metrics) = metrics {
                        metrics.timed_out(TimeoutPhase::FirstRequest);
                    }
                    return;
                }
                match activity.idle_since() {
                    None => deadline = Some(Instant::now() + timers.idle),
                    Some(since) if since + timers.idle > Instant::now() => deadline = Some(since + timers.idle),
                    Some(_) => {
                        if let Some(metrics) = metrics {
                            metrics.timed_out(TimeoutPhase::Idle);
                        }
                        shutdown_gracefully(connection.as_mut());
                        shutting_down = true;
                        deadline = Some(Instant::now() + timers.close_grace);
                    }
                }
            }
            changed = phase.changed(), if !closing => {
                let now = if changed.is_ok() { *phase.borrow_and_update() } else { Phase::Closing };
                match now {
                    Phase::Serving => {}
                    Phase::Draining => {
                        if activity.http2.load(Ordering::Relaxed) && !shutting_down {
                            shutdown_gracefully(connection.as_mut());
                            shutting_down = true;
                        }
                    }
                    Phase::Closing => {
                        closing = true;
                        // Before its first request hyper may still be telling the protocol apart,
                        // and a graceful shutdown then would drop a request already on its way:
                        // such a connection keeps its first-request timer (the server's grace
                        // period bounds it too).
                        if activity.any_request.load(Ordering::Relaxed) && !shutting_down {
                            shutdown_gracefully(connection.as_mut());
                            shutting_down = true;
                            deadline = None;
                        }
                    }
                }
            }
        }
    }
}
