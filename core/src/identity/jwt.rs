//! JWT bearer tokens, verified with `jsonwebtoken` against keys from configuration or a JWKS.
//!
//! Each key carries the algorithms it may be used with, and a token is only ever checked with an
//! algorithm its key allows: an HS256 token naming an RSA key (the classic algorithm-confusion
//! attack) is refused before any signature check, and `alg: none` never verifies.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::jwks::Jwks;
use super::keys::{static_key, VerificationKey};
use super::{CredentialError, Identity, IdentityError, IdentityKind};
use crate::config::JwtConfig;

/// Verifies bearer tokens and turns their claims into an [`Identity`].
pub struct JwtVerifier {
    keys: Vec<VerificationKey>,
    jwks: Option<Arc<Jwks>>,
    issuer: Option<String>,
    audience: Vec<String>,
    leeway: u64,
    require_sub: bool,
    required_claims: HashSet<String>,
    scope_claims: Vec<String>,
}

impl JwtVerifier {
    /// Reads the keys; None when neither keys nor a JWKS is configured.
    pub fn new(config: &JwtConfig) -> Result<Option<Self>, IdentityError> {
        let keys = config
            .keys
            .iter()
            .enumerate()
            .map(|(index, key)| static_key(key, &format!("identity.jwt.keys[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let jwks = match &config.jwks {
            Some(jwks) => Some(Arc::new(Jwks::new(jwks, config.issuer.as_deref())?)),
            None => None,
        };
        if keys.is_empty() && jwks.is_none() {
            return Ok(None);
        }
        let mut required_claims: HashSet<String> = HashSet::new();
        if config.require_exp {
            required_claims.insert("exp".to_owned());
        }
        if config.issuer.is_some() {
            required_claims.insert("iss".to_owned());
        }
        if !config.audience.is_empty() {
            required_claims.insert("aud".to_owned());
        }
        Ok(Some(Self {
            keys,
            jwks,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway_seconds,
            require_sub: config.require_sub,
            required_claims,
            scope_claims: config.scope_claims.clone(),
        }))
    }

    /// Uses `previous`'s JWKS cache when both fetch from a URL (see [`Jwks::is_fetched`]).
    pub(crate) fn keep_fetched_keys_of(&mut self, previous: &JwtVerifier) {
        if let (Some(jwks), Some(old)) = (&mut self.jwks, &previous.jwks) {
            if jwks.is_fetched() && old.is_fetched() {
                *jwks = Arc::clone(old);
            }
        }
    }

    /// Counts the JWKS's failed fetches in `counter`.
    pub(crate) fn count_jwks_failures_in(&self, counter: &prometheus_client::metrics::counter::Counter) {
        if let Some(jwks) = &self.jwks {
            jwks.count_failures_in(counter);
        }
    }

    /// Verifies a compact JWT: the header (RFC 7515: no critical extension, since core implements
    /// none), signature and algorithm, then the claims set (RFC 7519 §7.2: a JSON object; `exp`,
    /// `nbf`, `iat` against the clock; `iss` one trusted string; `aud`; `sub` a non-empty string).
    pub async fn verify(&self, token: &str) -> Result<Identity, CredentialError> {
        let invalid = |reason: &str| CredentialError::Invalid(reason.to_owned());
        if token.split('.').count() != 3 {
            return Err(invalid("the bearer token is not a JWT"));
        }
        let header = header(token)?;
        let candidates: Vec<VerificationKey> = match &header.kid {
            Some(kid) => match self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                Some(key) => vec![key.clone()],
                None => match &self.jwks {
                    Some(jwks) => jwks.key(kid).await.into_iter().collect(),
                    None => Vec::new(),
                },
            },
            // Without a kid, every configured key that accepts the algorithm is tried.
            None => self.keys.iter().filter(|k| k.algorithms.contains(&header.alg)).cloned().collect(),
        };
        let Some(first) = candidates.first() else {
            return Err(match &header.kid {
                Some(_) => invalid("the token's key id is unknown"),
                None => invalid("no key accepts the token's algorithm"),
            });
        };
        if !first.algorithms.contains(&header.alg) {
            return Err(invalid("the token's algorithm is not accepted for its key"));
        }
        let validation = self.validation(header.alg);
        let mut last_error = invalid("the token is not valid");
        for key in &candidates {
            match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
                Ok(data) => {
                    self.check_claims(&data.claims)?;
                    return Ok(self.identity(data.claims));
                }
                Err(error) => {
                    let signature_failed = matches!(error.kind(), ErrorKind::InvalidSignature);
                    last_error = CredentialError::Invalid(reason(error.kind()));
                    // A claim problem is the token's, not the key's: no other key would do better.
                    if !signature_failed {
                        break;
                    }
                }
            }
        }
        Err(last_error)
    }

    /// The rules of RFC 7519 that `jsonwebtoken` leaves to the caller, on a claims set whose
    /// signature verified: it is an object (§7.2 step 10: a JSON array would otherwise be read
    /// positionally as `exp`, `nbf`, ...); `iss` is one string (§4.1.1: a list that contains the
    /// trusted issuer is not that issuer); `sub`, when present, a non-empty string (§4.1.2), and
    /// present at all when `require_sub`; `iat` a NumericDate not in the future beyond the leeway
    /// (§4.1.6).
    fn check_claims(&self, claims: &Value) -> Result<(), CredentialError> {
        let invalid = |reason: &str| Err(CredentialError::Invalid(reason.to_owned()));
        let Some(claims) = claims.as_object() else {
            return invalid("the token's claims are not a JSON object");
        };
        if claims.get("iss").is_some_and(|iss| !iss.is_string()) {
            return invalid("the token's issuer is not a single string");
        }
        match claims.get("sub") {
            Some(Value::String(subject)) if !subject.is_empty() => {}
            Some(_) => return invalid("the token's subject is not a non-empty string"),
            None if self.require_sub => return invalid("the token has no sub claim"),
            None => {}
        }
        match claims.get("iat") {
            None => {}
            Some(Value::Number(issued)) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                if issued.as_f64().is_none_or(|issued| issued > now + self.leeway as f64) {
                    return invalid("the token was issued in the future");
                }
            }
            Some(_) => return invalid("the token's iat is not a number"),
        }
        Ok(())
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.required_spec_claims = self.required_claims.clone();
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        if self.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
        }
        validation
    }

    fn identity(&self, claims: Value) -> Identity {
        let subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
        let scopes = self
            .scope_claims
            .iter()
            .find_map(|name| claims.get(name))
            .map(|value| match value {
                Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
                Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        Identity { kind: IdentityKind::Jwt, subject, claims, scopes }
    }
}

/// The client-facing reason a token was refused.
fn reason(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
        ErrorKind::InvalidAudience => "the token is not meant for this audience".to_owned(),
        ErrorKind::InvalidIssuer => "the token's issuer is not trusted".to_owned(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim} claim"),
        ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted for its key".to_owned(),
        _ => "the token is not valid".to_owned(),
    }
}

/// The token's protected header, read by hand before `jsonwebtoken` reads it again, for what
/// that crate parses but never enforces:
/// - `alg: none` (which it cannot even parse) is told apart only to give a clear reason;
/// - `crit` (RFC 7515 §4.1.11): a recipient must refuse a token naming a critical extension it
///   does not implement, and core implements none, so any `crit` is refused, listed names or not;
/// - `b64` (RFC 7797): `false` changes what the signature covers and needs `crit`; any `b64` is
///   refused, since a token that is not an ordinary JWS is not what this verifier checks.
fn header(token: &str) -> Result<jsonwebtoken::Header, CredentialError> {
    let invalid = |reason: &str| CredentialError::Invalid(reason.to_owned());
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| invalid("the token header is not valid"))?;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(invalid("the token header is not valid"));
    };
    if fields.get("alg").and_then(Value::as_str).is_some_and(|alg| alg.eq_ignore_ascii_case("none")) {
        return Err(invalid("unsigned tokens (alg none) are refused"));
    }
    if fields.contains_key("crit") {
        return Err(invalid("the token names critical header parameters (crit), which this server does not implement"));
    }
    if fields.contains_key("b64") {
        return Err(invalid("the token's b64 header parameter is not supported"));
    }
    serde_json::from_value(Value::Object(fields)).map_err(|_| invalid("the token header is not valid"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::JwtKeyConfig;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

    fn verifier() -> JwtVerifier {
        // SAFETY of the test: the variable name is unique to this test module.
        std::env::set_var("ARMATURE_TEST_ONLY_JWT_SECRET_UNIT", SECRET);
        let config = JwtConfig {
            issuer: Some("https://issuer.test".into()),
            audience: vec!["api".into()],
            keys: vec![JwtKeyConfig {
                kid: Some("hs".into()),
                algorithms: vec!["HS256".into()],
                secret_env: Some("ARMATURE_TEST_ONLY_JWT_SECRET_UNIT".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        JwtVerifier::new(&config).unwrap().unwrap()
    }

    fn token(alg: Algorithm, claims: Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some("hs".into());
        encode(&header, &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
    }

    fn claims() -> Value {
        json!({"sub": "alice", "iss": "https://issuer.test", "aud": "api", "exp": 4102444800u64, "scope": "a b"})
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    #[test]
    fn valid_token_gives_subject_scopes_and_claims() {
        let identity = block_on(verifier().verify(&token(Algorithm::HS256, claims()))).unwrap();
        assert_eq!(identity.subject.as_deref(), Some("alice"));
        assert_eq!(identity.scopes, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(identity.claims["iss"], "https://issuer.test");
    }

    #[test]
    fn each_claim_rule_is_enforced() {
        let verifier = verifier();
        let refused = |claims: Value| match block_on(verifier.verify(&token(Algorithm::HS256, claims))) {
            Err(CredentialError::Invalid(reason)) => reason,
            other => panic!("accepted: {other:?}"),
        };
        let mut expired = claims();
        expired["exp"] = json!(1_600_000_000u64);
        assert_eq!(refused(expired), "the token has expired");
        let mut audience = claims();
        audience["aud"] = json!("other");
        assert_eq!(refused(audience), "the token is not meant for this audience");
        let mut issuer = claims();
        issuer["iss"] = json!("https://evil.test");
        assert_eq!(refused(issuer), "the token's issuer is not trusted");
        let mut early = claims();
        early["nbf"] = json!(4_000_000_000u64);
        assert_eq!(refused(early), "the token is not valid yet");
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(refused(no_exp), "the token has no exp claim");
    }

    #[test]
    fn algorithm_outside_the_key_list_is_refused() {
        let reason = block_on(verifier().verify(&token(Algorithm::HS512, claims())));
        assert_eq!(reason, Err(CredentialError::Invalid("the token's algorithm is not accepted for its key".into())));
    }

    #[test]
    fn alg_none_is_refused_with_a_clear_reason() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let unsigned =
            format!("{}.{}.", engine.encode(br#"{"alg":"none","typ":"JWT"}"#), engine.encode(claims().to_string()));
        let reason = block_on(verifier().verify(&unsigned));
        assert_eq!(reason, Err(CredentialError::Invalid("unsigned tokens (alg none) are refused".into())));
    }

    /// A token signed with the test secret over exactly this header and payload JSON.
    fn signed(header: &Value, payload: &Value) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let message = format!("{}.{}", engine.encode(header.to_string()), engine.encode(payload.to_string()));
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{message}.{signature}")
    }

    fn refusal(verifier: &JwtVerifier, token: &str) -> String {
        match block_on(verifier.verify(token)) {
            Err(CredentialError::Invalid(reason)) => reason,
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn a_signed_header_with_the_claims_intact_still_verifies() {
        // The control for the refusals below: the same hand-made signing path, nothing critical.
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "hs", "x-custom": 1});
        assert!(block_on(verifier().verify(&signed(&header, &claims()))).is_ok());
    }

    #[test]
    fn any_critical_header_parameter_is_refused() {
        let verifier = verifier();
        let crit = "the token names critical header parameters (crit), which this server does not implement";
        for header in [
            json!({"alg": "HS256", "kid": "hs", "crit": ["x-unknown"], "x-unknown": true}),
            json!({"alg": "HS256", "kid": "hs", "crit": ["x-unknown"]}),
            json!({"alg": "HS256", "kid": "hs", "crit": ["exp"]}),
            json!({"alg": "HS256", "kid": "hs", "crit": ["b64"], "b64": false}),
            json!({"alg": "HS256", "kid": "hs", "crit": []}),
        ] {
            assert_eq!(refusal(&verifier, &signed(&header, &claims())), crit, "{header}");
        }
        let b64 = json!({"alg": "HS256", "kid": "hs", "b64": false});
        assert_eq!(refusal(&verifier, &signed(&b64, &claims())), "the token's b64 header parameter is not supported");
    }

    #[test]
    fn a_claims_set_that_is_not_an_object_is_refused() {
        let header = json!({"alg": "HS256", "kid": "hs"});
        // Read positionally, this array would pass as exp, nbf, sub, iss, aud.
        let array = json!([4102444800u64, 0, "alice", "https://issuer.test", "api"]);
        assert_eq!(refusal(&verifier(), &signed(&header, &array)), "the token's claims are not a JSON object");
    }

    #[test]
    fn issuer_subject_and_issued_at_follow_rfc_7519() {
        let verifier = verifier();
        let header = json!({"alg": "HS256", "kid": "hs"});
        let with = |key: &str, value: Value| {
            let mut claims = claims();
            claims[key] = value;
            refusal(&verifier, &signed(&header, &claims))
        };
        assert_eq!(
            with("iss", json!(["https://evil.test", "https://issuer.test"])),
            "the token's issuer is not a single string"
        );
        assert_eq!(with("sub", json!("")), "the token's subject is not a non-empty string");
        assert_eq!(with("sub", json!(42)), "the token's subject is not a non-empty string");
        assert_eq!(with("sub", Value::Null), "the token's subject is not a non-empty string");
        assert_eq!(with("iat", json!(4_000_000_000u64)), "the token was issued in the future");
        assert_eq!(with("iat", json!("1700000000")), "the token's iat is not a number");
        let mut no_subject = claims();
        no_subject.as_object_mut().unwrap().remove("sub");
        assert_eq!(refusal(&verifier, &signed(&header, &no_subject)), "the token has no sub claim");
        // Within the leeway, a clock slightly ahead of ours is not "the future".
        let mut slightly_ahead = claims();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        slightly_ahead["iat"] = json!(now + 10);
        assert!(block_on(verifier.verify(&signed(&header, &slightly_ahead))).is_ok());
    }

    #[test]
    fn without_require_sub_a_token_may_omit_the_subject_but_not_give_an_empty_one() {
        let mut verifier = verifier();
        verifier.require_sub = false;
        let header = json!({"alg": "HS256", "kid": "hs"});
        let mut no_subject = claims();
        no_subject.as_object_mut().unwrap().remove("sub");
        let identity = block_on(verifier.verify(&signed(&header, &no_subject))).unwrap();
        assert_eq!(identity.subject, None);
        let mut empty = claims();
        empty["sub"] = json!("");
        assert_eq!(refusal(&verifier, &signed(&header, &empty)), "the token's subject is not a non-empty string");
    }
}
