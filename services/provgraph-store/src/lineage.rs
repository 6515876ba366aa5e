//! Lineage: the subgraph reachable from one node, walked breadth-first one
//! depth at a time. From the in-memory index (`index.rs`) when it is loaded
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
        let outgoing = direction == Direction::Upstream;
        let mut depth: HashMap<i64, u32> = HashMap::from([(start.id, 0)]);
        let mut order = vec![start.id];
        let mut edges = Vec::new();
        let mut seen_edges = HashSet::new();
        let mut frontier = vec![start.id];
        let mut truncated = false;
        let mut level = 0;
        while !frontier.is_empty() && level < limits.max_depth && !truncated {
            level += 1;
            // One more than the room left tells whether the answer is cut.
            let room = limits.max_nodes.saturating_sub(order.len());
            let limit = (room as i64 + 1) * 8 + 64;
            let found = self.edges(&frontier, outgoing, &[], 0, limit).await?;
            if found.len() as i64 >= limit {
                // More edges than fit: say so rather than pretend completeness.
                truncated = true;
            }
            let mut next = Vec::new();
            for edge in found {
                let other = if outgoing { edge.to_id } else { edge.from_id };
                if let std::collections::hash_map::Entry::Vacant(slot) = depth.entry(other) {
                    if order.len() >= limits.max_nodes {
                        truncated = true;
                        continue;
                    }
                    slot.insert(level);
                    order.push(other);
                    next.push(other);
                }
                if seen_edges.insert(edge.id) {
                    edges.push(edge);
                }
            }
            frontier = next;
        }
        // Edges whose far end was cut off stay out of the answer.
        edges.retain(|e| depth.contains_key(&e.from_id) && depth.contains_key(&e.to_id));
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
