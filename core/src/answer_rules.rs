//! What a handler may answer with, in every language: one rule, checked when the answer is
//! handed to the pipeline ([`crate::Responder::finish`], and the return of an async Rust
//! handler), so that C, Python, Node, Go and Rust handlers are held to the same statuses and
//! headers. Bindings call the same functions earlier, where their API can report the mistake
//! before the answer is gone (a C setter, a Python conversion).
//!
//! - A response's status is a final status, 200-599 (1xx are interim responses core does not
//!   relay; 600-999 are not HTTP statuses).
//! - A refusal's status is an error status, 400-599.
//! - A handler does not set the headers that frame the body or manage the connection
//!   (`content-length`, `transfer-encoding`, `connection`, `keep-alive`, `proxy-connection`,
//!   `te`, `trailer`, `upgrade`): core frames every body itself, and a wrong length would corrupt
//!   the connection for the next request. `x-request-id`, `traceparent` and `tracestate` may be
//!   set but are replaced by core's own.
//!
//! An answer that breaks the rule is answered `500 handler-error` (the reason in the log, and in
//! the body with `errors.debug`), and the binding is told why.

use http::{HeaderMap, HeaderName, StatusCode};

use crate::dispatch::{HandlerError, HandlerOutcome};

/// How an answer breaks the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAnswer {
    /// A response status outside 200-599.
    #[error("{0} is not a final HTTP status a handler may answer with (200-599)")]
    Status(u16),
    /// A refusal status outside 400-599.
    #[error("a refusal's status must be 400-599, not {0}")]
    RefusalStatus(u16),
    /// A framing or connection header.
    #[error("a handler may not set the {0} header: core frames the body and manages the connection")]
    Header(HeaderName),
}

/// Headers that frame the body or manage the connection: core's, never a handler's.
const RESERVED_HEADERS: [&str; 8] =
    ["content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"];

/// A response status a handler may answer with.
pub fn response_status(status: u16) -> Result<StatusCode, InvalidAnswer> {
    match StatusCode::from_u16(status) {
        Ok(code) if (200..=599).contains(&status) => Ok(code),
        _ => Err(InvalidAnswer::Status(status)),
    }
}

/// A status a handler may refuse a request with.
pub fn refusal_status(status: u16) -> Result<StatusCode, InvalidAnswer> {
    match StatusCode::from_u16(status) {
        Ok(code) if code.is_client_error() || code.is_server_error() => Ok(code),
        _ => Err(InvalidAnswer::RefusalStatus(status)),
    }
}

/// A header a handler may set.
pub fn response_header(name: &HeaderName) -> Result<(), InvalidAnswer> {
    if RESERVED_HEADERS.contains(&name.as_str()) {
        return Err(InvalidAnswer::Header(name.clone()));
    }
    Ok(())
}

/// Checks a whole answer against the rule.
pub fn check(outcome: &HandlerOutcome) -> Result<(), InvalidAnswer> {
    match outcome {
        Ok(response) => {
            response_status(response.status.as_u16())?;
            check_headers(&response.headers)
        }
        Err(HandlerError::Refused { status, .. }) => refusal_status(status.as_u16()).map(drop),
        Err(HandlerError::Failed(_) | HandlerError::Overloaded) => Ok(()),
    }
}

/// The answer to send: the handler's own when it follows the rule, else the failure it
/// becomes, with the reason.
pub(crate) fn enforce(outcome: HandlerOutcome) -> (HandlerOutcome, Option<InvalidAnswer>) {
    match check(&outcome) {
        Ok(()) => (outcome, None),
        Err(invalid) => {
            let failure = Err(HandlerError::Failed(format!("the handler's answer was refused: {invalid}")));
            (failure, Some(invalid))
        }
    }
}

fn check_headers(headers: &HeaderMap) -> Result<(), InvalidAnswer> {
    headers.keys().try_for_each(response_header)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::HeaderValue;

    use super::*;
    use crate::dispatch::HandlerResponse;

    #[test]
    fn statuses() {
        assert_eq!(response_status(200).map(|s| s.as_u16()), Ok(200));
        assert_eq!(response_status(599).map(|s| s.as_u16()), Ok(599));
        for bad in [0, 100, 101, 199, 600, 999, 1000] {
            assert_eq!(response_status(bad), Err(InvalidAnswer::Status(bad)), "{bad}");
        }
        assert_eq!(refusal_status(404).map(|s| s.as_u16()), Ok(404));
        assert_eq!(refusal_status(503).map(|s| s.as_u16()), Ok(503));
        for bad in [200, 302, 399, 600] {
            assert_eq!(refusal_status(bad), Err(InvalidAnswer::RefusalStatus(bad)), "{bad}");
        }
    }

    #[test]
    fn framing_headers_are_core_s() {
        let mut response = HandlerResponse::text(StatusCode::OK, "hi");
        response.headers.insert("x-custom", HeaderValue::from_static("1"));
        assert_eq!(check(&Ok(response.clone())), Ok(()));
        response.headers.insert("content-length", HeaderValue::from_static("99"));
        assert!(matches!(check(&Ok(response)), Err(InvalidAnswer::Header(name)) if name == "content-length"));
        let refused = Err(HandlerError::Refused { status: StatusCode::OK, detail: String::new() });
        assert_eq!(check(&refused), Err(InvalidAnswer::RefusalStatus(200)));
    }

    #[test]
    fn a_broken_answer_becomes_a_failure_that_says_why() {
        let response = HandlerResponse { status: StatusCode::CONTINUE, headers: HeaderMap::new(), body: Bytes::new() };
        let (failure, invalid) = enforce(Ok(response));
        assert_eq!(invalid, Some(InvalidAnswer::Status(100)));
        assert!(matches!(failure, Err(HandlerError::Failed(message)) if message.contains("100")));
    }
}
