//! The OpenAPI contract: loaded once at start, compiled into routes, parameter rules and
//! schema validators, then shared read-only by every request.

pub mod code_first;
mod document;
mod media;
pub mod params;
pub mod problem_responses;
mod router;
pub mod schema;
pub mod security;
mod validators;

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use http::Method;
use serde_json::Value;

pub use media::{BodyKind, MediaRange};
pub use router::{RouteMatch, Router};
pub use schema::OpenApiVersion;
pub use security::{ApiKeyLocation, SchemeKind, Security, SecurityRequirement, SecurityScheme};

use params::{ParamLocation, ParamSpec, ParamStyle, Shape};
use std::sync::{Arc, OnceLock};

use validators::{SchemaValidator, Validators};

/// A contract that cannot be served; the message names the place in the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("contract error at #{at}: {message}")]
pub struct ContractError {
    /// JSON pointer of the offending place (empty for the whole document).
    pub at: String,
    /// What is wrong there.
    pub message: String,
}

impl ContractError {
    pub(crate) fn new(at: &str, message: impl Into<String>) -> Self {
        Self { at: at.to_owned(), message: message.into() }
    }
}

/// Methods an OpenAPI path item may hold, in the order `Allow` lists them.
pub(crate) const METHODS: [(&str, Method); 8] = [
    ("get", Method::GET),
    ("head", Method::HEAD),
    ("post", Method::POST),
    ("put", Method::PUT),
    ("patch", Method::PATCH),
    ("delete", Method::DELETE),
    ("options", Method::OPTIONS),
    ("trace", Method::TRACE),
];

/// A loaded, compiled contract.
pub struct Contract {
    version: OpenApiVersion,
    document: Value,
    /// The document as JSON, made on first request of the `openapi` endpoint, not at start.
    json: OnceLock<Bytes>,
    operations: Vec<Operation>,
    by_id: HashMap<String, usize>,
    router: Router,
    security_schemes: Vec<SecurityScheme>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("version", &self.version)
            .field("operations", &self.operations.iter().map(|o| &o.id).collect::<Vec<_>>())
            .finish()
    }
}

/// One operation of the contract, with everything the pipeline checks for it.
#[derive(Debug)]
pub struct Operation {
    /// `operationId`, or `"METHOD /template"` when the contract gives none.
    pub id: String,
    /// The HTTP method.
    pub method: Method,
    /// The path template, as written in the contract (`/users/{id}`).
    pub path_template: String,
    /// The operation's tags.
    pub tags: Vec<String>,
    /// What credentials it requires (its own `security`, else the document's).
    pub security: Security,
    pub(crate) params: Vec<ParamRule>,
    pub(crate) body: Option<BodyRule>,
    pub(crate) responses: ResponseRules,
}

impl Operation {
    /// The parameters the operation declares, as core resolved them (`$ref`s followed, the
    /// path item's shared parameters merged in): where each is, its name as declared (compare a
    /// header's without regard to case), and whether it is required. For a host that checks
    /// what its handlers read against the contract.
    pub fn declared_params(&self) -> impl Iterator<Item = (ParamLocation, &str, bool)> {
        self.params.iter().map(|rule| (rule.spec.location, rule.spec.name.as_str(), rule.required))
    }

    /// Whether the operation takes a JSON request body (`application/json` or any `+json`
    /// media type), which the pipeline parses and validates before the handler.
    pub fn takes_json_body(&self) -> bool {
        self.body.as_ref().is_some_and(|body| body.media.iter().any(|media| media.range.kind() == BodyKind::Json))
    }
}

/// How one parameter is read and checked.
#[derive(Debug)]
pub(crate) struct ParamRule {
    pub spec: ParamSpec,
    pub required: bool,
    /// The schema's `default`, handed to handlers when the parameter is absent.
    pub default: Option<Value>,
    /// Parameters declared with `content: {application/json: ...}` carry JSON text.
    pub json_content: bool,
    pub validator: Option<Arc<SchemaValidator>>,
}

impl ParamRule {
    /// Decodes this parameter from the request and types it per its schema: `Ok(None)` when it is
    /// absent, `Err(message)` when the text sent cannot be decoded (or, for a parameter declared
    /// with `content: {application/json: ...}`, is not JSON). Schema checks come later, in
    /// request validation.
    pub(crate) fn decode(&self, raw: &params::RawParams<'_>) -> Result<Option<Value>, params::ParamError> {
        let Some(value) = params::decode(&self.spec, raw)? else { return Ok(None) };
        if !self.json_content {
            return Ok(Some(value));
        }
        match value.as_str().map(serde_json::from_str::<Value>) {
            Some(Ok(parsed)) => Ok(Some(parsed)),
            _ => Err(params::ParamError::NotJson),
        }
    }
}

/// What request bodies an operation accepts.
#[derive(Debug)]
pub(crate) struct BodyRule {
    pub required: bool,
    pub media: Vec<MediaRule>,
}

/// One media type of a body, with its schema.
#[derive(Debug)]
pub(crate) struct MediaRule {
    pub range: MediaRange,
    pub validator: Option<Arc<SchemaValidator>>,
}

/// The documented responses of an operation.
#[derive(Debug, Default)]
pub(crate) struct ResponseRules {
    pub exact: HashMap<u16, Vec<MediaRule>>,
    /// `1XX`..`5XX`, indexed by the first digit.
    pub ranges: [Option<Vec<MediaRule>>; 6],
    pub default: Option<Vec<MediaRule>>,
}

impl ResponseRules {
    /// The media rules documented for a status, most specific first; None when undocumented.
    pub(crate) fn for_status(&self, status: u16) -> Option<&[MediaRule]> {
        self.exact
            .get(&status)
            .or_else(|| self.ranges.get(usize::from(status / 100)).and_then(Option::as_ref))
            .or(self.default.as_ref())
            .map(Vec::as_slice)
    }
}

impl Contract {
    /// Loads a contract file (YAML or JSON).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, ContractError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ContractError::new("", format!("cannot read {}: {e}", path.display())))?;
        Self::from_text(&text)
    }

    /// Loads a contract from YAML or JSON text.
    pub fn from_text(text: &str) -> Result<Self, ContractError> {
        Self::from_value(document::parse(text)?)
    }

    /// Compiles a contract already parsed into JSON.
    pub fn from_value(doc: Value) -> Result<Self, ContractError> {
        let version = document::version(&doc)?;
        document::check_references(&doc)?;
        let validators = Validators::new(&doc, version)?;
        let security_schemes = security::schemes(&doc)?;
        let default_security = match doc.get("security") {
            Some(list) => security::requirements(list, "/security", &security_schemes)?,
            None => Security::default(),
        };
        let context = CompileContext {
            doc: &doc,
            validators: &validators,
            security_schemes: &security_schemes,
            default_security: &default_security,
        };
        // Gather every operation first, compile them on all cores (validator compilation dominates
        // start-up on large contracts), then route them in document order.
        let mut jobs = Vec::new();
        let mut path_list = Vec::new();
        if let Some(paths) = doc.get("paths") {
            let paths = paths.as_object().ok_or_else(|| ContractError::new("/paths", "must be an object"))?;
            for (template, item) in paths {
                let at = format!("/paths/{}", document::escape(template));
                if !template.starts_with('/') {
                    return Err(ContractError::new(&at, "a path must start with '/'"));
                }
                let (item, item_at) = document::resolve(&doc, item, &at)?;
                let first_job = jobs.len();
                for (key, method) in &METHODS {
                    if let Some(op) = item.get(*key) {
                        jobs.push(OperationJob {
                            template,
                            method: method.clone(),
                            op,
                            op_at: format!("{item_at}/{key}"),
                            item,
                            item_at: item_at.clone(),
                        });
                    }
                }
                path_list.push((template, at, first_job..jobs.len()));
            }
        }
        let operations = compile_in_parallel(&context, &jobs)?;
        let mut router = Router::default();
        for (template, at, range) in path_list {
            let methods = range.map(|index| (operations[index].method.clone(), index)).collect();
            router.insert(template, methods).map_err(|message| ContractError::new(&at, message))?;
        }
        let mut by_id = HashMap::new();
        for (index, operation) in operations.iter().enumerate() {
            if by_id.insert(operation.id.clone(), index).is_some() {
                return Err(ContractError::new(
                    &format!(
                        "/paths/{}/{}",
                        document::escape(&operation.path_template),
                        operation.method.as_str().to_lowercase()
                    ),
                    format!("operationId {:?} is used twice", operation.id),
                ));
            }
        }
        Ok(Self { version, document: doc, json: OnceLock::new(), operations, by_id, router, security_schemes })
    }

    /// The OpenAPI version the document declares.
    pub fn version(&self) -> OpenApiVersion {
        self.version
    }

    /// The contract as JSON, as served on the `openapi` endpoint.
    pub fn json(&self) -> &Bytes {
        // A serde_json::Value always serializes.
        self.json.get_or_init(|| Bytes::from(serde_json::to_vec(&self.document).unwrap_or_default()))
    }

    /// The contract document as loaded.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// `components.securitySchemes`, which [`Security`] requirements index into.
    pub fn security_schemes(&self) -> &[SecurityScheme] {
        &self.security_schemes
    }

    /// Every operation, in document order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.by_id.get(id).map(|&i| &self.operations[i])
    }

    pub(crate) fn operation_index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn operation_at(&self, index: usize) -> &Operation {
        &self.operations[index]
    }

    /// Routes a method and raw (percent-encoded) path.
    pub fn route<'p>(&self, method: &Method, path: &'p str) -> RouteMatch<'_, 'p> {
        self.router.route(method, path)
    }
}

/// One operation to compile: where it is in the document.
struct OperationJob<'d> {
    template: &'d str,
    method: Method,
    op: &'d Value,
    op_at: String,
    item: &'d Value,
    item_at: String,
}

/// What every operation is compiled against.
struct CompileContext<'d> {
    doc: &'d Value,
    validators: &'d Validators,
    security_schemes: &'d [SecurityScheme],
    default_security: &'d Security,
}

/// Compiles every job, spread over the available cores; results keep the jobs' order.
fn compile_in_parallel(
    context: &CompileContext<'_>,
    jobs: &[OperationJob<'_>],
) -> Result<Vec<Operation>, ContractError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    // Small contracts compile faster than threads start.
    if threads == 1 || jobs.len() < 64 {
        return jobs.iter().map(|job| compile_operation(context, job)).collect();
    }
    let chunk = jobs.len().div_ceil(threads);
    let results: Vec<Result<Vec<Operation>, ContractError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|job| compile_operation(context, job)).collect()))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| Err(ContractError::new("", "compiling the contract panicked")))
            })
            .collect()
    });
    let mut operations = Vec::with_capacity(jobs.len());
    for part in results {
        operations.extend(part?);
    }
    Ok(operations)
}

fn compile_operation(context: &CompileContext<'_>, job: &OperationJob<'_>) -> Result<Operation, ContractError> {
    let (doc, validators) = (context.doc, context.validators);
    let OperationJob { template, method, op, op_at: at, item, item_at } = job;
    let (template, method, op, at, item_at) = (*template, method.clone(), *op, at.as_str(), item_at.as_str());
    let shared_params = item.get("parameters");
    if !op.is_object() {
        return Err(ContractError::new(at, "an operation must be an object"));
    }
    let id = match op.get("operationId") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(_) => return Err(ContractError::new(&format!("{at}/operationId"), "must be a non-empty string")),
        None => format!("{} {template}", method.as_str()),
    };
    let tags = op
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();

    // Operation-level parameters override path-level ones with the same name and location.
    let mut declared: Vec<(&Value, String)> = Vec::new();
    for (list, list_at) in
        [(shared_params, format!("{item_at}/parameters")), (op.get("parameters"), format!("{at}/parameters"))]
    {
        let Some(list) = list else { continue };
        let list = list.as_array().ok_or_else(|| ContractError::new(&list_at, "must be an array"))?;
        for (index, param) in list.iter().enumerate() {
            declared.push((param, format!("{list_at}/{index}")));
        }
    }
    let mut params: Vec<ParamRule> = Vec::new();
    for (param, param_at) in declared {
        let rule = compile_param(doc, validators, param, &param_at)?;
        if let Some(existing) =
            params.iter_mut().find(|p| p.spec.name == rule.spec.name && p.spec.location == rule.spec.location)
        {
            *existing = rule;
        } else {
            params.push(rule);
        }
    }
    for name in router::template_params(template) {
        if !params.iter().any(|p| p.spec.location == ParamLocation::Path && p.spec.name == name) {
            return Err(ContractError::new(at, format!("path parameter {{{name}}} of {template} is not declared")));
        }
    }
    for param in &params {
        if param.spec.location == ParamLocation::Path
            && !router::template_params(template).any(|n| n == param.spec.name)
        {
            return Err(ContractError::new(
                at,
                format!("path parameter {:?} does not appear in {template}", param.spec.name),
            ));
        }
    }

    let body = match op.get("requestBody") {
        None => None,
        Some(body) => {
            let (body, body_at) = document::resolve(doc, body, &format!("{at}/requestBody"))?;
            let required = body.get("required").and_then(Value::as_bool).unwrap_or(false);
            let media =
                compile_content(validators, body.get("content"), &format!("{body_at}/content"), schema::View::Request)?;
            Some(BodyRule { required, media })
        }
    };

    let mut responses = ResponseRules::default();
    let listed = op.get("responses").and_then(Value::as_object);
    for (code, response) in listed.into_iter().flatten() {
        let code_at = format!("{at}/responses/{}", document::escape(code));
        let (response, response_at) = document::resolve(doc, response, &code_at)?;
        let media = compile_content(
            validators,
            response.get("content"),
            &format!("{response_at}/content"),
            schema::View::Response,
        )?;
        if code == "default" {
            responses.default = Some(media);
        } else if let Some(digit) = code.strip_suffix("XX").or_else(|| code.strip_suffix("xx")) {
            let slot = digit
                .parse::<usize>()
                .ok()
                .filter(|d| (1..=5).contains(d))
                .ok_or_else(|| ContractError::new(&code_at, "a status range must be 1XX to 5XX"))?;
            responses.ranges[slot] = Some(media);
        } else {
            let status = code.parse::<u16>().ok().filter(|s| (100..=599).contains(s)).ok_or_else(|| {
                ContractError::new(&code_at, "a response key must be a status code, a range like 2XX, or default")
            })?;
            responses.exact.insert(status, media);
        }
    }
    let security = match op.get("security") {
        Some(list) => security::requirements(list, &format!("{at}/security"), context.security_schemes)?,
        None => context.default_security.clone(),
    };
    Ok(Operation { id, method, path_template: template.to_owned(), tags, security, params, body, responses })
}

fn compile_param(doc: &Value, validators: &Validators, param: &Value, at: &str) -> Result<ParamRule, ContractError> {
    let (param, at) = document::resolve(doc, param, at)?;
    let name = param
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ContractError::new(&at, "a parameter needs a `name`"))?
        .to_owned();
    let location = match param.get("in").and_then(Value::as_str) {
        Some("path") => ParamLocation::Path,
        Some("query") => ParamLocation::Query,
        Some("header") => ParamLocation::Header,
        Some("cookie") => ParamLocation::Cookie,
        other => {
            return Err(ContractError::new(
                &format!("{at}/in"),
                format!("must be path, query, header or cookie, not {other:?}"),
            ))
        }
    };
    let required = param.get("required").and_then(Value::as_bool).unwrap_or(false);
    if location == ParamLocation::Path && !required {
        return Err(ContractError::new(&format!("{at}/required"), "a path parameter must be required: true"));
    }
    let style = match param.get("style").and_then(Value::as_str) {
        None => ParamStyle::default_for(location),
        Some(s) => ParamStyle::parse(s)
            .ok_or_else(|| ContractError::new(&format!("{at}/style"), format!("unknown style {s:?}")))?,
    };
    if !style.allowed_in(location) {
        return Err(ContractError::new(
            &format!("{at}/style"),
            format!("style {style:?} is not allowed in {}", location.as_str()),
        ));
    }
    let explode = param.get("explode").and_then(Value::as_bool).unwrap_or(style == ParamStyle::Form);
    let (schema_at, json_content) = if param.get("schema").is_some() {
        (Some(format!("{at}/schema")), false)
    } else if let Some(content) = param.get("content").and_then(Value::as_object) {
        let (media, _) = content
            .iter()
            .next()
            .ok_or_else(|| ContractError::new(&format!("{at}/content"), "must name one media type"))?;
        (
            Some(format!("{at}/content/{}/schema", document::escape(media))),
            MediaRange::parse(media).kind() == BodyKind::Json,
        )
    } else {
        (None, false)
    };
    let (shape, default, validator) = match schema_at.as_deref().and_then(|at| doc.pointer(at).map(|s| (at, s))) {
        Some((schema_at, schema)) => {
            // Types and defaults read the same in the original document as in the converted views.
            let resolve =
                |reference: &str| document::reference_pointer(reference).and_then(|p| doc.pointer(&p)).cloned();
            let shape = if json_content {
                Shape::Primitive(params::PrimitiveType::String)
            } else {
                Shape::from_schema(schema, &resolve)
            };
            let default = document::resolve(doc, schema, schema_at)?.0.get("default").cloned();
            (shape, default, Some(validators.compile(schema_at, schema, schema::View::Request)?))
        }
        None => (Shape::Primitive(params::PrimitiveType::String), None, None),
    };
    Ok(ParamRule {
        spec: ParamSpec { name, location, style, explode, shape },
        required,
        default,
        json_content,
        validator,
    })
}

fn compile_content(
    validators: &Validators,
    content: Option<&Value>,
    at: &str,
    view: schema::View,
) -> Result<Vec<MediaRule>, ContractError> {
    let Some(content) = content else { return Ok(Vec::new()) };
    let content = content.as_object().ok_or_else(|| ContractError::new(at, "must be an object"))?;
    let mut rules = Vec::with_capacity(content.len());
    for (media, object) in content {
        let media_at = format!("{at}/{}", document::escape(media));
        let range = MediaRange::parse(media);
        if range.is_invalid() {
            return Err(ContractError::new(&media_at, format!("{media:?} is not a media type")));
        }
        let validator = match object.get("schema") {
            Some(schema) => Some(validators.compile(&format!("{media_at}/schema"), schema, view)?),
            None => None,
        };
        rules.push(MediaRule { range, validator });
    }
    // Most specific first, so `application/json` wins over `application/*` and `*/*`.
    rules.sort_by_key(|rule| rule.range.specificity_rank());
    Ok(rules)
}
