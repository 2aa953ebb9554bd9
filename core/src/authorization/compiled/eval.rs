//! Evaluating a compiled [`Program`] with OPA's semantics.
//!
//! A body is solved by backtracking: each literal narrows or extends the bindings of the rule's
//! frame and hands every solution to a continuation. Locals are bound before they are read (the
//! compiler checks), so a binding never needs undoing: the next solution overwrites it.
//!
//! What OPA defines, and this follows:
//! - an expression holds when it is defined and not `false`; `not` holds when its body has no
//!   solution (so `not f(input.missing)` holds);
//! - a complete rule (or function) whose bodies give two different values is a conflict, an
//!   error, as is a partial object with two values for one key; only the keys a lookup asks
//!   for are evaluated (`limits.b` does not see a conflict on `limits.a`);
//! - a partial set or object that no body adds to is empty, not undefined;
//! - an `else` chain gives the value of its first branch whose body holds;
//! - a builtin that fails (an operator on the wrong types included) makes its expression
//!   undefined, or fails the evaluation in strict mode.
//!
//! Rule values are computed once per evaluation. The time limit is enforced by counting steps
//! and reading the clock every [`CLOCK_INTERVAL`] of them, so the common evaluation, far
//! shorter, never reads it.

use std::time::{Duration, Instant};

use regorus::unstable::{ArithOp, BinOp, BoolOp};
use regorus::Value;

use super::super::rego_value::{array_index, index};
use super::super::view::{Cursor, InputView};
use super::ir::{Body, Call, Literal, Pattern, PlacedInput, Program, RuleId, RuleKind, Term};

/// Steps (literals tried, members iterated) between reads of the clock.
const CLOCK_INTERVAL: u64 = 4096;

/// Deepest nesting of rule and function calls; Rego has no recursion, so only a runaway policy
/// the compiler did not catch reaches it.
const MAX_DEPTH: usize = 256;

/// Why an evaluation has no value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fault {
    /// Conflicting values, a builtin error in strict mode: OPA's evaluation errors.
    Error(String),
    /// The time limit passed.
    TimedOut,
    /// Folding only: the value depends on the request.
    Unknown,
}

type Solved<T> = Result<T, Fault>;

/// Where `input` comes from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'r> {
    /// A request, read lazily.
    View(&'r InputView<'r>),
    /// A whole input document (tests, the equivalence fuzzer).
    Document(&'r Value),
    /// None: folding at load time, where reading the input means "not a constant".
    Unknown,
}

/// Per-rule state within one evaluation.
#[derive(Clone)]
enum Memo {
    Empty,
    Busy,
    Done(Value),
}

/// One evaluation of a program.
pub(crate) struct Evaluation<'p, 'r> {
    program: &'p Program,
    source: Source<'r>,
    strict: bool,
    memo: Vec<Memo>,
    slots: Vec<Value>,
    depth: usize,
    steps: u64,
    timeout: Duration,
    started: Option<Instant>,
}

thread_local! {
    /// The memo and slot vectors of the thread's last evaluation, emptied, for its next one:
    /// an evaluation then allocates nothing of its own.
    static SCRATCH: std::cell::Cell<Option<(Vec<Memo>, Vec<Value>)>> = const { std::cell::Cell::new(None) };
}

impl Drop for Evaluation<'_, '_> {
    fn drop(&mut self) {
        let mut memo = std::mem::take(&mut self.memo);
        let mut slots = std::mem::take(&mut self.slots);
        memo.clear();
        slots.clear();
        SCRATCH.with(|scratch| scratch.set(Some((memo, slots))));
    }
}

impl<'p, 'r> Evaluation<'p, 'r> {
    pub(crate) fn new(program: &'p Program, source: Source<'r>, strict: bool, timeout: Duration) -> Self {
        let (mut memo, slots) =
            SCRATCH.with(|scratch| scratch.take()).unwrap_or_else(|| (Vec::new(), Vec::with_capacity(32)));
        memo.resize(program.rules.len(), Memo::Empty);
        Evaluation { program, source, strict, memo, slots, depth: 0, steps: 0, timeout, started: None }
    }

    /// The decision rule's value ([`Value::Undefined`] when it has none).
    pub(crate) fn decide(&mut self) -> Solved<Value> {
        self.rule_value(self.program.entry)
    }

    /// One rule's value, for folding.
    pub(crate) fn rule(&mut self, id: RuleId) -> Solved<Value> {
        self.rule_value(id)
    }

    fn step(&mut self) -> Solved<()> {
        self.steps += 1;
        if self.steps % CLOCK_INTERVAL == 0 {
            match self.started {
                // The clock starts at the first check: what ran before is at most one interval.
                None => self.started = Some(Instant::now()),
                Some(started) if started.elapsed() > self.timeout => return Err(Fault::TimedOut),
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn push_frame(&mut self, locals: usize) -> Solved<usize> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Fault::Error("rules or functions nested too deeply".to_owned()));
        }
        let base = self.slots.len();
        self.slots.resize(base + locals, Value::Undefined);
        Ok(base)
    }

    fn pop_frame(&mut self, base: usize) {
        self.depth -= 1;
        self.slots.truncate(base);
    }

    // ---- rules ----

    fn rule_value(&mut self, id: RuleId) -> Solved<Value> {
        match &self.memo[id] {
            Memo::Done(value) => return Ok(value.clone()),
            Memo::Busy => return Err(Fault::Error(format!("{} depends on itself", self.program.rules[id].path))),
            Memo::Empty => {}
        }
        self.memo[id] = Memo::Busy;
        let result = self.compute_rule(id);
        self.memo[id] = match &result {
            Ok(value) => Memo::Done(value.clone()),
            Err(_) => Memo::Empty,
        };
        result
    }

    fn compute_rule(&mut self, id: RuleId) -> Solved<Value> {
        let program = self.program;
        let rule = &program.rules[id];
        let base = self.push_frame(rule.locals)?;
        let result = match rule.kind {
            RuleKind::Complete => self.complete(id, base, &[]),
            RuleKind::PartialSet => self.partial_set(id, base),
            RuleKind::PartialObject => self.partial_object(id, base, None),
            RuleKind::Function(_) => Err(Fault::Error(format!("{} is a function", rule.path))),
        };
        self.pop_frame(base);
        result
    }

    /// A complete rule's value, or a function's for `args`: the first holding branch of each
    /// definition gives a value; different values conflict.
    fn complete(&mut self, id: RuleId, base: usize, args: &[Value]) -> Solved<Value> {
        let program = self.program;
        let rule = &program.rules[id];
        let mut result: Option<Value> = None;
        for definition in &rule.definitions {
            for branch in &definition.branches {
                if !self.match_args(&branch.args, args, base)? || !self.guards_hold(&branch.guards, base)? {
                    continue;
                }
                // A constant value is the same in every solution: the first one is enough.
                let first_only = matches!(branch.value, None | Some(Term::Const(_)));
                let mut held = false;
                let mut found = |this: &mut Self| -> Solved<bool> {
                    let value = match &branch.value {
                        None => Value::Bool(true),
                        Some(term) => this.value(term, base)?,
                    };
                    // OPA evaluates the head's value as part of the body: undefined, the branch
                    // does not hold and the `else` is tried.
                    if value == Value::Undefined {
                        return Ok(false);
                    }
                    held = true;
                    match &result {
                        None => result = Some(value),
                        Some(existing) if *existing == value => {}
                        Some(_) => return Err(conflict(rule)),
                    }
                    Ok(first_only)
                };
                self.body(&branch.body.literals, base, &mut found)?;
                if held {
                    break;
                }
            }
        }
        Ok(match result {
            Some(value) => value,
            None => rule.default.clone().unwrap_or(Value::Undefined),
        })
    }

    fn partial_set(&mut self, id: RuleId, base: usize) -> Solved<Value> {
        let program = self.program;
        let rule = &program.rules[id];
        let mut members = std::collections::BTreeSet::new();
        for definition in &rule.definitions {
            for branch in &definition.branches {
                let Some(key) = &branch.key else { continue };
                if !self.guards_hold(&branch.guards, base)? {
                    continue;
                }
                let mut held = false;
                let mut found = |this: &mut Self| -> Solved<bool> {
                    let member = this.value(key, base)?;
                    if member != Value::Undefined {
                        held = true;
                        members.insert(member);
                    }
                    Ok(false)
                };
                self.body(&branch.body.literals, base, &mut found)?;
                if held {
                    break;
                }
            }
        }
        Ok(Value::from(members))
    }

    /// A partial object's value, or (`only`) its entry for one key, evaluating just the
    /// branches whose key can be it.
    fn partial_object(&mut self, id: RuleId, base: usize, only: Option<&Value>) -> Solved<Value> {
        let program = self.program;
        let rule = &program.rules[id];
        let mut entries = std::collections::BTreeMap::new();
        for definition in &rule.definitions {
            for branch in &definition.branches {
                let (Some(key_term), Some(value_term)) = (&branch.key, &branch.value) else { continue };
                if !self.guards_hold(&branch.guards, base)? {
                    continue;
                }
                if let (Some(only), Term::Const(constant)) = (only, key_term) {
                    if constant != only {
                        continue;
                    }
                }
                let mut held = false;
                let mut found = |this: &mut Self| -> Solved<bool> {
                    let key = this.value(key_term, base)?;
                    if key == Value::Undefined || only.is_some_and(|only| *only != key) {
                        return Ok(false);
                    }
                    let value = this.value(value_term, base)?;
                    if value == Value::Undefined {
                        return Ok(false);
                    }
                    held = true;
                    match entries.get(&key) {
                        None => {
                            entries.insert(key, value);
                        }
                        Some(existing) if *existing == value => {}
                        Some(_) => {
                            return Err(Fault::Error(format!(
                                "{}: object keys must be unique ({} has two values)",
                                rule.path, rule.location
                            )))
                        }
                    }
                    Ok(false)
                };
                self.body(&branch.body.literals, base, &mut found)?;
                if held {
                    break;
                }
            }
        }
        Ok(match only {
            Some(key) => entries.remove(key).unwrap_or(Value::Undefined),
            None => Value::from(entries),
        })
    }

    fn call_function(&mut self, id: RuleId, args: &[Value]) -> Solved<Value> {
        let program = self.program;
        let base = self.push_frame(program.rules[id].locals)?;
        let result = self.complete(id, base, args);
        self.pop_frame(base);
        result
    }

    fn match_args(&mut self, patterns: &[Pattern], args: &[Value], base: usize) -> Solved<bool> {
        for (pattern, arg) in patterns.iter().zip(args) {
            if !self.matches(pattern, arg, base)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether a branch's index conditions hold. One that fails to evaluate (`startswith` of a
    /// number) rules the branch out, as OPA's index does for a scalar it cannot match, except
    /// when the value looked up is a composite (`startswith` of an object): OPA's index does not
    /// index those, evaluates the body, and so raises its error in strict mode (both found by
    /// the equivalence fuzzer's corpus against OPA). While folding, a condition that depends on
    /// the request leaves the branch unknown.
    fn guards_hold(&mut self, guards: &[Literal], base: usize) -> Solved<bool> {
        for guard in guards {
            let held = match guard {
                Literal::Expr(term) => match self.value(term, base) {
                    Ok(value) => holds(&value),
                    Err(Fault::Unknown) => return Err(Fault::Unknown),
                    Err(_) => self.looks_up_a_composite(term, base),
                },
                Literal::Bind(pattern, term) => match self.value(term, base) {
                    Ok(value) if value != Value::Undefined => match self.matches(pattern, &value, base) {
                        Ok(matched) => matched,
                        Err(Fault::Unknown) => return Err(Fault::Unknown),
                        Err(_) => true,
                    },
                    Err(Fault::Unknown) => return Err(Fault::Unknown),
                    Err(_) => true,
                    Ok(_) => false,
                },
                _ => true,
            };
            if !held {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether the value an indexed builtin guard looks up (`startswith`/`endswith`'s first
    /// operand, `glob.match`'s third) is an array, set or object.
    fn looks_up_a_composite(&mut self, term: &Term, base: usize) -> bool {
        let Term::Builtin(call) = term else { return false };
        let subject = match call.builtin.name() {
            "glob.match" => call.args.get(2),
            _ => call.args.first(),
        };
        match subject.map(|subject| self.value(subject, base)) {
            Some(Ok(value)) => matches!(value, Value::Array(_) | Value::Set(_) | Value::Object(_)),
            _ => false,
        }
    }

    // ---- bodies ----

    /// Solves `literals` in order, calling `found` on each solution until it returns true
    /// ("enough"); returns whether it did.
    fn body(
        &mut self,
        literals: &[Literal],
        base: usize,
        found: &mut dyn FnMut(&mut Self) -> Solved<bool>,
    ) -> Solved<bool> {
        let Some((literal, rest)) = literals.split_first() else {
            return found(self);
        };
        self.step()?;
        match literal {
            Literal::Expr(term) => {
                if holds(&self.value(term, base)?) {
                    self.body(rest, base, found)
                } else {
                    Ok(false)
                }
            }
            Literal::Not(inner) => {
                if self.exists(inner, base)? {
                    Ok(false)
                } else {
                    self.body(rest, base, found)
                }
            }
            Literal::Bind(pattern, term) => {
                let value = self.value(term, base)?;
                if value != Value::Undefined && self.matches(pattern, &value, base)? {
                    self.body(rest, base, found)
                } else {
                    Ok(false)
                }
            }
            Literal::Each { collection, key, value } => {
                let collection = self.value(collection, base)?;
                self.each(&collection, key.as_ref(), value, rest, base, found)
            }
            Literal::Every { key, value, domain, body } => {
                let domain = self.value(domain, base)?;
                let all = match &domain {
                    Value::Array(items) => {
                        let mut all = true;
                        for (index, item) in items.iter().enumerate() {
                            if !self.every_member(*key, *value, Value::from(index as u64), item.clone(), body, base)? {
                                all = false;
                                break;
                            }
                        }
                        all
                    }
                    Value::Set(items) => {
                        let mut all = true;
                        for item in items.iter() {
                            if !self.every_member(*key, *value, item.clone(), item.clone(), body, base)? {
                                all = false;
                                break;
                            }
                        }
                        all
                    }
                    Value::Object(fields) => {
                        let mut all = true;
                        for (name, item) in fields.iter() {
                            if !self.every_member(*key, *value, name.clone(), item.clone(), body, base)? {
                                all = false;
                                break;
                            }
                        }
                        all
                    }
                    // OPA: `every` over something that is not a collection (or undefined) fails.
                    _ => false,
                };
                if all {
                    self.body(rest, base, found)
                } else {
                    Ok(false)
                }
            }
        }
    }

    fn every_member(
        &mut self,
        key: Option<usize>,
        value: usize,
        member_key: Value,
        member: Value,
        body: &Body,
        base: usize,
    ) -> Solved<bool> {
        if let Some(key) = key {
            self.slots[base + key] = member_key;
        }
        self.slots[base + value] = member;
        self.exists(body, base)
    }

    /// One solution per member of `collection` that matches the patterns.
    fn each(
        &mut self,
        collection: &Value,
        key: Option<&Pattern>,
        value: &Pattern,
        rest: &[Literal],
        base: usize,
        found: &mut dyn FnMut(&mut Self) -> Solved<bool>,
    ) -> Solved<bool> {
        match collection {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.step()?;
                    if let Some(key) = key {
                        if !self.matches(key, &Value::from(index as u64), base)? {
                            continue;
                        }
                    }
                    if self.matches(value, item, base)? && self.body(rest, base, found)? {
                        return Ok(true);
                    }
                }
            }
            Value::Set(items) => {
                for item in items.iter() {
                    self.step()?;
                    if let Some(key) = key {
                        if !self.matches(key, item, base)? {
                            continue;
                        }
                    }
                    if self.matches(value, item, base)? && self.body(rest, base, found)? {
                        return Ok(true);
                    }
                }
            }
            Value::Object(fields) => {
                for (name, item) in fields.iter() {
                    self.step()?;
                    if let Some(key) = key {
                        if !self.matches(key, name, base)? {
                            continue;
                        }
                    }
                    if self.matches(value, item, base)? && self.body(rest, base, found)? {
                        return Ok(true);
                    }
                }
            }
            _ => {}
        }
        Ok(false)
    }

    fn exists(&mut self, body: &Body, base: usize) -> Solved<bool> {
        self.body(&body.literals, base, &mut |_| Ok(true))
    }

    /// Matches `value` against `pattern`, binding what it binds.
    fn matches(&mut self, pattern: &Pattern, value: &Value, base: usize) -> Solved<bool> {
        match pattern {
            Pattern::Bind(slot) => {
                self.slots[base + slot] = value.clone();
                Ok(true)
            }
            Pattern::Wildcard => Ok(true),
            Pattern::Value(term) => Ok(self.value(term, base)? == *value),
            Pattern::Array(patterns) => {
                let Value::Array(items) = value else { return Ok(false) };
                if items.len() != patterns.len() {
                    return Ok(false);
                }
                for (pattern, item) in patterns.iter().zip(items.iter()) {
                    if !self.matches(pattern, item, base)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }

    // ---- terms ----

    /// A term's value; [`Value::Undefined`] when it has none.
    pub(crate) fn value(&mut self, term: &Term, base: usize) -> Solved<Value> {
        // The terms authorization policies are mostly made of are handled here; the rest in
        // `composite`, kept out of line so this frequent, recursive function stays small.
        Ok(match term {
            Term::Const(value) => value.clone(),
            Term::Local(slot) => self.slots[base + slot].clone(),
            Term::InputAt(placed) => self.input_at(placed, base)?,
            Term::Compare(op, left, right) => {
                let left = self.operand(left, base)?;
                let right = self.operand(right, base)?;
                if *left == Value::Undefined || *right == Value::Undefined {
                    return Ok(Value::Undefined);
                }
                Value::Bool(compare(op, &left, &right))
            }
            Term::Member { key, value, collection } => {
                let collection = self.operand(collection, base)?;
                let value = self.operand(value, base)?;
                let key = match key {
                    Some(key) => Some(self.value(key, base)?),
                    None => None,
                };
                if *collection == Value::Undefined || *value == Value::Undefined || key == Some(Value::Undefined) {
                    return Ok(Value::Undefined);
                }
                Value::Bool(member(key.as_ref(), &value, &collection))
            }
            _ => self.composite(term, base)?,
        })
    }

    /// A term's value, borrowed when it is a constant (no reference count touched).
    fn operand<'t>(&mut self, term: &'t Term, base: usize) -> Solved<std::borrow::Cow<'t, Value>> {
        match term {
            Term::Const(value) => Ok(std::borrow::Cow::Borrowed(value)),
            other => Ok(std::borrow::Cow::Owned(self.value(other, base)?)),
        }
    }

    #[inline(never)]
    fn composite(&mut self, term: &Term, base: usize) -> Solved<Value> {
        Ok(match term {
            Term::Input(path) => self.input(path, base)?,
            Term::Const(_) | Term::Local(_) | Term::InputAt(_) | Term::Compare(..) | Term::Member { .. } => {
                return self.value(term, base);
            }
            Term::Rule(id, path) => {
                let program = self.program;
                let rule = &program.rules[*id];
                match (rule.kind, path.split_first()) {
                    // Only the entry asked for: lazily, as OPA evaluates a partial object.
                    (RuleKind::PartialObject, Some((key, rest))) if !matches!(self.memo[*id], Memo::Done(_)) => {
                        let key = self.value(key, base)?;
                        if key == Value::Undefined {
                            return Ok(Value::Undefined);
                        }
                        let frame = self.push_frame(rule.locals)?;
                        let entry = self.partial_object(*id, frame, Some(&key));
                        self.pop_frame(frame);
                        self.path(entry?, rest, base)?
                    }
                    _ => {
                        let value = self.rule_value(*id)?;
                        self.path(value, path, base)?
                    }
                }
            }
            Term::Index(collection, key) => {
                let collection = self.value(collection, base)?;
                let key = self.value(key, base)?;
                index(&collection, &key)
            }
            Term::Array(items) => match self.all_defined(items, base)? {
                Some(values) => Value::from(values),
                None => Value::Undefined,
            },
            Term::Set(items) => match self.all_defined(items, base)? {
                Some(values) => Value::from(values.into_iter().collect::<std::collections::BTreeSet<_>>()),
                None => Value::Undefined,
            },
            Term::Object(fields) => {
                let mut object = std::collections::BTreeMap::new();
                for (key, item) in fields {
                    let (key, value) = (self.value(key, base)?, self.value(item, base)?);
                    if key == Value::Undefined || value == Value::Undefined {
                        return Ok(Value::Undefined);
                    }
                    object.insert(key, value);
                }
                Value::from(object)
            }
            Term::Builtin(call) => self.builtin(call, base)?,
            // OPA: a function of an undefined argument is undefined, not called.
            Term::Function(id, args) => match self.all_defined(args, base)? {
                Some(values) => self.call_function(*id, &values)?,
                None => Value::Undefined,
            },
            Term::Arith(op, left, right) => {
                let (left, right) = (self.value(left, base)?, self.value(right, base)?);
                if left == Value::Undefined || right == Value::Undefined {
                    return Ok(Value::Undefined);
                }
                let result = arithmetic(op, &left, &right);
                self.builtin_result(result)?
            }
            Term::SetOp(op, left, right) => {
                let (left, right) = (self.value(left, base)?, self.value(right, base)?);
                if left == Value::Undefined || right == Value::Undefined {
                    return Ok(Value::Undefined);
                }
                let result = match (&left, &right) {
                    (Value::Set(left), Value::Set(right)) => Ok(Value::from(match op {
                        BinOp::Union => left.union(right),
                        BinOp::Intersection => left.intersection(right),
                    })),
                    _ => {
                        Err(format!("{}: operands must be sets", if matches!(op, BinOp::Union) { "or" } else { "and" }))
                    }
                };
                self.builtin_result(result)?
            }
            Term::ArrayCompr { term, body } => {
                let mut values = Vec::new();
                self.body(&body.literals, base, &mut |this| {
                    let value = this.value(term, base)?;
                    if value != Value::Undefined {
                        values.push(value);
                    }
                    Ok(false)
                })?;
                Value::from(values)
            }
            Term::SetCompr { term, body } => {
                let mut values = std::collections::BTreeSet::new();
                self.body(&body.literals, base, &mut |this| {
                    let value = this.value(term, base)?;
                    if value != Value::Undefined {
                        values.insert(value);
                    }
                    Ok(false)
                })?;
                Value::from(values)
            }
            Term::ObjectCompr { key, value, body } => {
                let mut object = std::collections::BTreeMap::new();
                let mut conflict = false;
                self.body(&body.literals, base, &mut |this| {
                    let (key, value) = (this.value(key, base)?, this.value(value, base)?);
                    if key != Value::Undefined && value != Value::Undefined {
                        match object.get(&key) {
                            Some(existing) if *existing != value => {
                                conflict = true;
                                return Ok(true);
                            }
                            _ => {
                                object.insert(key, value);
                            }
                        }
                    }
                    Ok(false)
                })?;
                if conflict {
                    return Err(Fault::Error("object comprehension: object keys must be unique".to_owned()));
                }
                Value::from(object)
            }
        })
    }

    fn path(&mut self, mut value: Value, path: &[Term], base: usize) -> Solved<Value> {
        for key in path {
            if value == Value::Undefined {
                break;
            }
            let key = self.value(key, base)?;
            value = index(&value, &key);
        }
        Ok(value)
    }

    fn input_at(&mut self, placed: &PlacedInput, base: usize) -> Solved<Value> {
        match self.source {
            Source::Unknown => Err(Fault::Unknown),
            Source::Document(document) => {
                let mut value = document.clone();
                for key in &placed.keys {
                    if value == Value::Undefined {
                        break;
                    }
                    value = index(&value, key);
                }
                self.path(value, &placed.rest, base)
            }
            Source::View(view) => {
                let cursor = view.at(&placed.place);
                self.walk(cursor, &placed.rest, base)
            }
        }
    }

    /// Reads `path` below `cursor`; a constant key is used where it is, not copied.
    fn walk<'v>(&mut self, mut cursor: Cursor<'v>, path: &[Term], base: usize) -> Solved<Value> {
        for key in path {
            if cursor.is_undefined() {
                return Ok(Value::Undefined);
            }
            cursor = match key {
                Term::Const(key) => cursor.child(key),
                key => {
                    let key = self.value(key, base)?;
                    if key == Value::Undefined {
                        return Ok(Value::Undefined);
                    }
                    cursor.child(&key)
                }
            };
        }
        Ok(cursor.value())
    }

    fn input(&mut self, path: &[Term], base: usize) -> Solved<Value> {
        match self.source {
            Source::Unknown => Err(Fault::Unknown),
            Source::Document(document) => self.path(document.clone(), path, base),
            Source::View(view) => self.walk(view.root(), path, base),
        }
    }

    /// The values of `terms` in order; None as soon as one is undefined (the rest unevaluated).
    fn all_defined(&mut self, terms: &[Term], base: usize) -> Solved<Option<Vec<Value>>> {
        let mut values = Vec::with_capacity(terms.len());
        for term in terms {
            let value = self.value(term, base)?;
            if value == Value::Undefined {
                return Ok(None);
            }
            values.push(value);
        }
        Ok(Some(values))
    }

    fn builtin(&mut self, call: &Call, base: usize) -> Solved<Value> {
        // OPA: a builtin of an undefined argument is undefined, not called.
        let Some(args) = self.all_defined(&call.args, base)? else { return Ok(Value::Undefined) };
        let result = call.builtin.call(&call.span, &call.params, &args).map_err(|error| error.0);
        self.builtin_result(result)
    }

    /// A builtin's failure: undefined, or (strict) the evaluation's error.
    fn builtin_result(&self, result: Result<Value, String>) -> Solved<Value> {
        match result {
            Ok(value) => Ok(value),
            Err(message) if self.strict => Err(Fault::Error(message)),
            Err(_) => Ok(Value::Undefined),
        }
    }
}

fn conflict(rule: &super::ir::Rule) -> Fault {
    let what = if matches!(rule.kind, RuleKind::Function(_)) {
        "functions must not produce multiple outputs for same inputs"
    } else {
        "complete rules must not produce multiple outputs"
    };
    Fault::Error(format!("{} ({}): {what}", rule.path, rule.location))
}

/// Whether an expression's value lets a body go on: defined and not `false`.
pub(crate) fn holds(value: &Value) -> bool {
    !matches!(value, Value::Undefined | Value::Bool(false))
}

/// OPA's comparison: numbers by value, then the order of types (null, boolean, number, string,
/// array, object, set), which regorus' `Value` ordering implements.
pub(crate) fn compare(op: &BoolOp, left: &Value, right: &Value) -> bool {
    match op {
        BoolOp::Eq => left == right,
        BoolOp::Ne => left != right,
        BoolOp::Lt => left < right,
        BoolOp::Le => left <= right,
        BoolOp::Gt => left > right,
        BoolOp::Ge => left >= right,
    }
}

/// `value in collection` and `key, value in collection`.
pub(crate) fn member(key: Option<&Value>, value: &Value, collection: &Value) -> bool {
    match (key, collection) {
        (None, Value::Array(items)) => items.iter().any(|item| item == value),
        (None, Value::Set(items)) => items.contains(value),
        (None, Value::Object(fields)) => fields.values().any(|item| item == value),
        (Some(key), Value::Array(items)) => {
            array_index(key).and_then(|at| items.get(at)).is_some_and(|item| item == value)
        }
        (Some(key), Value::Object(fields)) => fields.get(key).is_some_and(|item| item == value),
        (Some(key), Value::Set(items)) => key == value && items.contains(value),
        _ => false,
    }
}

/// An arithmetic operator, as OPA's builtins (`plus`, `minus`, ...) compute it; `-` of two
/// sets is their difference.
pub(crate) fn arithmetic(op: &ArithOp, left: &Value, right: &Value) -> Result<Value, String> {
    let name = match op {
        ArithOp::Add => "plus",
        ArithOp::Sub => "minus",
        ArithOp::Mul => "mul",
        ArithOp::Div => "div",
        ArithOp::Mod => "rem",
    };
    match (left, right) {
        (Value::Set(left), Value::Set(right)) if *op == ArithOp::Sub => Ok(Value::from(left.difference(right))),
        (Value::Number(a), Value::Number(b)) => {
            let zero = b.as_f64() == Some(0.0);
            let number = match op {
                ArithOp::Add => a.add(b),
                ArithOp::Sub => a.sub(b),
                ArithOp::Mul => a.mul(b),
                ArithOp::Div if zero => return Err("div: divide by zero".to_owned()),
                ArithOp::Div => a.clone().divide(b),
                ArithOp::Mod if zero => return Err("rem: modulo by zero".to_owned()),
                ArithOp::Mod if !a.is_integer() || !b.is_integer() => {
                    return Err("rem: modulo on floating-point number".to_owned())
                }
                ArithOp::Mod => a.clone().modulo(b),
            };
            number.map(Value::from).map_err(|error| format!("{name}: {error}"))
        }
        _ => Err(format!("{name}: operands must be numbers")),
    }
}
