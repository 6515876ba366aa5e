//! Proofs: what a verified signature or attestation says, as graph rows.
//!
//! A span is an unsigned claim; a verified signature is a proof. A
//! signature (or attestation) becomes a SIGNATURE (ATTESTATION) node that
//! SIGNS its artifact and is SIGNED_BY an IDENTITY, verified or not (auditors
//! want forgery attempts kept). Only a verified one also proves lineage: what
//! its Fulcio certificate says (source repository, source commit, run) and
//! what its SLSA provenance predicate says, as BUILT_BY, FROM_COMMIT,
//! FROM_REPOSITORY and IN_REPOSITORY edges. Where certificate and predicate
//! disagree, both are kept: the API shows the conflict instead of picking.

use crate::derive::{EdgeKind, NodeRef};
use crate::keys::{self, NodeKind};

/// Where proven lineage came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProofOrigin {
    /// The signing certificate's extensions (authenticated by the CA).
    Certificate,
    /// The attestation's SLSA provenance predicate (asserted by the signer).
    SlsaPredicate,
    /// A build id among the signed annotations of a verified signature
    /// (`cicd.pipeline.run.id` or `build.id` in the simple-signing
    /// `optional` object): the signer ties the image to that build.
    Annotation,
    /// An SBOM that is the predicate of a verified attestation.
    SbomPredicate,
}

impl ProofOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            ProofOrigin::Certificate => "CERTIFICATE",
            ProofOrigin::SlsaPredicate => "SLSA_PREDICATE",
            ProofOrigin::Annotation => "ANNOTATION",
            ProofOrigin::SbomPredicate => "SBOM_PREDICATE",
        }
    }
}

/// One set of source claims (raw, as the evidence gives them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceClaims {
    /// A repository URL in any usual form.
    pub repository: Option<String>,
    /// A commit SHA.
    pub commit: Option<String>,
    /// A run: a CI run URL (`https://github.com/o/r/actions/runs/123/attempts/1`)
    /// or an invocation id.
    pub run: Option<String>,
}

/// What the graph needs from one verification result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureFacts {
    /// Hex SHA-256 of the evidence (canonical JSON).
    pub evidence_id: String,
    /// The artifact, `sha256:<hex>`.
    pub subject: String,
    /// An in-toto statement rather than a plain signature.
    pub attestation: bool,
    /// IDENTITY key of the signer, when known.
    pub identity: Option<String>,
    pub verified: bool,
    /// Claims by origin; used only when verified.
    pub claims: Vec<(ProofOrigin, SourceClaims)>,
    /// Packages an attested SBOM lists (MODULE or PACKAGE keys); used only
    /// when verified.
    pub contains: Vec<(NodeKind, String)>,
}

/// A proven (or, for SIGNS and SIGNED_BY, merely stated) edge.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProofEdge {
    pub kind: EdgeKind,
    pub from: NodeRef,
    pub to: NodeRef,
    /// None for SIGNS and SIGNED_BY.
    pub origin: Option<ProofOrigin>,
}

/// The BUILD key a run names: the run id of a GitHub Actions run URL (what
/// `cicd.pipeline.run.id` carries for GitHub), the pipeline id of a GitLab
/// pipeline URL, else the value as given.
pub fn build_key_of_run(run: &str) -> Option<String> {
    let trimmed = run.trim();
    for marker in ["/actions/runs/", "/-/pipelines/"] {
        if let Some(at) = trimmed.find(marker) {
            let rest = &trimmed[at + marker.len()..];
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !id.is_empty() {
                return Some(id);
            }
        }
    }
    keys::normalize_build_id(trimmed).ok()
}

/// The node of the signature itself.
pub fn signature_node(facts: &SignatureFacts) -> NodeRef {
    let kind = if facts.attestation {
        NodeKind::Attestation
    } else {
        NodeKind::Signature
    };
    NodeRef::new(kind, format!("sha256:{}", facts.evidence_id))
}

/// The nodes and edges `facts` contributes, and problems with claims that
/// did not parse (they are left out).
pub fn derive_proofs(facts: &SignatureFacts) -> (Vec<ProofEdge>, Vec<String>) {
    let mut edges = Vec::new();
    let mut problems = Vec::new();
    let signature = signature_node(facts);
    let artifact = NodeRef::new(NodeKind::Artifact, &facts.subject);
    edges.push(ProofEdge {
        kind: EdgeKind::Signs,
        from: signature.clone(),
        to: artifact.clone(),
        origin: None,
    });
    if let Some(identity) = &facts.identity {
        edges.push(ProofEdge {
            kind: EdgeKind::SignedBy,
            from: signature,
            to: NodeRef::new(NodeKind::Identity, identity),
            origin: None,
        });
    }
    if !facts.verified {
        return (edges, problems);
    }
    for (kind, key) in &facts.contains {
        edges.push(ProofEdge {
            kind: EdgeKind::Contains,
            from: artifact.clone(),
            to: NodeRef::new(*kind, key),
            origin: Some(ProofOrigin::SbomPredicate),
        });
    }
    for (origin, claims) in &facts.claims {
        let mut parse = |kind: NodeKind, raw: &Option<String>| {
            let raw = raw.as_deref()?;
            match kind.normalize(raw) {
                Ok(key) => Some(NodeRef::new(kind, key)),
                Err(err) => {
                    problems.push(format!("{}: {err}", origin.as_str()));
                    None
                }
            }
        };
        let repository = parse(NodeKind::Repository, &claims.repository);
        let commit = parse(NodeKind::Commit, &claims.commit);
        let build = claims
            .run
            .as_deref()
            .and_then(build_key_of_run)
            .map(|key| NodeRef::new(NodeKind::Build, key));
        let mut edge = |kind, from: &NodeRef, to: &NodeRef| {
            edges.push(ProofEdge {
                kind,
                from: from.clone(),
                to: to.clone(),
                origin: Some(*origin),
            });
        };
        if let (Some(commit), Some(repository)) = (&commit, &repository) {
            edge(EdgeKind::InRepository, commit, repository);
        }
        if let Some(build) = &build {
            edge(EdgeKind::BuiltBy, &artifact, build);
            if let Some(commit) = &commit {
                edge(EdgeKind::FromCommit, build, commit);
            }
            if let Some(repository) = &repository {
                edge(EdgeKind::FromRepository, build, repository);
            }
        }
    }
    edges.sort();
    edges.dedup();
    (edges, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(verified: bool) -> SignatureFacts {
        SignatureFacts {
            evidence_id: "e".repeat(64),
            subject: format!("sha256:{}", "a".repeat(64)),
            attestation: false,
            identity: Some("https://token.actions.githubusercontent.com|https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main".into()),
            verified,
            claims: vec![(
                ProofOrigin::Certificate,
                SourceClaims {
                    repository: Some("https://github.com/acme/calc".into()),
                    commit: Some("c".repeat(40)),
                    run: Some("https://github.com/acme/calc/actions/runs/4242/attempts/1".into()),
                },
            )],
            contains: Vec::new(),
        }
    }

    #[test]
    fn a_verified_certificate_proves_build_commit_and_repository() {
        let (edges, problems) = derive_proofs(&facts(true));
        assert!(problems.is_empty());
        let kinds: Vec<(EdgeKind, String)> =
            edges.iter().map(|e| (e.kind, e.to.key.clone())).collect();
        assert!(
            kinds.contains(&(EdgeKind::BuiltBy, "4242".into())),
            "{kinds:?}"
        );
        assert!(kinds.contains(&(EdgeKind::FromCommit, "c".repeat(40))));
        assert!(kinds.contains(&(EdgeKind::FromRepository, "github.com/acme/calc".into())));
        assert!(kinds.contains(&(EdgeKind::InRepository, "github.com/acme/calc".into())));
        assert!(kinds.iter().any(|(k, _)| *k == EdgeKind::Signs));
    }

    #[test]
    fn an_unverified_signature_proves_nothing() {
        let (edges, _) = derive_proofs(&facts(false));
        let kinds: Vec<EdgeKind> = edges.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EdgeKind::Signs, EdgeKind::SignedBy]);
    }

    #[test]
    fn run_urls_name_builds() {
        assert_eq!(
            build_key_of_run("https://github.com/o/r/actions/runs/123/attempts/2").as_deref(),
            Some("123")
        );
        assert_eq!(
            build_key_of_run("https://gitlab.com/g/p/-/pipelines/77").as_deref(),
            Some("77")
        );
        assert_eq!(build_key_of_run("run-9").as_deref(), Some("run-9"));
        assert_eq!(build_key_of_run(""), None);
    }
}
