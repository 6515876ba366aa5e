//! The lineage index's graph in memory: node and edge ids with their kinds
//! in a petgraph `Graph` (no keys), the map from database ids to graph
//! indexes, and the walks over it (`walk`, the same breadth-first walk as
//! the SQL path; `page`, one page of a hub's nodes).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use petgraph::Direction as Dir;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeRef, VisitMap, Visitable};
use provgraph_model::{EdgeKind, NodeKind};

use crate::lineage::{Bfs, Direction, LineageLimits};
use crate::sql::{CHUNK, LogRow};

const PAGE: i64 = 4096;
const ABSENT: u32 = u32::MAX;
const NO_KIND: u8 = u8::MAX;

/// Database node id -> graph index, in pages of `PAGE` ids: 4 bytes per id
/// in a page that holds any node.
#[derive(Default)]
struct IdMap {
    pages: HashMap<i64, Box<[u32]>>,
}

impl IdMap {
    fn get(&self, id: i64) -> Option<NodeIndex> {
        let page = self.pages.get(&id.div_euclid(PAGE))?;
        let at = page[id.rem_euclid(PAGE) as usize];
        (at != ABSENT).then(|| NodeIndex::new(at as usize))
    }

    fn set(&mut self, id: i64, index: NodeIndex) {
        let page = self
            .pages
            .entry(id.div_euclid(PAGE))
            .or_insert_with(|| vec![ABSENT; PAGE as usize].into_boxed_slice());
        page[id.rem_euclid(PAGE) as usize] = index.index() as u32;
    }
}

fn pack(id: i64, kind: u8) -> u64 {
    ((id as u64) << 8) | u64::from(kind)
}

fn unpack(weight: u64) -> (i64, u8) {
    ((weight >> 8) as i64, (weight & 0xff) as u8)
}

pub(super) fn kind_byte(code: Option<i16>) -> u8 {
    code.and_then(|c| u8::try_from(c).ok())
        .filter(|c| *c != NO_KIND)
        .unwrap_or(NO_KIND)
}

/// One edge of a walk: (id, kind code, from, to).
type WalkEdge = (i64, i16, i64, i64);

/// The adjacency: node weight = database id and kind, edge weight =
/// database id and kind.
#[derive(Default)]
pub(crate) struct Graph {
    g: DiGraph<u64, u64, u32>,
    ids: IdMap,
    /// Changes with every change applied (see [`next_generation`]).
    pub(super) generation: u64,
}

/// A walk's answer before its rows are read.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub order: Vec<i64>,
    pub depth: HashMap<i64, u32>,
    pub edges: Vec<WalkEdge>,
    pub truncated: bool,
}

impl Graph {
    pub(super) fn with_capacity(nodes: usize, edges: usize) -> Graph {
        Graph {
            g: DiGraph::with_capacity(nodes, edges),
            ids: IdMap::default(),
            generation: next_generation(),
        }
    }

    /// Nodes and edges held.
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.g.node_count(), self.g.edge_count())
    }

    pub(super) fn node(&mut self, id: i64, kind: Option<i16>) -> NodeIndex {
        match self.ids.get(id) {
            Some(index) => {
                if let Some(code) = kind {
                    self.g[index] = pack(id, kind_byte(Some(code)));
                }
                index
            }
            None => {
                let index = self.g.add_node(pack(id, kind_byte(kind)));
                self.ids.set(id, index);
                index
            }
        }
    }

    fn find_edge(&self, from: NodeIndex, edge_id: i64) -> Option<EdgeIndex> {
        self.g
            .edges_directed(from, Dir::Outgoing)
            .find(|e| unpack(*e.weight()).0 == edge_id)
            .map(|e| e.id())
    }

    /// Adds an edge unless one with its id already leaves `from` (`dedup`;
    /// the initial load knows every id comes once).
    pub(super) fn add_edge(
        &mut self,
        edge: WalkEdge,
        kinds: (Option<i16>, Option<i16>),
        dedup: bool,
    ) {
        let (id, kind, from, to) = edge;
        let f = self.node(from, kinds.0);
        let t = self.node(to, kinds.1);
        if dedup && let Some(old) = self.find_edge(f, id) {
            if self.g.edge_endpoints(old) == Some((f, t)) {
                return;
            }
            // The id was reused for another edge (SQLite may reuse the
            // largest rowid after a delete): the old one is gone.
            self.g.remove_edge(old);
        }
        self.g.add_edge(f, t, pack(id, kind_byte(Some(kind))));
    }

    fn remove_edge(&mut self, id: i64, from: i64) {
        if let Some(f) = self.ids.get(from)
            && let Some(edge) = self.find_edge(f, id)
        {
            self.g.remove_edge(edge);
        }
    }

    pub(super) fn apply(&mut self, row: &LogRow) {
        if row.added {
            self.add_edge(
                (row.edge_id, row.kind, row.from_id, row.to_id),
                (row.from_kind, row.to_kind),
                true,
            );
        } else {
            self.remove_edge(row.edge_id, row.from_id);
        }
    }

    fn db_id(&self, index: NodeIndex) -> i64 {
        unpack(self.g[index]).0
    }

    /// The edges of `ids` (leaving them `Upstream`, else entering), by
    /// edge id, at most `limit`: what `edges_of` reads for one chunk.
    fn edges_of_chunk(&self, ids: &[i64], direction: Direction, limit: usize) -> Vec<WalkEdge> {
        let dir = petgraph_dir(direction);
        let mut out = Vec::new();
        for id in ids {
            let Some(index) = self.ids.get(*id) else {
                continue;
            };
            for e in self.g.edges_directed(index, dir) {
                let (edge_id, kind) = unpack(*e.weight());
                out.push((
                    edge_id,
                    i16::from(kind),
                    self.db_id(e.source()),
                    self.db_id(e.target()),
                ));
            }
        }
        out.sort_unstable_by_key(|e| e.0);
        out.truncate(limit);
        out
    }

    /// The same breadth-first walk as [`crate::Store::lineage_sql`], over memory:
    /// the same frontier chunks, edge order, limits and truncation, so the
    /// answers are identical.
    pub(crate) fn walk(&self, start: i64, direction: Direction, limits: LineageLimits) -> Walk {
        let mut bfs = Bfs::new(start, direction, limits);
        while let Some((frontier, limit)) = bfs.next_level() {
            let mut found = Vec::new();
            for chunk in frontier.chunks(CHUNK) {
                found.extend(self.edges_of_chunk(chunk, direction, limit));
                if found.len() >= limit {
                    found.truncate(limit);
                    break;
                }
            }
            bfs.absorb(found, limit);
        }
        let bfs = bfs.finish();
        Walk {
            order: bfs.order,
            depth: bfs.depth,
            edges: bfs.edges,
            truncated: bfs.truncated,
        }
    }

    /// One page of the nodes reachable from `start` within `max_depth`, in
    /// (depth, id) order, after `after`, of the given kinds (all when
    /// empty): up to `first` (node id, depth), and whether more follow.
    /// Walks level by level and stops after the level that fills the page;
    /// also says how many nodes it visited.
    pub(crate) fn page(
        &self,
        start: (i64, NodeKind),
        direction: Direction,
        max_depth: u32,
        kinds: &[NodeKind],
        first: usize,
        after: Option<(u32, i64)>,
    ) -> (Vec<(i64, u32)>, bool, usize) {
        self.page_from(&[start], direction, max_depth, kinds, first, after)
    }

    /// As [`Graph::page`], from several start nodes at once: each node at
    /// its distance from the nearest start (the starts at depth 0).
    pub(crate) fn page_from(
        &self,
        starts: &[(i64, NodeKind)],
        direction: Direction,
        max_depth: u32,
        kinds: &[NodeKind],
        first: usize,
        after: Option<(u32, i64)>,
    ) -> (Vec<(i64, u32)>, bool, usize) {
        let wanted =
            |kind: u8| kinds.is_empty() || kinds.iter().any(|k| k.code() == i16::from(kind));
        let dir = petgraph_dir(direction);
        let mut out: Vec<(i64, u32)> = Vec::new();
        let mut visited = self.g.visit_map();
        let mut level = Vec::new();
        // Starts not in the index: nodes without edges, at depth 0 only.
        let mut loose: Vec<i64> = Vec::new();
        for (id, kind) in starts {
            match self.ids.get(*id) {
                Some(index) => {
                    if visited.visit(index) {
                        level.push(index);
                    }
                }
                None => {
                    if wanted(kind_byte(Some(kind.code()))) && !loose.contains(id) {
                        loose.push(*id);
                    }
                }
            }
        }

        let mut depth = 0u32;
        let mut visited_nodes = level.len() + loose.len();
        loop {
            let take = after.is_none_or(|(d, _)| depth >= d);
            if take {
                let at_start = if depth == 0 { loose.as_slice() } else { &[] };
                let mut found: Vec<i64> = level
                    .iter()
                    .map(|i| unpack(self.g[*i]))
                    .filter(|(_, kind)| wanted(*kind))
                    .map(|(id, _)| id)
                    .chain(at_start.iter().copied())
                    .filter(|id| after.is_none_or(|(d, after_id)| depth > d || *id > after_id))
                    .collect();
                let need = first + 1 - out.len();
                if found.len() > need {
                    found.select_nth_unstable(need - 1);
                    found.truncate(need);
                }
                found.sort_unstable();
                out.extend(found.into_iter().map(|id| (id, depth)));
                if out.len() > first {
                    break;
                }
            }
            if depth >= max_depth {
                break;
            }
            let mut next = Vec::new();
            for index in &level {
                for neighbor in self.g.neighbors_directed(*index, dir) {
                    if visited.visit(neighbor) {
                        next.push(neighbor);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            visited_nodes += next.len();
            level = next;
            depth += 1;
        }
        let more = out.len() > first;
        out.truncate(first);
        (out, more, visited_nodes)
    }
}

impl Graph {
    /// The images a vulnerability group affects, by database id, sorted:
    /// the same typed walk as the SQL of `vuln_reads::affected_artifacts`
    /// (AFFECTS to modules, go.mods and images; go.mods requiring an
    /// affected module; builds that used those go.mods; images those builds
    /// made or whose SBOM contains an affected module; image indexes those
    /// images are part of), over memory.
    pub(crate) fn affected(&self, group: &[i64]) -> Vec<i64> {
        let code = |kind: EdgeKind| kind_byte(Some(kind.code()));
        let (affects, requires, indirect, used, built, contains, part_of) = (
            code(EdgeKind::Affects),
            code(EdgeKind::Requires),
            code(EdgeKind::RequiresIndirect),
            code(EdgeKind::UsedGomod),
            code(EdgeKind::BuiltBy),
            code(EdgeKind::Contains),
            code(EdgeKind::PartOf),
        );
        let gomod = kind_byte(Some(NodeKind::Gomod.code()));
        let artifact = kind_byte(Some(NodeKind::Artifact.code()));
        let kind_of = |index: NodeIndex| unpack(self.g[index]).1;
        // The sources of edges of one of `kinds` entering any of `targets`.
        let sources = |targets: &[NodeIndex], kinds: &[u8]| -> Vec<NodeIndex> {
            let mut out = Vec::new();
            for target in targets {
                for e in self.g.edges_directed(*target, Dir::Incoming) {
                    if kinds.contains(&unpack(*e.weight()).1) {
                        out.push(e.source());
                    }
                }
            }
            out
        };
        let mut targets = Vec::new();
        for index in group.iter().filter_map(|id| self.ids.get(*id)) {
            for e in self.g.edges_directed(index, Dir::Outgoing) {
                if unpack(*e.weight()).1 == affects {
                    targets.push(e.target());
                }
            }
        }
        let mut gomods = sources(&targets, &[requires, indirect]);
        gomods.extend(targets.iter().filter(|t| kind_of(**t) == gomod));
        gomods.sort_unstable();
        gomods.dedup();
        let builds = sources(&gomods, &[used]);
        let mut images = sources(&builds, &[built]);
        images.extend(sources(&targets, &[contains]));
        images.extend(targets.iter().filter(|t| kind_of(**t) == artifact));
        let indexes = sources(&images, &[part_of]);
        images.extend(indexes);
        let mut ids: Vec<i64> = images
            .into_iter()
            .filter(|i| kind_of(*i) == artifact)
            .map(|i| self.db_id(i))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Upstream follows edges (from what was made to what it was made from).
fn petgraph_dir(direction: Direction) -> Dir {
    match direction {
        Direction::Upstream => Dir::Outgoing,
        Direction::Downstream => Dir::Incoming,
    }
}

/// Generations of the graph: a new one for every change applied or load,
/// process-wide so that a reloaded graph never reuses one.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

pub(super) fn next_generation() -> u64 {
    GENERATIONS.fetch_add(1, Ordering::Relaxed)
}
