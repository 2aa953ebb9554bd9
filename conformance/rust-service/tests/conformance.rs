//! Every conformance case against the Rust handlers, over real HTTP, in-process.

use std::time::Duration;

use armature_conformance::{load_dir, Runner};
use armature_conformance_service::{build_app, conformance_dir, conformance_jwt_secret, repository_root};
use armature_core::config::authorization::PolicyEvaluator;
use armature_core::config::{Config, ConfigFormat};

#[test]
fn every_case_passes_over_http_on_the_compiled_evaluator() {
    every_case_passes(PolicyEvaluator::Compiled);
}

/// The fallback path gives the same answers to every case (the conformance policy compiles, so
/// only configuring the interpreter runs it).
#[test]
fn every_case_passes_over_http_on_the_interpreter() {
    every_case_passes(PolicyEvaluator::Interpreter);
}

fn every_case_passes(evaluator: PolicyEvaluator) {
    let text = std::fs::read_to_string(conformance_dir().join("config.yaml")).unwrap();
    let mut config = Config::from_str_only(&text, ConfigFormat::Yaml).unwrap();
    config.authorization.evaluator = evaluator;
    config.server.port = 0;
    // As ci/conformance: HTTPS beside plain HTTP, client certificates verified when presented.
    let credentials = conformance_dir().join("credentials");
    config.server.tls.port = Some(0);
    config.server.tls.cert_file = Some(credentials.join("tls-server.pem"));
    config.server.tls.key_file = Some(credentials.join("tls-server.key.pem"));
    config.server.tls.client_ca_file = Some(credentials.join("tls-ca.pem"));
    config.server.tls.client_auth = armature_core::config::ClientAuth::Optional;
    config.resolve_relative_paths(&repository_root());
    // What ci/serve exports: the HMAC key the conformance JWTs are signed with.
    std::env::set_var("CONFORMANCE_JWT_SECRET", conformance_jwt_secret().unwrap());
    let server = armature_core::server::start(build_app(config).unwrap()).unwrap();
    let cases = load_dir(&conformance_dir().join("cases")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let https = format!("https://{}", server.tls_addr().unwrap());
    let runner = Runner::new(&format!("http://{}", server.local_addr()), Duration::from_secs(10))
        .and_then(|runner| runner.with_tls(&https, &credentials))
        .unwrap();
    let results = runtime.block_on(runner.run_all(&cases));
    // Nothing may be skipped: this runner has the HTTPS address the tls.yaml cases need.
    let failures: Vec<String> =
        results.iter().filter(|r| !r.passed()).map(|r| format!("{}{}", r.case.name, r.report())).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), results.len(), failures.join("\n"));
}
