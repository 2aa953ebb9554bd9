//! `glob.match`, as OPA (which uses gobwas/glob): `*` is any run of characters other than the
//! delimiters, `**` any run at all, `?` one character other than a delimiter, `[abc]`, `[a-z]`
//! and `[!...]` classes, `{a,b}` alternatives (nested, and possibly empty: `/me{,/**}` matches
//! `/me`), `\` escapes the next character. An empty delimiter list means `["."]`, `null` none.
//!
//! A pattern is translated to a regular expression (linear-time matching, whatever the pattern)
//! and compiled once per thread. Written by hand because no Rust glob crate has gobwas'
//! delimiter-aware `*` and its alternatives; regorus' `glob.match` drops empty alternatives.

use std::fmt::Write as _;

use regorus::Value;

use super::regex::compile_translated;
use super::{string_operand, type_name, BuiltinError};

pub(super) fn glob_match(args: &[Value]) -> Result<Value, BuiltinError> {
    let pattern = string_operand(args.first().unwrap_or(&Value::Undefined), 1, "glob.match")?;
    let delimiters: Vec<char> = match args.get(1).unwrap_or(&Value::Undefined) {
        Value::Null => Vec::new(),
        Value::Array(items) if items.is_empty() => vec!['.'],
        Value::Array(items) => {
            let mut delimiters = Vec::with_capacity(items.len());
            for item in items.iter() {
                let Value::String(text) = item else {
                    return Err(BuiltinError(format!(
                        "glob.match: operand 2 must be array of strings but got array containing {}",
                        type_name(item)
                    )));
                };
                // OPA takes each delimiter's first character.
                delimiters.extend(text.chars().next());
            }
            delimiters
        }
        other => {
            return Err(BuiltinError(format!(
                "glob.match: operand 2 must be one of {{array, null}} but got {}",
                type_name(other)
            )))
        }
    };
    let text = string_operand(args.get(2).unwrap_or(&Value::Undefined), 3, "glob.match")?;
    let mut key = String::with_capacity(pattern.len() + delimiters.len() + 6);
    key.push_str("\0glob\0");
    key.extend(delimiters.iter());
    key.push('\0');
    key.push_str(pattern);
    let regex = compile_translated(&key, || translate(pattern, &delimiters))?;
    Ok(Value::from(regex.is_match(text)))
}

/// The glob as an anchored regular expression.
fn translate(pattern: &str, delimiters: &[char]) -> Result<String, BuiltinError> {
    let mut not_delimiter = String::from("[^");
    for delimiter in delimiters {
        let _ = write!(not_delimiter, "\\x{{{:x}}}", *delimiter as u32);
    }
    not_delimiter.push(']');
    if delimiters.is_empty() {
        not_delimiter = ".".to_owned();
    }
    let mut out = String::from(r"(?s)\A(?:");
    let chars: Vec<char> = pattern.chars().collect();
    let mut at = 0;
    let mut depth = 0usize;
    while let Some(&c) = chars.get(at) {
        at += 1;
        match c {
            '*' if chars.get(at) == Some(&'*') => {
                at += 1;
                out.push_str(".*");
            }
            '*' => {
                out.push_str(&not_delimiter);
                out.push('*');
            }
            '?' => out.push_str(&not_delimiter),
            '{' => {
                depth += 1;
                out.push_str("(?:");
            }
            ',' if depth > 0 => out.push('|'),
            '}' if depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            '[' => at = class(&chars, at, &mut out)?,
            '\\' => match chars.get(at) {
                Some(&escaped) => {
                    at += 1;
                    literal(&mut out, escaped);
                }
                None => return Err(syntax_error("trailing backslash")),
            },
            other => literal(&mut out, other),
        }
    }
    if depth > 0 {
        return Err(syntax_error("unclosed `{`"));
    }
    out.push_str(r")\z");
    Ok(out)
}

/// A `[...]` class starting after its `[`: a `lo-hi` range or a list, either negated by `!`.
/// Returns the position after its `]`.
fn class(chars: &[char], mut at: usize, out: &mut String) -> Result<usize, BuiltinError> {
    out.push('[');
    if chars.get(at) == Some(&'!') {
        at += 1;
        out.push('^');
    }
    match (chars.get(at), chars.get(at + 1), chars.get(at + 2)) {
        (Some(&lo), Some('-'), Some(&hi)) => {
            if lo > hi {
                return Err(syntax_error("invalid range"));
            }
            let _ = write!(out, "\\x{{{:x}}}-\\x{{{:x}}}", lo as u32, hi as u32);
            at += 3;
        }
        _ => {
            let start = out.len();
            while let Some(&c) = chars.get(at) {
                match c {
                    ']' => break,
                    '\\' => {
                        let escaped = chars.get(at + 1).ok_or_else(|| syntax_error("trailing backslash"))?;
                        let _ = write!(out, "\\x{{{:x}}}", *escaped as u32);
                        at += 2;
                    }
                    other => {
                        let _ = write!(out, "\\x{{{:x}}}", other as u32);
                        at += 1;
                    }
                }
            }
            if out.len() == start {
                return Err(syntax_error("empty character class"));
            }
        }
    }
    if chars.get(at) != Some(&']') {
        return Err(syntax_error("unclosed `[`"));
    }
    out.push(']');
    Ok(at + 1)
}

fn literal(out: &mut String, c: char) {
    let mut buffer = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buffer)));
}

fn syntax_error(reason: &str) -> BuiltinError {
    BuiltinError(format!("glob: syntax error: {reason}"))
}
