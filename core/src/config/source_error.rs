//! Configuration errors that say where the bad value came from: the file and line, or the
//! environment variable, with the key and what is wrong with it.
//!
//! figment knows the key path and the provider of a bad value, but not the line: its providers
//! keep no positions. The line is found here by walking the document for the key's segments in
//! order (each one further in than its parent in YAML, the next occurrence in JSON and TOML), which
//! finds the line for the documents people write; when it cannot, the message names the file alone.

use std::path::Path;

use figment::Source;

use super::ConfigFormat;

/// The configuration document being read, to locate keys in.
pub(super) struct Document<'a> {
    /// Its text.
    pub text: &'a str,
    /// Its format.
    pub format: ConfigFormat,
    /// The file it was read from; None for a document given as text.
    pub path: Option<&'a Path>,
}

/// One figment error as an operator reads it:
/// `<file> line <n>: key `server.prot`: unknown field ...`, or
/// `environment variable ARMATURE_SERVER__PROT: key `server.prot`: ...`.
pub(super) fn describe(error: &figment::Error, document: Option<&Document<'_>>, env_prefix: &str) -> String {
    let key = error.path.join(".");
    let what = error.kind.to_string();
    let from_file =
        error.metadata.as_ref().and_then(|metadata| metadata.source.as_ref()).and_then(|source| match source {
            Source::File(path) => Some(path.clone()),
            _ => None,
        });
    let from_env = error.metadata.as_ref().is_some_and(|metadata| metadata.name.contains("environment"));
    let place = if from_env && !error.path.is_empty() {
        format!("environment variable {env_prefix}{}", error.path.join("__").to_ascii_uppercase())
    } else if let Some(document) = document.filter(|_| !from_env) {
        let name = match (&from_file, document.path) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => "the configuration document".to_owned(),
        };
        match line_of(document, &error.path) {
            Some(line) => format!("{name} line {line}"),
            None => name,
        }
    } else if let Some(path) = from_file {
        path.display().to_string()
    } else {
        return error.to_string();
    };
    if key.is_empty() {
        format!("{place}: {what}")
    } else {
        format!("{place}: key `{key}`: {what}")
    }
}

/// The 1-based line of the deepest segment of `path` found in the document.
fn line_of(document: &Document<'_>, path: &[String]) -> Option<usize> {
    if path.is_empty() {
        return None;
    }
    match document.format {
        ConfigFormat::Yaml => yaml_line(document.text, path),
        ConfigFormat::Json | ConfigFormat::Toml => sequential_line(document.text, path, document.format),
    }
}

/// YAML: each segment is a `key:` line indented further than its parent's (a list item's `- `
/// counts as indentation); a line back at the parent's indentation or less ends the search.
fn yaml_line(text: &str, path: &[String]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut from, mut parent_indent, mut found) = (0usize, None::<usize>, None);
    for segment in path {
        if segment.parse::<usize>().is_ok() {
            continue; // a list index: its items are found by their own keys below
        }
        // A flow mapping on the parent's line (`server: {prot: 1}`) holds the key there.
        if let Some(parent) = found {
            let line: &str = lines[parent - 1];
            if line.split_once(':').is_some_and(|(_, rest)| rest.contains(&format!("{segment}:"))) {
                continue;
            }
        }
        let mut hit = None;
        for (index, line) in lines.iter().enumerate().skip(from) {
            let content = line.trim_start();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let item = content.trim_start_matches("- ");
            let indent = line.len() - item.len();
            if parent_indent.is_some_and(|parent| indent <= parent) && index > from {
                break;
            }
            let key = item.split(':').next().unwrap_or("").trim().trim_matches(['"', '\'']);
            if key == segment && item.contains(':') {
                hit = Some((index, indent));
                break;
            }
        }
        let (index, indent) = hit?;
        found = Some(index + 1);
        from = index + 1;
        parent_indent = Some(indent);
    }
    found
}

/// JSON and TOML: each segment's next occurrence as a key (`"name":`, `name =`, `[name]`).
fn sequential_line(text: &str, path: &[String], format: ConfigFormat) -> Option<usize> {
    let mut offset = 0;
    let mut found = None;
    for segment in path.iter().filter(|segment| segment.parse::<usize>().is_err()) {
        let needles = match format {
            ConfigFormat::Json => vec![format!("\"{segment}\"")],
            _ => vec![format!("{segment} ="), format!("{segment}="), format!("[{segment}]"), format!(".{segment}]")],
        };
        let at = needles.iter().filter_map(|needle| text[offset..].find(needle.as_str())).min()?;
        offset += at;
        found = Some(text[..offset].matches('\n').count() + 1);
        offset += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str, path: &[&str]) -> Option<usize> {
        yaml_line(text, &path.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn yaml_keys_are_found_under_their_parents() {
        let text = "# comment\nserver:\n  port: 1\n  prot: 2\nauthorization:\n  policies: [a]\n  policy: x\n";
        assert_eq!(yaml(text, &["server", "prot"]), Some(4));
        assert_eq!(yaml(text, &["authorization", "policy"]), Some(7));
        assert_eq!(yaml(text, &["server", "policy"]), None, "not under server");
        let listed = "identity:\n  jwt:\n    keys:\n      - kid: a\n        algoritms: [RS256]\n";
        assert_eq!(yaml(listed, &["identity", "jwt", "keys", "0", "algoritms"]), Some(5));
        assert_eq!(yaml("a: 1\nserver: {port: 1, prot: 2}\n", &["server", "prot"]), Some(2));
    }

    #[test]
    fn json_and_toml_keys_are_found_in_order() {
        let path: Vec<String> = ["server", "prot"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            sequential_line("{\n  \"server\": {\n    \"prot\": 1\n  }\n}\n", &path, ConfigFormat::Json),
            Some(3)
        );
        assert_eq!(sequential_line("[server]\nport = 1\nprot = 2\n", &path, ConfigFormat::Toml), Some(3));
    }
}
