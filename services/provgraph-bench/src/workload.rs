//! Workload generation: OTLP `ExportTraceServiceRequest`s of the three shapes
//! (adversarial: every span says something new; realistic: ~200-span build
//! traces of which ~5 spans carry provenance facts; runtime: services'
//! request traces, metrics and logs that only name the image they run in),
//! encoded once before any timing, and the keys they carry so that queries
//! ask for nodes that exist.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::collections::VecDeque;
use std::fmt::Write as _;

/// One pre-encoded OTLP request and how many spans it carries.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The protobuf bytes of an `ExportTraceServiceRequest` (or of a
    /// metrics or logs request, by `signal`).
    pub bytes: Bytes,
    /// Spans in it (data points or log records for metrics and logs).
    pub spans: u32,
    /// Which OTLP service takes it.
    pub signal: Signal,
}

/// The OTLP signal a request belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Signal {
    #[default]
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    /// The gRPC method.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }

    /// The OTLP/HTTP path.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}

/// A whole workload: every request of one shape, in sending order.
#[derive(Debug)]
pub struct Workload {
    /// `adversarial` or `realistic`.
    pub shape: &'static str,
    /// Builds (traces) in it.
    pub builds: u64,
    /// Spans in it.
    pub spans: u64,
    /// Encoded bytes in all requests.
    pub bytes: u64,
    /// The requests.
    pub requests: Vec<Encoded>,
}

/// SplitMix64: a bijection on u64 with good mixing; distinct inputs give
/// distinct outputs, which makes generated keys unique by construction.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// Key domains: one per kind of generated value and shape, so that no two
// kinds of key share a stream.
const ADV_COMMIT: u64 = 0x101;
const ADV_GOMOD: u64 = 0x102;
const ADV_DIGEST: u64 = 0x103;
const ADV_TRACE: u64 = 0x104;
const REAL_COMMIT: u64 = 0x201;
const REAL_GOMOD: u64 = 0x202;
const REAL_DIGEST: u64 = 0x203;
const REAL_TRACE: u64 = 0x204;
pub(crate) const RUNTIME_DIGEST: u64 = 0x301;
pub(crate) const RUNTIME_TRACE: u64 = 0x304;

/// Deterministic, unique keys for a seed.
#[derive(Clone, Copy, Debug)]
pub struct Keys {
    pub(crate) seed: u64,
    /// Adversarial builds `0..hub` are all from [`Keys::HUB_REPO`].
    hub: u64,
}

impl Keys {
    /// Keys for `seed`.
    pub fn new(seed: u64) -> Keys {
        Keys { seed, hub: 0 }
    }

    /// The repository of the hub builds.
    pub const HUB_REPO: &str = "github.com/bench/hub";

    /// The same keys, with adversarial builds `0..hub` from the hub
    /// repository (one image each): a repository with `hub` images.
    pub fn with_hub(self, hub: u64) -> Keys {
        Keys { hub, ..self }
    }

    /// Builds (and so images) of the hub repository.
    pub fn hub(&self) -> u64 {
        self.hub
    }

    fn words(&self, domain: u64, i: u64) -> impl Iterator<Item = u64> {
        // The first word is a bijection of `i` for a fixed seed and domain:
        // unique per `i`.
        let base = splitmix64(self.seed ^ splitmix64(domain));
        let first = splitmix64(base ^ i);
        std::iter::successors(Some(first), |w| Some(splitmix64(*w)))
    }

    pub(crate) fn hex(&self, domain: u64, i: u64, digits: usize) -> String {
        let mut s = String::with_capacity(digits + 16);
        for w in self.words(domain, i) {
            if s.len() >= digits {
                break;
            }
            let _ = write!(s, "{w:016x}");
        }
        s.truncate(digits);
        s
    }

    pub(crate) fn bytes(&self, domain: u64, i: u64, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        for w in self.words(domain, i) {
            if v.len() >= n {
                break;
            }
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.truncate(n);
        v
    }

    /// Adversarial build `i`: its commit (40 hex).
    pub fn adv_commit(&self, i: u64) -> String {
        self.hex(ADV_COMMIT, i, 40)
    }
    /// Adversarial build `i`: its go.mod hash (64 hex, as `sha256sum` prints it).
    pub fn adv_gomod(&self, i: u64) -> String {
        self.hex(ADV_GOMOD, i, 64)
    }
    /// Adversarial build `i`: its image digest (`sha256:` + 64 hex).
    pub fn adv_digest(&self, i: u64) -> String {
        format!("sha256:{}", self.hex(ADV_DIGEST, i, 64))
    }
    /// Adversarial build `i`: its repository URL.
    pub fn adv_repo(&self, i: u64) -> String {
        if i < self.hub {
            return format!("https://{}", Keys::HUB_REPO);
        }
        format!("https://github.com/bench/repo-{}", i % 1000)
    }
    /// Adversarial build `i`: its run id.
    pub fn adv_run_id(&self, i: u64) -> String {
        format!("bench-{}-a-{i}", self.seed)
    }

    /// Realistic build `b`: index of its commit (10 builds per commit).
    pub fn real_commit_index(b: u64) -> u64 {
        b / 10
    }
    /// Realistic commit `c`.
    pub fn real_commit(&self, c: u64) -> String {
        self.hex(REAL_COMMIT, c, 40)
    }
    /// Realistic commit `c`: its repository (pool of 50).
    pub fn real_repo(&self, c: u64) -> String {
        format!(
            "https://github.com/bench/service-{}",
            splitmix64(self.seed ^ c ^ 0x5eed) % 50
        )
    }
    /// Realistic commit `c`: its go.mod hash (pool of 200).
    pub fn real_gomod(&self, c: u64) -> String {
        self.hex(REAL_GOMOD, splitmix64(self.seed ^ c ^ 0x60d) % 200, 64)
    }
    /// Realistic build `b`: its image digest (unique per build).
    pub fn real_digest(&self, b: u64) -> String {
        format!("sha256:{}", self.hex(REAL_DIGEST, b, 64))
    }
    /// Realistic build `b`: its run id.
    pub fn real_run_id(&self, b: u64) -> String {
        format!("bench-{}-r-{b}", self.seed)
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub(crate) fn s(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

fn int(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

pub(crate) fn strings(key: &str, values: &[String]) -> KeyValue {
    kv(
        key,
        Value::ArrayValue(ArrayValue {
            values: values
                .iter()
                .map(|v| AnyValue {
                    value: Some(Value::StringValue(v.clone())),
                })
                .collect(),
        }),
    )
}

/// Packs spans into requests of `batch` spans, all under one resource
/// (`service.name = bench-ci`) and one scope, and encodes each request.
pub(crate) struct Batcher {
    batch: usize,
    current: Vec<Span>,
    out: Vec<Encoded>,
    spans: u64,
    bytes: u64,
    resource: Resource,
}

impl Batcher {
    pub(crate) fn new(batch: usize) -> Batcher {
        Batcher {
            batch: batch.max(1),
            current: Vec::with_capacity(batch.max(1)),
            out: Vec::new(),
            spans: 0,
            bytes: 0,
            resource: Resource {
                attributes: vec![
                    s("service.name", "bench-ci"),
                    s("host.name", "bench-runner-1"),
                    s("telemetry.sdk.language", "rust"),
                ],
                ..Default::default()
            },
        }
    }

    pub(crate) fn push(&mut self, span: Span) {
        self.current.push(span);
        if self.current.len() >= self.batch {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let spans = std::mem::replace(&mut self.current, Vec::with_capacity(self.batch));
        let n = spans.len() as u32;
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "provgraph-bench".to_string(),
                        version: env!("CARGO_PKG_VERSION").to_string(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: "https://opentelemetry.io/schemas/1.37.0".to_string(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.37.0".to_string(),
            }],
        };
        let bytes = Bytes::from(request.encode_to_vec());
        self.spans += u64::from(n);
        self.bytes += bytes.len() as u64;
        self.out.push(Encoded {
            bytes,
            spans: n,
            signal: Signal::Traces,
        });
    }

    pub(crate) fn finish(mut self, shape: &'static str, builds: u64) -> Workload {
        self.flush();
        Workload {
            shape,
            builds,
            spans: self.spans,
            bytes: self.bytes,
            requests: self.out,
        }
    }
}

/// Start time of generated spans (ns since the epoch).
pub(crate) fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1_700_000_000_000_000_000)
}

pub(crate) struct SpanBuilder<'a> {
    pub(crate) trace_id: &'a [u8],
    pub(crate) keys: &'a Keys,
    pub(crate) domain: u64,
    pub(crate) build: u64,
    pub(crate) t0: u64,
}

impl SpanBuilder<'_> {
    fn span_id(&self, j: u64) -> Vec<u8> {
        // Unique per (build, j) for j < 2^16.
        let mut id = self
            .keys
            .bytes(self.domain ^ 0x5a5a, (self.build << 16) | j, 8);
        if id.iter().all(|b| *b == 0) {
            id[7] = 1;
        }
        id
    }

    pub(crate) fn span(
        &self,
        j: u64,
        parent: Option<u64>,
        name: &str,
        attributes: Vec<KeyValue>,
    ) -> Span {
        let start = self.t0 + j * 1_000_000;
        Span {
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id(j),
            parent_span_id: parent.map(|p| self.span_id(p)).unwrap_or_default(),
            name: name.to_string(),
            kind: if parent.is_none() {
                SpanKind::Server as i32
            } else {
                SpanKind::Internal as i32
            },
            start_time_unix_nano: start,
            end_time_unix_nano: start + 900_000,
            attributes,
            ..Default::default()
        }
    }
}

/// The adversarial shape: one build per trace of 4 spans, every fact new.
/// Every 4th trace has its root (the span with the run id) sent in a later
/// request than its children, as CI exporters do.
pub fn adversarial(keys: &Keys, builds: u64, batch: usize) -> Workload {
    let mut out = Batcher::new(batch);
    let t0 = now_nanos();
    // Builds to wait before sending a held-back root: more than one request
    // later, so root and children never share a request.
    let delay = (batch as u64).div_ceil(4) + 1;
    let mut held: VecDeque<(u64, Span)> = VecDeque::new();
    for i in 0..builds {
        let trace_id = keys.bytes(ADV_TRACE, i, 16);
        let b = SpanBuilder {
            trace_id: &trace_id,
            keys,
            domain: ADV_TRACE,
            build: i,
            t0,
        };
        out.push(b.span(
            1,
            Some(0),
            "checkout",
            vec![
                s("vcs.ref.head.revision", keys.adv_commit(i)),
                s("vcs.repository.url.full", keys.adv_repo(i)),
            ],
        ));
        out.push(b.span(
            2,
            Some(0),
            "go mod download",
            vec![s("go.mod.hash", keys.adv_gomod(i))],
        ));
        out.push(b.span(
            3,
            Some(0),
            "docker push",
            vec![
                s("oci.manifest.digest", keys.adv_digest(i)),
                s(
                    "container.image.name",
                    format!("ghcr.io/bench/repo-{}", i % 1000),
                ),
            ],
        ));
        let root = b.span(
            0,
            None,
            "run release",
            vec![
                s("cicd.pipeline.run.id", keys.adv_run_id(i)),
                s("cicd.pipeline.name", "release"),
            ],
        );
        if i % 4 == 3 {
            held.push_back((i, root));
        } else {
            out.push(root);
        }
        while held.front().is_some_and(|(j, _)| i - j >= delay) {
            if let Some((_, span)) = held.pop_front() {
                out.push(span);
            }
        }
    }
    for (_, span) in held {
        out.push(span);
    }
    out.finish("adversarial", builds)
}

const ROUTES: &[&str] = &[
    "/v1/items/{id}",
    "/v1/items",
    "/healthz",
    "/v2/orders/{order_id}/lines",
    "/github.com/!azure/go-autorest/@v/list",
    "/golang.org/x/net/@v/v0.38.0.zip",
];

const TASKS: &[&str] = &[
    "go vet ./...",
    "go test ./internal/store",
    "go test ./internal/api",
    "golangci-lint run",
    "go build ./cmd/server",
    "npm ci",
    "upload coverage",
];

/// The realistic shape: traces of ~`spans_per_build` spans (±25%), of which
/// 5 carry provenance facts (root with run id, checkout with commit and
/// repository, go.mod, image push, a build step naming the commit again);
/// commits repeat (10 builds per commit), 50 repositories, 200 go.mod hashes,
/// a new image per build.
pub fn realistic(keys: &Keys, builds: u64, spans_per_build: u32, batch: usize) -> Workload {
    let mut out = Batcher::new(batch);
    let t0 = now_nanos();
    let target = u64::from(spans_per_build.max(8));
    let spread = (target / 2).max(1);
    for bld in 0..builds {
        let n = target - spread / 2 + splitmix64(keys.seed ^ bld ^ 0xabc) % (spread + 1);
        let c = Keys::real_commit_index(bld);
        let trace_id = keys.bytes(REAL_TRACE, bld, 16);
        let b = SpanBuilder {
            trace_id: &trace_id,
            keys,
            domain: REAL_TRACE,
            build: bld,
            t0,
        };
        // Spans 1..n-1 are children (a few nested under task spans); the fact
        // spans sit at fixed places among them; the root is sent last.
        let fact_at = [1, 2, n / 2, n - 2];
        for j in 1..n {
            let parent = if j % 10 == 0 || j < 10 { 0 } else { j - j % 10 };
            let span = if j == fact_at[0] {
                b.span(
                    j,
                    Some(0),
                    "checkout",
                    vec![
                        s("vcs.ref.head.revision", keys.real_commit(c)),
                        s("vcs.repository.url.full", keys.real_repo(c)),
                        s("vcs.ref.head.name", "main"),
                        s("cicd.pipeline.task.name", "checkout"),
                    ],
                )
            } else if j == fact_at[1] {
                b.span(
                    j,
                    Some(0),
                    "go mod download",
                    vec![
                        s("go.mod.hash", keys.real_gomod(c)),
                        s("cicd.pipeline.task.name", "deps"),
                    ],
                )
            } else if j == fact_at[2] {
                b.span(
                    j,
                    Some(0),
                    "go build",
                    vec![
                        s("vcs.ref.head.revision", keys.real_commit(c)),
                        s("cicd.pipeline.task.name", "build"),
                        s("process.command_line", "go build -trimpath ./cmd/server"),
                    ],
                )
            } else if j == fact_at[3] {
                b.span(
                    j,
                    Some(0),
                    "docker push",
                    vec![
                        s("oci.manifest.digest", keys.real_digest(bld)),
                        s("container.image.name", "ghcr.io/bench/server"),
                        strings(
                            "container.image.tags",
                            &[format!("build-{bld}"), "main".to_string()],
                        ),
                        s("cicd.pipeline.task.name", "publish"),
                    ],
                )
            } else if j % 10 == 0 {
                let task = TASKS[(j / 10) as usize % TASKS.len()];
                b.span(
                    j,
                    Some(parent),
                    task,
                    vec![
                        s("cicd.pipeline.task.name", task),
                        s("cicd.pipeline.task.run.id", format!("{bld}-{j}")),
                        s("cicd.pipeline.task.type", "test"),
                        int("process.exit.code", 0),
                    ],
                )
            } else {
                let route = ROUTES[(j as usize) % ROUTES.len()];
                b.span(
                    j,
                    Some(parent),
                    "GET",
                    vec![
                        s("http.request.method", "GET"),
                        s("http.route", route),
                        s("url.full", format!("https://proxy.example.test{route}")),
                        s("server.address", "proxy.example.test"),
                        int("server.port", 443),
                        int("http.response.status_code", 200),
                    ],
                )
            };
            out.push(span);
        }
        out.push(b.span(
            0,
            None,
            "run ci",
            vec![
                s("cicd.pipeline.run.id", keys.real_run_id(bld)),
                s("cicd.pipeline.name", "ci"),
                s("cicd.pipeline.result", "success"),
            ],
        ));
    }
    out.finish("realistic", builds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

    fn decode(w: &Workload) -> Vec<Span> {
        w.requests
            .iter()
            .flat_map(|r| {
                ExportTraceServiceRequest::decode(r.bytes.clone())
                    .expect("generated request decodes")
                    .resource_spans
                    .into_iter()
                    .flat_map(|rs| rs.scope_spans.into_iter().flat_map(|ss| ss.spans))
            })
            .collect()
    }

    #[test]
    fn adversarial_counts_and_split_roots() {
        let keys = Keys::new(7);
        let w = adversarial(&keys, 1000, 64);
        assert_eq!(w.spans, 4000);
        assert!(w.requests.iter().all(|r| r.spans <= 64));
        let spans = decode(&w);
        assert_eq!(spans.len(), 4000);
        // Trace 3's root is in a later request than its children.
        let t3 = keys.bytes(ADV_TRACE, 3, 16);
        let mut pos = Vec::new();
        let mut k = 0;
        for (ri, r) in w.requests.iter().enumerate() {
            for _ in 0..r.spans {
                if spans[k].trace_id == t3 {
                    pos.push((ri, spans[k].parent_span_id.is_empty()));
                }
                k += 1;
            }
        }
        let root_req = pos.iter().find(|p| p.1).map(|p| p.0);
        let child_req = pos.iter().filter(|p| !p.1).map(|p| p.0).max();
        assert!(root_req > child_req, "{pos:?}");
    }

    #[test]
    fn keys_are_unique_and_well_formed() {
        let keys = Keys::new(1);
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            assert!(seen.insert(keys.adv_digest(i)));
            assert_eq!(keys.adv_commit(i).len(), 40);
            assert_eq!(keys.adv_gomod(i).len(), 64);
        }
    }

    #[test]
    fn realistic_shape() {
        let keys = Keys::new(3);
        let w = realistic(&keys, 20, 200, 512);
        let spans = decode(&w);
        assert_eq!(spans.len() as u64, w.spans);
        assert!(w.spans > 20 * 140 && w.spans < 20 * 260, "{}", w.spans);
        let facts = spans
            .iter()
            .filter(|s| {
                s.attributes.iter().any(|a| {
                    matches!(
                        a.key.as_str(),
                        "vcs.ref.head.revision"
                            | "go.mod.hash"
                            | "oci.manifest.digest"
                            | "cicd.pipeline.run.id"
                    )
                })
            })
            .count();
        assert_eq!(facts, 20 * 5);
    }
}
