//! One built application as Python sees it: the core `App` with every handler bound to one
//! [`RequestQueue`], the server's life cycle, and an in-process transport for `TestClient`.
//!
//! The crossing model (docs/python.md has the measurements): core threads push requests into
//! the queue and never wait on the GIL; the queue's pollable descriptor wakes the Python
//! thread's asyncio loop, which takes every waiting request in one call and runs the handlers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use armature_core::contract::code_first::{self, OperationSpec};
use armature_core::server::{self, ShutdownTrigger};
use armature_core::{App, AppError, Config, Contract, Handler, RequestQueue, ServerHandle};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::Value;

use crate::errors::{app_error, config_error, contract_error, server_error};
use crate::request::Request;

/// A built application: contract compiled, handlers bound, ready to serve or to test.
#[pyclass(frozen, module = "armature._native")]
pub struct Service {
    app: App,
    queue: RequestQueue,
    server: Mutex<ServerState>,
    /// The runtime that drives in-process test requests, made on the first one.
    test_runtime: OnceLock<tokio::runtime::Runtime>,
}

#[derive(Default)]
struct ServerState {
    handle: Option<ServerHandle>,
    trigger: Option<ShutdownTrigger>,
    port: Option<u16>,
}

/// What `App.run` overrides in the configuration's `server` section.
struct ServerOverrides {
    host: Option<String>,
    port: Option<u16>,
    reuse_port: Option<bool>,
    workers: Option<usize>,
}

#[pymethods]
impl Service {
    /// Builds the application. `contract_document` (a parsed OpenAPI document) wins over
    /// `contract_path`, which wins over the configuration's `contract.path`; code-first
    /// `operations` are added to it, or to an empty document titled `title` when there is none.
    #[new]
    #[pyo3(signature = (*, config_path=None, contract_path=None, contract_document=None, operations=Vec::new(), handlers=Vec::new(), title="Armature service".to_owned(), version="0.1.0".to_owned(), host=None, port=None, reuse_port=None, workers=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        config_path: Option<PathBuf>,
        contract_path: Option<PathBuf>,
        contract_document: Option<Bound<'_, PyAny>>,
        operations: Vec<Bound<'_, PyAny>>,
        handlers: Vec<String>,
        title: String,
        version: String,
        host: Option<String>,
        port: Option<u16>,
        reuse_port: Option<bool>,
        workers: Option<usize>,
    ) -> PyResult<Self> {
        let document: Option<Value> = match &contract_document {
            Some(doc) => {
                Some(pythonize::depythonize(doc).map_err(|e| PyValueError::new_err(format!("contract: {e}")))?)
            }
            None => None,
        };
        let specs = operations
            .iter()
            .map(|op| pythonize::depythonize::<OperationSpec>(op))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PyValueError::new_err(format!("operation: {e}")))?;
        let overrides = ServerOverrides { host, port, reuse_port, workers };
        // Loading files and compiling schemas takes a while on big contracts: without the GIL.
        py.detach(move || build(config_path, contract_path, document, specs, handlers, &title, &version, overrides))
    }

    /// The descriptor that polls readable while requests wait; see `RequestQueue::readable_fd`.
    fn readable_fd(&self) -> PyResult<i32> {
        self.queue.readable_fd().map_err(|e| PyRuntimeError::new_err(format!("cannot create the wake-up pipe: {e}")))
    }

    /// Takes up to `max` waiting requests without blocking (clears the descriptor, and sets it
    /// again if more remain).
    fn take(&self, max: usize) -> Vec<Request> {
        self.queue.take_polled(max).into_iter().map(Request::new).collect()
    }

    /// Starts serving on the core's threads; returns the bound port.
    fn start(&self, py: Python<'_>) -> PyResult<u16> {
        let mut state = self.state();
        if state.port.is_some() {
            return Err(PyRuntimeError::new_err("the server was already started"));
        }
        let app = self.app.clone();
        let handle = py.detach(move || server::start(app)).map_err(server_error)?;
        let port = handle.local_addr().port();
        state.trigger = Some(handle.shutdown_trigger());
        state.handle = Some(handle);
        state.port = Some(port);
        Ok(port)
    }

    /// Begins a graceful shutdown (not ready, drain, stop); returns at once.
    fn shutdown(&self) {
        if let Some(trigger) = &self.state().trigger {
            trigger.shutdown();
        }
    }

    /// Blocks, without the GIL, until the server has stopped; then closes the queue so the
    /// Python loop knows no request will come. Returns at once if it never started.
    fn wait(&self, py: Python<'_>) {
        let handle = self.state().handle.take();
        if let Some(handle) = handle {
            py.detach(move || handle.wait());
        }
        self.queue.close();
    }

    /// The served OpenAPI document as JSON text (what `/openapi.json` answers).
    fn openapi_json(&self) -> PyResult<String> {
        String::from_utf8(self.app.contract().json().to_vec()).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Sends one request through the whole pipeline in-process (no socket) and calls
    /// `on_done(status, headers, body)` from a core thread when the answer is ready. The
    /// handlers run wherever the queue is drained, so the caller keeps its loop running.
    fn send(
        &self,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        on_done: Py<PyAny>,
    ) -> PyResult<()> {
        let mut request = http::Request::builder().method(method).uri(target);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PyValueError::new_err(format!("invalid request: {e}")))?;
        let runtime = self.test_runtime()?;
        let app = self.app.clone();
        runtime.spawn(async move {
            let response = app.handle(request).await;
            let (parts, body) = response.into_parts();
            // A `Full` body cannot fail.
            let body = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
            Python::attach(|py| {
                let headers: Vec<(String, String)> = parts
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
                    })
                    .collect();
                let result = on_done.call1(py, (parts.status.as_u16(), headers, PyBytes::new(py, &body)));
                if let Err(error) = result {
                    error.write_unraisable(py, None);
                }
            });
        });
        Ok(())
    }
}

impl Service {
    fn state(&self) -> MutexGuard<'_, ServerState> {
        // A poisoned lock means a panic mid-call on another thread; the state is still whole.
        self.server.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The in-process transport's runtime; from the first test request on, the app reports
    /// ready, as if a server were listening (as core's own `TestClient` does).
    fn test_runtime(&self) -> PyResult<&tokio::runtime::Runtime> {
        if let Some(runtime) = self.test_runtime.get() {
            return Ok(runtime);
        }
        self.app.lifecycle().set_listening(true);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("armature-test")
            .enable_all()
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the test runtime: {e}")))?;
        Ok(self.test_runtime.get_or_init(|| runtime))
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    config_path: Option<PathBuf>,
    contract_path: Option<PathBuf>,
    document: Option<Value>,
    specs: Vec<OperationSpec>,
    handlers: Vec<String>,
    title: &str,
    version: &str,
    overrides: ServerOverrides,
) -> PyResult<Service> {
    let mut config = match config_path {
        Some(path) => Config::from_file(path),
        None => Config::load(),
    }
    .map_err(config_error)?;
    if let Some(host) = overrides.host {
        config.server.host = host;
    }
    if let Some(port) = overrides.port {
        config.server.port = port;
    }
    if let Some(reuse_port) = overrides.reuse_port {
        config.server.reuse_port = reuse_port;
    }
    if let Some(workers) = overrides.workers {
        config.server.workers = workers;
    }
    let contract = contract(&config, contract_path, document, &specs, title, version)?;
    let queue = RequestQueue::from_config(&config);
    let mut builder = App::builder(config).contract(contract);
    for id in handlers {
        builder = builder.handler(id, Handler::queue(&queue));
    }
    let app = builder.build().map_err(app_error)?;
    Ok(Service { app, queue, server: Mutex::new(ServerState::default()), test_runtime: OnceLock::new() })
}

/// The contract served: the given document or file (else `contract.path`), plus the operations
/// declared in code; an empty document when only code declares operations.
fn contract(
    config: &Config,
    path: Option<PathBuf>,
    document: Option<Value>,
    specs: &[OperationSpec],
    title: &str,
    version: &str,
) -> PyResult<Arc<Contract>> {
    let path = path.or_else(|| config.contract.path.clone());
    let mut document = match (document, path) {
        (Some(document), _) => document,
        (None, Some(path)) => {
            let contract = Contract::from_path(&path).map_err(contract_error)?;
            if specs.is_empty() {
                return Ok(Arc::new(contract));
            }
            contract.document().clone()
        }
        (None, None) if specs.is_empty() => return Err(app_error(AppError::NoContract)),
        (None, None) => code_first::empty_document(title, version),
    };
    for spec in specs {
        code_first::add_operation(&mut document, spec).map_err(contract_error)?;
    }
    Contract::from_value(document).map(Arc::new).map_err(contract_error)
}
