//! A contract with errors fails at start-up with a message naming the place in the document.

use armature_core::Contract;

fn error_of(text: &str) -> String {
    Contract::from_text(text).unwrap_err().to_string()
}

const HEAD: &str = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n";

#[test]
fn unresolved_reference_names_its_place() {
    let message = error_of(&format!(
        "{HEAD}paths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/Missing'}}\n"
    ));
    assert!(message.contains("#/paths/~1a/get/responses/200/content/application~1json/schema"), "{message}");
    assert!(message.contains("does not resolve"), "{message}");
}

#[test]
fn undeclared_path_parameter_is_named() {
    let message = error_of(&format!("{HEAD}paths:\n  /users/{{id}}:\n    get:\n      responses: {{}}\n"));
    assert!(message.contains("{id}"), "{message}");
    assert!(message.contains("#/paths/~1users~1{id}/get"), "{message}");
}

#[test]
fn optional_path_parameter_is_refused() {
    let message = error_of(&format!(
        "{HEAD}paths:\n  /u/{{id}}:\n    get:\n      parameters:\n        - {{name: id, in: path, schema: {{type: string}}}}\n      responses: {{}}\n"
    ));
    assert!(message.contains("/parameters/0/required"), "{message}");
}

#[test]
fn bad_style_is_named() {
    let message = error_of(&format!(
        "{HEAD}paths:\n  /u:\n    get:\n      parameters:\n        - {{name: q, in: query, style: matrix, schema: {{type: string}}}}\n      responses: {{}}\n"
    ));
    assert!(message.contains("/parameters/0/style"), "{message}");
}

#[test]
fn invalid_schema_is_named() {
    let message = error_of(&format!(
        "{HEAD}paths:\n  /u:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {{type: 12}}\n      responses: {{}}\n"
    ));
    assert!(message.contains("/requestBody/content/application~1json/schema"), "{message}");
}

#[test]
fn duplicate_operation_id_is_named() {
    let message = error_of(&format!(
        "{HEAD}paths:\n  /a:\n    get: {{operationId: x, responses: {{}}}}\n  /b:\n    get: {{operationId: x, responses: {{}}}}\n"
    ));
    assert!(message.contains("\"x\""), "{message}");
}

#[test]
fn bad_response_key_is_named() {
    let message =
        error_of(&format!("{HEAD}paths:\n  /a:\n    get:\n      responses:\n        '2YY': {{description: x}}\n"));
    assert!(message.contains("/responses/2YY"), "{message}");
}

#[test]
fn wrong_version_and_syntax() {
    assert!(error_of("openapi: '2.0'\n").contains("unsupported version"));
    assert!(error_of("openapi: 3.1\n").contains("must be a string"));
    assert!(error_of("openapi: [\n").contains("invalid YAML"));
    assert!(error_of("{\"openapi\": }").contains("invalid JSON"));
}

#[test]
fn operations_are_listed_in_document_order_with_generated_ids() {
    let contract = Contract::from_text(&format!(
        "{HEAD}paths:\n  /a:\n    get: {{operationId: first, responses: {{}}}}\n    post: {{responses: {{}}}}\n"
    ))
    .unwrap();
    let ids: Vec<&str> = contract.operations().iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["first", "POST /a"]);
}
