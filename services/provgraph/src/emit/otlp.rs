//! Sending the one span through the OpenTelemetry SDK's OTLP exporter
//! (gRPC with or without TLS, HTTP protobuf or JSON), bounded by the
//! timeout, with the export's outcome kept so that a failure is reported.

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
use super::target::Target;

/// The SDK's OTLP exporter, bounded by a deadline, remembering the outcome
/// so that a failed export is reported (the simple processor only logs it).
#[derive(Debug)]
struct Recording {
    inner: opentelemetry_otlp::SpanExporter,
    deadline: Duration,
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

impl SpanExporter for Recording {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = match tokio::time::timeout(self.deadline, self.inner.export(batch)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                let text = err.to_string();
                Err(text
                    .strip_prefix("Operation failed: ")
                    .unwrap_or(&text)
                    .to_string())
            }
            Err(_) => Err(format!("no answer within {:?}", self.deadline)),
        };
        if let Ok(mut outcome) = self.outcome.lock() {
            *outcome = Some(result.clone());
        }
        result.map_err(OTelSdkError::InternalFailure)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn build_exporter(target: &Target) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let https = target.endpoint.starts_with("https://");
    if https && target.protocol != OtlpProtocol::Grpc {
        return Err(
            "https is supported over grpc only in this build: use --protocol grpc (or \
             OTEL_EXPORTER_OTLP_PROTOCOL=grpc), or a local OpenTelemetry Collector that forwards over TLS"
                .to_string(),
        );
    }
    let built = match target.protocol {
        OtlpProtocol::Grpc if https => {
            // The system's roots, plus a CA the environment names.
            let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
            if let Some(path) = &target.ca_certificate {
                let pem = std::fs::read(path).map_err(|err| {
                    format!("cannot read the CA certificate {}: {err}", path.display())
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
    built.map_err(|err| err.to_string())
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
) -> Result<String, String> {
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
        Some(Ran::NotStarted { reason, .. }) => span.set_status(Status::error(reason.clone())),
        None => {}
    }
    span.end_with_timestamp(end);
    drop(span);
    let _ = provider.shutdown();
    let result = outcome
        .lock()
        .map_err(|_| "internal error".to_string())?
        .take();
    match result {
        Some(Ok(())) => Ok(target.endpoint.clone()),
        Some(Err(reason)) => Err(reason),
        None => Err("the span was not exported".to_string()),
    }
}
