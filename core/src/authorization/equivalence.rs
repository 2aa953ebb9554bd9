//! Both evaluators on one policy text and one input document, for the differential tests
//! (`fuzz/fuzz_targets/policy_equivalence.rs`, `conformance/policy-diff --corpus`). Not part of
//! the stable API: hidden from the documentation.

use std::time::Duration;

use regorus::{Engine, Value};

use super::{builtins, compiled};

/// What an evaluation gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The decision rule's value as JSON (sets as sorted arrays); None: undefined.
    Value(Option<String>),
    /// An evaluation error (a conflict, a builtin error in strict mode, the time limit).
    Error(String),
}

/// A policy loaded for both evaluators.
pub struct Pair {
    interpreter: Engine,
    compiled: Result<compiled::CompiledPolicy, String>,
    decision: String,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair").field("decision", &self.decision).finish_non_exhaustive()
    }
}

/// Loads one policy (`policy.rego`) with a data document. `Err` when regorus does not accept
/// the policy; the compiled evaluator's refusal is [`Pair::compiled_refusal`].
pub fn load(policy: &str, data: &serde_json::Value, decision: &str, strict: bool) -> Result<Pair, String> {
    let timeout = Duration::from_millis(200);
    let mut engine = Engine::new();
    engine.set_strict_builtin_errors(strict);
    builtins::install(&mut engine, strict).map_err(|error| error.to_string())?;
    engine.add_policy("policy.rego".to_owned(), policy.to_owned()).map_err(|error| format!("{error:#}"))?;
    engine
        .add_data(Value::from_json_str(&data.to_string()).map_err(|error| error.to_string())?)
        .map_err(|error| error.to_string())?;
    if let Some(interval) = std::num::NonZeroU32::new(32) {
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: timeout,
            check_interval: interval,
        });
    }
    let data = engine.get_data();
    let compiled = compiled::CompiledPolicy::compile(engine.get_modules(), &data, decision, strict, timeout)
        .map_err(|unsupported| unsupported.to_string());
    Ok(Pair { interpreter: engine, compiled, decision: decision.to_owned() })
}

impl Pair {
    /// Why the compiled evaluator does not take the policy, if it does not.
    pub fn compiled_refusal(&self) -> Option<&str> {
        self.compiled.as_ref().err().map(String::as_str)
    }

    /// The compiled evaluator's answer (None when it refused the policy).
    pub fn compiled(&self, input: &serde_json::Value) -> Option<Answer> {
        let policy = self.compiled.as_ref().ok()?;
        let input = Value::from_json_str(&input.to_string()).ok()?;
        Some(match policy.evaluate_document(&input) {
            Ok(value) => Answer::Value(json(&value)),
            Err(fault) => Answer::Error(format!("{fault:?}")),
        })
    }

    /// regorus' interpreter's answer.
    pub fn interpreter(&mut self, input: &serde_json::Value) -> Answer {
        let Ok(input) = Value::from_json_str(&input.to_string()) else {
            return Answer::Error("the input is not JSON".to_owned());
        };
        self.interpreter.set_input(input);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.interpreter.eval_rule(self.decision.clone())
        }));
        match outcome {
            Ok(Ok(value)) => Answer::Value(json(&value)),
            Ok(Err(error)) => Answer::Error(format!("{error:#}")),
            Err(_) => Answer::Error("the interpreter panicked".to_owned()),
        }
    }
}

fn json(value: &Value) -> Option<String> {
    match value {
        Value::Undefined => None,
        value => Some(serde_json::to_string(value).unwrap_or_default()),
    }
}
