//! Signatures as verified facts, end to end: evidence posted to
//! `/v1/evidence` on the real server, verified against a trust policy, kept
//! whether or not it verifies, proving lineage where it does; the audit
//! query answers for a signed, a contradicted, a forged and an unsigned
//! digest; a changed policy re-evaluates `trusted` at start.

use crate::support::{Server, kv};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use prost::Message;
use provgraph_store::testing::{Flavor, TestDb};
use serde_json::json;
use sigstore_verify::crypto::KeyPair;
use sigstore_verify::types::{SignatureBytes, pae};

const COMMIT_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const COMMIT_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

fn b64(bytes: &[u8]) -> String {
    SignatureBytes::from_bytes(bytes).to_base64()
}

/// Exports one span of trace `trace` with `attributes` over OTLP/HTTP.
async fn export_span(server: &Server, trace: u8, attributes: Vec<KeyValue>) {
    let request = crate::support::one_span(trace, 1, "release", attributes);
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", server.http))
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// A build's span claiming `commit` built `image` in run `run`.
async fn claim(server: &Server, trace: u8, run: &str, commit: &str, image: &str) {
    export_span(
        server,
        trace,
        vec![
            kv("cicd.pipeline.run.id", run),
            kv("vcs.ref.head.revision", commit),
            kv("vcs.repository.url.full", "https://github.com/acme/calc"),
            kv("oci.manifest.digest", image),
        ],
    )
    .await;
}

async fn post_evidence(server: &Server, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/evidence", server.api))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A key-only cosign attestation layer: SLSA v1 provenance for `image`.
fn attestation(pair: &KeyPair, image: &str, commit: &str, run: &str) -> serde_json::Value {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://slsa.dev/provenance/v1",
        "subject": [{"name": "ghcr.io/acme/calc", "digest": {"sha256": image.trim_start_matches("sha256:")}}],
        "predicate": {
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {"workflow": {"repository": "https://github.com/acme/calc", "ref": "refs/heads/main", "path": ".github/workflows/release.yml"}},
                "resolvedDependencies": [{"uri": "git+https://github.com/acme/calc@refs/heads/main", "digest": {"gitCommit": commit}}]
            },
            "runDetails": {
                "builder": {"id": "https://github.com/actions/runner"},
                "metadata": {"invocationId": format!("https://github.com/acme/calc/actions/runs/{run}/attempts/1")}
            }
        }
    });
    key_attestation(pair, &statement)
}

/// A key-only cosign attestation layer carrying `statement` (an in-toto
/// statement's JSON) in a DSSE envelope signed by `pair`.
pub(crate) fn key_attestation(pair: &KeyPair, statement: &serde_json::Value) -> serde_json::Value {
    let statement = serde_json::to_vec(statement).unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let signature = pair.sign(&pae(payload_type, &statement)).unwrap();
    let envelope = serde_json::to_vec(&json!({
        "payloadType": payload_type,
        "payload": b64(&statement),
        "signatures": [{"keyid": "", "sig": signature.to_base64()}]
    }))
    .unwrap();
    json!({"payload": b64(&envelope), "signature": ""})
}

/// A key-only cosign image signature (simple signing) for `image`.
fn simple_signature(
    pair: &KeyPair,
    image: &str,
    annotations: serde_json::Value,
) -> (Vec<u8>, String) {
    let payload = serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": "ghcr.io/acme/calc"},
            "image": {"docker-manifest-digest": image},
            "type": "cosign container image signature"
        },
        "optional": annotations
    }))
    .unwrap();
    let signature = pair.sign(&payload).unwrap().to_base64();
    (payload, signature)
}

pub(crate) fn policy_file(dir: &std::path::Path, pair: Option<&KeyPair>) -> String {
    let mut toml = String::new();
    if let Some(pair) = pair {
        std::fs::write(
            dir.join("release.pub"),
            pair.public_key_der().unwrap().to_pem(),
        )
        .unwrap();
        toml.push_str("[[keys]]\nname = \"release-key\"\npublic_key = \"release.pub\"\n\n");
    }
    toml.push_str(
        "[[identities]]\nissuer = \"https://token.actions.githubusercontent.com\"\n\
         subject_regex = \"https://github\\\\.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/\\\\.github/workflows/.*@refs/heads/main\"\n",
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, toml).unwrap();
    path.display().to_string()
}

fn audit_query(image: &str) -> String {
    format!(
        r#"{{ audit(digest: "{image}") {{ verdict summary signedByTrustedSigner sourceProven claimsCorroborated
              conflicts {{ kind claimed proven }}
              signatures {{ verified trusted signer method reason sourceCommit }}
              chain {{ edges {{ kind support from {{ key }} to {{ key }} proofs {{ origin signature {{ trusted }} }} }} }} }} }}"#
    )
}

async fn signatures_prove_contradict_and_are_kept_when_forged(flavor: Flavor) {
    let db = TestDb::new(flavor).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = KeyPair::generate_ecdsa_p256().unwrap();
    let policy = policy_file(dir.path(), Some(&pair));
    let server = Server::start_on(&db.url, &["--trust-policy", &policy]);

    // Signed: spans claim commit A in run 100; the attestation proves it.
    let signed = digest(1);
    claim(&server, 1, "100", COMMIT_A, &signed).await;
    let (status, answer) =
        post_evidence(&server, &attestation(&pair, &signed, COMMIT_A, "100")).await;
    assert_eq!(status, 200, "{answer}");
    let result = &answer["results"][0];
    assert_eq!(result["subject"], signed);
    assert_eq!(result["verified"], true, "{answer}");
    assert_eq!(result["trusted"], true);
    assert_eq!(result["signer"], "release-key");
    let audit = server.data(&audit_query(&signed)).await["audit"].clone();
    assert_eq!(audit["verdict"], "TRUSTED", "{audit}");
    assert_eq!(audit["signedByTrustedSigner"], true);
    assert_eq!(audit["sourceProven"], true);
    assert_eq!(audit["claimsCorroborated"], true);
    assert_eq!(audit["signatures"][0]["method"], "PUBLIC_KEY_NO_LOG");
    assert_eq!(audit["signatures"][0]["sourceCommit"], COMMIT_A);
    let edges = audit["chain"]["edges"].as_array().unwrap();
    let built_by = edges
        .iter()
        .find(|e| e["kind"] == "BUILT_BY")
        .expect("BUILT_BY edge");
    assert_eq!(built_by["support"], "BOTH", "{built_by}");
    assert_eq!(built_by["to"]["key"], "100");
    assert_eq!(built_by["proofs"][0]["origin"], "SLSA_PREDICATE");

    // Contradicted: spans say commit A built run 200; the signed provenance
    // says commit B. Both are shown, neither picked.
    let contradicted = digest(2);
    claim(&server, 2, "200", COMMIT_A, &contradicted).await;
    let (status, _) =
        post_evidence(&server, &attestation(&pair, &contradicted, COMMIT_B, "200")).await;
    assert_eq!(status, 200);
    let audit = server.data(&audit_query(&contradicted)).await["audit"].clone();
    assert_eq!(audit["verdict"], "CONTRADICTED", "{audit}");
    assert_eq!(audit["claimsCorroborated"], false);
    let conflict = &audit["conflicts"][0];
    assert_eq!(conflict["kind"], "COMMIT");
    assert_eq!(conflict["claimed"], json!([COMMIT_A]));
    assert_eq!(conflict["proven"], json!([COMMIT_B]));

    // Forged: a payload changed after signing. Kept, unverified, no links.
    let forged = digest(3);
    claim(&server, 3, "300", COMMIT_A, &forged).await;
    let (payload, signature) =
        simple_signature(&pair, &forged, json!({"cicd.pipeline.run.id": "300"}));
    let mut tampered = payload.clone();
    let at = tampered.windows(4).position(|w| w == b"acme").unwrap();
    tampered[at] = b'A';
    let (status, answer) = post_evidence(
        &server,
        &json!({"payload": b64(&tampered), "signature": signature}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["verified"], false, "{answer}");
    let audit = server.data(&audit_query(&forged)).await["audit"].clone();
    assert_eq!(audit["verdict"], "FORGED", "{audit}");
    assert_eq!(audit["signatures"][0]["verified"], false);
    let edges = audit["chain"]["edges"].as_array().unwrap();
    // (commit A IN_REPOSITORY acme/calc stays proven: the first digest's
    // attestation proves it.)
    for kind in ["BUILT_BY", "FROM_COMMIT", "FROM_REPOSITORY"] {
        let edge = edges.iter().find(|e| e["kind"] == kind).unwrap();
        assert_eq!(
            edge["support"], "CLAIMED",
            "a forgery proves nothing: {edge}"
        );
    }

    // The genuine signature with a build annotation proves the build link.
    let (status, answer) = post_evidence(
        &server,
        &json!({"payload": b64(&payload), "signature": signature}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["verified"], true, "{answer}");
    let audit = server.data(&audit_query(&forged)).await["audit"].clone();
    assert_eq!(
        audit["verdict"], "TRUSTED",
        "one good signature among bad ones: {audit}"
    );
    assert_eq!(
        audit["signatures"].as_array().unwrap().len(),
        2,
        "each signature listed separately"
    );
    let edges = audit["chain"]["edges"].as_array().unwrap();
    let built_by = edges.iter().find(|e| e["kind"] == "BUILT_BY").unwrap();
    assert_eq!(built_by["support"], "BOTH");
    assert_eq!(built_by["proofs"][0]["origin"], "ANNOTATION");

    // Unsigned.
    let unsigned = digest(4);
    claim(&server, 4, "400", COMMIT_A, &unsigned).await;
    let audit = server.data(&audit_query(&unsigned)).await["audit"].clone();
    assert_eq!(audit["verdict"], "UNSIGNED");

    // Malformed evidence: 400, nothing stored.
    let (status, answer) = post_evidence(&server, &json!({"hello": "world"})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty() && !e.contains('\n'))
    );

    // A policy without the key: restarting re-evaluates what is stored.
    let mut server = server;
    assert!(server.terminate().await.success());
    let policy = policy_file(dir.path(), None);
    let server = Server::start_on(&db.url, &["--trust-policy", &policy]);
    let data = server
        .data(&format!(
            r#"{{ artifact(digest: "{signed}") {{ signatures {{ verified trusted reason }} }} }}"#
        ))
        .await;
    assert_eq!(
        data["artifact"]["signatures"][0]["trusted"], false,
        "{data}"
    );
    let audit = server.data(&audit_query(&signed)).await["audit"].clone();
    assert_ne!(audit["verdict"], "TRUSTED");
    assert_eq!(audit["sourceProven"], false);
    server.stop().await;
    db.cleanup().await;
}

/// A real keyless DSSE bundle from the sigstore-conformance suite: its
/// certificate and its SLSA predicate name different repositories and
/// commits, and the audit shows the conflict instead of picking one.
#[tokio::test]
async fn a_real_keyless_attestation_whose_certificate_and_predicate_disagree() {
    let case = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json");
    let case = std::env::var_os("PROVGRAPH_CONFORMANCE_DIR")
        .map(|d| {
            std::path::PathBuf::from(d).join("happy-path-intoto-in-dsse-v3/bundle.sigstore.json")
        })
        .unwrap_or(case);
    let Ok(bundle) = std::fs::read(&case) else {
        assert!(
            std::env::var("PROVGRAPH_REQUIRE_CONFORMANCE").as_deref() != Ok("1"),
            "missing {}",
            case.display()
        );
        println!("SKIPPED: no conformance bundle at {}", case.display());
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), None);
    let server = Server::start(Flavor::Sqlite, &["--trust-policy", &policy]).await;
    let bundle: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    let (status, answer) = post_evidence(&server, &bundle).await;
    assert_eq!(status, 200, "{answer}");
    let result = &answer["results"][0];
    assert_eq!(result["verified"], true, "{answer}");
    assert_eq!(
        result["trusted"], true,
        "the policy's anchored regex allows the beacon workflow"
    );
    assert_eq!(result["method"], "KEYLESS_CERTIFICATE");
    let subject = result["subject"].as_str().unwrap().to_string();
    let audit = server.data(&audit_query(&subject)).await["audit"].clone();
    assert_eq!(audit["verdict"], "CONTRADICTED", "{audit}");
    let kinds: Vec<&str> = audit["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"COMMIT") && kinds.contains(&"REPOSITORY"),
        "{kinds:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn import_posts_files_with_progress_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let pair = KeyPair::generate_ecdsa_p256().unwrap();
    let policy = policy_file(dir.path(), Some(&pair));
    let server = Server::start(Flavor::Sqlite, &["--trust-policy", &policy]).await;
    let image = digest(9);
    let (payload, signature) = simple_signature(&pair, &image, json!(null));
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        serde_json::to_vec(&json!({"payload": b64(&payload), "signature": signature})).unwrap(),
    )
    .unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"not\": \"evidence\"}").unwrap();
    let output = std::process::Command::new(crate::support::binary())
        .args(["import", "--server", &format!("http://{}", server.api)])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "one file failed: {stdout} {stderr}"
    );
    assert!(stdout.contains("imported 1 of 2 file(s): 1 trusted, 0 verified but untrusted, 0 not verified; 1 file(s) failed"), "{stdout}");
    assert!(
        stderr.contains("[1/2]")
            && stderr.contains("[2/2]")
            && stderr.contains("bad.json: FAILED: HTTP 400"),
        "{stderr}"
    );
    let data = server
        .data(&format!(
            r#"{{ artifact(digest: "{image}") {{ signatures {{ trusted signer }} }} }}"#
        ))
        .await;
    assert_eq!(data["artifact"]["signatures"][0]["signer"], "release-key");
    server.stop().await;
}

async fn post_index(server: &Server, body: &[u8], digest: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/index", server.api))
        .query(&[("digest", digest), ("source", "registry.example/acme/calc")])
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn sha256_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// cosign signs only the index of a multi-arch image: a platform manifest's
/// lineage and audit reach what was claimed and proven for its index.
async fn multi_arch_platforms_inherit_their_index(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let pair = KeyPair::generate_ecdsa_p256().unwrap();
    let policy = policy_file(dir.path(), Some(&pair));
    let server = Server::start(flavor, &["--trust-policy", &policy]).await;
    let (amd64, arm64) = (digest(0x51), digest(0x52));
    let index_body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd64, "size": 1000, "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm64, "size": 1000, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
        ]
    }))
    .unwrap();
    let index = sha256_of(&index_body);
    claim(&server, 0x50, "500", COMMIT_A, &index).await;
    let (status, answer) =
        post_evidence(&server, &attestation(&pair, &index, COMMIT_A, "500")).await;
    assert_eq!(status, 200, "{answer}");

    // The index must hash to its digest.
    let (status, answer) = post_index(&server, &index_body, &digest(0x53)).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("hashes to"),
        "{answer}"
    );
    let (status, answer) = post_index(&server, &index_body, &index).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["manifests"][1]["platform"], "linux/arm64/v8");

    let audit = server.data(&audit_query(&arm64)).await["audit"].clone();
    assert_eq!(audit["verdict"], "TRUSTED", "{audit}");
    assert_eq!(audit["sourceProven"], true);
    assert_eq!(audit["signatures"][0]["verified"], true);
    let covered = server
        .data(&format!(
            r#"{{ audit(digest: "{arm64}") {{ coveredThroughIndexes signatures {{ subject }} }}
                 artifact(digest: "{arm64}") {{ platform indexes {{ digest platforms {{ digest }} }} }}
                 lineage(kind: COMMIT, key: "{COMMIT_A}", direction: DOWNSTREAM) {{ nodes {{ kind key }} }} }}"#
        ))
        .await;
    assert_eq!(covered["audit"]["coveredThroughIndexes"], json!([index]));
    assert_eq!(
        covered["audit"]["signatures"][0]["subject"], index,
        "the signature covers the index, not the platform manifest itself"
    );
    assert_eq!(covered["artifact"]["platform"], "linux/arm64/v8");
    assert_eq!(covered["artifact"]["indexes"][0]["digest"], index);
    assert_eq!(
        covered["artifact"]["indexes"][0]["platforms"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let keys = crate::support::node_keys(&covered["lineage"]);
    assert!(
        keys.contains(&format!("ARTIFACT:{arm64}")),
        "downstream from the commit reaches the platform manifests: {keys:?}"
    );
    server.stop().await;
}

provgraph_store::both_databases!(
    signatures_prove_contradict_and_are_kept_when_forged,
    multi_arch_platforms_inherit_their_index,
);

/// "Sign the trace id with the image": a verified signature whose signed
/// annotations carry the build's trace id proves the link to that trace's
/// build, whatever run id the trace carries.
#[tokio::test]
async fn a_signed_trace_id_links_the_image_to_that_traces_build() {
    let dir = tempfile::tempdir().unwrap();
    let pair = KeyPair::generate_ecdsa_p256().unwrap();
    let policy = policy_file(dir.path(), Some(&pair));
    let server = Server::start(Flavor::Sqlite, &["--trust-policy", &policy]).await;
    let image = digest(0x61);
    claim(&server, 0x60, "600", COMMIT_A, &image).await;
    let traceparent = format!("00-{}-0101010101010101-01", "60".repeat(16));
    let (payload, signature) =
        simple_signature(&pair, &image, json!({ "traceparent": traceparent }));
    let (status, answer) = post_evidence(
        &server,
        &json!({"payload": b64(&payload), "signature": signature}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["trusted"], true, "{answer}");
    let audit = server.data(&audit_query(&image)).await["audit"].clone();
    let edges = audit["chain"]["edges"].as_array().unwrap();
    let built_by = edges.iter().find(|e| e["kind"] == "BUILT_BY").unwrap();
    assert_eq!(
        built_by["to"]["key"], "600",
        "the trace's run id names the build"
    );
    assert_eq!(built_by["support"], "BOTH", "{built_by}");
    assert_eq!(built_by["proofs"][0]["origin"], "ANNOTATION");
    server.stop().await;
}

fn spdx(modules: &[&str]) -> serde_json::Value {
    let packages: Vec<serde_json::Value> = modules
        .iter()
        .map(|m| json!({"name": m, "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": format!("pkg:golang/{m}")}]}))
        .chain([json!({"name": "musl", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"}]})])
        .collect();
    json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "creationInfo": {"creators": ["Tool: syft-1.4.1"]}, "packages": packages})
}

/// SBOMs: bare (an unsigned claim) or attested (a proof); their Go modules
/// are compared with the build's go.mod.
#[tokio::test]
async fn sboms_list_packages_and_disagreements_with_go_mod_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    let pair = KeyPair::generate_ecdsa_p256().unwrap();
    let policy = policy_file(dir.path(), Some(&pair));
    let server = Server::start(Flavor::Sqlite, &["--trust-policy", &policy]).await;
    let image = digest(0x71);
    // The build's go.mod requires x/net v0.17.0.
    let requires = KeyValue {
        key: "go.mod.requires".into(),
        value: Some(AnyValue {
            value: Some(Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Value::StringValue("golang.org/x/net@v0.17.0".into())),
                    }],
                },
            )),
        }),
        ..Default::default()
    };
    export_span(
        &server,
        0x70,
        vec![
            kv("cicd.pipeline.run.id", "700"),
            kv("go.mod.hash", "7".repeat(64)),
            kv("oci.manifest.digest", &image),
            requires,
        ],
    )
    .await;

    // A bare SBOM needs the digest it describes.
    let (status, answer) = post_evidence(&server, &spdx(&["golang.org/x/net@v0.16.0"])).await;
    assert_eq!(status, 400, "{answer}");
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/evidence", server.api))
        .query(&[("digest", image.as_str())])
        .json(&spdx(&[
            "golang.org/x/net@v0.16.0",
            "github.com/google/uuid@v1.6.0",
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["results"][0]["method"], "SBOM", "{answer}");
    assert_eq!(answer["results"][0]["verified"], false);

    let data = server
        .data(&format!(
            r#"{{ artifact(digest: "{image}") {{ sbomModules sbomPackages goModuleMismatches {{ path sbomVersion goModVersions }} }}
                 module(path: "github.com/google/uuid") {{ versions {{ artifacts {{ digest }} }} }}
                 lineage(kind: ARTIFACT, key: "{image}", direction: UPSTREAM, maxDepth: 1) {{ edges {{ kind support evidence {{ kind sender }} }} }} }}"#
        ))
        .await;
    let artifact = &data["artifact"];
    assert_eq!(
        artifact["sbomModules"],
        json!(["github.com/google/uuid@v1.6.0", "golang.org/x/net@v0.16.0"])
    );
    assert_eq!(
        artifact["sbomPackages"],
        json!(["pkg:apk/alpine/musl@1.2.4-r2"])
    );
    assert_eq!(
        artifact["goModuleMismatches"],
        json!([{"path": "golang.org/x/net", "sbomVersion": "v0.16.0", "goModVersions": ["v0.17.0"]}])
    );
    assert_eq!(
        data["module"]["versions"][0]["artifacts"][0]["digest"], image,
        "SBOM-listed modules reach the image"
    );
    let contains = data["lineage"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "CONTAINS")
        .unwrap()
        .clone();
    assert_eq!(contains["support"], "CLAIMED");
    assert_eq!(contains["evidence"][0]["kind"], "SBOM");
    assert_eq!(contains["evidence"][0]["sender"], "syft-1.4.1");

    // The same SBOM as the predicate of a verified attestation proves it.
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": "ghcr.io/acme/calc", "digest": {"sha256": image.trim_start_matches("sha256:")}}],
        "predicate": spdx(&["golang.org/x/net@v0.16.0"])
    }))
    .unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let signature = pair.sign(&pae(payload_type, &statement)).unwrap();
    let envelope = serde_json::to_vec(&json!({"payloadType": payload_type, "payload": b64(&statement), "signatures": [{"keyid": "", "sig": signature.to_base64()}]})).unwrap();
    let (status, answer) = post_evidence(
        &server,
        &json!({"payload": b64(&envelope), "signature": ""}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["trusted"], true, "{answer}");
    let data = server
        .data(&format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{image}", direction: UPSTREAM, maxDepth: 1) {{ edges {{ kind support to {{ key }} proofs {{ origin }} }} }} }}"#
        ))
        .await;
    let net = data["lineage"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "CONTAINS" && e["to"]["key"] == "golang.org/x/net@v0.16.0")
        .unwrap()
        .clone();
    assert_eq!(net["support"], "BOTH", "{net}");
    assert_eq!(net["proofs"][0]["origin"], "SBOM_PREDICATE");
    server.stop().await;
}
