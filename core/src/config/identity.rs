//! Configuration of the identity stage: JWT keys and JWKS, API keys, HTTP Basic users, forwarded
//! client certificates.
//!
//! Which credential an operation needs is the contract's business (`security`,
//! `components.securitySchemes`); this configuration says how each kind is verified.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How callers are identified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// The `realm` of `WWW-Authenticate` challenges.
    pub realm: String,
    /// JWT bearer tokens (schemes `http`/`bearer`, `oauth2`, `openIdConnect`).
    pub jwt: JwtConfig,
    /// API keys (scheme `apiKey`).
    pub api_keys: ApiKeysConfig,
    /// HTTP Basic users (scheme `http`/`basic`).
    pub basic: BasicConfig,
    /// Client certificates forwarded by a proxy (scheme `mutualTLS`).
    pub mtls: MtlsConfig,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            realm: "armature".to_owned(),
            jwt: JwtConfig::default(),
            api_keys: ApiKeysConfig::default(),
            basic: BasicConfig::default(),
            mtls: MtlsConfig::default(),
        }
    }
}

/// JWT verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// Required `iss`; any issuer when unset.
    pub issuer: Option<String>,
    /// Accepted audiences: the token's `aud` must name one. Any audience when empty.
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
    /// Refuse tokens without `exp`.
    pub require_exp: bool,
    /// Refuse tokens without `sub`: an authenticated caller always has a subject. A `sub` that is
    /// present must be a non-empty string either way (RFC 7519 §4.1.2).
    pub require_sub: bool,
    /// Claims read as scopes, first present wins: a space-separated string or an array of strings.
    pub scope_claims: Vec<String>,
    /// Keys given in configuration.
    pub keys: Vec<JwtKeyConfig>,
    /// A JWKS document (file or URL) with more keys.
    pub jwks: Option<JwksConfig>,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: Vec::new(),
            leeway_seconds: 30,
            require_exp: true,
            require_sub: true,
            scope_claims: vec!["scope".to_owned(), "scp".to_owned()],
            keys: Vec::new(),
            jwks: None,
        }
    }
}

/// One verification key. Exactly one of `secret_env`, `public_key_pem`, `public_key_file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct JwtKeyConfig {
    /// Matched against the token's `kid`; a key without one is tried for tokens without `kid`.
    pub kid: Option<String>,
    /// Algorithms accepted with this key (`HS256`, `RS256`, `PS256`, `ES256`, `EdDSA`, ...); each must
    /// suit the key's type, so an HMAC algorithm is never accepted with a public key.
    pub algorithms: Vec<String>,
    /// Name of the environment variable holding an HMAC shared secret.
    pub secret_env: Option<String>,
    /// A PEM public key (RSA, EC P-256/P-384 or Ed25519), inline.
    pub public_key_pem: Option<String>,
    /// A PEM public key file; relative paths are taken from the working directory.
    pub public_key_file: Option<PathBuf>,
}

/// Keys from a JWKS document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwksConfig {
    /// `https://` (or `http://`) URL of the document (fetched in the background, cached).
    pub url: Option<String>,
    /// An OpenID Connect discovery document (`.../.well-known/openid-configuration`, what a
    /// contract's `openIdConnectUrl` names) instead of `url`: its `jwks_uri` is fetched, and its
    /// `issuer` must equal `identity.jwt.issuer`.
    pub discovery_url: Option<String>,
    /// A PEM file of CAs trusted for `https://` besides the system's roots (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Path of the document (read at start).
    pub file: Option<PathBuf>,
    /// How long fetched keys are used before they are fetched again.
    pub ttl_seconds: u64,
    /// A token with an unknown `kid` triggers a fetch at most this often.
    pub min_refresh_interval_seconds: u64,
    /// Limit of one fetch, from connecting to the last byte (of both documents, with discovery).
    pub fetch_timeout_ms: u64,
    /// Limit of opening the connection (TCP; the TLS handshake counts towards `fetch_timeout_ms`).
    pub connect_timeout_ms: u64,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            url: None,
            discovery_url: None,
            ca_file: None,
            file: None,
            ttl_seconds: 300,
            min_refresh_interval_seconds: 30,
            fetch_timeout_ms: 2_000,
            connect_timeout_ms: 1_000,
        }
    }
}

/// API keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeysConfig {
    /// Header carrying the key, overriding the `name` of the contract's `apiKey` scheme when set.
    pub header: Option<String>,
    /// The accepted keys.
    pub keys: Vec<ApiKeyConfig>,
}

/// One accepted API key. Exactly one of `value` and `value_env`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeyConfig {
    /// The identity's subject when this key is presented.
    pub name: String,
    /// The key itself (keep it in a secret store; prefer `value_env`).
    pub value: Option<String>,
    /// Name of the environment variable holding the key.
    pub value_env: Option<String>,
    /// Scopes granted to this key.
    pub scopes: Vec<String>,
}

/// HTTP Basic users: `users`, and the `user:hash` lines of `htpasswd_file`. Hashes are argon2id
/// (PHC strings) or bcrypt (`htpasswd -B`); plain-text, MD5 and SHA-1 ones are refused at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicConfig {
    /// Users listed in the configuration.
    pub users: Vec<BasicUserConfig>,
    /// An htpasswd file of more users (no scopes).
    pub htpasswd_file: Option<PathBuf>,
    /// How long a successful login is remembered, so its hash is not verified again on every
    /// request; 0 verifies every request.
    pub cache_seconds: u64,
}

impl Default for BasicConfig {
    fn default() -> Self {
        Self { users: Vec::new(), htpasswd_file: None, cache_seconds: 60 }
    }
}

/// One Basic user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BasicUserConfig {
    /// The user name: the identity's subject.
    pub name: String,
    /// The password's argon2id or bcrypt hash.
    pub password_hash: String,
    /// Scopes granted to this user.
    pub scopes: Vec<String>,
}

/// Client certificates forwarded by a proxy in `x-forwarded-client-cert` (Envoy's format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MtlsConfig {
    /// Honour the header. Only set this when a proxy that terminates TLS sets the header and strips
    /// any value a client sent; otherwise anyone can claim any certificate.
    pub trusted_proxy: bool,
    /// The header carrying the forwarded certificate.
    pub header: String,
    /// A client certificate this server's TLS verified (`server.tls.client_auth`) identifies
    /// the caller, before any forwarded one.
    pub from_tls: bool,
}

impl Default for MtlsConfig {
    fn default() -> Self {
        Self { trusted_proxy: false, header: "x-forwarded-client-cert".to_owned(), from_tls: true }
    }
}
