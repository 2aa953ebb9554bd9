//! Response validation: the status must be documented, and the body must match the documented
//! media type and schema.

use serde_json::Value;

use crate::contract::{BodyKind, MediaRange, Operation};
use crate::dispatch::HandlerResponse;
use crate::problem::{Location, Violation};

/// The violations of a handler's response; empty when it matches the contract.
pub(crate) fn check_response(operation: &Operation, response: &HandlerResponse) -> Vec<Violation> {
    let mut violations = Vec::new();
    let status = response.status.as_u16();
    let Some(media) = operation.responses.for_status(status) else {
        violations.push(Violation::new(Location::Response, "", format!("status {status} is not documented")));
        return violations;
    };
    if response.body.is_empty() {
        return violations;
    }
    if media.is_empty() {
        violations.push(Violation::new(Location::Response, "", format!("status {status} documents no body")));
        return violations;
    }
    let content_type = response.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let concrete = MediaRange::parse(content_type);
    let Some(rule) = media.iter().find(|m| m.range.covers(&concrete)) else {
        violations.push(Violation::new(
            Location::Response,
            "",
            format!("content type {content_type:?} is not documented for status {status}"),
        ));
        return violations;
    };
    let Some(validator) = &rule.validator else { return violations };
    let instance = match concrete.kind() {
        BodyKind::Json => match serde_json::from_slice::<Value>(&response.body) {
            Ok(value) => value,
            Err(e) => {
                violations.push(Violation::new(Location::Response, "", format!("body is not valid JSON: {e}")));
                return violations;
            }
        },
        BodyKind::Text => match std::str::from_utf8(&response.body) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => {
                violations.push(Violation::new(Location::Response, "", "body is not valid UTF-8"));
                return violations;
            }
        },
        BodyKind::Other => return violations,
    };
    validator.check(&instance, Location::Response, "", &mut violations);
    violations
}
