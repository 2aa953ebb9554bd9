//! The compiled evaluator: a policy lowered once from regorus' parse tree (at load and at every
//! reload) into a form with every name resolved ([`ir`]), specialized per contract operation
//! ([`fold`]), and evaluated against a request's input read lazily ([`eval`], `super::view`),
//! with OPA's semantics.
//!
//! It covers what authorization policies use: complete, partial set and partial object rules,
//! functions, `default`, `else` chains, `some`/`in`/`every`, comprehensions, `not`, imports of
//! `data` and `input`, and every builtin but those whose value is not a function of their
//! arguments. A policy using anything else (`with`, `print`, `http.send`, time, randomness, a
//! package's whole document, a ref head) is refused with the construct and its line
//! ([`Unsupported`]), and runs on regorus' interpreter instead.

mod eval;
mod fold;
mod guards;
mod ir;
mod lower;
mod resolve;

use std::time::Duration;

use regorus::unstable::{Module, Ref};
use regorus::Value;

use super::view::InputView;
use ir::Program;

pub(crate) use eval::Fault;
pub(crate) use lower::Unsupported;

/// A policy set compiled for one decision rule.
#[derive(Debug)]
pub(crate) struct CompiledPolicy {
    /// As lowered: what each operation's plan is folded from.
    program: Program,
    /// The same with its input places resolved: what runs without a plan.
    general: Program,
    strict: bool,
    timeout: Duration,
}

/// One operation's way to its decision: a constant, or the program specialized for it.
#[derive(Debug)]
pub(crate) enum OperationPlan {
    Constant(Result<Value, Fault>),
    Program(Box<Program>),
}

impl CompiledPolicy {
    /// Compiles the modules regorus parsed (`Engine::get_modules`) with the data document, for
    /// `decision`; `strict`: OPA's strict builtin-error mode.
    pub(crate) fn compile(
        modules: &[Ref<Module>],
        data: &Value,
        decision: &str,
        strict: bool,
        timeout: Duration,
    ) -> Result<Self, Unsupported> {
        let program = lower::lower(modules, data, decision)?;
        let mut general = program.clone();
        resolve::resolve_inputs(&mut general);
        Ok(CompiledPolicy { program, general, strict, timeout })
    }

    /// The plan of an operation whose `input.operation` holds `operation` (`complete`: all of
    /// it, `path_params` included, for a template without parameters).
    pub(crate) fn plan(&self, operation: Value, complete: bool) -> OperationPlan {
        let facts = fold::OperationFacts { operation, complete };
        match fold::specialize(&self.program, &facts, self.strict, self.timeout) {
            fold::Folded::Constant(result) => OperationPlan::Constant(result),
            fold::Folded::Program(mut program) => {
                resolve::resolve_inputs(&mut program);
                OperationPlan::Program(Box::new(program))
            }
        }
    }

    /// The values the decision rule can only take as written in the policy (the constant
    /// values of its branches, its default): their decisions can be read once, ahead.
    pub(crate) fn constant_results(&self, plan: &OperationPlan) -> Vec<Value> {
        let program = match plan {
            OperationPlan::Constant(_) => return Vec::new(),
            OperationPlan::Program(program) => program,
        };
        let rule = &program.rules[program.entry];
        let mut values: Vec<Value> = rule.default.iter().cloned().collect();
        for branch in rule.definitions.iter().flat_map(|definition| &definition.branches) {
            match &branch.value {
                Some(ir::Term::Const(value)) => values.push(value.clone()),
                None => values.push(Value::Bool(true)),
                Some(_) => {}
            }
        }
        values.dedup();
        values
    }

    /// The decision rule's value for one request, on its operation's plan (the general program
    /// without one).
    pub(crate) fn evaluate(&self, plan: Option<&OperationPlan>, view: &InputView<'_>) -> Result<Value, Fault> {
        let program = match plan {
            Some(OperationPlan::Constant(result)) => return result.clone(),
            Some(OperationPlan::Program(program)) => program,
            None => &self.general,
        };
        eval::Evaluation::new(program, eval::Source::View(view), self.strict, self.timeout).decide()
    }

    /// The decision rule's value for a whole input document (tests, the equivalence fuzzer).
    pub(crate) fn evaluate_document(&self, input: &Value) -> Result<Value, Fault> {
        eval::Evaluation::new(&self.general, eval::Source::Document(input), self.strict, self.timeout).decide()
    }
}
