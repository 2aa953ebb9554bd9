//! RFC 9457 problem details: the one shape every failure of every stage takes on the wire.

use bytes::Bytes;
use serde::Serialize;

/// Media type of every problem body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// The kinds of failure the pipeline answers for; each has a fixed status, title and `type` slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// No path of the contract matches.
    NotFound,
    /// The path matches, the method does not.
    MethodNotAllowed,
    /// Parameters or body break the contract.
    RequestValidation,
    /// The body does not parse as its declared media type.
    MalformedBody,
    /// The body's media type is not one the operation accepts.
    UnsupportedMediaType,
    /// The body exceeds `server.max_body_bytes`.
    PayloadTooLarge,
    /// The request head exceeds `server.max_header_bytes` or `server.max_header_count`.
    HeadersTooLarge,
    /// The body did not arrive within `server.body_read_timeout_ms`.
    BodyTimeout,
    /// The message breaks HTTP's own rules (RFC 9112), such as an HTTP/1.1 request without
    /// exactly one `Host` header.
    MalformedRequest,
    /// The handler reported an error (raised, threw, panicked).
    HandlerError,
    /// The handler refused the request on purpose, with a status and a public detail of its own
    /// (`HandlerError::Refused`: Python's `HTTPError`, for instance).
    Refused,
    /// The handler's responder was dropped without an answer.
    NoResponse,
    /// The handler's response breaks the contract (enforce mode).
    ResponseValidation,
    /// The handler did not answer within `server.request_timeout_ms`.
    HandlerTimeout,
    /// No handler is registered for the operation.
    NotImplemented,
    /// The queue towards the host is full.
    Overloaded,
    /// A required credential is missing or invalid.
    Unauthenticated,
    /// The credential is valid but lacks a scope the operation requires.
    InsufficientScope,
    /// The authorization policy denied the request.
    AccessDenied,
    /// The authorization policy failed or timed out: the request is refused (fail closed).
    PolicyError,
}

impl ProblemKind {
    /// The last segment of the problem's `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::RequestValidation => "request-validation",
            Self::MalformedBody => "malformed-body",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge => "payload-too-large",
            Self::HeadersTooLarge => "headers-too-large",
            Self::BodyTimeout => "body-timeout",
            Self::MalformedRequest => "malformed-request",
            Self::HandlerError => "handler-error",
            Self::Refused => "refused",
            Self::NoResponse => "no-response",
            Self::ResponseValidation => "response-validation",
            Self::HandlerTimeout => "handler-timeout",
            Self::NotImplemented => "not-implemented",
            Self::Overloaded => "overloaded",
            Self::Unauthenticated => "unauthenticated",
            Self::InsufficientScope => "insufficient-scope",
            Self::AccessDenied => "access-denied",
            Self::PolicyError => "policy-error",
        }
    }

    /// The HTTP status answered.
    pub fn status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestValidation | Self::MalformedBody | Self::Refused => 400,
            Self::UnsupportedMediaType => 415,
            Self::PayloadTooLarge => 413,
            Self::HeadersTooLarge => 431,
            Self::BodyTimeout => 408,
            Self::MalformedRequest => 400,
            Self::HandlerError | Self::NoResponse | Self::ResponseValidation => 500,
            Self::HandlerTimeout => 504,
            Self::NotImplemented => 501,
            Self::Overloaded => 503,
            Self::Unauthenticated => 401,
            Self::InsufficientScope | Self::AccessDenied => 403,
            Self::PolicyError => 500,
        }
    }

    /// The short, fixed human summary.
    pub fn title(self) -> &'static str {
        match self {
            Self::NotFound => "Not Found",
            Self::MethodNotAllowed => "Method Not Allowed",
            Self::RequestValidation => "Request Validation Failed",
            Self::MalformedBody => "Malformed Request Body",
            Self::Refused | Self::MalformedRequest => "Bad Request",
            Self::HeadersTooLarge => "Request Header Fields Too Large",
            Self::BodyTimeout => "Request Timeout",
            Self::UnsupportedMediaType => "Unsupported Media Type",
            Self::PayloadTooLarge => "Payload Too Large",
            Self::HandlerError | Self::NoResponse | Self::PolicyError => "Internal Server Error",
            Self::Unauthenticated => "Unauthorized",
            Self::InsufficientScope | Self::AccessDenied => "Forbidden",
            Self::ResponseValidation => "Response Validation Failed",
            Self::HandlerTimeout => "Gateway Timeout",
            Self::NotImplemented => "Not Implemented",
            Self::Overloaded => "Service Unavailable",
        }
    }
}

/// Where in the request (or response) a violation is; serialized as [`Location::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path parameter.
    Path,
    /// A query parameter.
    Query,
    /// A request header parameter.
    Header,
    /// A cookie parameter.
    Cookie,
    /// The request body.
    Body,
    /// The response (status, headers or body); only shown when `errors.debug` is set.
    Response,
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Location {
    /// The name used in `errors[].location` and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Cookie => "cookie",
            Location::Body => "body",
            Location::Response => "response",
        }
    }
}

/// One broken rule, as listed in a problem's `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which part of the message.
    pub location: Location,
    /// JSON pointer inside that part: `/<param>[/...]` for parameters, inside the body for bodies.
    pub pointer: String,
    /// What is wrong, for the API client.
    pub message: String,
}

impl Violation {
    /// A violation at `location` and `pointer`.
    pub fn new(location: Location, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { location, pointer: pointer.into(), message: message.into() }
    }
}

/// A failure on its way to becoming a problem response.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// What failed.
    pub kind: ProblemKind,
    /// Explanation safe to show to any client.
    pub detail: String,
    /// Explanation that may reveal internals; shown only when `errors.debug` is set.
    pub internal: Option<String>,
    /// Listed violations (validation problems).
    pub errors: Vec<Violation>,
    /// Extra response headers (`Allow` for 405, `WWW-Authenticate` for 401); a name may repeat.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// A status other than the kind's (an authorization policy may deny with its own status).
    pub status: Option<http::StatusCode>,
}

impl Problem {
    /// A problem with a public detail.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), internal: None, errors: Vec::new(), headers: Vec::new(), status: None }
    }

    /// Answers with this status instead of the kind's; the title follows the status.
    pub fn with_status(mut self, status: http::StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The HTTP status answered.
    pub fn status(&self) -> u16 {
        self.status.map_or(self.kind.status(), |s| s.as_u16())
    }

    fn title(&self) -> &'static str {
        match self.status {
            Some(status) if status.as_u16() != self.kind.status() => status.canonical_reason().unwrap_or("Error"),
            _ => self.kind.title(),
        }
    }

    /// Attaches an internal explanation, shown only in debug mode.
    pub fn with_internal(mut self, internal: impl Into<String>) -> Self {
        self.internal = Some(internal.into());
        self
    }

    /// Attaches the violations.
    pub fn with_errors(mut self, errors: Vec<Violation>) -> Self {
        self.errors = errors;
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The problem+json body, with the request's identifiers.
    pub fn render(&self, context: &RenderContext<'_>) -> Bytes {
        let detail = match (&self.internal, context.debug) {
            (Some(internal), true) => format!("{} ({internal})", self.detail),
            _ => self.detail.clone(),
        };
        let errors: Vec<&Violation> =
            self.errors.iter().filter(|v| context.debug || v.location != Location::Response).collect();
        let body = Body {
            r#type: format!("{}{}", context.type_base, self.kind.slug()),
            title: self.title(),
            status: self.status(),
            detail,
            instance: context.instance,
            request_id: context.request_id,
            trace_id: context.trace_id,
            errors,
        };
        // Serializing plain strings and numbers cannot fail; keep a valid body regardless.
        serde_json::to_vec(&body).map(Bytes::from).unwrap_or_else(|_| Bytes::from_static(b"{}"))
    }
}

/// What a problem body says about the request it answers.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// Prefix of the `type` URI.
    pub type_base: &'a str,
    /// The request path (without query).
    pub instance: &'a str,
    /// The request id echoed in `x-request-id`.
    pub request_id: &'a str,
    /// The trace id of the request's trace.
    pub trace_id: &'a str,
    /// Whether internal details may be shown.
    pub debug: bool,
}

/// Field order is part of the byte-for-byte contract across bindings.
#[derive(Serialize)]
struct Body<'a> {
    r#type: String,
    title: &'static str,
    status: u16,
    detail: String,
    instance: &'a str,
    request_id: &'a str,
    trace_id: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<&'a Violation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(debug: bool) -> RenderContext<'static> {
        RenderContext {
            type_base: "https://armature.dev/problems/",
            instance: "/users/0",
            request_id: "req-1",
            trace_id: "0af7651916cd43dd8448eb211c80319c",
            debug,
        }
    }

    #[test]
    fn renders_fields_in_contract_order() {
        let problem = Problem::new(ProblemKind::RequestValidation, "1 violation").with_errors(vec![Violation::new(
            Location::Path,
            "/id",
            "0 is less than the minimum of 1",
        )]);
        let body = String::from_utf8(problem.render(&context(false)).to_vec()).unwrap();
        assert_eq!(
            body,
            r#"{"type":"https://armature.dev/problems/request-validation","title":"Request Validation Failed","status":400,"detail":"1 violation","instance":"/users/0","request_id":"req-1","trace_id":"0af7651916cd43dd8448eb211c80319c","errors":[{"location":"path","pointer":"/id","message":"0 is less than the minimum of 1"}]}"#
        );
    }

    #[test]
    fn internal_detail_only_in_debug() {
        let problem = Problem::new(ProblemKind::HandlerError, "The handler failed.").with_internal("db down");
        let hidden = String::from_utf8(problem.render(&context(false)).to_vec()).unwrap();
        let shown = String::from_utf8(problem.render(&context(true)).to_vec()).unwrap();
        assert!(!hidden.contains("db down"));
        assert!(shown.contains("The handler failed. (db down)"));
    }

    #[test]
    fn response_violations_only_in_debug() {
        let problem = Problem::new(ProblemKind::ResponseValidation, "bad").with_errors(vec![Violation::new(
            Location::Response,
            "/message",
            "secret",
        )]);
        let hidden = String::from_utf8(problem.render(&context(false)).to_vec()).unwrap();
        assert!(!hidden.contains("errors"));
        let shown = String::from_utf8(problem.render(&context(true)).to_vec()).unwrap();
        assert!(shown.contains("secret"));
    }
}
