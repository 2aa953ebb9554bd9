//! Compares an observed response with a case's [`Expectation`].

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use regex::Regex;
use serde_json::Value;

use crate::case::{escape_pointer, Expectation, HeaderExpectation, ANY, DISTINCT_HEADER, REGEX_PREFIX};

/// `HTTP/1.1`, `HTTP/2`: as case files write versions (http's own names say `HTTP/2.0`).
fn version_name(version: http::Version) -> String {
    match version {
        http::Version::HTTP_2 => "HTTP/2".to_owned(),
        http::Version::HTTP_3 => "HTTP/3".to_owned(),
        other => format!("{other:?}"),
    }
}

/// A response as it came back from the server.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Status code.
    pub status: StatusCode,
    /// All header lines.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// The HTTP version of the response, where the transport has one.
    pub version: Option<http::Version>,
}

impl Observed {
    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Every value of header `name` joined with `", "`, or `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<String> =
            self.headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
        if values.is_empty() {
            None
        } else {
            Some(values.join(", "))
        }
    }
}

/// How [`compare_json`] treats the expected document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonMode {
    /// Same keys, same values; strings compare literally.
    Exact,
    /// Expected object keys must exist (others may too); `"*"` matches any present value and
    /// `"re:..."` strings are regular expressions matched against string values.
    Subset,
}

/// Lists every way `observed` fails `expect`; empty means the case passed.
pub fn check(expect: &Expectation, observed: &Observed) -> Vec<String> {
    let mut problems = Vec::new();
    if observed.status.as_u16() != expect.status {
        problems.push(format!("status: expected {}, got {}", expect.status, observed.status.as_u16()));
    }
    if let Some(version) = &expect.version {
        let got = observed.version.map(version_name);
        if got.as_deref() != Some(version.as_str()) {
            problems.push(format!("version: expected {version}, got {}", got.as_deref().unwrap_or("none")));
        }
    }
    for (name, expectation) in &expect.headers {
        if let Some(problem) = check_header(name.as_str(), expectation, observed) {
            problems.push(problem);
        }
    }

    let text = observed.body_text();
    if let Some(body) = &expect.body {
        if &text != body {
            problems.push(format!("body: expected {body:?}, got {text:?}"));
        }
    }
    if let Some(re) = &expect.body_regex {
        if !re.is_match(&text) {
            problems.push(format!("body: does not match regex {:?}", re.as_str()));
        }
    }
    for needle in &expect.body_not_contains {
        if text.contains(needle.as_str()) {
            problems.push(format!("body: must not contain {needle:?}"));
        }
    }

    let wants_json = expect.json.is_some()
        || expect.json_subset.is_some()
        || !expect.json_absent.is_empty()
        || expect.distinct.iter().any(|source| source.starts_with('/'));
    if wants_json {
        match serde_json::from_slice::<Value>(&observed.body) {
            Err(e) => problems.push(format!("body: not JSON ({e})")),
            Ok(actual) => {
                if let Some(json) = &expect.json {
                    problems
                        .extend(compare_json(json, &actual, JsonMode::Exact).into_iter().map(|p| format!("json: {p}")));
                }
                if let Some(subset) = &expect.json_subset {
                    problems
                        .extend(match_json_subset(subset, &actual).into_iter().map(|p| format!("json_subset: {p}")));
                }
                for pointer in &expect.json_absent {
                    if let Some(found) = actual.pointer(pointer) {
                        problems.push(format!("json_absent: {pointer} is present ({found})"));
                    }
                }
                problems.extend(check_distinct(&expect.distinct, observed, Some(&actual)));
            }
        }
    } else {
        problems.extend(check_distinct(&expect.distinct, observed, None));
    }
    problems
}

/// Every `distinct` value is present, and no two are equal.
fn check_distinct(sources: &[String], observed: &Observed, json: Option<&Value>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: Vec<(&str, String)> = Vec::new();
    for source in sources {
        let value = match source.strip_prefix(DISTINCT_HEADER) {
            Some(name) => observed.header(name),
            None => json.and_then(|json| json.pointer(source)).map(|value| match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            }),
        };
        let Some(value) = value else {
            problems.push(format!("distinct: {source} is absent"));
            continue;
        };
        if let Some((other, _)) = seen.iter().find(|(_, earlier)| *earlier == value) {
            problems.push(format!("distinct: {source} equals {other} ({value:?})"));
        }
        seen.push((source, value));
    }
    problems
}

/// Checks one header expectation; `None` when it holds.
pub fn check_header(name: &str, expectation: &HeaderExpectation, observed: &Observed) -> Option<String> {
    let actual = observed.header(name);
    match (expectation, actual) {
        (HeaderExpectation::Absent, None) => None,
        (HeaderExpectation::Absent, Some(v)) => Some(format!("header {name}: expected absent, got {v:?}")),
        (HeaderExpectation::Present, Some(_)) => None,
        (HeaderExpectation::Exact(want), Some(v)) if &v == want => None,
        (HeaderExpectation::Exact(want), Some(v)) => Some(format!("header {name}: expected {want:?}, got {v:?}")),
        (HeaderExpectation::Matches(re), Some(v)) if re.is_match(&v) => None,
        (HeaderExpectation::Matches(re), Some(v)) => {
            Some(format!("header {name}: expected to match {:?}, got {v:?}", re.as_str()))
        }
        (expected, None) => Some(format!("header {name}: expected {}, but it is absent", describe_header(expected))),
    }
}

/// Human-readable form of a header expectation, as written in a case file.
pub fn describe_header(expectation: &HeaderExpectation) -> String {
    match expectation {
        HeaderExpectation::Absent => "absent".into(),
        HeaderExpectation::Present => "present".into(),
        HeaderExpectation::Exact(v) => format!("{v:?}"),
        HeaderExpectation::Matches(re) => format!("{REGEX_PREFIX}{}", re.as_str()),
    }
}

/// Matches `actual` against a `json_subset` expectation and lists the differences.
///
/// Every key of an expected object must be present and match recursively; arrays must have
/// the same length and match element-wise; `"*"` matches any value; a string starting with
/// `re:` is a regular expression that a string value must match; numbers compare by value
/// (`30` equals `30.0`); anything else compares for equality.
pub fn match_json_subset(expected: &Value, actual: &Value) -> Vec<String> {
    compare_json(expected, actual, JsonMode::Subset)
}

/// Compares two JSON documents in the given mode and lists the differences, each naming
/// the JSON pointer where it occurs.
pub fn compare_json(expected: &Value, actual: &Value, mode: JsonMode) -> Vec<String> {
    let mut out = Vec::new();
    compare_at(expected, actual, mode, "", &mut out);
    out
}

fn compare_at(expected: &Value, actual: &Value, mode: JsonMode, at: &str, out: &mut Vec<String>) {
    let here = if at.is_empty() { "(root)" } else { at };
    match (expected, actual) {
        (Value::String(s), _) if mode == JsonMode::Subset && s == ANY => {}
        (Value::String(s), _) if mode == JsonMode::Subset && s.starts_with(REGEX_PREFIX) => {
            let pattern = &s[REGEX_PREFIX.len()..];
            match (Regex::new(pattern), actual) {
                (Err(e), _) => out.push(format!("{here}: bad regex {pattern:?}: {e}")),
                (Ok(re), Value::String(v)) if re.is_match(v) => {}
                (Ok(_), other) => out.push(format!("{here}: expected a string matching {pattern:?}, got {other}")),
            }
        }
        (Value::Object(want), Value::Object(got)) => {
            for (key, want_value) in want {
                let pointer = format!("{at}/{}", escape_pointer(key));
                match got.get(key) {
                    Some(got_value) => compare_at(want_value, got_value, mode, &pointer, out),
                    None => out.push(format!("{pointer}: missing (expected {want_value})")),
                }
            }
            if mode == JsonMode::Exact {
                for (key, got_value) in got {
                    if !want.contains_key(key) {
                        out.push(format!("{at}/{}: unexpected (got {got_value})", escape_pointer(key)));
                    }
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                out.push(format!(
                    "{here}: expected an array of {} items, got {} items: {actual}",
                    want.len(),
                    got.len()
                ));
                return;
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                compare_at(w, g, mode, &format!("{at}/{i}"), out);
            }
        }
        (Value::Number(w), Value::Number(g)) => {
            let equal = match (w.as_i64(), g.as_i64(), w.as_u64(), g.as_u64()) {
                (Some(a), Some(b), _, _) => a == b,
                (_, _, Some(a), Some(b)) => a == b,
                _ => w.as_f64() == g.as_f64(),
            };
            if !equal {
                out.push(format!("{here}: expected {expected}, got {actual}"));
            }
        }
        (w, g) if w == g => {}
        (w, g) => out.push(format!("{here}: expected {w}, got {g}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::load_str;
    use serde_json::json;

    fn observed(status: u16, headers: &[(&str, &str)], body: &str) -> Observed {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                http::HeaderValue::from_str(value).expect("value"),
            );
        }
        Observed {
            status: StatusCode::from_u16(status).expect("status"),
            headers: map,
            body: Bytes::from(body.to_string()),
            version: None,
        }
    }

    fn expectation(expect_yaml: &str) -> Expectation {
        let text = format!("- name: t\n  request: {{method: GET, path: /}}\n  expect: {expect_yaml}\n");
        load_str("t.yaml", &text).expect("case loads").remove(0).expect
    }

    #[test]
    fn the_version_must_be_the_one_the_case_names() {
        let expect = expectation("{status: 200, version: HTTP/2}");
        let mut sent = observed(200, &[], "");
        assert_eq!(check(&expect, &sent), vec!["version: expected HTTP/2, got none".to_owned()]);
        sent.version = Some(http::Version::HTTP_11);
        assert_eq!(check(&expect, &sent), vec!["version: expected HTTP/2, got HTTP/1.1".to_owned()]);
        sent.version = Some(http::Version::HTTP_2);
        assert!(check(&expect, &sent).is_empty());
    }

    #[test]
    fn subset_ignores_extra_keys_and_matches_nested() {
        let expected = json!({"a": {"b": 1}, "c": [1, {"d": "x"}]});
        let actual = json!({"a": {"b": 1.0, "z": 2}, "c": [1, {"d": "x", "e": 0}], "y": true});
        assert!(match_json_subset(&expected, &actual).is_empty());
    }

    #[test]
    fn subset_reports_missing_and_wrong_values_with_pointers() {
        let expected = json!({"a": {"b": 1}, "c/d": "x", "e": [1, 2]});
        let actual = json!({"a": {"b": 2}, "e": [1, 3]});
        let problems = match_json_subset(&expected, &actual);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("/a/b:")));
        assert!(problems.iter().any(|p| p.starts_with("/c~1d: missing")));
        assert!(problems.iter().any(|p| p.starts_with("/e/1:")));
    }

    #[test]
    fn subset_arrays_need_equal_length() {
        let problems = match_json_subset(&json!({"e": ["*"]}), &json!({"e": [1, 2]}));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("1 items, got 2"), "{problems:?}");
    }

    #[test]
    fn subset_star_means_any_present_value() {
        assert!(match_json_subset(&json!({"a": "*"}), &json!({"a": null})).is_empty());
        assert!(match_json_subset(&json!({"a": "*"}), &json!({"a": [1]})).is_empty());
        assert_eq!(match_json_subset(&json!({"a": "*"}), &json!({})).len(), 1);
    }

    #[test]
    fn subset_regex_matches_strings_only() {
        let expected = json!({"m": "re:(?i)^required"});
        assert!(match_json_subset(&expected, &json!({"m": "Required property"})).is_empty());
        assert_eq!(match_json_subset(&expected, &json!({"m": "optional"})).len(), 1);
        let numeric = json!({"n": "re:^5$"});
        assert_eq!(match_json_subset(&numeric, &json!({"n": 5})).len(), 1);
    }

    #[test]
    fn exact_mode_rejects_extra_keys_and_takes_star_literally() {
        assert!(compare_json(&json!({"a": 1}), &json!({"a": 1.0}), JsonMode::Exact).is_empty());
        let extra = compare_json(&json!({"a": 1}), &json!({"a": 1, "b": 2}), JsonMode::Exact);
        assert_eq!(extra, ["/b: unexpected (got 2)"]);
        assert_eq!(compare_json(&json!("*"), &json!("x"), JsonMode::Exact).len(), 1);
        assert_eq!(compare_json(&json!(1), &json!("1"), JsonMode::Exact).len(), 1);
    }

    #[test]
    fn headers_exact_regex_any_and_null() {
        let expect = expectation(
            r#"{status: 405, headers: {Allow: "GET, PUT", x-request-id: "*", traceparent: "re:^00-[0-9a-f]{32}-", tracestate: null}}"#,
        );
        let good = observed(
            405,
            &[
                ("allow", "GET, PUT"),
                ("x-request-id", "abc"),
                ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ],
            "",
        );
        assert!(check(&expect, &good).is_empty(), "{:?}", check(&expect, &good));

        let bad = observed(404, &[("allow", "GET"), ("traceparent", "00-XYZ"), ("tracestate", "a=1")], "");
        let problems = check(&expect, &bad);
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("status:")));
        assert!(problems.iter().any(|p| p.starts_with("header allow:")));
        assert!(problems.iter().any(|p| p.starts_with("header x-request-id:") && p.contains("absent")));
        assert!(problems.iter().any(|p| p.starts_with("header traceparent:")));
        assert!(problems.iter().any(|p| p.starts_with("header tracestate: expected absent")));
    }

    #[test]
    fn repeated_header_lines_are_joined() {
        let expect = expectation(r#"{status: 200, headers: {vary: "a, b"}}"#);
        let got = observed(200, &[("vary", "a"), ("vary", "b")], "");
        assert!(check(&expect, &got).is_empty());
    }

    #[test]
    fn json_absent_and_body_checks() {
        let expect = expectation(
            r#"{status: 500, json_absent: [/detail, /errors/0/x], body_not_contains: [exploded], body_regex: '^\{"type"'}"#,
        );
        let clean = observed(500, &[], r#"{"type":"t","errors":[{"y":1}]}"#);
        assert!(check(&expect, &clean).is_empty());
        let leaky = observed(500, &[], r#"{"detail":"db exploded","errors":[{"x":1}]}"#);
        let problems = check(&expect, &leaky);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("/detail is present")));
        assert!(problems.iter().any(|p| p.contains("/errors/0/x is present")));
        assert!(problems.iter().any(|p| p.contains("must not contain")));
        assert!(problems.iter().any(|p| p.contains("regex")));
    }

    #[test]
    fn distinct_values_must_all_be_present_and_differ() {
        let expect = expectation("{status: 200, distinct: ['header:traceparent', /calls/0, /calls/1]}");
        let fine = observed(200, &[("traceparent", "00-t-s-01")], r#"{"calls":["00-t-a-01","00-t-b-01"]}"#);
        assert!(check(&expect, &fine).is_empty(), "{:?}", check(&expect, &fine));
        let reused = observed(200, &[("traceparent", "00-t-s-01")], r#"{"calls":["00-t-s-01","00-t-b-01"]}"#);
        let problems = check(&expect, &reused);
        assert_eq!(problems, ["distinct: /calls/0 equals header:traceparent (\"00-t-s-01\")"]);
        let missing = observed(200, &[], r#"{"calls":["a"]}"#);
        let problems = check(&expect, &missing);
        assert!(problems.iter().any(|p| p == "distinct: header:traceparent is absent"), "{problems:?}");
        assert!(problems.iter().any(|p| p == "distinct: /calls/1 is absent"), "{problems:?}");
    }

    #[test]
    fn non_json_body_fails_json_expectations() {
        let expect = expectation("{status: 200, json: {a: 1}}");
        let problems = check(&expect, &observed(200, &[], "Hello"));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("body: not JSON"), "{problems:?}");
    }

    #[test]
    fn exact_body() {
        let expect = expectation(r#"{status: 204, body: ""}"#);
        assert!(check(&expect, &observed(204, &[], "")).is_empty());
        assert_eq!(check(&expect, &observed(204, &[], "x")).len(), 1);
    }
}
