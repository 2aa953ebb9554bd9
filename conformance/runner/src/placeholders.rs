//! `{{token:NAME}}` placeholders in case files.
//!
//! Identity cases need signed JWTs, and those are regenerated with fresh keys by
//! `armature-credentials`; naming a token instead of pasting it keeps the cases stable across
//! regenerations. Placeholders are expanded in the file's text before it is parsed, so they may
//! appear anywhere a string may (usually an `Authorization` header).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

const OPEN: &str = "{{token:";
const CLOSE: &str = "}}";

/// Token name -> compact JWT, from `conformance/credentials/tokens.json`.
#[derive(Debug, Clone, Default)]
pub struct Tokens(HashMap<String, String>);

impl Tokens {
    /// Reads a `tokens.json` object of strings; a missing file gives an empty set (then any
    /// placeholder is an error naming it).
    pub fn from_file(path: &Path) -> Result<Tokens, String> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Tokens::default()),
            Err(error) => return Err(format!("{}: {error}", path.display())),
        };
        serde_json::from_str(&text).map(Tokens).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// A set from pairs (for tests and embedders).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Tokens {
        Tokens(pairs.into_iter().map(|(name, token)| (name.to_owned(), token.to_owned())).collect())
    }

    /// `text` with every `{{token:NAME}}` replaced; an unknown or unterminated placeholder is an
    /// error naming it.
    pub fn expand(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(OPEN) {
            out.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len()..];
            let end = after.find(CLOSE).ok_or_else(|| format!("unterminated placeholder {OPEN}..."))?;
            let name = after[..end].trim();
            let token = self.0.get(name).ok_or_else(|| format!("unknown token {name:?} in {OPEN}{name}{CLOSE}"))?;
            out.push_str(token);
            rest = &after[end + CLOSE.len()..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_known_names_and_leaves_other_text() {
        let tokens = Tokens::from_pairs([("a", "AAA"), ("b", "B.B.B")]);
        assert_eq!(tokens.expand("x {{token:a}} y {{token: b }}{{token:a}}").unwrap(), "x AAA y B.B.BAAA");
        assert_eq!(tokens.expand("no placeholders {{other}}").unwrap(), "no placeholders {{other}}");
    }

    #[test]
    fn unknown_or_unterminated_is_an_error() {
        let tokens = Tokens::from_pairs([("a", "AAA")]);
        assert!(tokens.expand("{{token:nope}}").unwrap_err().contains("nope"));
        assert!(tokens.expand("{{token:a").is_err());
    }

    #[test]
    fn the_checked_in_tokens_load() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../credentials/tokens.json");
        let tokens = Tokens::from_file(&path).unwrap();
        assert!(tokens.expand("{{token:alice_hs256}}").unwrap().starts_with("eyJ"));
    }
}
