//! Reads of the graph: nodes by key, prefix or id, edges of a frontier,
//! attributes, evidence, and the build a trace stands for.

use provgraph_model::{EdgeKind, NodeKind};
use sqlx::QueryBuilder;

use super::common::push_in_ids;
use super::{Conn, Db};
use crate::rows::{EdgeTuple, NodeTuple};
use crate::sql::CHUNK;
use crate::{AttrRow, Direction, EdgeRow, EvidenceRow, NodeRow, StoreError};

/// The build a trace belongs to, when it is a build's trace.
pub(crate) async fn trace_build(conn: &mut Conn, trace_id: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT build_key FROM traces WHERE trace_id = $1")
        .bind(trace_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(key,)| key))
}

pub(crate) async fn find_node(
    conn: &mut Conn,
    kind: NodeKind,
    key: &str,
) -> Result<Option<NodeRow>, StoreError> {
    let row: Option<NodeTuple> = sqlx::query_as(
        "SELECT id, kind, key, first_seen, last_seen FROM nodes WHERE kind = $1 AND key = $2",
    )
    .bind(kind.code())
    .bind(key.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(NodeRow::from_stored).transpose()
}

/// Nodes of `kind` whose key starts with `prefix` (LIKE with the
/// wildcards escaped), at most `limit`, by key.
pub(crate) async fn nodes_with_prefix(
    conn: &mut Conn,
    kind: NodeKind,
    prefix: &str,
    limit: i64,
) -> Result<Vec<NodeRow>, StoreError> {
    let escaped: String = prefix
        .chars()
        .flat_map(|c| match c {
            '\\' | '%' | '_' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let rows: Vec<NodeTuple> = sqlx::query_as(
        "SELECT id, kind, key, first_seen, last_seen FROM nodes \
         WHERE kind = $1 AND key LIKE $2 ESCAPE '\\' ORDER BY key LIMIT $3",
    )
    .bind(kind.code())
    .bind(format!("{escaped}%"))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(NodeRow::from_stored).collect()
}

pub(crate) async fn nodes_by_id(conn: &mut Conn, ids: &[i64]) -> Result<Vec<NodeRow>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, kind, key, first_seen, last_seen FROM nodes WHERE id",
        );
        push_in_ids(&mut qb, chunk);
        let rows: Vec<NodeTuple> = qb.build_query_as().fetch_all(&mut *conn).await?;
        for row in rows {
            out.push(NodeRow::from_stored(row)?);
        }
    }
    Ok(out)
}

/// Edges leaving (`Upstream`: toward what the nodes were made from) or
/// entering (`Downstream`) the given nodes, at most
/// `limit` (ordered by id, after `after`).
pub(crate) async fn edges_of(
    conn: &mut Conn,
    ids: &[i64],
    direction: Direction,
    kinds: &[EdgeKind],
    after: i64,
    limit: i64,
) -> Result<Vec<EdgeRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, kind, from_id, to_id, first_seen, last_seen FROM edges WHERE ",
        );
        qb.push(match direction {
            Direction::Upstream => "from_id",
            Direction::Downstream => "to_id",
        });
        push_in_ids(&mut qb, chunk);
        if !kinds.is_empty() {
            qb.push(" AND kind IN (");
            let mut list = qb.separated(", ");
            for kind in kinds {
                list.push_bind(kind.code());
            }
            list.push_unseparated(")");
        }
        qb.push(" AND id > ");
        qb.push_bind(after);
        qb.push(" ORDER BY id LIMIT ");
        qb.push_bind(limit);
        let rows: Vec<EdgeTuple> = qb.build_query_as().fetch_all(&mut *conn).await?;
        for row in rows {
            out.push(EdgeRow::from_stored(row)?);
        }
        if out.len() as i64 >= limit {
            out.truncate(limit as usize);
            break;
        }
    }
    Ok(out)
}

pub(crate) async fn attrs_of(conn: &mut Conn, ids: &[i64]) -> sqlx::Result<Vec<AttrRow>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut qb =
            QueryBuilder::<Db>::new("SELECT node_id, name, value FROM node_attrs WHERE node_id");
        push_in_ids(&mut qb, chunk);
        qb.push(" ORDER BY node_id, name, value");
        out.extend(qb.build_query_as().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// The first `per_edge` evidence rows of each edge (oldest first) and each
/// edge's count of them: what an answer shows however many traces asserted
/// an edge (issue #13: 100,001 traces on one edge made a 4.7 MB answer).
pub(crate) async fn evidence_capped(
    conn: &mut Conn,
    edge_ids: &[i64],
    per_edge: i64,
) -> sqlx::Result<(Vec<EvidenceRow>, Vec<(i64, i64)>)> {
    use sqlx::Row;
    let mut rows = Vec::new();
    let mut counts = Vec::new();
    for chunk in edge_ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT edge_id, trace_id, span_id, sender, first_seen, last_seen, total FROM (\
             SELECT edge_id, trace_id, span_id, sender, first_seen, last_seen, \
             ROW_NUMBER() OVER (PARTITION BY edge_id ORDER BY first_seen, trace_id, span_id) AS place, \
             COUNT(*) OVER (PARTITION BY edge_id) AS total \
             FROM edge_evidence WHERE edge_id",
        );
        push_in_ids(&mut qb, chunk);
        qb.push(") ranked WHERE place <= ");
        qb.push_bind(per_edge);
        qb.push(" ORDER BY edge_id, first_seen, trace_id, span_id");
        for row in qb.build().fetch_all(&mut *conn).await? {
            let edge_id: i64 = row.try_get(0)?;
            let total: i64 = row.try_get(6)?;
            if counts.last().is_none_or(|(last, _)| *last != edge_id) {
                counts.push((edge_id, total));
            }
            rows.push(EvidenceRow {
                edge_id,
                trace_id: row.try_get(1)?,
                span_id: row.try_get(2)?,
                sender: row.try_get(3)?,
                first_seen: row.try_get(4)?,
                last_seen: row.try_get(5)?,
            });
        }
    }
    Ok((rows, counts))
}

pub(crate) async fn evidence_of(
    conn: &mut Conn,
    edge_ids: &[i64],
) -> sqlx::Result<Vec<EvidenceRow>> {
    let mut out = Vec::new();
    for chunk in edge_ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT edge_id, trace_id, span_id, sender, first_seen, last_seen FROM edge_evidence WHERE edge_id",
        );
        push_in_ids(&mut qb, chunk);
        qb.push(" ORDER BY edge_id, first_seen, trace_id, span_id");
        out.extend(
            qb.build_query_as::<EvidenceRow>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    Ok(out)
}
