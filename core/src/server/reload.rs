//! Reload without restart: on SIGHUP, or a host's reload call, the TLS certificate and key are
//! read again together with the application's identity and policy files (see
//! [`App::reload`]), and swapped in only when all of them were read and compiled.

use std::sync::Arc;

use super::tls::{self, TlsCell, TlsError};
use crate::app::{App, AppError};

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// `server.tls`'s files cannot serve HTTPS any more.
    #[error("reload: {0}")]
    Tls(#[from] TlsError),
    /// An identity or policy file could not be read or compiled.
    #[error("reload: {0}")]
    App(#[from] AppError),
}

/// What a reload replaces: the application's stages and, with HTTPS, the TLS configuration.
/// One pointer, shared by the server's handle and its triggers.
#[derive(Clone)]
pub(crate) struct Reloader(Arc<Parts>);

struct Parts {
    app: App,
    tls: Option<Arc<TlsCell>>,
}

impl Reloader {
    pub(crate) fn new(app: App, tls: Option<Arc<TlsCell>>) -> Self {
        Self(Arc::new(Parts { app, tls }))
    }

    /// The application served.
    pub(crate) fn app(&self) -> &App {
        &self.0.app
    }

    /// Reads and compiles everything, then swaps; blocking.
    pub(crate) fn reload(&self) -> Result<(), ReloadError> {
        let Parts { app, tls } = &*self.0;
        app.reload_with(
            || match tls {
                Some(_) => Ok(Some(tls::server_config(&app.config().server.tls)?)),
                None => Ok(None),
            },
            |prepared| {
                if let (Some(cell), Some(config)) = (tls, prepared) {
                    cell.store(config);
                }
            },
        )
    }
}

/// Reloads on every SIGHUP; never returns (the caller stops waiting on it). The work runs on a
/// blocking thread: compiling a large policy must not hold up the requests of the worker it
/// would run on.
pub(crate) async fn on_hangup(reloader: Reloader) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // Without a handler (it cannot be installed) SIGHUP keeps its default, and the host's
        // reload call still works.
        if let Ok(mut hangups) = signal(SignalKind::hangup()) {
            while hangups.recv().await.is_some() {
                let reloader = reloader.clone();
                // The outcome is logged and counted by the reload itself.
                let _ = tokio::task::spawn_blocking(move || reloader.reload()).await;
            }
        }
    }
    drop(reloader);
    std::future::pending::<()>().await
}
