//! Scale-out (issue #6): two provgraph processes on one PostgreSQL database,
//! fed overlapping traces in different orders at the same time (one over
//! OTLP/HTTP in order, the other over OTLP/gRPC in reverse; half of the
//! builds sent whole to both, the other half split span by span between
//! them), end with the graph one writer builds from the same spans, with no
//! duplicate rows; the only errors senders see are retryable (503 /
//! UNAVAILABLE), and retrying them succeeds.
//!
//! `PROVGRAPH_LONG=1` runs the long variant: more builds, more senders.

use std::time::Duration;

use crate::support::{Server, kv};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use provgraph_store::testing::{Flavor, TestDb, skip_postgres};
use sqlx::Connection;

fn long() -> bool {
    std::env::var("PROVGRAPH_LONG").is_ok_and(|v| v == "1")
}

/// One span of build `build`: 1 checkout, 2 push, 3 the root with the run id.
/// Builds share commits, repositories and go.mod files, so the two writers
/// upsert the same rows.
fn span(build: usize, part: u64) -> Span {
    let attributes = match part {
        1 => vec![
            kv("vcs.ref.head.revision", format!("{:040x}", build % 23 + 1)),
            kv(
                "vcs.repository.url.full",
                format!("https://github.com/replicas/repo-{}", build % 5),
            ),
            kv("go.mod.hash", format!("{:064x}", build % 11 + 1)),
        ],
        2 => vec![
            kv("oci.manifest.digest", format!("sha256:{:064x}", build + 1)),
            kv("container.image.name", "ghcr.io/replicas/app"),
        ],
        _ => vec![
            kv("cicd.pipeline.run.id", format!("run-{build}")),
            kv("cicd.pipeline.name", format!("pipeline-{}", build % 3)),
        ],
    };
    Span {
        trace_id: (build as u128 + 1).to_be_bytes().to_vec(),
        span_id: part.to_be_bytes().to_vec(),
        name: format!("part-{part}"),
        attributes,
        ..Default::default()
    }
}

/// Requests of `per_request` spans each, in the order given.
fn requests(spans: Vec<Span>, per_request: usize) -> Vec<ExportTraceServiceRequest> {
    spans
        .chunks(per_request)
        .map(|chunk| crate::support::spans_request(chunk.to_vec()))
        .collect()
}

/// What one sender saw: retryable refusals, retried until success.
#[derive(Default, Debug)]
struct Seen {
    requests: usize,
    refusals: usize,
}

async fn send_http(addr: std::net::SocketAddr, bodies: Vec<ExportTraceServiceRequest>) -> Seen {
    let client = reqwest::Client::new();
    let mut seen = Seen::default();
    for request in bodies {
        let body = request.encode_to_vec();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let response = client
                .post(format!("http://{addr}/v1/traces"))
                .header("content-type", "application/x-protobuf")
                .timeout(Duration::from_secs(60))
                .body(body.clone())
                .send()
                .await
                .expect("answered");
            match response.status().as_u16() {
                200 => break,
                503 => {
                    assert!(response.headers().contains_key("retry-after"));
                    seen.refusals += 1;
                    assert!(attempts < 50, "refused 50 times in a row");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => panic!(
                    "a non-retryable error reached the sender: {other} {}",
                    response.text().await.unwrap_or_default()
                ),
            }
        }
        seen.requests += 1;
    }
    seen
}

async fn send_grpc(addr: std::net::SocketAddr, bodies: Vec<ExportTraceServiceRequest>) -> Seen {
    let mut client = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("gRPC connect");
    let mut seen = Seen::default();
    for request in bodies {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut call = tonic::Request::new(request.clone());
            call.set_timeout(Duration::from_secs(60));
            match client.export(call).await {
                Ok(_) => break,
                Err(status) if status.code() == tonic::Code::Unavailable => {
                    seen.refusals += 1;
                    assert!(attempts < 50, "refused 50 times in a row: {status:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(status) => panic!("a non-retryable error reached the sender: {status:?}"),
            }
        }
        seen.requests += 1;
    }
    seen
}

/// Rows per table, and rows per distinct natural key (equal when there are
/// no duplicates).
async fn row_counts(url: &str) -> Vec<(&'static str, i64, i64)> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let tables: [(&str, &str); 6] = [
        ("nodes", "kind, key"),
        ("edges", "kind, from_id, to_id"),
        ("edge_evidence", "edge_id, trace_id, span_id"),
        ("node_attrs", "node_id, name, value"),
        ("traces", "trace_id"),
        ("span_facts", "trace_id, span_id"),
    ];
    let mut counts = Vec::new();
    for (table, key) in tables {
        let (rows, distinct): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT {key} FROM {table}) AS d) FROM {table}"
        ))
        .fetch_one(&mut conn)
        .await
        .expect("count");
        counts.push((table, rows, distinct));
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_build_one_writers_graph() {
    let _alone = crate::support::alone();
    if skip_postgres() {
        eprintln!("SKIPPED: two_replicas_on_one_postgres (PROVGRAPH_SKIP_POSTGRES=1)");
        return;
    }
    let started = std::time::Instant::now();
    let builds = if long() { 3000 } else { 400 };
    let senders = if long() { 4 } else { 2 };
    let per_request = 12;

    // Builds 0..builds/2 go whole to both replicas; the rest are split: the
    // checkout and the root to A, the push to B.
    let half = builds / 2;
    let mut to_a = Vec::new();
    let mut to_b = Vec::new();
    for build in 0..builds {
        for part in 1..=3 {
            if build < half {
                to_a.push(span(build, part));
                to_b.push(span(build, part));
            } else if part == 2 {
                to_b.push(span(build, part));
            } else {
                to_a.push(span(build, part));
            }
        }
    }
    // A sends in order (children before roots); B in reverse (roots first),
    // with its spans interleaved so that one request mixes many traces.
    to_b.reverse();
    let stride = 7;
    let to_b: Vec<Span> = (0..stride)
        .flat_map(|offset| to_b.iter().skip(offset).step_by(stride).cloned())
        .collect();
    let all: Vec<Span> = (0..builds)
        .flat_map(|build| (1..=3).map(move |part| span(build, part)))
        .collect();

    let db = TestDb::new(Flavor::Postgres).await;
    let a = Server::start_on(&db.url, &[]);
    let b = Server::start_on(&db.url, &[]);
    // Each replica gets its requests from several concurrent senders (round
    // robin), so each also groups requests into shared commits.
    let mut tasks = Vec::new();
    for (spans, server, grpc) in [(to_a, &a, false), (to_b, &b, true)] {
        let requests = requests(spans, per_request);
        for s in 0..senders {
            let mine: Vec<ExportTraceServiceRequest> =
                requests.iter().skip(s).step_by(senders).cloned().collect();
            tasks.push(if grpc {
                tokio::spawn(send_grpc(server.grpc, mine))
            } else {
                tokio::spawn(send_http(server.http, mine))
            });
        }
    }
    let mut sent = 0;
    let mut refusals = 0;
    for task in tasks {
        let seen = task.await.expect("sender");
        sent += seen.requests;
        refusals += seen.refusals;
    }
    // Each replica answers for what the other wrote: A never received the
    // push spans of the split builds, B never their roots.
    for build in (half..builds).step_by((builds / 20).max(1)) {
        let query = format!(
            "{{ lineage(kind: ARTIFACT, key: \"sha256:{:064x}\", direction: UPSTREAM) {{ nodes {{ kind key }} }} }}",
            build + 1
        );
        for server in [&a, &b] {
            let keys = crate::support::node_keys(&server.data(&query).await["lineage"]);
            for want in [
                format!("BUILD:run-{build}"),
                format!("COMMIT:{:040x}", build % 23 + 1),
                format!("REPOSITORY:github.com/replicas/repo-{}", build % 5),
            ] {
                assert!(keys.contains(&want), "{want} in {keys:?}");
            }
        }
    }
    let stderr = format!("{}\n{}", a.stderr(), b.stderr());
    a.stop().await;
    b.stop().await;

    let clean = TestDb::new(Flavor::Postgres).await;
    let one = Server::start_on(&clean.url, &[]);
    let seen = send_http(one.http, requests(all, per_request)).await;
    assert_eq!(seen.refusals, 0);
    one.stop().await;

    let two = db.store().await.unwrap().snapshot().await.unwrap();
    let reference = clean.store().await.unwrap().snapshot().await.unwrap();
    assert_eq!(two.dangling, 0);
    assert_eq!(two.nodes.len(), reference.nodes.len(), "nodes");
    assert_eq!(two.edges.len(), reference.edges.len(), "edges");
    assert_eq!(two.evidence.len(), reference.evidence.len(), "evidence");
    assert_eq!(two.attrs.len(), reference.attrs.len(), "attributes");
    assert!(
        two == reference,
        "two replicas built the one writer's graph"
    );

    let counts = row_counts(&db.url).await;
    let reference_counts = row_counts(&clean.url).await;
    for ((table, rows, distinct), (_, reference_rows, _)) in counts.iter().zip(&reference_counts) {
        assert_eq!(rows, distinct, "duplicate rows in {table}");
        assert_eq!(
            rows, reference_rows,
            "{table}: as many rows as one writer's"
        );
    }
    let retried_inside = stderr.matches("retrying batch").count();
    println!(
        "two replicas, {builds} builds, {sent} requests from {} senders: same graph as one writer \
         ({} nodes, {} edges, {} evidence); rows {counts:?}; {refusals} retryable refusals seen by \
         senders, {retried_inside} conflicts retried inside; {:?}",
        senders * 2,
        reference.nodes.len(),
        reference.edges.len(),
        reference.evidence.len(),
        started.elapsed()
    );
    db.cleanup().await;
    clean.cleanup().await;
}
