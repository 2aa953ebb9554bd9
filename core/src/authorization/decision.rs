//! Reading the decision rule's value.

use http::{HeaderName, HeaderValue, StatusCode};
use regorus::Value;

use super::{Decision, EvaluationError};

/// The decision object's keys, made once: looking a key up by a fresh `Value` would allocate
/// its string on every request.
pub(crate) struct DecisionKeys {
    allow: Value,
    status: Value,
    reason: Value,
    headers: Value,
}

impl DecisionKeys {
    pub(crate) fn new() -> Self {
        Self {
            allow: Value::from("allow"),
            status: Value::from("status"),
            reason: Value::from("reason"),
            headers: Value::from("headers"),
        }
    }
}

/// Interprets the decision rule's value.
///
/// `true`/`false` decide alone. An object must carry a boolean `allow` and may carry `status`
/// (an integer 400..=599), `reason` (a string) and `headers` (an object of strings); `null`
/// stands for an absent optional field, and other keys are ignored so policies can carry extra
/// fields for their own use.
///
/// An undefined value (no rule body matched and no `default`) is a deny rather than an error:
/// "nothing allowed this" is the ordinary meaning of an undefined allow rule in Rego, and failing
/// closed with 403 is what such a policy's author expects. A value of any other type cannot be
/// read either way and is [`EvaluationError::Malformed`].
pub(crate) fn parse(value: &Value, keys: &DecisionKeys) -> Result<Decision, EvaluationError> {
    match value {
        Value::Bool(allow) => Ok(Decision::plain(*allow)),
        Value::Undefined => Ok(Decision::plain(false)),
        Value::Object(object) => parse_object(object, keys),
        other => Err(malformed(format!("expected a boolean or an object, got {}", kind(other)))),
    }
}

fn parse_object(object: &regorus::value::Object, keys: &DecisionKeys) -> Result<Decision, EvaluationError> {
    let field = |key: &Value| object.get(key).unwrap_or(&Value::Undefined);
    let allow = match field(&keys.allow) {
        Value::Bool(allow) => *allow,
        Value::Undefined => return Err(malformed("the decision object has no \"allow\"".to_owned())),
        other => return Err(malformed(format!("\"allow\" must be a boolean, got {}", kind(other)))),
    };

    let status = match field(&keys.status) {
        Value::Undefined | Value::Null => None,
        Value::Number(number) => {
            let status = number
                .as_u64()
                .and_then(|code| u16::try_from(code).ok())
                .filter(|code| (400..=599).contains(code))
                .and_then(|code| StatusCode::from_u16(code).ok())
                .ok_or_else(|| malformed("\"status\" must be an integer from 400 to 599".to_owned()))?;
            Some(status)
        }
        other => return Err(malformed(format!("\"status\" must be an integer, got {}", kind(other)))),
    };

    let reason = match field(&keys.reason) {
        Value::Undefined | Value::Null => None,
        Value::String(reason) => Some(reason.to_string()),
        other => return Err(malformed(format!("\"reason\" must be a string, got {}", kind(other)))),
    };

    let headers = match field(&keys.headers) {
        Value::Undefined | Value::Null => Vec::new(),
        Value::Object(headers) => {
            let mut parsed = Vec::with_capacity(headers.len());
            for (name, header_value) in headers.iter() {
                parsed.push(header(name, header_value)?);
            }
            parsed
        }
        other => return Err(malformed(format!("\"headers\" must be an object, got {}", kind(other)))),
    };

    Ok(Decision { allow, status, reason, headers })
}

fn header(name: &Value, value: &Value) -> Result<(HeaderName, HeaderValue), EvaluationError> {
    let Value::String(name) = name else {
        return Err(malformed(format!("a header name must be a string, got {}", kind(name))));
    };
    let header_name =
        HeaderName::try_from(name.as_ref()).map_err(|_| malformed(format!("{name:?} is not a valid header name")))?;
    let Value::String(value) = value else {
        return Err(malformed(format!("header {name:?} must have a string value, got {}", kind(value))));
    };
    let header_value = HeaderValue::try_from(value.as_ref())
        .map_err(|_| malformed(format!("header {name:?} has a value that is not a valid header value")))?;
    Ok((header_name, header_value))
}

fn malformed(message: String) -> EvaluationError {
    EvaluationError::Malformed { message }
}

/// The value's type, not the value: decision values can be large or carry request data, and the
/// message ends up in logs and error responses.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Set(_) => "a set",
        Value::Object(_) => "an object",
        Value::Undefined => "undefined",
    }
}
