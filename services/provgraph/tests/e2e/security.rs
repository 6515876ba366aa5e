//! Access control and TLS, end to end: the real server with a token file and
//! a certificate on every listener; the real OpenTelemetry exporter over
//! gRPC+TLS with a bearer token; OTLP/HTTP, GraphQL and evidence posts over
//! HTTPS. Checks who may write and read, that the sender's token name is
//! in the evidence, and that one sender cannot change another's traces.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::support::{Server, kv};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use prost::Message;
use provgraph_store::testing::Flavor;

const TOKEN_A: &str = "ingest-token-a-0123456789abcdef";
const TOKEN_B: &str = "ingest-token-b-0123456789abcdef";
const TOKEN_READ: &str = "read-token-0123456789abcdef";
const DIGEST_A: &str = "sha256:aaaa000000000000000000000000000000000000000000000000000000000001";
const DIGEST_B: &str = "sha256:bbbb000000000000000000000000000000000000000000000000000000000002";
const TRACE: u128 = 0x5ec0_0000_0000_0000_0000_0000_0000_0001;

struct Pki {
    _dir: tempfile::TempDir,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    tokens: std::path::PathBuf,
    cert_pem: String,
}

impl Pki {
    /// `serve` flags for tokens and TLS.
    fn secure_args(&self) -> [&str; 6] {
        [
            "--tokens",
            self.tokens.to_str().unwrap(),
            "--tls-cert",
            self.cert.to_str().unwrap(),
            "--tls-key",
            self.key.to_str().unwrap(),
        ]
    }
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert_pem = certified.cert.pem();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    // ci-b is given by its digest, as a team would keep it.
    let digest_b = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(TOKEN_B.as_bytes()))
    };
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        format!(
            "[[ingest]]\nname = \"ci-a\"\ntoken = \"{TOKEN_A}\"\n\n[[ingest]]\nname = \"ci-b\"\nsha256 = \"{digest_b}\"\n\n[[read]]\nname = \"auditor\"\ntoken = \"{TOKEN_READ}\"\n"
        ),
    )
    .unwrap();
    Pki {
        _dir: dir,
        cert,
        key,
        tokens,
        cert_pem,
    }
}

/// A small HTTPS/1.1 client that trusts only the test certificate: one
/// request per connection (`Connection: close`).
#[derive(Clone)]
struct Https {
    connector: tokio_rustls::TlsConnector,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Https {
    fn new(pki: &Pki) -> Https {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls_pki_types::CertificateDer::from(rcgen_der(
                &pki.cert_pem,
            )))
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Https {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    async fn send(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Answer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = self
            .connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(body).await.unwrap();
        tls.flush().await.unwrap();
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut raw)).await;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete HTTP answer");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Answer {
            status,
            headers,
            body,
        }
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 4 + size..];
    }
}

fn rcgen_der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

fn request_body(
    trace: u128,
    attrs: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
) -> Vec<u8> {
    crate::support::spans_request(vec![Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: 7u64.to_be_bytes().to_vec(),
        name: "push".into(),
        attributes: attrs,
        ..Default::default()
    }])
    .encode_to_vec()
}

async fn post_otlp(https: &Https, server: &Server, token: Option<&str>, body: Vec<u8>) -> Answer {
    https
        .send(
            server.http,
            "POST",
            "/v1/traces",
            token,
            "application/x-protobuf",
            &body,
        )
        .await
}

async fn graphql(
    https: &Https,
    server: &Server,
    token: Option<&str>,
    query: &str,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "query": query }).to_string();
    let answer = https
        .send(
            server.api,
            "POST",
            "/graphql",
            token,
            "application/json",
            body.as_bytes(),
        )
        .await;
    (answer.status, answer.json())
}

fn tls_exporter_provider(pki: &Pki, server: &Server, token: &str) -> SdkTracerProvider {
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let exporter = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("https://127.0.0.1:{}", server.grpc.port()))
        .with_tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&pki.cert_pem))
                .domain_name("localhost"),
        )
        .with_metadata(metadata)
        .build()
        .expect("gRPC TLS exporter");
    SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("releaser").build())
        .build()
}

async fn grpc_status_without_token(pki: &Pki, server: &Server, token: Option<&str>) -> tonic::Code {
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&pki.cert_pem))
        .domain_name("localhost");
    let channel = tonic::transport::Endpoint::from_shared(format!(
        "https://127.0.0.1:{}",
        server.grpc.port()
    ))
    .unwrap()
    .tls_config(tls)
    .unwrap()
    .connect()
    .await
    .expect("TLS channel");
    let mut client = TraceServiceClient::new(channel);
    let mut request = tonic::Request::new(crate::support::spans_request(vec![Span {
        trace_id: 99u128.to_be_bytes().to_vec(),
        span_id: 1u64.to_be_bytes().to_vec(),
        name: "x".into(),
        ..Default::default()
    }]));
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match client.export(request).await {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_tls_guard_every_listener_and_name_the_sender() {
    let pki = pki();
    let server = Server::start(Flavor::Sqlite, &pki.secure_args()).await;
    let https = Https::new(&pki);

    // gRPC over TLS: the real exporter with ci-a's token.
    let provider = tls_exporter_provider(&pki, &server, TOKEN_A);
    let parent = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_bytes(TRACE.to_be_bytes()),
        SpanId::from_bytes(1u64.to_be_bytes()),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ));
    let tracer = provider.tracer("e2e-security");
    let span = tracer
        .span_builder("release")
        .with_attributes(vec![
            KeyValue::new("cicd.pipeline.run.id", "run-a"),
            KeyValue::new("oci.manifest.digest", DIGEST_A),
        ])
        .start_with_context(&tracer, &parent);
    drop(span);
    provider.shutdown().expect("TLS export with a token");

    // gRPC refusals: no token, a read token, a wrong token.
    assert_eq!(
        grpc_status_without_token(&pki, &server, None).await,
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        grpc_status_without_token(&pki, &server, Some(TOKEN_READ)).await,
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        grpc_status_without_token(&pki, &server, Some("not-a-token-at-all-000000")).await,
        tonic::Code::Unauthenticated
    );

    // OTLP/HTTP over TLS: refused without a token, with a read token.
    let body_b = request_body(
        0xb0b,
        vec![
            kv("cicd.pipeline.run.id", "run-b"),
            kv("oci.manifest.digest", DIGEST_B),
        ],
    );
    for token in [None, Some(TOKEN_READ), Some("Bearer-less")] {
        let response = post_otlp(&https, &server, token, body_b.clone()).await;
        assert_eq!(response.status, 401, "token {token:?}");
        assert!(
            response.header("www-authenticate").is_some(),
            "401 carries a challenge"
        );
    }
    let response = post_otlp(&https, &server, Some(TOKEN_B), body_b).await;
    assert_eq!(response.status, 200, "{}", response.text());

    // ci-b writes into ci-a's trace: a different run id and another image.
    let intrusion = request_body(
        TRACE,
        vec![
            kv("cicd.pipeline.run.id", "run-intruder"),
            kv(
                "oci.manifest.digest",
                "sha256:cccc000000000000000000000000000000000000000000000000000000000003",
            ),
        ],
    );
    let response = post_otlp(&https, &server, Some(TOKEN_B), intrusion).await;
    assert_eq!(response.status, 200, "accepted, but as ci-b's own trace");

    // Reads: refused without a token and with an ingest token.
    let query = format!(
        r#"{{ lineage(kind: ARTIFACT, key: "{DIGEST_A}", direction: UPSTREAM) {{
            nodes {{ kind key }}
            edges {{ kind evidence {{ traceId principal sender }} }} }} }}"#
    );
    for token in [None, Some(TOKEN_A)] {
        let (status, body) = graphql(&https, &server, token, &query).await;
        assert_eq!(status, 401, "GraphQL with {token:?}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("read token")
        );
    }
    let (status, body) = graphql(&https, &server, Some(TOKEN_READ), &query).await;
    assert_eq!(status, 200, "{body}");
    let lineage = &body["data"]["lineage"];
    let keys: Vec<&str> = lineage["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"ci-a/run-a"), "ci-a's build: {keys:?}");
    assert!(
        !keys.iter().any(|k| k.contains("run-intruder")),
        "ci-b's span in the same trace id did not change ci-a's build: {keys:?}"
    );
    let evidence: Vec<&serde_json::Value> = lineage["edges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["evidence"].as_array().unwrap())
        .collect();
    assert!(!evidence.is_empty());
    for e in &evidence {
        assert_eq!(e["principal"], "ci-a", "{e}");
        assert_eq!(e["traceId"], format!("{TRACE:032x}"), "{e}");
        // The sender is the token's name, not the free text of service.name.
        assert_eq!(e["sender"], "ci-a");
    }
    // ci-b's own data carries ci-b.
    let (_, body) = graphql(
        &https,
        &server,
        Some(TOKEN_READ),
        &format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{DIGEST_B}", direction: UPSTREAM) {{ edges {{ evidence {{ principal }} }} }} }}"#
        ),
    )
    .await;
    assert_eq!(
        body["data"]["lineage"]["edges"][0]["evidence"][0]["principal"], "ci-b",
        "{body}"
    );

    // Evidence posts need an ingest token; health does not; metrics need a
    // read token.
    let response = https
        .send(
            server.api,
            "POST",
            "/v1/index?digest=sha256:00",
            None,
            "application/json",
            b"{}",
        )
        .await;
    assert_eq!(response.status, 401);
    let response = https
        .send(
            server.api,
            "POST",
            "/v1/index?digest=sha256:00",
            Some(TOKEN_A),
            "application/json",
            b"{}",
        )
        .await;
    assert_eq!(
        response.status, 400,
        "authenticated, then judged on content"
    );
    let health = https
        .send(server.api, "GET", "/healthz", None, "text/plain", b"")
        .await;
    assert_eq!(health.status, 200);
    let metrics = https
        .send(server.api, "GET", "/metrics", None, "text/plain", b"")
        .await;
    assert_eq!(metrics.status, 401);
    let metrics = https
        .send(
            server.api,
            "GET",
            "/metrics",
            Some(TOKEN_READ),
            "text/plain",
            b"",
        )
        .await
        .text();
    assert!(
        metrics.contains("provgraph_connections_total{listener=\"api\"}"),
        "{metrics}"
    );

    // Plain HTTP to a TLS listener gets nothing.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", server.api))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // No token ever reaches the log.
    let log = server.stderr();
    for secret in [TOKEN_A, TOKEN_B, TOKEN_READ] {
        assert!(!log.contains(secret), "a token leaked into the log");
    }
    assert!(log.contains("not authenticated"), "refusals are logged");
    server.stop().await;
}

#[tokio::test]
async fn bad_tls_and_token_files_stop_the_server_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(&tokens, "[[ingest]]\nname = \"ci\"\ntoken = \"short\"\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    for (args, expected) in [
        (
            vec!["--tokens", tokens.to_str().unwrap()],
            "at least 16 characters",
        ),
        (
            vec![
                "--tls-cert",
                missing.to_str().unwrap(),
                "--tls-key",
                missing.to_str().unwrap(),
            ],
            "cannot read TLS certificate",
        ),
    ] {
        let output = std::process::Command::new(crate::support::binary())
            .args(["serve", "--database-url", &db, "--otlp-grpc", "127.0.0.1:0"])
            .args(["--otlp-http", "127.0.0.1:0", "--api", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// `provgraph import` sends its ingest token; what it posts carries the
/// token's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_sends_its_token_and_the_evidence_names_it() {
    let pki = pki();
    let server = Server::start(Flavor::Sqlite, &["--tokens", pki.tokens.to_str().unwrap()]).await;
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("sbom.spdx.json");
    std::fs::write(
        &sbom,
        serde_json::json!({
            "spdxVersion": "SPDX-2.3",
            "SPDXID": "SPDXRef-DOCUMENT",
            "creationInfo": {"creators": ["Tool: syft-1.4.1"]},
            "packages": [{"name": "golang.org/x/net", "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                "referenceLocator": "pkg:golang/golang.org/x/net@v0.17.0"}]}]
        })
        .to_string(),
    )
    .unwrap();
    let import = |token: Option<&str>| {
        let mut command = std::process::Command::new(crate::support::binary());
        command
            .args(["import", "--server", &format!("http://{}", server.api)])
            .args(["--digest", DIGEST_A])
            .arg(&sbom)
            .env_remove("PROVGRAPH_TOKEN");
        if let Some(token) = token {
            command.env("PROVGRAPH_TOKEN", token);
        }
        command.output().unwrap()
    };
    let refused = import(None);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("ingest token"),
        "{stderr}"
    );
    let refused = import(Some(TOKEN_READ));
    assert!(!refused.status.success(), "a read token does not write");
    let accepted = import(Some(TOKEN_A));
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    // The token file has a read token too: reads need it.
    let answer = reqwest::Client::new()
        .post(format!("http://{}/graphql", server.api))
        .bearer_auth(TOKEN_READ)
        .json(&serde_json::json!({ "query": format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{DIGEST_A}", direction: UPSTREAM) {{ edges {{ kind evidence {{ kind principal }} }} }} }}"#
        ) }))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let evidence = &answer["data"]["lineage"]["edges"][0]["evidence"][0];
    assert_eq!(evidence["kind"], "SBOM", "{answer}");
    assert_eq!(evidence["principal"], "ci-a", "{answer}");
    server.stop().await;
}

/// `provgraph emit` from CI to a server with TLS and tokens: gRPC over TLS,
/// the CA from OTEL_EXPORTER_OTLP_CERTIFICATE, the token from
/// OTEL_EXPORTER_OTLP_HEADERS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_reaches_a_tls_server_with_its_token() {
    let pki = pki();
    let server = Server::start(Flavor::Sqlite, &pki.secure_args()).await;
    let emit = |headers: &str| {
        std::process::Command::new(crate::support::binary())
            .args(["emit", "--strict", "--quiet", "--protocol", "grpc"])
            .args([
                "--endpoint",
                &format!("https://localhost:{}", server.grpc.port()),
            ])
            .args([
                "--commit",
                &"e".repeat(40),
                "--repository",
                "https://github.com/acme/tls",
            ])
            .args(["--build-id", "emit-tls", "--digest", DIGEST_B])
            .env("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.cert)
            .env("OTEL_EXPORTER_OTLP_HEADERS", headers)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("TRACEPARENT")
            .output()
            .unwrap()
    };
    let refused = emit("x-other=1");
    assert!(!refused.status.success(), "no token, no export");
    let sent = emit(&format!("authorization=Bearer {TOKEN_B}"));
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let https = Https::new(&pki);
    let (status, body) = graphql(
        &https,
        &server,
        Some(TOKEN_READ),
        &format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{DIGEST_B}", direction: UPSTREAM) {{ nodes {{ key }} edges {{ evidence {{ principal }} }} }} }}"#
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&str> = body["data"]["lineage"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"ci-b/emit-tls"),
        "scoped by its token: {keys:?}"
    );
    assert_eq!(
        body["data"]["lineage"]["edges"][0]["evidence"][0]["principal"],
        "ci-b"
    );
    server.stop().await;
}

/// Issue #13, finding 6: with tokens on, build ids are stored under the
/// sender's principal, so ci-b naming ci-a's run id, or ci-a's provisional
/// build (its trace id), starts a build of its own instead of attaching its
/// commit to ci-a's image. Failed before: ci-b's commit was upstream of
/// ci-a's image.
#[tokio::test]
async fn build_ids_are_scoped_by_principal() {
    const COMMIT_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const COMMIT_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const DIGEST_P: &str =
        "sha256:dddd000000000000000000000000000000000000000000000000000000000004";
    const TRACE_P: u128 = 0x5ec0_0000_0000_0000_0000_0000_0000_0002;
    let pki = pki();
    let server = Server::start(Flavor::Sqlite, &pki.secure_args()).await;
    let https = Https::new(&pki);
    let send = |token: &'static str, trace: u128, attrs| {
        let body = request_body(trace, attrs);
        let https = https.clone();
        let server = &server;
        async move {
            let answer = post_otlp(&https, server, Some(token), body).await;
            assert_eq!(answer.status, 200, "{}", answer.text());
        }
    };
    // ci-a: run 42 built DIGEST_A from COMMIT_A; a trace with no run id
    // (a provisional build, named by its trace id) built DIGEST_P.
    send(
        TOKEN_A,
        0xa1,
        vec![
            kv("cicd.pipeline.run.id", "42"),
            kv("vcs.ref.head.revision", COMMIT_A),
            kv("oci.manifest.digest", DIGEST_A),
        ],
    )
    .await;
    send(
        TOKEN_A,
        TRACE_P,
        vec![
            kv("vcs.ref.head.revision", COMMIT_A),
            kv("oci.manifest.digest", DIGEST_P),
        ],
    )
    .await;
    // ci-b names ci-a's run id, then ci-a's provisional build, each with
    // its own commit.
    let runs = [
        "42".to_string(),
        format!("ci-a/{TRACE_P:032x}"),
        format!("{TRACE_P:032x}"),
    ];
    for (trace, run) in (0xb1..).zip(runs) {
        send(
            TOKEN_B,
            trace,
            vec![
                kv("cicd.pipeline.run.id", run.as_str()),
                kv("vcs.ref.head.revision", COMMIT_B),
            ],
        )
        .await;
    }
    for digest in [DIGEST_A, DIGEST_P] {
        let query = format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{digest}", direction: UPSTREAM) {{ nodes {{ kind key }} }} }}"#
        );
        let (status, body) = graphql(&https, &server, Some(TOKEN_READ), &query).await;
        assert_eq!(status, 200, "{body}");
        let keys = crate::support::node_keys(&body["data"]["lineage"]);
        assert!(
            keys.contains(&format!("COMMIT:{COMMIT_A}")),
            "{digest}: {keys:?}"
        );
        assert!(
            !keys.contains(&format!("COMMIT:{COMMIT_B}")),
            "ci-b attached its commit to ci-a's build of {digest}: {keys:?}"
        );
    }
    // GraphQL shows the id as sent and the principal.
    let (status, body) = graphql(
        &https,
        &server,
        Some(TOKEN_READ),
        r#"{ a: build(id: "ci-a/42") { id sentId principal commits { sha } }
             b: build(id: "ci-b/42") { id sentId principal commits { sha } } }"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["a"]["sentId"], "42", "{body}");
    assert_eq!(data["a"]["principal"], "ci-a", "{body}");
    assert_eq!(data["a"]["commits"][0]["sha"], COMMIT_A, "{body}");
    assert_eq!(data["b"]["sentId"], "42", "{body}");
    assert_eq!(data["b"]["principal"], "ci-b", "{body}");
    assert_eq!(data["b"]["commits"][0]["sha"], COMMIT_B, "{body}");
    server.stop().await;
}
