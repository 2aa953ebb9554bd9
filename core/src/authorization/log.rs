//! The decision log line.

use std::time::Duration;

use serde_json::{json, Value};

use super::{Decision, EvaluationError};
use crate::identity::Identity;

/// One compact JSON object describing one authorization decision, for the pipeline to write when
/// `authorization.decision_log` is on:
/// `{"event":"authorization","request_id","operation_id","subject","identity_kind","allow",
/// "status","reason","error","duration_us"}`.
///
/// `subject` is null for anonymous callers; `status`, `reason` and `error` are null when absent.
/// A failed evaluation is logged with `"allow": false` because the pipeline fails closed. Claims
/// and input are deliberately left out: the line identifies who was decided about, not what
/// their token or request contained.
pub fn decision_log_line(
    request_id: &str,
    operation_id: &str,
    identity: &Identity,
    result: &Result<Decision, EvaluationError>,
    duration: Duration,
) -> String {
    let (allow, status, reason, error) = match result {
        Ok(decision) => (
            decision.allow,
            decision.status.map_or(Value::Null, |status| Value::from(status.as_u16())),
            decision.reason.as_deref().map_or(Value::Null, Value::from),
            Value::Null,
        ),
        Err(error) => (false, Value::Null, Value::Null, Value::from(error.to_string())),
    };
    json!({
        "event": "authorization",
        "request_id": request_id,
        "operation_id": operation_id,
        "subject": identity.subject,
        "identity_kind": identity.kind.as_str(),
        "allow": allow,
        "status": status,
        "reason": reason,
        "error": error,
        "duration_us": u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
    })
    .to_string()
}
