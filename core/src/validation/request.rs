//! Request validation: parameters decoded and typed per their schemas, then the body checked by
//! content type. Every violation is collected so a client fixes its request in one round trip.

use bytes::Bytes;
use http::request::Parts;
use serde_json::Value;

use crate::contract::params::{ParamLocation, RawParams};
use crate::contract::{BodyKind, BodyRule, MediaRange, Operation};
use crate::dispatch::Params;
use crate::path_params::PathParams;
use crate::problem::{Location, Problem, ProblemKind, Violation};

/// A request that passed validation, with its typed parameters and its parsed JSON body.
#[derive(Debug)]
pub(crate) struct CheckedRequest {
    pub params: Params,
    /// The body as parsed for validation, when it is JSON: handed on so nothing parses it again.
    pub json: Option<Value>,
}

/// Decodes and checks parameters and body; `validate` off still decodes parameters. The path
/// parameters come decoded already (the policy read them); `parsed_json` is the body already
/// parsed by an earlier stage (the policy's `parsed_body`), if any, so it is not parsed twice.
pub(crate) fn check_request(
    operation: &Operation,
    mut path: PathParams<'_>,
    parts: &Parts,
    body: &Bytes,
    validate: bool,
    parsed_json: Option<Value>,
) -> Result<CheckedRequest, Problem> {
    let header =
        |name: &str| -> Vec<&str> { parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect() };
    let cookies: Vec<&str> = header("cookie");
    let raw = RawParams { path: &[], query: parts.uri.query(), header: &header, cookies: &cookies };

    let mut typed = Params::default();
    let mut violations = Vec::new();
    for rule in &operation.params {
        let location = location_of(rule.spec.location);
        let pointer = format!("/{}", rule.spec.name);
        let decoded = match rule.spec.location {
            ParamLocation::Path => path.take(&rule.spec.name).transpose(),
            _ => rule.decode(&raw),
        };
        let value = match decoded {
            Err(error) => {
                violations.push(Violation::new(location, pointer, error.to_string()));
                continue;
            }
            Ok(None) => {
                if rule.required && validate {
                    violations.push(Violation::new(location, pointer, "is required"));
                }
                match &rule.default {
                    Some(default) => default.clone(),
                    None => continue,
                }
            }
            Ok(Some(value)) => {
                if validate {
                    if let Some(validator) = &rule.validator {
                        validator.check(&value, location, &pointer, &mut violations);
                    }
                }
                value
            }
        };
        let target = match rule.spec.location {
            ParamLocation::Path => &mut typed.path,
            ParamLocation::Query => &mut typed.query,
            ParamLocation::Header => &mut typed.header,
            ParamLocation::Cookie => &mut typed.cookie,
        };
        target.insert(rule.spec.name.clone(), value);
    }

    let mut json = None;
    if let (Some(rule), true) = (&operation.body, validate) {
        json = check_body(rule, parts, body, parsed_json, &mut violations)?;
    }

    if violations.is_empty() {
        Ok(CheckedRequest { params: typed, json })
    } else {
        let detail = match violations.len() {
            1 => "The request has 1 violation of the contract.".to_owned(),
            n => format!("The request has {n} violations of the contract."),
        };
        Err(Problem::new(ProblemKind::RequestValidation, detail).with_errors(violations))
    }
}

/// Checks the body against the media types the operation accepts; returns the parsed body when
/// it is JSON.
fn check_body(
    rule: &BodyRule,
    parts: &Parts,
    body: &Bytes,
    parsed_json: Option<Value>,
    violations: &mut Vec<Violation>,
) -> Result<Option<Value>, Problem> {
    if body.is_empty() {
        if rule.required {
            violations.push(Violation::new(Location::Body, "", "a request body is required"));
        }
        return Ok(None);
    }
    let accepted = || rule.media.iter().map(|m| m.range.essence()).collect::<Vec<_>>().join(", ");
    let Some(content_type) = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return Err(Problem::new(
            ProblemKind::UnsupportedMediaType,
            format!("The request has a body but no Content-Type; accepted: {}.", accepted()),
        ));
    };
    let concrete = MediaRange::parse(content_type);
    let Some(media) = rule.media.iter().find(|m| m.range.covers(&concrete)) else {
        return Err(Problem::new(
            ProblemKind::UnsupportedMediaType,
            format!("Content-Type {:?} is not accepted; accepted: {}.", concrete.essence(), accepted()),
        ));
    };
    let instance = match concrete.kind() {
        BodyKind::Json => match parsed_json.map_or_else(|| serde_json::from_slice::<Value>(body), Ok) {
            Ok(value) => value,
            Err(e) => {
                let message = format!("invalid JSON: {e}");
                return Err(Problem::new(ProblemKind::MalformedBody, "The request body is not valid JSON.")
                    .with_errors(vec![Violation::new(Location::Body, "", message)]));
            }
        },
        BodyKind::Text => match std::str::from_utf8(body) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => {
                return Err(Problem::new(ProblemKind::MalformedBody, "The request body is not valid UTF-8 text.")
                    .with_errors(vec![Violation::new(Location::Body, "", "invalid UTF-8")]));
            }
        },
        // Binary, form and multipart bodies are passed through unchecked (documented in docs/validation.md).
        BodyKind::Other => return Ok(None),
    };
    if let Some(validator) = &media.validator {
        validator.check(&instance, Location::Body, "", violations);
    }
    Ok(matches!(concrete.kind(), BodyKind::Json).then_some(instance))
}

fn location_of(location: ParamLocation) -> Location {
    match location {
        ParamLocation::Path => Location::Path,
        ParamLocation::Query => Location::Query,
        ParamLocation::Header => Location::Header,
        ParamLocation::Cookie => Location::Cookie,
    }
}
