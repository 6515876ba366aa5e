//! Mermaid: a flowchart of the drawn nodes and edges, node ids `n0`, `n1`
//! ..., every label quoted with its characters outside a small plain set
//! written as Mermaid entity codes.
//!
//! It is `flowchart RL`: Mermaid draws an arrowhead only at the end of a
//! link (`<--` alone starts link text, and `<---` has no head), so edges
//! are written as the graph has them, from what was made to what it was
//! made from, and right-to-left ranks put sources on the left, as the SVG
//! and DOT pictures do.

use std::fmt::Write;

use crate::group::Drawn;
use crate::label::{colours, edge_label, mermaid, node_lines};

/// The Mermaid document for `drawn`.
pub fn render(drawn: &Drawn) -> String {
    let mut out = String::with_capacity(64 + drawn.nodes.len() * 120 + drawn.edges.len() * 60);
    out.push_str("flowchart RL\n");
    for (index, node) in drawn.nodes.iter().enumerate() {
        let keys = drawn.member_keys(index);
        let lines: Vec<String> = node_lines(node.kind, &keys)
            .iter()
            .map(|line| mermaid(line))
            .collect();
        let _ = writeln!(out, "  n{index}[\"{}\"]", lines.join("<br/>"));
    }
    for edge in &drawn.edges {
        let _ = writeln!(
            out,
            "  n{} {}|\"{}\"| n{}",
            edge.from,
            if edge.proven { "-->" } else { "-.->" },
            mermaid(&edge_label(edge.kind, edge.count)),
            edge.to
        );
    }
    let mut kinds: Vec<_> = drawn.nodes.iter().map(|node| node.kind).collect();
    kinds.sort_by_key(|kind| kind.code());
    kinds.dedup();
    for kind in kinds {
        let (fill, stroke) = colours(kind);
        let _ = writeln!(
            out,
            "  classDef {} fill:{fill},stroke:{stroke}",
            kind.as_str()
        );
        let members: Vec<String> = (0..drawn.nodes.len())
            .filter(|&i| drawn.nodes[i].kind == kind)
            .map(|i| format!("n{i}"))
            .collect();
        let _ = writeln!(out, "  class {} {}", members.join(","), kind.as_str());
    }
    out
}
