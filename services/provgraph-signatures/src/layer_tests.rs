//! Tests of the legacy layer path with real Rekor entries: the conformance
//! suite's bundles over `a.txt`, taken apart into the layer form cosign
//! stores (payload, signature, certificate, Rekor bundle), then verified.
//! Beside `layer` and `verify` rather than inside `layer`, so that `layer`
//! does not import what imports it.

use serde_json::Value;
use sigstore_verify::types::{DerCertificate, PayloadBytes};

use crate::evidence::{Evidence, EvidenceFormat, Material};
use crate::layer::*;
use crate::policy::{SubjectMatcher, TrustPolicy};
use crate::verify::{SignatureMethod, verify_evidence};
use std::path::PathBuf;

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn cases() -> Option<PathBuf> {
    let dir = std::env::var_os("PROVGRAPH_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/testdata/sigstore-conformance/bundle-verify")
        });
    dir.is_dir().then_some(dir)
}

/// The layer a v0.1-convertible bundle of `case` corresponds to, and the
/// artifact bytes it signs.
fn layer_from_case(case: &str) -> Option<(Layer, Vec<u8>)> {
    let dir = cases()?;
    let artifact = std::fs::read(dir.join("a.txt")).expect("a.txt");
    let text =
        std::fs::read_to_string(dir.join(case).join("bundle.sigstore.json")).expect("bundle");
    let bundle: Value = serde_json::from_str(&text).expect("json");
    let material = &bundle["verificationMaterial"];
    let certificate = material["x509CertificateChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .or_else(|| material["certificate"]["rawBytes"].as_str())
        .map(|b64| DerCertificate::new(PayloadBytes::from_base64(b64).expect("der").into_bytes()));
    let entry = &material["tlogEntries"][0];
    let number = |v: &Value| {
        v.as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .expect("number")
    };
    let key_id = PayloadBytes::from_base64(entry["logId"]["keyId"].as_str().expect("keyId"))
        .expect("key id");
    let rekor = RekorBundle {
        signed_entry_timestamp: entry["inclusionPromise"]["signedEntryTimestamp"]
            .as_str()
            .expect("SET")
            .to_string(),
        payload: RekorPayload {
            body: entry["canonicalizedBody"]
                .as_str()
                .expect("body")
                .to_string(),
            integrated_time: number(&entry["integratedTime"]),
            log_index: number(&entry["logIndex"]),
            log_id: hex::encode(key_id.as_bytes()),
        },
    };
    let signature = PayloadBytes::from_base64(
        bundle["messageSignature"]["signature"]
            .as_str()
            .expect("signature"),
    )
    .expect("signature")
    .into_bytes();
    let layer = Layer {
        payload: artifact.clone(),
        signature,
        certificate,
        rekor: Some(rekor),
        kind: LayerKind::SimpleSigning {
            digest: crate::digest::sha256_digest_of(&artifact).into(),
            docker_reference: None,
            optional: None,
        },
    };
    Some((layer, artifact))
}

fn evidence(layer: Layer) -> Evidence {
    let LayerKind::SimpleSigning { digest, .. } = &layer.kind else {
        panic!("simple signing");
    };
    Evidence {
        evidence_id: "test".into(),
        format: EvidenceFormat::CosignSignatureLayer,
        media_type: None,
        subjects: vec![digest.clone()],
        predicate_type: None,
        docker_reference: None,
        annotations: Default::default(),
        statement: None,
        material: Material::Layer(Box::new(layer)),
    }
}

fn beacon_policy() -> TrustPolicy {
    TrustPolicy::default().with_identity(GITHUB, SubjectMatcher::Exact(BEACON.into()))
}

#[test]
fn keyless_layer_with_rekor_bundle_verifies_at_integrated_time() {
    let Some((layer, _)) = layer_from_case("happy-path-v0.1") else {
        return;
    };
    let results = verify_evidence(&evidence(layer.clone()), &beacon_policy());
    let result = &results[0];
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert_eq!(result.method, SignatureMethod::KeylessCertificate);
    assert_eq!(result.log_index, Some(27246492));
    assert_eq!(result.integrated_time, Some(1689177396));
    assert_eq!(result.signer.as_deref(), Some(BEACON));
    assert!(
        result
            .certificate
            .as_ref()
            .is_some_and(|c| c.source_repository_digest.is_some())
    );
    // Untrusted identity: verified only.
    let result = &verify_evidence(&evidence(layer), &TrustPolicy::default())[0];
    assert!(result.verified && !result.trusted);
}

#[test]
fn rekor_entry_must_describe_the_layer() {
    let Some((layer, artifact)) = layer_from_case("happy-path-v0.1") else {
        return;
    };
    let policy = beacon_policy();

    // Another payload (and subject): the logged hashedrekord is not for it.
    let mut other = layer.clone();
    other.payload = [artifact.as_slice(), b"!"].concat();
    other.kind = LayerKind::SimpleSigning {
        digest: crate::digest::sha256_digest_of(&other.payload).into(),
        docker_reference: None,
        optional: None,
    };
    let result = &verify_evidence(&evidence(other), &policy)[0];
    assert!(!result.verified, "{}", result.reason);

    // A changed integrated time breaks the SET.
    let mut moved = layer.clone();
    if let Some(rekor) = moved.rekor.as_mut() {
        rekor.payload.integrated_time += 1;
    }
    let result = &verify_evidence(&evidence(moved), &policy)[0];
    assert!(!result.verified, "{}", result.reason);
    assert!(
        result.reason.contains("inclusion promise"),
        "{}",
        result.reason
    );

    // Another log index breaks the SET too.
    let mut renumbered = layer.clone();
    if let Some(rekor) = renumbered.rekor.as_mut() {
        rekor.payload.log_index += 1;
    }
    assert!(!verify_evidence(&evidence(renumbered), &policy)[0].verified);

    // A signature that is not the logged one.
    let mut resigned = layer.clone();
    if let Some(byte) = resigned.signature.last_mut() {
        *byte ^= 1;
    }
    assert!(!verify_evidence(&evidence(resigned), &policy)[0].verified);

    // A key-based (certificate-less) reading of a keyless entry does not
    // verify with an unrelated policy key.
    let mut keyed = layer;
    keyed.certificate = None;
    let key = sigstore_verify::crypto::KeyPair::generate_ecdsa_p256()
        .and_then(|p| p.public_key_der())
        .expect("key")
        .to_pem();
    let policy = TrustPolicy::default().with_key("k", &key).expect("key");
    let result = &verify_evidence(&evidence(keyed), &policy)[0];
    assert_eq!(result.method, SignatureMethod::PublicKey);
    assert!(!result.verified, "{}", result.reason);
}

#[test]
fn key_layer_with_rekor_bundle_verifies_with_the_policy_key() {
    let Some((layer, _)) = layer_from_case("managed-key-happy-path") else {
        return;
    };
    let Some(dir) = cases() else {
        return;
    };
    let pem = std::fs::read_to_string(dir.join("managed-key-happy-path/key.pub")).expect("key");
    assert!(layer.certificate.is_none());
    let policy = TrustPolicy::default()
        .with_key("release", &pem)
        .expect("key");
    let result = &verify_evidence(&evidence(layer.clone()), &policy)[0];
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert_eq!(result.method, SignatureMethod::PublicKey);
    assert_eq!(result.signer.as_deref(), Some("release"));
    assert!(result.integrated_time.is_some());

    let result = &verify_evidence(&evidence(layer), &TrustPolicy::default())[0];
    assert!(
        !result.verified && result.reason.contains("no keys"),
        "{}",
        result.reason
    );
}

#[test]
fn converted_bundle_has_the_v01_shape() {
    let Some((layer, _)) = layer_from_case("happy-path-v0.1") else {
        return;
    };
    let bundle = layer
        .to_bundle()
        .expect("converts")
        .expect("has a Rekor entry");
    assert_eq!(
        bundle.media_type().as_str(),
        "application/vnd.dev.sigstore.bundle+json;version=0.1"
    );
    assert_eq!(bundle.verification_material.tlog_entries.len(), 1);
    assert!(bundle.has_inclusion_promise());
    let mut unlogged = layer;
    unlogged.rekor = None;
    assert!(unlogged.to_bundle().expect("no error").is_none());
}
