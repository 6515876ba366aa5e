//! How a refusal is written on each wire, for an [`ErrorKind`]: an OTLP/HTTP
//! `google.rpc.Status` answer (in the request's encoding, with
//! `Retry-After` when the kind is retryable) or a trailers-only gRPC answer.
//! Below both the receivers and [`crate::admission`], and used by the
//! binary's authentication gate, so every refusal is written here.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
pub use provgraph_otlp::ErrorKind;

/// An OTLP/HTTP body encoding; answers use the request's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The `Content-Type` of a body in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    /// The encoding a request's `Content-Type` names, if it is one the
    /// receiver takes (parameters and case ignored).
    pub fn of(headers: &HeaderMap) -> Option<Encoding> {
        let raw = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = raw.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf")
            || essence.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }
}

/// An OTLP/HTTP refusal: the kind's status, a `google.rpc.Status` with its
/// gRPC code and `message` in `encoding`, and `Retry-After:
/// retry_after_seconds` when the kind is retryable.
pub fn http_status(
    encoding: Encoding,
    kind: ErrorKind,
    message: &str,
    retry_after_seconds: u32,
) -> Response {
    let code = kind.grpc_code();
    let body = match encoding {
        Encoding::Protobuf => provgraph_otlp::encode_status_protobuf(code, message),
        Encoding::Json => provgraph_otlp::encode_status_json(code, message),
    };
    let mut response = (kind.http_status(), body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    if let Some(seconds) = kind.retry_after(retry_after_seconds) {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// [`http_status`] in the encoding of a request with `headers` (JSON for
/// JSON, else protobuf): for refusals made before the receiver
/// (authentication, say).
pub fn http_status_for_request(
    headers: &HeaderMap,
    kind: ErrorKind,
    message: &str,
    retry_after_seconds: u32,
) -> Response {
    let encoding = Encoding::of(headers).unwrap_or(Encoding::Protobuf);
    http_status(encoding, kind, message, retry_after_seconds)
}

/// A trailers-only gRPC refusal: the kind's code and `message`
/// (percent-encoded).
pub fn grpc_status(kind: ErrorKind, message: &str) -> Response {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from(kind.grpc_code()));
    let mut encoded = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        headers.insert("grpc-message", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_carry_the_kinds_status_code_and_retry_after() {
        let json = http_status(Encoding::Json, ErrorKind::Overloaded, "busy", 9);
        assert_eq!(json.status(), 429);
        assert_eq!(json.headers()[header::RETRY_AFTER], "9");
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
        let bad = http_status(Encoding::Protobuf, ErrorKind::InvalidArgument, "no", 9);
        assert_eq!(bad.status(), 400);
        assert!(bad.headers().get(header::RETRY_AFTER).is_none());
        let grpc = grpc_status(ErrorKind::Unauthenticated, "100% wrong\n");
        assert_eq!(grpc.headers()["grpc-status"], "16");
        assert_eq!(grpc.headers()["grpc-message"], "100%25 wrong%0A");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(Encoding::of(&headers), Some(Encoding::Json));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(Encoding::of(&headers), None);
    }
}
