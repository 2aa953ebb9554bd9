//! Evaluating the decision rule: regorus' interpreter (the default), or its compiled virtual
//! machine (RVM, `authorization.evaluator: vm`), into which the policies are then compiled once
//! at start-up.
//!
//! An engine or a VM is mutable while it evaluates, so concurrent requests each need their own:
//! prepared ones wait in a short idle list and go back to it after a successful evaluation. With
//! one worker thread the list's lock is never contended; it costs a few nanoseconds next to an
//! evaluation. A policy the RVM compiler does not accept runs on the interpreter.

use std::num::NonZeroU32;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::VmError;
use regorus::rvm::RegoVM;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

use super::load::{self, TIMER_CHECK_INTERVAL};
use super::EvaluationError;

/// Idle evaluators kept for reuse; beyond this, returned ones are dropped. Sized well above the
/// number of worker threads that evaluate at once, so steady load never prepares a new one.
const MAX_IDLE: usize = 64;

/// Which evaluator runs the decision rule.
pub(crate) enum Evaluator {
    /// The compiled program, run by pooled VMs.
    Vm { program: Arc<Program>, data: Value, timer: ExecutionTimerConfig, idle: Mutex<Vec<RegoVM>> },
    /// The prepared interpreter engine, cloned into pooled engines.
    Interpreter { template: Box<Engine>, rule: String, idle: Mutex<Vec<Engine>> },
}

/// Why the RVM could not take a policy (the caller falls back to the interpreter).
#[derive(Debug)]
pub(crate) struct VmUnavailable(pub(crate) String);

impl Evaluator {
    /// The interpreter over a prepared engine (see `load::template`).
    pub(crate) fn interpreter(template: Engine, rule: &str) -> Self {
        Evaluator::Interpreter { template: Box::new(template), rule: rule.to_owned(), idle: Mutex::new(Vec::new()) }
    }

    /// Compiles the decision rule of a prepared engine into an RVM program, and checks that it
    /// runs on an empty input as the interpreter did.
    pub(crate) fn vm(template: &mut Engine, rule: &str, timeout: Duration) -> Result<Self, VmUnavailable> {
        let fail = |error: &dyn std::fmt::Display| VmUnavailable(load::engine_message(&error));
        let compiled = template.compile_with_entrypoint(&rule.into()).map_err(|e| fail(&e))?;
        let program = Compiler::compile_from_policy(&compiled, &[rule]).map_err(|e| fail(&e))?;
        let interval = NonZeroU32::new(TIMER_CHECK_INTERVAL).ok_or_else(|| VmUnavailable("interval".into()))?;
        let evaluator = Evaluator::Vm {
            program,
            data: template.get_data(),
            timer: ExecutionTimerConfig { limit: timeout, check_interval: interval },
            idle: Mutex::new(Vec::new()),
        };
        // The program must also accept the data and run once, or it is no use.
        let mut vm = evaluator.new_vm().map_err(|e| fail(&e))?;
        vm.set_input(Value::new_object());
        match vm.execute() {
            Ok(_) | Err(VmError::TimeLimitExceeded { .. }) => Ok(evaluator),
            Err(error) => Err(fail(&error)),
        }
    }

    /// `"vm"` or `"interpreter"`, for logs and tests.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Evaluator::Vm { .. } => "vm",
            Evaluator::Interpreter { .. } => "interpreter",
        }
    }

    fn new_vm(&self) -> Result<RegoVM, VmError> {
        let Evaluator::Vm { program, data, timer, .. } = self else {
            return Err(VmError::Internal { message: "not a VM evaluator".into(), pc: 0 });
        };
        let mut vm = RegoVM::new();
        vm.load_program(program.clone());
        vm.set_data(data.clone()).map_err(|error| VmError::Internal { message: error.to_string(), pc: 0 })?;
        // The time limit bounds a runaway evaluation; an instruction count would refuse long but
        // legitimate ones (large data sets) that finish well within it.
        vm.set_max_instructions(usize::MAX);
        vm.set_execution_timer_config(Some(*timer));
        Ok(vm)
    }

    /// Evaluates the decision rule for one input. The evaluator goes back to the idle list only
    /// after a successful evaluation: one that failed, timed out or panicked holds whatever state
    /// it was left in, and a fresh one costs less than reasoning about it.
    pub(crate) fn evaluate(&self, input: Value, timeout: Duration) -> Result<Value, EvaluationError> {
        match self {
            Evaluator::Vm { idle, .. } => {
                let vm = lock(idle).pop();
                let mut vm = match vm {
                    Some(vm) => vm,
                    None => self.new_vm().map_err(|error| EvaluationError::Failed { message: error.to_string() })?,
                };
                // A panic inside the engine must fail this request closed, not take down the worker.
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    vm.set_input(input);
                    vm.execute()
                }));
                match outcome {
                    Ok(Ok(value)) => {
                        // The input may hold a large request body; an idle VM should not keep it.
                        vm.set_input(Value::Null);
                        give_back(idle, vm);
                        Ok(value)
                    }
                    Ok(Err(VmError::TimeLimitExceeded { .. })) => Err(EvaluationError::TimedOut { limit: timeout }),
                    Ok(Err(error)) => Err(EvaluationError::Failed { message: error.to_string() }),
                    Err(_) => Err(EvaluationError::Failed { message: "the policy engine panicked".to_owned() }),
                }
            }
            Evaluator::Interpreter { template, rule, idle } => {
                let engine = lock(idle).pop();
                let mut engine = engine.unwrap_or_else(|| Engine::clone(template));
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    engine.set_input(input);
                    engine.eval_rule(rule.clone())
                }));
                match outcome {
                    Ok(Ok(value)) => {
                        engine.set_input(Value::new_object());
                        give_back(idle, engine);
                        Ok(value)
                    }
                    Ok(Err(error)) if load::is_time_limit(&*error) => Err(EvaluationError::TimedOut { limit: timeout }),
                    Ok(Err(error)) => Err(EvaluationError::Failed { message: load::engine_message(&error) }),
                    Err(_) => Err(EvaluationError::Failed { message: "the policy engine panicked".to_owned() }),
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn idle_len(&self) -> usize {
        match self {
            Evaluator::Vm { idle, .. } => lock(idle).len(),
            Evaluator::Interpreter { idle, .. } => lock(idle).len(),
        }
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
