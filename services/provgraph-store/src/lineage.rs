//! Lineage: the subgraph reachable from one node, walked breadth-first one
//! depth at a time. From the in-memory index (`index/`) when it is loaded
//! and can vouch for the answer; else with one query per depth (the frontier
//! as an id list), so that cost follows the size of the answer, never the
//! size of the graph. Both give the same answer (tested).

use std::collections::{HashMap, HashSet};

use crate::{EdgeRow, NodeRow, Store, StoreError};

/// Which way to walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Toward what a node was made from (follows edges).
    Upstream,
    /// Toward what was made from a node (walks edges backwards).
    Downstream,
}

impl Direction {
    /// The end of an edge (from what was made, to what it was made from)
    /// that a step in this direction reaches.
    pub(crate) fn far_end(self, from: i64, to: i64) -> i64 {
        match self {
            Direction::Upstream => to,
            Direction::Downstream => from,
        }
    }
}

/// Bounds on one lineage walk.
#[derive(Clone, Copy, Debug)]
pub struct LineageLimits {
    /// Edges followed from the start node, at most.
    pub max_depth: u32,
    /// Nodes in the answer, at most; a walk that would pass it stops and
    /// says the answer is truncated.
    pub max_nodes: usize,
}

/// A lineage answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subgraph {
    /// The start node first, then by depth.
    pub nodes: Vec<NodeRow>,
    /// Depth of each node (by id) from the start.
    pub depth: HashMap<i64, u32>,
    pub edges: Vec<EdgeRow>,
    /// True when `max_nodes` cut the walk short.
    pub truncated: bool,
}

impl Store {
    /// The subgraph reachable from `start` in `direction`: from the index
    /// when it can answer, else with SQL.
    pub async fn lineage(
        &self,
        start: &NodeRow,
        direction: Direction,
        limits: LineageLimits,
    ) -> Result<Subgraph, StoreError> {
        if let Some(answer) = self.lineage_indexed(start, direction, limits).await? {
            return Ok(answer);
        }
        self.lineage_sql(start, direction, limits).await
    }

    /// The subgraph reachable from `start` in `direction`, one SQL query per
    /// depth: the reference the index is tested against.
    pub async fn lineage_sql(
        &self,
        start: &NodeRow,
        direction: Direction,
        limits: LineageLimits,
    ) -> Result<Subgraph, StoreError> {
        let mut bfs = Bfs::new(start.id, direction, limits);
        while let Some((frontier, limit)) = bfs.next_level() {
            let found = self
                .edges(&frontier, direction, &[], 0, limit as i64)
                .await?;
            bfs.absorb(found, limit);
        }
        let Bfs {
            order,
            depth,
            edges,
            truncated,
            ..
        } = bfs.finish();
        let mut nodes = self.nodes(&order).await?;
        let position: HashMap<i64, usize> =
            order.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        nodes.sort_by_key(|n| position.get(&n.id).copied().unwrap_or(usize::MAX));
        Ok(Subgraph {
            nodes,
            depth,
            edges,
            truncated,
        })
    }
}

/// An edge as a walk sees it: (edge id, from, to).
pub(crate) trait Ends {
    fn ends(&self) -> (i64, i64, i64);
}

impl Ends for EdgeRow {
    fn ends(&self) -> (i64, i64, i64) {
        (self.id, self.from_id, self.to_id)
    }
}

/// (edge id, kind, from, to), as the index keeps it.
impl Ends for (i64, i16, i64, i64) {
    fn ends(&self) -> (i64, i64, i64) {
        (self.0, self.2, self.3)
    }
}

/// The breadth-first walk both lineage paths run (SQL and the index), so
/// that they agree by construction on depths, order, edge limits and
/// truncation: only how a level's edges are read differs.
pub(crate) struct Bfs<E> {
    /// Node ids in the order reached, the start first.
    pub order: Vec<i64>,
    pub depth: HashMap<i64, u32>,
    pub edges: Vec<E>,
    pub truncated: bool,
    seen_edges: HashSet<i64>,
    frontier: Vec<i64>,
    level: u32,
    direction: Direction,
    limits: LineageLimits,
}

impl<E: Ends> Bfs<E> {
    pub(crate) fn new(start: i64, direction: Direction, limits: LineageLimits) -> Bfs<E> {
        Bfs {
            order: vec![start],
            depth: HashMap::from([(start, 0)]),
            edges: Vec::new(),
            truncated: false,
            seen_edges: HashSet::new(),
            frontier: vec![start],
            level: 0,
            direction,
            limits,
        }
    }

    /// The next depth's frontier and how many edges to read for it (by edge
    /// id, at most), or `None` when the walk is over. The edge limit is
    /// eight per node of room left plus slack: reading that many tells
    /// whether the answer is cut.
    pub(crate) fn next_level(&mut self) -> Option<(Vec<i64>, usize)> {
        if self.frontier.is_empty() || self.level >= self.limits.max_depth || self.truncated {
            return None;
        }
        self.level += 1;
        let room = self.limits.max_nodes.saturating_sub(self.order.len());
        Some((std::mem::take(&mut self.frontier), (room + 1) * 8 + 64))
    }

    /// Takes in the edges read for the level (at most `limit`, by edge id).
    pub(crate) fn absorb(&mut self, found: Vec<E>, limit: usize) {
        if found.len() >= limit {
            // More edges than fit: say so rather than pretend completeness.
            self.truncated = true;
        }
        let mut next = Vec::new();
        for edge in found {
            let (id, from, to) = edge.ends();
            let other = self.direction.far_end(from, to);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.depth.entry(other) {
                if self.order.len() >= self.limits.max_nodes {
                    self.truncated = true;
                    continue;
                }
                slot.insert(self.level);
                self.order.push(other);
                next.push(other);
            }
            if self.seen_edges.insert(id) {
                self.edges.push(edge);
            }
        }
        self.frontier = next;
    }

    /// The walk, without the edges whose far end was cut off.
    pub(crate) fn finish(mut self) -> Bfs<E> {
        let depth = &self.depth;
        self.edges.retain(|e| {
            let (_, from, to) = e.ends();
            depth.contains_key(&from) && depth.contains_key(&to)
        });
        self
    }
}
