//! Core's typed errors as Python exceptions: one base class, one subclass per kind of failure,
//! the message being core's own (which names the file, key or document place at fault).

use armature_core::host_options::SetupError;
use armature_core::{AppError, HostError};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::PyErr;

create_exception!(armature, ArmatureError, PyException, "Base class of the errors Armature raises.");
create_exception!(armature, ConfigError, ArmatureError, "The configuration cannot be loaded or is invalid.");
create_exception!(
    armature,
    ContractError,
    ArmatureError,
    "The contract cannot be served, or a handler does not fit it."
);
create_exception!(armature, ServerError, ArmatureError, "The server cannot start (the port is taken, for instance).");

pub(crate) fn setup_error(error: SetupError) -> PyErr {
    match error {
        SetupError::Config(error) => ConfigError::new_err(error.to_string()),
        SetupError::Contract(error) => ContractError::new_err(error.to_string()),
        SetupError::App(error) => app_error(error),
    }
}

pub(crate) fn app_error(error: AppError) -> PyErr {
    match error {
        AppError::UnknownOperation(_)
        | AppError::DuplicateHandler(_)
        | AppError::Contract(_)
        | AppError::NoContract => ContractError::new_err(error.to_string()),
        // Key files, policies and telemetry endpoints come from the configuration.
        AppError::Identity(_) | AppError::Authorization(_) | AppError::Telemetry(_) => {
            ConfigError::new_err(error.to_string())
        }
    }
}

pub(crate) fn host_error(error: HostError) -> PyErr {
    match error {
        HostError::App(error) => app_error(error),
        HostError::Server(error) => ServerError::new_err(error.to_string()),
        // A reload re-reads files the configuration names; nothing changed.
        HostError::Reload(error) => ConfigError::new_err(error.to_string()),
        HostError::AlreadyStarted | HostError::AlreadyBuilt | HostError::NotStarted | HostError::Runtime(_) => {
            PyRuntimeError::new_err(error.to_string())
        }
    }
}
