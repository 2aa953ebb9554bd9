//! Core's typed errors as JavaScript errors. napi-rs throws a plain `Error` whose `code` is the
//! status string given here; the TypeScript layer turns the `code` into `ConfigError`,
//! `ContractError` or `ServerError` (lib/errors.ts), keeping core's own message, which names the
//! file, key or document place at fault.

use armature_core::host_options::SetupError;
use armature_core::{AppError, HostError};
use napi::Error;

/// The `code` of a configuration error (bad file, key, policy, key file, telemetry endpoint).
pub(crate) const CONFIG: &str = "ARMATURE_CONFIG";
/// The `code` of a contract error (bad document, unknown operation, duplicate handler).
pub(crate) const CONTRACT: &str = "ARMATURE_CONTRACT";
/// The `code` of a server error (the port is taken, for instance).
pub(crate) const SERVER: &str = "ARMATURE_SERVER";
/// The `code` of a misuse of the life cycle (listen twice, close before listen).
pub(crate) const STATE: &str = "ARMATURE_STATE";
/// The `code` of an answer the answer rules refuse, or a value that cannot be converted.
pub(crate) const INVALID: &str = "ARMATURE_INVALID";

pub(crate) fn error(code: &str, message: impl Into<String>) -> Error<String> {
    Error::new(code.to_owned(), message.into())
}

pub(crate) fn setup_error(error: SetupError) -> Error<String> {
    match error {
        SetupError::Config(error) => self::error(CONFIG, error.to_string()),
        SetupError::Contract(error) => self::error(CONTRACT, error.to_string()),
        SetupError::App(error) => app_error(error),
    }
}

pub(crate) fn app_error(error: AppError) -> Error<String> {
    let code = match error {
        AppError::UnknownOperation(_)
        | AppError::DuplicateHandler(_)
        | AppError::Contract(_)
        | AppError::NoContract => CONTRACT,
        // Key files, policies and telemetry endpoints come from the configuration.
        AppError::Identity(_) | AppError::Authorization(_) | AppError::Telemetry(_) => CONFIG,
    };
    self::error(code, error.to_string())
}

pub(crate) fn host_error(error: HostError) -> Error<String> {
    match error {
        HostError::App(error) => app_error(error),
        HostError::Server(error) => self::error(SERVER, error.to_string()),
        // A reload re-reads files the configuration names; nothing changed.
        HostError::Reload(error) => self::error(CONFIG, error.to_string()),
        HostError::AlreadyStarted | HostError::AlreadyBuilt | HostError::NotStarted | HostError::Runtime(_) => {
            self::error(STATE, error.to_string())
        }
    }
}
