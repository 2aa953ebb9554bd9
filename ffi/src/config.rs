//! Configuration and contract handles: read once, then given to `armature_server_new`.

use std::sync::Arc;

use armature_core::config::ConfigFormat;
use armature_core::{Config, Contract};

use crate::handle::{free, give};
use crate::status::{boundary, guard, ArmatureError, ArmatureStatus, FfiError};
use crate::strings::str_in;

/// The format of an in-memory configuration document: one of the `ARMATURE_CONFIG_FORMAT_*`
/// values. An integer, not a C enum, so that an out-of-range value is an error, not undefined
/// behaviour.
pub type ArmatureConfigFormat = u32;
/// YAML (JSON is valid YAML too).
pub const ARMATURE_CONFIG_FORMAT_YAML: ArmatureConfigFormat = 0;
/// JSON.
pub const ARMATURE_CONFIG_FORMAT_JSON: ArmatureConfigFormat = 1;
/// TOML.
pub const ARMATURE_CONFIG_FORMAT_TOML: ArmatureConfigFormat = 2;

/// A server configuration (see docs/configuration in the README): embedded defaults, then a
/// document, then `ARMATURE_*` environment overrides.
pub struct ArmatureConfig {
    pub(crate) config: Config,
}

/// A loaded and compiled OpenAPI contract.
pub struct ArmatureContract {
    pub(crate) contract: Arc<Contract>,
}

/// Embedded defaults with `ARMATURE_*` environment overrides (`ARMATURE_CONFIG` names a file
/// to read first, as for the Rust API's `Config::load`).
///
/// Ownership: on success `*out` is a new config the caller frees with `armature_config_free`.
/// Thread safety: any thread. Blocks on reading the file `ARMATURE_CONFIG` names, if any.
#[no_mangle]
pub extern "C" fn armature_config_new(out: *mut *mut ArmatureConfig, error: *mut *mut ArmatureError) -> ArmatureStatus {
    boundary(error, || give(out, ArmatureConfig { config: Config::load()? }))
}

/// Reads a configuration file (YAML, JSON or TOML by its extension) over the defaults, with
/// `ARMATURE_*` environment overrides on top. Relative paths inside it are taken from the
/// process's working directory.
///
/// Ownership: `path` is borrowed for the call; on success `*out` is a new config the caller
/// frees with `armature_config_free`. Thread safety: any thread. Blocks on reading the file.
#[no_mangle]
pub extern "C" fn armature_config_from_file(
    path: *const u8,
    path_len: usize,
    out: *mut *mut ArmatureConfig,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes `path_len` readable bytes at `path`.
        let path = unsafe { str_in(path, path_len, "path") }?;
        give(out, ArmatureConfig { config: Config::from_file(path)? })
    })
}

/// Parses an in-memory configuration document over the defaults, with `ARMATURE_*` environment
/// overrides on top. `format` is one of `ARMATURE_CONFIG_FORMAT_*`.
///
/// Ownership: `text` is borrowed for the call; on success `*out` is a new config the caller
/// frees with `armature_config_free`. Thread safety: any thread; does not block.
#[no_mangle]
pub extern "C" fn armature_config_from_str(
    text: *const u8,
    text_len: usize,
    format: ArmatureConfigFormat,
    out: *mut *mut ArmatureConfig,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes `text_len` readable bytes at `text`.
        let text = unsafe { str_in(text, text_len, "text") }?;
        let format = match format {
            ARMATURE_CONFIG_FORMAT_YAML => ConfigFormat::Yaml,
            ARMATURE_CONFIG_FORMAT_JSON => ConfigFormat::Json,
            ARMATURE_CONFIG_FORMAT_TOML => ConfigFormat::Toml,
            other => return Err(FfiError::InvalidArgument(format!("unknown configuration format {other}"))),
        };
        give(out, ArmatureConfig { config: Config::from_str_with_env(text, format)? })
    })
}

/// Frees a configuration. NULL is ignored. Servers made from it keep their own copy.
///
/// Thread safety: any thread, once per config, when no other call uses it.
#[no_mangle]
pub extern "C" fn armature_config_free(config: *mut ArmatureConfig) {
    guard((), || {
        // SAFETY: the caller passes NULL or a config from this library, freed once.
        unsafe { free(config) }
    })
}

/// Loads and compiles an OpenAPI 3.0/3.1 contract file (YAML or JSON).
///
/// Ownership: `path` is borrowed for the call; on success `*out` is a new contract the caller
/// frees with `armature_contract_free`. Thread safety: any thread. Blocks on reading the file.
#[no_mangle]
pub extern "C" fn armature_contract_from_file(
    path: *const u8,
    path_len: usize,
    out: *mut *mut ArmatureContract,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes `path_len` readable bytes at `path`.
        let path = unsafe { str_in(path, path_len, "path") }?;
        give(out, ArmatureContract { contract: Arc::new(Contract::from_path(path)?) })
    })
}

/// Compiles an in-memory OpenAPI 3.0/3.1 document (YAML or JSON text).
///
/// Ownership: `text` is borrowed for the call; on success `*out` is a new contract the caller
/// frees with `armature_contract_free`. Thread safety: any thread; does not block.
#[no_mangle]
pub extern "C" fn armature_contract_from_str(
    text: *const u8,
    text_len: usize,
    out: *mut *mut ArmatureContract,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes `text_len` readable bytes at `text`.
        let text = unsafe { str_in(text, text_len, "text") }?;
        give(out, ArmatureContract { contract: Arc::new(Contract::from_text(text)?) })
    })
}

/// Frees a contract. NULL is ignored. Servers made from it share it and keep it alive.
///
/// Thread safety: any thread, once per contract, when no other call uses it.
#[no_mangle]
pub extern "C" fn armature_contract_free(contract: *mut ArmatureContract) {
    guard((), || {
        // SAFETY: the caller passes NULL or a contract from this library, freed once.
        unsafe { free(contract) }
    })
}
