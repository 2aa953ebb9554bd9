//! `ci/serve rust`: the conformance service in the foreground, on `ARMATURE_SERVER__PORT`.

use std::process::ExitCode;

use armature_conformance_service::{build_app, conformance_dir, repository_root};
use armature_core::Config;

/// mimalloc, as the C library and the Python extension use: the pipeline (the Rego interpreter
/// above all) makes many small short-lived allocations, which it serves faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mut config = match Config::from_file(conformance_dir().join("config.yaml")) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("armature: {e}");
            return ExitCode::from(2);
        }
    };
    config.resolve_relative_paths(&repository_root());
    let app = match build_app(config) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("armature: {e}");
            return ExitCode::from(2);
        }
    };
    match armature_core::server::start(app) {
        Ok(server) => {
            println!("armature conformance service (rust) listening on http://{}", server.local_addr());
            server.run_until_signal();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("armature: {e}");
            ExitCode::from(1)
        }
    }
}
