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
//! alone raising a conflict between a function's definitions, which the interpreter misses
//! (its input is in the corpus: function-conflict-300ea338), and the compiled evaluator's
//! answer there is held against the real OPA by `armature-policy-diff --corpus` over this
//! target's corpus (ci/test-policy-diff).

#![no_main]

use armature_core::authorization::equivalence::{self, Answer};
use armature_policy_diff::generated::{self, DECISION};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let case = generated::generate(bytes);
    for strict in [false, true] {
        // A policy regorus does not accept (an unsafe variable, say) is no case.
        let Ok(mut pair) = equivalence::load(&case.policy, &serde_json::json!({}), DECISION, strict) else {
            continue;
        };
        let Some(compiled) = pair.compiled(&case.input) else { continue };
        let interpreted = pair.interpreter(&case.input);
        // Found by this target: regorus' interpreter does not always raise the conflict between
        // two definitions of a function that give different values for the same arguments,
        // where OPA (and the compiled evaluator) do. Held against OPA by the corpus check.
        let function_conflict_missed = matches!(&compiled, Answer::Error(message) if message.contains("functions must not produce multiple outputs"))
            && matches!(interpreted, Answer::Value(_));
        match (&compiled, &interpreted) {
            _ if function_conflict_missed => {}
            (_, Answer::Value(_)) | (Answer::Error(_), _) => assert_eq!(
                std::mem::discriminant(&compiled),
                std::mem::discriminant(&interpreted),
                "strict {strict}: compiled {compiled:?}, interpreter {interpreted:?}\ninput: {}\n{}",
                case.input,
                case.policy
            ),
            _ => {}
        }
        if let (Answer::Value(compiled), Answer::Value(interpreted)) = (&compiled, &interpreted) {
            assert_eq!(compiled, interpreted, "strict {strict}\ninput: {}\n{}", case.input, case.policy);
        }
    }
});
