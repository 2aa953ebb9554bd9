//! Telemetry stages: Prometheus metrics, the structured access log and OpenTelemetry spans.

pub mod access_log;
pub mod client_spans;
pub mod metrics;
mod otlp_client;
pub mod recorder;
pub mod spans;
