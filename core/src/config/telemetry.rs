//! Configuration of the telemetry stage: metrics, access log and spans.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Metrics, access log and spans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Prometheus metrics at `endpoints.metrics`.
    pub metrics: MetricsConfig,
    /// One JSON line per request.
    pub access_log: AccessLogConfig,
    /// OpenTelemetry spans exported over OTLP.
    pub tracing: TracingConfig,
}

/// Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Count requests and serve `endpoints.metrics`; when false that path is an ordinary (404) path.
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Which requests the access log records, by the severity their status implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Every request.
    #[default]
    Info,
    /// Requests answered 4xx or 5xx.
    Warn,
    /// Requests answered 5xx.
    Error,
}

impl LogLevel {
    /// The level of a request answered with `status`.
    pub fn of_status(status: u16) -> LogLevel {
        match status {
            500.. => LogLevel::Error,
            400..=499 => LogLevel::Warn,
            _ => LogLevel::Info,
        }
    }

    /// The name written in log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Where log lines go (access, decision and response-validation lines alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogTarget {
    /// Standard output (what container platforms collect).
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
    /// Appended to this file, created when missing (`target: {file: logs/access.log}`, or
    /// `ARMATURE_TELEMETRY__ACCESS_LOG__TARGET__FILE=...`): for test runs that keep their
    /// output quiet, and hosts without a log collector.
    File(PathBuf),
}

/// The access log: one JSON line per request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogConfig {
    /// Write access log lines at all.
    pub enabled: bool,
    /// The least severe request recorded: `info` (all), `warn` (4xx and 5xx) or `error` (5xx).
    pub level: LogLevel,
    /// Where the lines go; decision and report lines go to the same place.
    pub target: LogTarget,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        Self { enabled: true, level: LogLevel::Info, target: LogTarget::Stdout }
    }
}

/// OpenTelemetry spans, exported with OTLP over HTTP (protobuf).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// Export spans; off by default, and then no span is built at all.
    pub enabled: bool,
    /// The OTLP/HTTP traces endpoint of a collector.
    pub endpoint: String,
    /// Share of new traces recorded (0.0 to 1.0); a request that carries a `traceparent` follows the
    /// caller's sampled flag instead.
    pub sample_ratio: f64,
    /// `service.name` resource attribute.
    pub service_name: String,
    /// Limit of one export call.
    pub export_timeout_ms: u64,
    /// For an `https://` endpoint: a PEM file of CAs trusted besides the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for TracingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: "http://127.0.0.1:4318/v1/traces".to_owned(),
            sample_ratio: 1.0,
            service_name: "armature".to_owned(),
            export_timeout_ms: 5_000,
            ca_file: None,
        }
    }
}
