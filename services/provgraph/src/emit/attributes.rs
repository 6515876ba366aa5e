//! The span's attributes as they are gathered: typed values (string,
//! integer, string list) that become JSON for `--dry-run` or OpenTelemetry
//! values for the exporter, with the summary lines, problems and notes said
//! on stderr.

/// An attribute value as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    Strs(Vec<String>),
}

impl Value {
    pub(super) fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::from(s.as_str()),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Strs(v) => serde_json::Value::from(v.clone()),
        }
    }

    pub(super) fn to_otel(&self) -> opentelemetry::Value {
        match self {
            Value::Str(s) => opentelemetry::Value::from(s.clone()),
            Value::Int(i) => opentelemetry::Value::from(*i),
            Value::Strs(v) => {
                let values: Vec<opentelemetry::StringValue> =
                    v.iter().map(|s| s.clone().into()).collect();
                opentelemetry::Value::Array(values.into())
            }
        }
    }
}

/// Everything found, ready to send, with the summary lines and problems.
#[derive(Debug, Default)]
pub(super) struct Collected {
    pub(super) attributes: Vec<(&'static str, Value)>,
    /// `(fact, text)` lines for the summary.
    pub(super) summary: Vec<(String, String)>,
    /// Flags or named files that were wrong: exit 2 once the span is sent.
    pub(super) problems: Vec<String>,
    /// Things worth saying that change nothing.
    pub(super) notes: Vec<String>,
}

impl Collected {
    pub(super) fn put(&mut self, key: &'static str, value: Value) {
        self.attributes.push((key, value));
    }

    /// The value sent for `key`, if any.
    #[cfg(test)]
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    pub(super) fn say(&mut self, what: &str, text: impl Into<String>) {
        self.summary.push((what.to_string(), text.into()));
    }
}
