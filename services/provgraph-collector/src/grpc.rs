//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`,
//! `...metrics.v1.MetricsService/Export` and `...logs.v1.LogsService/Export`,
//! accepting gzip and zstd, all on the one export path of [`Collector`].
//!
//! tonic reports some client errors with codes exporters mishandle: an
//! over-long message as OUT_OF_RANGE (which exporters retry forever) and
//! malformed protobuf or compression as INTERNAL. [`remap_status`] turns them
//! into RESOURCE_EXHAUSTED and INVALID_ARGUMENT, as OTLP asks. tonic also
//! decodes any body as protobuf whatever its `Content-Type`;
//! [`require_grpc`] refuses what is not `application/grpc` first.

use provgraph_otlp::services::*;
use provgraph_otlp::{ErrorKind, grpc_code};
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};

use provgraph_model::Principal;

use crate::{Collector, ExportError, Signal};

/// The gRPC half of the receiver.
#[derive(Clone, Debug)]
pub struct GrpcReceiver {
    collector: Collector,
}

impl From<ExportError> for Status {
    fn from(err: ExportError) -> Status {
        Status::new(Code::from_i32(err.kind().grpc_code()), err.to_string())
    }
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let principal = request.extensions().get::<Principal>().cloned();
        let response = self
            .collector
            .export(request.into_inner(), principal.as_ref())
            .await?;
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let resources = provgraph_otlp::metrics_resources(request.into_inner());
        let partial = self
            .collector
            .export_resources(Signal::Metrics, resources)
            .await?;
        Ok(Response::new(crate::metrics_response(partial)))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let resources = provgraph_otlp::logs_resources(request.into_inner());
        let partial = self
            .collector
            .export_resources(Signal::Logs, resources)
            .await?;
        Ok(Response::new(crate::logs_response(partial)))
    }
}

/// The trace service alone, with compression and the size limit set.
pub fn service(collector: Collector) -> TraceServiceServer<GrpcReceiver> {
    let limit = collector.limits().max_request_bytes;
    TraceServiceServer::new(GrpcReceiver { collector })
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit)
}

/// The three OTLP services (traces, metrics, logs), each with compression
/// and the size limit set, as one set of routes.
pub fn routes(collector: Collector) -> tonic::service::Routes {
    let limit = collector.limits().max_request_bytes;
    let receiver = GrpcReceiver { collector };
    let metrics = MetricsServiceServer::new(receiver.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    let logs = LogsServiceServer::new(receiver.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    tonic::service::Routes::new(service(receiver.collector))
        .add_service(metrics)
        .add_service(logs)
}

/// Axum middleware for the gRPC port: a request whose `Content-Type` is not
/// `application/grpc` (or `application/grpc+proto`, `application/grpc;...`)
/// is refused with 415 and gRPC INVALID_ARGUMENT naming what it sent,
/// before its body is read (issue #13: an `application/json` body was
/// decoded as protobuf). The gRPC specification asks for 415.
pub async fn require_grpc(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = content_type
        .as_deref()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/grpc" || essence == "application/grpc+proto" {
        return next.run(request).await;
    }
    let mut shown: String = content_type
        .as_deref()
        .unwrap_or("none")
        .chars()
        .take(64)
        .collect();
    if shown.is_empty() {
        shown = "an empty one".into();
    }
    let message = format!(
        "content type {shown:?} is not gRPC: this port takes application/grpc (OTLP/HTTP is on its own port)"
    );
    let mut response = crate::status::grpc_status(ErrorKind::UnsupportedMediaType, &message);
    *response.status_mut() = ErrorKind::UnsupportedMediaType.http_status();
    response
}

/// Rewrites tonic's status codes for client errors (see the module docs).
/// Apply with `tower::util::MapResponseLayer` around the gRPC server.
pub fn remap_status<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok());
    match code {
        // OUT_OF_RANGE: "decoded message length too large".
        Some(grpc_code::OUT_OF_RANGE) => {
            headers.insert(
                "grpc-status",
                http::HeaderValue::from(ErrorKind::TooLarge.grpc_code()),
            );
            headers.insert(
                "grpc-message",
                http::HeaderValue::from_static(
                    "request%20larger%20than%20the%20receiver%27s%20limit%3B%20send%20smaller%20batches",
                ),
            );
        }
        // INTERNAL: tonic's name for undecodable protobuf or compression;
        // its message (already percent-encoded) stays.
        Some(grpc_code::INTERNAL) => {
            headers.insert(
                "grpc-status",
                http::HeaderValue::from(ErrorKind::InvalidArgument.grpc_code()),
            );
        }
        _ => {}
    }
    response
}
