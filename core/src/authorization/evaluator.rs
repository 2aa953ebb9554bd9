//! Evaluating the decision rule on regorus' interpreter.
//!
//! An engine is mutable while it evaluates, so concurrent requests each need their own: prepared
//! ones wait in a short idle list and go back to it after a successful evaluation. With one worker
//! thread the list's lock is never contended; it costs a few nanoseconds next to an evaluation.
//!
//! regorus' compiled VM (RVM) was offered as `authorization.evaluator: vm` until it was found to
//! answer differently from the reference semantics (no error on conflicting complete rules, a
//! builtin error turned into "undefined" even in strict mode, an `else` skipped after a failed
//! iteration): an evaluator a user can choose must give the reference's answers, so it was removed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use regorus::{Engine, Value};

use super::load;
use super::EvaluationError;

/// Idle engines kept for reuse; beyond this, returned ones are dropped. Sized well above the
/// number of worker threads that evaluate at once, so steady load never prepares a new one.
const MAX_IDLE: usize = 64;

/// The prepared interpreter engine, cloned into pooled engines.
pub(crate) struct Evaluator {
    template: Box<Engine>,
    rule: String,
    idle: Mutex<Vec<Engine>>,
}

impl Evaluator {
    /// The interpreter over a prepared engine (see `load::template`).
    pub(crate) fn interpreter(template: Engine, rule: &str) -> Self {
        Evaluator { template: Box::new(template), rule: rule.to_owned(), idle: Mutex::new(Vec::new()) }
    }

    /// Evaluates the decision rule for one input. The engine goes back to the idle list only
    /// after a successful evaluation: one that failed, timed out or panicked holds whatever state
    /// it was left in, and a fresh one costs less than reasoning about it.
    pub(crate) fn evaluate(&self, input: Value, timeout: Duration) -> Result<Value, EvaluationError> {
        let engine = lock(&self.idle).pop();
        let mut engine = engine.unwrap_or_else(|| Engine::clone(&self.template));
        // A panic inside the engine must fail this request closed, not take down the worker.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            engine.set_input(input);
            engine.eval_rule(self.rule.clone())
        }));
        match outcome {
            Ok(Ok(value)) => {
                // The input may hold a large request body; an idle engine should not keep it.
                engine.set_input(Value::new_object());
                give_back(&self.idle, engine);
                Ok(value)
            }
            Ok(Err(error)) if load::is_time_limit(&*error) => Err(EvaluationError::TimedOut { limit: timeout }),
            Ok(Err(error)) => Err(EvaluationError::Failed { message: load::engine_message(&error) }),
            Err(_) => Err(EvaluationError::Failed { message: "the policy engine panicked".to_owned() }),
        }
    }

    #[cfg(test)]
    pub(crate) fn idle_len(&self) -> usize {
        lock(&self.idle).len()
    }
}

fn give_back<T>(idle: &Mutex<Vec<T>>, item: T) {
    let mut idle = lock(idle);
    if idle.len() < MAX_IDLE {
        idle.push(item);
    }
}

/// A poisoned lock here only means another thread panicked while pushing or popping the `Vec`,
/// which never leaves it half-changed, so the data is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
