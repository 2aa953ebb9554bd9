//! The native half of the `armature` Python package (`armature._native`): a thin layer that
//! turns core's dispatch interface into Python objects. Everything a request goes through
//! (routing, validation, identity, policy, errors, telemetry) stays in `armature-core`; this
//! crate only converts values and hands requests to the Python thread in batches.
//!
//! Modules: [`errors`] (core errors as Python exceptions), [`service`] (one built app: queue,
//! server, in-process test transport), [`request`] (one request: lazy accessors and answers).

mod errors;
mod request;
mod service;
mod trace;

use pyo3::prelude::*;

/// Rust allocations of the extension only; Python objects keep CPython's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The module Python imports as `armature._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<service::Service>()?;
    m.add_class::<request::Request>()?;
    m.add_class::<trace::Trace>()?;
    m.add_class::<trace::ClientSpan>()?;
    m.add("ArmatureError", py.get_type::<errors::ArmatureError>())?;
    m.add("ConfigError", py.get_type::<errors::ConfigError>())?;
    m.add("ContractError", py.get_type::<errors::ContractError>())?;
    m.add("ServerError", py.get_type::<errors::ServerError>())?;
    m.add("CORE_VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add("BODY_NOTHING", request::BODY_NOTHING)?;
    m.add("BODY_TEXT", request::BODY_TEXT)?;
    m.add("BODY_BINARY", request::BODY_BINARY)?;
    m.add("BODY_JSON", request::BODY_JSON)?;
    m.add("BODY_EXACT", request::BODY_EXACT)?;
    Ok(())
}
