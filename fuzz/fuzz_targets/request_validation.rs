//! Request validation (core/src/validation/request.rs: parameters decoded and typed per their
//! schemas, bodies checked by content type), reached the way a request reaches it: through
//! `App::handle`, the whole in-process pipeline, on the conformance contract
//! (conformance/contract.yaml, embedded) with the conformance identity configuration and no
//! policy. `validation` is a private module of the core; `App::handle` is the public way in.
//!
//! Input: a request as HTTP/1.1 text (see `armature_fuzz::RequestText`), e.g.
//!
//! ```text
//! GET /search?q=a&limit=5&filter[color]=red HTTP/1.1
//! authorization: Bearer $ALICE
//! ```
//!
//! Checked besides "no panic":
//! - the pipeline never answers 5xx (every handler answers at once), errors are RFC 9457 problems
//!   with the response's status, every answer has an `x-request-id`;
//! - what reaches a handler satisfies the contract, checked by hand-written rules independent
//!   of the JSON Schema validator: typed path/query/header/cookie parameters in range and
//!   pattern, bodies with their required properties, no `readOnly` property in a request, no
//!   property `additionalProperties: false` forbids, a discriminated `oneOf` valid as the variant
//!   its discriminator names.

#![no_main]

use std::sync::OnceLock;

use armature_core::{App, Handler, HandlerRequest, HandlerResponse};
use armature_fuzz::{check_answer, conformance_config, conformance_contract, send, Policy, RequestText};
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fn integer(value: &Value) -> Option<f64> {
    // JSON Schema's integer is any number without a fractional part (1.0 included).
    let n = value.as_f64()?;
    (n.fract() == 0.0).then_some(n)
}

fn int_in(value: Option<&Value>, min: f64, max: f64) -> bool {
    value.and_then(integer).is_some_and(|n| n >= min && n <= max)
}

fn chars(value: Option<&Value>) -> Option<usize> {
    value.and_then(Value::as_str).map(|s| s.chars().count())
}

fn array_of(value: &Value, item: fn(&Value) -> bool) -> bool {
    value.as_array().is_some_and(|items| items.iter().all(item))
}

fn only_keys(object: &Map<String, Value>, allowed: &[&str]) -> bool {
    object.keys().all(|key| allowed.contains(&key.as_str()))
}

fn tenant(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_lowercase())
}

fn owner(value: &str) -> bool {
    let mut bytes = value.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && value.len() <= 32
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn new_user(body: &Value) -> Result<(), String> {
    let user = body.as_object().ok_or("not an object")?;
    if !only_keys(user, &["name", "email", "age", "password"]) {
        return Err("readOnly id or an unknown property".into());
    }
    if !chars(user.get("name")).is_some_and(|n| n >= 1) {
        return Err("name".into());
    }
    if !user.get("email").and_then(Value::as_str).is_some_and(|e| e.contains('@')) {
        return Err("email".into());
    }
    if !int_in(user.get("age"), 0.0, 150.0) {
        return Err("age".into());
    }
    if user.get("password").is_some_and(|p| !p.is_string()) {
        return Err("password".into());
    }
    Ok(())
}

/// `Pet` is a `oneOf` with a discriminator, which the core honours (core/src/contract/schema.rs):
/// `petType` names the variant (`cat` or `dog`) and the body must be valid as that variant.
fn pet(body: &Value) -> Result<(), String> {
    let pet = body.as_object().ok_or("not an object")?;
    if !pet.get("name").is_some_and(Value::is_string) {
        return Err("name".into());
    }
    match pet.get("petType").and_then(Value::as_str) {
        Some("cat") if int_in(pet.get("lives"), 1.0, 9.0) => Ok(()),
        Some("dog") if pet.get("bark").is_some_and(Value::is_boolean) => Ok(()),
        other => Err(format!("petType {other:?} without its variant's properties")),
    }
}

/// What the contract promises a handler of `operation` about its request.
fn check(operation: &str, request: &HandlerRequest) -> Result<(), String> {
    let p = &request.params;
    let json = || request.json.as_ref().ok_or_else(|| "no parsed JSON body".to_owned());
    match operation {
        "getUser" | "deleteUser" => {
            if !int_in(p.path.get("id"), 1.0, f64::MAX) {
                return Err(format!("path id {:?}", p.path.get("id")));
            }
        }
        "updateUser" => {
            if !int_in(p.path.get("id"), 1.0, f64::MAX) {
                return Err(format!("path id {:?}", p.path.get("id")));
            }
            new_user(json()?)?;
        }
        "createUser" => new_user(json()?)?,
        "getItems" => {
            if !p.path.get("ids").is_some_and(|ids| array_of(ids, |i| integer(i).is_some())) {
                return Err(format!("path ids {:?}", p.path.get("ids")));
            }
        }
        "search" => {
            let q = &p.query;
            if !chars(q.get("q")).is_some_and(|n| n >= 1) {
                return Err(format!("q {:?}", q.get("q")));
            }
            if q.get("limit").is_some() && !int_in(q.get("limit"), 1.0, 100.0) {
                return Err(format!("limit {:?}", q.get("limit")));
            }
            for (name, item) in [("tags", Value::is_string as fn(&Value) -> bool), ("pipes", Value::is_string)] {
                if q.get(name).is_some_and(|v| !array_of(v, item)) {
                    return Err(format!("{name} {:?}", q.get(name)));
                }
            }
            if q.get("ids").is_some_and(|v| !array_of(v, |i| integer(i).is_some())) {
                return Err(format!("ids {:?}", q.get("ids")));
            }
            if let Some(filter) = q.get("filter") {
                let filter = filter.as_object().ok_or("filter is not an object")?;
                if filter.get("color").is_some_and(|c| !matches!(c.as_str(), Some("red" | "green" | "blue"))) {
                    return Err(format!("filter.color {:?}", filter.get("color")));
                }
                if filter.get("size").is_some_and(|s| integer(s).is_none()) {
                    return Err(format!("filter.size {:?}", filter.get("size")));
                }
            }
        }
        "echoHeaders" => {
            if !p.header.get("X-Tenant").and_then(Value::as_str).is_some_and(tenant) {
                return Err(format!("X-Tenant {:?}", p.header.get("X-Tenant")));
            }
            if p.header.get("X-Count").is_some_and(|c| integer(c).is_none()) {
                return Err(format!("X-Count {:?}", p.header.get("X-Count")));
            }
            if !p.cookie.get("session").is_some_and(Value::is_string) {
                return Err(format!("session {:?}", p.cookie.get("session")));
            }
        }
        "createPet" => pet(json()?)?,
        "echoText" => {
            let text = std::str::from_utf8(&request.body).map_err(|_| "text body is not UTF-8")?;
            if text.is_empty() || text.chars().count() > 100 {
                return Err(format!("text body of {} chars", text.chars().count()));
            }
        }
        "listNotes" | "createNote" | "deleteNote" => {
            if !p.path.get("owner").and_then(Value::as_str).is_some_and(owner) {
                return Err(format!("owner {:?}", p.path.get("owner")));
            }
            if operation == "deleteNote" && !int_in(p.path.get("noteId"), 1.0, f64::MAX) {
                return Err(format!("noteId {:?}", p.path.get("noteId")));
            }
            if operation == "createNote" {
                let note = json()?.as_object().ok_or("note is not an object")?;
                if !only_keys(note, &["text"]) || !chars(note.get("text")).is_some_and(|n| (1..=280).contains(&n)) {
                    return Err(format!("note {note:?}"));
                }
            }
        }
        "slowHandler" => {
            if !int_in(p.query.get("ms"), 0.0, 10_000.0) {
                return Err(format!("ms {:?}", p.query.get("ms")));
            }
        }
        _ => {}
    }
    Ok(())
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let contract = conformance_contract();
        let mut builder = App::builder(conformance_config(Policy::Off)).contract(contract.clone());
        for op in contract.operations() {
            let id = op.id.clone();
            builder = builder.handler(
                op.id.clone(),
                Handler::from_async(move |request: HandlerRequest| {
                    if let Err(broken) = check(&id, &request) {
                        // The App catches handler panics (into a 500); abort right here instead
                        // so libFuzzer records the input.
                        eprintln!("request validation let through a request that breaks the contract");
                        eprintln!("operation {id}: {broken}");
                        eprintln!(
                            "request: {:?} {:?}?{:?} params {:?} body {:?}",
                            request.method, request.path, request.query, request.params, request.body
                        );
                        std::process::abort();
                    }
                    async { Ok(HandlerResponse::new(StatusCode::OK, "application/json", "{}")) }
                }),
            );
        }
        let app = builder.build().expect("the conformance app builds");
        app.lifecycle().set_listening(true);
        app
    })
}

fuzz_target!(|data: &[u8]| {
    let app = app();
    let text = RequestText::parse(data);
    let Some(request) = text.to_request() else {
        return;
    };
    let what = format!("{} {}", request.method(), request.uri());
    let answer = send(app, request);
    let status = answer.response.status();
    assert!(!status.is_server_error(), "{what} answered {status}: {}", String::from_utf8_lossy(&answer.body));
    check_answer(&answer, &what);
});
