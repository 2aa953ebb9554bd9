//! The policy input: the Envoy ext_authz v3 `CheckRequest` shape that OPA-Envoy policies read,
//! plus Armature's own `identity` and `operation`.
//!
//! Keeping the OPA-Envoy shape means a policy written for an Envoy sidecar runs here unchanged as
//! long as it only reads `input.attributes.request.http`, `input.parsed_path`, `input.parsed_query`
//! and `input.parsed_body`.

use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
use http::{HeaderMap, HeaderName, Version};
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::AuthorizationRequest;

/// Headers withheld from `input.attributes.request.http.headers`. The identity stage has already
/// verified these credentials and the result is in `input.identity`; handing the raw secrets to
/// policies would copy them into decision logs, `print` output and policy bundles written by
/// people who never needed them. Denylisted rather than allowlisted so Envoy policies reading
/// ordinary headers keep working.
fn withheld(name: &HeaderName) -> bool {
    *name == AUTHORIZATION || *name == PROXY_AUTHORIZATION || *name == COOKIE
}

/// Builds the JSON input document for one request. `include_body` is the configuration switch;
/// the body is only added when it is also present.
pub(crate) fn build(request: &AuthorizationRequest<'_>, include_body: bool) -> Value {
    let parts = request.parts;
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    // Envoy's `path` is the request target as sent, query included.
    let full_path = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let host = parts
        .headers
        .get(http::header::HOST)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .or_else(|| parts.uri.authority().map(|authority| authority.as_str().to_owned()))
        .unwrap_or_default();

    let mut input = Map::with_capacity(5);
    input.insert(
        "attributes".to_owned(),
        json!({
            "request": {
                "http": {
                    "method": parts.method.as_str(),
                    "path": full_path,
                    "headers": headers(&parts.headers),
                    "host": host,
                    // The server speaks plain HTTP; TLS, when there is any, ends at a proxy in front.
                    // The client-supplied `:scheme` of HTTP/2 is not trusted for this reason.
                    "scheme": "http",
                    "protocol": protocol(parts.version),
                    "query": query,
                }
            }
        }),
    );
    input.insert("parsed_path".to_owned(), parsed_path(path));
    input.insert("parsed_query".to_owned(), parsed_query(query));
    if include_body {
        if let Some(body) = request.body {
            input.insert("parsed_body".to_owned(), body.clone());
        }
    }
    input.insert("identity".to_owned(), request.identity.to_json());
    input.insert(
        "operation".to_owned(),
        json!({
            "id": request.operation_id,
            "tags": request.tags,
            "path_template": request.path_template,
            "path_params": request.path_params,
        }),
    );
    Value::Object(input)
}

/// Header name -> value, repeated headers joined with "," as Envoy does. Values that are not
/// UTF-8 are passed lossily: a policy can still see the header exists.
fn headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut map = Map::with_capacity(headers.keys_len());
    for name in headers.keys() {
        if withheld(name) {
            continue;
        }
        let mut joined = String::new();
        for (index, value) in headers.get_all(name).iter().enumerate() {
            if index > 0 {
                joined.push(',');
            }
            joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        map.insert(name.as_str().to_owned(), Value::String(joined));
    }
    map
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// Segments split on the raw path before decoding, so an encoded `%2F` stays inside its segment
/// instead of inventing a new one. Leading slashes are trimmed as OPA-Envoy does, so "/" is `[""]`
/// and a trailing slash yields a final "".
fn parsed_path(path: &str) -> Value {
    Value::Array(
        path.trim_start_matches('/')
            .split('/')
            .map(|segment| Value::String(percent_decode_str(segment).decode_utf8_lossy().into_owned()))
            .collect(),
    )
}

/// Name -> every value in order, form-decoded (`+` is a space) like Go's `url.Query()`.
fn parsed_query(query: &str) -> Value {
    let mut map = Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let values = map.entry(name.into_owned()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(Value::String(value.into_owned()));
        }
    }
    Value::Object(map)
}
