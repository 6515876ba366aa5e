//! The area modules mounted for PostgreSQL, and its trace locks.

pub(crate) type Db = sqlx::Postgres;
pub(crate) type Conn = <Db as sqlx::Database>::Connection;

#[path = "common.rs"]
mod common;
#[path = "edge_log.rs"]
pub(crate) mod edge_log;
#[path = "gc.rs"]
mod gc;
#[path = "index_members.rs"]
pub(crate) mod index_members;
#[path = "reads.rs"]
pub(crate) mod reads;
#[path = "sboms.rs"]
pub(crate) mod sboms;
#[path = "signatures.rs"]
pub(crate) mod signatures;
#[path = "snapshot.rs"]
pub(crate) mod snapshot;
#[path = "writes.rs"]
pub(crate) mod writes;

/// Serializes writers that touch the same traces: several provgraph
/// processes may write to one PostgreSQL. Advisory locks are taken in
/// sorted order, so two writers never deadlock on them.
async fn lock_traces(conn: &mut Conn, trace_ids: &[String]) -> sqlx::Result<()> {
    if trace_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "SELECT pg_advisory_xact_lock(h) FROM \
         (SELECT DISTINCT hashtextextended(t, 7) AS h FROM unnest($1::text[]) AS t ORDER BY h) AS hs",
    )
    .bind(trace_ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
