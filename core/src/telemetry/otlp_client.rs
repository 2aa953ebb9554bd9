//! The span exporter's HTTP client: core's HTTPS client (`crate::https_client`, the one the
//! JWKS fetches use: system roots plus `telemetry.tracing.ca_file`), so a collector behind
//! https works with the same trust as an identity provider.
//!
//! The SDK's batch processor exports from its own OS thread and waits on each export there, so
//! this client drives its requests on a small runtime of its own rather than on the server's:
//! an export never takes a worker thread from requests, and works in hosts that run no runtime.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full, Limited};
use opentelemetry_http::{HttpClient, HttpError};

use crate::https_client;

/// A collector's answer larger than this is cut off (it is only read for its status).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// [`HttpClient`] over core's HTTPS client.
pub(super) struct OtlpHttpClient {
    client: https_client::Client<Full<Bytes>>,
    /// Some until dropped: dropped with `shutdown_background`, which is allowed anywhere (a
    /// runtime dropped plainly inside another runtime's context panics).
    runtime: Option<tokio::runtime::Runtime>,
    timeout: Duration,
}

impl std::fmt::Debug for OtlpHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpHttpClient").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl OtlpHttpClient {
    /// A client trusting the system's roots and `ca_file`; each export (connect to last byte)
    /// within `timeout`.
    pub(super) fn new(ca_file: Option<&std::path::Path>, timeout: Duration) -> Result<Self, String> {
        let client = https_client::build(ca_file, "telemetry.tracing.ca_file", timeout)
            .map_err(|error| format!("{}: {}", error.key, error.message))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("armature-otlp")
            .build()
            .map_err(|error| format!("cannot start the span exporter's runtime: {error}"))?;
        Ok(Self { client, runtime: Some(runtime), timeout })
    }
}

impl Drop for OtlpHttpClient {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for OtlpHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let Some(runtime) = &self.runtime else { return Err("the span exporter's client is closed".into()) };
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, Full::new(body));
        // Blocking here is what the batch processor expects: it waits on each export on its own thread.
        runtime.block_on(async {
            let response = tokio::time::timeout(self.timeout, self.client.request(request))
                .await
                .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))??;
            let (parts, body) = response.into_parts();
            let body = tokio::time::timeout(self.timeout, Limited::new(body, MAX_RESPONSE_BYTES).collect())
                .await
                .map_err(|_| format!("the answer did not end within {} ms", self.timeout.as_millis()))??
                .to_bytes();
            Ok(Response::from_parts(parts, body))
        })
    }
}
