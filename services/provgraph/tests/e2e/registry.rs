//! Discovery from a real OCI registry (Debian's docker-registry, the CNCF
//! distribution registry, started by the test): a multi-arch image whose
//! index cosign signed with a key (`.sig` tag, pushed by the test), found by
//! `provgraph discover`, verified by the server, and counted for the
//! platform manifests. Skipped when the registry is not installed, unless
//! `PROVGRAPH_REQUIRE_REGISTRY=1`.

use crate::support::Server;
use provgraph_oci::media_types;
use provgraph_oci::testing::{
    MultiArch, Pusher, descriptor, registry_binary, start_registry, to_bytes,
};
use provgraph_store::testing::Flavor;
use serde_json::json;
use sigstore_verify::crypto::KeyPair;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_imports_a_signed_multi_arch_image_from_a_real_registry() {
    let Some(binary) = registry_binary() else {
        return;
    };
    let registry = start_registry(binary).await;
    let push = Pusher {
        client: reqwest::Client::new(),
        base: registry.base.clone(),
        repository: "acme/calc".into(),
    };
    let MultiArch {
        arm64,
        index: index_digest,
        ..
    } = push.multi_arch("v1").await;

    // cosign sign --key (no log entry): a `.sig` manifest for the index only.
    let pair = KeyPair::generate_ecdsa_p256().unwrap();
    let payload = to_bytes(&json!({
        "critical": {
            "identity": {"docker-reference": "registry.test/acme/calc"},
            "image": {"docker-manifest-digest": index_digest},
            "type": "cosign container image signature"
        },
        "optional": {"cicd.pipeline.run.id": "4242"}
    }));
    let signature = pair.sign(&payload).unwrap().to_base64();
    let config = to_bytes(
        &json!({"architecture": "", "os": "", "rootfs": {"type": "layers", "diff_ids": []}}),
    );
    push.blob(&payload).await;
    push.blob(&config).await;
    let mut layer = descriptor("application/vnd.dev.cosign.simplesigning.v1+json", &payload);
    layer["annotations"] = json!({ media_types::ANNOTATION_SIGNATURE: signature });
    let sig_manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [layer],
    });
    let tag = format!("sha256-{}.sig", index_digest.trim_start_matches("sha256:"));
    push.manifest(&tag, media_types::OCI_MANIFEST, &sig_manifest)
        .await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("release.pub"),
        pair.public_key_der().unwrap().to_pem(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        "[[keys]]\nname = \"release-key\"\npublic_key = \"release.pub\"\n",
    )
    .unwrap();
    let policy = dir.path().join("policy.toml").display().to_string();
    let server = Server::start(Flavor::Sqlite, &["--trust-policy", &policy]).await;
    let output = std::process::Command::new(crate::support::binary())
        .args([
            "discover",
            "--registry",
            &registry.base,
            "--repository",
            "acme/calc",
        ])
        .args(["--server", &format!("http://{}", server.api), &index_digest])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{stdout}\n{stderr}\nregistry log:\n{}",
        registry.log()
    );
    assert!(
        stdout.contains("1 piece(s) of evidence for 3 digest(s): 1 trusted"),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("lists 2 platform manifest(s)"), "{stderr}");

    let data = server
        .data(&format!(
            r#"{{ audit(digest: "{arm64}") {{ verdict coveredThroughIndexes signatures {{ subject trusted signer }}
                   chain {{ edges {{ kind support }} }} }}
                 artifact(digest: "{arm64}") {{ platform }}
                 build(id: "4242") {{ artifacts {{ digest }} }} }}"#
        ))
        .await;
    let audit = &data["audit"];
    assert_eq!(audit["verdict"], "TRUSTED", "{audit}");
    assert_eq!(audit["coveredThroughIndexes"], json!([index_digest]));
    assert_eq!(
        audit["signatures"][0]["subject"], index_digest,
        "cosign signed only the index"
    );
    assert_eq!(audit["signatures"][0]["signer"], "release-key");
    assert_eq!(data["artifact"]["platform"], "linux/arm64/v8");
    // The signed annotation names the build: proven BUILT_BY from the index.
    assert_eq!(data["build"]["artifacts"][0]["digest"], index_digest);
    server.stop().await;
}
