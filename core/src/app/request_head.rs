//! The rules on a request's head that come before the contract: its size (`server.max_header_bytes`,
//! `server.max_header_count`) and, for a request read from a socket, HTTP/1.1's `Host` rule.
//!
//! hyper enforces its own, larger, limits while parsing (set by the server a margin above these,
//! see `server::limits`), so a head far too large never reaches here; one a little too large does,
//! and is answered with a problem like every other refusal.

use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::Version;

use crate::config::ServerConfig;
use crate::problem::{Problem, ProblemKind};

/// Bytes a header line costs beyond its name and value: `": "` and CRLF, as on the HTTP/1 wire.
const LINE_OVERHEAD: usize = 4;

/// Refuses a head with more header lines or bytes than configured (431).
pub(super) fn check_size(parts: &Parts, server: &ServerConfig) -> Result<(), Problem> {
    let count = parts.headers.len();
    if count > server.max_header_count {
        return Err(Problem::new(
            ProblemKind::HeadersTooLarge,
            format!("The request has {count} header lines; at most {} are accepted.", server.max_header_count),
        ));
    }
    let target = parts.uri.path_and_query().map_or(0, |target| target.as_str().len());
    let bytes = parts
        .headers
        .iter()
        .fold(target, |total, (name, value)| total + name.as_str().len() + value.len() + LINE_OVERHEAD);
    if bytes > server.max_header_bytes {
        return Err(Problem::new(
            ProblemKind::HeadersTooLarge,
            format!("The request head is {bytes} bytes; at most {} are accepted.", server.max_header_bytes),
        ));
    }
    Ok(())
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host`; an HTTP/1.0 one at most one.
/// HTTP/2 carries the authority in `:authority` and needs none. Only requests read from a socket
/// are held to it: an in-process request (a test client, `inject`) is not an HTTP/1.1 message.
pub(super) fn check_host(parts: &Parts) -> Result<(), Problem> {
    let hosts = parts.headers.get_all(HOST).iter().count();
    let valid = match parts.version {
        Version::HTTP_11 => hosts == 1,
        _ => hosts <= 1,
    };
    if valid {
        return Ok(());
    }
    let rule = if parts.version == Version::HTTP_11 { "exactly one Host header" } else { "at most one Host header" };
    Err(Problem::new(
        ProblemKind::MalformedRequest,
        format!("An {:?} request must carry {rule}; this one has {hosts}.", parts.version),
    ))
}

/// Whether an HTTP/1 request announces a body (`Content-Length` above 0, or `Transfer-Encoding`).
pub(super) fn declares_http1_body(parts: &Parts) -> bool {
    parts.version < Version::HTTP_2
        && (parts.headers.contains_key(TRANSFER_ENCODING)
            || parts.headers.get(CONTENT_LENGTH).is_some_and(|length| length.as_bytes() != b"0"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(version: Version, headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().uri("/items?limit=1").version(version);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn http11_needs_exactly_one_host() {
        assert!(check_host(&parts(Version::HTTP_11, &[("host", "a")])).is_ok());
        let none = check_host(&parts(Version::HTTP_11, &[])).unwrap_err();
        assert_eq!(none.status(), 400);
        assert!(check_host(&parts(Version::HTTP_11, &[("host", "a"), ("host", "b")])).is_err());
    }

    #[test]
    fn http10_and_http2_may_omit_host_but_not_repeat_it() {
        assert!(check_host(&parts(Version::HTTP_10, &[])).is_ok());
        assert!(check_host(&parts(Version::HTTP_2, &[])).is_ok());
        assert!(check_host(&parts(Version::HTTP_10, &[("host", "a"), ("host", "a")])).is_err());
    }

    #[test]
    fn head_size_counts_target_names_values_and_separators() {
        let mut server = ServerConfig { max_header_bytes: 1024, ..ServerConfig::default() };
        // "/items?limit=1" is 14 bytes, "x-a: " + 6 + CRLF is 13.
        let head = parts(Version::HTTP_11, &[("x-a", "123456")]);
        server.max_header_bytes = 27;
        assert!(check_size(&head, &server).is_ok());
        server.max_header_bytes = 26;
        let problem = check_size(&head, &server).unwrap_err();
        assert_eq!(problem.status(), 431);
    }

    #[test]
    fn header_count_is_limited() {
        let server = ServerConfig { max_header_count: 2, ..ServerConfig::default() };
        assert!(check_size(&parts(Version::HTTP_11, &[("a", "1"), ("b", "2")]), &server).is_ok());
        let problem = check_size(&parts(Version::HTTP_11, &[("a", "1"), ("b", "2"), ("c", "3")]), &server).unwrap_err();
        assert_eq!(problem.status(), 431);
    }
}
