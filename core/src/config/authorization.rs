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
    /// What evaluates the policy: `compiled` (the default; a policy it does not cover runs on
    /// the interpreter, and the start-up log says why) or `interpreter` (regorus').
    pub evaluator: PolicyEvaluator,
    /// OPA's strict builtin-error mode: a builtin that fails (`to_number("abc")`) fails the whole
    /// evaluation, and the request is refused (500). Off (OPA's default), the failing expression
    /// is undefined, as if it were false, and evaluation goes on.
    pub strict_builtin_errors: bool,
}

/// The evaluator of `authorization.evaluator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyEvaluator {
    /// Armature's compiler: the policy lowered once and specialized per operation, evaluated
    /// with OPA's semantics against the request read lazily. Falls back to the interpreter for a
    /// policy using what it does not cover (`with`, `print`, `http.send`, time, ...).
    #[default]
    Compiled,
    /// regorus' tree-walking interpreter, with Armature's OPA-compatible builtins.
    /// (`vm`, regorus' compiled VM, was removed: it answered differently from OPA.)
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
            evaluator: PolicyEvaluator::Compiled,
            strict_builtin_errors: false,
        }
    }
}
