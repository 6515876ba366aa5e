//! Tests of the OTLP/JSON trace request decoder against hand-written bodies shaped like the
//! ones real exporters send, the Collector's leniencies, and malformed or hostile input.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use provgraph_otlp::{JsonError, MAX_ANY_VALUE_DEPTH, decode_trace_request_json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const TRACE_ID_HEX: &str = "5b8efff798038103d269b633813fc60c";
const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
const PARENT_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73];

fn decode(body: &str) -> Result<ExportTraceServiceRequest, JsonError> {
    decode_trace_request_json(body.as_bytes())
}

fn decode_ok(body: &str) -> ExportTraceServiceRequest {
    match decode(body) {
        Ok(request) => request,
        Err(error) => panic!("expected {body} to decode, got error: {error}"),
    }
}

fn decode_err(body: &str) -> String {
    match decode(body) {
        Ok(request) => panic!("expected {body} to be rejected, got {request:?}"),
        Err(error) => error.to_string(),
    }
}

/// Wraps span JSON objects in one resource and one scope.
fn with_spans(spans: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{spans}]}}]}}]}}"#)
}

/// Wraps an AnyValue JSON object as the value of attribute "k" of one span.
fn with_attribute_value(value: &str) -> String {
    with_spans(&format!(
        r#"{{"name":"s","attributes":[{{"key":"k","value":{value}}}]}}"#
    ))
}

fn only_span(request: &ExportTraceServiceRequest) -> &Span {
    assert_eq!(request.resource_spans.len(), 1);
    assert_eq!(request.resource_spans[0].scope_spans.len(), 1);
    assert_eq!(request.resource_spans[0].scope_spans[0].spans.len(), 1);
    &request.resource_spans[0].scope_spans[0].spans[0]
}

/// The decoded value of attribute "k" built by [`with_attribute_value`].
fn attribute_value(body: &str) -> Option<AnyValue> {
    let request = decode_ok(body);
    let span = only_span(&request);
    assert_eq!(span.attributes.len(), 1);
    assert_eq!(span.attributes[0].key, "k");
    span.attributes[0].value.clone()
}

fn any(value: Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: any(value),
        key_strindex: 0,
    }
}

fn string_value(s: &str) -> Value {
    Value::StringValue(s.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Realistic requests
// ---------------------------------------------------------------------------------------------

/// Shaped like the OpenTelemetry JS OTLP/HTTP JSON exporter's output: every field written,
/// timestamps as decimal strings, `intValue` as a JSON number, `kind` and `code` as integers.
const JS_EXPORTER_BODY: &str = r#"{
  "resourceSpans": [{
    "resource": {
      "attributes": [
        {"key": "service.name", "value": {"stringValue": "ci-runner"}},
        {"key": "telemetry.sdk.language", "value": {"stringValue": "nodejs"}},
        {"key": "process.pid", "value": {"intValue": 4242}}
      ],
      "droppedAttributesCount": 0
    },
    "scopeSpans": [{
      "scope": {"name": "@provgraph/ci-instrumentation", "version": "1.2.3"},
      "spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "eee19b7ec3c1b173",
        "traceState": "vendor=abc",
        "name": "cargo build",
        "kind": 1,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [
          {"key": "build.target", "value": {"stringValue": "x86_64-unknown-linux-gnu"}},
          {"key": "build.jobs", "value": {"intValue": 8}},
          {"key": "build.cached", "value": {"boolValue": false}},
          {"key": "build.ratio", "value": {"doubleValue": 0.75}},
          {"key": "build.features", "value": {"arrayValue": {"values": [
            {"stringValue": "std"}, {"stringValue": "serde"}
          ]}}}
        ],
        "droppedAttributesCount": 0,
        "events": [{
          "timeUnixNano": "1544712660300000000",
          "name": "artifact.written",
          "attributes": [{"key": "artifact.path", "value": {"stringValue": "target/release/app"}}],
          "droppedAttributesCount": 0
        }],
        "droppedEventsCount": 0,
        "links": [{
          "traceId": "00000000000000000000000000000001",
          "spanId": "0000000000000002",
          "traceState": "",
          "attributes": [{"key": "link.reason", "value": {"stringValue": "triggered-by"}}],
          "droppedAttributesCount": 0,
          "flags": 257
        }],
        "droppedLinksCount": 0,
        "status": {"code": 2, "message": "exit status 101"},
        "flags": 257
      }]
    }]
  }]
}"#;

fn js_exporter_expected() -> ExportTraceServiceRequest {
    let mut link_trace_id = vec![0u8; 16];
    link_trace_id[15] = 1;
    let mut link_span_id = vec![0u8; 8];
    link_span_id[7] = 2;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", string_value("ci-runner")),
                    kv("telemetry.sdk.language", string_value("nodejs")),
                    kv("process.pid", Value::IntValue(4242)),
                ],
                dropped_attributes_count: 0,
                entity_refs: vec![],
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "@provgraph/ci-instrumentation".into(),
                    version: "1.2.3".into(),
                    attributes: vec![],
                    dropped_attributes_count: 0,
                }),
                spans: vec![Span {
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    trace_state: "vendor=abc".into(),
                    parent_span_id: PARENT_ID.to_vec(),
                    flags: 257,
                    name: "cargo build".into(),
                    kind: SpanKind::Internal as i32,
                    start_time_unix_nano: 1_544_712_660_000_000_000,
                    end_time_unix_nano: 1_544_712_661_000_000_000,
                    attributes: vec![
                        kv("build.target", string_value("x86_64-unknown-linux-gnu")),
                        kv("build.jobs", Value::IntValue(8)),
                        kv("build.cached", Value::BoolValue(false)),
                        kv("build.ratio", Value::DoubleValue(0.75)),
                        kv(
                            "build.features",
                            Value::ArrayValue(ArrayValue {
                                values: vec![
                                    AnyValue {
                                        value: Some(string_value("std")),
                                    },
                                    AnyValue {
                                        value: Some(string_value("serde")),
                                    },
                                ],
                            }),
                        ),
                    ],
                    dropped_attributes_count: 0,
                    events: vec![Event {
                        time_unix_nano: 1_544_712_660_300_000_000,
                        name: "artifact.written".into(),
                        attributes: vec![kv("artifact.path", string_value("target/release/app"))],
                        dropped_attributes_count: 0,
                    }],
                    dropped_events_count: 0,
                    links: vec![Link {
                        trace_id: link_trace_id,
                        span_id: link_span_id,
                        trace_state: String::new(),
                        attributes: vec![kv("link.reason", string_value("triggered-by"))],
                        dropped_attributes_count: 0,
                        flags: 257,
                    }],
                    dropped_links_count: 0,
                    status: Some(Status {
                        message: "exit status 101".into(),
                        code: StatusCode::Error as i32,
                    }),
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn js_exporter_request_decodes_field_by_field() {
    let request = decode_ok(JS_EXPORTER_BODY);

    let resource = request.resource_spans[0]
        .resource
        .as_ref()
        .expect("resource present");
    assert_eq!(resource.attributes[0].key, "service.name");
    assert_eq!(resource.attributes[0].value, any(string_value("ci-runner")));

    let scope_spans = &request.resource_spans[0].scope_spans[0];
    let scope = scope_spans.scope.as_ref().expect("scope present");
    assert_eq!(scope.name, "@provgraph/ci-instrumentation");
    assert_eq!(scope.version, "1.2.3");

    let span = only_span(&request);
    assert_eq!(span.trace_id, TRACE_ID);
    assert_eq!(span.span_id, SPAN_ID);
    assert_eq!(span.parent_span_id, PARENT_ID);
    assert_eq!(span.trace_state, "vendor=abc");
    assert_eq!(span.name, "cargo build");
    assert_eq!(span.kind, SpanKind::Internal as i32);
    assert_eq!(span.flags, 257);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(span.attributes.len(), 5);
    assert_eq!(span.attributes[1].value, any(Value::IntValue(8)));
    assert_eq!(span.attributes[2].value, any(Value::BoolValue(false)));
    assert_eq!(span.attributes[3].value, any(Value::DoubleValue(0.75)));
    assert_eq!(span.events.len(), 1);
    assert_eq!(span.events[0].name, "artifact.written");
    assert_eq!(span.events[0].time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(span.links.len(), 1);
    assert_eq!(span.links[0].flags, 257);
    assert_eq!(
        span.status,
        Some(Status {
            message: "exit status 101".into(),
            code: 2
        })
    );

    // And the whole structure, so no field is forgotten.
    assert_eq!(request, js_exporter_expected());
}

/// Shaped like the Collector's / Go pdata JSON marshaler: defaults omitted, `intValue` and
/// timestamps as strings, empty lists written as `{}`, uppercase hex from a hand-rolled sender.
#[test]
fn go_style_request_with_omitted_defaults_decodes() {
    let body = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"gitlab-runner"}}]},
      "scopeSpans":[{"scope":{"name":"ci"},"spans":[{
        "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
        "name":"job","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2",
        "attributes":[
          {"key":"retries","value":{"intValue":"-3"}},
          {"key":"tags","value":{"arrayValue":{}}},
          {"key":"env","value":{"kvlistValue":{}}},
          {"key":"blob","value":{"bytesValue":"AQID"}},
          {"key":"unset","value":{}}],
        "status":{}}],"schemaUrl":"https://opentelemetry.io/schemas/1.26.0"}]}]}"#;
    let request = decode_ok(body);
    let span = only_span(&request);
    assert_eq!(span.trace_id, TRACE_ID);
    assert_eq!(span.span_id, SPAN_ID);
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (1, 2));
    assert_eq!(
        span.attributes,
        vec![
            kv("retries", Value::IntValue(-3)),
            kv("tags", Value::ArrayValue(ArrayValue { values: vec![] })),
            kv("env", Value::KvlistValue(KeyValueList { values: vec![] })),
            kv("blob", Value::BytesValue(vec![1, 2, 3])),
            KeyValue {
                key: "unset".into(),
                value: Some(AnyValue { value: None }),
                key_strindex: 0,
            },
        ]
    );
    assert_eq!(span.status, Some(Status::default()));
    assert_eq!(
        request.resource_spans[0].scope_spans[0].schema_url,
        "https://opentelemetry.io/schemas/1.26.0"
    );
}

#[test]
fn empty_request_and_empty_resource_spans_decode() {
    assert_eq!(decode_ok("{}"), ExportTraceServiceRequest::default());
    assert_eq!(
        decode_ok(r#"{"resourceSpans":[]}"#),
        ExportTraceServiceRequest::default()
    );
    assert_eq!(
        decode_ok(r#"{"resourceSpans":null}"#),
        ExportTraceServiceRequest::default()
    );
}

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

#[test]
fn ids_decode_in_upper_lower_and_mixed_case() {
    for (trace_id, span_id) in [
        (TRACE_ID_HEX.to_owned(), "eee19b7ec3c1b174"),
        (TRACE_ID_HEX.to_uppercase(), "EEE19B7EC3C1B174"),
        (
            "5B8eFFf798038103d269B633813fc60C".to_owned(),
            "EeE19b7Ec3C1b174",
        ),
    ] {
        let body = with_spans(&format!(
            r#"{{"traceId":"{trace_id}","spanId":"{span_id}","parentSpanId":"{span_id}",
               "links":[{{"traceId":"{trace_id}","spanId":"{span_id}"}}]}}"#
        ));
        let request = decode_ok(&body);
        let span = only_span(&request);
        assert_eq!(span.trace_id, TRACE_ID, "{trace_id}");
        assert_eq!(span.span_id, SPAN_ID, "{span_id}");
        assert_eq!(span.parent_span_id, SPAN_ID);
        assert_eq!(span.links[0].trace_id, TRACE_ID);
        assert_eq!(span.links[0].span_id, SPAN_ID);
    }
}

#[test]
fn empty_ids_decode_to_empty_bytes() {
    let request = decode_ok(&with_spans(
        r#"{"traceId":"","spanId":"","parentSpanId":"","links":[{"traceId":"","spanId":""}]}"#,
    ));
    let span = only_span(&request);
    assert!(span.trace_id.is_empty());
    assert!(span.span_id.is_empty());
    assert!(span.parent_span_id.is_empty());
    assert!(span.links[0].trace_id.is_empty());
    assert!(span.links[0].span_id.is_empty());
}

#[test]
fn wrong_id_length_names_the_path() {
    let span = r#"{"spanId":"eee19b7ec3c1b174"}"#;
    let bad = format!(r#"{{"traceId":"{}"}}"#, &TRACE_ID_HEX[..30]);
    let spans = format!("{span},{span},{span},{bad}");
    let body =
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[]}},{{"spans":[{spans}]}}]}}]}}"#);
    assert_eq!(
        decode_err(&body),
        "resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 32 hex digits, got 30 characters"
    );

    let long_span_id = with_spans(r#"{"spanId":"eee19b7ec3c1b17400"}"#);
    assert_eq!(
        decode_err(&long_span_id),
        "resourceSpans[0].scopeSpans[0].spans[0].spanId: expected 16 hex digits, got 18 characters"
    );

    let short_parent = with_spans(r#"{"parentSpanId":"ee"}"#);
    assert!(
        decode_err(&short_parent)
            .ends_with("spans[0].parentSpanId: expected 16 hex digits, got 2 characters")
    );

    let base64_trace_id = with_spans(r#"{"traceId":"W47/95gDgQPSabYzgT/GDA=="}"#);
    assert!(
        decode_err(&base64_trace_id)
            .ends_with("spans[0].traceId: expected 32 hex digits, got 24 characters")
    );

    let link = with_spans(r#"{"links":[{},{"spanId":"0102"}]}"#);
    assert!(
        decode_err(&link)
            .ends_with("spans[0].links[1].spanId: expected 16 hex digits, got 4 characters")
    );
}

#[test]
fn non_hex_ids_are_rejected() {
    let body = with_spans(r#"{"spanId":"eee19b7ec3c1b17g"}"#);
    assert_eq!(
        decode_err(&body),
        "resourceSpans[0].scopeSpans[0].spans[0].spanId: invalid hex digit 'g' at offset 15"
    );
    let link = with_spans(r#"{"links":[{"traceId":"zz8efff798038103d269b633813fc60c"}]}"#);
    assert!(decode_err(&link).contains("links[0].traceId: invalid hex digit 'z'"));
    let number = with_spans(r#"{"spanId":1234}"#);
    assert!(decode_err(&number).ends_with("spanId: expected a hex string, got a number"));
}

// ---------------------------------------------------------------------------------------------
// Integers, doubles, enums
// ---------------------------------------------------------------------------------------------

#[test]
fn int64_values_as_strings_and_numbers() {
    let cases = [
        (r#"{"intValue":"42"}"#, 42),
        (r#"{"intValue":42}"#, 42),
        (r#"{"intValue":"-42"}"#, -42),
        (r#"{"intValue":-42}"#, -42),
        (r#"{"intValue":"9223372036854775807"}"#, i64::MAX),
        (r#"{"intValue":-9223372036854775808}"#, i64::MIN),
        (r#"{"intValue":1e3}"#, 1000),
        (r#"{"intValue":"0"}"#, 0),
    ];
    for (value, expected) in cases {
        assert_eq!(
            attribute_value(&with_attribute_value(value)),
            any(Value::IntValue(expected)),
            "{value}"
        );
    }
}

#[test]
fn timestamps_and_counts_as_strings_and_numbers() {
    let body = with_spans(
        r#"{"startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"18446744073709551615",
            "droppedAttributesCount":"3","droppedEventsCount":4,"droppedLinksCount":"5",
            "flags":"256","events":[{"timeUnixNano":7,"droppedAttributesCount":"1"}]}"#,
    );
    let request = decode_ok(&body);
    let span = only_span(&request);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, u64::MAX);
    assert_eq!(span.dropped_attributes_count, 3);
    assert_eq!(span.dropped_events_count, 4);
    assert_eq!(span.dropped_links_count, 5);
    assert_eq!(span.flags, 256);
    assert_eq!(span.events[0].time_unix_nano, 7);
    assert_eq!(span.events[0].dropped_attributes_count, 1);
}

#[test]
fn bad_integers_are_rejected() {
    let cases = [
        (
            r#"{"startTimeUnixNano":1.5}"#,
            "startTimeUnixNano: expected an integer, got 1.5",
        ),
        (
            r#"{"startTimeUnixNano":"1.5"}"#,
            "startTimeUnixNano: expected an integer or a string of decimal digits, got \"1.5\"",
        ),
        (
            r#"{"startTimeUnixNano":-1}"#,
            "startTimeUnixNano: -1 is out of range for uint64",
        ),
        (
            r#"{"endTimeUnixNano":"18446744073709551616"}"#,
            "endTimeUnixNano: 18446744073709551616 is out of range for uint64",
        ),
        (
            r#"{"droppedAttributesCount":4294967296}"#,
            "droppedAttributesCount: 4294967296 is out of range for uint32",
        ),
        (
            r#"{"flags":true}"#,
            "flags: expected an integer, got a boolean",
        ),
        (
            r#"{"startTimeUnixNano":1e30}"#,
            // serde_json may render the number as 1e30 or 1e+30.
            "is too large to be exact as a JSON number; send it as a decimal string",
        ),
    ];
    for (span, expected_suffix) in cases {
        let error = decode_err(&with_spans(span));
        assert!(
            error.ends_with(expected_suffix),
            "{span}: got {error:?}, expected suffix {expected_suffix:?}"
        );
        assert!(error.starts_with("resourceSpans[0].scopeSpans[0].spans[0]."));
    }
    let fractional_int = with_attribute_value(r#"{"intValue":2.5}"#);
    assert!(decode_err(&fractional_int).ends_with("value.intValue: expected an integer, got 2.5"));
    let overflow = with_attribute_value(r#"{"intValue":"9223372036854775808"}"#);
    assert!(
        decode_err(&overflow)
            .ends_with("value.intValue: 9223372036854775808 is out of range for int64")
    );
}

#[test]
fn doubles_accept_numbers_numeric_strings_and_special_values() {
    let cases = [
        (r#"{"doubleValue":1.5}"#, 1.5),
        (r#"{"doubleValue":-2}"#, -2.0),
        (r#"{"doubleValue":"3.25"}"#, 3.25),
        (r#"{"doubleValue":"Infinity"}"#, f64::INFINITY),
        (r#"{"doubleValue":"-Infinity"}"#, f64::NEG_INFINITY),
    ];
    for (value, expected) in cases {
        assert_eq!(
            attribute_value(&with_attribute_value(value)),
            any(Value::DoubleValue(expected)),
            "{value}"
        );
    }
    let nan = attribute_value(&with_attribute_value(r#"{"doubleValue":"NaN"}"#));
    assert!(matches!(
        nan,
        Some(AnyValue { value: Some(Value::DoubleValue(d)) }) if d.is_nan()
    ));
    assert!(
        decode_err(&with_attribute_value(r#"{"doubleValue":"fast"}"#))
            .ends_with("value.doubleValue: expected a number, \"NaN\", \"Infinity\" or \"-Infinity\", got \"fast\"")
    );
}

#[test]
fn enums_accept_integers_numeric_strings_and_names() {
    let cases = [
        (r#""kind":3,"status":{"code":1}"#, 3, 1),
        (r#""kind":"4","status":{"code":"2"}"#, 4, 2),
        (
            r#""kind":"SPAN_KIND_SERVER","status":{"code":"STATUS_CODE_ERROR"}"#,
            SpanKind::Server as i32,
            StatusCode::Error as i32,
        ),
        (
            r#""kind":"SPAN_KIND_CONSUMER","status":{"code":"STATUS_CODE_OK"}"#,
            SpanKind::Consumer as i32,
            StatusCode::Ok as i32,
        ),
        (
            r#""kind":"SPAN_KIND_UNSPECIFIED","status":{"code":"STATUS_CODE_UNSET"}"#,
            0,
            0,
        ),
        // Unknown integer values are kept as they are.
        (r#""kind":42,"status":{"code":-7}"#, 42, -7),
    ];
    for (fields, kind, code) in cases {
        let request = decode_ok(&with_spans(&format!("{{{fields}}}")));
        let span = only_span(&request);
        assert_eq!(span.kind, kind, "{fields}");
        assert_eq!(span.status.as_ref().map(|s| s.code), Some(code), "{fields}");
    }
}

#[test]
fn unknown_enum_names_and_bad_enum_types_are_rejected() {
    assert!(
        decode_err(&with_spans(r#"{"kind":"SERVER"}"#))
            .ends_with("spans[0].kind: unknown enum value name \"SERVER\"")
    );
    assert!(
        decode_err(&with_spans(r#"{"status":{"code":"span_kind_server"}}"#))
            .ends_with("spans[0].status.code: unknown enum value name \"span_kind_server\"")
    );
    assert!(
        decode_err(&with_spans(r#"{"kind":2147483648}"#))
            .ends_with("spans[0].kind: 2147483648 is out of range for enum (int32)")
    );
    assert!(
        decode_err(&with_spans(r#"{"kind":[2]}"#))
            .ends_with("spans[0].kind: expected an integer, got an array")
    );
}

// ---------------------------------------------------------------------------------------------
// AnyValue
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_array_and_kvlist_values_decode_to_empty_lists() {
    let empty_array = any(Value::ArrayValue(ArrayValue { values: vec![] }));
    let empty_kvlist = any(Value::KvlistValue(KeyValueList { values: vec![] }));
    for body in [
        r#"{"arrayValue":{}}"#,
        r#"{"arrayValue":{"values":[]}}"#,
        r#"{"arrayValue":{"values":null}}"#,
    ] {
        assert_eq!(
            attribute_value(&with_attribute_value(body)),
            empty_array,
            "{body}"
        );
    }
    for body in [
        r#"{"kvlistValue":{}}"#,
        r#"{"kvlistValue":{"values":[]}}"#,
        r#"{"kvlistValue":{"values":null}}"#,
    ] {
        assert_eq!(
            attribute_value(&with_attribute_value(body)),
            empty_kvlist,
            "{body}"
        );
    }
    // Also when nested, as the Go encoder writes them.
    let nested = attribute_value(&with_attribute_value(
        r#"{"arrayValue":{"values":[{"arrayValue":{}},{"kvlistValue":{}}]}}"#,
    ));
    assert_eq!(
        nested,
        any(Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(Value::ArrayValue(ArrayValue::default()))
                },
                AnyValue {
                    value: Some(Value::KvlistValue(KeyValueList::default()))
                },
            ]
        }))
    );
}

#[test]
fn every_any_value_member_decodes() {
    let cases = [
        (
            r#"{"stringValue":"héllo \"\n"}"#,
            string_value("héllo \"\n"),
        ),
        (r#"{"stringValue":""}"#, string_value("")),
        (r#"{"boolValue":true}"#, Value::BoolValue(true)),
        (r#"{"intValue":"7"}"#, Value::IntValue(7)),
        (r#"{"doubleValue":0.5}"#, Value::DoubleValue(0.5)),
        (
            r#"{"bytesValue":"+/8="}"#,
            Value::BytesValue(vec![0xfb, 0xff]),
        ),
        (
            r#"{"bytesValue":"-_8"}"#,
            Value::BytesValue(vec![0xfb, 0xff]),
        ),
        (r#"{"bytesValue":""}"#, Value::BytesValue(vec![])),
        (
            r#"{"stringValueStrindex":3}"#,
            Value::StringValueStrindex(3),
        ),
        (
            r#"{"kvlistValue":{"values":[{"key":"a","value":{"intValue":1}},{"key":"b"}]}}"#,
            Value::KvlistValue(KeyValueList {
                values: vec![
                    kv("a", Value::IntValue(1)),
                    KeyValue {
                        key: "b".into(),
                        value: None,
                        key_strindex: 0,
                    },
                ],
            }),
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(
            attribute_value(&with_attribute_value(json)),
            any(expected),
            "{json}"
        );
    }
}

#[test]
fn empty_any_value_and_missing_value_are_distinct() {
    assert_eq!(
        attribute_value(&with_attribute_value("{}")),
        Some(AnyValue { value: None })
    );
    assert_eq!(attribute_value(&with_attribute_value("null")), None);
    assert_eq!(
        attribute_value(&with_attribute_value(r#"{"stringValue":null}"#)),
        Some(AnyValue { value: None })
    );
}

#[test]
fn malformed_any_values_are_rejected() {
    let cases = [
        (
            r#"{"stringValue":"a","intValue":"1"}"#,
            "value: AnyValue must have exactly one value, found both stringValue and intValue",
        ),
        (
            r#"{"boolValue":"true"}"#,
            "value.boolValue: expected a boolean, got a string",
        ),
        (
            r#"{"stringValue":5}"#,
            "value.stringValue: expected a string, got a number",
        ),
        (
            r#"{"arrayValue":[]}"#,
            "value.arrayValue: expected an object, got an array",
        ),
        (
            r#"{"arrayValue":{"values":{}}}"#,
            "value.arrayValue.values: expected an array, got an object",
        ),
        (
            r#"{"kvlistValue":{"values":[{"key":1}]}}"#,
            "value.kvlistValue.values[0].key: expected a string, got a number",
        ),
        (
            r#"{"bytesValue":"not base64!"}"#,
            "value.bytesValue: invalid base64",
        ),
        (
            "[]",
            "attributes[0].value: expected an object, got an array",
        ),
    ];
    for (value, expected) in cases {
        let error = decode_err(&with_attribute_value(value));
        assert!(
            error.contains(expected),
            "{value}: got {error:?}, expected {expected:?}"
        );
        assert!(error.starts_with("resourceSpans[0].scopeSpans[0].spans[0].attributes[0]."));
    }
}

/// An AnyValue made of `levels` nested single-element arrays around a string.
fn nested_arrays(levels: usize) -> String {
    let mut json = String::from(r#"{"stringValue":"leaf"}"#);
    for _ in 1..levels {
        json = format!(r#"{{"arrayValue":{{"values":[{json}]}}}}"#);
    }
    json
}

fn depth_of(value: &AnyValue) -> usize {
    match &value.value {
        Some(Value::ArrayValue(array)) => 1 + array.values.first().map_or(0, depth_of),
        _ => 1,
    }
}

#[test]
fn any_value_nesting_up_to_the_limit_decodes() {
    let value = attribute_value(&with_attribute_value(&nested_arrays(MAX_ANY_VALUE_DEPTH)))
        .expect("value present");
    assert_eq!(depth_of(&value), MAX_ANY_VALUE_DEPTH);
}

#[test]
fn any_value_nesting_beyond_the_limit_is_rejected() {
    let error = decode_err(&with_attribute_value(&nested_arrays(
        MAX_ANY_VALUE_DEPTH + 1,
    )));
    assert!(
        error.ends_with("AnyValue nesting is deeper than the limit of 32 levels"),
        "{error}"
    );
    assert!(error.starts_with("resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value"));
}

#[test]
fn nested_kvlists_count_towards_the_depth() {
    let mut json = String::from(r#"{"boolValue":true}"#);
    for _ in 1..20 {
        json = format!(r#"{{"kvlistValue":{{"values":[{{"key":"k","value":{json}}}]}}}}"#);
    }
    let mut value = attribute_value(&with_attribute_value(&json)).expect("value present");
    let mut levels = 1;
    while let Some(Value::KvlistValue(list)) = value.value {
        value = list.values[0].value.clone().expect("inner value");
        levels += 1;
    }
    assert_eq!(levels, 20);
    assert_eq!(value.value, Some(Value::BoolValue(true)));
}

// ---------------------------------------------------------------------------------------------
// Key spellings, unknown fields, nulls
// ---------------------------------------------------------------------------------------------

#[test]
fn snake_case_keys_decode_like_camel_case() {
    let snake = JS_EXPORTER_BODY
        .replace("resourceSpans", "resource_spans")
        .replace("droppedAttributesCount", "dropped_attributes_count")
        .replace("scopeSpans", "scope_spans")
        .replace("traceId", "trace_id")
        .replace("parentSpanId", "parent_span_id")
        .replace("spanId", "span_id")
        .replace("traceState", "trace_state")
        .replace("startTimeUnixNano", "start_time_unix_nano")
        .replace("endTimeUnixNano", "end_time_unix_nano")
        .replace("timeUnixNano", "time_unix_nano")
        .replace("droppedEventsCount", "dropped_events_count")
        .replace("droppedLinksCount", "dropped_links_count")
        .replace("stringValue", "string_value")
        .replace("intValue", "int_value")
        .replace("boolValue", "bool_value")
        .replace("doubleValue", "double_value")
        .replace("arrayValue", "array_value");
    assert!(!snake.contains("Value\""), "all keys were rewritten");
    assert_eq!(decode_ok(&snake), js_exporter_expected());

    let more = with_spans(
        r#"{"events":[],"status":{"code":1},
            "attributes":[{"key":"m","value":{"kvlist_value":{"values":[
              {"key":"b","value":{"bytes_value":"AQ=="}},
              {"key":"s","value":{"string_value_strindex":"2"}}]}}, "key_strindex":9}]}"#,
    );
    let request = decode_ok(&more);
    let attribute = &only_span(&request).attributes[0];
    assert_eq!(attribute.key_strindex, 9);
    assert_eq!(
        attribute.value,
        any(Value::KvlistValue(KeyValueList {
            values: vec![
                kv("b", Value::BytesValue(vec![1])),
                kv("s", Value::StringValueStrindex(2)),
            ]
        }))
    );

    let resource = decode_ok(
        r#"{"resource_spans":[{"schema_url":"u","resource":{"entity_refs":[
            {"schema_url":"e","type":"host","id_keys":["host.id"],"description_keys":["host.name"]}]},
          "scope_spans":[{"schema_url":"s","scope":{"name":"n","dropped_attributes_count":1}}]}]}"#,
    );
    let resource_spans = &resource.resource_spans[0];
    assert_eq!(resource_spans.schema_url, "u");
    assert_eq!(resource_spans.scope_spans[0].schema_url, "s");
    assert_eq!(
        resource_spans.scope_spans[0]
            .scope
            .as_ref()
            .map(|s| s.dropped_attributes_count),
        Some(1)
    );
    let entity = &resource_spans
        .resource
        .as_ref()
        .expect("resource present")
        .entity_refs[0];
    assert_eq!(entity.schema_url, "e");
    assert_eq!(entity.r#type, "host");
    assert_eq!(entity.id_keys, ["host.id"]);
    assert_eq!(entity.description_keys, ["host.name"]);
}

#[test]
fn camel_case_key_wins_over_snake_case_key() {
    let request = decode_ok(&with_spans(
        r#"{"name":"x","start_time_unix_nano":"1","startTimeUnixNano":"2"}"#,
    ));
    assert_eq!(only_span(&request).start_time_unix_nano, 2);
    let null_camel = decode_ok(&with_spans(
        r#"{"startTimeUnixNano":null,"start_time_unix_nano":"3"}"#,
    ));
    assert_eq!(only_span(&null_camel).start_time_unix_nano, 3);
}

#[test]
fn unknown_fields_are_ignored() {
    let body = r#"{"resourceSpans":[{"futureField":{"deep":[1,2,{"x":null}]},
        "resource":{"attributes":[],"entityRefs":[],"extra":true},
        "scopeSpans":[{"scope":{"name":"s","unknown":"u"},"spans":[{
          "name":"kept","spanID":"not-a-hex-id-but-unknown-key","Name":5,
          "attributes":[{"key":"k","value":{"stringValue":"v","valueType":"STRING"},"type":1}],
          "status":{"code":0,"deprecatedCode":5}}]}]}],"partialSuccess":{}}"#;
    let request = decode_ok(body);
    let span = only_span(&request);
    assert_eq!(span.name, "kept");
    assert!(span.span_id.is_empty());
    assert_eq!(span.attributes, vec![kv("k", string_value("v"))]);
    assert_eq!(span.status, Some(Status::default()));
    assert_eq!(
        request.resource_spans[0].scope_spans[0]
            .scope
            .as_ref()
            .map(|s| s.name.as_str()),
        Some("s")
    );
}

#[test]
fn null_fields_mean_absent() {
    let body = r#"{"resourceSpans":[{"resource":null,"schemaUrl":null,"scopeSpans":[{"scope":null,
        "spans":[{"traceId":null,"spanId":null,"parentSpanId":null,"name":null,"kind":null,
          "flags":null,"startTimeUnixNano":null,"attributes":null,"events":null,"links":null,
          "status":null,"droppedAttributesCount":null}, null]}]}]}"#;
    let request = decode_ok(body);
    let scope_spans = &request.resource_spans[0].scope_spans[0];
    assert_eq!(request.resource_spans[0].resource, None);
    assert_eq!(scope_spans.scope, None);
    assert_eq!(scope_spans.spans, vec![Span::default(), Span::default()]);
}

// ---------------------------------------------------------------------------------------------
// Structural errors
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_json_types_name_the_path() {
    let cases = [
        (
            r#"{"resourceSpans":5}"#,
            "resourceSpans: expected an array, got a number",
        ),
        (
            r#"{"resourceSpans":[5]}"#,
            "resourceSpans[0]: expected an object, got a number",
        ),
        (
            r#"{"resourceSpans":[{"resource":"r"}]}"#,
            "resourceSpans[0].resource: expected an object, got a string",
        ),
        (
            r#"{"resourceSpans":[{"resource":{"attributes":{}}}]}"#,
            "resourceSpans[0].resource.attributes: expected an array, got an object",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"scope":{"name":false}}]}]}"#,
            "resourceSpans[0].scopeSpans[0].scope.name: expected a string, got a boolean",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"events":[{"name":[]}]}]}]}]}"#,
            "resourceSpans[0].scopeSpans[0].spans[0].events[0].name: expected a string, got an array",
        ),
        (
            r#"{"resourceSpans":[{"scope_spans":[{"spans":{}}]}]}"#,
            "resourceSpans[0].scope_spans[0].spans: expected an array, got an object",
        ),
        (
            r#"{"resourceSpans":[{"resource":{"entityRefs":[{"idKeys":[1]}]}}]}"#,
            "resourceSpans[0].resource.entityRefs[0].idKeys[0]: expected a string, got a number",
        ),
        ("[]", "the request body must be a JSON object, got an array"),
        ("null", "the request body must be a JSON object, got null"),
        (
            "\"x\"",
            "the request body must be a JSON object, got a string",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(decode_err(body), expected, "{body}");
    }
}

#[test]
fn error_reports_path_and_message_separately() {
    let error = decode(r#"{"resourceSpans":5}"#).expect_err("wrong type");
    assert_eq!(error.path(), "resourceSpans");
    assert_eq!(error.message(), "expected an array, got a number");
    let as_dyn: &dyn std::error::Error = &error;
    assert_eq!(
        as_dyn.to_string(),
        "resourceSpans: expected an array, got a number"
    );
}

#[test]
fn invalid_json_is_rejected() {
    for body in [
        "",
        " ",
        "{",
        "{\"resourceSpans\":[}",
        "{'resourceSpans':[]}",
        "{\"resourceSpans\":[]} trailing",
        "{\"resourceSpans\":[],}",
        "\u{feff}{}",
    ] {
        let error = decode_err(body);
        assert!(error.starts_with("invalid JSON: "), "{body:?}: {error}");
    }
    let not_utf8 = decode_trace_request_json(b"{\"resourceSpans\":[{\"schemaUrl\":\"\xff\"}]}");
    assert!(not_utf8.is_err());
}

#[test]
fn every_truncation_of_a_valid_body_is_rejected() {
    let body = JS_EXPORTER_BODY.as_bytes();
    for end in 0..body.len() {
        let result = decode_trace_request_json(&body[..end]);
        let error = result.expect_err("a strict prefix of a JSON object is not JSON");
        assert!(
            error.to_string().starts_with("invalid JSON: "),
            "prefix of {end} bytes: {error}"
        );
    }
    assert!(decode_trace_request_json(body).is_ok());
}

fn assert_rejected_quickly(body: &[u8], expected: &str) {
    let started = Instant::now();
    let error = decode_trace_request_json(body).expect_err("hostile input must be rejected");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let message = error.to_string();
    assert!(message.contains(expected), "{message}");
    assert!(!message.contains('\n'));
}

#[test]
fn deeply_nested_json_is_rejected_without_overflowing_the_stack() {
    const LEVELS: usize = 100_000;

    let arrays = format!("{}{}", "[".repeat(LEVELS), "]".repeat(LEVELS));
    assert_rejected_quickly(arrays.as_bytes(), "recursion limit exceeded");

    let objects = format!("{}{}", r#"{"a":"#.repeat(LEVELS), "}".repeat(LEVELS));
    assert_rejected_quickly(objects.as_bytes(), "recursion limit exceeded");

    let unclosed = "[".repeat(LEVELS);
    assert_rejected_quickly(unclosed.as_bytes(), "invalid JSON");

    let open = r#"{"arrayValue":{"values":["#.repeat(LEVELS);
    let close = "]}}".repeat(LEVELS);
    let any_values = with_attribute_value(&format!("{open}{close}"));
    assert_rejected_quickly(any_values.as_bytes(), "recursion limit exceeded");
}

/// Flips, drops and duplicates bytes of a valid body with a fixed pseudo-random sequence;
/// the decoder must return (not panic) and every error must be a single line.
#[test]
fn mutated_bodies_never_panic() {
    let original = JS_EXPORTER_BODY.as_bytes();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let interesting = b"{}[]\",:0-9.eE\\ nulltrueAZaz";
    let (mut accepted, mut rejected) = (0, 0);
    for _ in 0..3000 {
        let mut body = original.to_vec();
        for _ in 0..1 + next() % 4 {
            let len = body.len() as u64;
            let at = usize::try_from(next() % len).expect("index fits usize");
            let byte = interesting
                [usize::try_from(next() % interesting.len() as u64).expect("index fits usize")];
            match next() % 3 {
                0 => body[at] = byte,
                1 => {
                    body.remove(at);
                }
                _ => body.insert(at, byte),
            }
        }
        match decode_trace_request_json(&body) {
            Ok(_) => accepted += 1,
            Err(error) => {
                rejected += 1;
                let message = error.to_string();
                assert!(!message.is_empty());
                assert!(!message.contains('\n'), "{message}");
            }
        }
    }
    assert!(rejected > 0, "mutations should break some bodies");
    assert!(
        accepted > 0,
        "some mutations (e.g. in string contents) stay valid"
    );
}

// ---------------------------------------------------------------------------------------------
// Metrics and logs: resources read, items counted
// ---------------------------------------------------------------------------------------------

#[test]
fn metrics_and_logs_keep_resources_and_count_items() {
    use provgraph_otlp::{decode_logs_resources_json, decode_metrics_resources_json};
    let metrics = r#"{"resourceMetrics":[
        {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"calc"}}]},
         "scopeMetrics":[{"metrics":[
            {"name":"a","gauge":{"dataPoints":[{"asInt":"1"},{"asDouble":2.5}]}},
            {"name":"b","histogram":{"dataPoints":[{"count":"3"}],"aggregationTemporality":2}},
            {"name":"c","exponential_histogram":{"data_points":[{}]}},
            {"name":"d","summary":{"dataPoints":[null]}},
            {"name":"e","sum":{"dataPoints":[{"asInt":1}],"isMonotonic":true}},
            {"name":"f","unknownKind":{"dataPoints":[{}]}}]}]},
        {"resource":null,"scope_metrics":[]},
        {"resource":{"attributes":[]}}]}"#;
    let resources = decode_metrics_resources_json(metrics.as_bytes()).unwrap();
    assert_eq!(resources.len(), 3);
    assert_eq!(resources[0].items, 6);
    assert_eq!(resources[0].attributes[0].key, "service.name");
    assert_eq!((resources[1].items, resources[2].items), (0, 0));
    let logs = r#"{"resource_logs":[{"resource":{"attributes":[{"key":"k","value":{"arrayValue":{}}}]},
        "scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}},{"severityNumber":"SEVERITY_NUMBER_INFO"}]},{"log_records":[{}]}]}]}"#;
    let resources = decode_logs_resources_json(logs.as_bytes()).unwrap();
    assert_eq!(resources[0].items, 3);
    for (body, path) in [
        (r#"[]"#, ""),
        (r#"{"resourceMetrics":{}}"#, "resourceMetrics"),
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[1]}}]}]}]}"#,
            "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0]",
        ),
        (
            r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"x"}}]}}]}"#,
            "resourceMetrics[0].resource.attributes[0].value.intValue",
        ),
    ] {
        let err = decode_metrics_resources_json(body.as_bytes()).unwrap_err();
        assert_eq!(err.path(), path, "{body}: {err}");
    }
    let err =
        decode_logs_resources_json(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":"x"}]}]}"#)
            .unwrap_err();
    assert_eq!(err.path(), "resourceLogs[0].scopeLogs[0].logRecords");
    assert!(decode_logs_resources_json(b"{not json").is_err());
}

#[test]
fn partial_success_json_names_the_signal_field() {
    assert_eq!(
        provgraph_otlp::encode_partial_success_json("rejectedDataPoints", 2, "bad \"digest\""),
        br#"{"partialSuccess":{"rejectedDataPoints":"2","errorMessage":"bad \"digest\""}}"#
            .to_vec()
    );
    assert_eq!(
        provgraph_otlp::encode_partial_success_json("rejectedLogRecords", 0, ""),
        br#"{"partialSuccess":{}}"#.to_vec()
    );
}
