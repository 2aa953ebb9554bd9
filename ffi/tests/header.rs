//! include/armature.h is generated from this crate and checked in: this test regenerates it
//! and fails on any difference. `ci/generate-header` (ARMATURE_WRITE_HEADER=1) rewrites it.

use std::path::Path;

#[test]
fn checked_in_header_matches_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header_path = crate_dir.join("../include/armature.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml parses");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    if std::env::var_os("ARMATURE_WRITE_HEADER").is_some() {
        std::fs::write(&header_path, &generated).expect("include/armature.h is writable");
        return;
    }
    let checked_in = std::fs::read_to_string(&header_path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/armature.h is out of date with ffi/src: run ci/generate-header and commit the result"
    );
}
