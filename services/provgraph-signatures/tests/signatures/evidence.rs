//! Evidence import end to end: conformance bundles and cosign layers minted
//! here, through `parse_evidence` and `verify_evidence`, against policies.

use std::path::{Path, PathBuf};

use provgraph_signatures::{
    EvidenceFormat, SignatureMethod, SubjectMatcher, TrustPolicy, VerificationResult,
    parse_evidence, verify_evidence,
};
use serde_json::json;
use sigstore_verify::crypto::KeyPair;
use sigstore_verify::types::{SignatureBytes, pae};

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";
/// sha256 of the conformance suite's a.txt.
const A_TXT: &str = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";

fn cases() -> Option<PathBuf> {
    let dir = std::env::var_os("PROVGRAPH_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/testdata/sigstore-conformance/bundle-verify")
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        assert!(
            std::env::var("PROVGRAPH_REQUIRE_CONFORMANCE").as_deref() != Ok("1"),
            "conformance assets missing at {}",
            dir.display()
        );
        println!("SKIPPED: no conformance assets at {}", dir.display());
        None
    }
}

/// A file of a conformance case; `None` when the assets are absent (skip).
fn case_file(case: &str, file: &str) -> Option<Vec<u8>> {
    let path = cases()?.join(case).join(file);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
}

/// An optional file of a conformance case.
fn optional_case_file(case: &str, file: &str) -> Option<Vec<u8>> {
    std::fs::read(cases()?.join(case).join(file)).ok()
}

fn b64(bytes: &[u8]) -> String {
    SignatureBytes::from_bytes(bytes).to_base64()
}

fn only(results: Vec<VerificationResult>) -> VerificationResult {
    assert_eq!(results.len(), 1, "{results:#?}");
    results.into_iter().next().expect("one result")
}

fn verify_one(body: &[u8], digest: Option<&str>, policy: &TrustPolicy) -> VerificationResult {
    let evidence = parse_evidence(body, digest).expect("parses");
    assert_eq!(evidence.len(), 1);
    only(verify_evidence(&evidence[0], policy))
}

fn beacon_policy(subject: SubjectMatcher) -> TrustPolicy {
    TrustPolicy::default().with_identity(GITHUB, subject)
}

#[test]
fn dsse_attestation_verifies_and_trust_follows_the_policy() {
    let Some(body) = case_file("happy-path-intoto-in-dsse-v3", "bundle.sigstore.json") else {
        return;
    };
    let evidence = parse_evidence(&body, None).expect("parses");
    let evidence = &evidence[0];
    assert_eq!(evidence.format, EvidenceFormat::SigstoreBundle);
    assert_eq!(evidence.subjects, vec![A_TXT.to_string()]);
    assert_eq!(
        evidence.predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );
    assert_eq!(evidence.evidence_id.len(), 64);

    // Nothing trusted: verified, not trusted.
    let result = only(verify_evidence(evidence, &TrustPolicy::default()));
    assert!(result.verified, "{}", result.reason);
    assert!(!result.trusted);
    assert_eq!(result.method, SignatureMethod::KeylessCertificate);
    assert_eq!(result.signer.as_deref(), Some(BEACON));
    assert_eq!(result.issuer.as_deref(), Some(GITHUB));
    assert!(
        result.reason.contains("does not allow"),
        "{}",
        result.reason
    );
    assert!(result.log_index.is_some());
    assert!(result.signed_at.is_some());
    assert_eq!(result.subject, A_TXT);
    assert_eq!(result.evidence_id, evidence.evidence_id);

    // The certificate's CI claims and the SLSA summary come with it.
    let claims = result.certificate.as_ref().expect("certificate claims");
    assert_eq!(claims.subject.as_deref(), Some(BEACON));
    assert_eq!(claims.issuer.as_deref(), Some(GITHUB));
    assert_eq!(
        claims.source_repository_uri.as_deref(),
        Some("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon")
    );
    assert!(
        claims
            .source_repository_digest
            .as_deref()
            .is_some_and(|d| d.len() == 40)
    );
    assert_eq!(
        claims.source_repository_ref.as_deref(),
        Some("refs/heads/main")
    );
    assert!(
        claims
            .run_invocation_uri
            .as_deref()
            .is_some_and(|u| u.contains("/actions/runs/"))
    );
    let slsa = result.slsa.as_ref().expect("slsa summary");
    assert_eq!(slsa.slsa_version, "v1");
    assert_eq!(
        slsa.source_repository.as_deref(),
        Some("https://github.com/loosebazooka/aa-test")
    );
    assert_eq!(
        slsa.source_commit.as_deref(),
        Some("ebff8dfbd609b7b22237c7719ce07f2dc7934f5f")
    );
    assert_eq!(
        slsa.invocation_id.as_deref(),
        Some("https://github.com/loosebazooka/aa-test/actions/runs/11941425487/attempts/1")
    );

    // Exact identity: trusted.
    let exact = beacon_policy(SubjectMatcher::Exact(BEACON.into()));
    let result = only(verify_evidence(evidence, &exact));
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert!(result.reason.contains("allowed"), "{}", result.reason);

    // Anchored regex over the organisation: trusted.
    let org = beacon_policy(
        SubjectMatcher::regex("https://github.com/sigstore-conformance/.*").expect("regex"),
    );
    assert!(only(verify_evidence(evidence, &org)).trusted);

    // A bare prefix does not match the whole identity: not trusted.
    let prefix = beacon_policy(
        SubjectMatcher::regex(
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon",
        )
        .expect("regex"),
    );
    let result = only(verify_evidence(evidence, &prefix));
    assert!(result.verified && !result.trusted);

    // Right subject, wrong issuer: not trusted.
    let wrong_issuer = TrustPolicy::default().with_identity(
        "https://accounts.google.com",
        SubjectMatcher::Exact(BEACON.into()),
    );
    assert!(!only(verify_evidence(evidence, &wrong_issuer)).trusted);

    // A digest the statement does not name gets a result, unverified.
    let other = format!("sha256:{}", "0".repeat(64));
    let evidence = parse_evidence(&body, Some(&other)).expect("parses");
    let results = verify_evidence(&evidence[0], &exact);
    assert_eq!(results.len(), 2);
    assert!(results[0].verified && results[0].trusted);
    assert_eq!(results[1].subject, other);
    assert!(!results[1].verified && !results[1].trusted);
    assert!(results[1].slsa.is_none() && results[1].certificate.is_none());
}

#[test]
fn message_signature_bundles_bind_the_digest() {
    let Some(body) = case_file("happy-path-v0.3", "bundle.sigstore.json") else {
        return;
    };
    let policy = beacon_policy(SubjectMatcher::Exact(BEACON.into()));
    // The bundle's own messageDigest names the artifact when no digest is given.
    let result = verify_one(&body, None, &policy);
    assert_eq!(result.subject, A_TXT);
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert!(result.predicate_type.is_none() && result.slsa.is_none());

    // Given, upper-case: canonicalized.
    let result = verify_one(
        &body,
        Some(&A_TXT.to_uppercase().replace("SHA256:", "sha256:")),
        &policy,
    );
    assert_eq!(result.subject, A_TXT);
    assert!(result.verified, "{}", result.reason);

    // A different artifact: the signature is not valid for it.
    let other = format!("sha256:{}", "ab".repeat(32));
    let result = verify_one(&body, Some(&other), &policy);
    assert_eq!(result.subject, other);
    assert!(!result.verified && !result.trusted);
    assert!(result.reason.contains("not verified"), "{}", result.reason);
    // What the forgery claims is kept for the auditor.
    assert_eq!(result.signer.as_deref(), Some(BEACON));

    // Without messageDigest and without digest, the artifact is unknown: 400.
    let mut value: serde_json::Value = serde_json::from_slice(&body).expect("json");
    if let Some(signature) = value
        .get_mut("messageSignature")
        .and_then(|s| s.as_object_mut())
    {
        signature.remove("messageDigest");
    }
    let stripped = serde_json::to_vec(&value).expect("json");
    let err = parse_evidence(&stripped, None).expect_err("needs digest");
    assert!(err.to_string().contains("digest"), "{err}");
    assert!(verify_one(&stripped, Some(A_TXT), &policy).verified);
}

#[test]
fn failing_conformance_bundles_are_kept_unverified() {
    let policy = beacon_policy(SubjectMatcher::Exact(BEACON.into()));
    for case in [
        "signature-mismatch_fail",
        "dsse-invalid-sig_fail",
        "wrong-hashedrekord-entry_fail",
        "set-invalid-signature_fail",
        "intoto-expired-certificate_fail",
    ] {
        let Some(body) = case_file(case, "bundle.sigstore.json") else {
            return;
        };
        let digest = optional_case_file(case, "artifact").map(|bytes| {
            format!(
                "sha256:{}",
                sigstore_verify::crypto::sha256(&bytes).to_hex()
            )
        });
        let evidence = parse_evidence(&body, Some(digest.as_deref().unwrap_or(A_TXT)))
            .unwrap_or_else(|e| panic!("{case} parses: {e}"));
        for result in verify_evidence(&evidence[0], &policy) {
            assert!(!result.verified, "{case} must not verify");
            assert!(!result.trusted, "{case}");
            assert!(
                !result.reason.is_empty() && !result.reason.contains('\n'),
                "{case}"
            );
            assert!(
                result.certificate.is_none() && result.integrated_time.is_none(),
                "{case}"
            );
        }
    }
}

#[test]
fn custom_trusted_root_from_a_policy_file() {
    let Some(dir) = cases() else {
        return;
    };
    let case = dir.join("intoto-with-custom-trust-root");
    let body = std::fs::read(case.join("bundle.sigstore.json")).expect("bundle");
    let temp = tempfile::tempdir().expect("tempdir");
    let policy_path = temp.path().join("policy.toml");
    std::fs::write(
        &policy_path,
        format!(
            "trusted_root = {:?}\n[[identities]]\nissuer = {GITHUB:?}\nsubject_regex = \"https://github\\\\.com/sigstore-conformance/.*\"\n",
            case.join("trusted_root.json").display().to_string()
        ),
    )
    .expect("write policy");
    let policy = TrustPolicy::from_toml_file(&policy_path).expect("policy");
    let evidence = parse_evidence(&body, None).expect("parses");
    let results = verify_evidence(&evidence[0], &policy);
    assert!(!results.is_empty());
    assert!(
        results.iter().all(|r| r.verified && r.trusted),
        "{results:#?}"
    );

    // The production root does not vouch for it.
    let results = verify_evidence(&evidence[0], &TrustPolicy::default());
    assert!(results.iter().all(|r| !r.verified), "{results:#?}");
}

#[test]
fn public_key_bundles_verify_only_with_a_policy_key() {
    let (Some(body), Some(key), Some(corrupt)) = (
        case_file("managed-key-happy-path", "bundle.sigstore.json"),
        case_file("managed-key-happy-path", "key.pub"),
        case_file("managed-key-wrong-key_fail", "key.pub"),
    ) else {
        return;
    };
    let key = String::from_utf8(key).expect("pem");
    // The suite's "wrong key" is a corrupt PEM: a policy refuses it outright.
    let corrupt = String::from_utf8(corrupt).expect("pem");
    assert!(
        TrustPolicy::default()
            .with_key("corrupt", &corrupt)
            .is_err()
    );
    let wrong = KeyPair::generate_ecdsa_p256()
        .and_then(|p| p.public_key_der())
        .expect("key")
        .to_pem();

    let result = verify_one(&body, Some(A_TXT), &TrustPolicy::default());
    assert!(!result.verified && !result.trusted);
    assert_eq!(result.method, SignatureMethod::PublicKey);
    assert!(result.reason.contains("no keys"), "{}", result.reason);

    let policy = TrustPolicy::default()
        .with_key("release", &key)
        .expect("key");
    let result = verify_one(&body, Some(A_TXT), &policy);
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert_eq!(result.signer.as_deref(), Some("release"));
    assert!(result.log_index.is_some());

    let policy = TrustPolicy::default()
        .with_key("other", &wrong)
        .expect("key");
    let result = verify_one(&body, Some(A_TXT), &policy);
    assert!(!result.verified, "{}", result.reason);
    assert!(result.reason.contains("other"), "{}", result.reason);
}

/// A cosign simple-signing payload for `digest`.
fn simple_signing(digest: &str, annotations: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": "registry.example/acme/calc"},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": annotations
    }))
    .expect("payload")
}

#[test]
fn key_only_cosign_signatures_without_a_log_entry() {
    let pair = KeyPair::generate_ecdsa_p256().expect("key");
    let pem = pair.public_key_der().expect("public").to_pem();
    let image = format!("sha256:{}", "cd".repeat(32));
    let payload = simple_signing(&image, json!({"commit": "0123abcd", "pipeline": "release"}));
    let signature = pair.sign(&payload).expect("sign");
    let layer = json!({"payload": b64(&payload), "signature": signature.to_base64()});
    let body = serde_json::to_vec(&layer).expect("json");

    let evidence = parse_evidence(&body, None).expect("parses");
    assert_eq!(evidence[0].format, EvidenceFormat::CosignSignatureLayer);
    assert_eq!(evidence[0].subjects, vec![image.clone()]);
    assert_eq!(
        evidence[0].docker_reference.as_deref(),
        Some("registry.example/acme/calc")
    );

    let policy = TrustPolicy::default()
        .with_key("release-key", &pem)
        .expect("key");
    let result = only(verify_evidence(&evidence[0], &policy));
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert_eq!(result.method, SignatureMethod::PublicKeyNoLog);
    assert_eq!(result.signer.as_deref(), Some("release-key"));
    assert_eq!(result.log_index, None);
    assert_eq!(result.subject, image);
    assert!(
        result.reason.contains("no transparency-log entry"),
        "{}",
        result.reason
    );
    assert_eq!(
        result.annotations,
        Some(json!({"commit": "0123abcd", "pipeline": "release"}))
    );

    // One byte of the payload changed: same subject, signature invalid.
    let mut tampered = payload.clone();
    let at = tampered
        .windows(4)
        .position(|w| w == b"acme")
        .expect("docker-reference in payload");
    tampered[at] = b'A';
    let forged =
        serde_json::to_vec(&json!({"payload": b64(&tampered), "signature": signature.to_base64()}))
            .expect("json");
    let result = verify_one(&forged, None, &policy);
    assert_eq!(result.subject, image);
    assert!(!result.verified && !result.trusted);
    assert!(result.reason.contains("release-key"), "{}", result.reason);
    assert!(result.annotations.is_none());

    // A key the policy does not have: not verified.
    let stranger = KeyPair::generate_ecdsa_p256()
        .and_then(|p| p.public_key_der())
        .expect("key")
        .to_pem();
    let other_policy = TrustPolicy::default()
        .with_key("stranger", &stranger)
        .expect("key");
    let result = verify_one(&body, None, &other_policy);
    assert!(!result.verified && !result.trusted);

    // A digest the payload does not name.
    let other = format!("sha256:{}", "ef".repeat(32));
    let evidence = parse_evidence(&body, Some(&other)).expect("parses");
    let results = verify_evidence(&evidence[0], &policy);
    assert_eq!(results.len(), 2);
    assert!(results[0].verified);
    assert!(
        !results[1].verified && results[1].reason.contains("names"),
        "{}",
        results[1].reason
    );

    // The same evidence, formatted differently, has the same id; another does not.
    let reformatted = serde_json::to_vec_pretty(
        &json!({"signature": signature.to_base64(), "payload": b64(&payload)}),
    )
    .expect("json");
    let again = parse_evidence(&reformatted, None).expect("parses");
    assert_eq!(
        again[0].evidence_id,
        parse_evidence(&body, None).expect("parses")[0].evidence_id
    );
    assert_ne!(
        again[0].evidence_id,
        parse_evidence(&forged, None).expect("parses")[0].evidence_id
    );
}

#[test]
fn key_only_cosign_attestation_layer() {
    let pair = KeyPair::generate_ecdsa_p256().expect("key");
    let pem = pair.public_key_der().expect("public").to_pem();
    let first = "11".repeat(32);
    let second = "22".repeat(32);
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [
            {"name": "registry.example/acme/calc", "digest": {"sha256": first}},
            {"name": "registry.example/acme/calc-arm", "digest": {"sha256": second}},
            {"name": "sbom", "digest": {"sha512": "33".repeat(64)}}
        ],
        "predicate": {
            "builder": {"id": "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main"},
            "invocation": {"configSource": {"uri": "git+https://github.com/acme/calc@refs/heads/main", "digest": {"sha1": "89abcdef0123456789abcdef0123456789abcdef"}}},
            "metadata": {"buildInvocationId": "777-1"}
        }
    }))
    .expect("statement");
    let payload_type = "application/vnd.in-toto+json";
    let signature = pair.sign(&pae(payload_type, &statement)).expect("sign");
    let envelope = serde_json::to_vec(&json!({
        "payloadType": payload_type,
        "payload": b64(&statement),
        "signatures": [{"keyid": "", "sig": signature.to_base64()}]
    }))
    .expect("envelope");
    let body =
        serde_json::to_vec(&json!({"payload": b64(&envelope), "signature": ""})).expect("json");

    let evidence = parse_evidence(&body, None).expect("parses");
    assert_eq!(evidence[0].format, EvidenceFormat::CosignAttestationLayer);
    assert_eq!(
        evidence[0].subjects,
        vec![format!("sha256:{first}"), format!("sha256:{second}")]
    );
    let policy = TrustPolicy::default()
        .with_key("attestor", &pem)
        .expect("key");
    let results = verify_evidence(&evidence[0], &policy);
    assert_eq!(results.len(), 2);
    for result in &results {
        assert!(result.verified && result.trusted, "{}", result.reason);
        assert_eq!(result.method, SignatureMethod::PublicKeyNoLog);
        assert_eq!(
            result.predicate_type.as_deref(),
            Some("https://slsa.dev/provenance/v0.2")
        );
        let slsa = result.slsa.as_ref().expect("slsa");
        assert_eq!(
            slsa.source_commit.as_deref(),
            Some("89abcdef0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            slsa.source_repository.as_deref(),
            Some("https://github.com/acme/calc")
        );
        assert_eq!(slsa.invocation_id.as_deref(), Some("777-1"));
    }
    let results = verify_evidence(&evidence[0], &TrustPolicy::default());
    assert!(results.iter().all(|r| !r.verified && r.slsa.is_none()));
}

#[test]
fn keyless_layer_without_rekor_bundle_is_unverified() {
    let Some(body) = case_file("happy-path-v0.1", "bundle.sigstore.json") else {
        return;
    };
    let bundle: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let der = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .expect("cert");
    let pem = format!("-----BEGIN CERTIFICATE-----\n{der}\n-----END CERTIFICATE-----\n");
    let payload = simple_signing(A_TXT, serde_json::Value::Null);
    let layer = json!({
        "payload": b64(&payload),
        "signature": bundle["messageSignature"]["signature"],
        "certificate": pem,
    });
    let result = verify_one(
        &serde_json::to_vec(&layer).expect("json"),
        None,
        &beacon_policy(SubjectMatcher::Exact(BEACON.into())),
    );
    assert_eq!(result.method, SignatureMethod::KeylessCertificate);
    assert!(!result.verified && !result.trusted);
    assert!(result.reason.contains("Rekor bundle"), "{}", result.reason);
    assert_eq!(
        result.signer.as_deref(),
        Some(BEACON),
        "the claimed signer is kept"
    );
}

#[test]
fn malformed_evidence_is_an_error() {
    let image = format!("sha256:{}", "cd".repeat(32));
    let bad: Vec<(Vec<u8>, Option<&str>, &str)> = vec![
        (b"not json".to_vec(), None, "JSON"),
        (b"[1, 2]".to_vec(), None, "object"),
        (br#"{"hello": "world"}"#.to_vec(), None, "neither"),
        (br#"{"payload": "%%%", "signature": "AA=="}"#.to_vec(), None, "base64"),
        (
            serde_json::to_vec(&json!({"payload": b64(b"{\"not\": \"simple signing\"}"), "signature": "AA=="})).expect("json"),
            None,
            "critical",
        ),
        (
            serde_json::to_vec(&json!({"payload": b64(&simple_signing("sha256:1234", json!(null))), "signature": "AA=="})).expect("json"),
            None,
            "docker-manifest-digest",
        ),
        (
            serde_json::to_vec(&json!({"payload": b64(&simple_signing(&image, json!(null))), "signature": "AA==", "bundle": {"SignedEntryTimestamp": "AA=="}})).expect("json"),
            None,
            "Rekor bundle",
        ),
        (
            serde_json::to_vec(&json!({"payload": b64(&simple_signing(&image, json!(null))), "signature": "AA==", "certificate": "not pem"})).expect("json"),
            None,
            "certificate",
        ),
        (
            serde_json::to_vec(&json!({"payload": b64(&simple_signing(&image, json!(null))), "signature": "AA=="})).expect("json"),
            Some("sha256:short"),
            "digest",
        ),
        (
            serde_json::to_vec(&json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": {}})).expect("json"),
            None,
            "bundle",
        ),
    ];
    for (body, digest, expected) in bad {
        let err = parse_evidence(&body, digest)
            .expect_err("must be rejected")
            .to_string();
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    if let Some(body) = case_file("bundle-malformed-json_fail", "bundle.sigstore.json") {
        assert!(parse_evidence(&body, Some(A_TXT)).is_err());
    }
    if let Some(body) = case_file("bundle-unknown-version_fail", "bundle.sigstore.json") {
        assert!(parse_evidence(&body, Some(A_TXT)).is_err());
    }
}

#[test]
fn key_only_bundles_without_a_log_entry() {
    let pair = KeyPair::generate_ecdsa_p256().expect("key");
    let pem = pair.public_key_der().expect("public").to_pem();
    let policy = TrustPolicy::default()
        .with_key("ci-key", &pem)
        .expect("key");

    // A message signature over an artifact, no tlog entry, no timestamp.
    let artifact = b"release tarball bytes";
    let digest = sigstore_verify::crypto::sha256(artifact);
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "ci-key"}, "tlogEntries": []},
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest.as_bytes())},
            "signature": pair.sign(artifact).expect("sign").to_base64()
        }
    });
    let body = serde_json::to_vec(&bundle).expect("json");
    let result = verify_one(&body, None, &policy);
    assert_eq!(result.subject, format!("sha256:{}", digest.to_hex()));
    assert_eq!(result.method, SignatureMethod::PublicKeyNoLog);
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert_eq!(result.signer.as_deref(), Some("ci-key"));
    // Another artifact named by the caller: not this signature's.
    let other = format!("sha256:{}", "99".repeat(32));
    assert!(!verify_one(&body, Some(&other), &policy).verified);
    // No policy key: not verified.
    assert!(!verify_one(&body, None, &TrustPolicy::default()).verified);

    // A DSSE statement, no tlog entry.
    let subject = "44".repeat(32);
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": subject}, "annotations": {"org.opencontainers.image.source": "https://github.com/acme/calc"}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {}
    }))
    .expect("statement");
    let payload_type = "application/vnd.in-toto+json";
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": ""}},
        "dsseEnvelope": {
            "payloadType": payload_type,
            "payload": b64(&statement),
            "signatures": [{"sig": pair.sign(&pae(payload_type, &statement)).expect("sign").to_base64()}]
        }
    });
    let body = serde_json::to_vec(&bundle).expect("json");
    let result = verify_one(&body, None, &policy);
    assert_eq!(result.subject, format!("sha256:{subject}"));
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert_eq!(
        result.predicate_type.as_deref(),
        Some("https://sigstore.dev/cosign/sign/v1")
    );
    assert_eq!(
        result.annotations,
        Some(json!({"org.opencontainers.image.source": "https://github.com/acme/calc"}))
    );

    // The same envelope with one payload byte changed.
    let mut tampered = statement.clone();
    let at = tampered
        .windows(4)
        .position(|w| w == b"acme")
        .expect("acme");
    tampered[at] = b'A';
    let mut forged = bundle.clone();
    forged["dsseEnvelope"]["payload"] = json!(b64(&tampered));
    let result = verify_one(&serde_json::to_vec(&forged).expect("json"), None, &policy);
    assert!(
        !result.verified && result.annotations.is_none(),
        "{}",
        result.reason
    );
}

#[test]
fn shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TrustPolicy>();
    send_sync::<provgraph_signatures::Evidence>();
    send_sync::<VerificationResult>();
}

#[test]
fn timestamped_bundles_without_log_entries_verify_with_their_timestamp() {
    let Some(dir) = cases() else {
        return;
    };
    let case = dir.join("rekor2-happy-path");
    let root = std::fs::read_to_string(case.join("trusted_root.json")).expect("root");
    let root = sigstore_verify::trust_root::TrustedRoot::from_json(&root).expect("root parses");
    let policy = TrustPolicy::with_root(&root, "rekor2-happy-path root")
        .expect("usable root")
        .with_identity(GITHUB, SubjectMatcher::Exact(BEACON.into()));

    let body = std::fs::read(case.join("bundle.sigstore.json")).expect("bundle");
    let logged = verify_one(&body, Some(A_TXT), &policy);
    assert!(logged.verified && logged.trusted, "{}", logged.reason);
    assert!(logged.signed_at.is_some(), "the TSA time is reported");

    // Without its log entry: still valid at the timestamp authority's time.
    let mut value: serde_json::Value = serde_json::from_slice(&body).expect("json");
    value["verificationMaterial"]["tlogEntries"] = json!([]);
    let unlogged = serde_json::to_vec(&value).expect("json");
    let result = verify_one(&unlogged, Some(A_TXT), &policy);
    assert!(result.verified && result.trusted, "{}", result.reason);
    assert_eq!(result.log_index, None);
    assert_eq!(result.signed_at, logged.signed_at);

    // And with neither log entry nor timestamp: nothing vouches for the time.
    value["verificationMaterial"]["timestampVerificationData"] = json!({"rfc3161Timestamps": []});
    let bare = serde_json::to_vec(&value).expect("json");
    let result = verify_one(&bare, Some(A_TXT), &policy);
    assert!(!result.verified, "{}", result.reason);
}

/// The import path agrees with the conformance expectations: with the case's
/// root, identity or key as the trust policy, a case's bundle is verified and
/// trusted for its artifact exactly when the case should pass.
#[test]
fn every_conformance_case_through_the_import_path() {
    let Some(dir) = cases() else {
        return;
    };
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("bundle.sigstore.json").is_file())
        .collect();
    folders.sort();
    let mut wrong = Vec::new();
    for case in &folders {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let read = |file: &str| {
            std::fs::read_to_string(case.join(file))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let mut policy = match case.join("trusted_root.json").exists() {
            false => TrustPolicy::default(),
            true => {
                let root = read("trusted_root.json").and_then(|json| {
                    sigstore_verify::trust_root::TrustedRoot::from_json(&json).ok()
                });
                match root.map(|root| TrustPolicy::with_root(&root, &name)) {
                    Some(Ok(policy)) => policy,
                    // An unusable root: the case cannot pass.
                    _ => {
                        if !name.ends_with("_fail") {
                            wrong.push(format!("{name}: root rejected"));
                        }
                        continue;
                    }
                }
            }
        };
        policy = policy.with_identity(
            &read("issuer").unwrap_or_else(|| GITHUB.into()),
            SubjectMatcher::Exact(read("identity").unwrap_or_else(|| BEACON.into())),
        );
        if let Some(pem) = read("key.pub") {
            policy = match policy.clone().with_key("case-key", &pem) {
                Ok(with_key) => with_key,
                Err(_) => policy,
            };
        }
        let artifact = std::fs::read(case.join("artifact"))
            .or_else(|_| std::fs::read(dir.join("a.txt")))
            .expect("artifact");
        let digest = format!(
            "sha256:{}",
            sigstore_verify::crypto::sha256(&artifact).to_hex()
        );
        let body = std::fs::read(case.join("bundle.sigstore.json")).expect("bundle");
        let passed = match parse_evidence(&body, Some(&digest)) {
            Err(_) => false,
            Ok(evidence) => verify_evidence(&evidence[0], &policy)
                .iter()
                .any(|r| r.subject == digest && r.verified && r.trusted),
        };
        if passed == name.ends_with("_fail") {
            wrong.push(format!(
                "{name}: {}",
                if passed { "passed" } else { "failed" }
            ));
        }
    }
    assert!(folders.len() >= 70, "{} cases", folders.len());
    assert!(wrong.is_empty(), "not as expected: {wrong:#?}");
}
