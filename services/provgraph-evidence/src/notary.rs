//! Notary Project envelopes as evidence: verified under notation's trust
//! policy (`provgraph_signatures::notary`), recorded as a SIGNATURE like any
//! other (format `NOTARY_JWS` or `NOTARY_COSE`). The envelope is binary for
//! COSE, so what is stored is a JSON wrapper carrying the envelope's bytes
//! with what selects its policy: `{"notaryEnvelope": base64, "mediaType",
//! "reference", "size"}`; the same wrapper may be posted as JSON (what
//! `provgraph discover` sends), and [`crate::reverify_stored`] reads it back.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use provgraph_model::proofs::{ProofOrigin, SignatureFacts, SourceClaims};
use provgraph_model::{Digest, Principal};
use provgraph_signatures::notary::{
    EnvelopeFormat, MAX_ENVELOPE_BYTES, NotaryOutcome, SigningScheme, parse_envelope,
    verify_envelope,
};
use provgraph_signatures::{SignatureMethod, TrustPolicy, VerificationResult};
use provgraph_store::{EvidenceQuota, NewEvidenceBody, SignatureRecord, Store, StoreError};
use serde_json::Value;

use crate::record;
use crate::{ImportError, ImportResult};

/// The wrapper's key naming the envelope.
pub const NOTARY_WRAPPER_KEY: &str = "notaryEnvelope";

/// A Notary Project envelope to import, with what the caller knows of the
/// artifact.
#[derive(Debug, Clone)]
pub struct NotaryImport {
    /// The envelope's bytes, as stored in the signature layer.
    pub envelope: Vec<u8>,
    /// From the layer's (or request's) media type; `None`: recognised from
    /// the bytes.
    pub format: Option<EnvelopeFormat>,
    /// `REGISTRY/REPOSITORY`: selects the trust policy statement.
    pub reference: Option<String>,
    /// The artifact manifest's size in bytes, when known.
    pub size: Option<u64>,
}

impl NotaryImport {
    /// The JSON wrapper that carries it (stored, and accepted as a body).
    pub fn wrapper(&self) -> Value {
        let mut wrapper = serde_json::json!({
            NOTARY_WRAPPER_KEY: STANDARD.encode(&self.envelope),
        });
        if let Some(format) = self.format {
            wrapper["mediaType"] = Value::String(format.media_type().into());
        }
        if let Some(reference) = &self.reference {
            wrapper["reference"] = Value::String(reference.clone());
        }
        if let Some(size) = self.size {
            wrapper["size"] = Value::from(size);
        }
        wrapper
    }

    /// Reads a wrapper; `None` when `value` is not one.
    pub(crate) fn from_wrapper(value: &Value) -> Option<Result<Self, ImportError>> {
        let object = value.as_object()?;
        let encoded = object.get(NOTARY_WRAPPER_KEY)?;
        let invalid = |why: &str| {
            Some(Err(ImportError::Invalid(format!(
                "refused, nothing stored: {why}"
            ))))
        };
        let Some(envelope) = encoded.as_str().and_then(|text| STANDARD.decode(text).ok()) else {
            return invalid("notaryEnvelope is not base64");
        };
        let format = match object.get("mediaType") {
            None => None,
            Some(media_type) => match media_type
                .as_str()
                .and_then(EnvelopeFormat::from_media_type)
            {
                Some(format) => Some(format),
                None => {
                    return invalid(
                        "mediaType is neither application/jose+json nor application/cose",
                    );
                }
            },
        };
        let reference = match object.get("reference") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => return invalid("reference is not a string"),
        };
        let size = match object.get("size") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_u64() {
                Some(size) => Some(size),
                None => return invalid("size is not a whole number"),
            },
        };
        Some(Ok(Self {
            envelope,
            format,
            reference,
            size,
        }))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What the envelope's outcome is as a verification result.
fn result(
    outcome: &NotaryOutcome,
    evidence_id: &str,
    annotations: Option<Value>,
) -> VerificationResult {
    VerificationResult {
        evidence_id: evidence_id.to_string(),
        subject: outcome.subject.clone(),
        verified: outcome.verified,
        trusted: outcome.trusted,
        signer: outcome.signer.clone(),
        issuer: outcome.issuer.clone(),
        reason: provgraph_model::one_line(&outcome.reason),
        method: match outcome.signing_scheme {
            SigningScheme::X509 => SignatureMethod::NotaryX509,
            SigningScheme::SigningAuthority => SignatureMethod::NotarySigningAuthority,
        },
        log_index: None,
        integrated_time: None,
        signed_at: outcome.signed_at,
        certificate: None,
        predicate_type: None,
        slsa: None,
        annotations: if outcome.verified { annotations } else { None },
    }
}

/// Parses and verifies a Notary Project envelope and stores the outcome
/// for its artifact (`digest` when given, else the one it signs).
pub async fn import_notary(
    store: &Store,
    policy: Arc<TrustPolicy>,
    import: NotaryImport,
    digest: Option<String>,
    principal: Option<&Principal>,
) -> Result<Vec<ImportResult>, ImportError> {
    let refuse = |why: String| ImportError::Invalid(format!("refused, nothing stored: {why}"));
    if import.envelope.len() > MAX_ENVELOPE_BYTES {
        return Err(refuse(format!(
            "the envelope is larger than {MAX_ENVELOPE_BYTES} bytes"
        )));
    }
    let digest = match digest {
        None => None,
        Some(text) => {
            Some(String::from(Digest::parse(&text).map_err(|_| {
                refuse(format!("digest {text:?} is not sha256:<64 hex>"))
            })?))
        }
    };
    if let Some(reference) = &import.reference {
        provgraph_signatures::notary::check_reference(reference).map_err(refuse)?;
    }
    let body = import.wrapper().to_string();
    let verified = tokio::task::spawn_blocking(move || {
        let envelope = parse_envelope(&import.envelope, import.format)
            .map_err(|e| refuse(format!("not a Notary Project envelope: {e}")))?;
        if digest.is_none() && Digest::parse(&envelope.target.digest).is_err() {
            return Err(refuse(format!(
                "the envelope signs {}; provgraph keys artifacts by sha256 (give ?digest=)",
                envelope.target.digest
            )));
        }
        let outcome = verify_envelope(
            &envelope,
            digest.as_deref(),
            import.size,
            import.reference.as_deref(),
            policy.notary(),
            now(),
        );
        let annotations = serde_json::to_value(&envelope.target.annotations).ok();
        let result = result(&outcome, &envelope.evidence_id, annotations);
        let record = notary_record(
            &envelope.format,
            &envelope.target,
            &outcome,
            &result,
            &import.reference,
        );
        Ok::<_, ImportError>((record, result))
    })
    .await
    .map_err(|err| ImportError::Invalid(format!("verification failed unexpectedly: {err}")))??;
    let (mut record, result) = verified;
    if result.verified
        && let Some(trace) = record::annotated_trace(&result)
    {
        let build = store.trace_build(&trace).await?.unwrap_or(trace);
        record.facts.claims.push(record::run_claim(build));
    }
    let stored = NewEvidenceBody {
        evidence_id: record.facts.evidence_id.clone(),
        subject: record.facts.subject.clone(),
        body,
        verified: result.verified,
        principal: principal.map(|p| p.name().to_string()),
    };
    if let Err(err) = store
        .write_signatures(
            &stored,
            &EvidenceQuota::default(),
            std::slice::from_ref(&record),
        )
        .await
    {
        if matches!(err, StoreError::Quota(_)) {
            tracing::warn!(principal = ?stored.principal, evidence_id = %stored.evidence_id, error = %err, "unverified evidence refused");
        }
        return Err(err.into());
    }
    if let Some(principal) = principal {
        tracing::info!(
            principal = principal.name(),
            subject = %result.subject,
            verified = result.verified,
            trusted = result.trusted,
            "Notary Project signature stored"
        );
    }
    Ok(vec![ImportResult::Signature(Box::new(result))])
}

/// What the graph keeps of a Notary Project verification.
fn notary_record(
    format: &EnvelopeFormat,
    target: &provgraph_signatures::notary::TargetArtifact,
    outcome: &NotaryOutcome,
    result: &VerificationResult,
    reference: &Option<String>,
) -> SignatureRecord {
    let mut claims: Vec<(ProofOrigin, SourceClaims)> = Vec::new();
    if let Some(build) = record::build_annotation(result) {
        claims.push(record::run_claim(build));
    }
    let details = serde_json::json!({
        "notary": outcome,
        "targetArtifact": target,
        "reference": reference,
        "annotations": result.annotations,
        "signedAt": result.signed_at,
        "mediaType": format.media_type(),
    });
    SignatureRecord {
        facts: SignatureFacts {
            evidence_id: result.evidence_id.clone(),
            subject: result.subject.clone(),
            attestation: false,
            identity: record::identity_key(result),
            verified: result.verified,
            claims,
            contains: Vec::new(),
        },
        format: format.graph_name().to_string(),
        method: record::method_name(result.method).to_string(),
        trusted: result.trusted,
        signer: result.signer.clone(),
        issuer: result.issuer.clone(),
        reason: result.reason.clone(),
        log_index: None,
        integrated_time: None,
        predicate_type: None,
        details: details.to_string(),
    }
}
