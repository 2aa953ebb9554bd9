//! The equivalence fuzzer's corpus held against the real OPA: every file is a generated policy
//! and input, evaluated with `opa eval` and with both of Armature's evaluators, in both
//! builtin-error modes. Cases OPA refuses to compile (its type checker is stricter than regorus'
//! parser) are counted and skipped.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use armature_core::authorization::equivalence::{self, Answer};
use armature_policy_diff::generated::{self, DECISION};
use serde_json::Value;

/// Inputs whose difference of the compiled evaluator from OPA is known and documented
/// (docs/security.md, "Known differences": strict mode, bodies OPA does not evaluate at all).
const KNOWN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/known");

/// Checks every corpus file; returns how many differences of the compiled evaluator it found
/// that are not known ones.
pub fn check(opa: &Path, corpus: &Path) -> Result<usize, String> {
    let known: Vec<Vec<u8>> = std::fs::read_dir(KNOWN)
        .map(|entries| entries.filter_map(|entry| std::fs::read(entry.ok()?.path()).ok()).collect())
        .unwrap_or_default();
    let mut known_differences = 0;
    let mut files: Vec<_> = std::fs::read_dir(corpus)
        .map_err(|e| format!("{}: {e}", corpus.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let scratch = std::env::temp_dir().join(format!("armature-policy-diff-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let policy_file = scratch.join("policy.rego");
    let (mut compared, mut refused_by_opa, mut refused_by_regorus, mut not_compiled) = (0, 0, 0, 0);
    let (mut compiled_differences, mut interpreter_differences) = (0, 0);
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let case = generated::generate(&bytes);
        std::fs::write(&policy_file, &case.policy).map_err(|e| e.to_string())?;
        for strict in [false, true] {
            let Ok(mut pair) = equivalence::load(&case.policy, &serde_json::json!({}), DECISION, strict) else {
                refused_by_regorus += 1;
                continue;
            };
            let Some(expected) = opa_eval(opa, &policy_file, &case.input, strict)? else {
                refused_by_opa += 1;
                continue;
            };
            compared += 1;
            let mode = if strict { "strict" } else { "default" };
            match pair.compiled(&case.input) {
                None => not_compiled += 1,
                Some(got) if !same(&expected, &got) && known.contains(&bytes) => known_differences += 1,
                Some(got) if !same(&expected, &got) => {
                    compiled_differences += 1;
                    println!(
                        "\n{} ({mode}), compiled: OPA {expected:?}, Armature {got:?}\ninput: {}\n{}",
                        file.display(),
                        case.input,
                        case.policy
                    );
                }
                Some(_) => {}
            }
            if !same(&expected, &pair.interpreter(&case.input)) {
                interpreter_differences += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!(
        "{} corpus files: {compared} evaluations compared with OPA ({refused_by_opa} policies OPA refuses, \
         {refused_by_regorus} regorus refuses, {not_compiled} not compiled); compiled evaluator: \
         {compiled_differences} differences ({known_differences} more known, conformance/policy-diff/known); \
         interpreter: {interpreter_differences} (reported, not failed on)",
        files.len()
    );
    Ok(compiled_differences)
}

/// OPA's answer, or None when OPA does not compile the policy.
fn opa_eval(opa: &Path, policy: &Path, input: &Value, strict: bool) -> Result<Option<Answer>, String> {
    let mut command = Command::new(opa);
    command.args(["eval", "--format", "json", "--stdin-input", "--data"]).arg(policy);
    if strict {
        command.arg("--strict-builtin-errors");
    }
    let mut child = command
        .arg(DECISION)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", opa.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.to_string().as_bytes()).map_err(|e| e.to_string())?;
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    if let Some(errors) = answer.get("errors").and_then(Value::as_array) {
        let compile_error = errors.iter().any(|error| {
            error
                .get("code")
                .and_then(Value::as_str)
                .is_some_and(|code| code.starts_with("rego_") && code != "rego_recursion_error")
        });
        let message = errors.first().and_then(|error| error.get("message")).and_then(Value::as_str).unwrap_or("error");
        return Ok(if compile_error { None } else { Some(Answer::Error(message.to_owned())) });
    }
    let value = answer.pointer("/result/0/expressions/0/value").map(Value::to_string);
    Ok(Some(Answer::Value(value)))
}

/// Same answer: both errors, or values equal as JSON with numbers compared by value.
fn same(expected: &Answer, got: &Answer) -> bool {
    match (expected, got) {
        (Answer::Error(_), Answer::Error(_)) => true,
        (Answer::Value(None), Answer::Value(None)) => true,
        (Answer::Value(Some(a)), Answer::Value(Some(b))) => {
            match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
                (Ok(a), Ok(b)) => json_equal(&a, &b),
                _ => a == b,
            }
        }
        _ => false,
    }
}

fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_equal(a, b)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, value)| b.get(key).is_some_and(|other| json_equal(value, other)))
        }
        _ => a == b,
    }
}
