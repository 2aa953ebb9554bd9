//! Turning the contract's Schema Objects into JSON Schema the validator understands.
//!
//! `jsonschema` implements JSON Schema draft 2020-12 and knows nothing of OpenAPI, so a contract's
//! schemas cannot be handed to it as written:
//!
//! - OpenAPI 3.0 uses its own dialect: `nullable`, boolean `exclusiveMinimum`/`exclusiveMaximum`,
//!   and `$ref` objects whose siblings must be ignored. Fed to a draft 2020-12 validator these
//!   would be silently ignored or misread, so they are rewritten into their 2020-12 equivalents.
//! - `readOnly` and `writeOnly` are mere annotations to JSON Schema, but OpenAPI gives them a
//!   direction: a read-only property must not be sent by a client, a write-only one must not be
//!   sent by the server, and neither is required where it is not allowed. A schema therefore
//!   becomes two schemas, one per [`View`].
//! - `discriminator` is also only an annotation; validating a `oneOf` of variants as written
//!   yields "matches none of the variants" (or, worse, "matches several"). Rewritten into
//!   `if`/`then` on the discriminating property, errors name the one variant the payload chose.
//!
//! The whole document is converted with its layout intact, so the local `$ref`s it holds
//! (`#/components/schemas/Pet`) keep pointing at the right, converted, place.

use serde_json::{json, Map, Value};

use super::METHODS;

/// Which OpenAPI major.minor the document declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenApiVersion {
    /// OpenAPI 3.0.x: its own JSON Schema dialect (`nullable`, boolean exclusive bounds).
    V3_0,
    /// OpenAPI 3.1.x: JSON Schema draft 2020-12 plus OpenAPI's annotations.
    V3_1,
}

/// Which direction a schema is validated in: `readOnly` properties are forbidden in requests
/// and `writeOnly` properties are forbidden in responses; each is not required in the other direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// What a client sends.
    Request,
    /// What the server sends.
    Response,
}

/// How deep `readOnly`/`writeOnly` are looked for through `$ref` and `allOf`: enough for any real
/// contract, and it keeps a recursive schema (`Node -> allOf -> Node`) from looping forever.
const MAX_LOOKUP_DEPTH: u8 = 16;

/// Returns a copy of the whole OpenAPI document in which every Schema Object is converted for `view`.
pub fn convert_document(doc: &Value, version: OpenApiVersion, view: View) -> Value {
    let converter = Converter { doc, version, view };
    let mut out = doc.clone();
    if let Some(components) = out.get_mut("components") {
        for schema in values_mut(components.get_mut("schemas")) {
            converter.replace(schema);
        }
        for parameter in values_mut(components.get_mut("parameters")) {
            converter.parameter(parameter);
        }
        for header in values_mut(components.get_mut("headers")) {
            converter.parameter(header);
        }
        for body in values_mut(components.get_mut("requestBodies")) {
            converter.request_body(body);
        }
        for response in values_mut(components.get_mut("responses")) {
            converter.response(response);
        }
        if version == OpenApiVersion::V3_1 {
            for item in values_mut(components.get_mut("pathItems")) {
                converter.path_item(item);
            }
        }
    }
    for item in values_mut(out.get_mut("paths")) {
        converter.path_item(item);
    }
    // `webhooks` is a 3.1 field; in a 3.0 document it is an unknown key, copied as is.
    if version == OpenApiVersion::V3_1 {
        for item in values_mut(out.get_mut("webhooks")) {
            converter.path_item(item);
        }
    }
    out
}

/// Converts one Schema Object (and its subschemas). `doc` is the whole (unconverted) document, used to look up
/// `$ref` targets (local refs only, "#/..."), e.g. to find whether a referenced property schema is readOnly.
pub fn convert_schema(schema: &Value, doc: &Value, version: OpenApiVersion, view: View) -> Value {
    Converter { doc, version, view }.schema(schema)
}

/// The values of a JSON object, or nothing when the value is absent or not an object.
fn values_mut(value: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    value.and_then(Value::as_object_mut).into_iter().flat_map(|map| map.values_mut())
}

/// The elements of a JSON array, or nothing when the value is absent or not an array.
fn elements_mut(value: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    value.and_then(Value::as_array_mut).into_iter().flat_map(|list| list.iter_mut())
}

/// A Reference Object standing in for a parameter, response...: its target is converted where
/// it is defined, and converting it here too would be wrong twice over (it is no schema).
fn is_reference(value: &Value) -> bool {
    value.get("$ref").is_some()
}

struct Converter<'d> {
    doc: &'d Value,
    version: OpenApiVersion,
    view: View,
}

impl Converter<'_> {
    fn replace(&self, schema: &mut Value) {
        *schema = self.schema(schema);
    }

    /// A Parameter or Header Object: both carry their schema in `schema` or `content`.
    fn parameter(&self, parameter: &mut Value) {
        if is_reference(parameter) {
            return;
        }
        if let Some(schema) = parameter.get_mut("schema") {
            self.replace(schema);
        }
        self.content(parameter);
    }

    fn content(&self, holder: &mut Value) {
        for media in values_mut(holder.get_mut("content")) {
            if let Some(schema) = media.get_mut("schema") {
                self.replace(schema);
            }
        }
    }

    fn request_body(&self, body: &mut Value) {
        if !is_reference(body) {
            self.content(body);
        }
    }

    fn response(&self, response: &mut Value) {
        if is_reference(response) {
            return;
        }
        self.content(response);
        for header in values_mut(response.get_mut("headers")) {
            self.parameter(header);
        }
    }

    fn path_item(&self, item: &mut Value) {
        // A path item may pair a `$ref` with operations of its own (3.0 merges them), so unlike
        // the other objects it is walked anyway: whatever it holds inline still needs converting.
        for parameter in elements_mut(item.get_mut("parameters")) {
            self.parameter(parameter);
        }
        for (method, _) in &METHODS {
            let Some(operation) = item.get_mut(*method) else { continue };
            for parameter in elements_mut(operation.get_mut("parameters")) {
                self.parameter(parameter);
            }
            if let Some(body) = operation.get_mut("requestBody") {
                self.request_body(body);
            }
            for response in values_mut(operation.get_mut("responses")) {
                self.response(response);
            }
        }
    }

    fn schema(&self, schema: &Value) -> Value {
        let Value::Object(source) = schema else { return schema.clone() };
        let v3_0 = self.version == OpenApiVersion::V3_0;
        let mut out = match source.get("$ref") {
            // OpenAPI 3.0 says a Reference Object's siblings SHALL be ignored; draft 2020-12
            // would apply them, so they go (`nullable` is read from `source` below).
            Some(reference) if v3_0 => Map::from_iter([("$ref".to_owned(), reference.clone())]),
            _ => self.subschemas(source),
        };
        self.forbid_properties(source, &mut out);
        convert_discriminator(&mut out);
        if !v3_0 {
            return Value::Object(out);
        }
        exclusive_bound(&mut out, "exclusiveMinimum", "minimum");
        exclusive_bound(&mut out, "exclusiveMaximum", "maximum");
        out.remove("nullable");
        if source.get("nullable") != Some(&Value::Bool(true)) {
            return Value::Object(out);
        }
        // Adding "null" to `type` only works when nothing else constrains the value: an
        // `allOf: [{$ref: Address}]` next to it would still reject null. Otherwise "null, or the
        // schema as written" is the only faithful reading.
        let composed = ["allOf", "anyOf", "oneOf", "$ref"].iter().any(|key| out.contains_key(*key));
        match out.get_mut("type") {
            Some(kind) if !composed => {
                add_null(kind);
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    if !values.contains(&Value::Null) {
                        values.push(Value::Null);
                    }
                }
                Value::Object(out)
            }
            _ => json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
        }
    }

    /// Copies a schema's keywords, converting those that hold subschemas.
    fn subschemas(&self, source: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in source {
            let converted = match key.as_str() {
                "properties" | "patternProperties" | "dependentSchemas" | "$defs" | "definitions" => match value {
                    Value::Object(map) => {
                        Value::Object(map.iter().map(|(name, schema)| (name.clone(), self.schema(schema))).collect())
                    }
                    other => other.clone(),
                },
                "allOf" | "anyOf" | "oneOf" | "prefixItems" | "items" => match value {
                    Value::Array(list) => Value::Array(list.iter().map(|schema| self.schema(schema)).collect()),
                    other => self.schema(other),
                },
                "additionalProperties"
                | "additionalItems"
                | "not"
                | "if"
                | "then"
                | "else"
                | "contains"
                | "propertyNames"
                | "unevaluatedProperties"
                | "unevaluatedItems" => self.schema(value),
                _ => value.clone(),
            };
            out.insert(key.clone(), converted);
        }
        out
    }

    /// Replaces the properties this view must not carry by `false` and drops them from `required`.
    fn forbid_properties(&self, source: &Map<String, Value>, out: &mut Map<String, Value>) {
        let flag = match self.view {
            View::Request => "readOnly",
            View::Response => "writeOnly",
        };
        let Some(properties) = source.get("properties").and_then(Value::as_object) else { return };
        let forbidden: Vec<&String> = properties
            .iter()
            .filter(|(_, schema)| self.has_flag(schema, flag, MAX_LOOKUP_DEPTH))
            .map(|(name, _)| name)
            .collect();
        if forbidden.is_empty() {
            return;
        }
        if let Some(Value::Object(converted)) = out.get_mut("properties") {
            for name in &forbidden {
                // `false` rather than removal: with the property gone, `additionalProperties`
                // would decide, and it usually allows anything.
                converted.insert((*name).clone(), Value::Bool(false));
            }
        }
        if let Some(Value::Array(required)) = out.get_mut("required") {
            required.retain(|name| name.as_str().is_none_or(|name| !forbidden.iter().any(|f| f.as_str() == name)));
            if required.is_empty() {
                out.remove("required");
            }
        }
    }

    /// Whether a property schema is marked `flag: true`, itself or through a `$ref` or `allOf`:
    /// `id: {$ref: '#/components/schemas/Id'}` with a read-only `Id` is read-only too.
    fn has_flag(&self, schema: &Value, flag: &str, depth: u8) -> bool {
        // A `$ref` sibling counts even in 3.0, where siblings are otherwise ignored: marking a
        // referenced property read-only that way is common, and the intent is unmistakable.
        if depth == 0 {
            return false;
        }
        if schema.get(flag) == Some(&Value::Bool(true)) {
            return true;
        }
        let target = schema.get("$ref").and_then(Value::as_str).and_then(|reference| self.lookup(reference));
        target.is_some_and(|target| self.has_flag(target, flag, depth - 1))
            || schema
                .get("allOf")
                .and_then(Value::as_array)
                .is_some_and(|members| members.iter().any(|member| self.has_flag(member, flag, depth - 1)))
    }

    /// The target of a local `$ref` in the unconverted document.
    fn lookup(&self, reference: &str) -> Option<&Value> {
        let pointer = percent_decode(reference.strip_prefix('#')?)?;
        self.doc.pointer(&pointer)
    }
}

/// Decodes `%XX` escapes: a `$ref` is a URI fragment, so `#/paths/~1a%7Bid%7D` is legal.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Makes a 3.0 `type` accept null.
fn add_null(kind: &mut Value) {
    match kind {
        Value::String(name) if name != "null" => *kind = json!([name.clone(), "null"]),
        Value::Array(names) if !names.contains(&json!("null")) => names.push(json!("null")),
        _ => {}
    }
}

/// Rewrites a 3.0 boolean `exclusiveMinimum`/`exclusiveMaximum` into the numeric form.
fn exclusive_bound(out: &mut Map<String, Value>, exclusive: &str, inclusive: &str) {
    match out.get(exclusive) {
        Some(Value::Bool(true)) => {
            out.remove(exclusive);
            if let Some(bound) = out.remove(inclusive) {
                out.insert(exclusive.to_owned(), bound);
            }
        }
        Some(Value::Bool(false)) => {
            out.remove(exclusive);
        }
        // Already numeric (3.1 style): nothing to rewrite.
        _ => {}
    }
}

/// Replaces a discriminated `oneOf`/`anyOf` of `$ref`s by one `if`/`then` per variant, so a
/// payload is checked against the variant it names instead of against all of them.
fn convert_discriminator(out: &mut Map<String, Value>) {
    let Some(discriminator) = out.remove("discriminator") else { return };
    let Some(property) = discriminator.get("propertyName").and_then(Value::as_str) else { return };
    let Some(key) = ["oneOf", "anyOf"].into_iter().find(|key| out.contains_key(*key)) else { return };
    let members: Option<Vec<String>> = out.get(key).and_then(Value::as_array).and_then(|members| {
        members.iter().map(|member| member.get("$ref").and_then(Value::as_str).map(str::to_owned)).collect()
    });
    // Inline variants have no name to discriminate by: leave the `oneOf` to do its usual job.
    let Some(members) = members.filter(|members| !members.is_empty()) else { return };

    let mut entries: Vec<(String, String)> = discriminator
        .get("mapping")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(value, target)| Some((value.clone(), mapping_target(target.as_str()?))))
        .collect();
    for reference in members {
        if !entries.iter().any(|(_, target)| *target == reference) {
            let name = reference.rsplit('/').next().unwrap_or(&reference).to_owned();
            entries.push((name, reference));
        }
    }

    out.remove(key);
    let values: Vec<Value> = entries.iter().map(|(value, _)| Value::String(value.clone())).collect();
    let mut branches = vec![json!({ "required": [property], "properties": { property: { "enum": values } } })];
    branches.extend(entries.into_iter().map(|(value, target)| {
        json!({
            "if": { "properties": { property: { "const": value } }, "required": [property] },
            "then": { "$ref": target },
        })
    }));
    match out.get_mut("allOf") {
        Some(Value::Array(all_of)) => all_of.extend(branches),
        _ => {
            out.insert("allOf".to_owned(), Value::Array(branches));
        }
    }
}

/// A mapping value is a schema name (`Dog`) or a reference (`#/components/schemas/Dog`).
fn mapping_target(target: &str) -> String {
    let is_name = target.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if is_name && !target.is_empty() {
        format!("#/components/schemas/{target}")
    } else {
        target.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use OpenApiVersion::{V3_0, V3_1};
    use View::{Request, Response};

    fn convert(schema: Value, version: OpenApiVersion, view: View) -> Value {
        convert_schema(&schema, &json!({}), version, view)
    }

    fn convert_in(schema: Value, doc: &Value, view: View) -> Value {
        convert_schema(&schema, doc, V3_0, view)
    }

    #[test]
    fn nullable_with_type_adds_null_to_type() {
        let out = convert(json!({"type": "string", "nullable": true, "maxLength": 3}), V3_0, Request);
        assert_eq!(out, json!({"type": ["string", "null"], "maxLength": 3}));
    }

    #[test]
    fn nullable_with_enum_adds_null_to_enum() {
        let out = convert(json!({"type": "string", "enum": ["a", "b"], "nullable": true}), V3_0, Request);
        assert_eq!(out, json!({"type": ["string", "null"], "enum": ["a", "b", null]}));
    }

    #[test]
    fn nullable_ref_is_wrapped_in_any_of_without_siblings() {
        let out =
            convert(json!({"$ref": "#/components/schemas/Pet", "nullable": true, "description": "x"}), V3_0, Request);
        assert_eq!(out, json!({"anyOf": [{"$ref": "#/components/schemas/Pet"}, {"type": "null"}]}));
    }

    #[test]
    fn nullable_all_of_is_wrapped_in_any_of() {
        let out = convert(json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/A"}]}), V3_0, Request);
        assert_eq!(out, json!({"anyOf": [{"allOf": [{"$ref": "#/components/schemas/A"}]}, {"type": "null"}]}));
    }

    #[test]
    fn nullable_with_type_and_all_of_is_wrapped_so_null_passes_the_members() {
        let out = convert(
            json!({"type": "object", "nullable": true, "allOf": [{"$ref": "#/components/schemas/A"}]}),
            V3_0,
            Request,
        );
        assert_eq!(
            out,
            json!({"anyOf": [
                {"type": "object", "allOf": [{"$ref": "#/components/schemas/A"}]},
                {"type": "null"}
            ]})
        );
    }

    #[test]
    fn nullable_false_is_removed_and_nullable_is_left_alone_in_3_1() {
        assert_eq!(convert(json!({"type": "integer", "nullable": false}), V3_0, Request), json!({"type": "integer"}));
        let schema = json!({"type": "integer", "nullable": true});
        assert_eq!(convert(schema.clone(), V3_1, Request), schema);
    }

    #[test]
    fn ref_siblings_are_dropped_in_3_0() {
        let out =
            convert(json!({"$ref": "#/components/schemas/Pet", "description": "d", "maxLength": 2}), V3_0, Request);
        assert_eq!(out, json!({"$ref": "#/components/schemas/Pet"}));
    }

    #[test]
    fn ref_siblings_are_kept_and_converted_in_3_1() {
        let out = convert(
            json!({
                "$ref": "#/components/schemas/Pet",
                "description": "d",
                "properties": {"id": {"type": "integer", "readOnly": true}}
            }),
            V3_1,
            Request,
        );
        assert_eq!(out, json!({"$ref": "#/components/schemas/Pet", "description": "d", "properties": {"id": false}}));
    }

    #[test]
    fn boolean_exclusive_bounds_become_numeric() {
        let out = convert(
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 10, "exclusiveMaximum": true}),
            V3_0,
            Request,
        );
        assert_eq!(out, json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10}));
    }

    #[test]
    fn false_exclusive_bounds_are_removed_and_numeric_ones_kept() {
        let out = convert(
            json!({"minimum": 1, "exclusiveMinimum": false, "maximum": 5, "exclusiveMaximum": false}),
            V3_0,
            Request,
        );
        assert_eq!(out, json!({"minimum": 1, "maximum": 5}));
        let schema = json!({"exclusiveMinimum": 1, "exclusiveMaximum": 5});
        assert_eq!(convert(schema.clone(), V3_1, Request), schema);
    }

    fn account() -> Value {
        json!({
            "type": "object",
            "required": ["id", "name", "password"],
            "properties": {
                "id": {"type": "integer", "readOnly": true},
                "name": {"type": "string"},
                "password": {"type": "string", "writeOnly": true}
            }
        })
    }

    #[test]
    fn read_only_is_forbidden_and_not_required_in_requests() {
        let out = convert(account(), V3_0, Request);
        assert_eq!(
            out,
            json!({
                "type": "object",
                "required": ["name", "password"],
                "properties": {"id": false, "name": {"type": "string"}, "password": {"type": "string", "writeOnly": true}}
            })
        );
    }

    #[test]
    fn write_only_is_forbidden_and_not_required_in_responses() {
        let out = convert(account(), V3_1, Response);
        assert_eq!(
            out,
            json!({
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "integer", "readOnly": true}, "name": {"type": "string"}, "password": false}
            })
        );
    }

    #[test]
    fn required_is_removed_when_it_becomes_empty() {
        let schema = json!({"required": ["id"], "properties": {"id": {"readOnly": true}, "note": {}}});
        assert_eq!(convert(schema.clone(), V3_0, Request), json!({"properties": {"id": false, "note": {}}}));
        assert_eq!(convert(schema.clone(), V3_0, Response), schema);
    }

    fn doc_with_read_only_id() -> Value {
        json!({"components": {"schemas": {
            "Id": {"type": "integer", "readOnly": true},
            "Stamp": {"allOf": [{"$ref": "#/components/schemas/Id"}]},
            "Weird{name}": {"type": "string", "writeOnly": true}
        }}})
    }

    #[test]
    fn read_only_is_found_through_ref_and_all_of() {
        let doc = doc_with_read_only_id();
        let schema = json!({
            "required": ["id", "stamp", "label"],
            "properties": {
                "id": {"$ref": "#/components/schemas/Id"},
                "stamp": {"allOf": [{"$ref": "#/components/schemas/Stamp"}], "description": "d"},
                "label": {"type": "string"}
            }
        });
        assert_eq!(
            convert_in(schema.clone(), &doc, Request),
            json!({"required": ["label"], "properties": {"id": false, "stamp": false, "label": {"type": "string"}}})
        );
        assert_eq!(
            convert_in(schema, &doc, Response),
            json!({
                "required": ["id", "stamp", "label"],
                "properties": {
                    "id": {"$ref": "#/components/schemas/Id"},
                    "stamp": {"allOf": [{"$ref": "#/components/schemas/Stamp"}], "description": "d"},
                    "label": {"type": "string"}
                }
            })
        );
    }

    #[test]
    fn write_only_is_found_through_a_percent_encoded_ref() {
        let doc = doc_with_read_only_id();
        let schema = json!({"properties": {"secret": {"$ref": "#/components/schemas/Weird%7Bname%7D"}}});
        assert_eq!(convert_in(schema, &doc, Response), json!({"properties": {"secret": false}}));
    }

    #[test]
    fn recursive_refs_do_not_loop() {
        let doc = json!({"components": {"schemas": {
            "Node": {"allOf": [{"$ref": "#/components/schemas/Node"}], "properties": {"next": {"$ref": "#/components/schemas/Node"}}}
        }}});
        let schema = json!({"properties": {"next": {"$ref": "#/components/schemas/Node"}}});
        assert_eq!(convert_in(schema.clone(), &doc, Request), schema);
    }

    fn if_then(property: &str, value: &str, target: &str) -> Value {
        json!({"if": {"properties": {property: {"const": value}}, "required": [property]}, "then": {"$ref": target}})
    }

    #[test]
    fn discriminator_with_explicit_mapping() {
        let out = convert(
            json!({
                "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                "discriminator": {"propertyName": "kind", "mapping": {
                    "cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"
                }}
            }),
            V3_0,
            Request,
        );
        assert_eq!(
            out,
            json!({"allOf": [
                {"required": ["kind"], "properties": {"kind": {"enum": ["cat", "dog"]}}},
                if_then("kind", "cat", "#/components/schemas/Cat"),
                if_then("kind", "dog", "#/components/schemas/Dog")
            ]})
        );
    }

    #[test]
    fn discriminator_mapping_to_a_bare_name() {
        let out = convert(
            json!({
                "oneOf": [{"$ref": "#/components/schemas/Dog"}],
                "discriminator": {"propertyName": "kind", "mapping": {"dog": "Dog"}}
            }),
            V3_1,
            Response,
        );
        assert_eq!(
            out,
            json!({"allOf": [
                {"required": ["kind"], "properties": {"kind": {"enum": ["dog"]}}},
                if_then("kind", "dog", "#/components/schemas/Dog")
            ]})
        );
    }

    #[test]
    fn discriminator_implicit_mapping_for_unmapped_members() {
        let out = convert(
            json!({
                "type": "object",
                "oneOf": [
                    {"$ref": "#/components/schemas/Cat"},
                    {"$ref": "#/components/schemas/Dog"},
                    {"$ref": "#/components/schemas/Lizard"}
                ],
                "discriminator": {"propertyName": "petType", "mapping": {"dog": "#/components/schemas/Dog"}}
            }),
            V3_0,
            Request,
        );
        assert_eq!(
            out,
            json!({"type": "object", "allOf": [
                {"required": ["petType"], "properties": {"petType": {"enum": ["dog", "Cat", "Lizard"]}}},
                if_then("petType", "dog", "#/components/schemas/Dog"),
                if_then("petType", "Cat", "#/components/schemas/Cat"),
                if_then("petType", "Lizard", "#/components/schemas/Lizard")
            ]})
        );
    }

    #[test]
    fn discriminator_with_any_of_keeps_other_keys_and_existing_all_of() {
        let out = convert(
            json!({
                "type": "object",
                "properties": {"kind": {"type": "string"}},
                "allOf": [{"required": ["kind"]}],
                "anyOf": [{"$ref": "#/components/schemas/Cat"}],
                "discriminator": {"propertyName": "kind"}
            }),
            V3_1,
            Request,
        );
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {"kind": {"type": "string"}},
                "allOf": [
                    {"required": ["kind"]},
                    {"required": ["kind"], "properties": {"kind": {"enum": ["Cat"]}}},
                    if_then("kind", "Cat", "#/components/schemas/Cat")
                ]
            })
        );
    }

    #[test]
    fn discriminator_without_ref_variants_is_just_removed() {
        let base = json!({"type": "object", "discriminator": {"propertyName": "kind"}, "required": ["kind"]});
        assert_eq!(convert(base, V3_0, Request), json!({"type": "object", "required": ["kind"]}));
        let inline = json!({"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/Cat"}], "discriminator": {"propertyName": "kind"}});
        assert_eq!(
            convert(inline, V3_1, Request),
            json!({"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/Cat"}]})
        );
    }

    #[test]
    fn subschemas_are_converted_at_any_depth() {
        let nullable = json!({"type": "string", "nullable": true});
        let converted = json!({"type": ["string", "null"]});
        let out = convert(
            json!({
                "type": "object",
                "properties": {"tags": {"type": "array", "items": nullable.clone()}},
                "patternProperties": {"^x-": nullable.clone()},
                "additionalProperties": {"allOf": [nullable.clone(), {"not": nullable.clone()}]},
                "prefixItems": [nullable.clone()],
                "if": nullable.clone(), "then": nullable.clone(), "else": nullable.clone(),
                "contains": nullable.clone(),
                "propertyNames": nullable.clone(),
                "dependentSchemas": {"a": nullable.clone()},
                "unevaluatedProperties": nullable.clone(),
                "unevaluatedItems": nullable.clone(),
                "$defs": {"d": nullable.clone()},
                "definitions": {"d": {"oneOf": [nullable.clone()], "anyOf": [nullable]}}
            }),
            V3_0,
            Request,
        );
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {"tags": {"type": "array", "items": converted.clone()}},
                "patternProperties": {"^x-": converted.clone()},
                "additionalProperties": {"allOf": [converted.clone(), {"not": converted.clone()}]},
                "prefixItems": [converted.clone()],
                "if": converted.clone(), "then": converted.clone(), "else": converted.clone(),
                "contains": converted.clone(),
                "propertyNames": converted.clone(),
                "dependentSchemas": {"a": converted.clone()},
                "unevaluatedProperties": converted.clone(),
                "unevaluatedItems": converted.clone(),
                "$defs": {"d": converted.clone()},
                "definitions": {"d": {"oneOf": [converted.clone()], "anyOf": [converted]}}
            })
        );
    }

    #[test]
    fn read_only_applies_inside_nested_objects() {
        let out = convert(
            json!({"type": "array", "items": {"allOf": [{"required": ["id"], "properties": {"id": {"readOnly": true}}}]}}),
            V3_1,
            Request,
        );
        assert_eq!(out, json!({"type": "array", "items": {"allOf": [{"properties": {"id": false}}]}}));
    }

    #[test]
    fn booleans_formats_and_other_keywords_are_kept() {
        assert_eq!(convert(json!(true), V3_0, Request), json!(true));
        assert_eq!(convert(json!(false), V3_1, Response), json!(false));
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:x",
            "type": "string",
            "format": "date-time",
            "example": "2024-01-01T00:00:00Z",
            "x-internal": true,
            "additionalProperties": false
        });
        assert_eq!(convert(schema.clone(), V3_1, Request), schema);
    }

    /// Schema that each view changes visibly, to see where `convert_document` went.
    fn marked() -> Value {
        json!({"type": "string", "nullable": true})
    }

    fn converted() -> Value {
        json!({"type": ["string", "null"]})
    }

    #[test]
    fn document_components_are_converted() {
        let doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1", "x-nullable": {"nullable": true}},
            "components": {
                "schemas": {"A": marked(), "B": {"$ref": "#/components/schemas/A", "description": "d"}},
                "parameters": {
                    "P": {"name": "p", "in": "query", "schema": marked()},
                    "Q": {"name": "q", "in": "query", "content": {"application/json": {"schema": marked()}}}
                },
                "headers": {"H": {"schema": marked()}},
                "requestBodies": {"R": {"content": {"application/json": {"schema": marked()}}}},
                "responses": {"S": {
                    "description": "s",
                    "content": {"application/json": {"schema": marked(), "example": {"nullable": true}}},
                    "headers": {"X-H": {"schema": marked()}, "X-R": {"$ref": "#/components/headers/H"}}
                }},
                "examples": {"E": {"value": marked()}}
            }
        });
        let out = convert_document(&doc, V3_0, Request);
        assert_eq!(
            out,
            json!({
                "openapi": "3.0.3",
                "info": {"title": "t", "version": "1", "x-nullable": {"nullable": true}},
                "components": {
                    "schemas": {"A": converted(), "B": {"$ref": "#/components/schemas/A"}},
                    "parameters": {
                        "P": {"name": "p", "in": "query", "schema": converted()},
                        "Q": {"name": "q", "in": "query", "content": {"application/json": {"schema": converted()}}}
                    },
                    "headers": {"H": {"schema": converted()}},
                    "requestBodies": {"R": {"content": {"application/json": {"schema": converted()}}}},
                    "responses": {"S": {
                        "description": "s",
                        "content": {"application/json": {"schema": converted(), "example": {"nullable": true}}},
                        "headers": {"X-H": {"schema": converted()}, "X-R": {"$ref": "#/components/headers/H"}}
                    }},
                    "examples": {"E": {"value": marked()}}
                }
            })
        );
    }

    #[test]
    fn document_paths_are_converted_and_references_left_alone() {
        let doc = json!({
            "openapi": "3.0.3",
            "paths": {"/pets/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": marked()},
                    {"$ref": "#/components/parameters/P", "nullable": true}
                ],
                "get": {
                    "parameters": [{"name": "q", "in": "query", "schema": marked()}, {"$ref": "#/components/parameters/Q"}],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": marked()}},
                            "headers": {"X-A": {"schema": marked()}, "X-B": {"$ref": "#/components/headers/H", "schema": marked()}}
                        },
                        "404": {"$ref": "#/components/responses/S", "content": {"application/json": {"schema": marked()}}}
                    },
                    "callbacks": {"c": {"{$url}": {"post": {"requestBody": {"content": {"a/b": {"schema": marked()}}}}}}}
                },
                "put": {"requestBody": {"content": {"application/json": {"schema": marked()}}}, "responses": {}},
                "post": {"requestBody": {"$ref": "#/components/requestBodies/R", "content": {"a/b": {"schema": marked()}}}},
                "summary": "s"
            }}
        });
        let out = convert_document(&doc, V3_0, Response);
        assert_eq!(
            out,
            json!({
                "openapi": "3.0.3",
                "paths": {"/pets/{id}": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": converted()},
                        {"$ref": "#/components/parameters/P", "nullable": true}
                    ],
                    "get": {
                        "parameters": [{"name": "q", "in": "query", "schema": converted()}, {"$ref": "#/components/parameters/Q"}],
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {"application/json": {"schema": converted()}},
                                "headers": {"X-A": {"schema": converted()}, "X-B": {"$ref": "#/components/headers/H", "schema": marked()}}
                            },
                            "404": {"$ref": "#/components/responses/S", "content": {"application/json": {"schema": marked()}}}
                        },
                        "callbacks": {"c": {"{$url}": {"post": {"requestBody": {"content": {"a/b": {"schema": marked()}}}}}}}
                    },
                    "put": {"requestBody": {"content": {"application/json": {"schema": converted()}}}, "responses": {}},
                    "post": {"requestBody": {"$ref": "#/components/requestBodies/R", "content": {"a/b": {"schema": marked()}}}},
                    "summary": "s"
                }}
            })
        );
    }

    #[test]
    fn document_views_differ_and_use_the_unconverted_document_for_refs() {
        let doc = json!({
            "openapi": "3.1.0",
            "components": {"schemas": {
                "Id": {"type": "integer", "readOnly": true},
                "Pet": {"type": "object", "required": ["id"], "properties": {"id": {"$ref": "#/components/schemas/Id"}}}
            }},
            "webhooks": {"new": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "properties": {"id": {"$ref": "#/components/schemas/Id"}}
            }}}}}}}
        });
        let request = convert_document(&doc, V3_1, Request);
        assert_eq!(
            request.pointer("/components/schemas/Pet"),
            Some(&json!({"type": "object", "properties": {"id": false}}))
        );
        assert_eq!(
            request.pointer("/webhooks/new/post/requestBody/content/application~1json/schema"),
            Some(&json!({"properties": {"id": false}}))
        );
        assert_eq!(convert_document(&doc, V3_1, Response), doc);
    }

    #[test]
    fn webhooks_are_left_alone_in_3_0() {
        let doc = json!({"openapi": "3.0.3", "webhooks": {"w": {"post": {"parameters": [{"schema": marked()}]}}}});
        assert_eq!(convert_document(&doc, V3_0, Request), doc);
    }
}
