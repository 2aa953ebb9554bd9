//! Armature's conformance runner.
//!
//! Loads the shared request/response cases of `conformance/cases/` and runs them over real
//! HTTP against any server that implements `conformance/contract.yaml` (every binding's
//! `ci/serve <lang>`), so the same cases check the Rust core through every language.
//! A binding's in-process transport can stand in for the socket ([`process_transport`]).
//! It does not depend on `armature-core`: it sees the server only from the outside.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! let cases = armature_conformance::load_dir("conformance/cases".as_ref())?;
//! let runner = armature_conformance::Runner::new("http://127.0.0.1:8080", Duration::from_secs(10))?;
//! for result in runner.run_all(&cases).await {
//!     if !result.passed() {
//!         eprint!("{}", result.report());
//!     }
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod case;
pub mod matcher;
pub mod placeholders;
pub mod process_transport;
pub mod runner;

pub use case::{load_dir, load_str, Case, CaseRequest, Expectation, HeaderExpectation, LoadError, TlsRequest};
pub use matcher::{check, compare_json, match_json_subset, JsonMode, Observed};
pub use placeholders::Tokens;
pub use runner::{BaseUrlError, CaseResult, Outcome, Runner};
