//! The compiled form of a policy: regorus' parse tree lowered to terms, literals and rules whose
//! names are resolved once (locals to slots, rules to indexes, data to constants, builtins to
//! functions), so evaluating it does no lookup by name.
//!
//! Every term is single-valued: iteration (`input.roles[_]`, `some x in xs`) is lowered to a
//! [`Literal::Each`] ahead of the literal that uses it, as OPA's compiler rewrites such
//! references, so a term evaluates to one value or to undefined and only bodies backtrack.

use regorus::unstable::{ArithOp, BinOp, BoolOp, Expr, Ref, Span};
use regorus::Value;

use super::super::builtins::Builtin;
use super::super::view::Place;

/// A local variable's slot in its rule's frame.
pub(crate) type Slot = usize;

/// A rule's index in [`Program::rules`].
pub(crate) type RuleId = usize;

/// A value-producing term: one value, or undefined ([`Value::Undefined`]).
#[derive(Debug, Clone)]
pub(crate) enum Term {
    /// A constant, folded at compile time (literals, data documents, constant composites).
    Const(Value),
    /// A local variable, bound by an earlier literal of the body (the compiler checks).
    Local(Slot),
    /// `input` followed by these indexes.
    Input(Vec<Term>),
    /// `input` at a place known ahead (its constant keys resolved, see `resolve`), then the
    /// rest of the indexes. Made last, when a plan is final.
    InputAt(Box<PlacedInput>),
    /// The value of a rule (a complete rule's value, a partial rule's set or object), then these
    /// indexes.
    Rule(RuleId, Vec<Term>),
    /// A computed value indexed by one term (`f(x)[0]`, `local.field`).
    Index(Box<Term>, Box<Term>),
    Array(Vec<Term>),
    Set(Vec<Term>),
    Object(Vec<(Term, Term)>),
    /// A builtin function.
    Builtin(Box<Call>),
    /// A user-defined function.
    Function(RuleId, Vec<Term>),
    Arith(ArithOp, Box<Term>, Box<Term>),
    SetOp(BinOp, Box<Term>, Box<Term>),
    Compare(BoolOp, Box<Term>, Box<Term>),
    /// `value in collection`, `key, value in collection`: true or false.
    Member {
        key: Option<Box<Term>>,
        value: Box<Term>,
        collection: Box<Term>,
    },
    ArrayCompr {
        term: Box<Term>,
        body: Body,
    },
    SetCompr {
        term: Box<Term>,
        body: Body,
    },
    ObjectCompr {
        key: Box<Term>,
        value: Box<Term>,
        body: Body,
    },
}

/// An input reference whose constant leading keys are resolved to a place.
#[derive(Debug, Clone)]
pub(crate) struct PlacedInput {
    pub place: Place,
    /// The keys `place` stands for, to read a whole input document (tests, the fuzzer).
    pub keys: Vec<Value>,
    pub rest: Vec<Term>,
}

/// A builtin call, with what regorus' builtins take for their messages.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub builtin: Builtin,
    pub args: Vec<Term>,
    /// The call's place and its argument expressions.
    pub span: Span,
    pub params: Vec<Ref<Expr>>,
}

/// What a literal matches a value against.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// An unbound local: the match binds it.
    Bind(Slot),
    /// `_`: matches anything.
    Wildcard,
    /// A term without unbound locals: the value must equal it.
    Value(Term),
    /// An array pattern: `[a, b] := pair`.
    Array(Vec<Pattern>),
}

/// One literal of a body.
#[derive(Debug, Clone)]
pub(crate) enum Literal {
    /// An expression: holds when it is defined and not `false`.
    Expr(Term),
    /// `not ...`: holds when the body inside has no solution.
    Not(Body),
    /// `pattern := term`, `pattern = term`, `term = pattern`.
    Bind(Pattern, Term),
    /// One solution per member of the collection: `some value in collection`,
    /// `some key, value in collection`, and the iteration inside a reference (`xs[i]`).
    Each { collection: Term, key: Option<Pattern>, value: Pattern },
    /// `every key, value in domain { body }`.
    Every { key: Option<Slot>, value: Slot, domain: Term, body: Body },
}

/// A conjunction of literals.
#[derive(Debug, Clone, Default)]
pub(crate) struct Body {
    pub literals: Vec<Literal>,
}

/// How a rule produces its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    /// `p := v if ...`, `p if ...`: one value; two different values are a conflict.
    Complete,
    /// `p contains v if ...`: the set of every `v` (empty when no body holds).
    PartialSet,
    /// `p[k] := v if ...`: the object of every `k: v`; two values for one key are a conflict.
    PartialObject,
    /// `f(a, b) := v if ...`, with its number of parameters.
    Function(usize),
}

/// One branch of an `else` chain.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    /// A function's parameters.
    pub args: Vec<Pattern>,
    /// A partial set's element, a partial object's key.
    pub key: Option<Term>,
    /// The value; None: `true`.
    pub value: Option<Term>,
    /// What OPA's rule index checks before it evaluates the body (see `guards`): when one fails
    /// (or fails to evaluate), the branch is skipped without evaluating the body, so an error
    /// the body would raise is not raised.
    pub guards: Vec<Literal>,
    pub body: Body,
}

/// One definition: an `else` chain whose first holding branch gives the value.
#[derive(Debug, Clone)]
pub(crate) struct Definition {
    pub branches: Vec<Branch>,
}

/// A rule (or function) and all its definitions.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// `data.pkg.name`, for messages.
    pub path: String,
    pub kind: RuleKind,
    pub definitions: Vec<Definition>,
    /// The `default` value.
    pub default: Option<Value>,
    /// Slots its bodies use.
    pub locals: usize,
    /// `file:line` of its first definition, for messages.
    pub location: String,
}

/// A compiled policy set.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub rules: Vec<Rule>,
    /// The decision rule.
    pub entry: RuleId,
}
