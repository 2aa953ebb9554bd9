//! One built application as Python sees it: the core `App` with every handler bound to one
//! [`RequestQueue`], the server's life cycle, and an in-process transport for `TestClient`.
//!
//! The crossing model (docs/python.md has the measurements): core threads push requests into
//! the queue and never wait on the GIL; the queue's pollable descriptor wakes the Python
//! thread's asyncio loop, which takes every waiting request in one call and runs the handlers.

use std::collections::HashMap;
use std::path::PathBuf;

use armature_core::contract::code_first::OperationSpec;
use armature_core::contract::params::ParamLocation;
use armature_core::host_options::HostOptions;
use armature_core::Host;
use bytes::Bytes;
use http_body_util::Full;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::Value;

use crate::errors::{host_error, setup_error};

/// operationId -> ([(location, name)], whether it takes a JSON body), as `declared_inputs` gives it.
type DeclaredInputs = HashMap<String, (Vec<(&'static str, String)>, bool)>;
use crate::request::Request;

/// A built application: contract compiled, handlers bound, ready to serve or to test. The
/// core's [`Host`] keeps its life cycle.
#[pyclass(frozen, module = "armature._native")]
pub struct Service {
    host: Host,
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
        let options = HostOptions {
            config_path,
            contract_path,
            contract_document: document,
            operations: specs,
            title,
            version,
            host,
            port,
            reuse_port,
            workers,
        };
        // Loading files and compiling schemas takes a while on big contracts: without the GIL.
        py.detach(move || build(options, handlers))
    }

    /// The descriptor that polls readable while requests wait; see `RequestQueue::readable_fd`.
    fn readable_fd(&self) -> PyResult<i32> {
        self.host
            .queue()
            .readable_fd()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot create the wake-up pipe: {e}")))
    }

    /// Takes up to `max` waiting requests without blocking (clears the descriptor, and sets it
    /// again if more remain).
    fn take(&self, max: usize) -> Vec<Request> {
        self.host.queue().take_polled(max).into_iter().map(Request::new).collect()
    }

    /// Starts serving on the core's threads; returns the bound port.
    fn start(&self, py: Python<'_>) -> PyResult<u16> {
        py.detach(|| self.host.start()).map(|addr| addr.port()).map_err(host_error)
    }

    /// Begins a graceful shutdown (not ready, drain, stop); returns at once. Before the start
    /// it does nothing.
    fn shutdown(&self) {
        // Not started is the only error, and there is nothing to shut down then.
        let _ = self.host.shutdown();
    }

    /// Re-reads, without the GIL, the identity, policy and TLS files and swaps them in at once
    /// (what SIGHUP does); raises ConfigError and changes nothing when one cannot be used.
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.host.reload()).map_err(host_error)
    }

    /// Blocks, without the GIL, until the server has stopped; the queue is then closed, so the
    /// Python loop knows no request will come. Returns at once if it never started.
    fn wait(&self, py: Python<'_>) {
        // Not started is the only error: nothing to wait for.
        let _ = py.detach(|| self.host.wait());
    }

    /// The served OpenAPI document as JSON text (what `/openapi.json` answers).
    fn openapi_json(&self) -> PyResult<String> {
        String::from_utf8(self.host.contract().json().to_vec()).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// What each operation takes, as core resolved the contract: operationId ->
    /// (`[(location, name)]` with header names in lower case, whether it takes a JSON body). The
    /// package checks its handlers' typed arguments against it at build.
    fn declared_inputs(&self) -> DeclaredInputs {
        self.host
            .contract()
            .operations()
            .iter()
            .map(|operation| {
                let params = operation
                    .declared_params()
                    .map(|(location, name, _)| {
                        let name = match location {
                            ParamLocation::Header => name.to_ascii_lowercase(),
                            _ => name.to_owned(),
                        };
                        (location.as_str(), name)
                    })
                    .collect();
                (operation.id.clone(), (params, operation.takes_json_body()))
            })
            .collect()
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
        self.host
            .inject(request, move |response| {
                Python::attach(|py| {
                    let headers: Vec<(String, String)> = response
                        .headers()
                        .iter()
                        .map(|(name, value)| {
                            (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
                        })
                        .collect();
                    let status = response.status().as_u16();
                    let result = on_done.call1(py, (status, headers, PyBytes::new(py, response.body())));
                    if let Err(error) = result {
                        error.write_unraisable(py, None);
                    }
                });
            })
            .map_err(host_error)?;
        Ok(())
    }
}

fn build(options: HostOptions, handlers: Vec<String>) -> PyResult<Service> {
    let host = options.load().map_err(setup_error)?;
    for id in handlers {
        host.register_queued(&id).map_err(host_error)?;
    }
    // Built now, so a bad key file or policy fails here rather than at the first request.
    host.build().map_err(host_error)?;
    Ok(Service { host })
}
