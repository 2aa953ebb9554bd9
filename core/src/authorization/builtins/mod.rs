//! Rego's builtin functions with OPA's behaviour.
//!
//! regorus implements the builtins, but some differ from OPA's where policies written for OPA
//! notice (regex classes, `glob.match` alternatives, `to_number`'s syntax, `sprintf`, `count` of
//! a string). Those are implemented here, after OPA v1.22's documented and observed behaviour,
//! and used by both evaluators: the compiled one calls them directly, and the interpreter gets
//! them as engine extensions that replace regorus' own (see [`install`]). Every other builtin is
//! regorus'.
//!
//! A builtin that fails (a wrong operand type, an invalid pattern) makes its expression
//! undefined in OPA's default mode, and fails the evaluation in its strict mode
//! (`authorization.strict_builtin_errors`).

mod glob;
mod numbers;
mod regex;
mod sprintf;
mod strings;

use regorus::unstable::{Expr, Ref, Span};
use regorus::{Engine, Value};

/// A builtin failed; the message says why, in OPA's words where it has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuiltinError(pub String);

impl std::fmt::Display for BuiltinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type OwnFunction = fn(&[Value]) -> Result<Value, BuiltinError>;
type RegorusFunction = fn(&Span, &[Ref<Expr>], &[Value], bool) -> anyhow::Result<Value>;

/// Armature's implementations: name, number of arguments, function.
const OWN: [(&str, usize, OwnFunction); 11] = [
    ("to_number", 1, numbers::to_number),
    ("count", 1, strings::count),
    ("sprintf", 2, sprintf::sprintf),
    ("glob.match", 3, glob::glob_match),
    ("regex.match", 2, regex::is_match),
    ("re_match", 2, regex::is_match),
    ("regex.is_valid", 1, regex::is_valid),
    ("regex.find_n", 3, regex::find_n),
    ("regex.find_all_string_submatch_n", 3, regex::find_all_string_submatch_n),
    ("regex.split", 2, regex::split),
    ("regex.replace", 3, regex::replace),
];

/// Builtins whose value is not a function of their arguments (the clock, randomness, the
/// network, output): the compiled evaluator folds and reorders calls, so it leaves policies that
/// use them to the interpreter.
const NOT_PURE: [&str; 9] = [
    "time.",
    "rand.",
    "uuid.",
    "http.send",
    "net.lookup_ip_addr",
    "opa.runtime",
    "print",
    "trace",
    "crypto.x509.parse_and_verify_certificates",
];

/// A builtin the compiled evaluator calls.
#[derive(Clone, Copy)]
pub(crate) enum Builtin {
    Own { name: &'static str, function: OwnFunction },
    Regorus { name: &'static str, function: RegorusFunction },
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Builtin {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Builtin::Own { name, .. } | Builtin::Regorus { name, .. } => name,
        }
    }

    /// Calls it on defined arguments. regorus' functions take the call's place and argument
    /// expressions for their messages.
    pub(crate) fn call(&self, span: &Span, params: &[Ref<Expr>], args: &[Value]) -> Result<Value, BuiltinError> {
        match self {
            Builtin::Own { function, .. } => function(args),
            // Strict: regorus' functions then report every failure as an error, which the caller
            // turns into undefined or a refusal by the configured mode.
            Builtin::Regorus { function, .. } => {
                function(span, params, args, true).map_err(|error| BuiltinError(format!("{error:#}").trim().to_owned()))
            }
        }
    }
}

/// The builtin `name` called with `arguments` arguments, or why the compiled evaluator does not
/// call it.
pub(crate) fn lookup(name: &str, arguments: usize) -> Result<Builtin, String> {
    if NOT_PURE.iter().any(|prefix| if prefix.ends_with('.') { name.starts_with(prefix) } else { name == *prefix }) {
        return Err(format!("`{name}`, whose value is not a function of its arguments"));
    }
    if let Some((name, expected, function)) = OWN.iter().find(|(own, _, _)| *own == name) {
        return check_arity(name, *expected, arguments).map(|()| Builtin::Own { name, function: *function });
    }
    match regorus::unstable::BUILTINS.get_key_value(name) {
        Some((name, (function, expected))) => check_arity(name, usize::from(*expected), arguments)
            .map(|()| Builtin::Regorus { name, function: *function }),
        None => Err(format!("the unknown function `{name}`")),
    }
}

fn check_arity(name: &str, expected: usize, given: usize) -> Result<(), String> {
    if expected == given {
        Ok(())
    } else {
        Err(format!("`{name}` called with {given} arguments (it takes {expected})"))
    }
}

/// Gives an interpreter engine Armature's implementations in place of regorus' own, failing the
/// way the configured mode says (undefined, or an error when `strict`). Call it before adding
/// policies.
pub(crate) fn install(engine: &mut Engine, strict: bool) -> anyhow::Result<()> {
    for (name, arguments, function) in OWN {
        let arguments = u8::try_from(arguments).unwrap_or(u8::MAX);
        engine.add_extension(
            name.to_owned(),
            arguments,
            Box::new(move |args: Vec<Value>| match function(&args) {
                Ok(value) => Ok(value),
                Err(error) if strict => Err(anyhow::anyhow!("{name}: {error}")),
                Err(_) => Ok(Value::Undefined),
            }),
        )?;
    }
    Ok(())
}

/// The operand as a string, or OPA's type error for it.
fn string_operand<'v>(value: &'v Value, position: usize, name: &str) -> Result<&'v str, BuiltinError> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(type_error(name, position, other, "string")),
    }
}

/// OPA's operand type error: `operand 1 must be string but got number`.
fn type_error(name: &str, position: usize, value: &Value, expected: &str) -> BuiltinError {
    BuiltinError(format!("{name}: operand {position} must be {expected} but got {}", type_name(value)))
}

/// A value's type as OPA names it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::Object(_) => "object",
        Value::Undefined => "undefined",
    }
}

#[cfg(test)]
mod tests;
