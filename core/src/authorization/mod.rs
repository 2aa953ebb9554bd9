//! The authorization stage: a Rego policy, evaluated in-process with `regorus`, decides whether
//! an identified request may reach its handler.
//!
//! Policies and data are read, parsed and prepared once in [`Authorizer::new`]; each request is
//! evaluated on an engine cloned from that prepared template and kept in a pool, so nothing is
//! parsed per request. The input follows the Envoy ext_authz v3 shape used by OPA-Envoy (see
//! [`AuthorizationRequest`]) so existing policies carry over; the decision rule answers with a
//! boolean or a `{allow, status, reason, headers}` object (see [`Decision`]).
//!
//! Policies are Rego v1 (`if` and `contains` are required), the default of OPA 1.x.
//!
//! The time limit (`authorization.timeout_ms`) is enforced by regorus's cooperative execution
//! timer, which the interpreter checks as it steps through expressions and loops: a runaway
//! evaluation ends with [`EvaluationError::TimedOut`] shortly after the deadline. A single
//! builtin call (one large regex match, say) is not interrupted midway, so the bound can be
//! overshot by the length of the longest builtin call.

mod decision;
mod error;
mod input;
mod load;
mod log;
mod pool;
#[cfg(test)]
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};
use regorus::Value;
use serde::Deserialize;

use crate::config::authorization::AuthorizationConfig;
use crate::identity::Identity;

pub use error::{AuthorizationError, EvaluationError};
pub use log::decision_log_line;

/// The prepared authorization stage: policies and data loaded once, engines pooled for reuse.
/// Shared by every request (`Send + Sync`).
pub struct Authorizer {
    pool: pool::EnginePool,
    decision: String,
    include_body: bool,
    timeout: Duration,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("decision", &self.decision)
            .field("include_body", &self.include_body)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What the policy sees of one request. The pipeline builds it after routing and identity.
///
/// It becomes this input document:
///
/// - `input.attributes.request.http`: `method`; `path` (with `?query` when there is one, as
///   Envoy sends it); `headers` (lower-case name -> value, repeated headers joined with ",");
///   `host` (the Host header, else the URI authority); `scheme` (`"http"`); `protocol`
///   (`"HTTP/1.1"`, `"HTTP/2"`, ...); `query` (raw, `""` when none).
/// - `input.parsed_path`: the path's percent-decoded segments, `/accounts/alice/notes` ->
///   `["accounts","alice","notes"]`.
/// - `input.parsed_query`: name -> array of form-decoded values.
/// - `input.parsed_body`: the JSON body, only when `authorization.include_body` is on and a body
///   is given.
/// - `input.identity`: [`Identity::to_json`].
/// - `input.operation`: `{"id", "tags", "path_template", "path_params"}`.
///
/// The `authorization`, `proxy-authorization` and `cookie` headers are left out: the identity
/// stage has verified them and `input.identity` carries the result, while the raw secrets would
/// otherwise reach policies, their `print` output and decision logs.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// Method, URI, version and headers of the request.
    pub parts: &'a http::request::Parts,
    /// The parsed JSON body; only looked at when [`Authorizer::include_body`] is true.
    pub body: Option<&'a serde_json::Value>,
    /// The caller, as the identity stage established it.
    pub identity: &'a Identity,
    /// The contract operation the request was routed to.
    pub operation_id: &'a str,
    /// The operation's tags.
    pub tags: &'a [String],
    /// The path template that matched, e.g. `/accounts/{owner}/notes`.
    pub path_template: &'a str,
    /// Decoded path parameters, e.g. `{"owner": "alice"}`.
    pub path_params: &'a serde_json::Map<String, serde_json::Value>,
}

/// The policy's answer for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Whether the request may proceed to its handler.
    pub allow: bool,
    /// The response status on deny, 400..=599; None means the pipeline's default (403). Carried
    /// as the policy gave it even on allow, where the pipeline ignores it.
    pub status: Option<StatusCode>,
    /// Why, in the policy's words; safe to show the client only if the policy author made it so.
    pub reason: Option<String>,
    /// On deny, headers for the error response; on allow, headers the pipeline adds to the
    /// request the handler sees.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Decision {
    fn plain(allow: bool) -> Self {
        Self { allow, status: None, reason: None, headers: Vec::new() }
    }
}

impl Authorizer {
    /// Reads and parses the policies and data, and checks the decision rule evaluates.
    /// None when `config.policies` is empty (authorization off).
    pub fn new(config: &AuthorizationConfig) -> Result<Option<Authorizer>, AuthorizationError> {
        if config.policies.is_empty() {
            return Ok(None);
        }
        // Cheap configuration checks first, so a typo is reported before files are read.
        check_decision_rule(&config.decision)?;
        if config.timeout_ms == 0 {
            return Err(AuthorizationError::Timeout);
        }
        let timeout = Duration::from_millis(config.timeout_ms);
        let policies = load::read_all("authorization.policies", &config.policies)?;
        let data = load::read_all("authorization.data", &config.data)?;
        let template = load::template(&policies, &data, &config.decision, timeout)?;
        Ok(Some(Authorizer {
            pool: pool::EnginePool::new(template),
            decision: config.decision.clone(),
            include_body: config.include_body,
            timeout,
        }))
    }

    /// Whether the policy wants `input.parsed_body`, so the pipeline parses the body before
    /// authorizing only when it is used.
    pub fn include_body(&self) -> bool {
        self.include_body
    }

    /// Evaluates the decision rule for one request. Synchronous and CPU-bound (bounded by the
    /// configured time limit); an `Err` means no decision could be made and the request must be
    /// refused.
    pub fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Decision, EvaluationError> {
        let input = input::build(request, self.include_body);
        let input = Value::deserialize(&input)
            .map_err(|error| EvaluationError::Failed { message: format!("building the policy input: {error}") })?;

        let mut engine = self.pool.take();
        // A panic inside the engine must fail this request closed, not take down the worker.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            engine.set_input(input);
            engine.eval_rule(self.decision.clone())
        }));
        match outcome {
            Ok(Ok(value)) => {
                self.pool.give_back(engine);
                decision::parse(&value)
            }
            Ok(Err(error)) if load::is_time_limit(&*error) => Err(EvaluationError::TimedOut { limit: self.timeout }),
            Ok(Err(error)) => Err(EvaluationError::Failed { message: load::engine_message(&error) }),
            Err(_) => Err(EvaluationError::Failed { message: "the policy engine panicked".to_owned() }),
        }
    }
}

/// The rule must be a path under `data` naming at least a package and a rule; anything else
/// cannot name a rule the policies define.
fn check_decision_rule(rule: &str) -> Result<(), AuthorizationError> {
    let well_formed = rule
        .strip_prefix("data.")
        .is_some_and(|rest| rest.split('.').count() >= 2 && rest.split('.').all(|part| !part.trim().is_empty()));
    if well_formed {
        Ok(())
    } else {
        Err(AuthorizationError::Decision {
            rule: rule.to_owned(),
            message: "must be a rule path starting with \"data.\", like \"data.armature.authz.allow\"".to_owned(),
        })
    }
}
