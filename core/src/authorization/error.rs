//! Errors of the authorization stage: at start-up (configuration, files) and per request.

use std::path::PathBuf;
use std::time::Duration;

/// Why the authorization stage could not be built; each message names the configuration key and,
/// where there is one, the file.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    /// A policy or data file could not be read.
    #[error("{key}: cannot read {path}: {source}", path = path.display())]
    Read {
        /// The configuration key listing the file (`authorization.policies` or `authorization.data`).
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A policy file is not valid Rego (v1 syntax).
    #[error("authorization.policies: {path} is not a valid Rego policy: {message}", path = path.display())]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A data file could not be parsed or merged into `data`.
    #[error("authorization.data: {path}: {message}", path = path.display())]
    Data {
        /// The data file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A data file parsed, but its top level is not an object, so it cannot be merged into `data`.
    #[error("authorization.data: {path}: the document must be an object at the top level", path = path.display())]
    DataNotObject {
        /// The data file.
        path: PathBuf,
    },
    /// The decision rule is malformed, or the policies do not define it.
    #[error("authorization.decision: {rule:?}: {message}")]
    Decision {
        /// The configured rule.
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// `authorization.timeout_ms` is 0.
    #[error("authorization.timeout_ms: must be at least 1")]
    Timeout,
}

/// Why one evaluation did not produce a decision. The pipeline fails closed on every variant
/// (500); a policy that merely says no is a [`Decision`](super::Decision) with `allow == false`,
/// never an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvaluationError {
    /// The policy failed at run time (conflicting rule values, a builtin error, a panic).
    #[error("policy evaluation failed: {message}")]
    Failed {
        /// The engine's message.
        message: String,
    },
    /// The evaluation ran past `authorization.timeout_ms`.
    #[error("policy evaluation exceeded its time limit of {} ms", limit.as_millis())]
    TimedOut {
        /// The configured limit.
        limit: Duration,
    },
    /// The decision rule produced a value that is neither a boolean nor a well-formed decision
    /// object.
    #[error("malformed decision: {message}")]
    Malformed {
        /// What is wrong with the value.
        message: String,
    },
}
