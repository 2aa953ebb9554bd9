//! Measures how long a large contract takes to load and compile (parse, reference check,
//! schema conversion, routing, validator compilation).
//!
//! `cargo run --release -p armature-core --example contract_load [target-megabytes]`
//! Generates a synthetic OpenAPI 3.1 document of about that size (default 5 MB) with many paths,
//! parameters and `$ref`-linked component schemas, then loads it several times.

use std::fmt::Write;
use std::time::Instant;

use armature_core::Contract;

fn main() {
    let megabytes: f64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let text = generate((megabytes * 1024.0 * 1024.0) as usize);
    let mut timings = Vec::new();
    let mut operations = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let contract = match Contract::from_text(&text) {
            Ok(contract) => contract,
            Err(e) => {
                eprintln!("contract_load: the generated contract does not load: {e}");
                std::process::exit(1);
            }
        };
        timings.push(start.elapsed().as_secs_f64() * 1000.0);
        operations = contract.operations().len();
    }
    timings.sort_by(f64::total_cmp);
    println!(
        "contract of {:.2} MB, {operations} operations: load min {:.0} ms, median {:.0} ms, max {:.0} ms (5 runs)",
        text.len() as f64 / 1_048_576.0,
        timings[0],
        timings[2],
        timings[4]
    );
}

/// A JSON OpenAPI document of roughly `target` bytes: resources with CRUD operations, each with
/// path/query parameters, a request body and responses referring to component schemas.
fn generate(target: usize) -> String {
    let mut paths = String::new();
    let mut schemas = String::new();
    let mut index = 0;
    while paths.len() + schemas.len() < target {
        let _ = write!(
            schemas,
            r##""Resource{index}": {{"type": "object", "required": ["id", "name"], "additionalProperties": false,
              "properties": {{"id": {{"type": "integer", "minimum": 1, "readOnly": true}},
              "name": {{"type": "string", "minLength": 1, "maxLength": 200}},
              "email": {{"type": "string", "format": "email"}},
              "tags": {{"type": "array", "items": {{"type": "string", "enum": ["a", "b", "c"]}}, "maxItems": 20}},
              "owner": {{"$ref": "#/components/schemas/Owner"}},
              "status": {{"type": "string", "enum": ["active", "archived", "deleted"]}},
              "score": {{"type": "number", "minimum": 0, "maximum": 100}},
              "created": {{"type": "string", "format": "date-time"}}}}}},"##
        );
        let _ = write!(
            paths,
            r##""/resources{index}": {{
              "get": {{"operationId": "list{index}", "parameters": [
                  {{"name": "limit", "in": "query", "schema": {{"type": "integer", "minimum": 1, "maximum": 100}}}},
                  {{"name": "tags", "in": "query", "schema": {{"type": "array", "items": {{"type": "string"}}}}}},
                  {{"name": "filter", "in": "query", "style": "deepObject", "schema": {{"type": "object", "properties": {{"status": {{"type": "string"}}}}}}}}],
                "responses": {{"200": {{"description": "ok", "content": {{"application/json": {{"schema": {{"type": "array", "items": {{"$ref": "#/components/schemas/Resource{index}"}}}}}}}}}},
                  "default": {{"$ref": "#/components/responses/Problem"}}}}}},
              "post": {{"operationId": "create{index}", "requestBody": {{"required": true, "content": {{"application/json": {{"schema": {{"$ref": "#/components/schemas/Resource{index}"}}}}}}}},
                "responses": {{"201": {{"description": "created", "content": {{"application/json": {{"schema": {{"$ref": "#/components/schemas/Resource{index}"}}}}}}}},
                  "default": {{"$ref": "#/components/responses/Problem"}}}}}}}},
            "/resources{index}/{{id}}": {{
              "parameters": [{{"name": "id", "in": "path", "required": true, "schema": {{"type": "integer", "minimum": 1}}}}],
              "get": {{"operationId": "get{index}", "responses": {{"200": {{"description": "ok", "content": {{"application/json": {{"schema": {{"$ref": "#/components/schemas/Resource{index}"}}}}}}}},
                  "default": {{"$ref": "#/components/responses/Problem"}}}}}},
              "put": {{"operationId": "update{index}", "requestBody": {{"required": true, "content": {{"application/json": {{"schema": {{"$ref": "#/components/schemas/Resource{index}"}}}}}}}},
                "responses": {{"200": {{"description": "ok", "content": {{"application/json": {{"schema": {{"$ref": "#/components/schemas/Resource{index}"}}}}}}}},
                  "default": {{"$ref": "#/components/responses/Problem"}}}}}},
              "delete": {{"operationId": "delete{index}", "responses": {{"204": {{"description": "gone"}}, "default": {{"$ref": "#/components/responses/Problem"}}}}}}}},"##
        );
        index += 1;
    }
    paths.pop();
    format!(
        r##"{{"openapi": "3.1.0", "info": {{"title": "large", "version": "1"}}, "paths": {{{paths}}},
        "components": {{"responses": {{"Problem": {{"description": "problem", "content": {{"application/problem+json": {{"schema": {{"type": "object"}}}}}}}}}},
        "schemas": {{{schemas} "Owner": {{"type": "object", "properties": {{"name": {{"type": "string"}}}}}}}}}}}}"##
    )
}
