//! Start-up: reading policies and data once and preparing the template engine.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, LimitError, Value};
use serde::Deserialize;

use super::AuthorizationError;

/// Interpreter steps between clock reads. Reading the clock costs tens of nanoseconds and a step
/// is usually more, so this keeps the limiter's overhead small while a runaway loop is still
/// noticed within microseconds of the deadline.
const TIMER_CHECK_INTERVAL: u32 = 32;

/// A policy or data document already read from disk; its path is how messages and the engine name it.
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

/// Reads every file named by `key`, failing on the first one that cannot be read.
pub(crate) fn read_all(key: &'static str, paths: &[PathBuf]) -> Result<Vec<SourceFile>, AuthorizationError> {
    paths
        .iter()
        .map(|path| match std::fs::read_to_string(path) {
            Ok(text) => Ok(SourceFile { path: path.clone(), text }),
            Err(source) => Err(AuthorizationError::Read { key, path: path.clone(), source }),
        })
        .collect()
}

/// Builds the engine every evaluation is cloned from: policies parsed, data merged, the time limit
/// set, and the decision rule evaluated once against an empty input so a rule the policies do not
/// define, or a policy that does not compile, fails start-up rather than the first request.
pub(crate) fn template(
    policies: &[SourceFile],
    data: &[SourceFile],
    decision: &str,
    timeout: Duration,
    strict_builtin_errors: bool,
) -> Result<Engine, AuthorizationError> {
    let mut engine = Engine::new();
    engine.set_strict_builtin_errors(strict_builtin_errors);
    // Before the policies, so that their calls resolve to Armature's OPA-compatible builtins.
    super::builtins::install(&mut engine, strict_builtin_errors).map_err(|error| AuthorizationError::Decision {
        rule: decision.to_owned(),
        message: format!("cannot install the builtins: {error}"),
    })?;
    for policy in policies {
        engine.add_policy(policy.path.display().to_string(), policy.text.clone()).map_err(|error| {
            AuthorizationError::Policy { path: policy.path.clone(), message: engine_message(&error) }
        })?;
    }
    for document in data {
        let value = parse_data(document)?;
        engine.add_data(value).map_err(|error| AuthorizationError::Data {
            path: document.path.clone(),
            message: engine_message(&error),
        })?;
    }
    if let Some(interval) = NonZeroU32::new(TIMER_CHECK_INTERVAL) {
        engine.set_execution_timer_config(ExecutionTimerConfig { limit: timeout, check_interval: interval });
    }

    // The first evaluation also does the engine's one-off preparation (rule indexing,
    // scheduling), which every clone then inherits instead of repeating.
    engine.set_input(Value::new_object());
    match engine.eval_rule(decision.to_owned()) {
        Ok(_) => {}
        // The rule exists and runs; it is merely slow on an empty input, which says nothing
        // about real requests.
        Err(error) if is_time_limit(&*error) => {}
        Err(error) => {
            return Err(AuthorizationError::Decision {
                rule: decision.to_owned(),
                message: format!("cannot be evaluated; is it defined by the policies? {}", engine_message(&error)),
            });
        }
    }
    Ok(engine)
}

/// A regorus error as one message, its whole chain included. Parse and evaluation errors start
/// with a line break before the source excerpt, which reads badly after a "key: " prefix.
pub(crate) fn engine_message(error: &impl std::fmt::Display) -> String {
    format!("{error:#}").trim().to_owned()
}

/// Whether a regorus error is its execution timer firing, however deeply it was wrapped.
pub(crate) fn is_time_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(LimitError::TimeLimitExceeded { .. }) = error.downcast_ref::<LimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// Parses one data document by its extension and checks it can be merged into `data`.
fn parse_data(document: &SourceFile) -> Result<Value, AuthorizationError> {
    let path = &document.path;
    let json: serde_json::Value = match extension(path).as_deref() {
        Some("json") => serde_json::from_str(&document.text).map_err(|error| AuthorizationError::Data {
            path: path.clone(),
            message: format!("invalid JSON: {error}"),
        })?,
        Some("yaml" | "yml") => serde_yaml_ng::from_str(&document.text).map_err(|error| AuthorizationError::Data {
            path: path.clone(),
            message: format!("invalid YAML: {error}"),
        })?,
        _ => {
            return Err(AuthorizationError::Data {
                path: path.clone(),
                message: "unknown format; the file name must end in .json, .yaml or .yml".to_owned(),
            })
        }
    };
    if !json.is_object() {
        return Err(AuthorizationError::DataNotObject { path: path.clone() });
    }
    Value::deserialize(&json)
        .map_err(|error| AuthorizationError::Data { path: path.clone(), message: error.to_string() })
}

fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|extension| extension.to_str()).map(str::to_ascii_lowercase)
}
