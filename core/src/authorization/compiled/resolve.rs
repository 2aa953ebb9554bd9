//! The last pass over a plan: every input reference whose leading keys are constants
//! (`input.attributes.request.http.headers["x-tenant"]`, `input.identity.claims.roles`) gets its
//! [`Place`] resolved once, so a request reads it in one step instead of matching each key
//! (`super::super::view`).

use regorus::Value;

use super::super::view::Place;
use super::ir::{Body, Literal, Pattern, PlacedInput, Program, Term};

/// Resolves the input references of every rule of `program` (and drops what its guards make
/// redundant, `super::guards::drop_repeated`).
pub(crate) fn resolve_inputs(program: &mut Program) {
    for rule in &mut program.rules {
        for definition in &mut rule.definitions {
            for branch in &mut definition.branches {
                super::guards::drop_repeated(branch);
                branch.args.iter_mut().for_each(pattern);
                branch.key.iter_mut().for_each(term);
                branch.value.iter_mut().for_each(term);
                branch.guards.iter_mut().for_each(literal);
                body(&mut branch.body);
            }
        }
    }
}

fn body(body: &mut Body) {
    body.literals.iter_mut().for_each(literal);
}

fn literal(literal: &mut Literal) {
    match literal {
        Literal::Expr(t) => term(t),
        Literal::Not(inner) => body(inner),
        Literal::Bind(p, t) => {
            pattern(p);
            term(t);
        }
        Literal::Each { collection, key, value } => {
            term(collection);
            key.iter_mut().for_each(pattern);
            pattern(value);
        }
        Literal::Every { domain, body: inner, .. } => {
            term(domain);
            body(inner);
        }
    }
}

fn pattern(pattern: &mut Pattern) {
    match pattern {
        Pattern::Value(t) => term(t),
        Pattern::Array(items) => items.iter_mut().for_each(self::pattern),
        Pattern::Bind(_) | Pattern::Wildcard => {}
    }
}

fn term(term: &mut Term) {
    match term {
        Term::Input(path) => {
            path.iter_mut().for_each(self::term);
            let constants: Vec<Value> = path
                .iter()
                .map_while(|key| match key {
                    Term::Const(value) => Some(value.clone()),
                    _ => None,
                })
                .collect();
            let (place, taken) = Place::resolve(&constants);
            let rest = path.split_off(taken);
            let mut keys = constants;
            keys.truncate(taken);
            *term = Term::InputAt(Box::new(PlacedInput { place, keys, rest }));
        }
        Term::InputAt(placed) => placed.rest.iter_mut().for_each(self::term),
        Term::Const(_) | Term::Local(_) => {}
        Term::Rule(_, path) => path.iter_mut().for_each(self::term),
        Term::Index(base, key) => {
            self::term(base);
            self::term(key);
        }
        Term::Array(items) | Term::Set(items) => items.iter_mut().for_each(self::term),
        Term::Object(fields) => {
            for (key, value) in fields {
                self::term(key);
                self::term(value);
            }
        }
        Term::Builtin(call) => call.args.iter_mut().for_each(self::term),
        Term::Function(_, args) => args.iter_mut().for_each(self::term),
        Term::Arith(_, left, right) | Term::SetOp(_, left, right) | Term::Compare(_, left, right) => {
            self::term(left);
            self::term(right);
        }
        Term::Member { key, value, collection } => {
            key.iter_mut().for_each(|key| self::term(key));
            self::term(value);
            self::term(collection);
        }
        Term::ArrayCompr { term: inner, body: b } | Term::SetCompr { term: inner, body: b } => {
            self::term(inner);
            body(b);
        }
        Term::ObjectCompr { key, value, body: b } => {
            self::term(key);
            self::term(value);
            body(b);
        }
    }
}
