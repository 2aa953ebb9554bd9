//! The case file format and its loader.
//!
//! A case file is a YAML list of cases; every case has a `name`, a `request` and an
//! `expect` block (see `conformance/README.md`). Loading turns the loose YAML into typed,
//! validated [`Case`] values up front, so a typo in a header name, a regular expression or
//! a JSON pointer is reported with its file and case before any request is sent.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::uri::PathAndQuery;
use http::{HeaderName, HeaderValue, Method};
use regex::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::placeholders::Tokens;

/// Prefix that turns an expected string into a regular expression.
pub const REGEX_PREFIX: &str = "re:";

/// Prefix of a `distinct` entry naming a response header instead of a JSON pointer.
pub const DISTINCT_HEADER: &str = "header:";

/// Expected value meaning "present, with any value".
pub const ANY: &str = "*";

/// Largest body `body_repeat` may generate (catches a mistyped `times`).
const MAX_GENERATED_BODY: usize = 64 * 1024 * 1024;

/// One conformance case: a request to send and what must come back.
#[derive(Debug, Clone)]
pub struct Case {
    /// Name, unique across all case files.
    pub name: String,
    /// File name (without directory) the case was loaded from.
    pub file: String,
    /// The request to send.
    pub request: CaseRequest,
    /// What the response must look like.
    pub expect: Expectation,
}

/// The request half of a case, ready to send.
#[derive(Debug, Clone)]
pub struct CaseRequest {
    /// HTTP method, sent as written.
    pub method: Method,
    /// Path and query, sent verbatim (never re-encoded).
    pub path: String,
    /// Header lines in order; a name may repeat (one line per value).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Request body (empty when the case gives none).
    pub body: Bytes,
    /// Sent over HTTPS, with these settings (`request.tls`); over plain HTTP when None.
    pub tls: Option<TlsRequest>,
}

/// How a case's HTTPS connection is made (`request.tls`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsRequest {
    /// The ALPN protocols offered, in order (`h2`, `http/1.1`); default both.
    #[serde(default = "both_protocols")]
    pub alpn: Vec<String>,
    /// Whether the test client certificate (`credentials/tls-client.pem`) is presented.
    #[serde(default)]
    pub client_certificate: bool,
}

fn both_protocols() -> Vec<String> {
    vec!["h2".into(), "http/1.1".into()]
}

/// What a response header must look like.
#[derive(Debug, Clone)]
pub enum HeaderExpectation {
    /// The header must not be present (`null`).
    Absent,
    /// The header must be present with any value (`"*"`).
    Present,
    /// The header value must equal this text exactly.
    Exact(String),
    /// The header value must match this regular expression (`"re:..."`).
    Matches(Regex),
}

/// The expectation half of a case.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Expected status code.
    pub status: u16,
    /// Expected response headers (names are lower-case).
    pub headers: Vec<(HeaderName, HeaderExpectation)>,
    /// Exact body text.
    pub body: Option<String>,
    /// Regular expression the whole body text must match.
    pub body_regex: Option<Regex>,
    /// Exact JSON equality (numbers compare by value).
    pub json: Option<Value>,
    /// Recursive JSON subset match (see [`crate::matcher::match_json_subset`]).
    pub json_subset: Option<Value>,
    /// JSON pointers that must not resolve in the body.
    pub json_absent: Vec<String>,
    /// Substrings that must not occur in the body text.
    pub body_not_contains: Vec<String>,
    /// The HTTP version the response came in (`HTTP/1.1`, `HTTP/2`), when the case says.
    pub version: Option<String>,
    /// Values that must all be present and differ from each other: `/pointer` into the JSON
    /// body, or `header:<name>` (each outgoing call's traceparent, say, never the server's own).
    pub distinct: Vec<String>,
}

/// Why case files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A directory or file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML.
    #[error("{file}: invalid YAML: {source}")]
    Yaml {
        /// File name.
        file: String,
        /// The parser's error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A `{{token:NAME}}` placeholder names no token, or tokens.json is unreadable.
    #[error("{file}: {message}")]
    Placeholder {
        /// File name.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A file's top level is not a list.
    #[error("{file}: a case file must be a YAML list of cases")]
    NotAList {
        /// File name.
        file: String,
    },
    /// A case is malformed.
    #[error("{file}: case {case}: {message}")]
    BadCase {
        /// File name.
        file: String,
        /// The case's name, or its position when it has none.
        case: String,
        /// What is wrong.
        message: String,
    },
    /// Two cases share a name.
    #[error("{file}: duplicate case name {name:?} (first defined in {first_file})")]
    DuplicateName {
        /// The repeated name.
        name: String,
        /// File of the second occurrence.
        file: String,
        /// File of the first occurrence.
        first_file: String,
    },
    /// The directory holds no case file.
    #[error("no case files (*.yaml, *.yml) in {}", dir.display())]
    NoCaseFiles {
        /// The directory searched.
        dir: PathBuf,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    request: RawRequest,
    expect: RawExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    method: String,
    path: String,
    #[serde(default)]
    headers: serde_yaml_ng::Mapping,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, deserialize_with = "present")]
    json: Option<Value>,
    #[serde(default)]
    body_repeat: Option<BodyRepeat>,
    #[serde(default)]
    tls: Option<TlsRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyRepeat {
    text: String,
    times: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    status: u16,
    #[serde(default)]
    headers: serde_yaml_ng::Mapping,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_regex: Option<String>,
    #[serde(default, deserialize_with = "present")]
    json: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    json_subset: Option<Value>,
    #[serde(default)]
    json_absent: Vec<String>,
    #[serde(default)]
    body_not_contains: Vec<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    distinct: Vec<String>,
}

/// Keeps an explicit `null` as `Some(Value::Null)` (a missing key stays `None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Loads every `*.yaml` / `*.yml` file of `dir`, in file-name order, and checks that case
/// names are unique across files. `{{token:NAME}}` placeholders are filled from
/// `../credentials/tokens.json` next to `dir`.
pub fn load_dir(dir: &Path) -> Result<Vec<Case>, LoadError> {
    let tokens_path = dir.join("../credentials/tokens.json");
    let tokens = Tokens::from_file(&tokens_path)
        .map_err(|message| LoadError::Placeholder { file: tokens_path.display().to_string(), message })?;
    let entries = fs::read_dir(dir).map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Io { path: dir.to_path_buf(), source })?;
        let path = entry.path();
        let is_yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(LoadError::NoCaseFiles { dir: dir.to_path_buf() });
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));

    let mut cases = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for path in files {
        let text = fs::read_to_string(&path).map_err(|source| LoadError::Io { path: path.clone(), source })?;
        let file =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        let text = tokens.expand(&text).map_err(|message| LoadError::Placeholder { file: file.clone(), message })?;
        for case in load_str(&file, &text)? {
            if let Some(first_file) = seen.get(&case.name) {
                return Err(LoadError::DuplicateName { name: case.name, file, first_file: first_file.clone() });
            }
            seen.insert(case.name.clone(), file.clone());
            cases.push(case);
        }
    }
    Ok(cases)
}

/// Parses the cases of one file; `file` names it in errors and in [`Case::file`].
/// An empty document holds no cases.
pub fn load_str(file: &str, text: &str) -> Result<Vec<Case>, LoadError> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|source| LoadError::Yaml { file: file.to_string(), source })?;
    let items = match doc {
        serde_yaml_ng::Value::Null => return Ok(Vec::new()),
        serde_yaml_ng::Value::Sequence(items) => items,
        _ => return Err(LoadError::NotAList { file: file.to_string() }),
    };
    let mut cases = Vec::with_capacity(items.len());
    let mut seen = HashMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let label = match item.get("name").and_then(|n| n.as_str()) {
            Some(name) => format!("{name:?}"),
            None => format!("#{} (unnamed)", index + 1),
        };
        let bad = |message: String| LoadError::BadCase { file: file.to_string(), case: label.clone(), message };
        let raw: RawCase = serde_yaml_ng::from_value(item).map_err(|e| bad(e.to_string()))?;
        let case = build_case(file, raw).map_err(bad)?;
        if seen.insert(case.name.clone(), index).is_some() {
            return Err(LoadError::DuplicateName {
                name: case.name,
                file: file.to_string(),
                first_file: file.to_string(),
            });
        }
        cases.push(case);
    }
    Ok(cases)
}

fn build_case(file: &str, raw: RawCase) -> Result<Case, String> {
    if raw.name.trim().is_empty() {
        return Err("name must not be empty".into());
    }
    Ok(Case {
        name: raw.name,
        file: file.to_string(),
        request: build_request(raw.request)?,
        expect: build_expect(raw.expect)?,
    })
}

fn build_request(raw: RawRequest) -> Result<CaseRequest, String> {
    let method = Method::from_bytes(raw.method.as_bytes())
        .map_err(|_| format!("request.method: invalid method {:?}", raw.method))?;
    if !raw.path.starts_with('/') {
        return Err(format!("request.path must start with '/': {:?}", raw.path));
    }
    raw.path.parse::<PathAndQuery>().map_err(|e| format!("request.path {:?}: {e}", raw.path))?;

    let mut headers = Vec::new();
    for (name, value) in entries(&raw.headers, "request.headers")? {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("request.headers: invalid header name {name:?}"))?;
        let values = match &value {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            other => vec![other],
        };
        for item in values {
            let text = scalar_text(item).ok_or_else(|| format!("request.headers.{name}: values must be scalars"))?;
            let value = HeaderValue::from_str(&text)
                .map_err(|_| format!("request.headers.{name}: invalid header value {text:?}"))?;
            headers.push((header.clone(), value));
        }
    }

    let sources = [raw.body.is_some(), raw.json.is_some(), raw.body_repeat.is_some()];
    if sources.iter().filter(|s| **s).count() > 1 {
        return Err("request: give at most one of body, json, body_repeat".into());
    }
    let body = if let Some(text) = raw.body {
        Bytes::from(text)
    } else if let Some(json) = raw.json {
        if !headers.iter().any(|(n, _)| n == CONTENT_TYPE) {
            headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        }
        Bytes::from(serde_json::to_vec(&json).map_err(|e| format!("request.json: {e}"))?)
    } else if let Some(repeat) = raw.body_repeat {
        let size = repeat
            .text
            .len()
            .checked_mul(repeat.times)
            .filter(|size| *size <= MAX_GENERATED_BODY)
            .ok_or_else(|| format!("request.body_repeat: larger than {MAX_GENERATED_BODY} bytes"))?;
        let mut text = String::with_capacity(size);
        for _ in 0..repeat.times {
            text.push_str(&repeat.text);
        }
        Bytes::from(text)
    } else {
        Bytes::new()
    };

    if let Some(tls) = &raw.tls {
        if let Some(unknown) = tls.alpn.iter().find(|p| !matches!(p.as_str(), "h2" | "http/1.1")) {
            return Err(format!("request.tls.alpn: {unknown:?} is not h2 or http/1.1"));
        }
    }
    Ok(CaseRequest { method, path: raw.path, headers, body, tls: raw.tls })
}

fn build_expect(raw: RawExpect) -> Result<Expectation, String> {
    if !(100..=599).contains(&raw.status) {
        return Err(format!("expect.status {} is not 100..=599", raw.status));
    }
    let mut headers = Vec::new();
    for (name, value) in entries(&raw.headers, "expect.headers")? {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("expect.headers: invalid header name {name:?}"))?;
        let expectation = match &value {
            Value::Null => HeaderExpectation::Absent,
            Value::String(s) if s == ANY => HeaderExpectation::Present,
            Value::String(s) => match s.strip_prefix(REGEX_PREFIX) {
                Some(pattern) => {
                    HeaderExpectation::Matches(Regex::new(pattern).map_err(|e| format!("expect.headers.{name}: {e}"))?)
                }
                None => HeaderExpectation::Exact(s.clone()),
            },
            other => HeaderExpectation::Exact(
                scalar_text(other)
                    .ok_or_else(|| format!("expect.headers.{name}: expected a string, \"*\", \"re:...\" or null"))?,
            ),
        };
        headers.push((header, expectation));
    }
    let body_regex =
        raw.body_regex.as_deref().map(Regex::new).transpose().map_err(|e| format!("expect.body_regex: {e}"))?;
    if let Some(subset) = &raw.json_subset {
        check_subset_regexes(subset, "")?;
    }
    for pointer in &raw.json_absent {
        if !pointer.starts_with('/') {
            return Err(format!("expect.json_absent: {pointer:?} is not a JSON pointer (must start with '/')"));
        }
    }
    for source in &raw.distinct {
        let header = source.strip_prefix(DISTINCT_HEADER).map(|name| HeaderName::from_bytes(name.as_bytes()).is_ok());
        if !source.starts_with('/') && header != Some(true) {
            return Err(format!("expect.distinct: {source:?} is neither a JSON pointer nor header:<name>"));
        }
    }
    if raw.distinct.len() == 1 {
        return Err("expect.distinct: list at least two values".to_owned());
    }
    Ok(Expectation {
        status: raw.status,
        headers,
        body: raw.body,
        body_regex,
        json: raw.json,
        json_subset: raw.json_subset,
        json_absent: raw.json_absent,
        distinct: raw.distinct,
        body_not_contains: raw.body_not_contains,
        version: match raw.version {
            Some(version) if !matches!(version.as_str(), "HTTP/1.1" | "HTTP/2") => {
                return Err(format!("expect.version: {version:?} is not HTTP/1.1 or HTTP/2"))
            }
            version => version,
        },
    })
}

/// The entries of a YAML mapping in file order, with string keys and JSON values.
fn entries(map: &serde_yaml_ng::Mapping, field: &str) -> Result<Vec<(String, Value)>, String> {
    map.iter()
        .map(|(key, value)| {
            let key = key.as_str().ok_or_else(|| format!("{field}: names must be strings"))?;
            let value: Value = serde_yaml_ng::from_value(value.clone()).map_err(|e| format!("{field}.{key}: {e}"))?;
            Ok((key.to_string(), value))
        })
        .collect()
}

/// Compiles every `re:` string of a `json_subset` so a bad pattern fails at load time.
fn check_subset_regexes(value: &Value, pointer: &str) -> Result<(), String> {
    match value {
        Value::String(s) => {
            if let Some(pattern) = s.strip_prefix(REGEX_PREFIX) {
                Regex::new(pattern).map_err(|e| format!("expect.json_subset at {pointer:?}: {e}"))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, item)| check_subset_regexes(item, &format!("{pointer}/{i}")))
        }
        Value::Object(map) => map
            .iter()
            .try_for_each(|(key, item)| check_subset_regexes(item, &format!("{pointer}/{}", escape_pointer(key)))),
        _ => Ok(()),
    }
}

/// Text of a YAML scalar given where a string is expected (`5` -> `"5"`).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Escapes one JSON pointer reference token (RFC 6901).
pub(crate) fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_full_case() {
        let cases = load_str(
            "t.yaml",
            r#"
- name: one
  request:
    method: POST
    path: /users?x=%20
    headers: {X-Count: 5, tracestate: [a=1, b=2]}
    json: {name: Bob}
  expect:
    status: 201
    headers: {x-request-id: "*", traceparent: null, allow: "re:^GET$", content-length: 3}
    json_subset: {name: "re:^B"}
    json_absent: [/password]
"#,
        )
        .expect("loads");
        assert_eq!(cases.len(), 1);
        let case = &cases[0];
        assert_eq!(case.file, "t.yaml");
        assert_eq!(case.request.path, "/users?x=%20");
        let names: Vec<_> =
            case.request.headers.iter().map(|(n, v)| format!("{}={}", n, v.to_str().expect("ascii"))).collect();
        assert_eq!(names, ["x-count=5", "tracestate=a=1", "tracestate=b=2", "content-type=application/json"]);
        assert_eq!(&case.request.body[..], br#"{"name":"Bob"}"#);
        let expected: Vec<_> =
            case.expect.headers.iter().map(|(n, e)| format!("{n} {}", crate::matcher::describe_header(e))).collect();
        assert_eq!(expected, ["x-request-id present", "traceparent absent", "allow re:^GET$", "content-length \"3\""]);
    }

    #[test]
    fn json_keeps_explicit_content_type_and_repeat_generates() {
        let cases = load_str(
            "t.yaml",
            r#"
- name: a
  request: {method: POST, path: /a, headers: {Content-Type: text/plain}, json: [1]}
  expect: {status: 200}
- name: b
  request: {method: POST, path: /b, body_repeat: {text: ab, times: 3}}
  expect: {status: 200, json: null}
"#,
        )
        .expect("loads");
        assert_eq!(cases[0].request.headers.len(), 1);
        assert_eq!(&cases[1].request.body[..], b"ababab");
        assert_eq!(cases[1].expect.json, Some(Value::Null));
    }

    #[test]
    fn bad_cases_name_file_and_case() {
        let err = |text: &str| load_str("bad.yaml", text).expect_err("must fail").to_string();
        let e = err("- name: x\n  request: {method: GET, path: /}\n  expect: {status: 200, headers: {a: 're:('}}\n");
        assert!(e.starts_with("bad.yaml: case \"x\": expect.headers.a"), "{e}");
        let e = err("- name: x\n  request: {method: GET, path: nope}\n  expect: {status: 200}\n");
        assert!(e.contains("must start with '/'"), "{e}");
        let e = err("- request: {method: GET, path: /}\n  expect: {status: 200}\n");
        assert!(e.starts_with("bad.yaml: case #1 (unnamed)"), "{e}");
        let e = err("- name: x\n  request: {method: GET, path: /, typo: 1}\n  expect: {status: 200}\n");
        assert!(e.contains("typo"), "{e}");
        let e = err("- name: x\n  request: {method: GET, path: /, body: a, json: 1}\n  expect: {status: 200}\n");
        assert!(e.contains("at most one"), "{e}");
        let e = err(
            "- name: x\n  request: {method: GET, path: /}\n  expect: {status: 200, json_subset: {a: [1, 're:[']}}\n",
        );
        assert!(e.contains("/a/1"), "{e}");
        let e = err("- name: x\n  request: {method: GET, path: /}\n  expect: {status: 200, json_absent: [a]}\n");
        assert!(e.contains("JSON pointer"), "{e}");
        let e = err("- name: x\n  request: {method: GET, path: /}\n  expect: {status: 200}\n- name: x\n  request: {method: GET, path: /}\n  expect: {status: 200}\n");
        assert!(e.contains("duplicate"), "{e}");
        let e = err("name: x\n");
        assert!(e.contains("must be a YAML list"), "{e}");
    }
}
