//! The `regex.*` builtins, as OPA: patterns in Go's RE2 syntax, where `\d`, `\w`, `\s` and `\b`
//! are ASCII classes. The regex crate takes the same syntax but makes those classes Unicode
//! (`\d` matches `٣`, and `^[\w-]{1,16}$` grows past regorus' compiled-size limit), so a pattern
//! is translated first: each Perl class becomes its ASCII spelling.
//!
//! Compiled patterns are kept per thread (a policy uses a handful, evaluated on every request).

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;
use regorus::Value;

use super::{string_operand, type_name, BuiltinError};

/// Compiled patterns kept per thread before the cache is emptied and starts again.
const CACHE_SIZE: usize = 256;

/// Go's compiled-program limit is far above what any sensible pattern needs; this bounds the
/// memory one pattern in a policy (or in a request, for `regex.match(input...)`) can take.
const SIZE_LIMIT: usize = 1 << 22;

thread_local! {
    static CACHE: RefCell<HashMap<String, Result<Regex, String>>> = RefCell::new(HashMap::new());
}

/// The compiled form of an RE2 pattern, or why it is invalid.
pub(super) fn compile(pattern: &str) -> Result<Regex, BuiltinError> {
    CACHE.with(|cache| {
        if let Some(compiled) = cache.borrow().get(pattern) {
            return compiled.clone().map_err(BuiltinError);
        }
        let compiled = regex::RegexBuilder::new(&translate(pattern))
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|error| format!("error parsing regexp: {error}"));
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), compiled.clone());
        compiled.map_err(BuiltinError)
    })
}

/// Compiles a regex that is not written in RE2 syntax (a translated glob), through the same
/// cache, keyed apart from RE2 patterns.
pub(super) fn compile_translated(
    key: &str,
    translated: impl FnOnce() -> Result<String, BuiltinError>,
) -> Result<Regex, BuiltinError> {
    CACHE.with(|cache| {
        if let Some(compiled) = cache.borrow().get(key) {
            return compiled.clone().map_err(BuiltinError);
        }
        let compiled = translated().map_err(|error| error.0).and_then(|source| {
            regex::RegexBuilder::new(&source).size_limit(SIZE_LIMIT).build().map_err(|error| format!("glob: {error}"))
        });
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(key.to_owned(), compiled.clone());
        compiled.map_err(BuiltinError)
    })
}

/// RE2's Perl classes spelled in ASCII, inside a bracket expression or outside one.
fn ascii_class(class: char, in_brackets: bool) -> Option<&'static str> {
    Some(match (class, in_brackets) {
        ('d', false) => "[0-9]",
        ('d', true) => "0-9",
        ('D', false) => "[^0-9]",
        ('D', true) => "[^0-9]",
        ('w', false) => "[0-9A-Za-z_]",
        ('w', true) => "0-9A-Za-z_",
        ('W', false) => "[^0-9A-Za-z_]",
        ('W', true) => "[^0-9A-Za-z_]",
        // RE2's \s is [\t\n\f\r ] (no vertical tab).
        ('s', false) => r"[\t\n\f\r ]",
        ('s', true) => r"\t\n\f\r ",
        ('S', false) => r"[^\t\n\f\r ]",
        ('S', true) => r"[^\t\n\f\r ]",
        ('b', false) => r"(?-u:\b)",
        ('B', false) => r"(?-u:\B)",
        _ => return None,
    })
}

/// The pattern with RE2's ASCII classes made explicit. Inside brackets a negated class becomes
/// a nested class (`[^...]`), which the regex crate unites with the rest of the bracket.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(class) => match ascii_class(class, depth > 0) {
                    Some(spelled) => out.push_str(spelled),
                    None => {
                        out.push('\\');
                        out.push(class);
                    }
                },
                None => out.push('\\'),
            },
            '[' => {
                // `[[:alpha:]]`-style classes are ASCII in both engines: copy them whole.
                if depth > 0 && chars.peek() == Some(&':') {
                    out.push('[');
                    for inner in chars.by_ref() {
                        out.push(inner);
                        if inner == ']' {
                            break;
                        }
                    }
                    continue;
                }
                depth += 1;
                out.push('[');
                // A `]` (or `^]`) right after the opening bracket is a literal member.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str(r"\]");
                    chars.next();
                }
            }
            ']' if depth > 0 => {
                depth -= 1;
                out.push(']');
            }
            // In the regex crate, `[` inside brackets opens a nested class and `&&`, `--`, `~~`
            // are set operations; in RE2 they are literal characters.
            '&' | '~' if depth > 0 => {
                out.push('\\');
                out.push(c);
            }
            '-' if depth > 0 && chars.peek() == Some(&'-') => out.push_str(r"\-"),
            _ => out.push(c),
        }
    }
    out
}

pub(super) fn is_match(args: &[Value]) -> Result<Value, BuiltinError> {
    let pattern = string_operand(arg(args, 0), 1, "regex.match")?;
    let text = string_operand(arg(args, 1), 2, "regex.match")?;
    Ok(Value::from(compile(pattern)?.is_match(text)))
}

pub(super) fn is_valid(args: &[Value]) -> Result<Value, BuiltinError> {
    // OPA answers false for a pattern that is not a string, rather than failing.
    Ok(Value::from(match arg(args, 0) {
        Value::String(pattern) => compile(pattern).is_ok(),
        _ => false,
    }))
}

pub(super) fn find_n(args: &[Value]) -> Result<Value, BuiltinError> {
    let pattern = string_operand(arg(args, 0), 1, "regex.find_n")?;
    let text = string_operand(arg(args, 1), 2, "regex.find_n")?;
    let limit = limit(arg(args, 2), "regex.find_n")?;
    let regex = compile(pattern)?;
    let found = regex.find_iter(text).take(limit).map(|found| Value::from(found.as_str())).collect::<Vec<_>>();
    Ok(Value::from(found))
}

pub(super) fn find_all_string_submatch_n(args: &[Value]) -> Result<Value, BuiltinError> {
    let name = "regex.find_all_string_submatch_n";
    let pattern = string_operand(arg(args, 0), 1, name)?;
    let text = string_operand(arg(args, 1), 2, name)?;
    let limit = limit(arg(args, 2), name)?;
    let regex = compile(pattern)?;
    let found = regex
        .captures_iter(text)
        .take(limit)
        .map(|captures| {
            Value::from(
                captures.iter().map(|group| Value::from(group.map_or("", |group| group.as_str()))).collect::<Vec<_>>(),
            )
        })
        .collect::<Vec<_>>();
    Ok(Value::from(found))
}

pub(super) fn split(args: &[Value]) -> Result<Value, BuiltinError> {
    let pattern = string_operand(arg(args, 0), 1, "regex.split")?;
    let text = string_operand(arg(args, 1), 2, "regex.split")?;
    let regex = compile(pattern)?;
    Ok(Value::from(regex.split(text).map(Value::from).collect::<Vec<_>>()))
}

pub(super) fn replace(args: &[Value]) -> Result<Value, BuiltinError> {
    let text = string_operand(arg(args, 0), 1, "regex.replace")?;
    let pattern = string_operand(arg(args, 1), 2, "regex.replace")?;
    let replacement = string_operand(arg(args, 2), 3, "regex.replace")?;
    let regex = compile(pattern)?;
    Ok(Value::from(&*regex.replace_all(text, replacement)))
}

fn arg(args: &[Value], index: usize) -> &Value {
    args.get(index).unwrap_or(&Value::Undefined)
}

/// Go's `n` of `FindAll*`: negative for every match.
fn limit(value: &Value, name: &str) -> Result<usize, BuiltinError> {
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(n) if n < 0 => Ok(usize::MAX),
            Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            None => {
                Err(BuiltinError(format!("{name}: operand 3 must be integer number but got floating-point number")))
            }
        },
        other => Err(BuiltinError(format!("{name}: operand 3 must be number but got {}", type_name(other)))),
    }
}
