//! JWT bearer tokens: `identity::JwtVerifier::verify` (core/src/identity/jwt.rs) with HS256/384/512
//! keys configured as the conformance service has them, on arbitrary tokens, and on tokens the
//! harness signs itself so that the fuzzed claims get past the signature check.
//!
//! Input:
//! - `sign:<ALG>\n<header JSON>\n<claims JSON>`: the header and claims text, base64url-encoded
//!   and signed with the conformance HMAC secret (`ALG` is HS256, HS384 or HS512; anything else
//!   signs with HS256);
//! - anything else: the token itself (one line, surrounding whitespace kept).
//!
//! Every token goes to two verifiers: the conformance one (issuer, audience and `exp` required,
//! key id `hs`) and a lax one (no issuer, audience or `exp` required, a key without `kid`, HS512
//! only). Checked besides "no panic", with an HMAC computed here, independently of
//! `jsonwebtoken`:
//! - a token that verifies carries a valid HMAC of a configured algorithm under the secret, no
//!   `crit` or `b64` header parameter, a claims object whose `exp`/`nbf`/`iat`/`iss`/`aud`/`sub`
//!   meet the verifier's configuration and RFC 7519 (`iss` one string, `sub` a non-empty string,
//!   required by the strict verifier, `iat` not in the future), and the identity's subject and
//!   scopes are its `sub` and `scope`/`scp` claims;
//! - a signed token whose header and claims are canonical JSON meeting the configuration does
//!   verify (the checks above are not vacuous).

#![no_main]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use armature_core::config::{JwtConfig, JwtKeyConfig};
use armature_core::identity::JwtVerifier;
use armature_core::{Identity, IdentityKind};
use armature_fuzz::{hs_secret, hs_signature, runtime, sign_token, AUDIENCE, ISSUER, SECRET_ENV};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const LEEWAY: u64 = 30;

struct Verifier {
    verifier: JwtVerifier,
    strict: bool,
    algorithms: &'static [&'static str],
    kid: Option<&'static str>,
}

fn verifiers() -> &'static [Verifier; 2] {
    static VERIFIERS: OnceLock<[Verifier; 2]> = OnceLock::new();
    VERIFIERS.get_or_init(|| {
        hs_secret();
        let key = |kid: Option<&str>, algorithms: &[&str]| JwtKeyConfig {
            kid: kid.map(str::to_owned),
            algorithms: algorithms.iter().map(|a| (*a).to_owned()).collect(),
            secret_env: Some(SECRET_ENV.to_owned()),
            ..JwtKeyConfig::default()
        };
        let strict = JwtConfig {
            issuer: Some(ISSUER.to_owned()),
            audience: vec![AUDIENCE.to_owned()],
            leeway_seconds: LEEWAY,
            require_exp: true,
            keys: vec![key(Some("hs"), &["HS256", "HS384", "HS512"])],
            ..JwtConfig::default()
        };
        let lax = JwtConfig {
            issuer: None,
            audience: Vec::new(),
            leeway_seconds: LEEWAY,
            require_exp: false,
            require_sub: false,
            keys: vec![key(None, &["HS512"])],
            ..JwtConfig::default()
        };
        let build = |config: &JwtConfig| JwtVerifier::new(config).expect("the key loads").expect("keys are configured");
        [
            Verifier {
                verifier: build(&strict),
                strict: true,
                algorithms: &["HS256", "HS384", "HS512"],
                kid: Some("hs"),
            },
            Verifier { verifier: build(&lax), strict: false, algorithms: &["HS512"], kid: None },
        ]
    })
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A NumericDate as a JWT library reads it: a non-negative number, rounded.
fn numeric_date(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_f64().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v.round() as u64))
}

fn names(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(text) => text == wanted,
        Value::Array(items) => items.iter().any(|item| item.as_str() == Some(wanted)),
        _ => false,
    }
}

fn expected_scopes(claims: &Value) -> Vec<String> {
    match ["scope", "scp"].iter().find_map(|name| claims.get(name)) {
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// What must hold of a token `verifier` accepted.
fn check_accepted(v: &Verifier, token: &str, identity: &Identity) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "accepted a token that is not three parts: {token:?}");
    let header: Value = URL_SAFE_NO_PAD
        .decode(parts[0])
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_else(|| panic!("accepted a token whose header is not base64url JSON: {token:?}"));
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    assert!(v.algorithms.contains(&alg), "accepted alg {alg:?}, configured {:?}: {token:?}", v.algorithms);
    if let Some(kid) = header.get("kid") {
        assert_eq!(kid.as_str(), v.kid, "accepted a token for another key id: {token:?}");
    }
    assert!(header.get("crit").is_none(), "accepted a token with critical header parameters: {token:?}");
    assert!(header.get("b64").is_none(), "accepted a token with a b64 header parameter: {token:?}");
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    let expected = hs_signature(alg, hs_secret().as_bytes(), signing_input.as_bytes()).unwrap_or_default();
    // Compared as bytes: base64url has one spelling per byte string without padding.
    let sent = URL_SAFE_NO_PAD.decode(parts[2]).ok();
    assert_eq!(sent, URL_SAFE_NO_PAD.decode(&expected).ok(), "accepted a token with a wrong signature: {token:?}");

    let claims = &identity.claims;
    assert!(claims.is_object(), "claims are not an object: {claims}");
    let decoded: Value = URL_SAFE_NO_PAD.decode(parts[1]).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap();
    assert_eq!(&decoded, claims, "the identity's claims are not the token's");
    let now = now();
    // `exp` and `nbf` are checked whenever present (5 s of slack for the clock moving on).
    match claims.get("exp") {
        Some(exp) => {
            let exp = numeric_date(exp).unwrap_or_else(|| panic!("accepted a malformed exp {exp}: {token:?}"));
            assert!(exp + LEEWAY + 5 >= now, "accepted an expired token (exp {exp}, now {now}): {token:?}");
        }
        None => assert!(!v.strict, "accepted a token without exp: {token:?}"),
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = numeric_date(nbf).unwrap_or_else(|| panic!("accepted a malformed nbf {nbf}: {token:?}"));
        assert!(nbf <= now + LEEWAY + 5, "accepted a token not valid yet (nbf {nbf}, now {now}): {token:?}");
    }
    if let Some(iat) = claims.get("iat") {
        let iat = iat.as_f64().unwrap_or_else(|| panic!("accepted a malformed iat {iat}: {token:?}"));
        assert!(iat <= (now + LEEWAY + 5) as f64, "accepted a token issued in the future (iat {iat}): {token:?}");
    }
    assert!(claims.get("iss").is_none_or(Value::is_string), "accepted issuer {:?}", claims.get("iss"));
    match claims.get("sub") {
        Some(sub) => assert!(sub.as_str().is_some_and(|s| !s.is_empty()), "accepted subject {sub}: {token:?}"),
        None => assert!(!v.strict, "accepted a token without sub: {token:?}"),
    }
    if v.strict {
        assert!(claims.get("iss").is_some_and(|iss| names(iss, ISSUER)), "accepted issuer {:?}", claims.get("iss"));
        assert!(claims.get("aud").is_some_and(|aud| names(aud, AUDIENCE)), "accepted audience {:?}", claims.get("aud"));
    }
    assert_eq!(identity.kind, IdentityKind::Jwt);
    assert_eq!(identity.subject.as_deref(), claims.get("sub").and_then(Value::as_str));
    assert_eq!(identity.scopes, expected_scopes(claims));
    let json = identity.to_json();
    assert_eq!(json["kind"], "jwt");
}

/// Whether a signed token of this header and claims text must be accepted by `v`.
fn must_accept(v: &Verifier, alg: &str, header_text: &str, claims_text: &str) -> bool {
    let (Ok(header), Ok(claims)) =
        (serde_json::from_str::<Value>(header_text), serde_json::from_str::<Value>(claims_text))
    else {
        return false;
    };
    // Only canonical text: no duplicate keys, no odd number spellings, nothing a parser may
    // reasonably read differently.
    if serde_json::to_string(&header).ok().as_deref() != Some(header_text)
        || serde_json::to_string(&claims).ok().as_deref() != Some(claims_text)
    {
        return false;
    }
    let (Some(header), Some(claims)) = (header.as_object(), claims.as_object()) else { return false };
    let header_ok = header.iter().all(|(key, value)| match key.as_str() {
        "alg" => value.as_str() == Some(alg),
        "typ" => value.as_str() == Some("JWT"),
        "kid" => value.as_str().is_some() && value.as_str() == v.kid,
        _ => false,
    }) && header.contains_key("alg")
        && (v.kid.is_none() || header.contains_key("kid"))
        && v.algorithms.contains(&alg);
    let now = now();
    let date = |name: &str| claims.get(name).map(|value| value.as_u64());
    let exp_ok = match date("exp") {
        Some(Some(exp)) => exp > now + 3600,
        Some(None) => false,
        None => !v.strict,
    };
    let nbf_ok = match date("nbf") {
        Some(Some(nbf)) => nbf + 3600 < now,
        Some(None) => false,
        None => true,
    };
    let iat_ok = match date("iat") {
        Some(Some(iat)) => iat + 3600 < now,
        Some(None) => false,
        None => true,
    };
    // Without a configured audience, `aud` is not looked at.
    let aud_ok = match claims.get("aud") {
        _ if !v.strict => true,
        Some(Value::String(text)) => text == AUDIENCE,
        Some(Value::Array(items)) => {
            items.iter().all(Value::is_string) && items.iter().any(|i| i.as_str() == Some(AUDIENCE))
        }
        _ => false,
    };
    // `iss` is one string (RFC 7519 4.1.1), the configured one when there is one.
    let iss_ok = match claims.get("iss") {
        Some(Value::String(text)) => !v.strict || text == ISSUER,
        Some(_) => false,
        None => !v.strict,
    };
    let sub_ok = match claims.get("sub") {
        Some(Value::String(text)) => !text.is_empty(),
        Some(_) => false,
        None => !v.strict,
    };
    header_ok && exp_ok && nbf_ok && iat_ok && aud_ok && iss_ok && sub_ok
}

fuzz_target!(|data: &[u8]| {
    let verifiers = verifiers();
    let Ok(text) = std::str::from_utf8(data) else {
        // A header value that is not UTF-8 never reaches the verifier.
        return;
    };
    let (token, signed) = match text.strip_prefix("sign:") {
        Some(rest) => {
            let mut lines = rest.splitn(3, '\n');
            let alg = lines.next().unwrap_or("").trim();
            let alg = if matches!(alg, "HS256" | "HS384" | "HS512") { alg } else { "HS256" };
            let header = lines.next().unwrap_or("");
            let claims = lines.next().unwrap_or("");
            (sign_token(alg, header.as_bytes(), claims.as_bytes()), Some((alg, header, claims)))
        }
        None => (text.to_owned(), None),
    };
    for v in verifiers {
        let result = runtime().block_on(v.verifier.verify(&token));
        match &result {
            Ok(identity) => check_accepted(v, &token, identity),
            Err(error) => {
                if let Some((alg, header, claims)) = signed {
                    assert!(
                        !must_accept(v, alg, header, claims),
                        "refused a valid token ({error:?}), strict={}: header {header}, claims {claims}",
                        v.strict
                    );
                }
            }
        }
    }
});
