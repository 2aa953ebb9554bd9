//! Compiling the contract's schemas into `jsonschema` validators, once, at start.
//!
//! Both converted views of the document (request and response, see `schema`) are registered as
//! resources; each schema is then compiled as a `$ref` into its view, so local `$ref`s inside the
//! contract resolve without copying the document per schema.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Registry};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use super::schema::{self, OpenApiVersion, View};
use super::{document, ContractError};
use crate::problem::{Location, Violation};

const REQUEST_URI: &str = "urn:armature:contract:request";
const RESPONSE_URI: &str = "urn:armature:contract:response";

/// Characters a JSON pointer may hold that a URI fragment may not.
const FRAGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'%')
    .add(b'#')
    .add(b'[')
    .add(b']');

/// The converted views of a contract and the registry that resolves references into them.
pub(crate) struct Validators {
    registry: Registry<'static>,
    /// Compiled validators by (view, pointer of the schema compiled). Large contracts point many
    /// operations at the same component schema; each is compiled once and shared.
    compiled: Mutex<HashMap<(View, String), Arc<SchemaValidator>>>,
}

impl Validators {
    pub(crate) fn new(doc: &Value, version: OpenApiVersion) -> Result<Self, ContractError> {
        let request = schema::convert_document(doc, version, View::Request);
        let response = schema::convert_document(doc, version, View::Response);
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(REQUEST_URI, Draft::Draft202012.create_resource(request))
            .and_then(|b| b.add(RESPONSE_URI, Draft::Draft202012.create_resource(response)))
            .and_then(|b| b.prepare())
            .map_err(|e| ContractError::new("", format!("cannot index the contract's schemas: {e}")))?;
        Ok(Self { registry, compiled: Mutex::new(HashMap::new()) })
    }

    /// Compiles `schema`, found at `pointer` in the original document, for a view. A schema that
    /// is only a `$ref` is compiled as its target, so every use of a component shares one validator.
    pub(crate) fn compile(
        &self,
        pointer: &str,
        schema: &Value,
        view: View,
    ) -> Result<Arc<SchemaValidator>, ContractError> {
        let target = match schema.as_object() {
            Some(object) if object.len() == 1 => {
                object.get("$ref").and_then(Value::as_str).and_then(document::reference_pointer)
            }
            _ => None,
        };
        let key = (view, target.unwrap_or_else(|| pointer.to_owned()));
        // A poisoned cache only lost an insert; the map itself is intact.
        if let Some(validator) = self.compiled.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(validator.clone());
        }
        // Compiled outside the lock so threads compile different schemas at once; two threads
        // racing on one schema both compile it and the first insert wins.
        let validator = Arc::new(self.build(&key.1, pointer, view)?);
        Ok(self.compiled.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(validator).clone())
    }

    fn build(&self, pointer: &str, named_at: &str, view: View) -> Result<SchemaValidator, ContractError> {
        let base = match view {
            View::Request => REQUEST_URI,
            View::Response => RESPONSE_URI,
        };
        let reference = json!({ "$ref": format!("{base}#{}", utf8_percent_encode(pointer, FRAGMENT)) });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .with_registry(&self.registry)
            .build(&reference)
            .map_err(|e| ContractError::new(named_at, format!("invalid schema: {e}")))?;
        Ok(SchemaValidator { inner: validator, view })
    }
}

/// A compiled schema of the contract.
pub(crate) struct SchemaValidator {
    inner: jsonschema::Validator,
    view: View,
}

impl std::fmt::Debug for SchemaValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaValidator").field("view", &self.view).finish_non_exhaustive()
    }
}

impl SchemaValidator {
    /// Every violation of `instance`, each at `prefix` + its pointer inside the instance.
    pub(crate) fn check(&self, instance: &Value, location: Location, prefix: &str, out: &mut Vec<Violation>) {
        // The fast path: most requests are valid and `is_valid` does not build errors.
        if self.inner.is_valid(instance) {
            return;
        }
        for error in self.inner.iter_errors(instance) {
            let message = match error.kind() {
                // The only `false` schemas the conversion adds stand for readOnly/writeOnly
                // properties; jsonschema's own wording ("False schema does not allow") says nothing.
                jsonschema::error::ValidationErrorKind::FalseSchema => match self.view {
                    View::Request => "must not be sent in a request (read-only)".to_owned(),
                    View::Response => "must not be sent in a response (write-only)".to_owned(),
                },
                _ => error.to_string(),
            };
            out.push(Violation::new(location, format!("{prefix}{}", error.instance_path()), message));
        }
    }
}
