//! Armature's C ABI: the core runtime behind opaque handles, for C, Go and any language with a
//! C FFI. `include/armature.h` is generated from this crate by cbindgen; `docs/c-abi.md` is the
//! guide. This crate converts and forwards: every behaviour lives in `armature-core`.
//!
//! Modules: [`status`] (status codes, error objects, the panic boundary), [`strings`]
//! (pointer + length), [`handle`] (owned handles), [`config`] (configuration and contract),
//! [`server`] (life cycle, callback and pull modes; the pollable descriptor is core's
//! `RequestQueue::readable_fd`), [`request`] and [`responder`] (one request), [`outgoing_call`]
//! (a handler's outgoing call, exported as a client span), and
//! [`in_process`] (a request through the pipeline without a socket, for test clients).

// Every entry takes raw pointers from C and states, in its doc (and so in the header), what
// they must point to. Marking them `unsafe fn` would say the same to Rust callers only, and
// there are none but this crate's tests.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

/// Rust allocations of the library go to mimalloc, as in the Rust service and the other bindings
/// (glibc's malloc measured slower for requests made on one thread and freed on another,
/// docs/go.md). The host's own allocations keep its allocator; every value the library hands
/// out is freed by its own `armature_*_free`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod config;
mod handle;
mod header_line;
pub mod in_process;
pub mod outgoing_call;
pub mod request;
pub mod responder;
pub mod server;
pub mod status;
pub mod strings;

/// The ABI's version: raised on every incompatible change to the header (a function's
/// signature or meaning, a struct's layout, a constant's value). Compare `armature_abi_version()`
/// with this macro at start-up to refuse a library built for another header.
pub const ARMATURE_ABI_VERSION: u32 = 2;
/// Major version of the Armature release this header comes from (the workspace version).
pub const ARMATURE_VERSION_MAJOR: u32 = 0;
/// Minor version of the release.
pub const ARMATURE_VERSION_MINOR: u32 = 1;
/// Patch version of the release.
pub const ARMATURE_VERSION_PATCH: u32 = 0;

/// The ABI version of the loaded library (`ARMATURE_ABI_VERSION` of the header it was built with).
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_abi_version() -> u32 {
    ARMATURE_ABI_VERSION
}

/// The release version of the loaded library as `major * 10000 + minor * 100 + patch`.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_version() -> u32 {
    ARMATURE_VERSION_MAJOR * 10_000 + ARMATURE_VERSION_MINOR * 100 + ARMATURE_VERSION_PATCH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_macros_match_cargo_toml() {
        let parse = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(ARMATURE_VERSION_MAJOR, parse(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(ARMATURE_VERSION_MINOR, parse(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(ARMATURE_VERSION_PATCH, parse(env!("CARGO_PKG_VERSION_PATCH")));
        let (major, minor, patch) = (ARMATURE_VERSION_MAJOR, ARMATURE_VERSION_MINOR, ARMATURE_VERSION_PATCH);
        assert_eq!(armature_version(), major * 10_000 + minor * 100 + patch);
        assert_eq!(armature_abi_version(), ARMATURE_ABI_VERSION);
    }
}
