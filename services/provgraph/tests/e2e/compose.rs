//! The deployment files and the examples agree with the public contract
//! (shared/CONTRACT.md): docker-compose.yml, deploy/otel-collector.yaml and the
//! Dockerfile use the contract's ports and environment variables, and the
//! example OTLP/JSON exports carry the contract's attribute names.
//!
//! These tests only read files; they start nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// The workspace root: this crate lives in services/provgraph.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn read_yaml(path: &Path) -> Value {
    let text = read_text(path);
    serde_yaml::from_str(&text)
        .unwrap_or_else(|err| panic!("{} is not valid YAML: {err}", path.display()))
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = read_text(path);
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{} is not valid JSON: {err}", path.display()))
}

/// A YAML scalar as text (compose accepts numbers and booleans where it means
/// strings); `None` for null, sequences and mappings.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The scalar strings of a sequence, or of a single scalar.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items.iter().filter_map(scalar).collect(),
        Some(other) => scalar(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn compose() -> Value {
    read_yaml(&repo_root().join("docker-compose.yml"))
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let services = compose
        .get("services")
        .and_then(Value::as_mapping)
        .unwrap_or_else(|| panic!("docker-compose.yml has no `services` mapping"));
    services
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service `{name}`"))
}

/// A service's environment, written as a mapping (`KEY: value`) or as a
/// list (`- KEY=value`; a bare `- KEY` passes the host's value through and
/// maps to `None` here).
fn environment(service: &Value, name: &str) -> BTreeMap<String, Option<String>> {
    let mut env = BTreeMap::new();
    match service.get("environment") {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(map)) => {
            for (key, value) in map {
                let key = scalar(key);
                assert!(
                    key.is_some(),
                    "service `{name}`: an environment key is not a string"
                );
                env.insert(key.unwrap_or_default(), scalar(value));
            }
        }
        Some(Value::Sequence(items)) => {
            for item in items {
                let entry = scalar(item);
                assert!(
                    entry.is_some(),
                    "service `{name}`: environment entry {item:?} is not KEY=VALUE"
                );
                let entry = entry.unwrap_or_default();
                match entry.split_once('=') {
                    Some((key, value)) => env.insert(key.to_string(), Some(value.to_string())),
                    None => env.insert(entry, None),
                };
            }
        }
        Some(other) => {
            panic!("service `{name}`: `environment` must be a mapping or a list, found {other:?}")
        }
    }
    env
}

fn env_value<'a>(env: &'a BTreeMap<String, Option<String>>, service: &str, key: &str) -> &'a str {
    let value = env.get(key).and_then(|value| value.as_deref());
    assert!(
        value.is_some(),
        "service `{service}` does not set {key} in its environment (found: {:?})",
        env.keys().collect::<Vec<_>>()
    );
    value.unwrap_or_default()
}

/// One published port: `[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]` or the
/// long syntax.
#[derive(Debug)]
struct Port {
    host_ip: Option<String>,
    published: Option<String>,
    target: String,
}

impl Port {
    fn parse_short(spec: &str) -> Option<Port> {
        let spec = spec
            .split_once('/')
            .map_or(spec, |(ports, _protocol)| ports);
        // An IPv6 host address is written in brackets: [::1]:4317:4317.
        if let Some(rest) = spec.strip_prefix('[') {
            let (ip, rest) = rest.split_once("]:")?;
            let (published, target) = rest.split_once(':')?;
            return Some(Port {
                host_ip: Some(ip.to_string()),
                published: Some(published.to_string()),
                target: target.to_string(),
            });
        }
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [target] => Some(Port {
                host_ip: None,
                published: None,
                target: target.to_string(),
            }),
            [published, target] => Some(Port {
                host_ip: None,
                published: Some(published.to_string()),
                target: target.to_string(),
            }),
            [ip, published, target] => Some(Port {
                host_ip: Some(ip.to_string()),
                published: Some(published.to_string()),
                target: target.to_string(),
            }),
            _ => None,
        }
    }

    fn parse(value: &Value) -> Option<Port> {
        match value {
            Value::Mapping(_) => Some(Port {
                host_ip: value.get("host_ip").and_then(scalar),
                published: value.get("published").and_then(scalar),
                target: value.get("target").and_then(scalar)?,
            }),
            other => Port::parse_short(&scalar(other)?),
        }
    }

    /// Whether container port `port` is published on the same port of the
    /// host (either side may be a range `A-B`).
    fn publishes(&self, port: u16) -> bool {
        covers(&self.target, port) && self.published.as_deref().is_some_and(|p| covers(p, port))
    }
}

/// Whether a port spec, a number or a range `A-B`, includes `port`.
fn covers(spec: &str, port: u16) -> bool {
    let (low, high) = spec.split_once('-').unwrap_or((spec, spec));
    match (low.trim().parse::<u16>(), high.trim().parse::<u16>()) {
        (Ok(low), Ok(high)) => low <= port && port <= high,
        _ => false,
    }
}

fn ports(service: &Value, name: &str) -> Vec<Port> {
    let mut out = Vec::new();
    if let Some(Value::Sequence(items)) = service.get("ports") {
        for item in items {
            let port = Port::parse(item);
            assert!(
                port.is_some(),
                "service `{name}`: cannot read the port mapping {item:?}"
            );
            out.extend(port);
        }
    }
    out
}

/// A bind mount: the host path (as written) and the container path.
fn bind_mounts(service: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(Value::Sequence(items)) = service.get("volumes") {
        for item in items {
            match item {
                Value::Mapping(_) => {
                    let kind = item.get("type").and_then(scalar);
                    let source = item.get("source").and_then(scalar);
                    let target = item.get("target").and_then(scalar);
                    if let (Some("bind"), Some(source), Some(target)) =
                        (kind.as_deref(), source, target)
                    {
                        out.push((source, target));
                    }
                }
                other => {
                    let Some(spec) = scalar(other) else { continue };
                    let mut parts = spec.split(':');
                    let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    // A named volume has no path separator in its source.
                    if source.starts_with('.') || source.starts_with('/') || source.starts_with('~')
                    {
                        out.push((source.to_string(), target.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// The collector's command line, as a list of arguments.
fn command(service: &Value) -> Vec<String> {
    match service.get("command") {
        Some(Value::String(line)) => line.split_whitespace().map(str::to_string).collect(),
        other => strings(other),
    }
}

/// The file the collector reads its configuration from, inside the container.
fn collector_config_path(service: &Value) -> String {
    let args = command(service);
    let mut found = None;
    for (i, arg) in args.iter().enumerate() {
        if let Some(path) = arg.strip_prefix("--config=") {
            found = Some(path.to_string());
        } else if arg == "--config" {
            found = args.get(i + 1).cloned();
        }
    }
    let path = found.unwrap_or_else(|| "/etc/otelcol-contrib/config.yaml".to_string());
    path.strip_prefix("file:")
        .map(str::to_string)
        .unwrap_or(path)
}

/// The OTLP/gRPC exporter of a collector configuration: `otlp_grpc` (its
/// name from collector 0.144 on) or `otlp` (the older name), with or without
/// a `/NAME` suffix.
fn otlp_exporters(config: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    if let Some(exporters) = config.get("exporters").and_then(Value::as_mapping) {
        for (key, value) in exporters {
            let Some(key) = scalar(key) else { continue };
            let kind = key.split('/').next().unwrap_or_default();
            if kind == "otlp" || kind == "otlp_grpc" {
                out.push((key, value));
            }
        }
    }
    out
}

#[test]
fn compose_defines_the_three_services() {
    let compose = compose();
    for name in ["provgraph", "postgres", "otel-collector"] {
        service(&compose, name);
    }
}

#[test]
fn provgraph_uses_the_contract_environment() {
    let compose = compose();
    let provgraph = service(&compose, "provgraph");
    let env = environment(provgraph, "provgraph");

    let url = env_value(&env, "provgraph", "PROVGRAPH_DATABASE_URL");
    assert!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "provgraph's PROVGRAPH_DATABASE_URL should be a postgres:// URL, found {url:?}"
    );
    for (key, port) in [
        ("PROVGRAPH_OTLP_GRPC", ":4317"),
        ("PROVGRAPH_OTLP_HTTP", ":4318"),
        ("PROVGRAPH_API", ":8080"),
    ] {
        let value = env_value(&env, "provgraph", key);
        assert!(
            value.ends_with(port),
            "provgraph's {key} should end with {port}, found {value:?}"
        );
    }
}

#[test]
fn provgraph_waits_for_a_healthy_postgres() {
    let compose = compose();
    let provgraph = service(&compose, "provgraph");
    let condition = provgraph
        .get("depends_on")
        .and_then(|deps| deps.get("postgres"))
        .and_then(|postgres| postgres.get("condition"))
        .and_then(scalar);
    assert_eq!(
        condition.as_deref(),
        Some("service_healthy"),
        "provgraph should depend on postgres with `condition: service_healthy`"
    );
    let postgres = service(&compose, "postgres");
    assert!(
        postgres.get("healthcheck").is_some(),
        "postgres needs a healthcheck for provgraph's `service_healthy` to mean anything"
    );
}

#[test]
fn collector_publishes_the_otlp_ports() {
    let compose = compose();
    let collector = service(&compose, "otel-collector");
    let published = ports(collector, "otel-collector");
    for port in [4317, 4318] {
        assert!(
            published.iter().any(|p| p.publishes(port)),
            "otel-collector should publish container port {port} on host port {port}, found {published:?}"
        );
    }
}

#[test]
fn published_ports_bind_loopback_only() {
    // The contract's defaults bind loopback only; the compose file keeps that
    // stance on the host side.
    let compose = compose();
    let services = compose.get("services").and_then(Value::as_mapping);
    assert!(
        services.is_some(),
        "docker-compose.yml has no `services` mapping"
    );
    for (name, service) in services.into_iter().flatten() {
        let name = scalar(name).unwrap_or_default();
        for port in ports(service, &name) {
            assert!(
                matches!(port.host_ip.as_deref(), Some("127.0.0.1") | Some("::1")),
                "service `{name}` publishes {port:?} on all interfaces; bind it to 127.0.0.1"
            );
        }
    }
}

#[test]
fn collector_config_forwards_to_provgraph() {
    let compose = compose();
    let collector = service(&compose, "otel-collector");
    let config_path = collector_config_path(collector);
    let mounts = bind_mounts(collector);
    let mount = mounts.iter().find(|(_, target)| *target == config_path);
    assert!(
        mount.is_some(),
        "otel-collector reads {config_path} but no bind mount provides it (mounts: {mounts:?})"
    );
    let source = mount.map(|(source, _)| source.as_str()).unwrap_or_default();
    let file = repo_root().join(source);
    assert!(
        file.is_file(),
        "the collector configuration {source} mounted by otel-collector does not exist at {}",
        file.display()
    );

    let config = read_yaml(&file);
    let exporters = otlp_exporters(&config);
    assert!(
        !exporters.is_empty(),
        "{source} has no `otlp_grpc` (or `otlp`) exporter"
    );
    let forwarding: Vec<&String> = exporters
        .iter()
        .filter(|(_, exporter)| {
            exporter
                .get("endpoint")
                .and_then(scalar)
                .is_some_and(|endpoint| endpoint.contains("provgraph:4317"))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        !forwarding.is_empty(),
        "no OTLP exporter in {source} has an endpoint naming provgraph:4317"
    );

    // The traces pipeline uses it.
    let pipeline = config
        .get("service")
        .and_then(|service| service.get("pipelines"))
        .and_then(|pipelines| pipelines.get("traces"));
    assert!(pipeline.is_some(), "{source} has no traces pipeline");
    let used = strings(pipeline.and_then(|p| p.get("exporters")));
    assert!(
        forwarding.iter().any(|name| used.contains(name)),
        "the traces pipeline of {source} exports to {used:?}, not to {forwarding:?}"
    );
    let receivers = strings(pipeline.and_then(|p| p.get("receivers")));
    assert!(
        receivers
            .iter()
            .any(|r| r == "otlp" || r.starts_with("otlp/")),
        "the traces pipeline of {source} should receive OTLP, receives {receivers:?}"
    );

    // A persistent sending queue names a storage extension that is declared
    // and enabled; otherwise the collector refuses to start.
    let enabled = strings(
        config
            .get("service")
            .and_then(|service| service.get("extensions")),
    );
    for (name, exporter) in &exporters {
        let storage = exporter
            .get("sending_queue")
            .and_then(|queue| queue.get("storage"))
            .and_then(scalar);
        if let Some(storage) = storage {
            let declared = config
                .get("extensions")
                .and_then(|extensions| extensions.get(storage.as_str()))
                .is_some();
            assert!(
                declared,
                "exporter {name} queues in `{storage}`, which {source} does not declare under `extensions`"
            );
            assert!(
                enabled.contains(&storage),
                "exporter {name} queues in `{storage}`, which is not listed in `service.extensions` of {source}"
            );
        }
    }
}

#[test]
fn dockerfile_builds_the_release_binary() {
    let path = repo_root().join("Dockerfile");
    assert!(path.is_file(), "{} does not exist", path.display());
    let text = read_text(&path);
    assert!(
        text.contains("cargo build --release"),
        "the Dockerfile should build with `cargo build --release`"
    );
    assert!(
        text.contains(r#"ENTRYPOINT ["provgraph"]"#),
        "the Dockerfile should run the provgraph binary as its entrypoint"
    );
    for key in [
        "PROVGRAPH_DATABASE_URL",
        "PROVGRAPH_OTLP_GRPC",
        "PROVGRAPH_OTLP_HTTP",
        "PROVGRAPH_API",
    ] {
        assert!(text.contains(key), "the Dockerfile should set {key}");
    }
}

// ---------------------------------------------------------------------------
// The example OTLP/JSON exports
// ---------------------------------------------------------------------------

/// One span of an example, with the attributes of its resource.
struct ExampleSpan {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: Option<i64>,
    span_attributes: BTreeMap<String, serde_json::Value>,
    resource_attributes: BTreeMap<String, serde_json::Value>,
}

fn attributes(list: Option<&serde_json::Value>, file: &str) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for item in list
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = item.get("key").and_then(serde_json::Value::as_str);
        assert!(
            key.is_some(),
            "{file}: an attribute has no string `key`: {item}"
        );
        let value = item.get("value");
        assert!(value.is_some(), "{file}: attribute {key:?} has no `value`");
        out.insert(
            key.unwrap_or_default().to_string(),
            value.cloned().unwrap_or_default(),
        );
    }
    out
}

fn text_field(value: &serde_json::Value, field: &str) -> String {
    value
        .get(field)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn example_spans(file: &str) -> Vec<ExampleSpan> {
    let doc = read_json(&repo_root().join("examples").join(file));
    let resource_spans = doc
        .get("resourceSpans")
        .and_then(serde_json::Value::as_array);
    assert!(
        resource_spans.is_some_and(|list| !list.is_empty()),
        "{file}: no `resourceSpans` (an ExportTraceServiceRequest in lowerCamelCase)"
    );
    let mut spans = Vec::new();
    for rs in resource_spans.into_iter().flatten() {
        let resource_attributes = attributes(
            rs.get("resource")
                .and_then(|resource| resource.get("attributes")),
            file,
        );
        let scope_spans = rs.get("scopeSpans").and_then(serde_json::Value::as_array);
        for ss in scope_spans.into_iter().flatten() {
            for span in ss
                .get("spans")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                for time in ["startTimeUnixNano", "endTimeUnixNano"] {
                    let nanos = span.get(time).and_then(serde_json::Value::as_str);
                    assert!(
                        nanos.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
                        "{file}: span {:?} should give {time} as a decimal string",
                        span.get("name")
                    );
                }
                spans.push(ExampleSpan {
                    trace_id: text_field(span, "traceId"),
                    span_id: text_field(span, "spanId"),
                    parent_span_id: text_field(span, "parentSpanId"),
                    name: text_field(span, "name"),
                    kind: span.get("kind").and_then(serde_json::Value::as_i64),
                    span_attributes: attributes(span.get("attributes"), file),
                    resource_attributes: resource_attributes.clone(),
                });
            }
        }
    }
    assert!(!spans.is_empty(), "{file}: no spans");
    spans
}

fn is_hex(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every attribute name used in a file, on spans or resources.
fn attribute_names(spans: &[ExampleSpan]) -> BTreeSet<String> {
    spans
        .iter()
        .flat_map(|span| {
            span.span_attributes
                .keys()
                .chain(span.resource_attributes.keys())
        })
        .cloned()
        .collect()
}

/// The string value of an attribute, on the span or else on its resource.
fn string_attribute(span: &ExampleSpan, key: &str) -> Option<String> {
    span.span_attributes
        .get(key)
        .or_else(|| span.resource_attributes.get(key))
        .and_then(|value| value.get("stringValue"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

fn string_array_attribute(attrs: &BTreeMap<String, serde_json::Value>, key: &str) -> Vec<String> {
    attrs
        .get(key)
        .and_then(|value| value.get("arrayValue"))
        .and_then(|array| array.get("values"))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("stringValue").and_then(serde_json::Value::as_str))
        .map(str::to_string)
        .collect()
}

const BUILD_FACTS: [&str; 5] = [
    "cicd.pipeline.run.id",
    "vcs.ref.head.revision",
    "vcs.repository.url.full",
    "go.mod.hash",
    "oci.manifest.digest",
];

#[test]
fn sample_build_is_one_trace_with_the_contract_attributes() {
    let file = "sample-build.json";
    let spans = example_spans(file);
    let names = attribute_names(&spans);
    for key in BUILD_FACTS {
        assert!(
            names.contains(key),
            "{file} should carry the attribute {key}"
        );
    }

    for span in &spans {
        assert!(
            is_hex(&span.trace_id, 32),
            "{file}: span {:?} has trace id {:?}, not 32 hex digits",
            span.name,
            span.trace_id
        );
        assert!(
            is_hex(&span.span_id, 16),
            "{file}: span {:?} has span id {:?}, not 16 hex digits",
            span.name,
            span.span_id
        );
    }
    let traces: BTreeSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    assert_eq!(
        traces.len(),
        1,
        "{file}: all spans should share one trace id, found {traces:?}"
    );

    let roots: Vec<&ExampleSpan> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "{file}: expected exactly one root span");
    let root = roots[0];
    assert_eq!(
        root.kind,
        Some(2),
        "{file}: the root span {:?} should be SERVER (2)",
        root.name
    );
    for span in spans.iter().filter(|s| !s.parent_span_id.is_empty()) {
        assert_eq!(
            span.parent_span_id, root.span_id,
            "{file}: span {:?} should have the root span as its parent",
            span.name
        );
    }

    let commit = spans
        .iter()
        .find_map(|s| string_attribute(s, "vcs.ref.head.revision"));
    assert!(
        commit.as_deref().is_some_and(|c| is_hex(c, 40)),
        "{file}: vcs.ref.head.revision should be 40 hex digits, found {commit:?}"
    );
    let gomod = spans
        .iter()
        .find_map(|s| string_attribute(s, "go.mod.hash"));
    assert!(
        gomod
            .as_deref()
            .is_some_and(|g| is_hex(g.strip_prefix("sha256:").unwrap_or(g), 64)),
        "{file}: go.mod.hash should be 64 hex digits, found {gomod:?}"
    );
    let digest = spans
        .iter()
        .find_map(|s| string_attribute(s, "oci.manifest.digest"));
    assert!(
        digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
            .is_some_and(|hex| is_hex(hex, 64)),
        "{file}: oci.manifest.digest should be sha256: and 64 hex digits, found {digest:?}"
    );
    let digest = digest.unwrap_or_default();
    // The produced image is on the span, not on the resource (which would make
    // it the builder image).
    assert!(
        spans
            .iter()
            .any(|s| s.span_attributes.contains_key("oci.manifest.digest")),
        "{file}: oci.manifest.digest should be a span attribute (an image the build produced)"
    );
    let repo_digests: Vec<String> = spans
        .iter()
        .flat_map(|s| string_array_attribute(&s.span_attributes, "container.image.repo_digests"))
        .collect();
    assert!(
        repo_digests
            .iter()
            .any(|d| d.ends_with(&format!("@{digest}"))),
        "{file}: container.image.repo_digests {repo_digests:?} should name {digest}"
    );
}

#[test]
fn sample_workload_runs_the_image_the_build_pushed() {
    let file = "sample-workload.json";
    let spans = example_spans(file);
    for key in [
        "service.name",
        "k8s.namespace.name",
        "k8s.deployment.name",
        "deployment.environment.name",
        "container.image.repo_digests",
    ] {
        assert!(
            spans
                .iter()
                .all(|s| s.resource_attributes.contains_key(key)),
            "{file}: the resource should carry {key}"
        );
    }
    // No build facts anywhere in its trace, or it would be read as a build.
    let names = attribute_names(&spans);
    for key in BUILD_FACTS {
        assert!(
            !names.contains(key),
            "{file} should carry no build fact, found {key}"
        );
    }

    let build = example_spans("sample-build.json");
    let built_digest = build
        .iter()
        .find_map(|s| string_attribute(s, "oci.manifest.digest"))
        .unwrap_or_default();
    let running: Vec<String> = spans
        .iter()
        .flat_map(|s| {
            string_array_attribute(&s.resource_attributes, "container.image.repo_digests")
        })
        .collect();
    assert!(
        !built_digest.is_empty()
            && running
                .iter()
                .any(|d| d.ends_with(&format!("@{built_digest}"))),
        "{file}: the workload should run {built_digest}, its repo digests are {running:?}"
    );

    let build_traces: BTreeSet<&str> = build.iter().map(|s| s.trace_id.as_str()).collect();
    for span in &spans {
        assert!(
            is_hex(&span.trace_id, 32),
            "{file}: span {:?} has trace id {:?}, not 32 hex digits",
            span.name,
            span.trace_id
        );
        assert!(
            !build_traces.contains(span.trace_id.as_str()),
            "{file}: the workload's span {:?} should be in a different trace than the build",
            span.name
        );
    }
}
