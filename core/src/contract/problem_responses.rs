//! The served contract lists the answers core itself gives: an operation's document gains a
//! problem response for each status the pipeline can answer it with that the contract does not
//! already declare, so generated clients and schema-driven testers see every status that can come.
//!
//! Only `/openapi.json` changes: response validation still checks handlers against the contract as
//! written, so a handler cannot answer one of these statuses just because core may.

use serde_json::{json, Map, Value};

use super::{Contract, Operation};

/// Name of the schema and of the response added under `components`.
const COMPONENT: &str = "ArmatureProblem";

/// The document served at `/openapi.json`: the contract, with core's problem responses added to
/// every operation. `policy` says whether an authorization policy is configured (401/403 then
/// apply to every operation, open ones included).
pub fn with_problem_responses(contract: &Contract, policy: bool) -> Value {
    let mut document = contract.document().clone();
    let mut added = false;
    for operation in contract.operations() {
        let statuses = statuses(operation, policy);
        let Some(responses) = document
            .pointer_mut(&format!(
                "/paths/{}/{}",
                escape(&operation.path_template),
                operation.method.as_str().to_ascii_lowercase()
            ))
            .and_then(Value::as_object_mut)
            .map(|operation| operation.entry("responses").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for status in statuses {
            let range = format!("{}XX", &status[..1]);
            if responses.contains_key(status) || responses.contains_key(&range) {
                continue;
            }
            responses.insert(status.to_owned(), json!({"$ref": format!("#/components/responses/{COMPONENT}")}));
            added = true;
        }
    }
    if added {
        add_components(&mut document);
    }
    document
}

/// The statuses core may answer `operation` with, beyond what its handler does.
fn statuses(operation: &Operation, policy: bool) -> Vec<&'static str> {
    let mut statuses = Vec::new();
    // A secured operation also answers 400 to a credential field given twice.
    if !operation.params.is_empty() || operation.body.is_some() || !operation.security.is_open() {
        statuses.push("400");
    }
    if policy || !operation.security.is_open() {
        statuses.extend(["401", "403"]);
    }
    if operation.body.is_some() {
        statuses.extend(["408", "413", "415"]);
    }
    statuses.extend(["431", "500", "503", "504"]);
    statuses
}

fn add_components(document: &mut Value) {
    let Some(root) = document.as_object_mut() else { return };
    let components = root.entry("components").or_insert_with(|| json!({}));
    let Some(components) = components.as_object_mut() else { return };
    let schemas = components.entry("schemas").or_insert_with(|| json!({}));
    if let Some(schemas) = schemas.as_object_mut() {
        schemas.entry(COMPONENT).or_insert_with(problem_schema);
    }
    let responses = components.entry("responses").or_insert_with(|| json!({}));
    if let Some(responses) = responses.as_object_mut() {
        responses.entry(COMPONENT).or_insert_with(|| {
            json!({
                "description": "A refusal or failure answered by Armature itself (RFC 9457 problem details).",
                "content": {crate::problem::CONTENT_TYPE: {"schema": {"$ref": format!("#/components/schemas/{COMPONENT}")}}}
            })
        });
    }
}

/// The shape `Problem::render` writes (docs/errors.md).
fn problem_schema() -> Value {
    let mut properties = Map::new();
    for name in ["type", "title", "detail", "instance", "request_id", "trace_id"] {
        properties.insert(name.to_owned(), json!({"type": "string"}));
    }
    properties.insert("status".to_owned(), json!({"type": "integer", "minimum": 100, "maximum": 599}));
    properties.insert(
        "errors".to_owned(),
        json!({
            "type": "array",
            "items": {
                "type": "object",
                "required": ["location", "pointer", "message"],
                "properties": {
                    "location": {"type": "string", "enum": ["path", "query", "header", "cookie", "body", "response"]},
                    "pointer": {"type": "string"},
                    "message": {"type": "string"}
                }
            }
        }),
    );
    json!({
        "type": "object",
        "required": ["type", "title", "status", "detail", "instance", "request_id", "trace_id"],
        "properties": properties
    })
}

/// A path template as one JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: &str = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
    get:
      operationId: getItem
      responses:
        "200": {description: ok}
        "4XX": {description: any client error}
  /ping:
    get:
      operationId: ping
      responses: {"200": {description: ok}}
    post:
      operationId: pong
      requestBody: {content: {application/json: {schema: {type: object}}}}
      responses: {"201": {description: made}, "400": {description: mine}}
"#;

    #[test]
    fn problem_statuses_are_added_where_core_can_answer_them() {
        let contract = Contract::from_text(CONTRACT).unwrap();
        let served = with_problem_responses(&contract, false);
        let responses =
            |pointer: &str| served.pointer(pointer).unwrap().as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(responses("/paths/~1ping/get/responses"), ["200", "431", "500", "503", "504"]);
        // Declared ones are kept as written, and a range covers its statuses.
        assert_eq!(served.pointer("/paths/~1ping/post/responses/400/description"), Some(&json!("mine")));
        assert_eq!(
            responses("/paths/~1ping/post/responses"),
            ["201", "400", "408", "413", "415", "431", "500", "503", "504"]
        );
        assert_eq!(responses("/paths/~1items~1{id}/get/responses"), ["200", "4XX", "500", "503", "504"]);
        assert!(served.pointer("/components/schemas/ArmatureProblem/required").is_some());
        assert!(served.pointer("/components/responses/ArmatureProblem/content/application~1problem+json").is_some());
    }

    #[test]
    fn a_policy_adds_401_and_403_everywhere() {
        let contract = Contract::from_text(CONTRACT).unwrap();
        let served = with_problem_responses(&contract, true);
        assert!(served.pointer("/paths/~1ping/get/responses/401").is_some());
        assert!(served.pointer("/paths/~1ping/get/responses/403").is_some());
    }
}
