//! The policy input: the Envoy ext_authz v3 `CheckRequest` shape that OPA-Envoy policies read,
//! plus Armature's own `identity` and `operation`.
//!
//! Keeping the OPA-Envoy shape means a policy written for an Envoy sidecar runs here unchanged as
//! long as it only reads `input.attributes.request.http`, `input.parsed_path`, `input.parsed_query`
//! and `input.parsed_body`.
//!
//! The input is built directly as `regorus::Value`s, the engine's own representation: no JSON
//! document is built and converted per request. Everything that does not depend on the request
//! (the keys, `scheme`, the protocol names, each operation's `id`, `tags` and `path_template`, the
//! anonymous identity) is made once in [`InputBuilder::new`] and shared by reference count.

use std::collections::BTreeMap;

use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use percent_encoding::percent_decode_str;
use regorus::Value;

use super::AuthorizationRequest;
use crate::identity::{CredentialLocations, Identity, IdentityKind};

/// Object keys and constant values, made once.
struct Keys {
    attributes: Value,
    request: Value,
    http: Value,
    method: Value,
    path: Value,
    headers: Value,
    host: Value,
    scheme: Value,
    protocol: Value,
    query: Value,
    parsed_path: Value,
    parsed_query: Value,
    parsed_body: Value,
    identity: Value,
    operation: Value,
    id: Value,
    tags: Value,
    path_template: Value,
    path_params: Value,
    kind: Value,
    subject: Value,
    claims: Value,
    scopes: Value,
}

impl Keys {
    fn new() -> Self {
        let key = |name: &str| Value::from(name);
        Self {
            attributes: key("attributes"),
            request: key("request"),
            http: key("http"),
            method: key("method"),
            path: key("path"),
            headers: key("headers"),
            host: key("host"),
            scheme: key("scheme"),
            protocol: key("protocol"),
            query: key("query"),
            parsed_path: key("parsed_path"),
            parsed_query: key("parsed_query"),
            parsed_body: key("parsed_body"),
            identity: key("identity"),
            operation: key("operation"),
            id: key("id"),
            tags: key("tags"),
            path_template: key("path_template"),
            path_params: key("path_params"),
            kind: key("kind"),
            subject: key("subject"),
            claims: key("claims"),
            scopes: key("scopes"),
        }
    }
}

/// The parts of `input.operation` that come from the contract, made once per operation.
#[derive(Debug, Clone)]
pub(crate) struct OperationInput {
    id: Value,
    tags: Value,
    path_template: Value,
    /// The whole `input.operation` with empty `path_params`: what an operation without path
    /// parameters hands every request, as it is.
    without_params: Value,
    /// For a template without parameters, its `path` and `parsed_path`: a request whose path is
    /// the template itself gets them without building either.
    fixed_path: Option<FixedPath>,
}

impl OperationInput {
    /// `input.operation.id`.
    pub(crate) fn id(&self) -> &Value {
        &self.id
    }

    /// `input.operation.tags`.
    pub(crate) fn tags(&self) -> &Value {
        &self.tags
    }

    /// `input.operation.path_template`.
    pub(crate) fn path_template(&self) -> &Value {
        &self.path_template
    }

    /// `input.operation` as far as the contract decides it: `id`, `tags`, `path_template`, and
    /// (`true` beside it) `path_params` when the template has no parameters.
    pub(crate) fn known(&self) -> (Value, bool) {
        if self.fixed_path.is_some() {
            (self.without_params.clone(), true)
        } else {
            let mut known = std::collections::BTreeMap::new();
            known.insert(Value::from("id"), self.id.clone());
            known.insert(Value::from("tags"), self.tags.clone());
            known.insert(Value::from("path_template"), self.path_template.clone());
            (Value::from(known), false)
        }
    }
}

#[derive(Debug, Clone)]
struct FixedPath {
    raw: String,
    path: Value,
    parsed_path: Value,
}

/// Header names whose `Value` is kept ready, so the usual headers cost no key allocation.
const COMMON_HEADERS: [HeaderName; 13] = [
    http::header::HOST,
    http::header::USER_AGENT,
    http::header::ACCEPT,
    http::header::ACCEPT_ENCODING,
    http::header::ACCEPT_LANGUAGE,
    http::header::CONTENT_TYPE,
    http::header::CONTENT_LENGTH,
    http::header::CONNECTION,
    http::header::ORIGIN,
    http::header::REFERER,
    http::header::CACHE_CONTROL,
    http::header::IF_NONE_MATCH,
    http::header::TE,
];

/// Builds the input of one request; made once per [`Authorizer`](super::Authorizer).
pub(crate) struct InputBuilder {
    keys: Keys,
    http_scheme: Value,
    https_scheme: Value,
    methods: Vec<(Method, Value)>,
    protocols: [Value; 5],
    common_headers: Vec<(HeaderName, Value)>,
    identity_kinds: [Value; IdentityKind::ALL.len()],
    anonymous: Value,
    empty_string: Value,
    empty_object: Value,
    withheld_headers: Vec<HeaderName>,
    withheld_query: Vec<String>,
    include_body: bool,
}

impl InputBuilder {
    pub(crate) fn new(include_body: bool, credentials: &CredentialLocations) -> Self {
        let keys = Keys::new();
        let identity_kinds = IdentityKind::ALL.map(|kind| Value::from(kind.as_str()));
        let mut withheld_headers = vec![AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];
        for name in &credentials.headers {
            if !withheld_headers.contains(name) {
                withheld_headers.push(name.clone());
            }
        }
        let mut builder = Self {
            http_scheme: Value::from("http"),
            https_scheme: Value::from("https"),
            methods: [
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::HEAD,
                Method::OPTIONS,
            ]
            .into_iter()
            .map(|method| {
                let value = Value::from(method.as_str());
                (method, value)
            })
            .collect(),
            protocols: ["HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"].map(Value::from),
            common_headers: COMMON_HEADERS.iter().map(|name| (name.clone(), Value::from(name.as_str()))).collect(),
            anonymous: Value::Null,
            empty_string: Value::from(""),
            empty_object: Value::new_object(),
            identity_kinds,
            withheld_headers,
            withheld_query: credentials.query.clone(),
            include_body,
            keys,
        };
        builder.anonymous = builder.identity(&Identity::default());
        builder
    }

    /// The constant parts of one operation's `input.operation`.
    pub(crate) fn operation(&self, id: &str, tags: &[String], path_template: &str) -> OperationInput {
        let id = Value::from(id);
        let tags = Value::from(tags.iter().map(|tag| Value::from(tag.as_str())).collect::<Vec<_>>());
        let fixed_path = (!path_template.contains('{')).then(|| FixedPath {
            raw: path_template.to_owned(),
            path: Value::from(path_template),
            parsed_path: parsed_path(path_template),
        });
        let path_template = Value::from(path_template);
        let without_params = self.operation_value(&id, &tags, &path_template, Value::new_object());
        OperationInput { id, tags, path_template, without_params, fixed_path }
    }

    fn operation_value(&self, id: &Value, tags: &Value, path_template: &Value, path_params: Value) -> Value {
        let k = &self.keys;
        object([
            (k.id.clone(), id.clone()),
            (k.tags.clone(), tags.clone()),
            (k.path_template.clone(), path_template.clone()),
            (k.path_params.clone(), path_params),
        ])
    }

    /// Builds the input document for one request; the body is added only when `include_body`
    /// is configured and the request carries one. The compiled evaluator reads the same
    /// document lazily (`super::view`), from the same functions below.
    pub(crate) fn build(&self, request: &AuthorizationRequest<'_>) -> Value {
        let k = &self.keys;
        let mut input = BTreeMap::new();
        input.insert(k.attributes.clone(), self.attributes(request));
        input.insert(k.parsed_path.clone(), self.parsed_path(request));
        input.insert(k.parsed_query.clone(), self.parsed_query(request));
        if let Some(body) = self.body(request) {
            input.insert(k.parsed_body.clone(), body);
        }
        input.insert(k.identity.clone(), self.identity_of(request));
        input.insert(k.operation.clone(), self.operation_of(request));
        Value::from(input)
    }

    /// `input.attributes`.
    pub(crate) fn attributes(&self, request: &AuthorizationRequest<'_>) -> Value {
        let k = &self.keys;
        object([(k.request.clone(), object([(k.http.clone(), self.http(request))]))])
    }

    /// `input.attributes.request.http`.
    pub(crate) fn http(&self, request: &AuthorizationRequest<'_>) -> Value {
        let k = &self.keys;
        object([
            (k.method.clone(), self.method(&request.parts.method)),
            (k.path.clone(), self.full_path(request)),
            (k.headers.clone(), self.headers(&request.parts.headers)),
            (k.host.clone(), self.host(request)),
            (k.scheme.clone(), self.scheme(request)),
            (k.protocol.clone(), self.protocol(request.parts.version)),
            (k.query.clone(), self.query(request)),
        ])
    }

    /// `http.path`: Envoy's `path` is the request target as sent, query included.
    pub(crate) fn full_path(&self, request: &AuthorizationRequest<'_>) -> Value {
        let path = request.parts.uri.path();
        let query = self.visible_query(request.parts.uri.query().unwrap_or(""));
        match (query.is_empty(), self.fixed_path(request)) {
            (true, Some(fixed)) => fixed.path.clone(),
            (true, None) => Value::from(path),
            (false, _) => Value::from(format!("{path}?{query}")),
        }
    }

    /// `http.host`: the Host header, else the URI authority.
    pub(crate) fn host(&self, request: &AuthorizationRequest<'_>) -> Value {
        let parts = request.parts;
        match parts.headers.get(http::header::HOST) {
            Some(value) => Value::from(&*String::from_utf8_lossy(value.as_bytes())),
            None => Value::from(parts.uri.authority().map_or("", |authority| authority.as_str())),
        }
    }

    /// `http.scheme`: `https` when this server terminated TLS for the request (server.tls); TLS
    /// that ends at a proxy in front is not seen, and the client-supplied `:scheme` of HTTP/2 is
    /// not trusted.
    pub(crate) fn scheme(&self, request: &AuthorizationRequest<'_>) -> Value {
        if request.connection.tls {
            self.https_scheme.clone()
        } else {
            self.http_scheme.clone()
        }
    }

    /// `http.query`: the raw query without credentials, `""` when none.
    pub(crate) fn query(&self, request: &AuthorizationRequest<'_>) -> Value {
        let query = self.visible_query(request.parts.uri.query().unwrap_or(""));
        if query.is_empty() {
            self.empty_string.clone()
        } else {
            Value::from(query.as_ref())
        }
    }

    /// `input.parsed_path`.
    pub(crate) fn parsed_path(&self, request: &AuthorizationRequest<'_>) -> Value {
        match self.fixed_path(request) {
            Some(fixed) => fixed.parsed_path.clone(),
            None => parsed_path(request.parts.uri.path()),
        }
    }

    /// `input.parsed_path[index]`, without building the others.
    pub(crate) fn parsed_path_segment(&self, request: &AuthorizationRequest<'_>, index: usize) -> Value {
        let path = request.parts.uri.path();
        path.trim_start_matches('/')
            .split('/')
            .nth(index)
            .map_or(Value::Undefined, |segment| Value::from(&*percent_decode_str(segment).decode_utf8_lossy()))
    }

    fn fixed_path<'o>(&self, request: &AuthorizationRequest<'o>) -> Option<&'o FixedPath> {
        request.operation.input.fixed_path.as_ref().filter(|fixed| fixed.raw == request.parts.uri.path())
    }

    /// `input.parsed_query`.
    pub(crate) fn parsed_query(&self, request: &AuthorizationRequest<'_>) -> Value {
        let query = self.visible_query(request.parts.uri.query().unwrap_or(""));
        if query.is_empty() {
            self.empty_object.clone()
        } else {
            self.parsed_query_of(&query)
        }
    }

    /// `input.parsed_query[name]`, without building the others.
    pub(crate) fn parsed_query_entry(&self, request: &AuthorizationRequest<'_>, name: &str) -> Value {
        let query = self.visible_query(request.parts.uri.query().unwrap_or(""));
        let values: Vec<Value> = form_urlencoded::parse(query.as_bytes())
            .filter(|(key, _)| key == name)
            .map(|(_, value)| Value::from(&*value))
            .collect();
        if values.is_empty() {
            Value::Undefined
        } else {
            Value::from(values)
        }
    }

    /// `input.parsed_body`, when the policy asked for it and the request has one.
    pub(crate) fn body(&self, request: &AuthorizationRequest<'_>) -> Option<Value> {
        if self.include_body {
            request.body.map(json_value)
        } else {
            None
        }
    }

    /// The parsed body itself, for reading parts of it lazily.
    pub(crate) fn body_json<'b>(&self, request: &AuthorizationRequest<'b>) -> Option<&'b serde_json::Value> {
        if self.include_body {
            request.body
        } else {
            None
        }
    }

    /// `input.identity`.
    pub(crate) fn identity_of(&self, request: &AuthorizationRequest<'_>) -> Value {
        match request.identity.kind {
            IdentityKind::Anonymous if *request.identity == Identity::default() => self.anonymous.clone(),
            _ => self.identity(request.identity),
        }
    }

    /// `input.identity.kind`.
    pub(crate) fn identity_kind(&self, identity: &Identity) -> Value {
        self.identity_kinds[identity.kind.index()].clone()
    }

    /// `input.identity.scopes`.
    pub(crate) fn identity_scopes(&self, identity: &Identity) -> Value {
        Value::from(identity.scopes.iter().map(|scope| Value::from(scope.as_str())).collect::<Vec<_>>())
    }

    /// `input.operation`.
    pub(crate) fn operation_of(&self, request: &AuthorizationRequest<'_>) -> Value {
        let operation = &request.operation.input;
        if request.path_params.is_empty() {
            operation.without_params.clone()
        } else {
            self.operation_value(&operation.id, &operation.tags, &operation.path_template, self.path_params(request))
        }
    }

    /// `input.operation.path_params`.
    pub(crate) fn path_params(&self, request: &AuthorizationRequest<'_>) -> Value {
        if request.path_params.is_empty() {
            return self.empty_object.clone();
        }
        let params = request
            .path_params
            .iter()
            .map(|param| (Value::from(param.name()), json_value(param.value())))
            .collect::<BTreeMap<_, _>>();
        Value::from(params)
    }

    /// `input.identity`: `{"kind", "subject", "claims", "scopes"}`, as [`Identity::to_json`].
    fn identity(&self, identity: &Identity) -> Value {
        let k = &self.keys;
        object([
            (k.kind.clone(), self.identity_kind(identity)),
            (k.subject.clone(), identity.subject.as_deref().map_or(Value::Null, Value::from)),
            (k.claims.clone(), json_value(&identity.claims)),
            (k.scopes.clone(), self.identity_scopes(identity)),
        ])
    }

    pub(crate) fn method(&self, method: &Method) -> Value {
        match self.methods.iter().find(|(known, _)| known == method) {
            Some((_, value)) => value.clone(),
            None => Value::from(method.as_str()),
        }
    }

    pub(crate) fn protocol(&self, version: Version) -> Value {
        let index = match version {
            Version::HTTP_09 => 0,
            Version::HTTP_10 => 1,
            Version::HTTP_2 => 3,
            Version::HTTP_3 => 4,
            _ => 2,
        };
        self.protocols[index].clone()
    }

    /// Header name -> value, repeated headers joined with "," as Envoy does. Values that are not
    /// UTF-8 are passed lossily: a policy can still see the header exists. Credential headers
    /// are withheld (see [`AuthorizationRequest`]).
    pub(crate) fn headers(&self, headers: &HeaderMap) -> Value {
        let mut map = BTreeMap::new();
        for name in headers.keys() {
            if self.withheld_headers.contains(name) {
                continue;
            }
            let key = match self.common_headers.iter().find(|(common, _)| common == name) {
                Some((_, key)) => key.clone(),
                None => Value::from(name.as_str()),
            };
            map.insert(key, joined(headers, name));
        }
        Value::from(map)
    }

    /// `headers[name]` for a name only known per request (`some name in names;
    /// headers[name]`): compared with each header's name rather than parsed into a
    /// `HeaderName`, which would hash it and allocate an uncommon one.
    pub(crate) fn header_str(&self, headers: &HeaderMap, name: &str) -> Value {
        if self.withheld_headers.iter().any(|withheld| withheld.as_str() == name) {
            return Value::Undefined;
        }
        let values = || headers.iter().filter(|(header, _)| header.as_str() == name).map(|(_, value)| value);
        if values().next().is_none() {
            return Value::Undefined;
        }
        join(values)
    }

    /// `headers[name]` without building the others: the same value, undefined for a withheld
    /// header (the view parses the name; the document's names are all lower-case).
    pub(crate) fn header_named(&self, headers: &HeaderMap, name: &HeaderName) -> Value {
        if self.withheld_headers.contains(name) || !headers.contains_key(name) {
            return Value::Undefined;
        }
        joined(headers, name)
    }

    /// The query as the policy sees it: the raw query without the pairs that carry an API key,
    /// each pair kept as sent otherwise.
    fn visible_query<'q>(&self, query: &'q str) -> std::borrow::Cow<'q, str> {
        if self.withheld_query.is_empty() || query.is_empty() {
            return query.into();
        }
        let withheld = |pair: &str| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            form_urlencoded::parse(name.as_bytes())
                .next()
                .is_some_and(|(decoded, _)| self.withheld_query.iter().any(|secret| *secret == decoded))
        };
        if !query.split('&').any(withheld) {
            return query.into();
        }
        query.split('&').filter(|pair| !withheld(pair)).collect::<Vec<_>>().join("&").into()
    }

    /// Name -> every value in order, form-decoded (`+` is a space) like Go's `url.Query()`.
    fn parsed_query_of(&self, query: &str) -> Value {
        let mut map: BTreeMap<Value, Vec<Value>> = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            map.entry(Value::from(&*name)).or_default().push(Value::from(&*value));
        }
        Value::from(map.into_iter().map(|(name, values)| (name, Value::from(values))).collect::<BTreeMap<_, _>>())
    }
}

/// Every value of a header, joined with "," as Envoy does. Values that are not UTF-8 are passed
/// lossily: a policy can still see the header exists.
fn joined(headers: &HeaderMap, name: &HeaderName) -> Value {
    join(|| headers.get_all(name).iter())
}

/// Values of one header joined with ",", as Envoy gives them.
fn join<'h, I: Iterator<Item = &'h HeaderValue>>(values: impl Fn() -> I) -> Value {
    let mut rest = values();
    match (rest.next(), rest.next()) {
        (Some(only), None) => Value::from(&*String::from_utf8_lossy(only.as_bytes())),
        _ => {
            let mut joined = String::new();
            for (index, value) in values().enumerate() {
                if index > 0 {
                    joined.push(',');
                }
                joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
            }
            Value::from(joined)
        }
    }
}

/// Segments split on the raw path before decoding, so an encoded `%2F` stays inside its segment
/// instead of inventing a new one. Leading slashes are trimmed as OPA-Envoy does, so "/" is `[""]`
/// and a trailing slash yields a final "".
fn parsed_path(path: &str) -> Value {
    Value::from(
        path.trim_start_matches('/')
            .split('/')
            .map(|segment| Value::from(&*percent_decode_str(segment).decode_utf8_lossy()))
            .collect::<Vec<_>>(),
    )
}

/// A JSON value as the engine's value, by reference. regorus' own `From<serde_json::Value>`
/// takes the value by move and runs it through serde's deserializer, so it would cost a clone of
/// the claims or the body first and a slower walk after.
pub(crate) fn json_value(value: &serde_json::Value) -> Value {
    use serde_json::Value as Json;
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::from(u),
            (None, Some(i)) => Value::from(i),
            // serde_json holds no NaN or infinity, so every other number is a finite f64.
            (None, None) => n.as_f64().map_or(Value::Null, Value::from),
        },
        Json::String(text) => Value::from(text.as_str()),
        Json::Array(items) => Value::from(items.iter().map(json_value).collect::<Vec<_>>()),
        Json::Object(map) => Value::from(
            map.iter().map(|(key, item)| (Value::from(key.as_str()), json_value(item))).collect::<BTreeMap<_, _>>(),
        ),
    }
}

fn object<const N: usize>(entries: [(Value, Value); N]) -> Value {
    Value::from(BTreeMap::from(entries))
}
