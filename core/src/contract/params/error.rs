//! Why a parameter's text cannot be decoded. The messages are what a client reads in a
//! request-validation problem (`errors[].message`), so they are part of the wire format.

/// A parameter whose text cannot be decoded at all (as opposed to decoded text of the wrong
/// type, which the schema validator reports).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// `%` escapes that do not decode to UTF-8.
    #[error("invalid percent-encoding")]
    PercentEncoding,
    /// A non-exploded object whose items do not pair up: `R,100,G`.
    #[error("invalid object: expected key,value pairs")]
    ObjectPairs,
    /// An exploded object item without `=`.
    #[error("invalid object: expected key=value pairs")]
    ObjectAssignments,
    /// A label-style path segment without its leading `.`.
    #[error("missing label prefix '.'")]
    LabelPrefix,
    /// A matrix-style path segment without its leading `;`.
    #[error("missing matrix prefix ';'")]
    MatrixPrefix,
    /// A matrix-style segment that does not name the parameter.
    #[error("missing matrix parameter ';{0}='")]
    MatrixParameter(String),
    /// A deepObject query key that is not `name[property]`.
    #[error("invalid deepObject key: expected name[property]")]
    DeepObjectKey,
    /// A parameter declared with `content: {application/json: ...}` whose text is not JSON.
    #[error("is not valid JSON")]
    NotJson,
}
