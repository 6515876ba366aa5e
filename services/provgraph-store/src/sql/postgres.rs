//! The area modules mounted for PostgreSQL, and its trace locks.

pub(crate) type Db = sqlx::Postgres;
pub(crate) type Conn = <Db as sqlx::Database>::Connection;

// The same files are mounted for the other database (and so are the area
// files `areas.rs` lists): that is the point.
#[allow(clippy::duplicate_mod)]
#[path = "areas.rs"]
mod areas;
pub(crate) use areas::*;

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
