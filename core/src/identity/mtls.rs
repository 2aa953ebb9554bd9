//! Client certificates as identities: one this server's TLS verified (its names read by
//! `crate::connection`), or one forwarded by a proxy in Envoy's `x-forwarded-client-cert` format:
//! comma-separated elements (one per proxy hop, the nearest proxy's last), each a `;`-separated
//! list of `Key=value` pairs whose values may be double-quoted.
//!
//! Hand-written because no maintained crate parses this header; the grammar is small.

use serde_json::{Map, Value};

use super::{CredentialError, Identity, IdentityKind};
use crate::connection::ClientCertificate;

/// The identity of a client certificate this server's TLS verified (`server.tls.client_auth`),
/// in the shape of the forwarded one: the subject is its SPIFFE URI SAN, else its first URI
/// SAN, else its first DNS SAN, else its subject DN; `claims` has the keys Envoy's
/// `x-forwarded-client-cert` element would: `hash` (the hex SHA-256 of the DER), `subject` (the
/// DN, RFC 4514), `uri` (the SPIFFE URI SAN, else the first URI SAN) and `dns` (the first DNS
/// SAN), the last two when the certificate has one, so one policy reads both sources alike.
pub(crate) fn from_certificate(certificate: &ClientCertificate) -> Result<Identity, CredentialError> {
    let names = match certificate {
        ClientCertificate::Read(names) => names,
        ClientCertificate::Unreadable(reason) => return Err(CredentialError::Invalid((*reason).to_owned())),
    };
    // An X.509-SVID carries exactly one SPIFFE id (X509-SVID §2); a certificate with an invalid
    // one, or several, is refused rather than identified by another of its names.
    let spiffe: Vec<&String> = names.uris.iter().filter(|uri| claims_spiffe(uri)).collect();
    if spiffe.len() > 1 {
        return Err(CredentialError::Invalid("the client certificate has more than one SPIFFE id".into()));
    }
    if spiffe.first().is_some_and(|id| !valid_spiffe_id(id)) {
        return Err(CredentialError::Invalid("the client certificate's SPIFFE id is not valid".into()));
    }
    let uri = spiffe.first().copied().or_else(|| names.uris.first());
    let subject = uri.or_else(|| names.dns.first()).unwrap_or(&names.subject).clone();
    let mut claims = Map::new();
    claims.insert("hash".into(), Value::String(names.hash.clone()));
    claims.insert("subject".into(), Value::String(names.subject.clone()));
    if let Some(uri) = uri {
        claims.insert("uri".into(), Value::String(uri.clone()));
    }
    if let Some(dns) = names.dns.first() {
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
        if key == "uri" && spiffe_id.is_none() && claims_spiffe(&value) {
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

/// Whether `id` is a SPIFFE ID as the SPIFFE ID specification (§2) defines it:
/// `spiffe://<trust domain><path>`, the scheme in lower case; the trust domain 1-255 characters of
/// lower-case letters, digits, `.`, `-` and `_` (so no port, user info, or percent-encoding); the
/// path empty or `/`-separated segments of letters, digits, `.`, `-` and `_`, none empty, `.` or
/// `..`, and no trailing `/`; no query or fragment; 2048 bytes at most. A dot segment would let a
/// workload named `spiffe://td/ns/a/../b` be read as another by a policy that compares prefixes.
pub(crate) fn valid_spiffe_id(id: &str) -> bool {
    const MAX_URI: usize = 2048;
    const MAX_TRUST_DOMAIN: usize = 255;
    let Some(rest) = id.strip_prefix("spiffe://") else { return false };
    let (domain, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    let domain_ok = !domain.is_empty()
        && domain.len() <= MAX_TRUST_DOMAIN
        && domain.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    let path_ok = path.is_empty()
        || path[1..].split('/').all(|segment| {
            !matches!(segment, "" | "." | "..")
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        });
    id.len() <= MAX_URI && domain_ok && path_ok
}

/// Whether a URI names the `spiffe` scheme, in any case: such a URI must be a valid SPIFFE ID,
/// or the credential carrying it is refused rather than read some other way.
fn claims_spiffe(uri: &str) -> bool {
    uri.get(..9).is_some_and(|scheme| scheme.eq_ignore_ascii_case("spiffe://"))
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
    fn spiffe_ids_follow_the_spiffe_id_specification() {
        for valid in ["spiffe://a.test", "spiffe://a.test/ns/default/sa/web", "spiffe://a-b_c.9/x.y-z_1/.hidden/..."] {
            assert!(valid_spiffe_id(valid), "{valid}");
            assert!(identify(&[format!("URI={valid}").as_bytes()]).is_ok(), "{valid}");
        }
        let long_domain = format!("spiffe://{}", "a".repeat(256));
        let long_path = format!("spiffe://a.test/{}", "b".repeat(2040));
        for invalid in [
            "spiffe://a.test/ns/../admin",
            "spiffe://a.test/./x",
            "spiffe://a.test/ns/.",
            "spiffe://a.test/ns/..",
            "spiffe://a.test//x",
            "spiffe://a.test/x/",
            "spiffe://a.test/",
            "spiffe://a.test/x%2e",
            "spiffe://a.test/x?y=1",
            "spiffe://a.test/x#y",
            "spiffe://a.test:443/x",
            "spiffe://user@a.test/x",
            "spiffe://A.test/x",
            "spiffe:///x",
            "SPIFFE://a.test/x",
            long_domain.as_str(),
            long_path.as_str(),
        ] {
            assert!(!valid_spiffe_id(invalid), "{invalid}");
            let header = format!("URI={invalid}");
            assert!(matches!(identify(&[header.as_bytes()]), Err(CredentialError::Invalid(_))), "{invalid}");
        }
    }

    #[test]
    fn a_verified_certificate_gives_its_spiffe_id_dn_sans_and_hash() {
        use rustls::pki_types::pem::PemObject as _;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/credentials/tls-client.pem");
        let der = rustls::pki_types::CertificateDer::from_pem_file(path).unwrap();
        let identity = from_certificate(&ClientCertificate::read(&der)).unwrap();
        assert_eq!(identity.kind, IdentityKind::Mtls);
        assert_eq!(identity.subject.as_deref(), Some("spiffe://armature.test/orders"));
        assert_eq!(identity.claims["subject"], "CN=orders-service");
        assert_eq!(identity.claims["uri"], "spiffe://armature.test/orders");
        assert_eq!(identity.claims["hash"].as_str().map(str::len), Some(64));
        assert!(from_certificate(&ClientCertificate::read(b"not a certificate")).is_err());
    }

    /// A self-signed certificate with these URI SANs, as the server reads it.
    fn certificate_with_uris(uris: &[&str]) -> ClientCertificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = uris.iter().map(|uri| rcgen::SanType::URI((*uri).try_into().unwrap())).collect();
        ClientCertificate::read(params.self_signed(&key).unwrap().der())
    }

    #[test]
    fn a_certificate_with_an_invalid_or_second_spiffe_id_is_refused() {
        let valid = certificate_with_uris(&["spiffe://a.test/ns/web"]);
        assert_eq!(from_certificate(&valid).unwrap().subject.as_deref(), Some("spiffe://a.test/ns/web"));
        let refused = |uris: &[&str]| match from_certificate(&certificate_with_uris(uris)) {
            Err(CredentialError::Invalid(reason)) => reason,
            other => panic!("{uris:?} accepted: {other:?}"),
        };
        assert_eq!(refused(&["spiffe://a.test/ns/../admin"]), "the client certificate's SPIFFE id is not valid");
        // Not read as its other URI instead.
        assert_eq!(
            refused(&["spiffe://a.test/./x", "https://a.test/x"]),
            "the client certificate's SPIFFE id is not valid"
        );
        assert_eq!(
            refused(&["spiffe://a.test/a", "spiffe://a.test/b"]),
            "the client certificate has more than one SPIFFE id"
        );
        // A certificate without a SPIFFE id is still named by its other URI.
        let plain = certificate_with_uris(&["https://a.test/x"]);
        assert_eq!(from_certificate(&plain).unwrap().subject.as_deref(), Some("https://a.test/x"));
    }
}
