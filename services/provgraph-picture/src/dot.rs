//! Graphviz DOT: the drawn nodes and edges for `dot -Tsvg` (ranks left to
//! right, sources first; arrows from what was made to what it was made
//! from), every string quoted and escaped.

use std::fmt::Write;

use crate::group::Drawn;
use crate::label::{colours, dot, edge_label, node_lines};

/// The DOT document for `drawn`.
pub fn render(drawn: &Drawn, truncated: bool) -> String {
    let mut out = String::with_capacity(256 + drawn.nodes.len() * 160 + drawn.edges.len() * 80);
    out.push_str("digraph lineage {\n");
    let mut note = String::from("solid: proven, dashed: claimed");
    if drawn.grouped {
        note.push_str("; KIND \u{d7}N: N nodes grouped");
    }
    if truncated {
        note.push_str("; cut at the node limit");
    }
    let _ = writeln!(
        out,
        "  graph [rankdir=LR, fontname=\"monospace\", fontsize=10, labelloc=b, label=\"{}\"];",
        dot(&note)
    );
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\", fontsize=10];\n  \
         edge [fontname=\"monospace\", fontsize=9, color=\"#475569\"];\n",
    );
    for (index, node) in drawn.nodes.iter().enumerate() {
        let keys = drawn.member_keys(index);
        let lines: Vec<String> = node_lines(node.kind, &keys)
            .iter()
            .map(|line| dot(line))
            .collect();
        let (fill, stroke) = colours(node.kind);
        let _ = writeln!(
            out,
            "  n{index} [label=\"{}\", fillcolor=\"{fill}\", color=\"{stroke}\"{}];",
            lines.join("\\n"),
            if keys.len() > 1 {
                ", peripheries=2"
            } else {
                ""
            }
        );
    }
    for edge in &drawn.edges {
        // Written source first, so ranks run from sources; `dir=back` puts
        // the arrowhead at the source: the edge points from what was made.
        let _ = writeln!(
            out,
            "  n{} -> n{} [label=\"{}\", dir=back{}];",
            edge.to,
            edge.from,
            dot(&edge_label(edge.kind, edge.count)),
            if edge.proven { "" } else { ", style=dashed" }
        );
    }
    out.push_str("}\n");
    out
}
