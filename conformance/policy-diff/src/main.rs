//! `armature-policy-diff`: runs generated requests through Armature's policy evaluation and
//! through the real OPA (`opa run --server`), on the conformance policy and the OPA-Envoy-style
//! policies in `conformance/policy-diff/policies`, in OPA's default builtin-error mode and in
//! its strict one, and reports every request whose decision (allow, status, reason, headers, or
//! a refusal for an evaluation error) differs.
//!
//! ```text
//! armature-policy-diff [--opa PATH] [--cases N] [--seed S] [--policy NAME]... [--report-only]
//! armature-policy-diff --opa PATH --corpus DIR [--report-only]
//! ```
//!
//! `--corpus`: each file of the equivalence fuzzer's corpus (fuzz/corpus/policy_equivalence)
//! becomes a generated policy and input (`armature_policy_diff::generated`), evaluated by both
//! of Armature's evaluators and by `opa eval`, in both builtin-error modes.
//!
//! `--opa`: the OPA binary (ci/install-opa puts v1.22.4 in target/tools/opa); without it the
//! compiled evaluator is compared with the interpreter. Exit status 1 when the compiled
//! evaluator differs in a way docs/security.md does not list as known (0 with
//! `--report-only`), 2 on a usage or setup error; the interpreter's differences are reported,
//! not failed on. ci/test-policy-diff runs it.

mod cases;
mod corpus;
mod opa;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use armature_core::authorization::{
    self, AuthorizationRequest, Authorizer, Decision, EvaluationError, PolicyOperation,
};
use armature_core::config::authorization::PolicyEvaluator;
use armature_core::config::AuthorizationConfig;
use armature_core::connection::Connection;
use armature_core::identity::CredentialLocations;
use armature_core::path_params::{PathParam, PathParams};

use crate::cases::Case;

/// One policy set: its files and the rule that decides.
struct PolicySet {
    name: String,
    policy: PathBuf,
    data: PathBuf,
    decision: String,
}

/// What one evaluation gave, reduced to what reaches the client.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Decided(Decision),
    Refused,
}

fn outcome(result: Result<Decision, EvaluationError>) -> Outcome {
    match result {
        Ok(decision) => Outcome::Decided(decision),
        Err(_) => Outcome::Refused,
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("armature-policy-diff: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, String> {
    let mut args = std::env::args().skip(1);
    let (mut opa, mut count, mut seed, mut only, mut report_only) = (None, 300usize, 7u64, Vec::new(), false);
    let mut corpus: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} takes a value"));
        match arg.as_str() {
            "--opa" => opa = Some(PathBuf::from(value()?)),
            "--cases" => count = value()?.parse().map_err(|_| "--cases takes a number")?,
            "--seed" => seed = value()?.parse().map_err(|_| "--seed takes a number")?,
            "--policy" => only.push(value()?),
            "--report-only" => report_only = true,
            "--corpus" => corpus = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let Some(corpus) = corpus {
        let opa = opa.ok_or("--corpus needs --opa")?;
        return corpus::check(&opa, &corpus).map(|unexpected| unexpected == 0 || report_only);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sets: Vec<PolicySet> =
        policy_sets(&root)?.into_iter().filter(|set| only.is_empty() || only.contains(&set.name)).collect();
    let mut rng = fastrand::Rng::with_seed(seed);
    let cases: Vec<Case> = (0..count).map(|_| cases::generate(&mut rng)).collect();
    let against = if opa.is_some() { "OPA" } else { "the interpreter" };
    println!(
        "{} requests (seed {seed}) on {} policy sets, both builtin-error modes, against {against}",
        cases.len(),
        sets.len()
    );
    println!("| policy | mode | evaluator | compared | differences | of which known |");
    println!("|---|---|---|---|---|---|");
    let mut shown = BTreeMap::new();
    let mut unexpected = 0;
    for set in &sets {
        let mut server = match &opa {
            Some(opa) => Some(opa::Server::start(opa, &[set.policy.clone(), set.data.clone()])?),
            None => None,
        };
        for strict in [false, true] {
            let mode = if strict { "strict" } else { "default" };
            let authorizers = evaluators(set, strict)?;
            // Each authorizer's plan of each operation, made once (as the application does).
            let mut operations: Vec<BTreeMap<&str, PolicyOperation>> =
                authorizers.iter().map(|_| BTreeMap::new()).collect();
            let mut found: Vec<(usize, usize)> = vec![(0, 0); authorizers.len()];
            for case in &cases {
                for (index, (_, authorizer)) in authorizers.iter().enumerate() {
                    operations[index]
                        .entry(case.operation_id)
                        .or_insert_with(|| authorizer.operation(case.operation_id, &case.tags, case.path_template));
                }
                let parts = parts(case);
                let params: PathParams<'_> =
                    case.path_params.iter().map(|(name, value)| PathParam::new(name, value.clone())).collect();
                let connection = Connection::default();
                let request = |index: usize| AuthorizationRequest {
                    parts: &parts,
                    body: None,
                    identity: &case.identity,
                    operation: &operations[index][case.operation_id],
                    path_params: &params,
                    connection: &connection,
                };
                let input = authorizers[0].1.input_json(&request(0));
                // Without OPA, the interpreter (last) is the reference for the compiled evaluator.
                let expected = match server.as_mut() {
                    Some(server) => match server.evaluate(&set.decision, &input, strict)? {
                        opa::Answer::Value(value) => outcome(authorization::decision_from_json(value.as_ref())),
                        opa::Answer::Error(_) => Outcome::Refused,
                    },
                    None => outcome(authorizers[1].1.authorize(&request(1))),
                };
                for (index, (name, authorizer)) in authorizers.iter().enumerate() {
                    if server.is_none() && index == 1 {
                        continue;
                    }
                    let got = outcome(authorizer.authorize(&request(index)));
                    if got == expected {
                        continue;
                    }
                    let known = known_difference(&expected, &got);
                    found[index].0 += 1;
                    if known.is_some() {
                        found[index].1 += 1;
                    } else if index == 0 {
                        unexpected += 1;
                    }
                    let examples = shown.entry((set.name.clone(), *name, known)).or_insert(0);
                    if *examples < 2 {
                        *examples += 1;
                        let why = known.map_or(String::new(), |known| format!(" [known: {known}]"));
                        println!(
                            "\n{} ({mode}), {name}{why}: {against} {expected:?}, Armature {got:?}\n  input: {input}",
                            set.name
                        );
                    }
                }
            }
            for (index, (name, _)) in authorizers.iter().enumerate() {
                if server.is_none() && index == 1 {
                    continue;
                }
                let (differences, known) = found[index];
                println!("| {} | {mode} | {name} | {} | {differences} | {known} |", set.name, cases.len());
            }
        }
    }
    println!("\n{unexpected} differences of the compiled evaluator that are not known ones (docs/security.md)");
    Ok(unexpected == 0 || report_only)
}

/// A difference docs/security.md lists as known, by name, or None.
///
/// - "integral float in sprintf": OPA keeps a number's spelling (`1e3`, `1.0`) and `sprintf`'s
///   `%d` prints such a number as Go prints a float64 (`%!d(float64=1000)`); regorus' numbers
///   do not keep it, and Armature prints the integer.
fn known_difference(expected: &Outcome, got: &Outcome) -> Option<&'static str> {
    let (Outcome::Decided(expected), Outcome::Decided(got)) = (expected, got) else { return None };
    let (Some(opa), Some(ours)) = (&expected.reason, &got.reason) else { return None };
    let mut rewritten = String::new();
    let mut rest = opa.as_str();
    while let Some(at) = rest.find("%!d(float64=") {
        rewritten.push_str(&rest[..at]);
        let after = &rest[at + "%!d(float64=".len()..];
        let end = after.find(')')?;
        rewritten.push_str(&after[..end]);
        rest = &after[end + 1..];
    }
    rewritten.push_str(rest);
    let same =
        rewritten == *ours && Decision { reason: None, ..expected.clone() } == Decision { reason: None, ..got.clone() };
    (same && rewritten != *opa).then_some("integral float in sprintf")
}

/// The authorizers to hold against the reference: the compiled evaluator (checked: a
/// difference that is not a known one fails the run) and the interpreter (reported: where it
/// cannot be made to answer as OPA, docs/security.md says so).
fn evaluators(set: &PolicySet, strict: bool) -> Result<Vec<(&'static str, Authorizer)>, String> {
    let mut built = Vec::new();
    for (name, evaluator) in [("compiled", PolicyEvaluator::Compiled), ("interpreter", PolicyEvaluator::Interpreter)] {
        let config = AuthorizationConfig {
            policies: vec![set.policy.clone()],
            data: vec![set.data.clone()],
            decision: set.decision.clone(),
            include_body: false,
            timeout_ms: 1_000,
            decision_log: false,
            evaluator,
            strict_builtin_errors: strict,
        };
        let authorizer = Authorizer::new(&config, &CredentialLocations::default())
            .map_err(|e| format!("{}: {e}", set.name))?
            .ok_or("no policy")?;
        built.push((name, authorizer));
    }
    Ok(built)
}

fn policy_sets(root: &Path) -> Result<Vec<PolicySet>, String> {
    let mut sets = vec![PolicySet {
        name: "conformance".to_owned(),
        policy: root.join("conformance/policy/authz.rego"),
        data: root.join("conformance/policy/data.yaml"),
        decision: "data.armature.authz.decision".to_owned(),
    }];
    let dir = root.join("conformance/policy-diff/policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rego"))
        .collect();
    files.sort();
    for policy in files {
        let name = policy.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_owned();
        sets.push(PolicySet {
            decision: format!("data.diff.{name}.decision"),
            name,
            policy,
            data: root.join("conformance/policy-diff/data.yaml"),
        });
    }
    Ok(sets)
}

fn parts(case: &Case) -> http::request::Parts {
    let mut builder = http::Request::builder().method(case.method).uri(case.target.as_str());
    for (name, value) in &case.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(()).unwrap_or_else(|_| http::Request::builder().uri("/").body(()).unwrap_or_default()).into_parts().0
}
