//! Do-nothing OTLP receivers started in-process on 127.0.0.1:0: they decode
//! each request (as any receiver must) and answer full success. Sending the
//! same requests to them with the same client gives the ceiling that the
//! client, the transport and protobuf decoding leave on this machine.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use prost::Message;
use provgraph_otlp::services::*;
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::send::Protocol;

#[derive(Debug)]
struct Null;

#[tonic::async_trait]
impl TraceService for Null {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        // Decoded by the codec already; look at it so it is not optimized away.
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| r.scope_spans.iter())
            .map(|s| s.spans.len())
            .sum();
        std::hint::black_box(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Null {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        std::hint::black_box(request.get_ref().resource_metrics.len());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Null {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        std::hint::black_box(request.get_ref().resource_logs.len());
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

async fn http_export(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let answer = |status: u16| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        r.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/x-protobuf"),
        );
        r
    };
    let path = request.uri().path().to_string();
    let body = match request.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(answer(400)),
    };
    let decoded = match path.as_str() {
        "/v1/traces" => ExportTraceServiceRequest::decode(body).map(|r| r.resource_spans.len()),
        "/v1/metrics" => {
            ExportMetricsServiceRequest::decode(body).map(|r| r.resource_metrics.len())
        }
        "/v1/logs" => ExportLogsServiceRequest::decode(body).map(|r| r.resource_logs.len()),
        _ => return Ok(answer(404)),
    };
    Ok(match decoded {
        Ok(n) => {
            std::hint::black_box(n);
            answer(200)
        }
        Err(_) => answer(400),
    })
}

/// Starts a do-nothing receiver for `protocol`; returns its address. It
/// serves until the process ends.
pub async fn start(protocol: Protocol) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind the do-nothing receiver: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("do-nothing receiver has no address: {e}"))?;
    match protocol {
        Protocol::Grpc => {
            let service = TraceServiceServer::new(Null).max_decoding_message_size(64 << 20);
            let metrics = MetricsServiceServer::new(Null).max_decoding_message_size(64 << 20);
            let logs = LogsServiceServer::new(Null).max_decoding_message_size(64 << 20);
            tokio::spawn(async move {
                let served = tonic::transport::Server::builder()
                    .add_service(service)
                    .add_service(metrics)
                    .add_service(logs)
                    .serve_with_incoming(TcpListenerStream::new(listener))
                    .await;
                if let Err(e) = served {
                    eprintln!("do-nothing gRPC receiver stopped: {e}");
                }
            });
        }
        Protocol::Http => {
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(
                                TokioIo::new(stream),
                                hyper::service::service_fn(http_export),
                            )
                            .await;
                    });
                }
            });
        }
    }
    Ok(addr)
}
