//! The policy input read lazily: the compiled evaluator walks `input.identity.claims.roles` or
//! `input.attributes.request.http.headers["x-tenant"]` straight from the request, building only
//! the value at the end of the path, where [`InputBuilder::build`] builds the whole document.
//!
//! Every value comes from the same [`InputBuilder`] functions `build` uses, so the two agree by
//! construction; `tests::the_view_reads_what_build_builds` holds them equal over generated
//! requests and every path into the document.

use regorus::Value;

use super::input::{json_value, InputBuilder};
use super::AuthorizationRequest;

/// One request's input, as the compiled evaluator reads it.
pub(crate) struct InputView<'r> {
    builder: &'r InputBuilder,
    request: &'r AuthorizationRequest<'r>,
}

/// A place in the input document.
#[derive(Clone)]
enum At<'r> {
    Root,
    Attributes,
    Request,
    Http,
    Headers,
    ParsedPath,
    ParsedQuery,
    Identity,
    Operation,
    PathParams,
    /// Inside a JSON document of the request (claims, body, a path parameter's value).
    Json(&'r serde_json::Value),
    /// A value already made.
    Value(Value),
    Undefined,
}

/// A place in one request's input, and the way to read below it.
#[derive(Clone)]
pub(crate) struct Cursor<'r> {
    view: &'r InputView<'r>,
    at: At<'r>,
}

impl<'r> InputView<'r> {
    pub(crate) fn new(builder: &'r InputBuilder, request: &'r AuthorizationRequest<'r>) -> Self {
        InputView { builder, request }
    }

    /// `input`.
    pub(crate) fn root(&'r self) -> Cursor<'r> {
        Cursor { view: self, at: At::Root }
    }
}

impl<'r> Cursor<'r> {
    pub(crate) fn is_undefined(&self) -> bool {
        matches!(self.at, At::Undefined) || matches!(&self.at, At::Value(Value::Undefined))
    }

    /// The place `key` names below this one.
    pub(crate) fn child(self, key: &Value) -> Cursor<'r> {
        let view = self.view;
        let builder = view.builder;
        let request = view.request;
        let field = match key {
            Value::String(name) => Some(&**name),
            _ => None,
        };
        let at = match (self.at, field) {
            (At::Root, Some("attributes")) => At::Attributes,
            (At::Root, Some("parsed_path")) => At::ParsedPath,
            (At::Root, Some("parsed_query")) => At::ParsedQuery,
            (At::Root, Some("parsed_body")) => match builder.body_json(request) {
                Some(body) => At::Json(body),
                None => At::Undefined,
            },
            (At::Root, Some("identity")) => At::Identity,
            (At::Root, Some("operation")) => At::Operation,
            (At::Attributes, Some("request")) => At::Request,
            (At::Request, Some("http")) => At::Http,
            (At::Http, Some("method")) => At::Value(builder.method(&request.parts.method)),
            (At::Http, Some("path")) => At::Value(builder.full_path(request)),
            (At::Http, Some("headers")) => At::Headers,
            (At::Http, Some("host")) => At::Value(builder.host(request)),
            (At::Http, Some("scheme")) => At::Value(builder.scheme(request)),
            (At::Http, Some("protocol")) => At::Value(builder.protocol(request.parts.version)),
            (At::Http, Some("query")) => At::Value(builder.query(request)),
            (At::Headers, Some(name)) => At::Value(builder.header(&request.parts.headers, name)),
            (At::ParsedPath, None) => match super::rego_value::array_index(key) {
                Some(index) => At::Value(builder.parsed_path_segment(request, index)),
                None => At::Undefined,
            },
            (At::ParsedQuery, Some(name)) => At::Value(builder.parsed_query_entry(request, name)),
            (At::Identity, Some("kind")) => At::Value(builder.identity_kind(request.identity)),
            (At::Identity, Some("subject")) => {
                At::Value(request.identity.subject.as_deref().map_or(Value::Null, Value::from))
            }
            (At::Identity, Some("claims")) => At::Json(&request.identity.claims),
            (At::Identity, Some("scopes")) => At::Value(builder.identity_scopes(request.identity)),
            (At::Operation, Some("id")) => At::Value(request.operation.input.id().clone()),
            (At::Operation, Some("tags")) => At::Value(request.operation.input.tags().clone()),
            (At::Operation, Some("path_template")) => At::Value(request.operation.input.path_template().clone()),
            (At::Operation, Some("path_params")) => At::PathParams,
            (At::PathParams, Some(name)) => match request.path_params.iter().find(|param| param.name() == name) {
                Some(param) => At::Json(param.value()),
                None => At::Undefined,
            },
            (At::Json(json), _) => match json {
                serde_json::Value::Object(fields) => match field.and_then(|name| fields.get(name)) {
                    Some(child) => At::Json(child),
                    None => At::Undefined,
                },
                serde_json::Value::Array(items) => {
                    match super::rego_value::array_index(key).and_then(|index| items.get(index)) {
                        Some(child) => At::Json(child),
                        None => At::Undefined,
                    }
                }
                _ => At::Undefined,
            },
            (At::Value(value), _) => At::Value(super::rego_value::index(&value, key)),
            _ => At::Undefined,
        };
        Cursor { view, at }
    }

    /// The value here, built now.
    pub(crate) fn value(self) -> Value {
        let builder = self.view.builder;
        let request = self.view.request;
        match self.at {
            At::Root => builder.build(request),
            At::Attributes => builder.attributes(request),
            At::Request => {
                Value::from(std::collections::BTreeMap::from([(Value::from("http"), builder.http(request))]))
            }
            At::Http => builder.http(request),
            At::Headers => builder.headers(&request.parts.headers),
            At::ParsedPath => builder.parsed_path(request),
            At::ParsedQuery => builder.parsed_query(request),
            At::Identity => builder.identity_of(request),
            At::Operation => builder.operation_of(request),
            At::PathParams => builder.path_params(request),
            At::Json(json) => json_value(json),
            At::Value(value) => value,
            At::Undefined => Value::Undefined,
        }
    }
}
