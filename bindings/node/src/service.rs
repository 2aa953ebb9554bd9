//! One built application as JavaScript sees it: the core [`Host`] with every handler bound to
//! its request queue, the server's life cycle, and the in-process transport behind
//! `app.inject`.
//!
//! The crossing (docs/node.md has the measurements): core threads push requests into the queue
//! and never wait for JavaScript. When the queue goes from empty to non-empty, its waker calls a
//! thread-safe function, which queues one call of the JavaScript drain on the main thread's
//! event loop; the drain takes every waiting request in one synchronous call ([`Service::take`])
//! and answers each with one synchronous call. The main thread never blocks: `wait` runs on the
//! libuv thread pool.

use std::path::PathBuf;
use std::sync::Arc;

use armature_core::contract::code_first::OperationSpec;
use armature_core::host_options::HostOptions;
use armature_core::Host;
use bytes::Bytes;
use http_body_util::Full;
use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status, Task};
use napi_derive::napi;

use crate::errors::{error, host_error, setup_error, CONTRACT, INVALID};
use crate::request::Request;

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

/// A built application: contract compiled, handlers bound, ready to serve or to be injected.
#[napi]
pub struct Service {
    host: Arc<Host>,
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
        for id in &options.handlers {
            host.register_queued(id).map_err(host_error)?;
        }
        // Built now, so a bad key file or policy fails here rather than at the first request.
        host.build().map_err(host_error)?;
        host.queue().set_waker(move || {
            // Non-blocking: a full call queue means a drain is already pending, which takes this
            // request too.
            drain.call((), ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(Service { host: Arc::new(host) })
    }

    /// Gives the core's threads the CPU once (`sched_yield`), so that a worker sharing this
    /// core finishes the connections that are ready and the next `take` gets them all: the
    /// drain calls it once per wake-up (docs/node.md has the measurements).
    #[napi]
    pub fn yield_to_core(&self) {
        std::thread::yield_now();
    }

    /// Takes up to `max` waiting requests without blocking.
    #[napi]
    pub fn take(&self, max: u32) -> Vec<Request> {
        self.host.queue().try_take(max as usize).into_iter().map(Request::new).collect()
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
