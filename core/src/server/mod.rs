//! The HTTP server: hyper 1 on a tokio runtime the core owns, so hosts in any language get the
//! same threads, limits, timeouts and graceful shutdown. `connection` decides when a connection
//! ends; `limits` turns `server.*` into hyper's sizes; `tls` is HTTPS (`server.tls`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

mod connection;
mod limits;
mod reload;
mod tls;

pub use reload::ReloadError;
pub use tls::TlsError;

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION};
use http::{Request, Response, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::connection::{ClientCertificate, Connection};
use connection::{Activity, Phase, Timers};

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
    /// `server.tls` names files that cannot serve HTTPS.
    #[error("cannot serve HTTPS: {0}")]
    Tls(#[from] TlsError),
}

/// One listening socket, and its TLS configuration when it speaks HTTPS.
struct Listener {
    tcp: TcpListener,
    tls: Option<Arc<tls::TlsCell>>,
}

/// A running server. Dropping it shuts the server down gracefully and waits for it.
pub struct ServerHandle {
    local_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    stopped: Option<oneshot::Receiver<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    /// The application too (a reload swaps its stages).
    reloader: reload::Reloader,
}

/// Starts serving `app` on `server.host:server.port`, on the core's own threads; returns at once.
/// On Unix, SIGPIPE is set to ignored if it still has its default action (see
/// [`ignore_sigpipe`]).
pub fn start(app: App) -> Result<ServerHandle, ServerError> {
    ignore_sigpipe();
    let server = &app.config().server;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("armature-worker");
    if server.workers > 0 {
        runtime.worker_threads(server.workers);
    }
    let runtime = runtime.build().map_err(ServerError::Runtime)?;
    let acceptor = match server.tls.enabled() {
        true => Some(Arc::new(tls::TlsCell::new(tls::server_config(&server.tls)?))),
        false => None,
    };
    let reloader = reload::Reloader::new(app.clone(), acceptor.clone());
    let open = |port: u16| -> Result<(TcpListener, SocketAddr), ServerError> {
        let address = format!("{}:{port}", server.host);
        let listener = runtime
            .block_on(bind(&address, server.reuse_port))
            .map_err(|source| ServerError::Bind { address: address.clone(), source })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { address, source })?;
        Ok((listener, local_addr))
    };
    let (main, local_addr) = open(server.port)?;
    let mut listeners = Vec::with_capacity(2);
    let tls_addr = match server.tls.port {
        // HTTPS beside plain HTTP, on its own port.
        Some(port) => {
            let (second, second_addr) = open(port)?;
            listeners.push(Listener { tcp: main, tls: None });
            listeners.push(Listener { tcp: second, tls: acceptor });
            Some(second_addr)
        }
        None => {
            let tls_addr = acceptor.is_some().then_some(local_addr);
            listeners.push(Listener { tcp: main, tls: acceptor });
            tls_addr
        }
    };
    let (shutdown, shutdown_requested) = watch::channel(false);
    let (stopped_tx, stopped) = oneshot::channel();
    app.lifecycle().set_listening(true);
    runtime.spawn(serve(app.clone(), listeners, shutdown_requested, stopped_tx));
    Ok(ServerHandle { local_addr, tls_addr, shutdown, stopped: Some(stopped), runtime: Some(runtime), reloader })
}

/// A write to a socket its peer has closed raises SIGPIPE when it goes through `writev` (tokio's
/// vectored writes, TLS records among them), and SIGPIPE's default action ends the process. Rust
/// and Python programs, Node and Go ignore it from the start; a C host does not, and a client
/// that hangs up early (after TLS 1.3's session tickets, say) would kill it. A handler the host
/// installed is left alone.
fn ignore_sigpipe() {
    #[cfg(unix)]
    {
        // SAFETY: sigaction with a NULL new action only reads the current one into a local;
        // signal() then swaps in SIG_IGN, which is async-signal-safe to install at any time.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction == libc::SIG_DFL
            {
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            }
        }
    }
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
    /// The bound address of `server.port` (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address that speaks HTTPS: `server.tls.port`'s, or `server.port`'s when TLS is on
    /// without its own port; None without TLS.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The application served.
    pub fn app(&self) -> &App {
        self.reloader.app()
    }

    /// Re-reads the TLS certificate and key (and client CAs) with everything [`App::reload`]
    /// reads, and swaps them in together; what SIGHUP does. New handshakes use the new
    /// certificate, open connections keep theirs. On failure nothing changes. Blocks while the
    /// files are read and the policy compiles: call it off the runtime's threads.
    pub fn reload(&self) -> Result<(), ReloadError> {
        self.reloader.reload()
    }

    /// A cloneable [`ServerHandle::reload`], usable from any thread.
    pub fn reload_trigger(&self) -> ReloadTrigger {
        ReloadTrigger(self.reloader.clone())
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

    /// Blocks until SIGINT or SIGTERM (or a shutdown call), then shuts down gracefully; on
    /// SIGHUP meanwhile, reloads (see [`ServerHandle::reload`]). Hosts that keep signals to
    /// themselves (Python's and Node's event loops, Go's runtime) call `wait` instead, and
    /// `reload` from their own SIGHUP handler.
    pub fn run_until_signal(mut self) {
        if let Some(runtime) = &self.runtime {
            let mut requested = self.shutdown.subscribe();
            runtime.block_on(async {
                tokio::select! {
                    _ = termination_signal() => {}
                    _ = requested.wait_for(|&stop| stop) => {}
                    _ = reload::on_hangup(self.reloader.clone()) => {}
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

/// Triggers a reload from anywhere (see [`ServerHandle::reload`]).
#[derive(Clone)]
pub struct ReloadTrigger(reload::Reloader);

impl ReloadTrigger {
    /// Reloads; blocks while the files are read.
    pub fn reload(&self) -> Result<(), ReloadError> {
        self.0.reload()
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

async fn serve(app: App, listeners: Vec<Listener>, mut shutdown: watch::Receiver<bool>, stopped: oneshot::Sender<()>) {
    let config = app.config().server.clone();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms))
        .max_buf_size(limits::http1_max_buf_size(&config))
        .max_headers(limits::http1_max_headers(&config))
        .keep_alive(true);
    let ping =
        (config.http2_keep_alive_interval_ms > 0).then(|| Duration::from_millis(config.http2_keep_alive_interval_ms));
    let mut http2 = builder.http2();
    http2.timer(TokioTimer::new()).max_header_list_size(limits::http2_max_header_list_size(&config));
    if let Some(interval) = ping {
        http2.keep_alive_interval(interval).keep_alive_timeout(interval);
    }
    let builder = Arc::new(builder);
    let timers = Timers {
        first_request: Duration::from_millis(config.header_read_timeout_ms),
        idle: Duration::from_millis(config.idle_timeout_ms),
        close_grace: CLOSE_GRACE,
    };
    // One permit per open connection: when every permit is back, every connection has closed.
    let max_connections = limits::max_connections(&config);
    let permits = Arc::new(Semaphore::new(max_connections));
    let (phase, phase_seen) = watch::channel(Phase::Serving);
    let accept = |stream: TcpStream, peer: SocketAddr, tls: Option<&Arc<tls::TlsCell>>| {
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            // Full: closing at once costs the client a retry, not the service its descriptors.
            if let Some(metrics) = app.telemetry().metrics() {
                metrics.connections().rejected();
            }
            return;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        // Every request of the connection carries the same facts of it.
        let service = {
            let app = app.clone();
            let activity = Arc::clone(&activity);
            move |connection: Connection| {
                service_fn(move |request| {
                    serve_request(app.clone(), Arc::clone(&activity), request, connection.clone())
                })
            }
        };
        let app = app.clone();
        let phase_seen = phase_seen.clone();
        let builder = Arc::clone(&builder);
        // The configuration current at accept: a reload during the handshake does not change it.
        let tls = tls.map(|cell| TlsAcceptor::from(cell.load_full()));
        tokio::spawn(async move {
            let metrics = app.telemetry().metrics().map(|metrics| metrics.connections());
            let _open = metrics.map(|metrics| metrics.opened());
            match tls {
                None => {
                    let service = service(Connection::from_addr(Some(peer)));
                    let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    connection::watch(connection, |c| c.graceful_shutdown(), activity, phase_seen, timers, metrics)
                        .await;
                }
                Some(acceptor) => {
                    // The handshake has the time of a request head: a client that opens and
                    // stalls holds a descriptor no longer than a slow HTTP/1 client would.
                    let handshake = tokio::time::timeout(timers.first_request, acceptor.accept(stream)).await;
                    let Ok(Ok(stream)) = handshake else {
                        if let Some(metrics) = metrics {
                            metrics.tls_handshake_failed();
                        }
                        return;
                    };
                    // Read once per connection: every request of it carries the same certificate.
                    let certificate = stream.get_ref().1.peer_certificates().and_then(|chain| chain.first());
                    let client_certificate = certificate.map(|der| Arc::new(ClientCertificate::read(der)));
                    let service = service(Connection { remote_addr: Some(peer), tls: true, client_certificate });
                    let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    connection::watch(connection, |c| c.graceful_shutdown(), activity, phase_seen, timers, metrics)
                        .await;
                }
            }
            drop(permit);
        });
    };
    let mut draining = false;
    let drain_delay = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(drain_delay);
    loop {
        tokio::select! {
            (accepted, index) = accept_any(&listeners) => match accepted {
                Ok((stream, peer)) => accept(stream, peer, listeners[index].tls.as_ref()),
                // Accept errors (EMFILE, aborted handshakes) are transient: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // The guard `wait_for` returns is not Send: drop it inside the branch's future.
            _ = async { shutdown.wait_for(|&stop| stop).await.map(|_| ()) }, if !draining => {
                draining = true;
                app.lifecycle().start_draining();
                let _ = phase.send(Phase::Draining);
                drain_delay.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(config.drain_delay_ms));
            }
            _ = &mut drain_delay, if draining => break,
        }
    }
    // Connections the kernel completed but we have not accepted yet carry requests clients sent
    // before the listener closed: serve them rather than let the close reset them.
    for listener in &listeners {
        while let Ok(Ok((stream, peer))) = tokio::time::timeout(Duration::ZERO, listener.tcp.accept()).await {
            accept(stream, peer, listener.tls.as_ref());
        }
    }
    drop(listeners);
    app.lifecycle().set_listening(false);
    let _ = phase.send(Phase::Closing);
    let all_closed = permits.acquire_many(u32::try_from(max_connections).unwrap_or(u32::MAX));
    let _ = tokio::time::timeout(Duration::from_millis(config.shutdown_grace_ms), all_closed).await;
    // Flushing blocks (the log writer's thread, the span exporter's last export): off the runtime.
    let flushing = app.clone();
    let _ = tokio::task::spawn_blocking(move || flushing.telemetry().shutdown()).await;
    let _ = stopped.send(());
}

/// The next connection of either listener (there are at most two: plain HTTP and HTTPS), with
/// the index of the one it came from.
async fn accept_any(listeners: &[Listener]) -> (std::io::Result<(TcpStream, SocketAddr)>, usize) {
    match listeners {
        [only] => (only.tcp.accept().await, 0),
        [first, second, ..] => tokio::select! {
            accepted = first.tcp.accept() => (accepted, 0),
            accepted = second.tcp.accept() => (accepted, 1),
        },
        [] => std::future::pending().await,
    }
}

/// How long an idle connection asked to close gracefully may take before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// One request of a connection: through the pipeline, and, while the server drains, with
/// `connection: close` on HTTP/1 so the client takes its next request elsewhere before the
/// listener closes (HTTP/2 connections get a GOAWAY instead, from `connection::watch`).
async fn serve_request(
    app: App,
    activity: Arc<Activity>,
    request: Request<Incoming>,
    connection: Connection,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let http1 = request.version() < Version::HTTP_2;
    let _busy = activity.begin(!http1);
    let mut response = app.handle_from_socket(request, connection).await;
    if http1 && app.lifecycle().is_draining() {
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}
