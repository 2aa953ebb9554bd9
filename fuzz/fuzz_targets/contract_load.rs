//! The OpenAPI contract loader: `Contract::from_text` (core/src/contract/: YAML/JSON parsing,
//! `$ref` checks, schema compilation, parameters, security, routing) on arbitrary text.
//!
//! Input: the contract text, YAML or JSON (invalid UTF-8 is replaced).
//!
//! Checked besides "no panic and no hang" on a contract that loads:
//! - the JSON it serves at /openapi.json (`Contract::json`) is the document, and loads again
//!   into the same operations;
//! - every operation's template, with each `{param}` filled in, routes to an operation for that
//!   method (a documented path never answers 404), and no captured parameter spans a `/`.

#![no_main]

use std::sync::OnceLock;

use armature_core::contract::RouteMatch;
use armature_core::Contract;
use libfuzzer_sys::fuzz_target;

/// The template with every `{name}` replaced by `x`.
///
/// Templates with a literal brace (`/a}}b/{id}`) were once skipped here: matchit read `{{`/`}}` as
/// escaped braces and routed them elsewhere (fuzz/crashes-found/README.md). The loader now refuses
/// them, so every template that loads is checked; `ARMATURE_FUZZ_STRICT_TEMPLATES=1` restores the
/// old strict reading below.
fn concrete(template: &str) -> Option<String> {
    static STRICT: OnceLock<bool> = OnceLock::new();
    if !*STRICT.get_or_init(|| std::env::var_os("ARMATURE_FUZZ_STRICT_TEMPLATES").is_some_and(|v| v == "1")) {
        return concrete_loose(template);
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let literal = &rest[..open];
        if literal.contains('}') {
            return None;
        }
        out.push_str(literal);
        let close = rest[open..].find('}')? + open;
        if rest[open + 1..close].contains('{') {
            return None;
        }
        out.push('x');
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

/// [`concrete`] without the skip: braces that do not open a `{name}` are kept as written.
fn concrete_loose(template: &str) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        out.push('x');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(contract) = Contract::from_text(&text) else {
        return;
    };

    let served: serde_json::Value = serde_json::from_slice(contract.json()).expect("the served contract is JSON");
    assert_eq!(&served, contract.document(), "the served contract is not the document");
    let ids: Vec<&str> = contract.operations().iter().map(|op| op.id.as_str()).collect();
    let json_text = std::str::from_utf8(contract.json()).expect("the served contract is UTF-8");
    match Contract::from_text(json_text) {
        Ok(again) => {
            let again_ids: Vec<&str> = again.operations().iter().map(|op| op.id.as_str()).collect();
            assert_eq!(ids, again_ids, "the served contract loads into other operations");
            assert_eq!(again.version(), contract.version());
        }
        Err(error) => panic!("the served contract does not load again: {error}"),
    }

    for (index, op) in contract.operations().iter().enumerate() {
        assert_eq!(contract.operation(&op.id).map(|found| found.id.as_str()), Some(op.id.as_str()));
        let _ = (op.security.is_open(), op.security.allows_anonymous());
        let Some(path) = concrete(&op.path_template) else {
            continue;
        };
        match contract.route(&op.method, &path) {
            RouteMatch::Found { operation, params } => {
                let found = &contract.operations()[operation];
                assert_eq!(found.method, op.method);
                for (name, value) in &params {
                    assert!(!value.contains('/'), "parameter {name} captured {value:?} across segments of {path}");
                }
                if operation == index {
                    for (_, value) in &params {
                        assert_eq!(*value, "x", "{path} routed to {} with {params:?}", op.path_template);
                    }
                }
            }
            RouteMatch::MethodNotAllowed(allow) => {
                // Only when a more specific template of other methods took the path.
                assert!(
                    !allow.split(", ").any(|m| m == op.method.as_str()),
                    "{} {path} answered 405 although Allow lists it: {allow}",
                    op.method
                );
                let other = contract.operations().iter().any(|other| {
                    other.path_template != op.path_template
                        && concrete(&other.path_template).as_deref() == Some(path.as_str())
                });
                assert!(other, "{} {path} ({}) answered 405, allowed {allow}", op.method, op.path_template);
            }
            RouteMatch::NotFound => panic!("{} {path}, documented as {}, routes nowhere", op.method, op.path_template),
        }
    }
});
