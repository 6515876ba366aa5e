//! What the graph keeps of one verification result: the signature's facts
//! (its node, signer, and the lineage it proves, by origin) and the row the
//! API lists.

use provgraph_model::proofs::{ProofOrigin, SignatureFacts, SourceClaims};
use provgraph_signatures::{Evidence, EvidenceFormat, SignatureMethod, VerificationResult};
use provgraph_store::SignatureRecord;

/// Annotation names in a verified signature's signed payload that name the
/// build that produced the artifact.
const BUILD_ANNOTATIONS: [&str; 2] = ["cicd.pipeline.run.id", "build.id"];

/// Annotation names that carry the trace id of the build that produced the
/// artifact ("sign the trace id with the image"): a 32-hex trace id, or a
/// W3C `traceparent`.
const TRACE_ANNOTATIONS: [&str; 3] = ["trace.id", "trace_id", "traceparent"];

/// The trace id a verified signature's annotations name, if any.
pub(crate) fn annotated_trace(result: &VerificationResult) -> Option<String> {
    let raw = TRACE_ANNOTATIONS
        .iter()
        .find_map(|name| annotation(result, name))?;
    provgraph_model::TraceId::from_id_or_traceparent(&raw).map(String::from)
}

/// How the signature was made and checked, as the API names it.
pub(crate) fn method_name(method: SignatureMethod) -> &'static str {
    match method {
        SignatureMethod::KeylessCertificate => "KEYLESS_CERTIFICATE",
        SignatureMethod::PublicKey => "PUBLIC_KEY",
        SignatureMethod::PublicKeyNoLog => "PUBLIC_KEY_NO_LOG",
        SignatureMethod::NotaryX509 => "NOTARY_X509",
        SignatureMethod::NotarySigningAuthority => "NOTARY_X509_SIGNING_AUTHORITY",
    }
}

fn format_name(evidence: &Evidence) -> &'static str {
    match evidence.format {
        EvidenceFormat::SigstoreBundle => "SIGSTORE_BUNDLE",
        EvidenceFormat::CosignSignatureLayer => "COSIGN_SIGNATURE_LAYER",
        EvidenceFormat::CosignAttestationLayer => "COSIGN_ATTESTATION_LAYER",
    }
}

/// The IDENTITY key of a signer: `ISSUER|SUBJECT` when keyless, `key:NAME`
/// for a policy key, `x509:SUBJECT` for a Notary Project certificate.
pub(crate) fn identity_key(result: &VerificationResult) -> Option<String> {
    let signer = result.signer.as_deref()?;
    Some(match result.method {
        SignatureMethod::KeylessCertificate => {
            format!("{}|{signer}", result.issuer.as_deref().unwrap_or(""))
        }
        SignatureMethod::PublicKey | SignatureMethod::PublicKeyNoLog => format!("key:{signer}"),
        SignatureMethod::NotaryX509 | SignatureMethod::NotarySigningAuthority => {
            format!("x509:{signer}")
        }
    })
}

fn annotation(result: &VerificationResult, name: &str) -> Option<String> {
    let value = result.annotations.as_ref()?.get(name)?;
    match value {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The build a verified signature's annotations name (run id or build id).
pub(crate) fn build_annotation(result: &VerificationResult) -> Option<String> {
    BUILD_ANNOTATIONS
        .iter()
        .find_map(|name| annotation(result, name))
}

/// A build a verified signature ties its artifact to (by run id or trace).
pub(crate) fn run_claim(run: String) -> (ProofOrigin, SourceClaims) {
    (
        ProofOrigin::Annotation,
        SourceClaims {
            run: Some(run),
            ..SourceClaims::default()
        },
    )
}

/// What the graph keeps of one verification result of `evidence` (its
/// body is stored once for all its subjects, apart).
pub(crate) fn record(evidence: &Evidence, result: &VerificationResult) -> SignatureRecord {
    let mut claims = Vec::new();
    if let Some(certificate) = &result.certificate {
        claims.push((
            ProofOrigin::Certificate,
            SourceClaims {
                repository: certificate.source_repository_uri.clone(),
                commit: certificate.source_repository_digest.clone(),
                run: certificate.run_invocation_uri.clone(),
            },
        ));
    }
    if let Some(slsa) = &result.slsa {
        claims.push((
            ProofOrigin::SlsaPredicate,
            SourceClaims {
                repository: slsa.source_repository.clone(),
                commit: slsa.source_commit.clone(),
                run: slsa.invocation_id.clone(),
            },
        ));
    }
    if let Some(build) = build_annotation(result) {
        claims.push(run_claim(build));
    }
    let details = serde_json::json!({
        "certificate": result.certificate,
        "slsa": result.slsa,
        "annotations": result.annotations,
        "signedAt": result.signed_at,
        "mediaType": evidence.media_type,
        "dockerReference": evidence.docker_reference,
    });
    SignatureRecord {
        facts: SignatureFacts {
            evidence_id: result.evidence_id.clone(),
            subject: result.subject.clone(),
            attestation: evidence.predicate_type.is_some() || result.predicate_type.is_some(),
            identity: identity_key(result),
            verified: result.verified,
            claims,
            contains: evidence
                .predicate()
                .and_then(provgraph_model::sbom::sbom_packages)
                .map(|sbom| sbom.packages)
                .unwrap_or_default(),
        },
        format: format_name(evidence).to_string(),
        method: method_name(result.method).to_string(),
        trusted: result.trusted,
        signer: result.signer.clone(),
        issuer: result.issuer.clone(),
        reason: result.reason.clone(),
        log_index: result.log_index,
        integrated_time: result.integrated_time,
        predicate_type: result
            .predicate_type
            .clone()
            .or_else(|| evidence.predicate_type.clone()),
        details: details.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use provgraph_signatures::{CertificateClaims, TrustPolicy, parse_evidence, verify_evidence};

    use super::*;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    /// A cosign signature layer for DIGEST whose signature is not one.
    fn layer(annotations: serde_json::Value) -> Vec<u8> {
        let payload = serde_json::json!({
            "critical": {
                "identity": {"docker-reference": "ghcr.io/acme/calc"},
                "image": {"docker-manifest-digest": DIGEST},
                "type": "cosign container image signature"
            },
            "optional": annotations
        });
        let b64 = base64::engine::general_purpose::STANDARD;
        serde_json::to_vec(&serde_json::json!({
            "payload": b64.encode(payload.to_string()),
            "signature": b64.encode(b"not a signature"),
        }))
        .unwrap()
    }

    fn evidence(annotations: serde_json::Value) -> Evidence {
        let mut parsed = parse_evidence(&layer(annotations), None).expect("a cosign layer");
        assert_eq!(parsed.len(), 1);
        parsed.remove(0)
    }

    /// What a verified keyless signature of `evidence` would say.
    fn verified(evidence: &Evidence) -> VerificationResult {
        VerificationResult {
            evidence_id: evidence.evidence_id.clone(),
            subject: DIGEST.into(),
            verified: true,
            trusted: true,
            signer: Some(
                "https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main".into(),
            ),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            reason: "verified".into(),
            method: SignatureMethod::KeylessCertificate,
            log_index: Some(7),
            integrated_time: Some(1_700_000_000),
            signed_at: Some(1_700_000_000),
            certificate: Some(CertificateClaims {
                source_repository_uri: Some("https://github.com/acme/calc".into()),
                source_repository_digest: Some("a".repeat(40)),
                run_invocation_uri: Some(
                    "https://github.com/acme/calc/actions/runs/42/attempts/1".into(),
                ),
                ..CertificateClaims::default()
            }),
            predicate_type: None,
            slsa: None,
            annotations: evidence.annotations.get(DIGEST).cloned(),
        }
    }

    #[test]
    fn a_verified_keyless_signature_proves_what_its_certificate_and_annotations_say() {
        let evidence = evidence(serde_json::json!({"cicd.pipeline.run.id": 42}));
        let result = verified(&evidence);
        let record = record(&evidence, &result);
        let facts = &record.facts;
        assert_eq!(facts.subject, DIGEST);
        assert!(facts.verified && !facts.attestation);
        assert_eq!(
            facts.identity.as_deref(),
            Some(
                "https://token.actions.githubusercontent.com|https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main"
            )
        );
        assert_eq!(
            facts.claims,
            vec![
                (
                    ProofOrigin::Certificate,
                    SourceClaims {
                        repository: Some("https://github.com/acme/calc".into()),
                        commit: Some("a".repeat(40)),
                        run: Some("https://github.com/acme/calc/actions/runs/42/attempts/1".into()),
                    }
                ),
                run_claim("42".into()),
            ]
        );
        assert_eq!(record.format, "COSIGN_SIGNATURE_LAYER");
        assert_eq!(record.method, "KEYLESS_CERTIFICATE");
        let details: serde_json::Value = serde_json::from_str(&record.details).unwrap();
        assert_eq!(details["dockerReference"], "ghcr.io/acme/calc");
        assert_eq!(
            details["certificate"]["source_repository_uri"],
            "https://github.com/acme/calc"
        );
    }

    #[test]
    fn a_signature_that_does_not_verify_proves_nothing() {
        let evidence = evidence(serde_json::json!({"cicd.pipeline.run.id": "run-1"}));
        let results = verify_evidence(&evidence, &TrustPolicy::default());
        assert_eq!(results.len(), 1);
        assert!(!results[0].verified);
        let record = record(&evidence, &results[0]);
        assert!(!record.facts.verified && !record.trusted);
        assert_eq!(record.facts.claims, vec![], "claims of a forgery");
        assert_eq!(annotated_trace(&results[0]), None);
    }

    #[test]
    fn key_signers_are_named_by_key() {
        let evidence = evidence(serde_json::Value::Null);
        let result = VerificationResult {
            method: SignatureMethod::PublicKeyNoLog,
            signer: Some("release-key".into()),
            issuer: None,
            certificate: None,
            ..verified(&evidence)
        };
        let record = record(&evidence, &result);
        assert_eq!(record.facts.identity.as_deref(), Some("key:release-key"));
        assert_eq!(record.method, "PUBLIC_KEY_NO_LOG");
        assert_eq!(record.facts.claims, vec![]);
    }

    #[test]
    fn signed_trace_ids_as_hex_or_traceparent() {
        let cases = [
            (serde_json::json!({"trace.id": TRACE}), Some(TRACE)),
            (
                serde_json::json!({"trace_id": TRACE.to_uppercase()}),
                Some(TRACE),
            ),
            (
                serde_json::json!({"traceparent": format!("00-{TRACE}-00f067aa0ba902b7-01")}),
                Some(TRACE),
            ),
            (serde_json::json!({"trace.id": "0".repeat(32)}), None),
            (serde_json::json!({"trace.id": "xyz"}), None),
            (serde_json::json!({"traceparent": "00-abc-01"}), None),
            (serde_json::json!({"build.id": "b-1"}), None),
        ];
        for (annotations, want) in cases {
            let evidence = evidence(annotations.clone());
            let result = verified(&evidence);
            assert_eq!(annotated_trace(&result).as_deref(), want, "{annotations}");
        }
    }
}
