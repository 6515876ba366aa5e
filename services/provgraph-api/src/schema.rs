//! The GraphQL schema: `node` and `lineage` (the contract's core), typed entry
//! points (`artifact`, `commit`, `build`, `repository`, `goMod`, `workload`),
//! and edges with the evidence behind them.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, Error, Object, Result, Schema, SimpleObject,
};
use provgraph_model::{EdgeKind as ModelEdgeKind, NodeKind as ModelNodeKind};
use provgraph_store::{EdgeRow, EvidenceRow, LineageLimits, NodeRow, Store, StoreError};

use crate::ApiLimits;
use crate::time::rfc3339;

/// The schema type served at /graphql.
pub type ProvSchema = Schema<Query, EmptyMutation, EmptySubscription>;

struct Api {
    store: Store,
    limits: ApiLimits,
}

fn api<'a>(ctx: &Context<'a>) -> &'a Api {
    ctx.data_unchecked::<Api>()
}

fn store_error(err: StoreError) -> Error {
    Error::new(err.to_string())
}

/// Builds the schema over `store`.
pub fn build_schema(store: Store, limits: ApiLimits) -> ProvSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .data(Api { store, limits })
        .finish()
}

/// The SDL of the schema.
pub fn sdl() -> String {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}

/// The kinds of node.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A source repository; key: host and path, lower-case (`github.com/acme/calc`).
    Repository,
    /// A commit; key: the SHA in lower-case hex.
    Commit,
    /// A go.mod file by content; key: `sha256:` and 64 hex digits.
    Gomod,
    /// A CI build (pipeline run); key: the build id as given, else the trace id.
    Build,
    /// An image or other artifact; key: its digest, `sha256:` and 64 hex digits.
    Artifact,
    /// A running workload; key: `ENVIRONMENT/NAMESPACE/NAME`, `-` for an absent part.
    Workload,
}

impl From<NodeKind> for ModelNodeKind {
    fn from(kind: NodeKind) -> ModelNodeKind {
        match kind {
            NodeKind::Repository => ModelNodeKind::Repository,
            NodeKind::Commit => ModelNodeKind::Commit,
            NodeKind::Gomod => ModelNodeKind::Gomod,
            NodeKind::Build => ModelNodeKind::Build,
            NodeKind::Artifact => ModelNodeKind::Artifact,
            NodeKind::Workload => ModelNodeKind::Workload,
        }
    }
}

impl From<ModelNodeKind> for NodeKind {
    fn from(kind: ModelNodeKind) -> NodeKind {
        match kind {
            ModelNodeKind::Repository => NodeKind::Repository,
            ModelNodeKind::Commit => NodeKind::Commit,
            ModelNodeKind::Gomod => NodeKind::Gomod,
            ModelNodeKind::Build => NodeKind::Build,
            ModelNodeKind::Artifact => NodeKind::Artifact,
            ModelNodeKind::Workload => NodeKind::Workload,
        }
    }
}

/// Which way `lineage` walks.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Toward what a node was made from: artifact -> build -> commit -> repository, go.mod.
    Upstream,
    /// Toward what was made from a node: commit -> builds -> artifacts -> workloads.
    Downstream,
}

/// The kinds of edge; each points from what was made to what it was made from.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl From<ModelEdgeKind> for EdgeKind {
    fn from(kind: ModelEdgeKind) -> EdgeKind {
        match kind {
            ModelEdgeKind::BuiltBy => EdgeKind::BuiltBy,
            ModelEdgeKind::FromCommit => EdgeKind::FromCommit,
            ModelEdgeKind::FromRepository => EdgeKind::FromRepository,
            ModelEdgeKind::InRepository => EdgeKind::InRepository,
            ModelEdgeKind::UsedGomod => EdgeKind::UsedGomod,
            ModelEdgeKind::BuiltWith => EdgeKind::BuiltWith,
            ModelEdgeKind::Runs => EdgeKind::Runs,
        }
    }
}

/// How an edge is known.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvidenceKind {
    /// An OpenTelemetry span said so: an unsigned claim by whoever sent it.
    Claimed,
}

/// A name and value attached to a node (a node may carry several values of
/// one name, such as several tags).
#[derive(SimpleObject, Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// One assertion of an edge.
#[derive(SimpleObject, Clone, Debug)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The trace that asserted it (32 hex digits).
    pub trace_id: String,
    /// The span that asserted it, or null when the trace as a whole did
    /// (a process's resource naming the image it runs in).
    pub span_id: Option<String>,
    /// `service.name` of the sender.
    pub sender: String,
    /// When provgraph first and last received it (RFC 3339, UTC).
    pub first_seen: String,
    pub last_seen: String,
}

impl From<EvidenceRow> for Evidence {
    fn from(row: EvidenceRow) -> Evidence {
        Evidence {
            kind: EvidenceKind::Claimed,
            trace_id: row.trace_id,
            span_id: (!row.span_id.is_empty()).then_some(row.span_id),
            sender: row.sender,
            first_seen: rfc3339(row.first_seen),
            last_seen: rfc3339(row.last_seen),
        }
    }
}

/// A node of the provenance graph.
#[derive(Clone, Debug)]
pub struct Node {
    row: NodeRow,
    /// Attributes, when loaded with the rest of an answer.
    attributes: Option<Arc<Vec<Attribute>>>,
}

impl Node {
    fn new(row: NodeRow) -> Node {
        Node {
            row,
            attributes: None,
        }
    }
}

#[Object]
impl Node {
    async fn kind(&self) -> NodeKind {
        self.row.kind.into()
    }

    /// The normalized key (see NodeKind for each kind's form).
    async fn key(&self) -> &str {
        &self.row.key
    }

    /// When provgraph first and last received a fact naming this node
    /// (RFC 3339, UTC); for a workload, lastSeen is when it was last seen
    /// running.
    async fn first_seen(&self) -> String {
        rfc3339(self.row.first_seen)
    }

    async fn last_seen(&self) -> String {
        rfc3339(self.row.last_seen)
    }

    /// Attributes: pipeline name and branch of a build, names and tags of
    /// an image, namespace and environment of a workload.
    async fn attributes(&self, ctx: &Context<'_>) -> Result<Vec<Attribute>> {
        if let Some(attributes) = &self.attributes {
            return Ok(attributes.as_ref().clone());
        }
        let rows = api(ctx)
            .store
            .attributes(&[self.row.id])
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(_, name, value)| Attribute { name, value })
            .collect())
    }
}

/// An edge, from what was made to what it was made from.
#[derive(Clone, Debug)]
pub struct Edge {
    row: EdgeRow,
    from: Node,
    to: Node,
    evidence: Option<Arc<Vec<Evidence>>>,
}

#[Object]
impl Edge {
    async fn kind(&self) -> EdgeKind {
        self.row.kind.into()
    }

    async fn from(&self) -> &Node {
        &self.from
    }

    async fn to(&self) -> &Node {
        &self.to
    }

    async fn first_seen(&self) -> String {
        rfc3339(self.row.first_seen)
    }

    async fn last_seen(&self) -> String {
        rfc3339(self.row.last_seen)
    }

    /// Who asserted this edge, oldest first: says who, and how.
    async fn evidence(&self, ctx: &Context<'_>) -> Result<Vec<Evidence>> {
        if let Some(evidence) = &self.evidence {
            return Ok(evidence.as_ref().clone());
        }
        let rows = api(ctx)
            .store
            .evidence(&[self.row.id])
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(Evidence::from).collect())
    }
}

/// A lineage answer.
#[derive(SimpleObject, Clone, Debug)]
pub struct Subgraph {
    /// The start node first, then the others by distance from it.
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// True when the answer was cut at the node limit; ask from a node
    /// further along, or with a smaller maxDepth.
    pub truncated: bool,
}

fn normalize(kind: ModelNodeKind, raw: &str) -> Result<String> {
    kind.normalize(raw)
        .map_err(|err| Error::new(err.to_string()))
}

async fn find(ctx: &Context<'_>, kind: ModelNodeKind, raw: &str) -> Result<Option<NodeRow>> {
    let key = normalize(kind, raw)?;
    api(ctx).store.node(kind, &key).await.map_err(store_error)
}

/// The nodes one hop from `ids`: along edges (`outgoing`) or against them.
async fn hop(
    ctx: &Context<'_>,
    ids: &[i64],
    outgoing: bool,
    kinds: &[ModelEdgeKind],
) -> Result<Vec<NodeRow>> {
    let api = api(ctx);
    let limit = api.limits.max_list as i64;
    let edges = api
        .store
        .edges(ids, outgoing, kinds, 0, limit)
        .await
        .map_err(store_error)?;
    let mut others: Vec<i64> = Vec::with_capacity(edges.len());
    for edge in edges {
        let other = if outgoing { edge.to_id } else { edge.from_id };
        if !others.contains(&other) {
            others.push(other);
        }
    }
    let mut nodes = api.store.nodes(&others).await.map_err(store_error)?;
    nodes.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(nodes)
}

async fn attribute_values(ctx: &Context<'_>, id: i64, name: &str) -> Result<Vec<String>> {
    let rows = api(ctx)
        .store
        .attributes(&[id])
        .await
        .map_err(store_error)?;
    Ok(rows
        .into_iter()
        .filter(|(_, n, _)| n == name)
        .map(|(_, _, v)| v)
        .collect())
}

fn ids(rows: &[NodeRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

use ModelEdgeKind as E;

/// An artifact (an image, by digest) with what it was built from and what
/// runs it.
#[derive(Clone, Debug)]
pub struct Artifact {
    row: NodeRow,
}

#[Object]
impl Artifact {
    /// `sha256:` and 64 hex digits.
    async fn digest(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// Repository names it was pushed as.
    async fn names(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "container.image.name").await
    }

    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "container.image.tags").await
    }

    /// The builds that produced it.
    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        Ok(hop(ctx, &[self.row.id], true, &[E::BuiltBy])
            .await?
            .into_iter()
            .map(|row| Build { row })
            .collect())
    }

    /// The commits its builds built.
    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        Ok(hop(ctx, &ids(&builds), true, &[E::FromCommit])
            .await?
            .into_iter()
            .map(|row| Commit { row })
            .collect())
    }

    /// The repositories its builds built from.
    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        let mut repos = hop(ctx, &ids(&builds), true, &[E::FromRepository]).await?;
        let commits = hop(ctx, &ids(&builds), true, &[E::FromCommit]).await?;
        for repo in hop(ctx, &ids(&commits), true, &[E::InRepository]).await? {
            if !repos.iter().any(|r| r.id == repo.id) {
                repos.push(repo);
            }
        }
        Ok(repos.into_iter().map(|row| Repository { row }).collect())
    }

    /// The go.mod files its builds used.
    async fn go_mods(&self, ctx: &Context<'_>) -> Result<Vec<GoMod>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        Ok(hop(ctx, &ids(&builds), true, &[E::UsedGomod])
            .await?
            .into_iter()
            .map(|row| GoMod { row })
            .collect())
    }

    /// The workloads seen running it.
    async fn workloads(&self, ctx: &Context<'_>) -> Result<Vec<Workload>> {
        Ok(hop(ctx, &[self.row.id], false, &[E::Runs])
            .await?
            .into_iter()
            .map(|row| Workload { row })
            .collect())
    }

    /// Builds that ran inside this image (it was their builder).
    async fn builder_of(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        Ok(hop(ctx, &[self.row.id], false, &[E::BuiltWith])
            .await?
            .into_iter()
            .map(|row| Build { row })
            .collect())
    }
}

/// A CI build (one pipeline run).
#[derive(Clone, Debug)]
pub struct Build {
    row: NodeRow,
}

#[Object]
impl Build {
    /// The build id (`cicd.pipeline.run.id`, `build.id`, else the trace id).
    async fn id(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// `cicd.pipeline.name` values seen for this build.
    async fn pipelines(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "cicd.pipeline.name").await
    }

    /// Branches (`vcs.ref.head.name`) seen for this build.
    async fn branches(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "vcs.ref.head.name").await
    }

    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        Ok(hop(ctx, &[self.row.id], true, &[E::FromCommit])
            .await?
            .into_iter()
            .map(|row| Commit { row })
            .collect())
    }

    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        Ok(hop(ctx, &[self.row.id], true, &[E::FromRepository])
            .await?
            .into_iter()
            .map(|row| Repository { row })
            .collect())
    }

    async fn go_mods(&self, ctx: &Context<'_>) -> Result<Vec<GoMod>> {
        Ok(hop(ctx, &[self.row.id], true, &[E::UsedGomod])
            .await?
            .into_iter()
            .map(|row| GoMod { row })
            .collect())
    }

    /// The artifacts it produced.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        Ok(hop(ctx, &[self.row.id], false, &[E::BuiltBy])
            .await?
            .into_iter()
            .map(|row| Artifact { row })
            .collect())
    }

    /// The images it ran in (inputs, not outputs).
    async fn builder_images(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        Ok(hop(ctx, &[self.row.id], true, &[E::BuiltWith])
            .await?
            .into_iter()
            .map(|row| Artifact { row })
            .collect())
    }
}

/// A commit.
#[derive(Clone, Debug)]
pub struct Commit {
    row: NodeRow,
}

#[Object]
impl Commit {
    async fn sha(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        Ok(hop(ctx, &[self.row.id], true, &[E::InRepository])
            .await?
            .into_iter()
            .map(|row| Repository { row })
            .collect())
    }

    /// Builds of this commit.
    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        Ok(hop(ctx, &[self.row.id], false, &[E::FromCommit])
            .await?
            .into_iter()
            .map(|row| Build { row })
            .collect())
    }

    /// Artifacts built from this commit.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::FromCommit]).await?;
        Ok(hop(ctx, &ids(&builds), false, &[E::BuiltBy])
            .await?
            .into_iter()
            .map(|row| Artifact { row })
            .collect())
    }

    /// Workloads running an artifact built from this commit.
    async fn workloads(&self, ctx: &Context<'_>) -> Result<Vec<Workload>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::FromCommit]).await?;
        let artifacts = hop(ctx, &ids(&builds), false, &[E::BuiltBy]).await?;
        Ok(hop(ctx, &ids(&artifacts), false, &[E::Runs])
            .await?
            .into_iter()
            .map(|row| Workload { row })
            .collect())
    }
}

/// A source repository.
#[derive(Clone, Debug)]
pub struct Repository {
    row: NodeRow,
}

#[Object]
impl Repository {
    /// Host and path, lower-case: `github.com/acme/calc`.
    async fn key(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        Ok(hop(ctx, &[self.row.id], false, &[E::InRepository])
            .await?
            .into_iter()
            .map(|row| Commit { row })
            .collect())
    }

    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        Ok(hop(ctx, &[self.row.id], false, &[E::FromRepository])
            .await?
            .into_iter()
            .map(|row| Build { row })
            .collect())
    }
}

/// A go.mod file, by the SHA-256 of its content.
#[derive(Clone, Debug)]
pub struct GoMod {
    row: NodeRow,
}

#[Object]
impl GoMod {
    /// `sha256:` and 64 hex digits.
    async fn hash(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        Ok(hop(ctx, &[self.row.id], false, &[E::UsedGomod])
            .await?
            .into_iter()
            .map(|row| Build { row })
            .collect())
    }

    /// Artifacts built with this go.mod.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::UsedGomod]).await?;
        Ok(hop(ctx, &ids(&builds), false, &[E::BuiltBy])
            .await?
            .into_iter()
            .map(|row| Artifact { row })
            .collect())
    }
}

/// A running workload, as its telemetry resource describes it.
#[derive(Clone, Debug)]
pub struct Workload {
    row: NodeRow,
}

#[Object]
impl Workload {
    /// `ENVIRONMENT/NAMESPACE/NAME`, `-` for an absent part.
    async fn key(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// When it was last seen running (RFC 3339, UTC).
    async fn last_seen(&self) -> String {
        rfc3339(self.row.last_seen)
    }

    /// The images it was seen running.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        Ok(hop(ctx, &[self.row.id], true, &[E::Runs])
            .await?
            .into_iter()
            .map(|row| Artifact { row })
            .collect())
    }
}

/// The query root.
#[derive(Debug, Default)]
pub struct Query;

#[Object]
impl Query {
    /// One node, or null.
    async fn node(&self, ctx: &Context<'_>, kind: NodeKind, key: String) -> Result<Option<Node>> {
        Ok(find(ctx, kind.into(), &key).await?.map(Node::new))
    }

    /// The subgraph reachable from one node. UPSTREAM walks toward what it was made
    /// from (artifact -> build -> commit -> repository, go.mod); DOWNSTREAM walks
    /// toward what was made from it (commit -> builds -> artifacts -> workloads).
    /// maxDepth: edges to follow from the start node at most (default 16, at most 64).
    #[graphql(complexity = "10 + child_complexity * 10")]
    async fn lineage(
        &self,
        ctx: &Context<'_>,
        kind: NodeKind,
        key: String,
        direction: Direction,
        max_depth: Option<i32>,
    ) -> Result<Subgraph> {
        let api = api(ctx);
        let max_depth = match max_depth {
            None => api.limits.default_lineage_depth,
            Some(depth) if depth < 0 => return Err(Error::new("maxDepth must be 0 or more")),
            Some(depth) => (depth as u32).min(api.limits.max_lineage_depth),
        };
        let Some(start) = find(ctx, kind.into(), &key).await? else {
            return Ok(Subgraph {
                nodes: Vec::new(),
                edges: Vec::new(),
                truncated: false,
            });
        };
        let direction = match direction {
            Direction::Upstream => provgraph_store::Direction::Upstream,
            Direction::Downstream => provgraph_store::Direction::Downstream,
        };
        let limits = LineageLimits {
            max_depth,
            max_nodes: api.limits.max_lineage_nodes,
        };
        let sub = api
            .store
            .lineage(&start, direction, limits)
            .await
            .map_err(store_error)?;
        let look = ctx.look_ahead();
        let want_attributes = look.field("nodes").field("attributes").exists()
            || look
                .field("edges")
                .field("from")
                .field("attributes")
                .exists()
            || look.field("edges").field("to").field("attributes").exists();
        let want_evidence = look.field("edges").field("evidence").exists();
        let mut attributes: HashMap<i64, Vec<Attribute>> = HashMap::new();
        if want_attributes {
            let node_ids: Vec<i64> = sub.nodes.iter().map(|n| n.id).collect();
            for (id, name, value) in api.store.attributes(&node_ids).await.map_err(store_error)? {
                attributes
                    .entry(id)
                    .or_default()
                    .push(Attribute { name, value });
            }
        }
        let nodes: HashMap<i64, Node> = sub
            .nodes
            .iter()
            .map(|row| {
                let attrs = want_attributes
                    .then(|| Arc::new(attributes.remove(&row.id).unwrap_or_default()));
                (
                    row.id,
                    Node {
                        row: row.clone(),
                        attributes: attrs,
                    },
                )
            })
            .collect();
        let mut evidence: HashMap<i64, Vec<Evidence>> = HashMap::new();
        if want_evidence {
            let edge_ids: Vec<i64> = sub.edges.iter().map(|e| e.id).collect();
            for row in api.store.evidence(&edge_ids).await.map_err(store_error)? {
                evidence.entry(row.edge_id).or_default().push(row.into());
            }
        }
        let edges = sub
            .edges
            .iter()
            .filter_map(|row| {
                Some(Edge {
                    row: row.clone(),
                    from: nodes.get(&row.from_id)?.clone(),
                    to: nodes.get(&row.to_id)?.clone(),
                    evidence: want_evidence
                        .then(|| Arc::new(evidence.remove(&row.id).unwrap_or_default())),
                })
            })
            .collect();
        let ordered = sub
            .nodes
            .iter()
            .filter_map(|row| nodes.get(&row.id).cloned())
            .collect();
        Ok(Subgraph {
            nodes: ordered,
            edges,
            truncated: sub.truncated,
        })
    }

    /// An artifact by digest (`sha256:` and 64 hex digits), or null.
    async fn artifact(&self, ctx: &Context<'_>, digest: String) -> Result<Option<Artifact>> {
        Ok(find(ctx, ModelNodeKind::Artifact, &digest)
            .await?
            .map(|row| Artifact { row }))
    }

    /// A commit by SHA (40 or 64 hex digits, any case), or null.
    async fn commit(&self, ctx: &Context<'_>, sha: String) -> Result<Option<Commit>> {
        Ok(find(ctx, ModelNodeKind::Commit, &sha)
            .await?
            .map(|row| Commit { row }))
    }

    /// A build by id, or null.
    async fn build(&self, ctx: &Context<'_>, id: String) -> Result<Option<Build>> {
        Ok(find(ctx, ModelNodeKind::Build, &id)
            .await?
            .map(|row| Build { row }))
    }

    /// A repository by URL in any usual form (https, ssh, scp-like), or null.
    async fn repository(&self, ctx: &Context<'_>, url: String) -> Result<Option<Repository>> {
        Ok(find(ctx, ModelNodeKind::Repository, &url)
            .await?
            .map(|row| Repository { row }))
    }

    /// A go.mod by hash (hex as `sha256sum go.mod` prints it, or `sha256:<hex>`), or null.
    async fn go_mod(&self, ctx: &Context<'_>, hash: String) -> Result<Option<GoMod>> {
        Ok(find(ctx, ModelNodeKind::Gomod, &hash)
            .await?
            .map(|row| GoMod { row }))
    }

    /// A workload by key (`ENVIRONMENT/NAMESPACE/NAME`), or null.
    async fn workload(&self, ctx: &Context<'_>, key: String) -> Result<Option<Workload>> {
        Ok(find(ctx, ModelNodeKind::Workload, &key)
            .await?
            .map(|row| Workload { row }))
    }
}
