//! Sends cases to a running server over HTTP/1.1 (and, for cases with `request.tls`, over
//! HTTPS with the test CA, ALPN and client certificate they ask for) and reports what came back.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Mutex;

use crate::case::{Case, CaseRequest, TlsRequest};
use crate::matcher::{check, describe_header, Observed};
use crate::process_transport::ProcessTransport;

/// Longest body text shown in a failure report.
const MAX_SHOWN_BODY: usize = 4000;

/// The base URL given to [`Runner::new`] is unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid base URL {url:?}: {reason}")]
pub struct BaseUrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Runs cases against one server.
#[derive(Debug, Clone)]
pub struct Runner {
    transport: Transport,
    timeout: Duration,
    /// Where cases with `request.tls` go; without it they are skipped.
    tls: Option<TlsTarget>,
}

/// The HTTPS address of the server under test, and the directory of the test CA and client
/// certificate (`conformance/credentials`).
#[derive(Debug, Clone)]
struct TlsTarget {
    base: String,
    credentials: PathBuf,
}

#[derive(Debug, Clone)]
enum Transport {
    // Boxed: the client is forty times the size of the other variant.
    Http { client: Box<Client<HttpConnector, Full<Bytes>>>, base: String },
    // Behind a lock: the child answers one request at a time.
    Process(Arc<Mutex<ProcessTransport>>),
}

/// How one case went.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every expectation held.
    Passed,
    /// The server answered, but not as expected.
    Failed {
        /// Each expectation that did not hold.
        problems: Vec<String>,
        /// The response that came back.
        observed: Observed,
    },
    /// No response (connection refused, timeout, ...).
    Error(String),
    /// Not run: the case needs HTTPS and the runner has no HTTPS address (an in-process
    /// transport, or no `--tls-base-url`).
    Skipped(&'static str),
}

/// A case together with its outcome.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case that ran.
    pub case: Case,
    /// What happened.
    pub outcome: Outcome,
}

impl Runner {
    /// A runner for `base_url` (`http://host:port`, optionally with a path prefix); each
    /// request, body included, must complete within `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, BaseUrlError> {
        let invalid = |reason: &str| BaseUrlError { url: base_url.to_string(), reason: reason.to_string() };
        let uri: Uri = base_url.parse().map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("only http:// is supported"));
        }
        if uri.authority().is_none() {
            return Err(invalid("missing host"));
        }
        if uri.query().is_some() {
            return Err(invalid("must not have a query"));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        // A fresh connection per case: a case that leaves its connection in an odd state
        // (an unread body, a timed-out handler) cannot disturb the next one.
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector);
        let base = base_url.trim_end_matches('/').to_string();
        Ok(Self { transport: Transport::Http { client: Box::new(client), base }, timeout, tls: None })
    }

    /// Sends the cases with `request.tls` to `tls_base_url` (`https://127.0.0.1:port`, the
    /// same server's HTTPS listener), trusting `credentials/tls-ca.pem` and presenting
    /// `credentials/tls-client.pem` where a case asks for a client certificate.
    pub fn with_tls(mut self, tls_base_url: &str, credentials: &Path) -> Result<Self, BaseUrlError> {
        let invalid = |reason: &str| BaseUrlError { url: tls_base_url.to_string(), reason: reason.to_string() };
        let uri: Uri = tls_base_url.parse().map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        if uri.scheme_str() != Some("https") || uri.authority().is_none() {
            return Err(invalid("must be https://host:port"));
        }
        let base = tls_base_url.trim_end_matches('/').to_string();
        self.tls = Some(TlsTarget { base, credentials: credentials.to_path_buf() });
        Ok(self)
    }

    /// A runner that sends every case to a child process started with `sh -c command` (see
    /// [`ProcessTransport`]); each exchange must complete within `timeout`.
    pub fn with_process(command: &str, timeout: Duration) -> std::io::Result<Self> {
        let transport = ProcessTransport::spawn(command)?;
        Ok(Self { transport: Transport::Process(Arc::new(Mutex::new(transport))), timeout, tls: None })
    }

    /// Sends one request and reads the whole response.
    pub async fn send(&self, request: &CaseRequest) -> Result<Observed, String> {
        if let Some(tls) = &request.tls {
            let target = self.tls.as_ref().ok_or("the case needs HTTPS and the runner has no HTTPS address")?;
            let client = tls_client(&target.credentials, tls)?;
            return self.exchange(&client, &target.base, request).await;
        }
        match &self.transport {
            Transport::Http { client, base } => self.exchange(client, base, request).await,
            Transport::Process(process) => {
                let mut process = process.lock().await;
                tokio::time::timeout(self.timeout, process.send(request))
                    .await
                    .map_err(|_| format!("no complete response within {:?}", self.timeout))?
            }
        }
    }

    async fn exchange<C>(
        &self,
        client: &Client<C, Full<Bytes>>,
        base: &str,
        request: &CaseRequest,
    ) -> Result<Observed, String>
    where
        C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
    {
        let url = format!("{}{}", base, request.path);
        let uri: Uri = url.parse().map_err(|e| format!("cannot build URL {url:?}: {e}"))?;
        let mut builder = Request::builder().method(request.method.clone()).uri(uri);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let http_request =
            builder.body(Full::new(request.body.clone())).map_err(|e| format!("cannot build request: {e}"))?;
        let exchange = async {
            let response =
                client.request(http_request).await.map_err(|e| format!("request failed: {}", error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body =
                body.collect().await.map_err(|e| format!("reading the body failed: {}", error_chain(&e)))?.to_bytes();
            Ok(Observed { status: parts.status, headers: parts.headers, body, version: Some(parts.version) })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no complete response within {:?}", self.timeout))?
    }

    /// Runs one case.
    pub async fn run(&self, case: &Case) -> CaseResult {
        if case.request.tls.is_some() && self.tls.is_none() {
            let reason = "needs HTTPS (--tls-base-url), which this transport does not have";
            return CaseResult { case: case.clone(), outcome: Outcome::Skipped(reason) };
        }
        let outcome = match self.send(&case.request).await {
            Err(e) => Outcome::Error(e),
            Ok(observed) => {
                let problems = check(&case.expect, &observed);
                if problems.is_empty() {
                    Outcome::Passed
                } else {
                    Outcome::Failed { problems, observed }
                }
            }
        };
        CaseResult { case: case.clone(), outcome }
    }

    /// Runs cases one after another, in order.
    pub async fn run_all(&self, cases: &[Case]) -> Vec<CaseResult> {
        let mut results = Vec::with_capacity(cases.len());
        for case in cases {
            results.push(self.run(case).await);
        }
        results
    }
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }

    /// Whether the case was not run (see [`Outcome::Skipped`]).
    pub fn skipped(&self) -> bool {
        matches!(self.outcome, Outcome::Skipped(_))
    }

    /// A multi-line report naming the case and its file, the request, what was expected
    /// and what came back; empty for a passed case.
    pub fn report(&self) -> String {
        let case = &self.case;
        let mut out = String::new();
        let problems: &[String] = match &self.outcome {
            Outcome::Passed | Outcome::Skipped(_) => return out,
            Outcome::Failed { problems, .. } => problems,
            Outcome::Error(e) => std::slice::from_ref(e),
        };
        let _ = writeln!(out, "FAIL {} ({})", case.name, case.file);
        let _ = writeln!(out, "  request: {} {}", case.request.method, case.request.path);
        for (name, value) in &case.request.headers {
            let _ = writeln!(out, "    {name}: {}", String::from_utf8_lossy(value.as_bytes()));
        }
        if !case.request.body.is_empty() {
            let _ = writeln!(out, "    body: {}", shorten(&String::from_utf8_lossy(&case.request.body)));
        }
        let _ = writeln!(out, "  problems:");
        for problem in problems {
            let _ = writeln!(out, "    - {problem}");
        }
        let _ = writeln!(out, "  expected:");
        let expect = &case.expect;
        let _ = writeln!(out, "    status: {}", expect.status);
        for (name, value) in &expect.headers {
            let _ = writeln!(out, "    header {name}: {}", describe_header(value));
        }
        if let Some(body) = &expect.body {
            let _ = writeln!(out, "    body: {body:?}");
        }
        if let Some(re) = &expect.body_regex {
            let _ = writeln!(out, "    body_regex: {:?}", re.as_str());
        }
        if let Some(json) = &expect.json {
            let _ = writeln!(out, "    json: {json}");
        }
        if let Some(subset) = &expect.json_subset {
            let _ = writeln!(out, "    json_subset: {subset}");
        }
        if !expect.distinct.is_empty() {
            let _ = writeln!(out, "    distinct: {:?}", expect.distinct);
        }
        if !expect.json_absent.is_empty() {
            let _ = writeln!(out, "    json_absent: {:?}", expect.json_absent);
        }
        if !expect.body_not_contains.is_empty() {
            let _ = writeln!(out, "    body_not_contains: {:?}", expect.body_not_contains);
        }
        match &self.outcome {
            Outcome::Failed { observed, .. } => {
                let _ = writeln!(out, "  got:");
                let _ = writeln!(out, "    status: {}", observed.status.as_u16());
                for (name, value) in &observed.headers {
                    let _ = writeln!(out, "    {name}: {}", String::from_utf8_lossy(value.as_bytes()));
                }
                let _ = writeln!(out, "    body: {}", shorten(&observed.body_text()));
            }
            _ => {
                let _ = writeln!(out, "  got: no response");
            }
        }
        out
    }
}

/// A client for one HTTPS case: the test CA, the ALPN protocols it offers, and the test client
/// certificate when asked for. Made per case (a handful of cases): each gets a fresh connection.
fn tls_client(
    credentials: &Path,
    tls: &TlsRequest,
) -> Result<Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let read = |name: &str| credentials.join(name);
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_file(read("tls-ca.pem")).map_err(|e| format!("tls-ca.pem: {e}"))?;
    roots.add(ca).map_err(|e| format!("tls-ca.pem: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = if tls.client_certificate {
        let chain =
            vec![CertificateDer::from_pem_file(read("tls-client.pem")).map_err(|e| format!("tls-client.pem: {e}"))?];
        let key =
            PrivateKeyDer::from_pem_file(read("tls-client.key.pem")).map_err(|e| format!("tls-client.key.pem: {e}"))?;
        builder.with_client_auth_cert(chain, key).map_err(|e| e.to_string())?
    } else {
        builder.with_no_client_auth()
    };
    // hyper-rustls offers in ALPN exactly the protocols enabled here.
    let offers = |protocol: &str| tls.alpn.iter().any(|p| p == protocol);
    let connector = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_only();
    let connector = match (offers("h2"), offers("http/1.1")) {
        (true, true) => connector.enable_all_versions().build(),
        (true, false) => connector.enable_http2().build(),
        _ => connector.enable_http1().build(),
    };
    Ok(Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector))
}

/// Quotes `text`, cut at [`MAX_SHOWN_BODY`] characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_BODY) {
        Some((cut, _)) => format!("{:?}... ({} bytes in all)", &text[..cut], text.len()),
        None => format!("{text:?}"),
    }
}

/// An error with its sources, `outer: inner: ...`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let _ = write!(text, ": {inner}");
        source = inner.source();
    }
    text
}
