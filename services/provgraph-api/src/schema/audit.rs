//! `audit(digest)`: an auditor's answer for one digest, the verdict and the
//! evidence chain behind it. The verdict is the model's
//! ([`provgraph_model::audit`]); this reads what it needs from the store.

use async_graphql::{Context, Object, Result, SimpleObject};
use provgraph_model::NodeKind;
use provgraph_model::audit::{
    self as verdict, ChainEdge, ChainProof, Conflict, SignatureState, Verdict,
};
use provgraph_store::LineageLimits;

use super::enums::ProofOrigin;
use super::graph::{Subgraph, Want};
use super::signatures::Signature;
use super::{api, normalize, store_error};

/// An auditor's answer for one digest: the verdict and the evidence chain
/// behind it.
#[derive(SimpleObject, Clone, Debug)]
pub struct Audit {
    pub digest: String,
    pub verdict: Verdict,
    /// One line saying why.
    pub summary: String,
    /// At least one signature verifies and its signer is trusted.
    pub signed_by_trusted_signer: bool,
    /// A verified signature from a trusted signer proves the source commit.
    pub source_proven: bool,
    /// Every commit spans claim is also proven.
    pub claims_corroborated: bool,
    pub conflicts: Vec<Conflict>,
    /// Every signature and attestation of the digest, verified or not, and
    /// of the image indexes that list it (see `signature.subject`: cosign
    /// signs only the index unless told otherwise).
    pub signatures: Vec<Signature>,
    /// Image indexes listing this digest, whose signatures and lineage
    /// count for it.
    pub covered_through_indexes: Vec<String>,
    /// What the digest was made from, each edge with its claims and proofs.
    pub chain: Subgraph,
}

/// The chain as the model's audit reads it.
fn chain(sub: &Subgraph) -> Vec<ChainEdge> {
    sub.edges
        .iter()
        .map(|edge| ChainEdge {
            kind: edge.row.kind,
            from: edge.row.from_id,
            to: edge.row.to_id,
            to_key: edge.to.row.key.clone(),
            claimed: edge.evidence.as_ref().is_some_and(|e| !e.is_empty()),
            proofs: edge
                .proofs
                .iter()
                .map(|p| ChainProof {
                    lineage: p.origin != ProofOrigin::Stated,
                    verified: p.signature.row.verified,
                    trusted: p.signature.row.trusted,
                })
                .collect(),
        })
        .collect()
}

/// `audit`.
#[derive(Debug, Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// An auditor's question in one query: is this digest signed by a trusted
    /// signer, is its source proven, do span claims agree with the proofs?
    /// With the evidence chain behind the answer.
    #[graphql(complexity = "20 + child_complexity * 10")]
    async fn audit(&self, ctx: &Context<'_>, digest: String) -> Result<Audit> {
        let digest = normalize(NodeKind::Artifact, &digest)?;
        let api = api(ctx);
        let indexes: Vec<String> = api
            .store
            .indexes_of(&digest)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|listing| listing.index)
            .collect();
        let mut signatures = Vec::new();
        for subject in std::iter::once(&digest).chain(indexes.iter()) {
            let rows = api.store.signatures(subject).await.map_err(store_error)?;
            signatures.extend(rows.into_iter().map(Signature::new));
        }
        let node = api
            .store
            .node(NodeKind::Artifact, &digest)
            .await
            .map_err(store_error)?;
        let chain_answer = match &node {
            // Platform manifest -> index -> build -> commit -> repository.
            Some(node) => {
                let limits = LineageLimits {
                    max_depth: 4,
                    max_nodes: api.limits.max_lineage_nodes,
                };
                let sub = api
                    .store
                    .lineage(node, provgraph_store::Direction::Upstream, limits)
                    .await
                    .map_err(store_error)?;
                let want = Want {
                    attributes: false,
                    evidence: true,
                    proofs: true,
                };
                Subgraph::load(api, sub, want).await?
            }
            None => Subgraph::empty(),
        };
        let states: Vec<SignatureState> = signatures
            .iter()
            .map(|s| SignatureState {
                verified: s.row.verified,
                trusted: s.row.trusted,
            })
            .collect();
        let outcome = verdict::audit(node.map(|n| n.id), &chain(&chain_answer), &states);
        Ok(Audit {
            digest,
            verdict: outcome.verdict,
            summary: outcome.summary,
            signed_by_trusted_signer: outcome.signed_by_trusted_signer,
            source_proven: outcome.source_proven,
            claims_corroborated: outcome.claims_corroborated,
            conflicts: outcome.conflicts,
            signatures,
            covered_through_indexes: indexes,
            chain: chain_answer,
        })
    }
}
