//! Encoders for OTLP/HTTP trace responses and `google.rpc.Status` error bodies.
//!
//! JSON is written by hand (with a small string escaper) so the key order is fixed and the
//! output does not depend on serde_json feature flags enabled elsewhere in the build.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

/// `google.rpc.Status`, the error body of gRPC and OTLP/HTTP (protobuf flavour).
///
/// Defined here so the crate does not depend on tonic-types.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    /// A `google.rpc.Code` value, see [`grpc_code`](crate::grpc_code).
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// A developer-facing error message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Error details; the receivers leave this empty.
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<RpcAny>,
}

/// `google.protobuf.Any`, the element type of [`RpcStatus::details`].
#[derive(Clone, PartialEq, Message)]
pub struct RpcAny {
    /// Identifies the type of the serialized message in `value`.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// The serialized message.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// Encodes an `ExportTraceServiceResponse` as OTLP/JSON.
///
/// Returns `{}` when there is no partial success; otherwise
/// `{"partialSuccess":{"rejectedSpans":"<n>","errorMessage":"..."}}` where `rejectedSpans` is
/// an int64 written as a decimal string (per the protobuf JSON mapping) and each field is
/// omitted when it has its default value (0 or empty).
pub fn encode_trace_response_json(response: &ExportTraceServiceResponse) -> Vec<u8> {
    match &response.partial_success {
        None => b"{}".to_vec(),
        Some(partial) => encode_partial_success_json(
            "rejectedSpans",
            partial.rejected_spans,
            &partial.error_message,
        ),
    }
}

/// Encodes an export response with a partial success as OTLP/JSON:
/// `{"partialSuccess":{"<rejected_field>":"<n>","errorMessage":"..."}}`, each field omitted
/// when it has its default value. `rejected_field` is `rejectedSpans`, `rejectedDataPoints`
/// or `rejectedLogRecords`.
pub fn encode_partial_success_json(
    rejected_field: &str,
    rejected: i64,
    error_message: &str,
) -> Vec<u8> {
    let mut fields = Vec::with_capacity(2);
    if rejected != 0 {
        fields.push(format!("\"{rejected_field}\":\"{rejected}\""));
    }
    if !error_message.is_empty() {
        let mut field = String::from("\"errorMessage\":");
        push_json_string(&mut field, error_message);
        fields.push(field);
    }
    format!("{{\"partialSuccess\":{{{}}}}}", fields.join(",")).into_bytes()
}

/// Encodes a `google.rpc.Status` as JSON: `{"code":3,"message":"..."}`.
///
/// `code` is always written (even when 0); `message` is omitted when empty; `details` is
/// never written.
pub fn encode_status_json(code: i32, message: &str) -> Vec<u8> {
    let mut out = format!("{{\"code\":{code}");
    if !message.is_empty() {
        out.push_str(",\"message\":");
        push_json_string(&mut out, message);
    }
    out.push('}');
    out.into_bytes()
}

/// Encodes a `google.rpc.Status` as protobuf bytes (field 1 `code`, field 2 `message`, no
/// `details`).
pub fn encode_status_protobuf(code: i32, message: &str) -> Vec<u8> {
    RpcStatus {
        code,
        message: message.to_owned(),
        details: Vec::new(),
    }
    .encode_to_vec()
}

/// Appends `value` to `out` as a quoted JSON string.
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    //! Unit tests of the JSON string escaper.

    use super::*;

    fn escaped(value: &str) -> String {
        let mut out = String::new();
        push_json_string(&mut out, value);
        out
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(escaped("plain"), "\"plain\"");
        assert_eq!(escaped("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(escaped("l1\nl2\r\t"), r#""l1\nl2\r\t""#);
        assert_eq!(escaped("\u{0}\u{1f}"), r#""\u0000\u001f""#);
        assert_eq!(escaped("ünï ✓"), "\"ünï ✓\"");
    }

    #[test]
    fn escaped_strings_parse_back_with_serde_json() {
        let nasty = "quote\" backslash\\ nl\n nul\u{0} bell\u{7} del\u{7f} emoji🦀";
        let parsed: String = serde_json::from_str(&escaped(nasty)).expect("valid JSON string");
        assert_eq!(parsed, nasty);
    }
}
