//! Media types and ranges as the contract's `content` maps name them.
//!
//! Hand-written because only the `type/subtype` essence matters here (parameters such as
//! `charset` never select a schema), and a full MIME parser would add a dependency for nothing.

/// How a body of some media type is read for validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` and any `+json` suffix: parsed and validated against the schema.
    Json,
    /// `text/*`: checked as UTF-8 and validated as a JSON string.
    Text,
    /// Anything else: accepted as bytes, the schema is not applied.
    Other,
}

/// A media type or range (`application/json`, `text/*`, `*/*`), lower-cased, without parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    essence: String,
    slash: usize,
}

impl MediaRange {
    /// Parses `type/subtype[; params]`; check [`MediaRange::is_invalid`] afterwards.
    pub fn parse(text: &str) -> Self {
        let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let slash = essence.find('/').unwrap_or(0);
        Self { essence, slash }
    }

    /// Whether the text had no `type/subtype` shape.
    pub fn is_invalid(&self) -> bool {
        self.slash == 0 || self.slash + 1 >= self.essence.len()
    }

    /// The `type/subtype` text.
    pub fn essence(&self) -> &str {
        &self.essence
    }

    fn main_type(&self) -> &str {
        &self.essence[..self.slash]
    }

    fn subtype(&self) -> &str {
        &self.essence[self.slash + 1..]
    }

    /// How bodies of this media type are read.
    pub fn kind(&self) -> BodyKind {
        let subtype = self.subtype();
        if subtype == "json" || subtype.ends_with("+json") {
            BodyKind::Json
        } else if self.main_type() == "text" {
            BodyKind::Text
        } else {
            BodyKind::Other
        }
    }

    /// Whether this range (from the contract) covers a concrete media type (from a message).
    pub fn covers(&self, concrete: &MediaRange) -> bool {
        match (self.main_type(), self.subtype()) {
            ("*", "*") => true,
            (main, "*") => main == concrete.main_type(),
            _ => self.essence == concrete.essence,
        }
    }

    /// 0 for a concrete type, 1 for `type/*`, 2 for `*/*`: lower is more specific.
    pub(crate) fn specificity_rank(&self) -> u8 {
        match (self.main_type(), self.subtype()) {
            ("*", _) => 2,
            (_, "*") => 1,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_case_are_ignored() {
        let range = MediaRange::parse("Application/JSON; charset=utf-8");
        assert_eq!(range.essence(), "application/json");
        assert_eq!(range.kind(), BodyKind::Json);
    }

    #[test]
    fn kinds() {
        assert_eq!(MediaRange::parse("application/problem+json").kind(), BodyKind::Json);
        assert_eq!(MediaRange::parse("text/plain").kind(), BodyKind::Text);
        assert_eq!(MediaRange::parse("application/octet-stream").kind(), BodyKind::Other);
    }

    #[test]
    fn ranges_cover_types() {
        let json = MediaRange::parse("application/json");
        assert!(MediaRange::parse("*/*").covers(&json));
        assert!(MediaRange::parse("application/*").covers(&json));
        assert!(!MediaRange::parse("text/*").covers(&json));
        assert!(!MediaRange::parse("application/xml").covers(&json));
    }

    #[test]
    fn invalid_types() {
        assert!(MediaRange::parse("json").is_invalid());
        assert!(MediaRange::parse("application/").is_invalid());
        assert!(MediaRange::parse("").is_invalid());
        assert!(!MediaRange::parse("a/b").is_invalid());
    }
}
