//! Certificates read from PEM files: the server's chain and client CAs (`server.tls`) and the
//! extra CAs the HTTPS client trusts (`identity.jwt.jwks.ca_file`, `telemetry.tracing.ca_file`).

use std::path::Path;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

/// Every certificate of the PEM file at `path`, in file order; an error, naming the file, when
/// it cannot be read, a block does not parse, or it holds none.
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let read = CertificateDer::pem_file_iter(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certificates = read.collect::<Result<Vec<_>, _>>().map_err(|e| format!("{}: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certificates)
}
