//! Sending the one span through the OpenTelemetry SDK's OTLP exporter
//! (gRPC with or without TLS, HTTP protobuf or JSON), bounded by the
//! timeout, with the export's outcome kept so that a failure is reported.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};

use super::args::OtlpProtocol;
use super::attributes::Collected;
use super::run::Ran;
use super::target::{Target, TargetError};

/// Why the span was not sent.
#[derive(Debug, thiserror::Error)]
pub(super) enum SendError {
    /// The OTLP settings cannot be used.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// https asked for over OTLP/HTTP, which this build cannot do.
    #[error(
        "https is supported over grpc only in this build: use --protocol grpc (or \
         OTEL_EXPORTER_OTLP_PROTOCOL=grpc), or a local OpenTelemetry Collector that forwards over TLS"
    )]
    HttpsNeedsGrpc,
    /// The CA certificate the environment names cannot be read.
    #[error("cannot read the CA certificate {}: {source}", .path.display())]
    CaCertificate {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The SDK would not build the exporter (a bad endpoint URL).
    #[error(transparent)]
    Build(#[from] opentelemetry_otlp::ExporterBuildError),
    /// The export failed or was not answered in time.
    #[error(transparent)]
    Export(#[from] ExportFailure),
    /// The outcome could not be read back.
    #[error("internal error")]
    Internal,
    /// The SDK did not hand the span to the exporter.
    #[error("the span was not exported")]
    NotExported,
}

/// How the one export failed.
#[derive(Clone, Debug, thiserror::Error)]
pub(super) enum ExportFailure {
    /// The SDK's error, as it words it.
    #[error("{0}")]
    Failed(String),
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
}

/// The SDK's OTLP exporter, bounded by a deadline, remembering the outcome
/// so that a failed export is reported (the simple processor only logs it).
#[derive(Debug)]
struct Recording {
    inner: opentelemetry_otlp::SpanExporter,
    deadline: Duration,
    outcome: Arc<Mutex<Option<Result<(), ExportFailure>>>>,
}

impl SpanExporter for Recording {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = match tokio::time::timeout(self.deadline, self.inner.export(batch)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                let text = err.to_string();
                Err(ExportFailure::Failed(
                    text.strip_prefix("Operation failed: ")
                        .unwrap_or(&text)
                        .to_string(),
                ))
            }
            Err(_) => Err(ExportFailure::NoAnswer(self.deadline)),
        };
        if let Ok(mut outcome) = self.outcome.lock() {
            *outcome = Some(result.clone());
        }
        result.map_err(|failure| OTelSdkError::InternalFailure(failure.to_string()))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn build_exporter(target: &Target) -> Result<opentelemetry_otlp::SpanExporter, SendError> {
    let https = target.endpoint.starts_with("https://");
    if https && target.protocol != OtlpProtocol::Grpc {
        return Err(SendError::HttpsNeedsGrpc);
    }
    let built = match target.protocol {
        OtlpProtocol::Grpc if https => {
            // The system's roots, plus a CA the environment names.
            let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
            if let Some(path) = &target.ca_certificate {
                let pem = std::fs::read(path).map_err(|source| SendError::CaCertificate {
                    path: path.clone(),
                    source,
                })?;
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(target.endpoint.clone())
                .with_tls_config(tls)
                .with_timeout(target.timeout)
                .build()
        }
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(target.endpoint.clone())
            .with_timeout(target.timeout)
            .build(),
        OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
            let protocol = if target.protocol == OtlpProtocol::HttpJson {
                Protocol::HttpJson
            } else {
                Protocol::HttpBinary
            };
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(target.endpoint.clone())
                .with_timeout(target.timeout)
                .build()
        }
    };
    Ok(built?)
}

/// The resource: what the SDK reads (OTEL_SERVICE_NAME,
/// OTEL_RESOURCE_ATTRIBUTES), with `service.name` `provgraph-emit` unless
/// one is set there.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named {
        detected
    } else {
        Resource::builder()
            .with_service_name("provgraph-emit")
            .build()
    }
}

/// Sends the one span through the SDK (simple processor: exported when it
/// ends), then shuts the provider down. Must run inside the runtime.
pub(super) fn send(
    target: &Target,
    name: &str,
    out: &Collected,
    parent: Option<SpanContext>,
    start: SystemTime,
    end: SystemTime,
    ran: Option<&Ran>,
) -> Result<String, SendError> {
    let exporter = build_exporter(target)?;
    let outcome = Arc::new(Mutex::new(None));
    let recording = Recording {
        inner: exporter,
        deadline: target.timeout,
        outcome: outcome.clone(),
    };
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(recording)
        .with_sampler(Sampler::AlwaysOn)
        .with_resource(resource())
        .build();
    let tracer = provider.tracer("provgraph-emit");
    let context = match parent {
        Some(parent) => Context::new().with_remote_span_context(parent),
        None => Context::new(),
    };
    let attributes: Vec<KeyValue> = out
        .attributes
        .iter()
        .map(|(k, v)| KeyValue::new(*k, v.to_otel()))
        .collect();
    let mut span = tracer
        .span_builder(name.to_string())
        .with_kind(SpanKind::Internal)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(&tracer, &context);
    match ran {
        Some(Ran::Exited(0)) => span.set_status(Status::Ok),
        Some(Ran::Exited(code)) => span.set_status(Status::error(format!("exit code {code}"))),
        Some(Ran::Signaled(signal)) => {
            span.set_status(Status::error(format!("killed by signal {signal}")));
        }
        Some(Ran::NotStarted { reason, .. }) => span.set_status(Status::error(reason.to_string())),
        None => {}
    }
    span.end_with_timestamp(end);
    drop(span);
    let _ = provider.shutdown();
    let result = outcome.lock().map_err(|_| SendError::Internal)?.take();
    match result {
        Some(Ok(())) => Ok(target.endpoint.clone()),
        Some(Err(failure)) => Err(failure.into()),
        None => Err(SendError::NotExported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::attributes::Value;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;
    use prost::Message as _;

    fn target(protocol: OtlpProtocol, endpoint: &str) -> Target {
        Target {
            protocol,
            endpoint: endpoint.to_string(),
            endpoint_source: "--endpoint".to_string(),
            timeout: Duration::from_secs(10),
            ca_certificate: None,
        }
    }

    #[test]
    fn exporter_settings_that_cannot_work() {
        let err = build_exporter(&target(
            OtlpProtocol::HttpProtobuf,
            "https://x:4318/v1/traces",
        ))
        .unwrap_err();
        assert!(matches!(err, SendError::HttpsNeedsGrpc), "{err}");
        assert!(
            err.to_string()
                .starts_with("https is supported over grpc only in this build: use --protocol grpc (or OTEL_EXPORTER_OTLP_PROTOCOL=grpc), "),
            "{err}"
        );
        let mut tls = target(OtlpProtocol::Grpc, "https://x:4317");
        tls.ca_certificate = Some(PathBuf::from("/nonexistent/ca.pem"));
        let err = build_exporter(&tls).unwrap_err();
        assert!(matches!(err, SendError::CaCertificate { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("cannot read the CA certificate /nonexistent/ca.pem: "),
            "{err}"
        );
    }

    /// The span as a real OTLP/HTTP receiver gets it: the request body is
    /// decoded and its span checked.
    #[test]
    fn sends_one_span_with_attributes_parent_and_status() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (bodies, mut received) = tokio::sync::mpsc::unbounded_channel();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let bodies = bodies.clone();
                async move {
                    let _ = bodies.send(body);
                    (
                        [(http::header::CONTENT_TYPE, "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        runtime.spawn(async move { axum::serve(listener, app).await });

        let mut out = Collected::default();
        out.put(
            "vcs.ref.head.revision",
            Value::Str("0123456789abcdef0123456789abcdef01234567".into()),
        );
        out.put(
            "go.mod.requires",
            Value::Strs(vec!["a@v1".into(), "b@v2".into()]),
        );
        out.put("process.exit.code", Value::Int(3));
        let parent = SpanContext::new(
            opentelemetry::trace::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            opentelemetry::trace::SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            opentelemetry::trace::TraceFlags::SAMPLED,
            true,
            Default::default(),
        );
        let endpoint = format!("http://{address}/v1/traces");
        let start = SystemTime::now();
        let sent = {
            let _guard = runtime.enter();
            send(
                &target(OtlpProtocol::HttpProtobuf, &endpoint),
                "make",
                &out,
                Some(parent),
                start,
                start + Duration::from_millis(5),
                Some(&Ran::Exited(3)),
            )
        };
        assert_eq!(sent.unwrap(), endpoint);
        let body = received.try_recv().expect("the receiver got the export");
        let request = ExportTraceServiceRequest::decode(body).unwrap();
        let spans: Vec<_> = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .collect();
        assert_eq!(spans.len(), 1);
        let span = spans[0];
        assert_eq!(span.name, "make");
        assert_eq!(
            hex::encode(&span.trace_id),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(hex::encode(&span.parent_span_id), "00f067aa0ba902b7");
        let status = span.status.as_ref().unwrap();
        assert_eq!(status.message, "exit code 3");
        let value = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.clone()?.value)
        };
        assert_eq!(
            value("vcs.ref.head.revision"),
            Some(any_value::Value::StringValue(
                "0123456789abcdef0123456789abcdef01234567".into()
            ))
        );
        assert_eq!(
            value("process.exit.code"),
            Some(any_value::Value::IntValue(3))
        );
        match value("go.mod.requires") {
            Some(any_value::Value::ArrayValue(array)) => {
                let items: Vec<_> = array.values.into_iter().filter_map(|v| v.value).collect();
                assert_eq!(
                    items,
                    vec![
                        any_value::Value::StringValue("a@v1".into()),
                        any_value::Value::StringValue("b@v2".into())
                    ]
                );
            }
            other => panic!("go.mod.requires: {other:?}"),
        }
        runtime.shutdown_background();
    }

    #[test]
    fn a_refused_connection_is_an_export_failure() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // A port that was just free: nothing listens there.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let _guard = runtime.enter();
        let err = send(
            &target(
                OtlpProtocol::HttpProtobuf,
                &format!("http://{address}/v1/traces"),
            ),
            "emit",
            &Collected::default(),
            None,
            SystemTime::now(),
            SystemTime::now(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, SendError::Export(_)), "{err:?}");
    }
}
