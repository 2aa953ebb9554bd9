//! The repository's own case files load, have unique names and cover enough ground.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use armature_conformance::load_dir;

fn cases_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../cases"))
}

#[test]
fn repository_cases_load_with_unique_names() {
    let cases = load_dir(cases_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut names = HashSet::new();
    for case in &cases {
        assert!(names.insert(case.name.as_str()), "duplicate {}", case.name);
    }
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        *per_file.entry(case.file.as_str()).or_default() += 1;
    }
    for expected in [
        "body.yaml",
        "builtin.yaml",
        "handler.yaml",
        "limits.yaml",
        "params.yaml",
        "request_id.yaml",
        "response.yaml",
        "routing.yaml",
        "trace_context.yaml",
    ] {
        assert!(per_file.contains_key(expected), "no cases from {expected}");
    }
}

#[test]
fn files_load_in_name_order() {
    let cases = load_dir(cases_dir()).unwrap_or_else(|e| panic!("{e}"));
    let files: Vec<&str> = cases.iter().map(|c| c.file.as_str()).collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
}
