//! Reading JSON-valued arguments: inline JSON, `@file`, or `-` for standard input.
//!
//! Every `--attributes`, `--config` and similar flag goes through [`json_arg`], so bad
//! JSON is refused before any request is sent, with the parser's line and column.
//! This module does not know which flag it serves beyond the name it is given.

use std::io::Read;

/// Why a JSON-valued argument could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The `@file` could not be read.
    #[error("cannot read {flag} file {path}: {source}")]
    File {
        /// The flag, e.g. `--attributes`.
        flag: String,
        /// The path after `@`.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// Standard input could not be read.
    #[error("cannot read {flag} from standard input: {source}")]
    Stdin {
        /// The flag, e.g. `--attributes`.
        flag: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The text is not valid JSON.
    #[error("{flag} is not valid JSON: {message} at line {line}, column {column}")]
    Json {
        /// The flag, e.g. `--attributes`.
        flag: String,
        /// serde_json's description of the fault.
        message: String,
        /// 1-based line of the fault.
        line: usize,
        /// 1-based column of the fault.
        column: usize,
    },
}

/// The raw text of a JSON-valued argument: `-` reads standard input, `@path` reads a
/// file, anything else is the text itself. The text is checked to be JSON and returned
/// unchanged (TaskRouter stores the string the client sent, whitespace included).
pub fn json_arg(flag: &str, value: &str) -> Result<String, InputError> {
    let text = raw_arg(flag, value)?;
    parse_json(flag, &text)?;
    Ok(text)
}

/// Like [`json_arg`] but returns the parsed value.
pub fn json_value_arg(flag: &str, value: &str) -> Result<serde_json::Value, InputError> {
    let text = raw_arg(flag, value)?;
    parse_json(flag, &text)
}

/// The text of an argument that may be `-` (stdin) or `@path`, without checking it.
pub fn raw_arg(flag: &str, value: &str) -> Result<String, InputError> {
    if value == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| InputError::Stdin {
                flag: flag.to_string(),
                source,
            })?;
        return Ok(text.trim_end_matches(['\n', '\r']).to_string());
    }
    if let Some(path) = value.strip_prefix('@') {
        return std::fs::read_to_string(path)
            .map(|text| text.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|source| InputError::File {
                flag: flag.to_string(),
                path: path.to_string(),
                source,
            });
    }
    Ok(value.to_string())
}

fn parse_json(flag: &str, text: &str) -> Result<serde_json::Value, InputError> {
    serde_json::from_str(text).map_err(|err| InputError::Json {
        flag: flag.to_string(),
        message: strip_position(&err.to_string()),
        line: err.line(),
        column: err.column(),
    })
}

/// serde_json appends " at line L column C" to its messages; we print our own.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_json_is_returned_unchanged() {
        let text = json_arg("--attributes", "{ \"a\" : 1 }").unwrap();
        assert_eq!(text, "{ \"a\" : 1 }");
    }

    #[test]
    fn bad_json_names_line_and_column() {
        let err = json_arg("--attributes", "{\n  \"a\": }").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("--attributes is not valid JSON"),
            "{message}"
        );
        assert!(message.contains("line 2, column 8"), "{message}");
    }

    #[test]
    fn file_argument_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, "{\"x\":[1,2]}\n").unwrap();
        let text = json_arg("--config", &format!("@{}", path.display())).unwrap();
        assert_eq!(text, "{\"x\":[1,2]}");
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = json_arg("--config", "@/nonexistent/trctl.json").unwrap_err();
        assert!(matches!(err, InputError::File { .. }));
    }
}
