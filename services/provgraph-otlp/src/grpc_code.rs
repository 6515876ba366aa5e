//! The gRPC status codes (`google.rpc.Code`) that the OTLP receivers report.
//!
//! They are plain `i32` constants so they can be passed straight to
//! [`encode_status_json`](crate::encode_status_json) and
//! [`encode_status_protobuf`](crate::encode_status_protobuf).

/// Not an error; returned on success.
pub const OK: i32 = 0;
/// The client sent a request that cannot be processed (malformed body, bad ids, ...).
pub const INVALID_ARGUMENT: i32 = 3;
/// What the request names does not exist.
pub const NOT_FOUND: i32 = 5;
/// A quota or size limit was exceeded.
pub const RESOURCE_EXHAUSTED: i32 = 8;
/// A value is out of range (tonic's code for an over-long message, which
/// exporters retry forever: the receiver answers RESOURCE_EXHAUSTED).
pub const OUT_OF_RANGE: i32 = 11;
/// The operation, content type or encoding is not supported.
pub const UNIMPLEMENTED: i32 = 12;
/// An internal invariant was broken on the server side.
pub const INTERNAL: i32 = 13;
/// The service is temporarily unavailable; the client may retry with backoff.
pub const UNAVAILABLE: i32 = 14;
/// The request lacks valid authentication credentials.
pub const UNAUTHENTICATED: i32 = 16;
