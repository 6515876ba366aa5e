//! Span writes: one batch of span facts in the caller's transaction, the
//! traces they belong to, and the nodes, edges, evidence and attributes
//! they yield (re-deriving traces whose build changed).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use provgraph_model::{BuildChoice, BuildIdSource, NodeKind, NodeRef, SpanFacts};
use sqlx::QueryBuilder;

use super::common::push_in_strings;
use super::gc::collect_garbage;
use super::{Conn, Db, lock_traces};
use crate::plan::{EdgeKey, Rows, Seen, plan_traces};
use crate::rows::node_kind;
use crate::sql::CHUNK;
use crate::{StoreError, WriteStats};

fn source_code(source: BuildIdSource) -> i16 {
    source as i16
}

/// `traces.build_source` read back: an unknown code is an error.
fn source_from_code(code: i16) -> Result<BuildIdSource, StoreError> {
    match code {
        0 => Ok(BuildIdSource::PipelineRunId),
        1 => Ok(BuildIdSource::BuildId),
        2 => Ok(BuildIdSource::TraceId),
        _ => Err(StoreError::unknown("build id source", code)),
    }
}

async fn load_builds(
    conn: &mut Conn,
    trace_ids: &[String],
) -> Result<BTreeMap<String, BuildChoice>, StoreError> {
    let mut out = BTreeMap::new();
    for chunk in trace_ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT trace_id, build_source, build_key FROM traces WHERE trace_id",
        );
        push_in_strings(&mut qb, chunk);
        let rows: Vec<(String, i16, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        for (trace_id, source, key) in rows {
            out.insert(
                trace_id,
                BuildChoice {
                    source: source_from_code(source)?,
                    key,
                },
            );
        }
    }
    Ok(out)
}

async fn load_span_facts(
    conn: &mut Conn,
    trace_ids: &[String],
) -> Result<Vec<(SpanFacts, i64)>, StoreError> {
    let mut out = Vec::new();
    for chunk in trace_ids.chunks(CHUNK) {
        let mut qb =
            QueryBuilder::<Db>::new("SELECT facts, received FROM span_facts WHERE trace_id");
        push_in_strings(&mut qb, chunk);
        let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        for (json, received) in rows {
            let facts: SpanFacts = serde_json::from_str(&json).map_err(StoreError::SpanFacts)?;
            out.push((facts, received));
        }
    }
    Ok(out)
}

/// Deletes the evidence the traces gave, returning the edges it was for.
async fn delete_evidence(conn: &mut Conn, trace_ids: &[String]) -> sqlx::Result<Vec<i64>> {
    let mut edges = Vec::new();
    for chunk in trace_ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM edge_evidence WHERE trace_id");
        push_in_strings(&mut qb, chunk);
        qb.push(" RETURNING edge_id");
        let rows: Vec<(i64,)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        edges.extend(rows.into_iter().map(|(id,)| id));
    }
    edges.sort_unstable();
    edges.dedup();
    Ok(edges)
}

pub(super) async fn upsert_nodes(
    conn: &mut Conn,
    nodes: &BTreeMap<NodeRef, Seen>,
) -> Result<HashMap<NodeRef, i64>, StoreError> {
    let mut ids = HashMap::with_capacity(nodes.len());
    let rows: Vec<(&NodeRef, &Seen)> = nodes.iter().collect();
    for chunk in rows.chunks(CHUNK) {
        let mut qb =
            QueryBuilder::<Db>::new("INSERT INTO nodes (kind, key, first_seen, last_seen) ");
        qb.push_values(chunk, |mut row, (node, seen)| {
            row.push_bind(node.kind.code())
                .push_bind(node.key.clone())
                .push_bind(seen.first)
                .push_bind(seen.last);
        });
        qb.push(
            " ON CONFLICT (kind, key) DO UPDATE SET \
             first_seen = CASE WHEN excluded.first_seen < nodes.first_seen THEN excluded.first_seen ELSE nodes.first_seen END, \
             last_seen = CASE WHEN excluded.last_seen > nodes.last_seen THEN excluded.last_seen ELSE nodes.last_seen END \
             RETURNING id, kind, key",
        );
        let returned: Vec<(i64, i16, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        for (id, kind, key) in returned {
            ids.insert(
                NodeRef {
                    kind: node_kind(kind)?,
                    key,
                },
                id,
            );
        }
    }
    Ok(ids)
}

pub(super) async fn upsert_edges(
    conn: &mut Conn,
    edges: &BTreeMap<EdgeKey, Seen>,
    node_ids: &HashMap<NodeRef, i64>,
) -> Result<HashMap<(i16, i64, i64), i64>, StoreError> {
    let mut rows = Vec::with_capacity(edges.len());
    for ((kind, from, to), seen) in edges {
        let (Some(from), Some(to)) = (node_ids.get(from), node_ids.get(to)) else {
            return Err(StoreError::Corrupt(format!(
                "edge endpoint missing after upsert: {from:?} -> {to:?}"
            )));
        };
        rows.push((kind.code(), *from, *to, *seen));
    }
    let mut ids = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO edges (kind, from_id, to_id, first_seen, last_seen) ",
        );
        qb.push_values(chunk, |mut row, (kind, from, to, seen)| {
            row.push_bind(*kind)
                .push_bind(*from)
                .push_bind(*to)
                .push_bind(seen.first)
                .push_bind(seen.last);
        });
        qb.push(
            " ON CONFLICT (from_id, kind, to_id) DO UPDATE SET \
             first_seen = CASE WHEN excluded.first_seen < edges.first_seen THEN excluded.first_seen ELSE edges.first_seen END, \
             last_seen = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.last_seen ELSE edges.last_seen END \
             RETURNING id, kind, from_id, to_id",
        );
        let returned: Vec<(i64, i16, i64, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        for (id, kind, from, to) in returned {
            ids.insert((kind, from, to), id);
        }
    }
    Ok(ids)
}

pub(super) async fn upsert_evidence(
    conn: &mut Conn,
    rows: &[(i64, &str, &str, &str, Seen)],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO edge_evidence (edge_id, trace_id, span_id, sender, first_seen, last_seen) ",
        );
        qb.push_values(chunk, |mut row, (edge, trace, span, sender, seen)| {
            row.push_bind(*edge)
                .push_bind(trace.to_string())
                .push_bind(span.to_string())
                .push_bind(sender.to_string())
                .push_bind(seen.first)
                .push_bind(seen.last);
        });
        qb.push(
            " ON CONFLICT (edge_id, trace_id, span_id) DO UPDATE SET \
             first_seen = CASE WHEN excluded.first_seen < edge_evidence.first_seen THEN excluded.first_seen ELSE edge_evidence.first_seen END, \
             last_seen = CASE WHEN excluded.last_seen > edge_evidence.last_seen THEN excluded.last_seen ELSE edge_evidence.last_seen END",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub(super) async fn upsert_attrs(
    conn: &mut Conn,
    rows: &[(i64, &str, &str, Seen)],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO node_attrs (node_id, name, value, first_seen, last_seen) ",
        );
        qb.push_values(chunk, |mut row, (node, name, value, seen)| {
            row.push_bind(*node)
                .push_bind(name.to_string())
                .push_bind(value.to_string())
                .push_bind(seen.first)
                .push_bind(seen.last);
        });
        qb.push(
            " ON CONFLICT (node_id, name, value) DO UPDATE SET \
             last_seen = CASE WHEN excluded.last_seen > node_attrs.last_seen THEN excluded.last_seen ELSE node_attrs.last_seen END",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_span_facts(
    conn: &mut Conn,
    batch: &[SpanFacts],
    now: i64,
) -> Result<(), StoreError> {
    let mut rows = Vec::with_capacity(batch.len());
    let mut seen = BTreeSet::new();
    for facts in batch {
        if seen.insert((facts.trace_id.as_str(), facts.span_id.as_str())) {
            let json = serde_json::to_string(facts).map_err(StoreError::Encode)?;
            rows.push((facts.trace_id.clone(), facts.span_id.clone(), json));
        }
    }
    for chunk in rows.chunks(CHUNK) {
        let mut qb =
            QueryBuilder::<Db>::new("INSERT INTO span_facts (trace_id, span_id, facts, received) ");
        qb.push_values(chunk, |mut row, (trace, span, json)| {
            row.push_bind(trace.clone())
                .push_bind(span.clone())
                .push_bind(json.clone())
                .push_bind(now);
        });
        qb.push(" ON CONFLICT (trace_id, span_id) DO NOTHING");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn upsert_traces(
    conn: &mut Conn,
    builds: &[(&str, &BuildChoice)],
    now: i64,
) -> sqlx::Result<()> {
    for chunk in builds.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO traces (trace_id, build_source, build_key, first_seen, last_seen) ",
        );
        qb.push_values(chunk, |mut row, (trace, build)| {
            row.push_bind(trace.to_string())
                .push_bind(source_code(build.source))
                .push_bind(build.key.clone())
                .push_bind(now)
                .push_bind(now);
        });
        qb.push(
            " ON CONFLICT (trace_id) DO UPDATE SET build_source = excluded.build_source, \
             build_key = excluded.build_key, last_seen = excluded.last_seen",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn node_ids_of(conn: &mut Conn, nodes: &[NodeRef]) -> sqlx::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for node in nodes {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM nodes WHERE kind = $1 AND key = $2")
                .bind(node.kind.code())
                .bind(node.key.clone())
                .fetch_optional(&mut *conn)
                .await?;
        ids.extend(row.map(|(id,)| id));
    }
    Ok(ids)
}

/// Writes one batch of span facts in the caller's transaction.
pub(crate) async fn write_batch(
    conn: &mut Conn,
    batch: &[SpanFacts],
    now: i64,
) -> Result<WriteStats, StoreError> {
    let mut trace_ids: Vec<String> = batch.iter().map(|f| f.trace_id.clone()).collect();
    trace_ids.sort_unstable();
    trace_ids.dedup();
    lock_traces(conn, &trace_ids).await?;
    let old = load_builds(conn, &trace_ids).await?;
    let plan = plan_traces(batch, &old);

    let mut rows = Rows::default();
    let changed: Vec<String> = plan.changed.iter().cloned().collect();
    let mut edge_candidates = Vec::new();
    let mut node_candidates = Vec::new();
    if !changed.is_empty() {
        // Derive what the changed traces said before, again, under
        // their new build; drop what it gave under the old one.
        let stored = load_span_facts(conn, &changed).await?;
        edge_candidates = delete_evidence(conn, &changed).await?;
        let old_builds: Vec<NodeRef> = changed
            .iter()
            .filter_map(|t| old.get(t))
            .map(|b| NodeRef::new(NodeKind::Build, b.key.clone()))
            .collect();
        node_candidates = node_ids_of(conn, &old_builds).await?;
        for (facts, received) in &stored {
            let build = plan
                .new_builds
                .get(&facts.trace_id)
                .and_then(Option::as_ref);
            rows.add(facts, build, Seen::at(*received));
        }
    }
    for facts in batch {
        let build = plan
            .new_builds
            .get(&facts.trace_id)
            .and_then(Option::as_ref);
        rows.add(facts, build, Seen::at(now));
    }

    insert_span_facts(conn, batch, now).await?;
    let builds: Vec<(&str, &BuildChoice)> = plan
        .changed
        .iter()
        .filter_map(|t| {
            plan.new_builds
                .get(t)
                .and_then(Option::as_ref)
                .map(|b| (t.as_str(), b))
        })
        .collect();
    upsert_traces(conn, &builds, now).await?;

    let node_ids = upsert_nodes(conn, &rows.nodes).await?;
    let edge_ids = upsert_edges(conn, &rows.edges, &node_ids).await?;
    let mut evidence = Vec::with_capacity(rows.evidence.len());
    for (((kind, from, to), trace, span), (sender, seen)) in &rows.evidence {
        let id = node_ids
            .get(from)
            .zip(node_ids.get(to))
            .and_then(|(from, to)| edge_ids.get(&(kind.code(), *from, *to)));
        let Some(id) = id else {
            return Err(StoreError::Corrupt(
                "evidence for an edge that was not written".into(),
            ));
        };
        evidence.push((*id, trace.as_str(), span.as_str(), sender.as_str(), *seen));
    }
    upsert_evidence(conn, &evidence).await?;
    let mut attrs = Vec::with_capacity(rows.attrs.len());
    for ((node, name, value), seen) in &rows.attrs {
        if let Some(id) = node_ids.get(node) {
            attrs.push((*id, *name, value.as_str(), *seen));
        }
    }
    upsert_attrs(conn, &attrs).await?;
    let (edges_deleted, nodes_deleted) =
        collect_garbage(conn, &edge_candidates, node_candidates, &node_ids).await?;
    Ok(WriteStats {
        span_facts: batch.len() as u64,
        traces: trace_ids.len() as u64,
        traces_rederived: changed.len() as u64,
        nodes: rows.nodes.len() as u64,
        edges: rows.edges.len() as u64,
        edges_deleted,
        nodes_deleted,
    })
}
