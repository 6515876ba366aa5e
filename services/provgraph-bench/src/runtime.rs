//! The runtime-telemetry shape: services' request traces with no build
//! facts, and metrics and logs from the same resources, all naming only the
//! image each process runs in (the sightings path of the server).

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;

use crate::workload::{
    Encoded, Keys, RUNTIME_DIGEST, RUNTIME_TRACE, Signal, SpanBuilder, Workload, now_nanos, s,
    splitmix64, strings,
};

/// The runtime-telemetry shape: `services` services, each running a handful
/// (`digests`) of images, send request traces (8 spans each, no build
/// facts: every span says only which image its process runs in), and, every
/// fourth request of each, a metrics request (`batch` data points) and a
/// logs request (`batch` log records) from the same resource. `spans` trace
/// spans in all. The (service, digest) pairs are the distinct sightings.
pub fn runtime(keys: &Keys, services: u64, digests: u64, spans: u64, batch: usize) -> Workload {
    let services = services.max(1);
    let digests = digests.max(1);
    let batch = batch.max(8);
    let t0 = now_nanos();
    let resource = |pair: u64| {
        let (service, digest) = (pair / digests, pair % digests);
        Resource {
            attributes: vec![
                s("service.name", format!("svc-{service}")),
                s("k8s.namespace.name", "bench"),
                s("k8s.deployment.name", format!("svc-{service}")),
                s("deployment.environment.name", "prod"),
                strings(
                    "container.image.repo_digests",
                    &[format!(
                        "registry.example/svc-{service}@sha256:{}",
                        keys.hex(RUNTIME_DIGEST, pair, 64)
                    )],
                ),
                s(
                    "container.image.name",
                    format!("registry.example/svc-{service}"),
                ),
                s("host.name", format!("node-{}", digest % 7)),
            ],
            ..Default::default()
        }
    };
    let scope = || InstrumentationScope {
        name: "provgraph-bench".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    };
    let mut out = Vec::new();
    let (mut sent, mut bytes, mut request) = (0u64, 0u64, 0u64);
    let pairs = services * digests;
    while sent < spans {
        let pair = splitmix64(keys.seed ^ request) % pairs;
        let n = (batch as u64).min(spans - sent);
        let traces = n.div_ceil(8);
        let mut list = Vec::with_capacity(n as usize);
        for t in 0..traces {
            let trace_id = keys.bytes(RUNTIME_TRACE, (request << 20) | t, 16);
            let b = SpanBuilder {
                trace_id: &trace_id,
                keys,
                domain: RUNTIME_TRACE,
                build: (request << 12) | t,
                t0,
            };
            for j in 0..8u64.min(n - t * 8) {
                list.push(b.span(
                    j,
                    (j > 0).then_some(0),
                    if j == 0 { "GET /pay" } else { "db.query" },
                    vec![s("http.route", "/pay")],
                ));
            }
        }
        let encoded = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource(pair)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans: list,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec();
        bytes += encoded.len() as u64;
        out.push(Encoded {
            bytes: Bytes::from(encoded),
            spans: n as u32,
            signal: Signal::Traces,
        });
        sent += n;
        if request % 4 == 0 {
            let points: Vec<NumberDataPoint> = (0..batch as u64)
                .map(|i| NumberDataPoint {
                    time_unix_nano: t0 + i,
                    value: Some(number_data_point::Value::AsInt(i as i64)),
                    attributes: vec![s("route", "/pay")],
                    ..Default::default()
                })
                .collect();
            let metrics = ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: Some(resource(pair)),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(scope()),
                        metrics: vec![Metric {
                            name: "http.server.active_requests".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: points,
                            })),
                            ..Default::default()
                        }],
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            }
            .encode_to_vec();
            bytes += metrics.len() as u64;
            out.push(Encoded {
                bytes: Bytes::from(metrics),
                spans: batch as u32,
                signal: Signal::Metrics,
            });
            let records: Vec<LogRecord> = (0..batch as u64)
                .map(|i| LogRecord {
                    time_unix_nano: t0 + i,
                    severity_text: "INFO".into(),
                    body: Some(AnyValue {
                        value: Some(Value::StringValue(format!("payment {i} accepted"))),
                    }),
                    ..Default::default()
                })
                .collect();
            let logs = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(resource(pair)),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(scope()),
                        log_records: records,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            }
            .encode_to_vec();
            bytes += logs.len() as u64;
            out.push(Encoded {
                bytes: Bytes::from(logs),
                spans: batch as u32,
                signal: Signal::Logs,
            });
        }
        request += 1;
    }
    Workload {
        shape: "runtime",
        builds: pairs,
        spans: out.iter().map(|e| u64::from(e.spans)).sum(),
        bytes,
        requests: out,
    }
}
