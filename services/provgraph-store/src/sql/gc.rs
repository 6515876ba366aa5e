//! Garbage collection: edges left without evidence or proofs, and then
//! nodes left without edges, are deleted in the writing transaction.

use std::collections::{BTreeSet, HashMap};

use provgraph_model::NodeRef;
use sqlx::QueryBuilder;

use super::common::push_in_ids;
use super::{Conn, Db};
use crate::sql::CHUNK;

/// Deletes the candidate edges left without evidence, then the
/// candidate nodes left without edges (and their attributes), except
/// nodes in `keep`.
pub(super) async fn collect_garbage(
    conn: &mut Conn,
    edge_candidates: &[i64],
    mut node_candidates: Vec<i64>,
    keep: &HashMap<NodeRef, i64>,
) -> sqlx::Result<(u64, u64)> {
    let mut edges_deleted = 0;
    for chunk in edge_candidates.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM edges WHERE id");
        push_in_ids(&mut qb, chunk);
        qb.push(
            " AND NOT EXISTS (SELECT 1 FROM edge_evidence v WHERE v.edge_id = edges.id) \
             AND NOT EXISTS (SELECT 1 FROM edge_proofs p WHERE p.edge_id = edges.id) \
             AND NOT EXISTS (SELECT 1 FROM sightings s WHERE edges.kind = 7 \
                 AND s.workload_id = edges.from_id AND s.artifact_id = edges.to_id) \
             RETURNING from_id, to_id",
        );
        let rows: Vec<(i64, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        edges_deleted += rows.len() as u64;
        for (from, to) in rows {
            node_candidates.push(from);
            node_candidates.push(to);
        }
    }
    let kept: BTreeSet<i64> = keep.values().copied().collect();
    node_candidates.sort_unstable();
    node_candidates.dedup();
    node_candidates.retain(|id| !kept.contains(id));
    let mut nodes_deleted = 0;
    for chunk in node_candidates.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM nodes WHERE id");
        push_in_ids(&mut qb, chunk);
        qb.push(
            " AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.from_id = nodes.id) \
             AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.to_id = nodes.id) \
             RETURNING id",
        );
        let rows: Vec<(i64,)> = qb.build_query_as().fetch_all(&mut *conn).await?;
        nodes_deleted += rows.len() as u64;
        let gone: Vec<i64> = rows.into_iter().map(|(id,)| id).collect();
        if !gone.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("DELETE FROM node_attrs WHERE node_id");
            push_in_ids(&mut qb, &gone);
            qb.build().execute(&mut *conn).await?;
        }
    }
    Ok((edges_deleted, nodes_deleted))
}
