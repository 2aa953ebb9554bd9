//! The conformance handlers in Rust. Every binding implements the same handlers for
//! `conformance/contract.yaml`; the cases in `conformance/cases` then run against each.

use std::path::{Path, PathBuf};
use std::time::Duration;

use armature_core::{
    Answer, App, AppError, Body, Config, Contract, Handler, HandlerError, HandlerRequest, HandlerResponse,
};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Map, Value};

/// The `conformance/` directory of this repository.
pub fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The repository root: relative paths in `conformance/config.yaml` are taken from here.
pub fn repository_root() -> PathBuf {
    conformance_dir().join("..")
}

/// The HMAC secret of the conformance JWTs, which `conformance/config.yaml` reads from the
/// `CONFORMANCE_JWT_SECRET` environment variable (`ci/serve` exports it from this file).
pub fn conformance_jwt_secret() -> std::io::Result<String> {
    std::fs::read_to_string(conformance_dir().join("credentials/hs.secret"))
}

/// The conformance app with the given configuration.
pub fn build_app(config: Config) -> Result<App, AppError> {
    let contract = Contract::from_path(conformance_dir().join("contract.yaml"))?;
    let ok_json = |value: Value| Ok(HandlerResponse::json(StatusCode::OK, &value));
    App::builder(config)
        .contract(contract)
        .handler("plaintext", sync(|_| Ok(HandlerResponse::new(StatusCode::OK, "text/plain", "Hello, World!"))))
        .handler("json", sync(move |_| ok_json(json!({"message": "Hello, World!"}))))
        .handler("getUser", sync(move |r| ok_json(user(r.params.path.get("id").cloned().unwrap_or(Value::Null)))))
        .handler(
            "createUser",
            sync(|mut r| {
                let mut body = body_object(&mut r)?;
                body.remove("password");
                body.insert("id".into(), json!(1));
                Ok(HandlerResponse::json(StatusCode::CREATED, &Value::Object(body)))
            }),
        )
        .handler(
            "updateUser",
            sync(move |mut r| {
                let mut body = body_object(&mut r)?;
                body.remove("password");
                body.insert("id".into(), r.params.path.get("id").cloned().unwrap_or(Value::Null));
                ok_json(Value::Object(body))
            }),
        )
        .handler("search", sync(move |r| ok_json(json!({"query": r.params.query}))))
        .handler(
            "echoHeaders",
            sync(move |r| {
                let mut out = Map::new();
                if let Some(tenant) = r.params.header.get("X-Tenant") {
                    out.insert("tenant".into(), tenant.clone());
                }
                if let Some(count) = r.params.header.get("X-Count") {
                    out.insert("count".into(), count.clone());
                }
                if let Some(session) = r.params.cookie.get("session") {
                    out.insert("session".into(), session.clone());
                }
                ok_json(Value::Object(out))
            }),
        )
        .handler("getItems", sync(move |r| ok_json(json!({"ids": r.params.path.get("ids")}))))
        .handler(
            "createPet",
            sync(|mut r| Ok(HandlerResponse::json(StatusCode::CREATED, &Value::Object(body_object(&mut r)?)))),
        )
        .handler("echoText", sync(|r| Ok(HandlerResponse::new(StatusCode::OK, "text/plain", r.body.clone()))))
        .handler(
            "context",
            sync(move |r| {
                ok_json(json!({
                    "operation_id": &*r.operation_id,
                    "method": r.method.as_str(),
                    "path": r.path,
                    "request_id": r.request_id,
                    "trace_id": r.trace.trace_id,
                }))
            }),
        )
        .handler("brokenResponse", sync(move |_| ok_json(json!({"message": 42}))))
        .handler("undocumentedStatus", sync(|_| Ok(HandlerResponse::json(StatusCode::IM_A_TEAPOT, &json!({})))))
        .handler("failingHandler", sync(|_| Err(HandlerError::Failed("database exploded".into()))))
        .handler(
            "refusingHandler",
            sync(|_| {
                Err(HandlerError::Refused {
                    status: StatusCode::CONFLICT,
                    detail: "the handler refused this request".into(),
                })
            }),
        )
        .handler(
            "slowHandler",
            Handler::from_async(|r: HandlerRequest| async move {
                let ms = r.params.query.get("ms").and_then(Value::as_u64).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(HandlerResponse::json(StatusCode::OK, &json!({"slept_ms": ms})))
            }),
        )
        .handler("droppedResponder", Handler::callback(|_request, responder| drop(responder)))
        .handler("deleteUser", sync(|_| Ok(HandlerResponse::empty(StatusCode::NO_CONTENT))))
        .handler("whoami", sync(move |r| ok_json(r.identity.to_json())))
        .handler("whoamiOptional", sync(move |r| ok_json(r.identity.to_json())))
        .handler("whoamiBasic", sync(move |r| ok_json(r.identity.to_json())))
        .handler(
            "listNotes",
            sync(move |r| {
                let rule = r.headers.get("x-authz-rule").and_then(|v| v.to_str().ok());
                ok_json(json!({
                    "owner": r.params.path.get("owner"),
                    "viewer": r.identity.subject,
                    "notes": [],
                    "rule": rule,
                }))
            }),
        )
        .handler(
            "createNote",
            sync(|mut r| {
                let body = body_object(&mut r)?;
                let note = json!({"owner": r.params.path.get("owner"), "text": body.get("text"), "author": r.identity.subject});
                Ok(HandlerResponse::json(StatusCode::CREATED, &note))
            }),
        )
        .handler("deleteNote", sync(|_| Ok(HandlerResponse::empty(StatusCode::NO_CONTENT))))
        .handler("policyError", sync(move |_| ok_json(json!({"message": "the policy should have refused this"}))))
        .handler(
            "contentTypeBoth",
            sync(|_| {
                answer(Answer::new(200, csv()).content_type("text/plain").header("Content-Type", "text/csv"))
            }),
        )
        .handler(
            "mixedCaseHeaders",
            sync(|_| answer(Answer::new(200, csv()).header("content-TYPE", "text/csv").header("X-Custom-HEADER", "yes"))),
        )
        .handler("nothingOk", sync(|_| answer(Answer::new(200, Body::Nothing))))
        .handler("nothingCreated", sync(|_| answer(Answer::new(201, Body::Nothing))))
        .handler(
            // serde_json's Map sorts keys; the text keeps the order this handler chose.
            "orderedKeys",
            sync(|_| answer(Answer::new(200, Body::Json(Bytes::from_static(br#"{"id":1,"owner":"alice","title":"t","body":"b"}"#))))),
        )
        .handler(
            "outgoingCalls",
            sync(move |r| {
                let (first, second) = (r.trace.outgoing(), r.trace.outgoing());
                ok_json(json!({"outgoing": [first.traceparent, second.traceparent], "tracestate": first.tracestate}))
            }),
        )
        .build()
}

fn user(id: Value) -> Value {
    json!({"id": id, "name": "Alice", "email": "alice@example.com", "age": 30})
}

/// The request body as a JSON object: the one the pipeline parsed and validated, else parsed here.
fn body_object(request: &mut HandlerRequest) -> Result<Map<String, Value>, HandlerError> {
    let parsed = match request.json.take() {
        Some(json) => Ok(json),
        None => serde_json::from_slice(&request.body),
    };
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(HandlerError::Failed("body is not a JSON object".into())),
    }
}

/// The text `a,b` (the answer cases' body).
fn csv() -> Body {
    Body::Text(Bytes::from_static(b"a,b"))
}

/// What the answer rule makes of `answer`; an answer it refuses is the handler's failure.
fn answer(answer: Answer) -> Result<HandlerResponse, HandlerError> {
    answer.build().map_err(|invalid| HandlerError::Failed(invalid.to_string()))
}

/// A synchronous Rust handler, answered on the spot.
fn sync(f: impl Fn(HandlerRequest) -> Result<HandlerResponse, HandlerError> + Send + Sync + 'static) -> Handler {
    let f = std::sync::Arc::new(f);
    Handler::from_async(move |request| {
        let f = f.clone();
        async move { f(request) }
    })
}
