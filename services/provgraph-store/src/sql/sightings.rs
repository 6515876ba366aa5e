//! The sightings' SQL: one row per (workload, image) pair, its RUNS edge
//! and nodes, the flush of what memory holds, taking back sightings that
//! turned out to be a build's, retention, and the reads that merge with
//! memory (`crate::sightings`).

use std::collections::{BTreeMap, HashMap};

use provgraph_model::{EdgeKind, NodeRef};
use sqlx::QueryBuilder;

use super::common::push_in_ids;
use super::gc::collect_garbage;
use super::writes::{upsert_attrs, upsert_edges, upsert_nodes};
use super::{Conn, Db};
use crate::plan::{EdgeKey, Seen};
use crate::sql::CHUNK;

/// One sighting to commit: what it says, how many times it was
/// received, and when.
pub(crate) type NewSighting = (provgraph_model::Sighting, i64, Seen);

/// A pair of keys: (workload key, image digest).
pub(crate) type PairKey = (String, String);

/// Commits sightings: the workload and image nodes with their
/// attributes, a RUNS edge per pair (no evidence rows), and the
/// sighting rows (counts added, times merged). Returns the rows
/// written.
pub(crate) async fn write_sightings(
    conn: &mut Conn,
    sightings: &[NewSighting],
) -> Result<u64, crate::StoreError> {
    if sightings.is_empty() {
        return Ok(0);
    }
    let mut nodes: BTreeMap<NodeRef, Seen> = BTreeMap::new();
    let mut attrs: BTreeMap<(NodeRef, &'static str, String), Seen> = BTreeMap::new();
    let mut pairs: BTreeMap<(NodeRef, NodeRef), (i64, Seen)> = BTreeMap::new();
    for (sighting, count, seen) in sightings {
        let mut derived = provgraph_model::Derived::default();
        let found = derived.add_sighting(sighting);
        for node in derived.nodes {
            crate::plan::merge_into(&mut nodes, node, *seen);
        }
        for attr in derived.attrs {
            crate::plan::merge_into(&mut attrs, (attr.node, attr.name, attr.value), *seen);
        }
        for pair in found {
            pairs
                .entry(pair)
                .and_modify(|(c, s)| {
                    *c += count;
                    s.merge(*seen);
                })
                .or_insert((*count, *seen));
        }
    }
    let node_ids = upsert_nodes(conn, &nodes).await?;
    let edges: BTreeMap<EdgeKey, Seen> = pairs
        .iter()
        .map(|((w, a), (_, seen))| ((EdgeKind::Runs, w.clone(), a.clone()), *seen))
        .collect();
    upsert_edges(conn, &edges, &node_ids).await?;
    let attr_rows: Vec<(i64, &str, &str, Seen)> = attrs
        .iter()
        .filter_map(|((node, name, value), seen)| {
            node_ids
                .get(node)
                .map(|id| (*id, *name, value.as_str(), *seen))
        })
        .collect();
    upsert_attrs(conn, &attr_rows).await?;
    let mut rows = Vec::with_capacity(pairs.len());
    for ((w, a), (count, seen)) in &pairs {
        let (Some(w), Some(a)) = (node_ids.get(w), node_ids.get(a)) else {
            return Err(crate::StoreError::Corrupt(
                "sighting node missing after upsert".into(),
            ));
        };
        rows.push((*w, *a, *count, *seen));
    }
    for chunk in rows.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO sightings (workload_id, artifact_id, first_seen, last_seen, count) ",
        );
        qb.push_values(chunk, |mut row, (w, a, count, seen)| {
            row.push_bind(*w)
                .push_bind(*a)
                .push_bind(seen.first)
                .push_bind(seen.last)
                .push_bind(*count);
        });
        qb.push(
            " ON CONFLICT (workload_id, artifact_id) DO UPDATE SET \
             first_seen = CASE WHEN excluded.first_seen < sightings.first_seen THEN excluded.first_seen ELSE sightings.first_seen END, \
             last_seen = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.last_seen ELSE sightings.last_seen END, \
             count = sightings.count + excluded.count",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(rows.len() as u64)
}

const PAIR_WHERE: &str = "workload_id = (SELECT id FROM nodes WHERE kind = 6 AND key = $3) \
     AND artifact_id = (SELECT id FROM nodes WHERE kind = 5 AND key = $4)";

/// Writes what memory holds beyond the rows: per pair, its last
/// sighting and the sightings counted since the last flush. Returns
/// the pairs that have no row any more (pruned meanwhile).
pub(crate) async fn flush_sightings(
    conn: &mut Conn,
    pairs: &[(PairKey, i64, i64)],
) -> sqlx::Result<Vec<PairKey>> {
    let mut gone = Vec::new();
    let mut workloads: BTreeMap<&str, i64> = BTreeMap::new();
    for ((workload, digest), last_seen, count) in pairs {
        let done = sqlx::query(&format!(
            "UPDATE sightings SET \
             last_seen = CASE WHEN $1 > last_seen THEN $1 ELSE last_seen END, \
             count = count + $2 WHERE {PAIR_WHERE}"
        ))
        .bind(*last_seen)
        .bind(*count)
        .bind(workload.clone())
        .bind(digest.clone())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            gone.push((workload.clone(), digest.clone()));
        }
        let last = workloads.entry(workload.as_str()).or_insert(*last_seen);
        *last = (*last).max(*last_seen);
    }
    for (workload, last_seen) in workloads {
        sqlx::query(
            "UPDATE nodes SET last_seen = CASE WHEN $1 > last_seen THEN $1 ELSE last_seen END \
             WHERE kind = 6 AND key = $2",
        )
        .bind(last_seen)
        .bind(workload.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(gone)
}

/// Takes back sightings that turned out to be a build's (its trace
/// showed build facts later): each pair's count goes down by the
/// sightings taken back (after `pending` more are added: what memory
/// counted since the last flush). A pair left with none loses its
/// row, then its RUNS edge and nodes left without edges. Returns the
/// pairs deleted.
pub(crate) async fn retract_sightings(
    conn: &mut Conn,
    pairs: &[(PairKey, i64, i64)],
) -> sqlx::Result<Vec<PairKey>> {
    let mut deleted = Vec::new();
    let mut edges = Vec::new();
    for ((workload, digest), pending, taken) in pairs {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(&format!(
            "UPDATE sightings SET count = count + $1 - $2 WHERE {PAIR_WHERE} \
             RETURNING workload_id, artifact_id, count"
        ))
        .bind(*pending)
        .bind(*taken)
        .bind(workload.clone())
        .bind(digest.clone())
        .fetch_optional(&mut *conn)
        .await?;
        let Some((w, a, count)) = row else { continue };
        if count > 0 {
            continue;
        }
        delete_sighting(conn, w, a).await?;
        edges.extend(runs_edges(conn, &[(w, a)]).await?);
        deleted.push((workload.clone(), digest.clone()));
    }
    collect_garbage(conn, &edges, Vec::new(), &HashMap::new()).await?;
    Ok(deleted)
}

async fn delete_sighting(conn: &mut Conn, workload: i64, artifact: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sightings WHERE workload_id = $1 AND artifact_id = $2")
        .bind(workload)
        .bind(artifact)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn runs_edges(conn: &mut Conn, pairs: &[(i64, i64)]) -> sqlx::Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(pairs.len());
    for (w, a) in pairs {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM edges WHERE from_id = $1 AND kind = 7 AND to_id = $2")
                .bind(*w)
                .bind(*a)
                .fetch_optional(&mut *conn)
                .await?;
        ids.extend(row.map(|(id,)| id));
    }
    Ok(ids)
}

/// Prunes at most `limit` sightings last seen before `cutoff`
/// (except the pairs `keep` says were seen since), their RUNS edges
/// when nothing else supports them, and the workloads (and images)
/// left without edges. Returns the pairs pruned and the workloads
/// deleted.
pub(crate) async fn prune_sightings(
    conn: &mut Conn,
    cutoff: i64,
    limit: i64,
    keep: &(dyn Fn(&str, &str) -> bool + Send + Sync),
) -> sqlx::Result<(Vec<PairKey>, u64)> {
    let old: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT s.workload_id, s.artifact_id, w.key, a.key FROM sightings s \
         JOIN nodes w ON w.id = s.workload_id JOIN nodes a ON a.id = s.artifact_id \
         WHERE s.last_seen < $1 ORDER BY s.last_seen LIMIT $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut pruned = Vec::new();
    let mut ids = Vec::new();
    for (w, a, workload, digest) in old {
        if keep(&workload, &digest) {
            continue;
        }
        delete_sighting(conn, w, a).await?;
        ids.push((w, a));
        pruned.push((workload, digest));
    }
    if ids.is_empty() {
        return Ok((pruned, 0));
    }
    let edges = runs_edges(conn, &ids).await?;
    let mut workloads: Vec<i64> = ids.iter().map(|(w, _)| *w).collect();
    workloads.sort_unstable();
    workloads.dedup();
    collect_garbage(conn, &edges, workloads.clone(), &HashMap::new()).await?;
    let mut qb = QueryBuilder::<Db>::new("SELECT id FROM nodes WHERE id");
    push_in_ids(&mut qb, &workloads);
    let left: Vec<(i64,)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    Ok((pruned, (workloads.len() - left.len()) as u64))
}

/// The sighting rows of the given workloads (`by_workload`) or
/// images: (workload id, workload key, artifact id, digest, first
/// seen, last seen, count).
pub(crate) async fn sightings_of(
    conn: &mut Conn,
    ids: &[i64],
    by_workload: bool,
) -> sqlx::Result<Vec<crate::SightingRow>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT s.workload_id, w.key, s.artifact_id, a.key, s.first_seen, s.last_seen, s.count \
             FROM sightings s JOIN nodes w ON w.id = s.workload_id JOIN nodes a ON a.id = s.artifact_id \
             WHERE ",
        );
        qb.push(if by_workload {
            "s.workload_id"
        } else {
            "s.artifact_id"
        });
        push_in_ids(&mut qb, chunk);
        qb.push(" ORDER BY s.workload_id, s.last_seen DESC, s.artifact_id");
        let rows: Vec<(i64, String, i64, String, i64, i64, i64)> =
            qb.build_query_as().fetch_all(&mut *conn).await?;
        out.extend(rows.into_iter().map(
            |(workload_id, workload, artifact_id, digest, first_seen, last_seen, count)| {
                crate::SightingRow {
                    workload_id,
                    workload,
                    artifact_id,
                    digest,
                    first_seen,
                    last_seen,
                    count,
                }
            },
        ));
    }
    Ok(out)
}

/// The build a trace id belongs to: the trace as stored, or scoped by
/// a sender's principal (`PRINCIPAL/TRACEID`).
pub(crate) async fn build_of_trace(
    conn: &mut Conn,
    trace_id: &str,
) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT build_key FROM traces WHERE trace_id = $1 OR trace_id LIKE $2 \
         ORDER BY trace_id LIMIT 1",
    )
    .bind(trace_id.to_string())
    .bind(format!("%/{trace_id}"))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(key,)| key))
}

/// Workloads by their last sighting in the rows, most recent first:
/// (id, first seen, last seen), seen at or after `seen_after`, before
/// the cursor (last seen, id), at most `limit`.
pub(crate) async fn workloads_by_last_seen(
    conn: &mut Conn,
    seen_after: i64,
    before: Option<(i64, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64, i64)>> {
    let (last, id) = before.unwrap_or((i64::MAX, i64::MAX));
    sqlx::query_as(
        "SELECT workload_id, MIN(first_seen), MAX(last_seen) FROM sightings \
         GROUP BY workload_id \
         HAVING MAX(last_seen) >= $1 AND (MAX(last_seen) < $2 OR (MAX(last_seen) = $2 AND workload_id < $3)) \
         ORDER BY MAX(last_seen) DESC, workload_id DESC LIMIT $4",
    )
    .bind(seen_after)
    .bind(last)
    .bind(id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
