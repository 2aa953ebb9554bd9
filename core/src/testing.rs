//! An in-process client that sends requests through the full pipeline without a socket: for
//! Rust tests, and the base of every binding's test utilities.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use crate::app::App;

/// Sends requests to an [`App`] in-process. Blocking; do not use from inside an async runtime
/// (call [`App::handle`] there instead).
pub struct TestClient {
    app: App,
    runtime: tokio::runtime::Runtime,
}

/// Errors of the test client itself (not of the service under test).
#[derive(Debug, thiserror::Error)]
pub enum TestClientError {
    /// The client's runtime could not start.
    #[error("cannot start the test runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The request could not be built (bad method, URI or header).
    #[error("invalid test request: {0}")]
    Request(#[from] http::Error),
}

impl TestClient {
    /// A client for `app`; the app reports ready, as if a server were listening.
    pub fn new(app: App) -> Result<Self, TestClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        app.lifecycle().set_listening(true);
        Ok(Self { app, runtime })
    }

    /// The application under test.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Starts a request.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest<'_> {
        TestRequest { client: self, builder: Request::builder().method(method).uri(uri), body: Bytes::new() }
    }

    /// Starts a GET request.
    pub fn get(&self, uri: &str) -> TestRequest<'_> {
        self.request(Method::GET, uri)
    }

    /// Starts a POST request.
    pub fn post(&self, uri: &str) -> TestRequest<'_> {
        self.request(Method::POST, uri)
    }
}

/// A request being built by a [`TestClient`].
pub struct TestRequest<'c> {
    client: &'c TestClient,
    builder: http::request::Builder,
    body: Bytes,
}

impl TestRequest<'_> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json(self, value: &Value) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json").body(body)
    }

    /// Sends the request through the pipeline and collects the response.
    pub fn send(self) -> Result<TestResponse, TestClientError> {
        let request = self.builder.body(Full::new(self.body))?;
        let app = &self.client.app;
        let response = self.client.runtime.block_on(async {
            let response = app.handle(request).await;
            let (parts, body) = response.into_parts();
            // Full<Bytes> cannot fail.
            let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            TestResponse { status: parts.status, headers: parts.headers, body }
        });
        Ok(response)
    }
}

/// A collected response.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl TestResponse {
    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        self.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok())
    }

    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
