//! Decoding of OpenAPI 3.x parameters (path, query, header, cookie): what the contract says of
//! a parameter (`facts`), how its text is split and coerced by style (`styles`, `cookies`), and
//! why it may fail (`error`).
//!
//! Raw HTTP strings are split according to the parameter's `style`/`explode` (OpenAPI 3.1 §4.8.12,
//! "Style Values" and "Style Examples") and coerced to typed JSON by the parameter's schema shape.
//! Validation is not done here: text that cannot be coerced stays a string, so that the schema
//! validator later reports a precise type error instead of this module inventing one.

mod cookies;
mod error;
mod facts;
mod styles;
#[cfg(test)]
mod tests;

use serde_json::Value;

pub use cookies::cookie_pairs;
pub(crate) use cookies::cookies_named;
pub use error::ParamError;
pub use facts::{ParamLocation, ParamSpec, ParamStyle, PrimitiveType, Shape};

/// The raw inputs of one request, already split by the caller.
pub struct RawParams<'a> {
    /// Path parameters by name, still percent-encoded, as the router captured them.
    pub path: &'a [(&'a str, &'a str)],
    /// The raw query string (without '?'), percent-encoded; None when the URL has no query.
    pub query: Option<&'a str>,
    /// Header lookup by lower-case name: all values of that header, in order.
    pub header: &'a dyn Fn(&str) -> Vec<&'a str>,
    /// The raw Cookie header values.
    pub cookies: &'a [&'a str],
}

/// Decodes one parameter. Returns Ok(None) when the parameter is absent (the caller decides
/// whether it is required or has a default), Ok(Some(value)) when present, Err(message) when the
/// raw text cannot be decoded at all (e.g. invalid percent-encoding yielding invalid UTF-8, a
/// matrix/label prefix missing, a deepObject key that is not `name[prop]`).
///
/// A style not allowed at the location is decoded as the location's default style; the contract
/// loader is expected to have rejected it already.
pub fn decode(spec: &ParamSpec, raw: &RawParams<'_>) -> Result<Option<Value>, ParamError> {
    match spec.location {
        ParamLocation::Path => styles::decode_path(spec, raw.path),
        ParamLocation::Query => match raw.query {
            Some(query) => styles::decode_query(spec, query),
            None => Ok(None),
        },
        ParamLocation::Header => styles::decode_header(spec, raw.header),
        ParamLocation::Cookie => cookies::decode_cookie(spec, raw.cookies),
    }
}

/// Parses a query string into decoded (name, value) pairs ('+' is a space, percent-decoding), in
/// order. Public because the pipeline also hands the parsed query to handlers and policies.
///
/// Invalid UTF-8 is replaced by U+FFFD here; declared parameters go through [`decode`], which
/// rejects it instead.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}
