//! End to end with the real OpenTelemetry SDK and exporter: spans of one
//! build sent in pieces over OTLP/gRPC (gzip, zstd) and OTLP/HTTP, children
//! before the root, then lineage asked over GraphQL on real HTTP. Runs on a
//! SQLite file and on PostgreSQL.

use crate::support::{Server, node_keys};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{
    Protocol, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use provgraph_store::testing::Flavor;

const COMMIT: &str = "3f786850e387550fdab836ed7e6dc881de23001b";
const PRODUCT: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const BUILDER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const GOMOD_HEX: &str = "3333333333333333333333333333333333333333333333333333333333333333";

fn grpc_provider(
    server: &Server,
    resource: Resource,
    compression: opentelemetry_otlp::Compression,
) -> SdkTracerProvider {
    let exporter = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", server.grpc))
        .with_compression(compression)
        .build()
        .expect("gRPC exporter");
    SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(resource)
        .build()
}

fn http_provider(server: &Server, resource: Resource, protocol: Protocol) -> SdkTracerProvider {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(format!("http://{}/v1/traces", server.http))
        .with_compression(opentelemetry_otlp::Compression::Gzip)
        .build()
        .expect("HTTP exporter");
    SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(resource)
        .build()
}

fn strings(items: &[&str]) -> opentelemetry::Value {
    let values: Vec<opentelemetry::StringValue> =
        items.iter().map(|s| s.to_string().into()).collect();
    opentelemetry::Value::Array(values.into())
}

/// A context whose remote parent puts new spans in the given trace.
fn in_trace(trace: u128) -> Context {
    let parent = SpanContext::new(
        TraceId::from_bytes(trace.to_be_bytes()),
        SpanId::from_bytes(0x0102030405060708u64.to_be_bytes()),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(parent)
}

fn span(
    provider: &SdkTracerProvider,
    parent: &Context,
    name: &'static str,
    attributes: Vec<KeyValue>,
) {
    let tracer = provider.tracer("provgraph-e2e");
    let span = tracer
        .span_builder(name)
        .with_attributes(attributes)
        .start_with_context(&tracer, parent);
    drop(span); // ends and exports (simple processor)
}

async fn sdk_spans_over_grpc_and_http_build_the_lineage(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    let trace = 0xabcdef00_11223344_55667788_99aabbcc_u128;
    let build = in_trace(trace);

    // Children first, over gRPC (gzip), from a runner inside the builder image.
    let runner = Resource::builder()
        .with_service_name("ci-runner")
        .with_attribute(KeyValue::new(
            "container.image.repo_digests",
            strings(&[&format!("ghcr.io/acme/builder@{BUILDER}")]),
        ))
        .build();
    let tasks = grpc_provider(&server, runner, opentelemetry_otlp::Compression::Gzip);
    span(
        &tasks,
        &build,
        "go build",
        vec![
            KeyValue::new("vcs.ref.head.revision", COMMIT.to_uppercase()),
            KeyValue::new("vcs.repository.url.full", "git@github.com:Acme/Calc.git"),
            KeyValue::new("go.mod.hash", GOMOD_HEX),
        ],
    );
    let pusher = grpc_provider(
        &server,
        Resource::builder().with_service_name("pusher").build(),
        opentelemetry_otlp::Compression::Zstd,
    );
    span(
        &pusher,
        &build,
        "docker push",
        vec![
            KeyValue::new("oci.manifest.digest", PRODUCT),
            KeyValue::new("container.image.name", "ghcr.io/acme/calc"),
            KeyValue::new("container.image.tags", strings(&["v1.0.0", "latest"])),
        ],
    );
    tasks.shutdown().expect("flush gRPC");
    pusher.shutdown().expect("flush gRPC zstd");

    // Then the root over HTTP/protobuf, with the run id as an integer (as
    // the Collector's GitHub receiver sends it).
    let ci = Resource::builder()
        .with_service_name("github-actions")
        .with_attribute(KeyValue::new("cicd.pipeline.run.id", 9_876_543_210_i64))
        .with_attribute(KeyValue::new("cicd.pipeline.name", "release"))
        .build();
    let root = http_provider(&server, ci, Protocol::HttpBinary);
    span(
        &root,
        &build,
        "release calc",
        vec![KeyValue::new("vcs.ref.head.name", "main")],
    );
    root.shutdown().expect("flush HTTP");

    // A running service, over HTTP/JSON, in its own trace.
    let service = Resource::builder()
        .with_service_name("calc-api")
        .with_attributes([
            KeyValue::new("k8s.namespace.name", "payments"),
            KeyValue::new("k8s.deployment.name", "calc"),
            KeyValue::new("deployment.environment.name", "prod"),
            KeyValue::new(
                "container.image.repo_digests",
                strings(&[&format!("ghcr.io/acme/calc@{PRODUCT}")]),
            ),
        ])
        .build();
    let workload = http_provider(&server, service, Protocol::HttpJson);
    span(
        &workload,
        &in_trace(0x77),
        "GET /sum",
        vec![KeyValue::new("http.route", "/sum")],
    );
    workload.shutdown().expect("flush HTTP JSON");

    let up = server
        .data(&format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{PRODUCT}", direction: UPSTREAM) {{ nodes {{ kind key }} truncated }} }}"#
        ))
        .await;
    let mut keys = node_keys(&up["lineage"]);
    keys.sort();
    let mut want = vec![
        format!("ARTIFACT:{PRODUCT}"),
        format!("ARTIFACT:{BUILDER}"),
        "BUILD:9876543210".to_string(),
        format!("COMMIT:{COMMIT}"),
        "REPOSITORY:github.com/acme/calc".to_string(),
        format!("GOMOD:sha256:{GOMOD_HEX}"),
    ];
    want.sort();
    assert_eq!(keys, want, "upstream lineage of the image");
    assert_eq!(up["lineage"]["truncated"], false);

    // The incident question: this commit is bad; what runs it?
    let down = server
        .data(&format!(
            r#"{{ lineage(kind: COMMIT, key: "{COMMIT}", direction: DOWNSTREAM) {{ nodes {{ kind key }} }}
                  commit(sha: "{}") {{ builds {{ id pipelines branches }} artifacts {{ digest tags }} workloads {{ key lastSeen }} }} }}"#,
            COMMIT.to_uppercase()
        ))
        .await;
    let keys = node_keys(&down["lineage"]);
    assert!(
        keys.contains(&"WORKLOAD:prod/payments/calc".to_string()),
        "{keys:?}"
    );
    assert!(keys.contains(&format!("ARTIFACT:{PRODUCT}")));
    assert!(
        !keys.contains(&format!("ARTIFACT:{BUILDER}")),
        "the builder image is an input, not a product"
    );
    let commit = &down["commit"];
    assert_eq!(commit["builds"][0]["id"], "9876543210");
    assert_eq!(commit["builds"][0]["pipelines"][0], "release");
    assert_eq!(commit["builds"][0]["branches"][0], "main");
    assert_eq!(
        commit["artifacts"][0]["tags"],
        serde_json::json!(["latest", "v1.0.0"])
    );
    assert_eq!(commit["workloads"][0]["key"], "prod/payments/calc");

    // Says who: every edge names its trace, span and sender.
    let audit = server
        .data(&format!(
            r#"{{ artifact(digest: "{PRODUCT}") {{ builds {{ id }} repositories {{ key }} goMods {{ hash }} workloads {{ key }}
                  node {{ kind }} }}
                 lineage(kind: ARTIFACT, key: "{PRODUCT}", direction: UPSTREAM, maxDepth: 1) {{
                   edges {{ kind from {{ key }} to {{ key }} evidence {{ kind traceId spanId sender }} }} }} }}"#
        ))
        .await;
    assert_eq!(
        audit["artifact"]["repositories"][0]["key"],
        "github.com/acme/calc"
    );
    assert_eq!(
        audit["artifact"]["goMods"][0]["hash"],
        format!("sha256:{GOMOD_HEX}")
    );
    let edges = audit["lineage"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["kind"], "BUILT_BY");
    let evidence = &edges[0]["evidence"][0];
    assert_eq!(evidence["kind"], "CLAIMED");
    assert_eq!(evidence["traceId"], format!("{trace:032x}"));
    assert_eq!(evidence["sender"], "pusher");
    assert_eq!(evidence["spanId"].as_str().unwrap().len(), 16);

    // The provisional build named after the trace id is gone.
    let provisional = server
        .data(&format!(
            r#"{{ node(kind: BUILD, key: "{trace:032x}") {{ key }} }}"#
        ))
        .await;
    assert!(provisional["node"].is_null(), "{provisional}");
    server.stop().await;
}

/// "Which images and running workloads use golang.org/x/net v0.17.0?"
async fn module_queries_reach_images_and_workloads(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    let ci = Resource::builder().with_service_name("ci").build();
    let provider = grpc_provider(&server, ci, opentelemetry_otlp::Compression::Gzip);
    for (trace, run, net, image) in [
        (0x10u128, "m-1", "v0.17.0", PRODUCT),
        (0x20u128, "m-2", "v0.23.0", BUILDER),
    ] {
        span(
            &provider,
            &in_trace(trace),
            "go build",
            vec![
                KeyValue::new("cicd.pipeline.run.id", run),
                KeyValue::new("go.mod.hash", format!("{trace:064x}")),
                KeyValue::new("go.module.path", "github.com/acme/calc"),
                KeyValue::new("go.module.go_version", "1.22"),
                KeyValue::new(
                    "go.mod.requires",
                    strings(&[
                        &format!("golang.org/x/net@{net}"),
                        "github.com/google/uuid@v1.6.0",
                    ]),
                ),
                KeyValue::new(
                    "go.mod.requires.indirect",
                    strings(&["golang.org/x/text@v0.14.0"]),
                ),
                KeyValue::new("oci.manifest.digest", image),
            ],
        );
    }
    provider.shutdown().expect("flush");
    let service = Resource::builder()
        .with_service_name("calc-api")
        .with_attributes([
            KeyValue::new("k8s.deployment.name", "calc"),
            KeyValue::new(
                "container.image.repo_digests",
                strings(&[&format!("ghcr.io/acme/calc@{PRODUCT}")]),
            ),
        ])
        .build();
    let workload = http_provider(&server, service, Protocol::HttpBinary);
    span(&workload, &in_trace(0x99), "GET /", vec![]);
    workload.shutdown().expect("flush");

    let data = server
        .data(
            r#"{ all: module(path: "golang.org/x/net") { path versions { version indirectOnly goMods { modulePath } artifacts { digest } workloads { key } } }
                 one: module(path: "golang.org/x/net", version: "v0.17.0") { versions { key builds { id } } }
                 text: module(path: "golang.org/x/text") { versions { indirectOnly artifacts { digest } } }
                 none: module(path: "golang.org/x/crypto") { versions { key } } }"#,
        )
        .await;
    let versions = data["all"]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{data}");
    assert_eq!(versions[0]["version"], "v0.17.0");
    assert_eq!(versions[0]["artifacts"][0]["digest"], PRODUCT);
    assert_eq!(versions[0]["workloads"][0]["key"], "-/-/calc");
    assert_eq!(
        versions[0]["goMods"][0]["modulePath"],
        "github.com/acme/calc"
    );
    assert_eq!(versions[0]["indirectOnly"], false);
    assert_eq!(versions[1]["version"], "v0.23.0");
    assert_eq!(versions[1]["workloads"], serde_json::json!([]));
    assert_eq!(data["one"]["versions"][0]["builds"][0]["id"], "m-1");
    assert_eq!(data["text"]["versions"][0]["indirectOnly"], true);
    assert_eq!(
        data["text"]["versions"][0]["artifacts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(data["none"]["versions"], serde_json::json!([]));
    let bad = server
        .graphql(r#"{ module(path: "golang.org/x/net", version: "0.17.0") { path } }"#)
        .await;
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("starts with v"),
        "{bad}"
    );
    server.stop().await;
}

/// A service that sends only metrics (OTLP/gRPC) and logs (OTLP/HTTP JSON
/// and protobuf) through the real SDK appears as a workload running its
/// image, with the identity the Kubernetes conventions give; nothing of its
/// data points or log records is stored.
async fn sdk_metrics_and_logs_make_the_workload_appear(flavor: Flavor) {
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry::metrics::MeterProvider as _;

    let server = Server::start(flavor, &[]).await;
    let running = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
    let resource = || {
        Resource::builder()
            .with_service_name("ledger")
            .with_attribute(KeyValue::new("k8s.cluster.name", "eu-1"))
            .with_attribute(KeyValue::new("k8s.namespace.name", "payments"))
            .with_attribute(KeyValue::new("k8s.statefulset.name", "ledger-db"))
            .with_attribute(KeyValue::new("deployment.environment.name", "prod"))
            .with_attribute(KeyValue::new(
                "container.image.repo_digests",
                strings(&[&format!("ghcr.io/acme/ledger@{running}")]),
            ))
            .build()
    };
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", server.grpc))
        .build()
        .expect("metrics exporter");
    let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_periodic_exporter(exporter)
        .with_resource(resource())
        .build();
    let requests = meters.meter("ledger").u64_counter("requests").build();
    requests.add(3, &[KeyValue::new("route", "/pay")]);
    tokio::task::spawn_blocking(move || meters.shutdown())
        .await
        .unwrap()
        .expect("metrics exported");

    for protocol in [Protocol::HttpJson, Protocol::HttpBinary] {
        let exporter = opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(format!("http://{}/v1/logs", server.http))
            .build()
            .expect("logs exporter");
        let loggers = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(exporter)
            .with_resource(resource())
            .build();
        let logger = loggers.logger("ledger");
        let mut record = logger.create_log_record();
        record.set_body("payment accepted".into());
        logger.emit(record);
        tokio::task::spawn_blocking(move || loggers.shutdown())
            .await
            .unwrap()
            .expect("logs exported");
    }

    let key = "eu-1/prod/payments/ledger-db";
    let data = server
        .data(&format!(
            r#"{{ workload(key: "{key}") {{ key lastSeen artifacts {{ digest }} }} }}"#
        ))
        .await;
    assert_eq!(data["workload"]["key"], key, "{data}");
    assert_eq!(
        data["workload"]["artifacts"][0]["digest"], running,
        "{data}"
    );
    let metrics = reqwest::get(format!("http://{}/metrics", server.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert!(value("provgraph_data_points_total") >= 1);
    assert_eq!(value("provgraph_log_records_total"), 2);
    assert_eq!(value("provgraph_workloads_seen_5m"), 1);
    server.stop().await;
}

provgraph_store::both_databases!(
    sdk_spans_over_grpc_and_http_build_the_lineage,
    module_queries_reach_images_and_workloads,
    sdk_metrics_and_logs_make_the_workload_appear,
);
