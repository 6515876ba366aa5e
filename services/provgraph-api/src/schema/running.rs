//! Running workloads and impact: `workloads` (most recently seen first),
//! `impact` (what a responder acts on when a node is bad), `buildByTrace`,
//! a workload's sightings, and evidence's links to a trace UI.

use std::collections::{HashMap, HashSet};

use async_graphql::{ComplexObject, Context, Error, Object, Result, SimpleObject};
use provgraph_model::NodeKind as ModelNodeKind;
use provgraph_model::NodeKind;
use provgraph_store::{Direction, LineageLimits, NodeRow, PageRequest};

use super::cursor::{page_cursor, parse_page_cursor};
use super::graph::{Evidence, PageInfo};
use super::sightings::sightings_of;
use super::typed::{Artifact, Build, Workload, vulnerability_impact_roots};
use super::{api, find, normalize, store_error};
use crate::time::parse_rfc3339;

/// A page of workloads, most recently seen first.
#[derive(SimpleObject, Clone, Debug)]
pub struct WorkloadConnection {
    pub nodes: Vec<Workload>,
    pub page_info: PageInfo,
}

/// What a responder acts on when a node is bad.
#[derive(SimpleObject, Clone, Debug)]
pub struct Impact {
    /// Images built from the node (for an image: itself, and the images
    /// built inside it or from it), in this page.
    pub artifacts: Vec<Artifact>,
    /// Workloads running any of them, seen at or after `seenAfter`, in
    /// this page.
    pub workloads: Vec<Workload>,
    /// The walk is paged (nearest first): a hub's images come a page at a
    /// time.
    pub page_info: PageInfo,
}

impl Impact {
    fn empty() -> Impact {
        Impact {
            artifacts: Vec::new(),
            workloads: Vec::new(),
            page_info: PageInfo {
                has_next_page: false,
                end_cursor: None,
            },
        }
    }
}

/// The kinds `impact` takes (VULNERABILITY too: its start nodes are the
/// affected images that no VEX statement rules out, see [`impact_roots`]).
const IMPACT_KINDS: [ModelNodeKind; 8] = [
    ModelNodeKind::Commit,
    ModelNodeKind::Repository,
    ModelNodeKind::Gomod,
    ModelNodeKind::Module,
    ModelNodeKind::Package,
    ModelNodeKind::Build,
    ModelNodeKind::Artifact,
    ModelNodeKind::Vulnerability,
];

/// The node(s) an impact walk starts from: the node itself, or none when
/// provgraph does not know it; for a VULNERABILITY (by id or any alias),
/// the images it affects that no VEX statement rules out.
async fn impact_roots(ctx: &Context<'_>, kind: ModelNodeKind, key: &str) -> Result<Vec<NodeRow>> {
    if !IMPACT_KINDS.contains(&kind) {
        return Err(Error::new(format!(
            "impact takes COMMIT, REPOSITORY, GOMOD, MODULE, PACKAGE, BUILD, ARTIFACT or VULNERABILITY, not {kind}"
        )));
    }
    if kind == ModelNodeKind::Vulnerability {
        return vulnerability_impact_roots(ctx, &normalize(kind, key)?).await;
    }
    Ok(find(ctx, kind, key).await?.into_iter().collect())
}

#[derive(Debug, Default)]
pub struct RunningQuery;

#[Object]
impl RunningQuery {
    /// Workloads seen at or after seenAfter (RFC 3339; absent: all), most
    /// recently seen first. `first` at most 1,000 (default 100); `after`:
    /// the `endCursor` of the previous page.
    async fn workloads(
        &self,
        ctx: &Context<'_>,
        seen_after: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<WorkloadConnection> {
        let api = api(ctx);
        let seen_after = seen_after
            .as_deref()
            .map(parse_rfc3339)
            .transpose()
            .map_err(Error::new)?
            .unwrap_or(i64::MIN);
        let first = page_size(first, 100, api.limits.max_list)?;
        let after = after.as_deref().map(parse_workload_cursor).transpose()?;
        let (seen, has_next) = api
            .store
            .workloads_seen(seen_after, first, after)
            .await
            .map_err(store_error)?;
        let end_cursor = seen
            .last()
            .map(|w| hex::encode(format!("wl1:{}:{}", w.last_seen, w.node.id)));
        Ok(WorkloadConnection {
            nodes: seen.into_iter().map(|w| Workload::from(w.node)).collect(),
            page_info: PageInfo {
                has_next_page: has_next,
                end_cursor,
            },
        })
    }

    /// What a responder acts on when this node is bad: the images built
    /// from it (or, for an image, built inside it or from it), and the
    /// workloads running any of them seen at or after seenAfter. A page of
    /// the downstream walk at a time, nearest first (`first` at most 1,000,
    /// default 1,000; `after`: the previous page's `endCursor`), so that a
    /// hub (a repository with 100,000 images) answers in pages.
    async fn impact(
        &self,
        ctx: &Context<'_>,
        kind: NodeKind,
        key: String,
        seen_after: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Impact> {
        let api = api(ctx);
        let seen_after = seen_after
            .as_deref()
            .map(parse_rfc3339)
            .transpose()
            .map_err(Error::new)?;
        let first = page_size(first, api.limits.max_list, api.limits.max_list)?;
        let after = after.as_deref().map(parse_page_cursor).transpose()?;
        normalize(kind, &key)?;
        let roots = impact_roots(ctx, kind, &key).await?;
        if roots.is_empty() {
            return Ok(Impact::empty());
        }
        let root_ids: HashSet<i64> = roots.iter().map(|r| r.id).collect();
        let request = PageRequest {
            direction: Direction::Downstream,
            max_depth: api.limits.max_lineage_depth,
            kinds: vec![ModelNodeKind::Artifact, ModelNodeKind::Workload],
            first,
            after,
            sql_max_nodes: api.limits.max_lineage_nodes,
        };
        let page = api
            .store
            .lineage_page_from(&roots, &request)
            .await
            .map_err(store_error)?;
        let end_cursor = page.nodes.last().map(|(n, d)| page_cursor(*d, n.id));
        let mut artifacts = Vec::new();
        let mut workloads = Vec::new();
        let mut impacted: HashMap<i64, bool> = HashMap::new();
        for (node, _) in page.nodes {
            match node.kind {
                ModelNodeKind::Artifact => {
                    impacted.insert(node.id, true);
                    artifacts.push(Artifact::from(node));
                }
                ModelNodeKind::Workload => {
                    let rows = sightings_of(ctx, node.id).await?;
                    let Some(since) = seen_after else {
                        workloads.push(Workload::from(node));
                        continue;
                    };
                    // Seen since running one of the impacted images (not
                    // just running something else since).
                    let mut recent = false;
                    for row in rows.iter().filter(|r| r.last_seen >= since) {
                        if is_impacted(ctx, &mut impacted, &root_ids, row.artifact_id).await? {
                            recent = true;
                            break;
                        }
                    }
                    if recent {
                        workloads.push(Workload::from(node));
                    }
                }
                _ => {}
            }
        }
        Ok(Impact {
            artifacts,
            workloads,
            page_info: PageInfo {
                has_next_page: page.has_next,
                end_cursor,
            },
        })
    }

    /// The build a CI trace belongs to, by its trace id (32 hex digits, as
    /// Tempo or Jaeger shows it), or null when the trace is no build's.
    async fn build_by_trace(&self, ctx: &Context<'_>, trace_id: String) -> Result<Option<Build>> {
        let trace_id = trace_id.trim().to_ascii_lowercase();
        if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::new(format!(
                "trace id {:?} is invalid: 32 hex digits",
                provgraph_model::keys::shorten(&trace_id, 40)
            )));
        }
        let store = &api(ctx).store;
        let Some(build) = store.build_of_trace(&trace_id).await.map_err(store_error)? else {
            return Ok(None);
        };
        Ok(store
            .node(ModelNodeKind::Build, &build)
            .await
            .map_err(store_error)?
            .map(Build::from))
    }
}

/// Whether `artifact` is downstream of a root (a root itself, or reaching
/// one by walking upstream from it), remembered per answer.
async fn is_impacted(
    ctx: &Context<'_>,
    known: &mut HashMap<i64, bool>,
    roots: &HashSet<i64>,
    artifact: i64,
) -> Result<bool> {
    if roots.contains(&artifact) {
        return Ok(true);
    }
    if let Some(known) = known.get(&artifact) {
        return Ok(*known);
    }
    let api = api(ctx);
    let Some(node) = api
        .store
        .nodes(&[artifact])
        .await
        .map_err(store_error)?
        .into_iter()
        .next()
    else {
        return Ok(false);
    };
    let limits = LineageLimits {
        max_depth: api.limits.max_lineage_depth,
        max_nodes: api.limits.max_lineage_nodes,
    };
    let up = api
        .store
        .lineage(&node, Direction::Upstream, limits)
        .await
        .map_err(store_error)?;
    let found = up.nodes.iter().any(|n| roots.contains(&n.id));
    known.insert(artifact, found);
    Ok(found)
}

fn page_size(first: Option<i32>, default: usize, max: usize) -> Result<usize> {
    match first {
        None => Ok(default.min(max)),
        Some(n) if n < 0 => Err(Error::new("first must be 0 or more")),
        Some(n) => Ok((n as usize).min(max)),
    }
}

fn parse_workload_cursor(cursor: &str) -> Result<(i64, i64)> {
    let bad = || Error::new("invalid cursor: pass an endCursor this API returned");
    let text = hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let (last, id) = text
        .strip_prefix("wl1:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(bad)?;
    Ok((
        last.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

#[ComplexObject]
impl Evidence {
    /// The trace in a trace UI (`--trace-url-template`), when one is
    /// configured and the evidence is a trace.
    async fn trace_url(&self, ctx: &Context<'_>) -> Option<String> {
        let template = api(ctx).limits.trace_url_template.as_deref()?;
        (self.trace_id.len() == 32 && self.trace_id.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| template.replace("{traceId}", &self.trace_id))
    }
}
