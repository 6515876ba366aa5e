//! Derivation: a span's facts, read in the light of its trace's build, become
//! nodes, edges (each with its evidence) and node attributes.
//!
//! Edges point from what was made to what it was made from, so UPSTREAM
//! follows them and DOWNSTREAM walks them backwards:
//!
//! ```text
//! WORKLOAD -RUNS-> ARTIFACT -BUILT_BY-> BUILD -FROM_COMMIT-> COMMIT -IN_REPOSITORY-> REPOSITORY
//!                                       BUILD -FROM_REPOSITORY-> REPOSITORY
//!                                       BUILD -USED_GOMOD-> GOMOD
//!                                       BUILD -BUILT_WITH-> ARTIFACT (the builder image)
//! ```

use serde::{Deserialize, Serialize};

use crate::facts::{BuildChoice, Image, Sighting, SpanFacts};
use crate::keys::{NodeKind, WorkloadIdentity};

/// The attribute of a BUILD stored under a principal (tokens on): the
/// token's name.
pub const PRINCIPAL_ATTR: &str = "provgraph.principal";

/// The attribute of a BUILD stored under a principal: its id as the sender
/// sent it (the key is `NAME/ID`).
pub const SENT_ID_ATTR: &str = "provgraph.build.sent_id";

/// The kinds of edge; each points from what was made to what it was made from.
// Numeric codes are stored: never reuse or renumber one. The doc comments
// are the GraphQL schema's descriptions (feature `graphql`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum EdgeKind {
    /// ARTIFACT -> BUILD: the build produced the artifact.
    BuiltBy,
    /// BUILD -> COMMIT: the build built the commit.
    FromCommit,
    /// BUILD -> REPOSITORY: the build built from the repository.
    FromRepository,
    /// COMMIT -> REPOSITORY: the commit is in the repository.
    InRepository,
    /// BUILD -> GOMOD: the build used the go.mod.
    UsedGomod,
    /// BUILD -> ARTIFACT: the build ran in this (builder) image.
    BuiltWith,
    /// WORKLOAD -> ARTIFACT: the workload runs the image.
    Runs,
    /// SIGNATURE or ATTESTATION -> ARTIFACT: it signs the artifact (verified or not).
    Signs,
    /// SIGNATURE or ATTESTATION -> IDENTITY: who signed it.
    SignedBy,
    // The index was made from its platform manifests, and what was claimed
    // or proven for the index covers them.
    /// ARTIFACT (platform manifest) -> ARTIFACT (the image index listing it).
    PartOf,
    /// GOMOD -> MODULE: a direct requirement.
    Requires,
    // `// indirect` in the go.mod.
    /// GOMOD -> MODULE: an indirect requirement.
    RequiresIndirect,
    /// ARTIFACT -> MODULE or PACKAGE: an SBOM of the artifact lists it.
    Contains,
    // GOMOD: the Go release its go.mod names, for `stdlib`.
    /// VULNERABILITY -> MODULE, PACKAGE or GOMOD (an OSV record's ranges cover it), or ARTIFACT (a scanner found it).
    Affects,
}

impl EdgeKind {
    pub const ALL: [EdgeKind; 14] = [
        EdgeKind::BuiltBy,
        EdgeKind::FromCommit,
        EdgeKind::FromRepository,
        EdgeKind::InRepository,
        EdgeKind::UsedGomod,
        EdgeKind::BuiltWith,
        EdgeKind::Runs,
        EdgeKind::Signs,
        EdgeKind::SignedBy,
        EdgeKind::PartOf,
        EdgeKind::Requires,
        EdgeKind::RequiresIndirect,
        EdgeKind::Contains,
        EdgeKind::Affects,
    ];

    pub fn code(self) -> i16 {
        match self {
            EdgeKind::BuiltBy => 1,
            EdgeKind::FromCommit => 2,
            EdgeKind::FromRepository => 3,
            EdgeKind::InRepository => 4,
            EdgeKind::UsedGomod => 5,
            EdgeKind::BuiltWith => 6,
            EdgeKind::Runs => 7,
            EdgeKind::Signs => 8,
            EdgeKind::SignedBy => 9,
            EdgeKind::PartOf => 10,
            EdgeKind::Requires => 11,
            EdgeKind::RequiresIndirect => 12,
            EdgeKind::Contains => 13,
            EdgeKind::Affects => 14,
        }
    }

    pub fn from_code(code: i16) -> Option<EdgeKind> {
        EdgeKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::BuiltBy => "BUILT_BY",
            EdgeKind::FromCommit => "FROM_COMMIT",
            EdgeKind::FromRepository => "FROM_REPOSITORY",
            EdgeKind::InRepository => "IN_REPOSITORY",
            EdgeKind::UsedGomod => "USED_GOMOD",
            EdgeKind::BuiltWith => "BUILT_WITH",
            EdgeKind::Runs => "RUNS",
            EdgeKind::Signs => "SIGNS",
            EdgeKind::SignedBy => "SIGNED_BY",
            EdgeKind::PartOf => "PART_OF",
            EdgeKind::Requires => "REQUIRES",
            EdgeKind::RequiresIndirect => "REQUIRES_INDIRECT",
            EdgeKind::Contains => "CONTAINS",
            EdgeKind::Affects => "AFFECTS",
        }
    }
}

/// A node by kind and normalized key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeRef {
    pub kind: NodeKind,
    pub key: String,
}

impl NodeRef {
    pub fn new(kind: NodeKind, key: impl Into<String>) -> NodeRef {
        NodeRef {
            kind,
            key: key.into(),
        }
    }
}

/// Who asserted something: a span of a trace, sent by a service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    pub trace_id: String,
    /// Empty when the assertion belongs to the whole trace.
    pub span_id: String,
    /// `service.name` of the sender's resource.
    pub sender: String,
}

/// One edge as one span asserts it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeFact {
    pub kind: EdgeKind,
    pub from: NodeRef,
    pub to: NodeRef,
    pub source: Source,
}

/// One attribute of a node (set-valued: a node may carry several values).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrFact {
    pub node: NodeRef,
    pub name: &'static str,
    pub value: String,
}

/// What a set of spans contributes to the graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Derived {
    pub nodes: Vec<NodeRef>,
    pub edges: Vec<EdgeFact>,
    pub attrs: Vec<AttrFact>,
}

impl Derived {
    fn edge(&mut self, kind: EdgeKind, from: &NodeRef, to: &NodeRef, source: &Source) {
        self.edges.push(EdgeFact {
            kind,
            from: from.clone(),
            to: to.clone(),
            source: source.clone(),
        });
    }

    fn attr(&mut self, node: &NodeRef, name: &'static str, value: &str) {
        self.attrs.push(AttrFact {
            node: node.clone(),
            name,
            value: value.to_string(),
        });
    }

    fn image(&mut self, image: &Image) -> NodeRef {
        let node = NodeRef::new(NodeKind::Artifact, &image.digest);
        for name in &image.names {
            self.attr(&node, "container.image.name", name);
        }
        for tag in &image.tags {
            self.attr(&node, "container.image.tags", tag);
        }
        self.nodes.push(node.clone());
        node
    }

    fn workload(&mut self, identity: &WorkloadIdentity, sender: &str) -> NodeRef {
        let workload = NodeRef::new(NodeKind::Workload, identity.key());
        self.nodes.push(workload.clone());
        self.attr(&workload, "name", &identity.name);
        if let Some(namespace) = &identity.namespace {
            self.attr(&workload, "k8s.namespace.name", namespace);
        }
        if let Some(environment) = &identity.environment {
            self.attr(&workload, "deployment.environment.name", environment);
        }
        if let Some(cluster) = &identity.cluster {
            self.attr(&workload, "k8s.cluster.name", cluster);
        }
        if !sender.is_empty() {
            self.attr(&workload, "service.name", sender);
        }
        workload
    }

    /// Adds what a sighting contributes: the workload, the images it runs,
    /// and a RUNS edge to each. The edges carry no evidence: a sighting row
    /// (first and last seen, a count) stands for them, whatever the volume.
    /// Returns the (workload, artifact) pairs.
    pub fn add_sighting(&mut self, sighting: &Sighting) -> Vec<(NodeRef, NodeRef)> {
        let workload = self.workload(&sighting.workload, &sighting.sender);
        let mut pairs = Vec::with_capacity(sighting.images.len());
        for image in &sighting.images {
            let artifact = self.image(image);
            pairs.push((workload.clone(), artifact));
        }
        pairs
    }

    /// Adds what `facts` contributes, given its trace's build (`None` while
    /// the trace has shown no build facts: then the sender is a workload).
    pub fn add(&mut self, facts: &SpanFacts, build: Option<&BuildChoice>) {
        let source = Source {
            trace_id: facts.trace_id.clone(),
            span_id: facts.span_id.clone(),
            sender: facts.sender.clone(),
        };
        let Some(build) = build else {
            if let Some(identity) = &facts.workload {
                let workload = self.workload(identity, &facts.sender);
                for image in &facts.runs_in {
                    let artifact = self.image(image);
                    self.edge(EdgeKind::Runs, &workload, &artifact, &source);
                }
            }
            return;
        };
        let build_node = NodeRef::new(NodeKind::Build, &build.key);
        self.nodes.push(build_node.clone());
        // With tokens on, a sender's trace and build ids are stored as
        // `NAME/ID`: the build says whose it is and its id as sent.
        if let (Some(principal), _) = crate::principal::split_scoped(&facts.trace_id)
            && let Some(sent) = build
                .key
                .strip_prefix(principal)
                .and_then(|rest| rest.strip_prefix('/'))
        {
            self.attr(&build_node, PRINCIPAL_ATTR, principal);
            self.attr(&build_node, SENT_ID_ATTR, sent);
        }
        if let Some(pipeline) = &facts.pipeline {
            self.attr(&build_node, "cicd.pipeline.name", pipeline);
        }
        if let Some(branch) = &facts.branch {
            self.attr(&build_node, "vcs.ref.head.name", branch);
        }
        let repository = facts.repository.as_ref().map(|key| {
            let node = NodeRef::new(NodeKind::Repository, key);
            self.nodes.push(node.clone());
            self.edge(EdgeKind::FromRepository, &build_node, &node, &source);
            node
        });
        if let Some(commit) = &facts.commit {
            let node = NodeRef::new(NodeKind::Commit, commit);
            self.nodes.push(node.clone());
            self.edge(EdgeKind::FromCommit, &build_node, &node, &source);
            if let Some(repository) = &repository {
                self.edge(EdgeKind::InRepository, &node, repository, &source);
            }
        }
        if let Some(gomod) = &facts.gomod {
            let node = NodeRef::new(NodeKind::Gomod, gomod);
            self.nodes.push(node.clone());
            self.edge(EdgeKind::UsedGomod, &build_node, &node, &source);
            if let Some(path) = &facts.go_module {
                self.attr(&node, "go.module.path", path);
            }
            if let Some(version) = &facts.go_version {
                self.attr(&node, "go.module.go_version", version);
            }
            for (kind, modules) in [
                (EdgeKind::Requires, &facts.requires),
                (EdgeKind::RequiresIndirect, &facts.requires_indirect),
            ] {
                for module in modules {
                    let module = NodeRef::new(NodeKind::Module, module);
                    self.nodes.push(module.clone());
                    self.edge(kind, &node, &module, &source);
                }
            }
        }
        for image in &facts.produced {
            let artifact = self.image(image);
            self.edge(EdgeKind::BuiltBy, &artifact, &build_node, &source);
        }
        for image in &facts.runs_in {
            let artifact = self.image(image);
            self.edge(EdgeKind::BuiltWith, &build_node, &artifact, &source);
        }
    }

    /// Sorts and removes duplicates, so that writers touch rows in one order
    /// (no deadlocks between concurrent writers) and each row once.
    pub fn normalize(&mut self) {
        self.nodes.sort();
        self.nodes.dedup();
        self.edges.sort();
        self.edges.dedup();
        self.attrs.sort();
        self.attrs.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::BuildIdSource;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn a_build_span_links_artifact_build_commit_repository_and_gomod() {
        let facts = SpanFacts {
            trace_id: "t".repeat(32),
            span_id: "s".repeat(16),
            sender: "ci".into(),
            commit: Some("c".repeat(40)),
            repository: Some("github.com/acme/calc".into()),
            gomod: Some(digest('9')),
            produced: vec![Image {
                digest: digest('a'),
                names: vec!["ghcr.io/acme/calc".into()],
                tags: vec!["v1".into()],
            }],
            runs_in: vec![Image {
                digest: digest('b'),
                ..Image::default()
            }],
            ..SpanFacts::default()
        };
        let build = BuildChoice {
            source: BuildIdSource::PipelineRunId,
            key: "42".into(),
        };
        let mut derived = Derived::default();
        derived.add(&facts, Some(&build));
        derived.normalize();
        let edges: Vec<(EdgeKind, String, String)> = derived
            .edges
            .iter()
            .map(|e| (e.kind, e.from.key.clone(), e.to.key.clone()))
            .collect();
        assert_eq!(
            edges,
            vec![
                (EdgeKind::BuiltBy, digest('a'), "42".into()),
                (EdgeKind::FromCommit, "42".into(), "c".repeat(40)),
                (
                    EdgeKind::FromRepository,
                    "42".into(),
                    "github.com/acme/calc".into()
                ),
                (
                    EdgeKind::InRepository,
                    "c".repeat(40),
                    "github.com/acme/calc".into()
                ),
                (EdgeKind::UsedGomod, "42".into(), digest('9')),
                (EdgeKind::BuiltWith, "42".into(), digest('b')),
            ]
        );
        assert!(
            derived
                .attrs
                .iter()
                .any(|a| a.name == "container.image.tags" && a.value == "v1")
        );
        assert!(derived.edges.iter().all(|e| e.source.sender == "ci"));
    }

    #[test]
    fn without_a_build_the_resource_image_is_what_a_workload_runs() {
        let facts = SpanFacts {
            trace_id: "t".repeat(32),
            sender: "calc-api".into(),
            runs_in: vec![Image {
                digest: digest('a'),
                ..Image::default()
            }],
            workload: Some(WorkloadIdentity {
                environment: Some("prod".into()),
                namespace: Some("payments".into()),
                name: "calc".into(),
                cluster: None,
            }),
            ..SpanFacts::default()
        };
        let mut derived = Derived::default();
        derived.add(&facts, None);
        assert_eq!(derived.edges.len(), 1);
        assert_eq!(derived.edges[0].kind, EdgeKind::Runs);
        assert_eq!(derived.edges[0].from.key, "prod/payments/calc");
        // The same sighting in a build's trace is the builder image instead.
        let mut derived = Derived::default();
        let build = BuildChoice {
            source: BuildIdSource::TraceId,
            key: "t".repeat(32),
        };
        derived.add(&facts, Some(&build));
        assert_eq!(derived.edges.len(), 1);
        assert_eq!(derived.edges[0].kind, EdgeKind::BuiltWith);
    }

    #[test]
    fn edge_codes_round_trip() {
        for kind in EdgeKind::ALL {
            assert_eq!(EdgeKind::from_code(kind.code()), Some(kind));
        }
    }
}
