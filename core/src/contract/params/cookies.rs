//! Cookies (RFC 6265): the `name=value` pairs of `Cookie` headers, and cookie parameters, whose
//! values are comma-separated like non-exploded form style whatever `explode` says.

use serde_json::Value;

use super::error::ParamError;
use super::facts::{ParamSpec, Shape};
use super::styles::{array_of, coerce, object_from_pairs, percent_decode, split_list};

/// Every `name=value` pair of the given Cookie header values, in order, with a value's wrapping
/// DQUOTEs removed (RFC 6265 allows them; they are not part of the value).
pub fn cookie_pairs<'c, 'h>(cookies: &'h [&'c str]) -> impl Iterator<Item = (&'c str, &'c str)> + 'h {
    cookies.iter().flat_map(|header| header.split(';')).filter_map(|pair| pair.trim().split_once('=')).map(
        |(key, value)| {
            let value = value.trim();
            (key.trim(), value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value))
        },
    )
}

/// Finds the first cookie with the given name across all Cookie header values.
fn find_cookie<'c>(cookies: &[&'c str], name: &str) -> Option<&'c str> {
    cookie_pairs(cookies).find(|(key, _)| *key == name).map(|(_, value)| value)
}

/// Every value of the cookies with the given name, across all Cookie header values, in order.
/// (How the identity stage reads an `apiKey` scheme `in: cookie`, where a second one is refused.)
pub(crate) fn cookies_named<'c: 'h, 'h>(cookies: &'h [&'c str], name: &'h str) -> impl Iterator<Item = &'c str> + 'h {
    cookie_pairs(cookies).filter(move |(key, _)| *key == name).map(|(_, value)| value)
}

/// Percent-decoding of a cookie value, or the value as sent when its escapes do not decode to
/// UTF-8: RFC 6265 allows `%` in a cookie value and does not define percent-encoding, so a
/// cookie such as `session=%FF` is a valid opaque value, not a malformed request.
fn cookie_decode(raw: &str) -> Result<String, ParamError> {
    Ok(percent_decode(raw).unwrap_or_else(|_| raw.to_owned()))
}

/// Cookies carry one value per name, so arrays and objects are comma-separated as in
/// non-exploded form style whatever `explode` says.
pub(super) fn decode_cookie(spec: &ParamSpec, cookies: &[&str]) -> Result<Option<Value>, ParamError> {
    let Some(raw) = find_cookie(cookies, &spec.name) else {
        return Ok(None);
    };
    let value = match &spec.shape {
        Shape::Primitive(ty) => coerce(cookie_decode(raw)?, *ty),
        Shape::Array(ty) => array_of(&split_list(raw, ','), *ty, cookie_decode)?,
        Shape::Object(props) => object_from_pairs(&split_list(raw, ','), props, cookie_decode)?,
    };
    Ok(Some(value))
}
