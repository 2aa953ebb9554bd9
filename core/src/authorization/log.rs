//! The decision log line.

use std::time::Duration;

use serde::Serialize;

use super::{Decision, EvaluationError};
use crate::identity::Identity;

/// One decision log line, serialized from borrowed fields (no intermediate JSON tree).
#[derive(Serialize)]
struct DecisionLine<'a> {
    event: &'static str,
    request_id: &'a str,
    operation_id: &'a str,
    subject: Option<&'a str>,
    identity_kind: &'static str,
    allow: bool,
    status: Option<u16>,
    reason: Option<&'a str>,
    error: Option<String>,
    duration_us: u64,
}

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
        Ok(decision) => {
            (decision.allow, decision.status.map(|status| status.as_u16()), decision.reason.as_deref(), None)
        }
        Err(error) => (false, None, None, Some(error.to_string())),
    };
    let line = DecisionLine {
        event: "authorization",
        request_id,
        operation_id,
        subject: identity.subject.as_deref(),
        identity_kind: identity.kind.as_str(),
        allow,
        status,
        reason,
        error,
        duration_us: u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
    };
    // Strings, integers and booleans always serialize.
    serde_json::to_string(&line).unwrap_or_default()
}
