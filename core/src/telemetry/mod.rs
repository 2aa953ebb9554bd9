//! Telemetry stages: Prometheus metrics, the structured access log and OpenTelemetry spans.

pub mod access_log;
pub mod metrics;
pub mod recorder;
pub mod spans;
