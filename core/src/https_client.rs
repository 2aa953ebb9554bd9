//! The one client core uses to call other services: an identity provider's JWKS and discovery
//! documents, the OTLP collector. rustls with ring (no OpenSSL), TLS 1.2 and 1.3, trusting the
//! system's roots (rustls-native-certs) and, when configured, a PEM file of private CAs;
//! `http://` URLs go without TLS (a collector or JWKS behind a local proxy).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;

/// A client sending bodies of type `B`.
pub(crate) type Client<B> = hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, B>;

/// Why the client cannot be built: the configuration key at fault and what is wrong.
#[derive(Debug)]
pub(crate) struct SetupError {
    pub key: &'static str,
    pub message: String,
}

/// A client trusting the system's roots and `ca_file`'s certificates (`ca_key` names that
/// setting in errors), giving up connecting after `connect_timeout`.
pub(crate) fn build<B>(
    ca_file: Option<&Path>,
    ca_key: &'static str,
    connect_timeout: Duration,
) -> Result<Client<B>, SetupError>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let mut roots = rustls::RootCertStore::empty();
    // A system without a readable store still works with ca_file; certificates it cannot parse
    // are skipped, as browsers do.
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = ca_file {
        let bad = |message: String| SetupError { key: ca_key, message };
        for certificate in crate::pem::certificates(path).map_err(bad)? {
            roots.add(certificate).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError { key: ca_key, message: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector))
}
