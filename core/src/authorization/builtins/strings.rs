//! `count`, as OPA: a string's length is its number of Unicode code points (regorus counts
//! UTF-16 units).

use regorus::Value;

use super::{type_name, BuiltinError};

pub(super) fn count(args: &[Value]) -> Result<Value, BuiltinError> {
    let length = match args.first().unwrap_or(&Value::Undefined) {
        Value::String(text) => text.chars().count(),
        Value::Array(items) => items.len(),
        Value::Set(items) => items.len(),
        Value::Object(fields) => fields.len(),
        other => {
            return Err(BuiltinError(format!(
                "count: operand 1 must be one of {{array, object, set, string}} but got {}",
                type_name(other)
            )))
        }
    };
    Ok(Value::from(length as u64))
}
