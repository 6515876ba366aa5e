//! Metrics and logs requests read for their resources only.
//!
//! provgraph keeps nothing of a data point or a log record: it reads which
//! process sent them (the resource) and counts them, for `partial_success`.
//! The OTLP/JSON decoders here decode each resource as the trace decoder
//! does (same leniency: snake_case keys, `null` for absent, unknown keys
//! ignored) and only count the items below it; the protobuf requests, which
//! tonic and prost decode whole, are reduced to the same shape.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use serde_json::Value;

use crate::decode::{Obj, decode_resource, parse_object, type_error};
use crate::error::JsonError;

/// One resource of a metrics or logs request, with the number of data
/// points or log records sent under it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceItems {
    /// The resource's attributes.
    pub attributes: Vec<KeyValue>,
    /// Data points (metrics) or log records (logs).
    pub items: u64,
}

/// The metric kinds that carry data points (each as `dataPoints`).
const METRIC_DATA: [(&str, &str); 5] = [
    ("gauge", "gauge"),
    ("sum", "sum"),
    ("histogram", "histogram"),
    ("exponentialHistogram", "exponential_histogram"),
    ("summary", "summary"),
];

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest` body into its
/// resources and data point counts. Errors as
/// [`crate::decode_trace_request_json`] does (the whole request, naming the
/// offending path); never panics.
pub fn decode_metrics_resources_json(body: &[u8]) -> Result<Vec<ResourceItems>, JsonError> {
    decode_resources(body, ("resourceMetrics", "resource_metrics"), |obj| {
        let scopes = obj.list("scopeMetrics", "scope_metrics", |value, path| {
            let metrics = Obj::new(value, path)?.list("metrics", "metrics", |value, path| {
                let mut metric = Obj::new(value, path)?;
                let mut points = 0;
                for (camel, snake) in METRIC_DATA {
                    points += metric
                        .field(camel, snake, |value, path| {
                            Obj::new(value, path)?.count("dataPoints", "data_points")
                        })?
                        .unwrap_or(0);
                }
                Ok(points)
            })?;
            Ok(metrics.iter().sum::<u64>())
        })?;
        Ok(scopes.iter().sum())
    })
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest` body into its resources
/// and log record counts, as [`decode_metrics_resources_json`] does.
pub fn decode_logs_resources_json(body: &[u8]) -> Result<Vec<ResourceItems>, JsonError> {
    decode_resources(body, ("resourceLogs", "resource_logs"), |obj| {
        let scopes = obj.list("scopeLogs", "scope_logs", |value, path| {
            Obj::new(value, path)?.count("logRecords", "log_records")
        })?;
        Ok(scopes.iter().sum())
    })
}

fn decode_resources(
    body: &[u8],
    (camel, snake): (&'static str, &'static str),
    count: impl Fn(&mut Obj<'_>) -> Result<u64, JsonError>,
) -> Result<Vec<ResourceItems>, JsonError> {
    let mut request = parse_object(body)?;
    request.list(camel, snake, |value, path| {
        let mut obj = Obj::new(value, path)?;
        let attributes = obj
            .field("resource", "resource", decode_resource)?
            .map(|r| r.attributes)
            .unwrap_or_default();
        let items = count(&mut obj)?;
        Ok(ResourceItems { attributes, items })
    })
}

impl Obj<'_> {
    /// The number of elements of a repeated message field (each an object
    /// or null); the elements themselves are not decoded.
    fn count(&mut self, camel: &'static str, snake: &'static str) -> Result<u64, JsonError> {
        let items = self.list(camel, snake, |value, path| match value {
            Value::Object(_) | Value::Null => Ok(()),
            other => Err(type_error(path, "an object", &other)),
        })?;
        Ok(items.len() as u64)
    }
}

/// The resources of a decoded metrics request, with their data point counts.
pub fn metrics_resources(request: ExportMetricsServiceRequest) -> Vec<ResourceItems> {
    request
        .resource_metrics
        .into_iter()
        .map(|rm| ResourceItems {
            attributes: rm.resource.map(|r| r.attributes).unwrap_or_default(),
            items: rm
                .scope_metrics
                .iter()
                .flat_map(|scope| &scope.metrics)
                .map(|metric| match &metric.data {
                    None => 0,
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                } as u64)
                .sum(),
        })
        .collect()
}

/// The resources of a decoded logs request, with their log record counts.
pub fn logs_resources(request: ExportLogsServiceRequest) -> Vec<ResourceItems> {
    request
        .resource_logs
        .into_iter()
        .map(|rl| ResourceItems {
            attributes: rl.resource.map(|r| r.attributes).unwrap_or_default(),
            items: rl
                .scope_logs
                .iter()
                .map(|scope| scope.log_records.len() as u64)
                .sum(),
        })
        .collect()
}
