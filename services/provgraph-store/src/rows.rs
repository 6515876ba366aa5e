//! The rows the store reads and writes, by name: what the public API takes
//! and returns instead of tuples.

use std::collections::BTreeSet;

use provgraph_model::proofs::ProofOrigin;
use provgraph_model::{EdgeKind, NodeKind};

use crate::StoreError;

/// A node as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    pub id: i64,
    pub kind: NodeKind,
    pub key: String,
    /// Milliseconds since the Unix epoch.
    pub first_seen: i64,
    pub last_seen: i64,
}

/// An edge as stored: from what was made to what it was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeRow {
    pub id: i64,
    pub kind: EdgeKind,
    pub from_id: i64,
    pub to_id: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// One assertion of an edge by a span.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct EvidenceRow {
    pub edge_id: i64,
    pub trace_id: String,
    /// Empty when the whole trace asserted it.
    pub span_id: String,
    pub sender: String,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A verified (or not) signature or attestation to store, with the facts
/// the graph derives from it.
#[derive(Clone, Debug)]
pub struct SignatureRecord {
    pub facts: provgraph_model::proofs::SignatureFacts,
    /// `sigstore-bundle`, `cosign-signature-layer`, `cosign-attestation-layer`.
    pub format: String,
    /// How it was signed and checked (keyless certificate, public key, ...).
    pub method: String,
    pub trusted: bool,
    pub signer: Option<String>,
    pub issuer: Option<String>,
    pub reason: String,
    pub log_index: Option<i64>,
    /// Seconds since the epoch.
    pub integrated_time: Option<i64>,
    pub predicate_type: Option<String>,
    /// JSON: certificate claims, SLSA summary, annotations.
    pub details: String,
}

/// One piece of evidence as received, stored once however many subjects
/// it names (issue #13: it used to be stored once per subject).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvidenceBody {
    /// SHA-256 (hex) of the evidence's canonical JSON.
    pub evidence_id: String,
    /// A subject it was imported for (`provgraph reverify` passes it again).
    pub subject: String,
    /// The evidence as received.
    pub body: String,
    /// Whether any of its signatures verified; unverified bodies count
    /// against [`EvidenceQuota`].
    pub verified: bool,
    /// The token name that posted it, when tokens are on.
    pub principal: Option<String>,
}

/// How many bytes of unverified evidence bodies the store keeps (issue #13:
/// forgeries stay visible without becoming a storage attack). A new
/// unverified body that would pass either is refused
/// ([`crate::StoreError::Quota`]) and nothing of it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvidenceQuota {
    /// All unverified bodies together.
    pub unverified_bytes: u64,
    /// Unverified bodies posted by one principal (tokens on).
    pub unverified_bytes_per_principal: u64,
}

impl Default for EvidenceQuota {
    fn default() -> Self {
        EvidenceQuota {
            unverified_bytes: 256 * 1024 * 1024,
            unverified_bytes_per_principal: 64 * 1024 * 1024,
        }
    }
}

/// A stored signature or attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRow {
    pub id: i64,
    pub evidence_id: String,
    pub subject: String,
    pub node_id: i64,
    pub format: String,
    pub method: String,
    pub verified: bool,
    pub trusted: bool,
    pub signer: Option<String>,
    pub issuer: Option<String>,
    pub reason: String,
    pub log_index: Option<i64>,
    pub integrated_time: Option<i64>,
    pub predicate_type: Option<String>,
    pub details: String,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// The whole graph by keys, without ids or times: two stores that hold the
/// same graph have equal snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub nodes: BTreeSet<(String, String)>,
    pub edges: BTreeSet<(String, String, String, String, String)>,
    pub evidence: BTreeSet<(String, String, String, String, String, String)>,
    pub attrs: BTreeSet<(String, String, String, String)>,
    /// Evidence or edges pointing at rows that do not exist (must be 0).
    pub dangling: usize,
}

fn kind_name(code: i16) -> String {
    NodeKind::from_code(code).map_or_else(|| format!("?{code}"), |k| k.as_str().to_string())
}

fn edge_name(code: i16) -> String {
    EdgeKind::from_code(code).map_or_else(|| format!("?{code}"), |k| k.as_str().to_string())
}

impl Snapshot {
    pub(crate) fn new(
        nodes: Vec<(i16, String)>,
        edges: Vec<(i16, i16, String, i16, String)>,
        evidence: Vec<(i16, String, String, String, String, String)>,
        attrs: Vec<(i16, String, String, String)>,
        dangling: usize,
    ) -> Snapshot {
        Snapshot {
            nodes: nodes
                .into_iter()
                .map(|(k, key)| (kind_name(k), key))
                .collect(),
            edges: edges
                .into_iter()
                .map(|(e, fk, f, tk, t)| (edge_name(e), kind_name(fk), f, kind_name(tk), t))
                .collect(),
            evidence: evidence
                .into_iter()
                .map(|(e, f, t, trace, span, sender)| (edge_name(e), f, t, trace, span, sender))
                .collect(),
            attrs: attrs
                .into_iter()
                .map(|(k, key, name, value)| (kind_name(k), key, name, value))
                .collect(),
            dangling,
        }
    }
}

/// One attribute of a node.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AttrRow {
    pub node_id: i64,
    pub name: String,
    pub value: String,
}

/// A signature that proves or states an edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofRow {
    pub edge_id: i64,
    /// What in the signature proves the edge; `None` when the signature
    /// only states it (stored as `STATED`).
    pub origin: Option<ProofOrigin>,
    pub signature: SignatureRow,
}

/// How `edge_proofs.origin` names a stated edge.
const STATED: &str = "STATED";

/// The name `edge_proofs.origin` stores for an origin.
pub(crate) fn origin_name(origin: Option<ProofOrigin>) -> &'static str {
    origin.map_or(STATED, ProofOrigin::as_str)
}

/// Reads `edge_proofs.origin` back: an unknown name is an error, never
/// taken for another origin.
pub(crate) fn origin_from_name(name: &str) -> Result<Option<ProofOrigin>, StoreError> {
    if name == STATED {
        return Ok(None);
    }
    [
        ProofOrigin::Certificate,
        ProofOrigin::SlsaPredicate,
        ProofOrigin::Annotation,
        ProofOrigin::SbomPredicate,
    ]
    .into_iter()
    .find(|origin| origin.as_str() == name)
    .map(Some)
    .ok_or_else(|| StoreError::unknown("proof origin", name))
}

/// A stored evidence body, with a subject it was imported for.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct EvidenceBody {
    pub evidence_id: String,
    pub subject: String,
    pub body: String,
}

/// An image index that lists a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexListing {
    /// The index's digest.
    pub index: String,
    /// The member's platform, such as `linux/arm64`, when the index says.
    pub platform: Option<String>,
    /// Where the index was read (a registry URL).
    pub source: String,
}

/// A manifest an image index lists, to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexMember {
    pub digest: String,
    pub platform: Option<String>,
}

/// A `nodes` row as selected: id, kind, key, first seen, last seen.
pub(crate) type NodeTuple = (i64, i16, String, i64, i64);
/// An `edges` row as selected: id, kind, from, to, first seen, last seen.
pub(crate) type EdgeTuple = (i64, i16, i64, i64, i64, i64);

impl NodeRow {
    pub(crate) fn from_stored(
        (id, kind, key, first_seen, last_seen): NodeTuple,
    ) -> Result<NodeRow, StoreError> {
        Ok(NodeRow {
            id,
            kind: node_kind(kind)?,
            key,
            first_seen,
            last_seen,
        })
    }
}

impl EdgeRow {
    pub(crate) fn from_stored(
        (id, kind, from_id, to_id, first_seen, last_seen): EdgeTuple,
    ) -> Result<EdgeRow, StoreError> {
        Ok(EdgeRow {
            id,
            kind: edge_kind(kind)?,
            from_id,
            to_id,
            first_seen,
            last_seen,
        })
    }
}

/// A node kind code as stored; unknown codes are errors.
pub(crate) fn node_kind(code: i16) -> Result<NodeKind, StoreError> {
    NodeKind::from_code(code).ok_or_else(|| StoreError::unknown("node kind", code))
}

/// An edge kind code as stored; unknown codes are errors.
pub(crate) fn edge_kind(code: i16) -> Result<EdgeKind, StoreError> {
    EdgeKind::from_code(code).ok_or_else(|| StoreError::unknown("edge kind", code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_origins_read_back_as_written_and_unknown_names_are_errors() {
        for origin in [
            None,
            Some(ProofOrigin::Certificate),
            Some(ProofOrigin::SlsaPredicate),
            Some(ProofOrigin::Annotation),
            Some(ProofOrigin::SbomPredicate),
        ] {
            assert_eq!(origin_from_name(origin_name(origin)).unwrap(), origin);
        }
        for name in ["", "stated", "CERTIFICATE ", "SIGNATURE"] {
            let err = origin_from_name(name).unwrap_err();
            assert!(
                matches!(&err, StoreError::UnknownValue { what: "proof origin", value } if value == name),
                "{name:?}: {err}"
            );
        }
    }

    #[test]
    fn unknown_kind_codes_are_errors() {
        assert_eq!(node_kind(NodeKind::Build.code()).unwrap(), NodeKind::Build);
        assert_eq!(
            edge_kind(EdgeKind::Contains.code()).unwrap(),
            EdgeKind::Contains
        );
        assert!(node_kind(-1).is_err());
        assert!(edge_kind(i16::MAX).is_err());
    }
}
