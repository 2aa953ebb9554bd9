//! The literals OPA's rule index checks before it evaluates a rule's body.
//!
//! OPA does not evaluate every rule (and `else` branch) of a name: an index built from
//! equalities between an input reference and a constant, `in` tests, `startswith`/`endswith`,
//! `glob.match` and the mere presence of a reference first rules out those that cannot match.
//! A ruled-out body is never evaluated, so an error it would raise (a builtin error in strict
//! mode, a conflict in a rule it reads) is not raised. To give OPA's answers, a compiled branch
//! checks the same conditions first ([`super::ir::Branch::guards`]) and is skipped when one does
//! not hold; its body then runs in its own order, conditions included.
//!
//! A condition qualifies when it reads only the input at a constant path (directly, or through
//! a local a previous literal bound to one) or a function's parameters, and compares it with a
//! constant; that is what OPA's index can look up without evaluating anything. Every input
//! reference OPA's compiler moves into a local of its own (a call's operand, the domain of
//! `every`) must also be defined: OPA's index records `__local0__ = input.x` as such.
//! These conditions are implied by the body (it fails when one does not hold), so checking them
//! first changes no answer but whether an error is raised.

use regorus::unstable::BoolOp;
use regorus::Value;

use super::ir::{Body, Branch, Literal, Pattern, Slot, Term};

/// The guards of a branch with these parameters and this body.
pub(crate) fn guards(args: &[Pattern], body: &Body) -> Vec<Literal> {
    let mut parameters = Vec::new();
    for arg in args {
        bound_by(arg, &mut parameters);
    }
    let mut aliases: Vec<(Slot, Term)> = Vec::new();
    let mut guards = Vec::new();
    for literal in &body.literals {
        // Every input reference OPA's compiler binds to a local of its own before the literal
        // (`__local0__ = input.x`), which its index records as "must be defined".
        let mut defined = Vec::new();
        hoisted(literal, &mut defined);
        for reference in defined {
            let guard = Literal::Bind(Pattern::Wildcard, reference);
            if !guards.iter().any(|known| same_guard(known, &guard)) {
                guards.push(guard);
            }
        }
        if let Literal::Bind(Pattern::Bind(slot), term @ Term::Input(path)) = literal {
            if ground(path) {
                aliases.push((*slot, term.clone()));
                continue;
            }
        }
        if let Some(guard) = guard(literal, &parameters, &aliases) {
            guards.push(guard);
        }
    }
    guards
}

fn same_guard(a: &Literal, b: &Literal) -> bool {
    match (a, b) {
        (Literal::Bind(Pattern::Wildcard, Term::Input(a)), Literal::Bind(Pattern::Wildcard, Term::Input(b))) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|(a, b)| matches!((a, b), (Term::Const(a), Term::Const(b)) if a == b))
        }
        _ => false,
    }
}

/// The input references at a constant path that OPA's `rewriteDynamics` (and the equalities of
/// its index) make a literal depend on being defined: the operands of calls and operators, in
/// composites too, the domain of `every`, the sides of an equality and an assignment, a bare
/// reference. Not inside `not` or a comprehension, nor the collection of `some ... in`.
fn hoisted(literal: &Literal, out: &mut Vec<Term>) {
    match literal {
        Literal::Expr(Term::Input(path)) if ground(path) => out.push(Term::Input(path.clone())),
        Literal::Expr(Term::Compare(BoolOp::Eq, left, right)) => {
            for side in [left, right] {
                side_of_equality(side, out);
            }
        }
        Literal::Expr(term) => operands_of(term, out),
        Literal::Bind(_, term) => side_of_equality(term, out),
        Literal::Every { domain, .. } => operand(domain, out),
        // Observed: OPA's index does not make the collection of `some ... in` a condition.
        Literal::Each { .. } | Literal::Not(_) => {}
    }
}

fn side_of_equality(side: &Term, out: &mut Vec<Term>) {
    match side {
        Term::Input(path) if ground(path) => out.push(side.clone()),
        other => operands_of(other, out),
    }
}

/// A term whose operands OPA evaluates into locals first: a call, an operator, a composite.
fn operands_of(term: &Term, out: &mut Vec<Term>) {
    match term {
        Term::Builtin(call) => call.args.iter().for_each(|arg| operand(arg, out)),
        Term::Function(_, args) => args.iter().for_each(|arg| operand(arg, out)),
        Term::Arith(_, left, right) | Term::SetOp(_, left, right) | Term::Compare(_, left, right) => {
            operand(left, out);
            operand(right, out);
        }
        Term::Member { key, value, collection } => {
            key.iter().for_each(|key| operand(key, out));
            operand(value, out);
            operand(collection, out);
        }
        Term::Array(items) | Term::Set(items) => items.iter().for_each(|item| operand(item, out)),
        Term::Object(fields) => {
            for (key, value) in fields {
                operand(key, out);
                operand(value, out);
            }
        }
        Term::Index(base, key) => {
            operands_of(base, out);
            operand(key, out);
        }
        _ => {}
    }
}

fn operand(term: &Term, out: &mut Vec<Term>) {
    match term {
        Term::Input(path) if ground(path) => out.push(term.clone()),
        other => operands_of(other, out),
    }
}

fn bound_by(pattern: &Pattern, slots: &mut Vec<Slot>) {
    match pattern {
        Pattern::Bind(slot) => slots.push(*slot),
        Pattern::Array(items) => items.iter().for_each(|item| bound_by(item, slots)),
        Pattern::Wildcard | Pattern::Value(_) => {}
    }
}

fn ground(path: &[Term]) -> bool {
    path.iter().all(|key| matches!(key, Term::Const(_)))
}

/// The literal as a guard (locals replaced by the input paths they stand for), if OPA indexes it.
fn guard(literal: &Literal, parameters: &[Slot], aliases: &[(Slot, Term)]) -> Option<Literal> {
    // A subject: the input at a constant path, or a parameter.
    let subject = |term: &Term| -> Option<Term> {
        match term {
            Term::Input(path) if ground(path) => Some(term.clone()),
            Term::Local(slot) if parameters.contains(slot) => Some(term.clone()),
            Term::Local(slot) => aliases.iter().find(|(alias, _)| alias == slot).map(|(_, input)| input.clone()),
            _ => None,
        }
    };
    let scalar = |term: &Term| matches!(term, Term::Const(value) if !matches!(value, Value::Array(_) | Value::Object(_) | Value::Set(_) | Value::Undefined));
    match literal {
        Literal::Expr(Term::Compare(BoolOp::Eq, left, right)) => {
            let (subject_side, constant) = match (subject(left), subject(right)) {
                (Some(subject), None) if scalar(right) => (subject, (**right).clone()),
                (None, Some(subject)) if scalar(left) => (subject, (**left).clone()),
                _ => return None,
            };
            Some(Literal::Expr(Term::Compare(BoolOp::Eq, Box::new(subject_side), Box::new(constant))))
        }
        // `[a, "x", _] = input.pair`: the array's length and constant elements.
        Literal::Bind(pattern @ Pattern::Array(_), term) => {
            let subject = subject(term)?;
            Some(Literal::Bind(pattern.clone(), subject))
        }
        Literal::Expr(Term::Member { key: None, value, collection }) => match (subject(value), subject(collection)) {
            (Some(subject), None) if matches!(**collection, Term::Const(_)) => Some(Literal::Expr(Term::Member {
                key: None,
                value: Box::new(subject),
                collection: collection.clone(),
            })),
            (None, Some(subject)) if scalar(value) => {
                Some(Literal::Expr(Term::Member { key: None, value: value.clone(), collection: Box::new(subject) }))
            }
            _ => None,
        },
        Literal::Expr(Term::Builtin(call)) => {
            let name = call.builtin.name();
            let indexed = match name {
                "startswith" | "endswith" => {
                    call.args.len() == 2 && scalar(&call.args[1]) && subject(&call.args[0]).is_some()
                }
                "glob.match" => {
                    call.args.len() == 3
                        && scalar(&call.args[0])
                        && matches!(call.args[1], Term::Const(_))
                        && subject(&call.args[2]).is_some()
                }
                _ => false,
            };
            if !indexed {
                return None;
            }
            let mut call = call.clone();
            for arg in &mut call.args {
                if let Some(resolved) = subject(arg) {
                    *arg = resolved;
                }
            }
            Some(Literal::Expr(Term::Builtin(call)))
        }
        _ => None,
    }
}

/// Drops what the guards make redundant, once a plan is final: a body literal equal to a guard
/// (the guard held, so the literal holds, and evaluating it again raises nothing), and a
/// "must be defined" guard on a reference another guard compares (undefined fails that one
/// too).
pub(crate) fn drop_repeated(branch: &mut Branch) {
    let compared: Vec<Term> = branch.guards.iter().filter_map(compared_subject).cloned().collect();
    branch.guards.retain(|guard| match guard {
        Literal::Bind(Pattern::Wildcard, subject) => !compared.iter().any(|other| same_term(other, subject)),
        _ => true,
    });
    let guards = &branch.guards;
    branch.body.literals.retain(|literal| match literal {
        Literal::Expr(term) => {
            !guards.iter().any(|guard| matches!(guard, Literal::Expr(other) if same_term(other, term)))
        }
        _ => true,
    });
}

/// The input reference an equality or membership guard compares with a constant.
fn compared_subject(guard: &Literal) -> Option<&Term> {
    match guard {
        Literal::Expr(Term::Compare(BoolOp::Eq, left, right)) => match (&**left, &**right) {
            (subject @ Term::Input(_), Term::Const(_)) | (Term::Const(_), subject @ Term::Input(_)) => Some(subject),
            _ => None,
        },
        Literal::Expr(Term::Member { key: None, value, collection }) => match (&**value, &**collection) {
            (subject @ Term::Input(_), Term::Const(_)) | (Term::Const(_), subject @ Term::Input(_)) => Some(subject),
            _ => None,
        },
        _ => None,
    }
}

/// Structural equality of the terms guards are made of (others are never equal).
fn same_term(a: &Term, b: &Term) -> bool {
    match (a, b) {
        (Term::Const(a), Term::Const(b)) => a == b,
        (Term::Local(a), Term::Local(b)) => a == b,
        (Term::Input(a), Term::Input(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_term(a, b)),
        (Term::Compare(op_a, left_a, right_a), Term::Compare(op_b, left_b, right_b)) => {
            std::mem::discriminant(op_a) == std::mem::discriminant(op_b)
                && same_term(left_a, left_b)
                && same_term(right_a, right_b)
        }
        (
            Term::Member { key: None, value: value_a, collection: collection_a },
            Term::Member { key: None, value: value_b, collection: collection_b },
        ) => same_term(value_a, value_b) && same_term(collection_a, collection_b),
        _ => false,
    }
}
