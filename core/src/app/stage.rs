//! The stages of the request pipeline and the clock that runs each one: it times the stage into
//! the request's span (when the span is recorded) and counts the stage's failure in the metrics,
//! so the pipeline itself is one line per stage.

use std::future::Future;
use std::time::SystemTime;

use crate::problem::{Location, Problem, ProblemKind};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::recorder::SpanTimes;

/// A timed stage of the pipeline, in the order requests run through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Who is calling, as the operation's `security` requires.
    Identity,
    /// The policy's decision.
    Authorization,
    /// Parameters and body against the contract.
    RequestCheck,
    /// The handler, in whatever language.
    Handler,
    /// The handler's response against the contract.
    ResponseCheck,
}

impl Stage {
    /// The stage's name in span events.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stage::Identity => "identity",
            Stage::Authorization => "authorization",
            Stage::RequestCheck => "request_check",
            Stage::Handler => "handler",
            Stage::ResponseCheck => "response_check",
        }
    }

    /// Counts a failure of this stage. The handler's failures are counted by status with every
    /// request; response violations are counted by the response stage itself, since report mode
    /// counts them without failing the request.
    fn count_failure(self, metrics: &Metrics, operation: &str, problem: &Problem) {
        match self {
            Stage::Identity if problem.kind == ProblemKind::InsufficientScope => {
                metrics.authorization_denied(operation)
            }
            Stage::Identity => metrics.authentication_failure(operation),
            Stage::Authorization if problem.kind == ProblemKind::PolicyError => metrics.authorization_error(operation),
            Stage::Authorization => metrics.authorization_denied(operation),
            Stage::RequestCheck => {
                for violation in &problem.errors {
                    metrics.validation_failure(violation.location.as_str());
                }
                if problem.errors.is_empty() {
                    // 415 and malformed bodies carry no per-field list; they are body failures.
                    metrics.validation_failure(Location::Body.as_str());
                }
            }
            Stage::Handler | Stage::ResponseCheck => {}
        }
    }
}

/// Runs the stages of one request.
pub(crate) struct StageClock<'a> {
    /// The request's span, when it is recorded; otherwise no clock is read.
    span: Option<SpanTimes>,
    metrics: Option<&'a Metrics>,
    /// The operation the request was routed to, labelling failure metrics.
    operation: &'a str,
}

impl<'a> StageClock<'a> {
    /// A clock for a request whose span is recorded when `span` is given.
    pub(crate) fn new(span: Option<SpanTimes>, metrics: Option<&'a Metrics>) -> Self {
        StageClock { span, metrics, operation: "" }
    }

    /// Labels the failures of the stages to come with the operation the request was routed to.
    pub(crate) fn routed_to(&mut self, operation: &'a str) {
        self.operation = operation;
    }

    /// Runs a synchronous stage.
    pub(crate) fn time<T>(&mut self, stage: Stage, run: impl FnOnce() -> Result<T, Problem>) -> Result<T, Problem> {
        let start = self.start();
        let result = run();
        self.finish(stage, start, &result);
        result
    }

    /// Runs an asynchronous stage.
    pub(crate) async fn time_async<T>(
        &mut self,
        stage: Stage,
        run: impl Future<Output = Result<T, Problem>>,
    ) -> Result<T, Problem> {
        let start = self.start();
        let result = run.await;
        self.finish(stage, start, &result);
        result
    }

    /// Whether the request's span is recorded.
    pub(crate) fn is_recording(&self) -> bool {
        self.span.is_some()
    }

    /// The span's stage timings, for telemetry once the request is answered.
    pub(crate) fn into_span(self) -> Option<SpanTimes> {
        self.span
    }

    fn start(&self) -> Option<SystemTime> {
        self.span.as_ref().map(|_| SystemTime::now())
    }

    fn finish<T>(&mut self, stage: Stage, start: Option<SystemTime>, result: &Result<T, Problem>) {
        if let (Some(span), Some(start)) = (self.span.as_mut(), start) {
            span.stage(stage.name(), start);
        }
        if let (Err(problem), Some(metrics)) = (result, self.metrics) {
            stage.count_failure(metrics, self.operation, problem);
        }
    }
}
