//! Graph and lineage: `node`, `lineage`, `lineagePage`, and the nodes,
//! edges and evidence they answer with.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Error, Object, Result, SimpleObject};
use provgraph_store::{EdgeRow, EvidenceRow, LineageLimits, NodeRow};

use super::batch::batches;
use super::cursor::{page_cursor, parse_page_cursor};
use super::enums::{Direction, EdgeKind, EvidenceKind, NodeKind, Support};
use super::signatures::{Proof, proofs_by_edge};
use super::{Api, api, find, store_error};
use crate::time::rfc3339;

/// A name and value attached to a node (a node may carry several values of
/// one name, such as several tags).
#[derive(SimpleObject, Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// One assertion of an edge.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The trace that asserted it (32 hex digits).
    pub trace_id: String,
    /// The ingest token (its name) that sent it, when ingest is
    /// authenticated; null for what arrived unauthenticated.
    pub principal: Option<String>,
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
        let (principal, trace_id) = provgraph_model::principal::split_scoped(&row.trace_id);
        Evidence {
            kind: if trace_id.starts_with("sbom:") {
                EvidenceKind::Sbom
            } else {
                EvidenceKind::Claimed
            },
            principal: principal.map(str::to_string),
            trace_id: trace_id.to_string(),
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
    pub(super) row: NodeRow,
    /// Attributes, when loaded with the rest of an answer.
    pub(super) attributes: Option<Arc<Vec<Attribute>>>,
}

impl Node {
    pub(super) fn new(row: NodeRow) -> Node {
        Node {
            row,
            attributes: None,
        }
    }
}

#[Object]
impl Node {
    async fn kind(&self) -> NodeKind {
        self.row.kind
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
        let rows = batches(ctx)?.attributes(self.row.id).await?;
        Ok(rows
            .iter()
            .map(|(name, value)| Attribute {
                name: name.clone(),
                value: value.clone(),
            })
            .collect())
    }
}

/// An edge, from what was made to what it was made from.
#[derive(Clone, Debug)]
pub struct Edge {
    pub(super) row: EdgeRow,
    pub(super) from: Node,
    pub(super) to: Node,
    /// The first [`EVIDENCE_LOADED`] evidence rows and the count of all,
    /// when loaded with the rest of an answer.
    pub(super) evidence: Option<Arc<Vec<Evidence>>>,
    pub(super) evidence_count: Option<i64>,
    pub(super) proofs: Arc<Vec<Proof>>,
}

/// Evidence rows an edge shows unless `first` asks for another number
/// (issue #13: one edge asserted by 100,001 traces answered 4.7 MB).
pub const EVIDENCE_DEFAULT: usize = 100;

/// Evidence rows loaded per edge with a whole answer; `first` past it reads
/// the edge again.
const EVIDENCE_LOADED: usize = EVIDENCE_DEFAULT;

impl Edge {
    /// The edge's first `first` evidence rows and the count of all.
    async fn read_evidence(&self, ctx: &Context<'_>, first: usize) -> Result<(Vec<Evidence>, i64)> {
        if let (Some(loaded), Some(count)) = (&self.evidence, self.evidence_count)
            && (first <= loaded.len() || loaded.len() as i64 >= count)
        {
            return Ok((loaded.iter().take(first).cloned().collect(), count));
        }
        let (rows, counts) = api(ctx)
            .store
            .evidence_capped(&[self.row.id], first)
            .await
            .map_err(store_error)?;
        let count = counts.first().map_or(0, |(_, count)| *count);
        Ok((rows.into_iter().map(Evidence::from).collect(), count))
    }
}

#[Object]
impl Edge {
    async fn kind(&self) -> EdgeKind {
        self.row.kind
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

    /// Who asserted this edge, oldest first: says who, and how. At most
    /// `first` (default 100, at most the list limit, 1,000) of them;
    /// `evidenceCount` says how many there are.
    async fn evidence(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Evidence>> {
        let cap = api(ctx).limits.max_list;
        let first = match first {
            None => EVIDENCE_DEFAULT.min(cap),
            Some(n) if n < 0 => return Err(Error::new("first must not be negative")),
            Some(n) => (n as usize).min(cap),
        };
        Ok(self.read_evidence(ctx, first).await?.0)
    }

    /// How many evidence rows assert this edge (one per trace and span),
    /// however many `evidence` lists.
    async fn evidence_count(&self, ctx: &Context<'_>) -> Result<i64> {
        if let Some(count) = self.evidence_count {
            return Ok(count);
        }
        Ok(self.read_evidence(ctx, 0).await?.1)
    }

    /// Signatures and attestations that prove (or, failing verification,
    /// merely state) this edge.
    async fn proofs(&self) -> &[Proof] {
        &self.proofs
    }

    /// Claimed by spans, proven by verified evidence, or both. PART_OF is
    /// always PROVEN: the index's digest binds the list of its manifests.
    async fn support(&self, ctx: &Context<'_>) -> Result<Support> {
        if self.row.kind == EdgeKind::PartOf {
            return Ok(Support::Proven);
        }
        // A RUNS edge stands on a sighting row (telemetry's claim), not on
        // evidence rows.
        let claimed = self.row.kind == EdgeKind::Runs
            || match self.evidence_count {
                Some(count) => count > 0,
                None => self.read_evidence(ctx, 0).await?.1 > 0,
            };
        let proven = self.proofs.iter().any(|p| p.signature.row.verified);
        Ok(match (claimed, proven) {
            (true, true) => Support::Both,
            (false, true) => Support::Proven,
            (true, false) => Support::Claimed,
            (false, false) => Support::Unverified,
        })
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

/// What to load with a lineage answer, each in one query for the whole
/// answer.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Want {
    pub attributes: bool,
    pub evidence: bool,
    pub proofs: bool,
}

impl Subgraph {
    /// The store's answer as GraphQL objects, with what is wanted loaded.
    pub(super) async fn load(
        api: &Api,
        sub: provgraph_store::Subgraph,
        want: Want,
    ) -> Result<Subgraph> {
        let mut attributes: HashMap<i64, Vec<Attribute>> = HashMap::new();
        if want.attributes {
            let node_ids: Vec<i64> = sub.nodes.iter().map(|n| n.id).collect();
            for row in api.store.attributes(&node_ids).await.map_err(store_error)? {
                attributes.entry(row.node_id).or_default().push(Attribute {
                    name: row.name,
                    value: row.value,
                });
            }
        }
        let nodes: HashMap<i64, Node> = sub
            .nodes
            .iter()
            .map(|row| {
                let attrs = want
                    .attributes
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
        let mut counts: HashMap<i64, i64> = HashMap::new();
        if want.evidence {
            let edge_ids: Vec<i64> = sub.edges.iter().map(|e| e.id).collect();
            let (rows, totals) = api
                .store
                .evidence_capped(&edge_ids, EVIDENCE_LOADED)
                .await
                .map_err(store_error)?;
            for row in rows {
                evidence.entry(row.edge_id).or_default().push(row.into());
            }
            counts.extend(totals);
        }
        let mut proofs = if want.proofs {
            proofs_by_edge(api, &sub.edges).await?
        } else {
            HashMap::new()
        };
        let edges = sub
            .edges
            .iter()
            .filter_map(|row| {
                Some(Edge {
                    row: row.clone(),
                    from: nodes.get(&row.from_id)?.clone(),
                    to: nodes.get(&row.to_id)?.clone(),
                    evidence: want
                        .evidence
                        .then(|| Arc::new(evidence.remove(&row.id).unwrap_or_default())),
                    evidence_count: want
                        .evidence
                        .then(|| counts.get(&row.id).copied().unwrap_or(0)),
                    proofs: Arc::new(proofs.remove(&row.id).unwrap_or_default()),
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

    /// No nodes, no edges.
    pub(super) fn empty() -> Subgraph {
        Subgraph {
            nodes: Vec::new(),
            edges: Vec::new(),
            truncated: false,
        }
    }
}

/// One node of a lineage page, with its distance from the start.
#[derive(SimpleObject, Clone, Debug)]
pub struct LineageNodeEdge {
    /// Opaque; pass it as `after` to read on from this node.
    pub cursor: String,
    pub node: Node,
    /// Edges from the start node.
    pub depth: i32,
}

/// Where a page stands.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// The cursor of the page's last node.
    pub end_cursor: Option<String>,
}

/// A page of a lineage walk (Relay connection style).
#[derive(SimpleObject, Clone, Debug)]
pub struct LineageConnection {
    pub edges: Vec<LineageNodeEdge>,
    pub page_info: PageInfo,
}

/// `node`, `lineage` and `lineagePage`.
#[derive(Debug, Default)]
pub struct GraphQuery;

#[Object]
impl GraphQuery {
    /// One node, or null.
    async fn node(&self, ctx: &Context<'_>, kind: NodeKind, key: String) -> Result<Option<Node>> {
        Ok(find(ctx, kind, &key).await?.map(Node::new))
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
        let max_depth = api.max_depth(max_depth)?;
        let Some(start) = find(ctx, kind, &key).await? else {
            return Ok(Subgraph::empty());
        };
        let limits = LineageLimits {
            max_depth,
            max_nodes: api.limits.max_lineage_nodes,
        };
        let sub = api
            .store
            .lineage(&start, direction.into(), limits)
            .await
            .map_err(store_error)?;
        let look = ctx.look_ahead();
        let edges = look.field("edges");
        let want = Want {
            attributes: look.field("nodes").field("attributes").exists()
                || edges.field("from").field("attributes").exists()
                || edges.field("to").field("attributes").exists(),
            // `support` reads whether an edge has evidence: one query for
            // the whole answer rather than one per edge.
            evidence: edges.field("evidence").exists()
                || edges.field("evidenceCount").exists()
                || edges.field("support").exists(),
            proofs: edges.field("proofs").exists() || edges.field("support").exists(),
        };
        Subgraph::load(api, sub, want).await
    }

    /// Everything reachable from one node, a page at a time, nearest first
    /// (by depth, then in a fixed order within a depth), without the node
    /// cap of `lineage`: for hubs, such as every image built from a
    /// repository (`kind: REPOSITORY, direction: DOWNSTREAM, kinds:
    /// [ARTIFACT]`). kinds: only nodes of these kinds in the pages (the walk
    /// still passes through the others). first: nodes per page (default 100,
    /// at most the list limit, 1,000). after: the previous page's
    /// `endCursor`; cursors stay valid as the graph grows. maxDepth as for
    /// `lineage`.
    #[graphql(complexity = "10 + child_complexity * 10")]
    #[allow(clippy::too_many_arguments)]
    async fn lineage_page(
        &self,
        ctx: &Context<'_>,
        kind: NodeKind,
        key: String,
        direction: Direction,
        max_depth: Option<i32>,
        kinds: Option<Vec<NodeKind>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<LineageConnection> {
        let api = api(ctx);
        let max_depth = api.max_depth(max_depth)?;
        let first = match first {
            None => 100.min(api.limits.max_list),
            Some(n) if n < 0 => return Err(Error::new("first must be 0 or more")),
            Some(n) if n as usize > api.limits.max_list => {
                return Err(Error::new(format!(
                    "first must be at most {}",
                    api.limits.max_list
                )));
            }
            Some(n) => n as usize,
        };
        let after = after.as_deref().map(parse_page_cursor).transpose()?;
        let empty = LineageConnection {
            edges: Vec::new(),
            page_info: PageInfo {
                has_next_page: false,
                end_cursor: None,
            },
        };
        let Some(start) = find(ctx, kind, &key).await? else {
            return Ok(empty);
        };
        let request = provgraph_store::PageRequest {
            direction: direction.into(),
            max_depth,
            kinds: kinds.unwrap_or_default(),
            first,
            after,
            sql_max_nodes: api.limits.max_lineage_nodes,
        };
        let page = api
            .store
            .lineage_page(&start, &request)
            .await
            .map_err(store_error)?;
        let edges: Vec<LineageNodeEdge> = page
            .nodes
            .into_iter()
            .map(|(row, depth)| LineageNodeEdge {
                cursor: page_cursor(depth, row.id),
                depth: depth as i32,
                node: Node::new(row),
            })
            .collect();
        let end_cursor = edges.last().map(|e| e.cursor.clone());
        Ok(LineageConnection {
            edges,
            page_info: PageInfo {
                has_next_page: page.has_next,
                end_cursor,
            },
        })
    }
}
