//! JSON: the subgraph itself, in the shape of GraphQL's `lineage { nodes {
//! kind key } edges { kind support from { kind key } to { kind key } }
//! truncated }`, never grouped.

use serde_json::{Value, json};

use crate::Subgraph;

/// The JSON document for `subgraph` (edges naming a missing node left out).
pub fn render(subgraph: &Subgraph) -> String {
    let node = |index: usize| -> Option<Value> {
        let node = subgraph.nodes.get(index)?;
        Some(json!({ "kind": node.kind.as_str(), "key": node.key }))
    };
    let nodes: Vec<Value> = (0..subgraph.nodes.len()).filter_map(node).collect();
    let edges: Vec<Value> = subgraph
        .edges
        .iter()
        .filter_map(|edge| {
            Some(json!({
                "kind": edge.kind.as_str(),
                "support": edge.support.as_str(),
                "from": node(edge.from)?,
                "to": node(edge.to)?,
            }))
        })
        .collect();
    json!({ "nodes": nodes, "edges": edges, "truncated": subgraph.truncated }).to_string()
}
