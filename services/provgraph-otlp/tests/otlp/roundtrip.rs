//! Round-trip property: requests built from prost types, written as OTLP/JSON by a small
//! test-only encoder in every supported style, decode back to the same struct.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use provgraph_otlp::decode_trace_request_json;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Test-only encoder
// ---------------------------------------------------------------------------------------------

/// The spelling choices a sender can make; every combination must decode identically.
#[derive(Clone, Copy, Debug)]
struct Style {
    /// snake_case keys instead of lowerCamelCase.
    snake_case: bool,
    /// 64-bit integers as JSON numbers instead of decimal strings.
    ints_as_numbers: bool,
    /// Uppercase hex ids.
    upper_hex: bool,
    /// Enum names instead of integers (for known values).
    enum_names: bool,
    /// Write default values (empty strings, zeros, empty lists, `null` messages) instead of
    /// omitting them.
    write_defaults: bool,
    /// URL-safe unpadded base64 and finite doubles as numeric strings.
    alternative_scalars: bool,
}

fn all_styles() -> Vec<Style> {
    (0u32..64)
        .map(|bits| Style {
            snake_case: bits & 1 != 0,
            ints_as_numbers: bits & 2 != 0,
            upper_hex: bits & 4 != 0,
            enum_names: bits & 8 != 0,
            write_defaults: bits & 16 != 0,
            alternative_scalars: bits & 32 != 0,
        })
        .collect()
}

/// Builds one JSON object in a given style.
struct Writer {
    style: Style,
    map: Map<String, Value>,
}

impl Writer {
    fn new(style: Style) -> Self {
        Self {
            style,
            map: Map::new(),
        }
    }

    fn key(&self, camel: &str, snake: &str) -> String {
        if self.style.snake_case {
            snake.to_owned()
        } else {
            camel.to_owned()
        }
    }

    /// Writes `value` unless it is the default and the style omits defaults.
    fn put(&mut self, camel: &str, snake: &str, value: Value, is_default: bool) {
        if is_default && !self.style.write_defaults {
            return;
        }
        let key = self.key(camel, snake);
        self.map.insert(key, value);
    }

    fn string(&mut self, camel: &str, snake: &str, value: &str) {
        self.put(camel, snake, json!(value), value.is_empty());
    }

    fn u32(&mut self, camel: &str, snake: &str, value: u32) {
        self.put(camel, snake, json!(value), value == 0);
    }

    fn u64(&mut self, camel: &str, snake: &str, value: u64) {
        let encoded = if self.style.ints_as_numbers {
            json!(value)
        } else {
            json!(value.to_string())
        };
        self.put(camel, snake, encoded, value == 0);
    }

    fn id(&mut self, camel: &str, snake: &str, value: &[u8]) {
        let hex = if self.style.upper_hex {
            hex::encode_upper(value)
        } else {
            hex::encode(value)
        };
        self.put(camel, snake, json!(hex), value.is_empty());
    }

    fn enumeration(&mut self, camel: &str, snake: &str, value: i32, name: Option<&str>) {
        let encoded = match name {
            Some(name) if self.style.enum_names => json!(name),
            _ => json!(value),
        };
        self.put(camel, snake, encoded, value == 0);
    }

    fn message(&mut self, camel: &str, snake: &str, value: Option<Value>) {
        let is_default = value.is_none();
        self.put(camel, snake, value.unwrap_or(Value::Null), is_default);
    }

    fn list(&mut self, camel: &str, snake: &str, values: Vec<Value>) {
        let is_default = values.is_empty();
        self.put(camel, snake, Value::Array(values), is_default);
    }

    fn attributes(&mut self, attributes: &[KeyValue]) {
        let style = self.style;
        let values = attributes.iter().map(|kv| key_value(style, kv)).collect();
        self.list("attributes", "attributes", values);
    }

    fn finish(self) -> Value {
        Value::Object(self.map)
    }
}

fn encode_request(style: Style, request: &ExportTraceServiceRequest) -> Vec<u8> {
    let mut w = Writer::new(style);
    let values = request
        .resource_spans
        .iter()
        .map(|rs| resource_spans(style, rs))
        .collect();
    w.list("resourceSpans", "resource_spans", values);
    serde_json::to_vec(&w.finish()).expect("serializing a Value cannot fail")
}

fn resource_spans(style: Style, rs: &ResourceSpans) -> Value {
    let mut w = Writer::new(style);
    w.message(
        "resource",
        "resource",
        rs.resource.as_ref().map(|r| resource(style, r)),
    );
    let scope_spans = rs
        .scope_spans
        .iter()
        .map(|ss| scope_spans(style, ss))
        .collect();
    w.list("scopeSpans", "scope_spans", scope_spans);
    w.string("schemaUrl", "schema_url", &rs.schema_url);
    w.finish()
}

fn resource(style: Style, r: &Resource) -> Value {
    let mut w = Writer::new(style);
    w.attributes(&r.attributes);
    w.u32(
        "droppedAttributesCount",
        "dropped_attributes_count",
        r.dropped_attributes_count,
    );
    let refs = r.entity_refs.iter().map(|e| entity_ref(style, e)).collect();
    w.list("entityRefs", "entity_refs", refs);
    w.finish()
}

fn entity_ref(style: Style, e: &EntityRef) -> Value {
    let mut w = Writer::new(style);
    w.string("schemaUrl", "schema_url", &e.schema_url);
    w.string("type", "type", &e.r#type);
    w.list(
        "idKeys",
        "id_keys",
        e.id_keys.iter().map(|k| json!(k)).collect(),
    );
    w.list(
        "descriptionKeys",
        "description_keys",
        e.description_keys.iter().map(|k| json!(k)).collect(),
    );
    w.finish()
}

fn scope_spans(style: Style, ss: &ScopeSpans) -> Value {
    let mut w = Writer::new(style);
    w.message("scope", "scope", ss.scope.as_ref().map(|s| scope(style, s)));
    w.list(
        "spans",
        "spans",
        ss.spans.iter().map(|s| span(style, s)).collect(),
    );
    w.string("schemaUrl", "schema_url", &ss.schema_url);
    w.finish()
}

fn scope(style: Style, s: &InstrumentationScope) -> Value {
    let mut w = Writer::new(style);
    w.string("name", "name", &s.name);
    w.string("version", "version", &s.version);
    w.attributes(&s.attributes);
    w.u32(
        "droppedAttributesCount",
        "dropped_attributes_count",
        s.dropped_attributes_count,
    );
    w.finish()
}

fn span(style: Style, s: &Span) -> Value {
    let mut w = Writer::new(style);
    w.id("traceId", "trace_id", &s.trace_id);
    w.id("spanId", "span_id", &s.span_id);
    w.string("traceState", "trace_state", &s.trace_state);
    w.id("parentSpanId", "parent_span_id", &s.parent_span_id);
    w.u32("flags", "flags", s.flags);
    w.string("name", "name", &s.name);
    let kind_name = SpanKind::try_from(s.kind).ok().map(|k| k.as_str_name());
    w.enumeration("kind", "kind", s.kind, kind_name);
    w.u64(
        "startTimeUnixNano",
        "start_time_unix_nano",
        s.start_time_unix_nano,
    );
    w.u64(
        "endTimeUnixNano",
        "end_time_unix_nano",
        s.end_time_unix_nano,
    );
    w.attributes(&s.attributes);
    w.u32(
        "droppedAttributesCount",
        "dropped_attributes_count",
        s.dropped_attributes_count,
    );
    w.list(
        "events",
        "events",
        s.events.iter().map(|e| event(style, e)).collect(),
    );
    w.u32(
        "droppedEventsCount",
        "dropped_events_count",
        s.dropped_events_count,
    );
    w.list(
        "links",
        "links",
        s.links.iter().map(|l| link(style, l)).collect(),
    );
    w.u32(
        "droppedLinksCount",
        "dropped_links_count",
        s.dropped_links_count,
    );
    w.message(
        "status",
        "status",
        s.status.as_ref().map(|st| status(style, st)),
    );
    w.finish()
}

fn event(style: Style, e: &Event) -> Value {
    let mut w = Writer::new(style);
    w.u64("timeUnixNano", "time_unix_nano", e.time_unix_nano);
    w.string("name", "name", &e.name);
    w.attributes(&e.attributes);
    w.u32(
        "droppedAttributesCount",
        "dropped_attributes_count",
        e.dropped_attributes_count,
    );
    w.finish()
}

fn link(style: Style, l: &Link) -> Value {
    let mut w = Writer::new(style);
    w.id("traceId", "trace_id", &l.trace_id);
    w.id("spanId", "span_id", &l.span_id);
    w.string("traceState", "trace_state", &l.trace_state);
    w.attributes(&l.attributes);
    w.u32(
        "droppedAttributesCount",
        "dropped_attributes_count",
        l.dropped_attributes_count,
    );
    w.u32("flags", "flags", l.flags);
    w.finish()
}

fn status(style: Style, s: &Status) -> Value {
    let mut w = Writer::new(style);
    w.string("message", "message", &s.message);
    let name = StatusCode::try_from(s.code).ok().map(|c| c.as_str_name());
    w.enumeration("code", "code", s.code, name);
    w.finish()
}

fn key_value(style: Style, kv: &KeyValue) -> Value {
    let mut w = Writer::new(style);
    w.string("key", "key", &kv.key);
    w.message("value", "value", kv.value.as_ref().map(|v| any(style, v)));
    if kv.key_strindex != 0 || style.write_defaults {
        w.put("keyStrindex", "key_strindex", json!(kv.key_strindex), false);
    }
    w.finish()
}

fn any(style: Style, value: &AnyValue) -> Value {
    use any_value::Value as V;
    let mut w = Writer::new(style);
    // A oneof member is always written, even when it holds its type's default value.
    match &value.value {
        None => {}
        Some(V::StringValue(s)) => w.put("stringValue", "string_value", json!(s), false),
        Some(V::BoolValue(b)) => w.put("boolValue", "bool_value", json!(b), false),
        Some(V::IntValue(i)) => {
            let encoded = if style.ints_as_numbers {
                json!(i)
            } else {
                json!(i.to_string())
            };
            w.put("intValue", "int_value", encoded, false);
        }
        Some(V::DoubleValue(d)) => {
            let encoded = if d.is_nan() {
                json!("NaN")
            } else if d.is_infinite() {
                json!(if *d > 0.0 { "Infinity" } else { "-Infinity" })
            } else if style.alternative_scalars {
                json!(d.to_string())
            } else {
                json!(d)
            };
            w.put("doubleValue", "double_value", encoded, false);
        }
        Some(V::ArrayValue(array)) => {
            let mut inner = Writer::new(style);
            inner.list(
                "values",
                "values",
                array.values.iter().map(|v| any(style, v)).collect(),
            );
            w.put("arrayValue", "array_value", inner.finish(), false);
        }
        Some(V::KvlistValue(list)) => {
            let mut inner = Writer::new(style);
            inner.list(
                "values",
                "values",
                list.values.iter().map(|kv| key_value(style, kv)).collect(),
            );
            w.put("kvlistValue", "kvlist_value", inner.finish(), false);
        }
        Some(V::BytesValue(bytes)) => {
            let encoded = if style.alternative_scalars {
                URL_SAFE_NO_PAD.encode(bytes)
            } else {
                STANDARD.encode(bytes)
            };
            w.put("bytesValue", "bytes_value", json!(encoded), false);
        }
        Some(V::StringValueStrindex(i)) => {
            w.put(
                "stringValueStrindex",
                "string_value_strindex",
                json!(i),
                false,
            );
        }
    }
    w.finish()
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

fn attr(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn realistic() -> ExportTraceServiceRequest {
    use any_value::Value as V;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    attr("service.name", V::StringValue("provgraph-ci".into())),
                    attr("host.arch", V::StringValue("amd64".into())),
                ],
                dropped_attributes_count: 1,
                entity_refs: vec![EntityRef {
                    schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
                    r#type: "service".into(),
                    id_keys: vec!["service.name".into()],
                    description_keys: vec![],
                }],
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "provgraph".into(),
                    version: "0.1.0".into(),
                    attributes: vec![attr("scope.attr", V::BoolValue(true))],
                    dropped_attributes_count: 0,
                }),
                spans: vec![
                    Span {
                        trace_id: (1..=16).collect(),
                        span_id: (0xa1..=0xa8).collect(),
                        trace_state: "rojo=00f067aa0ba902b7".into(),
                        parent_span_id: vec![],
                        flags: 0x301,
                        name: "pipeline".into(),
                        kind: SpanKind::Server as i32,
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_012_345_678_901,
                        attributes: vec![
                            attr("ci.job", V::StringValue("build & test ✓".into())),
                            attr("ci.attempt", V::IntValue(3)),
                            attr("ci.duration_s", V::DoubleValue(12.345_678_901)),
                            attr(
                                "ci.stages",
                                V::ArrayValue(ArrayValue {
                                    values: vec![
                                        AnyValue {
                                            value: Some(V::StringValue("lint".into())),
                                        },
                                        AnyValue {
                                            value: Some(V::IntValue(-1)),
                                        },
                                    ],
                                }),
                            ),
                        ],
                        dropped_attributes_count: 0,
                        events: vec![Event {
                            time_unix_nano: 1_700_000_001_000_000_000,
                            name: "checkout".into(),
                            attributes: vec![attr("vcs.ref", V::StringValue("main".into()))],
                            dropped_attributes_count: 2,
                        }],
                        dropped_events_count: 3,
                        links: vec![Link {
                            trace_id: vec![0xff; 16],
                            span_id: vec![0x0f; 8],
                            trace_state: "k=v".into(),
                            attributes: vec![],
                            dropped_attributes_count: 0,
                            flags: 1,
                        }],
                        dropped_links_count: 4,
                        status: Some(Status {
                            message: "failed".into(),
                            code: StatusCode::Error as i32,
                        }),
                    },
                    Span {
                        trace_id: (1..=16).collect(),
                        span_id: (0xb1..=0xb8).collect(),
                        parent_span_id: (0xa1..=0xa8).collect(),
                        name: "compile".into(),
                        kind: SpanKind::Internal as i32,
                        status: Some(Status::default()),
                        ..Span::default()
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn edge_values() -> ExportTraceServiceRequest {
    use any_value::Value as V;
    let nested = V::KvlistValue(KeyValueList {
        values: vec![
            attr("empty.array", V::ArrayValue(ArrayValue::default())),
            attr("empty.kvlist", V::KvlistValue(KeyValueList::default())),
            KeyValue {
                key: "no.value".into(),
                value: None,
                key_strindex: 0,
            },
            KeyValue {
                key: "empty.any".into(),
                value: Some(AnyValue { value: None }),
                key_strindex: 7,
            },
            attr(
                "deeper",
                V::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(V::ArrayValue(ArrayValue {
                            values: vec![AnyValue {
                                value: Some(V::BytesValue(vec![0xfb, 0xff, 0x00])),
                            }],
                        })),
                    }],
                }),
            ),
        ],
    });
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans::default(),
            ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![
                    ScopeSpans::default(),
                    ScopeSpans {
                        scope: Some(InstrumentationScope::default()),
                        spans: vec![
                            Span::default(),
                            Span {
                                trace_id: vec![0xab; 16],
                                span_id: vec![0xcd; 8],
                                flags: u32::MAX,
                                name: "edges \"quoted\"\n\u{1}".into(),
                                kind: 42,
                                start_time_unix_nano: u64::MAX,
                                end_time_unix_nano: 1,
                                attributes: vec![
                                    attr("int.min", V::IntValue(i64::MIN)),
                                    attr("int.max", V::IntValue(i64::MAX)),
                                    attr("int.zero", V::IntValue(0)),
                                    attr("bool.false", V::BoolValue(false)),
                                    attr("string.empty", V::StringValue(String::new())),
                                    attr("double.zero", V::DoubleValue(0.0)),
                                    attr("double.tiny", V::DoubleValue(5e-324)),
                                    attr("double.huge", V::DoubleValue(-1.7976931348623157e308)),
                                    attr("double.inf", V::DoubleValue(f64::INFINITY)),
                                    attr("double.neg_inf", V::DoubleValue(f64::NEG_INFINITY)),
                                    attr("bytes.empty", V::BytesValue(vec![])),
                                    attr("bytes.all", V::BytesValue((0..=255).collect())),
                                    attr("strindex", V::StringValueStrindex(-3)),
                                    attr("nested", nested),
                                ],
                                dropped_attributes_count: u32::MAX,
                                events: vec![Event::default()],
                                links: vec![Link::default()],
                                status: Some(Status {
                                    message: String::new(),
                                    code: -1,
                                }),
                                ..Span::default()
                            },
                        ],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "s".into(),
            },
        ],
    }
}

fn assert_round_trips(name: &str, request: &ExportTraceServiceRequest) {
    for style in all_styles() {
        let body = encode_request(style, request);
        match decode_trace_request_json(&body) {
            Ok(decoded) => assert_eq!(
                &decoded,
                request,
                "{name} in {style:?}: {}",
                String::from_utf8_lossy(&body)
            ),
            Err(error) => panic!(
                "{name} in {style:?} failed: {error}\n{}",
                String::from_utf8_lossy(&body)
            ),
        }
    }
}

#[test]
fn empty_request_round_trips() {
    assert_round_trips("empty", &ExportTraceServiceRequest::default());
}

#[test]
fn realistic_request_round_trips() {
    assert_round_trips("realistic", &realistic());
}

#[test]
fn edge_values_round_trip() {
    assert_round_trips("edge values", &edge_values());
}

#[test]
fn every_span_kind_and_status_code_round_trips() {
    let spans = (0..=5)
        .flat_map(|kind| {
            (0..=2).map(move |code| Span {
                kind,
                status: Some(Status {
                    message: format!("{kind}/{code}"),
                    code,
                }),
                ..Span::default()
            })
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    assert_round_trips("span kinds", &request);
}

#[test]
fn encoder_styles_really_differ() {
    // Guards the round-trip tests against an encoder that ignores its style.
    let request = realistic();
    let camel = String::from_utf8(encode_request(all_styles()[0], &request)).expect("utf-8");
    let snake = String::from_utf8(encode_request(all_styles()[1], &request)).expect("utf-8");
    let named = String::from_utf8(encode_request(all_styles()[8], &request)).expect("utf-8");
    assert!(camel.contains("\"startTimeUnixNano\":\"1700000000000000000\""));
    assert!(snake.contains("\"start_time_unix_nano\":\"1700000000000000000\""));
    assert!(named.contains("\"kind\":\"SPAN_KIND_SERVER\""));
    assert!(named.contains("\"code\":\"STATUS_CODE_ERROR\""));
    let numbers = String::from_utf8(encode_request(all_styles()[2], &request)).expect("utf-8");
    assert!(numbers.contains("\"startTimeUnixNano\":1700000000000000000"));
    let upper = String::from_utf8(encode_request(all_styles()[4], &request)).expect("utf-8");
    assert!(upper.contains("\"spanId\":\"A1A2A3A4A5A6A7A8\""));
}
