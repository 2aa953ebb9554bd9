//! How a handler's result becomes a response: the one rule every language is held to.
//!
//! A binding converts what a handler returned into an [`Answer`] (status, the content type the
//! handler named as an argument, the headers it set, and its body as one of the [`Body`] kinds)
//! and calls [`Answer::build`]; C and Go hosts reach the same builder through the C ABI. Nothing
//! here knows a language: Python's `None`, JavaScript's `undefined`, Go's `nil` response and
//! C's `ARMATURE_BODY_NOTHING` are all [`Body::Nothing`], and what that becomes is decided here
//! once. Like axum's `IntoResponse`, this is the one home of "value -> response".
//!
//! The rule:
//! - **Status.** A response's status is a final status, 200-599 (1xx are interim responses
//!   core does not relay; 600-999 are not HTTP statuses). A refusal's status is 400-599.
//! - **Nothing returned.** [`Body::Nothing`] is an empty body; with status 200 it is answered
//!   204 No Content (200 with no body says "here is an empty document", which a handler that
//!   returned nothing did not mean). Any other status stays as given (201 stays 201).
//! - **Content type.** A `Content-Type` header the handler set wins over the content-type
//!   argument, which wins over the body kind's default: text is `text/plain; charset=utf-8`,
//!   bytes `application/octet-stream`, JSON `application/json`; [`Body::Exact`] and
//!   [`Body::Nothing`] have none. Two `Content-Type` headers are refused: the response would not
//!   say what its body is.
//! - **Headers.** Names are case-insensitive (`content-TYPE` is `content-type`) and sent in
//!   lower case. A handler does not set the headers that frame the body or manage the
//!   connection (`content-length`, `transfer-encoding`, `connection`, `keep-alive`,
//!   `proxy-connection`, `te`, `trailer`, `upgrade`): core frames every body itself, and a wrong
//!   length would corrupt the connection for the next request. `x-request-id`, `traceparent`
//!   and `tracestate` may be set but are replaced by core's own.
//!
//! An answer that breaks the rule is answered `500 handler-error` (the reason in the log, and in
//! the body with `errors.debug`), and the binding is told why ([`InvalidAnswer`]). Answers built
//! another way (a Rust handler's own [`HandlerResponse`], the C ABI's setters) are held to the
//! same status and header rules by [`check`] when they are handed to the pipeline.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

/// What a handler answers, once built: the pipeline validates it against the contract and
/// sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerResponse {
    /// The status.
    pub status: StatusCode,
    /// Response headers (the pipeline adds `x-request-id` and `traceparent`).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl HandlerResponse {
    /// A response with a body of the given media type.
    pub fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::with_capacity(2);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        Self { status, headers, body: body.into() }
    }

    /// A JSON body.
    pub fn json(status: StatusCode, value: &Value) -> Self {
        // A serde_json::Value always serializes.
        Self::new(status, JSON, serde_json::to_vec(value).unwrap_or_default())
    }

    /// A `text/plain; charset=utf-8` body.
    pub fn text(status: StatusCode, text: impl Into<Bytes>) -> Self {
        Self::new(status, TEXT, text)
    }

    /// No body, this exact status (see [`Body::Nothing`] for "the handler returned nothing").
    pub fn empty(status: StatusCode) -> Self {
        Self { status, headers: HeaderMap::new(), body: Bytes::new() }
    }
}

/// A handler's failure; the pipeline turns it into a problem response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// The handler raised, threw or panicked; the message is shown only in debug mode.
    #[error("handler failed: {0}")]
    Failed(String),
    /// The handler refused the request on purpose: answered as a `refused` problem with this
    /// status (400-599) and this detail, which is public (unlike `Failed`'s message).
    #[error("handler refused with {status}: {detail}")]
    Refused {
        /// The status answered, 400-599 ([`refusal_status`]).
        status: StatusCode,
        /// Shown to the client as the problem's `detail`.
        detail: String,
    },
    /// The host cannot take more work now (503).
    #[error("host overloaded")]
    Overloaded,
}

/// What the pipeline receives from a handler.
pub type HandlerOutcome = Result<HandlerResponse, HandlerError>;

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
    /// A header name that is not a token (RFC 9110 §5.1).
    #[error("invalid header name {0:?}")]
    HeaderName(String),
    /// A header value with bytes a header cannot carry.
    #[error("the value of header {0} has bytes a header cannot carry")]
    HeaderValue(String),
    /// More than one `Content-Type` header.
    #[error("the response has {0} content-type headers; it may have one")]
    ContentTypes(usize),
}

/// The body of an [`Answer`], by what the handler returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Nothing (`None`, `null`/`undefined`, a `nil` response): no body, and status 200 becomes 204.
    Nothing,
    /// Text (a string): `text/plain; charset=utf-8` unless the handler names a content type.
    Text(Bytes),
    /// Bytes: `application/octet-stream` unless the handler names a content type.
    Binary(Bytes),
    /// A value the binding serialized as JSON: `application/json` unless the handler names one.
    Json(Bytes),
    /// These bytes, with no content type of their own (a response object built with an explicit
    /// body and maybe a media type: only what the handler names is sent).
    Exact(Bytes),
}

impl Body {
    /// The content type of this kind of body when the handler names none.
    pub fn default_content_type(&self) -> Option<&'static str> {
        match self {
            Body::Text(_) => Some(TEXT),
            Body::Binary(_) => Some(BINARY),
            Body::Json(_) => Some(JSON),
            Body::Nothing | Body::Exact(_) => None,
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Body::Nothing => Bytes::new(),
            Body::Text(bytes) | Body::Binary(bytes) | Body::Json(bytes) | Body::Exact(bytes) => bytes,
        }
    }
}

/// What a handler answered, as its binding converted it; [`Answer::build`] applies the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The status the handler gave (or its operation's default).
    pub status: u16,
    /// The content type named as an argument (`media_type=`, `ContentType:`), if any.
    pub content_type: Option<String>,
    /// Header lines in the order set; names in any case; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

/// `text/plain; charset=utf-8`, the content type of text.
const TEXT: &str = "text/plain; charset=utf-8";
/// The content type of bytes.
const BINARY: &str = "application/octet-stream";
/// The content type of a JSON value.
const JSON: &str = "application/json";

impl Answer {
    /// An answer with this status and body, no content type named and no header.
    pub fn new(status: u16, body: Body) -> Self {
        Self { status, content_type: None, headers: Vec::new(), body }
    }

    /// Adds a header line.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Names the content type (the argument, which a `Content-Type` header overrides).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// The response the rule makes of this answer, or why it breaks the rule.
    pub fn build(self) -> Result<HandlerResponse, InvalidAnswer> {
        let mut headers = HeaderMap::with_capacity(self.headers.len() + 1);
        for (name, value) in &self.headers {
            let (name, value) = header_line(name.as_bytes(), value.as_bytes())?;
            headers.append(name, value);
        }
        assemble(self.status, self.content_type.as_deref().map(str::as_bytes), headers, self.body)
    }
}

/// The rule applied to header lines a host has already added one by one through
/// [`header_line`] (the C ABI's `armature_responder_add_header`), with the content type named as
/// an argument (`content_type`) and the body: what [`Answer::build`] does after parsing its
/// headers.
pub fn assemble(
    status: u16,
    content_type: Option<&[u8]>,
    mut headers: HeaderMap,
    body: Body,
) -> Result<HandlerResponse, InvalidAnswer> {
    let mut status = response_status(status)?;
    let content_types = headers.get_all(CONTENT_TYPE).iter().count();
    if content_types > 1 {
        return Err(InvalidAnswer::ContentTypes(content_types));
    }
    if content_types == 0 {
        let named = match content_type {
            Some(named) => {
                Some(HeaderValue::from_bytes(named).map_err(|_| InvalidAnswer::HeaderValue(CONTENT_TYPE.to_string()))?)
            }
            None => body.default_content_type().map(HeaderValue::from_static),
        };
        if let Some(content_type) = named {
            headers.insert(CONTENT_TYPE, content_type);
        }
    }
    if body == Body::Nothing && status == StatusCode::OK {
        status = StatusCode::NO_CONTENT;
    }
    Ok(HandlerResponse { status, headers, body: body.into_bytes() })
}

/// The status a handler answers when it returns nothing with `status`: 204 for 200, else
/// `status` (the rule of [`Body::Nothing`], for hosts that send such an answer themselves).
pub fn status_of_nothing(status: u16) -> u16 {
    if status == 200 {
        204
    } else {
        status
    }
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

/// Whether `name` (any case) is a header core writes itself, which a handler may not set.
pub fn is_reserved_header(name: &str) -> bool {
    RESERVED_HEADERS.iter().any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// A header a handler may set.
pub fn response_header(name: &HeaderName) -> Result<(), InvalidAnswer> {
    if RESERVED_HEADERS.contains(&name.as_str()) {
        return Err(InvalidAnswer::Header(name.clone()));
    }
    Ok(())
}

/// One header line a handler set, its name in any case: parsed, and checked against the rule.
pub fn header_line(name: &[u8], value: &[u8]) -> Result<(HeaderName, HeaderValue), InvalidAnswer> {
    let name =
        HeaderName::from_bytes(name).map_err(|_| InvalidAnswer::HeaderName(String::from_utf8_lossy(name).into()))?;
    response_header(&name)?;
    let value = HeaderValue::from_bytes(value).map_err(|_| InvalidAnswer::HeaderValue(name.to_string()))?;
    Ok((name, value))
}

/// Checks a whole answer against the rule: status, reserved headers, one content type.
pub fn check(outcome: &HandlerOutcome) -> Result<(), InvalidAnswer> {
    match outcome {
        Ok(response) => {
            response_status(response.status.as_u16())?;
            response.headers.keys().try_for_each(response_header)?;
            match response.headers.get_all(CONTENT_TYPE).iter().count() {
                0 | 1 => Ok(()),
                many => Err(InvalidAnswer::ContentTypes(many)),
            }
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

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
