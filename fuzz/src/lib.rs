//! What the fuzz targets share: the conformance contract, configuration and credentials, an
//! HMAC signer for JWTs, the text format of fuzzed requests, and one tokio runtime to drive
//! the in-process [`App`].
//!
//! Everything here is built once per process (`OnceLock`), never per input.

use std::path::PathBuf;
use std::sync::OnceLock;

use armature_core::config::ConfigFormat;
use armature_core::{App, Config, Contract};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderName, HeaderValue, Method, Request, Response, Uri, Version};
use http_body_util::{BodyExt, Full};

/// The conformance contract (OpenAPI 3.1), embedded so the binaries need no files at run time.
pub const CONFORMANCE_CONTRACT: &str = include_str!("../../conformance/contract.yaml");
/// The conformance Rego policy and its data.
pub const CONFORMANCE_POLICY: &str = include_str!("../../conformance/policy/authz.rego");
pub const CONFORMANCE_POLICY_DATA: &str = include_str!("../../conformance/policy/data.yaml");
/// The conformance suite's HMAC secret (test-only), as ci/serve exports it.
const HS_SECRET_FILE: &str = include_str!("../../conformance/credentials/hs.secret");

/// Environment variable the fuzz configurations name in `identity.jwt.keys[].secret_env`.
pub const SECRET_ENV: &str = "ARMATURE_FUZZ_JWT_SECRET";
pub const ISSUER: &str = "https://issuer.armature.test";
pub const AUDIENCE: &str = "armature-conformance";
/// The conformance API key of `reporting-service` (test-only), scopes `notes:read`.
pub const API_KEY: &str = "conformance-api-key-reporting-0001";

/// The HMAC secret, and the process environment variable set to it (once).
pub fn hs_secret() -> &'static str {
    static SECRET: OnceLock<&'static str> = OnceLock::new();
    SECRET.get_or_init(|| {
        let secret = HS_SECRET_FILE.trim();
        // Set before any other thread exists: the fuzz targets call this first in their setup.
        std::env::set_var(SECRET_ENV, secret);
        secret
    })
}

/// `base64url(HMAC-SHA-*(secret, signing_input))` for `HS256`, `HS384` or `HS512`; None for any
/// other algorithm name. Independent of `jsonwebtoken`, so targets can check its answers.
pub fn hs_signature(alg: &str, secret: &[u8], signing_input: &[u8]) -> Option<String> {
    macro_rules! mac {
        ($hash:ty) => {{
            let mut mac = Hmac::<$hash>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(signing_input);
            mac.finalize().into_bytes().to_vec()
        }};
    }
    let bytes = match alg {
        "HS256" => mac!(sha2::Sha256),
        "HS384" => mac!(sha2::Sha384),
        "HS512" => mac!(sha2::Sha512),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// A compact JWT of the given header and claims text, signed with the conformance secret.
pub fn sign_token(alg: &str, header: &[u8], claims: &[u8]) -> String {
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature = hs_signature(alg, hs_secret().as_bytes(), signing_input.as_bytes()).unwrap_or_default();
    format!("{signing_input}.{signature}")
}

/// `alice_hs256` of conformance/credentials/tokens.json (`roles: [user]`, both notes scopes),
/// valid until 2100.
pub fn alice_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        sign_token(
            "HS256",
            br#"{"typ":"JWT","alg":"HS256","kid":"hs"}"#,
            br#"{"aud":"armature-conformance","exp":4102444800,"iat":1700000000,"iss":"https://issuer.armature.test","roles":["user"],"scope":"notes:read notes:write","sub":"alice"}"#,
        )
    })
}

/// An HS256 token of an admin (`roles: [admin]`, both notes scopes), valid until 2100.
pub fn admin_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        sign_token(
            "HS256",
            br#"{"alg":"HS256","kid":"hs","typ":"JWT"}"#,
            br#"{"aud":"armature-conformance","exp":4102444800,"iat":1700000000,"iss":"https://issuer.armature.test","roles":["admin"],"scope":"notes:read notes:write","sub":"admin"}"#,
        )
    })
}

/// A directory of this process for files the configuration must name by path.
fn scratch_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("armature-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
        dir
    })
    .clone()
}

/// The conformance policy and data written to files (the configuration takes paths).
pub fn policy_files() -> (PathBuf, PathBuf) {
    static FILES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FILES
        .get_or_init(|| {
            let dir = scratch_dir();
            let (policy, data) = (dir.join("authz.rego"), dir.join("data.yaml"));
            std::fs::write(&policy, CONFORMANCE_POLICY).expect("write the policy");
            std::fs::write(&data, CONFORMANCE_POLICY_DATA).expect("write the policy data");
            (policy, data)
        })
        .clone()
}

/// A bcrypt hash (cost 4) of a random password nobody knows, for the one Basic user.
const BASIC_HASH: &str = "$2b$04$K0wKvbFCaRx7Z7uKkmxBeOlO9AH5mbSF0aXrbK0aW4VuqHkT3oR3S";

/// How an in-process conformance application is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// No authorization stage.
    Off,
    /// The conformance policy on regorus' interpreter.
    Interpreter,
}

/// The conformance configuration (conformance/config.yaml) without logs and metrics, the JWT
/// secret from [`SECRET_ENV`], the public keys left out, response validation off (the fuzz
/// handlers answer a fixed body) and the policy as asked.
pub fn conformance_config(policy: Policy) -> Config {
    hs_secret();
    let authorization = match policy {
        Policy::Off => String::new(),
        Policy::Interpreter => {
            let (rego, data) = policy_files();
            format!(
                "authorization:\n  policies: [{:?}]\n  data: [{:?}]\n  decision: data.armature.authz.decision\n  \
                 include_body: true\n  timeout_ms: 1000\n",
                rego.display().to_string(),
                data.display().to_string(),
            )
        }
    };
    let text = format!(
        r#"server:
  request_timeout_ms: 5000
  max_body_bytes: 8192
validation:
  request: true
  response: "off"
errors:
  debug: false
identity:
  jwt:
    issuer: {ISSUER}
    audience: [{AUDIENCE}]
    leeway_seconds: 30
    keys:
      - kid: hs
        algorithms: [HS256, HS384, HS512]
        secret_env: {SECRET_ENV}
  api_keys:
    header: X-Api-Key
    keys:
      - name: reporting-service
        value: {API_KEY}
        scopes: [notes:read]
  basic:
    users:
      # The conformance contract has a Basic operation; without a user it would not load. A
      # bcrypt hash at the lowest cost of an unguessable password: the fuzzer never logs in.
      - name: ada
        password_hash: "{BASIC_HASH}"
  mtls:
    trusted_proxy: true
telemetry:
  metrics:
    enabled: false
  access_log:
    enabled: false
{authorization}"#
    );
    Config::from_str_only(&text, ConfigFormat::Yaml).expect("the fuzz configuration loads")
}

/// The conformance contract, compiled once.
pub fn conformance_contract() -> std::sync::Arc<Contract> {
    static CONTRACT: OnceLock<std::sync::Arc<Contract>> = OnceLock::new();
    CONTRACT
        .get_or_init(|| {
            std::sync::Arc::new(Contract::from_text(CONFORMANCE_CONTRACT).expect("the conformance contract loads"))
        })
        .clone()
}

/// The one runtime every target drives the core's async functions on: current-thread, as
/// [`armature_core::testing::TestClient`] uses, with timers for the request timeout.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("start the fuzz runtime")
    })
}

/// A request as the fuzz targets write it: HTTP/1.1 message text.
///
/// ```text
/// POST /users?verbose=true HTTP/1.1
/// content-type: application/json
/// authorization: Bearer $ALICE
/// @kind: jwt
///
/// {"name": "Alice"}
/// ```
///
/// The first line is `METHOD TARGET [VERSION]`; header lines follow up to an empty line and the
/// rest is the body. Lines starting with `@` are the target's own controls, not headers. In the
/// target and in header values, `$ALICE`, `$ADMIN` and `$APIKEY` stand for credentials that the
/// fuzzer could not forge (a signed user token, a signed admin token, the API key).
#[derive(Debug, Clone, Default)]
pub struct RequestText {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub version: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub controls: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn split_header_line(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b':') {
        Some(colon) => (&line[..colon], trim_ows(&line[colon + 1..])),
        None => (line, &b""[..]),
    }
}

fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |last| last + 1);
    &value[start..end]
}

/// Replaces the credential placeholders.
pub fn substitute(text: &[u8]) -> Vec<u8> {
    if !text.contains(&b'$') {
        return text.to_vec();
    }
    let replacements: [(&[u8], &str); 3] =
        [(b"$ALICE", alice_token()), (b"$ADMIN", admin_token()), (b"$APIKEY", API_KEY)];
    let mut out = Vec::with_capacity(text.len() + 400);
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for (name, value) in &replacements {
            if rest.starts_with(name) {
                out.extend_from_slice(value.as_bytes());
                rest = &rest[name.len()..];
                continue 'outer;
            }
        }
        out.push(rest[0]);
        rest = &rest[1..];
    }
    out
}

impl RequestText {
    /// Splits the text; never fails (a missing part is empty).
    pub fn parse(data: &[u8]) -> RequestText {
        let mut lines = LineIter { rest: data };
        let mut request = RequestText::default();
        if let Some(first) = lines.next() {
            let mut words = first.splitn(3, |&b| b == b' ');
            request.method = words.next().unwrap_or_default().to_vec();
            request.target = words.next().unwrap_or_default().to_vec();
            request.version = words.next().unwrap_or_default().to_vec();
        }
        while let Some(line) = lines.next() {
            if line.is_empty() {
                break;
            }
            let (name, value) = split_header_line(line);
            if let Some(control) = name.strip_prefix(b"@") {
                request.controls.push((
                    String::from_utf8_lossy(control).trim().to_ascii_lowercase(),
                    String::from_utf8_lossy(value).into_owned(),
                ));
            } else {
                request.headers.push((name.to_vec(), value.to_vec()));
            }
        }
        request.body = lines.rest.to_vec();
        request
    }

    /// The value of control `@name`, if given.
    pub fn control(&self, name: &str) -> Option<&str> {
        self.controls.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The HTTP version the first line names (HTTP/1.1 when it names none or an unknown one).
    pub fn http_version(&self) -> Version {
        match self.version.as_slice() {
            b"HTTP/0.9" => Version::HTTP_09,
            b"HTTP/1.0" => Version::HTTP_10,
            b"HTTP/2" | b"HTTP/2.0" => Version::HTTP_2,
            b"HTTP/3" | b"HTTP/3.0" => Version::HTTP_3,
            _ => Version::HTTP_11,
        }
    }

    /// The request as `http` types, placeholders substituted. None when hyper would have refused
    /// it before the pipeline (a method or target that does not parse); a header line that does
    /// not parse is left out.
    pub fn to_request(&self) -> Option<Request<Full<Bytes>>> {
        let method = Method::from_bytes(&self.method).ok()?;
        let target = substitute(&self.target);
        let uri = Uri::from_maybe_shared(Bytes::from(target)).ok()?;
        let mut builder = Request::builder().method(method).uri(uri).version(self.http_version());
        for (name, value) in &self.headers {
            let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(&substitute(value)))
            else {
                continue;
            };
            builder = builder.header(name, value);
        }
        builder.body(Full::new(Bytes::from(self.body.clone()))).ok()
    }
}

struct LineIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for LineIter<'a> {
    type Item = &'a [u8];

    /// The next line without its `\n` or `\r\n`.
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(newline) => (&self.rest[..newline], &self.rest[newline + 1..]),
            None => (self.rest, &b""[..]),
        };
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// A response with its body collected.
pub struct Answer {
    pub response: Response<()>,
    pub body: Bytes,
}

/// Runs one request through `app` on the shared runtime.
pub fn send(app: &App, request: Request<Full<Bytes>>) -> Answer {
    runtime().block_on(async {
        let response = app.handle(request).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        Answer { response: Response::from_parts(parts, ()), body }
    })
}

/// Checks what holds for every answer of the pipeline: a status the pipeline may answer, an
/// `x-request-id`, and for an error an RFC 9457 problem body whose `status` is the response's.
/// `what` describes the request for the panic message.
pub fn check_answer(answer: &Answer, what: &dyn std::fmt::Debug) {
    let status = answer.response.status().as_u16();
    assert!(
        answer.response.headers().contains_key("x-request-id"),
        "response without x-request-id (status {status}) for {what:?}"
    );
    if status >= 400 {
        let content_type = answer.response.headers().get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/problem+json"), "error {status} not a problem for {what:?}");
        let problem: serde_json::Value = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|e| panic!("problem body is not JSON ({e}) for {what:?}: {:?}", answer.body));
        assert_eq!(
            problem.get("status").and_then(|s| s.as_u64()),
            Some(u64::from(status)),
            "problem status differs from the response status for {what:?}: {problem}"
        );
    }
}
