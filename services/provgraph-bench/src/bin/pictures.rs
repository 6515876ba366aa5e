//! `pictures`: what drawing a lineage costs. In process, the time
//! `provgraph_picture::render` takes for a 15-node lineage and for a
//! 1,000-node answer (grouped), in every format; against the real server
//! (`--provgraph PATH`, a release build; a fresh SQLite file), the time
//! `GET /v1/lineage?format=svg` takes on loopback for the same two shapes
//! sent as OTLP/JSON builds and workloads, and the answer's size. Prints
//! Markdown on stdout.
//!
//! ```sh
//! cargo build --release -p provgraph -p provgraph-bench
//! target/release/pictures --provgraph target/release/provgraph
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use provgraph_picture::{Edge, EdgeKind, Format, Node, NodeKind, Subgraph, Support, render};
use serde_json::json;

/// Runs of each measurement.
const RUNS: usize = 200;

fn digest(n: usize) -> String {
    format!("sha256:{n:064x}")
}

/// A repository's downstream lineage: `builds` builds, each with its own
/// commit and image, and `workloads` workloads running the first images.
/// 2 commits shared below: with `builds` 4 and `workloads` 4, 15 nodes.
fn shape(builds: usize, workloads: usize, commits: usize) -> Subgraph {
    let node = |kind, key: String| Node { kind, key };
    let edge = |kind, from, to| Edge {
        kind,
        from,
        to,
        support: Support::Claimed,
    };
    let mut nodes = vec![node(NodeKind::Repository, "github.com/acme/hub".into())];
    let mut edges = Vec::new();
    for c in 0..commits {
        nodes.push(node(NodeKind::Commit, format!("{c:040x}")));
        edges.push(edge(EdgeKind::InRepository, c + 1, 0));
    }
    for b in 0..builds {
        let build = nodes.len();
        nodes.push(node(NodeKind::Build, format!("run-{b}")));
        nodes.push(node(NodeKind::Artifact, digest(b)));
        edges.push(edge(EdgeKind::FromRepository, build, 0));
        edges.push(edge(EdgeKind::FromCommit, build, 1 + b % commits));
        edges.push(edge(EdgeKind::BuiltBy, build + 1, build));
    }
    for w in 0..workloads {
        nodes.push(node(NodeKind::Workload, format!("prod/ns/service-{w}")));
        edges.push(edge(
            EdgeKind::Runs,
            nodes.len() - 1,
            2 + commits + 2 * (w % builds),
        ));
    }
    Subgraph {
        nodes,
        edges,
        truncated: false,
    }
}

/// Median and 99th percentile of `samples`, in milliseconds.
fn summary(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

fn in_process(name: &str, subgraph: &Subgraph) {
    for format in Format::ALL {
        let mut size = 0;
        let samples: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                size = render(subgraph, format).len();
                start.elapsed()
            })
            .collect();
        let (median, p99) = summary(samples);
        println!(
            "| {name} | {} | {} | {median:.3} ms | {p99:.3} ms | {size} bytes |",
            subgraph.nodes.len(),
            format.as_str()
        );
    }
}

/// OTLP/JSON for the shape: one trace per build (run id, commit,
/// repository, image), one per workload (a resource naming its image).
fn otlp(
    repository: &str,
    base: usize,
    builds: usize,
    workloads: usize,
    commits: usize,
) -> serde_json::Value {
    let attr = |k: &str, v: String| json!({"key": k, "value": {"stringValue": v}});
    let mut resource_spans = Vec::new();
    for b in 0..builds {
        resource_spans.push(json!({
            "resource": {"attributes": [attr("service.name", "ci".into())]},
            "scopeSpans": [{"spans": [{
                "traceId": format!("{:032x}", base + b + 1), "spanId": "0000000000000001", "name": "release",
                "startTimeUnixNano": "1", "endTimeUnixNano": "2",
                "attributes": [
                    attr("cicd.pipeline.run.id", format!("{repository}-{b}")),
                    attr("cicd.pipeline.name", repository.into()),
                    attr("vcs.ref.head.revision", format!("{:040x}", base + b % commits)),
                    attr("vcs.repository.url.full", format!("https://github.com/acme/{repository}")),
                    attr("oci.manifest.digest", digest(base + b)),
                ]}]}]
        }));
    }
    for w in 0..workloads {
        resource_spans.push(json!({
            "resource": {"attributes": [
                attr("service.name", format!("service-{w}")),
                attr("k8s.namespace.name", "ns".into()),
                attr("deployment.environment.name", "prod".into()),
                {"key": "container.image.repo_digests", "value": {"arrayValue": {"values": [
                    {"stringValue": format!("registry.example/hub@{}", digest(base + w % builds))}]}}},
            ]},
            "scopeSpans": [{"spans": [{
                "traceId": format!("{:032x}", base + 1_000_000 + w), "spanId": "0000000000000001", "name": "GET /",
                "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]
        }));
    }
    json!({ "resourceSpans": resource_spans })
}

async fn against_server(binary: &PathBuf) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("provgraph-pictures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut child = Command::new(binary)
        .args(["serve", "--database-url"])
        .arg(format!("sqlite://{}", dir.join("bench.db").display()))
        .args([
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let address = |name: &str| {
        line.split_whitespace()
            .find_map(|part| part.strip_prefix(&format!("{name}=")).map(str::to_string))
            .ok_or(format!("no {name} in the ready line {line:?}"))
    };
    let (http, api) = (address("otlp-http")?, address("api")?);
    let client = reqwest::Client::new();
    let mut result = Ok(());
    let shapes = [
        ("15-node lineage", "small", 0, 4, 4, 2),
        ("1,000-node answer", "large", 10_000, 333, 0, 333),
    ];
    for (name, repository, base, builds, workloads, commits) in shapes {
        let body = otlp(repository, base, builds, workloads, commits).to_string();
        let sent = client
            .post(format!("http://{http}/v1/traces"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !sent.status().is_success() {
            result = Err(format!("export refused: {}", sent.status()));
            break;
        }
        let url = format!(
            "http://{api}/v1/lineage?kind=REPOSITORY&key=github.com/acme/{repository}&direction=DOWNSTREAM&format=svg"
        );
        let mut samples = Vec::with_capacity(RUNS);
        let mut size = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            let answer = client.get(&url).send().await.map_err(|e| e.to_string())?;
            let status = answer.status();
            size = answer.bytes().await.map_err(|e| e.to_string())?.len();
            samples.push(start.elapsed());
            if !status.is_success() {
                return Err(format!("GET /v1/lineage: {status}"));
            }
        }
        let (median, p99) = summary(samples);
        println!(
            "| {name} (server holds {} nodes) | svg | {median:.2} ms | {p99:.2} ms | {size} bytes |",
            1 + commits + 2 * builds + workloads
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    println!("In process (`provgraph_picture::render`, {RUNS} runs):\n");
    println!("| shape | nodes | format | median | p99 | size |\n|---|---|---|---|---|---|");
    in_process("15-node lineage", &shape(4, 4, 2));
    in_process("1,000-node answer, grouped", &shape(333, 0, 333));
    let mut args = std::env::args().skip(1);
    if let (Some(flag), Some(binary)) = (args.next(), args.next())
        && flag == "--provgraph"
    {
        println!(
            "\nReal server, `GET /v1/lineage` on loopback ({RUNS} requests, one at a time):\n"
        );
        println!("| shape | format | median | p99 | size |\n|---|---|---|---|---|");
        against_server(&PathBuf::from(binary)).await?;
    }
    Ok(())
}
