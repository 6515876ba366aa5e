//! Every error case of the contract, against the real server: malformed
//! protobuf, JSON and gzip (400 / INVALID_ARGUMENT), unsupported types (415),
//! too large (413 / RESOURCE_EXHAUSTED, gzip bombs included), overload (503
//! with Retry-After / UNAVAILABLE), partial success, bad keys in GraphQL,
//! bad database URLs and busy addresses, and a clean exit on SIGTERM.

use std::io::Write;
use std::time::Duration;

use crate::support::{Server, kv};

fn request(trace: u8, attributes: Vec<KeyValue>) -> ExportTraceServiceRequest {
    crate::support::one_span(trace, 7, "build", attributes)
}
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;
use provgraph_store::testing::Flavor;
use sqlx::Connection;

const DIGEST: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post(
    server: &Server,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut builder = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", server.http))
        .header("content-type", content_type)
        .body(body);
    if let Some(encoding) = encoding {
        builder = builder.header("content-encoding", encoding);
    }
    builder.send().await.expect("post")
}

/// Decodes a google.rpc.Status protobuf body.
fn rpc_status(bytes: &[u8]) -> provgraph_otlp_status::Status {
    provgraph_otlp_status::Status::decode(bytes).expect("google.rpc.Status body")
}

mod provgraph_otlp_status {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
    }
}

#[tokio::test]
async fn http_errors_follow_the_otlp_spec() {
    let server = Server::start(Flavor::Sqlite, &["--max-request-bytes", "65536"]).await;

    // Malformed protobuf: 400 with a protobuf google.rpc.Status.
    let response = post(
        &server,
        "application/x-protobuf",
        None,
        vec![0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let status = rpc_status(&response.bytes().await.unwrap());
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(
        status.message.contains("malformed protobuf"),
        "{}",
        status.message
    );

    // Malformed JSON: 400 with a JSON status.
    let response = post(
        &server,
        "application/json",
        None,
        b"{\"resourceSpans\": [".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 3);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("malformed OTLP/JSON")
    );

    // An id of the wrong length is malformed too.
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abcd","spanId":"0102030405060708"}]}]}]}"#;
    let response = post(&server, "application/json", None, json.into()).await;
    assert_eq!(response.status(), 400);

    // Malformed gzip.
    let response = post(
        &server,
        "application/x-protobuf",
        Some("gzip"),
        b"not gzip".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 400);

    // Unsupported content type and encoding: 415.
    let response = post(&server, "text/plain", None, b"hello".to_vec()).await;
    assert_eq!(response.status(), 415);
    let response = post(&server, "application/json", Some("br"), b"{}".to_vec()).await;
    assert_eq!(response.status(), 415);

    // A charset parameter is fine.
    let response = post(
        &server,
        "application/json; charset=utf-8",
        None,
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);

    // Too large as sent: 413.
    let big = request(1, vec![kv("note", "x".repeat(100_000))]).encode_to_vec();
    let response = post(&server, "application/x-protobuf", None, big).await;
    assert_eq!(response.status(), 413);
    let status = rpc_status(&response.bytes().await.unwrap());
    assert_eq!(status.code, 8, "RESOURCE_EXHAUSTED");

    // A gzip bomb: 50 KB that inflates to 50 MB gets 413, read no further
    // than the limit.
    let bomb = gzip(&vec![0u8; 50 * 1024 * 1024]);
    assert!(
        bomb.len() < 65536,
        "the bomb itself is under the limit: {}",
        bomb.len()
    );
    let response = post(&server, "application/x-protobuf", Some("gzip"), bomb).await;
    assert_eq!(response.status(), 413);

    // Not POST: 405.
    let response = reqwest::get(format!("http://{}/v1/traces", server.http))
        .await
        .unwrap();
    assert_eq!(response.status(), 405);

    server.stop().await;
}

#[tokio::test]
async fn json_as_real_senders_write_it_and_partial_success() {
    let server = Server::start(Flavor::Sqlite, &[]).await;
    // Upper-case hex ids, int64 as numbers and as strings, an empty array
    // written as {"arrayValue":{}}, an unknown field, one bad digest.
    let json = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[
              {{"key":"service.name","value":{{"stringValue":"ci"}}}},
              {{"key":"container.image.tags","value":{{"arrayValue":{{}}}}}},
              {{"key":"cicd.pipeline.run.id","value":{{"intValue":"123"}}}}]}},
            "scopeSpans":[{{"scope":{{"name":"x"}},"spans":[
              {{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"push","kind":1,
                "startTimeUnixNano":1700000000000000000,"endTimeUnixNano":"1700000001000000000","futureField":true,
                "attributes":[{{"key":"oci.manifest.digest","value":{{"stringValue":"{DIGEST}"}}}}]}},
              {{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"bad",
                "attributes":[{{"key":"oci.manifest.digest","value":{{"stringValue":"sha256:nothex"}}}}]}}
            ]}}]}}]}}"#
    );
    let response = post(&server, "application/json", None, json.into_bytes()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], "1", "{body}");
    assert!(
        body["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("sha256:nothex")
    );
    let data = server
        .data(&format!(
            r#"{{ artifact(digest: "{DIGEST}") {{ builds {{ id }} }} }}"#
        ))
        .await;
    assert_eq!(data["artifact"]["builds"][0]["id"], "123");
    // The bad value was never stored.
    let answer = server
        .graphql(r#"{ node(kind: ARTIFACT, key: "sha256:nothex") { key } }"#)
        .await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("64 hex"),
        "{answer}"
    );

    // Full success leaves partial_success unset, in protobuf too.
    let response = post(
        &server,
        "application/x-protobuf",
        Some("gzip"),
        gzip(&request(9, vec![kv("build.id", "b9")]).encode_to_vec()),
    )
    .await;
    assert_eq!(response.status(), 200);
    let decoded = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert!(decoded.partial_success.is_none());
    server.stop().await;
}

/// Sends raw bytes as a gRPC TraceService/Export message.
#[derive(Clone, Debug, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let len = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, len).to_vec()))
    }
}

async fn raw_export(server: &Server, body: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn grpc_errors_use_the_codes_exporters_understand() {
    let server = Server::start(Flavor::Sqlite, &["--max-request-bytes", "65536"]).await;
    // Malformed protobuf: INVALID_ARGUMENT (tonic alone says INTERNAL).
    let err = raw_export(&server, vec![0xff, 0xff, 0xff])
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc))
        .await
        .unwrap();
    // Too large: RESOURCE_EXHAUSTED (tonic alone says OUT_OF_RANGE, which
    // exporters retry forever).
    let big = request(1, vec![kv("note", "x".repeat(100_000))]);
    let err = client.export(big.clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // Also when it only grows too large after decompression.
    let mut gzip_client = TraceServiceClient::connect(format!("http://{}", server.grpc))
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let err = gzip_client.export(big).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");

    // Partial success over gRPC.
    let answer = client
        .export(request(
            2,
            vec![kv("build.id", "b2"), kv("vcs.ref.head.revision", "xyz")],
        ))
        .await
        .unwrap()
        .into_inner();
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("vcs.ref.head.revision"));
    server.stop().await;
}

/// Holds the database's write lock from outside until dropped.
enum Blocker {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Blocker {
    async fn take(url: &str) -> Blocker {
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut conn)
                .await
                .unwrap();
            Blocker::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE span_facts IN ACCESS EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            Blocker::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            Blocker::Sqlite(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
            Blocker::Postgres(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
        }
    }
}

async fn overload_answers_503_with_retry_after_and_loses_nothing(flavor: Flavor) {
    let server = Server::start(flavor, &["--max-queued-facts", "1"]).await;
    let blocker = Blocker::take(&server.url).await;
    // The first export holds the whole queue while the store is blocked.
    let first = {
        let url = format!("http://{}/v1/traces", server.http);
        let body = request(1, vec![kv("build.id", "held")]).encode_to_vec();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/x-protobuf")
                .body(body)
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = post(
        &server,
        "application/x-protobuf",
        None,
        request(2, vec![kv("build.id", "refused")]).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        rpc_status(&response.bytes().await.unwrap()).code,
        14,
        "UNAVAILABLE"
    );
    let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc))
        .await
        .unwrap();
    let err = client
        .export(request(3, vec![kv("build.id", "refused-grpc")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    blocker.release().await;
    assert_eq!(
        first.await.unwrap().status(),
        200,
        "the held export commits once the store is free"
    );
    let data = server
        .data(r#"{ held: build(id: "held") { id } refused: build(id: "refused") { id } }"#)
        .await;
    assert_eq!(data["held"]["id"], "held");
    assert!(
        data["refused"].is_null(),
        "refused exports are not stored: the sender retries them"
    );
    server.stop().await;
}

provgraph_store::both_databases!(overload_answers_503_with_retry_after_and_loses_nothing);

#[tokio::test]
async fn graphql_errors_are_clear_and_limits_hold() {
    let server = Server::start(Flavor::Sqlite, &[]).await;
    let answer = server
        .graphql(
            r#"{ lineage(kind: COMMIT, key: "not-a-sha", direction: UPSTREAM) { nodes { key } } }"#,
        )
        .await;
    let message = answer["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("COMMIT key") && message.contains("40 or 64 hex"),
        "{message}"
    );
    // A missing node: null, and an empty lineage.
    let data = server
        .data(&format!(r#"{{ node(kind: ARTIFACT, key: "{DIGEST}") {{ key }} lineage(kind: ARTIFACT, key: "{DIGEST}", direction: UPSTREAM) {{ nodes {{ key }} }} }}"#))
        .await;
    assert!(data["node"].is_null());
    assert_eq!(data["lineage"]["nodes"], serde_json::json!([]));
    // Too deep a query is refused.
    let deep = format!(
        "{{ artifact(digest: \"{DIGEST}\") {{ {} }} }}",
        "builds { artifacts { ".repeat(10) + "digest" + &" } }".repeat(10)
    );
    let answer = server.graphql(&deep).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{answer}"
    );
    // GraphiQL and health.
    let page = reqwest::get(format!("http://{}/graphql", server.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.to_lowercase().contains("graphiql"));
    let health = reqwest::get(format!("http://{}/healthz", server.api))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("http://{}/readyz", server.api))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn bad_database_url_and_busy_address_get_one_clear_line() {
    let output = std::process::Command::new(crate::support::binary())
        .args([
            "serve",
            "--database-url",
            "mysql://localhost/x",
            "--api",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");

    let server = Server::start(Flavor::Sqlite, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("other.db").display());
    let busy = server.api.to_string();
    let output = std::process::Command::new(crate::support::binary())
        .args([
            "serve",
            "--database-url",
            &url,
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--api",
            &busy,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot listen on {busy} for the GraphQL API: address already in use"
        )),
        "{stderr}"
    );
    server.stop().await; // SIGTERM: exit 0 (asserted by stop)
}
