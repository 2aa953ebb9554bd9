//! Client certificates forwarded by a proxy in Envoy's `x-forwarded-client-cert` format:
//! comma-separated elements (one per proxy hop, the nearest proxy's last), each a `;`-separated
//! list of `Key=value` pairs whose values may be double-quoted.
//!
//! Hand-written because no maintained crate parses this header; the grammar is small.

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use x509_cert::der::oid::AssociatedOid as _;
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

use super::{CredentialError, Identity, IdentityKind};

/// The identity of a client certificate this server's TLS verified (`server.tls.client_auth`),
/// in the shape of the forwarded one: the subject is its first SPIFFE URI SAN, else its first
/// URI SAN, else its first DNS SAN, else its subject DN; `claims` has the keys Envoy's
/// `x-forwarded-client-cert` element would: `hash` (the hex SHA-256 of the DER), `subject` (the
/// DN, RFC 4514), `uri` (the SPIFFE URI SAN, else the first URI SAN) and `dns` (the first DNS
/// SAN), the last two when the certificate has one, so one policy reads both sources alike.
/// Read once per connection.
pub(crate) fn from_certificate(der: &[u8]) -> Result<Identity, CredentialError> {
    let certificate = x509_cert::Certificate::from_der(der)
        .map_err(|_| CredentialError::Invalid("the client certificate cannot be read".into()))?;
    let tbs = &certificate.tbs_certificate;
    let (mut uris, mut dns) = (Vec::new(), Vec::new());
    for extension in tbs.extensions.iter().flatten() {
        if extension.extn_id != SubjectAltName::OID {
            continue;
        }
        let names = SubjectAltName::from_der(extension.extn_value.as_bytes())
            .map_err(|_| CredentialError::Invalid("the client certificate's SANs cannot be read".into()))?;
        for name in names.0 {
            match name {
                GeneralName::UniformResourceIdentifier(uri) => uris.push(uri.to_string()),
                GeneralName::DnsName(name) => dns.push(name.to_string()),
                _ => {}
            }
        }
    }
    let dn = tbs.subject.to_string();
    let uri = uris.iter().find(|uri| uri.starts_with("spiffe://") && valid_spiffe_id(uri)).or_else(|| uris.first());
    let subject = uri.or_else(|| dns.first()).cloned().unwrap_or_else(|| dn.clone());
    let hash: String = Sha256::digest(der).iter().map(|byte| format!("{byte:02x}")).collect();
    let mut claims = Map::new();
    claims.insert("hash".into(), Value::String(hash));
    claims.insert("subject".into(), Value::String(dn));
    if let Some(uri) = uri {
        claims.insert("uri".into(), Value::String(uri.clone()));
    }
    if let Some(dns) = dns.first() {
        claims.insert("dns".into(), Value::String(dns.clone()));
    }
    Ok(Identity { kind: IdentityKind::Mtls, subject: Some(subject), claims: Value::Object(claims), scopes: Vec::new() })
}

/// The identity of the last forwarded certificate: its SPIFFE id (`URI=spiffe://...`).
pub(crate) fn identify(values: &[&[u8]]) -> Result<Identity, CredentialError> {
    let Some(last_value) = values.last() else { return Err(CredentialError::Missing) };
    let text = std::str::from_utf8(last_value)
        .map_err(|_| CredentialError::Invalid("the forwarded client certificate header is not UTF-8".into()))?;
    let elements = split_unquoted(text, ',');
    let element = elements.last().map(|e| e.trim()).filter(|e| !e.is_empty()).ok_or(CredentialError::Missing)?;
    let mut claims = Map::new();
    let mut spiffe_id = None;
    for pair in split_unquoted(element, ';') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(CredentialError::Invalid("the forwarded client certificate header is malformed".into()));
        };
        let value = unquote(value.trim());
        let key = key.trim().to_ascii_lowercase();
        if key == "uri" && spiffe_id.is_none() && value.starts_with("spiffe://") {
            spiffe_id = Some(value.clone());
        }
        claims.entry(key).or_insert(Value::String(value));
    }
    let spiffe_id = spiffe_id
        .filter(|id| valid_spiffe_id(id))
        .ok_or_else(|| CredentialError::Invalid("the forwarded client certificate has no valid SPIFFE id".into()))?;
    Ok(Identity {
        kind: IdentityKind::Mtls,
        subject: Some(spiffe_id),
        claims: Value::Object(claims),
        scopes: Vec::new(),
    })
}

/// `spiffe://<trust domain>/<path>`: trust domain of lower-case letters, digits, `.`, `-`, `_`.
fn valid_spiffe_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("spiffe://") else { return false };
    let (domain, path) = rest.split_once('/').unwrap_or((rest, ""));
    !domain.is_empty()
        && domain.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        && path.split('/').all(|segment| !segment.is_empty() || path.is_empty())
}

fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_spiffe_id_of_the_last_element() {
        let header = br#"By=spiffe://a.test/proxy;URI=spiffe://a.test/ns/x/sa/old,By=spiffe://a.test/gw;Hash=abc;Subject="CN=billing,O=Acme";URI=spiffe://a.test/ns/default/sa/billing"#;
        let identity = identify(&[header]).unwrap();
        assert_eq!(identity.subject.as_deref(), Some("spiffe://a.test/ns/default/sa/billing"));
        assert_eq!(identity.kind, IdentityKind::Mtls);
        assert_eq!(identity.claims["subject"], "CN=billing,O=Acme");
        assert_eq!(identity.claims["hash"], "abc");
    }

    #[test]
    fn missing_and_invalid() {
        assert_eq!(identify(&[]), Err(CredentialError::Missing));
        assert!(matches!(identify(&[b"Hash=abc;URI=https://x"]), Err(CredentialError::Invalid(_))));
        assert!(matches!(identify(&[b"URI=spiffe://UPPER/x"]), Err(CredentialError::Invalid(_))));
        assert!(matches!(identify(&[b"garbage"]), Err(CredentialError::Invalid(_))));
    }

    #[test]
    fn a_verified_certificate_gives_its_spiffe_id_dn_sans_and_hash() {
        use rustls::pki_types::pem::PemObject as _;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/credentials/tls-client.pem");
        let der = rustls::pki_types::CertificateDer::from_pem_file(path).unwrap();
        let identity = from_certificate(&der).unwrap();
        assert_eq!(identity.kind, IdentityKind::Mtls);
        assert_eq!(identity.subject.as_deref(), Some("spiffe://armature.test/orders"));
        assert_eq!(identity.claims["subject"], "CN=orders-service");
        assert_eq!(identity.claims["uri"], "spiffe://armature.test/orders");
        assert_eq!(identity.claims["hash"].as_str().map(str::len), Some(64));
        assert!(from_certificate(b"not a certificate").is_err());
    }
}
