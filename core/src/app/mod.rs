//! An application: a contract, its handlers and a configuration, compiled into the request
//! pipeline that every request runs through, whether it came over a socket or from a test client.

mod access;
mod context;
mod request_head;
mod stage;

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{HeaderName, HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use crate::answer::{HandlerError, HandlerOutcome, HandlerResponse};
use crate::authorization::{self, AuthorizationRequest, Authorizer};
use crate::config::{Config, ResponseValidation, ServerConfig};
use crate::connection::Connection;
use crate::contract::{problem_responses, Contract, Operation, RouteMatch};
use crate::dispatch::{Handler, HandlerRequest, Responder};
use crate::path_params::PathParams;
use crate::problem::{self, Problem, ProblemKind, RenderContext};
use crate::telemetry::access_log::LogWriter;
use crate::telemetry::recorder::{RouteLabel, Telemetry, TelemetryError};
use crate::{answer, validation};
use access::{AccessCell, AccessControl};
use context::RequestContext;
use stage::Stage;

/// Errors building an application.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A handler names an operation the contract does not have.
    #[error("handler registered for operationId {0:?}, which the contract does not define")]
    UnknownOperation(String),
    /// Two handlers for one operation.
    #[error("two handlers registered for operationId {0:?}")]
    DuplicateHandler(String),
    /// The contract could not be loaded.
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
    /// No contract was given, in code or in `contract.path`.
    #[error("no contract: pass one or set contract.path (ARMATURE_CONTRACT__PATH)")]
    NoContract,
    /// The identity configuration cannot verify what the contract's `security` requires.
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    /// A policy or data file could not be loaded.
    #[error(transparent)]
    Authorization(#[from] authorization::AuthorizationError),
    /// Telemetry could not start.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
}

/// Whether the service takes traffic; shared by the pipeline (`/ready`) and the server.
#[derive(Debug, Default)]
pub struct Lifecycle {
    listening: AtomicBool,
    draining: AtomicBool,
}

impl Lifecycle {
    /// Ready: listening and not draining.
    pub fn is_ready(&self) -> bool {
        self.listening.load(Ordering::Acquire) && !self.draining.load(Ordering::Acquire)
    }

    /// Marks the listener open (or not).
    pub fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::Release);
    }

    /// Marks the start of a graceful shutdown: readiness turns false at once.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether a graceful shutdown has started.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

/// Builds an [`App`].
pub struct AppBuilder {
    contract: Option<Arc<Contract>>,
    config: Config,
    handlers: Vec<(String, Handler)>,
    log: Option<Arc<LogWriter>>,
}

impl AppBuilder {
    /// Binds a handler to an operation by `operationId`.
    pub fn handler(mut self, operation_id: impl Into<String>, handler: Handler) -> Self {
        self.handlers.push((operation_id.into(), handler));
        self
    }

    /// Uses this contract instead of `contract.path`. A shared contract (`Arc<Contract>`) lets a
    /// host build several applications, or retry a failed start, without compiling it again.
    pub fn contract(mut self, contract: impl Into<Arc<Contract>>) -> Self {
        self.contract = Some(contract.into());
        self
    }

    /// Writes the log lines (access, decision, response-validation) through `log` instead of
    /// the writer `telemetry.access_log.target` names: for tests that read them
    /// ([`LogWriter::capture`]) and hosts that collect them themselves.
    pub fn log_writer(mut self, log: Arc<LogWriter>) -> Self {
        self.log = Some(log);
        self
    }

    /// Compiles the application; fails on a handler for an unknown operation.
    pub fn build(self) -> Result<App, AppError> {
        let contract = match (self.contract, &self.config.contract.path) {
            (Some(contract), _) => contract,
            (None, Some(path)) => Arc::new(Contract::from_path(path)?),
            (None, None) => return Err(AppError::NoContract),
        };
        let mut handlers: Vec<Option<Handler>> = vec![None; contract.operations().len()];
        for (id, handler) in self.handlers {
            let index = contract.operation_index(&id).ok_or_else(|| AppError::UnknownOperation(id.clone()))?;
            if handlers[index].replace(handler).is_some() {
                return Err(AppError::DuplicateHandler(id));
            }
        }
        let operation_ids = contract.operations().iter().map(|o| Arc::from(o.id.as_str())).collect();
        let telemetry = match self.log {
            Some(log) => Telemetry::with_writer(&self.config.telemetry, log)?,
            None => Telemetry::new(&self.config.telemetry)?,
        };
        let access = AccessControl::build(&self.config, &contract, None, telemetry.metrics())?;
        let served_contract = if self.config.contract.document_problems {
            // A reload re-reads the policy files but cannot add or remove the policy itself.
            let document = problem_responses::with_problem_responses(&contract, access.authorizer.is_some());
            // A serde_json::Value always serializes.
            Bytes::from(serde_json::to_vec(&document).unwrap_or_default())
        } else {
            contract.json().clone()
        };
        Ok(App {
            inner: Arc::new(AppInner {
                access: access::cell(access),
                reloading: std::sync::Mutex::new(()),
                telemetry,
                request_timeout: Duration::from_millis(self.config.server.request_timeout_ms),
                contract,
                served_contract,
                config: self.config,
                handlers,
                operation_ids,
                lifecycle: Arc::new(Lifecycle::default()),
                response_violations: AtomicU64::new(0),
            }),
        })
    }
}

/// A compiled application; cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

struct AppInner {
    /// Identity and authorization: what [`App::reload`] replaces.
    access: AccessCell,
    /// Held while a reload builds and swaps, so two at once cannot interleave.
    reloading: std::sync::Mutex<()>,
    telemetry: Telemetry,
    contract: Arc<Contract>,
    /// `/openapi.json`: the contract, with core's own problem responses unless switched off.
    served_contract: Bytes,
    config: Config,
    handlers: Vec<Option<Handler>>,
    operation_ids: Vec<Arc<str>>,
    lifecycle: Arc<Lifecycle>,
    request_timeout: Duration,
    response_violations: AtomicU64,
}

/// Path parameters as the router captured them: the contract's name, the text still percent-encoded.
type CapturedParams<'c, 'p> = Vec<(&'c str, &'p str)>;

/// Boxed error of a request body stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl App {
    /// Starts building an application from a configuration; the contract comes from
    /// [`AppBuilder::contract`] or `contract.path`.
    pub fn builder(config: Config) -> AppBuilder {
        AppBuilder { contract: None, config, handlers: Vec::new(), log: None }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The contract.
    pub fn contract(&self) -> &Contract {
        &self.inner.contract
    }

    /// Readiness state, shared with the server.
    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.inner.lifecycle
    }

    /// Responses that broke the contract since start (counted in every validation mode but `off`).
    pub fn response_violations(&self) -> u64 {
        self.inner.response_violations.load(Ordering::Relaxed)
    }

    /// The telemetry stage (metrics registry, log writer, span exporter).
    pub fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    /// Re-reads every file identity and authorization name (JWT key and JWKS files, Basic users,
    /// Rego policies and data), compiles them, and swaps them in as one: requests already routed
    /// finish on the set they started with. When anything fails (a file is gone, a policy does
    /// not compile) nothing changes. Either way the outcome is logged to stderr and counted in
    /// `armature_reloads_total`. The configuration itself is not read again.
    pub fn reload(&self) -> Result<(), AppError> {
        self.reload_with(|| Ok::<_, AppError>(()), |()| {})
    }

    /// A reload that also prepares, then installs, something of the server's (its TLS
    /// certificate): `prepare` runs first, the swap only when it and the stages were built.
    pub(crate) fn reload_with<T, E>(
        &self,
        prepare: impl FnOnce() -> Result<T, E>,
        install: impl FnOnce(T),
    ) -> Result<(), E>
    where
        E: From<AppError> + std::fmt::Display,
    {
        let inner = &*self.inner;
        let _one_at_a_time = inner.reloading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = prepare().and_then(|prepared| {
            let current = inner.access.load();
            let access =
                AccessControl::build(&inner.config, &inner.contract, Some(&current), inner.telemetry.metrics())?;
            inner.access.store(Arc::new(access));
            install(prepared);
            Ok(())
        });
        let line = match &result {
            Ok(()) => serde_json::json!({"level": "info", "event": "reloaded"}),
            Err(error) => serde_json::json!({"level": "error", "event": "reload_failed", "error": error.to_string()}),
        };
        // Beside the JWKS fetch warnings: operators' events, not access log lines.
        eprintln!("{line}");
        if let Some(metrics) = inner.telemetry.metrics() {
            metrics.reloaded(result.is_ok());
        }
        result
    }

    /// Runs one request through the whole pipeline.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        self.handle_from(request, None).await
    }

    /// Runs one request that came from `remote_addr` (logged in the access log).
    pub async fn handle_from<B>(&self, request: Request<B>, remote_addr: Option<SocketAddr>) -> Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        self.handle_with(request, Connection::from_addr(remote_addr), Origin::InProcess).await
    }

    /// Runs one request the server read from a socket: held, before the pipeline, to the rules
    /// of the HTTP message itself (RFC 9112's `Host`), which an in-process request is not.
    pub(crate) async fn handle_from_socket<B>(
        &self,
        request: Request<B>,
        connection: Connection,
    ) -> Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        self.handle_with(request, connection, Origin::Socket).await
    }

    async fn handle_with<B>(&self, request: Request<B>, connection: Connection, origin: Origin) -> Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let telemetry = &self.inner.telemetry;
        // Held across the request: a dropped (cancelled) request still leaves the gauge.
        let _in_flight = telemetry.metrics().map(|metrics| metrics.request_started());
        let (parts, body) = request.into_parts();
        let body_on_the_wire = origin == Origin::Socket && request_head::declares_http1_body(&parts);
        let mut context = RequestContext::new(parts, telemetry, connection);
        let mut response = match self.run(&mut context, body, origin).await {
            Ok(response) => response,
            Err(problem) => self.problem_response(&problem, &context),
        };
        if context.parts.method == Method::HEAD {
            without_body(&mut response);
        }
        if body_on_the_wire && !context.body_read {
            // hyper cannot reuse a connection whose request body is still unread, and closes it
            // after this response: saying so spares the client a request sent into a closing socket.
            response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        context.stamp(response.headers_mut());
        context.finish(telemetry, response.status().as_u16(), response.body().size_hint().exact().unwrap_or(0));
        response
    }

    /// The pipeline after the request was accepted: route, then one stage after the other, each
    /// reading the context and adding to it.
    async fn run<'s, B>(
        &'s self,
        context: &mut RequestContext<'s>,
        body: B,
        origin: Origin,
    ) -> Result<Response<Full<Bytes>>, Problem>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let inner = &*self.inner;
        if origin == Origin::Socket {
            request_head::check_host(&context.parts)?;
        }
        request_head::check_size(&context.parts, &inner.config.server)?;
        if let Some(response) = self.builtin(&context.parts.method, context.parts.uri.path()) {
            context.route = RouteLabel::Builtin;
            return response;
        }
        let (operation_index, raw_path_params) = self.route(&context.parts)?;
        let operation = inner.contract.operation_at(operation_index);
        context.route = RouteLabel::Operation { id: &operation.id, template: &operation.path_template };
        context.clock.routed_to(&operation.id);
        // This request's identity and policy, to its end, whatever a reload swaps in meanwhile.
        let access = inner.access.load_full();

        let identity = context
            .clock
            .time_async(
                Stage::Identity,
                access.authenticator.authenticate(&operation.security, &context.parts, &context.connection),
            )
            .await?;
        context.subject.clone_from(&identity.subject);

        let body = read_body(&context.parts, body, &inner.config.server).await?;
        context.request_bytes = body.len() as u64;
        context.body_read = true;
        let path_params = PathParams::decode(operation, &raw_path_params);

        // Parsed once, when the policy asks for it, and handed on to validation and the handler.
        let mut parsed_body = None;
        let mut policy_headers = Vec::new();
        if let Some(authorizer) = &access.authorizer {
            // The body is parsed for the policy only when asked for: most policies never look at it.
            if authorizer.include_body() && !body.is_empty() {
                parsed_body = serde_json::from_slice::<Value>(&body).ok();
            }
            let request = AuthorizationRequest {
                parts: &context.parts,
                body: parsed_body.as_ref(),
                identity: &identity,
                operation: &access.policy_operations[operation_index],
                path_params: &path_params,
                connection: &context.connection,
            };
            policy_headers = context.clock.time(Stage::Authorization, || {
                self.authorize(authorizer, &operation.id, &request, &context.request_id)
            })?;
        }

        let validate = inner.config.validation.request;
        let checked = context.clock.time(Stage::RequestCheck, || {
            validation::check_request(operation, path_params, &context.parts, &body, validate, parsed_body)
        })?;
        let Some(handler) = &inner.handlers[operation_index] else {
            return Err(Problem::new(
                ProblemKind::NotImplemented,
                format!("Operation {:?} has no handler.", operation.id),
            ));
        };
        // No stage after this one reads the request headers: they move to the handler's request.
        let mut headers = std::mem::take(&mut context.parts.headers);
        if access.authenticator.takes_basic(&operation.security) {
            headers.remove(http::header::AUTHORIZATION); // the Basic password stays in core
        }
        for (name, value) in policy_headers {
            headers.append(name, value);
        }
        let request = HandlerRequest {
            method: context.parts.method.clone(),
            path: context.parts.uri.path().to_owned(),
            query: context.parts.uri.query().map(str::to_owned),
            operation_id: inner.operation_ids[operation_index].clone(),
            params: checked.params,
            headers,
            body,
            json: checked.json,
            request_id: context.request_id.clone(),
            trace: context.trace.clone(),
            client_spans: inner.telemetry.client_spans(context.clock.is_recording()),
            identity,
        };
        let mut response = context.clock.time_async(Stage::Handler, self.call(handler, request)).await?;
        if inner.config.validation.response != ResponseValidation::Off {
            response = context
                .clock
                .time(Stage::ResponseCheck, || self.check_response(operation, response, &context.request_id))?;
        }
        let mut built = Response::new(Full::new(response.body));
        *built.status_mut() = response.status;
        *built.headers_mut() = response.headers;
        Ok(built)
    }

    /// Finds the operation (a HEAD request finds the path's GET operation when it has no HEAD
    /// one); 404 or 405 when there is none.
    fn route<'c, 'p>(&'c self, parts: &'p http::request::Parts) -> Result<(usize, CapturedParams<'c, 'p>), Problem> {
        let path = parts.uri.path();
        match self.inner.contract.route(&parts.method, path) {
            RouteMatch::Found { operation, params } => Ok((operation, params)),
            RouteMatch::MethodNotAllowed(allow) => {
                let detail = format!("{} is not allowed on {path}; allowed: {allow}.", parts.method);
                let mut problem = Problem::new(ProblemKind::MethodNotAllowed, detail);
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    problem = problem.with_header(ALLOW, value);
                }
                Err(problem)
            }
            RouteMatch::NotFound => {
                Err(Problem::new(ProblemKind::NotFound, format!("No operation matches {} {path}.", parts.method)))
            }
        }
    }

    /// The authorization stage: the policy's decision on this request, in the decision log when
    /// configured. Headers the policy adds to an allowed request are returned for the handler's
    /// request.
    fn authorize(
        &self,
        authorizer: &Authorizer,
        operation_id: &str,
        request: &AuthorizationRequest<'_>,
        request_id: &str,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, Problem> {
        let started = Instant::now();
        let result = authorizer.authorize(request);
        if self.inner.config.authorization.decision_log {
            let line = authorization::decision_log_line(
                request_id,
                operation_id,
                request.identity,
                &result,
                started.elapsed(),
            );
            self.inner.telemetry.log().write_line(line);
        }
        match result {
            Ok(decision) if decision.allow => Ok(decision.headers),
            Ok(decision) => {
                let detail = decision.reason.unwrap_or_else(|| "The policy denies this request.".to_owned());
                let mut problem = Problem::new(ProblemKind::AccessDenied, detail);
                if let Some(status) = decision.status {
                    problem = problem.with_status(status);
                }
                for (name, value) in decision.headers {
                    problem = problem.with_header(name, value);
                }
                Err(problem)
            }
            Err(error) => Err(Problem::new(
                ProblemKind::PolicyError,
                "The authorization policy could not decide; the request is refused.",
            )
            .with_internal(error.to_string())),
        }
    }

    /// The handler stage: the handler's answer within the request timeout.
    async fn call(&self, handler: &Handler, request: HandlerRequest) -> Result<HandlerResponse, Problem> {
        let timeout = self.inner.request_timeout;
        match tokio::time::timeout(timeout, dispatch(handler, request)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Problem::new(
                ProblemKind::HandlerTimeout,
                format!("The handler did not answer within {} ms.", self.inner.config.server.request_timeout_ms),
            )),
        }
    }

    /// The response stage: violations of the contract are counted, then refused (`enforce`) or
    /// logged with the response let through (`report`).
    fn check_response(
        &self,
        operation: &Operation,
        response: HandlerResponse,
        request_id: &str,
    ) -> Result<HandlerResponse, Problem> {
        let inner = &*self.inner;
        let violations = validation::check_response(operation, &response);
        if violations.is_empty() {
            return Ok(response);
        }
        inner.response_violations.fetch_add(1, Ordering::Relaxed);
        if let Some(metrics) = inner.telemetry.metrics() {
            metrics.response_violation(&operation.id);
        }
        // Said in the log in both modes: under `enforce` the client only gets a generic 500 (the
        // violations only with `errors.debug`), and the server must still say what was wrong.
        let enforce = inner.config.validation.response == ResponseValidation::Enforce;
        self.log_violations(&operation.id, request_id, &violations, enforce);
        if enforce {
            return Err(Problem::new(
                ProblemKind::ResponseValidation,
                "The handler's response does not match the contract.",
            )
            .with_errors(violations));
        }
        Ok(response)
    }

    /// One warn-level JSON line in the log: the operation, the request id, each violation's
    /// location, pointer and message, and whether the response was refused (`enforce`) or sent
    /// (`report`).
    fn log_violations(&self, operation_id: &str, request_id: &str, violations: &[problem::Violation], refused: bool) {
        let line = serde_json::json!({
            "level": "warn",
            "event": "response_validation",
            "operation_id": operation_id,
            "request_id": request_id,
            "refused": refused,
            "errors": violations,
        });
        self.inner.telemetry.log().write_line(line.to_string());
    }

    fn builtin(&self, method: &Method, path: &str) -> Option<Result<Response<Full<Bytes>>, Problem>> {
        let endpoints = &self.inner.config.endpoints;
        let (status, content_type, body) = if path == endpoints.health {
            (StatusCode::OK, "application/json", Bytes::from_static(br#"{"status":"ok"}"#))
        } else if path == endpoints.ready {
            if self.inner.lifecycle.is_ready() {
                (StatusCode::OK, "application/json", Bytes::from_static(br#"{"status":"ready"}"#))
            } else if self.inner.lifecycle.is_draining() {
                (StatusCode::SERVICE_UNAVAILABLE, "application/json", Bytes::from_static(br#"{"status":"draining"}"#))
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "application/json", Bytes::from_static(br#"{"status":"starting"}"#))
            }
        } else if path == endpoints.openapi {
            (StatusCode::OK, "application/json", self.inner.served_contract.clone())
        } else if let (true, Some(metrics)) = (path == endpoints.metrics, self.inner.telemetry.metrics()) {
            let (body, content_type) = metrics.render();
            (StatusCode::OK, content_type, body)
        } else {
            return None;
        };
        if method != Method::GET && method != Method::HEAD {
            let problem = Problem::new(
                ProblemKind::MethodNotAllowed,
                format!("{method} is not allowed on {path}; allowed: GET, HEAD."),
            )
            .with_header(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Some(Err(problem));
        }
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        Some(Ok(response))
    }

    fn problem_response(&self, problem: &Problem, context: &RequestContext<'_>) -> Response<Full<Bytes>> {
        let errors = &self.inner.config.errors;
        let body = problem.render(&RenderContext {
            type_base: &errors.type_base,
            instance: context.parts.uri.path(),
            request_id: &context.request_id,
            trace_id: context.trace.trace_id.hex().as_str(),
            debug: errors.debug,
        });
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(problem::CONTENT_TYPE));
        for (name, value) in &problem.headers {
            headers.append(name.clone(), value.clone());
        }
        response
    }
}

impl From<HandlerError> for Problem {
    fn from(error: HandlerError) -> Self {
        match error {
            HandlerError::Failed(message) => {
                Problem::new(ProblemKind::HandlerError, "The handler failed.").with_internal(message)
            }
            // The status is 400-599: every answer passed `answer::check` on its way here.
            HandlerError::Refused { status, detail } => Problem::new(ProblemKind::Refused, detail).with_status(status),
            HandlerError::Overloaded => {
                Problem::new(ProblemKind::Overloaded, "The service is at capacity; retry later.")
            }
        }
    }
}

/// Hands the request to its handler and waits for the answer. A panic or an unanswered
/// responder becomes a failure here, so no handler bug reaches the connection.
async fn dispatch(handler: &Handler, request: HandlerRequest) -> Result<HandlerResponse, Problem> {
    let outcome: HandlerOutcome = match handler {
        // The same rule as a responder's (`Responder::finish`), for answers that come back
        // without one.
        Handler::Async(f) => match AssertUnwindSafe(async { f(request).await }).catch_unwind().await {
            Ok(outcome) => answer::enforce(outcome).0,
            Err(panic) => Err(HandlerError::Failed(panic_message(&panic))),
        },
        Handler::Callback(f) => {
            let (responder, receiver) = Responder::channel();
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| f(request, responder))) {
                return Err(HandlerError::Failed(panic_message(&panic)).into());
            }
            match receiver.await {
                Ok(outcome) => outcome,
                Err(_) => return Err(Problem::new(ProblemKind::NoResponse, "The handler finished without answering.")),
            }
        }
    };
    outcome.map_err(Problem::from)
}

/// The answer to a HEAD request: the GET answer's status and headers, with `content-length`
/// saying how long its body is, and no body (RFC 9110 §9.3.2). Done here, not left to hyper, so
/// in-process requests are answered alike.
fn without_body(response: &mut Response<Full<Bytes>>) {
    let length = response.body().size_hint().exact().unwrap_or(0);
    response.headers_mut().entry(CONTENT_LENGTH).or_insert_with(|| HeaderValue::from(length));
    *response.body_mut() = Full::new(Bytes::new());
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".to_owned());
    format!("handler panicked: {text}")
}

/// Reads the whole body within `server.body_read_timeout_ms`, refusing more than
/// `server.max_body_bytes` (413) before reading when the declared length already says so.
async fn read_body<B>(parts: &http::request::Parts, body: B, server: &ServerConfig) -> Result<Bytes, Problem>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let max = server.max_body_bytes;
    let too_large = || Problem::new(ProblemKind::PayloadTooLarge, format!("The request body exceeds {max} bytes."));
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max) {
        return Err(too_large());
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let timeout = Duration::from_millis(server.body_read_timeout_ms);
    let Ok(collected) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await else {
        // The rest of the body may still come: the connection cannot carry another request.
        return Err(Problem::new(
            ProblemKind::BodyTimeout,
            format!("The request body did not arrive within {} ms.", server.body_read_timeout_ms),
        )
        .with_header(CONNECTION, HeaderValue::from_static("close")));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large()),
        Err(error) => Err(Problem::new(ProblemKind::MalformedBody, "The request body could not be read.")
            .with_internal(error.to_string())),
    }
}

/// Where a request came from: only one read from a socket is an HTTP/1 message on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Socket,
    InProcess,
}
