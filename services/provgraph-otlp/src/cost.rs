//! What decoding a request will cost, counted on its bytes before it is
//! decoded: resources, items (spans, data points, log records), attributes,
//! and an estimate of the decoded memory.
//!
//! Wire bytes say little about decoded memory: an empty protobuf `Span` is
//! 2 bytes on the wire and a few hundred decoded, an OTLP/JSON `{}` 3 bytes
//! and a map of serde_json's plus a `Span`. Receivers count first
//! ([`protobuf_cost`], [`json_cost`], both linear and allocation-free but
//! for a stack as deep as the nesting), refuse what is over a
//! [`RequestLimits`] naming the limit, and charge the estimate to their
//! memory budget before they decode.

use std::mem::size_of;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, SummaryDataPoint, exponential_histogram_data_point::Buckets,
    summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// Which export request a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Traces,
    Metrics,
    Logs,
}

/// Bounds on one request, counted before it is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// Resources (`resourceSpans`, `resourceMetrics`, `resourceLogs`).
    pub max_resources: usize,
    /// Spans, data points and log records together.
    pub max_items: usize,
    /// Attributes at every level (resource, scope, span, event, link, data
    /// point, log record, and the entries of kvlist values).
    pub max_attributes: usize,
    /// Estimated bytes of the decoded request.
    pub max_decoded_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> RequestLimits {
        RequestLimits {
            max_resources: 10_000,
            max_items: 200_000,
            max_attributes: 2_000_000,
            max_decoded_bytes: 128 * 1024 * 1024,
        }
    }
}

/// What one request holds, counted before decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCost {
    pub resources: usize,
    pub items: usize,
    pub attributes: usize,
    /// Estimated bytes of the decoded request (structures, strings, and the
    /// slack of growing lists).
    pub decoded_bytes: usize,
}

/// A request over one of its [`RequestLimits`] (413 / RESOURCE_EXHAUSTED).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverLimit {
    /// What was counted: "spans, data points and log records", ...
    pub what: &'static str,
    pub limit: usize,
    /// The `serve` flag that sets it.
    pub flag: &'static str,
}

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request holds more than {} {} (the {} limit); send smaller batches",
            self.limit, self.what, self.flag
        )
    }
}

impl std::error::Error for OverLimit {}

impl RequestCost {
    fn check(&self, limits: &RequestLimits) -> Result<(), OverLimit> {
        let counts = [
            (
                self.resources,
                limits.max_resources,
                "resources",
                "--max-request-resources",
            ),
            (
                self.items,
                limits.max_items,
                "spans, data points and log records",
                "--max-request-items",
            ),
            (
                self.attributes,
                limits.max_attributes,
                "attributes",
                "--max-request-attributes",
            ),
            (
                self.decoded_bytes,
                limits.max_decoded_bytes,
                "bytes once decoded",
                "--max-decoded-bytes",
            ),
        ];
        match counts.into_iter().find(|(count, limit, ..)| count > limit) {
            Some((_, limit, what, flag)) => Err(OverLimit { what, limit, flag }),
            None => Ok(()),
        }
    }
}

/// The message types whose fields matter for counting; every other
/// message field is skipped as bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Msg {
    TracesRequest,
    MetricsRequest,
    LogsRequest,
    ResourceSpans,
    ResourceMetrics,
    ResourceLogs,
    Resource,
    ScopeSpans,
    ScopeMetrics,
    ScopeLogs,
    Scope,
    Span,
    Event,
    Link,
    Metric,
    /// Gauge, Sum, Histogram, ExponentialHistogram, Summary: a list of points.
    Points(Point),
    Point(Point),
    Buckets,
    Exemplar,
    LogRecord,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    /// A message counted for its size only (Status, EntityRef, ...).
    Leaf(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Point {
    Number,
    Histogram,
    Exponential,
    Summary,
}

/// How a length-delimited field of a message is read.
enum Field {
    Message(Msg),
    /// Packed varints decoded into 8-byte integers.
    PackedVarints,
    /// Bytes or a string, or packed fixed-width numbers: decoded as long as
    /// on the wire.
    Bytes,
}

impl Msg {
    fn field(self, tag: u64) -> Field {
        use Field::{Bytes, Message as M};
        let leaf = |size: usize| M(Msg::Leaf(size));
        match (self, tag) {
            (Msg::TracesRequest, 1) => M(Msg::ResourceSpans),
            (Msg::MetricsRequest, 1) => M(Msg::ResourceMetrics),
            (Msg::LogsRequest, 1) => M(Msg::ResourceLogs),
            (Msg::ResourceSpans | Msg::ResourceMetrics | Msg::ResourceLogs, 1) => M(Msg::Resource),
            (Msg::ResourceSpans, 2) => M(Msg::ScopeSpans),
            (Msg::ResourceMetrics, 2) => M(Msg::ScopeMetrics),
            (Msg::ResourceLogs, 2) => M(Msg::ScopeLogs),
            (Msg::Resource, 1) => M(Msg::KeyValue),
            (Msg::Resource, 3) => leaf(size_of::<EntityRef>()),
            (Msg::ScopeSpans | Msg::ScopeMetrics | Msg::ScopeLogs, 1) => M(Msg::Scope),
            (Msg::ScopeSpans, 2) => M(Msg::Span),
            (Msg::ScopeMetrics, 2) => M(Msg::Metric),
            (Msg::ScopeLogs, 2) => M(Msg::LogRecord),
            (Msg::Scope, 3) => M(Msg::KeyValue),
            (Msg::Span, 9) | (Msg::Event, 3) | (Msg::Link, 4) => M(Msg::KeyValue),
            (Msg::Span, 11) => M(Msg::Event),
            (Msg::Span, 13) => M(Msg::Link),
            (Msg::Span, 15) => leaf(size_of::<Status>()),
            (Msg::Metric, 5 | 7) => M(Msg::Points(Point::Number)),
            (Msg::Metric, 9) => M(Msg::Points(Point::Histogram)),
            (Msg::Metric, 10) => M(Msg::Points(Point::Exponential)),
            (Msg::Metric, 11) => M(Msg::Points(Point::Summary)),
            (Msg::Metric, 12) => M(Msg::KeyValue),
            (Msg::Points(point), 1) => M(Msg::Point(point)),
            (Msg::Point(Point::Number), 7)
            | (Msg::Point(Point::Histogram), 9)
            | (Msg::Point(Point::Exponential), 1)
            | (Msg::Point(Point::Summary), 7)
            | (Msg::Exemplar, 7)
            | (Msg::LogRecord, 6)
            | (Msg::KeyValueList, 1) => M(Msg::KeyValue),
            (Msg::Point(Point::Number), 5)
            | (Msg::Point(Point::Histogram), 8)
            | (Msg::Point(Point::Exponential), 11) => M(Msg::Exemplar),
            (Msg::Point(Point::Exponential), 8 | 9) => M(Msg::Buckets),
            (Msg::Point(Point::Summary), 6) => leaf(size_of::<ValueAtQuantile>()),
            (Msg::Buckets, 2) => Field::PackedVarints,
            (Msg::LogRecord, 5) | (Msg::KeyValue, 2) | (Msg::ArrayValue, 1) => M(Msg::AnyValue),
            (Msg::AnyValue, 5) => M(Msg::ArrayValue),
            (Msg::AnyValue, 6) => M(Msg::KeyValueList),
            _ => Bytes,
        }
    }

    /// Bytes of the decoded structure.
    fn size(self) -> usize {
        match self {
            Msg::TracesRequest | Msg::MetricsRequest | Msg::LogsRequest => 24,
            Msg::ResourceSpans => size_of::<ResourceSpans>(),
            Msg::ResourceMetrics => size_of::<ResourceMetrics>(),
            Msg::ResourceLogs => size_of::<ResourceLogs>(),
            Msg::Resource => size_of::<Resource>(),
            Msg::ScopeSpans => size_of::<ScopeSpans>(),
            Msg::ScopeMetrics => size_of::<ScopeMetrics>(),
            Msg::ScopeLogs => size_of::<ScopeLogs>(),
            Msg::Scope => size_of::<InstrumentationScope>(),
            Msg::Span => size_of::<Span>(),
            Msg::Event => size_of::<Event>(),
            Msg::Link => size_of::<Link>(),
            Msg::Metric => size_of::<Metric>(),
            Msg::Points(_) => 32,
            Msg::Point(Point::Number) => size_of::<NumberDataPoint>(),
            Msg::Point(Point::Histogram) => size_of::<HistogramDataPoint>(),
            Msg::Point(Point::Exponential) => size_of::<ExponentialHistogramDataPoint>(),
            Msg::Point(Point::Summary) => size_of::<SummaryDataPoint>(),
            Msg::Buckets => size_of::<Buckets>(),
            Msg::Exemplar => size_of::<Exemplar>(),
            Msg::LogRecord => size_of::<LogRecord>(),
            Msg::KeyValue => size_of::<KeyValue>(),
            Msg::AnyValue => size_of::<AnyValue>(),
            Msg::ArrayValue => size_of::<ArrayValue>(),
            Msg::KeyValueList => size_of::<KeyValueList>(),
            Msg::Leaf(size) => size,
        }
    }

    fn count(self, cost: &mut RequestCost) {
        match self {
            Msg::ResourceSpans | Msg::ResourceMetrics | Msg::ResourceLogs => cost.resources += 1,
            Msg::Span | Msg::Point(_) | Msg::LogRecord => cost.items += 1,
            Msg::KeyValue => cost.attributes += 1,
            _ => {}
        }
    }
}

/// Lists grow by doubling: a decoded element may hold up to twice its size.
const GROWTH: usize = 2;

/// Counts a protobuf request of `kind` on its bytes, refusing it as soon as
/// a count passes `limits`. Bytes that do not parse as protobuf end the
/// count (the decoder then names the problem).
pub fn protobuf_cost(
    kind: RequestKind,
    body: &[u8],
    limits: &RequestLimits,
) -> Result<RequestCost, OverLimit> {
    let root = match kind {
        RequestKind::Traces => Msg::TracesRequest,
        RequestKind::Metrics => Msg::MetricsRequest,
        RequestKind::Logs => Msg::LogsRequest,
    };
    let mut cost = RequestCost {
        decoded_bytes: root.size(),
        ..RequestCost::default()
    };
    // (message, end of its bytes); the top is the message being read.
    let mut stack = vec![(root, body.len())];
    let mut at = 0usize;
    let mut checked = 0usize;
    while let Some(&(msg, end)) = stack.last() {
        if at >= end {
            stack.pop();
            continue;
        }
        let Some((key, next)) = varint(body, at, end) else {
            break;
        };
        at = next;
        let tag = key >> 3;
        let length = match key & 7 {
            0 => match varint(body, at, end) {
                Some((_, next)) => {
                    at = next;
                    continue;
                }
                None => break,
            },
            1 => 8,
            5 => 4,
            2 => match varint(body, at, end) {
                Some((length, next)) => {
                    at = next;
                    length
                }
                None => break,
            },
            // A group (deprecated, but prost skips it): skipped whole.
            3 => match skip_group(body, at, end) {
                Some(next) => {
                    at = next;
                    continue;
                }
                None => break,
            },
            _ => break,
        };
        let Some(field_end) = usize::try_from(length)
            .ok()
            .and_then(|length| at.checked_add(length))
            .filter(|field_end| *field_end <= end)
        else {
            break;
        };
        if key & 7 != 2 {
            at = field_end;
            continue;
        }
        let length = field_end - at;
        match msg.field(tag) {
            Field::Message(child) => {
                child.count(&mut cost);
                cost.decoded_bytes = cost.decoded_bytes.saturating_add(GROWTH * child.size());
                stack.push((child, field_end));
            }
            Field::PackedVarints => {
                cost.decoded_bytes = cost.decoded_bytes.saturating_add(8 * GROWTH * length);
                at = field_end;
            }
            Field::Bytes => {
                cost.decoded_bytes = cost.decoded_bytes.saturating_add(length);
                at = field_end;
            }
        }
        // Checked every few fields and at the end: a refusal comes early.
        checked += 1;
        if checked.is_multiple_of(1024) {
            cost.check(limits)?;
        }
    }
    cost.check(limits)?;
    Ok(cost)
}

/// The offset after the end-group key that closes a group started just
/// before `at`, skipping nested groups and every other field.
fn skip_group(body: &[u8], mut at: usize, end: usize) -> Option<usize> {
    let mut depth = 1usize;
    while depth > 0 {
        let (key, next) = varint(body, at, end)?;
        at = next;
        at = match key & 7 {
            0 => varint(body, at, end)?.1,
            1 => at.checked_add(8)?,
            5 => at.checked_add(4)?,
            2 => {
                let (length, next) = varint(body, at, end)?;
                next.checked_add(usize::try_from(length).ok()?)?
            }
            3 => {
                depth += 1;
                at
            }
            4 => {
                depth -= 1;
                at
            }
            _ => return None,
        };
        if at > end {
            return None;
        }
    }
    Some(at)
}

/// A varint at `at` (before `end`) and the offset after it.
fn varint(body: &[u8], mut at: usize, end: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        if at >= end {
            return None;
        }
        let byte = body[at];
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value, at));
        }
    }
    None
}

/// Bytes serde_json and the decoder spend on one JSON object beyond its
/// text, and on one element of a list (which may become a message): a map
/// with its first entries and the message it becomes (a `Span` is the
/// largest such message).
const JSON_OBJECT_BYTES: usize = 512;
/// The same for one JSON array, string or other value.
const JSON_VALUE_BYTES: usize = 48;

/// Counts an OTLP/JSON request on its text, refusing it as soon as a count
/// passes `limits`: objects in lists named `resourceSpans`,
/// `resourceMetrics` or `resourceLogs` are resources; in `spans`,
/// `dataPoints` or `logRecords`, items; in `attributes` or `values` (kvlist
/// entries, array elements), attributes (snake_case names alike). The
/// decoded memory is estimated from every value. Text that is not JSON
/// ends the count (the decoder then names the problem).
pub fn json_cost(body: &[u8], limits: &RequestLimits) -> Result<RequestCost, OverLimit> {
    #[derive(Clone, Copy)]
    enum List {
        Resources,
        Items,
        Attributes,
        Other,
    }
    let mut cost = RequestCost {
        decoded_bytes: body.len(),
        ..RequestCost::default()
    };
    // For each open bracket: the list's meaning (None for an object).
    let mut open: Vec<Option<List>> = Vec::new();
    // The last string read and whether a ':' followed it (an object key).
    let mut last_string: (usize, usize) = (0, 0);
    let mut key: Option<(usize, usize)> = None;
    let mut at = 0usize;
    let mut values = 0usize;
    while at < body.len() {
        let byte = body[at];
        at += 1;
        match byte {
            b'"' => {
                let start = at;
                while at < body.len() && body[at] != b'"' {
                    at += if body[at] == b'\\' { 2 } else { 1 };
                }
                last_string = (start, at.min(body.len()));
                at += 1;
                values += 1;
            }
            b':' => key = Some(last_string),
            b'{' => {
                if let Some(Some(list)) = open.last() {
                    match list {
                        List::Resources => cost.resources += 1,
                        List::Items => cost.items += 1,
                        List::Attributes => cost.attributes += 1,
                        List::Other => {}
                    }
                }
                cost.decoded_bytes = cost.decoded_bytes.saturating_add(JSON_OBJECT_BYTES);
                open.push(None);
                key = None;
            }
            b'[' => {
                let name = key.map_or(&b""[..], |(start, end)| &body[start..end]);
                let list = match name {
                    b"resourceSpans" | b"resource_spans" | b"resourceMetrics"
                    | b"resource_metrics" | b"resourceLogs" | b"resource_logs" => List::Resources,
                    b"spans" | b"dataPoints" | b"data_points" | b"logRecords" | b"log_records" => {
                        List::Items
                    }
                    b"attributes" | b"values" => List::Attributes,
                    _ => List::Other,
                };
                open.push(Some(list));
                // Its first element: any element of a list may become a
                // message (`null` in a list of spans is an empty span).
                cost.decoded_bytes = cost.decoded_bytes.saturating_add(JSON_OBJECT_BYTES);
                values += 1;
                key = None;
            }
            b'}' | b']' => {
                open.pop();
            }
            b',' => {
                if let Some(Some(_)) = open.last() {
                    cost.decoded_bytes = cost.decoded_bytes.saturating_add(JSON_OBJECT_BYTES);
                }
                values += 1;
                key = None;
            }
            _ => {}
        }
        if values >= 1024 {
            cost.decoded_bytes = cost.decoded_bytes.saturating_add(values * JSON_VALUE_BYTES);
            values = 0;
            cost.check(limits)?;
        }
    }
    cost.decoded_bytes = cost.decoded_bytes.saturating_add(values * JSON_VALUE_BYTES);
    cost.check(limits)?;
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    fn empty_spans(count: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); count],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn empty_spans_are_counted_at_their_decoded_size() {
        let body = empty_spans(1_000).encode_to_vec();
        assert!(body.len() < 3_000, "{}", body.len());
        let cost = protobuf_cost(RequestKind::Traces, &body, &RequestLimits::default()).unwrap();
        assert_eq!(cost.items, 1_000);
        assert_eq!(cost.resources, 1);
        assert!(
            cost.decoded_bytes >= 1_000 * size_of::<Span>(),
            "{}",
            cost.decoded_bytes
        );
        let limits = RequestLimits {
            max_items: 999,
            ..RequestLimits::default()
        };
        let err = protobuf_cost(RequestKind::Traces, &body, &limits).unwrap_err();
        assert!(err.to_string().contains("--max-request-items"), "{err}");
        let limits = RequestLimits {
            max_decoded_bytes: 100_000,
            ..RequestLimits::default()
        };
        let err = protobuf_cost(RequestKind::Traces, &body, &limits).unwrap_err();
        assert_eq!(err.what, "bytes once decoded");
    }

    #[test]
    fn attributes_are_counted_at_every_level() {
        let kv = |key: &str| KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(
                    opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                        "v".into(),
                    ),
                ),
            }),
            ..Default::default()
        };
        let mut request = empty_spans(2);
        request.resource_spans[0].resource = Some(Resource {
            attributes: vec![kv("a"), kv("b")],
            ..Default::default()
        });
        request.resource_spans[0].scope_spans[0].spans[1].attributes = vec![kv("c")];
        let body = request.encode_to_vec();
        let cost = protobuf_cost(RequestKind::Traces, &body, &RequestLimits::default()).unwrap();
        assert_eq!((cost.resources, cost.items, cost.attributes), (1, 2, 3));
        let json = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"stringValue":"["}},{"key":"b"}]},
            "scopeSpans":[{"spans":[{},{"attributes":[{"key":"c"}]}]}]}]}"#;
        let cost = json_cost(json, &RequestLimits::default()).unwrap();
        assert_eq!((cost.resources, cost.items, cost.attributes), (1, 2, 3));
    }

    #[test]
    fn null_list_elements_and_groups_are_charged_too() {
        // `null` in a list of spans decodes as an empty span.
        let mut json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":["#.to_vec();
        json.extend_from_slice(&b"null,".repeat(999));
        json.extend_from_slice(b"null]}]}]}");
        let cost = json_cost(&json, &RequestLimits::default()).unwrap();
        assert!(cost.decoded_bytes >= 1_000 * size_of::<Span>());
        // A group field before the spans does not end the count.
        let mut body = vec![0x7b, 0x08, 0x01, 0x7c];
        body.extend(empty_spans(10).encode_to_vec());
        let cost = protobuf_cost(RequestKind::Traces, &body, &RequestLimits::default()).unwrap();
        assert_eq!(cost.items, 10);
        assert_eq!(
            ExportTraceServiceRequest::decode(body.as_slice())
                .unwrap()
                .resource_spans
                .len(),
            1
        );
    }

    #[test]
    fn malformed_bytes_end_the_count_without_panicking() {
        let limits = RequestLimits::default();
        for body in [
            &[0xffu8; 12][..],
            &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0x0b],
            b"",
        ] {
            for kind in [RequestKind::Traces, RequestKind::Metrics, RequestKind::Logs] {
                assert!(protobuf_cost(kind, body, &limits).is_ok());
            }
            assert!(json_cost(body, &limits).is_ok());
        }
    }
}
