//! API keys: looked up in the configured set without revealing, through timing, how much of a
//! guess was right.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Identity, IdentityError, IdentityKind};
use crate::config::ApiKeysConfig;

/// The accepted API keys. Only their SHA-256 digests are kept: comparing fixed-length digests in
/// constant time hides the length of the keys as well as their content.
#[derive(Default)]
pub struct ApiKeys {
    keys: Vec<Entry>,
}

struct Entry {
    digest: [u8; 32],
    name: String,
    scopes: Vec<String>,
}

impl ApiKeys {
    /// Reads the keys, from configuration or the environment variables it names.
    pub fn new(config: &ApiKeysConfig) -> Result<Self, IdentityError> {
        let mut keys = Vec::with_capacity(config.keys.len());
        for (index, key) in config.keys.iter().enumerate() {
            let at = format!("identity.api_keys.keys[{index}]");
            if key.name.is_empty() {
                return Err(IdentityError::config(format!("{at}.name"), "must not be empty"));
            }
            let value = match (&key.value, &key.value_env) {
                (Some(value), None) => value.clone(),
                (None, Some(variable)) => std::env::var(variable).map_err(|_| {
                    IdentityError::config(
                        format!("{at}.value_env"),
                        format!("environment variable {variable} is not set"),
                    )
                })?,
                _ => return Err(IdentityError::config(&at, "give exactly one of value and value_env")),
            };
            if value.len() < 16 {
                return Err(IdentityError::config(at, "an API key must be at least 16 characters long"));
            }
            keys.push(Entry {
                digest: Sha256::digest(value.as_bytes()).into(),
                name: key.name.clone(),
                scopes: key.scopes.clone(),
            });
        }
        Ok(Self { keys })
    }

    /// No key configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The identity of the presented key, if it is one of the set.
    pub fn identify(&self, presented: &[u8]) -> Option<Identity> {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        // Every entry is compared, so the time taken does not tell which one matched.
        let mut found = None;
        for entry in &self.keys {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(entry);
            }
        }
        found.map(|entry| Identity {
            kind: IdentityKind::ApiKey,
            subject: Some(entry.name.clone()),
            claims: serde_json::Value::Null,
            scopes: entry.scopes.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKeyConfig;

    fn keys() -> ApiKeys {
        ApiKeys::new(&ApiKeysConfig {
            header: None,
            keys: vec![ApiKeyConfig {
                name: "ci-bot".into(),
                value: Some("ak_test_0123456789abcdef".into()),
                value_env: None,
                scopes: vec!["notes:read".into()],
            }],
        })
        .unwrap()
    }

    #[test]
    fn known_key_identifies_its_owner() {
        let identity = keys().identify(b"ak_test_0123456789abcdef").unwrap();
        assert_eq!(identity.subject.as_deref(), Some("ci-bot"));
        assert_eq!(identity.kind, IdentityKind::ApiKey);
        assert_eq!(identity.scopes, vec!["notes:read".to_owned()]);
    }

    #[test]
    fn other_keys_do_not() {
        assert!(keys().identify(b"ak_test_0123456789abcdeX").is_none());
        assert!(keys().identify(b"").is_none());
    }

    #[test]
    fn short_or_doubly_given_keys_are_refused() {
        let short = ApiKeysConfig {
            header: None,
            keys: vec![ApiKeyConfig { name: "x".into(), value: Some("short".into()), ..Default::default() }],
        };
        assert!(ApiKeys::new(&short).is_err());
        let both = ApiKeysConfig {
            header: None,
            keys: vec![ApiKeyConfig {
                name: "x".into(),
                value: Some("0123456789abcdef".into()),
                value_env: Some("X".into()),
                scopes: vec![],
            }],
        };
        assert!(ApiKeys::new(&both).is_err());
    }
}
