//! Armature's two policy evaluators against each other: the bytes become a generated policy and
//! input (`armature_policy_diff::generated`, the grammar of the compiled subset, with inputs whose
//! fields change type), evaluated by the compiled evaluator and by regorus' interpreter, in
//! OPA's default and strict builtin-error modes.
//!
//! Checked besides "no panic": whenever the interpreter decides, the compiled evaluator decides
//! the same; whenever the compiled evaluator fails (a conflict, a strict-mode builtin error), the
//! interpreter fails too. The interpreter failing where the compiled evaluator decides is not a
//! finding: the interpreter refuses in places OPA does not (iterating over a value that is not a
//! collection, an operator on the wrong types; docs/security.md), nor is the compiled evaluator
//! alone raising a conflict the interpreter misses (a function's definitions, a partial object's
//! key; inputs in the corpus: function-conflict-300ea338, object-conflict-99976f5c).
//!
//! The interpreter differs from OPA in further ways this target keeps finding (`x in` a number,
//! `not` over an undefined comparison), so under ci/fuzz (`POLICY_DISAGREEMENTS` set) a
//! disagreement is kept as a candidate instead of failing the run, and ci/fuzz holds every
//! candidate, and the whole grown corpus, against the real OPA (`armature-policy-diff
//! --corpus`), which fails on any difference of the compiled evaluator. Without the variable a
//! disagreement fails at once, as any libFuzzer finding.

#![no_main]

use armature_core::authorization::equivalence::{self, Answer};
use armature_policy_diff::generated::{self, DECISION};
use libfuzzer_sys::fuzz_target;

/// Where disagreements go instead of failing (`POLICY_DISAGREEMENTS`, set by ci/fuzz): the
/// interpreter differs from OPA in known ways (docs/security.md), so a disagreement is only a
/// candidate; ci/fuzz then holds each one against the real OPA, which decides.
fn disagreements() -> Option<&'static std::path::Path> {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("POLICY_DISAGREEMENTS").map(std::path::PathBuf::from)).as_deref()
}

/// Keeps the input (named by its FNV-1a hash) when collecting; fails the run otherwise.
fn disagree(bytes: &[u8], message: std::fmt::Arguments<'_>) {
    let Some(dir) = disagreements() else { panic!("{message}") };
    let hash = bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3));
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join(format!("{hash:016x}")), bytes);
}

fuzz_target!(|bytes: &[u8]| {
    let case = generated::generate(bytes);
    for strict in [false, true] {
        // A policy regorus does not accept (an unsafe variable, say) is no case.
        let Ok(mut pair) = equivalence::load(&case.policy, &serde_json::json!({}), DECISION, strict) else {
            continue;
        };
        let Some(compiled) = pair.compiled(&case.input) else { continue };
        let interpreted = pair.interpreter(&case.input);
        // Found by this target: regorus' interpreter does not always raise a conflict OPA
        // raises (two definitions of a function giving different values for the same
        // arguments; a partial object given two values for one key and then read whole), where
        // the compiled evaluator does. Held against OPA by the corpus check.
        let conflict_missed = matches!(&compiled, Answer::Error(message)
            if message.contains("must not produce multiple outputs") || message.contains("object keys must be unique"))
            && matches!(interpreted, Answer::Value(_));
        let agree = match (&compiled, &interpreted) {
            _ if conflict_missed => true,
            (Answer::Value(compiled), Answer::Value(interpreted)) => compiled == interpreted,
            (Answer::Error(_), Answer::Value(_)) => false,
            // The interpreter refusing alone is one of its known differences (see above).
            (Answer::Value(_) | Answer::Error(_), Answer::Error(_)) => true,
        };
        if !agree {
            disagree(
                bytes,
                format_args!(
                    "strict {strict}: compiled {compiled:?}, interpreter {interpreted:?}\ninput: {}\n{}",
                    case.input, case.policy
                ),
            );
        }
    }
});
