//! SVG: the drawn nodes laid out (`layout.rs`), coloured by kind and
//! labelled, edges as polylines with their kind, solid when proven and
//! dashed when only claimed, and a legend. Every node is a `<g
//! class="node">` with `data-kind` and `data-key` (a group: `data-count`),
//! every edge a `<g class="edge">`, so a page can find them.

use std::fmt::Write;

use crate::SvgOptions;
use crate::group::Drawn;
use crate::label::{colours, edge_label, node_lines, path_segment, visible, xml};
use crate::layout::{Layout, Rect, layout};

/// Font size and the width of one character of the monospace font.
const FONT: f64 = 12.0;
const CHAR: f64 = 7.3;
const LINE: f64 = 16.0;
const PAD: f64 = 10.0;
const MIN_WIDTH: f64 = 120.0;
/// Room above the drawing for self-loops.
const TOP: f64 = 28.0;

/// The SVG document for `drawn`.
pub fn render(drawn: &Drawn, truncated: bool, options: &SvgOptions) -> String {
    let labels: Vec<Vec<String>> = drawn
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| node_lines(node.kind, &drawn.member_keys(index)))
        .collect();
    let sizes: Vec<(f64, f64)> = labels
        .iter()
        .map(|lines| {
            let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
            (
                (chars as f64 * CHAR + 2.0 * PAD).max(MIN_WIDTH),
                lines.len() as f64 * LINE + PAD,
            )
        })
        .collect();
    let edges: Vec<(usize, usize)> = drawn.edges.iter().map(|e| (e.from, e.to)).collect();
    let placed = layout(&sizes, &edges);
    let legend = Legend::new(drawn, truncated);
    let width = placed.width.max(legend.width);
    let height = TOP + placed.height + legend.height;

    let mut out = String::with_capacity(1024 + drawn.nodes.len() * 400 + edges.len() * 300);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"ui-monospace, Menlo, Consolas, monospace\" \
         font-size=\"{FONT}\">\n<title>provgraph lineage</title>\n"
    );
    let ids = xml(&options.id_prefix);
    let _ = write!(
        out,
        "<defs><marker id=\"{ids}arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#475569\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
    );
    let _ = writeln!(out, "<g transform=\"translate(0,{TOP})\">");
    edges_svg(&mut out, drawn, &placed, &ids);
    nodes_svg(&mut out, drawn, &placed, &labels, options);
    out.push_str("</g>\n");
    legend.write(&mut out, TOP + placed.height, &ids);
    out.push_str("</svg>\n");
    out
}

fn nodes_svg(
    out: &mut String,
    drawn: &Drawn,
    placed: &Layout,
    labels: &[Vec<String>],
    options: &SvgOptions,
) {
    let ids = xml(&options.id_prefix);
    out.push_str("<g class=\"nodes\">\n");
    for (index, (node, rect)) in drawn.nodes.iter().zip(&placed.nodes).enumerate() {
        let (fill, stroke) = colours(node.kind);
        let kind = node.kind.as_str();
        let link = match (&options.link_base, drawn.member_keys(index).as_slice()) {
            (Some(base), [key]) => Some(format!("{base}{kind}/{}", path_segment(key))),
            _ => None,
        };
        if let Some(href) = &link {
            let _ = write!(out, "<a href=\"{}\">", xml(href));
        }
        let _ = write!(
            out,
            "<g class=\"node\" id=\"{ids}n{index}\" data-kind=\"{kind}\""
        );
        let keys: Vec<String> = drawn
            .member_keys(index)
            .into_iter()
            .map(|key| xml(&visible(key)))
            .collect();
        match keys.as_slice() {
            [key] => {
                let _ = write!(out, " data-key=\"{key}\"><title>{kind} {key}</title>");
            }
            _ => {
                let _ = write!(
                    out,
                    " data-count=\"{}\"><title>{} {kind} nodes: {}</title>",
                    keys.len(),
                    keys.len(),
                    keys.iter().take(20).cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
        let Rect { x, y, w, h } = *rect;
        let (dash, width) = if node.members.len() > 1 {
            (" stroke-dasharray=\"2 2\"", 2.5)
        } else {
            ("", 1.5)
        };
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"6\" \
             fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/><text>"
        );
        for (line, text) in labels[index].iter().enumerate() {
            let weight = if line == 0 {
                " font-weight=\"bold\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<tspan x=\"{:.1}\" y=\"{:.1}\"{weight}>{}</tspan>",
                x + PAD,
                y + PAD / 2.0 + LINE * (line as f64 + 1.0) - 4.0,
                xml(text)
            );
        }
        out.push_str("</text></g>");
        if link.is_some() {
            out.push_str("</a>");
        }
        out.push('\n');
    }
    out.push_str("</g>\n");
}

fn edges_svg(out: &mut String, drawn: &Drawn, placed: &Layout, ids: &str) {
    out.push_str("<g class=\"edges\" fill=\"none\">\n");
    for (edge, points) in drawn.edges.iter().zip(&placed.edges) {
        let label = xml(&edge_label(edge.kind, edge.count));
        let dash = if edge.proven {
            ""
        } else {
            " stroke-dasharray=\"6 4\""
        };
        let _ = write!(
            out,
            "<g class=\"edge\" data-kind=\"{}\" data-from=\"{ids}n{}\" data-to=\"{ids}n{}\" data-proven=\"{}\" data-count=\"{}\">",
            edge.kind.as_str(),
            edge.from,
            edge.to,
            edge.proven,
            edge.count
        );
        let (label_x, label_y) = if points.is_empty() {
            // A self-loop above its node.
            let r = placed.nodes.get(edge.from).copied().unwrap_or(Rect {
                x: 0.0,
                y: 0.0,
                w: 0.0,
                h: 0.0,
            });
            let (a, b) = (r.x + r.w * 0.3, r.x + r.w * 0.7);
            let _ = write!(
                out,
                "<path d=\"M{a:.1},{y:.1} C{a:.1},{top:.1} {b:.1},{top:.1} {b:.1},{y:.1}\" \
                 stroke=\"#475569\" stroke-width=\"1.5\"{dash} marker-end=\"url(#{ids}arrow)\"/>",
                y = r.y,
                top = r.y - 26.0
            );
            ((a + b) / 2.0, r.y - 22.0)
        } else {
            let list: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = write!(
                out,
                "<polyline points=\"{}\" stroke=\"#475569\" stroke-width=\"1.5\"{dash} \
                 marker-end=\"url(#{ids}arrow)\"/>",
                list.join(" ")
            );
            // On the middle segment (the first one for a direct edge).
            let middle = (points.len() / 2).max(1);
            let (x1, y1) = points[middle - 1];
            let (x2, y2) = points.get(middle).copied().unwrap_or((x1, y1));
            ((x1 + x2) / 2.0, (y1 + y2) / 2.0 - 4.0)
        };
        let _ = writeln!(
            out,
            "<text x=\"{label_x:.1}\" y=\"{label_y:.1}\" text-anchor=\"middle\" font-size=\"10\" \
             fill=\"#334155\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">{label}</text></g>"
        );
    }
    out.push_str("</g>\n");
}

/// The legend under the drawing: the kinds shown, solid and dashed edges,
/// and what a group and a cut answer look like.
struct Legend {
    kinds: Vec<provgraph_model::NodeKind>,
    notes: Vec<&'static str>,
    width: f64,
    height: f64,
}

const SWATCH: f64 = 130.0;
const PER_ROW: usize = 6;

impl Legend {
    fn new(drawn: &Drawn, truncated: bool) -> Legend {
        let mut kinds: Vec<_> = drawn.nodes.iter().map(|node| node.kind).collect();
        kinds.sort_by_key(|kind| kind.code());
        kinds.dedup();
        let mut notes = vec![
            "arrows: from what was made to what it was made from",
            "solid: proven by verified evidence; dashed: only claimed",
        ];
        if drawn.grouped {
            notes.push("KIND \u{d7}N: N nodes of one kind grouped (the answer is large)");
        }
        if truncated {
            notes.push("cut at the server's node limit: ask with a smaller maxDepth");
        }
        let rows = kinds.len().div_ceil(PER_ROW);
        let widest = notes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        Legend {
            width: (SWATCH * kinds.len().min(PER_ROW) as f64).max(widest as f64 * CHAR + 60.0)
                + 32.0,
            height: 16.0 + rows as f64 * 22.0 + notes.len() as f64 * 18.0 + 12.0,
            kinds,
            notes,
        }
    }

    fn write(&self, out: &mut String, top: f64, ids: &str) {
        let _ = writeln!(
            out,
            "<g class=\"legend\" transform=\"translate(16,{top:.1})\">"
        );
        for (at, kind) in self.kinds.iter().enumerate() {
            let (fill, stroke) = colours(*kind);
            let x = (at % PER_ROW) as f64 * SWATCH;
            let y = 8.0 + (at / PER_ROW) as f64 * 22.0;
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"14\" height=\"14\" rx=\"3\" fill=\"{fill}\" \
                 stroke=\"{stroke}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
                x + 20.0,
                y + 11.0,
                kind.as_str()
            );
        }
        let mut y = 8.0 + self.kinds.len().div_ceil(PER_ROW) as f64 * 22.0 + 10.0;
        for (at, note) in self.notes.iter().enumerate() {
            let line = match at {
                1 => "<line x1=\"0\" x2=\"20\" stroke=\"#475569\" stroke-width=\"1.5\"/>\
                      <line x1=\"26\" x2=\"46\" stroke=\"#475569\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>"
                    .to_string(),
                0 => format!(
                    "<line x1=\"46\" x2=\"0\" stroke=\"#475569\" stroke-width=\"1.5\" marker-end=\"url(#{ids}arrow)\"/>"
                ),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "<g transform=\"translate(0,{y:.1})\">{line}<text x=\"56\" y=\"4\" font-size=\"11\">{}</text></g>",
                xml(note)
            );
            y += 18.0;
        }
        out.push_str("</g>\n");
    }
}
