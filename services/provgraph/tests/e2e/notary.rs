//! Notary Project signatures end to end: envelopes written as `notation
//! sign` writes them (certificates minted by the test) posted to the real
//! server as `application/jose+json` and `application/cose`, verified under
//! notation's trust policy and store named in the TOML policy, kept when
//! they do not verify, shown in GraphQL and the audit; `provgraph
//! verify-notation` for CI; and `provgraph discover` finding a signature
//! pushed to a real registry as an OCI 1.1 referrer. On both databases.

use provgraph_oci::media_types;
use provgraph_oci::testing::{Pusher, descriptor, registry_binary, start_registry, to_bytes};
use provgraph_signatures::notary::testing::{Authority, DAY, Spec, Tsa, add_to_store};
use provgraph_store::testing::Flavor;
use serde_json::json;

use crate::support::Server;

const SUBJECT: &[(&str, &str)] = &[
    ("C", "US"),
    ("ST", "WA"),
    ("L", "Seattle"),
    ("O", "Notary"),
    ("CN", "alpine"),
];
const SIGNER: &str = "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US";
const DIGEST: &str = "sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333";
const SIZE: u64 = 16724;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap())
        .unwrap()
}

/// A CA, a TSA, notation's files and the TOML policy naming them.
struct Setup {
    dir: tempfile::TempDir,
    ca: Authority,
    tsa: Tsa,
}

impl Setup {
    /// `scope`: the registry scope of the one statement (`*` or
    /// `HOST/REPOSITORY`).
    fn new(scope: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let t = now();
        let ca = Authority::new(
            &[("C", "US"), ("O", "Notary"), ("CN", "Notary Test CA")],
            t - 400 * DAY,
            t + 400 * DAY,
        );
        let tsa_root = Authority::new(
            &[("C", "US"), ("O", "TSA"), ("CN", "TSA Root")],
            t - 400 * DAY,
            t + 400 * DAY,
        );
        let tsa = tsa_root.tsa(
            &[("C", "US"), ("O", "TSA"), ("CN", "TSA")],
            t - 300 * DAY,
            t + 300 * DAY,
        );
        let store = dir.path().join("truststore");
        add_to_store(&store, "ca", "acme", "root.pem", &ca.pem());
        add_to_store(&store, "tsa", "stamps", "root.crt", &tsa_root.pem());
        let policy = json!({
            "version": "1.0",
            "trustPolicies": [{
                "name": "acme-images",
                "registryScopes": [scope],
                "signatureVerification": {"level": "strict"},
                "trustStores": ["ca:acme", "tsa:stamps"],
                "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Notary, CN=alpine"]
            }]
        });
        std::fs::write(
            dir.path().join("trustpolicy.json"),
            serde_json::to_string_pretty(&policy).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("policy.toml"),
            "notation_trust_policy = \"trustpolicy.json\"\nnotation_trust_store = \"truststore\"\n",
        )
        .unwrap();
        Setup { dir, ca, tsa }
    }

    fn policy(&self) -> String {
        self.dir.path().join("policy.toml").display().to_string()
    }
}

async fn post(
    server: &Server,
    content_type: &str,
    body: Vec<u8>,
    query: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/evidence", server.api))
        .header("content-type", content_type)
        .query(query)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn envelopes_posted_verified_and_kept(flavor: Flavor) {
    let setup = Setup::new("registry.acme.io/acme/calc");
    let server = Server::start(flavor, &["--trust-policy", &setup.policy()]).await;
    let t = now();
    let signer = setup.ca.signer(SUBJECT, t - 30 * DAY, t + 30 * DAY);
    let spec = Spec::new(DIGEST, SIZE, t - DAY);
    let reference = ("reference", "registry.acme.io/acme/calc");
    let query = [("digest", DIGEST), reference];

    // No reference: only a "*" policy would apply, and there is none (the
    // valid post below stores the same envelope again, verified).
    let (_, answer) = post(
        &server,
        "application/jose+json",
        signer.jws(&spec, Some(&setup.tsa)),
        &[("digest", DIGEST)],
    )
    .await;
    assert!(
        answer["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no applicable policy"),
        "{answer}"
    );

    // Valid JWS, as the layer stores it.
    let jws = signer.jws(&spec, Some(&setup.tsa));
    let (status, answer) = post(&server, "application/jose+json", jws.clone(), &query).await;
    assert_eq!(status, 200, "{answer}");
    let result = &answer["results"][0];
    assert_eq!(result["subject"], DIGEST);
    assert_eq!(result["verified"], true, "{result}");
    assert_eq!(result["trusted"], true, "{result}");
    assert_eq!(result["signer"], SIGNER);
    assert_eq!(result["issuer"], "CN=Notary Test CA,O=Notary,C=US");
    assert_eq!(result["method"], "NOTARY_X509");

    // A COSE envelope whose certificate expired after the timestamp.
    let expired = setup.ca.signer(SUBJECT, t - 60 * DAY, t - 10 * DAY);
    let cose = expired.cose(&Spec::new(DIGEST, SIZE, t - 20 * DAY), Some(&setup.tsa));
    let (status, answer) = post(&server, "application/cose", cose.clone(), &query).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["trusted"], true, "{answer}");
    // Without its countersignature it is refused as expired, and kept.
    let bare = expired.cose(&Spec::new(DIGEST, SIZE, t - 20 * DAY), None);
    let (_, answer) = post(&server, "application/cose", bare, &query).await;
    assert_eq!(answer["results"][0]["verified"], false, "{answer}");
    let reason = answer["results"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("expired"), "{reason}");

    // Tampered: kept, unverified.
    let mut tampered: serde_json::Value = serde_json::from_slice(&jws).unwrap();
    let mut other_spec = Spec::new(DIGEST, SIZE, t - DAY);
    other_spec.annotations.insert("evil".into(), "yes".into());
    let forged: serde_json::Value = serde_json::from_slice(&signer.jws(&other_spec, None)).unwrap();
    tampered["payload"] = forged["payload"].clone();
    let tampered = serde_json::to_vec(&tampered).unwrap();
    let (status, answer) = post(&server, "application/jose+json", tampered, &query).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["verified"], false, "{answer}");

    // Another digest: kept for it, not verified.
    let other = format!("sha256:{}", "cd".repeat(32));
    let (_, answer) = post(
        &server,
        "application/jose+json",
        jws.clone(),
        &[("digest", other.as_str()), reference],
    )
    .await;
    assert_eq!(answer["results"][0]["subject"], other.as_str());
    assert_eq!(answer["results"][0]["verified"], false);
    assert!(
        answer["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("wrong digest"),
        "{answer}"
    );
    // Not an envelope, or a reference with a tag: 400, nothing stored.
    for (content_type, body, query) in [
        (
            "application/cose",
            b"\x84\x01".to_vec(),
            vec![("digest", DIGEST)],
        ),
        (
            "application/jose+json",
            b"{}".to_vec(),
            vec![("digest", DIGEST)],
        ),
        (
            "application/jose+json",
            jws.clone(),
            vec![
                ("digest", DIGEST),
                ("reference", "registry.acme.io/acme/calc:v1"),
            ],
        ),
    ] {
        let (status, answer) = post(&server, content_type, body, &query).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("refused"),
            "{answer}"
        );
    }

    let data = server
        .data(&format!(
            r#"{{ audit(digest: "{DIGEST}") {{ verdict }}
                 artifact(digest: "{DIGEST}") {{ signatures {{ format method verified trusted signer issuer reason }} }}
                 other: artifact(digest: "{other}") {{ signatures {{ format verified }} }} }}"#
        ))
        .await;
    assert_eq!(data["audit"]["verdict"], "TRUSTED", "{data}");
    let signatures = data["artifact"]["signatures"].as_array().unwrap();
    let formats: Vec<_> = signatures
        .iter()
        .filter(|s| s["trusted"] == true)
        .map(|s| s["format"].as_str().unwrap())
        .collect();
    assert!(
        formats.contains(&"NOTARY_JWS") && formats.contains(&"NOTARY_COSE"),
        "{data}"
    );
    assert!(
        signatures
            .iter()
            .any(|s| s["verified"] == false && s["format"] == "NOTARY_JWS"),
        "the tampered envelope is kept: {data}"
    );
    assert_eq!(data["other"]["signatures"][0]["verified"], false);

    // verify-notation, for CI: the same files notation reads.
    let envelope = setup.dir.path().join("signature.jws");
    std::fs::write(&envelope, &jws).unwrap();
    let cose_file = setup.dir.path().join("signature.cose");
    std::fs::write(&cose_file, &cose).unwrap();
    let verify = |file: &std::path::Path, digest: &str| {
        std::process::Command::new(crate::support::binary())
            .arg("verify-notation")
            .arg("--envelope")
            .arg(file)
            .arg("--trust-policy")
            .arg(setup.dir.path().join("trustpolicy.json"))
            .arg("--trust-store")
            .arg(setup.dir.path().join("truststore"))
            .args(["--reference", "registry.acme.io/acme/calc", digest])
            .output()
            .unwrap()
    };
    for file in [&envelope, &cose_file] {
        let output = verify(file, DIGEST);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = verify(&envelope, &other);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("wrong digest"), "{stderr}");
    server.stop().await;
}

provgraph_store::both_databases!(envelopes_posted_verified_and_kept);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_imports_a_notation_signature_referrer_from_a_real_registry() {
    let Some(binary) = registry_binary() else {
        return;
    };
    let registry = start_registry(binary).await;
    let push = Pusher {
        client: reqwest::Client::new(),
        base: registry.base.clone(),
        repository: "acme/calc".into(),
    };
    let (manifest, image) = push.image("linux", "amd64", None).await;
    let host = registry.base.trim_start_matches("http://").to_string();
    let setup = Setup::new(&format!("{host}/acme/calc"));
    let t = now();
    let signer = setup.ca.signer(SUBJECT, t - 30 * DAY, t + 30 * DAY);
    let mut spec = Spec::new(&image, manifest.len() as u64, t - DAY);
    spec.annotations
        .insert("cicd.pipeline.run.id".into(), "notary-run-7".into());
    let envelope = signer.jws(&spec, Some(&setup.tsa));

    // notation sign: the envelope as the layer of a signature manifest
    // whose subject is the image, listed as a referrer (registry 2.8 has
    // no referrers API: the referrers tag).
    let empty = b"{}".to_vec();
    push.blob(&empty).await;
    push.blob(&envelope).await;
    let signature = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "artifactType": media_types::NOTARY_SIGNATURE,
        "config": descriptor("application/vnd.oci.empty.v1+json", &empty),
        "layers": [descriptor("application/jose+json", &envelope)],
        "subject": {"mediaType": media_types::OCI_MANIFEST, "digest": image, "size": manifest.len()},
        "annotations": {"io.cncf.notary.x509chain.thumbprint#S256": "[]"},
    });
    let signature_digest = push
        .manifest(
            &provgraph_oci::testing::sha256(&to_bytes(&signature)),
            media_types::OCI_MANIFEST,
            &signature,
        )
        .await;
    let referrers = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_INDEX,
        "manifests": [{"mediaType": media_types::OCI_MANIFEST, "digest": signature_digest,
                       "size": to_bytes(&signature).len(),
                       "artifactType": media_types::NOTARY_SIGNATURE}],
    });
    let tag = format!("sha256-{}", image.trim_start_matches("sha256:"));
    push.manifest(&tag, media_types::OCI_INDEX, &referrers)
        .await;

    let server = Server::start(Flavor::Sqlite, &["--trust-policy", &setup.policy()]).await;
    let output = std::process::Command::new(crate::support::binary())
        .args([
            "discover",
            "--registry",
            &registry.base,
            "--repository",
            "acme/calc",
        ])
        .args(["--server", &format!("http://{}", server.api), &image])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{stdout}\n{stderr}\n{}",
        registry.log()
    );
    assert!(stdout.contains("1 trusted"), "{stdout}\n{stderr}");

    let data = server
        .data(&format!(
            r#"{{ audit(digest: "{image}") {{ verdict signatures {{ format method trusted signer }} }}
                 build(id: "notary-run-7") {{ artifacts {{ digest }} }} }}"#
        ))
        .await;
    let audit = &data["audit"];
    assert_eq!(audit["verdict"], "TRUSTED", "{data}");
    assert_eq!(audit["signatures"][0]["format"], "NOTARY_JWS");
    assert_eq!(audit["signatures"][0]["method"], "NOTARY_X509");
    assert_eq!(audit["signatures"][0]["signer"], SIGNER);
    // The signed descriptor's annotation names the build.
    assert_eq!(data["build"]["artifacts"][0]["digest"], image.as_str());
    server.stop().await;
}
