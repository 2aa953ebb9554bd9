//! Configuration of the authorization stage: a Rego policy evaluated in-process.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Rego authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizationConfig {
    /// Rego files; authorization is off (every request allowed) when empty.
    pub policies: Vec<PathBuf>,
    /// JSON or YAML documents merged into `data`.
    pub data: Vec<PathBuf>,
    /// The rule whose value decides: `true`/`false`, or `{allow, status, reason, headers}`.
    pub decision: String,
    /// Hand the JSON request body to the policy as `input.parsed_body`.
    pub include_body: bool,
    /// Longest an evaluation may run; past it the request is refused (500, fail closed).
    pub timeout_ms: u64,
    /// Write one JSON line per decision (request id, operation, subject, result) to the log.
    pub decision_log: bool,
    /// What evaluates the policy: `interpreter` (regorus' interpreter, the only one).
    pub evaluator: PolicyEvaluator,
}

/// The evaluator of `authorization.evaluator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyEvaluator {
    /// regorus' tree-walking interpreter: the reference semantics, conflicts and all.
    /// (`vm`, regorus' compiled VM, was removed: it answered differently from the reference.)
    #[default]
    Interpreter,
}

impl Default for AuthorizationConfig {
    fn default() -> Self {
        Self {
            policies: Vec::new(),
            data: Vec::new(),
            decision: "data.armature.authz.allow".to_owned(),
            include_body: false,
            timeout_ms: 100,
            decision_log: false,
            evaluator: PolicyEvaluator::Interpreter,
        }
    }
}
