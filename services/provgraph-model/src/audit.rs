//! The audit verdict: for one digest, do its signatures verify and come from
//! a trusted signer, is its source proven, and do span claims agree with the
//! proofs? A pure function over the upstream chain as the store returns it.
//!
//! The chain is the digest's upstream lineage (through the image indexes
//! listing it: PART_OF), each edge marked claimed (a span asserted it) and
//! with the proofs behind it. Builds are compared first, then the commits
//! and repositories of the claimed builds against those of the proven ones.

use crate::derive::EdgeKind;
use crate::keys::NodeKind;

/// The audit's overall answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum Verdict {
    /// Signed by a trusted signer, and no proven fact contradicts a claim.
    Trusted,
    /// Signed by a trusted signer, but proven facts contradict span claims
    /// (or each other): see `conflicts`.
    Contradicted,
    /// Signatures verify, but no signer is allowed by the trust policy.
    Untrusted,
    /// There is signature evidence, and none of it verifies.
    Forged,
    /// No signature or attestation is stored for the digest.
    Unsigned,
    /// provgraph knows nothing of the digest.
    Unknown,
}

/// Span claims and verified proofs that disagree about one fact.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Conflict {
    /// What the disagreement is about: BUILD, COMMIT or REPOSITORY.
    pub kind: NodeKind,
    /// What spans claim.
    pub claimed: Vec<String>,
    /// What verified evidence proves.
    pub proven: Vec<String>,
}

/// One signature's support for an edge of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainProof {
    /// It states lineage (certificate, SLSA predicate, annotation, SBOM
    /// predicate), rather than only naming its artifact and signer (SIGNS,
    /// SIGNED_BY).
    pub lineage: bool,
    pub verified: bool,
    pub trusted: bool,
}

/// An edge of the digest's upstream chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainEdge {
    pub kind: EdgeKind,
    /// Node ids, as the store numbers them.
    pub from: i64,
    pub to: i64,
    /// The key of the `to` node.
    pub to_key: String,
    /// A span (or an unsigned SBOM) asserted it.
    pub claimed: bool,
    pub proofs: Vec<ChainProof>,
}

/// A signature or attestation of the digest (or of an index listing it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureState {
    pub verified: bool,
    pub trusted: bool,
}

/// The audit's answer, without the evidence it rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditOutcome {
    pub verdict: Verdict,
    /// Why, in one line.
    pub summary: String,
    /// Claims and proofs that disagree, by kind: builds, commits, repositories.
    pub conflicts: Vec<Conflict>,
    /// Some signature verifies and its signer is allowed by the policy.
    pub signed_by_trusted_signer: bool,
    /// A trusted signer's verified proof names the source commit.
    pub source_proven: bool,
    /// Spans claim a commit, and each commit they claim is proven.
    pub claims_corroborated: bool,
}

/// Which edges count when walking the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Support {
    /// Asserted by a span.
    Claimed,
    /// Proven by a verified signature stating lineage.
    Proven,
    /// Proven by a verified signature from a trusted signer.
    Trusted,
}

impl Support {
    fn holds(self, edge: &ChainEdge) -> bool {
        match self {
            Support::Claimed => edge.claimed,
            Support::Proven => edge.proofs.iter().any(|p| p.lineage && p.verified),
            Support::Trusted => edge
                .proofs
                .iter()
                .any(|p| p.lineage && p.verified && p.trusted),
        }
    }
}

/// The nodes reached over edges of `kind` from `from` that have `support`:
/// (id, key), first reached first, each once.
fn reach(
    edges: &[ChainEdge],
    from: &[i64],
    kind: EdgeKind,
    support: Support,
) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for edge in edges {
        if edge.kind != kind || !from.contains(&edge.from) || !support.holds(edge) {
            continue;
        }
        if !out.iter().any(|(id, _)| *id == edge.to) {
            out.push((edge.to, edge.to_key.clone()));
        }
    }
    out
}

fn keys_of(found: &[(i64, String)]) -> Vec<String> {
    let mut keys: Vec<String> = found.iter().map(|(_, k)| k.clone()).collect();
    keys.sort();
    keys
}

fn ids_of(found: &[(i64, String)]) -> Vec<i64> {
    found.iter().map(|(id, _)| *id).collect()
}

/// A conflict when claims and proofs are both there and share nothing, or
/// when proofs name more than one (they disagree with each other).
fn compare(
    kind: NodeKind,
    claimed: &[(i64, String)],
    proven: &[(i64, String)],
) -> Option<Conflict> {
    let (claimed, proven) = (keys_of(claimed), keys_of(proven));
    let disjoint =
        !claimed.is_empty() && !proven.is_empty() && !claimed.iter().any(|c| proven.contains(c));
    (disjoint || proven.len() > 1).then_some(Conflict {
        kind,
        claimed,
        proven,
    })
}

/// The verdict for the digest whose node is `start` (None: provgraph does
/// not know it), given its upstream `chain` and its `signatures` (with
/// those of the indexes listing it).
pub fn audit(
    start: Option<i64>,
    chain: &[ChainEdge],
    signatures: &[SignatureState],
) -> AuditOutcome {
    let Some(start) = start else {
        return AuditOutcome {
            verdict: Verdict::Unknown,
            summary: "provgraph knows nothing of this digest".into(),
            signed_by_trusted_signer: false,
            source_proven: false,
            claims_corroborated: false,
            conflicts: Vec::new(),
        };
    };
    // What is claimed or proven for an index listing the digest covers it.
    let mut from = vec![start];
    from.extend(
        chain
            .iter()
            .filter(|e| e.kind == EdgeKind::PartOf && e.from == start)
            .map(|e| e.to),
    );
    let claimed_builds = reach(chain, &from, EdgeKind::BuiltBy, Support::Claimed);
    let proven_builds = reach(chain, &from, EdgeKind::BuiltBy, Support::Proven);
    let (claimed_from, proven_from) = (ids_of(&claimed_builds), ids_of(&proven_builds));
    let claimed_commits = reach(chain, &claimed_from, EdgeKind::FromCommit, Support::Claimed);
    let proven_commits = reach(chain, &proven_from, EdgeKind::FromCommit, Support::Proven);
    let claimed_repos = reach(
        chain,
        &claimed_from,
        EdgeKind::FromRepository,
        Support::Claimed,
    );
    let proven_repos = reach(
        chain,
        &proven_from,
        EdgeKind::FromRepository,
        Support::Proven,
    );
    let conflicts: Vec<Conflict> = [
        compare(NodeKind::Build, &claimed_builds, &proven_builds),
        compare(NodeKind::Commit, &claimed_commits, &proven_commits),
        compare(NodeKind::Repository, &claimed_repos, &proven_repos),
    ]
    .into_iter()
    .flatten()
    .collect();

    let trusted_builds = reach(chain, &from, EdgeKind::BuiltBy, Support::Trusted);
    let trusted_commits = reach(
        chain,
        &ids_of(&trusted_builds),
        EdgeKind::FromCommit,
        Support::Trusted,
    );
    let source_proven = !trusted_commits.is_empty();
    let proven_keys = keys_of(&proven_commits);
    let claims_corroborated = !claimed_commits.is_empty()
        && keys_of(&claimed_commits)
            .iter()
            .all(|c| proven_keys.contains(c));
    let signed_by_trusted_signer = signatures.iter().any(|s| s.trusted);
    let any_verified = signatures.iter().any(|s| s.verified);
    let (verdict, summary) = if signatures.is_empty() {
        (
            Verdict::Unsigned,
            "no signature or attestation is stored for this digest".to_string(),
        )
    } else if !any_verified {
        (
            Verdict::Forged,
            format!("{} signature(s) stored, none verifies", signatures.len()),
        )
    } else if !signed_by_trusted_signer {
        (
            Verdict::Untrusted,
            "signatures verify, but no signer is allowed by the trust policy".to_string(),
        )
    } else if !conflicts.is_empty() {
        (
            Verdict::Contradicted,
            format!(
                "signed by a trusted signer, but {} fact(s) conflict",
                conflicts.len()
            ),
        )
    } else {
        let source = if source_proven {
            "source proven"
        } else {
            "source not proven"
        };
        (
            Verdict::Trusted,
            format!("signed by a trusted signer; {source}"),
        )
    };
    AuditOutcome {
        verdict,
        summary,
        signed_by_trusted_signer,
        source_proven,
        claims_corroborated,
        conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The chain: artifact 1, an index 2 listing it, builds 10 and 11,
    // commits 20 and 21, repositories 30 and 31.
    const ARTIFACT: i64 = 1;
    const INDEX: i64 = 2;

    fn key(id: i64) -> String {
        match id {
            10 => "run-10",
            11 => "run-11",
            20 => "c20",
            21 => "c21",
            30 => "github.com/acme/r30",
            31 => "github.com/acme/r31",
            _ => "other",
        }
        .to_string()
    }

    fn kind_between(to: i64) -> EdgeKind {
        match to {
            2 => EdgeKind::PartOf,
            10 | 11 => EdgeKind::BuiltBy,
            20 | 21 => EdgeKind::FromCommit,
            _ => EdgeKind::FromRepository,
        }
    }

    /// An edge `from -> to`, claimed or not, with the given proofs.
    fn edge(from: i64, to: i64, claimed: bool, proofs: &[ChainProof]) -> ChainEdge {
        ChainEdge {
            kind: kind_between(to),
            from,
            to,
            to_key: key(to),
            claimed,
            proofs: proofs.to_vec(),
        }
    }

    const TRUSTED: ChainProof = ChainProof {
        lineage: true,
        verified: true,
        trusted: true,
    };
    const UNTRUSTED: ChainProof = ChainProof {
        lineage: true,
        verified: true,
        trusted: false,
    };
    const FORGED: ChainProof = ChainProof {
        lineage: true,
        verified: false,
        trusted: false,
    };
    const STATED: ChainProof = ChainProof {
        lineage: false,
        verified: true,
        trusted: true,
    };

    fn claim(from: i64, to: i64) -> ChainEdge {
        edge(from, to, true, &[])
    }
    fn proof(from: i64, to: i64, by: ChainProof) -> ChainEdge {
        edge(from, to, false, &[by])
    }
    fn both(from: i64, to: i64, by: ChainProof) -> ChainEdge {
        edge(from, to, true, &[by])
    }

    const T: SignatureState = SignatureState {
        verified: true,
        trusted: true,
    };
    const V: SignatureState = SignatureState {
        verified: true,
        trusted: false,
    };
    const F: SignatureState = SignatureState {
        verified: false,
        trusted: false,
    };

    fn conflict(kind: NodeKind, claimed: &[i64], proven: &[i64]) -> Conflict {
        Conflict {
            kind,
            claimed: claimed.iter().map(|id| key(*id)).collect(),
            proven: proven.iter().map(|id| key(*id)).collect(),
        }
    }

    struct Row {
        name: &'static str,
        start: Option<i64>,
        chain: Vec<ChainEdge>,
        signatures: Vec<SignatureState>,
        verdict: Verdict,
        summary: &'static str,
        /// signed by a trusted signer, source proven, claims corroborated
        flags: (bool, bool, bool),
        conflicts: Vec<Conflict>,
    }

    #[test]
    fn every_verdict_and_conflict() {
        let rows = vec![
            Row {
                name: "unknown digest",
                start: None,
                chain: vec![],
                signatures: vec![T],
                verdict: Verdict::Unknown,
                summary: "provgraph knows nothing of this digest",
                flags: (false, false, false),
                conflicts: vec![],
            },
            Row {
                name: "claims only, no signature",
                start: Some(ARTIFACT),
                chain: vec![claim(ARTIFACT, 10), claim(10, 20)],
                signatures: vec![],
                verdict: Verdict::Unsigned,
                summary: "no signature or attestation is stored for this digest",
                flags: (false, false, false),
                conflicts: vec![],
            },
            Row {
                name: "signatures that do not verify prove nothing",
                start: Some(ARTIFACT),
                chain: vec![both(ARTIFACT, 10, FORGED), both(10, 20, FORGED)],
                signatures: vec![F, F],
                verdict: Verdict::Forged,
                summary: "2 signature(s) stored, none verifies",
                flags: (false, false, false),
                conflicts: vec![],
            },
            Row {
                name: "verified by a signer the policy does not allow",
                start: Some(ARTIFACT),
                chain: vec![both(ARTIFACT, 10, UNTRUSTED), both(10, 20, UNTRUSTED)],
                signatures: vec![V],
                verdict: Verdict::Untrusted,
                summary: "signatures verify, but no signer is allowed by the trust policy",
                flags: (false, false, true),
                conflicts: vec![],
            },
            Row {
                name: "trusted, source proven, claims corroborated",
                start: Some(ARTIFACT),
                chain: vec![
                    both(ARTIFACT, 10, TRUSTED),
                    both(10, 20, TRUSTED),
                    both(10, 30, TRUSTED),
                ],
                signatures: vec![F, T],
                verdict: Verdict::Trusted,
                summary: "signed by a trusted signer; source proven",
                flags: (true, true, true),
                conflicts: vec![],
            },
            Row {
                name: "trusted signature, lineage only claimed",
                start: Some(ARTIFACT),
                chain: vec![claim(ARTIFACT, 10), claim(10, 20)],
                signatures: vec![T],
                verdict: Verdict::Trusted,
                summary: "signed by a trusted signer; source not proven",
                flags: (true, false, false),
                conflicts: vec![],
            },
            Row {
                name: "a proof that only names artifact and signer proves no lineage",
                start: Some(ARTIFACT),
                chain: vec![both(ARTIFACT, 10, STATED), both(10, 20, STATED)],
                signatures: vec![T],
                verdict: Verdict::Trusted,
                summary: "signed by a trusted signer; source not proven",
                flags: (true, false, false),
                conflicts: vec![],
            },
            Row {
                name: "proven by an untrusted signer: proven, but not the source",
                start: Some(ARTIFACT),
                chain: vec![both(ARTIFACT, 10, UNTRUSTED), both(10, 20, UNTRUSTED)],
                signatures: vec![T, V],
                verdict: Verdict::Trusted,
                summary: "signed by a trusted signer; source not proven",
                flags: (true, false, true),
                conflicts: vec![],
            },
            Row {
                name: "BUILD: spans claim one build, a proof names another",
                start: Some(ARTIFACT),
                chain: vec![claim(ARTIFACT, 10), proof(ARTIFACT, 11, TRUSTED)],
                signatures: vec![T],
                verdict: Verdict::Contradicted,
                summary: "signed by a trusted signer, but 1 fact(s) conflict",
                flags: (true, false, false),
                conflicts: vec![conflict(NodeKind::Build, &[10], &[11])],
            },
            Row {
                name: "BUILD: two proofs name different builds",
                start: Some(ARTIFACT),
                chain: vec![both(ARTIFACT, 10, TRUSTED), proof(ARTIFACT, 11, UNTRUSTED)],
                signatures: vec![T],
                verdict: Verdict::Contradicted,
                summary: "signed by a trusted signer, but 1 fact(s) conflict",
                flags: (true, false, false),
                conflicts: vec![conflict(NodeKind::Build, &[10], &[10, 11])],
            },
            Row {
                name: "COMMIT: the proven build's commit is not the claimed one",
                start: Some(ARTIFACT),
                chain: vec![
                    both(ARTIFACT, 10, TRUSTED),
                    claim(10, 20),
                    proof(10, 21, TRUSTED),
                ],
                signatures: vec![T],
                verdict: Verdict::Contradicted,
                summary: "signed by a trusted signer, but 1 fact(s) conflict",
                flags: (true, true, false),
                conflicts: vec![conflict(NodeKind::Commit, &[20], &[21])],
            },
            Row {
                name: "REPOSITORY: certificate and predicate name different repositories",
                start: Some(ARTIFACT),
                chain: vec![
                    both(ARTIFACT, 10, TRUSTED),
                    both(10, 20, TRUSTED),
                    proof(10, 30, TRUSTED),
                    proof(10, 31, TRUSTED),
                ],
                signatures: vec![T],
                verdict: Verdict::Contradicted,
                summary: "signed by a trusted signer, but 1 fact(s) conflict",
                flags: (true, true, true),
                conflicts: vec![conflict(NodeKind::Repository, &[], &[30, 31])],
            },
            Row {
                name: "BUILD and COMMIT both conflict",
                start: Some(ARTIFACT),
                chain: vec![
                    claim(ARTIFACT, 10),
                    proof(ARTIFACT, 11, TRUSTED),
                    claim(10, 20),
                    proof(11, 21, TRUSTED),
                ],
                signatures: vec![T],
                verdict: Verdict::Contradicted,
                summary: "signed by a trusted signer, but 2 fact(s) conflict",
                flags: (true, true, false),
                conflicts: vec![
                    conflict(NodeKind::Build, &[10], &[11]),
                    conflict(NodeKind::Commit, &[20], &[21]),
                ],
            },
            Row {
                name: "what is proven for an index listing the digest covers it",
                start: Some(ARTIFACT),
                chain: vec![
                    both(ARTIFACT, INDEX, TRUSTED),
                    both(INDEX, 10, TRUSTED),
                    both(10, 20, TRUSTED),
                ],
                signatures: vec![T],
                verdict: Verdict::Trusted,
                summary: "signed by a trusted signer; source proven",
                flags: (true, true, true),
                conflicts: vec![],
            },
            Row {
                name: "another artifact's build does not count",
                start: Some(ARTIFACT),
                chain: vec![claim(ARTIFACT, 10), proof(99, 11, TRUSTED), claim(10, 20)],
                signatures: vec![T],
                verdict: Verdict::Trusted,
                summary: "signed by a trusted signer; source not proven",
                flags: (true, false, false),
                conflicts: vec![],
            },
        ];
        let verdicts: std::collections::HashSet<Verdict> = rows.iter().map(|r| r.verdict).collect();
        assert_eq!(verdicts.len(), 6, "the table covers every verdict");
        for row in rows {
            let out = audit(row.start, &row.chain, &row.signatures);
            let got = (
                out.verdict,
                out.summary.as_str(),
                (
                    out.signed_by_trusted_signer,
                    out.source_proven,
                    out.claims_corroborated,
                ),
                &out.conflicts,
            );
            let want = (row.verdict, row.summary, row.flags, &row.conflicts);
            assert_eq!(got, want, "{}", row.name);
        }
    }
}
