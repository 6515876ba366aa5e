//! Database faults under a running server (issue #6): a dedicated PostgreSQL
//! cluster stopped and started while provgraph serves, and a SQLite file on a
//! tmpfs that fills up. While the database is gone, exports answer 503 with
//! Retry-After (HTTP) or UNAVAILABLE (gRPC), queries answer a GraphQL error
//! that says the database is unavailable, `/readyz` says not ready, and the
//! process stays up; once the database is back, service resumes without a
//! restart (PostgreSQL, a full disk), the real OpenTelemetry exporter's retries deliver what was
//! refused, and the graph equals a clean run's.
//!
//! The read-only case uses ext4 on a loop device, which its own error path
//! (`errors=remount-ro`) turns read-only under open files: a tmpfs cannot be
//! remounted read-only while provgraph holds the database open for writing
//! (EBUSY). Reads go on, writes are refused, and since ext4 cannot be made
//! writable again while files are open, the operator stops provgraph,
//! repairs, and starts it again.
//!
//! These tests need root (to mount a tmpfs) and PostgreSQL's cluster tools
//! (`pg_createcluster`, `pg_ctlcluster`). The PostgreSQL cluster
//! `provgraph_faults` is created on first use (on a free port, trust auth on
//! loopback) and left in place, stopped or started as the test needs; the
//! server the other tests use is never touched. Without root or the tools the
//! tests say why and pass, unless `PROVGRAPH_REQUIRE_FAULTS=1`.
//!
//! `PROVGRAPH_LONG=1` runs the long variant: more outages, more data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Server, kv};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{
    Protocol, RetryPolicy, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use prost::Message;
use provgraph_model::NodeKind;
use provgraph_store::testing::{Flavor, TestDb};
use provgraph_store::{Store, StoreOptions};
use sqlx::Connection;

const CLUSTER: &str = "provgraph_faults";

fn long() -> bool {
    std::env::var("PROVGRAPH_LONG").is_ok_and(|v| v == "1")
}

/// Why fault injection is impossible here, if it is.
fn cannot_inject(tools: &[&str]) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0");
    if !root {
        return Some("not running as root (mounting a tmpfs, running pg_ctlcluster)".into());
    }
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// True when the test should return now (it said why); panics instead when
/// `PROVGRAPH_REQUIRE_FAULTS=1`.
fn skip(test: &str, tools: &[&str]) -> bool {
    let Some(why) = cannot_inject(tools) else {
        return false;
    };
    if std::env::var("PROVGRAPH_REQUIRE_FAULTS").is_ok_and(|v| v == "1") {
        panic!("{test}: cannot inject faults: {why} (PROVGRAPH_REQUIRE_FAULTS=1)");
    }
    eprintln!("SKIPPED: fault test {test}: {why}");
    true
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|err| format!("{program}: {err}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {args:?}: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The dedicated PostgreSQL cluster this test stops and starts.
struct FaultCluster {
    version: String,
    port: u16,
}

impl FaultCluster {
    /// Finds the cluster, creating it (on a free port) if it does not exist,
    /// and starts it.
    fn ensure() -> FaultCluster {
        let list = run("pg_lsclusters", &["--no-header"]).expect("pg_lsclusters");
        let rows: Vec<Vec<&str>> = list
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let cluster = match rows.iter().find(|r| r.get(1) == Some(&CLUSTER)) {
            Some(row) => FaultCluster {
                version: row[0].to_string(),
                port: row[2].parse().expect("cluster port"),
            },
            None => {
                // The newest installed server version.
                let version = std::fs::read_dir("/usr/lib/postgresql")
                    .expect("/usr/lib/postgresql")
                    .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                    .max()
                    .expect("an installed PostgreSQL server")
                    .to_string();
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("free port")
                    .port();
                run(
                    "pg_createcluster",
                    &[
                        &version,
                        CLUSTER,
                        "-p",
                        &port.to_string(),
                        "--",
                        "--auth=trust",
                    ],
                )
                .expect("pg_createcluster");
                FaultCluster { version, port }
            }
        };
        cluster.start();
        cluster
    }

    fn ctl(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["--skip-systemctl-redirect", &self.version, CLUSTER];
        all.extend_from_slice(args);
        run("pg_ctlcluster", &all)
    }

    fn online(&self) -> bool {
        run(
            "pg_isready",
            &["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()],
        )
        .is_ok()
    }

    fn start(&self) {
        if !self.online() {
            // "already running" is not an error here.
            if let Err(err) = self.ctl(&["start"])
                && !self.online()
            {
                panic!("cannot start the fault cluster: {err}");
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.online() {
            assert!(Instant::now() < deadline, "fault cluster did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `fast` disconnects clients and shuts down cleanly; `immediate` is a
    /// crash (no checkpoint; recovery at the next start).
    fn stop(&self, mode: &str) {
        self.ctl(&["stop", "-m", mode]).expect("stop fault cluster");
        assert!(!self.online());
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    async fn create_db(&self, name: &str) -> String {
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the fault cluster");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .expect("drop old database");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        self.url(name)
    }

    async fn drop_db(&self, name: &str) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.url("postgres")).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}

/// A tmpfs mounted for one test, unmounted at the end.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("mount point");
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                dir.path().to_str().unwrap(),
            ],
        )
        .expect("mount tmpfs");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem is full; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0x5au8; 16 * 1024];
        loop {
            match file.write_all(&chunk).and_then(|_| file.flush()) {
                Ok(()) => {}
                Err(err) if err.raw_os_error() == Some(28) => break, // ENOSPC
                Err(err) => panic!("filling the tmpfs: {err}"),
            }
        }
        // Whatever part of a chunk still fitted is written; the rest did not.
        let mut byte = 0;
        while file.write_all(&[0]).is_ok() && byte < chunk.len() {
            byte += 1;
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let path = self.dir.path().to_str().unwrap().to_string();
        let _ = run("umount", &["-l", &path]);
    }
}

/// An ext4 filesystem in an image file on a loop device, mounted with
/// `errors=remount-ro`: ext4's own error path makes it read-only under open
/// files ("emergency_ro"), as a failing disk would. A tmpfs cannot be used
/// for this: remounting it read-only fails with EBUSY while provgraph holds
/// its database open for writing.
struct Ext4 {
    image: PathBuf,
    mount_point: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

impl Ext4 {
    fn create(size: &str) -> Ext4 {
        let dir = tempfile::tempdir_in("/var/tmp").expect("image dir");
        let image = dir.path().join("ext4.img");
        run("truncate", &["-s", size, image.to_str().unwrap()]).expect("image");
        run("mkfs.ext4", &["-q", "-F", image.to_str().unwrap()]).expect("mkfs.ext4");
        let ext4 = Ext4 {
            image,
            mount_point: tempfile::tempdir().expect("mount point"),
            _dir: dir,
        };
        ext4.mount();
        ext4
    }

    fn path(&self) -> &Path {
        self.mount_point.path()
    }

    fn mount(&self) {
        run(
            "mount",
            &[
                "-o",
                "loop,errors=remount-ro",
                self.image.to_str().unwrap(),
                self.path().to_str().unwrap(),
            ],
        )
        .expect("mount the ext4 image");
    }

    /// ext4 reports an error (`trigger_fs_error`); with `errors=remount-ro`
    /// it aborts its journal and turns read-only, open files and all.
    fn fail(&self) {
        let loop_device = run("losetup", &["-j", self.image.to_str().unwrap()])
            .expect("losetup -j")
            .split(':')
            .next()
            .expect("loop device")
            .trim_start_matches("/dev/")
            .to_string();
        std::fs::write(
            format!("/sys/fs/ext4/{loop_device}/trigger_fs_error"),
            "provgraph fault test\n",
        )
        .expect("trigger an ext4 error");
        let err = std::fs::write(self.path().join("probe"), b"x")
            .expect_err("the filesystem is read-only now");
        assert_eq!(err.raw_os_error(), Some(30), "EROFS: {err}");
    }

    /// What an operator does: unmount, check, mount again.
    fn repair(&self) {
        run("umount", &[self.path().to_str().unwrap()]).expect("umount");
        // 1: errors corrected.
        let status = Command::new("e2fsck")
            .args(["-f", "-y", self.image.to_str().unwrap()])
            .output()
            .expect("e2fsck")
            .status
            .code();
        assert!(matches!(status, Some(0 | 1)), "e2fsck exit {status:?}");
        self.mount();
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = run("umount", &["-l", self.path().to_str().unwrap()]);
    }
}

/// Request `r` of a workload: `builds` builds, each a checkout, a push and a
/// root span carrying the run id.
fn request(r: usize, builds: usize) -> ExportTraceServiceRequest {
    let mut spans = Vec::new();
    for b in 0..builds {
        let build = r * builds + b;
        let trace = (build as u128 + 0xfa00_0000).to_be_bytes().to_vec();
        let span = |id: u64, name: &str, attributes| Span {
            trace_id: trace.clone(),
            span_id: id.to_be_bytes().to_vec(),
            name: name.into(),
            attributes,
            ..Default::default()
        };
        spans.push(span(
            1,
            "checkout",
            vec![
                kv("vcs.ref.head.revision", format!("{:040x}", build % 41 + 1)),
                kv(
                    "vcs.repository.url.full",
                    format!("https://github.com/faults/repo-{}", build % 7),
                ),
                kv("go.mod.hash", format!("{:064x}", build % 13 + 1)),
            ],
        ));
        spans.push(span(
            2,
            "push",
            vec![
                kv("oci.manifest.digest", digest(build)),
                kv(
                    "container.image.name",
                    format!("ghcr.io/faults/app-{}", build % 3),
                ),
            ],
        ));
        spans.push(span(
            3,
            "release",
            vec![kv("cicd.pipeline.run.id", format!("run-{build}"))],
        ));
    }
    crate::support::spans_request(spans)
}

fn digest(build: usize) -> String {
    format!("sha256:{:064x}", build + 0xfa00_0000)
}

/// What one HTTP export got: status and Retry-After.
async fn http_export(server: &Server, body: &[u8]) -> (u16, Option<String>) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", server.http))
        .header("content-type", "application/x-protobuf")
        // Only a guard against a hang: every answer must come well before.
        .timeout(Duration::from_secs(60))
        .body(body.to_vec())
        .send()
        .await
        .expect("the export is answered, not left hanging");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    (response.status().as_u16(), retry_after)
}

async fn grpc_export(server: &Server, request: ExportTraceServiceRequest) -> tonic::Code {
    let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc))
        .await
        .expect("gRPC connect");
    let mut request = tonic::Request::new(request);
    request.set_timeout(Duration::from_secs(60));
    match client.export(request).await {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

async fn get(server: &Server, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("http://{}{path}", server.api))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// A GraphQL query for one artifact: (HTTP status, JSON answer).
async fn artifact_query(server: &Server, build: usize) -> (u16, serde_json::Value) {
    let query = format!(
        "{{ node(kind: ARTIFACT, key: \"{}\") {{ key }} }}",
        digest(build)
    );
    let response = reqwest::Client::new()
        .post(format!("http://{}/graphql", server.api))
        .json(&serde_json::json!({ "query": query }))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("the query is answered, not left hanging");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// The server process is alive (not exited, not a zombie).
fn alive(server: &Server) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", server.pid()))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s != "Z"))
        })
        .unwrap_or(false)
}

/// Sends `body` until it is acknowledged, as an exporter would, honouring
/// Retry-After; panics if the service does not come back within a minute.
async fn send_until_ok(server: &Server, body: &[u8]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut refusals = 0;
    loop {
        let (status, retry_after) = http_export(server, body).await;
        match status {
            200 => return refusals,
            503 => {
                refusals += 1;
                let seconds: u64 = retry_after
                    .expect("503 carries Retry-After")
                    .parse()
                    .expect("Retry-After in seconds");
                assert!(
                    Instant::now() < deadline,
                    "service did not resume within a minute; stderr:\n{}",
                    server.stderr()
                );
                tokio::time::sleep(
                    Duration::from_millis(200).max(Duration::from_secs(seconds) / 4),
                )
                .await;
            }
            other => panic!(
                "export answered {other}, not 200 or 503; stderr:\n{}",
                server.stderr()
            ),
        }
    }
}

/// While the database is down: exports refused as retryable over both
/// protocols, queries answer a clear error, readiness says so, the process
/// lives.
async fn check_refusals(server: &Server, body: &[u8], request: ExportTraceServiceRequest) {
    let started = Instant::now();
    let (status, retry_after) = http_export(server, body).await;
    assert_eq!(status, 503, "HTTP export while the database is down");
    let seconds: u32 = retry_after
        .as_deref()
        .expect("Retry-After on 503")
        .parse()
        .expect("Retry-After in seconds");
    assert!(seconds >= 1);
    let http_took = started.elapsed();
    let code = grpc_export(server, request).await;
    assert_eq!(code, tonic::Code::Unavailable, "gRPC export while down");
    let (status, answer) = artifact_query(server, 0).await;
    assert_eq!(status, 200, "GraphQL answers errors in the body: {answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("database unavailable"),
        "a clear error, not {answer}"
    );
    assert!(!message.contains("panicked"), "{message}");
    let (status, body) = get(server, "/readyz").await;
    assert_eq!(status, 503, "readyz while the database is down: {body}");
    assert!(body.contains("not ready"), "{body}");
    assert_eq!(get(server, "/healthz").await.0, 200);
    assert!(alive(server), "the server survived the outage");
    eprintln!(
        "  refused while down: HTTP 503 Retry-After {seconds} in {http_took:?}; gRPC UNAVAILABLE; \
         GraphQL error {message:?}"
    );
}

/// Spans of a build, exported by the real OpenTelemetry SDK with its retry
/// policy: each `span` call blocks until the exporter is done (simple
/// processor), so a refused export is retried until the deadline.
fn export_with_sdk(endpoint: String, grpc: bool, builds: std::ops::Range<usize>) {
    let retry = RetryPolicy::default()
        .with_max_retries(10_000)
        .with_initial_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(1));
    let exporter = if grpc {
        SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(Duration::from_secs(120))
            .with_retry_policy(retry)
            .build()
    } else {
        SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .with_timeout(Duration::from_secs(120))
            .with_retry_policy(retry)
            .build()
    }
    .expect("exporter");
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_id_generator(SpanIds(std::sync::atomic::AtomicU64::new(
            builds.start as u64 * 16 + 1,
        )))
        .with_resource(Resource::builder().with_service_name("faults-ci").build())
        .build();
    let tracer = provider.tracer("provgraph-faults");
    for build in builds {
        let parent = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes((build as u128 + 0xfa00_0000).to_be_bytes()),
            SpanId::from_bytes(0x0102030405060708u64.to_be_bytes()),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ));
        let span = tracer
            .span_builder("push")
            .with_attributes(vec![
                KeyValue::new("oci.manifest.digest", digest(build)),
                KeyValue::new("vcs.ref.head.revision", format!("{:040x}", build % 41 + 1)),
                KeyValue::new("cicd.pipeline.run.id", format!("run-{build}")),
            ])
            .start_with_context(&tracer, &parent);
        drop(span);
    }
    provider.shutdown().expect("flush");
}

/// Span ids from a counter, so that a run and its clean reference store
/// the same evidence.
#[derive(Debug)]
struct SpanIds(std::sync::atomic::AtomicU64);

impl opentelemetry_sdk::trace::IdGenerator for SpanIds {
    fn new_trace_id(&self) -> TraceId {
        TraceId::from_bytes(
            u128::from(self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).to_be_bytes(),
        )
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from_bytes(
            self.0
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_be_bytes(),
        )
    }
}

/// Asserts two snapshots are equal, showing only what differs.
fn assert_same_graph(
    got: &provgraph_store::Snapshot,
    want: &provgraph_store::Snapshot,
    what: &str,
) {
    fn diff<T: Ord + std::fmt::Debug>(
        name: &str,
        got: &std::collections::BTreeSet<T>,
        want: &std::collections::BTreeSet<T>,
    ) -> String {
        let extra: Vec<&T> = got.difference(want).take(5).collect();
        let missing: Vec<&T> = want.difference(got).take(5).collect();
        if extra.is_empty() && missing.is_empty() {
            return String::new();
        }
        format!(
            "{name}: {} vs {}; extra {extra:?}; missing {missing:?}\n",
            got.len(),
            want.len()
        )
    }
    let report = [
        diff("nodes", &got.nodes, &want.nodes),
        diff("edges", &got.edges, &want.edges),
        diff("evidence", &got.evidence, &want.evidence),
        diff("attrs", &got.attrs, &want.attrs),
    ]
    .concat();
    assert!(
        report.is_empty() && got.dangling == 0,
        "{what}:\n{report}dangling {}",
        got.dangling
    );
}

fn refusals_logged(server: &Server) -> usize {
    server.stderr().matches("export refused").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_started_under_ingest() {
    let _alone = crate::support::alone();
    if skip(
        "postgres_stopped_and_started_under_ingest",
        &[
            "pg_createcluster",
            "pg_ctlcluster",
            "pg_lsclusters",
            "pg_isready",
        ],
    ) {
        return;
    }
    let total = Instant::now();
    let outages = if long() { 12 } else { 2 };
    let builds_per_request = if long() { 20 } else { 5 };
    let cluster = tokio::task::spawn_blocking(FaultCluster::ensure)
        .await
        .unwrap();
    let name = format!("provgraph_faults_{}", std::process::id());
    let url = cluster.create_db(&name).await;
    let server = Server::start_on(&url, &[]);
    let requests: Vec<ExportTraceServiceRequest> = (0..outages * 2 + 1)
        .map(|r| request(r, builds_per_request))
        .collect();
    let bodies: Vec<Vec<u8>> = requests.iter().map(|r| r.encode_to_vec()).collect();
    assert_eq!(http_export(&server, &bodies[0]).await.0, 200);

    for outage in 0..outages {
        // Alternate a clean shutdown (clients disconnected) with a crash.
        let mode = if outage % 2 == 0 { "fast" } else { "immediate" };
        let cluster_ref = &cluster;
        tokio::task::block_in_place(|| cluster_ref.stop(mode));
        let refused = 1 + outage * 2;
        check_refusals(&server, &bodies[refused], requests[refused + 1].clone()).await;
        tokio::task::block_in_place(|| cluster_ref.start());
        // No restart: the same process takes the refused requests now.
        let came_back = Instant::now();
        let refusals = send_until_ok(&server, &bodies[refused]).await;
        assert_eq!(
            grpc_export(&server, requests[refused + 1].clone()).await,
            tonic::Code::Ok
        );
        let (status, body) = get(&server, "/readyz").await;
        assert_eq!(status, 200, "ready again: {body}");
        let (_, answer) = artifact_query(&server, refused * builds_per_request).await;
        assert_eq!(
            answer["data"]["node"]["key"].as_str(),
            Some(digest(refused * builds_per_request).as_str()),
            "queries answer again: {answer}"
        );
        eprintln!(
            "outage {} ({mode} stop): resumed {:?} after the start, {refusals} more refusals",
            outage + 1,
            came_back.elapsed()
        );
    }

    // The real exporter, over gRPC and HTTP, while PostgreSQL is down: its
    // retries deliver everything once it is back.
    let sdk_builds = if long() { 60 } else { 10 };
    let first = 10_000;
    let refused_before = refusals_logged(&server);
    tokio::task::block_in_place(|| cluster.stop("fast"));
    let grpc = {
        let endpoint = format!("http://{}", server.grpc);
        tokio::task::spawn_blocking(move || {
            export_with_sdk(endpoint, true, first..first + sdk_builds)
        })
    };
    let http = {
        let endpoint = format!("http://{}/v1/traces", server.http);
        tokio::task::spawn_blocking(move || {
            export_with_sdk(endpoint, false, first + sdk_builds..first + 2 * sdk_builds)
        })
    };
    // Let both exporters be refused and retry for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    while refusals_logged(&server) < refused_before + 4 {
        assert!(
            Instant::now() < deadline,
            "the exporters were never refused"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| cluster.start());
    grpc.await.unwrap();
    http.await.unwrap();
    let sdk_refusals = refusals_logged(&server) - refused_before;
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    for build in first..first + 2 * sdk_builds {
        let node = store
            .node(NodeKind::Artifact, &digest(build))
            .await
            .unwrap();
        assert!(
            node.is_some(),
            "span of build {build} was delivered by the exporter's retries"
        );
    }
    store.close().await;
    assert!(alive(&server));

    // The rest of the requests, then the graph equals a clean run's.
    for body in &bodies {
        send_until_ok(&server, body).await;
    }
    server.stop().await;
    let clean = TestDb::new(Flavor::Postgres).await;
    let reference = Server::start_on(&clean.url, &[]);
    for body in &bodies {
        assert_eq!(http_export(&reference, body).await.0, 200);
    }
    let (grpc, http) = (
        format!("http://{}", reference.grpc),
        format!("http://{}/v1/traces", reference.http),
    );
    tokio::task::spawn_blocking(move || {
        export_with_sdk(grpc, true, first..first + sdk_builds);
        export_with_sdk(http, false, first + sdk_builds..first + 2 * sdk_builds);
    })
    .await
    .unwrap();
    reference.stop().await;
    let faulted = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    let expected = clean.store().await.unwrap().snapshot().await.unwrap();
    assert_same_graph(
        &faulted,
        &expected,
        &format!("after {outages} outages, the same graph as a clean run"),
    );
    println!(
        "PostgreSQL: {} outages ({} fast, {} immediate) plus one under the real exporter \
         ({sdk_refusals} refusals retried by it, {} spans delivered); graph equals a clean run's \
         ({} nodes, {} edges); {:?}",
        outages,
        outages.div_ceil(2),
        outages / 2,
        2 * sdk_builds,
        expected.nodes.len(),
        expected.edges.len(),
        total.elapsed()
    );
    cluster.drop_db(&name).await;
    clean.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full() {
    let _alone = crate::support::alone();
    if skip("sqlite_disk_full", &["mount", "umount"]) {
        return;
    }
    let total = Instant::now();
    let fills = if long() { 6 } else { 2 };
    // Room for the long variant's whole graph; the filler takes what is left.
    let fs = Tmpfs::mount("64m");
    let url = format!("sqlite://{}", fs.path().join("provgraph.db").display());
    let server = Server::start_on(&url, &[]);
    let builds_per_request = 20;
    let requests: Vec<ExportTraceServiceRequest> = (0..if long() { 400 } else { 150 })
        .map(|r| request(r, builds_per_request))
        .collect();
    let bodies: Vec<Vec<u8>> = requests.iter().map(|r| r.encode_to_vec()).collect();
    let mut next = 0;
    let mut refused_total = 0;
    for fill in 0..fills {
        assert_eq!(http_export(&server, &bodies[next]).await.0, 200);
        next += 1;
        let filler = fs.fill();
        // New data until a write needs space the disk no longer has (the WAL
        // reuses its file, so the first writes after the fill may fit).
        let refused = loop {
            assert!(
                next + 1 < bodies.len(),
                "no export was refused on a full disk; stderr:\n{}",
                server.stderr()
            );
            let (status, retry_after) = http_export(&server, &bodies[next]).await;
            match status {
                200 => next += 1,
                503 => {
                    assert!(retry_after.is_some(), "Retry-After on 503");
                    break next;
                }
                other => panic!(
                    "export on a full disk answered {other}:\n{}",
                    server.stderr()
                ),
            }
        };
        assert_eq!(
            grpc_export(&server, requests[refused + 1].clone()).await,
            tonic::Code::Unavailable,
            "gRPC export on a full disk"
        );
        // Reads need no space: queries and readiness keep working.
        let (_, answer) = artifact_query(&server, 0).await;
        assert_eq!(
            answer["data"]["node"]["key"].as_str(),
            Some(digest(0).as_str()),
            "queries are served while the disk is full: {answer}"
        );
        assert_eq!(get(&server, "/readyz").await.0, 200);
        assert!(alive(&server));
        std::fs::remove_file(filler).expect("free the space");
        let refusals = send_until_ok(&server, &bodies[refused]).await;
        refused_total += 1 + refusals;
        assert_eq!(
            grpc_export(&server, requests[refused + 1].clone()).await,
            tonic::Code::Ok,
            "gRPC export once space is back"
        );
        next = refused + 2;
        eprintln!(
            "disk full {}: request {refused} refused (503), taken after the space came back",
            fill + 1
        );
    }
    for body in &bodies {
        send_until_ok(&server, body).await;
    }
    server.stop().await;
    let clean = TestDb::new(Flavor::Sqlite).await;
    let reference = Server::start_on(&clean.url, &[]);
    for body in &bodies {
        assert_eq!(http_export(&reference, body).await.0, 200);
    }
    reference.stop().await;
    let faulted = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    let faulted_snapshot = faulted.snapshot().await.unwrap();
    faulted.close().await;
    let expected = clean.store().await.unwrap().snapshot().await.unwrap();
    assert_same_graph(
        &faulted_snapshot,
        &expected,
        &format!("after {fills} full disks, a clean run's graph"),
    );
    println!(
        "SQLite: disk filled {fills} times; {refused_total} refusals (503) retried to success; \
         graph equals a clean run's ({} nodes); {:?}",
        expected.nodes.len(),
        total.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_filesystem_turns_read_only() {
    let _alone = crate::support::alone();
    if skip(
        "sqlite_filesystem_turns_read_only",
        &[
            "mount",
            "umount",
            "losetup",
            "mkfs.ext4",
            "e2fsck",
            "truncate",
        ],
    ) {
        return;
    }
    if !Path::new("/dev/loop-control").exists() {
        if std::env::var("PROVGRAPH_REQUIRE_FAULTS").is_ok_and(|v| v == "1") {
            panic!("no loop devices (PROVGRAPH_REQUIRE_FAULTS=1)");
        }
        eprintln!("SKIPPED: sqlite_filesystem_turns_read_only: no loop devices");
        return;
    }
    let total = Instant::now();
    let rounds = if long() { 4 } else { 1 };
    let fs = Ext4::create("64M");
    let url = format!("sqlite://{}", fs.path().join("provgraph.db").display());
    let requests: Vec<ExportTraceServiceRequest> = (0..40).map(|r| request(r, 10)).collect();
    let bodies: Vec<Vec<u8>> = requests.iter().map(|r| r.encode_to_vec()).collect();
    let mut next = 0;
    let mut refused_total = 0;
    for round in 0..rounds {
        let server = Server::start_on(&url, &[]);
        for _ in 0..3 {
            assert_eq!(http_export(&server, &bodies[next]).await.0, 200);
            next += 1;
        }
        tokio::task::block_in_place(|| fs.fail());
        // Every write is refused, again and again, as retryable.
        for attempt in 0..3 {
            let (status, retry_after) = http_export(&server, &bodies[next]).await;
            assert_eq!(
                status,
                503,
                "attempt {attempt} on a read-only filesystem; stderr:\n{}",
                server.stderr()
            );
            assert!(retry_after.is_some(), "Retry-After on 503");
            refused_total += 1;
        }
        assert_eq!(
            grpc_export(&server, requests[next + 1].clone()).await,
            tonic::Code::Unavailable,
            "gRPC export on a read-only filesystem"
        );
        // What was committed can still be read.
        let (_, answer) = artifact_query(&server, 10 * (next - 1)).await;
        assert_eq!(
            answer["data"]["node"]["key"].as_str(),
            Some(digest(10 * (next - 1)).as_str()),
            "queries are served from a read-only filesystem: {answer}"
        );
        assert!(alive(&server));
        let stderr = server.stderr();
        assert!(!stderr.contains("panicked"), "{stderr}");

        // ext4 cannot be made writable again under open files (its journal
        // is aborted): the operator stops provgraph, which exits cleanly.
        server.stop().await;
        // Started again on the still read-only filesystem, provgraph serves
        // what is there and refuses writes the same way.
        let again = Server::start_on(&url, &[]);
        let (status, retry_after) = http_export(&again, &bodies[next]).await;
        assert_eq!(
            status, 503,
            "export after a restart on the read-only filesystem"
        );
        assert!(retry_after.is_some());
        refused_total += 1;
        let (_, answer) = artifact_query(&again, 0).await;
        assert_eq!(
            answer["data"]["node"]["key"].as_str(),
            Some(digest(0).as_str())
        );
        again.stop().await;
        tokio::task::block_in_place(|| fs.repair());
        eprintln!(
            "read-only {}: writes refused (503 / UNAVAILABLE), reads served, before and after \
             a restart; repaired",
            round + 1
        );
    }
    // Repaired and restarted: what was refused is taken.
    let server = Server::start_on(&url, &[]);
    for body in &bodies {
        send_until_ok(&server, body).await;
    }
    server.stop().await;
    let clean = TestDb::new(Flavor::Sqlite).await;
    let reference = Server::start_on(&clean.url, &[]);
    for body in &bodies {
        assert_eq!(http_export(&reference, body).await.0, 200);
    }
    reference.stop().await;
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    let got = store.snapshot().await.unwrap();
    store.close().await;
    let expected = clean.store().await.unwrap().snapshot().await.unwrap();
    assert_same_graph(
        &got,
        &expected,
        "after the read-only filesystem, a clean run's graph",
    );
    println!(
        "SQLite: filesystem forced read-only {rounds} times; {refused_total} refusals (503), \
         reads served, clean exits, repaired and restarted; graph equals a clean run's \
         ({} nodes); {:?}",
        expected.nodes.len(),
        total.elapsed()
    );
}
