//! HTTP Basic (RFC 7617): a user name and password checked against configured password hashes
//! (argon2id or bcrypt, inline or from an htpasswd file).
//!
//! The password never leaves this module: it is verified and dropped, and the policy input,
//! the logs and the handler's request never carry it. A password hash is deliberately slow
//! (tens of milliseconds), so each verification runs on tokio's blocking pool, at most one per
//! core at a time, and never on a runtime thread.
//!
//! Timing must not tell which user names exist, whatever hashes are configured. Users fall into
//! cost classes (bcrypt at one cost, argon2id with one set of parameters); every check verifies
//! the password once per class, in a fixed order: against the claimed user's own hash in that
//! user's class, and against a stand-in (the first user of the class) in every other class, whose
//! results are ignored. A known user of any class and an unknown user thus pay the same
//! verifications. With one class (the usual case) that is one verification, as for any server;
//! a mixed configuration (bcrypt users beside argon2id ones, or two bcrypt costs) pays the sum,
//! the price of not leaking which kind a user has. The hash crates compare in constant time.
//!
//! A user who logged in is remembered for `identity.basic.cache_seconds` (as Caddy does), so a
//! client sending the same credentials on every request pays one hash per period, not one per
//! request. The cache holds a keyed SHA-256 of user and password (the key is random per
//! process), never the password; failures are never cached, so guessing always pays the hash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::{Argon2, PasswordHash, PasswordVerifier as _};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use super::{CredentialError, Identity, IdentityError, IdentityKind};
use crate::config::BasicConfig;

/// The configured Basic users.
#[derive(Default)]
pub struct BasicUsers {
    users: HashMap<String, Arc<User>>,
    /// One stand-in hash per cost class (the class's first user's), in the order classes were
    /// first seen; `User::class` indexes it.
    classes: Arc<[Hash]>,
    /// One verification per core at a time: a burst of wrong passwords queues here instead of
    /// filling the blocking pool.
    permits: Option<Arc<Semaphore>>,
    logins: Logins,
}

/// Successful logins remembered for a while: keyed digest of user and password -> until when.
#[derive(Default)]
struct Logins {
    key: [u8; 32],
    ttl: Duration,
    until: Mutex<HashMap<[u8; 32], Instant>>,
}

/// Most remembered logins; past it the oldest half is forgotten (a bound on memory, whatever
/// the traffic).
const MAX_LOGINS: usize = 10_000;

impl Logins {
    fn new(ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self { key, ttl, until: Mutex::new(HashMap::new()) }
    }

    fn digest(&self, name: &str, password: &str) -> [u8; 32] {
        // A length-prefixed name keeps ("a:b", "c") and ("a", "b:c") apart.
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    fn remembers(&self, digest: &[u8; 32]) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.get(digest).is_some_and(|until| *until > Instant::now())
    }

    fn remember(&self, digest: [u8; 32]) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.len() >= MAX_LOGINS {
            until.retain(|_, until| *until > now);
            if until.len() >= MAX_LOGINS {
                let mut expiries: Vec<Instant> = until.values().copied().collect();
                expiries.sort_unstable();
                let median = expiries[expiries.len() / 2];
                until.retain(|_, until| *until > median);
            }
        }
        until.insert(digest, now + self.ttl);
    }
}

struct User {
    name: String,
    hash: Hash,
    /// Its cost class: the index of its class's stand-in in `BasicUsers::classes`.
    class: usize,
    scopes: Vec<String>,
}

#[derive(Clone)]
enum Hash {
    /// A PHC string, `$argon2id$v=19$m=...,t=...,p=...$salt$hash`.
    Argon2id(String),
    /// `$2a$`, `$2b$` or `$2y$`: what `htpasswd -B` writes.
    Bcrypt(String),
}

impl Hash {
    fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("$argon2id$") {
            PasswordHash::new(text).map_err(|e| format!("not a valid argon2id hash ({e})"))?;
            Ok(Self::Argon2id(text.to_owned()))
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| text.starts_with(prefix)) {
            if !is_bcrypt_shaped(text) {
                return Err("not a valid bcrypt hash ($2b$<cost 04-31>$ and 53 characters)".to_owned());
            }
            Ok(Self::Bcrypt(text.to_owned()))
        } else {
            let found = match text {
                t if t.starts_with("$apr1$") => "an Apache MD5 hash ($apr1$)",
                t if t.starts_with("{SHA}") => "a SHA-1 hash ({SHA})",
                t if t.starts_with("$argon2") => "an argon2 hash of another variant than argon2id",
                t if t.starts_with('$') => "a hash of an unknown kind",
                _ => "not a hash (a plain-text or crypt(3) password?)",
            };
            Err(format!("{found} is not accepted: use argon2id or bcrypt (htpasswd -B)"))
        }
    }

    /// What decides the cost of verifying against this hash: the kind and its parameters (the
    /// bcrypt cost; argon2id's version and `m,t,p`). Two spellings of the same parameters make two
    /// classes, which costs a verification more, never a leak.
    fn cost_class(&self) -> String {
        match self {
            // `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`: everything before the salt.
            Self::Argon2id(phc) => phc.splitn(5, '$').take(4).collect::<Vec<_>>().join("$"),
            // `$2b$12$...`: the cost; the 2a/2b/2y variants cost the same.
            Self::Bcrypt(hash) => format!("bcrypt ${}", &hash[4..6]),
        }
    }

    fn verifies(&self, password: &[u8]) -> bool {
        #[cfg(test)]
        tests::VERIFIED.with(|log| log.borrow_mut().push(self.cost_class()));
        match self {
            Self::Argon2id(phc) => PasswordHash::new(phc)
                .map(|hash| Argon2::default().verify_password(password, &hash).is_ok())
                .unwrap_or(false),
            Self::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        }
    }
}

/// Whether `text` has the shape of a bcrypt hash. Checked by hand because the bcrypt crate can
/// only tell by verifying a password, which costs a full hash per user at load.
fn is_bcrypt_shaped(text: &str) -> bool {
    let bytes = text.as_bytes();
    let cost = std::str::from_utf8(bytes.get(4..6).unwrap_or_default()).ok().and_then(|c| c.parse::<u32>().ok());
    bytes.len() == 60
        && bytes[6] == b'$'
        && matches!(cost, Some(4..=31))
        && bytes[7..].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/')
}

impl BasicUsers {
    /// Reads the users of `identity.basic`: `users` and the lines of `htpasswd_file`.
    pub fn new(config: &BasicConfig) -> Result<Self, IdentityError> {
        let mut listed: Vec<(String, String, Vec<String>, String)> = Vec::new();
        for (index, user) in config.users.iter().enumerate() {
            let at = format!("identity.basic.users[{index}]");
            listed.push((user.name.clone(), user.password_hash.clone(), user.scopes.clone(), at));
        }
        if let Some(path) = &config.htpasswd_file {
            let key = "identity.basic.htpasswd_file";
            let text = std::fs::read_to_string(path)
                .map_err(|e| IdentityError::config(key, format!("cannot read {}: {e}", path.display())))?;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let at = format!("{key} ({}, line {})", path.display(), number + 1);
                let (name, hash) =
                    line.split_once(':').ok_or_else(|| IdentityError::config(&at, "expected user:hash"))?;
                listed.push((name.to_owned(), hash.to_owned(), Vec::new(), at));
            }
        }
        let mut users = HashMap::with_capacity(listed.len());
        let mut class_keys: Vec<String> = Vec::new();
        let mut classes: Vec<Hash> = Vec::new();
        for (name, hash, scopes, at) in listed {
            if name.is_empty() || name.contains(':') {
                return Err(IdentityError::config(at, "a user name is not empty and has no ':'"));
            }
            let hash = Hash::parse(&hash).map_err(|message| IdentityError::config(&at, message))?;
            let key = hash.cost_class();
            let class = match class_keys.iter().position(|known| *known == key) {
                Some(class) => class,
                None => {
                    class_keys.push(key);
                    classes.push(hash.clone());
                    classes.len() - 1
                }
            };
            let user = Arc::new(User { name: name.clone(), hash, class, scopes });
            if users.insert(name.clone(), user).is_some() {
                return Err(IdentityError::config(at, format!("user {name:?} is listed twice")));
            }
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            permits: (!users.is_empty()).then(|| Arc::new(Semaphore::new(cores))),
            users,
            classes: classes.into(),
            logins: Logins::new(Duration::from_secs(config.cache_seconds)),
        })
    }

    /// No user configured.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The identity of `Authorization: Basic <credentials>`, given the header's value after the
    /// scheme.
    pub async fn identify(&self, credentials: &str) -> Result<Identity, CredentialError> {
        let (name, password) = decode(credentials)?;
        let refused = || CredentialError::Invalid("the user name or password is wrong".into());
        let user = self.users.get(&name).cloned();
        let digest = self.logins.digest(&name, &password);
        if let Some(user) = &user {
            if self.logins.remembers(&digest) {
                return Ok(user.identity());
            }
        }
        let permits = self.permits.clone().ok_or_else(refused)?;
        let permit = permits.acquire_owned().await.map_err(|_| refused())?;
        let (classes, claimed) = (self.classes.clone(), user.clone());
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify_in_every_class(&classes, claimed.as_deref(), password.as_bytes())
        })
        .await
        .unwrap_or(false);
        match user {
            Some(user) if verified => {
                self.logins.remember(digest);
                Ok(user.identity())
            }
            _ => Err(refused()),
        }
    }
}

/// One verification per cost class, in class order: the claimed user's own hash in its class,
/// the class's stand-in in every other (and in all of them for an unknown user); whether the
/// user's own verified. Every call runs the same verifications, whoever is claimed.
fn verify_in_every_class(classes: &[Hash], claimed: Option<&User>, password: &[u8]) -> bool {
    let mut verified = false;
    for (class, stand_in) in classes.iter().enumerate() {
        match claimed {
            Some(user) if user.class == class => verified = user.hash.verifies(password),
            // Verified for its cost alone; black_box keeps the optimizer from dropping it.
            _ => {
                std::hint::black_box(stand_in.verifies(password));
            }
        }
    }
    verified
}

impl User {
    fn identity(&self) -> Identity {
        Identity {
            kind: IdentityKind::Basic,
            subject: Some(self.name.clone()),
            claims: serde_json::Value::Null,
            scopes: self.scopes.clone(),
        }
    }
}

/// `user:password` from the base64 of RFC 7617 (UTF-8, the only charset it allows).
fn decode(credentials: &str) -> Result<(String, String), CredentialError> {
    let malformed = || CredentialError::Invalid("malformed Basic credentials".into());
    let bytes = STANDARD.decode(credentials.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (name, password) = text.split_once(':').ok_or_else(malformed)?;
    Ok((name.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BasicUserConfig;

    /// bcrypt at its lowest cost and argon2id with small parameters: tests stay fast.
    fn hashes() -> (String, String) {
        let bcrypt = bcrypt::hash("bcrypt-secret", 4).unwrap();
        let params = argon2::Params::new(256, 1, 1, None).unwrap();
        let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = argon2::password_hash::SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
        let argon = argon2::PasswordHasher::hash_password(&argon, b"argon-secret", &salt).unwrap().to_string();
        (bcrypt, argon)
    }

    fn users() -> BasicUsers {
        let (bcrypt, argon) = hashes();
        BasicUsers::new(&BasicConfig {
            users: vec![
                BasicUserConfig { name: "bea".into(), password_hash: bcrypt, scopes: vec!["notes:read".into()] },
                BasicUserConfig { name: "arno".into(), password_hash: argon, scopes: vec![] },
            ],
            htpasswd_file: None,
            cache_seconds: 0,
        })
        .unwrap()
    }

    thread_local! {
        /// The cost class of every verification this thread made, in order.
        pub(super) static VERIFIED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// The cost classes `verify_in_every_class` verified in, for the claimed user name.
    fn verifications(users: &BasicUsers, name: &str, password: &str) -> (bool, Vec<String>) {
        VERIFIED.with(|log| log.borrow_mut().clear());
        let verified = verify_in_every_class(&users.classes, users.users.get(name).map(|u| &**u), password.as_bytes());
        (verified, VERIFIED.with(|log| log.take()))
    }

    #[test]
    fn every_check_verifies_once_in_every_cost_class_whoever_is_claimed() {
        let (bcrypt4, argon) = hashes();
        let bcrypt5 = bcrypt::hash("five-secret", 5).unwrap();
        let users = BasicUsers::new(&BasicConfig {
            users: vec![
                BasicUserConfig { name: "bea".into(), password_hash: bcrypt4.clone(), scopes: vec![] },
                BasicUserConfig { name: "arno".into(), password_hash: argon, scopes: vec![] },
                BasicUserConfig { name: "bo".into(), password_hash: bcrypt5, scopes: vec![] },
                BasicUserConfig { name: "bee".into(), password_hash: bcrypt4, scopes: vec![] },
            ],
            htpasswd_file: None,
            cache_seconds: 0,
        })
        .unwrap();
        assert_eq!(users.classes.len(), 3, "bcrypt 4, argon2id, bcrypt 5; bee shares bea's class");
        let classes = vec!["bcrypt $04".to_owned(), "$argon2id$v=19$m=256,t=1,p=1".to_owned(), "bcrypt $05".to_owned()];
        for (name, password) in [("bea", "bcrypt-secret"), ("arno", "argon-secret"), ("bo", "five-secret")] {
            assert_eq!(verifications(&users, name, password), (true, classes.clone()), "{name}");
            assert_eq!(verifications(&users, name, "wrong"), (false, classes.clone()), "{name}");
        }
        assert_eq!(verifications(&users, "nobody", "bcrypt-secret"), (false, classes.clone()));
        // A stand-in's password does not log anyone in: only the claimed user's own hash counts.
        assert_eq!(verifications(&users, "arno", "bcrypt-secret"), (false, classes));
    }

    fn header(user: &str, password: &str) -> String {
        STANDARD.encode(format!("{user}:{password}"))
    }

    #[tokio::test]
    async fn both_hash_kinds_identify_their_user() {
        let users = users();
        let bea = users.identify(&header("bea", "bcrypt-secret")).await.unwrap();
        assert_eq!((bea.kind, bea.subject.as_deref()), (IdentityKind::Basic, Some("bea")));
        assert_eq!(bea.scopes, vec!["notes:read".to_owned()]);
        let arno = users.identify(&header("arno", "argon-secret")).await.unwrap();
        assert_eq!(arno.subject.as_deref(), Some("arno"));
        // A password may contain ':'; only the first one separates.
        assert!(users.identify(&header("arno", "argon-secret:")).await.is_err());
    }

    #[tokio::test]
    async fn wrong_passwords_unknown_users_and_garbage_are_refused_alike() {
        let users = users();
        let wrong = users.identify(&header("bea", "nope")).await.unwrap_err();
        let unknown = users.identify(&header("nobody", "bcrypt-secret")).await.unwrap_err();
        assert_eq!(wrong, unknown, "the answer does not tell which user names exist");
        let malformed = CredentialError::Invalid("malformed Basic credentials".into());
        assert_eq!(users.identify("***").await.unwrap_err(), malformed);
        assert_eq!(users.identify(&STANDARD.encode("no-colon")).await.unwrap_err(), malformed);
        assert_eq!(users.identify(&STANDARD.encode([0xff, b':', b'x'])).await.unwrap_err(), malformed);
    }

    #[test]
    fn hashes_that_are_not_accepted_name_the_user_and_the_kind() {
        let config = |hash: &str| BasicConfig {
            users: vec![BasicUserConfig { name: "x".into(), password_hash: hash.into(), scopes: vec![] }],
            htpasswd_file: None,
            cache_seconds: 0,
        };
        let message = |hash: &str| BasicUsers::new(&config(hash)).err().unwrap().to_string();
        assert!(message("$apr1$abc$def").contains("identity.basic.users[0]: an Apache MD5 hash"));
        assert!(message("hunter2").contains("not a hash"));
        assert!(message("$2b$04$short").contains("not a valid bcrypt hash"));
        assert!(message(&format!("$2b$03${}", "a".repeat(53))).contains("not a valid bcrypt hash"));
        assert!(message("$argon2i$v=19$m=256,t=1,p=1$c2FsdA$aGFzaA").contains("another variant"));
    }

    #[test]
    fn htpasswd_files_are_read_line_by_line() {
        let (bcrypt, argon) = hashes();
        let dir = std::env::temp_dir().join(format!("armature-basic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("users.htpasswd");
        std::fs::write(&file, format!("# test users\nbea:{bcrypt}\n\narno:{argon}\n")).unwrap();
        let users =
            BasicUsers::new(&BasicConfig { users: vec![], htpasswd_file: Some(file.clone()), cache_seconds: 0 })
                .unwrap();
        assert_eq!(users.users.len(), 2);
        std::fs::write(&file, format!("bea:{bcrypt}\nbea:{bcrypt}\n")).unwrap();
        let twice =
            BasicUsers::new(&BasicConfig { users: vec![], htpasswd_file: Some(file.clone()), cache_seconds: 0 });
        assert!(twice.err().unwrap().to_string().contains("line 2): user \"bea\" is listed twice"));
        std::fs::write(&file, "just-a-name\n").unwrap();
        let bad = BasicUsers::new(&BasicConfig { users: vec![], htpasswd_file: Some(file), cache_seconds: 0 });
        assert!(bad.err().unwrap().to_string().contains("expected user:hash"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_login_is_remembered_and_a_failure_is_not() {
        let (bcrypt, _) = hashes();
        let users = BasicUsers::new(&BasicConfig {
            users: vec![BasicUserConfig { name: "bea".into(), password_hash: bcrypt, scopes: vec![] }],
            htpasswd_file: None,
            cache_seconds: 60,
        })
        .unwrap();
        let digest = users.logins.digest("bea", "bcrypt-secret");
        assert!(!users.logins.remembers(&digest));
        users.identify(&header("bea", "bcrypt-secret")).await.unwrap();
        assert!(users.logins.remembers(&digest));
        assert!(users.identify(&header("bea", "bcrypt-secret")).await.is_ok());
        assert!(users.identify(&header("bea", "wrong")).await.is_err());
        assert!(!users.logins.remembers(&users.logins.digest("bea", "wrong")));
        assert_ne!(users.logins.digest("a:b", "c"), users.logins.digest("a", "b:c"));
    }

    #[test]
    fn remembered_logins_are_bounded() {
        let logins = Logins::new(Duration::from_secs(60));
        for n in 0..(MAX_LOGINS as u64 + 10) {
            logins.remember(logins.digest(&n.to_string(), "p"));
        }
        assert!(logins.until.lock().unwrap().len() <= MAX_LOGINS);
    }
}
