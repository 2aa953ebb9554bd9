//! What a language binding gathers before it can serve: where the configuration and the contract
//! come from, the operations declared in code, and the server settings its `listen`/`run` call
//! overrides. [`HostOptions::load`] turns them into a [`Host`] the same way for every binding,
//! so "which contract wins" and "what an empty code-first service is titled" have one answer.
//!
//! ```
//! use armature_core::contract::code_first::OperationSpec;
//! use armature_core::host_options::HostOptions;
//!
//! let hello: OperationSpec = serde_json::from_value(serde_json::json!({
//!     "method": "GET", "path": "/hello/{name}", "operation_id": "hello",
//! }))?;
//! let options = HostOptions { operations: vec![hello], port: Some(0), ..HostOptions::default() };
//! let host = options.load()?;
//! assert_eq!(host.operation_ids().collect::<Vec<_>>(), ["hello"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::contract::code_first::{self, OperationSpec};
use crate::{AppError, Config, ConfigError, Contract, ContractError, Host};

/// Where a service's configuration and contract come from, and what overrides them.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// A configuration file; None: `ARMATURE_CONFIG`, else the embedded defaults (with
    /// `ARMATURE_*` environment overrides either way).
    pub config_path: Option<PathBuf>,
    /// An OpenAPI file; None: the configuration's `contract.path`.
    pub contract_path: Option<PathBuf>,
    /// An already parsed OpenAPI document; wins over both paths.
    pub contract_document: Option<Value>,
    /// Operations declared in code, added to the contract (or making it up, when there is none).
    pub operations: Vec<OperationSpec>,
    /// `info.title` of a contract made only of code-first operations.
    pub title: String,
    /// `info.version` of a contract made only of code-first operations.
    pub version: String,
    /// Overrides `server.host`.
    pub host: Option<String>,
    /// Overrides `server.port`.
    pub port: Option<u16>,
    /// Overrides `server.reuse_port`.
    pub reuse_port: Option<bool>,
    /// Overrides `server.workers`.
    pub workers: Option<usize>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            config_path: None,
            contract_path: None,
            contract_document: None,
            operations: Vec::new(),
            title: "Armature service".to_owned(),
            version: "0.1.0".to_owned(),
            host: None,
            port: None,
            reuse_port: None,
            workers: None,
        }
    }
}

/// Why a service could not be set up; each binding maps the kinds to its own exceptions.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The configuration file cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The contract (file, document or code-first operation) cannot be served.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// Neither a contract nor a code-first operation was given.
    #[error(transparent)]
    App(#[from] AppError),
}

impl HostOptions {
    /// Loads the configuration, applies the overrides and compiles the contract into a host
    /// with no handler yet.
    pub fn load(self) -> Result<Host, SetupError> {
        let mut config = match &self.config_path {
            Some(path) => Config::from_file(path)?,
            None => Config::load()?,
        };
        if let Some(host) = self.host.clone() {
            config.server.host = host;
        }
        if let Some(port) = self.port {
            config.server.port = port;
        }
        if let Some(reuse_port) = self.reuse_port {
            config.server.reuse_port = reuse_port;
        }
        if let Some(workers) = self.workers {
            config.server.workers = workers;
        }
        let contract = self.contract(&config)?;
        Ok(Host::new(config, contract))
    }

    /// The document or file (else `contract.path`), plus the code-first operations; an empty
    /// document titled `title` when only code declares operations.
    fn contract(self, config: &Config) -> Result<Arc<Contract>, SetupError> {
        let path = self.contract_path.or_else(|| config.contract.path.clone());
        let mut document = match (self.contract_document, path) {
            (Some(document), _) => document,
            (None, Some(path)) => {
                let contract = Contract::from_path(&path)?;
                if self.operations.is_empty() {
                    return Ok(Arc::new(contract));
                }
                contract.document().clone()
            }
            (None, None) if self.operations.is_empty() => return Err(AppError::NoContract.into()),
            (None, None) => code_first::empty_document(&self.title, &self.version),
        };
        for spec in &self.operations {
            code_first::add_operation(&mut document, spec)?;
        }
        Ok(Arc::new(Contract::from_value(document)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_contract_or_operations_it_names_what_is_missing() {
        let error = HostOptions::default().load().err().map(|e| e.to_string());
        assert_eq!(error, AppError::NoContract.to_string().into());
    }

    #[test]
    fn code_first_operations_are_added_to_the_contract_file() {
        let spec: OperationSpec = serde_json::from_value(serde_json::json!({
            "method": "GET", "path": "/extra", "operation_id": "extra",
        }))
        .unwrap();
        let options = HostOptions {
            contract_path: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/contract.yaml").into()),
            operations: vec![spec],
            port: Some(0),
            ..HostOptions::default()
        };
        let host = options.load().unwrap();
        let ids: Vec<&str> = host.operation_ids().collect();
        assert!(ids.contains(&"extra") && ids.contains(&"getUser"), "{ids:?}");
        assert_eq!(host.config().server.port, 0);
    }

    /// What a binding's `listen(port)` / `run(port=)` gives wins over `ARMATURE_SERVER__PORT`
    /// and `ARMATURE_SERVER__HOST`: code is the more specific of the two, as in every language.
    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail returns its own large error type
    fn a_port_given_in_code_wins_over_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARMATURE_SERVER__PORT", "9001");
            jail.set_env("ARMATURE_SERVER__HOST", "0.0.0.0");
            let contract = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/contract.yaml").into());
            let options = HostOptions { contract_path: contract, ..HostOptions::default() };
            let from_env = options.clone().load().unwrap();
            assert_eq!((from_env.config().server.port, from_env.config().server.host.as_str()), (9001, "0.0.0.0"));
            let options = HostOptions { port: Some(7007), host: Some("127.0.0.1".into()), ..options };
            let from_code = options.load().unwrap();
            assert_eq!((from_code.config().server.port, from_code.config().server.host.as_str()), (7007, "127.0.0.1"));
            Ok(())
        });
    }
}
