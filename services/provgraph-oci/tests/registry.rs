//! Discovery against a real registry (the CNCF distribution registry 2.8,
//! Debian's `docker-registry` package, run as a child process on a free
//! loopback port with storage in a temporary directory), filled over the
//! registry HTTP API the way cosign fills it; and against a small hostile
//! HTTP server for what a real registry will not do (swap a blob, answer
//! 401, paginate the referrers API).
//!
//! Without `/usr/bin/docker-registry` the real-registry test prints
//! `SKIPPED: docker-registry not installed`, unless
//! `PROVGRAPH_REQUIRE_REGISTRY=1`, when it fails.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use provgraph_oci::testing::{
    MultiArch, Pusher, descriptor, registry_binary, sha256, start_registry, to_bytes,
};
use provgraph_oci::{
    DiscoveredEvidence, Discovery, DiscoverySource, OciError, PlatformManifest, Registry,
    media_types,
};
use provgraph_signatures::{EvidenceFormat, parse_evidence};
use serde_json::{Value, json};

const REPOSITORY: &str = "acme/calc";

/// A self-signed test certificate (P-256, CN=oci-test-signer): any valid PEM
/// certificate will do, since discovery and parsing check shape only.
const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIBujCCAWGgAwIBAgIUMoT7u83fKGAiuKFzQp7Ib5Y3zfYwCgYIKoZIzj0EAwIw
MzEXMBUGA1UECgwOcHJvdmdyYXBoLXRlc3QxGDAWBgNVBAMMD29jaS10ZXN0LXNp
Z25lcjAeFw0yNjExMjkxNTMzMTNaFw0zNjExMjYxNTMzMTNaMDMxFzAVBgNVBAoM
DnByb3ZncmFwaC10ZXN0MRgwFgYDVQQDDA9vY2ktdGVzdC1zaWduZXIwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAARRKw/vEfZY9aPzXPS5ZueCoTAzqu/nPlUN+WFL
IugUK4DPx/E81jL+nyaJ9L3a9c907P3eDnN7RoWrsmu3zskPo1MwUTAdBgNVHQ4E
FgQU00G6jqyEygDIs3vDGTawx/R6PYowHwYDVR0jBBgwFoAU00G6jqyEygDIs3vD
GTawx/R6PYowDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAlWg9q
7PA2w0e2+lpwzp6gmq5AwnclQ2BDeLecBnevHgIgGA5qaMv/LrF50M6Ik68HtCy8
ODgaG4x6oqAhnTt7MvQ=
-----END CERTIFICATE-----
";

fn hex_of(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

// ---------------------------------------------------------------------------
// Evidence as cosign writes it.

fn simple_signing(image: &str, note: &str) -> Vec<u8> {
    to_bytes(&json!({
        "critical": {
            "identity": {"docker-reference": format!("registry.local/{REPOSITORY}")},
            "image": {"docker-manifest-digest": image},
            "type": "cosign container image signature",
        },
        "optional": {"note": note},
    }))
}

fn rekor_bundle() -> Value {
    json!({
        "SignedEntryTimestamp": b64(b"set"),
        "Payload": {
            "body": b64(b"{\"kind\":\"hashedrekord\",\"apiVersion\":\"0.0.1\"}"),
            "integratedTime": 1_700_000_000,
            "logIndex": 42,
            "logID": "c0".repeat(32),
        },
    })
}

fn statement(image: &str, predicate_type: &str) -> Vec<u8> {
    to_bytes(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": format!("registry.local/{REPOSITORY}"), "digest": {"sha256": hex_of(image)}}],
        "predicateType": predicate_type,
        "predicate": {"buildDefinition": {"buildType": "https://example.com/build"}},
    }))
}

fn dsse(payload: &[u8]) -> Vec<u8> {
    to_bytes(&json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": b64(payload),
        "signatures": [{"keyid": "", "sig": b64(b"dsse signature")}],
    }))
}

fn sigstore_bundle(image: &str) -> Value {
    json!({
        "mediaType": media_types::SIGSTORE_BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": "release-key"}},
        "dsseEnvelope": {
            "payloadType": "application/vnd.in-toto+json",
            "payload": b64(&statement(image, "https://slsa.dev/provenance/v1")),
            "signatures": [{"sig": b64(b"bundle signature")}],
        },
    })
}

/// Feeds `evidence` to provgraph's evidence parser, as an import would.
fn parses_as(evidence: &DiscoveredEvidence, image: &str, format: EvidenceFormat) {
    let parsed = parse_evidence(&to_bytes(&evidence.body), Some(image))
        .unwrap_or_else(|e| panic!("{:?} {}: {e}", evidence.source, evidence.reference));
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].format, format, "{}", evidence.reference);
    assert_eq!(parsed[0].subjects, vec![image.to_string()]);
}

fn has_note(discovery: &Discovery, text: &str) -> bool {
    discovery.notes.iter().any(|n| n.contains(text))
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn discovers_signatures_attestations_and_referrers_in_a_real_registry() {
    let Some(binary) = registry_binary() else {
        return;
    };
    let version = Command::new(binary)
        .arg("--version")
        .output()
        .expect("docker-registry --version");
    println!(
        "registry: {}",
        String::from_utf8_lossy(&version.stdout).trim()
    );
    let process = start_registry(binary).await;
    let push = Pusher {
        client: reqwest::Client::new(),
        base: process.base.clone(),
        repository: REPOSITORY.to_string(),
    };

    // Two images and their multi-arch index.
    let MultiArch {
        amd64_manifest,
        amd64,
        arm64,
        index: index_digest,
    } = push.multi_arch("v1").await;
    let image = amd64.clone();
    let hex = hex_of(&image).to_string();

    // cosign sign: `.sig` with a keyless layer (certificate, chain, Rekor
    // bundle), a key-based one, and one without a signature (skipped).
    let keyless_payload = simple_signing(&image, "keyless");
    let keyed_payload = simple_signing(&image, "keyed");
    let unsigned_payload = simple_signing(&image, "unsigned");
    let sig_config = to_bytes(
        &json!({"architecture": "", "os": "", "rootfs": {"type": "layers", "diff_ids": []}}),
    );
    for blob in [
        &keyless_payload,
        &keyed_payload,
        &unsigned_payload,
        &sig_config,
    ] {
        push.blob(blob).await;
    }
    let simple_signing_type = "application/vnd.dev.cosign.simplesigning.v1+json";
    let mut keyless_layer = descriptor(simple_signing_type, &keyless_payload);
    keyless_layer["annotations"] = json!({
        media_types::ANNOTATION_SIGNATURE: b64(b"keyless signature"),
        media_types::ANNOTATION_CERTIFICATE: CERTIFICATE,
        media_types::ANNOTATION_CHAIN: CERTIFICATE,
        media_types::ANNOTATION_BUNDLE: rekor_bundle().to_string(),
    });
    let mut keyed_layer = descriptor(simple_signing_type, &keyed_payload);
    keyed_layer["annotations"] =
        json!({media_types::ANNOTATION_SIGNATURE: b64(b"keyed signature")});
    let unsigned_layer = descriptor(simple_signing_type, &unsigned_payload);
    let sig_manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &sig_config),
        "layers": [keyless_layer, keyed_layer, unsigned_layer],
    });
    let sig_tag = format!("sha256-{hex}.sig");
    push.manifest(&sig_tag, media_types::OCI_MANIFEST, &sig_manifest)
        .await;

    // cosign attest: `.att` with a DSSE layer.
    let envelope = dsse(&statement(&image, "https://slsa.dev/provenance/v1"));
    push.blob(&envelope).await;
    let mut att_layer = descriptor(media_types::DSSE_ENVELOPE, &envelope);
    att_layer["annotations"] = json!({
        media_types::ANNOTATION_SIGNATURE: "",
        "predicateType": "https://slsa.dev/provenance/v1",
        media_types::ANNOTATION_CERTIFICATE: CERTIFICATE,
        media_types::ANNOTATION_BUNDLE: rekor_bundle().to_string(),
    });
    let att_manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &sig_config),
        "layers": [att_layer],
    });
    let att_tag = format!("sha256-{hex}.att");
    push.manifest(&att_tag, media_types::OCI_MANIFEST, &att_manifest)
        .await;

    // OCI 1.1 referrers: a Sigstore bundle and an SBOM, both with the image
    // as subject, listed in the referrers tag (registry 2.8 has no
    // referrers API).
    let empty = b"{}".to_vec();
    push.blob(&empty).await;
    let bundle = sigstore_bundle(&image);
    let bundle_bytes = serde_json::to_vec_pretty(&bundle).expect("json");
    push.blob(&bundle_bytes).await;
    let subject = descriptor(media_types::OCI_MANIFEST, &amd64_manifest);
    let bundle_referrer = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "artifactType": media_types::SIGSTORE_BUNDLE_V03,
        "config": descriptor("application/vnd.oci.empty.v1+json", &empty),
        "layers": [descriptor(media_types::SIGSTORE_BUNDLE_V03, &bundle_bytes)],
        "subject": subject,
        "annotations": {"dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1"},
    });
    let bundle_referrer_digest = push
        .manifest(
            &sha256(&to_bytes(&bundle_referrer)),
            media_types::OCI_MANIFEST,
            &bundle_referrer,
        )
        .await;
    let sbom = to_bytes(&json!({"spdxVersion": "SPDX-2.3"}));
    push.blob(&sbom).await;
    let sbom_referrer = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": descriptor("application/vnd.oci.empty.v1+json", &empty),
        "layers": [descriptor("application/spdx+json", &sbom)],
        "subject": subject,
    });
    let sbom_referrer_digest = push
        .manifest(
            &sha256(&to_bytes(&sbom_referrer)),
            media_types::OCI_MANIFEST,
            &sbom_referrer,
        )
        .await;
    let referrers_tag = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_INDEX,
        "manifests": [
            {"mediaType": media_types::OCI_MANIFEST, "digest": bundle_referrer_digest,
             "size": to_bytes(&bundle_referrer).len(), "artifactType": media_types::SIGSTORE_BUNDLE_V03},
            {"mediaType": media_types::OCI_MANIFEST, "digest": sbom_referrer_digest,
             "size": to_bytes(&sbom_referrer).len(), "artifactType": "application/spdx+json"},
        ],
    });
    push.manifest(
        &format!("sha256-{hex}"),
        media_types::OCI_INDEX,
        &referrers_tag,
    )
    .await;

    // Discovery.
    let registry = Registry::new(&process.base).expect("registry");
    let found = registry
        .discover(
            REPOSITORY,
            &image.to_uppercase().replace("SHA256:", "sha256:"),
        )
        .await
        .unwrap_or_else(|e| panic!("discover: {e}\nregistry log:\n{}", process.log()));
    println!("notes: {:#?}", found.notes);
    let sources: Vec<_> = found.evidence.iter().map(|e| e.source).collect();
    assert_eq!(
        sources,
        [
            DiscoverySource::SignatureTag,
            DiscoverySource::SignatureTag,
            DiscoverySource::AttestationTag,
            DiscoverySource::ReferrersTag,
        ]
    );

    let keyless = &found.evidence[0];
    assert_eq!(keyless.reference, sig_tag);
    assert_eq!(keyless.blob_digest, sha256(&keyless_payload));
    assert_eq!(
        keyless.body,
        json!({
            "payload": b64(&keyless_payload),
            "signature": b64(b"keyless signature"),
            "certificate": CERTIFICATE,
            "chain": CERTIFICATE,
            "bundle": rekor_bundle(),
        })
    );
    // The payload bytes round-trip exactly.
    let payload = STANDARD
        .decode(keyless.body["payload"].as_str().expect("payload"))
        .expect("base64");
    assert_eq!(payload, keyless_payload);
    parses_as(keyless, &image, EvidenceFormat::CosignSignatureLayer);

    let keyed = &found.evidence[1];
    assert_eq!(
        keyed.body,
        json!({"payload": b64(&keyed_payload), "signature": b64(b"keyed signature")})
    );
    parses_as(keyed, &image, EvidenceFormat::CosignSignatureLayer);
    assert!(
        has_note(&found, &format!("{sig_tag} layer 2"))
            && has_note(&found, "no dev.cosignproject.cosign/signature annotation"),
        "{:?}",
        found.notes
    );

    let attestation = &found.evidence[2];
    assert_eq!(attestation.reference, att_tag);
    assert_eq!(attestation.blob_digest, sha256(&envelope));
    assert_eq!(
        attestation.body,
        json!({
            "payload": b64(&envelope),
            "signature": "",
            "certificate": CERTIFICATE,
            "bundle": rekor_bundle(),
        })
    );
    parses_as(attestation, &image, EvidenceFormat::CosignAttestationLayer);
    let parsed = parse_evidence(&to_bytes(&attestation.body), None).expect("parses");
    assert_eq!(
        parsed[0].predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );

    let referred = &found.evidence[3];
    assert_eq!(referred.reference, bundle_referrer_digest);
    assert_eq!(referred.blob_digest, sha256(&bundle_bytes));
    assert_eq!(referred.body, bundle);
    parses_as(referred, &image, EvidenceFormat::SigstoreBundle);
    assert!(
        has_note(
            &found,
            "does not implement the referrers API: read the referrers tag"
        ),
        "{:?}",
        found.notes
    );
    assert!(
        has_note(
            &found,
            "1 referrer(s) that are neither Sigstore bundles nor Notary signatures skipped (artifact types: application/spdx+json)"
        ),
        "{:?}",
        found.notes
    );
    assert_eq!(found.notes.len(), 3, "{:?}", found.notes);

    // An image with nothing: notes, no error.
    let nothing = registry
        .discover(REPOSITORY, &arm64)
        .await
        .expect("discover");
    assert!(nothing.evidence.is_empty());
    let arm_hex = hex_of(&arm64);
    assert_eq!(
        nothing.notes,
        [
            format!("no cosign signature tag sha256-{arm_hex}.sig"),
            format!("no cosign attestation tag sha256-{arm_hex}.att"),
            format!(
                "the registry does not implement the referrers API, and there is no referrers tag sha256-{arm_hex}"
            ),
        ]
    );
    // A repository the registry does not know is no different.
    let unknown = registry
        .discover("acme/nothing", &image)
        .await
        .expect("discover");
    assert!(unknown.evidence.is_empty() && unknown.notes.len() == 3);

    // A `.sig` manifest whose layer names an existing blob with the wrong
    // size (registry 2.8 checks only that the blob exists): refused.
    let mut lying_layer = descriptor(simple_signing_type, &keyed_payload);
    lying_layer["size"] = json!(keyed_payload.len() - 1);
    lying_layer["annotations"] =
        json!({media_types::ANNOTATION_SIGNATURE: b64(b"keyed signature")});
    let lying = json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &sig_config),
        "layers": [lying_layer],
    });
    let arm_sig = format!("sha256-{arm_hex}.sig");
    push.manifest(&arm_sig, media_types::OCI_MANIFEST, &lying)
        .await;
    let error = registry
        .discover(REPOSITORY, &arm64)
        .await
        .expect_err("a blob of another size");
    assert!(
        matches!(&error, OciError::SizeMismatch { expected, actual, .. }
            if *expected == keyed_payload.len() as u64 - 1 && *actual == keyed_payload.len() as u64),
        "{error}"
    );
    assert!(
        error.to_string().contains(&format!(
            "/v2/{REPOSITORY}/blobs/{}",
            sha256(&keyed_payload)
        )),
        "{error}"
    );

    // The multi-arch index lists its platforms; an image is no index.
    assert_eq!(
        registry
            .index_manifests(REPOSITORY, &index_digest)
            .await
            .expect("index"),
        Some(vec![
            PlatformManifest {
                digest: amd64.parse().expect("digest"),
                media_type: Some(media_types::OCI_MANIFEST.into()),
                platform: Some("linux/amd64".into()),
            },
            PlatformManifest {
                digest: arm64.parse().expect("digest"),
                media_type: Some(media_types::OCI_MANIFEST.into()),
                platform: Some("linux/arm64/v8".into()),
            },
        ])
    );
    assert_eq!(
        registry
            .index_manifests(REPOSITORY, &amd64)
            .await
            .expect("image"),
        None
    );
    let missing = format!("sha256:{}", "0f".repeat(32));
    let error = registry
        .index_manifests(REPOSITORY, &missing)
        .await
        .expect_err("no such manifest");
    assert!(matches!(error, OciError::NotFound { .. }), "{error}");
    drop(process);
}

// ---------------------------------------------------------------------------
// A hostile registry: a minimal HTTP/1.1 server answering fixed routes.

#[derive(Clone)]
struct Route {
    status: u16,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Route {
    fn ok(content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            status: 200,
            content_type,
            headers: Vec::new(),
            body,
        }
    }
}

/// Serves `routes` (keyed by request target, path and query) on a free
/// loopback port from a thread; anything else is a registry-style 404.
/// Returns the base URL; the server lives as long as the test process.
fn hostile_registry(routes: HashMap<String, Route>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else {
                continue;
            };
            let routes = Arc::clone(&routes);
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let target = text.split_whitespace().nth(1).unwrap_or("").to_string();
                let route = routes.get(&target).cloned().unwrap_or_else(|| Route {
                    status: 404,
                    content_type: "application/json",
                    headers: Vec::new(),
                    body:
                        br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
                            .to_vec(),
                });
                let mut head = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
                    route.status,
                    route.content_type,
                    route.body.len()
                );
                for (name, value) in &route.headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&route.body);
                let _ = stream.flush();
            });
        }
    });
    base
}

fn image_digest() -> String {
    sha256(b"the image manifest")
}

fn manifest_route(manifest: &Value) -> Route {
    Route::ok(media_types::OCI_MANIFEST, to_bytes(manifest))
}

#[tokio::test]
async fn a_swapped_blob_is_refused() {
    let image = image_digest();
    let hex = hex_of(&image);
    let payload = simple_signing(&image, "genuine");
    let mut forged = simple_signing(&image, "forged!");
    forged.truncate(payload.len());
    forged.resize(payload.len(), b' ');
    assert_eq!(forged.len(), payload.len());
    let mut layer = descriptor("application/vnd.dev.cosign.simplesigning.v1+json", &payload);
    layer["annotations"] = json!({media_types::ANNOTATION_SIGNATURE: b64(b"sig")});
    let manifest =
        json!({"schemaVersion": 2, "mediaType": media_types::OCI_MANIFEST, "layers": [layer]});
    let mut routes = HashMap::new();
    routes.insert(
        format!("/v2/{REPOSITORY}/manifests/sha256-{hex}.sig"),
        manifest_route(&manifest),
    );
    // Same size, other bytes.
    routes.insert(
        format!("/v2/{REPOSITORY}/blobs/{}", sha256(&payload)),
        Route::ok("application/octet-stream", forged.clone()),
    );
    let base = hostile_registry(routes.clone());
    let error = Registry::new(&base)
        .expect("registry")
        .discover(REPOSITORY, &image)
        .await
        .expect_err("swapped payload");
    assert!(
        matches!(&error, OciError::DigestMismatch { expected, actual, .. }
            if *expected == sha256(&payload) && *actual == sha256(&forged)),
        "{error}"
    );

    // The genuine blob passes.
    routes.insert(
        format!("/v2/{REPOSITORY}/blobs/{}", sha256(&payload)),
        Route::ok("application/octet-stream", payload.clone()),
    );
    let base = hostile_registry(routes.clone());
    let found = Registry::new(&base)
        .expect("registry")
        .discover(REPOSITORY, &image)
        .await
        .expect("genuine");
    assert_eq!(found.evidence.len(), 1);
    assert_eq!(found.evidence[0].body["payload"], json!(b64(&payload)));

    // A manifest fetched by tag must match the digest the registry names.
    let mut lying = manifest_route(&manifest);
    lying
        .headers
        .push(("docker-content-digest".into(), sha256(b"another manifest")));
    routes.insert(
        format!("/v2/{REPOSITORY}/manifests/sha256-{hex}.sig"),
        lying,
    );
    let base = hostile_registry(routes);
    let error = Registry::new(&base)
        .expect("registry")
        .discover(REPOSITORY, &image)
        .await
        .expect_err("mislabelled manifest");
    assert!(matches!(error, OciError::DigestMismatch { .. }), "{error}");
}

#[tokio::test]
async fn hostile_answers_are_clear_errors() {
    let image = image_digest();
    let hex = hex_of(&image);
    let sig = format!("/v2/{REPOSITORY}/manifests/sha256-{hex}.sig");
    let discover = |routes: HashMap<String, Route>| async move {
        let base = hostile_registry(routes);
        Registry::new(&base)
            .expect("registry")
            .discover(REPOSITORY, &image_digest())
            .await
    };

    // Not JSON.
    let routes = HashMap::from([(
        sig.clone(),
        Route::ok(media_types::OCI_MANIFEST, b"<html>".to_vec()),
    )]);
    let error = discover(routes).await.expect_err("garbage");
    assert!(matches!(error, OciError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("not a JSON manifest"), "{error}");

    // Authentication wanted.
    let mut route = Route::ok("application/json", b"{}".to_vec());
    route.status = 401;
    let error = discover(HashMap::from([(sig.clone(), route)]))
        .await
        .expect_err("401");
    assert!(
        matches!(error, OciError::Unauthorized { status: 401, .. }),
        "{error}"
    );

    // A server error keeps the registry's code and message, on one line.
    let mut route = Route::ok(
        "application/json",
        br#"{"errors":[{"code":"UNKNOWN","message":"disk\nfull"}]}"#.to_vec(),
    );
    route.status = 500;
    let error = discover(HashMap::from([(sig.clone(), route)]))
        .await
        .expect_err("500");
    assert!(
        error
            .to_string()
            .ends_with("registry answered HTTP 500: UNKNOWN: disk full"),
        "{error}"
    );

    // A manifest over the cap is not read.
    let huge = vec![b' '; usize::try_from(provgraph_oci::MAX_MANIFEST_BYTES).expect("usize") + 1];
    let error = discover(HashMap::from([(
        sig.clone(),
        Route::ok(media_types::OCI_MANIFEST, huge),
    )]))
    .await
    .expect_err("huge");
    assert!(matches!(error, OciError::TooLarge { .. }), "{error}");

    // A blob announced over the cap is refused before download.
    let mut layer = json!({
        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "digest": sha256(b"x"),
        "size": provgraph_oci::MAX_BLOB_BYTES + 1,
    });
    layer["annotations"] = json!({media_types::ANNOTATION_SIGNATURE: "c2ln"});
    let manifest = json!({"schemaVersion": 2, "layers": [layer]});
    let error = discover(HashMap::from([(sig.clone(), manifest_route(&manifest))]))
        .await
        .expect_err("huge blob");
    assert!(
        matches!(&error, OciError::TooLarge { limit, .. } if *limit == provgraph_oci::MAX_BLOB_BYTES),
        "{error}"
    );

    // A layer whose Rekor bundle annotation is not JSON is skipped, noted.
    let mut layer = descriptor("application/vnd.dev.cosign.simplesigning.v1+json", b"x");
    layer["annotations"] = json!({
        media_types::ANNOTATION_SIGNATURE: "c2ln",
        media_types::ANNOTATION_BUNDLE: "{not json",
    });
    let manifest = json!({"schemaVersion": 2, "layers": [layer]});
    let found = discover(HashMap::from([(sig, manifest_route(&manifest))]))
        .await
        .expect("skipped, not an error");
    assert!(found.evidence.is_empty());
    assert!(
        has_note(&found, "the Rekor bundle annotation is not JSON"),
        "{:?}",
        found.notes
    );
}

#[tokio::test]
async fn referrers_api_with_pages() {
    let image = image_digest();
    let mut routes = HashMap::new();
    let empty = b"{}".to_vec();
    let mut referrers = Vec::new();
    for (i, subject) in [image.clone(), image.clone(), sha256(b"another image")]
        .into_iter()
        .enumerate()
    {
        let bundle = sigstore_bundle(&image);
        let mut bundle_bytes = to_bytes(&bundle);
        bundle_bytes.extend(std::iter::repeat_n(b' ', i));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "artifactType": media_types::SIGSTORE_BUNDLE_V03,
            "config": descriptor("application/vnd.oci.empty.v1+json", &empty),
            "layers": [descriptor(media_types::SIGSTORE_BUNDLE_V03, &bundle_bytes)],
            "subject": {"mediaType": media_types::OCI_MANIFEST, "digest": subject, "size": 10},
        });
        let manifest_bytes = to_bytes(&manifest);
        let digest = sha256(&manifest_bytes);
        routes.insert(
            format!("/v2/{REPOSITORY}/manifests/{digest}"),
            Route::ok(media_types::OCI_MANIFEST, manifest_bytes.clone()),
        );
        routes.insert(
            format!("/v2/{REPOSITORY}/blobs/{}", sha256(&bundle_bytes)),
            Route::ok("application/octet-stream", bundle_bytes),
        );
        let mut entry = descriptor(media_types::OCI_MANIFEST, &manifest_bytes);
        entry["artifactType"] = json!(media_types::SIGSTORE_BUNDLE_V03);
        referrers.push((digest, entry));
    }
    let page = |entries: Vec<Value>| {
        to_bytes(
            &json!({"schemaVersion": 2, "mediaType": media_types::OCI_INDEX, "manifests": entries}),
        )
    };
    let first = format!("/v2/{REPOSITORY}/referrers/{image}");
    let second = format!("{first}?n=1&last=x");
    let mut first_page = Route::ok(
        media_types::OCI_INDEX,
        page(vec![
            referrers[0].1.clone(),
            json!({"mediaType": media_types::OCI_MANIFEST, "digest": sha256(b"sbom"), "size": 1,
                   "artifactType": "application/vnd.cyclonedx+json"}),
        ]),
    );
    first_page
        .headers
        .push(("link".into(), format!("<{second}>; rel=\"next\"")));
    routes.insert(first, first_page);
    routes.insert(
        second,
        Route::ok(
            media_types::OCI_INDEX,
            page(vec![referrers[1].1.clone(), referrers[2].1.clone()]),
        ),
    );

    let base = hostile_registry(routes);
    let found = Registry::new(&base)
        .expect("registry")
        .discover(REPOSITORY, &image)
        .await
        .expect("discover");
    let references: Vec<_> = found
        .evidence
        .iter()
        .map(|e| (e.source, e.reference.as_str()))
        .collect();
    assert_eq!(
        references,
        [
            (DiscoverySource::Referrers, referrers[0].0.as_str()),
            (DiscoverySource::Referrers, referrers[1].0.as_str()),
        ]
    );
    for evidence in &found.evidence {
        assert_eq!(evidence.body, sigstore_bundle(&image));
        parses_as(evidence, &image, EvidenceFormat::SigstoreBundle);
    }
    assert!(!has_note(&found, "does not implement"), "{:?}", found.notes);
    assert!(
        has_note(
            &found,
            &format!(
                "referrer {} names subject {}",
                referrers[2].0,
                sha256(b"another image")
            )
        ),
        "{:?}",
        found.notes
    );
    assert!(
        has_note(&found, "application/vnd.cyclonedx+json"),
        "{:?}",
        found.notes
    );
}
