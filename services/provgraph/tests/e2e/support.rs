//! Shared by the end-to-end tests: the real `provgraph` binary started on
//! port 0 against a real database, small HTTP helpers, and the turn taking
//! that keeps the tests which need the machine to themselves apart
//! ([`alone`]). Suites on both databases: `provgraph_store::both_databases!`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use provgraph_store::testing::{Flavor, TestDb};

/// A running `provgraph serve`.
pub struct Server {
    child: Option<Child>,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub api: SocketAddr,
    pub db: Option<TestDb>,
    pub url: String,
    stderr_path: std::path::PathBuf,
    _logs: tempfile::TempDir,
    /// Dropped after the process is stopped (fields drop after `drop`).
    _turn: Option<Turn>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_provgraph")
}

impl Server {
    /// Starts the server on a fresh database of `flavor`, with extra flags.
    pub async fn start(flavor: Flavor, extra: &[&str]) -> Server {
        let db = TestDb::new(flavor).await;
        let url = db.url.clone();
        let mut server = Server::start_on(&url, extra);
        server.db = Some(db);
        server
    }

    /// Starts the server on an existing database URL.
    pub fn start_on(url: &str, extra: &[&str]) -> Server {
        let turn = shared();
        let logs = tempfile::tempdir().expect("log dir");
        let stderr_path = logs.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut child = Command::new(binary())
            .args(["serve", "--database-url", url])
            .args([
                "--otlp-grpc",
                "127.0.0.1:0",
                "--otlp-http",
                "127.0.0.1:0",
                "--api",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("RUST_LOG", "info,provgraph_store=debug")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start provgraph");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read ready line");
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| {
                    panic!(
                        "no {name} in ready line {line:?}; stderr: {}",
                        std::fs::read_to_string(&stderr_path).unwrap_or_default()
                    )
                })
                .parse()
                .expect("address")
        };
        Server {
            grpc: field("otlp-grpc"),
            http: field("otlp-http"),
            api: field("api"),
            child: Some(child),
            db: None,
            url: url.to_string(),
            stderr_path,
            _logs: logs,
            _turn: turn,
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop within 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(mut self) {
        if self.child.is_some() {
            let status = self.terminate().await;
            assert!(
                status.success(),
                "exit status {status}; stderr:\n{}",
                self.stderr()
            );
        }
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }

    /// POSTs an OTLP/HTTP trace export of `content_type`; returns the
    /// response.
    pub async fn post_traces(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("http://{}/v1/traces", self.http))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("OTLP/HTTP export")
    }

    /// POSTs an OTLP/JSON export and asserts full success (200, `{}`).
    pub async fn export_json(&self, body: Vec<u8>) {
        let response = self.post_traces("application/json", body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "{}", "full success");
    }

    /// POSTs a GraphQL query; returns the whole JSON answer.
    pub async fn graphql(&self, query: &str) -> serde_json::Value {
        let response = reqwest::Client::new()
            .post(format!("http://{}/graphql", self.api))
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .expect("graphql request");
        assert_eq!(response.status(), 200, "GraphQL answers 200");
        response.json().await.expect("graphql json")
    }

    /// As `graphql`, asserting there are no errors; returns `data`.
    pub async fn data(&self, query: &str) -> serde_json::Value {
        let answer = self.graphql(query).await;
        assert!(
            answer.get("errors").is_none(),
            "errors for {query}: {answer}"
        );
        answer["data"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A string attribute.
pub fn kv(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// An export request holding `spans`, under one empty resource.
pub fn spans_request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// An export request of one span: trace id 16 × `trace`, span id 8 × `span`.
pub fn one_span(
    trace: u8,
    span: u8,
    name: &str,
    attributes: Vec<KeyValue>,
) -> ExportTraceServiceRequest {
    spans_request(vec![Span {
        trace_id: vec![trace; 16],
        span_id: vec![span; 8],
        name: name.into(),
        attributes,
        ..Default::default()
    }])
}

/// The node keys of a lineage answer's `nodes { kind key }`.
pub fn node_keys(subgraph: &serde_json::Value) -> Vec<String> {
    subgraph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            format!(
                "{}:{}",
                n["kind"].as_str().unwrap(),
                n["key"].as_str().unwrap()
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Turns: the tests that load or change the machine (faults, crash, floods,
// replicas) ran as processes of their own when each file was its own test
// binary. In one binary they take `alone()`: they wait until no other test
// holds a turn, and no other test takes one until they are done. Every
// server started by another test takes a shared turn, and so does a test
// that runs many processes without a server (conformance).

#[derive(Default)]
struct Turns {
    /// Servers running under shared turns.
    shared: usize,
    /// The thread of the test that runs alone (its servers need no turn).
    alone: Option<std::thread::ThreadId>,
}

static TURNS: Mutex<Turns> = Mutex::new(Turns {
    shared: 0,
    alone: None,
});
static TURN_CHANGED: Condvar = Condvar::new();

/// A turn; given back on drop.
#[must_use = "the turn ends when this is dropped"]
pub struct Turn {
    alone: bool,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut turns = TURNS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.alone {
            turns.alone = None;
        } else {
            turns.shared -= 1;
        }
        TURN_CHANGED.notify_all();
    }
}

/// Waits until no other test runs, then keeps the others waiting until the
/// turn is dropped. Take it first thing in the test, on the test's thread
/// (the servers the test starts from that thread run under it).
pub fn alone() -> Turn {
    let me = std::thread::current().id();
    let mut turns = TURNS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    while turns.alone.is_some() || turns.shared > 0 {
        turns = TURN_CHANGED
            .wait(turns)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    turns.alone = Some(me);
    Turn { alone: true }
}

/// A shared turn (for each server; for a test that runs many processes
/// without one), unless this thread's test runs alone.
pub fn shared() -> Option<Turn> {
    let me = std::thread::current().id();
    let mut turns = TURNS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if turns.alone == Some(me) {
        return None;
    }
    while turns.alone.is_some() {
        turns = TURN_CHANGED
            .wait(turns)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    turns.shared += 1;
    Some(Turn { alone: false })
}
