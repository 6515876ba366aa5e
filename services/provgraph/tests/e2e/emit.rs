//! End to end for `provgraph emit`: the real binary, run as a pipeline step
//! would run it (environment cleared but PATH and HOME, in a temporary git
//! repository with a go.mod and the files docker buildx writes), sending
//! through the real OpenTelemetry exporter to the real server (SQLite), then
//! lineage asked over GraphQL. Also: the command's exit status, an
//! unreachable server with and without --strict, GitHub Actions variables
//! and TRACEPARENT, OTLP/HTTP (protobuf and JSON), an OCI index, and the
//! standard OTEL_EXPORTER_OTLP_* variables down to the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{Server, binary, node_keys};
use provgraph_store::testing::Flavor;
use sha2::Digest;

const PRODUCT: &str = "sha256:5555555555555555555555555555555555555555555555555555555555555555";
const OTHER: &str = "sha256:6666666666666666666666666666666666666666666666666666666666666666";
const AMD64: &str = "sha256:7777777777777777777777777777777777777777777777777777777777777777";
const ARM64: &str = "sha256:8888888888888888888888888888888888888888888888888888888888888888";

const GO_MOD: &str = "module github.com/acme/calc

go 1.22

require (
\tgithub.com/spf13/cobra v1.8.0
\tgolang.org/x/net v0.17.0
\tgithub.com/spf13/pflag v1.0.5 // indirect
)

require github.com/google/uuid v1.6.0

exclude golang.org/x/net v0.16.0

replace golang.org/x/net => golang.org/x/net v0.23.0
";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| panic!("{program} {args:?}: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A git repository on branch main with one commit and the origin
/// `https://github.com/Acme/Calc.git`; returns it and its HEAD.
fn git_repository() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path();
    run(path, "git", &["init", "-q", "-b", "main"]);
    run(path, "git", &["config", "user.name", "CI"]);
    run(path, "git", &["config", "user.email", "ci@example.com"]);
    run(path, "git", &["config", "commit.gpgsign", "false"]);
    std::fs::write(path.join("go.mod"), GO_MOD).unwrap();
    std::fs::write(path.join("main.go"), "package main\n\nfunc main() {}\n").unwrap();
    run(path, "git", &["add", "."]);
    run(path, "git", &["commit", "-q", "-m", "calc"]);
    run(
        path,
        "git",
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/Acme/Calc.git",
        ],
    );
    let head = run(path, "git", &["rev-parse", "HEAD"]);
    (dir, head)
}

/// Runs `provgraph emit ARGS` in `dir` with a clean environment (PATH and
/// HOME only, plus `env`), as a CI step without CI variables.
fn emit(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command
        .arg("emit")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run provgraph emit")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_sent(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}; stderr:\n{}",
        output.status,
        stderr(output)
    );
    assert!(
        stderr(output).contains("provgraph emit: sent to "),
        "{}",
        stderr(output)
    );
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn upstream_keys(server: &Server, digest: &str) -> Vec<String> {
    let data = server
        .data(&format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{digest}", direction: UPSTREAM) {{ nodes {{ kind key }} }} }}"#
        ))
        .await;
    node_keys(&data["lineage"])
}

fn schema_has_modules() -> bool {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/schema.graphql");
    std::fs::read_to_string(schema)
        .map(|text| text.contains("module("))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_in_a_git_repository_builds_the_lineage() {
    let server = Server::start(Flavor::Sqlite, &[]).await;
    let (repo, head) = git_repository();
    let dir = repo.path();
    let meta = format!(
        r#"{{
  "buildx.build.ref": "builder/builder0/abc",
  "containerimage.config.digest": "{OTHER}",
  "containerimage.descriptor": {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{PRODUCT}", "size": 1234}},
  "containerimage.digest": "{PRODUCT}",
  "image.name": "ghcr.io/acme/calc:v1.2.3,ghcr.io/acme/calc:latest"
}}"#
    );
    std::fs::write(dir.join("meta.json"), meta).unwrap();
    let gomod_hex = sha256_hex(GO_MOD.as_bytes());
    let endpoint = format!("http://{}", server.grpc);

    // --dry-run: the attributes on stdout, nothing sent (a closed port and
    // --strict would fail otherwise).
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let dry = emit(
        dir,
        &[
            "--endpoint",
            &closed,
            "--strict",
            "--dry-run",
            "--buildx-metadata",
            "meta.json",
            "--build-id",
            "emit-e2e-1",
        ],
        &[],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    let json: serde_json::Value = serde_json::from_slice(&dry.stdout).expect("dry-run JSON");
    let attributes = &json["attributes"];
    assert_eq!(attributes["vcs.ref.head.revision"], head.as_str());
    assert_eq!(
        attributes["vcs.repository.url.full"],
        "https://github.com/Acme/Calc.git"
    );
    assert_eq!(attributes["vcs.ref.head.name"], "main");
    assert_eq!(attributes["cicd.pipeline.run.id"], "emit-e2e-1");
    assert_eq!(attributes["go.mod.hash"], gomod_hex.as_str());
    assert_eq!(attributes["go.module.path"], "github.com/acme/calc");
    assert_eq!(attributes["go.module.go_version"], "1.22");
    assert_eq!(
        attributes["go.mod.requires"],
        serde_json::json!([
            "github.com/spf13/cobra@v1.8.0",
            "golang.org/x/net@v0.23.0",
            "github.com/google/uuid@v1.6.0"
        ]),
        "the replace directive is applied"
    );
    assert_eq!(
        attributes["go.mod.requires.indirect"],
        serde_json::json!(["github.com/spf13/pflag@v1.0.5"])
    );
    assert_eq!(attributes["oci.manifest.digest"], PRODUCT);
    assert_eq!(
        attributes["container.image.repo_digests"],
        serde_json::json!([format!("ghcr.io/acme/calc@{PRODUCT}")])
    );
    assert_eq!(attributes["container.image.name"], "ghcr.io/acme/calc");
    assert_eq!(
        attributes["container.image.tags"],
        serde_json::json!(["v1.2.3", "latest"])
    );
    assert!(!stderr(&dry).contains("could not send"), "{}", stderr(&dry));

    // The real thing.
    let output = emit(
        dir,
        &[
            "--endpoint",
            &endpoint,
            "--buildx-metadata",
            "meta.json",
            "--build-id",
            "emit-e2e-1",
        ],
        &[],
    );
    assert_sent(&output);
    let said = stderr(&output);
    for line in [
        format!("{head} (git rev-parse HEAD)"),
        "https://github.com/Acme/Calc.git (git config --get remote.origin.url)".to_string(),
        "main (git rev-parse --abbrev-ref HEAD)".to_string(),
        "emit-e2e-1 (--build-id)".to_string(),
        format!("sha256:{gomod_hex} (go.mod, 3 requirements, 1 indirect)"),
        format!("{PRODUCT} ghcr.io/acme/calc (--buildx-metadata meta.json)"),
    ] {
        assert!(said.contains(&line), "summary lacks {line:?}:\n{said}");
    }

    let mut keys = upstream_keys(&server, PRODUCT).await;
    keys.retain(|k| !k.starts_with("MODULE:"));
    keys.sort();
    let mut want = vec![
        format!("ARTIFACT:{PRODUCT}"),
        "BUILD:emit-e2e-1".to_string(),
        format!("COMMIT:{head}"),
        "REPOSITORY:github.com/acme/calc".to_string(),
        format!("GOMOD:sha256:{gomod_hex}"),
    ];
    want.sort();
    assert_eq!(keys, want, "upstream lineage of the image");
    let data = server
        .data(&format!(
            r#"{{ artifact(digest: "{PRODUCT}") {{ names tags }} build(id: "emit-e2e-1") {{ branches }} }}"#
        ))
        .await;
    assert_eq!(
        data["artifact"]["names"],
        serde_json::json!(["ghcr.io/acme/calc"])
    );
    let mut tags: Vec<String> = serde_json::from_value(data["artifact"]["tags"].clone()).unwrap();
    tags.sort();
    assert_eq!(tags, vec!["latest", "v1.2.3"]);
    assert_eq!(data["build"]["branches"], serde_json::json!(["main"]));

    if schema_has_modules() {
        let data = server
            .data(
                r#"{ net: module(path: "golang.org/x/net") { versions { key indirectOnly builds { id } artifacts { digest } } }
                     pflag: module(path: "github.com/spf13/pflag") { versions { key indirectOnly } } }"#,
            )
            .await;
        let net = &data["net"]["versions"];
        assert_eq!(net.as_array().unwrap().len(), 1, "{data}");
        assert_eq!(net[0]["key"], "golang.org/x/net@v0.23.0", "the replacement");
        assert_eq!(net[0]["indirectOnly"], false);
        assert_eq!(net[0]["builds"][0]["id"], "emit-e2e-1");
        assert_eq!(net[0]["artifacts"][0]["digest"], PRODUCT);
        assert_eq!(
            data["pflag"]["versions"][0]["key"],
            "github.com/spf13/pflag@v1.0.5"
        );
        assert_eq!(data["pflag"]["versions"][0]["indirectOnly"], true);
    } else {
        eprintln!("SKIPPED: MODULE assertions (schema/schema.graphql has no module query yet)");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_status_unreachable_server_and_bad_files() {
    let server = Server::start(Flavor::Sqlite, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://{}", server.grpc);

    // The command's status is provgraph's; the span still arrives.
    let output = emit(
        dir.path(),
        &[
            "--endpoint",
            &endpoint,
            "--build-id",
            "emit-exit-3",
            "--",
            "sh",
            "-c",
            "echo building; exit 3",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "building\n");
    assert!(stderr(&output).contains("provgraph emit: sent to "));
    assert!(
        stderr(&output).contains("exit code   3"),
        "{}",
        stderr(&output)
    );

    // Killed by a signal: 128 + 15, as a shell says.
    let output = emit(
        dir.path(),
        &[
            "--endpoint",
            &endpoint,
            "--build-id",
            "emit-signal",
            "--",
            "sh",
            "-c",
            "kill -TERM $$",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(143), "{}", stderr(&output));

    // A command that does not exist: 127, and the span says so.
    let output = emit(
        dir.path(),
        &[
            "--endpoint",
            &endpoint,
            "--build-id",
            "emit-missing",
            "--",
            "no-such-command-anywhere",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(127), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot run \"no-such-command-anywhere\""));

    for build in ["emit-exit-3", "emit-signal", "emit-missing"] {
        let data = server
            .data(&format!(
                r#"{{ node(kind: BUILD, key: "{build}") {{ key }} }}"#
            ))
            .await;
        assert_eq!(data["node"]["key"], build, "the span of {build} arrived");
    }

    // A named file that is wrong: one clear line, exit 2, and the rest is
    // still sent.
    std::fs::write(dir.path().join("meta.json"), r#"{"buildx.build.ref": "x"}"#).unwrap();
    let output = emit(
        dir.path(),
        &[
            "--endpoint",
            &endpoint,
            "--build-id",
            "emit-bad-file",
            "--buildx-metadata",
            "meta.json",
            "--iidfile",
            "missing.iid",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains("provgraph emit: --buildx-metadata meta.json: no containerimage.digest\n"),
        "{said}"
    );
    assert!(
        said.contains("provgraph emit: --iidfile missing.iid: no such file\n"),
        "{said}"
    );
    assert!(said.contains("provgraph emit: sent to "), "{said}");
    assert!(!said.contains("panicked"), "{said}");

    // Nothing listens: --strict fails quickly, with one line.
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let output = emit(
        dir.path(),
        &[
            "--quiet",
            "--strict",
            "--endpoint",
            &closed,
            "--build-id",
            "x",
        ],
        &[],
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = stderr(&output);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {said}");
    assert!(
        lines[0].starts_with(&format!(
            "provgraph emit: could not send the span to {closed}: "
        )),
        "{said}"
    );

    // Without --strict the pipeline goes on: exit 0, the same line.
    let output = emit(dir.path(), &["--endpoint", &closed], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "provgraph emit: could not send the span to {closed}: "
        )),
        "{}",
        stderr(&output)
    );
    // ... and a wrapped command keeps its own status.
    let output = emit(
        dir.path(),
        &["--endpoint", &closed, "--", "sh", "-c", "exit 5"],
        &[],
    );
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_actions_variables_win_over_git_and_traceparent_joins() {
    let server = Server::start(Flavor::Sqlite, &[]).await;
    let (repo, head) = git_repository();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert_ne!(sha, head);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let github = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", sha),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "Octo/Other"),
        ("GITHUB_RUN_ID", "9876543210"),
        ("GITHUB_RUN_ATTEMPT", "2"),
        ("GITHUB_REF_NAME", "release"),
        ("GITHUB_WORKFLOW", "CI"),
        ("TRACEPARENT", traceparent.as_str()),
    ];
    let endpoint = format!("http://{}", server.grpc);
    let output = emit(
        repo.path(),
        &["--endpoint", &endpoint, "--digest", OTHER],
        &github,
    );
    assert_sent(&output);
    let said = stderr(&output);
    for line in [
        format!("{sha} (GITHUB_SHA)"),
        "https://github.com/Octo/Other (GITHUB_SERVER_URL + GITHUB_REPOSITORY)".to_string(),
        "9876543210 (GITHUB_RUN_ID), attempt 2 (GITHUB_RUN_ATTEMPT)".to_string(),
        format!("in trace {trace} (TRACEPARENT)"),
    ] {
        assert!(said.contains(&line), "summary lacks {line:?}:\n{said}");
    }

    let data = server
        .data(&format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{OTHER}", direction: UPSTREAM) {{
                   nodes {{ kind key }} edges {{ kind evidence {{ traceId sender }} }} }}
                 build(id: "9876543210") {{ pipelines branches }} }}"#
        ))
        .await;
    let keys = node_keys(&data["lineage"]);
    assert!(keys.contains(&format!("COMMIT:{sha}")), "{keys:?}");
    assert!(
        !keys.contains(&format!("COMMIT:{head}")),
        "GITHUB_SHA wins over git: {keys:?}"
    );
    assert!(keys.contains(&"REPOSITORY:github.com/octo/other".to_string()));
    assert!(keys.contains(&"BUILD:9876543210".to_string()));
    let edges = data["lineage"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for edge in edges {
        for evidence in edge["evidence"].as_array().unwrap() {
            assert_eq!(evidence["traceId"], trace, "joined the CI's trace: {edge}");
            assert_eq!(evidence["sender"], "provgraph-emit");
        }
    }
    assert_eq!(data["build"]["pipelines"], serde_json::json!(["CI"]));
    assert_eq!(data["build"]["branches"], serde_json::json!(["release"]));

    // The attempt and the run URL are sent too; flags beat the environment.
    let dry = emit(
        repo.path(),
        &["--dry-run", "--branch", "hotfix", "--pipeline", "release"],
        &github,
    );
    let json: serde_json::Value = serde_json::from_slice(&dry.stdout).expect("dry-run JSON");
    assert_eq!(json["attributes"]["github.run_attempt"], 2);
    assert_eq!(
        json["attributes"]["cicd.pipeline.run.url.full"],
        "https://github.com/Octo/Other/actions/runs/9876543210/attempts/2"
    );
    assert_eq!(json["attributes"]["vcs.ref.head.name"], "hotfix");
    assert_eq!(json["attributes"]["cicd.pipeline.name"], "release");
    assert_eq!(json["parent"], traceparent.as_str());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_over_http_and_an_oci_index() {
    let server = Server::start(Flavor::Sqlite, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    // As `docker buildx imagetools inspect --raw` prints it: the exact bytes.
    let index = format!(
        r#"{{
   "schemaVersion": 2,
   "mediaType": "application/vnd.oci.image.index.v1+json",
   "manifests": [
      {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{AMD64}", "size": 1054, "platform": {{"architecture": "amd64", "os": "linux"}}}},
      {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{ARM64}", "size": 1054, "platform": {{"architecture": "arm64", "os": "linux"}}}}
   ]
}}"#
    );
    std::fs::write(dir.path().join("index.json"), &index).unwrap();
    let index_digest = format!("sha256:{}", sha256_hex(index.as_bytes()));

    let output = emit(
        dir.path(),
        &[
            "--protocol",
            "http/protobuf",
            "--endpoint",
            &format!("http://{}", server.http),
            "--oci-index",
            "index.json",
            "--build-id",
            "emit-http-1",
        ],
        &[],
    );
    assert_sent(&output);
    assert!(
        stderr(&output).contains("/v1/traces (http/protobuf, --endpoint)"),
        "{}",
        stderr(&output)
    );
    let keys = upstream_keys(&server, &index_digest).await;
    assert!(keys.contains(&"BUILD:emit-http-1".to_string()), "{keys:?}");
    let dry = emit(dir.path(), &["--dry-run", "--oci-index", "index.json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(json["attributes"]["oci.manifest.digest"], index_digest);
    assert_eq!(
        json["attributes"]["oci.index.manifests"],
        serde_json::json!([AMD64, ARM64])
    );

    // The standard variables alone: OTLP/HTTP JSON, and gRPC.
    let base = format!("http://{}", server.http);
    let output = emit(
        dir.path(),
        &["--digest", PRODUCT, "--build-id", "emit-json-1"],
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
        ],
    );
    assert_sent(&output);
    let grpc = format!("http://{}", server.grpc);
    let output = emit(
        dir.path(),
        &["--digest", OTHER, "--build-id", "emit-grpc-env"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", grpc.as_str())],
    );
    assert_sent(&output);
    assert!(keys_contain(&server, PRODUCT, "BUILD:emit-json-1").await);
    assert!(keys_contain(&server, OTHER, "BUILD:emit-grpc-env").await);
    server.stop().await;
}

async fn keys_contain(server: &Server, digest: &str, key: &str) -> bool {
    upstream_keys(server, digest).await.iter().any(|k| k == key)
}

/// One HTTP/1.1 request as received: request line, lower-cased headers.
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Accepts one OTLP/HTTP request and answers 200 with an empty response.
fn one_request(listener: TcpListener) -> std::thread::JoinHandle<Received> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .unwrap();
        Received {
            request_line: request_line.trim_end().to_string(),
            headers,
            body,
        }
    })
}

#[test]
fn otel_variables_reach_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let header = |received: &Received, name: &str| {
        received
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };

    // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is; the headers are sent.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = one_request(listener);
    let traces = format!("http://{address}/custom/traces");
    let output = emit(
        dir.path(),
        &["--build-id", "wire-1"],
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.as_str()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20t0ken,x-team=ci",
            ),
        ],
    );
    assert_sent(&output);
    let received = server.join().unwrap();
    assert_eq!(received.request_line, "POST /custom/traces HTTP/1.1");
    assert_eq!(
        header(&received, "authorization").as_deref(),
        Some("Bearer t0ken")
    );
    assert_eq!(header(&received, "x-team").as_deref(), Some("ci"));
    assert_eq!(
        header(&received, "content-type").as_deref(),
        Some("application/x-protobuf")
    );
    assert!(
        received.body.windows(6).any(|w| w == b"wire-1"),
        "the body carries the run id"
    );

    // OTEL_EXPORTER_OTLP_ENDPOINT is a base: /v1/traces is appended; JSON.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = one_request(listener);
    let base = format!("http://{address}/otlp");
    let output = emit(
        dir.path(),
        &["--build-id", "wire-2"],
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
        ],
    );
    assert_sent(&output);
    let received = server.join().unwrap();
    assert_eq!(received.request_line, "POST /otlp/v1/traces HTTP/1.1");
    assert_eq!(
        header(&received, "content-type").as_deref(),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_slice(&received.body).expect("OTLP/JSON");
    let attributes = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"];
    assert!(
        attributes
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "cicd.pipeline.run.id" && a["value"]["stringValue"] == "wire-2"),
        "{body}"
    );

    // A protocol that does not exist: one line, and the pipeline goes on.
    let output = emit(
        dir.path(),
        &["--quiet"],
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stderr(&output).trim(),
        "provgraph emit: could not send the span to the OTLP endpoint: OTEL_EXPORTER_OTLP_PROTOCOL=\"udp\" is not one of grpc, http/protobuf, http/json"
    );
}
