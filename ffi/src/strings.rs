//! Bytes and strings across the boundary: pointer + length in both directions.

use crate::status::FfiError;

/// A borrowed run of bytes: `len` bytes at `ptr`, not NUL-terminated. Text that Armature
/// produced (method, path, ids, JSON) is UTF-8; header values and bodies are the bytes as
/// received. An empty value may have a NULL `ptr`.
///
/// Ownership: borrowed from the handle it was read from; valid until that handle is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ArmatureStr {
    /// The first byte (NULL when `len` is 0 and nothing was read).
    pub ptr: *const u8,
    /// The number of bytes.
    pub len: usize,
}

impl ArmatureStr {
    /// An empty value.
    pub const EMPTY: ArmatureStr = ArmatureStr { ptr: std::ptr::null(), len: 0 };

    /// Borrows `bytes`; the caller keeps them alive as long as documented.
    pub fn of(bytes: &[u8]) -> Self {
        Self { ptr: bytes.as_ptr(), len: bytes.len() }
    }
}

/// The `len` bytes at `ptr` (which may be NULL only when `len` is 0).
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn bytes_in<'a>(ptr: *const u8, len: usize, name: &'static str) -> Result<&'a [u8], FfiError> {
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(FfiError::NullArgument(name)) };
    }
    // SAFETY: the caller's contract above.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The `len` bytes at `ptr` as UTF-8 text.
///
/// # Safety
/// As [`bytes_in`].
pub(crate) unsafe fn str_in<'a>(ptr: *const u8, len: usize, name: &'static str) -> Result<&'a str, FfiError> {
    // SAFETY: forwarded.
    let bytes = unsafe { bytes_in(ptr, len, name) }?;
    std::str::from_utf8(bytes).map_err(|_| FfiError::InvalidUtf8(name))
}
