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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_json_and_as_opentelemetry() {
        let list = Value::Strs(vec!["a@v1".into(), "b@v2".into()]);
        assert_eq!(list.to_json(), serde_json::json!(["a@v1", "b@v2"]));
        assert_eq!(Value::Int(3).to_json(), serde_json::json!(3));
        assert_eq!(Value::Str("x".into()).to_json(), serde_json::json!("x"));
        assert_eq!(
            list.to_otel(),
            opentelemetry::Value::Array(opentelemetry::Array::String(vec![
                "a@v1".into(),
                "b@v2".into()
            ]))
        );
        assert_eq!(Value::Int(3).to_otel(), opentelemetry::Value::I64(3));

        let mut out = Collected::default();
        out.put("process.exit.code", Value::Int(3));
        out.say("exit code", "3");
        assert_eq!(out.get("process.exit.code"), Some(&Value::Int(3)));
        assert_eq!(out.get("process.exit"), None);
        assert_eq!(
            out.summary,
            vec![("exit code".to_string(), "3".to_string())]
        );
    }
}
