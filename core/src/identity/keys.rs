//! Verification keys of the JWT stage: a key and the algorithms it may verify, read from
//! configuration (an HMAC secret from the environment, a PEM public key) or from a JWKS. Kept
//! apart from both readers (`jwt`, `jwks`) so each depends on it and neither on the other.

use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use super::IdentityError;
use crate::config::JwtKeyConfig;

/// A key and the algorithms accepted with it.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    pub kid: Option<String>,
    pub algorithms: Vec<Algorithm>,
    pub key: DecodingKey,
}

/// Parses a configured algorithm list and checks every entry suits `family`.
fn algorithms(names: &[String], family: AlgorithmFamily, at: &str) -> Result<Vec<Algorithm>, IdentityError> {
    if names.is_empty() {
        return Err(IdentityError::config(format!("{at}.algorithms"), "list the algorithms this key may verify"));
    }
    names
        .iter()
        .map(|name| {
            let algorithm: Algorithm = name.parse().map_err(|_| {
                IdentityError::config(format!("{at}.algorithms"), format!("unknown algorithm {name:?}"))
            })?;
            if algorithm.family() != family {
                return Err(IdentityError::config(
                    format!("{at}.algorithms"),
                    format!("{name} cannot be used with a {family:?} key"),
                ));
            }
            Ok(algorithm)
        })
        .collect()
}

pub(crate) fn static_key(config: &JwtKeyConfig, at: &str) -> Result<VerificationKey, IdentityError> {
    let pem = match (&config.secret_env, &config.public_key_pem, &config.public_key_file) {
        (Some(variable), None, None) => {
            let secret = std::env::var(variable).map_err(|_| {
                IdentityError::config(format!("{at}.secret_env"), format!("environment variable {variable} is not set"))
            })?;
            if secret.len() < 32 {
                return Err(IdentityError::config(
                    format!("{at}.secret_env"),
                    "an HMAC secret must be at least 32 bytes long",
                ));
            }
            let algorithms = algorithms(&config.algorithms, AlgorithmFamily::Hmac, at)?;
            return Ok(VerificationKey {
                kid: config.kid.clone(),
                algorithms,
                key: DecodingKey::from_secret(secret.as_bytes()),
            });
        }
        (None, Some(pem), None) => pem.clone(),
        (None, None, Some(path)) => std::fs::read_to_string(path).map_err(|error| {
            IdentityError::config(format!("{at}.public_key_file"), format!("{}: {error}", path.display()))
        })?,
        _ => {
            return Err(IdentityError::config(at, "give exactly one of secret_env, public_key_pem and public_key_file"))
        }
    };
    let key = public_key_from_pem(pem.as_bytes())
        .ok_or_else(|| IdentityError::config(at, "not a PEM RSA, EC (P-256/P-384) or Ed25519 public key"))?;
    let algorithms = algorithms(&config.algorithms, key.family(), at)?;
    Ok(VerificationKey { kid: config.kid.clone(), algorithms, key })
}

/// Tries each public key type in turn; the PEM label alone ("PUBLIC KEY") does not say which.
fn public_key_from_pem(pem: &[u8]) -> Option<DecodingKey> {
    DecodingKey::from_rsa_pem(pem)
        .ok()
        .or_else(|| DecodingKey::from_ec_pem(pem).ok())
        .or_else(|| DecodingKey::from_ed_pem(pem).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_algorithms_cannot_be_configured_for_public_keys() {
        assert!(algorithms(&["HS256".into()], AlgorithmFamily::Rsa, "k").is_err());
        assert!(algorithms(&["RS256".into(), "PS256".into()], AlgorithmFamily::Rsa, "k").is_ok());
        assert!(algorithms(&[], AlgorithmFamily::Rsa, "k").is_err());
    }
}
