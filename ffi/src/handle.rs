//! Handles: how Rust values become opaque pointers the host owns, and come back.

use crate::status::{boundary, ArmatureError, ArmatureStatus, FfiError};

/// Writes `value` through an out-pointer, or fails when it is NULL.
///
/// # Safety
/// `out` must be NULL or valid for one write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T, name: &'static str) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::NullArgument(name));
    }
    // SAFETY: checked non-NULL; the caller's contract covers validity.
    unsafe { out.write(value) };
    Ok(())
}

/// A handle argument as a shared reference.
///
/// # Safety
/// `handle` must be NULL or a live handle of type `T` from this library.
pub(crate) unsafe fn borrow<'a, T>(handle: *const T, name: &'static str) -> Result<&'a T, FfiError> {
    // SAFETY: the caller's contract above.
    unsafe { handle.as_ref() }.ok_or(FfiError::NullArgument(name))
}

/// Moves `value` into a new heap handle and writes it through `out`; the caller owns it and
/// frees it with the matching `_free` function.
pub(crate) fn give<T>(out: *mut *mut T, value: T) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::NullArgument("out"));
    }
    // SAFETY: checked non-NULL; the caller of the entry passes storage for one pointer.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
    Ok(())
}

/// Frees a handle made by [`give`]. NULL is ignored.
///
/// # Safety
/// `handle` must be NULL or a pointer from [`give`] for the same `T`, not freed before.
pub(crate) unsafe fn free<T>(handle: *mut T) {
    if !handle.is_null() {
        // SAFETY: the caller's contract above.
        drop(unsafe { Box::from_raw(handle) });
    }
}

/// The body of an entry that acts on one handle: NULL-checks it, then runs `body` inside the
/// panic and error [`boundary`].
pub(crate) fn with_handle<T>(
    handle: *const T,
    name: &'static str,
    error: *mut *mut ArmatureError,
    body: impl FnOnce(&T) -> Result<(), FfiError>,
) -> ArmatureStatus {
    boundary(error, || {
        // SAFETY: the caller of the entry passes NULL or a live handle of type T.
        body(unsafe { borrow(handle, name) }?)
    })
}
