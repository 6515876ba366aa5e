//! The layered (Sugiyama-style) layout of the SVG: sources on the left,
//! what was made from them to their right.
//!
//! 1. Cycles are broken by reversing the edges a depth-first walk finds
//!    going back (images built inside themselves, say); self-loops are
//!    left out of the layering.
//! 2. Longest-path layers: a node sits one layer right of the furthest of
//!    what it was made from; a source with nothing to its left moves right,
//!    next to the first thing made from it.
//! 3. An edge crossing layers passes through one dummy per layer between.
//! 4. A few barycentre sweeps (right, then left) order each layer by the
//!    mean position of its neighbours in the layer before.
//! 5. Layers are as wide as their widest node and centred vertically;
//!    edges are polylines through their dummies' lanes.

/// Space around the drawing, between layers, and between nodes of a layer.
pub const MARGIN: f64 = 16.0;
pub const LAYER_GAP: f64 = 120.0;
pub const NODE_GAP: f64 = 24.0;
/// The height of a dummy's lane.
const LANE: f64 = 10.0;
/// Barycentre sweeps (each one rightward and one leftward).
const SWEEPS: usize = 4;

/// A placed node: its top-left corner and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Where everything goes.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub nodes: Vec<Rect>,
    /// Per edge, its points from its `from` node to its `to` node (empty for
    /// a self-loop, which is drawn at its node).
    pub edges: Vec<Vec<(f64, f64)>>,
    pub width: f64,
    pub height: f64,
}

/// Lays out nodes of the given sizes and edges `(from, to)` (from what was
/// made to what it was made from; indices in range).
pub fn layout(sizes: &[(f64, f64)], edges: &[(usize, usize)]) -> Layout {
    let count = sizes.len();
    // Flow: from what something was made from to what was made.
    let flow: Vec<(usize, usize)> = edges.iter().map(|&(from, to)| (to, from)).collect();
    let reversed = back_edges(count, &flow);
    let dag: Vec<Option<(usize, usize)>> = flow
        .iter()
        .zip(&reversed)
        .map(|(&(a, b), &back)| match (a == b, back) {
            (true, _) => None,
            (false, false) => Some((a, b)),
            (false, true) => Some((b, a)),
        })
        .collect();
    let layer = layers(count, &dag);

    // Vertices: the nodes, then the dummies; each edge's chain of vertices.
    let mut vertex_layer = layer.clone();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for edge in &dag {
        let Some((a, b)) = *edge else {
            chains.push(Vec::new());
            continue;
        };
        let mut chain = vec![a];
        for l in layer[a] + 1..layer[b] {
            vertex_layer.push(l);
            chain.push(vertex_layer.len() - 1);
        }
        chain.push(b);
        chains.push(chain);
    }
    let layer_count = vertex_layer.iter().map(|l| l + 1).max().unwrap_or(0);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (vertex, &l) in vertex_layer.iter().enumerate() {
        rows[l].push(vertex);
    }
    let mut left: Vec<Vec<usize>> = vec![Vec::new(); vertex_layer.len()];
    let mut right: Vec<Vec<usize>> = vec![Vec::new(); vertex_layer.len()];
    for chain in &chains {
        for pair in chain.windows(2) {
            right[pair[0]].push(pair[1]);
            left[pair[1]].push(pair[0]);
        }
    }
    order(&mut rows, &left, &right, vertex_layer.len());
    place(sizes, &rows, &chains, edges, &dag)
}

/// Which flow edges a depth-first walk finds going back to a node still
/// on its path.
fn back_edges(count: usize, flow: &[(usize, usize)]) -> Vec<bool> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, &(a, _)) in flow.iter().enumerate() {
        out[a].push(index);
    }
    // 0: not met, 1: on the path, 2: done.
    let mut state = vec![0u8; count];
    let mut back = vec![false; flow.len()];
    for root in 0..count {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            if let Some(&edge) = out[node].get(top.1) {
                top.1 += 1;
                let target = flow[edge].1;
                match state[target] {
                    0 => {
                        state[target] = 1;
                        stack.push((target, 0));
                    }
                    1 => back[edge] = true,
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    back
}

/// Longest-path layers over an acyclic edge list, sources pulled right.
fn layers(count: usize, dag: &[Option<(usize, usize)>]) -> Vec<usize> {
    let mut incoming = vec![0usize; count];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); count];
    for &(a, b) in dag.iter().flatten() {
        incoming[b] += 1;
        out[a].push(b);
    }
    let sources: Vec<bool> = incoming.iter().map(|&n| n == 0).collect();
    let mut layer = vec![0usize; count];
    let mut ready: Vec<usize> = (0..count).filter(|&n| incoming[n] == 0).collect();
    while let Some(node) = ready.pop() {
        for &next in &out[node] {
            layer[next] = layer[next].max(layer[node] + 1);
            incoming[next] -= 1;
            if incoming[next] == 0 {
                ready.push(next);
            }
        }
    }
    for node in 0..count {
        if sources[node]
            && let Some(first) = out[node].iter().map(|&next| layer[next]).min()
        {
            layer[node] = first.saturating_sub(1).max(layer[node]);
        }
    }
    layer
}

/// Barycentre sweeps over the rows.
fn order(rows: &mut [Vec<usize>], left: &[Vec<usize>], right: &[Vec<usize>], vertices: usize) {
    let mut position = vec![0usize; vertices];
    let index = |rows: &[Vec<usize>], position: &mut [usize]| {
        for row in rows {
            for (at, &vertex) in row.iter().enumerate() {
                position[vertex] = at;
            }
        }
    };
    index(rows, &mut position);
    let sort = |row: &mut Vec<usize>, neighbours: &[Vec<usize>], position: &[usize]| {
        let mut keyed: Vec<(f64, usize, usize)> = row
            .iter()
            .map(|&vertex| {
                let near = &neighbours[vertex];
                let centre = if near.is_empty() {
                    position[vertex] as f64
                } else {
                    near.iter().map(|&n| position[n] as f64).sum::<f64>() / near.len() as f64
                };
                (centre, position[vertex], vertex)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *row = keyed.into_iter().map(|(_, _, vertex)| vertex).collect();
    };
    for _ in 0..SWEEPS {
        for l in 1..rows.len() {
            sort(&mut rows[l], left, &position);
            index(&rows[l..=l], &mut position);
        }
        for l in (0..rows.len().saturating_sub(1)).rev() {
            sort(&mut rows[l], right, &position);
            index(&rows[l..=l], &mut position);
        }
    }
}

/// Coordinates for the ordered rows, and each edge's points.
fn place(
    sizes: &[(f64, f64)],
    rows: &[Vec<usize>],
    chains: &[Vec<usize>],
    edges: &[(usize, usize)],
    dag: &[Option<(usize, usize)>],
) -> Layout {
    let size = |vertex: usize| sizes.get(vertex).copied().unwrap_or((0.0, LANE));
    let widths: Vec<f64> = rows
        .iter()
        .map(|row| row.iter().map(|&v| size(v).0).fold(0.0, f64::max))
        .collect();
    let heights: Vec<f64> = rows
        .iter()
        .map(|row| {
            let nodes: f64 = row.iter().map(|&v| size(v).1).sum();
            nodes + NODE_GAP * row.len().saturating_sub(1) as f64
        })
        .collect();
    let tallest = heights.iter().copied().fold(0.0, f64::max);
    let vertices = rows.iter().map(Vec::len).sum::<usize>();
    // Per vertex: x of its layer, the layer's width, y of its top.
    let mut at = vec![(0.0, 0.0, 0.0); vertices];
    let mut x = MARGIN;
    for (l, row) in rows.iter().enumerate() {
        let mut y = MARGIN + (tallest - heights[l]) / 2.0;
        for &vertex in row {
            at[vertex] = (x, widths[l], y);
            y += size(vertex).1 + NODE_GAP;
        }
        x += widths[l] + LAYER_GAP;
    }
    let nodes: Vec<Rect> = sizes
        .iter()
        .enumerate()
        .map(|(node, &(w, h))| Rect {
            x: at[node].0 + (at[node].1 - w) / 2.0,
            y: at[node].2,
            w,
            h,
        })
        .collect();
    let lines = chains
        .iter()
        .zip(edges.iter().zip(dag))
        .map(|(chain, (&(from, _), dag))| {
            let Some((first, _)) = *dag else {
                return Vec::new();
            };
            let mut points = Vec::with_capacity(chain.len() * 2);
            for (step, &vertex) in chain.iter().enumerate() {
                if vertex < sizes.len() {
                    let r = nodes[vertex];
                    let side = if step == 0 { r.x + r.w } else { r.x };
                    points.push((side, r.y + r.h / 2.0));
                } else {
                    let (x, w, y) = at[vertex];
                    points.push((x, y + LANE / 2.0));
                    points.push((x + w, y + LANE / 2.0));
                }
            }
            // The chain runs with the flow; the line runs from `from`.
            if first != from {
                points.reverse();
            }
            points
        })
        .collect();
    let width = if rows.is_empty() {
        2.0 * MARGIN
    } else {
        x - LAYER_GAP + MARGIN
    };
    Layout {
        nodes,
        edges: lines,
        width,
        height: tallest + 2.0 * MARGIN,
    }
}
