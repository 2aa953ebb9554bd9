//! Empty: present so that the build-dependencies in Cargo.toml take part in the build, where their
//! features join those of every other build script and proc-macro.
fn main() {}
