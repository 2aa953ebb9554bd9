//! Checks the checked-in credentials: every token the cases name exists, and each valid token
//! verifies against the checked-in key of its `kid` while each broken one fails for its reason.
//! A regenerated set that drifts from what the cases expect fails here, not in a conformance run.

use std::fs;
use std::path::PathBuf;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::{AUDIENCE, ISSUER};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    let path = dir().join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tokens() -> serde_json::Map<String, Value> {
    match serde_json::from_str(&read("tokens.json")) {
        Ok(Value::Object(map)) => map,
        other => panic!("tokens.json is not an object: {other:?}"),
    }
}

fn token(name: &str) -> String {
    match tokens().get(name) {
        Some(Value::String(token)) => token.clone(),
        other => panic!("tokens.json has no string {name}: {other:?}"),
    }
}

/// The key the server would use for `kid` (the same mapping as conformance/config.yaml).
fn key_for(kid: Option<&str>) -> Option<DecodingKey> {
    let jwks: JwkSet = serde_json::from_str(&read("jwks.json")).ok()?;
    match kid {
        Some("hs") | None => Some(DecodingKey::from_secret(read("hs.secret").as_bytes())),
        Some("rsa") => DecodingKey::from_rsa_pem(read("rsa.pub.pem").as_bytes()).ok(),
        Some("ec256") => DecodingKey::from_ec_pem(read("ec256.pub.pem").as_bytes()).ok(),
        Some(kid) => DecodingKey::from_jwk(jwks.find(kid)?).ok(),
    }
}

fn verify(token: &str) -> Result<Value, String> {
    let header = decode_header(token).map_err(|e| e.to_string())?;
    let key = key_for(header.kid.as_deref()).ok_or("no key for kid")?;
    let mut validation = Validation::new(header.alg);
    validation.validate_nbf = true;
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    decode::<Value>(token, &key, &validation).map(|data| data.claims).map_err(|e| e.to_string())
}

#[test]
fn valid_tokens_verify_with_the_checked_in_keys() {
    for (name, sub, alg) in [
        ("alice_hs256", "alice", Algorithm::HS256),
        ("alice_hs384", "alice", Algorithm::HS384),
        ("alice_hs512", "alice", Algorithm::HS512),
        ("alice_hs256_no_kid", "alice", Algorithm::HS256),
        ("admin_rs256", "admin", Algorithm::RS256),
        ("bob_rs384", "bob", Algorithm::RS384),
        ("bob_rs512", "bob", Algorithm::RS512),
        ("bob_ps256", "bob", Algorithm::PS256),
        ("carol_es256", "carol", Algorithm::ES256),
        ("dave_es384", "dave", Algorithm::ES384),
        ("erin_eddsa", "erin", Algorithm::EdDSA),
        ("mallory_hs256", "mallory", Algorithm::HS256),
    ] {
        let token = token(name);
        assert_eq!(decode_header(&token).map(|h| h.alg).ok(), Some(alg), "{name}");
        let claims = verify(&token).unwrap_or_else(|e| panic!("{name} does not verify: {e}"));
        assert_eq!(claims["sub"], sub, "{name}");
    }
}

#[test]
fn broken_tokens_fail_for_their_reason() {
    for (name, reason) in [
        ("expired", "ExpiredSignature"),
        ("not_yet_valid", "ImmatureSignature"),
        ("wrong_audience", "InvalidAudience"),
        ("wrong_issuer", "InvalidIssuer"),
        ("no_exp", "Missing required claim: exp"),
        ("bad_signature", "InvalidSignature"),
    ] {
        let error = verify(&token(name)).expect_err(name);
        assert!(error.contains(reason), "{name}: {error}");
    }
    // Structural ones: no usable header or key.
    assert!(verify(&token("garbage")).is_err());
    assert!(decode_header(token("alg_none")).is_err(), "jsonwebtoken must not know alg none");
    assert!(key_for(decode_header(token("unknown_kid")).ok().and_then(|h| h.kid).as_deref()).is_none());
    assert!(verify(&token("alg_confusion")).is_err());
    assert_eq!(decode_header(token("alg_not_allowed")).map(|h| h.alg).ok(), Some(Algorithm::PS384));
}

/// Each of these is validly signed and passes jsonwebtoken's own checks: only a rule of RFC
/// 7515/7519 that the server enforces itself refuses it, so the conformance cases test that rule
/// and not a signature or a claim jsonwebtoken already refuses.
#[test]
fn tokens_for_the_rfc_rules_are_validly_signed() {
    for name in [
        "crit_unknown",
        "crit_unlisted",
        "crit_b64",
        "crit_exp",
        "claims_array",
        "iss_list",
        "iat_future",
        "iat_string",
        "sub_empty",
        "sub_numeric",
        "sub_missing",
    ] {
        verify(&token(name)).unwrap_or_else(|e| panic!("{name} does not verify: {e}"));
    }
    assert!(verify(&token("claims_array")).unwrap().is_array());
    let crit = decode_header(token("crit_unknown")).unwrap().crit;
    assert_eq!(crit, Some(vec!["x-unknown".to_owned()]));
}

#[test]
fn no_token_is_missing_or_extra() {
    let mut names: Vec<String> = tokens().keys().cloned().collect();
    names.sort();
    let mut expected = vec![
        "admin_rs256",
        "alg_confusion",
        "alg_none",
        "alg_not_allowed",
        "alice_hs256",
        "alice_hs256_no_kid",
        "alice_hs384",
        "alice_hs512",
        "bad_signature",
        "bob_ps256",
        "bob_rs384",
        "bob_rs512",
        "carol_es256",
        "claims_array",
        "crit_b64",
        "crit_exp",
        "crit_unknown",
        "crit_unlisted",
        "dave_es384",
        "erin_eddsa",
        "expired",
        "garbage",
        "iat_future",
        "iat_string",
        "iss_list",
        "mallory_hs256",
        "no_exp",
        "not_yet_valid",
        "sub_empty",
        "sub_missing",
        "sub_numeric",
        "unknown_kid",
        "wrong_audience",
        "wrong_issuer",
    ];
    expected.sort();
    assert_eq!(names, expected);
}

/// Each user of `basic.htpasswd` verifies with its password from BASIC_USERS, and not with another.
#[test]
fn basic_users_verify_their_passwords() {
    use argon2::{PasswordHash, PasswordVerifier as _};

    let text = read("basic.htpasswd");
    let lines: Vec<(&str, &str)> =
        text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once(':')).collect();
    assert_eq!(lines.len(), super::BASIC_USERS.len());
    for ((name, hash), (user, password, kind)) in lines.into_iter().zip(super::BASIC_USERS) {
        assert_eq!(name, user);
        let verifies = |candidate: &str| match kind {
            "bcrypt" => bcrypt::verify(candidate, hash).unwrap(),
            _ => argon2::Argon2::default()
                .verify_password(candidate.as_bytes(), &PasswordHash::new(hash).unwrap())
                .is_ok(),
        };
        assert!(verifies(password), "{name}");
        assert!(!verifies("wrong"), "{name}");
    }
}
