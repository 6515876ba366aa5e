//! Evidence recording and re-verification, for the API (`POST /v1/evidence`,
//! `POST /v1/index`) and the command line (`provgraph reverify`) alike.
//!
//! A body is a bare SBOM (recorded as the sender's claims) or evidence (a
//! Sigstore bundle or a cosign layer): parsed and verified offline against
//! the trust policy, each per-subject result translated into a
//! [`SignatureRecord`](provgraph_store::SignatureRecord) with the lineage it
//! proves ([`record`]), and stored, verified or not. [`reverify_stored`]
//! verifies everything stored again (a changed policy re-evaluates
//! `trusted`). Notary Project envelopes are verified under notation's trust
//! policy ([`import_notary`]). No HTTP here: errors say whether the body was at fault
//! ([`ImportError::Invalid`]) or the store.

mod index;
#[cfg(test)]
mod limits_tests;
mod notary;
mod record;
mod sbom;
mod vulns;

use std::sync::Arc;

use provgraph_model::Principal;
use provgraph_signatures::{TrustPolicy, VerificationResult, parse_evidence, verify_evidence};
use provgraph_store::{EvidenceQuota, NewEvidenceBody, SignatureRecord, Store, StoreError};
use serde::Serialize;

pub use index::{IndexPostError, parse_index};
pub use notary::{NOTARY_WRAPPER_KEY, NotaryImport, import_notary};
pub use vulns::{COSIGN_VULN_PREDICATE, OPENVEX_PREDICATE, VulnSummary};

/// Largest evidence body accepted, in bytes.
pub const MAX_EVIDENCE_BYTES: usize = 16 * 1024 * 1024;

/// Most bytes one piece of evidence may store, its body (once) and its rows
/// per subject counted together (details, reason, signer, and each package
/// an attested SBOM says every subject contains): past it the evidence is
/// refused whole, nothing stored. With at most
/// [`provgraph_signatures::MAX_SUBJECTS`] subjects a body of the largest
/// size still fits; what does not is a predicate repeated per subject.
pub const MAX_STORED_EVIDENCE_BYTES: usize = 32 * 1024 * 1024;

/// Bytes counted per stored row beyond its text (keys, ids, times, index).
const ROW_BYTES: usize = 128;

/// Why evidence was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The body is not evidence provgraph can read: nothing stored.
    #[error("{0}")]
    Invalid(String),
    /// The evidence is past a limit (subjects per envelope, stored bytes per
    /// request, the quota of unverified evidence): nothing stored.
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ImportError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Quota(message) => ImportError::TooLarge(message),
            err => ImportError::Store(err),
        }
    }
}

/// What `records` would store besides the body, in bytes (see
/// [`MAX_STORED_EVIDENCE_BYTES`]).
fn stored_bytes(records: &[SignatureRecord]) -> usize {
    records
        .iter()
        .map(|r| {
            ROW_BYTES
                + r.details.len()
                + r.reason.len()
                + r.signer.as_ref().map_or(0, String::len)
                + r.issuer.as_ref().map_or(0, String::len)
                + r.facts.contains.len() * ROW_BYTES
                + r.facts
                    .contains
                    .iter()
                    .map(|(_, key)| key.len())
                    .sum::<usize>()
        })
        .sum()
}

/// One result of an import: a signature's verification (verified or not)
/// for one subject, or an SBOM recorded as claims.
#[derive(Clone, Debug, PartialEq)]
pub enum ImportResult {
    Signature(Box<VerificationResult>),
    Sbom {
        subject: String,
        /// What was recorded.
        reason: String,
        /// Hex SHA-256 of the SBOM as received.
        evidence_id: String,
    },
}

impl ImportResult {
    pub fn subject(&self) -> &str {
        match self {
            ImportResult::Signature(result) => &result.subject,
            ImportResult::Sbom { subject, .. } => subject,
        }
    }

    pub fn evidence_id(&self) -> &str {
        match self {
            ImportResult::Signature(result) => &result.evidence_id,
            ImportResult::Sbom { evidence_id, .. } => evidence_id,
        }
    }

    /// The signature is cryptographically valid for the subject.
    pub fn verified(&self) -> bool {
        matches!(self, ImportResult::Signature(result) if result.verified)
    }

    /// Verified, and the signer is allowed by the trust policy.
    pub fn trusted(&self) -> bool {
        matches!(self, ImportResult::Signature(result) if result.trusted)
    }
}

/// The result as `POST /v1/evidence` answers it, in this order: `subject`,
/// `verified`, `trusted`, `signer`, `issuer`, `reason`, `evidenceId`,
/// `method`, `logIndex`, `integratedTime`.
impl Serialize for ImportResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let none: Option<&str> = None;
        let (signer, issuer, reason, method, log_index, integrated_time) = match self {
            ImportResult::Signature(r) => (
                r.signer.as_deref(),
                r.issuer.as_deref(),
                r.reason.as_str(),
                record::method_name(r.method),
                r.log_index,
                r.integrated_time,
            ),
            ImportResult::Sbom { reason, .. } => (none, none, reason.as_str(), "SBOM", None, None),
        };
        let mut out = serializer.serialize_struct("ImportResult", 10)?;
        out.serialize_field("subject", self.subject())?;
        out.serialize_field("verified", &self.verified())?;
        out.serialize_field("trusted", &self.trusted())?;
        out.serialize_field("signer", &signer)?;
        out.serialize_field("issuer", &issuer)?;
        out.serialize_field("reason", reason)?;
        out.serialize_field("evidenceId", self.evidence_id())?;
        out.serialize_field("method", method)?;
        out.serialize_field("logIndex", &log_index)?;
        out.serialize_field("integratedTime", &integrated_time)?;
        out.end()
    }
}

/// What a body stored: signatures and SBOM claims (one result per
/// subject), or a vulnerability document (OSV records, a scanner report, an
/// OpenVEX document).
#[derive(Clone, Debug, PartialEq)]
pub enum Imported {
    Results(Vec<ImportResult>),
    Vulnerabilities(Box<VulnSummary>),
}

/// [`import_as`], and vulnerability documents too: a body that is an OSV
/// record (or an array of them), a Trivy, Grype or govulncheck report, or
/// an OpenVEX document, recognised by shape, is stored as the sender's
/// claims; one that is malformed is refused whole, nothing stored.
pub async fn import_document(
    store: &Store,
    policy: Arc<TrustPolicy>,
    body: &[u8],
    digest: Option<String>,
    principal: Option<&Principal>,
) -> Result<Imported, ImportError> {
    match provgraph_vuln::parse_document(body) {
        Err(err) => Err(ImportError::Invalid(format!(
            "refused, nothing stored: {err}"
        ))),
        Ok(Some((format, document))) => {
            vulns::store_document(store, format, document, body, digest, false, principal)
                .await
                .map(|summary| Imported::Vulnerabilities(Box::new(summary)))
        }
        Ok(None) => import_as(store, policy, body, digest, principal)
            .await
            .map(Imported::Results),
    }
}

/// Parses, verifies and stores one piece of evidence (or a bare SBOM).
pub async fn import(
    store: &Store,
    policy: Arc<TrustPolicy>,
    body: &[u8],
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
    body: &[u8],
    digest: Option<String>,
    principal: Option<&Principal>,
) -> Result<Vec<ImportResult>, ImportError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ImportError::Invalid("evidence must be UTF-8 JSON".into()))?
        .to_string();
    if let Ok(document) = serde_json::from_str::<serde_json::Value>(&text) {
        // A Notary Project envelope in its JSON wrapper.
        if let Some(wrapped) = notary::NotaryImport::from_wrapper(&document) {
            return notary::import_notary(store, policy, wrapped?, digest, principal).await;
        }
        if let Some(sbom) = provgraph_model::sbom::sbom_packages(&document) {
            return sbom::import_sbom(store, &text, sbom, digest, principal).await;
        }
    }
    // Verification is CPU work (signatures, certificate chains): off the
    // async workers.
    let verified = tokio::task::spawn_blocking(move || {
        let evidence = parse_evidence(text.as_bytes(), digest.as_deref()).map_err(|err| {
            if err.is_too_large() {
                ImportError::TooLarge(err.to_string())
            } else {
                ImportError::Invalid(err.to_string())
            }
        })?;
        let mut out = Vec::new();
        let mut predicates = Vec::new();
        for item in &evidence {
            for result in verify_evidence(item, &policy) {
                // As the contract says: inside a verified attestation (the
                // signer's trust is the signature's own flag, shown with it).
                if result.verified
                    && let (Some(kind), Some(predicate)) =
                        (result.predicate_type.as_deref(), item.predicate())
                {
                    predicates.push((result.subject.clone(), kind.to_string(), predicate.clone()));
                }
                out.push((record::record(item, &result), result));
            }
        }
        Ok::<_, ImportError>((out, predicates, text))
    })
    .await
    .map_err(|err| ImportError::Invalid(format!("verification failed unexpectedly: {err}")))??;
    let (verified, predicates, text) = verified;
    let mut records: Vec<SignatureRecord> =
        verified.iter().map(|(record, _)| record.clone()).collect();
    // A signed trace id names the build of that trace: the run id the trace
    // carries when provgraph has seen it, else the trace id itself (the
    // build key of a trace without a run id).
    for (record, (_, result)) in records.iter_mut().zip(&verified) {
        if !result.verified {
            continue;
        }
        if let Some(trace) = record::annotated_trace(result) {
            let build = store.trace_build(&trace).await?.unwrap_or(trace);
            record.facts.claims.push(record::run_claim(build));
        }
    }
    let stored = text.len() + stored_bytes(&records);
    if stored > MAX_STORED_EVIDENCE_BYTES {
        return Err(ImportError::TooLarge(format!(
            "this evidence would store {stored} bytes (its body once and a row per subject); \
             at most {MAX_STORED_EVIDENCE_BYTES} are stored per request, nothing stored"
        )));
    }
    // The body once, for all its subjects (evidence always names one).
    if let Some((_, first)) = verified.first() {
        let body = NewEvidenceBody {
            evidence_id: first.evidence_id.clone(),
            subject: first.subject.clone(),
            body: text,
            verified: verified.iter().any(|(_, result)| result.verified),
            principal: principal.map(|p| p.name().to_string()),
        };
        if let Err(err) = store
            .write_signatures(&body, &EvidenceQuota::default(), &records)
            .await
        {
            if matches!(err, StoreError::Quota(_)) {
                tracing::warn!(principal = ?body.principal, evidence_id = %body.evidence_id, error = %err, "unverified evidence refused");
            }
            return Err(err.into());
        }
    }
    // A verified attestation of vulnerabilities or VEX: proofs about its
    // subject.
    for (subject, kind, predicate) in &predicates {
        match vulns::predicate_document(kind, predicate) {
            None => {}
            Some(Ok((format, document, bytes))) => {
                vulns::store_document(
                    store,
                    format,
                    document,
                    &bytes,
                    Some(subject.clone()),
                    true,
                    principal,
                )
                .await?;
            }
            Some(Err(problem)) => {
                tracing::warn!(subject = %subject, predicate_type = %kind, %problem, "attested vulnerability document not stored");
            }
        }
    }
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
        .map(|(_, result)| ImportResult::Signature(Box::new(result)))
        .collect())
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
            body.as_bytes(),
            Some(subject.clone()),
        )
        .await?;
        for result in &results {
            checked += 1;
            let same = before.iter().any(|(id, v, t)| {
                id == result.evidence_id() && *v == result.verified() && *t == result.trusted()
            });
            if !same && result.subject() == subject {
                changed += 1;
            }
        }
    }
    Ok((changed, checked))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use provgraph_model::NodeKind;
    use provgraph_store::both_databases;
    use provgraph_store::testing::{Flavor, TestDb};

    use super::*;

    const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn forged_layer() -> Vec<u8> {
        let payload = serde_json::json!({
            "critical": {
                "identity": {"docker-reference": "ghcr.io/acme/calc"},
                "image": {"docker-manifest-digest": DIGEST},
                "type": "cosign container image signature"
            },
            "optional": {"cicd.pipeline.run.id": "run-9"}
        });
        let b64 = base64::engine::general_purpose::STANDARD;
        serde_json::to_vec(&serde_json::json!({
            "payload": b64.encode(payload.to_string()),
            "signature": b64.encode(b"forged"),
        }))
        .unwrap()
    }

    fn spdx() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "spdxVersion": "SPDX-2.3",
            "creationInfo": {"creators": ["Tool: syft-1.0"]},
            "packages": [{
                "name": "golang.org/x/text",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:golang/golang.org/x/text@v0.14.0"
                }]
            }]
        }))
        .unwrap()
    }

    async fn records_and_reverifies(flavor: Flavor) {
        let db = TestDb::new(flavor).await;
        let store = db.store().await.unwrap();
        let policy = Arc::new(TrustPolicy::default());

        // A forgery is kept, unverified, and proves nothing.
        let results = import(&store, policy.clone(), &forged_layer(), None)
            .await
            .unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].subject(), DIGEST);
        assert!(!results[0].verified() && !results[0].trusted());
        let stored = store.signatures(DIGEST).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].evidence_id, results[0].evidence_id());
        assert!(!stored[0].verified);
        assert_eq!(store.node(NodeKind::Build, "run-9").await.unwrap(), None);
        let answer = serde_json::to_string(&results[0]).unwrap();
        assert!(
            answer.starts_with(&format!(
                "{{\"subject\":\"{DIGEST}\",\"verified\":false,\"trusted\":false,"
            )),
            "{answer}"
        );

        // Verified again under the same policy: nothing changes.
        assert_eq!(
            reverify_stored(&store, policy.clone()).await.unwrap(),
            (0, 1)
        );

        // A bare SBOM: the sender's claims.
        let results = import(&store, policy.clone(), &spdx(), Some(DIGEST.to_string()))
            .await
            .unwrap();
        assert!(
            matches!(&results[0], ImportResult::Sbom { reason, .. } if reason.contains("by syft-1.0: 1 Go module(s)")),
            "{results:?}"
        );
        assert!(
            store
                .node(NodeKind::Module, "golang.org/x/text@v0.14.0")
                .await
                .unwrap()
                .is_some()
        );
        let answer = serde_json::to_value(&results[0]).unwrap();
        assert_eq!(answer["method"], "SBOM");
        assert_eq!(answer["signer"], serde_json::Value::Null);

        // What is not evidence is refused, and nothing is stored.
        for (body, digest) in [
            (&b"\xff"[..], None),
            (&b"{}"[..], None),
            (&spdx()[..], None),
            (&spdx()[..], Some("sha256:12".to_string())),
        ] {
            let err = import(&store, policy.clone(), body, digest)
                .await
                .unwrap_err();
            assert!(matches!(err, ImportError::Invalid(_)), "{err}");
        }
        assert_eq!(store.signatures(DIGEST).await.unwrap().len(), 1);
        db.cleanup().await;
    }

    both_databases!(records_and_reverifies);
}
