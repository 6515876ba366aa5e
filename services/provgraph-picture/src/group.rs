//! Grouping: what is drawn for a subgraph. Within the budgets every node
//! and every distinct edge is drawn once. Past them, siblings are drawn as
//! one counted node, coarser until the picture fits:
//!
//! 1. nodes of one kind at one distance from the start node whose nearest
//!    neighbour toward the start is the same (drawn) node: the 500 builds
//!    of a repository, then the 500 images of those builds;
//! 2. nodes of one kind at one distance from the start;
//! 3. nodes of one kind.
//!
//! The start node is never grouped. Edges between the same drawn nodes,
//! of one kind and support, are one counted edge.

use std::collections::{BTreeMap, HashMap, VecDeque};

use provgraph_model::{EdgeKind, NodeKind};

use crate::{EDGE_BUDGET, NODE_BUDGET, Subgraph};

/// A drawn node: one node of the subgraph, or a group of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawnNode {
    pub kind: NodeKind,
    /// Indices into the subgraph's nodes, in their order (one, or the group).
    pub members: Vec<usize>,
}

/// A drawn edge: every edge of one kind and support between two drawn
/// nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawnEdge {
    pub kind: EdgeKind,
    /// Indices into [`Drawn::nodes`].
    pub from: usize,
    pub to: usize,
    pub proven: bool,
    /// How many edges of the subgraph it stands for.
    pub count: usize,
}

/// What is drawn for a subgraph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drawn {
    pub nodes: Vec<DrawnNode>,
    pub edges: Vec<DrawnEdge>,
    /// The subgraph's keys, by node index (what labels show).
    pub keys: Vec<String>,
    /// Whether any node stands for more than one.
    pub grouped: bool,
}

impl Drawn {
    /// The keys of the nodes drawn node `index` stands for.
    pub fn member_keys(&self, index: usize) -> Vec<&str> {
        self.nodes.get(index).map_or_else(Vec::new, |node| {
            node.members
                .iter()
                .filter_map(|&m| self.keys.get(m).map(String::as_str))
                .collect()
        })
    }
}

/// Groups `subgraph` as the module says.
pub fn group(subgraph: &Subgraph) -> Drawn {
    let count = subgraph.nodes.len();
    let edges: Vec<(usize, usize)> = subgraph
        .edges
        .iter()
        .filter(|edge| edge.from < count && edge.to < count)
        .map(|edge| (edge.from, edge.to))
        .collect();
    let walk = Walk::new(count, &edges);
    let mut drawn = draw(subgraph, &(0..count).collect::<Vec<_>>());
    for level in [Level::Parent, Level::Depth, Level::Kind] {
        if drawn.nodes.len() <= NODE_BUDGET && drawn.edges.len() <= EDGE_BUDGET {
            break;
        }
        drawn = draw(subgraph, &walk.groups(subgraph, level));
    }
    drawn
}

/// How coarse a grouping is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Parent,
    Depth,
    Kind,
}

/// Breadth-first distances and parents from the start node, over edges in
/// either direction; nodes the start does not reach (a subgraph from
/// elsewhere) are walked from the first of them, one part after another.
struct Walk {
    /// Nodes in the order the walk met them.
    order: Vec<usize>,
    depth: Vec<usize>,
    parent: Vec<Option<usize>>,
}

impl Walk {
    fn new(count: usize, edges: &[(usize, usize)]) -> Walk {
        let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); count];
        for &(from, to) in edges {
            neighbours[from].push(to);
            neighbours[to].push(from);
        }
        let mut walk = Walk {
            order: Vec::with_capacity(count),
            depth: vec![usize::MAX; count],
            parent: vec![None; count],
        };
        let mut queue = VecDeque::new();
        for root in 0..count {
            if walk.depth[root] != usize::MAX {
                continue;
            }
            walk.depth[root] = 0;
            queue.push_back(root);
            while let Some(node) = queue.pop_front() {
                walk.order.push(node);
                for &next in &neighbours[node] {
                    if walk.depth[next] == usize::MAX {
                        walk.depth[next] = walk.depth[node] + 1;
                        walk.parent[next] = Some(node);
                        queue.push_back(next);
                    }
                }
            }
        }
        walk
    }

    /// The group of every node, by node index: node indices of the group's
    /// first member, so that a group is named by a node.
    fn groups(&self, subgraph: &Subgraph, level: Level) -> Vec<usize> {
        let mut group = vec![0; subgraph.nodes.len()];
        // (kind code, depth or MAX, parent's group or MAX) -> group.
        let mut seen: HashMap<(i16, usize, usize), usize> = HashMap::new();
        for &node in &self.order {
            if node == 0 {
                group[0] = 0;
                continue;
            }
            let kind = subgraph.nodes[node].kind.code();
            let key = match level {
                Level::Parent => (
                    kind,
                    self.depth[node],
                    self.parent[node].map_or(usize::MAX, |parent| group[parent]),
                ),
                Level::Depth => (kind, self.depth[node], usize::MAX),
                Level::Kind => (kind, usize::MAX, usize::MAX),
            };
            group[node] = *seen.entry(key).or_insert(node);
        }
        group
    }
}

/// The drawn nodes and edges for a grouping (`group[node]`: the node whose
/// group it joins).
fn draw(subgraph: &Subgraph, group: &[usize]) -> Drawn {
    let mut index_of_group: HashMap<usize, usize> = HashMap::new();
    let mut nodes: Vec<DrawnNode> = Vec::new();
    let mut drawn_of = Vec::with_capacity(group.len());
    for (node, &leader) in group.iter().enumerate() {
        let index = *index_of_group.entry(leader).or_insert_with(|| {
            nodes.push(DrawnNode {
                kind: subgraph.nodes[leader].kind,
                members: Vec::new(),
            });
            nodes.len() - 1
        });
        nodes[index].members.push(node);
        drawn_of.push(index);
    }
    // Ordered by (from, to, kind, proven) so the same subgraph always draws
    // the same way.
    let mut counted: BTreeMap<(usize, usize, i16, bool), usize> = BTreeMap::new();
    for edge in &subgraph.edges {
        if edge.from >= group.len() || edge.to >= group.len() {
            continue;
        }
        let key = (
            drawn_of[edge.from],
            drawn_of[edge.to],
            edge.kind.code(),
            edge.support.proven(),
        );
        *counted.entry(key).or_default() += 1;
    }
    let edges = counted
        .into_iter()
        .filter_map(|((from, to, kind, proven), count)| {
            Some(DrawnEdge {
                kind: EdgeKind::from_code(kind)?,
                from,
                to,
                proven,
                count,
            })
        })
        .collect();
    Drawn {
        grouped: nodes.iter().any(|node| node.members.len() > 1),
        nodes,
        edges,
        keys: subgraph.nodes.iter().map(|node| node.key.clone()).collect(),
    }
}
