//! Whether HTTP Basic timing tells which user names exist: the median time of refusing a known
//! user's wrong password, per hash kind, against the median time of refusing an unknown user.
//!
//! Users at realistic costs: `bea` with a bcrypt hash of cost 10 (what `htpasswd -B -C 10`
//! writes) and `arno` with an argon2id hash of the argon2 crate's defaults (m=19456 KiB, t=2,
//! p=1, OWASP's recommendation). Each try calls `BasicUsers::identify` directly (the identity
//! stage's own code path, the login cache off), one at a time, in rotation so drift of the
//! machine's speed hits every kind alike.
//!
//! `basic-timing [tries]` (default 200) prints one Markdown table row per configuration: the
//! medians and unknown/known ratios. Timing is never asserted in tests: this is the measurement
//! the identity issue asks for (ratios within 0.8-1.25); the exit status is 1 when a ratio falls
//! outside that band, so a run in `ci/bench` shows a regression.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use armature_core::config::{BasicConfig, BasicUserConfig};
use armature_core::identity::BasicUsers;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The band the ratio unknown / known must stay in.
const BAND: (f64, f64) = (0.8, 1.25);

fn main() -> ExitCode {
    let tries: usize = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(200);
    let bcrypt = match bcrypt::hash("bea-password", 10) {
        Ok(hash) => hash,
        Err(error) => return fail(&format!("bcrypt: {error}")),
    };
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").expect("a constant, valid salt");
    let argon = match argon2::Argon2::default().hash_password(b"arno-password", &salt) {
        Ok(hash) => hash.to_string(),
        Err(error) => return fail(&format!("argon2: {error}")),
    };
    let user =
        |name: &str, hash: &str| BasicUserConfig { name: name.into(), password_hash: hash.into(), scopes: vec![] };
    let configurations = [
        ("bcrypt only", vec![user("bea", &bcrypt)]),
        ("argon2id only", vec![user("arno", &argon)]),
        ("bcrypt first, argon2id second", vec![user("bea", &bcrypt), user("arno", &argon)]),
        ("argon2id first, bcrypt second", vec![user("arno", &argon), user("bea", &bcrypt)]),
    ];
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("tokio: {error}")),
    };
    println!("| configuration | known user, wrong password | median | unknown user median | unknown / known |");
    println!("|---|---|---|---|---|");
    let mut within = true;
    for (label, users) in configurations {
        let names: Vec<String> = users.iter().map(|u| u.name.clone()).collect();
        let config = BasicConfig { users, htpasswd_file: None, cache_seconds: 0 };
        let basic = match BasicUsers::new(&config) {
            Ok(basic) => basic,
            Err(error) => return fail(&format!("{label}: {error}")),
        };
        // Rotation: each known user, then the unknown one, `tries` times.
        let mut known: Vec<Vec<Duration>> = vec![Vec::with_capacity(tries); names.len()];
        let mut unknown = Vec::with_capacity(tries);
        for _ in 0..tries {
            for (index, name) in names.iter().enumerate() {
                known[index].push(time(&runtime, &basic, name));
            }
            unknown.push(time(&runtime, &basic, "mallory"));
        }
        let unknown_median = median(&mut unknown);
        for (index, name) in names.iter().enumerate() {
            let known_median = median(&mut known[index]);
            let ratio = unknown_median.as_secs_f64() / known_median.as_secs_f64();
            within &= (BAND.0..=BAND.1).contains(&ratio);
            let kind = if name == "bea" { "bea (bcrypt, cost 10)" } else { "arno (argon2id, defaults)" };
            println!(
                "| {label} | {kind} | {:.2} ms | {:.2} ms | {ratio:.2} |",
                millis(known_median),
                millis(unknown_median)
            );
        }
    }
    if within {
        ExitCode::SUCCESS
    } else {
        eprintln!("basic-timing: a ratio is outside {:.2}-{:.2}", BAND.0, BAND.1);
        ExitCode::FAILURE
    }
}

/// How long refusing `name` with a wrong password takes.
fn time(runtime: &tokio::runtime::Runtime, basic: &BasicUsers, name: &str) -> Duration {
    let credentials = STANDARD.encode(format!("{name}:wrong-password"));
    let start = Instant::now();
    let outcome = runtime.block_on(basic.identify(&credentials));
    let elapsed = start.elapsed();
    assert!(outcome.is_err(), "a wrong password was accepted for {name}");
    elapsed
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn fail(message: &str) -> ExitCode {
    eprintln!("basic-timing: {message}");
    ExitCode::FAILURE
}
