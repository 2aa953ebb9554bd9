//! Operations declared in code (Python's `@app.get("/users/{id}")`, for instance) instead of in
//! an OpenAPI file. They are merged into the OpenAPI document before it is compiled, so routing,
//! parameters, validation, `/openapi.json` and telemetry treat them exactly like operations read
//! from a file: a binding describes an operation, core decides what it means.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::router::template_params;
use super::{document, ContractError, METHODS};

/// One operation declared in code. Deserializable, so a binding can hand over the dict or
/// object its decorator built.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationSpec {
    /// HTTP method, any case: get, put, post, delete, patch, head, options or trace.
    pub method: String,
    /// Path template in OpenAPI form, `/users/{id}`.
    pub path: String,
    /// The operation's unique id; handlers are bound by it.
    pub operation_id: String,
    /// One-line summary shown in `/openapi.json`.
    #[serde(default)]
    pub summary: Option<String>,
    /// Tags grouping the operation in `/openapi.json` (and selecting it in tools that filter by tag).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Schemas of path parameters by name; a template parameter not listed is a string.
    #[serde(default)]
    pub path_params: Map<String, Value>,
    /// Schemas of optional query parameters by name.
    #[serde(default)]
    pub query_params: Map<String, Value>,
    /// Query, header and cookie parameters with everything OpenAPI says of one (required,
    /// description), for a binding that derives them from a handler's signature.
    #[serde(default)]
    pub parameters: Vec<ParameterSpec>,
    /// The request body, when the operation takes one.
    #[serde(default)]
    pub request_body: Option<BodySpec>,
    /// Documented responses; none means any status and any body are accepted.
    #[serde(default)]
    pub responses: Vec<ResponseSpec>,
    /// Schemas the others refer to as `#/components/schemas/<name>` (Pydantic's `$defs`).
    #[serde(default)]
    pub components: Map<String, Value>,
}

/// One query, header or cookie parameter declared in code.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// Its name on the wire (the query key, header name or cookie name).
    pub name: String,
    /// Where it is: `query`, `header` or `cookie` (path parameters come from the template).
    #[serde(rename = "in")]
    pub location: String,
    /// Whether a request without it is refused.
    #[serde(default)]
    pub required: bool,
    /// Its JSON Schema; a string when omitted.
    #[serde(default = "string_schema")]
    pub schema: Value,
    /// Shown in `/openapi.json`.
    #[serde(default)]
    pub description: Option<String>,
}

fn string_schema() -> Value {
    json!({"type": "string"})
}

/// A request body declared in code.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodySpec {
    /// Its media type.
    #[serde(default = "json_media_type")]
    pub media_type: String,
    /// Its JSON Schema.
    pub schema: Value,
    /// Whether a request without a body is refused.
    #[serde(default = "yes")]
    pub required: bool,
}

/// A response declared in code.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// Its status.
    pub status: u16,
    /// Its description; the status's reason phrase when omitted.
    #[serde(default)]
    pub description: Option<String>,
    /// Its media type, `application/json` when a schema is given.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Its body's JSON Schema; none documents a response without a body unless `media_type` is set.
    #[serde(default)]
    pub schema: Option<Value>,
}

fn json_media_type() -> String {
    "application/json".to_owned()
}

fn yes() -> bool {
    true
}

/// An OpenAPI 3.1 document with no operations, for a service declared entirely in code.
pub fn empty_document(title: &str, version: &str) -> Value {
    json!({"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": {}})
}

/// The operationId of a code-first operation declared without one: the method in lower case,
/// then each word of the path capitalized, a `{name}` parameter read as "By name":
/// `GET /users/{id}` is `getUsersById`, `POST /v1/order-items` is `postV1OrderItems`. Every
/// binding that names operations this way (Node's `app.get`, Go's `Handle`) asks here, so one
/// route gets one id whatever language declares it.
pub fn default_operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for segment in path.split('/') {
        let words = segment.replace('{', " By ").replace('}', " ");
        for word in words.split(|c: char| !c.is_ascii_alphanumeric()).filter(|word| !word.is_empty()) {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                id.push(first.to_ascii_uppercase());
                id.push_str(chars.as_str());
            }
        }
    }
    id
}

/// Adds `spec` to the OpenAPI document `doc` (parsed JSON). Fails, naming the place, when the
/// method is unknown, the path is not a template, a parameter is not in the template, the
/// method is already declared on that path, or a component schema clashes with another.
pub fn add_operation(doc: &mut Value, spec: &OperationSpec) -> Result<(), ContractError> {
    let method = spec.method.to_ascii_lowercase();
    let at = format!("/paths/{}/{method}", document::escape(&spec.path));
    if !METHODS.iter().any(|(key, _)| *key == method) {
        return Err(ContractError::new(&at, format!("unknown HTTP method {:?}", spec.method)));
    }
    if !spec.path.starts_with('/') {
        return Err(ContractError::new(&at, "a path must start with '/'"));
    }
    let in_template: Vec<&str> = template_params(&spec.path).collect();
    if let Some(name) = spec.path_params.keys().find(|name| !in_template.contains(&name.as_str())) {
        return Err(ContractError::new(&at, format!("path parameter {name:?} is not in the template")));
    }
    check_parameters(spec, &at)?;
    let root = doc.as_object_mut().ok_or_else(|| ContractError::new("", "the document must be an object"))?;
    merge_components(root, &spec.components)?;
    let paths = object_at(root, "paths", "/paths")?;
    let item = object_at(paths, &spec.path, &format!("/paths/{}", document::escape(&spec.path)))?;
    if item.contains_key(&method) {
        return Err(ContractError::new(&at, format!("{} {} is already declared", method.to_uppercase(), spec.path)));
    }
    item.insert(method, operation_object(spec, &in_template));
    Ok(())
}

/// Refuses a parameter whose location is not one of a code-first operation's, or a name declared
/// twice in one location (query names are case-sensitive; header names are not).
fn check_parameters(spec: &OperationSpec, at: &str) -> Result<(), ContractError> {
    let mut seen: Vec<(&str, String)> = spec.query_params.keys().map(|name| ("query", name.clone())).collect();
    for parameter in &spec.parameters {
        let location = parameter.location.as_str();
        if !matches!(location, "query" | "header" | "cookie") {
            return Err(ContractError::new(
                at,
                format!("parameter {:?}: `in` must be query, header or cookie, not {location:?}", parameter.name),
            ));
        }
        if parameter.name.is_empty() {
            return Err(ContractError::new(at, format!("a {location} parameter has an empty name")));
        }
        let key = if location == "header" { parameter.name.to_ascii_lowercase() } else { parameter.name.clone() };
        if seen.iter().any(|(other, name)| *other == location && *name == key) {
            return Err(ContractError::new(at, format!("{location} parameter {:?} is declared twice", parameter.name)));
        }
        seen.push((location, key));
    }
    Ok(())
}

fn operation_object(spec: &OperationSpec, in_template: &[&str]) -> Value {
    let mut parameters: Vec<Value> = in_template
        .iter()
        .map(|name| {
            let schema = spec.path_params.get(*name).cloned().unwrap_or_else(|| json!({"type": "string"}));
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    parameters
        .extend(spec.query_params.iter().map(|(name, schema)| json!({"name": name, "in": "query", "schema": schema})));
    parameters.extend(spec.parameters.iter().map(|parameter| {
        let mut object = json!({
            "name": parameter.name, "in": parameter.location, "required": parameter.required, "schema": parameter.schema,
        });
        if let Some(description) = &parameter.description {
            object["description"] = json!(description);
        }
        object
    }));
    let mut operation = Map::new();
    operation.insert("operationId".into(), json!(spec.operation_id));
    if let Some(summary) = &spec.summary {
        operation.insert("summary".into(), json!(summary));
    }
    if !spec.tags.is_empty() {
        operation.insert("tags".into(), json!(spec.tags));
    }
    if !parameters.is_empty() {
        operation.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(body) = &spec.request_body {
        operation.insert(
            "requestBody".into(),
            json!({"required": body.required, "content": {body.media_type.as_str(): {"schema": body.schema}}}),
        );
    }
    operation.insert("responses".into(), responses_object(&spec.responses));
    Value::Object(operation)
}

fn responses_object(responses: &[ResponseSpec]) -> Value {
    if responses.is_empty() {
        // Nothing documented: any status with any body, as in a framework without a contract.
        return json!({"default": {"description": "Any response", "content": {"*/*": {}}}});
    }
    let mut object = Map::new();
    for response in responses {
        let description = response.description.clone().unwrap_or_else(|| {
            http::StatusCode::from_u16(response.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Response")
                .to_owned()
        });
        let mut entry = Map::new();
        entry.insert("description".into(), json!(description));
        let media_type = match (&response.media_type, &response.schema) {
            (Some(media_type), _) => Some(media_type.clone()),
            (None, Some(_)) => Some(json_media_type()),
            (None, None) => None,
        };
        if let Some(media_type) = media_type {
            let media = match &response.schema {
                Some(schema) => json!({"schema": schema}),
                None => json!({}),
            };
            entry.insert("content".into(), json!({ media_type: media }));
        }
        object.insert(response.status.to_string(), Value::Object(entry));
    }
    Value::Object(object)
}

fn merge_components(root: &mut Map<String, Value>, schemas: &Map<String, Value>) -> Result<(), ContractError> {
    if schemas.is_empty() {
        return Ok(());
    }
    let components = object_at(root, "components", "/components")?;
    let existing = object_at(components, "schemas", "/components/schemas")?;
    for (name, schema) in schemas {
        match existing.get(name) {
            Some(other) if other != schema => {
                return Err(ContractError::new(
                    &format!("/components/schemas/{}", document::escape(name)),
                    format!("schema {name:?} is declared twice, differently"),
                ))
            }
            Some(_) => {}
            None => {
                existing.insert(name.clone(), schema.clone());
            }
        }
    }
    Ok(())
}

fn object_at<'d>(
    parent: &'d mut Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'d mut Map<String, Value>, ContractError> {
    parent
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ContractError::new(at, "must be an object"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contract;
    use http::Method;

    fn spec(value: Value) -> OperationSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn default_operation_ids_are_the_method_and_the_path_in_camel_case() {
        assert_eq!(default_operation_id("GET", "/users/{id}"), "getUsersById");
        assert_eq!(default_operation_id("post", "/v1/order-items"), "postV1OrderItems");
        assert_eq!(
            default_operation_id("DELETE", "/accounts/{owner}/notes/{noteId}"),
            "deleteAccountsByOwnerNotesByNoteId"
        );
        assert_eq!(default_operation_id("GET", "/"), "get");
        assert_eq!(default_operation_id("GET", "/files/{name}.json"), "getFilesByNameJson");
        assert_eq!(default_operation_id("GET", "/caf\u{e9}/x_y"), "getCafXY");
    }

    #[test]
    fn declared_operations_route_and_validate() {
        let mut doc = empty_document("t", "1");
        add_operation(
            &mut doc,
            &spec(json!({
                "method": "GET", "path": "/users/{id}", "operation_id": "getUser",
                "path_params": {"id": {"type": "integer", "minimum": 1}},
                "responses": [{"status": 200, "schema": {"$ref": "#/components/schemas/User"}}],
                "components": {"User": {"type": "object", "required": ["id"]}}
            })),
        )
        .unwrap();
        add_operation(
            &mut doc,
            &spec(json!({"method": "post", "path": "/users", "operation_id": "createUser",
                          "request_body": {"schema": {"type": "object"}}})),
        )
        .unwrap();
        let contract = Contract::from_value(doc.clone()).unwrap();
        assert_eq!(contract.operations().len(), 2);
        assert_eq!(doc["paths"]["/users/{id}"]["get"]["parameters"][0]["schema"]["minimum"], 1);
        assert_eq!(doc["paths"]["/users"]["post"]["responses"]["default"]["content"], json!({"*/*": {}}));
        assert!(contract.operation("createUser").is_some());
        assert!(matches!(contract.route(&Method::GET, "/users/7"), crate::contract::RouteMatch::Found { .. }));
    }

    #[test]
    fn refuses_what_cannot_be_served() {
        let mut doc = empty_document("t", "1");
        let get = json!({"method": "GET", "path": "/a/{id}", "operation_id": "a"});
        add_operation(&mut doc, &spec(get.clone())).unwrap();
        let again = add_operation(&mut doc, &spec(get)).unwrap_err();
        assert!(again.to_string().contains("already declared"), "{again}");
        let unknown = json!({"method": "FETCH", "path": "/b", "operation_id": "b"});
        assert!(add_operation(&mut doc, &spec(unknown)).unwrap_err().to_string().contains("unknown HTTP method"));
        let stray = json!({"method": "GET", "path": "/c", "operation_id": "c", "path_params": {"id": {}}});
        assert!(add_operation(&mut doc, &spec(stray)).unwrap_err().to_string().contains("not in the template"));
        let clash =
            json!({"method": "GET", "path": "/d", "operation_id": "d", "components": {"X": {"type": "string"}}});
        add_operation(&mut doc, &spec(clash)).unwrap();
        let clash =
            json!({"method": "GET", "path": "/e", "operation_id": "e", "components": {"X": {"type": "integer"}}});
        assert!(add_operation(&mut doc, &spec(clash)).unwrap_err().to_string().contains("declared twice"));
    }

    #[test]
    fn declared_parameters_are_served_and_enforced() {
        let mut doc = empty_document("t", "1");
        let with_parameters = json!({
            "method": "GET", "path": "/items", "operation_id": "items", "tags": ["items", "public"],
            "query_params": {"tag": {"type": "string"}},
            "parameters": [
                {"name": "limit", "in": "query", "required": true, "schema": {"type": "integer", "maximum": 10}},
                {"name": "x-tenant", "in": "header", "description": "the tenant"},
                {"name": "session", "in": "cookie", "schema": {"type": "string", "minLength": 2}}
            ]
        });
        add_operation(&mut doc, &spec(with_parameters)).unwrap();
        let parameters = &doc["paths"]["/items"]["get"]["parameters"];
        assert_eq!(
            parameters[1],
            json!({"name": "limit", "in": "query", "required": true,
            "schema": {"type": "integer", "maximum": 10}})
        );
        assert_eq!(
            parameters[2],
            json!({"name": "x-tenant", "in": "header", "required": false,
            "schema": {"type": "string"}, "description": "the tenant"})
        );
        assert_eq!(parameters[3]["in"], "cookie");
        assert_eq!(doc["paths"]["/items"]["get"]["tags"], json!(["items", "public"]));
        let contract = Contract::from_value(doc).unwrap();
        assert_eq!(contract.operation("items").map(|operation| operation.id.as_str()), Some("items"));
    }

    #[test]
    fn refuses_parameters_it_cannot_declare() {
        let bad = |parameters: Value| {
            let mut doc = empty_document("t", "1");
            let op = json!({"method": "GET", "path": "/p/{id}", "operation_id": "p",
                            "query_params": {"q": {}}, "parameters": parameters});
            add_operation(&mut doc, &spec(op)).unwrap_err().to_string()
        };
        assert!(bad(json!([{"name": "id", "in": "path"}])).contains("must be query, header or cookie"));
        assert!(bad(json!([{"name": "q", "in": "query"}])).contains("declared twice"));
        assert!(
            bad(json!([{"name": "X-A", "in": "header"}, {"name": "x-a", "in": "header"}])).contains("declared twice")
        );
        assert!(bad(json!([{"name": "", "in": "cookie"}])).contains("empty name"));
        // The same name in two locations is two parameters.
        let mut doc = empty_document("t", "1");
        let op = json!({"method": "GET", "path": "/r", "operation_id": "r",
                        "parameters": [{"name": "a", "in": "query"}, {"name": "a", "in": "header"}]});
        add_operation(&mut doc, &spec(op)).unwrap();
    }
}
