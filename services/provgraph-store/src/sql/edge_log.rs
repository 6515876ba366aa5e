//! The lineage index's SQL (`index/`): the edge change log
//! (`migrations/*/0005_edge_log.sql`), the initial load, and the rows of an
//! answer in one query.

use sqlx::QueryBuilder;

use super::common::push_in_ids;
use super::{Conn, Db};
use crate::sql::{CHUNK, LogRow};
use crate::{EdgeRow, NodeRow, StoreError};

/// The newest `seq` in the log and the `seq` up to which it was
/// pruned.
pub(crate) async fn log_state(conn: &mut Conn) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COALESCE((SELECT MAX(seq) FROM edge_log), p.upto), p.upto \
         FROM edge_log_pruned p WHERE p.one = 1",
    )
    .fetch_one(&mut *conn)
    .await
}

/// Changes after `after`, in commit order, at most `limit`.
pub(crate) async fn log_since(
    conn: &mut Conn,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<LogRow>> {
    type Stored = (i64, i16, i64, i16, i64, i64, Option<i16>, Option<i16>);
    let rows: Vec<Stored> = sqlx::query_as(
        "SELECT l.seq, l.added, l.edge_id, l.kind, l.from_id, l.to_id, f.kind, t.kind \
         FROM edge_log l LEFT JOIN nodes f ON f.id = l.from_id LEFT JOIN nodes t ON t.id = l.to_id \
         WHERE l.seq > $1 ORDER BY l.seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, added, edge_id, kind, from_id, to_id, from_kind, to_kind)| LogRow {
                seq,
                added: added != 0,
                edge_id,
                kind,
                from_id,
                to_id,
                from_kind,
                to_kind,
            },
        )
        .collect())
}

/// Drops the changes up to `upto` and records that it did.
pub(crate) async fn prune_log(conn: &mut Conn, upto: i64) -> sqlx::Result<u64> {
    sqlx::query("UPDATE edge_log_pruned SET upto = $1 WHERE one = 1 AND upto < $1")
        .bind(upto)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query("DELETE FROM edge_log WHERE seq <= $1")
        .bind(upto)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Edges and nodes stored, for sizing the index and its progress.
pub(crate) async fn counts(conn: &mut Conn) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as("SELECT (SELECT COUNT(*) FROM edges), (SELECT COUNT(*) FROM nodes)")
        .fetch_one(&mut *conn)
        .await
}

/// Edges after id `after`, by id, at most `limit`: (id, kind, from, to).
pub(crate) async fn edges_after(
    conn: &mut Conn,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i16, i64, i64)>> {
    sqlx::query_as("SELECT id, kind, from_id, to_id FROM edges WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// Node kinds of the nodes after id `after`, by id, at most `limit`.
pub(crate) async fn node_kinds_after(
    conn: &mut Conn,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i16)>> {
    sqlx::query_as("SELECT id, kind FROM nodes WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// `column IN (ids)`, or a condition that is never true when there are
/// no ids.
fn push_ids(qb: &mut QueryBuilder<'_, Db>, column: &str, ids: &[i64]) {
    if ids.is_empty() {
        qb.push("1 = 0");
    } else {
        qb.push(column);
        push_in_ids(qb, ids);
    }
}

/// A node row (0, id, kind, key, first seen, last seen, 0, 0) or an edge
/// row (1, id, kind, '', first seen, last seen, from, to) of an answer.
type AnswerRow = (i32, i64, i16, String, i64, i64, i64, i64);

/// The node rows and edge rows of an answer, in one query per
/// `CHUNK` of each (missing ids are skipped).
pub(crate) async fn rows_by_id(
    conn: &mut Conn,
    node_ids: &[i64],
    edge_ids: &[i64],
) -> Result<(Vec<NodeRow>, Vec<EdgeRow>), StoreError> {
    let mut nodes = Vec::with_capacity(node_ids.len());
    let mut edges = Vec::with_capacity(edge_ids.len());
    let mut node_chunks = node_ids.chunks(CHUNK);
    let mut edge_chunks = edge_ids.chunks(CHUNK);
    loop {
        let (n, e) = (node_chunks.next(), edge_chunks.next());
        if n.is_none() && e.is_none() {
            break;
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT 0 AS t, id, kind, key, first_seen, last_seen, 0 AS a, 0 AS b FROM nodes WHERE ",
        );
        push_ids(&mut qb, "id", n.unwrap_or(&[]));
        qb.push(
            " UNION ALL SELECT 1, id, kind, '', first_seen, last_seen, from_id, to_id FROM edges WHERE ",
        );
        push_ids(&mut qb, "id", e.unwrap_or(&[]));
        let rows: Vec<AnswerRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
        for (t, id, kind, key, first_seen, last_seen, from_id, to_id) in rows {
            if t == 0 {
                nodes.push(NodeRow::from_stored((
                    id, kind, key, first_seen, last_seen,
                ))?);
            } else {
                edges.push(EdgeRow::from_stored((
                    id, kind, from_id, to_id, first_seen, last_seen,
                ))?);
            }
        }
    }
    Ok((nodes, edges))
}
