//! Lowering regorus' parse tree (`Engine::get_modules`, the modules the interpreter itself runs)
//! to a [`Program`]: every name resolved once, iteration inside references hoisted into
//! [`Literal::Each`], and every local checked to be bound before it is read. A construct outside
//! the compiled subset is an [`Unsupported`] naming it and its place; the policy then runs on the
//! interpreter.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regorus::unstable::{
    ArithOp, AssignOp, BoolOp, Expr, Literal as AstLiteral, Module, Query, Ref, Rule as AstRule, RuleBody, RuleHead,
    Span,
};
use regorus::Value;

use super::super::builtins;
use super::super::rego_value::array_index;
use super::ir::{Body, Branch, Call, Definition, Literal, Pattern, Program, Rule, RuleId, RuleKind, Slot, Term};

/// Why a policy is not compiled: the construct and where it is (`file:line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Unsupported {
    fn at(span: &Span, what: impl std::fmt::Display) -> Self {
        Unsupported(format!("{}:{}: {what}", span.source.get_path(), span.line))
    }
}

type Lowered<T> = Result<T, Unsupported>;

/// A name an import gives: `import data.a.b as c` makes `c` stand for `data.a.b`.
struct Alias {
    input: bool,
    path: Vec<Value>,
}

/// Lowers every module; `decision` is the rule that decides (`data.pkg.rule`).
pub(crate) fn lower(modules: &[Ref<Module>], data: &Value, decision: &str) -> Lowered<Program> {
    let mut lowering = Lowering { data, ids: BTreeMap::new(), kinds: Vec::new(), packages: Vec::new() };
    // First every rule's name and kind, so bodies can refer to rules defined after them.
    for module in modules {
        let package = package_path(module)?;
        lowering.packages.push(package.clone());
        for rule in &module.policy {
            let (name, kind, span) = head(rule)?;
            let path = format!("data.{}.{name}", package.join("."));
            let next = lowering.kinds.len();
            let id = *lowering.ids.entry(path.clone()).or_insert(next);
            if id == next {
                lowering.kinds.push((path, kind, location(&span)));
            } else if lowering.kinds[id].1 != kind {
                return Err(Unsupported::at(&span, format!("rule `{name}` is defined with two kinds")));
            }
        }
    }
    let mut rules: Vec<Rule> = lowering
        .kinds
        .iter()
        .map(|(path, kind, location)| Rule {
            path: path.clone(),
            kind: *kind,
            definitions: Vec::new(),
            default: None,
            locals: 0,
            location: location.clone(),
        })
        .collect();
    for module in modules {
        let package = package_path(module)?;
        let aliases = imports(module)?;
        for rule in &module.policy {
            let (name, _, _) = head(rule)?;
            let id = lowering.ids[&format!("data.{}.{name}", package.join("."))];
            let mut scope = Scope::new(&package, &aliases);
            match rule.as_ref() {
                AstRule::Default { span, value, args, .. } => {
                    if !args.is_empty() {
                        return Err(Unsupported::at(span, "a default function"));
                    }
                    let Term::Const(value) = lowering.closed_term(value, &mut scope)? else {
                        return Err(Unsupported::at(span, "a default value that is not constant"));
                    };
                    rules[id].default = Some(value);
                }
                AstRule::Spec { head, bodies, .. } => {
                    let kind = rules[id].kind;
                    let definitions = lowering.definitions(head, bodies, &mut scope, kind)?;
                    rules[id].definitions.extend(definitions);
                }
            }
            rules[id].locals = rules[id].locals.max(scope.bound.len());
        }
    }
    let entry = *lowering
        .ids
        .get(decision)
        .ok_or_else(|| Unsupported(format!("the decision rule {decision} is not a rule of the policies")))?;
    if matches!(rules[entry].kind, RuleKind::Function(_)) {
        return Err(Unsupported(format!("the decision rule {decision} is a function")));
    }
    Ok(Program { rules, entry })
}

struct Lowering<'d> {
    data: &'d Value,
    /// `data.pkg.name` -> id.
    ids: BTreeMap<String, RuleId>,
    kinds: Vec<(String, RuleKind, String)>,
    packages: Vec<Vec<String>>,
}

/// The names visible in one rule: its locals (innermost block last) and whether each slot is
/// bound at the point being lowered, its package and imports.
struct Scope<'a> {
    package: &'a [String],
    aliases: &'a HashMap<String, Alias>,
    blocks: Vec<HashMap<String, Slot>>,
    bound: Vec<bool>,
    /// Sub-expressions already evaluated into a local (the parts OPA evaluates before a `not`),
    /// by address in the parse tree.
    substitutions: Vec<(*const Expr, Slot)>,
}

impl<'a> Scope<'a> {
    fn new(package: &'a [String], aliases: &'a HashMap<String, Alias>) -> Self {
        Scope { package, aliases, blocks: vec![HashMap::new()], bound: Vec::new(), substitutions: Vec::new() }
    }

    fn local(&self, name: &str) -> Option<Slot> {
        self.blocks.iter().rev().find_map(|block| block.get(name).copied())
    }

    /// A new, unbound slot named `name` in the innermost block (`_` gets a nameless one).
    fn declare(&mut self, name: &str) -> Slot {
        let slot = self.bound.len();
        self.bound.push(false);
        if name != "_" {
            if let Some(block) = self.blocks.last_mut() {
                block.insert(name.to_owned(), slot);
            }
        }
        slot
    }

    fn is_bound(&self, slot: Slot) -> bool {
        self.bound.get(slot).copied().unwrap_or(false)
    }

    fn bind(&mut self, slot: Slot) {
        if let Some(bound) = self.bound.get_mut(slot) {
            *bound = true;
        }
    }

    /// Enters a block (a rule branch, `not`, `every`, a comprehension): what it declares and
    /// binds is forgotten when [`Scope::leave`] gets the snapshot back.
    fn enter(&mut self) -> Vec<bool> {
        self.blocks.push(HashMap::new());
        self.bound.clone()
    }

    fn leave(&mut self, snapshot: Vec<bool>) {
        self.blocks.pop();
        let known = snapshot.len();
        self.bound[..known].copy_from_slice(&snapshot);
    }

    fn substitution(&self, expr: &Ref<Expr>) -> Option<Slot> {
        let address: *const Expr = &**expr;
        self.substitutions.iter().find(|(known, _)| std::ptr::eq(*known, address)).map(|(_, slot)| *slot)
    }

    fn rule_path(&self, name: &str) -> String {
        format!("data.{}.{name}", self.package.join("."))
    }
}

/// One segment of a flattened reference: `.name` or `[expr]`.
enum Segment<'e> {
    Field(Value),
    Index(&'e Ref<Expr>),
}

/// A reference being resolved: under `input`, under `data` (a rule or a document, known once
/// the constant prefix ends), or a computed value.
enum Base {
    Input(Vec<Term>),
    Data(Vec<Term>),
    Term(Term),
}

/// What a variable name stands for where it is used.
enum Name {
    Bound(Slot),
    /// Declared by `some` and not yet bound.
    Unbound(Slot),
    /// `input`, `data`, an import, a rule of the package.
    Global(Base),
    /// `_`, or a name nothing declares.
    Fresh,
}

impl Lowering<'_> {
    fn definitions(
        &self,
        head: &RuleHead,
        bodies: &[RuleBody],
        scope: &mut Scope<'_>,
        kind: RuleKind,
    ) -> Lowered<Vec<Definition>> {
        if bodies.is_empty() {
            return Ok(vec![Definition { branches: vec![self.branch(head, None, scope, kind)?] }]);
        }
        // Bodies after the first that are not `else` are further definitions (Rego v0 style).
        let mut definitions: Vec<Definition> = Vec::new();
        for body in bodies {
            let branch = self.branch(head, Some(body), scope, kind)?;
            match definitions.last_mut() {
                Some(definition) if body.is_else => definition.branches.push(branch),
                _ => definitions.push(Definition { branches: vec![branch] }),
            }
        }
        Ok(definitions)
    }

    fn branch(
        &self,
        head: &RuleHead,
        body: Option<&RuleBody>,
        scope: &mut Scope<'_>,
        kind: RuleKind,
    ) -> Lowered<Branch> {
        let snapshot = scope.enter();
        let mut args = Vec::new();
        if let RuleHead::Func { args: params, .. } = head {
            for param in params {
                args.push(self.fresh_pattern(param, scope)?);
            }
        }
        let lowered_body = match body {
            Some(body) => self.query(&body.query, scope)?,
            None => Body::default(),
        };
        let is_else = body.is_some_and(|body| body.is_else);
        // An `else` has its own value (`else := v`), or `true` when it gives none, as in OPA.
        let value_expr = match head {
            _ if is_else => body.and_then(|body| body.assign.as_ref()).map(|assign| &assign.value),
            RuleHead::Compr { assign, .. } | RuleHead::Func { assign, .. } => {
                assign.as_ref().map(|assign| &assign.value)
            }
            RuleHead::Set { .. } => None,
        };
        let value = match value_expr {
            Some(expr) => Some(self.closed_term(expr, scope)?),
            None => None,
        };
        let key = match head {
            RuleHead::Compr { refr, .. } => match refr.as_ref() {
                Expr::RefBrack { index, .. } => Some(self.closed_term(index, scope)?),
                _ => None,
            },
            RuleHead::Set { key: Some(key), .. } => Some(self.closed_term(key, scope)?),
            _ => None,
        };
        if kind == RuleKind::PartialObject && value.is_none() {
            return Err(Unsupported::at(&head_span(head), "a partial object rule without a value"));
        }
        scope.leave(snapshot);
        let guards = super::guards::guards(&args, &lowered_body);
        Ok(Branch { args, key, value, guards, body: lowered_body })
    }

    fn query(&self, query: &Query, scope: &mut Scope<'_>) -> Lowered<Body> {
        let mut literals = Vec::with_capacity(query.stmts.len());
        for statement in &query.stmts {
            if !statement.with_mods.is_empty() {
                return Err(Unsupported::at(&statement.span, "`with`"));
            }
            match &statement.literal {
                AstLiteral::SomeVars { vars, .. } => {
                    for var in vars {
                        scope.declare(var.text());
                    }
                }
                AstLiteral::SomeIn { key, value, collection, .. } => {
                    let collection = self.term(collection, scope, &mut literals, true)?;
                    let key = match key {
                        Some(key) => Some(self.fresh_pattern(key, scope)?),
                        None => None,
                    };
                    let value = self.fresh_pattern(value, scope)?;
                    literals.push(Literal::Each { collection, key, value });
                }
                AstLiteral::Expr { expr, .. } => {
                    let literal = self.literal(expr, scope, &mut literals)?;
                    literals.push(literal);
                }
                AstLiteral::NotExpr { expr, .. } => {
                    // What OPA's compiler evaluates before the negation, outside it: undefined
                    // there, the body fails rather than the `not` holding.
                    let outside = self.negation_support(expr, scope);
                    let substituted = scope.substitutions.len();
                    for part in outside {
                        let value = self.term(part, scope, &mut literals, true)?;
                        let slot = scope.declare("_");
                        scope.bind(slot);
                        literals.push(Literal::Bind(Pattern::Bind(slot), value));
                        scope.substitutions.push((&**part as *const Expr, slot));
                    }
                    let snapshot = scope.enter();
                    let mut inner = Vec::new();
                    let literal = self.literal(expr, scope, &mut inner)?;
                    inner.push(literal);
                    scope.leave(snapshot);
                    scope.substitutions.truncate(substituted);
                    literals.push(Literal::Not(Body { literals: inner }));
                }
                AstLiteral::Every { key, value, domain, query, .. } => {
                    let domain = self.term(domain, scope, &mut literals, true)?;
                    let snapshot = scope.enter();
                    let key = key.as_ref().map(|key| {
                        let slot = scope.declare(key.text());
                        scope.bind(slot);
                        slot
                    });
                    let value = scope.declare(value.text());
                    scope.bind(value);
                    let body = self.query(query, scope)?;
                    scope.leave(snapshot);
                    literals.push(Literal::Every { key, value, domain, body });
                }
            }
        }
        Ok(Body { literals })
    }

    /// The parts of a negated expression OPA's compiler moves before the negation (its
    /// `rewriteExprTerms` and `rewriteDynamics` stages), in its order: calls nested in the
    /// operands; every operand of a call that is a reference, a comprehension or a composite
    /// holding them; the references used as indexes of an equality's sides; the composite or
    /// call a reference starts from. So `not f(input.missing)` is undefined, not true, while
    /// `not input.missing == 1` holds.
    fn negation_support<'e>(&self, expr: &'e Ref<Expr>, scope: &Scope<'_>) -> Vec<&'e Ref<Expr>> {
        let mut support = Vec::new();
        match expr.as_ref() {
            Expr::AssignExpr { op: AssignOp::Eq, lhs, rhs, .. } | Expr::BoolExpr { op: BoolOp::Eq, lhs, rhs, .. } => {
                for side in [lhs, rhs] {
                    calls_within(side, true, &mut support);
                    self.dynamics_in_term(side, scope, &mut support);
                }
            }
            Expr::Call { params, .. } => {
                for operand in params {
                    calls_within(operand, true, &mut support);
                    self.dynamics_one(operand, scope, &mut support);
                }
            }
            Expr::BoolExpr { lhs, rhs, .. } | Expr::ArithExpr { lhs, rhs, .. } | Expr::BinExpr { lhs, rhs, .. } => {
                for operand in [lhs, rhs] {
                    calls_within(operand, true, &mut support);
                    self.dynamics_one(operand, scope, &mut support);
                }
            }
            Expr::Membership { key, value, collection, .. } => {
                for operand in key.iter().chain([value, collection]) {
                    calls_within(operand, true, &mut support);
                    self.dynamics_one(operand, scope, &mut support);
                }
            }
            Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. } => {
                calls_within(expr, false, &mut support);
                self.dynamics_in_term(expr, scope, &mut support);
            }
            _ => {}
        }
        support.dedup_by(|a, b| std::ptr::eq::<Expr>(&***a, &***b));
        support
    }

    /// OPA's `rewriteDynamicsOne`: a reference (not a local variable) or a comprehension is
    /// evaluated first; a composite's elements are looked into.
    fn dynamics_one<'e>(&self, expr: &'e Ref<Expr>, scope: &Scope<'_>, support: &mut Vec<&'e Ref<Expr>>) {
        match expr.as_ref() {
            Expr::Var { value, .. } => {
                if matches!(self.name(&var_name(value), scope), Name::Global(_)) {
                    support.push(expr);
                }
            }
            Expr::RefDot { .. } | Expr::RefBrack { .. } => support.push(expr),
            Expr::ArrayCompr { .. } | Expr::SetCompr { .. } | Expr::ObjectCompr { .. } => support.push(expr),
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                items.iter().for_each(|item| self.dynamics_one(item, scope, support));
            }
            Expr::Object { fields, .. } => {
                for (_, key, value) in fields {
                    self.dynamics_one(key, scope, support);
                    self.dynamics_one(value, scope, support);
                }
            }
            _ => {}
        }
    }

    /// OPA's `rewriteDynamicsInTerm`: a reference's indexes, a composite's elements.
    fn dynamics_in_term<'e>(&self, expr: &'e Ref<Expr>, scope: &Scope<'_>, support: &mut Vec<&'e Ref<Expr>>) {
        match expr.as_ref() {
            Expr::RefDot { .. } | Expr::RefBrack { .. } => {
                for segment in flatten(expr).1 {
                    if let Segment::Index(index) = segment {
                        self.dynamics_one(index, scope, support);
                    }
                }
            }
            Expr::Var { .. } | Expr::ArrayCompr { .. } | Expr::SetCompr { .. } | Expr::ObjectCompr { .. } => {}
            _ => self.dynamics_one(expr, scope, support),
        }
    }

    /// An expression statement: an assignment or unification binds, anything else must hold.
    fn literal(&self, expr: &Ref<Expr>, scope: &mut Scope<'_>, pre: &mut Vec<Literal>) -> Lowered<Literal> {
        let Expr::AssignExpr { op, lhs, rhs, span, .. } = expr.as_ref() else {
            return Ok(Literal::Expr(self.term(expr, scope, pre, true)?));
        };
        match op {
            AssignOp::ColEq => {
                let value = self.term(rhs, scope, pre, true)?;
                let pattern = self.declaring_pattern(lhs, scope, span)?;
                Ok(Literal::Bind(pattern, value))
            }
            AssignOp::Eq => {
                let (left, right) = (self.has_unbound(lhs, scope), self.has_unbound(rhs, scope));
                match (left, right) {
                    (true, true) => Err(Unsupported::at(span, "a unification with unbound variables on both sides")),
                    (true, false) => {
                        let value = self.term(rhs, scope, pre, true)?;
                        Ok(Literal::Bind(self.pattern(lhs, scope, pre, true)?, value))
                    }
                    (false, true) => {
                        let value = self.term(lhs, scope, pre, true)?;
                        Ok(Literal::Bind(self.pattern(rhs, scope, pre, true)?, value))
                    }
                    (false, false) => {
                        let (lhs, rhs) = (self.term(lhs, scope, pre, true)?, self.term(rhs, scope, pre, true)?);
                        Ok(Literal::Expr(Term::Compare(BoolOp::Eq, Box::new(lhs), Box::new(rhs))))
                    }
                }
            }
        }
    }

    /// The target of `:=`: new locals (a name already declared in the rule is OPA's compile
    /// error "var assigned above").
    fn declaring_pattern(&self, expr: &Ref<Expr>, scope: &mut Scope<'_>, span: &Span) -> Lowered<Pattern> {
        match expr.as_ref() {
            Expr::Var { value, .. } => {
                let name = var_name(value);
                if name == "_" {
                    return Ok(Pattern::Wildcard);
                }
                if scope.local(&name).is_some() {
                    return Err(Unsupported::at(span, format!("`{name}` assigned twice")));
                }
                let slot = scope.declare(&name);
                scope.bind(slot);
                Ok(Pattern::Bind(slot))
            }
            Expr::Array { items, .. } => items
                .iter()
                .map(|item| self.declaring_pattern(item, scope, span))
                .collect::<Lowered<Vec<_>>>()
                .map(Pattern::Array),
            _ => Err(Unsupported::at(span, "this assignment target")),
        }
    }

    /// A pattern whose variables are new locals, shadowing any other meaning of their names:
    /// a function's parameters, the variables of `some ... in`.
    fn fresh_pattern(&self, expr: &Ref<Expr>, scope: &mut Scope<'_>) -> Lowered<Pattern> {
        match expr.as_ref() {
            Expr::Var { value, .. } if var_name(value) == "_" => Ok(Pattern::Wildcard),
            Expr::Var { value, .. } => {
                let slot = scope.declare(&var_name(value));
                scope.bind(slot);
                Ok(Pattern::Bind(slot))
            }
            Expr::Array { items, .. } => items
                .iter()
                .map(|item| self.fresh_pattern(item, scope))
                .collect::<Lowered<Vec<_>>>()
                .map(Pattern::Array),
            _ => Ok(Pattern::Value(self.closed_term(expr, scope)?)),
        }
    }

    /// What a name means at this point of the rule.
    fn name(&self, name: &str, scope: &Scope<'_>) -> Name {
        if name == "_" {
            return Name::Fresh;
        }
        if let Some(slot) = scope.local(name) {
            return if scope.is_bound(slot) { Name::Bound(slot) } else { Name::Unbound(slot) };
        }
        if let Some(alias) = scope.aliases.get(name) {
            let path = alias.path.iter().cloned().map(Term::Const).collect();
            return Name::Global(if alias.input { Base::Input(path) } else { Base::Data(path) });
        }
        match name {
            "input" => Name::Global(Base::Input(Vec::new())),
            "data" => Name::Global(Base::Data(Vec::new())),
            _ if self.ids.contains_key(&scope.rule_path(name)) => {
                let mut path: Vec<Term> =
                    scope.package.iter().map(|part| Term::Const(Value::from(part.as_str()))).collect();
                path.push(Term::Const(Value::from(name)));
                Name::Global(Base::Data(path))
            }
            _ => Name::Fresh,
        }
    }

    /// Whether `expr` is (or holds, in an array) a variable that is not bound yet: the side of
    /// a unification that gets bound.
    fn has_unbound(&self, expr: &Ref<Expr>, scope: &Scope<'_>) -> bool {
        match expr.as_ref() {
            Expr::Var { value, .. } => matches!(self.name(&var_name(value), scope), Name::Unbound(_) | Name::Fresh),
            Expr::Array { items, .. } => items.iter().any(|item| self.has_unbound(item, scope)),
            _ => false,
        }
    }

    /// A matching target: unbound variables are bound by the match, anything else compared.
    fn pattern(
        &self,
        expr: &Ref<Expr>,
        scope: &mut Scope<'_>,
        pre: &mut Vec<Literal>,
        outputs: bool,
    ) -> Lowered<Pattern> {
        match expr.as_ref() {
            Expr::Var { value, .. } => match self.name(&var_name(value), scope) {
                Name::Fresh if var_name(value) == "_" => Ok(Pattern::Wildcard),
                Name::Fresh => {
                    let slot = scope.declare(&var_name(value));
                    scope.bind(slot);
                    Ok(Pattern::Bind(slot))
                }
                Name::Unbound(slot) => {
                    scope.bind(slot);
                    Ok(Pattern::Bind(slot))
                }
                Name::Bound(slot) => Ok(Pattern::Value(Term::Local(slot))),
                Name::Global(_) => Ok(Pattern::Value(self.term(expr, scope, pre, outputs)?)),
            },
            Expr::Array { items, .. } if self.has_unbound(expr, scope) => items
                .iter()
                .map(|item| self.pattern(item, scope, pre, outputs))
                .collect::<Lowered<Vec<_>>>()
                .map(Pattern::Array),
            _ => Ok(Pattern::Value(self.term(expr, scope, pre, outputs)?)),
        }
    }

    /// A term that may not iterate (a rule head, a default, a comprehension's head).
    fn closed_term(&self, expr: &Ref<Expr>, scope: &mut Scope<'_>) -> Lowered<Term> {
        let mut pre = Vec::new();
        let term = self.term(expr, scope, &mut pre, false)?;
        if pre.is_empty() {
            Ok(term)
        } else {
            Err(Unsupported::at(expr.span(), "iteration in a rule head"))
        }
    }

    /// A term. With `outputs`, iteration inside references is hoisted into `pre` as
    /// [`Literal::Each`] (a body's expression allows it); without, it is refused.
    fn term(&self, expr: &Ref<Expr>, scope: &mut Scope<'_>, pre: &mut Vec<Literal>, outputs: bool) -> Lowered<Term> {
        if let Some(slot) = scope.substitution(expr) {
            return Ok(Term::Local(slot));
        }
        Ok(match expr.as_ref() {
            Expr::String { value, .. }
            | Expr::RawString { value, .. }
            | Expr::Number { value, .. }
            | Expr::Bool { value, .. }
            | Expr::Null { value, .. } => Term::Const(value.clone()),
            Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. } => {
                self.reference(expr, scope, pre, outputs)?
            }
            Expr::Array { items, .. } => {
                let items = self.terms(items, scope, pre, outputs)?;
                match constants(&items) {
                    Some(values) => Term::Const(Value::from(values)),
                    None => Term::Array(items),
                }
            }
            Expr::Set { items, .. } => {
                let items = self.terms(items, scope, pre, outputs)?;
                match constants(&items) {
                    Some(values) => Term::Const(Value::from(values.into_iter().collect::<BTreeSet<_>>())),
                    None => Term::Set(items),
                }
            }
            Expr::Object { fields, .. } => {
                let mut lowered = Vec::with_capacity(fields.len());
                for (_, key, value) in fields {
                    lowered.push((self.term(key, scope, pre, outputs)?, self.term(value, scope, pre, outputs)?));
                }
                let keys: Vec<Term> = lowered.iter().map(|(key, _)| key.clone()).collect();
                let values: Vec<Term> = lowered.iter().map(|(_, value)| value.clone()).collect();
                match (constants(&keys), constants(&values)) {
                    (Some(keys), Some(values)) => {
                        Term::Const(Value::from(keys.into_iter().zip(values).collect::<BTreeMap<_, _>>()))
                    }
                    _ => Term::Object(lowered),
                }
            }
            Expr::ArrayCompr { term, query, .. } => {
                let snapshot = scope.enter();
                let body = self.query(query, scope)?;
                let term = self.closed_term(term, scope)?;
                scope.leave(snapshot);
                Term::ArrayCompr { term: Box::new(term), body }
            }
            Expr::SetCompr { term, query, .. } => {
                let snapshot = scope.enter();
                let body = self.query(query, scope)?;
                let term = self.closed_term(term, scope)?;
                scope.leave(snapshot);
                Term::SetCompr { term: Box::new(term), body }
            }
            Expr::ObjectCompr { key, value, query, .. } => {
                let snapshot = scope.enter();
                let body = self.query(query, scope)?;
                let key = self.closed_term(key, scope)?;
                let value = self.closed_term(value, scope)?;
                scope.leave(snapshot);
                Term::ObjectCompr { key: Box::new(key), value: Box::new(value), body }
            }
            Expr::Call { fcn, params, span, .. } => self.call(fcn, params, span, scope, pre, outputs)?,
            // regorus allows unary minus on number literals only; as OPA, it is `0 - x`.
            Expr::UnaryExpr { expr: inner, span, .. } => match self.term(inner, scope, pre, outputs)? {
                Term::Const(number @ Value::Number(_)) => {
                    match super::eval::arithmetic(&ArithOp::Sub, &Value::from(0u64), &number) {
                        Ok(negated) => Term::Const(negated),
                        Err(_) => return Err(Unsupported::at(span, "this negative number")),
                    }
                }
                _ => return Err(Unsupported::at(span, "unary minus on something other than a number")),
            },
            Expr::BinExpr { op, lhs, rhs, .. } => Term::SetOp(
                op.clone(),
                Box::new(self.term(lhs, scope, pre, outputs)?),
                Box::new(self.term(rhs, scope, pre, outputs)?),
            ),
            Expr::BoolExpr { op, lhs, rhs, .. } => Term::Compare(
                op.clone(),
                Box::new(self.term(lhs, scope, pre, outputs)?),
                Box::new(self.term(rhs, scope, pre, outputs)?),
            ),
            Expr::ArithExpr { op, lhs, rhs, .. } => Term::Arith(
                op.clone(),
                Box::new(self.term(lhs, scope, pre, outputs)?),
                Box::new(self.term(rhs, scope, pre, outputs)?),
            ),
            Expr::AssignExpr { span, .. } => return Err(Unsupported::at(span, "an assignment inside an expression")),
            Expr::Membership { key, value, collection, .. } => Term::Member {
                key: match key {
                    Some(key) => Some(Box::new(self.term(key, scope, pre, outputs)?)),
                    None => None,
                },
                value: Box::new(self.term(value, scope, pre, outputs)?),
                collection: Box::new(self.term(collection, scope, pre, outputs)?),
            },
            #[allow(unreachable_patterns)]
            other => return Err(Unsupported::at(other.span(), "this expression")),
        })
    }

    fn terms(
        &self,
        exprs: &[Ref<Expr>],
        scope: &mut Scope<'_>,
        pre: &mut Vec<Literal>,
        outputs: bool,
    ) -> Lowered<Vec<Term>> {
        exprs.iter().map(|expr| self.term(expr, scope, pre, outputs)).collect()
    }

    fn call(
        &self,
        fcn: &Ref<Expr>,
        params: &[Ref<Expr>],
        span: &Span,
        scope: &mut Scope<'_>,
        pre: &mut Vec<Literal>,
        outputs: bool,
    ) -> Lowered<Term> {
        let name = dotted_name(fcn).ok_or_else(|| Unsupported::at(span, "a call of a computed function"))?;
        let args = self.terms(params, scope, pre, outputs)?;
        // A user function: in this package, by full path, or through an import.
        let mut candidates = vec![scope.rule_path(&name), name.clone()];
        if let Some((first, rest)) = name.split_once('.') {
            if let Some(alias) = scope.aliases.get(first).filter(|alias| !alias.input) {
                let path: Vec<String> = alias.path.iter().map(value_text).collect();
                candidates.push(format!("data.{}.{rest}", path.join(".")));
            }
        }
        for candidate in &candidates {
            if let Some(&id) = self.ids.get(candidate) {
                let RuleKind::Function(arity) = self.kinds[id].1 else {
                    return Err(Unsupported::at(span, format!("`{name}` is called but is not a function")));
                };
                if arity != args.len() {
                    return Err(Unsupported::at(
                        span,
                        format!("`{name}` called with {} arguments, defined with {arity}", args.len()),
                    ));
                }
                return Ok(Term::Function(id, args));
            }
        }
        let builtin = builtins::lookup(&name, args.len()).map_err(|why| Unsupported::at(span, why))?;
        Ok(Term::Builtin(Box::new(Call { builtin, args, span: span.clone(), params: params.to_vec() })))
    }

    /// A variable or a reference chain, resolved: a local, `input...`, a rule, a data document,
    /// with any iteration in it hoisted into `pre`.
    fn reference(
        &self,
        expr: &Ref<Expr>,
        scope: &mut Scope<'_>,
        pre: &mut Vec<Literal>,
        outputs: bool,
    ) -> Lowered<Term> {
        let (root, segments) = flatten(expr);
        let span = root.span();
        let mut base = match root.as_ref() {
            Expr::Var { value, .. } => match self.name(&var_name(value), scope) {
                Name::Bound(slot) => Base::Term(Term::Local(slot)),
                Name::Global(base) => base,
                Name::Unbound(_) | Name::Fresh => {
                    return Err(Unsupported::at(span, format!("`{}` used before it is bound", var_name(value))));
                }
            },
            // A computed value indexed: `f(x)[0]`.
            _ => Base::Term(self.term(root, scope, pre, outputs)?),
        };
        for segment in &segments {
            let key = match segment {
                Segment::Field(name) => Term::Const(name.clone()),
                Segment::Index(index) => {
                    let iterates = match index.as_ref() {
                        Expr::Var { value, .. } => {
                            matches!(self.name(&var_name(value), scope), Name::Unbound(_) | Name::Fresh)
                        }
                        _ => false,
                    };
                    if iterates {
                        if !outputs {
                            return Err(Unsupported::at(index.span(), "iteration here"));
                        }
                        let collection = self.resolve(base, span)?;
                        let key = self.pattern(index, scope, pre, outputs)?;
                        let element = scope.declare("_");
                        scope.bind(element);
                        pre.push(Literal::Each { collection, key: Some(key), value: Pattern::Bind(element) });
                        base = Base::Term(Term::Local(element));
                        continue;
                    }
                    self.term(index, scope, pre, outputs)?
                }
            };
            base = match base {
                Base::Input(mut path) => {
                    path.push(key);
                    Base::Input(path)
                }
                Base::Data(mut path) => {
                    path.push(key);
                    Base::Data(path)
                }
                Base::Term(term) => Base::Term(Term::Index(Box::new(term), Box::new(key))),
            };
        }
        self.resolve(base, span)
    }

    fn resolve(&self, base: Base, span: &Span) -> Lowered<Term> {
        match base {
            Base::Input(path) => Ok(Term::Input(path)),
            Base::Data(path) => self.data_reference(path, span),
            Base::Term(term) => Ok(term),
        }
    }

    /// `data` and indexes: a rule's value (then indexes into it), or a constant of the data
    /// document (then computed indexes).
    fn data_reference(&self, path: Vec<Term>, span: &Span) -> Lowered<Term> {
        let mut names: Vec<String> = Vec::new();
        for (index, segment) in path.iter().enumerate() {
            let Term::Const(Value::String(name)) = segment else { break };
            names.push(name.to_string());
            if let Some(&id) = self.ids.get(&format!("data.{}", names.join("."))) {
                if matches!(self.kinds[id].1, RuleKind::Function(_)) {
                    return Err(Unsupported::at(span, "a function used as a value"));
                }
                let rest = path.into_iter().skip(index + 1).collect();
                return Ok(Term::Rule(id, rest));
            }
        }
        // A package, or a prefix of one, is a document holding rules' values, which this compiler
        // does not assemble (the interpreter does).
        if self.packages.iter().any(|package| package.starts_with(&names)) {
            return Err(Unsupported::at(span, format!("a reference to the whole document data.{}", names.join("."))));
        }
        let mut value = self.data.clone();
        let mut rest = path.into_iter().peekable();
        while let Some(Term::Const(key)) = rest.peek() {
            value = match &value {
                Value::Object(object) => object.get(key).cloned().unwrap_or(Value::Undefined),
                Value::Array(items) => {
                    array_index(key).and_then(|at| items.get(at).cloned()).unwrap_or(Value::Undefined)
                }
                Value::Set(items) => {
                    if items.contains(key) {
                        key.clone()
                    } else {
                        Value::Undefined
                    }
                }
                _ => Value::Undefined,
            };
            rest.next();
        }
        let mut term = Term::Const(value);
        for segment in rest {
            term = Term::Index(Box::new(term), Box::new(segment));
        }
        Ok(term)
    }
}

/// OPA's `expandExprTerm`: calls (operators included) inside `expr`, and `expr` itself when
/// `this` and it is one, are evaluated first; so is the composite or call a reference starts
/// from. Comprehension bodies are their own.
fn calls_within<'e>(expr: &'e Ref<Expr>, this: bool, support: &mut Vec<&'e Ref<Expr>>) {
    match expr.as_ref() {
        Expr::Call { .. }
        | Expr::ArithExpr { .. }
        | Expr::BinExpr { .. }
        | Expr::BoolExpr { .. }
        | Expr::Membership { .. }
            if this =>
        {
            support.push(expr);
        }
        Expr::Call { params, .. } => params.iter().for_each(|param| calls_within(param, true, support)),
        Expr::ArithExpr { lhs, rhs, .. } | Expr::BinExpr { lhs, rhs, .. } | Expr::BoolExpr { lhs, rhs, .. } => {
            calls_within(lhs, true, support);
            calls_within(rhs, true, support);
        }
        Expr::Membership { key, value, collection, .. } => {
            key.iter().chain([value, collection]).for_each(|operand| calls_within(operand, true, support));
        }
        Expr::RefDot { .. } | Expr::RefBrack { .. } => {
            let (root, segments) = flatten(expr);
            match root.as_ref() {
                Expr::Var { .. } => {}
                _ => support.push(root),
            }
            for segment in segments {
                if let Segment::Index(index) = segment {
                    calls_within(index, true, support);
                }
            }
        }
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            items.iter().for_each(|item| calls_within(item, true, support))
        }
        Expr::Object { fields, .. } => {
            for (_, key, value) in fields {
                calls_within(key, true, support);
                calls_within(value, true, support);
            }
        }
        _ => {}
    }
}

/// `a.b[c].d` as its root `a` and the segments `b`, `[c]`, `d`.
fn flatten(expr: &Ref<Expr>) -> (&Ref<Expr>, Vec<Segment<'_>>) {
    let mut segments = Vec::new();
    let mut current = expr;
    loop {
        match current.as_ref() {
            Expr::RefDot { refr, field, .. } => {
                segments.push(Segment::Field(field.1.clone()));
                current = refr;
            }
            Expr::RefBrack { refr, index, .. } => {
                segments.push(Segment::Index(index));
                current = refr;
            }
            _ => break,
        }
    }
    segments.reverse();
    (current, segments)
}

/// A call's function name: `count`, `regex.match`.
fn dotted_name(expr: &Ref<Expr>) -> Option<String> {
    match expr.as_ref() {
        Expr::Var { value, .. } => Some(var_name(value)),
        Expr::RefDot { refr, field, .. } => Some(format!("{}.{}", dotted_name(refr)?, value_text(&field.1))),
        _ => None,
    }
}

fn var_name(value: &Value) -> String {
    value_text(value)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.to_string(),
        _ => String::new(),
    }
}

fn constants(terms: &[Term]) -> Option<Vec<Value>> {
    terms
        .iter()
        .map(|term| match term {
            Term::Const(value) if *value != Value::Undefined => Some(value.clone()),
            _ => None,
        })
        .collect()
}

fn location(span: &Span) -> String {
    format!("{}:{}", span.source.get_path(), span.line)
}

fn package_path(module: &Module) -> Lowered<Vec<String>> {
    let (root, segments) = flatten(&module.package.refr);
    let mut path = Vec::new();
    match root.as_ref() {
        Expr::Var { value, .. } => path.push(var_name(value)),
        other => return Err(Unsupported::at(other.span(), "this package name")),
    }
    for segment in segments {
        match segment {
            Segment::Field(name) => path.push(value_text(&name)),
            Segment::Index(expr) => match expr.as_ref() {
                Expr::String { value, .. } => path.push(value_text(value)),
                other => return Err(Unsupported::at(other.span(), "this package name")),
            },
        }
    }
    Ok(path)
}

fn imports(module: &Module) -> Lowered<HashMap<String, Alias>> {
    let mut aliases = HashMap::new();
    for import in &module.imports {
        let (root, segments) = flatten(&import.refr);
        let root = match root.as_ref() {
            Expr::Var { value, .. } => var_name(value),
            _ => return Err(Unsupported::at(&import.span, "this import")),
        };
        let mut path: Vec<Value> = Vec::new();
        for segment in segments {
            match segment {
                Segment::Field(name) => path.push(name),
                Segment::Index(expr) => match expr.as_ref() {
                    Expr::String { value, .. } => path.push(value.clone()),
                    _ => return Err(Unsupported::at(&import.span, "this import")),
                },
            }
        }
        let input = match root.as_str() {
            // Keyword imports change syntax only.
            "rego" | "future" => continue,
            "data" => false,
            "input" => true,
            _ => return Err(Unsupported::at(&import.span, "this import")),
        };
        let name = match &import.r#as {
            Some(alias) => alias.text().to_owned(),
            None => path.last().map_or_else(|| root.clone(), value_text),
        };
        aliases.insert(name, Alias { input, path });
    }
    Ok(aliases)
}

/// A rule's name, kind and span.
fn head(rule: &Ref<AstRule>) -> Lowered<(String, RuleKind, Span)> {
    match rule.as_ref() {
        AstRule::Default { refr, args, span, .. } => {
            let name = simple_name(refr).ok_or_else(|| Unsupported::at(span, "a default with a ref head"))?;
            let kind = if args.is_empty() { RuleKind::Complete } else { RuleKind::Function(args.len()) };
            Ok((name, kind, span.clone()))
        }
        AstRule::Spec { head, span, .. } => match head {
            RuleHead::Compr { refr, assign, .. } => match refr.as_ref() {
                Expr::Var { .. } => Ok((simple_name(refr).unwrap_or_default(), RuleKind::Complete, span.clone())),
                Expr::RefBrack { refr: inner, .. } if assign.is_some() => {
                    let name = simple_name(inner).ok_or_else(|| Unsupported::at(span, "a rule with a ref head"))?;
                    Ok((name, RuleKind::PartialObject, span.clone()))
                }
                _ => Err(Unsupported::at(span, "a rule with a ref head")),
            },
            RuleHead::Set { refr, key: Some(_), .. } => {
                let name = simple_name(refr).ok_or_else(|| Unsupported::at(span, "a rule with a ref head"))?;
                Ok((name, RuleKind::PartialSet, span.clone()))
            }
            RuleHead::Set { .. } => Err(Unsupported::at(span, "a partial set rule without an element")),
            RuleHead::Func { refr, args, .. } => {
                let name = simple_name(refr).ok_or_else(|| Unsupported::at(span, "a function with a ref head"))?;
                Ok((name, RuleKind::Function(args.len()), span.clone()))
            }
        },
    }
}

fn simple_name(expr: &Ref<Expr>) -> Option<String> {
    match expr.as_ref() {
        Expr::Var { value, .. } => Some(var_name(value)),
        _ => None,
    }
}

fn head_span(head: &RuleHead) -> Span {
    match head {
        RuleHead::Compr { span, .. } | RuleHead::Set { span, .. } | RuleHead::Func { span, .. } => span.clone(),
    }
}
