//! `armature-credentials`: generates every key, JWKS and JWT the conformance cases use.
//!
//! Each run makes fresh random keys and re-signs every token, then writes them into the
//! directory given as the single argument (default `conformance/credentials`):
//!
//! - `hs.secret`: the HMAC secret (96 lowercase hex chars; the secret is their ASCII bytes).
//! - `rsa.key.pem` / `rsa.pub.pem`: RSA-2048 key pair, server key id `rsa`.
//! - `ec256.key.pem` / `ec256.pub.pem`: P-256 key pair, server key id `ec256`.
//! - `ec384.key.pem`, `ed25519.key.pem`: P-384 and Ed25519 private keys whose public halves are
//!   published only in `jwks.json` (kids `ec384` and `ed25519`).
//! - `other-rsa.key.pem`: an RSA key the server does not know (signs the `unknown_kid` token).
//! - `jwks.json`: the public JWK set.
//! - `tokens.json`: token name -> compact JWT, valid ones and deliberately broken ones.
//! - `tls-ca.pem` (and `tls-ca.key.pem`): a test CA; `tls-server.pem` / `tls-server.key.pem`:
//!   a server certificate for `localhost` and `127.0.0.1` it signed; `tls-client.pem` /
//!   `tls-client.key.pem`: a client certificate it signed, SPIFFE id
//!   `spiffe://armature.test/orders`.
//! - `basic.htpasswd`: HTTP Basic users, `ada` (bcrypt) and `grace` (argon2id), whose passwords
//!   are [`BASIC_USERS`]; the hashes use the lowest costs, so the cases stay fast.
//!
//! The output is checked in; cases refer to tokens by name (`{{token:NAME}}`), so regenerating
//! needs no edit to them:
//!
//! ```text
//! cargo run --release -p armature-conformance-credentials -- conformance/credentials
//! ```
//!
//! Every private key and secret written here is TEST-ONLY and public: it protects nothing and
//! must never be used outside the conformance suite.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::KeypairBytes;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rand::rngs::OsRng;
use rand::RngCore as _;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;
type Claims = serde_json::Map<String, Value>;

/// Output directory used when no argument is given (relative to the workspace root).
const DEFAULT_DIR: &str = "conformance/credentials";

/// `iss` of every token except `wrong_issuer`.
const ISSUER: &str = "https://issuer.armature.test";
/// `aud` of every token except `wrong_audience`.
const AUDIENCE: &str = "armature-conformance";
/// `iat` of every token.
const IAT: u64 = 1_700_000_000;
/// `exp` of valid tokens: 2100-01-01T00:00:00Z.
const EXP: u64 = 4_102_444_800;

const RSA_BITS: usize = 2048;
const HS_SECRET_BYTES: usize = 48;

/// The Basic users of `basic.htpasswd`: (name, password, hash kind). TEST-ONLY passwords.
pub(crate) const BASIC_USERS: [(&str, &str, &str); 2] =
    [("ada", "ada-test-password", "bcrypt"), ("grace", "grace-test-password", "argon2id")];

const USAGE: &str = "usage: armature-credentials [OUTPUT_DIR]   (default: conformance/credentials)";

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let dir = match (args.next(), args.next()) {
        (None, _) => PathBuf::from(DEFAULT_DIR),
        (Some(arg), None) if arg == "-h" || arg == "--help" => {
            println!("{USAGE}");
            return Ok(());
        }
        (Some(arg), None) => PathBuf::from(arg),
        (Some(_), Some(_)) => return Err(USAGE.into()),
    };

    let files = generate()?;
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for (name, contents) in &files {
        write(&dir, name, contents)?;
    }
    println!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}

fn write(dir: &Path, name: &str, contents: &str) -> Result<()> {
    let path = dir.join(name);
    fs::write(&path, contents).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

/// Generates every file, as (file name, contents) in write order.
fn generate() -> Result<Vec<(&'static str, String)>> {
    // HMAC: the secret is the ASCII of the hex string, exactly as the server reads it from
    // CONFORMANCE_JWT_SECRET.
    let mut secret_bytes = [0u8; HS_SECRET_BYTES];
    OsRng.fill_bytes(&mut secret_bytes);
    let hs_secret: String = secret_bytes.iter().map(|b| format!("{b:02x}")).collect();

    let rsa = RsaPrivateKey::new(&mut OsRng, RSA_BITS)?;
    let rsa_key_pem = rsa.to_pkcs8_pem(LineEnding::LF)?.to_string();
    let rsa_pub_pem = rsa.to_public_key().to_public_key_pem(LineEnding::LF)?;

    let other_rsa = RsaPrivateKey::new(&mut OsRng, RSA_BITS)?;
    let other_rsa_key_pem = other_rsa.to_pkcs8_pem(LineEnding::LF)?.to_string();

    let ec256 = p256::SecretKey::random(&mut OsRng);
    let ec256_key_pem = ec256.to_pkcs8_pem(LineEnding::LF)?.to_string();
    let ec256_pub_pem = ec256.public_key().to_public_key_pem(LineEnding::LF)?;

    let ec384 = p384::SecretKey::random(&mut OsRng);
    let ec384_key_pem = ec384.to_pkcs8_pem(LineEnding::LF)?.to_string();
    let ec384_point = ec384.public_key().to_encoded_point(false);
    let (Some(ec384_x), Some(ec384_y)) = (ec384_point.x(), ec384_point.y()) else {
        return Err("P-384 public key has no affine coordinates".into());
    };

    let mut ed25519_seed = [0u8; 32];
    OsRng.fill_bytes(&mut ed25519_seed);
    let ed25519 = ed25519_dalek::SigningKey::from_bytes(&ed25519_seed);
    // PKCS#8 v1 (no embedded public key), the form `openssl genpkey -algorithm ed25519` writes.
    let ed25519_der = KeypairBytes { secret_key: ed25519.to_bytes(), public_key: None }.to_pkcs8_der()?;
    let ed25519_key_pem = p256::pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, ed25519_der.as_bytes())
        .map_err(|e| format!("PEM-encoding the Ed25519 key: {e}"))?;

    let jwks = json!({
        "keys": [
            {
                "kty": "EC",
                "crv": "P-384",
                "kid": "ec384",
                "alg": "ES384",
                "use": "sig",
                "x": b64(ec384_x),
                "y": b64(ec384_y),
            },
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "kid": "ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "x": b64(ed25519.verifying_key().as_bytes()),
            },
        ]
    });

    let keys = Keys {
        hs: EncodingKey::from_secret(hs_secret.as_bytes()),
        rsa: EncodingKey::from_rsa_pem(rsa_key_pem.as_bytes())?,
        rsa_pub_pem_as_hmac: EncodingKey::from_secret(rsa_pub_pem.as_bytes()),
        other_rsa: EncodingKey::from_rsa_pem(other_rsa_key_pem.as_bytes())?,
        ec256: EncodingKey::from_ec_pem(ec256_key_pem.as_bytes())?,
        ec384: EncodingKey::from_ec_pem(ec384_key_pem.as_bytes())?,
        ed25519: EncodingKey::from_ed_pem(ed25519_key_pem.as_bytes())?,
    };
    let tokens = tokens(&keys)?;

    Ok(vec![
        ("hs.secret", hs_secret),
        ("rsa.key.pem", rsa_key_pem),
        ("rsa.pub.pem", rsa_pub_pem),
        ("ec256.key.pem", ec256_key_pem),
        ("ec256.pub.pem", ec256_pub_pem),
        ("ec384.key.pem", ec384_key_pem),
        ("ed25519.key.pem", ed25519_key_pem),
        ("other-rsa.key.pem", other_rsa_key_pem),
        ("jwks.json", serde_json::to_string_pretty(&jwks)? + "\n"),
        ("tokens.json", serde_json::to_string_pretty(&tokens)? + "\n"),
        ("basic.htpasswd", htpasswd()?),
    ]
    .into_iter()
    .chain(tls_files()?)
    .collect())
}

/// The test CA and the server and client certificates it signs (ECDSA P-256, rcgen's defaults:
/// valid until 4096).
fn tls_files() -> Result<Vec<(&'static str, String)>> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        SanType,
    };

    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(DnType::CommonName, "Armature conformance test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    server.distinguished_name.push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_pem = server.signed_by(&server_key, &issuer)?.pem();

    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client.distinguished_name.push(DnType::CommonName, "orders-service");
    client.subject_alt_names = vec![SanType::URI("spiffe://armature.test/orders".try_into()?)];
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_pem = client.signed_by(&client_key, &issuer)?.pem();

    Ok(vec![
        ("tls-ca.pem", ca_pem),
        ("tls-ca.key.pem", ca_key_pem),
        ("tls-server.pem", server_pem),
        ("tls-server.key.pem", server_key.serialize_pem()),
        ("tls-client.pem", client_pem),
        ("tls-client.key.pem", client_key.serialize_pem()),
    ])
}

/// `basic.htpasswd`: each user of [`BASIC_USERS`] with a fresh salt, at the lowest cost of its
/// hash (bcrypt 4; argon2id 1 MiB, 1 pass), which only a test may use.
fn htpasswd() -> Result<String> {
    use argon2::password_hash::{PasswordHasher as _, SaltString};

    let mut text = String::from("# TEST-ONLY Basic users of the conformance cases (armature-credentials).\n");
    for (name, password, kind) in BASIC_USERS {
        let hash = match kind {
            "bcrypt" => bcrypt::hash(password, 4)?,
            _ => {
                let params = argon2::Params::new(1024, 1, 1, None).map_err(|e| e.to_string())?;
                let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
                let salt = SaltString::generate(&mut OsRng);
                argon.hash_password(password.as_bytes(), &salt).map_err(|e| e.to_string())?.to_string()
            }
        };
        text.push_str(&format!("{name}:{hash}\n"));
    }
    Ok(text)
}

/// Signing keys for [`tokens`].
struct Keys {
    hs: EncodingKey,
    rsa: EncodingKey,
    /// HMAC key made of the exact bytes of `rsa.pub.pem`, for `alg_confusion`.
    rsa_pub_pem_as_hmac: EncodingKey,
    other_rsa: EncodingKey,
    ec256: EncodingKey,
    ec384: EncodingKey,
    ed25519: EncodingKey,
}

/// Claims of a valid token.
fn claims(sub: &str, roles: &[&str], scope: &str) -> Claims {
    let value = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": IAT,
        "exp": EXP,
        "sub": sub,
        "roles": roles,
        "scope": scope,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("json! object literal"),
    }
}

/// Signs `claims` with jsonwebtoken; the header is `{"typ":"JWT","alg":alg[,"kid":kid]}`.
fn sign(alg: Algorithm, kid: Option<&str>, claims: &Claims, key: &EncodingKey) -> Result<String> {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    Ok(encode(&header, claims, key)?)
}

/// A compact JWS over exactly this header and payload JSON (which jsonwebtoken's `encode` cannot
/// write: extra header parameters, a payload that is not an object), HS256.
fn sign_raw(header: &Value, payload: &Value, key: &EncodingKey) -> Result<String> {
    let message = format!("{}.{}", b64(&serde_json::to_vec(header)?), b64(&serde_json::to_vec(payload)?));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, Algorithm::HS256)?;
    Ok(format!("{message}.{signature}"))
}

/// A copy of `claims` changed by `f`.
fn edit(claims: &Claims, f: impl FnOnce(&mut Claims)) -> Claims {
    let mut claims = claims.clone();
    f(&mut claims);
    claims
}

/// The three dot-separated parts of a compact JWS.
fn parts(token: &str) -> Result<[&str; 3]> {
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) => Ok([h, p, s]),
        _ => Err(format!("not a three-part compact JWS: {token}").into()),
    }
}

/// base64url without padding, as JWS and JWK use.
fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Every token, by name (sorted, so tokens.json is stable in shape).
fn tokens(k: &Keys) -> Result<BTreeMap<&'static str, String>> {
    use Algorithm::*;

    const RW: &str = "notes:read notes:write";
    const R: &str = "notes:read";
    let alice = claims("alice", &["user"], RW);
    let admin = claims("admin", &["admin"], RW);
    let bob = claims("bob", &["user"], R);

    let mut t = BTreeMap::new();

    // Valid tokens.
    t.insert("alice_hs256", sign(HS256, Some("hs"), &alice, &k.hs)?);
    t.insert("alice_hs384", sign(HS384, Some("hs"), &alice, &k.hs)?);
    t.insert("alice_hs512", sign(HS512, Some("hs"), &alice, &k.hs)?);
    t.insert("alice_hs256_no_kid", sign(HS256, None, &alice, &k.hs)?);
    t.insert("admin_rs256", sign(RS256, Some("rsa"), &admin, &k.rsa)?);
    t.insert("bob_rs384", sign(RS384, Some("rsa"), &bob, &k.rsa)?);
    t.insert("bob_rs512", sign(RS512, Some("rsa"), &bob, &k.rsa)?);
    t.insert("bob_ps256", sign(PS256, Some("rsa"), &bob, &k.rsa)?);
    t.insert("carol_es256", sign(ES256, Some("ec256"), &claims("carol", &["user"], R), &k.ec256)?);
    t.insert("dave_es384", sign(ES384, Some("ec384"), &claims("dave", &["user"], R), &k.ec384)?);
    t.insert("erin_eddsa", sign(EdDSA, Some("ed25519"), &claims("erin", &["user"], R), &k.ed25519)?);
    t.insert("mallory_hs256", sign(HS256, Some("hs"), &claims("mallory", &["user"], RW), &k.hs)?);

    // Invalid tokens: each is alice_hs256 with one thing changed.
    let expired = edit(&alice, |c| c["exp"] = json!(1_600_000_000u64));
    t.insert("expired", sign(HS256, Some("hs"), &expired, &k.hs)?);
    let not_yet_valid = edit(&alice, |c| {
        c.insert("nbf".into(), json!(4_102_444_800u64));
        c["exp"] = json!(4_200_000_000u64);
    });
    t.insert("not_yet_valid", sign(HS256, Some("hs"), &not_yet_valid, &k.hs)?);
    let wrong_audience = edit(&alice, |c| c["aud"] = json!("someone-else"));
    t.insert("wrong_audience", sign(HS256, Some("hs"), &wrong_audience, &k.hs)?);
    let wrong_issuer = edit(&alice, |c| c["iss"] = json!("https://evil.example"));
    t.insert("wrong_issuer", sign(HS256, Some("hs"), &wrong_issuer, &k.hs)?);
    let no_exp = edit(&alice, |c| {
        c.remove("exp");
    });
    t.insert("no_exp", sign(HS256, Some("hs"), &no_exp, &k.hs)?);

    // jsonwebtoken has no `none` algorithm: craft it by hand, with an empty signature.
    let none_header = json!({"alg": "none", "typ": "JWT"});
    t.insert("alg_none", format!("{}.{}.", b64(&serde_json::to_vec(&none_header)?), b64(&serde_json::to_vec(&alice)?)));

    // RS/HS confusion: HS256 keyed with the server's RSA public key PEM, claiming kid "rsa".
    t.insert("alg_confusion", sign(HS256, Some("rsa"), &alice, &k.rsa_pub_pem_as_hmac)?);

    t.insert("unknown_kid", sign(RS256, Some("unknown"), &alice, &k.other_rsa)?);

    // alice_hs256's header and signature around the payload of a token whose sub is "admin".
    let forged = sign(HS256, Some("hs"), &edit(&alice, |c| c["sub"] = json!("admin")), &k.hs)?;
    let [header, _, signature] = parts(&t["alice_hs256"])?;
    let [_, forged_payload, _] = parts(&forged)?;
    t.insert("bad_signature", format!("{header}.{forged_payload}.{signature}"));

    t.insert("alg_not_allowed", sign(PS384, Some("rsa"), &alice, &k.rsa)?);
    t.insert("garbage", "not-a-jwt".to_owned());

    // Validly signed with the `hs` key, and refused only by a rule of RFC 7515/7519 that
    // jsonwebtoken parses but leaves to its caller (the identity issue's findings).
    let alice_value = Value::Object(alice.clone());
    let hs_header = |extra: Value| {
        let mut header = json!({"alg": "HS256", "typ": "JWT", "kid": "hs"});
        if let (Some(header), Value::Object(extra)) = (header.as_object_mut(), extra) {
            header.extend(extra);
        }
        header
    };
    for (name, extra) in [
        ("crit_unknown", json!({"crit": ["x-unknown"], "x-unknown": true})),
        ("crit_unlisted", json!({"crit": ["x-unknown"]})),
        ("crit_b64", json!({"crit": ["b64"], "b64": false})),
        ("crit_exp", json!({"crit": ["exp"]})),
    ] {
        t.insert(name, sign_raw(&hs_header(extra), &alice_value, &k.hs)?);
    }
    // Read positionally, this array passes jsonwebtoken's checks as exp, nbf, sub, iss, aud.
    let array = json!([EXP, 0, "alice", ISSUER, AUDIENCE]);
    t.insert("claims_array", sign_raw(&hs_header(json!({})), &array, &k.hs)?);
    let claims_with = |key: &str, value: Value| {
        Value::Object(edit(&alice, |c| {
            c.insert(key.to_owned(), value);
        }))
    };
    for (name, claims) in [
        ("iss_list", claims_with("iss", json!(["https://evil.example", ISSUER]))),
        ("iat_future", claims_with("iat", json!(4_000_000_000u64))),
        ("iat_string", claims_with("iat", json!(IAT.to_string()))),
        ("sub_empty", claims_with("sub", json!(""))),
        ("sub_numeric", claims_with("sub", json!(42))),
        (
            "sub_missing",
            Value::Object(edit(&alice, |c| {
                c.remove("sub");
            })),
        ),
    ] {
        t.insert(name, sign_raw(&hs_header(json!({})), &claims, &k.hs)?);
    }

    Ok(t)
}

#[cfg(test)]
mod tests;
