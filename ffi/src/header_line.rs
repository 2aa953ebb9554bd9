//! Reading one header line by index, for `armature_request_header_at` and
//! `armature_response_header_at`: the same walk over an `http::HeaderMap` on both sides.

use http::HeaderMap;

use crate::status::FfiError;
use crate::strings::ArmatureStr;

/// Writes the line at `index` of `headers` (lower-case name, value; both empty past the end) to
/// `name` and `value`, which borrow from `headers`. `NotFound` past the end.
pub(crate) fn write_header_line(
    headers: &HeaderMap,
    index: usize,
    name: *mut ArmatureStr,
    value: *mut ArmatureStr,
) -> Result<(), FfiError> {
    if name.is_null() || value.is_null() {
        return Err(FfiError::NullArgument(if name.is_null() { "name" } else { "value" }));
    }
    let line = headers.iter().nth(index);
    let (n, v) = line.map_or((ArmatureStr::EMPTY, ArmatureStr::EMPTY), |(n, v)| {
        (ArmatureStr::of(n.as_str().as_bytes()), ArmatureStr::of(v.as_bytes()))
    });
    // SAFETY: both checked non-NULL; the caller passes storage for one ArmatureStr each.
    unsafe {
        name.write(n);
        value.write(v);
    }
    line.map(|_| ()).ok_or(FfiError::NotFound)
}
