# Sourced by the ci/ scripts: which cargo profile they build and where its artefacts are.
# `release` (thin LTO) by default, for people and benchmarks; ci/test sets BUILD_PROFILE=ci
# (no LTO, see Cargo.toml) so the test run links its ~20 binaries in seconds each.
profile="${BUILD_PROFILE:-release}"
out_dir="target/$profile"

# Every workspace target, so that dependencies get the same features as in `cargo test
# --workspace`: after ci/test's test step this compiles nothing, where a `-p` build could
# compile hyper, serde and the core a second time with other features.
build_workspace() {
  cargo build --profile "$profile" --quiet --workspace --all-targets
}
