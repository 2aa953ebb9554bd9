//! `sprintf`, as OPA: its arguments become Go values (an integer an `int64`, or a `*big.Int`
//! beyond it; any other number a `float64`; a string a `string`; anything else the Rego text of
//! the value, as a `string`) and are formatted by Go's `fmt` rules, including its way of
//! reporting a verb that does not fit its argument (`%!d(float64=2.5)`), a missing argument
//! (`%!d(MISSING)`) and extra ones (`%!(EXTRA int64=1)`).
//!
//! Written by hand: no crate formats with Go's verbs and flags, and regorus' `sprintf` differs
//! from Go's on negative numbers, floats given to `%d`, large integers and `-0`.

use std::fmt::Write as _;

use regorus::Value;

use super::{string_operand, type_name, BuiltinError};

/// A Go value, as OPA hands it to `fmt.Sprintf`.
enum Arg {
    Int(i64),
    /// An integer beyond int64, in decimal (`*big.Int`).
    Big(String),
    Float(f64),
    Str(String),
}

impl Arg {
    fn of(value: &Value) -> Arg {
        match value {
            // regorus does not tell 1.0 from 1 (OPA does, by the number's text), so an integral
            // value is formatted as an integer.
            Value::Number(number) => match (number.as_i64(), number.is_integer()) {
                (Some(integer), _) => Arg::Int(integer),
                (None, true) => Arg::Big(number.format_decimal()),
                (None, false) => Arg::Float(number.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(text) => Arg::Str(text.to_string()),
            other => Arg::Str(rego_text(other)),
        }
    }

    fn go_type(&self) -> &'static str {
        match self {
            Arg::Int(_) => "int64",
            Arg::Big(_) => "*big.Int",
            Arg::Float(_) => "float64",
            Arg::Str(_) => "string",
        }
    }
}

/// The flags, width and precision of one verb.
#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

pub(super) fn sprintf(args: &[Value]) -> Result<Value, BuiltinError> {
    let format = string_operand(args.first().unwrap_or(&Value::Undefined), 1, "sprintf")?;
    let values = match args.get(1).unwrap_or(&Value::Undefined) {
        Value::Array(items) => items.iter().map(Arg::of).collect::<Vec<_>>(),
        other => {
            return Err(BuiltinError(format!("sprintf: operand 2 must be array but got {}", type_name(other))));
        }
    };
    Ok(Value::from(go_sprintf(format, &values)))
}

fn go_sprintf(format: &str, args: &[Arg]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = !spec.minus,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
            Some(arg) => {
                next += 1;
                format_arg(&mut out, verb, spec, arg);
            }
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (index, arg) in args[next..].iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}=", arg.go_type());
            format_arg(&mut out, 'v', Spec::default(), arg);
        }
        out.push(')');
    }
    out
}

fn number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut value: Option<usize> = None;
    while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
        // Go caps widths at 1e6 and reports %!(BADWIDTH) beyond; a cap keeps this from growing
        // a string without bound.
        value = Some(value.unwrap_or(0).saturating_mul(10).saturating_add(digit as usize).min(1_000_000));
        chars.next();
    }
    value
}

fn format_arg(out: &mut String, verb: char, spec: Spec, arg: &Arg) {
    let formatted = match (arg, verb) {
        (Arg::Int(value), 'v' | 'd') => Some(integer(spec, *value < 0, &value.unsigned_abs().to_string(), "")),
        (Arg::Int(value), 'x') => Some(integer(spec, *value < 0, &format!("{:x}", value.unsigned_abs()), "0x")),
        (Arg::Int(value), 'X') => Some(integer(spec, *value < 0, &format!("{:X}", value.unsigned_abs()), "0X")),
        (Arg::Int(value), 'o') => Some(integer(spec, *value < 0, &format!("{:o}", value.unsigned_abs()), "0")),
        (Arg::Int(value), 'b') => Some(integer(spec, *value < 0, &format!("{:b}", value.unsigned_abs()), "0b")),
        (Arg::Int(value), 'c') => {
            let c = u32::try_from(*value).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
            Some(pad(spec, &c.to_string(), false))
        }
        (Arg::Big(digits), 'v' | 'd' | 's') => {
            let (negative, magnitude) = match digits.strip_prefix('-') {
                Some(magnitude) => (true, magnitude),
                None => (false, digits.as_str()),
            };
            Some(integer(spec, negative, magnitude, ""))
        }
        (Arg::Float(value), 'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F') => Some(float(spec, verb, *value)),
        (Arg::Str(text), 'v' | 's') => {
            let text = match spec.precision {
                Some(precision) => text.chars().take(precision).collect::<String>(),
                None => text.clone(),
            };
            Some(pad(spec, &text, false))
        }
        (Arg::Str(text), 'q') => Some(pad(spec, &go_quote(text), false)),
        (Arg::Str(text), 'x') => Some(pad(spec, &hex_bytes(text, false), false)),
        (Arg::Str(text), 'X') => Some(pad(spec, &hex_bytes(text, true), false)),
        _ => None,
    };
    match formatted {
        Some(text) => out.push_str(&text),
        None => {
            // Go's report of a verb its argument does not support: %!verb(type=value).
            let _ = write!(out, "%!{verb}({}=", arg.go_type());
            format_arg(out, 'v', Spec::default(), arg);
            out.push(')');
        }
    }
}

/// An integer's digits with Go's sign, precision, `#` prefix and padding rules.
fn integer(spec: Spec, negative: bool, magnitude: &str, prefix: &str) -> String {
    if spec.precision == Some(0) && magnitude == "0" {
        return pad(Spec { zero: false, ..spec }, "", false);
    }
    let mut minimum = spec.precision.unwrap_or(0);
    if spec.precision.is_none() && spec.zero && !spec.minus {
        if let Some(width) = spec.width {
            minimum = width.saturating_sub(usize::from(negative || spec.plus || spec.space));
        }
    }
    let mut digits = String::new();
    if spec.sharp {
        digits.push_str(prefix);
    }
    for _ in magnitude.len()..minimum {
        digits.push('0');
    }
    digits.push_str(magnitude);
    let sign = sign(spec, negative);
    pad(Spec { zero: false, ..spec }, &format!("{sign}{digits}"), true)
}

fn sign(spec: Spec, negative: bool) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

/// A float64 as Go's `%v`/`%g`/`%e`/`%f` print it.
fn float(spec: Spec, verb: char, value: f64) -> String {
    if value.is_nan() {
        return pad(Spec { zero: false, ..spec }, "NaN", false);
    }
    let negative = value.is_sign_negative();
    let magnitude = value.abs();
    let body = if magnitude.is_infinite() {
        "Inf".to_owned()
    } else {
        match verb {
            'e' | 'E' => {
                let text = exponent_form(magnitude, Some(spec.precision.unwrap_or(6)));
                if verb == 'E' {
                    text.to_uppercase()
                } else {
                    text
                }
            }
            'f' | 'F' => format!("{magnitude:.*}", spec.precision.unwrap_or(6)),
            _ => {
                let text = general_form(magnitude, spec.precision);
                if verb == 'G' {
                    text.to_uppercase()
                } else {
                    text
                }
            }
        }
    };
    let sign = sign(spec, negative);
    if spec.zero && !spec.minus && magnitude.is_finite() {
        if let Some(width) = spec.width {
            let digits = width.saturating_sub(sign.len());
            return format!("{sign}{body:0>digits$}");
        }
    }
    pad(Spec { zero: false, ..spec }, &format!("{sign}{body}"), true)
}

/// Decimal digits and exponent of a positive finite value: shortest round-trip digits when
/// `significant` is None, else rounded to that many significant digits.
fn digits_and_exponent(value: f64, significant: Option<usize>) -> (String, i32) {
    let text = match significant {
        Some(count) => format!("{value:.*e}", count.saturating_sub(1)),
        None => format!("{value:e}"),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.replace('.', ""), exponent.parse().unwrap_or(0))
}

/// Go's `%e` with this precision (digits after the point), exponent of at least two digits.
fn exponent_form(value: f64, precision: Option<usize>) -> String {
    let (digits, exponent) = digits_and_exponent(value, precision.map(|p| p + 1));
    let mut text = String::new();
    text.push_str(&digits[..1]);
    if digits.len() > 1 {
        text.push('.');
        text.push_str(&digits[1..]);
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    let _ = write!(text, "e{sign}{:02}", exponent.abs());
    text
}

/// Go's `%g` (and `%v` for floats): shortest digits, or `precision` significant ones; the
/// exponent form when the exponent is below -4 or at least the precision (6 for shortest).
fn general_form(value: f64, precision: Option<usize>) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    let significant = precision.map(|p| p.max(1));
    let (digits, exponent) = digits_and_exponent(value, significant);
    let digits = match significant {
        // Go's %g drops trailing zeros of the rounded digits.
        Some(_) => digits.trim_end_matches('0').to_owned(),
        None => digits,
    };
    let digits = if digits.is_empty() { "0".to_owned() } else { digits };
    let mut limit = significant.map_or(6, |p| p as i32);
    if let Some(p) = significant {
        let count = digits.len() as i32;
        if p as i32 > count && count > exponent {
            limit = count;
        }
    }
    if exponent < -4 || exponent >= limit {
        let mut text = String::new();
        text.push_str(&digits[..1]);
        if digits.len() > 1 {
            text.push('.');
            text.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(text, "e{sign}{:02}", exponent.abs());
        return text;
    }
    // Positional: the point goes after exponent + 1 digits.
    let point = exponent + 1;
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    }
}

/// Pads to the width with spaces (or, for numbers given the `0` flag, zeros after the sign,
/// handled by the callers), on the left, or on the right with `-`.
fn pad(spec: Spec, text: &str, _numeric: bool) -> String {
    let Some(width) = spec.width else { return text.to_owned() };
    let length = text.chars().count();
    if length >= width {
        return text.to_owned();
    }
    let fill = if spec.zero && !spec.minus { '0' } else { ' ' };
    let padding: String = std::iter::repeat_n(fill, width - length).collect();
    if spec.minus {
        format!("{text}{padding}")
    } else {
        format!("{padding}{text}")
    }
}

fn hex_bytes(text: &str, upper: bool) -> String {
    text.bytes().map(|byte| if upper { format!("{byte:02X}") } else { format!("{byte:02x}") }).collect()
}

/// Go's `strconv.Quote`: printable characters as they are, the rest escaped.
pub(super) fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\u{b}' => quoted.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(quoted, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04x}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A value as OPA writes Rego terms (`["a", 1]`, `{"k": true}`, `{1, 2}`, `set()`), what
/// `sprintf` prints for anything that is neither a number nor a string.
pub(super) fn rego_text(value: &Value) -> String {
    let mut text = String::new();
    write_rego(&mut text, value);
    text
}

/// `open`, the items separated by ", ", `close`.
fn write_items<'v>(out: &mut String, open: char, items: impl Iterator<Item = &'v Value>, close: char) {
    out.push(open);
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_rego(out, item);
    }
    out.push(close);
}

fn write_rego(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number.format_decimal()),
        Value::String(text) => out.push_str(&go_quote(text)),
        Value::Array(items) => write_items(out, '[', items.iter(), ']'),
        Value::Set(items) if items.is_empty() => out.push_str("set()"),
        Value::Set(items) => write_items(out, '{', items.iter(), '}'),
        Value::Object(fields) => {
            out.push('{');
            for (index, (key, item)) in fields.iter_sorted().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_rego(out, key);
                out.push_str(": ");
                write_rego(out, item);
            }
            out.push('}');
        }
        Value::Undefined => out.push_str("undefined"),
    }
}
