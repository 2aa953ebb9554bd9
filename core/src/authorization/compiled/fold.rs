//! Per-operation constant folding: what `input.operation` holds (`id`, `tags`, `path_template`,
//! and `path_params` for a template without parameters) is known for every request an
//! operation gets, so it is substituted when the operation's plan is made, and every expression,
//! literal and branch that becomes constant is decided then. A rule that no longer reads the
//! input is evaluated once and becomes its value; when the decision rule is one of them, the
//! operation's decision is a constant and evaluating it costs nothing per request.

use std::time::Duration;

use regorus::Value;

use super::super::rego_value::index;
use super::eval::{arithmetic, compare, holds, member, Evaluation, Fault, Source};
use super::ir::{Body, Branch, Literal, Pattern, Program, RuleKind, Term};

/// What `input.operation` is known to hold for one operation.
pub(crate) struct OperationFacts {
    /// `input.operation`'s known fields: `id`, `tags`, `path_template`, and `path_params` when
    /// the template has none (it is `{}` then).
    pub operation: Value,
    /// Whether `operation` is the whole of `input.operation`.
    pub complete: bool,
}

/// An operation's specialized program, or its decision when that is a constant.
pub(crate) enum Folded {
    Constant(Result<Value, Fault>),
    Program(Program),
}

/// Specializes `program` for one operation.
pub(crate) fn specialize(program: &Program, facts: &OperationFacts, strict: bool, timeout: Duration) -> Folded {
    let mut program = program.clone();
    let mut constants: Vec<Option<Value>> = vec![None; program.rules.len()];
    // Each round can make rules constant that the next round substitutes; a policy's rule
    // dependencies are shallow, and a bound keeps a pathological one from taking long.
    for _ in 0..8 {
        let folder = Folder { facts, constants: &constants };
        for rule in &mut program.rules {
            for definition in &mut rule.definitions {
                definition.branches.retain_mut(|branch| folder.branch(branch));
                if let Some(always) = definition.branches.iter().position(always_holds) {
                    definition.branches.truncate(always + 1);
                }
            }
            rule.definitions.retain(|definition| !definition.branches.is_empty());
        }
        let mut changed = false;
        for (id, constant) in constants.iter_mut().enumerate() {
            if constant.is_some() || matches!(program.rules[id].kind, RuleKind::Function(_)) {
                continue;
            }
            let mut trial = Evaluation::new(&program, Source::Unknown, strict, timeout);
            if let Ok(value) = trial.rule(id) {
                *constant = Some(value);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let trial = Evaluation::new(&program, Source::Unknown, strict, timeout).decide();
    match trial {
        Err(Fault::Unknown) => Folded::Program(program),
        result => Folded::Constant(result),
    }
}

/// Whether a branch holds whatever the request: no body left, no parameters to match, and a
/// head known to be defined (an undefined value makes OPA try the `else`).
fn always_holds(branch: &Branch) -> bool {
    let defined = |term: &Option<Term>| match term {
        None => true,
        Some(Term::Const(value)) => *value != Value::Undefined,
        Some(_) => false,
    };
    branch.body.literals.is_empty()
        && branch.guards.is_empty()
        && branch.args.is_empty()
        && defined(&branch.key)
        && defined(&branch.value)
}

struct Folder<'f> {
    facts: &'f OperationFacts,
    /// Rules whose value is known.
    constants: &'f [Option<Value>],
}

/// What folding made of a body.
#[derive(PartialEq)]
enum Outcome {
    /// It can never hold.
    Dead,
    /// It may hold; some literals remain.
    Open,
}

impl Folder<'_> {
    /// Folds one branch; false when it can never hold.
    fn branch(&self, branch: &mut Branch) -> bool {
        for arg in &mut branch.args {
            self.pattern(arg);
        }
        let mut guards = Body { literals: std::mem::take(&mut branch.guards) };
        if self.body(&mut guards) == Outcome::Dead {
            return false;
        }
        branch.guards = guards.literals;
        if self.body(&mut branch.body) == Outcome::Dead {
            return false;
        }
        if let Some(key) = &mut branch.key {
            self.term(key);
        }
        if let Some(value) = &mut branch.value {
            self.term(value);
        }
        true
    }

    fn body(&self, body: &mut Body) -> Outcome {
        let mut kept = Vec::with_capacity(body.literals.len());
        for mut literal in std::mem::take(&mut body.literals) {
            match self.literal(&mut literal) {
                Some(true) => {}
                Some(false) => {
                    // Still a body that never holds, for whoever keeps it (a comprehension).
                    body.literals = vec![Literal::Expr(Term::Const(Value::Bool(false)))];
                    return Outcome::Dead;
                }
                None => kept.push(literal),
            }
        }
        body.literals = kept;
        Outcome::Open
    }

    /// Folds a literal: Some(true) when it always holds (and binds nothing), Some(false) when it
    /// never does, None when it depends on the request.
    fn literal(&self, literal: &mut Literal) -> Option<bool> {
        match literal {
            Literal::Expr(term) => {
                self.term(term);
                match term {
                    Term::Const(value) => Some(holds(value)),
                    _ => None,
                }
            }
            Literal::Not(body) => match self.body(body) {
                Outcome::Dead => Some(true),
                Outcome::Open if body.literals.is_empty() => Some(false),
                Outcome::Open => None,
            },
            Literal::Bind(pattern, term) => {
                self.pattern(pattern);
                self.term(term);
                match (&*pattern, &*term) {
                    (_, Term::Const(Value::Undefined)) => Some(false),
                    (Pattern::Wildcard, Term::Const(_)) => Some(true),
                    (Pattern::Value(Term::Const(expected)), Term::Const(value)) => Some(expected == value),
                    _ => None,
                }
            }
            Literal::Each { collection, key, value } => {
                self.term(collection);
                if let Some(key) = key {
                    self.pattern(key);
                }
                self.pattern(value);
                match collection {
                    Term::Const(Value::Array(items)) if items.is_empty() => Some(false),
                    Term::Const(Value::Set(items)) if items.is_empty() => Some(false),
                    Term::Const(Value::Object(fields)) if fields.is_empty() => Some(false),
                    Term::Const(Value::Array(_) | Value::Set(_) | Value::Object(_)) => None,
                    Term::Const(_) => Some(false),
                    _ => None,
                }
            }
            Literal::Every { domain, body, .. } => {
                self.term(domain);
                self.body(body);
                None
            }
        }
    }

    fn pattern(&self, pattern: &mut Pattern) {
        match pattern {
            Pattern::Value(term) => self.term(term),
            Pattern::Array(items) => items.iter_mut().for_each(|item| self.pattern(item)),
            Pattern::Bind(_) | Pattern::Wildcard => {}
        }
    }

    /// Folds a term in place, children first.
    fn term(&self, term: &mut Term) {
        let folded = match term {
            Term::Const(_) | Term::Local(_) => None,
            Term::Input(path) => {
                path.iter_mut().for_each(|key| self.term(key));
                self.input(path)
            }
            // Only made after folding (`resolve`).
            Term::InputAt(placed) => {
                placed.rest.iter_mut().for_each(|key| self.term(key));
                None
            }
            Term::Rule(id, path) => {
                path.iter_mut().for_each(|key| self.term(key));
                match &self.constants[*id] {
                    Some(value) => constant_path(value.clone(), path),
                    None => None,
                }
            }
            Term::Index(collection, key) => {
                self.term(collection);
                self.term(key);
                match (&**collection, &**key) {
                    (Term::Const(collection), Term::Const(key)) => Some(index(collection, key)),
                    _ => None,
                }
            }
            Term::Array(items) | Term::Set(items) => {
                items.iter_mut().for_each(|item| self.term(item));
                None
            }
            Term::Object(fields) => {
                for (key, value) in fields.iter_mut() {
                    self.term(key);
                    self.term(value);
                }
                None
            }
            Term::Builtin(call) => {
                call.args.iter_mut().for_each(|arg| self.term(arg));
                let args: Option<Vec<Value>> = call
                    .args
                    .iter()
                    .map(|arg| match arg {
                        Term::Const(value) => Some(value.clone()),
                        _ => None,
                    })
                    .collect();
                match args {
                    Some(args) if args.contains(&Value::Undefined) => Some(Value::Undefined),
                    // A failing call is left to run: whether it is an error depends on the mode.
                    Some(args) => call.builtin.call(&call.span, &call.params, &args).ok(),
                    None => None,
                }
            }
            Term::Function(_, args) => {
                args.iter_mut().for_each(|arg| self.term(arg));
                None
            }
            Term::Arith(op, left, right) => {
                self.term(left);
                self.term(right);
                match (&**left, &**right) {
                    (Term::Const(Value::Undefined), _) | (_, Term::Const(Value::Undefined)) => Some(Value::Undefined),
                    (Term::Const(left), Term::Const(right)) => arithmetic(op, left, right).ok(),
                    _ => None,
                }
            }
            Term::SetOp(_, left, right) => {
                self.term(left);
                self.term(right);
                None
            }
            Term::Compare(op, left, right) => {
                self.term(left);
                self.term(right);
                match (&**left, &**right) {
                    (Term::Const(Value::Undefined), _) | (_, Term::Const(Value::Undefined)) => Some(Value::Undefined),
                    (Term::Const(left), Term::Const(right)) => Some(Value::Bool(compare(op, left, right))),
                    _ => None,
                }
            }
            Term::Member { key, value, collection } => {
                if let Some(key) = key {
                    self.term(key);
                }
                self.term(value);
                self.term(collection);
                let key = match key.as_deref() {
                    None => Some(None),
                    Some(Term::Const(key)) => Some(Some(key)),
                    Some(_) => None,
                };
                match (key, &**value, &**collection) {
                    (Some(key), Term::Const(value), Term::Const(collection)) => {
                        if *value == Value::Undefined
                            || *collection == Value::Undefined
                            || key == Some(&Value::Undefined)
                        {
                            Some(Value::Undefined)
                        } else {
                            Some(Value::Bool(member(key, value, collection)))
                        }
                    }
                    _ => None,
                }
            }
            Term::ArrayCompr { term: head, body } | Term::SetCompr { term: head, body } => {
                self.body(body);
                self.term(head);
                None
            }
            Term::ObjectCompr { key, value, body } => {
                self.body(body);
                self.term(key);
                self.term(value);
                None
            }
        };
        if let Some(value) = folded {
            *term = Term::Const(value);
        }
    }

    /// `input.operation...` when the operation's facts answer it.
    fn input(&self, path: &[Term]) -> Option<Value> {
        let (first, rest) = path.split_first()?;
        let Term::Const(Value::String(name)) = first else { return None };
        if &**name != "operation" || (rest.is_empty() && !self.facts.complete) {
            return None;
        }
        let mut value = self.facts.operation.clone();
        for key in rest {
            let Term::Const(key) = key else { return None };
            let Value::Object(known) = &value else {
                return Some(index(&value, key));
            };
            // A field the facts do not hold (path_params with parameters) is the request's.
            value = known.get(key).cloned()?;
        }
        Some(value)
    }
}

fn constant_path(mut value: Value, path: &[Term]) -> Option<Value> {
    for key in path {
        let Term::Const(key) = key else { return None };
        value = index(&value, key);
    }
    Some(value)
}
