//! Signatures and attestations as GraphQL objects, and the proofs they give
//! an edge.

use std::collections::HashMap;

use async_graphql::{Object, Result, SimpleObject};
use provgraph_store::{EdgeRow, SignatureRow};

use super::enums::{ProofOrigin, proof_origin};
use super::{Api, store_error};
use crate::time::rfc3339;

/// A signature or attestation, as verified when it was imported (and again
/// when the server starts, against the current trust policy).
#[derive(Clone, Debug)]
pub struct Signature {
    pub(super) row: SignatureRow,
    details: serde_json::Value,
}

impl Signature {
    pub(super) fn new(row: SignatureRow) -> Signature {
        let details = serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null);
        Signature { row, details }
    }

    fn detail(&self, pointer: &str) -> Option<String> {
        self.details
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }
}

#[Object]
impl Signature {
    /// Cryptographically valid for this artifact (with its log entry or
    /// timestamp where present; a certificate checked at signing time).
    async fn verified(&self) -> bool {
        self.row.verified
    }

    /// Verified, and the signer is allowed by the trust policy.
    async fn trusted(&self) -> bool {
        self.row.trusted
    }

    /// The certificate's identity (SAN), or the trust-policy name of the key.
    async fn signer(&self) -> Option<&str> {
        self.row.signer.as_deref()
    }

    /// The certificate's OIDC issuer.
    async fn issuer(&self) -> Option<&str> {
        self.row.issuer.as_deref()
    }

    /// Why it is not verified or not trusted, or what verified it.
    async fn reason(&self) -> Option<&str> {
        Some(self.row.reason.as_str())
    }

    /// The artifact it is for.
    async fn subject(&self) -> &str {
        &self.row.subject
    }

    /// The evidence's id: hex SHA-256 of its canonical JSON.
    async fn evidence_id(&self) -> &str {
        &self.row.evidence_id
    }

    /// SIGSTORE_BUNDLE, COSIGN_SIGNATURE_LAYER, COSIGN_ATTESTATION_LAYER,
    /// or NOTARY_JWS / NOTARY_COSE (a Notary Project envelope).
    async fn format(&self) -> &str {
        &self.row.format
    }

    /// KEYLESS_CERTIFICATE, PUBLIC_KEY or PUBLIC_KEY_NO_LOG (a key-only
    /// signature with no transparency-log entry); NOTARY_X509 or
    /// NOTARY_X509_SIGNING_AUTHORITY (a Notary Project signing scheme).
    async fn method(&self) -> &str {
        &self.row.method
    }

    /// The in-toto predicate type, for attestations.
    async fn predicate_type(&self) -> Option<&str> {
        self.row.predicate_type.as_deref()
    }

    /// Its transparency-log index.
    async fn log_index(&self) -> Option<String> {
        self.row.log_index.map(|i| i.to_string())
    }

    /// When the log integrated it (RFC 3339, UTC).
    async fn integrated_time(&self) -> Option<String> {
        self.row
            .integrated_time
            .map(|t| rfc3339(t.saturating_mul(1000)))
    }

    /// What the verified certificate says: source repository (OID .12).
    async fn source_repository(&self) -> Option<String> {
        self.detail("/certificate/source_repository_uri")
            .or_else(|| self.detail("/slsa/source_repository"))
    }

    /// Source commit (certificate OID .13, else the SLSA predicate).
    async fn source_commit(&self) -> Option<String> {
        self.detail("/certificate/source_repository_digest")
            .or_else(|| self.detail("/slsa/source_commit"))
    }

    /// The CI run that signed (certificate OID .21, else the SLSA invocation id).
    async fn run_invocation(&self) -> Option<String> {
        self.detail("/certificate/run_invocation_uri")
            .or_else(|| self.detail("/slsa/invocation_id"))
    }

    /// The SLSA builder id, for provenance attestations.
    async fn builder_id(&self) -> Option<String> {
        self.detail("/slsa/builder_id")
    }

    /// When provgraph first received it (RFC 3339, UTC).
    async fn first_seen(&self) -> String {
        rfc3339(self.row.first_seen)
    }
}

/// A signature's support for an edge.
#[derive(SimpleObject, Clone, Debug)]
pub struct Proof {
    pub origin: ProofOrigin,
    pub signature: Signature,
}

pub(super) async fn proofs_by_edge(
    api: &Api,
    edges: &[EdgeRow],
) -> Result<HashMap<i64, Vec<Proof>>> {
    let ids: Vec<i64> = edges.iter().map(|e| e.id).collect();
    let mut out: HashMap<i64, Vec<Proof>> = HashMap::new();
    for proof in api.store.proofs(&ids).await.map_err(store_error)? {
        out.entry(proof.edge_id).or_default().push(Proof {
            origin: proof_origin(proof.origin),
            signature: Signature::new(proof.signature),
        });
    }
    Ok(out)
}
