use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};

use super::*;
use crate::config::authorization::PolicyEvaluator;
use crate::identity::{CredentialLocations, IdentityKind};
use crate::path_params::{PathParam, PathParams};

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "armature-authz-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(policies: Vec<PathBuf>) -> AuthorizationConfig {
    AuthorizationConfig { policies, ..AuthorizationConfig::default() }
}

/// One policy on both evaluators: every decision a test takes through [`Fixture::decide`] is
/// taken by both, which must agree; everything else sees the compiled one.
struct Both {
    compiled: Authorizer,
    interpreter: Authorizer,
}

impl std::ops::Deref for Both {
    type Target = Authorizer;

    fn deref(&self) -> &Authorizer {
        &self.compiled
    }
}

/// An authorizer for one in-memory policy, with `tweak` adjusting the configuration.
fn authorizer_with(rego: &str, tweak: impl Fn(&mut AuthorizationConfig, &TempDir)) -> Both {
    let dir = TempDir::new();
    let path = dir.file("policy.rego", rego);
    let build = |evaluator| {
        let mut config = config(vec![path.clone()]);
        tweak(&mut config, &dir);
        config.evaluator = evaluator;
        Authorizer::new(&config, &CredentialLocations::default()).unwrap().unwrap()
    };
    let compiled = build(PolicyEvaluator::Compiled);
    assert_eq!(compiled.evaluator(), "compiled", "the compiler refused the policy: {:?}", compiled.fallback_reason());
    Both { compiled, interpreter: build(PolicyEvaluator::Interpreter) }
}

fn authorizer(rego: &str) -> Both {
    authorizer_with(rego, |_, _| {})
}

/// A request and everything an `AuthorizationRequest` borrows.
struct Fixture {
    parts: http::request::Parts,
    body: Option<Value>,
    identity: Identity,
    operation_id: String,
    tags: Vec<String>,
    path_template: String,
    path_params: Vec<(String, String)>,
    connection: Connection,
}

impl Fixture {
    fn new(method: &str, uri: &str) -> Self {
        let (parts, ()) = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "notes.example")
            .header("authorization", "Bearer secret-token")
            .header("cookie", "session=secret")
            .header("x-tenant", "acme")
            .body(())
            .unwrap()
            .into_parts();
        Self {
            parts,
            body: None,
            identity: Identity::default(),
            operation_id: "listNotes".to_owned(),
            tags: vec!["notes".to_owned()],
            path_template: "/accounts/{owner}/notes".to_owned(),
            path_params: Vec::new(),
            connection: Connection::default(),
        }
    }

    fn user(mut self, subject: &str, roles: &[&str]) -> Self {
        self.identity = Identity {
            kind: IdentityKind::Jwt,
            subject: Some(subject.to_owned()),
            claims: json!({ "sub": subject, "roles": roles }),
            scopes: vec!["notes:read".to_owned()],
        };
        self
    }

    fn owner(mut self, owner: &str) -> Self {
        self.path_params.push(("owner".to_owned(), owner.to_owned()));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Runs `f` on this request as `authorizer` sees it (its operation prepared by it).
    fn with_request<T>(&self, authorizer: &Authorizer, f: impl FnOnce(&AuthorizationRequest<'_>) -> T) -> T {
        let operation = authorizer.operation(&self.operation_id, &self.tags, &self.path_template);
        let params: PathParams<'_> =
            self.path_params.iter().map(|(name, value)| PathParam::new(name, json!(value))).collect();
        f(&AuthorizationRequest {
            parts: &self.parts,
            body: self.body.as_ref(),
            identity: &self.identity,
            operation: &operation,
            path_params: &params,
            connection: &self.connection,
        })
    }

    /// The decision of both evaluators, which must agree (on the kind of error, for an error).
    fn decide(&self, both: &Both) -> Result<Decision, EvaluationError> {
        let compiled = self.with_request(&both.compiled, |request| both.compiled.authorize(request));
        let interpreted = self.with_request(&both.interpreter, |request| both.interpreter.authorize(request));
        match (&compiled, &interpreted) {
            (Ok(compiled), Ok(interpreted)) => assert_eq!(compiled, interpreted, "the evaluators disagree"),
            (Err(compiled), Err(interpreted)) => assert_eq!(
                std::mem::discriminant(compiled),
                std::mem::discriminant(interpreted),
                "the evaluators fail differently: {compiled} / {interpreted}"
            ),
            _ => panic!("the evaluators disagree: compiled {compiled:?}, interpreter {interpreted:?}"),
        }
        compiled
    }

    /// The input document the policy gets, with `include_body` as given.
    fn input(&self, include_body: bool) -> Value {
        let authorizer = authorizer_with(ALLOW_ALL, |config, _| config.include_body = include_body);
        self.with_request(&authorizer, |request| authorizer.input_json(request))
    }
}

fn get(uri: &str) -> Fixture {
    Fixture::new("GET", uri)
}

fn allowed(authorizer: &Both, fixture: &Fixture) -> bool {
    fixture.decide(authorizer).unwrap().allow
}

#[test]
fn boolean_decision_allows_and_denies() {
    let authorizer = authorizer(
        r#"
        package armature.authz
        default allow := false
        allow if input.attributes.request.http.method == "GET"
        "#,
    );
    assert_eq!(get("/notes").decide(&authorizer).unwrap(), Decision::plain(true));
    assert_eq!(Fixture::new("DELETE", "/notes").decide(&authorizer).unwrap(), Decision::plain(false));
}

#[test]
fn object_decision_carries_status_reason_and_headers() {
    let authorizer = authorizer_with(
        r#"
        package armature.authz
        default decision := {"allow": false, "status": 404, "reason": "no such note", "headers": {"x-policy": "notes-v1"}}
        decision := {"allow": true, "headers": {"x-tenant-checked": input.attributes.request.http.headers["x-tenant"]}} if {
            input.attributes.request.http.method == "GET"
        }
        "#,
        |config, _| config.decision = "data.armature.authz.decision".to_owned(),
    );
    let denied = Fixture::new("PUT", "/notes").decide(&authorizer).unwrap();
    assert_eq!(
        denied,
        Decision {
            allow: false,
            status: Some(StatusCode::NOT_FOUND),
            reason: Some("no such note".to_owned()),
            headers: vec![(HeaderName::from_static("x-policy"), HeaderValue::from_static("notes-v1"))],
        }
    );
    let allowed = get("/notes").decide(&authorizer).unwrap();
    assert!(allowed.allow);
    assert_eq!(allowed.status, None);
    assert_eq!(allowed.headers, vec![(HeaderName::from_static("x-tenant-checked"), HeaderValue::from_static("acme"))]);
}

#[test]
fn undefined_decision_denies() {
    // No `default`: for a DELETE the rule has no value at all.
    let authorizer = authorizer(
        r#"
        package armature.authz
        allow if input.attributes.request.http.method == "GET"
        "#,
    );
    assert!(allowed(&authorizer, &get("/notes")));
    assert_eq!(Fixture::new("DELETE", "/notes").decide(&authorizer).unwrap(), Decision::plain(false));
}

#[test]
fn malformed_decisions_are_errors() {
    let cases = [
        (r#"decision := "yes""#, "expected a boolean or an object, got a string"),
        (r#"decision := {"status": 403}"#, "no \"allow\""),
        (r#"decision := {"allow": "true"}"#, "\"allow\" must be a boolean"),
        (r#"decision := {"allow": false, "status": 200}"#, "400 to 599"),
        (r#"decision := {"allow": false, "status": 403.5}"#, "400 to 599"),
        (r#"decision := {"allow": false, "reason": 7}"#, "\"reason\" must be a string"),
        (r#"decision := {"allow": false, "headers": {"bad header": "x"}}"#, "not a valid header name"),
        (r#"decision := {"allow": false, "headers": {"x-a": 1}}"#, "string value"),
        (r#"decision := {"allow": false, "headers": {"x-a": "line\nbreak"}}"#, "not a valid header value"),
        (r#"decision := {"allow": false, "headers": ["x-a"]}"#, "\"headers\" must be an object"),
    ];
    for (rule, expected) in cases {
        let authorizer = authorizer_with(&format!("package armature.authz\n{rule}\n"), |config, _| {
            config.decision = "data.armature.authz.decision".to_owned();
        });
        match get("/").decide(&authorizer) {
            Err(EvaluationError::Malformed { message }) => {
                assert!(message.contains(expected), "{rule}: {message:?} should contain {expected:?}")
            }
            other => panic!("{rule}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn runtime_error_is_an_error_and_the_engine_is_not_reused() {
    // Two complete definitions disagreeing for the same input is a Rego conflict error.
    let authorizer = authorizer(
        r#"
        package armature.authz
        allow := true if input.attributes.request.http.method == "GET"
        allow := false if input.attributes.request.http.headers["x-tenant"] == "acme"
        "#,
    );
    match get("/").decide(&authorizer) {
        Err(EvaluationError::Failed { message }) => assert!(!message.is_empty()),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(authorizer.interpreter.idle_len(), 0, "a failed engine must not return to the pool");
    // Other requests still evaluate.
    assert!(!allowed(&authorizer, &Fixture::new("POST", "/")));
}

#[test]
fn roles_and_ownership_from_identity_and_path() {
    let authorizer = authorizer(
        r#"
        package armature.authz

        default allow := false

        # Admins may do anything.
        allow if "admin" in input.identity.claims.roles

        # Owners may read and write their own notes; path parameter and parsed path must agree.
        allow if {
            input.operation.path_template == "/accounts/{owner}/notes"
            input.identity.subject == input.operation.path_params.owner
            input.parsed_path == ["accounts", input.identity.subject, "notes"]
        }
        "#,
    );
    let own = get("/accounts/alice/notes").user("alice", &["user"]).owner("alice");
    let others = get("/accounts/bob/notes").user("alice", &["user"]).owner("bob");
    let admin = get("/accounts/bob/notes").user("root", &["admin"]).owner("bob");
    let anonymous = get("/accounts/alice/notes").owner("alice");
    assert!(allowed(&authorizer, &own));
    assert!(!allowed(&authorizer, &others));
    assert!(allowed(&authorizer, &admin));
    assert!(!allowed(&authorizer, &anonymous));
}

#[test]
fn parsed_query_and_parsed_path_are_decoded() {
    let authorizer = authorizer(
        r#"
        package armature.authz
        default allow := false
        allow if {
            input.parsed_query.tag == ["a b", "c&d"]
            input.parsed_query.limit == ["10"]
            input.parsed_path == ["files", "dir/name", "caf\u00e9"]
            input.attributes.request.http.query == "tag=a+b&tag=c%26d&limit=10"
            input.attributes.request.http.path == "/files/dir%2Fname/caf%C3%A9?tag=a+b&tag=c%26d&limit=10"
        }
        "#,
    );
    assert!(allowed(&authorizer, &get("/files/dir%2Fname/caf%C3%A9?tag=a+b&tag=c%26d&limit=10")));
    assert!(!allowed(&authorizer, &get("/files/dir%2Fname/caf%C3%A9?tag=a+b")));
}

#[test]
fn parsed_body_only_with_include_body() {
    let rego = r#"
        package armature.authz
        default allow := false
        allow if input.parsed_body.amount < 100
    "#;
    let fixture = Fixture::new("POST", "/payments").body(json!({ "amount": 50 }));

    let without = authorizer(rego);
    assert!(!without.include_body());
    assert!(!allowed(&without, &fixture));
    assert!(fixture.input(false).get("parsed_body").is_none());

    let with = authorizer_with(rego, |config, _| config.include_body = true);
    assert!(with.include_body());
    assert!(allowed(&with, &fixture));
    assert!(!allowed(&with, &Fixture::new("POST", "/payments").body(json!({ "amount": 500 }))));
    // Asked for but not given: simply absent.
    assert!(Fixture::new("POST", "/payments").input(true).get("parsed_body").is_none());
}

#[test]
fn credentials_are_not_in_the_input() {
    let rego = r#"
        package armature.authz
        default allow := false
        allow if {
            not input.attributes.request.http.headers.authorization
            not input.attributes.request.http.headers.cookie
            not input.attributes.request.http.headers["x-api-key"]
            not input.attributes.request.http.headers["x-forwarded-client-cert"]
            not input.parsed_query.api_key
            input.attributes.request.http.headers["x-tenant"] == "acme"
        }
    "#;
    // What the identity stage reports for a contract with an API key in a header and in the
    // query, and a trusted forwarded-certificate header.
    let credentials = CredentialLocations {
        headers: vec![HeaderName::from_static("x-api-key"), HeaderName::from_static("x-forwarded-client-cert")],
        query: vec!["api_key".to_owned()],
    };
    let dir = TempDir::new();
    let config = AuthorizationConfig { include_body: true, ..config(vec![dir.file("policy.rego", rego)]) };
    let build = |evaluator| {
        let config = AuthorizationConfig { evaluator, ..config.clone() };
        Authorizer::new(&config, &credentials).unwrap().unwrap()
    };
    let authorizer =
        Both { compiled: build(PolicyEvaluator::Compiled), interpreter: build(PolicyEvaluator::Interpreter) };

    let mut fixture = get("/notes?api_key=secret-query-key&limit=5&api%5Fkey=secret-encoded");
    let headers = &mut fixture.parts.headers;
    headers.insert("proxy-authorization", HeaderValue::from_static("Basic c2VjcmV0"));
    headers.insert("x-api-key", HeaderValue::from_static("secret-header-key"));
    headers.insert("x-forwarded-client-cert", HeaderValue::from_static("Hash=secret;URI=spiffe://a/b"));
    assert!(allowed(&authorizer, &fixture));
    let input = fixture.with_request(&authorizer, |request| authorizer.input_json(request));
    let text = input.to_string();
    assert!(!text.contains("secret"), "{text}");
    assert!(!text.contains("c2VjcmV0"), "{text}");
    // The query keeps every other pair as sent, in `path`, `query` and `parsed_query` alike.
    assert_eq!(input["attributes"]["request"]["http"]["path"], "/notes?limit=5");
    assert_eq!(input["attributes"]["request"]["http"]["query"], "limit=5");
    assert_eq!(input["parsed_query"], json!({ "limit": ["5"] }));
    assert_eq!(
        input["attributes"]["request"]["http"]["headers"],
        json!({ "host": "notes.example", "x-tenant": "acme" })
    );

    // Without a query credential in the contract, a parameter of that name is ordinary data.
    let plain = authorizer_with(ALLOW_ALL, |_, _| {});
    let input = get("/notes?api_key=visible").with_request(&plain, |request| plain.input_json(request));
    assert_eq!(input["parsed_query"], json!({ "api_key": ["visible"] }));
}

#[test]
fn input_has_the_envoy_shape() {
    let mut fixture = get("/accounts/alice/notes?limit=5").user("alice", &["user"]).owner("alice");
    fixture.parts.headers.append("x-tenant", HeaderValue::from_static("beta"));
    fixture.parts.version = http::Version::HTTP_2;
    let input = fixture.input(false);
    assert_eq!(
        input["attributes"]["request"]["http"],
        json!({
            "method": "GET",
            "path": "/accounts/alice/notes?limit=5",
            "headers": { "host": "notes.example", "x-tenant": "acme,beta" },
            "host": "notes.example",
            "scheme": "http",
            "protocol": "HTTP/2",
            "query": "limit=5",
        })
    );
    assert_eq!(input["parsed_path"], json!(["accounts", "alice", "notes"]));
    assert_eq!(input["parsed_query"], json!({ "limit": ["5"] }));
    assert_eq!(input["identity"], fixture.identity.to_json());
    assert_eq!(
        input["operation"],
        json!({
            "id": "listNotes",
            "tags": ["notes"],
            "path_template": "/accounts/{owner}/notes",
            "path_params": { "owner": "alice" },
        })
    );

    // No Host header (HTTP/2): the URI authority stands in; no query: "" and no "?".
    let (parts, ()) = http::Request::get("http://api.example:8080/").body(()).unwrap().into_parts();
    let fixture = Fixture { parts, ..get("/") };
    let input = fixture.input(false);
    assert_eq!(input["attributes"]["request"]["http"]["host"], "api.example:8080");
    assert_eq!(input["attributes"]["request"]["http"]["path"], "/");
    assert_eq!(input["attributes"]["request"]["http"]["query"], "");

    // A request this server received over TLS (server.tls) says so.
    let mut fixture = get("/");
    fixture.connection.tls = true;
    assert_eq!(fixture.input(false)["attributes"]["request"]["http"]["scheme"], "https");
    assert_eq!(input["parsed_path"], json!([""]));
    assert_eq!(input["parsed_query"], json!({}));
}

#[test]
fn json_and_yaml_data_are_merged() {
    let authorizer = authorizer_with(
        r#"
        package armature.authz
        default allow := false
        allow if {
            some role in input.identity.claims.roles
            input.operation.id in data.permissions[role]
            not input.identity.subject in data.blocked
        }
        "#,
        |config, dir| {
            config.data = vec![
                dir.file("permissions.json", r#"{"permissions": {"reader": ["listNotes"]}}"#),
                dir.file("blocked.yaml", "blocked:\n  - mallory\n"),
            ];
        },
    );
    assert!(allowed(&authorizer, &get("/").user("alice", &["reader"])));
    assert!(!allowed(&authorizer, &get("/").user("alice", &["writer"])));
    assert!(!allowed(&authorizer, &get("/").user("mallory", &["reader"])));
}

#[test]
fn no_policies_means_off() {
    assert!(Authorizer::new(&AuthorizationConfig::default(), &CredentialLocations::default()).unwrap().is_none());
}

const ALLOW_ALL: &str = "package armature.authz\nallow := true\n";

fn start_up_error(tweak: impl FnOnce(&mut AuthorizationConfig, &TempDir)) -> String {
    let dir = TempDir::new();
    let mut config = config(vec![dir.file("policy.rego", ALLOW_ALL)]);
    tweak(&mut config, &dir);
    match Authorizer::new(&config, &CredentialLocations::default()) {
        Ok(_) => panic!("expected a start-up error"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn missing_policy_file_is_named() {
    let message = start_up_error(|config, dir| config.policies.push(dir.0.join("absent.rego")));
    assert!(message.starts_with("authorization.policies: cannot read"), "{message}");
    assert!(message.contains("absent.rego"), "{message}");
}

#[test]
fn bad_rego_is_named() {
    let message = start_up_error(|config, dir| {
        config.policies.push(dir.file("broken.rego", "package armature.other\nallow if {\n"));
    });
    assert!(message.starts_with("authorization.policies:"), "{message}");
    assert!(message.contains("broken.rego"), "{message}");
}

#[test]
fn bad_data_files_are_named() {
    let message = start_up_error(|config, dir| config.data.push(dir.file("roles.json", "{ not json")));
    assert!(message.starts_with("authorization.data:") && message.contains("roles.json"), "{message}");
    assert!(message.contains("invalid JSON"), "{message}");

    let message = start_up_error(|config, dir| config.data.push(dir.file("roles.yaml", "a: [unclosed")));
    assert!(message.contains("roles.yaml") && message.contains("invalid YAML"), "{message}");

    let message = start_up_error(|config, dir| config.data.push(dir.file("list.json", "[1, 2]")));
    assert!(message.contains("list.json") && message.contains("must be an object"), "{message}");

    let message = start_up_error(|config, dir| config.data.push(dir.file("roles.toml", "a = 1")));
    assert!(message.contains("roles.toml") && message.contains(".json, .yaml or .yml"), "{message}");

    let message = start_up_error(|config, dir| config.data.push(dir.0.join("absent.yaml")));
    assert!(message.starts_with("authorization.data: cannot read") && message.contains("absent.yaml"), "{message}");

    // Two documents giving one key different values cannot be merged.
    let message = start_up_error(|config, dir| {
        config.data.push(dir.file("a.json", r#"{"limit": 1}"#));
        config.data.push(dir.file("b.yml", "limit: 2\n"));
    });
    assert!(message.contains("b.yml"), "{message}");
}

#[test]
fn decision_rule_must_be_a_data_path_the_policies_define() {
    for rule in ["armature.authz.allow", "input.allow", "data.", "data.allow", "data.armature..allow"] {
        let message = start_up_error(|config, _| config.decision = rule.to_owned());
        assert!(message.starts_with("authorization.decision:"), "{rule}: {message}");
        assert!(message.contains("\"data.\""), "{rule}: {message}");
    }
    let message = start_up_error(|config, _| config.decision = "data.armature.authz.alow".to_owned());
    assert!(message.starts_with("authorization.decision: \"data.armature.authz.alow\""), "{message}");
    assert!(message.contains("defined"), "{message}");
    let message = start_up_error(|config, _| config.decision = "data.elsewhere.allow".to_owned());
    assert!(message.starts_with("authorization.decision:"), "{message}");
}

#[test]
fn zero_timeout_is_refused() {
    let message = start_up_error(|config, _| config.timeout_ms = 0);
    assert_eq!(message, "authorization.timeout_ms: must be at least 1");
}

#[test]
fn concurrent_evaluations_reuse_engines_and_agree() {
    let authorizer = Arc::new(authorizer(
        r#"
        package armature.authz
        default allow := false
        allow if input.identity.subject == input.operation.path_params.owner
        "#,
    ));
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let authorizer = Arc::clone(&authorizer);
            std::thread::spawn(move || {
                for round in 0..200 {
                    let owner = if (thread + round) % 2 == 0 { "alice" } else { "bob" };
                    let fixture = get("/accounts/x/notes").user("alice", &[]).owner(owner);
                    assert_eq!(allowed(&authorizer, &fixture), owner == "alice", "thread {thread} round {round}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let idle = authorizer.interpreter.idle_len();
    assert!((1..=4).contains(&idle), "engines are pooled, at most one per thread: {idle}");
}

#[test]
fn runaway_evaluation_times_out() {
    // About nine million interpreted iterations: seconds of work, cut off after 1 ms. The bound
    // comes from the input so the start-up check on an empty input does no work.
    let authorizer = authorizer_with(
        r#"
        package armature.authz
        default allow := false
        allow if {
            n := count(input.parsed_query.n)
            count([i | some i in numbers.range(1, 3000 * n); some j in numbers.range(1, 3000); i == j]) > 0
        }
        "#,
        |config, _| config.timeout_ms = 1,
    );
    let started = Instant::now();
    match get("/?n=1").decide(&authorizer) {
        Err(EvaluationError::TimedOut { limit }) => assert_eq!(limit, Duration::from_millis(1)),
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1), "stopped late: {:?}", started.elapsed());
    // The same authorizer still answers cheap requests.
    assert!(!allowed(&authorizer, &get("/")));
}

#[test]
fn slow_policy_on_empty_input_still_starts() {
    // Start-up evaluates the rule once on an empty input; running out of time there is not an error.
    let authorizer = authorizer_with(
        r#"
        package armature.authz
        default allow := false
        allow if count([i | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000); i == j]) < 0
        "#,
        |config, _| config.timeout_ms = 1,
    );
    assert!(matches!(get("/").decide(&authorizer), Err(EvaluationError::TimedOut { .. })));
}

#[test]
fn decision_log_line_is_one_json_object() {
    let identity = get("/").user("alice", &[]).identity;
    let allow = Ok(Decision {
        allow: false,
        status: Some(StatusCode::NOT_FOUND),
        reason: Some("no".to_owned()),
        headers: Vec::new(),
    });
    let line = decision_log_line("req-1", "listNotes", &identity, &allow, Duration::from_micros(42));
    assert!(!line.contains('\n'));
    assert_eq!(
        serde_json::from_str::<Value>(&line).unwrap(),
        json!({
            "event": "authorization", "request_id": "req-1", "operation_id": "listNotes",
            "subject": "alice", "identity_kind": "jwt", "allow": false, "status": 404,
            "reason": "no", "error": null, "duration_us": 42,
        })
    );

    let failed = Err(EvaluationError::TimedOut { limit: Duration::from_millis(5) });
    let line = decision_log_line("req-2", "listNotes", &Identity::default(), &failed, Duration::from_millis(6));
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["subject"], Value::Null);
    assert_eq!(value["identity_kind"], "anonymous");
    assert_eq!(value["allow"], false);
    assert_eq!(value["status"], Value::Null);
    assert_eq!(value["error"], "policy evaluation exceeded its time limit of 5 ms");
    assert_eq!(value["duration_us"], 6000);
}

#[test]
fn authorizer_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Authorizer>();
}

/// The conformance suite's own policy and data (conformance/policy), on both evaluators.
fn conformance_authorizer() -> Both {
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/policy");
    authorizer_with(ALLOW_ALL, |config, _| {
        config.policies = vec![policy.join("authz.rego")];
        config.data = vec![policy.join("data.yaml")];
        config.decision = "data.armature.authz.decision".to_owned();
    })
}

/// `cargo test --release -p armature-core --lib authorization::tests::cost -- --ignored --nocapture`:
/// the conformance policy (conformance/policy) on a request the owner rule allows, with each
/// evaluator, and the input building alone.
#[test]
#[ignore = "timing, not a check"]
fn cost_per_evaluation() {
    let owner = get("/accounts/alice/notes?limit=10&tag=x").user("alice", &["user", "editor"]).owner("alice");
    let owner = Fixture { tags: vec!["notes".to_owned()], ..owner };
    let mut public =
        Fixture { tags: vec!["public".to_owned()], operation_id: "plaintext".to_owned(), ..get("/plaintext") };
    public.parts.headers.clear();
    public.parts.headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
    let rounds = 20_000u32;
    let both = conformance_authorizer();
    for authorizer in [&both.compiled, &both.interpreter] {
        for (name, fixture) in
            [("GET /accounts/alice/notes as its owner (JWT)", &owner), ("GET /plaintext, anonymous", &public)]
        {
            assert!(allowed(&both, fixture), "{name}");
            let (per_call, input_only) = fixture.with_request(authorizer, |request| {
                for _ in 0..1_000 {
                    authorizer.authorize(request).unwrap();
                }
                let started = Instant::now();
                for _ in 0..rounds {
                    authorizer.authorize(request).unwrap();
                }
                let per_call = started.elapsed() / rounds;
                let started = Instant::now();
                for _ in 0..rounds {
                    std::hint::black_box(authorizer.input.build(request));
                }
                (per_call, started.elapsed() / rounds)
            });
            println!(
                "{} {name}: authorize() {} ns, of which building the input {} ns",
                authorizer.evaluator(),
                per_call.as_nanos(),
                input_only.as_nanos()
            );
        }
    }
}

#[test]
fn the_compiled_evaluator_is_the_default_and_the_interpreter_can_be_chosen() {
    assert_eq!(AuthorizationConfig::default().evaluator, PolicyEvaluator::Compiled);
    let both = conformance_authorizer();
    assert_eq!((both.compiled.evaluator(), both.compiled.fallback_reason()), ("compiled", None));
    assert_eq!(both.interpreter.evaluator(), "interpreter");
}

/// A policy using what the compiler does not cover runs on the interpreter, and says which
/// construct, where.
#[test]
fn a_policy_outside_the_compiled_subset_runs_on_the_interpreter_and_says_why() {
    let dir = TempDir::new();
    let rego = "package armature.authz\n\nallow if {\n\tinput.x with input as {\"x\": true}\n}\n";
    let config = config(vec![dir.file("policy.rego", rego)]);
    let authorizer = Authorizer::new(&config, &CredentialLocations::default()).unwrap().unwrap();
    assert_eq!(authorizer.evaluator(), "interpreter");
    let reason = authorizer.fallback_reason().unwrap();
    assert!(reason.contains("policy.rego:4") && reason.contains("`with`"), "{reason}");
}

/// `evaluator: vm` (regorus' compiled VM) was removed: it answered differently from the reference
/// semantics. A configuration that still names it fails to load and says which key.
#[test]
fn the_removed_vm_evaluator_is_refused_at_load() {
    let yaml = "authorization:\n  evaluator: vm\n";
    let error = crate::Config::from_str_only(yaml, crate::config::ConfigFormat::Yaml).unwrap_err().to_string();
    assert!(error.contains("authorization.evaluator"), "{error}");
    assert!(error.contains("vm"), "{error}");
}

/// A builtin error in the first body, before an `else`: OPA's default makes the failing
/// expression undefined, so the `else` decides (allow); its strict mode refuses (500). regorus'
/// VM once allowed even in strict mode.
#[test]
fn a_builtin_error_before_an_else_is_undefined_by_default_and_refuses_when_strict() {
    let rego = r#"
        package armature.authz
        decision := {"allow": false} if {
            to_number(input.attributes.request.http.method) > 0
        } else := {"allow": true}
    "#;
    let decide = |strict| {
        let authorizer = authorizer_with(rego, |config, _| {
            config.decision = "data.armature.authz.decision".to_owned();
            config.strict_builtin_errors = strict;
        });
        get("/").decide(&authorizer)
    };
    assert!(decide(false).unwrap().allow);
    assert!(matches!(decide(true), Err(EvaluationError::Failed { .. })));
}

/// Every path into the document `InputBuilder::build` makes, and paths beside them (upper-case
/// header names, indexes past the end, keys of the wrong type), read through the compiled
/// evaluator's lazy view give exactly what indexing the built document gives, over generated
/// requests: headers repeated, withheld and not UTF-8, queries with credentials and escapes,
/// fixed and parameterized templates, typed path parameters, every kind of identity, with and
/// without a body.
#[test]
fn the_view_reads_what_build_builds() {
    use regorus::Value as Rego;

    fn paths(value: &Rego, prefix: &mut Vec<Rego>, out: &mut Vec<Vec<Rego>>) {
        out.push(prefix.clone());
        let children: Vec<(Rego, Rego)> = match value {
            Rego::Object(fields) => fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Rego::Array(items) => items.iter().enumerate().map(|(i, v)| (Rego::from(i as u64), v.clone())).collect(),
            _ => Vec::new(),
        };
        for (key, child) in children {
            prefix.push(key);
            paths(&child, prefix, out);
            prefix.pop();
        }
        // Beside the real keys: what a policy may ask for that is not there.
        if matches!(value, Rego::Object(_) | Rego::Array(_)) {
            for absent in [
                Rego::from("X-Tenant"),
                Rego::from("missing"),
                Rego::from(99u64),
                Rego::from(0u64),
                Rego::Null,
                Rego::from(-1i64),
            ] {
                let mut path = prefix.clone();
                path.push(absent);
                out.push(path);
            }
        }
    }

    let credentials =
        CredentialLocations { headers: vec![HeaderName::from_static("x-api-key")], query: vec!["api_key".to_owned()] };
    let identities = [
        Identity::default(),
        Identity {
            kind: IdentityKind::Jwt,
            subject: Some("alice".to_owned()),
            claims: json!({"sub": "alice", "roles": ["admin", 1, null], "nested": {"a": [{"b": 1.5}]}}),
            scopes: vec!["notes:read".to_owned()],
        },
        Identity { kind: IdentityKind::ApiKey, subject: Some("svc".to_owned()), claims: json!(null), scopes: vec![] },
    ];
    let targets = [
        ("/plaintext", "plaintext", "/plaintext", vec![]),
        ("/plaintext?api_key=secret&x=1&x=2&e=%C3%A9+b", "plaintext", "/plaintext", vec![]),
        (
            "/accounts/al%2Fice/notes/7",
            "deleteNote",
            "/accounts/{owner}/notes/{noteId}",
            vec![("owner", json!("al/ice")), ("noteId", json!(7))],
        ),
        ("/accounts//notes/?", "listNotes", "/accounts/{owner}/notes", vec![("owner", json!(""))]),
        ("/", "root", "/", vec![]),
    ];
    let mut checked = 0;
    for include_body in [false, true] {
        let config = AuthorizationConfig { include_body, ..config(vec![]) };
        let builder = input::InputBuilder::new(config.include_body, &credentials);
        for (round, identity) in identities.iter().enumerate() {
            for (target, operation_id, template, params) in &targets {
                let mut builder_request =
                    http::Request::builder().method(if round == 1 { "POST" } else { "GET" }).uri(*target);
                builder_request = builder_request
                    .header("host", "notes.example")
                    .header("x-tenant", "acme")
                    .header("x-tenant", "beta")
                    .header("x-api-key", "secret")
                    .header("authorization", "Bearer secret")
                    .header("x-bytes", HeaderValue::from_bytes(b"caf\xe9").unwrap());
                let (parts, ()) = builder_request.body(()).unwrap().into_parts();
                let body = json!({"amount": 5, "items": [1, "two"]});
                let operation = PolicyOperation {
                    input: builder.operation(operation_id, &["notes".to_owned()], template),
                    plan: None,
                    decided: None,
                    decisions: std::sync::Arc::new([]),
                };
                let params: PathParams<'_> =
                    params.iter().map(|(name, value)| PathParam::new(name, value.clone())).collect();
                let connection = Connection { tls: round == 2, ..Connection::default() };
                let request = AuthorizationRequest {
                    parts: &parts,
                    body: Some(&body),
                    identity,
                    operation: &operation,
                    path_params: &params,
                    connection: &connection,
                };
                let built = builder.build(&request);
                let view = view::InputView::new(&builder, &request);
                let mut all = Vec::new();
                paths(&built, &mut Vec::new(), &mut all);
                for path in all {
                    let mut expected = built.clone();
                    let mut cursor = view.root();
                    for key in &path {
                        expected = rego_value::index(&expected, key);
                        cursor = cursor.child(key);
                    }
                    assert_eq!(
                        cursor.value(),
                        expected,
                        "{target} include_body={include_body} identity {round}: path {path:?}"
                    );
                    // As the compiled evaluator reads a path of constants: its place resolved
                    // ahead, the rest walked per request.
                    let (place, taken) = view::Place::resolve(&path);
                    let mut cursor = view.at(&place);
                    for key in &path[taken..] {
                        cursor = cursor.child(key);
                    }
                    assert_eq!(
                        cursor.value(),
                        expected,
                        "{target} include_body={include_body} identity {round}: path {path:?} from {place:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} paths checked");
}

/// On the interpreter, the start-up log names each construct of the policy where regorus may
/// answer differently from OPA, at its first line; the compiled evaluator has none to name.
#[test]
fn the_interpreter_names_where_it_may_differ_from_opa() {
    let dir = TempDir::new();
    let rego = "package armature.authz\n\
                \n\
                limits[k] := v if {\n\
                \tsome k, v in input.limits\n\
                }\n\
                \n\
                f(x) := x if x > 0\n\
                \n\
                allow if {\n\
                \tnot f(input.n)\n\
                \tinput.n + 1 > 0\n\
                }\n";
    let mut config = config(vec![dir.file("policy.rego", rego)]);
    config.evaluator = PolicyEvaluator::Interpreter;
    let authorizer = Authorizer::new(&config, &CredentialLocations::default()).unwrap().unwrap();
    let differences = authorizer.interpreter_differences();
    let at = |what: &str| differences.iter().find(|line| line.contains(what)).cloned().unwrap_or_default();
    assert!(at("`not` over a call").contains("policy.rego:10:"), "{differences:?}");
    assert!(at("`some ... in`").contains("policy.rego:4:"), "{differences:?}");
    assert!(at("arithmetic").contains("policy.rego:11:"), "{differences:?}");
    assert!(at("partial object").contains("policy.rego:3:"), "{differences:?}");
    assert_eq!(differences.len(), 4, "{differences:?}");

    config.evaluator = PolicyEvaluator::Compiled;
    let compiled = Authorizer::new(&config, &CredentialLocations::default()).unwrap().unwrap();
    assert_eq!((compiled.evaluator(), compiled.interpreter_differences().len()), ("compiled", 0));
}
