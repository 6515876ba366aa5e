//! The whole graph by keys, for tests and comparisons between stores.

use super::Conn;

/// Every node, edge and piece of evidence, by key (for tests and
/// exports): no ids or times, so two stores can be compared.
pub(crate) async fn snapshot(conn: &mut Conn) -> sqlx::Result<crate::Snapshot> {
    let nodes: Vec<(i16, String)> = sqlx::query_as("SELECT kind, key FROM nodes")
        .fetch_all(&mut *conn)
        .await?;
    let edges: Vec<(i16, i16, String, i16, String)> = sqlx::query_as(
        "SELECT e.kind, f.kind, f.key, t.kind, t.key FROM edges e \
         JOIN nodes f ON f.id = e.from_id JOIN nodes t ON t.id = e.to_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let evidence: Vec<(i16, String, String, String, String, String)> = sqlx::query_as(
        "SELECT e.kind, f.key, t.key, v.trace_id, v.span_id, v.sender FROM edge_evidence v \
         JOIN edges e ON e.id = v.edge_id JOIN nodes f ON f.id = e.from_id JOIN nodes t ON t.id = e.to_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let attrs: Vec<(i16, String, String, String)> = sqlx::query_as(
        "SELECT n.kind, n.key, a.name, a.value FROM node_attrs a JOIN nodes n ON n.id = a.node_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let dangling: Vec<(i64,)> = sqlx::query_as(
        "SELECT v.edge_id FROM edge_evidence v WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.id = v.edge_id) \
         UNION ALL SELECT e.id FROM edges e WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = e.from_id) \
         OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = e.to_id)",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(crate::Snapshot::new(
        nodes,
        edges,
        evidence,
        attrs,
        dangling.len(),
    ))
}
