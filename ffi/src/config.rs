//! Configuration and contract handles: read once, then given to `armature_server_new`.

use std::sync::{Arc, OnceLock};

use armature_core::config::ConfigFormat;
use armature_core::contract::code_first::{self, OperationSpec};
use armature_core::host_options::HostOptions;
use armature_core::{Config, Contract};

use crate::handle::{free, give, with_handle, write_out};
use crate::status::{boundary, guard, ArmatureError, ArmatureStatus, FfiError};
use crate::strings::{str_in, ArmatureStr};

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
    /// The operationIds as a JSON array, made when first asked for.
    operation_ids_json: OnceLock<String>,
}

impl ArmatureContract {
    fn new(contract: Contract) -> Self {
        Self { contract: Arc::new(contract), operation_ids_json: OnceLock::new() }
    }
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

/// Overrides `server.host` (when `host_len` > 0) and `server.port` (0: a free port the kernel
/// picks; read it back with `armature_server_port`), as a host's `listen(addr)` does. Servers
/// created from this config before the call keep the address they had.
///
/// Ownership: `host` is borrowed for the call. Thread safety: any thread, when no other call
/// uses this config; never blocks.
#[no_mangle]
pub extern "C" fn armature_config_set_address(
    config: *mut ArmatureConfig,
    host: *const u8,
    host_len: usize,
    port: u16,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes NULL or a live config that no other call uses now.
        let config = unsafe { config.as_mut() }.ok_or(FfiError::NullArgument("config"))?;
        // SAFETY: the caller passes `host_len` readable bytes at `host`.
        let host = unsafe { str_in(host, host_len, "host") }?;
        if !host.is_empty() {
            config.config.server.host = host.to_owned();
        }
        config.config.server.port = port;
        Ok(())
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
        give(out, ArmatureContract::new(Contract::from_path(path)?))
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
        give(out, ArmatureContract::new(Contract::from_text(text)?))
    })
}

/// A contract with operations declared in code added: the code-first path of the bindings
/// (Go's `app.Handle("GET /users/{id}", spec, fn)`). `operations_json` is a JSON array of
/// operation specs (`{"method","path","operation_id","path_params","query_params",
/// "request_body","responses","summary","components"}`, docs/c-abi.md). With `base` NULL they
/// make up a contract of their own, titled `Armature service`. An operation whose path, method
/// or operationId is already taken, or whose schema does not compile, fails with
/// `ARMATURE_STATUS_CONTRACT` naming it.
///
/// Ownership: `base` and `operations_json` are borrowed for the call (`base` is left as it
/// was); on success `*out` is a new contract the caller frees with `armature_contract_free`.
/// Thread safety: any thread; does not block.
#[no_mangle]
pub extern "C" fn armature_contract_with_operations(
    base: *const ArmatureContract,
    operations_json: *const u8,
    operations_json_len: usize,
    out: *mut *mut ArmatureContract,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes `operations_json_len` readable bytes at `operations_json`.
        let text = unsafe { str_in(operations_json, operations_json_len, "operations_json") }?;
        let operations: Vec<OperationSpec> =
            serde_json::from_str(text).map_err(|e| FfiError::InvalidArgument(format!("operations_json: {e}")))?;
        let defaults = HostOptions::default();
        // SAFETY: the caller passes NULL or a live contract.
        let mut document = match unsafe { base.as_ref() } {
            Some(base) => base.contract.document().clone(),
            None => code_first::empty_document(&defaults.title, &defaults.version),
        };
        for spec in &operations {
            code_first::add_operation(&mut document, spec)?;
        }
        give(out, ArmatureContract::new(Contract::from_value(document)?))
    })
}

/// Writes the operationId core gives a code-first operation declared without one
/// (`GET /users/{id}` -> `getUsersById`, the same in every binding) into `buffer`, and its
/// length into `*length`. The id is never longer than `method_len + path_len + 2 * (number of
/// `{` in the path)`; a `capacity` below the id's length is `ARMATURE_STATUS_INVALID_ARGUMENT`,
/// with `*length` still set, so a caller can retry with a buffer that size. Not NUL-terminated.
///
/// Ownership: `method` and `path` are only read; `buffer` is the caller's, written and not kept.
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_default_operation_id(
    method: *const u8,
    method_len: usize,
    path: *const u8,
    path_len: usize,
    buffer: *mut u8,
    capacity: usize,
    length: *mut usize,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller passes the given numbers of readable bytes.
        let (method, path) = unsafe { (str_in(method, method_len, "method")?, str_in(path, path_len, "path")?) };
        let id = code_first::default_operation_id(method, path);
        // SAFETY: the caller passes NULL or storage for one size_t.
        unsafe { write_out(length, id.len(), "length") }?;
        if buffer.is_null() {
            return Err(FfiError::NullArgument("buffer"));
        }
        if capacity < id.len() {
            return Err(FfiError::InvalidArgument(format!("buffer: {capacity} bytes, the id needs {}", id.len())));
        }
        // SAFETY: checked non-NULL; the caller vouches for `capacity` >= `id.len()` writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(id.as_ptr(), buffer, id.len()) };
        Ok(())
    })
}

/// The contract's operationIds, in document order, as a JSON array of strings: what a host
/// that serves every operation with one handler (Go's `HTTPHandler` over a `net/http` mux)
/// registers.
///
/// Ownership: `*out` borrows from the contract until `armature_contract_free`.
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_contract_operation_ids_json(
    contract: *const ArmatureContract,
    out: *mut ArmatureStr,
    error: *mut *mut ArmatureError,
) -> ArmatureStatus {
    with_handle(contract, "contract", error, |contract| {
        let json = contract.operation_ids_json.get_or_init(|| {
            let ids: Vec<&str> = contract.contract.operations().iter().map(|op| op.id.as_str()).collect();
            // A list of strings always serializes.
            serde_json::to_string(&ids).unwrap_or_default()
        });
        // SAFETY: the caller passes NULL or storage for one ArmatureStr.
        unsafe { write_out(out, ArmatureStr::of(json.as_bytes()), "out") }
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
