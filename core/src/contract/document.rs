//! Reading the contract text and checking the references it makes, before anything is compiled.

use serde_json::Value;

use super::schema::OpenApiVersion;
use super::ContractError;

/// Parses YAML or JSON text into a JSON value (a JSON document is tried as JSON first: it is
/// several times faster than going through the YAML parser).
pub(crate) fn parse(text: &str) -> Result<Value, ContractError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).map_err(|e| {
            ContractError::new("", format!("invalid JSON at line {} column {}: {e}", e.line(), e.column()))
        });
    }
    serde_yaml_ng::from_str(text).map_err(|e| ContractError::new("", format!("invalid YAML: {e}")))
}

/// The OpenAPI version the document declares.
pub(crate) fn version(doc: &Value) -> Result<OpenApiVersion, ContractError> {
    let declared = match doc.get("openapi") {
        Some(Value::String(declared)) => declared,
        Some(other) => {
            return Err(ContractError::new("/openapi", format!("must be a string such as \"3.1.0\", not {other}")))
        }
        None => {
            return Err(ContractError::new(
                "/openapi",
                "missing: an OpenAPI 3.0 or 3.1 document needs `openapi: 3.x.y`",
            ))
        }
    };
    if declared.starts_with("3.0.") || declared == "3.0" {
        Ok(OpenApiVersion::V3_0)
    } else if declared.starts_with("3.1.") || declared == "3.1" {
        Ok(OpenApiVersion::V3_1)
    } else {
        Err(ContractError::new("/openapi", format!("unsupported version {declared:?}: expected 3.0.x or 3.1.x")))
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub(crate) fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Looks up a local reference (`#/components/...`), following a chain of `$ref` objects.
/// Returns the target and the pointer where it was found.
pub(crate) fn resolve<'d>(doc: &'d Value, value: &'d Value, at: &str) -> Result<(&'d Value, String), ContractError> {
    let mut current = value;
    let mut pointer = at.to_owned();
    // A bound rather than cycle bookkeeping: real contracts never chain more than a few refs.
    for _ in 0..32 {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            return Ok((current, pointer));
        };
        let target = reference_pointer(reference).ok_or_else(|| {
            ContractError::new(&pointer, format!("$ref {reference:?} is not a local reference (\"#/...\")"))
        })?;
        current = doc
            .pointer(&target)
            .ok_or_else(|| ContractError::new(&pointer, format!("$ref {reference:?} does not resolve")))?;
        pointer = target;
    }
    Err(ContractError::new(at, "$ref chain too long or circular"))
}

/// The JSON pointer a local `$ref` names, percent-decoded (refs are URI fragments).
pub(crate) fn reference_pointer(reference: &str) -> Option<String> {
    let fragment = reference.strip_prefix('#')?;
    percent_encoding::percent_decode_str(fragment).decode_utf8().ok().map(|s| s.into_owned())
}

/// Checks that every `$ref` in the document is local and resolves, naming the first that is not.
pub(crate) fn check_references(doc: &Value) -> Result<(), ContractError> {
    // The walk keeps borrowed path segments and builds a pointer only for the error: formatting
    // one per node costs more than the whole walk on large contracts.
    let mut path = Vec::new();
    match find_bad_reference(doc, doc, &mut path) {
        None => Ok(()),
        Some(message) => {
            let at: String = path.iter().map(|segment| format!("/{}", segment)).collect();
            Err(ContractError::new(&at, message))
        }
    }
}

/// One step of a JSON pointer, borrowed from the document.
enum Segment<'d> {
    Key(&'d str),
    Index(usize),
}

impl std::fmt::Display for Segment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key(key) => f.write_str(&escape(key)),
            Self::Index(index) => write!(f, "{index}"),
        }
    }
}

/// Depth-first search for a bad `$ref`; on return with Some, `path` holds its place.
fn find_bad_reference<'d>(doc: &Value, value: &'d Value, path: &mut Vec<Segment<'d>>) -> Option<String> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let Some(target) = reference_pointer(reference) else {
                    return Some(format!("$ref {reference:?}: only local references (\"#/...\") are supported"));
                };
                if doc.pointer(&target).is_none() {
                    return Some(format!("$ref {reference:?} does not resolve"));
                }
            }
            for (key, child) in map {
                // Examples and literal values are free-form data: a "$ref" inside one is not a reference.
                if matches!(key.as_str(), "$ref" | "example" | "examples" | "const" | "default" | "enum") {
                    continue;
                }
                path.push(Segment::Key(key));
                if let Some(found) = find_bad_reference(doc, child, path) {
                    return Some(found);
                }
                path.pop();
            }
            None
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                path.push(Segment::Index(index));
                if let Some(found) = find_bad_reference(doc, child, path) {
                    return Some(found);
                }
                path.pop();
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_and_json_parse_to_the_same_value() {
        let yaml = parse("openapi: 3.1.0\ninfo: {title: t, version: '1'}\n").unwrap();
        let json = parse(r#"{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}"#).unwrap();
        assert_eq!(yaml, json);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let err = parse("openapi: 3.1.0\npaths: [unclosed\n").unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
        let err = parse("{\"openapi\": \n}").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn versions() {
        assert_eq!(version(&json!({"openapi": "3.0.3"})).unwrap(), OpenApiVersion::V3_0);
        assert_eq!(version(&json!({"openapi": "3.1.0"})).unwrap(), OpenApiVersion::V3_1);
        assert!(version(&json!({"openapi": "2.0"})).unwrap_err().to_string().contains("/openapi"));
        assert!(version(&json!({"swagger": "2.0"})).is_err());
    }

    #[test]
    fn broken_reference_is_named_with_its_place() {
        let doc = json!({"paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/components/responses/Nope"}}}}}});
        let err = check_references(&doc).unwrap_err().to_string();
        assert!(err.contains("/paths/~1a/get/responses/200"), "{err}");
        assert!(err.contains("#/components/responses/Nope"), "{err}");
    }

    #[test]
    fn external_reference_is_refused() {
        let doc = json!({"components": {"schemas": {"A": {"$ref": "other.yaml#/A"}}}});
        assert!(check_references(&doc).unwrap_err().to_string().contains("local"));
    }

    #[test]
    fn resolve_follows_chains_and_percent_encoding() {
        let doc = json!({"components": {"parameters": {"A": {"$ref": "#/components/parameters/B%20C"}, "B C": {"name": "x"}}}});
        let start = json!({"$ref": "#/components/parameters/A"});
        let (target, at) = resolve(&doc, &start, "/here").unwrap();
        assert_eq!(target, &json!({"name": "x"}));
        assert_eq!(at, "/components/parameters/B C");
    }

    #[test]
    fn circular_chain_is_an_error() {
        let doc = json!({"a": {"$ref": "#/b"}, "b": {"$ref": "#/a"}});
        let start = json!({"$ref": "#/a"});
        assert!(resolve(&doc, &start, "/x").unwrap_err().to_string().contains("circular"));
    }
}
