//! Hand-written OTLP/JSON decoder for `ExportTraceServiceRequest`.
//!
//! Implements the "JSON Protobuf Encoding" of the OTLP specification with the leniency of the
//! OpenTelemetry Collector:
//!
//! * keys are lowerCamelCase, and the snake_case spelling of every key is accepted too (the
//!   camelCase key wins when both are present and non-null); unknown keys are ignored;
//! * `null` anywhere means "absent": the field keeps its default value (an empty message for a
//!   `null` element of a list of messages);
//! * trace and span ids are hex strings of either case (not base64); an empty string is an
//!   empty id;
//! * 64- and 32-bit integers are JSON numbers or decimal strings;
//! * enums are integers, numeric strings or enum names (`SPAN_KIND_SERVER`); unknown integer
//!   values are kept;
//! * doubles are numbers, numeric strings, `"NaN"`, `"Infinity"` or `"-Infinity"`;
//! * `bytesValue` is base64 in the standard or URL-safe alphabet, padded or not;
//! * `{"arrayValue":{}}` and `{"kvlistValue":{}}` are empty lists;
//! * AnyValue nesting is limited to [`MAX_ANY_VALUE_DEPTH`] levels.
//!
//! The body is first parsed into a [`serde_json::Value`]; serde_json's recursion limit (128)
//! turns hostile, deeply nested input into an ordinary error. Values are then moved out of
//! the tree, so strings are not copied.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use provgraph_model::json::type_name;
use serde_json::{Map, Value};

use crate::error::JsonError;

/// The deepest AnyValue nesting accepted: an attribute's value is level 1, an element of an
/// `arrayValue` (or a value of a `kvlistValue`) one level deeper than its container.
pub const MAX_ANY_VALUE_DEPTH: usize = 32;

/// Bytes of a trace id (32 hex digits).
const TRACE_ID_BYTES: usize = 16;
/// Bytes of a span id (16 hex digits).
const SPAN_ID_BYTES: usize = 8;
/// Largest magnitude below which every integer is exactly representable as an `f64`.
const MAX_EXACT_F64_INTEGER: f64 = 9_007_199_254_740_992.0; // 2^53
/// Longest piece of input quoted in an error message.
const MAX_QUOTED_CHARS: usize = 40;

/// Accepts padded and unpadded input and non-canonical trailing bits, like Go's decoder.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const BASE64_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const BASE64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` body.
///
/// Any problem (invalid JSON, a value of the wrong type, a malformed id, an out-of-range
/// integer, nesting that is too deep, ...) rejects the whole request with a [`JsonError`]
/// that names the offending path. Never panics.
pub fn decode_trace_request_json(body: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    let mut request = parse_object(body)?;
    Ok(ExportTraceServiceRequest {
        resource_spans: request.list("resourceSpans", "resource_spans", resource_spans)?,
    })
}

/// Parses a request body that must be one JSON object.
pub(crate) fn parse_object(body: &[u8]) -> Result<Obj<'static>, JsonError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| JsonError::syntax(&e))?;
    if !value.is_object() {
        return Err(JsonError::new(
            String::new(),
            format!(
                "the request body must be a JSON object, got {}",
                type_name(&value)
            ),
        ));
    }
    Obj::new(value, &Path::Root)
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

fn resource_spans(value: Value, path: &Path<'_>) -> Result<ResourceSpans, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(ResourceSpans {
        resource: obj.field("resource", "resource", decode_resource)?,
        scope_spans: obj.list("scopeSpans", "scope_spans", scope_spans)?,
        schema_url: obj.string("schemaUrl", "schema_url")?,
    })
}

pub(crate) fn decode_resource(value: Value, path: &Path<'_>) -> Result<Resource, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(Resource {
        attributes: obj.attributes()?,
        dropped_attributes_count: obj.u32("droppedAttributesCount", "dropped_attributes_count")?,
        entity_refs: obj.list("entityRefs", "entity_refs", entity_ref)?,
    })
}

fn entity_ref(value: Value, path: &Path<'_>) -> Result<EntityRef, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(EntityRef {
        schema_url: obj.string("schemaUrl", "schema_url")?,
        r#type: obj.string("type", "type")?,
        id_keys: obj.list("idKeys", "id_keys", string)?,
        description_keys: obj.list("descriptionKeys", "description_keys", string)?,
    })
}

fn scope_spans(value: Value, path: &Path<'_>) -> Result<ScopeSpans, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(ScopeSpans {
        scope: obj.field("scope", "scope", scope)?,
        spans: obj.list("spans", "spans", span)?,
        schema_url: obj.string("schemaUrl", "schema_url")?,
    })
}

fn scope(value: Value, path: &Path<'_>) -> Result<InstrumentationScope, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(InstrumentationScope {
        name: obj.string("name", "name")?,
        version: obj.string("version", "version")?,
        attributes: obj.attributes()?,
        dropped_attributes_count: obj.u32("droppedAttributesCount", "dropped_attributes_count")?,
    })
}

fn span(value: Value, path: &Path<'_>) -> Result<Span, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(Span {
        trace_id: obj.id("traceId", "trace_id", TRACE_ID_BYTES)?,
        span_id: obj.id("spanId", "span_id", SPAN_ID_BYTES)?,
        trace_state: obj.string("traceState", "trace_state")?,
        parent_span_id: obj.id("parentSpanId", "parent_span_id", SPAN_ID_BYTES)?,
        flags: obj.u32("flags", "flags")?,
        name: obj.string("name", "name")?,
        kind: obj.enumeration("kind", "kind", span_kind_by_name)?,
        start_time_unix_nano: obj.u64("startTimeUnixNano", "start_time_unix_nano")?,
        end_time_unix_nano: obj.u64("endTimeUnixNano", "end_time_unix_nano")?,
        attributes: obj.attributes()?,
        dropped_attributes_count: obj.u32("droppedAttributesCount", "dropped_attributes_count")?,
        events: obj.list("events", "events", event)?,
        dropped_events_count: obj.u32("droppedEventsCount", "dropped_events_count")?,
        links: obj.list("links", "links", link)?,
        dropped_links_count: obj.u32("droppedLinksCount", "dropped_links_count")?,
        status: obj.field("status", "status", status)?,
    })
}

fn event(value: Value, path: &Path<'_>) -> Result<Event, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(Event {
        time_unix_nano: obj.u64("timeUnixNano", "time_unix_nano")?,
        name: obj.string("name", "name")?,
        attributes: obj.attributes()?,
        dropped_attributes_count: obj.u32("droppedAttributesCount", "dropped_attributes_count")?,
    })
}

fn link(value: Value, path: &Path<'_>) -> Result<Link, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(Link {
        trace_id: obj.id("traceId", "trace_id", TRACE_ID_BYTES)?,
        span_id: obj.id("spanId", "span_id", SPAN_ID_BYTES)?,
        trace_state: obj.string("traceState", "trace_state")?,
        attributes: obj.attributes()?,
        dropped_attributes_count: obj.u32("droppedAttributesCount", "dropped_attributes_count")?,
        flags: obj.u32("flags", "flags")?,
    })
}

fn status(value: Value, path: &Path<'_>) -> Result<Status, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(Status {
        message: obj.string("message", "message")?,
        code: obj.enumeration("code", "code", status_code_by_name)?,
    })
}

fn span_kind_by_name(name: &str) -> Option<i32> {
    SpanKind::from_str_name(name).map(|kind| kind as i32)
}

fn status_code_by_name(name: &str) -> Option<i32> {
    StatusCode::from_str_name(name).map(|code| code as i32)
}

// ---------------------------------------------------------------------------------------------
// Attributes and AnyValue
// ---------------------------------------------------------------------------------------------

/// A `KeyValue` whose value sits at AnyValue nesting level `depth`.
fn key_value(value: Value, path: &Path<'_>, depth: usize) -> Result<KeyValue, JsonError> {
    let mut obj = Obj::new(value, path)?;
    Ok(KeyValue {
        key: obj.string("key", "key")?,
        value: obj.field("value", "value", |value, path| {
            any_value(value, path, depth)
        })?,
        key_strindex: obj.i32("keyStrindex", "key_strindex")?,
    })
}

/// The members of the AnyValue `oneof`.
#[derive(Clone, Copy)]
enum AnyKind {
    String,
    Bool,
    Int,
    Double,
    Array,
    Kvlist,
    Bytes,
    StringStrindex,
}

/// `(camelCase key, snake_case key, member)` for every member of the AnyValue `oneof`.
const ANY_VALUE_MEMBERS: [(&str, &str, AnyKind); 8] = [
    ("stringValue", "string_value", AnyKind::String),
    ("boolValue", "bool_value", AnyKind::Bool),
    ("intValue", "int_value", AnyKind::Int),
    ("doubleValue", "double_value", AnyKind::Double),
    ("arrayValue", "array_value", AnyKind::Array),
    ("kvlistValue", "kvlist_value", AnyKind::Kvlist),
    ("bytesValue", "bytes_value", AnyKind::Bytes),
    (
        "stringValueStrindex",
        "string_value_strindex",
        AnyKind::StringStrindex,
    ),
];

/// An AnyValue at nesting level `depth` (an attribute's value is level 1).
fn any_value(value: Value, path: &Path<'_>, depth: usize) -> Result<AnyValue, JsonError> {
    if depth > MAX_ANY_VALUE_DEPTH {
        return Err(path.error(format!(
            "AnyValue nesting is deeper than the limit of {MAX_ANY_VALUE_DEPTH} levels"
        )));
    }
    let mut obj = Obj::new(value, path)?;
    let mut found: Option<(&'static str, AnyKind, Value)> = None;
    for (camel, snake, kind) in ANY_VALUE_MEMBERS {
        if let Some((key, member)) = obj.take(camel, snake) {
            if let Some((first, _, _)) = &found {
                return Err(path.error(format!(
                    "AnyValue must have exactly one value, found both {first} and {key}"
                )));
            }
            found = Some((key, kind, member));
        }
    }
    let Some((key, kind, member)) = found else {
        return Ok(AnyValue { value: None });
    };
    let path = Path::Field(path, key);
    let path = &path;
    let value = match kind {
        AnyKind::String => any_value::Value::StringValue(string(member, path)?),
        AnyKind::Bool => any_value::Value::BoolValue(boolean(member, path)?),
        AnyKind::Int => any_value::Value::IntValue(integer(member, path, "int64")?),
        AnyKind::Double => any_value::Value::DoubleValue(double(member, path)?),
        AnyKind::Array => {
            let mut array = Obj::new(member, path)?;
            any_value::Value::ArrayValue(ArrayValue {
                values: array.list("values", "values", |value, path| {
                    any_value(value, path, depth + 1)
                })?,
            })
        }
        AnyKind::Kvlist => {
            let mut kvlist = Obj::new(member, path)?;
            any_value::Value::KvlistValue(KeyValueList {
                values: kvlist.list("values", "values", |value, path| {
                    key_value(value, path, depth + 1)
                })?,
            })
        }
        AnyKind::Bytes => any_value::Value::BytesValue(bytes(member, path)?),
        AnyKind::StringStrindex => {
            any_value::Value::StringValueStrindex(integer(member, path, "int32")?)
        }
    };
    Ok(AnyValue { value: Some(value) })
}

// ---------------------------------------------------------------------------------------------
// Objects and paths
// ---------------------------------------------------------------------------------------------

/// Where a value sits in the request, built on the stack and rendered only for errors.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'static str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn error(&self, message: impl Into<String>) -> JsonError {
        JsonError::new(self.to_string(), message)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(Path::Root, key) => f.write_str(key),
            Path::Field(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// A JSON object being decoded into a message; `null` reads as an empty object.
pub(crate) struct Obj<'p> {
    map: Map<String, Value>,
    path: &'p Path<'p>,
}

impl<'p> Obj<'p> {
    pub(crate) fn new(value: Value, path: &'p Path<'p>) -> Result<Self, JsonError> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            Value::Null => Ok(Self {
                map: Map::new(),
                path,
            }),
            other => Err(type_error(path, "an object", &other)),
        }
    }

    /// Removes and returns the first non-null value under `camel` or `snake`, with its key.
    fn take(&mut self, camel: &'static str, snake: &'static str) -> Option<(&'static str, Value)> {
        for key in [camel, snake] {
            match self.map.remove(key) {
                Some(Value::Null) | None => {}
                Some(value) => return Some((key, value)),
            }
        }
        None
    }

    /// Decodes a field that may be absent.
    pub(crate) fn field<T>(
        &mut self,
        camel: &'static str,
        snake: &'static str,
        decode: impl FnOnce(Value, &Path<'_>) -> Result<T, JsonError>,
    ) -> Result<Option<T>, JsonError> {
        match self.take(camel, snake) {
            None => Ok(None),
            Some((key, value)) => decode(value, &Path::Field(self.path, key)).map(Some),
        }
    }

    /// Decodes a repeated field (a JSON array); absent means empty.
    pub(crate) fn list<T>(
        &mut self,
        camel: &'static str,
        snake: &'static str,
        mut decode: impl FnMut(Value, &Path<'_>) -> Result<T, JsonError>,
    ) -> Result<Vec<T>, JsonError> {
        let items = self.field(camel, snake, |value, path| match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| decode(item, &Path::Index(path, index)))
                .collect(),
            other => Err(type_error(path, "an array", &other)),
        })?;
        Ok(items.unwrap_or_default())
    }

    fn attributes(&mut self) -> Result<Vec<KeyValue>, JsonError> {
        self.list("attributes", "attributes", |value, path| {
            key_value(value, path, 1)
        })
    }

    fn string(&mut self, camel: &'static str, snake: &'static str) -> Result<String, JsonError> {
        Ok(self.field(camel, snake, string)?.unwrap_or_default())
    }

    fn u32(&mut self, camel: &'static str, snake: &'static str) -> Result<u32, JsonError> {
        let value = self.field(camel, snake, |value, path| integer(value, path, "uint32"))?;
        Ok(value.unwrap_or_default())
    }

    fn i32(&mut self, camel: &'static str, snake: &'static str) -> Result<i32, JsonError> {
        let value = self.field(camel, snake, |value, path| integer(value, path, "int32"))?;
        Ok(value.unwrap_or_default())
    }

    fn u64(&mut self, camel: &'static str, snake: &'static str) -> Result<u64, JsonError> {
        let value = self.field(camel, snake, |value, path| integer(value, path, "uint64"))?;
        Ok(value.unwrap_or_default())
    }

    fn enumeration(
        &mut self,
        camel: &'static str,
        snake: &'static str,
        by_name: fn(&str) -> Option<i32>,
    ) -> Result<i32, JsonError> {
        let value = self.field(camel, snake, |value, path| {
            enumeration(value, path, by_name)
        })?;
        Ok(value.unwrap_or_default())
    }

    fn id(
        &mut self,
        camel: &'static str,
        snake: &'static str,
        len: usize,
    ) -> Result<Vec<u8>, JsonError> {
        let value = self.field(camel, snake, |value, path| hex_id(value, path, len))?;
        Ok(value.unwrap_or_default())
    }
}

// ---------------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------------

fn string(value: Value, path: &Path<'_>) -> Result<String, JsonError> {
    match value {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        other => Err(type_error(path, "a string", &other)),
    }
}

fn boolean(value: Value, path: &Path<'_>) -> Result<bool, JsonError> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(type_error(path, "a boolean", &other)),
    }
}

/// An integer of type `T` (named `type_name` in errors) from a JSON number or a decimal
/// string.
fn integer<T: TryFrom<i128>>(
    value: Value,
    path: &Path<'_>,
    type_name: &str,
) -> Result<T, JsonError> {
    let wide = wide_integer(&value, path)?;
    T::try_from(wide).map_err(|_| path.error(format!("{wide} is out of range for {type_name}")))
}

/// Reads any JSON integer into an `i128` so callers can range-check it.
fn wide_integer(value: &Value, path: &Path<'_>) -> Result<i128, JsonError> {
    match value {
        Value::Number(number) => {
            if let Some(n) = number.as_u64() {
                return Ok(i128::from(n));
            }
            if let Some(n) = number.as_i64() {
                return Ok(i128::from(n));
            }
            let Some(float) = number.as_f64() else {
                return Err(path.error(format!("{number} is not a representable number")));
            };
            if float.fract() != 0.0 {
                Err(path.error(format!("expected an integer, got {number}")))
            } else if float.abs() > MAX_EXACT_F64_INTEGER {
                Err(path.error(format!(
                    "{number} is too large to be exact as a JSON number; send it as a decimal string"
                )))
            } else {
                // Integral and within ±2^53, so the conversion is exact.
                Ok(float as i128)
            }
        }
        Value::String(s) => {
            if !is_decimal_integer(s) {
                return Err(path.error(format!(
                    "expected an integer or a string of decimal digits, got {}",
                    quote(s)
                )));
            }
            // Only overflow can fail here; i128 holds every 38-digit number.
            s.parse::<i128>()
                .map_err(|_| path.error(format!("{} is out of range", quote(s))))
        }
        other => Err(type_error(path, "an integer", other)),
    }
}

/// `-?[0-9]+`
fn is_decimal_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn double(value: Value, path: &Path<'_>) -> Result<f64, JsonError> {
    match value {
        Value::Number(number) => number
            .as_f64()
            .ok_or_else(|| path.error(format!("{number} is not a representable double"))),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            text if is_numeric_text(text) => text
                .parse::<f64>()
                .map_err(|_| path.error(format!("expected a number, got {}", quote(text)))),
            text => Err(path.error(format!(
                "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\", got {}",
                quote(text)
            ))),
        },
        other => Err(type_error(path, "a number", &other)),
    }
}

/// Plausibly a JSON number (digits, sign, point, exponent); rules out Rust-only spellings such
/// as `inf` or `nan` before `str::parse::<f64>` sees the text.
fn is_numeric_text(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
}

/// An enum from an integer, a numeric string or an enum value name.
fn enumeration(
    value: Value,
    path: &Path<'_>,
    by_name: fn(&str) -> Option<i32>,
) -> Result<i32, JsonError> {
    if let Value::String(name) = &value
        && !is_decimal_integer(name)
    {
        return by_name(name)
            .ok_or_else(|| path.error(format!("unknown enum value name {}", quote(name))));
    }
    integer(value, path, "enum (int32)")
}

/// A trace or span id: `len` bytes as `2 * len` hex digits of either case, or `""` for none.
fn hex_id(value: Value, path: &Path<'_>, len: usize) -> Result<Vec<u8>, JsonError> {
    let text = match value {
        Value::String(text) => text,
        other => return Err(type_error(path, "a hex string", &other)),
    };
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let digits = 2 * len;
    if text.len() != digits {
        return Err(path.error(format!(
            "expected {digits} hex digits, got {} characters",
            text.chars().count()
        )));
    }
    hex::decode(&text).map_err(|error| match error {
        hex::FromHexError::InvalidHexCharacter { c, index } => {
            path.error(format!("invalid hex digit {c:?} at offset {index}"))
        }
        other => path.error(format!("invalid hex: {other}")),
    })
}

/// Base64 bytes in the standard or URL-safe alphabet, padded or not.
fn bytes(value: Value, path: &Path<'_>) -> Result<Vec<u8>, JsonError> {
    let text = match value {
        Value::String(text) => text,
        other => return Err(type_error(path, "a base64 string", &other)),
    };
    let engine = if text.contains(['-', '_']) {
        &BASE64_URL_SAFE
    } else {
        &BASE64_STANDARD
    };
    engine
        .decode(text.as_bytes())
        .map_err(|error| path.error(format!("invalid base64: {error}")))
}

// ---------------------------------------------------------------------------------------------
// Error helpers
// ---------------------------------------------------------------------------------------------

pub(crate) fn type_error(path: &Path<'_>, expected: &str, got: &Value) -> JsonError {
    path.error(format!("expected {expected}, got {}", type_name(got)))
}

/// Input text for an error message: escaped (never a line break) and shortened.
fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests of the decoder's path rendering and scalar parsers.

    use super::*;

    fn root_field(key: &'static str) -> Path<'static> {
        Path::Field(&Path::Root, key)
    }

    #[test]
    fn path_renders_fields_and_indices() {
        let root = Path::Root;
        let spans = Path::Field(&root, "resourceSpans");
        let first = Path::Index(&spans, 0);
        let scope = Path::Field(&first, "scopeSpans");
        let second = Path::Index(&scope, 1);
        let id = Path::Field(&second, "traceId");
        assert_eq!(id.to_string(), "resourceSpans[0].scopeSpans[1].traceId");
        assert_eq!(root.to_string(), "");
    }

    #[test]
    fn integers_from_numbers_and_strings() {
        let path = root_field("n");
        let u64_of = |v: Value| integer::<u64>(v, &path, "uint64");
        assert_eq!(u64_of(Value::from(7u64)), Ok(7));
        assert_eq!(u64_of(Value::from("18446744073709551615")), Ok(u64::MAX));
        assert_eq!(u64_of(serde_json::json!(1e3)), Ok(1000));
        assert!(u64_of(Value::from("18446744073709551616")).is_err());
        assert!(u64_of(Value::from("-1")).is_err());
        assert!(u64_of(Value::from("+1")).is_err());
        assert!(u64_of(Value::from(" 1")).is_err());
        assert!(u64_of(Value::from("")).is_err());
        assert!(u64_of(Value::from("1e3")).is_err());
        assert!(u64_of(serde_json::json!(1.5)).is_err());
        assert!(u64_of(serde_json::json!(1e300)).is_err());
        assert!(u64_of(Value::Bool(true)).is_err());

        let i64_of = |v: Value| integer::<i64>(v, &path, "int64");
        assert_eq!(i64_of(Value::from("-9223372036854775808")), Ok(i64::MIN));
        assert_eq!(i64_of(Value::from(-5i64)), Ok(-5));
        assert!(i64_of(Value::from("9223372036854775808")).is_err());
        // 40 digits overflow even i128.
        assert!(i64_of(Value::from("1".repeat(40))).is_err());
    }

    #[test]
    fn out_of_range_message_names_the_type() {
        let path = root_field("droppedAttributesCount");
        let error = integer::<u32>(Value::from(4_294_967_296u64), &path, "uint32")
            .expect_err("too large for uint32");
        assert_eq!(
            error.to_string(),
            "droppedAttributesCount: 4294967296 is out of range for uint32"
        );
    }

    #[test]
    fn doubles_accept_special_strings_and_numeric_strings() {
        let path = root_field("d");
        assert_eq!(double(Value::from(1.25), &path), Ok(1.25));
        assert_eq!(double(Value::from(3u64), &path), Ok(3.0));
        assert_eq!(double(Value::from("-2.5e3"), &path), Ok(-2500.0));
        assert_eq!(double(Value::from("Infinity"), &path), Ok(f64::INFINITY));
        assert_eq!(
            double(Value::from("-Infinity"), &path),
            Ok(f64::NEG_INFINITY)
        );
        assert!(double(Value::from("NaN"), &path).is_ok_and(f64::is_nan));
        assert!(double(Value::from("inf"), &path).is_err());
        assert!(double(Value::from("nan"), &path).is_err());
        assert!(double(Value::from("1..2"), &path).is_err());
        assert!(double(Value::from(""), &path).is_err());
        assert!(double(Value::Bool(false), &path).is_err());
    }

    #[test]
    fn base64_in_both_alphabets_with_and_without_padding() {
        let path = root_field("bytesValue");
        let expected = vec![0xfb, 0xff, 0xbf];
        for text in ["+/+/", "-_-_"] {
            assert_eq!(bytes(Value::from(text), &path), Ok(expected.clone()));
        }
        for text in ["aGk=", "aGk"] {
            assert_eq!(bytes(Value::from(text), &path), Ok(b"hi".to_vec()));
        }
        assert!(bytes(Value::from("a+b-"), &path).is_err());
        assert!(bytes(Value::from("!!!!"), &path).is_err());
    }

    #[test]
    fn quote_escapes_and_truncates() {
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(100);
        let quoted = quote(&long);
        assert!(quoted.ends_with("\"..."));
        assert_eq!(quoted.len(), MAX_QUOTED_CHARS + 5);
    }
}
