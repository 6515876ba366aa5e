//! The GraphQL enums: node and edge kinds (the model's), the lineage
//! direction, and how an edge is known and supported.

use async_graphql::Enum;
// The node and edge kinds are the model's own (its feature `graphql`).
pub use provgraph_model::{EdgeKind, NodeKind};

/// Which way `lineage` walks.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Toward what a node was made from: artifact -> build -> commit -> repository, go.mod.
    Upstream,
    /// Toward what was made from a node: commit -> builds -> artifacts -> workloads.
    Downstream,
}

impl From<Direction> for provgraph_store::Direction {
    fn from(direction: Direction) -> provgraph_store::Direction {
        match direction {
            Direction::Upstream => provgraph_store::Direction::Upstream,
            Direction::Downstream => provgraph_store::Direction::Downstream,
        }
    }
}

/// How an edge is known.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvidenceKind {
    /// An OpenTelemetry span said so: an unsigned claim by whoever sent it.
    Claimed,
    /// An unsigned SBOM posted to /v1/evidence said so (`traceId` is
    /// `sbom:sha256:<hex>` of the document, `sender` the tool that wrote it).
    Sbom,
}

/// What an edge rests on.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Only spans say so: unsigned claims.
    Claimed,
    /// Only verified signatures or attestations say so.
    Proven,
    /// Both: a span claims it and verified evidence proves it.
    Both,
    /// Only evidence that did not verify says so (kept for auditors).
    Unverified,
}

/// Where a proof's statement came from.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofOrigin {
    /// The signing certificate's extensions (authenticated by the CA).
    Certificate,
    /// An attestation's SLSA provenance predicate (asserted by the signer).
    SlsaPredicate,
    /// A build id among a verified signature's signed annotations.
    Annotation,
    /// An SBOM that is the predicate of a verified attestation.
    SbomPredicate,
    /// The signature itself: it names this artifact and this signer.
    Stated,
}

pub(super) fn proof_origin(origin: Option<provgraph_model::proofs::ProofOrigin>) -> ProofOrigin {
    use provgraph_model::proofs::ProofOrigin as Model;
    match origin {
        Some(Model::Certificate) => ProofOrigin::Certificate,
        Some(Model::SlsaPredicate) => ProofOrigin::SlsaPredicate,
        Some(Model::Annotation) => ProofOrigin::Annotation,
        Some(Model::SbomPredicate) => ProofOrigin::SbomPredicate,
        None => ProofOrigin::Stated,
    }
}
