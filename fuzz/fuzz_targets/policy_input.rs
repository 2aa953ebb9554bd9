//! The Rego policy input (core/src/authorization/input.rs) and its evaluation: the public
//! `authorization::Authorizer::input_json` and `Authorizer::authorize` on fuzzed requests and
//! identities, with the conformance policy (conformance/policy/authz.rego, embedded) on the
//! compiled evaluator (the default), which reads the request through the lazy input view; and with `@app` the whole pipeline (`App::handle`), where the input also
//! carries the typed path parameters (`PathParams::decode` is private to the core).
//!
//! Input: a request as HTTP/1.1 text (see `armature_fuzz::RequestText`) whose `@` lines set
//! what the identity stage and the router would have decided:
//!
//! ```text
//! GET /accounts/alice/notes?api_key=secret&x=1 HTTP/1.1
//! x-api-key: hidden
//! @kind: jwt
//! @subject: alice
//! @claims: {"roles": ["user"]}
//! @scopes: notes:read notes:write
//! @operation: listNotes notes,extra /accounts/{owner}/notes
//!
//! {"optional": "JSON body"}
//! ```
//!
//! Checked besides "no panic": the input has the documented shape (method, path with the
//! visible query, headers joined with ",", host, protocol, parsed_path, parsed_query,
//! parsed_body, identity, operation); no credential location (authorization, proxy-authorization,
//! cookie, the API-key header and query parameter, the client-certificate header) is visible
//! anywhere; every evaluation decides, but the `policy-test` tag's deliberate conflict, which
//! must fail closed; `public` operations are allowed; the policy never sees a credential. In `@app` mode: no 5xx but the policy-error
//! operation's, and never the policy's "can see a credential" denial.

#![no_main]

use std::sync::OnceLock;

use armature_core::authorization::{AuthorizationRequest, Authorizer, Decision};
use armature_core::config::AuthorizationConfig;
use armature_core::connection::Connection;
use armature_core::identity::CredentialLocations;
use armature_core::path_params::PathParams;
use armature_core::{App, Handler, HandlerResponse, Identity, IdentityKind};
use armature_fuzz::{check_answer, conformance_config, conformance_contract, policy_files, send, Policy, RequestText};
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use serde_json::Value;

const API_KEY_QUERY: &str = "api_key";
const CREDENTIAL_HEADERS: [&str; 5] =
    ["authorization", "proxy-authorization", "cookie", "x-api-key", "x-forwarded-client-cert"];
const CAN_SEE_CREDENTIAL: &str = "the policy can see a credential";

fn authorizer() -> &'static Authorizer {
    static AUTHORIZER: OnceLock<Authorizer> = OnceLock::new();
    AUTHORIZER.get_or_init(|| {
        let (policy, data) = policy_files();
        let credentials = CredentialLocations {
            headers: vec![
                http::HeaderName::from_static("x-api-key"),
                http::HeaderName::from_static("x-forwarded-client-cert"),
            ],
            query: vec![API_KEY_QUERY.to_owned()],
        };
        let config = AuthorizationConfig {
            policies: vec![policy],
            data: vec![data],
            decision: "data.armature.authz.decision".to_owned(),
            include_body: true,
            timeout_ms: 2_000,
            ..AuthorizationConfig::default()
        };
        Authorizer::new(&config, &credentials).expect("the policy loads").expect("a policy is configured")
    })
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let contract = conformance_contract();
        let mut builder = App::builder(conformance_config(Policy::Interpreter)).contract(contract.clone());
        for op in contract.operations() {
            builder = builder.handler(
                op.id.clone(),
                Handler::from_async(|_| async { Ok(HandlerResponse::new(StatusCode::OK, "application/json", "{}")) }),
            );
        }
        let app = builder.build().expect("the conformance app builds");
        app.lifecycle().set_listening(true);
        app
    })
}

/// Equal as JSON, numbers compared by value (the engine has its own number type).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, value)| y.get(key).is_some_and(|other| same_json(value, other)))
        }
        _ => a == b,
    }
}

fn withheld_pair(pair: &str) -> bool {
    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
    form_urlencoded::parse(name.as_bytes()).next().is_some_and(|(decoded, _)| decoded == API_KEY_QUERY)
}

fn identity_of(text: &RequestText) -> Identity {
    let kind = match text.control("kind") {
        Some("jwt") => IdentityKind::Jwt,
        Some("api_key") => IdentityKind::ApiKey,
        Some("mtls") => IdentityKind::Mtls,
        Some("basic") => IdentityKind::Basic,
        _ => IdentityKind::Anonymous,
    };
    Identity {
        kind,
        subject: text.control("subject").map(str::to_owned),
        claims: text.control("claims").and_then(|c| serde_json::from_str(c).ok()).unwrap_or(Value::Null),
        scopes: text.control("scopes").map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default(),
    }
}

fn check_input(
    input: &Value,
    parts: &http::request::Parts,
    body: Option<&Value>,
    identity: &Identity,
    op: (&str, &[String], &str),
) {
    let http = &input["attributes"]["request"]["http"];
    assert_eq!(http["method"].as_str(), Some(parts.method.as_str()));
    assert_eq!(http["scheme"], "http");
    let protocol = match parts.version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    };
    assert_eq!(http["protocol"].as_str(), Some(protocol));

    // Headers: every one but the credentials, repeated ones joined with ",".
    let headers = http["headers"].as_object().expect("headers are an object");
    for name in CREDENTIAL_HEADERS {
        assert!(!headers.contains_key(name), "credential header {name} visible to the policy: {input}");
    }
    for name in parts.headers.keys() {
        if CREDENTIAL_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let joined = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(headers.get(name.as_str()).and_then(Value::as_str), Some(joined.as_str()), "header {name}");
    }
    assert_eq!(headers.len(), parts.headers.keys().filter(|n| !CREDENTIAL_HEADERS.contains(&n.as_str())).count());
    let host = match parts.headers.get(http::header::HOST) {
        Some(value) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        None => parts.uri.authority().map_or(String::new(), |a| a.as_str().to_owned()),
    };
    assert_eq!(http["host"].as_str(), Some(host.as_str()));

    // The query without the API key, in `path`, `query` and `parsed_query` alike.
    let raw_query = parts.uri.query().unwrap_or("");
    let visible: String = if raw_query.split('&').any(withheld_pair) {
        raw_query.split('&').filter(|pair| !withheld_pair(pair)).collect::<Vec<_>>().join("&")
    } else {
        raw_query.to_owned()
    };
    assert_eq!(http["query"].as_str(), Some(visible.as_str()), "query: {input}");
    let path = parts.uri.path();
    let full_path = if visible.is_empty() { path.to_owned() } else { format!("{path}?{visible}") };
    assert_eq!(http["path"].as_str(), Some(full_path.as_str()));
    let parsed_query = input["parsed_query"].as_object().expect("parsed_query is an object");
    assert!(!parsed_query.contains_key(API_KEY_QUERY), "API key visible in parsed_query: {input}");
    let mut expected_query: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in form_urlencoded::parse(visible.as_bytes()) {
        expected_query.entry(name.into_owned()).or_default().push(value.into_owned());
    }
    assert_eq!(parsed_query.len(), expected_query.len(), "parsed_query: {input}");
    for (name, values) in &expected_query {
        let got: Vec<&str> = parsed_query[name].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(&got, values, "parsed_query[{name:?}]");
    }

    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
        .collect();
    let parsed_path: Vec<&str> = input["parsed_path"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(parsed_path, segments, "parsed_path");

    match body {
        Some(body) => {
            assert!(same_json(&input["parsed_body"], body), "parsed_body {} for {body}", input["parsed_body"])
        }
        None => assert!(input.get("parsed_body").is_none(), "parsed_body without a body"),
    }

    let seen = &input["identity"];
    assert_eq!(seen["kind"].as_str(), Some(identity.kind.as_str()));
    assert_eq!(seen["subject"].as_str(), identity.subject.as_deref());
    assert!(same_json(&seen["claims"], &identity.claims), "claims {} for {}", seen["claims"], identity.claims);
    let scopes: Vec<&str> = seen["scopes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(scopes, identity.scopes);

    let (id, tags, template) = op;
    let operation = &input["operation"];
    assert_eq!(operation["id"].as_str(), Some(id));
    assert_eq!(operation["path_template"].as_str(), Some(template));
    let seen_tags: Vec<&str> = operation["tags"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(seen_tags, tags);
    assert_eq!(operation["path_params"], serde_json::json!({}));
}

fn check_decision(decided: &Result<Decision, impl std::fmt::Debug>, tags: &[String], input: &Value) {
    if tags.iter().any(|t| t == "policy-test") {
        // Deliberately conflicting rule: the evaluation must fail closed.
        assert!(decided.is_err(), "a conflicting policy decided: {decided:?}");
        return;
    }
    let decision = match decided {
        Ok(decision) => decision,
        Err(error) => panic!("evaluation failed: {error:?} on {input}"),
    };
    if tags.iter().any(|t| t == "public") {
        assert!(decision.allow, "a public operation was denied: {decision:?}");
    }
    assert_ne!(decision.reason.as_deref(), Some(CAN_SEE_CREDENTIAL), "{input}");
}

fn through_app(text: &RequestText) {
    let Some(request) = text.to_request() else { return };
    let what = format!("{} {}", request.method(), request.uri());
    let is_policy_error = request.uri().path() == "/policy-error";
    let answer = send(app(), request);
    check_answer(&answer, &what);
    let status = answer.response.status();
    assert!(!status.is_server_error() || is_policy_error, "{what} answered {status}: {:?}", answer.body);
    let body = String::from_utf8_lossy(&answer.body);
    assert!(!body.contains(CAN_SEE_CREDENTIAL), "{what}: {body}");
}

fuzz_target!(|data: &[u8]| {
    let authorizer = authorizer();
    let text = RequestText::parse(data);
    if text.control("app").is_some() {
        through_app(&text);
        return;
    }
    let Some(request) = text.to_request() else { return };
    let (parts, body) = request.into_parts();
    let _ = body;
    let body: Option<Value> = serde_json::from_slice(&text.body).ok();
    let identity = identity_of(&text);
    let spec = text.control("operation").unwrap_or("op");
    let mut words = spec.split(' ');
    let id = words.next().unwrap_or("");
    let tags: Vec<String> =
        words.next().unwrap_or("").split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect();
    let template = words.next().unwrap_or("/");
    let operation = authorizer.operation(id, &tags, template);
    let path_params = PathParams::default();
    let connection = Connection::default();
    let request = AuthorizationRequest {
        parts: &parts,
        body: body.as_ref(),
        identity: &identity,
        operation: &operation,
        path_params: &path_params,
        connection: &connection,
    };
    let input = authorizer.input_json(&request);
    check_input(&input, &parts, body.as_ref(), &identity, (id, &tags, template));
    check_decision(&authorizer.authorize(&request), &tags, &input);
});
