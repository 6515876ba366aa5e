//! Tests of the OTLP/HTTP response and `google.rpc.Status` encoders.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use provgraph_otlp::{
    RpcStatus, encode_status_json, encode_status_protobuf, encode_trace_response_json, grpc_code,
};
use serde_json::{Value, json};

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("encoders write UTF-8")
}

fn response(rejected_spans: i64, error_message: &str) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans,
            error_message: error_message.to_owned(),
        }),
    }
}

#[test]
fn full_success_is_an_empty_object() {
    let body = encode_trace_response_json(&ExportTraceServiceResponse::default());
    assert_eq!(text(body), "{}");
}

#[test]
fn partial_success_writes_rejected_spans_as_a_string() {
    assert_eq!(
        text(encode_trace_response_json(&response(
            3,
            "3 spans had no trace id"
        ))),
        r#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"3 spans had no trace id"}}"#
    );
    assert_eq!(
        text(encode_trace_response_json(&response(i64::MAX, ""))),
        r#"{"partialSuccess":{"rejectedSpans":"9223372036854775807"}}"#
    );
    assert_eq!(
        text(encode_trace_response_json(&response(0, "warning only"))),
        r#"{"partialSuccess":{"errorMessage":"warning only"}}"#
    );
    assert_eq!(
        text(encode_trace_response_json(&response(0, ""))),
        r#"{"partialSuccess":{}}"#
    );
}

#[test]
fn partial_success_message_is_escaped() {
    let body = encode_trace_response_json(&response(1, "bad \"id\"\nat \\ span\u{0}"));
    let parsed: Value = serde_json::from_slice(&body).expect("valid JSON");
    assert_eq!(
        parsed,
        json!({"partialSuccess": {"rejectedSpans": "1", "errorMessage": "bad \"id\"\nat \\ span\u{0}"}})
    );
}

#[test]
fn status_json_has_code_and_message() {
    assert_eq!(
        text(encode_status_json(
            grpc_code::INVALID_ARGUMENT,
            "spans[0].traceId: expected 32 hex digits"
        )),
        r#"{"code":3,"message":"spans[0].traceId: expected 32 hex digits"}"#
    );
    assert_eq!(
        text(encode_status_json(grpc_code::UNAVAILABLE, "")),
        r#"{"code":14}"#
    );
    let escaped = encode_status_json(grpc_code::INTERNAL, "a\"b\\c\nd\té");
    let parsed: Value = serde_json::from_slice(&escaped).expect("valid JSON");
    assert_eq!(parsed, json!({"code": 13, "message": "a\"b\\c\nd\té"}));
}

#[test]
fn status_protobuf_matches_the_wire_format() {
    // field 1 varint 3, field 2 length-delimited "bad".
    assert_eq!(
        encode_status_protobuf(grpc_code::INVALID_ARGUMENT, "bad"),
        [0x08, 0x03, 0x12, 0x03, b'b', b'a', b'd']
    );
    // Defaults are not written at all.
    assert!(encode_status_protobuf(grpc_code::OK, "").is_empty());
    // Negative int32 values are 10-byte varints.
    assert_eq!(encode_status_protobuf(-1, "").len(), 11);
}

#[test]
fn status_protobuf_decodes_back() {
    for code in [
        grpc_code::OK,
        grpc_code::INVALID_ARGUMENT,
        grpc_code::RESOURCE_EXHAUSTED,
        grpc_code::UNIMPLEMENTED,
        grpc_code::INTERNAL,
        grpc_code::UNAVAILABLE,
        grpc_code::UNAUTHENTICATED,
    ] {
        let bytes = encode_status_protobuf(code, "message ✓");
        let status = RpcStatus::decode(bytes.as_slice()).expect("valid protobuf");
        assert_eq!(status.code, code);
        assert_eq!(status.message, "message ✓");
        assert!(status.details.is_empty());
    }
}

#[test]
fn grpc_codes_have_their_standard_values() {
    assert_eq!(
        [
            grpc_code::OK,
            grpc_code::INVALID_ARGUMENT,
            grpc_code::RESOURCE_EXHAUSTED,
            grpc_code::UNIMPLEMENTED,
            grpc_code::INTERNAL,
            grpc_code::UNAVAILABLE,
            grpc_code::UNAUTHENTICATED,
        ],
        [0, 3, 8, 12, 13, 14, 16]
    );
}
