//! OTLP/HTTP: `POST /v1/traces`, `/v1/metrics` and `/v1/logs` with
//! `application/x-protobuf` or `application/json`, optionally
//! `Content-Encoding: gzip` or `zstd`; one handler for the three signals.
//!
//! The body reaches the handler through [`crate::admission`], which reads it
//! within the size and time limits and the shared byte budget, and
//! decompresses it with the same cap (a small gzip bomb gets 413 without the
//! memory to match). Answers use the request's encoding; errors carry a
//! `google.rpc.Status`.

use crate::admission::Admission;
use crate::status::{self, Encoding};
use crate::{Collector, ExportError, Signal};
use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, header};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use provgraph_model::Principal;

/// The router serving `/v1/traces`, `/v1/metrics` and `/v1/logs`, behind
/// `admission` (which reads, bounds and decompresses every body).
pub fn router(collector: Collector, admission: Admission) -> Router {
    let route = |signal: Signal| {
        post(
            move |State(collector): State<Collector>,
                  principal: Option<Extension<Principal>>,
                  headers: HeaderMap,
                  body: Body| async move {
                export(signal, collector, principal, headers, body).await
            },
        )
    };
    Router::new()
        .route("/v1/traces", route(Signal::Traces))
        .route("/v1/metrics", route(Signal::Metrics))
        .route("/v1/logs", route(Signal::Logs))
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

async fn export(
    signal: Signal,
    collector: Collector,
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
        export_body(
            &collector,
            signal,
            encoding,
            bytes,
            principal.as_ref().map(|p| &p.0),
        )
        .await
    }
    .await;
    match result {
        Ok(body) => ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response(),
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

/// Decodes a `signal` request body in `encoding`, exports it, and encodes
/// the answer in the same encoding.
async fn export_body(
    collector: &Collector,
    signal: Signal,
    encoding: Encoding,
    bytes: bytes::Bytes,
    principal: Option<&Principal>,
) -> Result<Vec<u8>, ExportError> {
    let protobuf = |err: prost::DecodeError| {
        ExportError::InvalidArgument(format!("malformed protobuf: {err}"))
    };
    let json = |err: provgraph_otlp::JsonError| {
        ExportError::InvalidArgument(format!("malformed OTLP/JSON: {err}"))
    };
    let partial_json = |field: &str, partial: Option<(i64, String)>| match partial {
        None => b"{}".to_vec(),
        Some((rejected, message)) => {
            provgraph_otlp::encode_partial_success_json(field, rejected, &message)
        }
    };
    Ok(match (signal, encoding) {
        (Signal::Traces, Encoding::Protobuf) => {
            let request = ExportTraceServiceRequest::decode(bytes).map_err(protobuf)?;
            collector.export(request, principal).await?.encode_to_vec()
        }
        (Signal::Traces, Encoding::Json) => {
            let request = provgraph_otlp::decode_trace_request_json(&bytes).map_err(json)?;
            let response = collector.export(request, principal).await?;
            provgraph_otlp::encode_trace_response_json(&response)
        }
        (Signal::Metrics, Encoding::Protobuf) => {
            let request = ExportMetricsServiceRequest::decode(bytes).map_err(protobuf)?;
            let resources = provgraph_otlp::metrics_resources(request);
            let partial = collector.export_resources(signal, resources).await?;
            crate::metrics_response(partial).encode_to_vec()
        }
        (Signal::Metrics, Encoding::Json) => {
            let resources = provgraph_otlp::decode_metrics_resources_json(&bytes).map_err(json)?;
            let partial = collector.export_resources(signal, resources).await?;
            partial_json("rejectedDataPoints", partial)
        }
        (Signal::Logs, Encoding::Protobuf) => {
            let request = ExportLogsServiceRequest::decode(bytes).map_err(protobuf)?;
            let resources = provgraph_otlp::logs_resources(request);
            let partial = collector.export_resources(signal, resources).await?;
            crate::logs_response(partial).encode_to_vec()
        }
        (Signal::Logs, Encoding::Json) => {
            let resources = provgraph_otlp::decode_logs_resources_json(&bytes).map_err(json)?;
            let partial = collector.export_resources(signal, resources).await?;
            partial_json("rejectedLogRecords", partial)
        }
    })
}
