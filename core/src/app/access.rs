//! The stages a reload replaces: identity (JWT key and JWKS files, Basic users) and
//! authorization (Rego policies and data). They are built together from the files the
//! configuration names and swapped as one, so no request sees a new policy beside old users or
//! the other way round, and a request in flight finishes on the set it started with.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::AppError;
use crate::authorization::{Authorizer, PolicyOperation};
use crate::config::Config;
use crate::contract::Contract;
use crate::identity::Authenticator;
use crate::telemetry::metrics::Metrics;

/// Identity and authorization, as one reloadable unit.
pub(super) struct AccessControl {
    pub(super) authenticator: Authenticator,
    pub(super) authorizer: Option<Authorizer>,
    /// `input.operation`'s constant parts, by operation index (empty without a policy).
    pub(super) policy_operations: Vec<PolicyOperation>,
}

impl AccessControl {
    /// Reads every file `config.identity` and `config.authorization` name and compiles the two
    /// stages. `previous`, on a reload: the keys a JWKS URL already served are kept (the
    /// configuration, and so the URL, is the same), so a reload neither refuses tokens until the
    /// next fetch nor makes one.
    pub(super) fn build(
        config: &Config,
        contract: &Contract,
        previous: Option<&Self>,
        metrics: Option<&Metrics>,
    ) -> Result<Self, AppError> {
        let verifies_clients = config.server.tls.verifies_clients();
        let mut authenticator = Authenticator::new(&config.identity, contract, verifies_clients)?;
        if let Some(previous) = previous {
            authenticator.keep_fetched_keys_of(&previous.authenticator);
        }
        if let Some(metrics) = metrics {
            authenticator.count_jwks_failures_in(metrics.jwks_fetch_failures());
        }
        let authorizer = Authorizer::new(&config.authorization, &authenticator.credential_locations())?;
        let policy_operations = match &authorizer {
            Some(authorizer) => contract
                .operations()
                .iter()
                .map(|op| authorizer.operation(&op.id, &op.tags, &op.path_template))
                .collect(),
            None => Vec::new(),
        };
        if let Some(authorizer) = &authorizer {
            log_evaluator(authorizer, &policy_operations);
        }
        Ok(Self { authenticator, authorizer, policy_operations })
    }
}

/// Says at start-up and at every reload which evaluator runs the policy and, when it is the
/// interpreter although the compiled evaluator was asked for, why (the construct and its line):
/// the two differ in cost, and docs/security.md in the differences from OPA they have.
fn log_evaluator(authorizer: &Authorizer, operations: &[PolicyOperation]) {
    let decided = operations.iter().filter(|operation| operation.is_decided()).count();
    let differences = authorizer.interpreter_differences();
    let mut line = serde_json::json!({
        "level": if authorizer.fallback_reason().is_some() || !differences.is_empty() { "warn" } else { "info" },
        "event": "policy_evaluator",
        "evaluator": authorizer.evaluator(),
    });
    if let Some(reason) = authorizer.fallback_reason() {
        line["reason"] =
            format!("the compiled evaluator does not cover {reason}; the policy runs on the interpreter").into();
    }
    if authorizer.evaluator() == "compiled" {
        line["operations"] = operations.len().into();
        line["operations_decided_at_load"] = decided.into();
    }
    if !differences.is_empty() {
        // The interpreter's known differences from OPA that this policy could meet.
        line["differences_from_opa"] = differences.into();
    }
    // Beside the reload and JWKS events: operators' events, not access log lines.
    eprintln!("{line}");
}

/// The current [`AccessControl`]: each request takes the set that is current when it is routed
/// and keeps it to the end; a reload stores a new one (arc-swap: a load is a few atomic
/// operations, no lock a reload could hold up requests with).
pub(super) type AccessCell = ArcSwap<AccessControl>;

/// A new cell holding `access`.
pub(super) fn cell(access: AccessControl) -> AccessCell {
    ArcSwap::from(Arc::new(access))
}
