//! What the differential tests share: policies and inputs generated from bytes ([`generated`]),
//! used by the equivalence fuzzer (`fuzz/`) and by `armature-policy-diff --corpus`, which holds
//! the fuzzer's corpus against the real OPA.

pub mod generated;
