//! OTLP/HTTP: `POST /v1/traces` with `application/x-protobuf` or
//! `application/json`, optionally `Content-Encoding: gzip` or `zstd`.
//!
//! The body reaches the handler through [`crate::admission`], which reads it
//! within the size and time limits and the shared byte budget, and
//! decompresses it with the same cap (a small gzip bomb gets 413 without the
//! memory to match). Answers use the request's encoding; errors carry a
//! `google.rpc.Status`.

use crate::admission::Admission;
use crate::status::{self, Encoding};
use crate::{Collector, ExportError};
use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, header};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use provgraph_model::Principal;

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

fn error_response(collector: &Collector, encoding: Encoding, err: &ExportError) -> Response {
    status::http_status(
        encoding,
        err.kind(),
        &err.to_string(),
        collector.limits().retry_after_seconds,
    )
}

fn media_type(headers: &HeaderMap) -> Result<Encoding, ExportError> {
    Encoding::of(headers).ok_or_else(|| {
        let raw = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ExportError::UnsupportedMediaType(format!(
            "unsupported content type {raw:?}: send application/x-protobuf or application/json"
        ))
    })
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
