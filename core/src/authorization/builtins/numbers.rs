//! `to_number`, as OPA: a string converts when Go's `strconv.ParseFloat` accepts it in decimal
//! form (a sign, leading zeros, a bare fraction `.5` or point `5.`, an exponent and `_` between
//! digits are fine; spaces, `Inf`, `NaN` and values beyond float64 are not), and keeps its exact
//! value (integers beyond 2^53 are not rounded). Hexadecimal floats (`0x1p4`), which Go also
//! accepts, are refused: no policy is known to use them.

use regorus::Value;

use super::{type_name, BuiltinError};

pub(super) fn to_number(args: &[Value]) -> Result<Value, BuiltinError> {
    match args.first().unwrap_or(&Value::Undefined) {
        Value::Null => Ok(Value::from(0u64)),
        Value::Bool(flag) => Ok(Value::from(u64::from(*flag))),
        number @ Value::Number(_) => Ok(number.clone()),
        Value::String(text) => parse_decimal(text)
            .ok_or_else(|| BuiltinError(format!("strconv.ParseFloat: parsing {text:?}: invalid syntax"))),
        other => Err(BuiltinError(format!(
            "to_number: operand 1 must be one of {{null, boolean, number, string}} but got {}",
            type_name(other)
        ))),
    }
}

/// A decimal number in Go's `ParseFloat` syntax, as a value; None when it is not one or is out
/// of float64's range (ParseFloat's range error).
pub(super) fn parse_decimal(text: &str) -> Option<Value> {
    // Go's literal syntax lets `_` separate digits (`1_000`); anywhere else it is an error.
    let without_underscores;
    let text = if text.contains('_') {
        let bytes = text.as_bytes();
        let separates_digits = bytes.iter().enumerate().all(|(at, byte)| {
            *byte != b'_'
                || (at > 0 && bytes[at - 1].is_ascii_digit() && bytes.get(at + 1).is_some_and(u8::is_ascii_digit))
        });
        if !separates_digits {
            return None;
        }
        without_underscores = text.replace('_', "");
        without_underscores.as_str()
    } else {
        text
    };
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) || whole.is_empty() && fraction.is_none_or(str::is_empty) {
        return None;
    }
    if let Some(exponent) = exponent {
        let exponent_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if exponent_digits.is_empty() || !digits(exponent_digits) {
            return None;
        }
    }
    // Go's ParseFloat fails on a value float64 cannot hold (1e400); Rust's parse gives infinity.
    let float: f64 = text.parse().ok()?;
    if !float.is_finite() {
        return None;
    }
    if exponent.is_none() && fraction.is_none() {
        // An integer: exact, whatever its size (serde_json's arbitrary precision is not on, but
        // regorus parses integer literals beyond u64 into big integers).
        let trimmed = whole.trim_start_matches('0');
        let canonical = match (negative, trimmed.is_empty()) {
            (_, true) => "0".to_owned(),
            (true, false) => format!("-{trimmed}"),
            (false, false) => trimmed.to_owned(),
        };
        return Value::from_json_str(&canonical).ok();
    }
    Some(Value::from(float))
}
