//! Status codes, the error handle, and the boundary every `extern "C"` entry goes through.

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The result of every fallible call: `ARMATURE_STATUS_OK` (0) or one of the codes below.
///
/// A plain integer rather than a C enum: the host passes statuses back in (to
/// `armature_status_name`), and a Rust enum receiving a value it does not define is
/// undefined behaviour.
pub type ArmatureStatus = i32;

/// Success.
pub const ARMATURE_STATUS_OK: ArmatureStatus = 0;
/// A required pointer argument was NULL.
pub const ARMATURE_STATUS_NULL_ARGUMENT: ArmatureStatus = 1;
/// A string argument was not valid UTF-8.
pub const ARMATURE_STATUS_INVALID_UTF8: ArmatureStatus = 2;
/// An argument was out of range or malformed (a status code, a header name, a location).
pub const ARMATURE_STATUS_INVALID_ARGUMENT: ArmatureStatus = 3;
/// The configuration could not be read or is invalid.
pub const ARMATURE_STATUS_CONFIG: ArmatureStatus = 4;
/// The contract could not be read or is invalid.
pub const ARMATURE_STATUS_CONTRACT: ArmatureStatus = 5;
/// A handler names an operationId the contract does not define.
pub const ARMATURE_STATUS_UNKNOWN_OPERATION: ArmatureStatus = 6;
/// A handler was already registered for that operationId.
pub const ARMATURE_STATUS_DUPLICATE_HANDLER: ArmatureStatus = 7;
/// The application could not be built (identity keys, policy, telemetry); the message says why.
pub const ARMATURE_STATUS_APP: ArmatureStatus = 8;
/// The server could not start (address in use, no threads).
pub const ARMATURE_STATUS_SERVER: ArmatureStatus = 9;
/// The call needs a server that has not started yet.
pub const ARMATURE_STATUS_ALREADY_STARTED: ArmatureStatus = 10;
/// The call needs a started server.
pub const ARMATURE_STATUS_NOT_STARTED: ArmatureStatus = 11;
/// The server is running: stop it (`armature_server_shutdown` + `armature_server_wait`) first.
pub const ARMATURE_STATUS_RUNNING: ArmatureStatus = 12;
/// The responder has already been finished; nothing was changed.
pub const ARMATURE_STATUS_ALREADY_FINISHED: ArmatureStatus = 13;
/// The request no longer waits for an answer (it timed out, or the client went away).
pub const ARMATURE_STATUS_GONE: ArmatureStatus = 14;
/// The asked-for header, parameter or value is absent. Not a failure: `*error` stays NULL.
pub const ARMATURE_STATUS_NOT_FOUND: ArmatureStatus = 15;
/// The request queue is closed (the server has stopped) and empty: stop taking.
pub const ARMATURE_STATUS_CLOSED: ArmatureStatus = 16;
/// An operating-system call failed (creating the wake-up descriptor).
pub const ARMATURE_STATUS_IO: ArmatureStatus = 17;
/// A bug in Armature: a Rust panic was caught at the boundary. The handle stays usable.
pub const ARMATURE_STATUS_PANIC: ArmatureStatus = 18;
/// A reload read a file that cannot be used (bad PEM, a policy that does not compile); nothing
/// was changed and the service runs on as before. The message names the file.
pub const ARMATURE_STATUS_RELOAD: ArmatureStatus = 19;

/// Why a call failed, in Rust; becomes a status and an [`ArmatureError`] at the boundary.
#[derive(Debug, thiserror::Error)]
pub enum FfiError {
    /// A NULL pointer where one is required.
    #[error("argument `{0}` is NULL")]
    NullArgument(&'static str),
    /// Bytes that must be UTF-8 are not.
    #[error("argument `{0}` is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// An argument out of range or malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// The configuration.
    #[error(transparent)]
    Config(#[from] armature_core::ConfigError),
    /// The contract.
    #[error(transparent)]
    Contract(#[from] armature_core::ContractError),
    /// Building the application.
    #[error(transparent)]
    App(#[from] armature_core::AppError),
    /// Starting the server.
    #[error(transparent)]
    Server(#[from] armature_core::ServerError),
    /// A reload that changed nothing.
    #[error(transparent)]
    Reload(#[from] armature_core::ReloadError),
    /// The server has started.
    #[error("the server has already started")]
    AlreadyStarted,
    /// The server has not started.
    #[error("the server has not started")]
    NotStarted,
    /// The server still runs.
    #[error("the server is running: shut it down and wait for it before freeing it")]
    Running,
    /// The responder was finished before.
    #[error("the responder has already been finished")]
    AlreadyFinished,
    /// The request is gone.
    #[error("the request no longer waits for an answer (timed out or the client went away)")]
    Gone,
    /// Absent value.
    #[error("not found")]
    NotFound,
    /// The queue is closed and drained.
    #[error("the request queue is closed")]
    Closed,
    /// An OS call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A caught panic.
    #[error("internal error (panic): {0}")]
    Panic(String),
}

impl From<armature_core::HostError> for FfiError {
    fn from(error: armature_core::HostError) -> Self {
        use armature_core::HostError;
        match error {
            HostError::App(error) => Self::App(error),
            HostError::Server(error) => Self::Server(error),
            HostError::Reload(error) => Self::Reload(error),
            // C hosts never build without starting: a built host is a started one to them.
            HostError::AlreadyStarted | HostError::AlreadyBuilt => Self::AlreadyStarted,
            HostError::NotStarted => Self::NotStarted,
            HostError::Runtime(source) => Self::Io { context: "cannot start the in-process runtime", source },
        }
    }
}

impl FfiError {
    /// The status code reported for this error.
    pub fn status(&self) -> ArmatureStatus {
        match self {
            Self::NullArgument(_) => ARMATURE_STATUS_NULL_ARGUMENT,
            Self::InvalidUtf8(_) => ARMATURE_STATUS_INVALID_UTF8,
            Self::InvalidArgument(_) => ARMATURE_STATUS_INVALID_ARGUMENT,
            Self::Config(_) => ARMATURE_STATUS_CONFIG,
            Self::Contract(_)
            | Self::App(armature_core::AppError::Contract(_) | armature_core::AppError::NoContract) => {
                ARMATURE_STATUS_CONTRACT
            }
            Self::App(armature_core::AppError::UnknownOperation(_)) => ARMATURE_STATUS_UNKNOWN_OPERATION,
            Self::App(armature_core::AppError::DuplicateHandler(_)) => ARMATURE_STATUS_DUPLICATE_HANDLER,
            Self::App(_) => ARMATURE_STATUS_APP,
            Self::Server(_) => ARMATURE_STATUS_SERVER,
            Self::Reload(_) => ARMATURE_STATUS_RELOAD,
            Self::AlreadyStarted => ARMATURE_STATUS_ALREADY_STARTED,
            Self::NotStarted => ARMATURE_STATUS_NOT_STARTED,
            Self::Running => ARMATURE_STATUS_RUNNING,
            Self::AlreadyFinished => ARMATURE_STATUS_ALREADY_FINISHED,
            Self::Gone => ARMATURE_STATUS_GONE,
            Self::NotFound => ARMATURE_STATUS_NOT_FOUND,
            Self::Closed => ARMATURE_STATUS_CLOSED,
            Self::Io { .. } => ARMATURE_STATUS_IO,
            Self::Panic(_) => ARMATURE_STATUS_PANIC,
        }
    }
}

/// Details of a failed call: a status and a message. Owned by the caller, freed with
/// `armature_error_free`.
pub struct ArmatureError {
    status: ArmatureStatus,
    message: CString,
}

impl ArmatureError {
    fn new(error: &FfiError) -> Self {
        // An interior NUL cannot come from our own messages, but a contract or config path can
        // carry one into a message: replace it rather than lose the message.
        let text = error.to_string().replace('\0', "\u{FFFD}");
        Self { status: error.status(), message: CString::new(text).unwrap_or_default() }
    }
}

/// Runs the body of an `extern "C"` entry: catches panics, turns errors into a status and,
/// when `error` is not NULL, into an error object (`*error` is set to NULL on success).
/// `ARMATURE_STATUS_NOT_FOUND` is an answer, not a failure: it fills no error object.
pub(crate) fn boundary(error: *mut *mut ArmatureError, body: impl FnOnce() -> Result<(), FfiError>) -> ArmatureStatus {
    let outcome =
        catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| Err(FfiError::Panic(panic_message(&panic))));
    let failure = match &outcome {
        Err(e) if !matches!(e, FfiError::NotFound) => Some(e),
        _ => None,
    };
    if !error.is_null() {
        let object = failure.map_or(std::ptr::null_mut(), |e| Box::into_raw(Box::new(ArmatureError::new(e))));
        // SAFETY: the caller passes NULL or a pointer to writable storage for one pointer.
        unsafe { error.write(object) };
    }
    match outcome {
        Ok(()) => ARMATURE_STATUS_OK,
        Err(e) => e.status(),
    }
}

/// Runs an entry that cannot report an error object (frees, getters of plain values): only
/// the panic is caught, and `fallback` returned instead.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// The status this error carries.
///
/// Thread safety: any thread; never blocks. A NULL error gives `ARMATURE_STATUS_NULL_ARGUMENT`.
#[no_mangle]
pub extern "C" fn armature_error_status(error: *const ArmatureError) -> ArmatureStatus {
    guard(ARMATURE_STATUS_PANIC, || {
        // SAFETY: NULL or a live error object from this library.
        unsafe { error.as_ref() }.map_or(ARMATURE_STATUS_NULL_ARGUMENT, |e| e.status)
    })
}

/// The error's message: NUL-terminated UTF-8, owned by the error and valid until
/// `armature_error_free`. A NULL error gives an empty string.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_error_message(error: *const ArmatureError) -> *const c_char {
    guard(c"".as_ptr(), || {
        // SAFETY: NULL or a live error object from this library.
        unsafe { error.as_ref() }.map_or(c"".as_ptr(), |e| e.message.as_ptr())
    })
}

/// Frees an error object. NULL is ignored. Ownership: the caller's, from the call that filled it.
///
/// Thread safety: any thread, once per error; never blocks.
#[no_mangle]
pub extern "C" fn armature_error_free(error: *mut ArmatureError) {
    guard((), || {
        if !error.is_null() {
            // SAFETY: the pointer came from Box::into_raw in `boundary` and is freed once.
            drop(unsafe { Box::from_raw(error) });
        }
    })
}

/// A static, NUL-terminated name for a status (`"ARMATURE_STATUS_GONE"`); never freed.
/// An unknown value gives `"ARMATURE_STATUS_UNKNOWN"`.
///
/// Thread safety: any thread; never blocks.
#[no_mangle]
pub extern "C" fn armature_status_name(status: ArmatureStatus) -> *const c_char {
    let name: &'static std::ffi::CStr = match status {
        ARMATURE_STATUS_OK => c"ARMATURE_STATUS_OK",
        ARMATURE_STATUS_NULL_ARGUMENT => c"ARMATURE_STATUS_NULL_ARGUMENT",
        ARMATURE_STATUS_INVALID_UTF8 => c"ARMATURE_STATUS_INVALID_UTF8",
        ARMATURE_STATUS_INVALID_ARGUMENT => c"ARMATURE_STATUS_INVALID_ARGUMENT",
        ARMATURE_STATUS_CONFIG => c"ARMATURE_STATUS_CONFIG",
        ARMATURE_STATUS_CONTRACT => c"ARMATURE_STATUS_CONTRACT",
        ARMATURE_STATUS_UNKNOWN_OPERATION => c"ARMATURE_STATUS_UNKNOWN_OPERATION",
        ARMATURE_STATUS_DUPLICATE_HANDLER => c"ARMATURE_STATUS_DUPLICATE_HANDLER",
        ARMATURE_STATUS_APP => c"ARMATURE_STATUS_APP",
        ARMATURE_STATUS_SERVER => c"ARMATURE_STATUS_SERVER",
        ARMATURE_STATUS_ALREADY_STARTED => c"ARMATURE_STATUS_ALREADY_STARTED",
        ARMATURE_STATUS_NOT_STARTED => c"ARMATURE_STATUS_NOT_STARTED",
        ARMATURE_STATUS_RUNNING => c"ARMATURE_STATUS_RUNNING",
        ARMATURE_STATUS_ALREADY_FINISHED => c"ARMATURE_STATUS_ALREADY_FINISHED",
        ARMATURE_STATUS_GONE => c"ARMATURE_STATUS_GONE",
        ARMATURE_STATUS_NOT_FOUND => c"ARMATURE_STATUS_NOT_FOUND",
        ARMATURE_STATUS_CLOSED => c"ARMATURE_STATUS_CLOSED",
        ARMATURE_STATUS_IO => c"ARMATURE_STATUS_IO",
        ARMATURE_STATUS_PANIC => c"ARMATURE_STATUS_PANIC",
        ARMATURE_STATUS_RELOAD => c"ARMATURE_STATUS_RELOAD",
        _ => c"ARMATURE_STATUS_UNKNOWN",
    };
    name.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let mut error = std::ptr::null_mut();
        let status = boundary(&mut error, || panic!("boom"));
        assert_eq!(status, ARMATURE_STATUS_PANIC);
        assert_eq!(armature_error_status(error), ARMATURE_STATUS_PANIC);
        let message = unsafe { CStr::from_ptr(armature_error_message(error)) };
        assert_eq!(message.to_str().unwrap(), "internal error (panic): boom");
        armature_error_free(error);
    }

    #[test]
    fn success_clears_the_error_pointer_and_not_found_fills_nothing() {
        let mut error = std::ptr::dangling_mut::<ArmatureError>();
        assert_eq!(boundary(&mut error, || Ok(())), ARMATURE_STATUS_OK);
        assert!(error.is_null());
        assert_eq!(boundary(&mut error, || Err(FfiError::NotFound)), ARMATURE_STATUS_NOT_FOUND);
        assert!(error.is_null());
        assert_eq!(boundary(std::ptr::null_mut(), || Err(FfiError::Gone)), ARMATURE_STATUS_GONE);
    }

    #[test]
    fn every_status_has_a_name() {
        for status in ARMATURE_STATUS_OK..=ARMATURE_STATUS_RELOAD {
            let name = unsafe { CStr::from_ptr(armature_status_name(status)) }.to_str().unwrap();
            assert!(name.starts_with("ARMATURE_STATUS_") && name != "ARMATURE_STATUS_UNKNOWN", "{status}: {name}");
        }
        let unknown = unsafe { CStr::from_ptr(armature_status_name(99)) };
        assert_eq!(unknown.to_str().unwrap(), "ARMATURE_STATUS_UNKNOWN");
    }
}
