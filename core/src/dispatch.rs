//! The interface between the pipeline and handlers written in any language.
//!
//! A request that passed every stage is handed over with a one-shot [`Responder`]: the handler
//! answers later, from any thread. Hosts with their own event loop do not take callbacks on core
//! threads; they pull from a [`RequestQueue`], which wakes them once per batch (when it goes from
//! empty to non-empty) so one wake-up carries every request that arrived meanwhile.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use crate::answer::{self, InvalidAnswer};
// The answer types are the handler interface's vocabulary; they live with the rule in `answer`.
pub use crate::answer::{HandlerError, HandlerOutcome, HandlerResponse};
pub use crate::identity::{Identity, IdentityKind};
use crate::telemetry::client_spans::{ClientSpanError, ClientSpans, OutgoingCall};
use crate::trace_context::TraceContext;

/// Typed parameters of a request, decoded and coerced per the contract's schemas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    /// Path parameters by name.
    pub path: Map<String, Value>,
    /// Query parameters by name (absent optional ones are missing, or their schema default).
    pub query: Map<String, Value>,
    /// Header parameters by the name the contract gives.
    pub header: Map<String, Value>,
    /// Cookie parameters by name.
    pub cookie: Map<String, Value>,
}

/// What a handler sees of a request that passed the pipeline.
#[derive(Debug)]
pub struct HandlerRequest {
    /// The HTTP method.
    pub method: Method,
    /// The raw request path (percent-encoded, without query).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// The operation's `operationId`.
    pub operation_id: Arc<str>,
    /// Typed parameters.
    pub params: Params,
    /// All request headers.
    pub headers: HeaderMap,
    /// The request body (already checked against the contract).
    pub body: Bytes,
    /// The body as the pipeline parsed it, when the contract declares a JSON body for the
    /// request's content type and request validation is on; None otherwise (parse `body`).
    pub json: Option<Value>,
    /// The request id echoed in `x-request-id`.
    pub request_id: String,
    /// The trace and the server span of this request.
    pub trace: TraceContext,
    /// Where this request's outgoing calls are exported as client spans (see
    /// [`HandlerRequest::begin_outgoing_call`]).
    pub client_spans: ClientSpans,
    /// The caller.
    pub identity: Identity,
}

impl HandlerRequest {
    /// Begins an outgoing call made while serving this request: send the call's `traceparent`
    /// (a new child span id) and `tracestate`, then end it, which exports it as a client span
    /// when this request's span is recorded. See [`ClientSpans::begin`] for the arguments.
    pub fn begin_outgoing_call(
        &self,
        name: &str,
        method: Option<&str>,
        url: Option<&str>,
    ) -> Result<OutgoingCall, ClientSpanError> {
        self.client_spans.begin(&self.trace, name, method, url)
    }

    /// The values of header `name` (any case) joined with `", "`, as every binding shows a
    /// header (RFC 9110 5.3); None when absent. Non-UTF-8 bytes become U+FFFD.
    pub fn joined_header(&self, name: &str) -> Option<String> {
        let mut values = self.headers.get_all(name).iter();
        let first = values.next()?;
        let mut joined = String::from_utf8_lossy(first.as_bytes()).into_owned();
        for value in values {
            joined.push_str(", ");
            joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        Some(joined)
    }
}

/// Why an answer could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespondError {
    /// The request is no longer waiting: it timed out or the client went away.
    #[error("the request is no longer waiting for an answer")]
    Gone,
    /// The answer breaks the rule of [`crate::answer`]; the request was answered
    /// `500 handler-error` instead.
    #[error(transparent)]
    Invalid(#[from] InvalidAnswer),
}

/// The one-shot answer channel of a request. Answering consumes it, so a second answer is
/// impossible; dropping it unanswered makes the pipeline answer 500.
#[derive(Debug)]
pub struct Responder {
    sender: oneshot::Sender<HandlerOutcome>,
    /// The runtime whose task awaits the answer, when it was made on one: where
    /// [`Responder::finish_all`] delivers a batch.
    runtime: Option<tokio::runtime::Handle>,
    /// The answers of the queue that handed this request to its host, which the host may hold
    /// back to deliver together ([`RequestQueue::hold_answers`]).
    held: Option<Arc<HeldAnswers>>,
}

/// Answers given while a host holds them back, delivered together on release.
#[derive(Debug, Default)]
struct HeldAnswers {
    answers: Mutex<Option<Vec<(Responder, HandlerOutcome)>>>,
}

impl HeldAnswers {
    /// Holds the answer if answers are held now; else gives it back.
    fn hold(&self, responder: Responder, outcome: HandlerOutcome) -> Option<(Responder, HandlerOutcome)> {
        let mut held = lock(&self.answers);
        match held.as_mut() {
            Some(answers) => {
                answers.push((responder, outcome));
                None
            }
            None => Some((responder, outcome)),
        }
    }
}

impl Responder {
    /// A responder and the receiver the pipeline awaits.
    pub fn channel() -> (Responder, oneshot::Receiver<HandlerOutcome>) {
        let (sender, receiver) = oneshot::channel();
        (Responder { sender, runtime: tokio::runtime::Handle::try_current().ok(), held: None }, receiver)
    }

    /// Answers several requests at once, each as [`Responder::finish`] would (an answer that
    /// breaks the rule of [`crate::answer`] becomes `500 handler-error`; one nobody waits for
    /// any more is dropped). The answers are delivered by one task spawned on the runtime that
    /// awaits them, so its worker is woken once for the batch: sent one by one from a host
    /// thread, each answer wakes the worker, which on a shared CPU preempts the host at every
    /// answer (docs/node.md measures it). From a host thread, for answers already built.
    pub fn finish_all(answers: impl IntoIterator<Item = (Responder, HandlerOutcome)>) {
        Self::deliver_all(answers.into_iter().map(|(responder, outcome)| (responder, answer::enforce(outcome).0)));
    }

    /// Sends answers the answer rule was applied to already, one task per batch.
    fn deliver_all(answers: impl IntoIterator<Item = (Responder, HandlerOutcome)>) {
        let mut runtime = None;
        let mut batch = Vec::new();
        for (responder, outcome) in answers {
            match (&runtime, responder.runtime) {
                (None, Some(handle)) => {
                    runtime = Some(handle);
                    batch.push((responder.sender, outcome));
                }
                (Some(_), Some(_)) => batch.push((responder.sender, outcome)),
                // Not made on a runtime (a test's channel): nothing to batch.
                (_, None) => {
                    let _ = responder.sender.send(outcome);
                }
            }
        }
        if let Some(runtime) = runtime {
            // Answers awaited on another runtime (the in-process one) are woken from this one's
            // worker, one by one, as `finish` would.
            runtime.spawn(async move {
                for (sender, outcome) in batch {
                    let _ = sender.send(outcome);
                }
            });
        }
    }

    /// Answers with a response or a failure. May be called from any thread. An answer that
    /// breaks the rule of [`crate::answer`] is answered `500 handler-error` instead, and
    /// the error says why.
    pub fn finish(mut self, outcome: HandlerOutcome) -> Result<(), RespondError> {
        let (outcome, invalid) = answer::enforce(outcome);
        let sent = match self.held.take() {
            // Nobody waits: nothing to hold.
            Some(_) if self.sender.is_closed() => Err(outcome),
            Some(held) => match held.hold(self, outcome) {
                None => Ok(()),
                Some((responder, outcome)) => responder.sender.send(outcome),
            },
            None => self.sender.send(outcome),
        };
        match (invalid, sent) {
            // Whether the request still waited does not matter then: the caller's mistake does.
            (Some(invalid), _) => Err(RespondError::Invalid(invalid)),
            (None, Ok(())) => Ok(()),
            (None, Err(_)) => Err(RespondError::Gone),
        }
    }

    /// Answers with a response.
    pub fn respond(self, response: HandlerResponse) -> Result<(), RespondError> {
        self.finish(Ok(response))
    }

    /// Answers with a failure.
    pub fn fail(self, message: impl Into<String>) -> Result<(), RespondError> {
        self.finish(Err(HandlerError::Failed(message.into())))
    }

    /// Whether the request still waits for the answer.
    pub fn is_waiting(&self) -> bool {
        !self.sender.is_closed()
    }
}

/// A boxed handler future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = HandlerOutcome> + Send>>;

/// A handler bound to an operation.
#[derive(Clone)]
pub enum Handler {
    /// Called on a core thread with a responder; answers whenever and wherever it likes.
    /// Must not block: hand the work over and return.
    Callback(Arc<dyn Fn(HandlerRequest, Responder) + Send + Sync>),
    /// A Rust future, polled on the core's runtime (no hand-off, the cheapest path).
    Async(Arc<dyn Fn(HandlerRequest) -> HandlerFuture + Send + Sync>),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Callback(_) => "Handler::Callback",
            Self::Async(_) => "Handler::Async",
        })
    }
}

impl Handler {
    /// A callback handler.
    pub fn callback(f: impl Fn(HandlerRequest, Responder) + Send + Sync + 'static) -> Self {
        Self::Callback(Arc::new(f))
    }

    /// An async Rust handler.
    pub fn from_async<F, Fut>(f: F) -> Self
    where
        F: Fn(HandlerRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerOutcome> + Send + 'static,
    {
        Self::Async(Arc::new(move |request| Box::pin(f(request))))
    }

    /// A handler that hands every request to a queue that a host pulls from.
    pub fn queue(queue: &RequestQueue) -> Self {
        let queue = queue.clone();
        Self::callback(move |request, responder| queue.push(PendingRequest { request, responder }))
    }
}

/// A request waiting in a [`RequestQueue`] for its host.
#[derive(Debug)]
pub struct PendingRequest {
    /// The request.
    pub request: HandlerRequest,
    /// Where its answer goes.
    pub responder: Responder,
}

/// A bounded queue of requests for a host that pulls them, several per wake-up.
#[derive(Clone)]
pub struct RequestQueue {
    inner: Arc<QueueInner>,
}

type Waker = Arc<dyn Fn() + Send + Sync>;

struct QueueInner {
    state: Mutex<QueueState>,
    available: Condvar,
    capacity: usize,
    closed: AtomicBool,
    #[cfg(unix)]
    wake_pipe: std::sync::OnceLock<Arc<crate::wake_pipe::WakePipe>>,
    /// The answers to this queue's requests a host holds back ([`RequestQueue::hold_answers`]).
    held: Arc<HeldAnswers>,
}

/// Everything a push or a take changes, under one lock: one lock round-trip per push.
struct QueueState {
    items: VecDeque<PendingRequest>,
    waker: Option<Waker>,
    /// Takers blocked in [`RequestQueue::take`]: a push wakes the condition variable only when
    /// someone waits on it, since a notification is a system call even with no waiter.
    blocked_takers: usize,
    /// Whether the wake-up pipe holds its byte. Kept under this lock with the items, so the pipe
    /// is written once per wake-up and read only when it holds something: a host that takes
    /// again after yielding makes no system call for the second take.
    pipe_signalled: bool,
    /// A host is draining ([`RequestQueue::drain_take`]) and will take again before it sleeps
    /// ([`RequestQueue::drain_end`]): a push then writes nothing to the pipe.
    host_draining: bool,
}

impl std::fmt::Debug for RequestQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestQueue").field("len", &self.len()).field("capacity", &self.inner.capacity).finish()
    }
}

impl RequestQueue {
    /// A queue holding at most `capacity` waiting requests; past it, requests are answered 503.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(QueueInner {
                state: Mutex::new(QueueState {
                    items: VecDeque::with_capacity(capacity.min(4096)),
                    waker: None,
                    blocked_takers: 0,
                    pipe_signalled: false,
                    host_draining: false,
                }),
                available: Condvar::new(),
                capacity: capacity.max(1),
                closed: AtomicBool::new(false),
                #[cfg(unix)]
                wake_pipe: std::sync::OnceLock::new(),
                held: Arc::default(),
            }),
        }
    }

    /// A queue sized by `server.queue_capacity`.
    pub fn from_config(config: &crate::Config) -> Self {
        Self::new(config.server.queue_capacity)
    }

    /// Sets a function called when the queue goes from empty to non-empty (write an eventfd,
    /// signal a uv_async handle...). Called on a core thread; must not block.
    pub fn set_waker(&self, waker: impl Fn() + Send + Sync + 'static) {
        lock(&self.inner.state).waker = Some(Arc::new(waker));
    }

    fn push(&self, mut pending: PendingRequest) {
        pending.responder.held = Some(self.inner.held.clone());
        if self.inner.closed.load(Ordering::Acquire) {
            let _ = pending.responder.finish(Err(HandlerError::Overloaded));
            return;
        }
        let (notify, waker) = {
            let mut state = lock(&self.inner.state);
            if state.items.len() >= self.inner.capacity {
                drop(state);
                let _ = pending.responder.finish(Err(HandlerError::Overloaded));
                return;
            }
            state.items.push_back(pending);
            let was_empty = state.items.len() == 1;
            // A host that is still working through its last batch takes this request with the
            // rest; only a host that emptied the queue needs a wake-up.
            if was_empty {
                self.signal_pipe(&mut state);
            }
            (was_empty && state.blocked_takers > 0, if was_empty { state.waker.clone() } else { None })
        };
        if notify {
            self.inner.available.notify_all();
        }
        if let Some(waker) = waker {
            waker();
        }
    }

    /// Makes the wake-up pipe readable, if there is one, it is not already and no host is
    /// draining. Called with the state locked, so the flags and the pipe's content never
    /// disagree.
    fn signal_pipe(&self, state: &mut QueueState) {
        #[cfg(unix)]
        if let (Some(pipe), false, false) = (self.inner.wake_pipe.get(), state.pipe_signalled, state.host_draining) {
            pipe.signal();
            state.pipe_signalled = true;
        }
        #[cfg(not(unix))]
        let _ = state;
    }

    /// Takes up to `max` waiting requests without blocking.
    pub fn try_take(&self, max: usize) -> Vec<PendingRequest> {
        let mut state = lock(&self.inner.state);
        let count = state.items.len().min(max);
        state.items.drain(..count).collect()
    }

    /// A descriptor that polls readable while requests may wait (and once the queue closes), for
    /// a host with an event loop (epoll, libuv, asyncio, Go's netpoller): watch it, then call
    /// [`RequestQueue::take_polled`] until it takes fewer than asked. It may be readable with
    /// nothing to take; it is never unreadable with requests waiting. Made on first call (it
    /// replaces any [`RequestQueue::set_waker`] waker); later calls return the same one, owned
    /// by the queue: do not read, write or close it.
    ///
    /// A host that yields the CPU once (`sched_yield`) after taking fewer than asked, and takes
    /// again before it goes back to sleep, gets much larger batches when it shares a core with the
    /// server: the core finishes the other ready requests meanwhile (see docs/dispatch.md).
    #[cfg(unix)]
    pub fn readable_fd(&self) -> std::io::Result<std::os::fd::RawFd> {
        if let Some(pipe) = self.inner.wake_pipe.get() {
            return Ok(pipe.readable_fd());
        }
        let pipe = Arc::new(crate::wake_pipe::WakePipe::new()?);
        // Two threads racing here both made a pipe; one wins and the loser's closes on drop.
        let pipe = self.inner.wake_pipe.get_or_init(|| pipe);
        let mut state = lock(&self.inner.state);
        state.waker = None;
        if !state.items.is_empty() || self.is_closed() {
            self.signal_pipe(&mut state);
        }
        Ok(pipe.readable_fd())
    }

    /// Takes up to `max` waiting requests without blocking, for a host polling
    /// [`RequestQueue::readable_fd`]: clears the descriptor first and makes it readable again if
    /// requests remain, so a host that takes until it gets fewer than asked misses no wake-up.
    pub fn take_polled(&self, max: usize) -> Vec<PendingRequest> {
        let mut state = lock(&self.inner.state);
        self.clear_pipe(&mut state);
        let count = state.items.len().min(max);
        let batch: Vec<PendingRequest> = state.items.drain(..count).collect();
        if !state.items.is_empty() {
            self.signal_pipe(&mut state);
        }
        batch
    }

    /// Takes up to `max` waiting requests without blocking, for a host polling
    /// [`RequestQueue::readable_fd`] that keeps taking while its handlers run: from this call
    /// until [`RequestQueue::drain_end`] no push writes to the pipe, so a host that is awake
    /// anyway costs the server no system call and itself no wake-up. Clears the descriptor.
    ///
    /// The answers given since the previous `drain_take` are delivered now, together, and the
    /// ones given until the next are held ([`RequestQueue::hold_answers`]): the server's worker
    /// is woken once per round of the drain, not once per answer.
    pub fn drain_take(&self, max: usize) -> Vec<PendingRequest> {
        self.deliver_held(Some(Vec::new()));
        let mut state = lock(&self.inner.state);
        state.host_draining = true;
        self.clear_pipe(&mut state);
        let count = state.items.len().min(max);
        state.items.drain(..count).collect()
    }

    /// Ends a drain begun by [`RequestQueue::drain_take`]: delivers the held answers, then says
    /// true when the host may now wait on the descriptor (pushes signal it again); false, still
    /// draining, when requests arrived meanwhile or the queue closed, which the host must take
    /// first. A host about to block on anything else calls it too, for the answers.
    pub fn drain_end(&self) -> bool {
        self.release_answers();
        let mut state = lock(&self.inner.state);
        if !state.items.is_empty() || self.is_closed() {
            return false;
        }
        state.host_draining = false;
        true
    }

    /// Holds back the answers to this queue's requests, from any thread, until
    /// [`RequestQueue::release_answers`], which delivers them together: for a host whose
    /// handlers answer one by one on a thread sharing a CPU with the server's worker, where each
    /// answer sent alone wakes the worker, which then preempts the host (docs/go.md measures it).
    /// The host must release promptly: a held answer reaches nobody until then.
    pub fn hold_answers(&self) {
        let mut held = lock(&self.inner.held.answers);
        if held.is_none() {
            *held = Some(Vec::new());
        }
    }

    /// Delivers the answers held since [`RequestQueue::hold_answers`] (one wake-up of the
    /// server's worker for all of them) and stops holding.
    pub fn release_answers(&self) {
        self.deliver_held(None);
    }

    /// Delivers the held answers, if any, and holds from now on into `next` (None: not at all).
    fn deliver_held(&self, next: Option<Vec<(Responder, HandlerOutcome)>>) {
        let held = std::mem::replace(&mut *lock(&self.inner.held.answers), next);
        if let Some(answers) = held.filter(|answers| !answers.is_empty()) {
            Responder::deliver_all(answers);
        }
    }

    /// Empties the wake-up pipe if it holds its byte. Called with the state locked.
    fn clear_pipe(&self, state: &mut QueueState) {
        #[cfg(unix)]
        if let (Some(pipe), true) = (self.inner.wake_pipe.get(), state.pipe_signalled) {
            pipe.clear();
            state.pipe_signalled = false;
        }
        #[cfg(not(unix))]
        let _ = state;
    }

    /// Takes up to `max` requests, blocking until at least one waits, the timeout passes
    /// (None: no limit) or the queue closes. Returns an empty batch on timeout or close.
    ///
    /// Before it sleeps on an empty queue it yields the CPU once and looks again: a host thread
    /// sharing a core with the server would otherwise be woken for every single request, where
    /// after the yield the server has usually queued several.
    pub fn take(&self, max: usize, timeout: Option<Duration>) -> Vec<PendingRequest> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = lock(&self.inner.state);
        if state.items.is_empty() && !self.inner.closed.load(Ordering::Acquire) {
            drop(state);
            std::thread::yield_now();
            state = lock(&self.inner.state);
        }
        while state.items.is_empty() && !self.inner.closed.load(Ordering::Acquire) {
            state.blocked_takers += 1;
            state = match deadline {
                None => self.inner.available.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.blocked_takers -= 1;
                        break;
                    }
                    self.inner.available.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0
                }
            };
            state.blocked_takers -= 1;
        }
        let count = state.items.len().min(max);
        state.items.drain(..count).collect()
    }

    /// Number of waiting requests.
    pub fn len(&self) -> usize {
        lock(&self.inner.state).items.len()
    }

    /// Whether no request waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refuses new requests (503) and wakes every blocked taker. Waiting requests stay takeable.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let waker = {
            // Under the lock, so a taker between its check of `closed` and its wait cannot miss
            // the notification.
            let mut state = lock(&self.inner.state);
            self.inner.available.notify_all();
            self.signal_pipe(&mut state);
            state.waker.clone()
        };
        if let Some(waker) = waker {
            waker();
        }
    }

    /// Whether [`RequestQueue::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

/// A poisoned lock only means another thread panicked while pushing or taking; the queue's
/// data is still consistent (each operation is a single VecDeque call), so keep serving.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, StatusCode};
    use std::sync::atomic::AtomicUsize;

    fn request(n: usize) -> HandlerRequest {
        HandlerRequest {
            method: Method::GET,
            path: format!("/r/{n}"),
            query: None,
            operation_id: Arc::from("op"),
            params: Params::default(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            json: None,
            request_id: n.to_string(),
            trace: TraceContext::new_root(),
            client_spans: ClientSpans::off(),
            identity: Identity::default(),
        }
    }

    fn push(queue: &RequestQueue, n: usize) -> oneshot::Receiver<HandlerOutcome> {
        let (responder, receiver) = Responder::channel();
        queue.push(PendingRequest { request: request(n), responder });
        receiver
    }

    #[test]
    fn repeated_headers_are_joined() {
        let mut request = request(0);
        request.headers.append("x-one", HeaderValue::from_static("1"));
        request.headers.append("x-one", HeaderValue::from_static("2"));
        assert_eq!(request.joined_header("X-One").as_deref(), Some("1, 2"));
        assert_eq!(request.joined_header("x-two"), None);
    }

    #[test]
    fn one_wake_up_per_batch() {
        let queue = RequestQueue::new(16);
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        queue.set_waker(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let _receivers: Vec<_> = (0..5).map(|n| push(&queue, n)).collect();
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        let batch = queue.take(10, Some(Duration::from_millis(10)));
        assert_eq!(batch.iter().map(|p| p.request.request_id.as_str()).collect::<Vec<_>>(), ["0", "1", "2", "3", "4"]);
        let _again = push(&queue, 5);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn take_respects_max_and_timeout() {
        let queue = RequestQueue::new(16);
        assert!(queue.take(4, Some(Duration::from_millis(5))).is_empty());
        let _receivers: Vec<_> = (0..3).map(|n| push(&queue, n)).collect();
        assert_eq!(queue.try_take(2).len(), 2);
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn full_queue_answers_overloaded() {
        let queue = RequestQueue::new(1);
        let _first = push(&queue, 0);
        let mut second = push(&queue, 1);
        assert_eq!(second.try_recv().unwrap(), Err(HandlerError::Overloaded));
    }

    #[test]
    fn closed_queue_answers_overloaded_and_wakes_takers() {
        let queue = RequestQueue::new(4);
        let taker = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.take(1, None).len())
        };
        std::thread::sleep(Duration::from_millis(20));
        queue.close();
        assert_eq!(taker.join().unwrap(), 0);
        let mut late = push(&queue, 0);
        assert_eq!(late.try_recv().unwrap(), Err(HandlerError::Overloaded));
    }

    #[test]
    fn answer_from_another_thread() {
        let queue = RequestQueue::new(4);
        let receiver = push(&queue, 7);
        let worker = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for pending in queue.take(8, None) {
                    pending.responder.respond(HandlerResponse::text(StatusCode::OK, "hi")).unwrap();
                }
            })
        };
        worker.join().unwrap();
        let answer = receiver.blocking_recv().unwrap().unwrap();
        assert_eq!(answer.body, Bytes::from_static(b"hi"));
    }

    #[cfg(unix)]
    fn readable(fd: std::os::fd::RawFd) -> bool {
        let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }

    #[cfg(unix)]
    #[test]
    fn the_descriptor_is_readable_exactly_while_requests_may_wait() {
        let queue = RequestQueue::new(16);
        let _early = push(&queue, 0);
        let fd = queue.readable_fd().unwrap();
        assert!(readable(fd), "a request queued before the descriptor was made");
        assert_eq!(queue.take_polled(8).len(), 1);
        assert!(!readable(fd));
        assert!(queue.take_polled(8).is_empty(), "a second take on an empty queue");
        assert!(!readable(fd));
        let _receivers: Vec<_> = (1..4).map(|n| push(&queue, n)).collect();
        assert!(readable(fd));
        assert_eq!(queue.take_polled(2).len(), 2);
        assert!(readable(fd), "one request remains");
        assert_eq!(queue.take_polled(2).len(), 1);
        assert!(!readable(fd));
        queue.close();
        assert!(readable(fd), "closing wakes the host");
    }

    #[cfg(unix)]
    #[test]
    fn a_draining_host_is_not_signalled_until_it_ends_its_drain() {
        let queue = RequestQueue::new(16);
        let fd = queue.readable_fd().unwrap();
        let _first = push(&queue, 0);
        assert!(readable(fd));
        assert_eq!(queue.drain_take(8).len(), 1);
        assert!(!readable(fd), "the take cleared the descriptor");
        let _second = push(&queue, 1);
        assert!(!readable(fd), "a push while the host drains writes nothing");
        assert!(!queue.drain_end(), "a request arrived meanwhile: take it first");
        assert_eq!(queue.drain_take(8).len(), 1);
        assert!(queue.drain_end(), "empty: the host may wait");
        let _third = push(&queue, 2);
        assert!(readable(fd), "the host waits again: a push signals it");
        assert_eq!(queue.drain_take(8).len(), 1);
        queue.close();
        assert!(!readable(fd), "the draining host learns of the close from drain_end");
        assert!(!queue.drain_end(), "closed: take (and see it closed) before waiting");
    }

    #[test]
    fn finish_all_delivers_a_batch_from_a_host_thread_and_enforces_the_answer_rule() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        // Made on the runtime, as the pipeline makes them.
        let channels: Vec<_> = runtime.block_on(async { (0..3).map(|_| Responder::channel()).collect() });
        let (responders, receivers): (Vec<_>, Vec<_>) = channels.into_iter().unzip();
        let mut outcomes: Vec<HandlerOutcome> = vec![
            Ok(HandlerResponse::text(StatusCode::OK, "a")),
            Ok(HandlerResponse::text(StatusCode::CREATED, "b")),
            Ok(HandlerResponse::empty(StatusCode::from_u16(101).unwrap())),
        ];
        let answers: Vec<_> = responders.into_iter().zip(outcomes.drain(..)).collect();
        std::thread::spawn(move || Responder::finish_all(answers)).join().unwrap();
        let answered: Vec<_> = runtime.block_on(async {
            let mut answered = Vec::new();
            for receiver in receivers {
                answered.push(receiver.await.unwrap());
            }
            answered
        });
        assert_eq!(answered[0].as_ref().unwrap().body, Bytes::from_static(b"a"));
        assert_eq!(answered[1].as_ref().unwrap().status, StatusCode::CREATED);
        assert!(answered[2].is_err(), "a 1xx answer breaks the answer rule: a handler failure instead");
    }

    #[test]
    fn held_answers_reach_their_requests_on_release_and_not_before() {
        let queue = RequestQueue::new(8);
        let mut receivers: Vec<_> = (0..3).map(|n| push(&queue, n)).collect();
        let taken = queue.try_take(8);
        queue.hold_answers();
        let mut gone = taken;
        let last = gone.pop().unwrap();
        drop(receivers.pop()); // its client left
        for pending in gone {
            pending.responder.respond(HandlerResponse::text(StatusCode::OK, "held")).unwrap();
        }
        assert_eq!(
            last.responder.respond(HandlerResponse::text(StatusCode::OK, "late")),
            Err(RespondError::Gone),
            "nobody waits: reported at once, nothing held"
        );
        for receiver in &mut receivers {
            assert!(receiver.try_recv().is_err(), "held until the release");
        }
        queue.release_answers();
        for receiver in &mut receivers {
            assert_eq!(receiver.try_recv().unwrap().unwrap().body, Bytes::from_static(b"held"));
        }
        // Released: an answer goes at once again.
        let mut next = push(&queue, 9);
        let pending = queue.try_take(1).pop().unwrap();
        pending.responder.respond(HandlerResponse::empty(StatusCode::OK)).unwrap();
        assert!(next.try_recv().is_ok());
    }

    #[test]
    fn responder_reports_gone_request() {
        let (responder, receiver) = Responder::channel();
        drop(receiver);
        assert!(!responder.is_waiting());
        assert_eq!(responder.respond(HandlerResponse::empty(StatusCode::OK)), Err(RespondError::Gone));
    }
}
