//! The HTTP server: hyper 1 on a tokio runtime the core owns, so hosts in any language get the
//! same threads, limits, timeouts and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};

use crate::app::App;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The runtime's threads could not be started.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// `host:port` from the configuration.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server. Dropping it shuts the server down gracefully and waits for it.
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    stopped: Option<oneshot::Receiver<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    app: App,
}

/// Starts serving `app` on `server.host:server.port`, on the core's own threads; returns at once.
pub fn start(app: App) -> Result<ServerHandle, ServerError> {
    let server = &app.config().server;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("armature-worker");
    if server.workers > 0 {
        runtime.worker_threads(server.workers);
    }
    let runtime = runtime.build().map_err(ServerError::Runtime)?;
    let address = format!("{}:{}", server.host, server.port);
    let listener = runtime
        .block_on(bind(&address, server.reuse_port))
        .map_err(|source| ServerError::Bind { address: address.clone(), source })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { address, source })?;
    let (shutdown, shutdown_requested) = watch::channel(false);
    let (stopped_tx, stopped) = oneshot::channel();
    app.lifecycle().set_listening(true);
    runtime.spawn(serve(app.clone(), listener, shutdown_requested, stopped_tx));
    Ok(ServerHandle { local_addr, shutdown, stopped: Some(stopped), runtime: Some(runtime), app })
}

/// Binds the listener; with `reuse_port`, through a socket with SO_REUSEPORT set before bind.
async fn bind(address: &str, reuse_port: bool) -> std::io::Result<TcpListener> {
    if !reuse_port {
        return TcpListener::bind(address).await;
    }
    let mut last_error = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        socket.set_reuseport(true)?;
        match socket.bind(addr) {
            Ok(()) => return socket.listen(1024),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to bind")))
}

impl ServerHandle {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The application served.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Begins a graceful shutdown and returns at once: readiness turns false, then after
    /// `server.drain_delay_ms` the listener closes and in-flight requests get
    /// `server.shutdown_grace_ms` to finish.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// A cloneable trigger for [`ServerHandle::shutdown`], usable from any thread.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        ShutdownTrigger(self.shutdown.clone())
    }

    /// Blocks until the server has stopped. Must not be called from inside an async runtime.
    pub fn wait(mut self) {
        self.join();
    }

    /// Blocks until SIGINT or SIGTERM (or a shutdown call), then shuts down gracefully.
    pub fn run_until_signal(mut self) {
        if let Some(runtime) = &self.runtime {
            let mut requested = self.shutdown.subscribe();
            runtime.block_on(async {
                tokio::select! {
                    _ = termination_signal() => {}
                    _ = requested.wait_for(|&stop| stop) => {}
                }
            });
        }
        self.shutdown();
        self.join();
    }

    fn join(&mut self) {
        if let (Some(runtime), Some(stopped)) = (&self.runtime, self.stopped.take()) {
            let _ = runtime.block_on(stopped);
        }
        if let Some(runtime) = self.runtime.take() {
            // Handlers still running past the grace period are abandoned, not awaited.
            runtime.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
        self.join();
    }
}

/// Triggers a graceful shutdown from anywhere.
#[derive(Clone)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    /// Begins the graceful shutdown.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            // Without signal handlers the server still stops through `shutdown`.
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(app: App, listener: TcpListener, mut shutdown: watch::Receiver<bool>, stopped: oneshot::Sender<()>) {
    let config = app.config().server.clone();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms))
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let mut draining = false;
    let drain_delay = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(drain_delay);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Accept errors (EMFILE, aborted handshakes) are transient: back off briefly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = service_fn(move |request| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(app.handle_from(request, Some(peer)).await) }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // A connection error is the client's doing (reset, bad request line); nothing to answer.
                    let _ = connection.await;
                });
            }
            // The guard `wait_for` returns is not Send: drop it inside the branch's future.
            _ = async { shutdown.wait_for(|&stop| stop).await.map(|_| ()) }, if !draining => {
                draining = true;
                app.lifecycle().start_draining();
                drain_delay.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(config.drain_delay_ms));
            }
            _ = &mut drain_delay, if draining => break,
        }
    }
    drop(listener);
    app.lifecycle().set_listening(false);
    let _ = tokio::time::timeout(Duration::from_millis(config.shutdown_grace_ms), graceful.shutdown()).await;
    // Flushing blocks (the log writer's thread, the span exporter's last export): off the runtime.
    let flushing = app.clone();
    let _ = tokio::task::spawn_blocking(move || flushing.telemetry().shutdown()).await;
    let _ = stopped.send(());
}
