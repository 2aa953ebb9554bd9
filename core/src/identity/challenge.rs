//! `WWW-Authenticate` challenges (RFC 9110 section 11.6.1, RFC 6750 section 3).

use http::HeaderValue;

use crate::contract::SchemeKind;

/// The challenge of a 401 for one scheme; `reason` when a presented credential was refused.
pub(crate) fn unauthenticated(realm: &str, scheme: &SchemeKind, reason: Option<&str>) -> Option<HeaderValue> {
    let realm = quote(realm);
    let text = match scheme {
        SchemeKind::Bearer => match reason {
            Some(reason) => {
                format!(r#"Bearer realm={realm}, error="invalid_token", error_description={}"#, quote(reason))
            }
            None => format!("Bearer realm={realm}"),
        },
        SchemeKind::ApiKey { name, .. } => format!("ApiKey realm={realm}, name={}", quote(name)),
        SchemeKind::MutualTls => format!("MutualTLS realm={realm}"),
        // RFC 7617: the charset parameter says clients are to send UTF-8.
        SchemeKind::Basic => format!(r#"Basic realm={realm}, charset="UTF-8""#),
        SchemeKind::Unsupported(_) => return None,
    };
    HeaderValue::try_from(text).ok()
}

/// The challenge of a 400 for a malformed credential request (RFC 6750 §3.1 `invalid_request`);
/// only the bearer scheme defines one.
pub(crate) fn invalid_request(realm: &str, scheme: &SchemeKind, description: &str) -> Option<HeaderValue> {
    match scheme {
        SchemeKind::Bearer => HeaderValue::try_from(format!(
            r#"Bearer realm={}, error="invalid_request", error_description={}"#,
            quote(realm),
            quote(description)
        ))
        .ok(),
        _ => None,
    }
}

/// The challenge of a 403 for a credential that lacks scopes.
pub(crate) fn insufficient_scope(realm: &str, scheme: &SchemeKind, scopes: &[String]) -> Option<HeaderValue> {
    match scheme {
        SchemeKind::Bearer => HeaderValue::try_from(format!(
            r#"Bearer realm={}, error="insufficient_scope", scope={}"#,
            quote(realm),
            quote(&scopes.join(" "))
        ))
        .ok(),
        _ => None,
    }
}

/// A quoted-string: backslash before `"` and `\`, and anything a header value cannot carry dropped.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars().filter(|c| c.is_ascii() && (*c == '\t' || !c.is_ascii_control())) {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_carries_the_error() {
        let value = unauthenticated("api", &SchemeKind::Bearer, Some(r#"bad "sig""#)).unwrap();
        assert_eq!(value, r#"Bearer realm="api", error="invalid_token", error_description="bad \"sig\"""#);
        assert_eq!(unauthenticated("api", &SchemeKind::Bearer, None).unwrap(), r#"Bearer realm="api""#);
    }

    #[test]
    fn scope_challenge_lists_scopes() {
        let scopes = vec!["a:read".to_owned(), "a:write".to_owned()];
        let value = insufficient_scope("api", &SchemeKind::Bearer, &scopes).unwrap();
        assert_eq!(value, r#"Bearer realm="api", error="insufficient_scope", scope="a:read a:write""#);
    }
}
