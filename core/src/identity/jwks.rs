//! Keys from a JWKS document, cached.
//!
//! The cache is ours (jsonwebtoken only parses JWKs): keys are used for as long as the JWKS
//! response's `Cache-Control: max-age` says (bounded by `min_refresh_interval_seconds` and a
//! day; `ttl_seconds` without one), then fetched again in the background while the old ones keep
//! serving; a token with an unknown `kid` triggers a fetch at most once per
//! `min_refresh_interval_seconds`, only one fetch runs at a time, and a failed fetch keeps the
//! last good keys (and counts in `armature_jwks_fetch_failures_total`). Until one fetch has
//! succeeded no key is known, so every token is refused: the stage fails closed.
//!
//! With `discovery_url` each fetch reads the OpenID Connect discovery document first, checks its
//! `issuer`, and fetches its `jwks_uri`: a provider that moves its keys is followed.
//!
//! `https://` URLs are fetched with rustls, trusting the system's roots (rustls-native-certs)
//! and `ca_file`; `http://` ones without TLS, for a JWKS behind a local proxy.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use prometheus_client::metrics::counter::Counter;
use serde_json::Value;

use super::keys::VerificationKey;
use super::IdentityError;
use crate::config::JwksConfig;

/// A JWKS larger than this is refused rather than read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The longest a `Cache-Control: max-age` keeps keys: a provider's mistake (a year) must not
/// keep a revoked key in use that long.
const MAX_CACHE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

enum Source {
    File(PathBuf),
    // Boxed: the client is large and there is one source per JWKS.
    Url(Remote, Box<Client>),
}

/// Where fetched keys come from.
enum Remote {
    Jwks(http::Uri),
    /// An OpenID Connect discovery document, and the `issuer` it must name.
    Discovery {
        uri: http::Uri,
        issuer: String,
    },
}

type Client = crate::https_client::Client<Empty<Bytes>>;

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, VerificationKey>>,
    fetched_at: Option<Instant>,
    /// How long the last fetched keys are fresh (their `Cache-Control`, else `ttl_seconds`).
    fresh_for: Duration,
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
    /// `armature_jwks_fetch_failures_total`, once the application's metrics exist.
    failures: OnceLock<Counter>,
}

impl Jwks {
    /// Sets the cache up; a file is read now (and a bad one fails start-up), a URL on first use.
    /// `issuer`: `identity.jwt.issuer`, which a discovery document must name.
    pub fn new(config: &JwksConfig, issuer: Option<&str>) -> Result<Self, IdentityError> {
        let source = match (&config.url, &config.discovery_url, &config.file) {
            (Some(url), None, None) => Source::Url(Remote::Jwks(http_url(url, "url")?), Box::new(client(config)?)),
            (None, Some(url), None) => {
                let Some(issuer) = issuer else {
                    return Err(IdentityError::config(
                        "identity.jwt.jwks.discovery_url",
                        "needs identity.jwt.issuer: the discovery document's issuer is checked against it",
                    ));
                };
                let remote = Remote::Discovery { uri: http_url(url, "discovery_url")?, issuer: issuer.to_owned() };
                Source::Url(remote, Box::new(client(config)?))
            }
            (None, None, Some(path)) => Source::File(path.clone()),
            _ => {
                return Err(IdentityError::config(
                    "identity.jwt.jwks",
                    "give exactly one of url, discovery_url and file",
                ))
            }
        };
        let ttl = Duration::from_secs(config.ttl_seconds);
        let jwks = Self {
            source,
            state: RwLock::new(State { fresh_for: ttl, ..State::default() }),
            fetching: tokio::sync::Mutex::new(()),
            ttl,
            min_refresh_interval: Duration::from_secs(config.min_refresh_interval_seconds),
            fetch_timeout: Duration::from_millis(config.fetch_timeout_ms),
            failures: OnceLock::new(),
        };
        if let Source::File(path) = &jwks.source {
            let text = std::fs::read(path).map_err(|error| {
                IdentityError::config("identity.jwt.jwks.file", format!("{}: {error}", path.display()))
            })?;
            let keys = parse(&text).map_err(|message| IdentityError::config("identity.jwt.jwks.file", message))?;
            jwks.store(keys, ttl);
        }
        Ok(jwks)
    }

    /// Counts failed fetches in `counter` from now on (once; later calls change nothing).
    pub(crate) fn count_failures_in(&self, counter: &Counter) {
        let _ = self.failures.set(counter.clone());
    }

    /// Whether the keys come from a URL (fetched, cached, refreshed) rather than a file.
    pub(crate) fn is_fetched(&self) -> bool {
        matches!(self.source, Source::Url(..))
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
        let stale = state.fetched_at.is_none_or(|at| at.elapsed() >= state.fresh_for);
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
            Source::File(path) => {
                std::fs::read(path).map(|bytes| (bytes, None)).map_err(|e| format!("{}: {e}", path.display()))
            }
            Source::Url(remote, client) => {
                match tokio::time::timeout(self.fetch_timeout, download(client, remote)).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("no answer within {} ms", self.fetch_timeout.as_millis())),
                }
            }
        }
        .and_then(|(bytes, max_age)| parse(&bytes).map(|keys| (keys, max_age)));
        match result {
            Ok((keys, max_age)) => {
                let fresh_for = max_age.map_or(self.ttl, |age| age.clamp(self.min_refresh_interval, MAX_CACHE_TTL));
                self.store(keys, fresh_for);
            }
            Err(message) => {
                if let Some(failures) = self.failures.get() {
                    failures.inc();
                }
                let line = serde_json::json!({"level": "warn", "event": "jwks_fetch_failed", "error": message});
                eprintln!("{line}");
            }
        }
    }

    fn store(&self, keys: HashMap<String, VerificationKey>, fresh_for: Duration) {
        let mut state = self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.keys = Arc::new(keys);
        state.fetched_at = Some(Instant::now());
        state.fresh_for = fresh_for;
    }
}

/// The HTTP(S) client of one JWKS: the system's roots, and `ca_file`'s.
fn client(config: &JwksConfig) -> Result<Client, IdentityError> {
    let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
    crate::https_client::build(config.ca_file.as_deref(), "identity.jwt.jwks.ca_file", connect_timeout)
        .map_err(|error| IdentityError::config(error.key, error.message))
}

/// An `https://` or `http://` URL of `identity.jwt.jwks.<key>`.
fn http_url(url: &str, key: &str) -> Result<http::Uri, IdentityError> {
    let key = format!("identity.jwt.jwks.{key}");
    let uri: http::Uri = url.parse().map_err(|_| IdentityError::config(&key, format!("{url:?} is not a URL")))?;
    if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.host().is_none() {
        return Err(IdentityError::config(key, "must be an https:// or http:// URL"));
    }
    Ok(uri)
}

/// The JWKS document of `remote`, and how long its response says it may be cached.
async fn download(client: &Client, remote: &Remote) -> Result<(Vec<u8>, Option<Duration>), String> {
    match remote {
        Remote::Jwks(uri) => get(client, uri).await,
        Remote::Discovery { uri, issuer } => {
            let (document, _) = get(client, uri).await?;
            let jwks_uri = discovered_jwks_uri(&document, issuer, uri).map_err(|e| format!("{uri}: {e}"))?;
            get(client, &jwks_uri).await
        }
    }
}

/// The `jwks_uri` of an OpenID Connect discovery document (OpenID Connect Discovery 1.0 §4.3:
/// its `issuer` must be the expected one, exactly). It must be https unless the discovery
/// document itself was fetched over http (a local proxy).
fn discovered_jwks_uri(document: &[u8], issuer: &str, discovery: &http::Uri) -> Result<http::Uri, String> {
    let document: Value = serde_json::from_slice(document).map_err(|e| format!("not JSON: {e}"))?;
    let found = document.get("issuer").and_then(Value::as_str).ok_or("no \"issuer\"")?;
    if found != issuer {
        return Err(format!("issuer {found:?} is not the configured {issuer:?}"));
    }
    let jwks_uri = document.get("jwks_uri").and_then(Value::as_str).ok_or("no \"jwks_uri\"")?;
    let uri: http::Uri = jwks_uri.parse().map_err(|_| format!("jwks_uri {jwks_uri:?} is not a URL"))?;
    let allowed = match discovery.scheme_str() {
        Some("http") => matches!(uri.scheme_str(), Some("https" | "http")),
        _ => uri.scheme_str() == Some("https"),
    };
    if !allowed || uri.host().is_none() {
        return Err(format!("jwks_uri {jwks_uri:?} is not an https:// URL"));
    }
    Ok(uri)
}

async fn get(client: &Client, uri: &http::Uri) -> Result<(Vec<u8>, Option<Duration>), String> {
    let response = client.get(uri.clone()).await.map_err(|e| format!("GET {uri}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("GET {uri}: status {}", response.status()));
    }
    let max_age = max_age(response.headers());
    let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
        .collect()
        .await
        .map_err(|e| format!("GET {uri}: reading the body: {e}"))?;
    Ok((body.to_bytes().to_vec(), max_age))
}

/// How long a response may be cached by its `Cache-Control` (RFC 9111 §5.2.2): `max-age`, or
/// nothing at all (zero, raised to the refresh interval by the caller) with `no-store` or
/// `no-cache`. Hand-parsed: the directives needed are two, and a header crate would bring a
/// typed-headers stack for them.
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
            match name.to_ascii_lowercase().as_str() {
                "no-store" | "no-cache" => return Some(Duration::ZERO),
                "max-age" => {
                    if let Ok(seconds) = argument.trim_matches('"').parse::<u64>() {
                        max_age = Some(Duration::from_secs(seconds));
                    }
                }
                _ => {}
            }
        }
    }
    max_age
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
    fn cache_control_gives_the_key_lifetime() {
        let headers = |values: &[&str]| {
            let mut map = http::HeaderMap::new();
            for value in values {
                map.append(http::header::CACHE_CONTROL, http::HeaderValue::from_str(value).unwrap());
            }
            map
        };
        assert_eq!(max_age(&headers(&["public, max-age=3600"])), Some(Duration::from_secs(3600)));
        assert_eq!(max_age(&headers(&["public", "Max-Age=\"60\", must-revalidate"])), Some(Duration::from_secs(60)));
        assert_eq!(max_age(&headers(&["max-age=60, no-cache"])), Some(Duration::ZERO));
        assert_eq!(max_age(&headers(&["max-age=soon"])), None);
        assert_eq!(max_age(&headers(&[])), None);
    }

    #[test]
    fn discovery_names_the_jwks_uri_of_the_configured_issuer_only() {
        let discovery: http::Uri = "https://idp.test/.well-known/openid-configuration".parse().unwrap();
        let document = br#"{"issuer": "https://idp.test", "jwks_uri": "https://idp.test/keys"}"#;
        assert_eq!(discovered_jwks_uri(document, "https://idp.test", &discovery).unwrap(), "https://idp.test/keys");
        let other = discovered_jwks_uri(document, "https://idp.test/", &discovery).unwrap_err();
        assert!(other.contains("is not the configured"), "{other}");
        let plain = br#"{"issuer": "https://idp.test", "jwks_uri": "http://idp.test/keys"}"#;
        assert!(discovered_jwks_uri(plain, "https://idp.test", &discovery).unwrap_err().contains("not an https"));
        assert!(discovered_jwks_uri(br#"{"issuer": "https://idp.test"}"#, "https://idp.test", &discovery).is_err());
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        assert!(parse(b"{}").is_err());
        assert!(parse(b"not json").is_err());
    }
}
