//! Lineage pictures: a [`Subgraph`] (nodes by kind and key, edges by kind
//! and support) drawn as SVG, Graphviz DOT, Mermaid or JSON. Pure: no I/O,
//! no async, nothing panics on any input.
//!
//! Every picture reads left to right, from what things were made from
//! (repositories, commits) to what was made and runs (images, workloads);
//! arrows keep the graph's direction, from what was made to what it was
//! made from, and carry the edge's kind. A solid edge is proven by verified
//! evidence, a dashed one only claimed.
//!
//! Large answers stay readable: past [`NODE_BUDGET`] nodes or
//! [`EDGE_BUDGET`] edges, siblings of one kind are drawn as one counted node
//! (`group.rs`). The SVG is laid out here (`layout.rs`: longest-path layers,
//! barycentre ordering, polyline edges through the layers they cross).

pub mod check;
mod dot;
mod group;
mod json;
mod label;
mod layout;
mod mermaid;
mod svg;

pub use group::{Drawn, DrawnEdge, DrawnNode, group};
pub use provgraph_model::{EdgeKind, NodeKind};

/// Nodes drawn one by one; past it, siblings of one kind are grouped.
pub const NODE_BUDGET: usize = 150;
/// Distinct edges drawn one by one; past it, nodes are grouped as for
/// [`NODE_BUDGET`] (Mermaid refuses diagrams of more than 500 edges).
pub const EDGE_BUDGET: usize = 400;

/// A node of a subgraph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// The normalized key.
    pub key: String,
}

/// What an edge rests on (GraphQL's `Support`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Support {
    /// Only spans say so.
    Claimed,
    /// Only verified evidence says so.
    Proven,
    /// Spans and verified evidence.
    Both,
    /// Only evidence that did not verify.
    Unverified,
}

impl Support {
    /// Drawn solid: verified evidence proves it.
    pub fn proven(self) -> bool {
        matches!(self, Support::Proven | Support::Both)
    }

    /// The GraphQL name.
    pub fn as_str(self) -> &'static str {
        match self {
            Support::Claimed => "CLAIMED",
            Support::Proven => "PROVEN",
            Support::Both => "BOTH",
            Support::Unverified => "UNVERIFIED",
        }
    }

    /// From the GraphQL name.
    pub fn parse(name: &str) -> Option<Support> {
        [
            Support::Claimed,
            Support::Proven,
            Support::Both,
            Support::Unverified,
        ]
        .into_iter()
        .find(|support| support.as_str() == name)
    }
}

/// An edge, from what was made to what it was made from, by node index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub kind: EdgeKind,
    /// Index into [`Subgraph::nodes`]; an edge naming a node that is not
    /// there is not drawn.
    pub from: usize,
    pub to: usize,
    pub support: Support,
}

/// A lineage answer: the start node first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subgraph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The answer was cut at the server's node limit.
    pub truncated: bool,
}

/// What a picture is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Svg,
    Dot,
    Mermaid,
    Json,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Svg, Format::Dot, Format::Mermaid, Format::Json];

    /// The name in `?format=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Dot => "dot",
            Format::Mermaid => "mermaid",
            Format::Json => "json",
        }
    }

    /// From the name in `?format=` (any letter case).
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(name))
    }

    /// The `Content-Type` of a picture in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Dot => "text/vnd.graphviz; charset=utf-8",
            Format::Mermaid => "text/plain; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// Draws `subgraph` in `format`: grouped past the budgets (SVG, DOT and
/// Mermaid), whole for JSON.
pub fn render(subgraph: &Subgraph, format: Format) -> String {
    match format {
        Format::Json => json::render(subgraph),
        Format::Svg => svg::render(&group(subgraph), subgraph.truncated, &SvgOptions::default()),
        Format::Dot => dot::render(&group(subgraph), subgraph.truncated),
        Format::Mermaid => mermaid::render(&group(subgraph)),
    }
}

/// How an SVG is written for a page that shows it inline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SvgOptions {
    /// Each node (not a group) is a link to `{link_base}{KIND}/{KEY}`, the
    /// key percent-encoded ([`label::path_segment`]); none when `None`.
    pub link_base: Option<String>,
    /// Put before every `id` of the document (and the references to
    /// them), so two pictures inline on one page keep their ids apart.
    pub id_prefix: String,
}

/// SVG of `subgraph` written as `options` ask (grouped past the budgets,
/// as [`render`] draws it).
pub fn render_svg(subgraph: &Subgraph, options: &SvgOptions) -> String {
    svg::render(&group(subgraph), subgraph.truncated, options)
}

pub use label::{colours, path_segment};

#[cfg(test)]
mod tests;
