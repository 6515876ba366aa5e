//! Each CI exporter dialect's sample trace (examples/dialects/) produces the
//! lineage it must: ingested over OTLP/HTTP JSON into the real server, the
//! image's upstream lineage asked over GraphQL. Also a user-added attribute
//! name from `--attribute-map`.

use crate::support::{Server, node_keys};
use provgraph_store::testing::Flavor;

const SHA: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

async fn upstream(server: &Server, image: &str) -> Vec<String> {
    let data = server
        .data(&format!(r#"{{ lineage(kind: ARTIFACT, key: "{image}", direction: UPSTREAM) {{ nodes {{ kind key }} }} }}"#))
        .await;
    let mut keys = node_keys(&data["lineage"]);
    keys.sort();
    keys
}

#[tokio::test]
async fn every_dialect_example_produces_its_lineage() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dialects");
    let repo = "REPOSITORY:github.com/acme/calc".to_string();
    let commit = format!("COMMIT:{SHA}");
    let cases: Vec<(&str, char, Vec<String>)> = vec![
        (
            "github-receiver.json",
            '1',
            vec!["BUILD:987654321".into(), commit.clone(), repo.clone()],
        ),
        (
            "gitlab-receiver.json",
            '2',
            vec![
                "BUILD:5550001".into(),
                commit.clone(),
                "REPOSITORY:gitlab.com/acme/calc".into(),
            ],
        ),
        (
            "otel-cicd-action.json",
            '3',
            vec!["BUILD:12345678".into(), commit.clone(), repo.clone()],
        ),
        (
            "jenkins.json",
            '4',
            vec!["BUILD:calc-release#42".into(), repo.clone()],
        ),
        (
            "dagger.json",
            '5',
            vec![
                format!("BUILD:{}", "5e".repeat(16)),
                commit.clone(),
                repo.clone(),
            ],
        ),
        (
            "buildkite.json",
            '6',
            vec!["BUILD:018f5c2a-7e1d-4c3b-9a53-6f0d2c1e9b77".into()],
        ),
    ];
    // One server per example: the examples share a commit on purpose.
    for (file, image, want) in cases {
        let server = Server::start(Flavor::Sqlite, &[]).await;
        server
            .export_json(std::fs::read(dir.join(file)).expect("example"))
            .await;
        let image = digest(image);
        let keys = upstream(&server, &image).await;
        let mut want: Vec<String> = want;
        want.push(format!("ARTIFACT:{image}"));
        want.sort();
        assert_eq!(keys, want, "{file}");
        // The branch is kept on the build, in every dialect.
        let build = want
            .iter()
            .find_map(|k| k.strip_prefix("BUILD:"))
            .expect("a build");
        let data = server
            .data(&format!(r#"{{ build(id: "{build}") {{ branches }} }}"#))
            .await;
        assert_eq!(data["build"]["branches"][0], "main", "{file}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_user_mapping_adds_attribute_names() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("attributes.toml");
    std::fs::write(&map, "commit = [\"acme.ci.sha\"]\nrepository = [\"acme.ci.repo\"]\nbuild_id = [\"acme.ci.run\"]\n").unwrap();
    let server = Server::start(
        Flavor::Sqlite,
        &["--attribute-map", &map.display().to_string()],
    )
    .await;
    let image = digest('7');
    let body = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"acme.ci.run","value":{{"stringValue":"run-77"}}}},
            {{"key":"acme.ci.sha","value":{{"stringValue":"{SHA}"}}}},{{"key":"acme.ci.repo","value":{{"stringValue":"https://git.acme.test/platform/calc.git"}}}}]}},
            "scopeSpans":[{{"spans":[{{"traceId":"{trace}","spanId":"0000000000000001","name":"push",
            "attributes":[{{"key":"oci.manifest.digest","value":{{"stringValue":"{image}"}}}}]}}]}}]}}]}}"#,
        trace = "7a".repeat(16)
    );
    server.export_json(body.into_bytes()).await;
    let keys = upstream(&server, &image).await;
    assert!(keys.contains(&"BUILD:run-77".to_string()), "{keys:?}");
    assert!(keys.contains(&format!("COMMIT:{SHA}")), "{keys:?}");
    assert!(
        keys.contains(&"REPOSITORY:git.acme.test/platform/calc".to_string()),
        "{keys:?}"
    );
    server.stop().await;

    // A map that does not parse is one clear line and exit 2.
    std::fs::write(&map, "comit = [\"x\"]\n").unwrap();
    let output = std::process::Command::new(crate::support::binary())
        .args([
            "serve",
            "--database-url",
            "sqlite::memory:",
            "--attribute-map",
            &map.display().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("attribute map") && stderr.contains("comit"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
