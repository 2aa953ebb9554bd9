//! One built application as JavaScript sees it: the core [`Host`] with every handler bound to
//! its request queue, the server's life cycle, and the in-process transport behind
//! `app.inject`.
//!
//! The crossing (docs/node.md has the measurements): core threads push requests into the queue
//! and never wait for JavaScript. When the queue goes from empty to non-empty, its waker calls a
//! thread-safe function, which queues one call of the JavaScript drain on the main thread's
//! event loop; the drain takes every waiting request in one synchronous call ([`Service::take`])
//! that returns them as one buffer (crate::batch), and answers all that its handlers answered
//! synchronously in one more call ([`Service::respond_batch`]). The main thread never blocks:
//! `wait` runs on the libuv thread pool.

use std::cell::{Ref, RefCell, RefMut};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use armature_core::contract::code_first::OperationSpec;
use armature_core::host_options::HostOptions;
use armature_core::{HandlerOutcome, Host, Responder};
use bytes::Bytes;
use http_body_util::Full;
use napi::bindgen_prelude::{AsyncTask, Buffer, BufferSlice};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status, Task};
use napi_derive::napi;

use crate::batch::{self, body_of, AnswerEntry, AnswerReader, BATCH_HEADER};
use crate::errors::{error, host_error, setup_error, CONTRACT, INVALID};
use crate::taken::TakenRequests;

type Result<T> = std::result::Result<T, napi::Error<String>>;

/// The drain callback: called with no argument on the main thread. Weak, so a waker alone never
/// keeps the process alive (a listening server does, through [`Service::wait`]).
type Drain = ThreadsafeFunction<(), (), (), Status, false, true>;

/// The in-process transport's callback: strong, so the process waits for the answer.
type Answered = ThreadsafeFunction<InjectedResponse, (), InjectedResponse, Status, false>;

/// How to build a service; every field is optional.
#[napi(object)]
pub struct ServiceOptions {
    /// A configuration file (YAML, JSON or TOML); else `ARMATURE_CONFIG`, else the defaults.
    pub config_path: Option<String>,
    /// An OpenAPI file; else the configuration's `contract.path`.
    pub contract_path: Option<String>,
    /// An OpenAPI document as JSON text; wins over `contract_path`.
    pub contract_json: Option<String>,
    /// Code-first operations as a JSON array of operation specs (see docs/node.md).
    pub operations_json: Option<String>,
    /// The operationIds that have a handler.
    pub handlers: Vec<String>,
    /// `info.title` of a contract made only of code-first operations.
    pub title: Option<String>,
    /// `info.version` of a contract made only of code-first operations.
    pub version: Option<String>,
    /// Overrides `server.host`.
    pub host: Option<String>,
    /// Overrides `server.port`.
    pub port: Option<u32>,
}

/// An answer of the in-process transport.
#[napi(object)]
pub struct InjectedResponse {
    /// The status code.
    pub status: u32,
    /// The headers, as a flat list: name, value, name, value...
    pub headers: Vec<String>,
    /// The body.
    pub body: Buffer,
}

/// An answer of a batch that core's answer rule refused (a bad status or header): the request
/// still waits, for the dispatcher to fail it.
#[napi(object)]
pub struct RefusedAnswer {
    /// The answer's place in its batch, from 0.
    pub index: u32,
    /// Why it was refused.
    pub message: String,
}

/// A built application: contract compiled, handlers bound, ready to serve or to be injected.
#[napi]
pub struct Service {
    host: Arc<Host>,
    /// Requests taken by JavaScript and not answered yet. A cell, not `&mut self` methods: napi
    /// refuses a mutable borrow of the object while a `wait()` it started is pending.
    taken: RefCell<TakenRequests>,
    /// Each handler's operationId and its place in `ServiceOptions.handlers`, which a record
    /// carries instead of the name.
    operations: HashMap<Arc<str>, u32>,
    /// Where `take` writes a batch before it copies it into a JavaScript buffer; kept to reuse
    /// its allocation.
    scratch: RefCell<Vec<u8>>,
}

/// Only JavaScript's one thread calls the methods, none calls back into JavaScript, so the cells
/// are never borrowed twice; were one, the call fails rather than panics.
fn busy() -> napi::Error<String> {
    error(crate::errors::STATE, "the service is busy in another call on this thread")
}

impl Service {
    pub(crate) fn taken(&self) -> Result<Ref<'_, TakenRequests>> {
        self.taken.try_borrow().map_err(|_| busy())
    }

    pub(crate) fn taken_mut(&self) -> Result<RefMut<'_, TakenRequests>> {
        self.taken.try_borrow_mut().map_err(|_| busy())
    }
}

#[napi]
impl Service {
    /// Builds the application; throws `ARMATURE_CONFIG` or `ARMATURE_CONTRACT` errors naming
    /// what is wrong. `drain` is called on the main thread whenever requests are waiting.
    #[napi(constructor, ts_args_type = "options: ServiceOptions, drain: () => void")]
    pub fn new(options: ServiceOptions, drain: Drain) -> Result<Self> {
        let contract_document = match &options.contract_json {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| error(CONTRACT, format!("contract: {e}")))?),
            None => None,
        };
        let operations: Vec<OperationSpec> = match &options.operations_json {
            Some(text) => serde_json::from_str(text).map_err(|e| error(CONTRACT, format!("operation: {e}")))?,
            None => Vec::new(),
        };
        let port = match options.port {
            Some(port) => Some(u16::try_from(port).map_err(|_| error(INVALID, format!("port {port} is not 0-65535")))?),
            None => None,
        };
        let defaults = HostOptions::default();
        let host = HostOptions {
            config_path: options.config_path.map(PathBuf::from),
            contract_path: options.contract_path.map(PathBuf::from),
            contract_document,
            operations,
            title: options.title.unwrap_or(defaults.title),
            version: options.version.unwrap_or(defaults.version),
            host: options.host,
            port,
            reuse_port: None,
            workers: None,
        }
        .load()
        .map_err(setup_error)?;
        let mut operations = HashMap::new();
        for (index, id) in (0u32..).zip(&options.handlers) {
            host.register_queued(id).map_err(host_error)?;
            operations.insert(Arc::from(id.as_str()), index);
        }
        // Built now, so a bad key file or policy fails here rather than at the first request.
        host.build().map_err(host_error)?;
        host.queue().set_waker(move || {
            // Non-blocking: a full call queue means a drain is already pending, which takes this
            // request too.
            drain.call((), ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(Service {
            host: Arc::new(host),
            taken: RefCell::new(TakenRequests::new()),
            operations,
            scratch: RefCell::new(Vec::new()),
        })
    }

    /// Gives the core's threads the CPU once (`sched_yield`), so that a worker sharing this
    /// core finishes the connections that are ready and the next `take` gets them all: the
    /// drain calls it once per wake-up (docs/node.md has the measurements).
    #[napi]
    pub fn yield_to_core(&self) {
        std::thread::yield_now();
    }

    /// Takes up to `max` waiting requests without blocking, as one buffer in the layout of
    /// crate::batch (lib/batch.ts reads it); null when none waits. Its second number says whether
    /// more were waiting than `max`.
    #[napi]
    pub fn take<'env>(&self, env: &'env Env, max: u32) -> Result<Option<BufferSlice<'env>>> {
        let queue = self.host.queue();
        let requests = queue.try_take(max as usize);
        if requests.is_empty() {
            return Ok(None);
        }
        let more = u32::from(!queue.is_empty());
        let mut taken = self.taken_mut()?;
        let mut out = self.scratch.try_borrow_mut().map_err(|_| busy())?;
        out.clear();
        out.extend_from_slice(&batch::length_of(requests.len()).to_le_bytes());
        out.extend_from_slice(&more.to_le_bytes());
        debug_assert_eq!(out.len(), BATCH_HEADER as usize);
        for pending in requests {
            // Core routes only to operations registered with a handler, all of them numbered.
            let operation = self.operations.get(&pending.request.operation_id).copied().unwrap_or(u32::MAX);
            let (ticket, pending) = taken.insert(pending);
            batch::write_request(&mut out, ticket, operation, &pending.request);
        }
        let buffer = BufferSlice::copy_from(env, &*out).map_err(|e| error(INVALID, e.to_string()))?;
        Ok(Some(buffer))
    }

    /// Answers every request of an answer batch (the first `length` bytes of `answers`, in the
    /// layout of crate::batch) with what its handler returned. Core's answer rule decides the
    /// rest: a `content-type` among the headers wins over the kind's own, nothing with status 200
    /// is 204. Answers the rule refuses are returned, their requests still waiting; null when
    /// there are none.
    #[napi]
    pub fn respond_batch(&self, answers: &[u8], length: u32) -> Result<Option<Vec<RefusedAnswer>>> {
        let bytes = answers.get(..length as usize).ok_or_else(|| error(INVALID, "answer batch length"))?;
        let mut reader = AnswerReader::new(bytes);
        let mut refused = Vec::new();
        let mut answered = Vec::new();
        let mut index = 0;
        let mut taken = self.taken_mut()?;
        let read = loop {
            match reader.next(body_of) {
                Ok(Some(entry)) => answer(&mut taken, entry, index, &mut answered, &mut refused),
                Ok(None) => break Ok(()),
                Err(malformed) => break Err(error(INVALID, malformed.to_string())),
            }
            index += 1;
        };
        // Sent even after a malformed entry: the ones before it were taken out already.
        Responder::finish_all(answered);
        read?;
        Ok(if refused.is_empty() { None } else { Some(refused) })
    }

    /// Starts serving on the core's threads; returns the bound address as `host:port`.
    #[napi]
    pub fn start(&self) -> Result<String> {
        self.host.start().map(|addr| addr.to_string()).map_err(host_error)
    }

    /// Begins a graceful shutdown (not ready, drain, stop); returns at once. Before the start
    /// it does nothing.
    #[napi]
    pub fn shutdown(&self) {
        // Not started is the only error, and there is nothing to shut down then.
        let _ = self.host.shutdown();
    }

    /// Re-reads the identity, policy and TLS files and swaps them in at once (what SIGHUP does);
    /// throws ARMATURE_CONFIG and changes nothing when one cannot be used. Blocks while the
    /// policy compiles.
    #[napi]
    pub fn reload(&self) -> Result<()> {
        self.host.reload().map_err(host_error)
    }

    /// Resolves once the server has stopped (it waits on the libuv thread pool, and keeps the
    /// process alive meanwhile); the queue is closed by then. Resolves at once if it never
    /// started.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn wait(&self) -> AsyncTask<WaitStopped> {
        AsyncTask::new(WaitStopped { host: self.host.clone() })
    }

    /// The served OpenAPI document as JSON text (what `/openapi.json` answers).
    #[napi]
    pub fn openapi_json(&self) -> Result<String> {
        String::from_utf8(self.host.contract().json().to_vec()).map_err(|e| error(INVALID, e.to_string()))
    }

    /// Sends one request through the whole pipeline in-process (no socket); `answered` is
    /// called on the main thread with the response. `headers` is a flat list: name, value...
    #[napi(
        ts_args_type = "method: string, target: string, headers: Array<string>, body: Buffer, answered: (answer: InjectedResponse) => void"
    )]
    pub fn inject(
        &self,
        method: String,
        target: String,
        headers: Vec<String>,
        body: Buffer,
        answered: Answered,
    ) -> Result<()> {
        let mut request = http::Request::builder().method(method.as_str()).uri(target.as_str());
        for pair in headers.chunks(2) {
            if let [name, value] = pair {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(&body)))
            .map_err(|e| error(INVALID, format!("invalid request: {e}")))?;
        self.host
            .inject(request, move |response| {
                let headers = response
                    .headers()
                    .iter()
                    .flat_map(|(name, value)| {
                        [name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()]
                    })
                    .collect();
                let status = u32::from(response.status().as_u16());
                let body = Buffer::from(response.into_body().to_vec());
                answered.call(InjectedResponse { status, headers, body }, ThreadsafeFunctionCallMode::NonBlocking);
            })
            .map_err(host_error)
    }
}

/// Takes the request an answer of a batch is for out of `taken` and adds it, answered, to
/// `answered`; or records why core's answer rule refused the answer, leaving the request waiting.
fn answer(
    taken: &mut TakenRequests,
    entry: AnswerEntry,
    index: u32,
    answered: &mut Vec<(Responder, HandlerOutcome)>,
    refused: &mut Vec<RefusedAnswer>,
) {
    let AnswerEntry { ticket, answer } = entry;
    if taken.get(ticket).is_none() {
        // Swept after it timed out, or answered already: nobody waits for it.
        return;
    }
    let response = match answer.build() {
        Ok(response) => response,
        Err(invalid) => {
            refused.push(RefusedAnswer { index, message: invalid.to_string() });
            return;
        }
    };
    if let Some(pending) = taken.remove(ticket) {
        answered.push((pending.responder, Ok(response)));
    }
}

/// [`Service::wait`] on the libuv thread pool.
pub struct WaitStopped {
    host: Arc<Host>,
}

impl Task for WaitStopped {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        // Not started is the only error: nothing to wait for.
        let _ = self.host.wait();
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}
