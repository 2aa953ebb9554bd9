//! A host: what a language binding runs its handlers on. It holds the configuration, the
//! compiled contract, the handlers as they are registered and the request queue that queued
//! handlers feed, and takes the service through its life cycle (configuring -> running ->
//! stopped), so that no binding keeps a state machine, a registration check or a queue-closing
//! rule of its own.
//!
//! Life cycle: [`Host::register`] handlers, then [`Host::start`] (on the core's threads), then
//! [`Host::shutdown`] from anywhere and [`Host::wait`] (or [`Host::run_until_signal`]), which
//! closes the queue once the server has stopped, so hosts taking from it see the end.
//! [`Host::inject`] runs one request through the whole pipeline in-process, for test clients.
//!
//! ```no_run
//! use std::sync::Arc;
//! use armature_core::{Config, Contract, Host};
//!
//! let config = Config::load()?;
//! let host = Host::new(config, Arc::new(Contract::from_path("conformance/contract.yaml")?));
//! // A binding with its own event loop registers every operation on the queue...
//! let ids: Vec<String> = host.operation_ids().map(str::to_owned).collect();
//! for id in &ids {
//!     host.register_queued(id)?;
//! }
//! // ...drains `host.queue()` on its own thread, starts, and stops on a signal.
//! let addr = host.start()?;
//! println!("listening on {addr}");
//! host.run_until_signal()?; // the queue is closed once the server has stopped
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};

use crate::app::{App, AppError};
use crate::config::Config;
use crate::contract::Contract;
use crate::dispatch::{Handler, RequestQueue};
use crate::server::{self, ReloadError, ReloadTrigger, ServerError, ServerHandle, ShutdownTrigger};

/// Errors of a host's life cycle.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Building the application (unknown operation, duplicate handler, policy, keys...).
    #[error(transparent)]
    App(#[from] AppError),
    /// Starting the server (the runtime, binding the socket).
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A reload read a file that cannot be used; nothing was changed.
    #[error(transparent)]
    Reload(#[from] ReloadError),
    /// `start` again, or a handler registered after the start.
    #[error("the server has already started")]
    AlreadyStarted,
    /// A handler registered after the application was built for in-process requests.
    #[error("handlers cannot be added once the application has been built (it served an in-process request)")]
    AlreadyBuilt,
    /// `wait`, `shutdown` or `local_addr` before `start`.
    #[error("the server has not started")]
    NotStarted,
    /// The in-process transport's runtime could not start.
    #[error("cannot start the in-process runtime: {0}")]
    Runtime(std::io::Error),
}

/// A service under construction, running, or stopped, with the queue its queued handlers feed.
pub struct Host {
    config: Config,
    contract: Arc<Contract>,
    queue: RequestQueue,
    /// Kept as long as the host (not only while the app runs): a binding's per-handler data is
    /// released when the host is dropped, whatever state it reached.
    handlers: Mutex<Vec<(String, Handler)>>,
    state: Mutex<State>,
    stopped: Condvar,
    /// Drives in-process requests; made on the first one.
    in_process: OnceLock<tokio::runtime::Runtime>,
}

enum State {
    /// Handlers may be registered.
    Configuring,
    /// Built for in-process requests; not listening.
    Built(App),
    /// `handle` is None while a thread blocks in `wait` or `run_until_signal` with it.
    Running {
        app: App,
        handle: Option<ServerHandle>,
        trigger: ShutdownTrigger,
        reload: ReloadTrigger,
        addr: SocketAddr,
    },
    /// Stopped; `addr` is where it listened, None for a host that only ever served in-process.
    Stopped { app: App, addr: Option<SocketAddr> },
}

impl Host {
    /// A host for `contract` configured by `config`; nothing is built or bound yet.
    pub fn new(config: Config, contract: Arc<Contract>) -> Host {
        Host {
            queue: RequestQueue::from_config(&config),
            config,
            contract,
            handlers: Mutex::new(Vec::new()),
            state: Mutex::new(State::Configuring),
            stopped: Condvar::new(),
            in_process: OnceLock::new(),
        }
    }

    /// A host whose contract is the configuration's `contract.path`.
    pub fn from_config(config: Config) -> Result<Host, HostError> {
        let path = config.contract.path.as_ref().ok_or(AppError::NoContract)?;
        let contract = Contract::from_path(path).map_err(AppError::from)?;
        Ok(Host::new(config, Arc::new(contract)))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The compiled contract.
    pub fn contract(&self) -> &Arc<Contract> {
        &self.contract
    }

    /// Every operation of the contract, by `operationId`, for hosts that register them all.
    pub fn operation_ids(&self) -> impl Iterator<Item = &str> {
        self.contract.operations().iter().map(|operation| operation.id.as_str())
    }

    /// The queue that [`Host::register_queued`] handlers feed.
    pub fn queue(&self) -> &RequestQueue {
        &self.queue
    }

    /// Registers the handler `make` builds for an operation. `make` runs only once the
    /// registration is known to succeed, so a refused one leaves the caller's data untouched.
    pub fn register(&self, operation_id: &str, make: impl FnOnce() -> Handler) -> Result<(), HostError> {
        if self.contract.operation(operation_id).is_none() {
            return Err(AppError::UnknownOperation(operation_id.to_owned()).into());
        }
        let state = self.state();
        match *state {
            State::Configuring => {}
            State::Built(_) => return Err(HostError::AlreadyBuilt),
            State::Running { .. } | State::Stopped { .. } => return Err(HostError::AlreadyStarted),
        }
        let mut handlers = self.handlers();
        if handlers.iter().any(|(id, _)| id == operation_id) {
            return Err(AppError::DuplicateHandler(operation_id.to_owned()).into());
        }
        handlers.push((operation_id.to_owned(), make()));
        Ok(())
    }

    /// Sends an operation's requests to the host's queue, for the binding to take.
    pub fn register_queued(&self, operation_id: &str) -> Result<(), HostError> {
        self.register(operation_id, || Handler::queue(&self.queue))
    }

    /// Builds the application now (identity keys, policies, telemetry) without listening, so
    /// that its errors surface early; later registrations are refused. `start` builds it when
    /// this was not called.
    pub fn build(&self) -> Result<(), HostError> {
        self.app().map(drop)
    }

    /// Builds the pipeline, if not built yet, and starts listening on `server.host:server.port`
    /// on the core's own threads; returns the bound address once the socket is bound. On
    /// failure (a port in use, a key file missing) the host stays as it was and may be started
    /// again. Operations without a handler answer 501.
    pub fn start(&self) -> Result<SocketAddr, HostError> {
        let mut state = self.state();
        let app = match &*state {
            State::Configuring => self.build_app()?,
            State::Built(app) => app.clone(),
            State::Running { .. } | State::Stopped { .. } => return Err(HostError::AlreadyStarted),
        };
        let handle = server::start(app.clone())?;
        let addr = handle.local_addr();
        let (trigger, reload) = (handle.shutdown_trigger(), handle.reload_trigger());
        *state = State::Running { app, trigger, reload, addr, handle: Some(handle) };
        Ok(addr)
    }

    /// The address the server listens on (or listened on, once stopped).
    pub fn local_addr(&self) -> Result<SocketAddr, HostError> {
        match &*self.state() {
            State::Configuring | State::Built(_) => Err(HostError::NotStarted),
            State::Running { addr, .. } | State::Stopped { addr: Some(addr), .. } => Ok(*addr),
            State::Stopped { addr: None, .. } => Err(HostError::NotStarted),
        }
    }

    /// Whether the server was started and has not stopped yet.
    pub fn is_running(&self) -> bool {
        matches!(*self.state(), State::Running { .. })
    }

    /// Begins a graceful shutdown and returns at once: `/ready` turns false, after
    /// `server.drain_delay_ms` the listener closes, and requests in flight get
    /// `server.shutdown_grace_ms` to finish. A host that only served in-process requests (built,
    /// never started) stops at once: its queue closes, so a pull loop ends once it has taken
    /// what waits, and a later request is answered 503. Again, or once stopped, it does nothing;
    /// before anything was built it is [`HostError::NotStarted`].
    pub fn shutdown(&self) -> Result<(), HostError> {
        let mut state = self.state();
        match &*state {
            State::Configuring => Err(HostError::NotStarted),
            // Served in-process only (tests, a host's own transport): stopping closes the queue,
            // so a pull loop gets CLOSED once it has taken what waits, and later requests are
            // answered 503.
            State::Built(app) => {
                *state = State::Stopped { app: app.clone(), addr: None };
                drop(state);
                self.queue.close();
                self.stopped.notify_all();
                Ok(())
            }
            State::Running { trigger, .. } => {
                trigger.shutdown();
                Ok(())
            }
            State::Stopped { .. } => Ok(()),
        }
    }

    /// Re-reads the identity and policy files (and, while serving HTTPS, the TLS certificate and
    /// key) and swaps them in at once, as SIGHUP does; requests in flight finish on the old set.
    /// On failure nothing changes and the error says which file. Before the application is
    /// built there is nothing to reload: it reads the files when it is. Blocks while the files
    /// are read; never from a core thread.
    pub fn reload(&self) -> Result<(), HostError> {
        // The state's lock is not held while reloading: that must not stall `shutdown` or `inject`.
        let (app, server) = match &*self.state() {
            State::Configuring => return Ok(()),
            State::Built(app) | State::Stopped { app, .. } => (app.clone(), None),
            State::Running { app, reload, .. } => (app.clone(), Some(reload.clone())),
        };
        match server {
            Some(server) => Ok(server.reload()?),
            None => Ok(app.reload()?),
        }
    }

    /// Blocks until the server has stopped (after [`Host::shutdown`]), then closes the queue.
    /// Several threads may wait at once. Never from a core thread.
    pub fn wait(&self) -> Result<(), HostError> {
        self.wait_with(ServerHandle::wait)
    }

    /// Blocks until SIGINT or SIGTERM (or [`Host::shutdown`]), shuts down gracefully and
    /// returns once stopped, the queue closed. Never from a core thread.
    pub fn run_until_signal(&self) -> Result<(), HostError> {
        self.wait_with(ServerHandle::run_until_signal)
    }

    /// Runs one request through the whole pipeline in-process (no socket) and calls `on_done`
    /// with the response from a core thread. Queued handlers run wherever the binding drains
    /// the queue, so the caller keeps its own loop going. From the first in-process request on,
    /// the application reports ready, as if a server were listening, and no handler can be
    /// added.
    pub fn inject(
        &self,
        request: Request<Full<Bytes>>,
        on_done: impl FnOnce(Response<Bytes>) + Send + 'static,
    ) -> Result<(), HostError> {
        let app = self.app()?;
        let runtime = self.in_process_runtime(&app)?;
        runtime.spawn(respond_in_process(app, request, on_done));
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic mid-call on another thread; every state is whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn handlers(&self) -> MutexGuard<'_, Vec<(String, Handler)>> {
        self.handlers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The application, built on first use and kept.
    fn app(&self) -> Result<App, HostError> {
        let mut state = self.state();
        match &*state {
            State::Configuring => {
                let app = self.build_app()?;
                *state = State::Built(app.clone());
                Ok(app)
            }
            State::Built(app) | State::Running { app, .. } | State::Stopped { app, .. } => Ok(app.clone()),
        }
    }

    fn build_app(&self) -> Result<App, HostError> {
        // Clones (Arcs), so a failed build or start leaves the host as it was, to retry.
        let mut builder = App::builder(self.config.clone()).contract(self.contract.clone());
        for (id, handler) in self.handlers().iter() {
            builder = builder.handler(id.clone(), handler.clone());
        }
        Ok(builder.build()?)
    }

    /// Blocks until the server has stopped, running `block` with the handle if this thread
    /// is the one to hold it; then closes the queue so takers see the end.
    fn wait_with(&self, block: impl FnOnce(ServerHandle)) -> Result<(), HostError> {
        let mut state = self.state();
        let handle = match &mut *state {
            State::Configuring | State::Built(_) => return Err(HostError::NotStarted),
            State::Stopped { .. } => return Ok(()),
            State::Running { handle, .. } => handle.take(),
        };
        let Some(handle) = handle else {
            // Another thread holds the handle: wait for it to report the stop.
            while matches!(*state, State::Running { .. }) {
                state = self.stopped.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            return Ok(());
        };
        drop(state);
        block(handle);
        let mut state = self.state();
        if let State::Running { app, addr, .. } = &*state {
            *state = State::Stopped { app: app.clone(), addr: Some(*addr) };
        }
        drop(state);
        self.queue.close();
        self.stopped.notify_all();
        Ok(())
    }

    /// The in-process transport's runtime, made on the first in-process request; from then on
    /// the application reports ready, as if a server were listening.
    fn in_process_runtime(&self, app: &App) -> Result<&tokio::runtime::Runtime, HostError> {
        if let Some(runtime) = self.in_process.get() {
            return Ok(runtime);
        }
        app.lifecycle().set_listening(true);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("armature-in-process")
            .enable_all()
            .build()
            .map_err(HostError::Runtime)?;
        Ok(self.in_process.get_or_init(|| runtime))
    }
}

impl Drop for Host {
    /// A host may be dropped on one of its own in-process runtime's threads (a binding's last
    /// reference to it held by a callback that runs there, as Python's test client's is), where
    /// dropping a runtime, which waits for its threads, panics. Its tasks are only answers to
    /// in-process requests whose callers are gone: shut it down without waiting.
    fn drop(&mut self) {
        if let Some(runtime) = self.in_process.take() {
            runtime.shutdown_background();
        }
    }
}

async fn respond_in_process(
    app: App,
    request: Request<Full<Bytes>>,
    on_done: impl FnOnce(Response<Bytes>) + Send + 'static,
) {
    let response = app.handle(request).await;
    let (parts, body) = response.into_parts();
    // A `Full` body cannot fail.
    let body = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
    on_done(Response::from_parts(parts, body));
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use http::StatusCode;

    use super::*;
    use crate::dispatch::HandlerResponse;

    fn host() -> Host {
        let contract = Contract::from_text(
            r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /hello:
    get:
      operationId: hello
      responses: {"200": {description: ok, content: {text/plain: {schema: {type: string}}}}}
  /queued:
    get:
      operationId: queued
      responses: {"200": {description: ok, content: {text/plain: {schema: {type: string}}}}}
"#,
        )
        .expect("contract");
        let mut config = Config::default();
        config.server.port = 0;
        config.server.host = "127.0.0.1".to_owned();
        config.telemetry.access_log.enabled = false;
        Host::new(config, Arc::new(contract))
    }

    fn hello() -> Handler {
        Handler::from_async(|_| async { Ok(HandlerResponse::text(StatusCode::OK, "hi")) })
    }

    fn inject(host: &Host, target: &str) -> Response<Bytes> {
        let (sender, received) = mpsc::channel();
        let request = Request::get(target).body(Full::new(Bytes::new())).expect("request");
        host.inject(request, move |response| sender.send(response).unwrap_or_default()).expect("inject");
        received.recv_timeout(Duration::from_secs(5)).expect("an answer")
    }

    #[test]
    fn an_in_process_host_stops_by_closing_its_queue() {
        let host = host();
        host.register("hello", hello).expect("register");
        assert_eq!(inject(&host, "/hello").status(), StatusCode::OK);
        assert!(!host.queue().is_closed());
        host.shutdown().expect("an in-process host stops");
        assert!(host.queue().is_closed(), "a pull loop now gets CLOSED");
        assert!(matches!(host.start(), Err(HostError::AlreadyStarted)));
        assert!(matches!(host.local_addr(), Err(HostError::NotStarted)), "it never listened");
        host.wait().expect("stopped already");
        host.shutdown().expect("again, nothing");
    }

    #[test]
    fn registration_is_checked_once_here() {
        let host = host();
        assert!(matches!(host.register("nope", hello), Err(HostError::App(AppError::UnknownOperation(_)))));
        host.register("hello", hello).expect("first");
        assert!(matches!(host.register("hello", hello), Err(HostError::App(AppError::DuplicateHandler(_)))));
        assert_eq!(host.operation_ids().collect::<Vec<_>>(), ["hello", "queued"]);
    }

    #[test]
    fn the_life_cycle_runs_once_and_closes_the_queue_after_the_stop() {
        let host = host();
        host.register("hello", hello).expect("register");
        assert!(matches!(host.wait(), Err(HostError::NotStarted)));
        assert!(matches!(host.shutdown(), Err(HostError::NotStarted)));
        assert!(matches!(host.local_addr(), Err(HostError::NotStarted)));
        let addr = host.start().expect("start");
        assert_ne!(addr.port(), 0);
        assert!(host.is_running());
        assert!(matches!(host.start(), Err(HostError::AlreadyStarted)));
        assert!(matches!(host.register_queued("queued"), Err(HostError::AlreadyStarted)));
        assert!(!host.queue().is_closed());
        host.shutdown().expect("shutdown");
        host.wait().expect("wait");
        assert!(!host.is_running());
        assert!(host.queue().is_closed());
        assert_eq!(host.local_addr().ok(), Some(addr));
        host.wait().expect("a second wait returns at once");
        host.shutdown().expect("shutdown once stopped does nothing");
    }

    #[test]
    fn in_process_requests_run_the_pipeline_and_freeze_registration() {
        let host = host();
        host.register("hello", hello).expect("register");
        let response = inject(&host, "/hello");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body().as_ref(), b"hi");
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(inject(&host, "/queued").status(), StatusCode::NOT_IMPLEMENTED);
        assert_eq!(inject(&host, "/ready").status(), StatusCode::OK);
        assert!(matches!(host.register_queued("queued"), Err(HostError::AlreadyBuilt)));
    }

    #[test]
    fn answers_that_break_the_answer_rule_become_handler_errors_in_every_handler_kind() {
        let host = host();
        host.register("hello", || {
            Handler::from_async(|_| async {
                let mut response = HandlerResponse::text(StatusCode::OK, "hi");
                response.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from_static("99"));
                Ok(response)
            })
        })
        .expect("register");
        let (told, heard) = mpsc::channel();
        host.register("queued", move || {
            Handler::callback(move |_, responder| {
                let interim = HandlerResponse::empty(StatusCode::CONTINUE);
                told.send(responder.respond(interim)).unwrap_or_default();
            })
        })
        .expect("register");
        for target in ["/hello", "/queued"] {
            let response = inject(&host, target);
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{target}");
            let problem: serde_json::Value = serde_json::from_slice(response.body()).expect("a problem");
            assert_eq!(problem["type"], "https://armature.dev/problems/handler-error", "{target}");
        }
        let told = heard.recv_timeout(Duration::from_secs(5)).expect("the callback ran");
        assert!(matches!(told, Err(crate::dispatch::RespondError::Invalid(crate::answer::InvalidAnswer::Status(100)))));
    }

    #[test]
    fn a_failed_start_leaves_the_host_to_retry() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut host = host();
        host.config.server.port = taken.local_addr().expect("addr").port();
        host.config.server.reuse_port = false;
        assert!(matches!(host.start(), Err(HostError::Server(_))));
        host.register("hello", hello).expect("still configuring");
        drop(taken);
        host.start().expect("start once the port is free");
        host.shutdown().expect("shutdown");
        host.wait().expect("wait");
    }
}
