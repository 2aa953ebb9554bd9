//! The native half of the `@armature/core` npm package: a napi-rs addon that turns core's
//! dispatch interface into JavaScript objects. Everything a request goes through (routing,
//! validation, identity, policy, errors, telemetry) stays in `armature-core`; this crate only
//! converts values and hands requests to the JavaScript thread in batches. The idiomatic API
//! (`App`, `Request`, `Response`, `HttpError`) is TypeScript, in `lib/`.
//!
//! Modules: [`errors`] (core errors as JavaScript errors with a `code`), [`service`] (one built
//! app: queue, server, in-process transport, the batched take and answer), [`batch`] (the byte
//! layouts of a request batch and an answer batch), [`taken`] (the requests JavaScript holds a
//! ticket for), [`request`] (what crosses per request by ticket: identity, cookies, outgoing
//! calls, failures).

mod batch;
mod errors;
mod request;
mod service;
mod taken;

/// Rust allocations of the addon only; JavaScript values keep V8's heap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The version of `armature-core` this addon was built from.
#[napi_derive::napi]
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The operationId core gives a code-first route declared without one (`GET /users/{id}` is
/// `getUsersById`): the same in every binding that names routes this way.
#[napi_derive::napi]
pub fn default_operation_id(method: String, path: String) -> String {
    armature_core::contract::code_first::default_operation_id(&method, &path)
}
