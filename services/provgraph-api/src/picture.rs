//! `GET /v1/lineage`: the subgraph GraphQL `lineage` answers, drawn by
//! `provgraph-picture` as SVG, DOT, Mermaid or JSON. The subgraph is the
//! GraphQL answer itself (the schema runs the query, with its limits), so
//! the two cannot differ.

use async_graphql::{Request, Variables};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use provgraph_model::{EdgeKind, NodeKind};
use provgraph_otlp::ErrorKind;
use provgraph_picture::{Edge, Format, Node, Subgraph, Support};
use serde::Deserialize;
use serde_json::Value;

use crate::ApiState;

/// The query string: `kind`, `key`, `direction` required; `maxDepth` as in
/// GraphQL; `format` svg (the default), dot, mermaid or json.
#[derive(Debug, Deserialize)]
pub(crate) struct LineageQuery {
    kind: Option<String>,
    key: Option<String>,
    direction: Option<String>,
    #[serde(rename = "maxDepth")]
    max_depth: Option<String>,
    format: Option<String>,
}

const LINEAGE: &str =
    "query($kind: NodeKind!, $key: String!, $direction: Direction!, $maxDepth: Int) {
  lineage(kind: $kind, key: $key, direction: $direction, maxDepth: $maxDepth) {
    nodes { kind key }
    edges { kind support from { kind key } to { kind key } }
    truncated
  }
}";

fn refused(kind: ErrorKind, message: impl Into<String>) -> Response {
    crate::refusal(
        kind,
        axum::Json(serde_json::json!({ "error": message.into() })),
    )
}

/// What the query string asks, checked (or why it is refused: a 400).
struct Asked {
    kind: NodeKind,
    key: String,
    direction: &'static str,
    max_depth: Option<i32>,
    format: Format,
}

fn asked(query: LineageQuery) -> Result<Asked, String> {
    let kind_name = query.kind.ok_or("kind is required")?;
    let kind = NodeKind::ALL
        .into_iter()
        .find(|kind| kind.as_str().eq_ignore_ascii_case(&kind_name))
        .ok_or_else(|| {
            let kinds: Vec<&str> = NodeKind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "unknown kind {:?}; one of {}",
                provgraph_model::keys::shorten(&kind_name, 40),
                kinds.join(", ")
            )
        })?;
    let raw_key = query.key.ok_or("key is required")?;
    let key = kind.normalize(&raw_key).map_err(|err| err.to_string())?;
    let direction = match query.direction.as_deref().map(str::to_ascii_uppercase) {
        Some(d) if d == "UPSTREAM" => "UPSTREAM",
        Some(d) if d == "DOWNSTREAM" => "DOWNSTREAM",
        _ => return Err("direction is UPSTREAM or DOWNSTREAM".into()),
    };
    let max_depth = match query.max_depth {
        None => None,
        Some(text) => match text.parse::<i32>() {
            Ok(depth) if depth >= 0 => Some(depth),
            _ => return Err("maxDepth is a whole number, 0 or more".into()),
        },
    };
    let format = match query.format {
        None => Format::Svg,
        Some(name) => Format::parse(&name).ok_or("format is svg, dot, mermaid or json")?,
    };
    Ok(Asked {
        kind,
        key,
        direction,
        max_depth,
        format,
    })
}

pub(crate) async fn get_lineage(
    State(state): State<ApiState>,
    Query(query): Query<LineageQuery>,
) -> Response {
    let asked = match asked(query) {
        Ok(asked) => asked,
        Err(message) => return refused(ErrorKind::InvalidArgument, message),
    };
    let variables = serde_json::json!({
        "kind": asked.kind.as_str(),
        "key": asked.key,
        "direction": asked.direction,
        "maxDepth": asked.max_depth,
    });
    let request = Request::new(LINEAGE).variables(Variables::from_json(variables));
    let answer = match crate::execute_limited(&state, request, tokio::time::Instant::now()).await {
        Ok(answer) => answer,
        Err(refused) => return refused,
    };
    if let Some(error) = answer.errors.first() {
        // The arguments were checked above: what is left is the store's.
        return refused(ErrorKind::Unavailable, error.message.clone());
    }
    let data = answer.data.into_json().unwrap_or(Value::Null);
    let subgraph = match subgraph(&data["lineage"]) {
        Some(subgraph) => subgraph,
        None => return refused(ErrorKind::Internal, "lineage answer not understood"),
    };
    if subgraph.nodes.is_empty() {
        return refused(
            ErrorKind::NotFound,
            format!("no {} node {}", asked.kind.as_str(), asked.key),
        );
    }
    let body = provgraph_picture::render(&subgraph, asked.format);
    (
        [
            (header::CONTENT_TYPE, asked.format.content_type()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // An SVG opened on its own runs nothing and loads nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        body,
    )
        .into_response()
}

/// The GraphQL `lineage` answer as the picture's input.
pub(crate) fn subgraph(lineage: &Value) -> Option<Subgraph> {
    let node_of = |value: &Value| -> Option<Node> {
        let kind = value["kind"].as_str()?;
        Some(Node {
            kind: NodeKind::ALL.into_iter().find(|k| k.as_str() == kind)?,
            key: value["key"].as_str()?.to_string(),
        })
    };
    let nodes: Vec<Node> = lineage["nodes"]
        .as_array()?
        .iter()
        .map(node_of)
        .collect::<Option<_>>()?;
    let positions: std::collections::HashMap<(NodeKind, &str), usize> = nodes
        .iter()
        .enumerate()
        .map(|(at, node)| ((node.kind, node.key.as_str()), at))
        .collect();
    let find = |value: &Value| -> Option<usize> {
        let node = node_of(value)?;
        positions.get(&(node.kind, node.key.as_str())).copied()
    };
    let edges = lineage["edges"]
        .as_array()?
        .iter()
        .map(|edge| {
            let kind = edge["kind"].as_str()?;
            Some(Edge {
                kind: EdgeKind::ALL.into_iter().find(|k| k.as_str() == kind)?,
                from: find(&edge["from"])?,
                to: find(&edge["to"])?,
                support: Support::parse(edge["support"].as_str()?)?,
            })
        })
        .collect::<Option<_>>()?;
    Some(Subgraph {
        nodes,
        edges,
        truncated: lineage["truncated"].as_bool().unwrap_or(false),
    })
}
