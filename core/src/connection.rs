//! What the server knows of the connection a request arrived on: the peer's address, whether it
//! came over TLS, and the client certificate TLS verified. The server builds it once per
//! connection (an in-process caller passes what it has) and the request context carries it;
//! each stage reads what it needs from there: the access log the address, the policy input the
//! scheme, the identity stage the certificate. Facts only: what they mean (which SAN names the
//! caller, whether a SPIFFE id is valid) is the identity stage's to decide.

use std::net::SocketAddr;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use x509_cert::der::oid::AssociatedOid as _;
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

/// The connection one request came on.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// The peer's address; None for an in-process request.
    pub remote_addr: Option<SocketAddr>,
    /// Whether this server received the request over TLS (`scheme: https` in the policy input).
    pub tls: bool,
    /// The client certificate the TLS handshake verified (`server.tls.client_auth`), read once
    /// for every request of the connection.
    pub client_certificate: Option<Arc<ClientCertificate>>,
}

impl Connection {
    /// A plain-HTTP connection from `remote_addr`.
    pub fn from_addr(remote_addr: Option<SocketAddr>) -> Self {
        Self { remote_addr, tls: false, client_certificate: None }
    }
}

/// What a verified client certificate says, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCertificate {
    /// Read: its names and hash.
    Read(CertificateNames),
    /// The DER did not parse (TLS verified it, so this is rare): the reason.
    Unreadable(&'static str),
}

/// The names of a certificate and its hash, as `x-forwarded-client-cert` would give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNames {
    /// Hex SHA-256 of the DER.
    pub hash: String,
    /// The subject DN (RFC 4514).
    pub subject: String,
    /// URI SANs, in certificate order.
    pub uris: Vec<String>,
    /// DNS SANs, in certificate order.
    pub dns: Vec<String>,
}

impl ClientCertificate {
    /// Reads a leaf certificate (DER).
    pub fn read(der: &[u8]) -> Self {
        match names(der) {
            Ok(names) => Self::Read(names),
            Err(reason) => Self::Unreadable(reason),
        }
    }
}

fn names(der: &[u8]) -> Result<CertificateNames, &'static str> {
    let certificate = x509_cert::Certificate::from_der(der).map_err(|_| "the client certificate cannot be read")?;
    let tbs = &certificate.tbs_certificate;
    let (mut uris, mut dns) = (Vec::new(), Vec::new());
    for extension in tbs.extensions.iter().flatten() {
        if extension.extn_id != SubjectAltName::OID {
            continue;
        }
        let names = SubjectAltName::from_der(extension.extn_value.as_bytes())
            .map_err(|_| "the client certificate's SANs cannot be read")?;
        for name in names.0 {
            match name {
                GeneralName::UniformResourceIdentifier(uri) => uris.push(uri.to_string()),
                GeneralName::DnsName(name) => dns.push(name.to_string()),
                _ => {}
            }
        }
    }
    let hash: String = Sha256::digest(der).iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(CertificateNames { hash, subject: tbs.subject.to_string(), uris, dns })
}
