//! The identity stage: who is calling, decided by the credentials the operation's `security`
//! requirements name (JWT bearer tokens, API keys, HTTP Basic users, forwarded client
//! certificates).
//!
//! A missing or invalid credential where one is required is 401 with `WWW-Authenticate`; a valid
//! credential lacking a required scope is 403. A credential that is presented but invalid is
//! refused even where anonymous access is allowed, so a broken token never silently downgrades a
//! caller to anonymous.

mod api_key;
mod basic;
mod challenge;
mod jwks;
mod jwt;
mod keys;
mod mtls;

use std::sync::Arc;

use http::request::Parts;
use serde_json::{json, Value};

use crate::config::IdentityConfig;
use crate::connection::Connection;
use crate::contract::{ApiKeyLocation, Contract, SchemeKind, Security};
use crate::problem::{Problem, ProblemKind};

pub use api_key::ApiKeys;
pub use basic::BasicUsers;
pub use jwks::Jwks;
pub use jwt::JwtVerifier;

/// Who is calling, as handlers and policies see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identity {
    /// How the caller proved who it is.
    pub kind: IdentityKind,
    /// The subject (`sub` claim, API key name, SPIFFE id); None when anonymous.
    pub subject: Option<String>,
    /// Verified claims as JSON (`null` when none).
    pub claims: Value,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

impl Identity {
    /// The identity as JSON, as `input.identity` of policies and the request context of handlers:
    /// `{"kind", "subject", "claims", "scopes"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "kind": self.kind.as_str(),
            "subject": self.subject,
            "claims": self.claims,
            "scopes": self.scopes,
        })
    }
}

/// How a caller was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdentityKind {
    /// No credential.
    #[default]
    Anonymous,
    /// A verified JWT bearer token.
    Jwt,
    /// An API key.
    ApiKey,
    /// A client certificate forwarded by a trusted proxy.
    Mtls,
    /// An HTTP Basic user name and password.
    Basic,
}

impl IdentityKind {
    /// Every kind, in the order of [`IdentityKind::index`].
    pub const ALL: [IdentityKind; 5] =
        [IdentityKind::Anonymous, IdentityKind::Jwt, IdentityKind::ApiKey, IdentityKind::Mtls, IdentityKind::Basic];

    /// The name used in JSON: `anonymous`, `jwt`, `api_key`, `mtls`, `basic`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Anonymous => "anonymous",
            IdentityKind::Jwt => "jwt",
            IdentityKind::ApiKey => "api_key",
            IdentityKind::Mtls => "mtls",
            IdentityKind::Basic => "basic",
        }
    }

    /// Its position in [`IdentityKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where in a request the identity stage reads credentials, so other stages can keep them out
/// of what they expose (the policy input withholds them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialLocations {
    /// Headers carrying a credential (API-key headers, the forwarded client certificate), beyond
    /// `authorization`, `proxy-authorization` and `cookie`, which are always credentials.
    pub headers: Vec<http::HeaderName>,
    /// Query parameters carrying an API key.
    pub query: Vec<String>,
}

/// Why a credential did not identify the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    /// None was presented.
    Missing,
    /// One was presented and refused; the reason is safe to show the client.
    Invalid(String),
    /// The field carrying it is given more than once (named here), so the request does not say
    /// which credential is meant: refused as malformed (400), never resolved by picking one.
    Ambiguous(&'static str),
}

/// Errors building the identity stage; each names the configuration key or contract place.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A configuration value is wrong.
    #[error("{key}: {message}")]
    Config {
        /// The configuration key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The contract requires a credential this configuration cannot verify.
    #[error("operation {operation:?} requires security scheme {scheme:?}: {message}")]
    Unverifiable {
        /// The operation.
        operation: String,
        /// The scheme.
        scheme: String,
        /// Why it cannot be verified.
        message: String,
    },
}

impl IdentityError {
    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config { key: key.into(), message: message.into() }
    }
}

/// The identity stage, built once from configuration and contract.
pub struct Authenticator {
    realm: String,
    jwt: Option<JwtVerifier>,
    api_keys: ApiKeys,
    basic: BasicUsers,
    api_key_header: Option<http::HeaderName>,
    mtls_header: Option<http::HeaderName>,
    /// Whether certificates verified by this server's TLS identify callers.
    mtls_from_tls: bool,
    schemes: Vec<crate::contract::SecurityScheme>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("realm", &self.realm).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds the stage; fails when an operation requires a credential the configuration cannot
    /// verify. `server_verifies_clients`: `server.tls` asks clients for certificates.
    pub fn new(
        config: &IdentityConfig,
        contract: &Contract,
        server_verifies_clients: bool,
    ) -> Result<Self, IdentityError> {
        let jwt = JwtVerifier::new(&config.jwt)?;
        let api_keys = ApiKeys::new(&config.api_keys)?;
        let basic = BasicUsers::new(&config.basic)?;
        let api_key_header = match &config.api_keys.header {
            Some(name) => Some(
                http::HeaderName::try_from(name.as_str())
                    .map_err(|_| IdentityError::config("identity.api_keys.header", "not a valid header name"))?,
            ),
            None => None,
        };
        let mtls_header = if config.mtls.trusted_proxy {
            Some(
                http::HeaderName::try_from(config.mtls.header.as_str())
                    .map_err(|_| IdentityError::config("identity.mtls.header", "not a valid header name"))?,
            )
        } else {
            None
        };
        let authenticator = Self {
            realm: config.realm.clone(),
            jwt,
            api_keys,
            basic,
            api_key_header,
            mtls_header,
            mtls_from_tls: config.mtls.from_tls && server_verifies_clients,
            schemes: contract.security_schemes().to_vec(),
        };
        for operation in contract.operations() {
            for requirement in &operation.security.alternatives {
                for (scheme, _) in &requirement.schemes {
                    if let Some(message) = authenticator.unverifiable(*scheme) {
                        return Err(IdentityError::Unverifiable {
                            operation: operation.id.clone(),
                            scheme: authenticator.schemes[*scheme].name.clone(),
                            message,
                        });
                    }
                }
            }
        }
        Ok(authenticator)
    }

    /// On a reload: takes over the key cache of `previous`'s JWKS URL, with what it fetched and
    /// when (files are read again; a URL's keys are only ever refreshed by fetching).
    pub(crate) fn keep_fetched_keys_of(&mut self, previous: &Authenticator) {
        if let (Some(jwt), Some(old)) = (&mut self.jwt, &previous.jwt) {
            jwt.keep_fetched_keys_of(old);
        }
    }

    /// Counts failed JWKS fetches in `counter` (`armature_jwks_fetch_failures_total`).
    pub(crate) fn count_jwks_failures_in(&self, counter: &prometheus_client::metrics::counter::Counter) {
        if let Some(jwt) = &self.jwt {
            jwt.count_jwks_failures_in(counter);
        }
    }

    fn unverifiable(&self, scheme: usize) -> Option<String> {
        match &self.schemes[scheme].kind {
            SchemeKind::Bearer if self.jwt.is_none() => {
                Some("no JWT keys configured (identity.jwt.keys or identity.jwt.jwks)".to_owned())
            }
            SchemeKind::ApiKey { .. } if self.api_keys.is_empty() => {
                Some("no API keys configured (identity.api_keys.keys)".to_owned())
            }
            SchemeKind::Basic if self.basic.is_empty() => {
                Some("no Basic users configured (identity.basic.users or identity.basic.htpasswd_file)".to_owned())
            }
            SchemeKind::MutualTls if self.mtls_header.is_none() && !self.mtls_from_tls => Some(
                "no client certificate can be verified: set server.tls.client_auth (with identity.mtls.from_tls) \
                 or identity.mtls.trusted_proxy for certificates a proxy forwards"
                    .to_owned(),
            ),
            SchemeKind::Unsupported(what) => Some(format!("{what} is not supported")),
            _ => None,
        }
    }

    /// Every request location this stage may read a credential from: each API-key scheme's
    /// header (or `identity.api_keys.header`) and query parameter, and the forwarded client
    /// certificate header.
    pub fn credential_locations(&self) -> CredentialLocations {
        let mut locations = CredentialLocations::default();
        let mut add_header = |name: http::HeaderName| {
            if !locations.headers.contains(&name) {
                locations.headers.push(name);
            }
        };
        if let Some(header) = &self.api_key_header {
            add_header(header.clone());
        }
        if let Some(header) = &self.mtls_header {
            add_header(header.clone());
        }
        let mut query = Vec::new();
        for scheme in &self.schemes {
            match &scheme.kind {
                SchemeKind::ApiKey { location: ApiKeyLocation::Header, name } => {
                    if let Ok(header) = http::HeaderName::try_from(name.as_str()) {
                        add_header(header);
                    }
                }
                SchemeKind::ApiKey { location: ApiKeyLocation::Query, name } if !query.contains(name) => {
                    query.push(name.clone());
                }
                _ => {}
            }
        }
        locations.query = query;
        locations
    }

    /// Identifies the caller of an operation with these requirements.
    /// `connection`: what the server knows of the connection (a certificate its TLS verified).
    pub async fn authenticate(
        &self,
        security: &Security,
        parts: &Parts,
        connection: &Connection,
    ) -> Result<Identity, Problem> {
        if security.is_open() {
            return Ok(Identity::default());
        }
        // Each scheme is checked at most once even when several alternatives name it.
        let mut checked: Vec<Option<Result<Arc<Identity>, CredentialError>>> = vec![None; self.schemes.len()];
        let mut invalid: Option<(usize, String)> = None;
        let mut missing_scopes: Option<(usize, Vec<String>)> = None;
        let mut anonymous_allowed = false;
        for requirement in &security.alternatives {
            if requirement.is_anonymous() {
                anonymous_allowed = true;
                continue;
            }
            let mut satisfied: Option<Arc<Identity>> = None;
            let mut all = true;
            for (scheme, scopes) in &requirement.schemes {
                if checked[*scheme].is_none() {
                    checked[*scheme] = Some(self.check(*scheme, parts, connection).await.map(Arc::new));
                }
                match checked[*scheme].as_ref() {
                    Some(Ok(identity)) => {
                        let lacking: Vec<String> =
                            scopes.iter().filter(|s| !identity.scopes.contains(s)).cloned().collect();
                        if lacking.is_empty() {
                            satisfied.get_or_insert_with(|| identity.clone());
                        } else {
                            missing_scopes.get_or_insert((*scheme, lacking));
                            all = false;
                        }
                    }
                    Some(Err(CredentialError::Invalid(reason))) => {
                        invalid.get_or_insert((*scheme, reason.clone()));
                        all = false;
                    }
                    Some(Err(CredentialError::Ambiguous(field))) => return Err(self.ambiguous(*scheme, field)),
                    _ => all = false,
                }
            }
            if all {
                if let Some(identity) = satisfied {
                    return Ok(Arc::unwrap_or_clone(identity));
                }
            }
        }
        if let Some((scheme, reason)) = invalid {
            return Err(self.unauthenticated(security, Some((scheme, &reason))));
        }
        if anonymous_allowed {
            return Ok(Identity::default());
        }
        if let Some((scheme, scopes)) = missing_scopes {
            let detail = format!("The credential lacks the scope(s) {}.", scopes.join(" "));
            let mut problem = Problem::new(ProblemKind::InsufficientScope, detail);
            if let Some(value) = challenge::insufficient_scope(&self.realm, &self.schemes[scheme].kind, &scopes) {
                problem = problem.with_header(http::header::WWW_AUTHENTICATE, value);
            }
            return Err(problem);
        }
        Err(self.unauthenticated(security, None))
    }

    /// 400 for a credential field given twice (RFC 9110 §5.3: these fields are not lists; RFC
    /// 6750 §3.1: a request that repeats a parameter is `invalid_request`, answered 400).
    fn ambiguous(&self, scheme: usize, field: &str) -> Problem {
        let detail = format!("The request carries more than one {field}; a credential may be given only once.");
        let mut problem = Problem::new(ProblemKind::MalformedRequest, detail.clone());
        if let Some(value) = challenge::invalid_request(&self.realm, &self.schemes[scheme].kind, &detail) {
            problem = problem.with_header(http::header::WWW_AUTHENTICATE, value);
        }
        problem
    }

    fn unauthenticated(&self, security: &Security, invalid: Option<(usize, &str)>) -> Problem {
        let detail = match invalid {
            Some((_, reason)) => format!("The credential was refused: {reason}."),
            None => "This operation requires a credential.".to_owned(),
        };
        let mut problem = Problem::new(ProblemKind::Unauthenticated, detail);
        let mut seen = Vec::new();
        for requirement in &security.alternatives {
            for (scheme, _) in &requirement.schemes {
                if seen.contains(scheme) {
                    continue;
                }
                seen.push(*scheme);
                let reason = invalid.filter(|(s, _)| s == scheme).map(|(_, r)| r);
                if let Some(value) = challenge::unauthenticated(&self.realm, &self.schemes[*scheme].kind, reason) {
                    problem = problem.with_header(http::header::WWW_AUTHENTICATE, value);
                }
            }
        }
        problem
    }

    async fn check(&self, scheme: usize, parts: &Parts, connection: &Connection) -> Result<Identity, CredentialError> {
        match &self.schemes[scheme].kind {
            SchemeKind::Bearer => {
                let Some(jwt) = &self.jwt else { return Err(CredentialError::Missing) };
                let token = bearer_token(parts)?;
                jwt.verify(token).await
            }
            SchemeKind::ApiKey { location, name } => {
                let presented = match location {
                    ApiKeyLocation::Header => {
                        let mut values = match &self.api_key_header {
                            Some(header) => parts.headers.get_all(header).iter(),
                            None => parts.headers.get_all(name.as_str()).iter(),
                        };
                        only_one(&mut values, "API key header")?.map(|v| v.as_bytes().to_vec())
                    }
                    ApiKeyLocation::Query => match parts.uri.query() {
                        Some(query) => {
                            let mut values =
                                form_urlencoded::parse(query.as_bytes()).filter(|(key, _)| key == name).map(|(_, v)| v);
                            only_one(&mut values, "API key query parameter")?.map(|v| v.as_bytes().to_vec())
                        }
                        None => None,
                    },
                    ApiKeyLocation::Cookie => {
                        let headers: Vec<&str> = parts
                            .headers
                            .get_all(http::header::COOKIE)
                            .iter()
                            .filter_map(|v| v.to_str().ok())
                            .collect();
                        let mut values = crate::contract::params::cookies_named(&headers, name);
                        only_one(&mut values, "API key cookie")?.map(|v| v.as_bytes().to_vec())
                    }
                };
                let presented = presented.ok_or(CredentialError::Missing)?;
                self.api_keys.identify(&presented).ok_or_else(|| CredentialError::Invalid("unknown API key".into()))
            }
            SchemeKind::MutualTls => {
                // A certificate this server verified comes first: it cannot be forged by a header.
                if self.mtls_from_tls {
                    if let Some(certificate) = &connection.client_certificate {
                        return mtls::from_certificate(certificate);
                    }
                }
                let Some(header) = &self.mtls_header else { return Err(CredentialError::Missing) };
                let values: Vec<&[u8]> = parts.headers.get_all(header).iter().map(|v| v.as_bytes()).collect();
                mtls::identify(&values)
            }
            SchemeKind::Basic => self.basic.identify(authorization_credentials(parts, "basic")?).await,
            SchemeKind::Unsupported(_) => Err(CredentialError::Missing),
        }
    }

    /// Whether this operation takes Basic credentials: then its handler is not given the
    /// `Authorization` header, which would carry the password.
    pub fn takes_basic(&self, security: &Security) -> bool {
        security.alternatives.iter().any(|requirement| {
            requirement.schemes.iter().any(|(scheme, _)| self.schemes[*scheme].kind == SchemeKind::Basic)
        })
    }
}

/// What follows `scheme` (matched in any case) in `Authorization: <scheme> <credentials>`;
/// another scheme counts as no credential of this one.
fn authorization_credentials<'p>(parts: &'p Parts, scheme: &str) -> Result<&'p str, CredentialError> {
    let mut values = parts.headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = only_one(&mut values, "Authorization header")? else { return Err(CredentialError::Missing) };
    let value = value.to_str().map_err(|_| CredentialError::Invalid("the Authorization header is not ASCII".into()))?;
    let (presented, credentials) = value.split_once(' ').unwrap_or((value, ""));
    if !presented.eq_ignore_ascii_case(scheme) {
        return Err(CredentialError::Missing);
    }
    Ok(credentials)
}

/// The token of `Authorization: Bearer <token>`.
fn bearer_token(parts: &Parts) -> Result<&str, CredentialError> {
    let token = authorization_credentials(parts, "bearer")?.trim();
    if token.is_empty() {
        return Err(CredentialError::Invalid("the bearer token is empty".into()));
    }
    Ok(token)
}

/// The one value of a credential field, None when absent; `Ambiguous` when it is given twice.
fn only_one<T>(values: &mut impl Iterator<Item = T>, field: &'static str) -> Result<Option<T>, CredentialError> {
    let first = values.next();
    if values.next().is_some() {
        return Err(CredentialError::Ambiguous(field));
    }
    Ok(first)
}
