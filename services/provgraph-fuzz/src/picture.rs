//! The `picture` target: arbitrary subgraphs (any number of nodes up to
//! 255, any keys, any edges, some naming no node, self-loops and cycles)
//! drawn in every format, as `GET /v1/lineage` draws them. The SVG must be
//! well-formed XML, the DOT and Mermaid well-formed statements, each with
//! one node per drawn node and one edge per drawn edge, and the grouping
//! must account for every node and edge once.

use provgraph_picture::check::{Counts, dot_structure, mermaid_structure, xml_well_formed};
use provgraph_picture::{Edge, EdgeKind, Format, Node, NodeKind, Subgraph, Support, group, render};

/// Reads bytes off the front of the input; zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&first, rest)) => {
                self.0 = rest;
                first
            }
            None => 0,
        }
    }

    fn text(&mut self, len: usize) -> String {
        let take = len.min(self.0.len());
        let (text, rest) = self.0.split_at(take);
        self.0 = rest;
        String::from_utf8_lossy(text).into_owned()
    }
}

/// The subgraph an input describes: a node count, then per node a kind
/// and a key (its length, then its bytes; an index once the input runs
/// out), then edges of four bytes (kind, from, to, support) while input
/// lasts; `from` or `to` 255 names no node.
pub fn subgraph_of(data: &[u8]) -> Subgraph {
    let mut input = Bytes(data);
    let count = usize::from(input.byte());
    let mut nodes = Vec::with_capacity(count);
    for index in 0..count {
        let kind = NodeKind::ALL[usize::from(input.byte()) % NodeKind::ALL.len()];
        let len = usize::from(input.byte() % 80);
        let mut key = input.text(len);
        if input.0.is_empty() && key.is_empty() {
            key = format!("k{index}");
        }
        nodes.push(Node { kind, key });
    }
    let truncated = input.byte() % 2 == 1;
    let mut edges = Vec::new();
    let end = |b: u8| {
        if b == 255 {
            count + 1
        } else {
            usize::from(b) % count.max(1)
        }
    };
    while input.0.len() >= 4 {
        let kind = EdgeKind::ALL[usize::from(input.byte()) % EdgeKind::ALL.len()];
        let from = end(input.byte());
        let to = end(input.byte());
        let support = [
            Support::Claimed,
            Support::Proven,
            Support::Both,
            Support::Unverified,
        ][usize::from(input.byte() % 4)];
        edges.push(Edge {
            kind,
            from,
            to,
            support,
        });
    }
    Subgraph {
        nodes,
        edges,
        truncated,
    }
}

pub fn picture(data: &[u8]) {
    let subgraph = subgraph_of(data);
    let count = subgraph.nodes.len();
    let valid = subgraph
        .edges
        .iter()
        .filter(|e| e.from < count && e.to < count)
        .count();
    let drawn = group(&subgraph);
    let mut members: Vec<usize> = drawn.nodes.iter().flat_map(|n| n.members.clone()).collect();
    members.sort_unstable();
    assert!(
        members.iter().copied().eq(0..count),
        "every node in one group"
    );
    assert_eq!(drawn.edges.iter().map(|e| e.count).sum::<usize>(), valid);
    if count > 0 {
        assert_eq!(drawn.nodes[0].members, [0], "the start node alone");
    }
    let counts = Counts {
        nodes: drawn.nodes.len(),
        edges: drawn.edges.len(),
    };
    let svg = render(&subgraph, Format::Svg);
    assert_eq!(xml_well_formed(&svg), Ok(counts), "SVG");
    // As the web UI inlines it: nodes linked to their pages, ids prefixed.
    let linked = provgraph_picture::render_svg(
        &subgraph,
        &provgraph_picture::SvgOptions {
            link_base: Some("/ui/".into()),
            id_prefix: "up-".into(),
        },
    );
    assert_eq!(xml_well_formed(&linked), Ok(counts), "linked SVG");
    let singles = drawn.nodes.iter().filter(|n| n.members.len() == 1).count();
    assert_eq!(
        linked.matches("<a href=\"/ui/").count(),
        singles,
        "a link per single node"
    );
    assert_eq!(
        dot_structure(&render(&subgraph, Format::Dot)),
        Ok(counts),
        "DOT"
    );
    assert_eq!(
        mermaid_structure(&render(&subgraph, Format::Mermaid)),
        Ok(counts),
        "Mermaid"
    );
    let json: serde_json::Value =
        serde_json::from_str(&render(&subgraph, Format::Json)).expect("JSON");
    assert_eq!(json["nodes"].as_array().map(Vec::len), Some(count));
    assert_eq!(json["edges"].as_array().map(Vec::len), Some(valid));
}
