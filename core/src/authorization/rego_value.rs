//! Reading Rego values the way OPA does, shared by the compiled evaluator and the lazy input
//! view so the two index documents alike.

use regorus::Value;

/// `collection[key]`: an object's field, an array's element, a set's member (itself);
/// [`Value::Undefined`] for anything else.
pub(crate) fn index(collection: &Value, key: &Value) -> Value {
    match collection {
        Value::Object(fields) => fields.get(key).cloned().unwrap_or(Value::Undefined),
        Value::Array(items) => array_index(key).and_then(|at| items.get(at).cloned()).unwrap_or(Value::Undefined),
        Value::Set(items) if items.contains(key) => key.clone(),
        _ => Value::Undefined,
    }
}

/// An array index given as a value: a non-negative integer.
pub(crate) fn array_index(key: &Value) -> Option<usize> {
    match key {
        Value::Number(number) if number.is_integer() => number.as_u64().and_then(|index| usize::try_from(index).ok()),
        _ => None,
    }
}
