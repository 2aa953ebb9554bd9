//! Keys from a JWKS document, cached.
//!
//! The cache is ours (jsonwebtoken only parses JWKs): keys are used for `ttl_seconds`, then
//! fetched again in the background while the old ones keep serving; a token with an unknown `kid`
//! triggers a fetch at most once per `min_refresh_interval_seconds`, only one fetch runs at a
//! time, and a failed fetch keeps the last good keys.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::jwt::VerificationKey;
use super::IdentityError;
use crate::config::JwksConfig;

/// A JWKS larger than this is refused rather than read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

enum Source {
    File(PathBuf),
    Url(http::Uri),
}

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, VerificationKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// A cached JWKS.
pub struct Jwks {
    source: Source,
    state: RwLock<State>,
    fetching: tokio::sync::Mutex<()>,
    ttl: Duration,
    min_refresh_interval: Duration,
    fetch_timeout: Duration,
}

impl Jwks {
    /// Sets the cache up; a file is read now (and a bad one fails start-up), a URL on first use.
    pub fn new(config: &JwksConfig) -> Result<Self, IdentityError> {
        let source = match (&config.url, &config.file) {
            (Some(url), None) => {
                let uri: http::Uri = url
                    .parse()
                    .map_err(|_| IdentityError::config("identity.jwt.jwks.url", format!("{url:?} is not a URL")))?;
                if uri.scheme_str() != Some("http") || uri.host().is_none() {
                    return Err(IdentityError::config(
                        "identity.jwt.jwks.url",
                        "only http:// URLs are supported (this build has no TLS client); serve the JWKS through a \
                         local proxy or use jwks.file",
                    ));
                }
                Source::Url(uri)
            }
            (None, Some(path)) => Source::File(path.clone()),
            _ => return Err(IdentityError::config("identity.jwt.jwks", "give exactly one of url and file")),
        };
        let jwks = Self {
            source,
            state: RwLock::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
            ttl: Duration::from_secs(config.ttl_seconds),
            min_refresh_interval: Duration::from_secs(config.min_refresh_interval_seconds),
            fetch_timeout: Duration::from_millis(config.fetch_timeout_ms),
        };
        if let Source::File(path) = &jwks.source {
            let text = std::fs::read(path).map_err(|error| {
                IdentityError::config("identity.jwt.jwks.file", format!("{}: {error}", path.display()))
            })?;
            let keys = parse(&text).map_err(|message| IdentityError::config("identity.jwt.jwks.file", message))?;
            jwks.store(keys);
        }
        Ok(jwks)
    }

    /// The key with this id, fetching the document again when the id is unknown (rate-limited).
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Option<VerificationKey> {
        let (found, stale) = self.lookup(kid);
        if let Some(key) = found {
            if stale {
                self.refresh_in_background();
            }
            return Some(key);
        }
        if !self.may_fetch() {
            return None;
        }
        let _fetching = self.fetching.lock().await;
        // Whoever held the lock before may have fetched the key, or just failed to.
        if let (Some(key), _) = self.lookup(kid) {
            return Some(key);
        }
        if !self.may_fetch() {
            return None;
        }
        self.fetch().await;
        self.lookup(kid).0
    }

    fn lookup(&self, kid: &str) -> (Option<VerificationKey>, bool) {
        let state = self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stale = state.fetched_at.is_none_or(|at| at.elapsed() >= self.ttl);
        (state.keys.get(kid).cloned(), stale)
    }

    fn may_fetch(&self) -> bool {
        let state = self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.last_attempt.is_none_or(|at| at.elapsed() >= self.min_refresh_interval)
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if !self.may_fetch() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let jwks = Arc::clone(self);
        runtime.spawn(async move {
            // A fetch already running will refresh the keys; do not queue another behind it.
            let Ok(_fetching) = jwks.fetching.try_lock() else { return };
            if jwks.may_fetch() {
                jwks.fetch().await;
            }
        });
    }

    /// Fetches once; on failure the last good keys stay and the failure is logged.
    async fn fetch(&self) {
        self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner()).last_attempt = Some(Instant::now());
        let result = match &self.source {
            Source::File(path) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display())),
            Source::Url(uri) => match tokio::time::timeout(self.fetch_timeout, get(uri)).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {} ms", self.fetch_timeout.as_millis())),
            },
        }
        .and_then(|bytes| parse(&bytes));
        match result {
            Ok(keys) => self.store(keys),
            Err(message) => {
                let line = serde_json::json!({"level": "warn", "event": "jwks_fetch_failed", "error": message});
                eprintln!("{line}");
            }
        }
    }

    fn store(&self, keys: HashMap<String, VerificationKey>) {
        let mut state = self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.keys = Arc::new(keys);
        state.fetched_at = Some(Instant::now());
    }
}

async fn get(uri: &http::Uri) -> Result<Vec<u8>, String> {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(uri.clone()).await.map_err(|e| format!("GET {uri}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("GET {uri}: status {}", response.status()));
    }
    let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
        .collect()
        .await
        .map_err(|e| format!("GET {uri}: reading the body: {e}"))?;
    Ok(body.to_bytes().to_vec())
}

/// Reads the signing keys of a JWKS. Keys that are not for signatures, have no `kid`, or are
/// of a type we cannot verify with are skipped rather than failing the whole document, as a
/// provider may publish keys of many kinds.
fn parse(bytes: &[u8]) -> Result<HashMap<String, VerificationKey>, String> {
    let document: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let listed = document.get("keys").and_then(Value::as_array).ok_or("no \"keys\" array")?;
    let mut keys = HashMap::new();
    for value in listed {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else { continue };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Some(kid) = jwk.common.key_id.clone() else { continue };
        let Some(algorithms) = algorithms(&jwk) else { continue };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else { continue };
        keys.insert(kid.clone(), VerificationKey { kid: Some(kid), algorithms, key });
    }
    Ok(keys)
}

/// The algorithms a JWK verifies: its `alg` when given, else what its key type allows. Symmetric
/// (`oct`) keys are never taken from a JWKS: a published secret is no secret.
fn algorithms(jwk: &Jwk) -> Option<Vec<Algorithm>> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
        _ => return None,
    };
    match jwk.common.key_algorithm {
        Some(declared) => {
            let declared = Algorithm::try_from(declared).ok()?;
            by_type.contains(&declared).then(|| vec![declared])
        }
        None => Some(by_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &str = r#"{"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed", "alg": "EdDSA"},
        {"kty": "oct", "k": "c2VjcmV0", "kid": "secret"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "use": "enc", "kid": "enc"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "unknown", "kid": "odd"}
    ]}"#;

    #[test]
    fn keeps_only_usable_signing_keys() {
        let keys = parse(JWKS.as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["ed"]);
        assert_eq!(keys["ed"].algorithms, vec![Algorithm::EdDSA]);
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        assert!(parse(b"{}").is_err());
        assert!(parse(b"not json").is_err());
    }
}
