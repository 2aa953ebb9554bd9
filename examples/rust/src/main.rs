//! The example service in Rust: `cargo run --release -p armature-example`.
//!
//! Runs with embedded defaults (port 8080, overridable with `ARMATURE_SERVER__PORT` or a file
//! named by `ARMATURE_CONFIG`) and the contract in `examples/contract.yaml`, compiled in.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use armature_core::{App, Config, Contract, Handler, HandlerError, HandlerResponse};
use http::StatusCode;
use serde_json::{json, Value};

const CONTRACT: &str = include_str!("../../contract.yaml");

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armature-example: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let next_id = Arc::new(AtomicU64::new(1));
    let app = App::builder(Config::load()?)
        .contract(Contract::from_text(CONTRACT)?)
        .handler(
            "hello",
            Handler::from_async(|request| async move {
                let name = request.params.query.get("name").and_then(Value::as_str).unwrap_or("World").to_owned();
                Ok(HandlerResponse::json(StatusCode::OK, &json!({ "message": format!("Hello, {name}!") })))
            }),
        )
        .handler(
            "getUser",
            Handler::from_async(|request| async move {
                let id = request.params.path.get("id").cloned().unwrap_or(Value::Null);
                Ok(HandlerResponse::json(
                    StatusCode::OK,
                    &json!({"id": id, "name": "Alice", "email": "alice@example.com"}),
                ))
            }),
        )
        .handler(
            "createUser",
            Handler::from_async(move |request| {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                async move {
                    let mut user: Value = serde_json::from_slice(&request.body)
                        .map_err(|e| HandlerError::Failed(format!("body: {e}")))?;
                    user["id"] = json!(id);
                    Ok(HandlerResponse::json(StatusCode::CREATED, &user))
                }
            }),
        )
        .build()?;
    let server = armature_core::server::start(app)?;
    println!("armature example service listening on http://{}", server.local_addr());
    println!("try: curl http://{}/hello?name=you", server.local_addr());
    server.run_until_signal();
    Ok(())
}
