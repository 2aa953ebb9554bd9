//! Armature's core: the HTTP runtime every language binding embeds.
//!
//! A request goes through, in order: request id, trace context, built-in endpoints, routing
//! against the OpenAPI contract, request validation, the handler (in any language, through
//! [`dispatch`]), response validation and error normalization into RFC 9457 problems.
//! See docs/architecture.md and the README.
//!
//! ```no_run
//! use armature_core::{App, Config, Contract, Handler, HandlerResponse};
//! use http::StatusCode;
//!
//! let contract = Contract::from_path("conformance/contract.yaml")?;
//! let app = App::builder(Config::load()?)
//!     .contract(contract)
//!     .handler("plaintext", Handler::from_async(|_request| async {
//!         Ok(HandlerResponse::text(StatusCode::OK, "Hello, World!"))
//!     }))
//!     .build()?;
//! let server = armature_core::server::start(app)?;
//! println!("listening on http://{}", server.local_addr());
//! server.run_until_signal();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod answer;
pub mod app;
pub mod authorization;
pub mod config;
pub mod connection;
pub mod contract;
pub mod dispatch;
pub mod host;
pub mod host_options;
mod https_client;
pub mod identity;
pub mod path_params;
mod pem;
pub mod problem;
pub mod request_id;
pub mod server;
pub mod telemetry;
pub mod testing;
pub mod trace_context;
mod validation;
#[cfg(unix)]
mod wake_pipe;

pub use answer::{Answer, Body, HandlerError, HandlerOutcome, HandlerResponse};
pub use app::{App, AppBuilder, AppError};
pub use config::{Config, ConfigError};
pub use contract::{Contract, ContractError};
pub use dispatch::{Handler, HandlerRequest, Identity, IdentityKind, Params, PendingRequest, RequestQueue, Responder};
pub use host::{Host, HostError};
pub use server::{ReloadError, ServerError, ServerHandle};
