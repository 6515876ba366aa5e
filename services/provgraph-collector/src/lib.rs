//! OTLP receivers: gRPC `TraceService/Export`, `MetricsService/Export` and
//! `LogsService/Export`, HTTP `POST /v1/traces`, `/v1/metrics` and `/v1/logs`
//! (protobuf or JSON, gzip or zstd), all calling one export path:
//! decode -> extract facts (traces) or sightings (the resources of metrics
//! and logs) -> commit through the ingest queue -> answer.
//!
//! Architecture invariant: this crate opens no socket; the binary binds the
//! listeners and serves what [`grpc::service`] and [`http::router`] return.

pub mod admission;
pub mod grpc;
pub mod http;
pub mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use provgraph_model::Principal;
use provgraph_store::ingest::{Ingest, IngestError};

/// Size and time limits of the receivers. All are enforced after
/// decompression too.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request accepted, in bytes, compressed or not (OTLP's
    /// recommended default: 64 MiB). Over it: HTTP 413 / RESOURCE_EXHAUSTED.
    pub max_request_bytes: usize,
    /// How long reading one HTTP request body may take.
    pub body_timeout: Duration,
    /// What `Retry-After` says when ingest is overloaded, in seconds.
    pub retry_after_seconds: u32,
    /// Resources, items, attributes and decoded bytes of one request,
    /// counted before it is decoded. Over them: 413 / RESOURCE_EXHAUSTED.
    pub request: provgraph_otlp::cost::RequestLimits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_bytes: 64 * 1024 * 1024,
            body_timeout: Duration::from_secs(30),
            retry_after_seconds: 1,
            request: provgraph_otlp::cost::RequestLimits::default(),
        }
    }
}

/// Counters since start (exposed by the API's `/metrics`).
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub spans: AtomicU64,
    pub rejected_spans: AtomicU64,
    /// Metric data points received (only their resources are read).
    pub data_points: AtomicU64,
    pub rejected_data_points: AtomicU64,
    /// Log records received (only their resources are read).
    pub log_records: AtomicU64,
    pub rejected_log_records: AtomicU64,
    pub span_facts: AtomicU64,
    pub refused_requests: AtomicU64,
    pub invalid_requests: AtomicU64,
    /// Refused because the receivers' byte budget was spent (429).
    pub overloaded_requests: AtomicU64,
}

impl Counters {
    /// The counters in the Prometheus text format.
    pub fn render_prometheus(&self, queued_facts: usize) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            ));
        };
        counter(
            "provgraph_export_requests_total",
            "OTLP export requests decoded (traces, metrics and logs).",
            self.requests.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_spans_total",
            "Spans received in decoded requests.",
            self.spans.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_rejected_spans_total",
            "Spans rejected whole or with a malformed value (reported in partial_success).",
            self.rejected_spans.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_data_points_total",
            "Metric data points received in decoded requests (only their resources are read).",
            self.data_points.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_rejected_data_points_total",
            "Data points whose resource had a malformed value (reported in partial_success).",
            self.rejected_data_points.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_log_records_total",
            "Log records received in decoded requests (only their resources are read).",
            self.log_records.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_rejected_log_records_total",
            "Log records whose resource had a malformed value (reported in partial_success).",
            self.rejected_log_records.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_span_facts_committed_total",
            "Span facts committed to the store.",
            self.span_facts.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_refused_requests_total",
            "Exports refused with a retryable error (overload, store unavailable).",
            self.refused_requests.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_invalid_requests_total",
            "Requests refused as malformed or too large.",
            self.invalid_requests.load(Ordering::Relaxed),
        );
        counter(
            "provgraph_overloaded_requests_total",
            "Requests refused because the receivers' byte budget was in use (429 / UNAVAILABLE).",
            self.overloaded_requests.load(Ordering::Relaxed),
        );
        out.push_str(&format!(
            "# HELP provgraph_ingest_queued_facts Span facts waiting for commit.\n# TYPE provgraph_ingest_queued_facts gauge\nprovgraph_ingest_queued_facts {queued_facts}\n"
        ));
        out
    }
}

/// Why an export was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request does not decode: HTTP 400 / INVALID_ARGUMENT.
    #[error("{0}")]
    InvalidArgument(String),
    /// The request is larger than the limit: HTTP 413 / RESOURCE_EXHAUSTED.
    #[error("{0}")]
    TooLarge(String),
    /// The content type or encoding is not supported: HTTP 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The store cannot take it now; nothing was acknowledged, retry later:
    /// HTTP 503 with Retry-After / UNAVAILABLE.
    #[error("{}", unavailable(.0))]
    Unavailable(#[source] IngestError),
}

/// What a sender is told when the store does not take its spans.
fn unavailable(err: &IngestError) -> String {
    match err {
        IngestError::Overloaded { .. } => err.to_string(),
        other => format!("spans not stored, retry later: {other}"),
    }
}

impl ExportError {
    /// How the refusal is answered ([`status`]).
    pub fn kind(&self) -> status::ErrorKind {
        use status::ErrorKind;
        match self {
            ExportError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            ExportError::TooLarge(_) => ErrorKind::TooLarge,
            ExportError::UnsupportedMediaType(_) => ErrorKind::UnsupportedMediaType,
            ExportError::Unavailable(_) => ErrorKind::Unavailable,
        }
    }
}

/// The shared export path.
#[derive(Clone, Debug)]
pub struct Collector {
    ingest: Ingest,
    limits: Arc<Limits>,
    counters: Arc<Counters>,
    mapping: Arc<provgraph_model::Mapping>,
}

impl Collector {
    /// A collector reading facts with the built-in attribute names.
    pub fn new(ingest: Ingest, limits: Limits) -> Collector {
        Collector::with_mapping(ingest, limits, provgraph_model::Mapping::default())
    }

    /// A collector reading facts with `mapping` (built-in names plus a
    /// user's).
    pub fn with_mapping(
        ingest: Ingest,
        limits: Limits,
        mapping: provgraph_model::Mapping,
    ) -> Collector {
        Collector {
            ingest,
            limits: Arc::new(limits),
            counters: Arc::new(Counters::default()),
            mapping: Arc::new(mapping),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The receiver's counters and queue depth, Prometheus text format.
    pub fn metrics(&self) -> String {
        self.counters.render_prometheus(self.ingest.queued())
    }

    /// Extracts the facts of `request`, commits them, and answers; rejected
    /// spans and values are reported in `partial_success`.
    ///
    /// With a `principal` (an authenticated sender), every trace id and
    /// build id is stored scoped by it (see [`provgraph_model::principal`]),
    /// so a sender cannot attach facts to another sender's build, named or
    /// provisional (issue #13, finding 6), and the sender of its spans is
    /// the principal, not the free text of `service.name`.
    pub async fn export(
        &self,
        request: ExportTraceServiceRequest,
        principal: Option<&Principal>,
    ) -> Result<ExportTraceServiceResponse, ExportError> {
        let mut extraction = provgraph_model::extract_with(&request, &self.mapping);
        drop(request);
        if let Some(principal) = principal {
            for facts in &mut extraction.facts {
                facts.trace_id = principal.scope(&facts.trace_id);
                if let Some(build) = &mut facts.build_id {
                    build.key = principal.scope(&build.key);
                }
                facts.sender = principal.name().to_string();
            }
        }
        let accepted = self.commit(Signal::Traces, extraction).await?;
        Ok(ExportTraceServiceResponse {
            partial_success: accepted.map(|(rejected, error_message)| ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message,
            }),
        })
    }

    /// Reads the resources of a metrics or logs request (`resources`, each
    /// with its count of data points or log records), commits the workloads
    /// they name, and answers: `Ok(None)` for full success, else the
    /// rejected count and the problems, for `partial_success`. Data points
    /// and log records are not stored. Sightings belong to no trace, so the
    /// principal changes nothing here.
    pub async fn export_resources(
        &self,
        signal: Signal,
        resources: Vec<provgraph_otlp::ResourceItems>,
    ) -> Result<Option<(i64, String)>, ExportError> {
        let extraction = provgraph_model::extract_resources(
            resources.iter().map(|r| (r.attributes.as_slice(), r.items)),
        );
        drop(resources);
        self.commit(signal, extraction).await
    }

    /// The one export path: counts, commits what `extraction` found through
    /// the ingest queue (answering only after the commit), and says what
    /// `partial_success` must hold (`None`: full success).
    async fn commit(
        &self,
        signal: Signal,
        extraction: provgraph_model::Extraction,
    ) -> Result<Option<(i64, String)>, ExportError> {
        let counters = &self.counters;
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let (seen, rejected_counter) = match signal {
            Signal::Traces => (&counters.spans, &counters.rejected_spans),
            Signal::Metrics => (&counters.data_points, &counters.rejected_data_points),
            Signal::Logs => (&counters.log_records, &counters.rejected_log_records),
        };
        seen.fetch_add(extraction.spans_seen, Ordering::Relaxed);
        rejected_counter.fetch_add(extraction.rejected_spans, Ordering::Relaxed);
        let facts = extraction.facts.len() as u64;
        let message = extraction.error_message();
        let rejected = extraction.rejected_spans;
        if let Some(message) = &message {
            tracing::debug!(signal = signal.as_str(), rejected, problems = %message, "values rejected");
        }
        if let Err(err) = self
            .ingest
            .write_with_sightings(extraction.facts, extraction.sightings)
            .await
        {
            counters.refused_requests.fetch_add(1, Ordering::Relaxed);
            if !matches!(err, IngestError::Overloaded { .. }) {
                tracing::warn!(error = %err, signal = signal.as_str(), "export refused");
            }
            return Err(ExportError::Unavailable(err));
        }
        counters.span_facts.fetch_add(facts, Ordering::Relaxed);
        Ok((rejected > 0 || message.is_some())
            .then(|| (rejected as i64, message.unwrap_or_default())))
    }
}

/// The answer to a metrics export, from [`Collector::export_resources`].
pub fn metrics_response(partial: Option<(i64, String)>) -> ExportMetricsServiceResponse {
    ExportMetricsServiceResponse {
        partial_success: partial.map(|(rejected_data_points, error_message)| {
            ExportMetricsPartialSuccess {
                rejected_data_points,
                error_message,
            }
        }),
    }
}

/// The answer to a logs export, from [`Collector::export_resources`].
pub fn logs_response(partial: Option<(i64, String)>) -> ExportLogsServiceResponse {
    ExportLogsServiceResponse {
        partial_success: partial.map(|(rejected_log_records, error_message)| {
            ExportLogsPartialSuccess {
                rejected_log_records,
                error_message,
            }
        }),
    }
}

/// The OTLP signals the receivers take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// What the signal's items are called in messages.
    pub fn items(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "data points",
            Signal::Logs => "log records",
        }
    }
}
