//! Service configuration: one document (YAML, JSON or TOML) over embedded defaults, with
//! `ARMATURE_...` environment overrides (`ARMATURE_SERVER__PORT=9000`).
//!
//! Every struct denies unknown fields so a typo in a key is an error that names the key,
//! rather than a setting silently ignored in production.

pub mod authorization;
pub mod identity;
mod source_error;
pub mod telemetry;

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Json, Serialized, Toml, Yaml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use authorization::AuthorizationConfig;
pub use identity::{
    ApiKeyConfig, ApiKeysConfig, BasicConfig, BasicUserConfig, IdentityConfig, JwksConfig, JwtConfig, JwtKeyConfig,
    MtlsConfig,
};
pub use telemetry::{AccessLogConfig, LogLevel, LogTarget, MetricsConfig, TelemetryConfig, TracingConfig};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "ARMATURE_";

/// Environment variable naming the configuration file; it is not itself a configuration key.
pub const CONFIG_PATH_ENV: &str = "ARMATURE_CONFIG";

/// A configuration that could not be loaded; the message names the key or the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key is unknown, a value has the wrong type, or the document does not parse.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The file's extension says nothing of its format.
    #[error("configuration file {path}: unknown format (use .yaml, .yml, .json or .toml)")]
    UnknownFormat {
        /// The file that was given.
        path: PathBuf,
    },
    /// The file does not exist or cannot be read.
    #[error("configuration file {path}: {source}")]
    Unreadable {
        /// The file that was given.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
}

/// The format of an in-memory configuration document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// YAML 1.2 (a JSON document is also valid YAML).
    Yaml,
    /// JSON.
    Json,
    /// TOML.
    Toml,
}

impl ConfigFormat {
    /// The format a file name's extension names, if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(Self::Yaml),
            "json" => Some(Self::Json),
            "toml" => Some(Self::Toml),
            _ => None,
        }
    }
}

/// The whole configuration of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listening socket, threads, limits and timeouts.
    pub server: ServerConfig,
    /// Where the OpenAPI contract comes from when the host does not hand one over.
    pub contract: ContractConfig,
    /// Request and response validation.
    pub validation: ValidationConfig,
    /// Paths of the built-in endpoints.
    pub endpoints: EndpointsConfig,
    /// Problem (RFC 9457) rendering.
    pub errors: ErrorsConfig,
    /// How callers are identified.
    pub identity: IdentityConfig,
    /// Rego authorization.
    pub authorization: AuthorizationConfig,
    /// Metrics, access log and spans.
    pub telemetry: TelemetryConfig,
}

/// Listening socket, threads, limits and timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind, an IP literal or `localhost`.
    pub host: String,
    /// TCP port; 0 picks a free one (the bound address is reported at start).
    pub port: u16,
    /// Runtime worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest accepted request body; larger bodies are answered 413.
    pub max_body_bytes: u64,
    /// How long a client may take to send the request head before the connection is closed;
    /// it also bounds a new connection's protocol detection (HTTP/1 or the HTTP/2 preface) and
    /// its first request.
    pub header_read_timeout_ms: u64,
    /// How long a client may take to send a whole request body; past it the request is
    /// answered 408 and the connection closed.
    pub body_read_timeout_ms: u64,
    /// How long a connection may stay open with no request in flight before it is closed
    /// (HTTP/2: GOAWAY). HTTP/1 keep-alive waits are also cut by `header_read_timeout_ms`.
    pub idle_timeout_ms: u64,
    /// Interval of HTTP/2 keep-alive pings; a peer that does not answer one within the same
    /// time is disconnected. 0 sends none.
    pub http2_keep_alive_interval_ms: u64,
    /// Largest request head: the request line's target and every header name and value, 4 bytes
    /// of separators per header line included. Larger is answered 431.
    pub max_header_bytes: usize,
    /// Most header lines in one request; more is answered 431.
    pub max_header_count: usize,
    /// Most connections open at once; new connections beyond it are closed at once (and
    /// counted in `armature_connections_rejected_total`). 0: the process's open-file limit
    /// less a reserve of 64 descriptors for everything else.
    pub max_connections: usize,
    /// How long a handler may take before the request is answered 504.
    pub request_timeout_ms: u64,
    /// Time between "not ready" and closing the listener, so load balancers notice first.
    pub drain_delay_ms: u64,
    /// How long in-flight requests may run after the listener closes at shutdown.
    pub shutdown_grace_ms: u64,
    /// Requests waiting for a host that pulls them (see `dispatch::RequestQueue`); past it, 503.
    pub queue_capacity: usize,
    /// Binds with SO_REUSEPORT, so several processes can share the port and the kernel spreads
    /// connections among them (Python's `app.run(workers=N)`). Off by default: two services
    /// started on one port by mistake would otherwise split its traffic silently.
    pub reuse_port: bool,
    /// HTTPS (off unless `cert_file` is set).
    pub tls: TlsConfig,
}

/// HTTPS with rustls: TLS 1.2 and 1.3, rustls' default cipher suites, ALPN `h2` and `http/1.1`.
/// Without `port` the server's port speaks HTTPS only; with it, `port` keeps plain HTTP and
/// this port speaks HTTPS (for migrations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// The server's certificate chain, PEM, leaf first.
    pub cert_file: Option<PathBuf>,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// CAs (PEM) that client certificates must chain to; needed when `client_auth` is not `none`.
    pub client_ca_file: Option<PathBuf>,
    /// Whether clients present a certificate: `none`, `optional` (verified when presented) or
    /// `required` (the handshake fails without one).
    pub client_auth: ClientAuth,
    /// A second port for HTTPS beside plain HTTP on `server.port`; None: `server.port` is HTTPS.
    pub port: Option<u16>,
}

impl TlsConfig {
    /// Whether HTTPS is configured.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }

    /// Whether HTTPS asks clients for certificates (`client_auth` optional or required).
    pub fn verifies_clients(&self) -> bool {
        self.enabled() && self.client_auth != ClientAuth::None
    }
}

/// `server.tls.client_auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    None,
    /// One is asked for, and verified when presented.
    Optional,
    /// One is required.
    Required,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: 8080,
            workers: 0,
            max_body_bytes: 1024 * 1024,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            http2_keep_alive_interval_ms: 20_000,
            max_header_bytes: 32 * 1024,
            max_header_count: 100,
            max_connections: 0,
            request_timeout_ms: 30_000,
            drain_delay_ms: 0,
            shutdown_grace_ms: 10_000,
            queue_capacity: 1024,
            reuse_port: false,
            tls: TlsConfig::default(),
        }
    }
}

/// Where the OpenAPI contract comes from, and how it is served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContractConfig {
    /// Path of the contract (YAML or JSON); relative paths are taken from the working directory.
    pub path: Option<PathBuf>,
    /// Whether `/openapi.json` lists, on every operation, the problem responses core itself can
    /// answer (400, 401/403, 408/413/415, 431, 500, 503, 504) that the contract does not declare.
    pub document_problems: bool,
}

impl Default for ContractConfig {
    fn default() -> Self {
        Self { path: None, document_problems: true }
    }
}

/// What to do when a handler's response does not match the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResponseValidation {
    /// Replace the response by a 500 problem: the bad body never reaches the client.
    #[default]
    Enforce,
    /// Let the response through and log the violations.
    Report,
    /// Do not check responses.
    Off,
}

/// Request and response validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// Validate parameters and bodies before handlers run.
    pub request: bool,
    /// What to do with responses that break the contract.
    pub response: ResponseValidation,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self { request: true, response: ResponseValidation::Enforce }
    }
}

/// Paths of the built-in endpoints; they take precedence over the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointsConfig {
    /// Liveness: 200 while the process serves.
    pub health: String,
    /// Readiness: 200 when ready for traffic, 503 while starting or draining.
    pub ready: String,
    /// The contract as JSON.
    pub openapi: String,
    /// Prometheus metrics (when `telemetry.metrics.enabled`).
    pub metrics: String,
}

impl Default for EndpointsConfig {
    fn default() -> Self {
        Self {
            health: "/health".to_owned(),
            ready: "/ready".to_owned(),
            openapi: "/openapi.json".to_owned(),
            metrics: "/metrics".to_owned(),
        }
    }
}

/// Problem (RFC 9457) rendering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorsConfig {
    /// Put internal details (handler error messages, response violations) in problem bodies.
    /// Never in production: they may reveal internals.
    pub debug: bool,
    /// Prefix of every problem `type` URI; the problem's slug is appended.
    pub type_base: String,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        Self { debug: false, type_base: "https://armature.dev/problems/".to_owned() }
    }
}

impl Config {
    /// Embedded defaults with environment overrides: a service starts with nothing else.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::extract(Self::base(), None)
    }

    /// A configuration file (format by extension) over defaults, with environment overrides.
    /// An error names the file, the line and the key (`armature.yaml line 7: key
    /// `authorization.policy`: unknown field ...`), or the environment variable.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let format =
            ConfigFormat::from_path(path).ok_or_else(|| ConfigError::UnknownFormat { path: path.to_owned() })?;
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Unreadable { path: path.to_owned(), source })?;
        let document = source_error::Document { text: &text, format, path: Some(path) };
        Self::extract(Self::base().merge(Self::document(&document)).merge(Self::env()), Some(&document))
    }

    /// An in-memory document over defaults, with environment overrides.
    pub fn from_str_with_env(text: &str, format: ConfigFormat) -> Result<Self, ConfigError> {
        let document = source_error::Document { text, format, path: None };
        Self::extract(Self::base().merge(Self::document(&document)).merge(Self::env()), Some(&document))
    }

    /// An in-memory document over defaults, without looking at the environment (for tests
    /// and hosts that manage their own configuration sources).
    pub fn from_str_only(text: &str, format: ConfigFormat) -> Result<Self, ConfigError> {
        let document = source_error::Document { text, format, path: None };
        let figment = Figment::from(Serialized::defaults(Config::default())).merge(Self::document(&document));
        Self::extract(figment, Some(&document))
    }

    /// The file named by `ARMATURE_CONFIG` if set, else embedded defaults; environment overrides on top.
    pub fn load() -> Result<Self, ConfigError> {
        match std::env::var_os(CONFIG_PATH_ENV) {
            Some(path) if !path.is_empty() => Self::from_file(PathBuf::from(path)),
            _ => Self::from_env(),
        }
    }

    /// Joins every relative file path of the configuration (contract, key files, JWKS file and
    /// CA, Basic users' htpasswd, TLS certificate, key and client CAs, policies, policy data)
    /// onto `base`, so a host can run from any working directory and still
    /// read a configuration written relative to, say, its repository root.
    pub fn resolve_relative_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        if let Some(path) = self.contract.path.as_mut() {
            resolve(path);
        }
        for key in &mut self.identity.jwt.keys {
            if let Some(path) = key.public_key_file.as_mut() {
                resolve(path);
            }
        }
        if let Some(jwks) = self.identity.jwt.jwks.as_mut() {
            jwks.file.iter_mut().chain(jwks.ca_file.iter_mut()).for_each(resolve);
        }
        self.identity.basic.htpasswd_file.iter_mut().for_each(resolve);
        self.telemetry.tracing.ca_file.iter_mut().for_each(resolve);
        let tls = &mut self.server.tls;
        tls.cert_file.iter_mut().chain(tls.key_file.iter_mut()).chain(tls.client_ca_file.iter_mut()).for_each(resolve);
        self.authorization.policies.iter_mut().for_each(resolve);
        self.authorization.data.iter_mut().for_each(resolve);
    }

    fn base() -> Figment {
        Figment::from(Serialized::defaults(Config::default())).merge(Self::env())
    }

    fn env() -> Env {
        Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"])
    }

    /// The document as a figment provider: a file's named by its path (figment then says which
    /// file a bad value came from), text's as text.
    fn document(document: &source_error::Document<'_>) -> Figment {
        match (document.format, document.path) {
            (ConfigFormat::Yaml, Some(path)) => Figment::from(Yaml::file_exact(path)),
            (ConfigFormat::Json, Some(path)) => Figment::from(Json::file_exact(path)),
            (ConfigFormat::Toml, Some(path)) => Figment::from(Toml::file_exact(path)),
            (ConfigFormat::Yaml, None) => Figment::from(Yaml::string(document.text)),
            (ConfigFormat::Json, None) => Figment::from(Json::string(document.text)),
            (ConfigFormat::Toml, None) => Figment::from(Toml::string(document.text)),
        }
    }

    fn extract(figment: Figment, document: Option<&source_error::Document<'_>>) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|errors| {
            // figment reports every error; join them so the operator sees all bad keys at once.
            let described: Vec<String> =
                errors.into_iter().map(|error| source_error::describe(&error, document, ENV_PREFIX)).collect();
            ConfigError::Invalid(described.join("; "))
        })?;
        config.check()?;
        Ok(config)
    }

    /// Checks the rules serde cannot express.
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("key `{key}`: {why}")));
        if self.server.max_body_bytes == 0 {
            return bad("server.max_body_bytes", "must be at least 1");
        }
        if self.server.request_timeout_ms == 0 {
            return bad("server.request_timeout_ms", "must be at least 1");
        }
        if self.server.header_read_timeout_ms == 0 {
            return bad("server.header_read_timeout_ms", "must be at least 1");
        }
        if self.server.body_read_timeout_ms == 0 {
            return bad("server.body_read_timeout_ms", "must be at least 1");
        }
        if self.server.idle_timeout_ms == 0 {
            return bad("server.idle_timeout_ms", "must be at least 1");
        }
        if self.server.max_header_bytes < 1024 {
            return bad("server.max_header_bytes", "must be at least 1024");
        }
        if self.server.max_header_count == 0 {
            return bad("server.max_header_count", "must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.telemetry.tracing.sample_ratio) {
            return bad("telemetry.tracing.sample_ratio", "must be between 0.0 and 1.0");
        }
        if self.authorization.timeout_ms == 0 {
            return bad("authorization.timeout_ms", "must be at least 1");
        }
        if self.server.queue_capacity == 0 {
            return bad("server.queue_capacity", "must be at least 1");
        }
        let tls = &self.server.tls;
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            return bad("server.tls", "cert_file and key_file go together");
        }
        if tls.client_auth != ClientAuth::None && tls.client_ca_file.is_none() {
            return bad("server.tls.client_ca_file", "client_auth optional or required needs the CAs to verify with");
        }
        if !tls.enabled() && (tls.client_ca_file.is_some() || tls.port.is_some()) {
            return bad("server.tls", "client_ca_file and port need cert_file and key_file");
        }
        if tls.port.is_some_and(|port| port != 0 && port == self.server.port) {
            return bad(
                "server.tls.port",
                "must differ from server.port (leave it unset to serve HTTPS on server.port)",
            );
        }
        for (key, path) in [
            ("endpoints.health", &self.endpoints.health),
            ("endpoints.ready", &self.endpoints.ready),
            ("endpoints.openapi", &self.endpoints.openapi),
            ("endpoints.metrics", &self.endpoints.metrics),
        ] {
            if !path.starts_with('/') {
                return bad(key, "must start with '/'");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
// figment's Jail API returns its own large error type; its shape is not ours to change.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_the_document_is_empty() {
        let config = Config::from_str_only("{}", ConfigFormat::Yaml).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.port, 8080);
    }

    #[test]
    fn relative_paths_are_resolved_and_absolute_ones_kept() {
        let yaml = "contract: {path: api.yaml}\n\
                    identity: {jwt: {keys: [{kid: a, algorithms: [RS256], public_key_file: keys/a.pem}], jwks: {file: /etc/jwks.json}}}\n\
                    authorization: {policies: [p.rego, /abs/q.rego], data: [d.yaml]}\n";
        let mut config = Config::from_str_only(yaml, ConfigFormat::Yaml).unwrap();
        config.identity.basic.htpasswd_file = Some("users.htpasswd".into());
        config.server.tls.cert_file = Some("tls/server.pem".into());
        config.server.tls.key_file = Some("/etc/tls/server.key.pem".into());
        config.resolve_relative_paths(Path::new("/srv/app"));
        assert_eq!(config.identity.basic.htpasswd_file.as_deref(), Some(Path::new("/srv/app/users.htpasswd")));
        assert_eq!(config.server.tls.cert_file.as_deref(), Some(Path::new("/srv/app/tls/server.pem")));
        assert_eq!(config.server.tls.key_file.as_deref(), Some(Path::new("/etc/tls/server.key.pem")));
        assert_eq!(config.contract.path.as_deref(), Some(Path::new("/srv/app/api.yaml")));
        assert_eq!(config.identity.jwt.keys[0].public_key_file.as_deref(), Some(Path::new("/srv/app/keys/a.pem")));
        let jwks_file = config.identity.jwt.jwks.as_ref().and_then(|jwks| jwks.file.as_deref());
        assert_eq!(jwks_file, Some(Path::new("/etc/jwks.json")));
        assert_eq!(config.authorization.policies, [PathBuf::from("/srv/app/p.rego"), PathBuf::from("/abs/q.rego")]);
        assert_eq!(config.authorization.data, [PathBuf::from("/srv/app/d.yaml")]);
    }

    #[test]
    fn each_format_is_read() {
        let yaml = Config::from_str_only("server:\n  port: 9001\n", ConfigFormat::Yaml).unwrap();
        let json = Config::from_str_only(r#"{"server": {"port": 9002}}"#, ConfigFormat::Json).unwrap();
        let toml = Config::from_str_only("[server]\nport = 9003\n", ConfigFormat::Toml).unwrap();
        assert_eq!((yaml.server.port, json.server.port, toml.server.port), (9001, 9002, 9003));
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let err = Config::from_str_only("server:\n  prot: 9000\n", ConfigFormat::Yaml).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("prot"), "{message}");
        assert!(message.contains("server"), "{message}");
    }

    #[test]
    fn bad_value_is_an_error_naming_the_key() {
        let err = Config::from_str_only("server:\n  port: lots\n", ConfigFormat::Yaml).unwrap_err();
        assert!(err.to_string().contains("server.port"), "{err}");
        let err = Config::from_str_only("validation:\n  response: maybe\n", ConfigFormat::Yaml).unwrap_err();
        assert!(err.to_string().contains("validation.response"), "{err}");
        let err = Config::from_str_only("endpoints:\n  health: healthz\n", ConfigFormat::Yaml).unwrap_err();
        assert!(err.to_string().contains("endpoints.health"), "{err}");
    }

    #[test]
    fn a_file_error_names_the_file_the_line_and_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("armature.yaml", "server:\n  port: 8080\nauthorization:\n  policy: authz.rego\n")?;
            let message = Config::from_file("armature.yaml").unwrap_err().to_string();
            assert!(message.contains("armature.yaml line 4: key `authorization.policy`"), "{message}");
            assert!(message.contains("unknown field"), "{message}");
            assert!(!message.contains("source string"), "{message}");
            jail.create_file("svc.json", "{\n  \"server\": {\n    \"port\": \"lots\"\n  }\n}\n")?;
            let message = Config::from_file("svc.json").unwrap_err().to_string();
            assert!(message.contains("svc.json line 3: key `server.port`"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn an_environment_error_names_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARMATURE_SERVER__PORT", "lots");
            let message = Config::from_env().unwrap_err().to_string();
            assert!(message.contains("environment variable ARMATURE_SERVER__PORT: key `server.port`"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_document() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARMATURE_SERVER__PORT", "9000");
            jail.set_env("ARMATURE_VALIDATION__RESPONSE", "report");
            let config = Config::from_str_with_env("server:\n  port: 7000\n", ConfigFormat::Yaml).unwrap();
            assert_eq!(config.server.port, 9000);
            assert_eq!(config.validation.response, ResponseValidation::Report);
            Ok(())
        });
    }

    #[test]
    fn unknown_environment_key_is_an_error_naming_it() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARMATURE_SERVER__PROT", "9000");
            let err = Config::from_env().unwrap_err();
            assert!(err.to_string().contains("prot"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn config_path_variable_is_not_a_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("svc.toml", "[server]\nport = 7123\n")?;
            jail.set_env("ARMATURE_CONFIG", "svc.toml");
            assert_eq!(Config::load().unwrap().server.port, 7123);
            Ok(())
        });
    }

    #[test]
    fn unknown_file_format_is_an_error() {
        let err = Config::from_file("service.ini").unwrap_err();
        assert!(matches!(err, ConfigError::UnknownFormat { .. }));
    }
}
