//! HTTPS: the rustls server configuration of `server.tls`, with ring as the crypto provider
//! (no OpenSSL, nothing to build but Rust and a little C). TLS 1.2 and 1.3 with rustls'
//! default cipher suites; ALPN offers `h2` then `http/1.1`, and hyper's auto builder then serves
//! whichever was agreed. Client certificates, when asked for, are verified against
//! `client_ca_file` during the handshake: a handshake that fails never reaches the pipeline.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::config::{ClientAuth, TlsConfig};

/// Why `server.tls` cannot be used; names the key and the file.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TlsError {
    key: &'static str,
    message: String,
}

impl TlsError {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self { key, message: message.into() }
    }
}

/// The certificate and key in use, and the client verifier: what a reload replaces. Each
/// handshake takes the current one; connections already open keep theirs.
pub(crate) type TlsCell = arc_swap::ArcSwap<ServerConfig>;

/// The rustls configuration of `config` (which must be enabled), every file read now.
pub(crate) fn server_config(config: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let (Some(cert_file), Some(key_file)) = (&config.cert_file, &config.key_file) else {
        return Err(TlsError::new("server.tls", "cert_file and key_file are needed"));
    };
    let chain = certificates(cert_file, "server.tls.cert_file")?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| TlsError::new("server.tls.key_file", format!("no private key in {}: {e}", key_file.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::new("server.tls", e.to_string()))?;
    let builder = match (config.client_auth, &config.client_ca_file) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some(ca_file)) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates(ca_file, "server.tls.client_ca_file")? {
                roots
                    .add(ca)
                    .map_err(|e| TlsError::new("server.tls.client_ca_file", format!("{}: {e}", ca_file.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == ClientAuth::Optional { verifier.allow_unauthenticated() } else { verifier };
            let verifier = verifier.build().map_err(|e| TlsError::new("server.tls.client_ca_file", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::new("server.tls", format!("the key does not fit the certificate ({e})")))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

fn certificates(path: &Path, key: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    crate::pem::certificates(path).map_err(|message| TlsError::new(key, message))
}
