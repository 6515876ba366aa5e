//! OTLP/HTTP: `POST /v1/traces` with `application/x-protobuf` or
//! `application/json`, optionally `Content-Encoding: gzip` or `zstd`.
//!
//! The body is read with a size cap and a time limit, then decompressed with
//! the same cap (a small gzip bomb gets 413 without the memory to match).
//! Answers use the request's encoding; errors carry a `google.rpc.Status`.

use std::io::Read;

use axum::Extension;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use provgraph_model::Principal;
use provgraph_otlp::grpc_code;

use crate::{Collector, ExportError};

/// The request body's encoding, which the answer uses too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The router serving `/v1/traces`.
pub fn router(collector: Collector) -> Router {
    Router::new()
        .route("/v1/traces", post(export_traces))
        // Our own cap applies (after decompression too); axum's 2 MB default
        // would refuse ordinary Collector batches.
        .layer(DefaultBodyLimit::disable())
        .with_state(collector)
}

fn status_response(
    encoding: Encoding,
    status: StatusCode,
    code: i32,
    message: &str,
    retry_after: Option<u32>,
) -> Response {
    let body = match encoding {
        Encoding::Protobuf => provgraph_otlp::encode_status_protobuf(code, message),
        Encoding::Json => provgraph_otlp::encode_status_json(code, message),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn error_response(collector: &Collector, encoding: Encoding, err: &ExportError) -> Response {
    let message = err.to_string();
    match err {
        ExportError::InvalidArgument(_) => status_response(
            encoding,
            StatusCode::BAD_REQUEST,
            grpc_code::INVALID_ARGUMENT,
            &message,
            None,
        ),
        ExportError::TooLarge(_) => status_response(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            grpc_code::RESOURCE_EXHAUSTED,
            &message,
            None,
        ),
        ExportError::UnsupportedMediaType(_) => status_response(
            encoding,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            grpc_code::INVALID_ARGUMENT,
            &message,
            None,
        ),
        ExportError::Unavailable(_) => status_response(
            encoding,
            StatusCode::SERVICE_UNAVAILABLE,
            grpc_code::UNAVAILABLE,
            &message,
            Some(collector.limits().retry_after_seconds),
        ),
    }
}

fn media_type(headers: &HeaderMap) -> Result<Encoding, ExportError> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(ExportError::UnsupportedMediaType(format!(
            "unsupported content type {raw:?}: send application/x-protobuf or application/json"
        ))),
    }
}

/// Decompresses `body` as `Content-Encoding` says, never producing more
/// than `limit` bytes.
fn decompress(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, ExportError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let too_large = || {
        ExportError::TooLarge(format!(
            "request body larger than {limit} bytes after decompression; send smaller batches"
        ))
    };
    let mut out = Vec::new();
    let read = match encoding.as_str() {
        "" | "identity" => return Ok(body),
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(&body[..])
            .take(limit as u64 + 1)
            .read_to_end(&mut out),
        "zstd" => match zstd::stream::read::Decoder::new(&body[..]) {
            Ok(decoder) => decoder.take(limit as u64 + 1).read_to_end(&mut out),
            Err(err) => Err(err),
        },
        other => {
            return Err(ExportError::UnsupportedMediaType(format!(
                "unsupported content encoding {other:?}: send gzip, zstd or none"
            )));
        }
    };
    match read {
        Err(err) => Err(ExportError::InvalidArgument(format!(
            "body does not decompress as {encoding}: {err}"
        ))),
        Ok(_) if out.len() > limit => Err(too_large()),
        Ok(_) => Ok(Bytes::from(out)),
    }
}

async fn export_traces(
    State(collector): State<Collector>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let encoding = match media_type(&headers) {
        Ok(encoding) => encoding,
        Err(err) => return error_response(&collector, Encoding::Json, &err),
    };
    let result = async {
        let limits = collector.limits();
        let limit = limits.max_request_bytes;
        let read =
            tokio::time::timeout(limits.body_timeout, axum::body::to_bytes(body, limit)).await;
        let raw = match read {
            Err(_) => {
                return Err(ExportError::InvalidArgument(format!(
                    "request body not received within {:?}",
                    limits.body_timeout
                )));
            }
            Ok(Err(err)) => {
                let too_long = std::error::Error::source(&err)
                    .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
                return Err(if too_long {
                    ExportError::TooLarge(format!(
                        "request body larger than {limit} bytes; send smaller batches"
                    ))
                } else {
                    ExportError::InvalidArgument(format!("cannot read request body: {err}"))
                });
            }
            Ok(Ok(raw)) => raw,
        };
        let bytes = decompress(&headers, raw, limit)?;
        let request = match encoding {
            Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes).map_err(|err| {
                ExportError::InvalidArgument(format!("malformed protobuf: {err}"))
            })?,
            Encoding::Json => provgraph_otlp::decode_trace_request_json(&bytes).map_err(|err| {
                ExportError::InvalidArgument(format!("malformed OTLP/JSON: {err}"))
            })?,
        };
        collector
            .export(request, principal.as_ref().map(|p| &p.0))
            .await
    }
    .await;
    match result {
        Ok(response) => {
            let body = match encoding {
                Encoding::Protobuf => response.encode_to_vec(),
                Encoding::Json => provgraph_otlp::encode_trace_response_json(&response),
            };
            ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
        }
        Err(err) => {
            if matches!(
                err,
                ExportError::InvalidArgument(_) | ExportError::TooLarge(_)
            ) {
                collector
                    .counters()
                    .invalid_requests
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            error_response(&collector, encoding, &err)
        }
    }
}
