//! Reading a `serde_json::Value` with the path of every value kept, so that
//! an error says where in the document it is (`affected[0].ranges[1]`).

use provgraph_model::json::type_name;
use serde_json::{Map, Value};

use crate::DocumentError;

/// Longest string this crate keeps from a document (ids, names, versions,
/// justifications); longer ones are refused, not cut.
pub const MAX_TEXT: usize = 4096;

/// A path in a document, as a linked list from the leaf to the root.
pub(crate) enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    pub fn render(&self) -> String {
        match self {
            Path::Root(name) => (*name).to_string(),
            Path::Field(parent, name) => {
                let parent = parent.render();
                if parent.is_empty() {
                    (*name).to_string()
                } else {
                    format!("{parent}.{name}")
                }
            }
            Path::Index(parent, index) => format!("{}[{index}]", parent.render()),
        }
    }

    pub fn error(&self, problem: impl Into<String>) -> DocumentError {
        DocumentError {
            at: self.render(),
            problem: problem.into(),
        }
    }
}

/// `value` as an object, or an error at `path`.
pub(crate) fn object<'a>(
    value: &'a Value,
    path: &Path,
) -> Result<&'a Map<String, Value>, DocumentError> {
    value
        .as_object()
        .ok_or_else(|| path.error(format!("expected an object, found {}", type_name(value))))
}

/// The elements of an optional array field (absent or null: none).
pub(crate) fn array<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    path: &Path,
) -> Result<&'a [Value], DocumentError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(Path::Field(path, field)
            .error(format!("expected an array, found {}", type_name(other)))),
    }
}

/// An optional string field (absent or null: `None`); checked by [`text`].
pub(crate) fn opt_string(
    map: &Map<String, Value>,
    field: &str,
    path: &Path,
) -> Result<Option<String>, DocumentError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => text(value, &Path::Field(path, field)).map(Some),
    }
}

/// A required, non-empty string field.
pub(crate) fn req_string(
    map: &Map<String, Value>,
    field: &str,
    path: &Path,
) -> Result<String, DocumentError> {
    let value =
        opt_string(map, field, path)?.ok_or_else(|| path.error(format!("{field:?} is missing")))?;
    if value.trim().is_empty() {
        return Err(Path::Field(path, field).error("is empty"));
    }
    Ok(value)
}

/// A string of at most [`MAX_TEXT`] bytes.
pub(crate) fn text(value: &Value, path: &Path) -> Result<String, DocumentError> {
    let Value::String(text) = value else {
        return Err(path.error(format!("expected a string, found {}", type_name(value))));
    };
    if text.len() > MAX_TEXT {
        return Err(path.error(format!("longer than {MAX_TEXT} bytes")));
    }
    Ok(text.clone())
}

/// An identifier (vulnerability id, alias, package name, version): not
/// empty, no whitespace or control characters, at most 256 bytes.
pub(crate) fn identifier(value: &str, path: &Path) -> Result<String, DocumentError> {
    if value.is_empty()
        || value.len() > 256
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(path.error(format!(
            "{:?} is not an identifier (1 to 256 bytes, no spaces)",
            shorten(value)
        )));
    }
    Ok(value.to_string())
}

/// `value` shortened to 80 characters for a message.
pub(crate) fn shorten(value: &str) -> String {
    if value.chars().count() <= 80 {
        return value.to_string();
    }
    let mut cut: String = value.chars().take(80).collect();
    cut.push('…');
    cut
}

/// A canonical image digest from `sha256:<hex>` (any case), or `None`.
pub fn parse_digest(value: &str) -> Option<String> {
    let hex = value.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// The digest of an image reference `NAME@sha256:<hex>`.
pub(crate) fn digest_of_reference(reference: &str) -> Option<String> {
    reference
        .rsplit_once('@')
        .and_then(|(_, digest)| parse_digest(digest))
}
