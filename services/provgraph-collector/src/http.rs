//! OTLP/HTTP: `POST /v1/traces` with `application/x-protobuf` or
//! `application/json`, optionally `Content-Encoding: gzip` or `zstd`.
//!
//! The body reaches the handler through [`crate::admission`], which reads it
//! within the size and time limits and the shared byte budget, and
//! decompresses it with the same cap (a small gzip bomb gets 413 without the
//! memory to match). Answers use the request's encoding; errors carry a
//! `google.rpc.Status`.

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use provgraph_model::Principal;
use provgraph_otlp::grpc_code;

use crate::admission::Admission;
use crate::{Collector, ExportError};

/// The request body's encoding, which the answer uses too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
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

/// The router serving `/v1/traces`, behind `admission` (which reads,
/// bounds and decompresses every body).
pub fn router(collector: Collector, admission: Admission) -> Router {
    Router::new()
        .route("/v1/traces", post(export_traces))
        // Admission's caps apply (after decompression too); axum's 2 MB
        // default would refuse ordinary Collector batches.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            admission,
            crate::admission::admit,
        ))
        .with_state(collector)
}

/// A `google.rpc.Status` answer in the encoding of a request with
/// `headers` (JSON for JSON, else protobuf), with `Retry-After` when given:
/// for refusals made before the receiver (authentication, say).
pub fn status_for_request(
    headers: &HeaderMap,
    status: StatusCode,
    code: i32,
    message: &str,
    retry_after: Option<u32>,
) -> Response {
    let encoding = match media_type(headers) {
        Ok(Encoding::Json) => Encoding::Json,
        _ => Encoding::Protobuf,
    };
    status_response(encoding, status, code, message, retry_after)
}

pub(crate) fn status_response(
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

/// What admission left encoded is an encoding it does not know: 415.
fn unsupported_encoding(headers: &HeaderMap) -> Result<(), ExportError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => Ok(()),
        Some(e) if e.is_empty() || e == "identity" => Ok(()),
        Some(other) => Err(ExportError::UnsupportedMediaType(format!(
            "unsupported content encoding {other:?}: send gzip, zstd or none"
        ))),
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
        // Admission has read the body whole, within the size and time
        // limits, and decompressed what it knows.
        unsupported_encoding(&headers)?;
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|err| {
                ExportError::InvalidArgument(format!("cannot read request body: {err}"))
            })?;
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
