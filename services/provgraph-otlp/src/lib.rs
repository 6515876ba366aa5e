//! OTLP wire formats for the provgraph collector: a lenient OTLP/JSON trace request decoder,
//! metrics and logs requests read for their resources (`resources.rs`), what a request costs
//! once decoded, counted on its bytes before decoding (`cost.rs`), the OTLP/HTTP
//! response encoders, `google.rpc.Status` bodies (JSON and protobuf), and request bodies
//! read within limits (`body.rs`).
//!
//! The decoder is written by hand over [`serde_json::Value`] instead of using
//! opentelemetry-proto's `with-serde` feature, because that feature rejects input that real
//! senders produce (for example `{"arrayValue":{}}` from the Go encoder, enum names, or
//! snake_case keys), while the OpenTelemetry Collector accepts it.
//!
//! ```
//! use provgraph_otlp::decode_trace_request_json;
//!
//! let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
//!     "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
//!     "name":"compile","startTimeUnixNano":"1544712660000000000"}]}]}]}"#;
//! let request = decode_trace_request_json(body).expect("valid OTLP/JSON");
//! let span = &request.resource_spans[0].scope_spans[0].spans[0];
//! assert_eq!(span.name, "compile");
//! assert_eq!(span.span_id, [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
//! assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
//! ```

pub mod body;
pub mod cost;
mod decode;
mod encode;
mod error;
mod error_kind;
pub mod grpc_code;
mod resources;
pub mod services;

pub use decode::{MAX_ANY_VALUE_DEPTH, decode_trace_request_json};
pub use encode::{
    RpcAny, RpcStatus, encode_partial_success_json, encode_status_json, encode_status_protobuf,
    encode_trace_response_json,
};
pub use error::JsonError;
pub use error_kind::ErrorKind;
pub use resources::{
    ResourceItems, decode_logs_resources_json, decode_metrics_resources_json, logs_resources,
    metrics_resources,
};
