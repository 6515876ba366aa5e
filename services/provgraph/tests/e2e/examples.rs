//! The README walkthrough, as written: post the example OTLP/JSON files over
//! HTTP and ask the lineage questions the README shows.

use crate::support::{Server, node_keys};
use provgraph_store::testing::Flavor;

const DIGEST: &str = "sha256:6d1f0c2b9e8a7d6c5b4a39281706f5e4d3c2b1a0998877665544332211ffeedd";
const COMMIT: &str = "9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b13";

async fn post_example(server: &Server, name: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let body = std::fs::read(&path).expect("example file");
    server.export_json(body).await;
}

async fn readme_walkthrough_answers_as_documented(flavor: Flavor) {
    let server = Server::start(flavor, &[]).await;
    post_example(&server, "sample-build.json").await;
    post_example(&server, "sample-workload.json").await;
    let data = server
        .data(&format!(
            r#"{{ lineage(kind: ARTIFACT, key: "{DIGEST}", direction: UPSTREAM) {{ nodes {{ kind key }} edges {{ kind evidence {{ traceId sender }} }} }}
                 commit(sha: "{COMMIT}") {{ builds {{ id }} artifacts {{ digest tags }} workloads {{ key }} }} }}"#
        ))
        .await;
    let keys = node_keys(&data["lineage"]);
    for want in [
        format!("ARTIFACT:{DIGEST}"),
        "BUILD:4242".to_string(),
        format!("COMMIT:{COMMIT}"),
        "REPOSITORY:github.com/acme/calc".to_string(),
    ] {
        assert!(keys.contains(&want), "{want} missing from {keys:?}");
    }
    assert!(
        keys.iter().any(|k| k.starts_with("GOMOD:sha256:")),
        "{keys:?}"
    );
    for edge in data["lineage"]["edges"].as_array().unwrap() {
        assert!(
            !edge["evidence"].as_array().unwrap().is_empty(),
            "every edge has evidence: {edge}"
        );
    }
    assert_eq!(data["commit"]["builds"][0]["id"], "4242");
    assert_eq!(data["commit"]["artifacts"][0]["digest"], DIGEST);
    assert_eq!(data["commit"]["workloads"][0]["key"], "prod/payments/calc");
    server.stop().await;
}

provgraph_store::both_databases!(readme_walkthrough_answers_as_documented);
