//! Where regorus' interpreter (the fallback evaluator) may answer differently from OPA, found in
//! a policy's parse tree when it is loaded on the interpreter: each kind of construct once, with
//! the first place it appears, for the start-up log (docs/security.md, "Known differences").
//!
//! These are regorus' own semantics, which Armature cannot change from outside; the compiled
//! evaluator follows OPA in each. Builtins are not listed: Armature installs OPA-compatible ones
//! over regorus' for both evaluators.

use regorus::unstable::{Expr, Literal, Module, Query, Ref, Rule, RuleHead, Span};

/// One sentence per kind of construct found, each with `file:line` of its first occurrence.
pub(crate) fn find(modules: &[Ref<Module>]) -> Vec<String> {
    let mut found = Found::default();
    for module in modules {
        for rule in &module.policy {
            let Rule::Spec { head, bodies, .. } = rule.as_ref() else { continue };
            if let RuleHead::Compr { refr, span, .. } = head {
                if matches!(refr.as_ref(), Expr::RefBrack { .. }) {
                    found.note(Kind::PartialObject, span);
                }
            }
            for body in bodies {
                if body.is_else && body.assign.is_none() {
                    found.note(Kind::ElseWithoutValue, &body.span);
                }
                if let Some(assign) = &body.assign {
                    found.expr(&assign.value);
                }
                found.query(&body.query);
            }
        }
    }
    found.sentences()
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    NotOverCall,
    SomeIn,
    Arithmetic,
    PartialObject,
    ElseWithoutValue,
}

impl Kind {
    fn sentence(self) -> &'static str {
        match self {
            Kind::NotOverCall => {
                "`not` over a call: with an argument undefined, the interpreter holds the `not` (OPA: the call is undefined, and so is the `not`)"
            }
            Kind::SomeIn => "`some ... in` over a value that is not a collection is an error on the interpreter (OPA: undefined)",
            Kind::Arithmetic => "arithmetic on a value that is not a number is an error on the interpreter (OPA: undefined)",
            Kind::PartialObject => {
                "a partial object rule: two values for one key fail on the interpreter even when a lookup asks for another key (OPA evaluates the key asked for)"
            }
            Kind::ElseWithoutValue => "an `else` without a value: the interpreter does not treat it as `else := true` in every case",
        }
    }
}

#[derive(Default)]
struct Found {
    first: Vec<(Kind, String)>,
}

impl Found {
    fn note(&mut self, kind: Kind, span: &Span) {
        if !self.first.iter().any(|(known, _)| *known == kind) {
            self.first.push((kind, format!("{}:{}", span.source.get_path(), span.line)));
        }
    }

    fn sentences(mut self) -> Vec<String> {
        self.first.sort();
        self.first.into_iter().map(|(kind, place)| format!("{place}: {}", kind.sentence())).collect()
    }

    fn query(&mut self, query: &Query) {
        for statement in &query.stmts {
            match &statement.literal {
                Literal::SomeVars { .. } => {}
                Literal::SomeIn { span, key, value, collection } => {
                    self.note(Kind::SomeIn, span);
                    key.iter().for_each(|key| self.expr(key));
                    self.expr(value);
                    self.expr(collection);
                }
                Literal::Expr { expr, .. } => self.expr(expr),
                Literal::NotExpr { span, expr } => {
                    if contains_call(expr) {
                        self.note(Kind::NotOverCall, span);
                    }
                    self.expr(expr);
                }
                Literal::Every { domain, query, .. } => {
                    self.expr(domain);
                    self.query(query);
                }
            }
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::ArithExpr { span, lhs, rhs, .. } => {
                self.note(Kind::Arithmetic, span);
                self.expr(lhs);
                self.expr(rhs);
            }
            Expr::UnaryExpr { span, expr, .. } => {
                self.note(Kind::Arithmetic, span);
                self.expr(expr);
            }
            Expr::BinExpr { lhs, rhs, .. } | Expr::BoolExpr { lhs, rhs, .. } | Expr::AssignExpr { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().for_each(|item| self.expr(item)),
            Expr::Object { fields, .. } => {
                for (_, key, value) in fields {
                    self.expr(key);
                    self.expr(value);
                }
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                self.expr(term);
                self.query(query);
            }
            Expr::ObjectCompr { key, value, query, .. } => {
                self.expr(key);
                self.expr(value);
                self.query(query);
            }
            Expr::Call { params, .. } => params.iter().for_each(|param| self.expr(param)),
            Expr::RefDot { refr, .. } => self.expr(refr),
            Expr::RefBrack { refr, index, .. } => {
                self.expr(refr);
                self.expr(index);
            }
            Expr::Membership { key, value, collection, .. } => {
                key.iter().for_each(|key| self.expr(key));
                self.expr(value);
                self.expr(collection);
            }
            _ => {}
        }
    }
}

fn contains_call(expr: &Expr) -> bool {
    match expr {
        Expr::Call { .. } => true,
        Expr::ArithExpr { lhs, rhs, .. }
        | Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => contains_call(lhs) || contains_call(rhs),
        Expr::UnaryExpr { expr, .. } | Expr::RefDot { refr: expr, .. } => contains_call(expr),
        Expr::RefBrack { refr, index, .. } => contains_call(refr) || contains_call(index),
        Expr::Membership { key, value, collection, .. } => {
            key.as_ref().is_some_and(|key| contains_call(key)) || contains_call(value) || contains_call(collection)
        }
        Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().any(|item| contains_call(item)),
        Expr::Object { fields, .. } => fields.iter().any(|(_, key, value)| contains_call(key) || contains_call(value)),
        _ => false,
    }
}
