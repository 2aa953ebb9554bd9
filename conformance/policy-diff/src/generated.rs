//! Policies and inputs generated from bytes (a fuzzer's input, or a corpus file): the same bytes
//! always give the same policy and input, so the equivalence fuzzer
//! (`fuzz/fuzz_targets/policy_equivalence.rs`) and `armature-policy-diff --corpus` (which holds
//! the corpus against the real OPA) read the corpus alike.
//!
//! The grammar covers the compiled subset: complete rules with `else` chains and defaults,
//! partial sets and objects, functions, `some ... in`, `every`, `not`, comprehensions,
//! assignments and unification, comparisons, arithmetic and set operators, and builtins that
//! fail on the wrong types, over inputs whose fields change type (`1`, `1.0`, `"1"`, `null`,
//! arrays, objects, missing). It leaves out what regorus' interpreter is known to answer
//! differently from OPA (docs/security.md): `not` over a call, an `else` without a value, a head
//! whose value may be undefined.

use serde_json::{json, Value};

/// Reads choices from the bytes; past their end every choice is 0.
struct Choices<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Choices<'_> {
    fn pick(&mut self, count: usize) -> usize {
        let byte = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        usize::from(byte) % count.max(1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) < percent
    }

    fn one<'t>(&mut self, items: &[&'t str]) -> &'t str {
        items[self.pick(items.len())]
    }
}

/// Input field values, type-confused on purpose.
const VALUES: [&str; 14] = [
    "1",
    "1.0",
    "2",
    "-1",
    "\"1\"",
    "\"a\"",
    "\"abc\"",
    "true",
    "false",
    "null",
    "[1, \"a\"]",
    "[]",
    "{\"k\": 1}",
    "{}",
];

/// Constants a policy compares with.
const CONSTANTS: [&str; 12] =
    ["0", "1", "1.0", "2", "-1", "\"a\"", "\"1\"", "true", "null", "[1, \"a\"]", "{\"k\": 1}", "{1, \"a\"}"];

/// References into the input.
const REFS: [&str; 8] =
    ["input.a", "input.b", "input.c", "input.d.k", "input.list", "input.list[0]", "input.obj", "input.obj.k"];

/// Builtins of one argument that fail on some types.
const UNARY: [&str; 10] = [
    "count",
    "to_number",
    "abs",
    "lower",
    "is_string",
    "type_name",
    "sort",
    "object.keys",
    "to_number",
    "format_int_10",
];

/// One generated case: a policy (package `fuzz`, decision `data.fuzz.decision`) and an input.
#[derive(Debug, Clone)]
pub struct Generated {
    pub policy: String,
    pub input: Value,
}

/// The decision rule of every generated policy.
pub const DECISION: &str = "data.fuzz.decision";

/// The case these bytes stand for.
pub fn generate(bytes: &[u8]) -> Generated {
    let mut choices = Choices { bytes, at: 0 };
    let input = input(&mut choices);
    let mut policy = String::from("package fuzz\n\nimport rego.v1\n\n");
    let rules = 1 + choices.pick(4);
    let mut names: Vec<(String, Kind)> = Vec::new();
    for index in 0..rules {
        let kind = match choices.pick(4) {
            0 => Kind::Set,
            1 => Kind::Object,
            2 => Kind::Function,
            _ => Kind::Complete,
        };
        let name = format!("r{index}");
        let text = rule(&mut choices, &name, kind, &names);
        policy.push_str(&text);
        names.push((name, kind));
    }
    policy.push_str(&rule(&mut choices, "decision", Kind::Complete, &names));
    Generated { policy, input }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Complete,
    Set,
    Object,
    Function,
}

fn input(choices: &mut Choices<'_>) -> Value {
    let mut fields = serde_json::Map::new();
    for name in ["a", "b", "c"] {
        if choices.pick(5) > 0 {
            fields.insert(name.to_owned(), value(choices));
        }
    }
    if choices.chance(70) {
        fields.insert("d".to_owned(), json!({ "k": value(choices) }));
    }
    if choices.chance(80) {
        let items = (0..choices.pick(4)).map(|_| value(choices)).collect::<Vec<_>>();
        fields.insert("list".to_owned(), Value::Array(items));
    }
    if choices.chance(70) {
        fields.insert("obj".to_owned(), json!({ "k": value(choices), "j": value(choices) }));
    }
    Value::Object(fields)
}

fn value(choices: &mut Choices<'_>) -> Value {
    serde_json::from_str(VALUES[choices.pick(VALUES.len())]).unwrap_or(Value::Null)
}

/// A term: a constant, an input reference, an earlier rule, a call or an operator.
fn term(choices: &mut Choices<'_>, rules: &[(String, Kind)], locals: &[String], depth: usize) -> String {
    let leaf = depth > 1 || choices.chance(50);
    if leaf {
        return match choices.pick(4) {
            0 => choices.one(&CONSTANTS).to_owned(),
            1 if !locals.is_empty() => locals[choices.pick(locals.len())].clone(),
            2 if !rules.is_empty() => {
                let (name, kind) = &rules[choices.pick(rules.len())];
                match kind {
                    Kind::Function => format!("{name}({})", term(choices, &[], locals, depth + 1)),
                    Kind::Object if choices.chance(50) => format!("{name}[{}]", choices.one(&["\"a\"", "\"b\"", "1"])),
                    _ => name.clone(),
                }
            }
            _ => choices.one(&REFS).to_owned(),
        };
    }
    let inner = term(choices, rules, locals, depth + 1);
    match choices.pick(9) {
        0 => {
            let function = choices.one(&UNARY);
            if function == "format_int_10" {
                format!("format_int({inner}, 10)")
            } else {
                format!("{function}({inner})")
            }
        }
        // Parenthesized: a body whose first statement is `a | b` is a set comprehension to OPA's
        // parser (`{ a | b }`), a statement to regorus'.
        1 => {
            format!("({inner} {} {})", choices.one(&["+", "-", "*", "/", "%"]), term(choices, rules, locals, depth + 1))
        }
        2 => format!("({inner} {} {})", choices.one(&["|", "&"]), term(choices, rules, locals, depth + 1)),
        3 => format!("sprintf(\"%v-%d\", [{inner}, {}])", term(choices, rules, locals, depth + 1)),
        4 => format!("concat(\",\", [{inner}, \"x\"])"),
        5 => format!("[x | some x in {inner}]"),
        6 => format!("{{x | some x in {inner}; x != 1}}"),
        7 => format!("object.get({inner}, \"k\", \"none\")"),
        _ => format!("startswith({inner}, \"a\")"),
    }
}

/// A body: one to four literals; names it binds go into `locals`.
fn body(choices: &mut Choices<'_>, rules: &[(String, Kind)], locals: &mut Vec<String>) -> String {
    let count = 1 + choices.pick(4);
    let mut literals = Vec::new();
    for _ in 0..count {
        let literal = match choices.pick(10) {
            0 | 1 => {
                let op = choices.one(&["==", "!=", "<", ">=", "in"]);
                format!("{} {op} {}", term(choices, rules, locals, 0), term(choices, rules, locals, 0))
            }
            2 => term(choices, rules, locals, 0),
            3 => {
                // `not` over a reference or a comparison only (see the module's note).
                let target = if choices.chance(50) {
                    choices.one(&REFS).to_owned()
                } else {
                    format!("{} == {}", choices.one(&REFS), choices.one(&CONSTANTS))
                };
                format!("not {target}")
            }
            4 | 5 => {
                let name = format!("v{}", locals.len());
                let text = format!("some {name} in {}", term(choices, rules, locals, 1));
                locals.push(name);
                text
            }
            6 => {
                let name = format!("v{}", locals.len());
                let text = format!("{name} := {}", term(choices, rules, locals, 0));
                locals.push(name);
                text
            }
            7 => {
                let name = format!("v{}", locals.len());
                let text = format!("[{name}, _] = {}", choices.one(&["input.list", "[1, 2]", "input.obj"]));
                locals.push(name);
                text
            }
            8 => format!("every e in {} {{ e != {} }}", term(choices, rules, locals, 1), choices.one(&CONSTANTS)),
            _ => format!("count([1 | {}]) > 0", choices.one(&REFS)),
        };
        literals.push(literal);
    }
    format!("{{\n\t{}\n}}", literals.join("\n\t"))
}

/// A value for a rule head that is always defined: a constant, or a local the body bound.
fn head_value(choices: &mut Choices<'_>, locals: &[String]) -> String {
    if !locals.is_empty() && choices.chance(40) {
        locals[choices.pick(locals.len())].clone()
    } else {
        choices.one(&CONSTANTS).to_owned()
    }
}

fn rule(choices: &mut Choices<'_>, name: &str, kind: Kind, rules: &[(String, Kind)]) -> String {
    let mut text = String::new();
    let definitions = 1 + choices.pick(2);
    if kind == Kind::Complete && choices.chance(50) {
        text.push_str(&format!("default {name} := {}\n\n", choices.one(&CONSTANTS)));
    }
    for _ in 0..definitions {
        let mut locals = Vec::new();
        match kind {
            Kind::Complete => {
                let body_text = body(choices, rules, &mut locals);
                text.push_str(&format!("{name} := {} if {body_text}", head_value(choices, &locals)));
                let mut branches = choices.pick(3);
                while branches > 0 {
                    let mut else_locals = Vec::new();
                    let body_text = body(choices, rules, &mut else_locals);
                    text.push_str(&format!(" else := {} if {body_text}", head_value(choices, &else_locals)));
                    branches -= 1;
                }
                if choices.chance(30) {
                    text.push_str(&format!(" else := {}", choices.one(&CONSTANTS)));
                }
                text.push_str("\n\n");
            }
            Kind::Set => {
                let body_text = body(choices, rules, &mut locals);
                text.push_str(&format!("{name} contains {} if {body_text}\n\n", head_value(choices, &locals)));
            }
            Kind::Object => {
                let key = choices.one(&["\"a\"", "\"b\"", "1"]);
                let body_text = body(choices, rules, &mut locals);
                text.push_str(&format!("{name}[{key}] := {} if {body_text}\n\n", head_value(choices, &locals)));
            }
            Kind::Function => {
                let mut locals = vec!["p".to_owned()];
                let body_text = body(choices, rules, &mut locals);
                text.push_str(&format!("{name}(p) := {} if {body_text}\n\n", head_value(choices, &locals)));
            }
        }
    }
    text
}
