//! The authorization stage: a Rego policy, evaluated in-process, decides whether an identified
//! request may reach its handler, with OPA's answers.
//!
//! Policies and data are read and parsed (by regorus) once in [`Authorizer::new`], then compiled
//! ([`compiled`]) and specialized for each contract operation ([`Authorizer::operation`]); each
//! request is evaluated against its input read lazily from the request. A policy the compiler
//! does not cover runs on regorus' interpreter ([`evaluator`]) instead, with the same
//! OPA-compatible builtins ([`builtins`]). The input follows the Envoy ext_authz v3 shape used by
//! OPA-Envoy (see [`AuthorizationRequest`]) so existing policies carry over; the decision rule
//! answers with a boolean or a `{allow, status, reason, headers}` object (see [`Decision`]).
//!
//! Policies are Rego v1 (`if` and `contains` are required), the default of OPA 1.x.
//!
//! The time limit (`authorization.timeout_ms`) is enforced cooperatively, by both evaluators, as
//! they step through expressions and loops: a runaway evaluation ends with
//! [`EvaluationError::TimedOut`] shortly after the deadline. A single builtin call (one large
//! regex match, say) is not interrupted midway, so the bound can be overshot by the length of the
//! longest builtin call.

mod builtins;
mod compiled;
mod decision;
#[doc(hidden)]
pub mod equivalence;
mod error;
mod evaluator;
mod input;
mod interpreter_differences;
mod load;
mod log;
mod rego_value;
#[cfg(test)]
mod tests;
mod view;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};

use crate::config::authorization::{AuthorizationConfig, PolicyEvaluator};
use crate::connection::Connection;
use crate::identity::{CredentialLocations, Identity};
use crate::path_params::PathParams;

pub use error::{AuthorizationError, EvaluationError};
pub use log::decision_log_line;

/// The prepared authorization stage: policies and data loaded once and compiled (or prepared for
/// the interpreter). Shared by every request (`Send + Sync`).
pub struct Authorizer {
    engine: Engine,
    /// Why the policy runs on the interpreter though the compiled evaluator was asked for.
    fallback: Option<String>,
    /// On the interpreter: where the policy may get answers that differ from OPA's.
    interpreter_differences: Vec<String>,
    input: input::InputBuilder,
    decision_keys: decision::DecisionKeys,
    decision: String,
    include_body: bool,
    timeout: Duration,
}

/// What evaluates the policy.
enum Engine {
    Compiled(compiled::CompiledPolicy),
    Interpreter(evaluator::Evaluator),
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("decision", &self.decision)
            .field("evaluator", &self.evaluator())
            .field("fallback", &self.fallback)
            .field("include_body", &self.include_body)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What one contract operation hands the policy, made once per operation by
/// [`Authorizer::operation`]: the constant parts of `input.operation` and, with the compiled
/// evaluator, the policy specialized for the operation (or its decision, when that is a
/// constant).
#[derive(Debug, Clone)]
pub struct PolicyOperation {
    input: input::OperationInput,
    plan: Option<Arc<compiled::OperationPlan>>,
    /// The decision, when it is the same for every request of the operation.
    decided: Option<Arc<Result<Decision, EvaluationError>>>,
    /// The decisions of the values the decision rule takes as constants, read once.
    decisions: Arc<[(regorus::Value, Decision)]>,
}

impl PolicyOperation {
    /// Whether the compiled evaluator decided this operation when it was prepared: every
    /// request of it gets that decision without evaluating anything.
    pub fn is_decided(&self) -> bool {
        self.decided.is_some()
    }
}

/// What the policy sees of one request. The pipeline builds it after routing and identity.
///
/// It becomes this input document:
///
/// - `input.attributes.request.http`: `method`; `path` (with `?query` when there is one, as
///   Envoy sends it); `headers` (lower-case name -> value, repeated headers joined with ",");
///   `host` (the Host header, else the URI authority); `scheme` (`"https"` when this server
///   terminated TLS for the request, else `"http"`); `protocol`
///   (`"HTTP/1.1"`, `"HTTP/2"`, ...); `query` (raw, `""` when none).
/// - `input.parsed_path`: the path's percent-decoded segments, `/accounts/alice/notes` ->
///   `["accounts","alice","notes"]`.
/// - `input.parsed_query`: name -> array of form-decoded values.
/// - `input.parsed_body`: the JSON body, only when `authorization.include_body` is on and a body
///   is given.
/// - `input.identity`: [`Identity::to_json`].
/// - `input.operation`: `{"id", "tags", "path_template", "path_params"}`.
///
/// Every credential the identity stage reads is left out: the `authorization`,
/// `proxy-authorization` and `cookie` headers, the API-key headers and query parameters of the
/// contract's security schemes (`identity.api_keys.header` included) and the forwarded client
/// certificate header (`identity.mtls.header`). The identity stage has verified them and
/// `input.identity` carries the result, while the raw secrets would otherwise reach policies,
/// their `print` output and decision logs. An API key in the query is removed from `path`,
/// `query` and `parsed_query` alike.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// Method, URI, version and headers of the request.
    pub parts: &'a http::request::Parts,
    /// The parsed JSON body; only looked at when [`Authorizer::include_body`] is true.
    pub body: Option<&'a serde_json::Value>,
    /// The caller, as the identity stage established it.
    pub identity: &'a Identity,
    /// The contract operation the request was routed to, from [`Authorizer::operation`].
    pub operation: &'a PolicyOperation,
    /// The operation's path parameters, decoded and typed per the contract
    /// (`{"owner": "alice", "noteId": 7}`); one that does not decode is its text.
    pub path_params: &'a PathParams<'a>,
    /// The connection it came on (`scheme` is `https` when this server terminated TLS for it).
    pub connection: &'a Connection,
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
    /// Reads and parses the policies and data, compiles the decision rule and checks that it
    /// evaluates. `credentials` are the request locations the identity stage reads, withheld from
    /// the input. None when `config.policies` is empty (authorization off).
    pub fn new(
        config: &AuthorizationConfig,
        credentials: &CredentialLocations,
    ) -> Result<Option<Authorizer>, AuthorizationError> {
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
        let strict = config.strict_builtin_errors;
        let mut template = load::template(&policies, &data, &config.decision, timeout, strict)?;
        let template_modules = template.get_modules().clone();
        let (engine, fallback) = match config.evaluator {
            PolicyEvaluator::Interpreter => {
                (Engine::Interpreter(evaluator::Evaluator::interpreter(template, &config.decision)), None)
            }
            PolicyEvaluator::Compiled => {
                let data = template.get_data();
                match compiled::CompiledPolicy::compile(
                    template.get_modules(),
                    &data,
                    &config.decision,
                    strict,
                    timeout,
                ) {
                    Ok(policy) => (Engine::Compiled(policy), None),
                    Err(unsupported) => (
                        Engine::Interpreter(evaluator::Evaluator::interpreter(template, &config.decision)),
                        Some(unsupported.to_string()),
                    ),
                }
            }
        };
        let interpreter_differences = match &engine {
            Engine::Interpreter(_) => interpreter_differences::find(template_modules.as_slice()),
            Engine::Compiled(_) => Vec::new(),
        };
        Ok(Some(Authorizer {
            engine,
            fallback,
            interpreter_differences,
            input: input::InputBuilder::new(config.include_body, credentials),
            decision_keys: decision::DecisionKeys::new(),
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

    /// Which evaluator runs the policy: `"compiled"` or `"interpreter"`.
    pub fn evaluator(&self) -> &'static str {
        match &self.engine {
            Engine::Compiled(_) => "compiled",
            Engine::Interpreter(_) => "interpreter",
        }
    }

    /// Why the policy runs on the interpreter although the compiled evaluator was configured:
    /// the first construct the compiler does not cover, and where (`file:line: what`).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// On the interpreter: each kind of construct of the policy where regorus' interpreter may
    /// answer differently from OPA, with the first place it appears (`file:line: what`).
    pub fn interpreter_differences(&self) -> &[String] {
        &self.interpreter_differences
    }

    /// Prepares what one contract operation hands the policy: the constant parts of
    /// `input.operation`, and the policy specialized for them. Done once per operation when the
    /// application is built (and at every reload).
    pub fn operation(&self, id: &str, tags: &[String], path_template: &str) -> PolicyOperation {
        let input = self.input.operation(id, tags, path_template);
        let Engine::Compiled(policy) = &self.engine else {
            return PolicyOperation { input, plan: None, decided: None, decisions: Arc::new([]) };
        };
        let (known, complete) = input.known();
        let plan = policy.plan(known, complete);
        let decided = match &plan {
            compiled::OperationPlan::Constant(result) => Some(Arc::new(self.decision_of(result.clone()))),
            compiled::OperationPlan::Program(_) => None,
        };
        let decisions = policy
            .constant_results(&plan)
            .into_iter()
            .filter_map(|value| {
                let decision = decision::parse(&value, &self.decision_keys).ok()?;
                Some((value, decision))
            })
            .collect();
        PolicyOperation { input, plan: Some(Arc::new(plan)), decided, decisions }
    }

    /// Evaluates the decision rule for one request. Synchronous and CPU-bound (bounded by the
    /// configured time limit); an `Err` means no decision could be made and the request must be
    /// refused.
    pub fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<Decision, EvaluationError> {
        match &self.engine {
            Engine::Compiled(policy) => {
                if let Some(decided) = &request.operation.decided {
                    return (**decided).clone();
                }
                let view = view::InputView::new(&self.input, request);
                let result = policy.evaluate(request.operation.plan.as_deref(), &view);
                if let Ok(value) = &result {
                    // A constant of the policy (the common case): its decision was read ahead.
                    if let Some((_, decision)) = request.operation.decisions.iter().find(|(known, _)| known == value) {
                        return Ok(decision.clone());
                    }
                }
                self.decision_of(result)
            }
            Engine::Interpreter(evaluator) => {
                let value = evaluator.evaluate(self.input.build(request), self.timeout)?;
                decision::parse(&value, &self.decision_keys)
            }
        }
    }

    fn decision_of(&self, result: Result<regorus::Value, compiled::Fault>) -> Result<Decision, EvaluationError> {
        match result {
            Ok(value) => decision::parse(&value, &self.decision_keys),
            Err(compiled::Fault::Error(message)) => Err(EvaluationError::Failed { message }),
            Err(compiled::Fault::TimedOut) => Err(EvaluationError::TimedOut { limit: self.timeout }),
            Err(compiled::Fault::Unknown) => {
                Err(EvaluationError::Failed { message: "the policy read an input it was not given".to_owned() })
            }
        }
    }

    /// Engines idle in the interpreter's pool (0 for the compiled evaluator).
    #[cfg(test)]
    pub(crate) fn idle_len(&self) -> usize {
        match &self.engine {
            Engine::Interpreter(evaluator) => evaluator.idle_len(),
            Engine::Compiled(_) => 0,
        }
    }

    /// The input document of one request, as the policy would see it (for tests and tools).
    pub fn input_json(&self, request: &AuthorizationRequest<'_>) -> serde_json::Value {
        serde_json::to_value(self.input.build(request)).unwrap_or(serde_json::Value::Null)
    }
}

/// The decision a rule's value (as JSON; None: undefined) stands for, read as [`Authorizer::authorize`]
/// reads it: for tools that evaluate a policy elsewhere (the differential tests against OPA).
pub fn decision_from_json(value: Option<&serde_json::Value>) -> Result<Decision, EvaluationError> {
    let value = match value {
        None => regorus::Value::Undefined,
        Some(json) => regorus::Value::from_json_str(&json.to_string())
            .map_err(|error| EvaluationError::Failed { message: error.to_string() })?,
    };
    decision::parse(&value, &decision::DecisionKeys::new())
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
