//! A request's path parameters, decoded and typed once, right after routing. The policy reads
//! them (`input.operation.path_params`), request validation checks them against their schemas and
//! hands them to the handler; nothing decodes the path a second time.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::contract::params::{ParamError, ParamLocation, RawParams};
use crate::contract::Operation;

/// The path parameters of one routed request, in the order the operation declares them.
#[derive(Debug, Default)]
pub struct PathParams<'a> {
    params: Vec<PathParam<'a>>,
}

/// One path parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct PathParam<'a> {
    name: &'a str,
    /// Typed per the schema (`{"id": 42}`). Text that is not of the declared type (`"seven"`
    /// for an integer) stays text, for request validation to refuse; text that does not decode
    /// at all (not UTF-8 once percent-decoded) is decoded lossily, so the policy still sees what
    /// the client asked for.
    value: Value,
    /// Why the text sent does not decode; request validation reports it as a violation.
    error: Option<ParamError>,
}

impl<'a> PathParams<'a> {
    /// Decodes the parameters the router captured (`raw`, still percent-encoded) per the
    /// operation's path parameter rules. Never fails: a parameter that does not decode carries
    /// its error for request validation to report.
    pub(crate) fn decode(operation: &'a Operation, raw: &[(&'a str, &'a str)]) -> PathParams<'a> {
        let sources = RawParams { path: raw, query: None, header: &|_| Vec::new(), cookies: &[] };
        let params = operation
            .params
            .iter()
            .filter(|rule| rule.spec.location == ParamLocation::Path)
            .filter_map(|rule| {
                let name = rule.spec.name.as_str();
                // Every template parameter is declared (the contract loader checks), so a
                // routed request carries each one; `None` is left for validation to report.
                let sent = raw.iter().find(|(raw_name, _)| *raw_name == name).map(|(_, text)| *text)?;
                Some(match rule.decode(&sources) {
                    Ok(Some(value)) => PathParam { name, value, error: None },
                    Ok(None) => return None,
                    Err(error) => {
                        PathParam { name, value: Value::String(text_sent(sent).into_owned()), error: Some(error) }
                    }
                })
            })
            .collect();
        PathParams { params }
    }

    /// The parameters, each with its typed value (or, when it does not decode, its text).
    pub fn iter(&self) -> impl Iterator<Item = &PathParam<'a>> {
        self.params.iter()
    }

    /// Whether the operation's path has no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Takes one parameter out, for request validation: `Ok(value)` when it decoded,
    /// `Err(message)` when not; `None` when the request has no such parameter.
    pub(crate) fn take(&mut self, name: &str) -> Option<Result<Value, ParamError>> {
        let index = self.params.iter().position(|param| param.name == name)?;
        let param = self.params.swap_remove(index);
        Some(match param.error {
            None => Ok(param.value),
            Some(error) => Err(error),
        })
    }
}

impl<'a> FromIterator<PathParam<'a>> for PathParams<'a> {
    fn from_iter<I: IntoIterator<Item = PathParam<'a>>>(iter: I) -> Self {
        PathParams { params: iter.into_iter().collect() }
    }
}

impl<'a> PathParam<'a> {
    /// A parameter that decoded to `value` (for tests and hosts that route themselves).
    pub fn new(name: &'a str, value: Value) -> Self {
        PathParam { name, value, error: None }
    }

    /// The name the contract declares.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The typed value, or the text sent when it does not decode.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

fn text_sent(raw: &str) -> Cow<'_, str> {
    percent_decode_str(raw).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use http::Method;
    use serde_json::json;

    use super::*;
    use crate::contract::{Contract, RouteMatch};

    fn contract() -> Contract {
        Contract::from_text(
            r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /accounts/{owner}/notes/{noteId}:
    get:
      operationId: note
      parameters:
        - {name: owner, in: path, required: true, schema: {type: string}}
        - {name: noteId, in: path, required: true, schema: {type: integer}}
      responses: {"200": {description: ok}}
"#,
        )
        .expect("contract")
    }

    fn decode_path<'c>(contract: &'c Contract, path: &'c str) -> PathParams<'c> {
        let RouteMatch::Found { operation, params } = contract.route(&Method::GET, path) else { panic!("no route") };
        PathParams::decode(contract.operation_at(operation), &params)
    }

    #[test]
    fn parameters_are_percent_decoded_and_typed_once() {
        let contract = contract();
        let params = decode_path(&contract, "/accounts/al%69ce/notes/7");
        let seen: Vec<_> = params.iter().map(|p| (p.name(), p.value().clone())).collect();
        assert_eq!(seen, vec![("owner", json!("alice")), ("noteId", json!(7))]);
    }

    #[test]
    fn text_that_is_not_of_the_declared_type_stays_text_for_validation_to_refuse() {
        let contract = contract();
        let mut params = decode_path(&contract, "/accounts/alice/notes/seven%21");
        assert_eq!(params.take("noteId"), Some(Ok(json!("seven!"))));
    }

    #[test]
    fn a_parameter_that_does_not_decode_keeps_its_text_and_its_error() {
        let contract = contract();
        let mut params = decode_path(&contract, "/accounts/alice/notes/%FF");
        let note = params.iter().find(|p| p.name() == "noteId").cloned().expect("noteId");
        assert_eq!(note.value(), &json!("\u{FFFD}"));
        assert!(matches!(params.take("noteId"), Some(Err(error)) if !error.to_string().is_empty()));
        assert_eq!(params.take("owner"), Some(Ok(json!("alice"))));
        assert_eq!(params.take("owner"), None);
    }
}
