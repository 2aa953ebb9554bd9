//! The policy input read lazily: the compiled evaluator walks `input.identity.claims.roles` or
//! `input.attributes.request.http.headers["x-tenant"]` straight from the request, building only
//! the value at the end of the path, where [`InputBuilder::build`] builds the whole document.
//!
//! Every value comes from the same [`InputBuilder`] functions `build` uses, so the two agree by
//! construction; `tests::the_view_reads_what_build_builds` holds them equal over generated
//! requests and every path into the document.
//!
//! The shape of the document above the request's own values is fixed, so a path whose keys are
//! constants (`input.attributes.request.http.headers["x-tenant"]`) is resolved once, when a
//! policy's plan is made, into a [`Place`]; reading it per request is then one step.

use http::HeaderName;
use regorus::Value;

use super::input::{json_value, InputBuilder};
use super::AuthorizationRequest;

/// One request's input, as the compiled evaluator reads it.
pub(crate) struct InputView<'r> {
    builder: &'r InputBuilder,
    request: &'r AuthorizationRequest<'r>,
}

/// A place in the input document that any request has: the fixed objects above the request's
/// values, and the values themselves by name. Which value is there depends on the request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Place {
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
    Method,
    Path,
    Host,
    Scheme,
    Protocol,
    Query,
    /// A header by its (lower-case) name.
    Header(HeaderName),
    ParsedPathSegment(usize),
    /// A query parameter by name.
    ParsedQueryEntry(Value),
    ParsedBody,
    Kind,
    Subject,
    Claims,
    Scopes,
    OperationId,
    Tags,
    PathTemplate,
    /// A path parameter by name.
    PathParam(Value),
    /// Nothing any request has there.
    Undefined,
}

impl Place {
    /// The place `key` names below this one; None when this place holds a request's value,
    /// whose children depend on the request.
    pub(crate) fn child(&self, key: &Value) -> Option<Place> {
        let field = match key {
            Value::String(name) => Some(&**name),
            _ => None,
        };
        let place = match (self, field) {
            (Place::Root, Some("attributes")) => Place::Attributes,
            (Place::Root, Some("parsed_path")) => Place::ParsedPath,
            (Place::Root, Some("parsed_query")) => Place::ParsedQuery,
            (Place::Root, Some("parsed_body")) => Place::ParsedBody,
            (Place::Root, Some("identity")) => Place::Identity,
            (Place::Root, Some("operation")) => Place::Operation,
            (Place::Attributes, Some("request")) => Place::Request,
            (Place::Request, Some("http")) => Place::Http,
            (Place::Http, Some("method")) => Place::Method,
            (Place::Http, Some("path")) => Place::Path,
            (Place::Http, Some("headers")) => Place::Headers,
            (Place::Http, Some("host")) => Place::Host,
            (Place::Http, Some("scheme")) => Place::Scheme,
            (Place::Http, Some("protocol")) => Place::Protocol,
            (Place::Http, Some("query")) => Place::Query,
            // The input's header names are lower-case; `HeaderName` would lower-case this one.
            (Place::Headers, Some(name)) if !name.bytes().any(|byte| byte.is_ascii_uppercase()) => {
                match HeaderName::from_bytes(name.as_bytes()) {
                    Ok(name) => Place::Header(name),
                    Err(_) => Place::Undefined,
                }
            }
            (Place::ParsedPath, None) => match super::rego_value::array_index(key) {
                Some(index) => Place::ParsedPathSegment(index),
                None => Place::Undefined,
            },
            (Place::ParsedQuery, Some(_)) => Place::ParsedQueryEntry(key.clone()),
            (Place::Identity, Some("kind")) => Place::Kind,
            (Place::Identity, Some("subject")) => Place::Subject,
            (Place::Identity, Some("claims")) => Place::Claims,
            (Place::Identity, Some("scopes")) => Place::Scopes,
            (Place::Operation, Some("id")) => Place::OperationId,
            (Place::Operation, Some("tags")) => Place::Tags,
            (Place::Operation, Some("path_template")) => Place::PathTemplate,
            (Place::Operation, Some("path_params")) => Place::PathParams,
            (Place::PathParams, Some(_)) => Place::PathParam(key.clone()),
            (
                Place::Root
                | Place::Attributes
                | Place::Request
                | Place::Http
                | Place::Headers
                | Place::ParsedPath
                | Place::ParsedQuery
                | Place::Identity
                | Place::Operation
                | Place::PathParams
                | Place::Undefined,
                _,
            ) => Place::Undefined,
            _ => return None,
        };
        Some(place)
    }

    /// The place at the end of `keys` from the root, and how many keys that took: the walk
    /// stops at the first place holding a request's value (the rest is read per request).
    pub(crate) fn resolve(keys: &[Value]) -> (Place, usize) {
        let mut place = Place::Root;
        for (taken, key) in keys.iter().enumerate() {
            match place.child(key) {
                Some(next) => place = next,
                None => return (place, taken),
            }
        }
        (place, keys.len())
    }
}

/// A place in the input document, for one request.
#[derive(Clone)]
enum At<'r> {
    /// One of the fixed objects (a [`Place`] that holds no request value of its own).
    Fixed(Place),
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
        Cursor { view: self, at: At::Fixed(Place::Root) }
    }

    /// What this request has at `place`.
    pub(crate) fn at(&'r self, place: &Place) -> Cursor<'r> {
        let builder = self.builder;
        let request = self.request;
        let at = match place {
            Place::Method => At::Value(builder.method(&request.parts.method)),
            Place::Path => At::Value(builder.full_path(request)),
            Place::Host => At::Value(builder.host(request)),
            Place::Scheme => At::Value(builder.scheme(request)),
            Place::Protocol => At::Value(builder.protocol(request.parts.version)),
            Place::Query => At::Value(builder.query(request)),
            Place::Header(name) => At::Value(builder.header_named(&request.parts.headers, name)),
            Place::ParsedPathSegment(index) => At::Value(builder.parsed_path_segment(request, *index)),
            Place::ParsedQueryEntry(name) => match name {
                Value::String(name) => At::Value(builder.parsed_query_entry(request, name)),
                _ => At::Undefined,
            },
            Place::ParsedBody => match builder.body_json(request) {
                Some(body) => At::Json(body),
                None => At::Undefined,
            },
            Place::Kind => At::Value(builder.identity_kind(request.identity)),
            Place::Subject => At::Value(request.identity.subject.as_deref().map_or(Value::Null, Value::from)),
            Place::Claims => At::Json(&request.identity.claims),
            Place::Scopes => At::Value(builder.identity_scopes(request.identity)),
            Place::OperationId => At::Value(request.operation.input.id().clone()),
            Place::Tags => At::Value(request.operation.input.tags().clone()),
            Place::PathTemplate => At::Value(request.operation.input.path_template().clone()),
            Place::PathParam(name) => {
                let name = match name {
                    Value::String(name) => Some(&**name),
                    _ => None,
                };
                match name.and_then(|name| request.path_params.iter().find(|param| param.name() == name)) {
                    Some(param) => At::Json(param.value()),
                    None => At::Undefined,
                }
            }
            Place::Undefined => At::Undefined,
            fixed => At::Fixed(fixed.clone()),
        };
        Cursor { view: self, at }
    }
}

impl<'r> Cursor<'r> {
    pub(crate) fn is_undefined(&self) -> bool {
        matches!(self.at, At::Undefined) || matches!(&self.at, At::Value(Value::Undefined))
    }

    /// The place `key` names below this one.
    pub(crate) fn child(self, key: &Value) -> Cursor<'r> {
        let view = self.view;
        let at = match self.at {
            // A name known only now: looked up as it is (an upper-case one is in no header).
            At::Fixed(Place::Headers) => match key {
                Value::String(name) => At::Value(view.builder.header_str(&view.request.parts.headers, name)),
                _ => At::Undefined,
            },
            At::Fixed(place) => match place.child(key) {
                Some(next) => return view.at(&next),
                None => At::Undefined,
            },
            At::Json(json) => match json {
                serde_json::Value::Object(fields) => match key {
                    Value::String(name) => match fields.get(&**name) {
                        Some(child) => At::Json(child),
                        None => At::Undefined,
                    },
                    _ => At::Undefined,
                },
                serde_json::Value::Array(items) => {
                    match super::rego_value::array_index(key).and_then(|index| items.get(index)) {
                        Some(child) => At::Json(child),
                        None => At::Undefined,
                    }
                }
                _ => At::Undefined,
            },
            At::Value(value) => At::Value(super::rego_value::index(&value, key)),
            At::Undefined => At::Undefined,
        };
        Cursor { view, at }
    }

    /// The value here, built now.
    pub(crate) fn value(self) -> Value {
        let builder = self.view.builder;
        let request = self.view.request;
        match self.at {
            At::Fixed(place) => match place {
                Place::Root => builder.build(request),
                Place::Attributes => builder.attributes(request),
                Place::Request => {
                    Value::from(std::collections::BTreeMap::from([(Value::from("http"), builder.http(request))]))
                }
                Place::Http => builder.http(request),
                Place::Headers => builder.headers(&request.parts.headers),
                Place::ParsedPath => builder.parsed_path(request),
                Place::ParsedQuery => builder.parsed_query(request),
                Place::Identity => builder.identity_of(request),
                Place::Operation => builder.operation_of(request),
                Place::PathParams => builder.path_params(request),
                // `at` turns every other place into a value.
                _ => Value::Undefined,
            },
            At::Json(json) => json_value(json),
            At::Value(value) => value,
            At::Undefined => Value::Undefined,
        }
    }
}
