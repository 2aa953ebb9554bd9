//! Generated requests: what the policy input is made of (method, path, headers, query, identity,
//! operation, typed path parameters), drawn from value pools that reach the edges where engines
//! disagree (type-confused claims, `1` against `1.0`, percent-encoded and Unicode paths, numbers
//! with signs, padding and leading zeros, missing fields).

use armature_core::identity::{Identity, IdentityKind};
use serde_json::{json, Value};

/// One generated request.
#[derive(Debug, Clone)]
pub struct Case {
    pub method: &'static str,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(&'static str, String)>,
    pub identity: Identity,
    pub operation_id: &'static str,
    pub tags: Vec<String>,
    pub path_template: &'static str,
    /// Typed path parameters, as the pipeline decodes them.
    pub path_params: Vec<(&'static str, Value)>,
}

/// The operations of the conformance contract a request may be routed to: (id, tags, template).
const OPERATIONS: [(&str, &[&str], &str); 8] = [
    ("plaintext", &["public"], "/plaintext"),
    ("getUser", &["public"], "/users/{id}"),
    ("createUser", &["public"], "/users"),
    ("whoami", &["identity"], "/me"),
    ("listNotes", &["notes"], "/accounts/{owner}/notes"),
    ("createNote", &["notes"], "/accounts/{owner}/notes"),
    ("deleteNote", &["notes"], "/accounts/{owner}/notes/{noteId}"),
    ("policyError", &["policy-test"], "/policy-error"),
];

const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"];

/// Path segments where a parameter goes: names, numbers in every spelling, Unicode, escapes.
const SEGMENTS: [&str; 16] = [
    "alice",
    "bob",
    "root",
    "7",
    "007",
    "+7",
    "%207",
    "-1",
    "2.5",
    "1e3",
    "12a",
    "9007199254740993",
    "caf%C3%A9",
    "%D9%A3",
    "",
    "a-very-long-segment",
];

const TENANTS: [&str; 9] =
    ["acme", "Acme", "ac", "a", "acme-01", "acme_b", "ac\u{663}me", "x-much-too-long-tenant", "9acme"];

const CLEARANCES: [&str; 9] = ["1", "2", "3", "2.5", "+7", "007", " 7", "abc", "-1"];

/// A request drawn from the pools with `rng`.
pub fn generate(rng: &mut fastrand::Rng) -> Case {
    let (operation_id, tags, path_template) = OPERATIONS[rng.usize(..OPERATIONS.len())];
    let mut path_params = Vec::new();
    let mut path = String::new();
    for segment in path_template.split('/').skip(1) {
        path.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let raw = SEGMENTS[rng.usize(..SEGMENTS.len())];
                path.push_str(raw);
                path_params.push((leak(name), typed_param(name, raw)));
            }
            None => path.push_str(segment),
        }
    }
    if rng.u8(..4) == 0 {
        path = format!("/{}", SEGMENTS[rng.usize(..SEGMENTS.len())]);
    }
    let mut target = path;
    let queries = rng.usize(..4);
    for index in 0..queries {
        target.push(if index == 0 { '?' } else { '&' });
        target.push_str(["limit=10", "tag=a", "tag=b", "q=%C3%A9", "x", "limit=1.0"][rng.usize(..6)]);
    }
    let mut headers = vec![("host", "api.example".to_owned())];
    if rng.bool() {
        headers.push(("x-tenant", TENANTS[rng.usize(..TENANTS.len())].to_owned()));
    }
    if rng.bool() {
        headers.push(("x-clearance", CLEARANCES[rng.usize(..CLEARANCES.len())].to_owned()));
    }
    if rng.u8(..4) == 0 {
        headers.push(("x-tenant", "second".to_owned()));
    }
    Case {
        method: METHODS[rng.usize(..METHODS.len())],
        target,
        headers,
        identity: identity(rng),
        operation_id,
        tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
        path_template,
        path_params,
    }
}

/// How the pipeline types a path parameter of the conformance contract: `id` and `noteId` are
/// integers (text that is not one stays text), the others strings.
fn typed_param(name: &str, raw: &str) -> Value {
    let decoded = percent_decode(raw);
    if matches!(name, "id" | "noteId") {
        if let Ok(number) = decoded.parse::<i64>() {
            if !decoded.starts_with('+') {
                return json!(number);
            }
        }
    }
    Value::String(decoded)
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&raw[index + 1..index + 3], 16) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn identity(rng: &mut fastrand::Rng) -> Identity {
    let subjects = ["alice", "bob", "root", "mallory", "reporting-service", ""];
    let subject = subjects[rng.usize(..subjects.len())];
    match rng.u8(..4) {
        0 => Identity::default(),
        1 => Identity {
            kind: IdentityKind::ApiKey,
            subject: Some(subject.to_owned()),
            claims: Value::Null,
            scopes: vec!["notes:read".to_owned()],
        },
        _ => {
            let roles =
                [json!(["user"]), json!(["admin"]), json!(["editor", "user"]), json!([]), json!("admin"), json!(null)];
            let admin = [json!(true), json!(false), json!("true"), json!(1)];
            let mut claims = json!({"sub": subject, "roles": roles[rng.usize(..roles.len())]});
            if rng.bool() {
                claims["admin"] = admin[rng.usize(..admin.len())].clone();
            }
            if rng.bool() {
                claims["nickname"] = json!(["root", "al"][rng.usize(..2)]);
            }
            let scopes = match rng.u8(..3) {
                0 => vec![],
                1 => vec!["notes:read".to_owned()],
                _ => vec!["notes:read".to_owned(), "notes:write".to_owned()],
            };
            Identity { kind: IdentityKind::Jwt, subject: Some(subject.to_owned()), claims, scopes }
        }
    }
}

fn leak(name: &str) -> &'static str {
    match name {
        "id" => "id",
        "owner" => "owner",
        "noteId" => "noteId",
        _ => "param",
    }
}
