//! Issue #13's medium and low findings against the real server, each a
//! test that failed before its fix: evidence lists on an edge capped with a
//! count (finding 7), the gRPC port refusing what is not gRPC, and an error
//! reply to 10,000 unknown GraphQL arguments kept small.

use prost::Message;
use provgraph_store::testing::Flavor;
use tower::Service;

use crate::support::{Server, kv, spans_request};
use opentelemetry_proto::tonic::trace::v1::Span;

const COMMIT: &str = "cccccccccccccccccccccccccccccccccccccccc";

/// Finding 7: 300 traces assert one edge; an answer lists at most
/// `first` (default 100) of them and says how many there are. Failed
/// before: every one was listed, and there was no count.
async fn evidence_lists_are_capped_with_a_count(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    let traces = 300u64;
    let spans: Vec<Span> = (1..=traces)
        .map(|trace| Span {
            trace_id: ((u128::from(trace) << 64) | 0x77).to_be_bytes().to_vec(),
            span_id: 1u64.to_be_bytes().to_vec(),
            name: "build".into(),
            attributes: vec![
                kv("cicd.pipeline.run.id", "run-hub"),
                kv("vcs.ref.head.revision", COMMIT),
            ],
            ..Default::default()
        })
        .collect();
    let response = server
        .post_traces(
            "application/x-protobuf",
            spans_request(spans).encode_to_vec(),
        )
        .await;
    assert_eq!(response.status(), 200);

    let lineage = |fields: &str| {
        format!(
            r#"{{ lineage(kind: BUILD, key: "run-hub", direction: UPSTREAM) {{ edges {{ kind {fields} }} }} }}"#
        )
    };
    for (fields, listed) in [
        ("evidenceCount evidence { traceId }", 100),
        ("evidenceCount evidence(first: 7) { traceId }", 7),
        ("evidenceCount evidence(first: 100000) { traceId }", 300),
        ("evidenceCount support evidence(first: 0) { traceId }", 0),
    ] {
        let data = server.data(&lineage(fields)).await;
        let edge = &data["lineage"]["edges"][0];
        assert_eq!(edge["kind"], "FROM_COMMIT", "{data}");
        assert_eq!(edge["evidenceCount"], traces, "{fields}");
        assert_eq!(
            edge["evidence"].as_array().unwrap().len(),
            listed,
            "{fields}"
        );
    }
    server.stop().await;
}

provgraph_store::both_databases!(evidence_lists_are_capped_with_a_count);

/// Low finding: the gRPC port refused a JSON body with 415 and
/// INVALID_ARGUMENT before reading it. Failed before: it was decoded as
/// protobuf.
#[tokio::test]
async fn the_grpc_port_refuses_bodies_that_are_not_grpc() {
    let server = Server::start(Flavor::Sqlite, &[]).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    for content_type in ["application/json", "application/x-protobuf", "text/plain"] {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!(
                "http://{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                server.grpc
            ))
            .header("content-type", content_type)
            .header("te", "trailers")
            .body(tonic::body::Body::new(String::from(
                r#"{"resourceSpans":[]}"#,
            )))
            .unwrap();
        let mut channel = channel.clone();
        std::future::poll_fn(|cx| channel.poll_ready(cx))
            .await
            .unwrap();
        let response = channel.call(request).await.unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
        assert_eq!(response.headers()["grpc-status"], "3", "{content_type}");
        let message = response.headers()["grpc-message"].to_str().unwrap();
        assert!(
            message.contains("not%20gRPC") || message.contains("not gRPC"),
            "{message}"
        );
    }
    server.stop().await;
}

/// Low finding: 10,000 unknown arguments gave a 1.2 MB error reply; it is
/// now bounded (20 errors of at most 240 characters, or the guard's one).
#[tokio::test]
async fn unknown_arguments_get_a_small_error_reply() {
    let server = Server::start(Flavor::Sqlite, &[]).await;
    let arguments: Vec<String> = (0..10_000).map(|i| format!("a{i}: 1")).collect();
    let query = format!(
        r#"{{ node(kind: BUILD, key: "x", {}) {{ key }} }}"#,
        arguments.join(", ")
    );
    let response = reqwest::Client::new()
        .post(format!("http://{}/graphql", server.api))
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.len() < 16 * 1024, "a {} byte error reply", text.len());
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(answer["errors"].as_array().is_some_and(|e| !e.is_empty()));
    server.stop().await;
}
