//! The contract's security: `components.securitySchemes` and the `security` requirements of the
//! document and of each operation, compiled into what the identity stage checks.

use serde_json::Value;

use super::document;
use super::ContractError;

/// Where an API key travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// What kind of credential a scheme asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemeKind {
    /// `Authorization: Bearer <JWT>` (`http`/`bearer`, `oauth2`, `openIdConnect`).
    Bearer,
    /// An API key.
    ApiKey {
        /// Where it is read.
        location: ApiKeyLocation,
        /// The header, query parameter or cookie name.
        name: String,
    },
    /// A client certificate, forwarded by a trusted proxy (`mutualTLS`).
    MutualTls,
    /// `Authorization: Basic <user:password>` (`http`/`basic`).
    Basic,
    /// A scheme Armature cannot verify (`http` with a scheme other than bearer or basic, e.g.
    /// digest); an application refuses to start when an operation requires it.
    Unsupported(String),
}

/// One entry of `components.securitySchemes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityScheme {
    /// Its key in `components.securitySchemes`.
    pub name: String,
    /// What it asks for.
    pub kind: SchemeKind,
}

/// One security requirement object: every scheme listed must be satisfied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityRequirement {
    /// Index into [`super::Contract::security_schemes`], with the scopes required of it.
    pub schemes: Vec<(usize, Vec<String>)>,
}

impl SecurityRequirement {
    /// The empty requirement `{}`: anonymous callers satisfy it.
    pub fn is_anonymous(&self) -> bool {
        self.schemes.is_empty()
    }
}

/// What an operation requires: any one of the alternatives. No alternative at all means the
/// operation is open and no credential is looked at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Security {
    /// The alternatives, in contract order.
    pub alternatives: Vec<SecurityRequirement>,
}

impl Security {
    /// Whether a credential is looked at for this operation.
    pub fn is_open(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// Whether anonymous callers are let through (an empty requirement is listed).
    pub fn allows_anonymous(&self) -> bool {
        self.is_open() || self.alternatives.iter().any(SecurityRequirement::is_anonymous)
    }
}

/// Reads `components.securitySchemes`.
pub(crate) fn schemes(doc: &Value) -> Result<Vec<SecurityScheme>, ContractError> {
    let Some(listed) = doc.pointer("/components/securitySchemes") else { return Ok(Vec::new()) };
    let listed =
        listed.as_object().ok_or_else(|| ContractError::new("/components/securitySchemes", "must be an object"))?;
    let mut schemes = Vec::with_capacity(listed.len());
    for (name, scheme) in listed {
        let at = format!("/components/securitySchemes/{}", document::escape(name));
        let (scheme, at) = document::resolve(doc, scheme, &at)?;
        schemes.push(SecurityScheme { name: name.clone(), kind: scheme_kind(scheme, &at)? });
    }
    Ok(schemes)
}

fn scheme_kind(scheme: &Value, at: &str) -> Result<SchemeKind, ContractError> {
    let field = |name: &str| scheme.get(name).and_then(Value::as_str);
    let Some(kind) = field("type") else {
        return Err(ContractError::new(&format!("{at}/type"), "a security scheme needs a string type"));
    };
    Ok(match kind {
        "http" => match field("scheme").map(str::to_ascii_lowercase).as_deref() {
            Some("bearer") => SchemeKind::Bearer,
            Some("basic") => SchemeKind::Basic,
            Some(other) => SchemeKind::Unsupported(format!("http scheme {other:?}")),
            None => return Err(ContractError::new(&format!("{at}/scheme"), "an http security scheme needs a scheme")),
        },
        "oauth2" | "openIdConnect" => SchemeKind::Bearer,
        "mutualTLS" => SchemeKind::MutualTls,
        "apiKey" => {
            let location = match field("in") {
                Some("header") => ApiKeyLocation::Header,
                Some("query") => ApiKeyLocation::Query,
                Some("cookie") => ApiKeyLocation::Cookie,
                _ => {
                    return Err(ContractError::new(&format!("{at}/in"), "must be \"header\", \"query\" or \"cookie\""))
                }
            };
            let name = field("name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ContractError::new(&format!("{at}/name"), "an apiKey scheme needs a name"))?;
            SchemeKind::ApiKey { location, name: name.to_owned() }
        }
        other => {
            return Err(ContractError::new(&format!("{at}/type"), format!("unknown security scheme type {other:?}")))
        }
    })
}

/// Compiles a `security` array found at `at`, against the known schemes.
pub(crate) fn requirements(value: &Value, at: &str, schemes: &[SecurityScheme]) -> Result<Security, ContractError> {
    let list = value.as_array().ok_or_else(|| ContractError::new(at, "must be an array"))?;
    let mut alternatives = Vec::with_capacity(list.len());
    for (index, requirement) in list.iter().enumerate() {
        let requirement_at = format!("{at}/{index}");
        let object = requirement.as_object().ok_or_else(|| ContractError::new(&requirement_at, "must be an object"))?;
        let mut compiled = SecurityRequirement::default();
        for (name, scopes) in object {
            let name_at = format!("{requirement_at}/{}", document::escape(name));
            let scheme = schemes.iter().position(|s| &s.name == name).ok_or_else(|| {
                ContractError::new(&name_at, format!("security scheme {name:?} is not in components.securitySchemes"))
            })?;
            let scopes = scopes
                .as_array()
                .and_then(|scopes| scopes.iter().map(|s| s.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
                .ok_or_else(|| ContractError::new(&name_at, "must be an array of scope strings"))?;
            compiled.schemes.push((scheme, scopes));
        }
        alternatives.push(compiled);
    }
    Ok(Security { alternatives })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "mtls": {"type": "mutualTLS"},
            "basic": {"type": "http", "scheme": "Basic"},
            "digest": {"type": "http", "scheme": "digest"},
            "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://issuer/.well-known/openid-configuration"}
        }}})
    }

    #[test]
    fn reads_each_scheme_kind() {
        let schemes = schemes(&doc()).unwrap();
        let kind = |name: &str| schemes.iter().find(|s| s.name == name).unwrap().kind.clone();
        assert_eq!(kind("bearer"), SchemeKind::Bearer);
        assert_eq!(kind("oidc"), SchemeKind::Bearer);
        assert_eq!(kind("mtls"), SchemeKind::MutualTls);
        assert_eq!(kind("key"), SchemeKind::ApiKey { location: ApiKeyLocation::Header, name: "X-Api-Key".into() });
        assert_eq!(kind("basic"), SchemeKind::Basic);
        assert_eq!(kind("digest"), SchemeKind::Unsupported("http scheme \"digest\"".into()));
    }

    #[test]
    fn compiles_alternatives_with_scopes_and_anonymous() {
        let schemes = schemes(&doc()).unwrap();
        let security = requirements(&json!([{"bearer": ["notes:write"]}, {}]), "/security", &schemes).unwrap();
        assert_eq!(security.alternatives.len(), 2);
        assert_eq!(security.alternatives[0].schemes[0].1, vec!["notes:write".to_owned()]);
        assert!(security.allows_anonymous());
        assert!(!security.is_open());
        assert!(requirements(&json!([]), "/security", &schemes).unwrap().is_open());
    }

    #[test]
    fn unknown_scheme_names_the_place() {
        let schemes = schemes(&doc()).unwrap();
        let error = requirements(&json!([{"nope": []}]), "/paths/~1a/get/security", &schemes).unwrap_err();
        assert_eq!(error.at, "/paths/~1a/get/security/0/nope");
    }

    #[test]
    fn bad_scheme_is_refused() {
        let bad = json!({"components": {"securitySchemes": {"k": {"type": "apiKey", "in": "body", "name": "k"}}}});
        assert_eq!(schemes(&bad).unwrap_err().at, "/components/securitySchemes/k/in");
    }
}
