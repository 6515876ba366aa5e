//! Evidence import: `POST /v1/evidence` takes a Sigstore bundle or a cosign
//! signature layer, verifies it offline against the trust policy, and stores
//! the outcome (verified or not) with the lineage it proves.
//!
//! Also re-verification of everything stored, run when the server starts
//! (so that a changed trust policy re-evaluates `trusted`) and on demand.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use provgraph_model::Principal;
use provgraph_model::proofs::{ProofOrigin, SignatureFacts, SourceClaims};
use provgraph_signatures::{
    Evidence, SignatureMethod, TrustPolicy, VerificationResult, parse_evidence, verify_evidence,
};
use provgraph_store::{SignatureRecord, Store, StoreError};
use serde::{Deserialize, Serialize};

/// Largest evidence body accepted, in bytes.
pub const MAX_EVIDENCE_BYTES: usize = 16 * 1024 * 1024;

/// Annotation names in a verified signature's signed payload that name the
/// build that produced the artifact.
const BUILD_ANNOTATIONS: [&str; 2] = ["cicd.pipeline.run.id", "build.id"];

/// Annotation names that carry the trace id of the build that produced the
/// artifact ("sign the trace id with the image"): a 32-hex trace id, or a
/// W3C `traceparent`.
const TRACE_ANNOTATIONS: [&str; 3] = ["trace.id", "trace_id", "traceparent"];

/// The trace id a verified signature's annotations name, if any.
fn annotated_trace(result: &VerificationResult) -> Option<String> {
    let raw = TRACE_ANNOTATIONS
        .iter()
        .find_map(|name| annotation(result, name))?;
    let trace = match raw.split('-').collect::<Vec<_>>().as_slice() {
        [_, trace, _, _] => trace.to_string(),
        _ => raw,
    }
    .to_ascii_lowercase();
    (trace.len() == 32
        && trace.bytes().all(|b| b.is_ascii_hexdigit())
        && trace.bytes().any(|b| b != b'0'))
    .then_some(trace)
}

/// Why evidence was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The body is not evidence provgraph can read: 400, nothing stored.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One result, as `POST /v1/evidence` answers it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    pub subject: String,
    pub verified: bool,
    pub trusted: bool,
    pub signer: Option<String>,
    pub issuer: Option<String>,
    pub reason: String,
    pub evidence_id: String,
    pub method: String,
    pub log_index: Option<i64>,
    pub integrated_time: Option<i64>,
}

fn method_name(method: SignatureMethod) -> &'static str {
    match method {
        SignatureMethod::KeylessCertificate => "KEYLESS_CERTIFICATE",
        SignatureMethod::PublicKey => "PUBLIC_KEY",
        SignatureMethod::PublicKeyNoLog => "PUBLIC_KEY_NO_LOG",
    }
}

fn format_name(evidence: &Evidence) -> &'static str {
    match evidence.format {
        provgraph_signatures::EvidenceFormat::SigstoreBundle => "SIGSTORE_BUNDLE",
        provgraph_signatures::EvidenceFormat::CosignSignatureLayer => "COSIGN_SIGNATURE_LAYER",
        provgraph_signatures::EvidenceFormat::CosignAttestationLayer => "COSIGN_ATTESTATION_LAYER",
    }
}

/// The IDENTITY key of a signer: `ISSUER|SUBJECT` when keyless, `key:NAME`
/// for a policy key.
fn identity_key(result: &VerificationResult) -> Option<String> {
    let signer = result.signer.as_deref()?;
    Some(match result.method {
        SignatureMethod::KeylessCertificate => {
            format!("{}|{signer}", result.issuer.as_deref().unwrap_or(""))
        }
        SignatureMethod::PublicKey | SignatureMethod::PublicKeyNoLog => format!("key:{signer}"),
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

/// What the graph keeps of one verification result.
fn record(evidence: &Evidence, result: &VerificationResult, body: &str) -> SignatureRecord {
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
    if let Some(build) = BUILD_ANNOTATIONS
        .iter()
        .find_map(|name| annotation(result, name))
    {
        claims.push((
            ProofOrigin::Annotation,
            SourceClaims {
                run: Some(build),
                ..SourceClaims::default()
            },
        ));
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
        body: body.to_string(),
    }
}

/// Parses, verifies and stores one piece of evidence.
pub async fn import(
    store: &Store,
    policy: Arc<TrustPolicy>,
    body: Bytes,
    digest: Option<String>,
) -> Result<Vec<ImportResult>, ImportError> {
    import_as(store, policy, body, digest, None).await
}

/// [`import`] on behalf of an authenticated sender: an SBOM's claims are
/// recorded under the sender's name (`NAME/sbom:sha256:...`), and the
/// sender of signatures is logged with their verification.
pub async fn import_as(
    store: &Store,
    policy: Arc<TrustPolicy>,
    body: Bytes,
    digest: Option<String>,
    principal: Option<&Principal>,
) -> Result<Vec<ImportResult>, ImportError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ImportError::Invalid("evidence must be UTF-8 JSON".into()))?
        .to_string();
    if let Ok(document) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(sbom) = provgraph_model::sbom::sbom_packages(&document)
    {
        return import_sbom(store, &text, sbom, digest, principal).await;
    }
    // Verification is CPU work (signatures, certificate chains): off the
    // async workers.
    let verified = tokio::task::spawn_blocking(move || {
        let evidence = parse_evidence(text.as_bytes(), digest.as_deref())
            .map_err(|err| ImportError::Invalid(err.to_string()))?;
        let mut out = Vec::new();
        for item in &evidence {
            for result in verify_evidence(item, &policy) {
                out.push((record(item, &result, &text), result));
            }
        }
        Ok::<_, ImportError>(out)
    })
    .await
    .map_err(|err| ImportError::Invalid(format!("verification failed unexpectedly: {err}")))??;
    let mut records: Vec<SignatureRecord> =
        verified.iter().map(|(record, _)| record.clone()).collect();
    // A signed trace id names the build of that trace: the run id the trace
    // carries when provgraph has seen it, else the trace id itself (the
    // build key of a trace without a run id).
    for (record, (_, result)) in records.iter_mut().zip(&verified) {
        if !result.verified {
            continue;
        }
        if let Some(trace) = annotated_trace(result) {
            let build = store.trace_build(&trace).await?.unwrap_or(trace);
            record.facts.claims.push((
                ProofOrigin::Annotation,
                SourceClaims {
                    run: Some(build),
                    ..SourceClaims::default()
                },
            ));
        }
    }
    store.write_signatures(&records).await?;
    if let Some(principal) = principal {
        for (_, result) in &verified {
            tracing::info!(
                principal = principal.name(),
                subject = %result.subject,
                verified = result.verified,
                trusted = result.trusted,
                "evidence stored"
            );
        }
    }
    Ok(verified
        .into_iter()
        .map(|(_, result)| ImportResult {
            subject: result.subject,
            verified: result.verified,
            trusted: result.trusted,
            signer: result.signer,
            issuer: result.issuer,
            reason: result.reason,
            evidence_id: result.evidence_id,
            method: method_name(result.method).to_string(),
            log_index: result.log_index,
            integrated_time: result.integrated_time,
        })
        .collect())
}

/// Stores a bare SBOM: an unsigned claim that the artifact contains its
/// packages (an SBOM inside a verified attestation is a proof instead).
async fn import_sbom(
    store: &Store,
    text: &str,
    sbom: provgraph_model::sbom::SbomPackages,
    digest: Option<String>,
    principal: Option<&Principal>,
) -> Result<Vec<ImportResult>, ImportError> {
    use sha2::Digest;
    let digest = digest.ok_or_else(|| {
        ImportError::Invalid(
            "an SBOM needs ?digest=sha256:<hex> naming the artifact it describes".into(),
        )
    })?;
    let subject = provgraph_model::keys::normalize_digest(&digest)
        .map_err(|err| ImportError::Invalid(err.to_string()))?;
    let source = format!(
        "sbom:sha256:{}",
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    );
    let sender = sbom.tool.clone().unwrap_or_else(|| "sbom".to_string());
    let scoped = match principal {
        Some(principal) => principal.scope(&source),
        None => source.clone(),
    };
    store
        .write_sbom(&subject, &sbom.packages, &scoped, &sender)
        .await?;
    let modules = sbom
        .packages
        .iter()
        .filter(|(k, _)| *k == provgraph_model::NodeKind::Module)
        .count();
    Ok(vec![ImportResult {
        subject,
        verified: false,
        trusted: false,
        signer: None,
        issuer: None,
        reason: format!(
            "unsigned {:?} SBOM by {sender}: {modules} Go module(s), {} other package(s){} recorded as claims",
            sbom.format,
            sbom.packages.len() - modules,
            if sbom.skipped > 0 {
                format!(", {} unparseable purl(s) skipped,", sbom.skipped)
            } else {
                String::new()
            }
        ),
        evidence_id: source.trim_start_matches("sbom:sha256:").to_string(),
        method: "SBOM".to_string(),
        log_index: None,
        integrated_time: None,
    }])
}

/// Verifies every stored piece of evidence again under `policy` and stores
/// the outcome; returns how many results changed their verified or trusted
/// flag, and how many were checked.
pub async fn reverify_stored(
    store: &Store,
    policy: Arc<TrustPolicy>,
) -> Result<(usize, usize), ImportError> {
    let bodies = store.evidence_bodies().await?;
    let mut changed = 0;
    let mut checked = 0;
    for provgraph_store::EvidenceBody { subject, body, .. } in bodies {
        let before: Vec<(String, bool, bool)> = store
            .signatures(&subject)
            .await?
            .into_iter()
            .map(|s| (s.evidence_id, s.verified, s.trusted))
            .collect();
        let results = import(
            store,
            policy.clone(),
            Bytes::from(body),
            Some(subject.clone()),
        )
        .await?;
        for result in &results {
            checked += 1;
            let same = before.iter().any(|(id, v, t)| {
                *id == result.evidence_id && *v == result.verified && *t == result.trusted
            });
            if !same && result.subject == subject {
                changed += 1;
            }
        }
    }
    Ok((changed, checked))
}

#[derive(Debug, Deserialize)]
pub(crate) struct EvidenceQuery {
    digest: Option<String>,
}

#[derive(Clone)]
pub(crate) struct EvidenceState {
    pub store: Store,
    pub policy: Arc<TrustPolicy>,
}

pub(crate) async fn post_evidence(
    State(state): State<EvidenceState>,
    principal: Option<Extension<Principal>>,
    Query(query): Query<EvidenceQuery>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_EVIDENCE_BYTES {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(serde_json::json!({"error": format!("evidence larger than {MAX_EVIDENCE_BYTES} bytes")})),
        )
            .into_response();
    }
    let principal = principal.map(|Extension(p)| p);
    match import_as(
        &state.store,
        state.policy.clone(),
        body,
        query.digest,
        principal.as_ref(),
    )
    .await
    {
        Ok(results) => Json(serde_json::json!({ "results": results })).into_response(),
        Err(ImportError::Invalid(message)) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": message })),
        )
            .into_response(),
        Err(ImportError::Store(err)) => {
            let status = if err.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (
                status,
                Json(serde_json::json!({ "error": err.to_string() })),
            )
                .into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct IndexQuery {
    digest: Option<String>,
    source: Option<String>,
}

/// Reads an image index (OCI index or Docker manifest list) whose bytes hash
/// to `digest`: the digest binds the list, so the membership is proven by
/// content addressing, whoever posts it.
pub fn parse_index(body: &[u8], digest: &str) -> Result<Vec<(String, Option<String>)>, String> {
    use sha2::Digest;
    let digest = provgraph_model::keys::normalize_digest(digest).map_err(|err| err.to_string())?;
    let actual = format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)));
    if actual != digest {
        return Err(format!(
            "the body hashes to {actual}, not {digest}: post the index manifest's exact bytes"
        ));
    }
    let index: serde_json::Value =
        serde_json::from_slice(body).map_err(|err| format!("the index is not JSON: {err}"))?;
    let manifests = index
        .get("manifests")
        .and_then(|m| m.as_array())
        .ok_or("not an image index: no \"manifests\" list")?;
    let mut members = Vec::with_capacity(manifests.len());
    for (at, manifest) in manifests.iter().enumerate() {
        let member = manifest
            .get("digest")
            .and_then(|d| d.as_str())
            .ok_or(format!("manifests[{at}] has no digest"))?;
        let member = provgraph_model::keys::normalize_digest(member)
            .map_err(|err| format!("manifests[{at}]: {err}"))?;
        let platform = manifest.get("platform").and_then(|p| {
            let os = p.get("os")?.as_str()?;
            let arch = p.get("architecture")?.as_str()?;
            Some(match p.get("variant").and_then(|v| v.as_str()) {
                Some(variant) => format!("{os}/{arch}/{variant}"),
                None => format!("{os}/{arch}"),
            })
        });
        members.push((member, platform));
    }
    Ok(members)
}

pub(crate) async fn post_index(
    State(state): State<EvidenceState>,
    principal: Option<Extension<Principal>>,
    Query(query): Query<IndexQuery>,
    body: Bytes,
) -> Response {
    let Some(digest) = query.digest else {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "?digest=sha256:<hex> names the index"})),
        )
            .into_response();
    };
    let members = match parse_index(&body, &digest) {
        Ok(members) => members,
        Err(message) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": message })),
            )
                .into_response();
        }
    };
    let digest = digest.to_ascii_lowercase();
    let mut source = query.source.unwrap_or_else(|| "posted".to_string());
    if let Some(Extension(principal)) = principal {
        source = principal.scope(&source);
    }
    let listed: Vec<provgraph_store::IndexMember> = members
        .iter()
        .map(|(digest, platform)| provgraph_store::IndexMember {
            digest: digest.clone(),
            platform: platform.clone(),
        })
        .collect();
    match state.store.write_index(&digest, &listed, &source).await {
        Ok(()) => Json(serde_json::json!({
            "index": digest,
            "manifests": members.iter().map(|(d, p)| serde_json::json!({"digest": d, "platform": p})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(err) => {
            let status = if err.is_retryable() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::INTERNAL_SERVER_ERROR };
            (status, Json(serde_json::json!({ "error": err.to_string() }))).into_response()
        }
    }
}
