//! Client certificates forwarded by a proxy in Envoy's `x-forwarded-client-cert` format:
//! comma-separated elements (one per proxy hop, the nearest proxy's last), each a `;`-separated
//! list of `Key=value` pairs whose values may be double-quoted.
//!
//! Hand-written because no maintained crate parses this header; the grammar is small.

use serde_json::{Map, Value};

use super::{CredentialError, Identity, IdentityKind};

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
}
