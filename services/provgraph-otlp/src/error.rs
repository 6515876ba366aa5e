//! The error returned when an OTLP/JSON request body cannot be decoded.

use std::fmt;

/// Why an OTLP/JSON request body was rejected.
///
/// Its [`Display`](fmt::Display) form is a single line suitable for an HTTP 400 response body,
/// for example `resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 32 hex digits, got 30
/// characters`. Text taken from the input is escaped and shortened, so the message never
/// contains a line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    path: String,
    message: String,
}

impl JsonError {
    /// An error about the value at `path` (empty for the body as a whole).
    pub(crate) fn new(path: String, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }

    /// The body is not well-formed JSON (including JSON nested deeper than the parser allows).
    pub(crate) fn syntax(error: &serde_json::Error) -> Self {
        Self::new(String::new(), format!("invalid JSON: {error}"))
    }

    /// Where in the request the problem is, e.g. `resourceSpans[0].scopeSpans[0].spans[2].kind`;
    /// empty when the problem concerns the body as a whole (such as invalid JSON).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

#[cfg(test)]
mod tests {
    //! Unit tests of `JsonError` formatting.

    use super::*;

    #[test]
    fn display_joins_path_and_message() {
        let error = JsonError::new("resourceSpans[0].schemaUrl".into(), "expected a string");
        assert_eq!(
            error.to_string(),
            "resourceSpans[0].schemaUrl: expected a string"
        );
        assert_eq!(error.path(), "resourceSpans[0].schemaUrl");
        assert_eq!(error.message(), "expected a string");
    }

    #[test]
    fn display_without_path_is_just_the_message() {
        let error = JsonError::new(String::new(), "invalid JSON: EOF");
        assert_eq!(error.to_string(), "invalid JSON: EOF");
    }
}
