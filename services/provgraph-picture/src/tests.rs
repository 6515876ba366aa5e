//! Unit tests: each node and edge drawn once in every format, positions
//! distinct, hostile keys escaped, grouping counts that add up.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::check::{dot_structure, mermaid_structure, xml_well_formed};
use crate::label::{readable_key, visible, xml};

fn digest(n: usize) -> String {
    format!("sha256:{n:064x}")
}

fn node(kind: NodeKind, key: impl Into<String>) -> Node {
    Node {
        kind,
        key: key.into(),
    }
}

fn edge(kind: EdgeKind, from: usize, to: usize, support: Support) -> Edge {
    Edge {
        kind,
        from,
        to,
        support,
    }
}

/// A 15-node upstream lineage: a workload, an image index and its three
/// platform images, a signature and its signer, the build, its builder
/// image, commit, repository, go.mod, two modules and a vulnerability.
fn lineage15() -> Subgraph {
    use EdgeKind::*;
    use NodeKind::*;
    use Support::*;
    let nodes = vec![
        node(Workload, "prod/payments/calc"),
        node(Artifact, digest(1)),
        node(Artifact, digest(2)),
        node(Artifact, digest(3)),
        node(Artifact, digest(4)),
        node(Build, "4242"),
        node(Commit, "9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b13"),
        node(NodeKind::Repository, "github.com/acme/calc"),
        node(Gomod, digest(5)),
        node(Artifact, digest(6)),
        node(Signature, digest(7)),
        node(
            Identity,
            "https://token.actions.githubusercontent.com|https://github.com/acme/calc/.github/workflows/release.yml@refs/heads/main",
        ),
        node(Module, "golang.org/x/net@v0.17.0"),
        node(Module, "github.com/google/uuid@v1.6.0"),
        node(NodeKind::Vulnerability, "GO-2023-2102"),
    ];
    let edges = vec![
        edge(Runs, 0, 1, Claimed),
        edge(PartOf, 2, 1, Proven),
        edge(PartOf, 3, 1, Proven),
        edge(PartOf, 4, 1, Proven),
        edge(BuiltBy, 1, 5, Both),
        edge(FromCommit, 5, 6, Both),
        edge(FromRepository, 5, 7, Claimed),
        edge(InRepository, 6, 7, Proven),
        edge(UsedGomod, 5, 8, Claimed),
        edge(BuiltWith, 5, 9, Claimed),
        edge(Signs, 10, 1, Proven),
        edge(SignedBy, 10, 11, Proven),
        edge(Requires, 8, 12, Claimed),
        edge(RequiresIndirect, 8, 13, Claimed),
        edge(Affects, 14, 12, Unverified),
    ];
    Subgraph {
        nodes,
        edges,
        truncated: false,
    }
}

/// The `data-key` values of the SVG's nodes.
fn svg_keys(svg: &str) -> Vec<String> {
    svg.split("<g class=\"node\"")
        .skip(1)
        .filter_map(|part| {
            let start = part.find("data-key=\"")? + "data-key=\"".len();
            let end = part[start..].find('"')?;
            Some(part[start..start + end].to_string())
        })
        .collect()
}

/// Every format is well-formed and holds `nodes` nodes and `edges` edges.
fn check_all(subgraph: &Subgraph, nodes: usize, edges: usize) -> HashMap<Format, String> {
    let mut out = HashMap::new();
    for format in Format::ALL {
        out.insert(format, render(subgraph, format));
    }
    let counts = check::Counts { nodes, edges };
    assert_eq!(
        xml_well_formed(&out[&Format::Svg]),
        Ok(counts),
        "{}",
        out[&Format::Svg]
    );
    assert_eq!(
        dot_structure(&out[&Format::Dot]),
        Ok(counts),
        "{}",
        out[&Format::Dot]
    );
    assert_eq!(
        mermaid_structure(&out[&Format::Mermaid]),
        Ok(counts),
        "{}",
        out[&Format::Mermaid]
    );
    let json: serde_json::Value = serde_json::from_str(&out[&Format::Json]).unwrap();
    assert_eq!(
        json["nodes"].as_array().unwrap().len(),
        subgraph.nodes.len()
    );
    let n = subgraph.nodes.len();
    let valid = subgraph
        .edges
        .iter()
        .filter(|e| e.from < n && e.to < n)
        .count();
    assert_eq!(json["edges"].as_array().unwrap().len(), valid);
    out
}

#[test]
fn every_node_and_edge_is_drawn_once_in_every_format() {
    let subgraph = lineage15();
    let out = check_all(&subgraph, 15, 15);
    let svg = &out[&Format::Svg];
    let mut keys = svg_keys(svg);
    keys.sort();
    let mut expected: Vec<String> = subgraph.nodes.iter().map(|n| xml(&n.key)).collect();
    expected.sort();
    assert_eq!(keys, expected);
    for edge in &subgraph.edges {
        let kind = edge.kind.as_str();
        let tag = format!(
            "data-kind=\"{kind}\" data-from=\"n{}\" data-to=\"n{}\" data-proven=\"{}\"",
            edge.from,
            edge.to,
            edge.support.proven()
        );
        assert_eq!(svg.matches(&tag).count(), 1, "{tag}");
        assert!(svg.contains(&format!(">{kind}</text>")), "{kind} labelled");
    }
    // Solid when proven, dashed when only claimed: 7 edges of 15 are not
    // proven (Claimed, Unverified).
    assert_eq!(
        svg.matches("stroke-dasharray=\"6 4\" marker-end").count(),
        7,
        "dashed edges"
    );
    // Labels: kind and the readable key.
    assert!(svg.contains(">sha256:000000000000</tspan>"));
    assert!(svg.contains(">9f2c4e1a7b3d</tspan>"));
    assert!(svg.contains(">github.com/acme/calc</tspan>"));
    assert!(svg.contains("class=\"legend\""));
    assert!(out[&Format::Dot].contains("label=\"BUILD\\n4242\""));
    assert!(out[&Format::Mermaid].contains("n5[\"BUILD<br/>4242\"]"));
    assert!(out[&Format::Mermaid].contains("n1 -->|\"BUILT_BY\"| n5"));
    assert!(out[&Format::Mermaid].contains("n0 -.->|\"RUNS\"| n1"));
}

#[test]
fn positions_are_distinct_and_sources_are_left() {
    let subgraph = lineage15();
    let drawn = group(&subgraph);
    let sizes = vec![(140.0, 40.0); drawn.nodes.len()];
    let edges: Vec<(usize, usize)> = drawn.edges.iter().map(|e| (e.from, e.to)).collect();
    let placed = layout::layout(&sizes, &edges);
    let corners: HashSet<(i64, i64)> = placed
        .nodes
        .iter()
        .map(|r| (r.x as i64, r.y as i64))
        .collect();
    assert_eq!(corners.len(), 15, "{:?}", placed.nodes);
    // No two nodes overlap.
    for (i, a) in placed.nodes.iter().enumerate() {
        for b in &placed.nodes[i + 1..] {
            let apart =
                a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
            assert!(apart, "{a:?} and {b:?} overlap");
        }
    }
    // Left to right: repository, commit, build, image, workload.
    let x = |i: usize| placed.nodes[i].x;
    assert!(x(7) < x(6) && x(6) < x(5) && x(5) < x(1) && x(1) < x(0));
    // Each edge runs from its `from` node to its `to` node.
    for (edge, points) in edges.iter().zip(&placed.edges) {
        let (from, to) = (placed.nodes[edge.0], placed.nodes[edge.1]);
        let (first, last) = (points[0], points[points.len() - 1]);
        assert!(first.0 == from.x || first.0 == from.x + from.w, "{edge:?}");
        assert!(last.0 == to.x || last.0 == to.x + to.w, "{edge:?}");
    }
}

#[test]
fn readable_keys_cut_digests_and_shas_only() {
    let image = digest(0xabc);
    let table = [
        (NodeKind::Artifact, image.as_str(), "sha256:000000000000"),
        (
            NodeKind::Gomod,
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "sha256:0123456789ab",
        ),
        (
            NodeKind::Commit,
            "9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b13",
            "9f2c4e1a7b3d",
        ),
        (NodeKind::Commit, "abc", "abc"),
        (NodeKind::Artifact, "sha256:xyz", "sha256:xyz"),
        (
            NodeKind::Repository,
            "github.com/acme/calc",
            "github.com/acme/calc",
        ),
        (
            NodeKind::Build,
            "0af7651916cd43dd8448eb211c80319c",
            "0af7651916cd43dd8448eb211c80319c",
        ),
        (
            NodeKind::Workload,
            "prod/payments/calc",
            "prod/payments/calc",
        ),
        (
            NodeKind::Build,
            "a\nb\u{202e}c\u{1}",
            "a\\nb\\u{202e}c\\u{1}",
        ),
    ];
    for (kind, key, shown) in table {
        assert_eq!(readable_key(kind, key), shown, "{kind} {key:?}");
    }
}

#[test]
fn hostile_keys_are_escaped_in_every_format() {
    let hostile = [
        "<script>alert(1)</script>",
        "a\"b'c&d",
        "line\nbreak\r\ttab",
        "x]y[z;w",
        "\"]; n9 [label=\"pwned",
        "\\N\\G\\l\\\"",
        "#quot; #35; %% style n0 fill:#f00;",
        "end",
        "classDef ARTIFACT fill:#000000,stroke:#000000",
        "-->|\"x\"| n0",
        "\u{1}\u{7f}\u{202e}\u{fffe}",
        "",
        "é漢字🙂",
    ];
    let mut nodes = vec![node(NodeKind::Build, "start")];
    nodes.extend(hostile.iter().map(|key| node(NodeKind::Build, *key)));
    let edges: Vec<Edge> = (1..nodes.len())
        .map(|i| edge(EdgeKind::FromCommit, 0, i, Support::Claimed))
        .collect();
    let subgraph = Subgraph {
        nodes,
        edges,
        truncated: true,
    };
    let count = hostile.len() + 1;
    let out = check_all(&subgraph, count, count - 1);
    let svg = &out[&Format::Svg];
    assert!(!svg.contains("<script"));
    let mut keys = svg_keys(svg);
    keys.sort();
    let mut expected: Vec<String> = subgraph
        .nodes
        .iter()
        .map(|n| xml(&visible(&n.key)))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert!(svg.contains("node limit"), "truncated is said");
    let dot = &out[&Format::Dot];
    assert!(dot.contains("\\\"]; n9 [label=\\\"pwned"));
    assert!(dot.contains("\\\\N\\\\G\\\\l\\\\\\\""));
    let mermaid = &out[&Format::Mermaid];
    assert!(!mermaid.contains("<script"));
    assert!(mermaid.contains("#60;script#62;"));
    // Real Graphviz, when installed, accepts it (the e2e tests require it in CI).
    if let Ok(mut child) = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dot.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "dot: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A repository's downstream hub: `builds` builds, each with its commit
/// (in the repository) and its image.
fn hub(builds: usize) -> Subgraph {
    let mut nodes = vec![node(NodeKind::Repository, "github.com/acme/hub")];
    let mut edges = Vec::new();
    for b in 0..builds {
        let build = nodes.len();
        nodes.push(node(NodeKind::Build, format!("run-{b}")));
        nodes.push(node(NodeKind::Commit, format!("{b:040x}")));
        nodes.push(node(NodeKind::Artifact, digest(b)));
        edges.push(edge(EdgeKind::FromRepository, build, 0, Support::Claimed));
        edges.push(edge(
            EdgeKind::FromCommit,
            build,
            build + 1,
            Support::Claimed,
        ));
        edges.push(edge(EdgeKind::InRepository, build + 1, 0, Support::Proven));
        edges.push(edge(EdgeKind::BuiltBy, build + 2, build, Support::Claimed));
    }
    Subgraph {
        nodes,
        edges,
        truncated: false,
    }
}

/// Groups hold every node once, and edge counts add up to the edges.
fn check_counts(subgraph: &Subgraph, drawn: &Drawn) {
    let mut members: Vec<usize> = drawn.nodes.iter().flat_map(|n| n.members.clone()).collect();
    members.sort();
    assert_eq!(members, (0..subgraph.nodes.len()).collect::<Vec<_>>());
    for drawn_node in &drawn.nodes {
        for &m in &drawn_node.members {
            assert_eq!(subgraph.nodes[m].kind, drawn_node.kind);
        }
    }
    assert_eq!(
        drawn.edges.iter().map(|e| e.count).sum::<usize>(),
        subgraph.edges.len()
    );
    assert_eq!(drawn.nodes[0].members, vec![0], "the start node alone");
}

#[test]
fn a_thousand_node_hub_is_grouped_by_siblings() {
    let subgraph = hub(333);
    assert_eq!(subgraph.nodes.len(), 1000);
    let drawn = group(&subgraph);
    check_counts(&subgraph, &drawn);
    assert!(drawn.grouped);
    // The repository, its builds, their commits, their images.
    assert_eq!(
        drawn.nodes.len(),
        4,
        "{:?}",
        drawn
            .nodes
            .iter()
            .map(|n| (n.kind, n.members.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(drawn.edges.len(), 4);
    assert!(drawn.edges.iter().all(|e| e.count == 333));
    let out = check_all(&subgraph, 4, 4);
    let svg = &out[&Format::Svg];
    assert!(svg.len() < 1024 * 1024);
    assert!(svg.contains("data-count=\"333\""));
    assert!(svg.contains("BUILD \u{d7}333"));
    assert!(svg.contains("BUILT_BY \u{d7}333"));
}

#[test]
fn small_answers_are_not_grouped() {
    let subgraph = hub((NODE_BUDGET - 1) / 3);
    assert!(subgraph.nodes.len() <= NODE_BUDGET);
    let drawn = group(&subgraph);
    assert!(!drawn.grouped);
    assert_eq!(drawn.nodes.len(), subgraph.nodes.len());
    assert_eq!(drawn.edges.len(), subgraph.edges.len());
}

#[test]
fn grouping_coarsens_until_the_picture_fits() {
    // A chain of 300 nodes of alternating kinds: no siblings, one node per
    // distance, so only grouping by kind fits the budget.
    let kinds = [NodeKind::Artifact, NodeKind::Build, NodeKind::Commit];
    let nodes: Vec<Node> = (0..300)
        .map(|i| node(kinds[i % 3], format!("k{i}")))
        .collect();
    let edges: Vec<Edge> = (1..300)
        .map(|i| edge(EdgeKind::BuiltBy, i - 1, i, Support::Claimed))
        .collect();
    let subgraph = Subgraph {
        nodes,
        edges,
        truncated: false,
    };
    let drawn = group(&subgraph);
    check_counts(&subgraph, &drawn);
    assert!(drawn.nodes.len() <= 4, "{}", drawn.nodes.len());
    check_all(&subgraph, drawn.nodes.len(), drawn.edges.len());

    // Dense: 120 nodes, 1,400 distinct edges: grouped for the edge budget.
    let nodes: Vec<Node> = (0..120)
        .map(|i| node(kinds[i % 3], format!("d{i}")))
        .collect();
    let mut edges = Vec::new();
    for i in 0..120 {
        for j in 0..120 {
            if i != j && (i * 7 + j) % 10 == 0 {
                edges.push(edge(EdgeKind::BuiltBy, i, j, Support::Proven));
            }
        }
    }
    let subgraph = Subgraph {
        nodes,
        edges,
        truncated: false,
    };
    assert!(subgraph.edges.len() > EDGE_BUDGET);
    let drawn = group(&subgraph);
    check_counts(&subgraph, &drawn);
    assert!(drawn.edges.len() <= EDGE_BUDGET);
}

#[test]
fn cycles_self_loops_and_bad_edges_are_drawn_or_skipped() {
    use EdgeKind::*;
    let subgraph = Subgraph {
        nodes: vec![
            node(NodeKind::Artifact, digest(1)),
            node(NodeKind::Build, "b"),
            node(NodeKind::Artifact, digest(2)),
        ],
        edges: vec![
            edge(BuiltBy, 0, 1, Support::Claimed),
            edge(BuiltWith, 1, 0, Support::Claimed),
            edge(PartOf, 2, 2, Support::Proven),
            edge(BuiltBy, 2, 1, Support::Claimed),
            edge(BuiltBy, 2, 9, Support::Claimed),
        ],
        truncated: false,
    };
    let out = check_all(&subgraph, 3, 4);
    let json: serde_json::Value = serde_json::from_str(&out[&Format::Json]).unwrap();
    assert_eq!(json["edges"].as_array().unwrap().len(), 4);
}

#[test]
fn empty_subgraphs_and_formats() {
    let empty = Subgraph::default();
    check_all(&empty, 0, 0);
    for format in Format::ALL {
        assert_eq!(Format::parse(format.as_str()), Some(format));
        assert_eq!(Format::parse(&format.as_str().to_uppercase()), Some(format));
    }
    assert_eq!(Format::parse("png"), None);
    assert_eq!(Format::Svg.content_type(), "image/svg+xml");
    assert!(Format::Dot.content_type().starts_with("text/vnd.graphviz"));
    assert!(Format::Mermaid.content_type().starts_with("text/plain"));
    assert_eq!(Format::Json.content_type(), "application/json");
}

#[test]
fn the_checkers_refuse_what_is_broken() {
    for bad in [
        "<svg><g></svg>",
        "<svg a=\"1\" a=\"2\"/>",
        "<svg>a & b</svg>",
        "<svg>&#0;</svg>",
        "<svg x=1/>",
        "<svg/><svg/>",
        "<svg>\u{1}</svg>",
        "text<svg/>",
    ] {
        assert!(xml_well_formed(bad).is_err(), "{bad}");
    }
    assert!(xml_well_formed("<svg><!-- c --><g class=\"node\">&lt;&#x41;</g></svg>").is_ok());
    for bad in [
        "flowchart LR\n",
        "flowchart RL\n  n0[\"a\"b\"]\n",
        "flowchart RL\n  n0[\"a;\"]\n",
        "flowchart RL\n  n0[\"a\"]\n  n0 -->|\"X\"| n1\n",
    ] {
        assert!(mermaid_structure(bad).is_err(), "{bad}");
    }
    for bad in [
        "digraph lineage {\n  n0 [label=\"a\"b\"];\n}\n",
        "digraph lineage {\n  n0 [label=\"a];\n}\n",
        "digraph lineage {\n  n0 [label=\"a\"];\n",
    ] {
        assert!(dot_structure(bad).is_err(), "{bad}");
    }
}

#[test]
fn linked_svgs_link_each_node_to_its_page_with_keys_encoded() {
    let mut subgraph = lineage15();
    subgraph
        .nodes
        .push(node(NodeKind::Build, "run \"7\"/<a>&?#%"));
    let options = SvgOptions {
        link_base: Some("/ui/".into()),
        id_prefix: "up-".into(),
    };
    let svg = render_svg(&subgraph, &options);
    let counts = xml_well_formed(&svg).unwrap_or_else(|err| panic!("{err}\n{svg}"));
    assert_eq!(counts.nodes, subgraph.nodes.len());
    assert_eq!(svg.matches("<a href=\"/ui/").count(), subgraph.nodes.len());
    assert!(svg.contains("<a href=\"/ui/WORKLOAD/prod%2Fpayments%2Fcalc\">"));
    assert!(svg.contains(&format!("<a href=\"/ui/ARTIFACT/{}\">", digest(1))));
    assert!(svg.contains("<a href=\"/ui/BUILD/run%20%227%22%2F%3Ca%3E%26%3F%23%25\">"));
    // Every id and reference carries the prefix; none is left bare.
    assert!(svg.contains("id=\"up-arrow\"") && svg.contains("url(#up-arrow)"));
    assert!(svg.contains("id=\"up-n0\"") && !svg.contains("id=\"n0\""));
    assert!(!svg.contains("url(#arrow)"));
    // Without options: no links, ids as before.
    let plain = render(&subgraph, Format::Svg);
    assert!(!plain.contains("<a ") && plain.contains("id=\"n0\""));
    assert_eq!(
        path_segment("github.com/acme/calc"),
        "github.com%2Facme%2Fcalc"
    );
    assert_eq!(path_segment("sha256:ab"), "sha256:ab");
    assert_eq!(path_segment("é"), "%C3%A9");
}
