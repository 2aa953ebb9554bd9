//! The pipeline through the in-process test client, on an OpenAPI 3.0 contract (the conformance
//! suite covers 3.1 over HTTP). Problem bodies are snapshotted with insta.

use std::sync::Arc;
use std::time::Duration;

use armature_core::telemetry::access_log::LogWriter;
use armature_core::testing::TestClient;
use armature_core::{App, Config, Contract, Handler, HandlerResponse};
use http::StatusCode;
use serde_json::{json, Value};

fn client_with(config: Config) -> TestClient {
    client_logging_to(config, None)
}

/// The store client, its log lines written through `log` when given.
fn client_logging_to(config: Config, log: Option<Arc<LogWriter>>) -> TestClient {
    let contract = Contract::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-3.0.yaml")).unwrap();
    let mut builder = App::builder(config);
    if let Some(log) = log {
        builder = builder.log_writer(log);
    }
    let app = builder
        .contract(contract)
        .handler(
            "createNote",
            Handler::from_async(|request| async move {
                let mut note: Value = serde_json::from_slice(&request.body).unwrap();
                note["id"] = json!(7);
                if note["text"] == json!("leak") {
                    // A handler bug: echoing a write-only field.
                    return Ok(HandlerResponse::json(StatusCode::CREATED, &note));
                }
                note.as_object_mut().unwrap().remove("secret");
                Ok(HandlerResponse::json(StatusCode::CREATED, &note))
            }),
        )
        .handler(
            "getNote",
            Handler::from_async(|request| async move {
                let id = request.params.path["id"].clone();
                if request.params.query["verbose"] == json!(true) {
                    return Ok(HandlerResponse::json(StatusCode::OK, &json!({"id": id, "text": null, "tag": null})));
                }
                Ok(HandlerResponse::json(StatusCode::OK, &json!({"id": id, "text": "hi"})))
            }),
        )
        .handler(
            "createShape",
            Handler::from_async(|request| async move {
                Ok(HandlerResponse::new(StatusCode::OK, "application/json", request.body))
            }),
        )
        .build()
        .unwrap();
    TestClient::new(app).unwrap()
}

fn client() -> TestClient {
    client_with(Config::default())
}

/// Problem bodies carry per-request ids; pin everything else.
fn snapshot_problem(name: &str, body: Value) {
    insta::assert_json_snapshot!(name, body, {
        ".request_id" => "[request_id]",
        ".trace_id" => "[trace_id]",
    });
}

#[test]
fn nullable_fields_accept_null_in_3_0() {
    let response = client().post("/notes").json(&json!({"text": null, "secret": "s", "tag": null})).send().unwrap();
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json(), json!({"id": 7, "text": null, "tag": null}));
}

#[test]
fn every_body_violation_is_listed() {
    let response = client().post("/notes").json(&json!({"id": 1, "text": "far too long", "tag": "c"})).send().unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(response.header("content-type"), Some("application/problem+json"));
    snapshot_problem("body_violations", response.json());
}

#[test]
fn path_and_query_are_typed_and_defaulted() {
    let response = client().get("/notes/5").send().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"id": 5, "text": "hi"}));
    let verbose = client().get("/notes/5?verbose=true").send().unwrap();
    assert_eq!(verbose.json(), json!({"id": 5, "text": null, "tag": null}));
}

#[test]
fn json_content_parameter_is_parsed_and_validated() {
    // filter={"n":"x"}: valid JSON, but `n` must be an integer.
    let response = client().get("/notes/5?filter=%7B%22n%22%3A%22x%22%7D").send().unwrap();
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.json()["errors"][0]["pointer"], "/filter/n");
    let ok = client().get("/notes/5?filter=%7B%22n%22%3A1%7D").send().unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    let malformed = client().get("/notes/5?filter=%7Bnope").send().unwrap();
    assert_eq!(malformed.json()["errors"][0]["message"], "is not valid JSON");
}

#[test]
fn exclusive_maximum_of_3_0_is_honoured() {
    assert_eq!(client().get("/notes/999").send().unwrap().status, 200);
    let response = client().get("/notes/1000?verbose=maybe").send().unwrap();
    assert_eq!(response.status, 400);
    snapshot_problem("param_violations", response.json());
}

#[test]
fn discriminator_picks_the_schema() {
    let ok = client().post("/shapes").json(&json!({"kind": "Circle", "radius": 1})).send().unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    let wrong = client().post("/shapes").json(&json!({"kind": "Circle", "side": 1})).send().unwrap();
    assert_eq!(wrong.status, 400);
    snapshot_problem("discriminator_mismatch", wrong.json());
    let unknown = client().post("/shapes").json(&json!({"kind": "Hexagon"})).send().unwrap();
    assert_eq!(unknown.status, 400);
    snapshot_problem("discriminator_unknown", unknown.json());
}

#[test]
fn write_only_field_in_response_is_enforced() {
    let response = client().post("/notes").json(&json!({"text": "leak", "secret": "s"})).send().unwrap();
    assert_eq!(response.status, 500);
    assert!(!response.text().contains("\"secret\""), "{}", response.text());
    snapshot_problem("response_violation", response.json());
}

#[test]
fn debug_mode_shows_response_violations() {
    let mut config = Config::default();
    config.errors.debug = true;
    let response = client_with(config).post("/notes").json(&json!({"text": "leak", "secret": "s"})).send().unwrap();
    assert_eq!(response.status, 500);
    snapshot_problem("response_violation_debug", response.json());
}

/// Under `enforce` the client gets a generic 500; the server's log says what was wrong, at warn.
#[test]
fn a_refused_response_is_logged_with_its_violations() {
    let (writer, captured) = LogWriter::capture();
    let client = client_logging_to(Config::default(), Some(Arc::new(writer)));
    let response = client
        .post("/notes")
        .header("x-request-id", "leaky-1")
        .json(&json!({"text": "leak", "secret": "s"}))
        .send()
        .unwrap();
    assert_eq!(response.status, 500);
    assert!(!response.text().contains("secret"), "the client sees no detail: {}", response.text());
    assert!(captured.wait_for(2, Duration::from_secs(5)), "{:?}", captured.lines());
    let reports: Vec<Value> = captured
        .lines()
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["event"] == "response_validation")
        .collect();
    assert_eq!(reports.len(), 1, "{:?}", captured.lines());
    let report = &reports[0];
    assert_eq!((report["level"].as_str(), report["operation_id"].as_str()), (Some("warn"), Some("createNote")));
    assert_eq!((report["request_id"].as_str(), report["refused"].as_bool()), (Some("leaky-1"), Some(true)));
    assert_eq!(report["errors"][0]["location"], "response");
    assert!(report["errors"][0]["pointer"].as_str().is_some_and(|p| p.contains("secret")), "{report}");
    assert!(report["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{report}");
}

#[test]
fn report_mode_lets_the_response_through_and_counts_it() {
    let mut config = Config::default();
    config.validation.response = armature_core::config::ResponseValidation::Report;
    let client = client_with(config);
    let response = client.post("/notes").json(&json!({"text": "leak", "secret": "s"})).send().unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(client.app().response_violations(), 1);
}

#[test]
fn malformed_json_and_wrong_media_type() {
    let malformed =
        client().post("/notes").header("content-type", "application/json").body("{\"text\": ").send().unwrap();
    assert_eq!(malformed.status, 400);
    snapshot_problem("malformed_json", malformed.json());
    let wrong = client().post("/notes").header("content-type", "text/xml").body("<note/>").send().unwrap();
    assert_eq!(wrong.status, 415);
    snapshot_problem("unsupported_media_type", wrong.json());
    let missing = client().post("/notes").send().unwrap();
    assert_eq!(missing.status, 400);
    snapshot_problem("missing_body", missing.json());
}

#[test]
fn routing_problems() {
    let not_found = client().get("/nowhere").send().unwrap();
    assert_eq!(not_found.status, 404);
    snapshot_problem("not_found", not_found.json());
    let not_allowed = client().request(http::Method::DELETE, "/notes/1").send().unwrap();
    assert_eq!(not_allowed.status, 405);
    assert_eq!(not_allowed.header("allow"), Some("GET, HEAD"));
    snapshot_problem("method_not_allowed", not_allowed.json());
}

#[test]
fn ids_are_echoed_in_headers_and_problem_bodies() {
    let response = client()
        .get("/nowhere")
        .header("x-request-id", "abc-123")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .send()
        .unwrap();
    assert_eq!(response.header("x-request-id"), Some("abc-123"));
    let traceparent = response.header("traceparent").unwrap();
    assert!(traceparent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"), "{traceparent}");
    assert!(!traceparent.contains("b7ad6b7169203331"));
    let body = response.json();
    assert_eq!(body["request_id"], "abc-123");
    assert_eq!(body["trace_id"], "0af7651916cd43dd8448eb211c80319c");
}

#[test]
fn unknown_handler_operation_is_refused_at_build() {
    let contract = Contract::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-3.0.yaml")).unwrap();
    let error = App::builder(Config::default())
        .contract(contract)
        .handler("nope", Handler::callback(|_, _| {}))
        .build()
        .err()
        .unwrap();
    assert!(error.to_string().contains("\"nope\""), "{error}");
}

/// HTTP Basic: the password is checked in core and the handler never sees the header that
/// carried it; an operation without Basic keeps its `Authorization` header.
#[test]
fn basic_passwords_stay_in_core() {
    use base64::Engine as _;

    let contract = Contract::from_value(json!({
        "openapi": "3.1.0",
        "info": {"title": "basic", "version": "1"},
        "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
        "paths": {
            "/basic": {"get": {"operationId": "basic", "security": [{"basic": []}], "responses": {"200": {
                "description": "ok", "content": {"application/json": {"schema": {}}}}}}},
            "/open": {"get": {"operationId": "open", "responses": {"200": {
                "description": "ok", "content": {"application/json": {"schema": {}}}}}}}
        }
    }))
    .unwrap();
    let mut config = Config::default();
    config.identity.basic.users.push(armature_core::config::BasicUserConfig {
        name: "ada".into(),
        password_hash: bcrypt::hash("s3cret:with:colons", 4).unwrap(),
        scopes: vec!["notes:read".into()],
    });
    let seen = |request: armature_core::HandlerRequest| async move {
        let authorization = request.headers.get("authorization").map(|v| v.to_str().unwrap_or("?").to_owned());
        Ok(HandlerResponse::json(
            StatusCode::OK,
            &json!({"identity": request.identity.to_json(), "authorization": authorization}),
        ))
    };
    let app = App::builder(config)
        .contract(contract)
        .handler("basic", Handler::from_async(seen))
        .handler("open", Handler::from_async(seen))
        .build()
        .unwrap();
    let client = TestClient::new(app).unwrap();
    let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ada:s3cret:with:colons"));
    let answer = client.get("/basic").header("authorization", &header).send().unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!({"identity": {"kind": "basic", "subject": "ada", "claims": null, "scopes": ["notes:read"]}, "authorization": null})
    );
    let wrong = client.get("/basic").header("authorization", "Basic YWRhOm5vcGU=").send().unwrap();
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.header("www-authenticate"), Some(r#"Basic realm="armature", charset="UTF-8""#));
    // Where Basic is not the operation's business, the header is the handler's to read.
    let open = client.get("/open").header("authorization", &header).send().unwrap();
    assert_eq!(open.json()["authorization"], json!(header));
}

/// A contract that needs what the configuration cannot verify does not load: HTTP Basic
/// without users, and an HTTP scheme Armature does not verify at all.
#[test]
fn unverifiable_http_schemes_fail_at_build_naming_operation_and_scheme() {
    let contract = |scheme: &str| {
        Contract::from_value(json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "components": {"securitySchemes": {"creds": {"type": "http", "scheme": scheme}}},
            "paths": {"/a": {"get": {"operationId": "ListService", "security": [{"creds": []}],
                                     "responses": {"200": {"description": "ok"}}}}}
        }))
        .unwrap()
    };
    let error =
        |scheme: &str| App::builder(Config::default()).contract(contract(scheme)).build().err().unwrap().to_string();
    assert_eq!(
        error("basic"),
        r#"operation "ListService" requires security scheme "creds": no Basic users configured (identity.basic.users or identity.basic.htpasswd_file)"#
    );
    assert_eq!(
        error("digest"),
        r#"operation "ListService" requires security scheme "creds": http scheme "digest" is not supported"#
    );
}
